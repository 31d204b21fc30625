"""Checkpoints come by changed claims, not by WAL records: a bulk load writes one record per batch, and
counted by records a 250k-claim load never checkpointed, so a restart re-indexed everything (86 s)."""

from __future__ import annotations

from dash_client._pb.dash.v1 import types_pb2
from dash_node import Engine, EngineConfig
from dash_node.evidence.builder import EdgeBuilderConfig


def _batch(start: int, n: int) -> list[types_pb2.ClaimInput]:
    return [
        types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=f"c{i}", text=f"river number {i} flows east"))
        for i in range(start, start + n)
    ]


def test_a_large_batch_counts_its_claims_towards_the_next_checkpoint(tmp_path) -> None:
    config = EngineConfig(evidence=EdgeBuilderConfig(enabled=False), checkpoint_every_changes=100)
    engine = Engine(tmp_path / "e", config)
    try:
        engine.ingest_batch("t", _batch(0, 60))  # record 1: 60 changes, under the threshold
        engine.ingest_batch("t", _batch(60, 60))  # record 2: 120 changes, a checkpoint
        engine.ingest_batch("t", _batch(120, 10))  # record 3: after it
    finally:
        engine.close()
    reopened = Engine(tmp_path / "e", config)
    try:
        # The indexes were saved at record 2: a restart re-indexes only what came after.
        assert reopened.recovery["index_snapshot_lsn"] == 2
        assert len(reopened.claim_ids("t")) == 130
    finally:
        reopened.close()
