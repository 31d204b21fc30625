"""The accounting of an audit log against a router's request count finds a request without a record,
and a log that does not verify."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from cluster.audit_accounting import account, must_audit
from dash_router.audit import AuditLog

KEY = b"k" * 32


def write_log(path: Path, n: int, action: str = "IngestBatch") -> None:
    """``n`` records of ``action``, as a router writes them."""
    log = AuditLog(path, KEY, fsync="off")

    async def go() -> None:
        for i in range(n):
            await log.record(principal="p", tenant="t", action=action, ids=[f"c{i}"], outcome="ok", code="OK")

    asyncio.run(go())
    log.close()


def test_only_mutations_and_denials_need_a_record() -> None:
    counts = Counter(
        {
            ("IngestBatch", "OK"): 4,
            ("DeleteClaim", "NOT_FOUND"): 1,
            ("Retrieve", "OK"): 50,
            ("Retrieve", "UNAUTHENTICATED"): 2,
            ("GetClaim", "PERMISSION_DENIED"): 1,
            ("GetClaim", "NOT_FOUND"): 3,
        }
    )
    assert must_audit(counts) == {"IngestBatch": 4, "DeleteClaim": 1, "Retrieve": 2, "GetClaim": 1}


def test_a_log_that_covers_every_request_has_nothing_missing(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    write_log(log, 6)  # six IngestBatch records
    result = account(log, KEY, Counter({("IngestBatch", "OK"): 6, ("Retrieve", "OK"): 9}))
    assert result["intact"] and result["missing"] == 0 and result["requests_to_audit"] == 6


def test_a_request_without_a_record_is_missing(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    write_log(log, 6)
    result = account(log, KEY, Counter({("IngestBatch", "OK"): 7, ("Ingest", "INVALID_ARGUMENT"): 1}))
    assert result["missing"] == 2
    assert result["by_action"]["Ingest"] == {"requests": 1, "records": 0}


def test_a_tampered_log_is_reported(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    write_log(log, 3)
    log.write_bytes(log.read_bytes().replace(b'"c1"', b'"cX"'))
    result = account(log, KEY, Counter({("IngestBatch", "OK"): 3}))
    assert not result["intact"] and "record 2" in result["problem"]
