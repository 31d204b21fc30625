"""Fuzzing in reduced form: malformed payloads through a live cluster, corrupted WAL and index files
through their readers — no crash, hang, INTERNAL, or half-applied write."""

from __future__ import annotations

from pathlib import Path

from cluster.fuzz import fuzz_files, fuzz_payloads
from cluster.local import ClusterSpec, LocalCluster
from dash_client._pb.dash.v1 import types_pb2
from dash_node import Engine
from dash_node.engine import EngineConfig
from dash_node.wal import WalConfig


def test_malformed_payloads_get_precise_refusals(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "c", ClusterSpec(nodes=1, shards=1, replicas=1)) as c:
        report = fuzz_payloads(c, "n1", n=300)
    assert report.failures == []
    outcomes = {key.split(":")[1] for key in report.cases}
    assert "INVALID_ARGUMENT" in outcomes and sum(report.cases.values()) == 300


def test_corrupted_wal_and_index_files_are_recovered_or_refused(tmp_path: Path) -> None:
    replica = tmp_path / "replica"
    with Engine(replica, EngineConfig(wal=WalConfig(segment_bytes=4096))) as engine:
        for i in range(30):
            text = f"Berth {i} handles {i * 3} ships a day."
            engine.ingest("t", types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=f"c{i}", text=text)))
        engine.checkpoint()
        engine.ingest(
            "t", types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="tail", text="after the checkpoint"))
        )
    report = fuzz_files(replica, n=300)
    assert report.failures == []
    kinds = {key.split(":")[0] for key in report.cases}
    assert kinds == {"wal", "vectors", "lexical"}
    assert any(key.endswith("refused:DATA_LOSS") for key in report.cases)
