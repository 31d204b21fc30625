"""Every mutation through the router, and every denied request, leaves an audit record; the log verifies
and `dash audit verify` says so."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cluster.local import ClusterSpec, LocalCluster
from dash_client.client import DashClient
from dash_client.errors import DashError


def test_mutations_and_denials_are_all_audited(tmp_path) -> None:
    spec = ClusterSpec(nodes=1, shards=1, replicas=1)
    with LocalCluster(tmp_path / "c", spec) as c:
        log, key_file = c.audit_log(), c.dir / "audit-key"
        with DashClient(c.router, api_key=c.api_key, tenant="t") as dash:
            writes = {
                "Ingest": dash.ingest({"claim_id": "a1", "text": "The quay is 300 m long."}).claim_ids,
                "IngestBatch": dash.ingest_batch(
                    [
                        {"claim_id": "b1", "text": "The crane lifts 40 t."},
                        {"claim_id": "b2", "text": "It rains."},
                    ]
                ).claim_ids,
                "IngestDocument": dash.ingest_document(
                    "doc-x", "The harbour opened in 1901. It grew."
                ).claim_ids,
                "UpsertEvidence": dash.upsert_evidence(
                    [
                        {
                            "evidence_id": "e1",
                            "claim_id": "a1",
                            "doc_id": "d",
                            "quote": "300 m",
                            "span_start": 12,
                            "span_end": 17,
                        }
                    ]
                ).claim_ids,
                "DeleteClaim": dash.delete_claim("b2").claim_ids,
            }
            dash.retrieve("quay")  # reads are not audited
            with pytest.raises(DashError):
                dash.delete_claim("no-such-claim")  # a failed mutation is audited too
        with pytest.raises(DashError), DashClient(c.router, api_key="wrong-key", tenant="t") as bad:
            bad.retrieve("quay")  # a denied read is audited
    records = [json.loads(line) for line in log.read_text().splitlines()]
    ok = {(r["action"], tuple(r["ids"])) for r in records if r["outcome"] == "ok"}
    for action, ids in writes.items():
        assert (action, tuple(ids)) in ok, f"no audit record for {action} {ids}"
    assert not any(r["action"] == "Retrieve" and r["outcome"] == "ok" for r in records)
    assert any(
        r["action"] == "DeleteClaim" and r["outcome"] == "error" and r["code"] == "NOT_FOUND" for r in records
    )
    denied = [r for r in records if r["outcome"] == "denied"]
    assert denied and denied[-1]["code"] == "UNAUTHENTICATED" and denied[-1]["principal"] == ""
    assert all("wrong-key" not in line for line in log.read_text().splitlines())  # credentials never logged
    cli = subprocess.run(
        [sys.executable, "-m", "dash_client.cli", "audit", "verify", str(log), "--key-file", str(key_file)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0 and "intact" in cli.stdout
    # `down` compared the log with the router's own request count: every request is accounted for.
    accounting = c.state.audit["router"]
    assert accounting["intact"] and accounting["missing"] == 0
    assert accounting["requests_to_audit"] == accounting["records"] == len(records)
