"""The detector: edges found off the acknowledgement path, judged once per pair, kept across restarts,
citing both sides' evidence, and a backlog that stays bounded."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.errors import ResourceExhausted
from dash_node.evidence.builder import EdgeBuilderConfig
from dash_node.evidence.judge import RuleJudge

WAIT = dash_pb2.WriteOptions(wait_for_detection=True)


def length(cid: str, km: str) -> types_pb2.ClaimInput:
    text = f"The Rhine is {km} km long."
    ev = types_pb2.Evidence(evidence_id=f"ev-{cid}", doc_id=cid, quote=text, span_start=0, span_end=len(text))
    return types_pb2.ClaimInput(
        claim=types_pb2.Claim(claim_id=cid, subject="Rhine", text=text), evidence=[ev]
    )


def detector_edges(engine: Engine, tenant: str = "t") -> list[types_pb2.Edge]:
    with engine.store.read() as txn:
        return [
            e
            for c in engine.store.iter_claims(txn, tenant)
            for e in engine.store.edges_out(txn, tenant, c.claim_id)
            if e.origin == types_pb2.EDGE_ORIGIN_DETECTOR
        ]


def test_an_edge_cites_both_sides_and_waiting_makes_it_visible(tmp_path: Path) -> None:
    with Engine(tmp_path / "e") as engine:
        engine.ingest("t", length("a", "1,230"))
        resp = engine.ingest("t", length("b", "1,320"), WAIT)
        assert resp.detected
        [edge] = detector_edges(engine)
        assert (edge.from_claim_id, edge.to_claim_id) == ("b", "a")
        assert edge.relation == types_pb2.RELATION_CONTRADICTS and edge.reason_codes
        assert (list(edge.from_evidence_ids), list(edge.to_evidence_ids)) == (["ev-b"], ["ev-a"])
        assert engine.stats().detection_backlog == 0


def test_concurrent_writers_see_each_other_and_each_pair_is_judged_once(tmp_path: Path) -> None:
    """Judged after commit in LSN order, two conflicting claims sent at the same moment still meet —
    once: one edge per pair, never a second one in the other direction."""
    with Engine(tmp_path / "e") as engine:
        values = [f"{1000 + 7 * i:,}" for i in range(6)]
        start = threading.Barrier(len(values))

        def write(i: int) -> None:
            start.wait()
            engine.ingest("t", length(f"c{i}", values[i]))

        threads = [threading.Thread(target=write, args=(i,)) for i in range(len(values))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert engine.settle()
        pairs = [frozenset((e.from_claim_id, e.to_claim_id)) for e in detector_edges(engine)]
        assert len(pairs) == len(set(pairs))  # no pair twice
        assert len(set(pairs)) == len(values) * (len(values) - 1) // 2  # every pair met
        assert all(e.relation == types_pb2.RELATION_CONTRADICTS for e in detector_edges(engine))


def test_pending_work_survives_a_restart_and_skips_deleted_claims(tmp_path: Path) -> None:
    data = tmp_path / "e"
    with Engine(data) as engine:
        engine.detector.stop()  # as if the process died before judging
        assert not engine.ingest("t", length("a", "1,230")).detected
        engine.ingest("t", length("b", "1,320"))
        engine.ingest("t", length("c", "1,400"))
        engine.delete_claim("t", "c")
        assert engine.stats().detection_backlog == 3
        assert detector_edges(engine) == []
    with Engine(data) as engine:  # the tasks are state: the new detector takes them up
        assert engine.settle()
        assert [(e.from_claim_id, e.to_claim_id) for e in detector_edges(engine)] == [("b", "a")]
        assert engine.stats().detection_backlog == 0
    with Engine(data) as engine:  # and the edges it wrote are durable
        assert [(e.from_claim_id, e.to_claim_id) for e in detector_edges(engine)] == [("b", "a")]


def test_a_full_backlog_holds_writes_back_then_refuses_them(tmp_path: Path) -> None:
    builder = replace(EdgeBuilderConfig(), max_backlog_claims=2, wait_timeout_s=0.3)
    with Engine(tmp_path / "e", EngineConfig(evidence=builder)) as engine:
        engine.detector.stop()
        engine.ingest("t", length("a", "1,230"))
        engine.ingest("t", length("b", "1,320"))
        with pytest.raises(ResourceExhausted, match="edge builder is behind"):
            engine.ingest("t", length("c", "1,400"))
        assert engine.claim_count() == 2  # refused whole, nothing written


def test_with_the_builder_off_nothing_is_pending(tmp_path: Path) -> None:
    config = EngineConfig(evidence=EdgeBuilderConfig(enabled=False))
    with Engine(tmp_path / "e", config) as engine:
        engine.ingest("t", length("a", "1,230"))
        resp = engine.ingest("t", length("b", "1,320"), WAIT)
        assert resp.detected and engine.detector is None
        assert detector_edges(engine) == [] and engine.stats().detection_backlog == 0


class DiesInTheWorker(RuleJudge):
    """Judges like the rules, but a worker process that unpickles it exits at once."""

    def __reduce__(self):
        return (os._exit, (3,))


def test_a_worker_that_dies_before_answering_leaves_the_judging_to_a_thread(tmp_path: Path, caplog) -> None:
    with Engine(tmp_path / "e", judge=DiesInTheWorker()) as engine:
        engine.ingest("t", length("a", "1,230"))
        w = engine.ingest("t", length("b", "300"), WAIT)
        assert w.detected  # not retried forever: judged here instead
        assert [(e.from_claim_id, e.to_claim_id) for e in detector_edges(engine)] == [("b", "a")]
    assert "judging in a thread instead" in caplog.text
    assert "died before answering" in caplog.text
