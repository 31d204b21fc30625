"""The audit trail detects every way of tampering with it: an edited, deleted, reordered or cut-off
record is named by the verifier; a restarted writer continues the chain, and refuses a tampered log."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dash_router.audit import AuditLog, verify

KEY = b"k" * 32


def write_log(path: Path, n: int = 6) -> None:
    log = AuditLog(path, KEY, fsync="off")

    async def go() -> None:
        for i in range(n):
            await log.record(
                principal="ops", tenant="acme", action="IngestBatch", ids=[f"c{i}"], outcome="ok", code="OK"
            )

    asyncio.run(go())
    log.close()


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_an_intact_log_verifies_and_resumes_its_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    write_log(path, 2)  # a restarted router appends to the same chain
    assert verify(path, KEY) is None
    assert [json.loads(x)["seq"] for x in lines(path)] == [1, 2, 3, 4, 5]
    assert verify(path, b"x" * 32) == "record 1 (line 1): MAC mismatch — edited, or not under this key"


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        ("edit", "record 3 (line 3): MAC mismatch"),
        ("delete", "record 4 (line 3): expected seq 3"),
        ("reorder", "record 4 (line 3): expected seq 3"),
        ("truncate", "truncated after record 4"),
        ("garbage", "record at line 3: not a complete audit record"),
    ],
)
def test_each_kind_of_tampering_is_caught_and_named(tmp_path: Path, tamper: str, named: str) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path)
    rows = lines(path)
    if tamper == "edit":
        rec = json.loads(rows[2])
        rec["ids"] = ["someone-else"]
        rows[2] = json.dumps(rec, sort_keys=True).encode() + b"\n"
    elif tamper == "delete":
        del rows[2]
    elif tamper == "reorder":
        rows[2], rows[3] = rows[3], rows[2]
    elif tamper == "truncate":
        rows = rows[:4]
    else:
        rows[2] = b"{oops\n"
    path.write_bytes(b"".join(rows))
    problem = verify(path, KEY)
    assert problem is not None and named in problem
    with pytest.raises(ValueError, match="does not verify"):
        AuditLog(path, KEY, fsync="off")  # never appends to a broken chain
    cli = subprocess.run(
        [sys.executable, "-m", "dash_client.cli", "audit", "verify", str(path)],
        capture_output=True,
        text=True,
        env={"DASH_AUDIT_KEY": KEY.decode(), "PATH": ""},
    )
    assert cli.returncode == 1 and named in cli.stdout
