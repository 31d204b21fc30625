"""Cached ranking features and answers never go stale: after any sequence of writes (claims re-written
with other text, validity and confidence, evidence added or moved between claims,
support/contradiction/supersession edges, deletes), every query answers exactly as it does with the
cache emptied — the same results byte for byte: claims, order, scores, breakdowns, stances, citations
and related claims. Each query runs warm (the cache filled by the queries before the write)
and then cold."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.errors import NotFound
from dash_node.evidence.builder import EdgeBuilderConfig
from dash_node.features import ClaimCache, compute

TENANT = "t"
IDS = [f"c{i}" for i in range(6)]
RELATIONS = (types_pb2.RELATION_SUPPORTS, types_pb2.RELATION_CONTRADICTS, types_pb2.RELATION_SUPERSEDES)
STANCES = (types_pb2.STANCE_SUPPORTS, types_pb2.STANCE_CONTRADICTS)
YEAR = 31_556_952


def _vector(i: int) -> bytes:
    v = np.random.default_rng(i).normal(size=8).astype("<f4")
    return (v / np.linalg.norm(v)).astype("<f4").tobytes()


def _queries() -> list[dash_pb2.RetrieveRequest]:
    base = dict(tenant_id=TENANT, query="harbour report", query_embedding=_vector(0), top_k=50)
    out = [dash_pb2.RetrieveRequest(**base), dash_pb2.RetrieveRequest(**base, include_history=True)]
    past = dash_pb2.RetrieveRequest(**base)
    past.as_of.FromSeconds(40 * YEAR)
    out.append(past)
    out.append(dash_pb2.RetrieveRequest(**base, stance_mode=dash_pb2.STANCE_MODE_SUPPORT_ONLY))
    return out


def _answer(resp: dash_pb2.RetrieveResponse) -> list:
    return [r.SerializeToString(deterministic=True) for r in resp.results] + [resp.dropped_by_stance]


class FeatureMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="dash-features-"))
        self.engine = Engine(self.dir, EngineConfig(evidence=EdgeBuilderConfig(enabled=False)))
        self.live: set[str] = set()

    def teardown(self) -> None:
        self.engine.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(
        i=st.integers(0, len(IDS) - 1),
        word=st.sampled_from(("pier", "dock", "quay")),
        valid_from=st.none() | st.integers(30, 50),
        confidence=st.none() | st.floats(0, 1),
        stances=st.lists(st.sampled_from(STANCES), max_size=2),
        edge=st.none()
        | st.tuples(st.integers(0, len(IDS) - 1), st.sampled_from(RELATIONS), st.floats(0.1, 1)),
    )
    def upsert_claim(self, i, word, valid_from, confidence, stances, edge) -> None:
        cid = IDS[i]
        claim = types_pb2.Claim(claim_id=cid, text=f"harbour report {i} {word}", embedding=_vector(i + 1))
        if valid_from is not None:
            claim.valid_from.FromSeconds(valid_from * YEAR)
        if confidence is not None:
            claim.confidence = confidence
        item = types_pb2.ClaimInput(claim=claim)
        for j, stance in enumerate(stances):
            item.evidence.add(evidence_id=f"{cid}-e{j}", quote="harbour", span_end=7, stance=stance)
        if edge is not None and IDS[edge[0]] != cid:
            item.edges.add(to_claim_id=IDS[edge[0]], relation=edge[1], strength=edge[2])
        self.engine.ingest(TENANT, item)
        self.live.add(cid)

    @rule(
        shared=st.integers(0, 3),
        i=st.integers(0, len(IDS) - 1),
        stance=st.sampled_from(STANCES),
        quality=st.floats(0, 1),
    )
    def move_evidence(self, shared, i, stance, quality) -> None:
        """Evidence ids from a small shared pool, so an upsert often moves a row to another claim."""
        ev = types_pb2.Evidence(
            evidence_id=f"pool-{shared}",
            claim_id=IDS[i],
            quote="harbour",
            span_end=7,
            stance=stance,
            source_quality=quality,
        )
        try:
            self.engine.upsert_evidence(TENANT, [ev])
        except NotFound:
            assert IDS[i] not in self.live

    @rule(i=st.integers(0, len(IDS) - 1))
    def delete(self, i) -> None:
        try:
            self.engine.delete_claim(TENANT, IDS[i])
            self.live.discard(IDS[i])
        except NotFound:
            assert IDS[i] not in self.live

    @invariant()
    def warm_answers_equal_cold_answers(self) -> None:
        if not self.live:
            return
        queries = _queries()
        warm = [_answer(self.engine.retrieve(q)) for q in queries]
        self.engine.derived.clear()
        cold = [_answer(self.engine.retrieve(q)) for q in queries]
        assert warm == cold
        for q in queries:  # leave the cache warm for the next write to invalidate
            self.engine.retrieve(q)


FeatureMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFeatureCacheStateful = FeatureMachine.TestCase


def test_features_read_from_an_older_snapshot_are_not_kept(tmp_path: Path) -> None:
    """A reader that opened its snapshot before a write committed computes the old features; the cache
    must not keep them once that write has invalidated the claim or anything it depends on."""
    engine = Engine(tmp_path / "e", EngineConfig(evidence=EdgeBuilderConfig(enabled=False)))
    try:
        a = types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="a", text="a", embedding=_vector(1)))
        b = types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="b", text="b", embedding=_vector(2)))
        b.edges.add(to_claim_id="a", relation=types_pb2.RELATION_CONTRADICTS, strength=1.0)
        engine.ingest_batch(TENANT, [a, b])
        cache: ClaimCache = engine.derived
        seen = cache.generation
        with engine.store.read() as txn:  # the old snapshot: b has no evidence yet
            docno = engine.store.docno(txn, TENANT, "a")
            old, deps = compute(engine.store, txn, engine.store.get_claim(txn, TENANT, "a"))
        assert deps == {"a", "b"}
        engine.upsert_evidence(
            TENANT,
            [types_pb2.Evidence(evidence_id="x", claim_id="b", quote="b", span_end=1, source_quality=0.9)],
        )
        cache.put("features", docno, (TENANT, "a"), old, deps, seen)  # b changed after `seen`: refused
        assert cache.get("features", docno) is None

        seen = cache.generation
        with engine.store.read() as txn:
            fresh, deps = compute(engine.store, txn, engine.store.get_claim(txn, TENANT, "a"))
        cache.put("features", docno, (TENANT, "a"), fresh, deps, seen)
        assert cache.get("features", docno) == fresh and fresh.contra_mass != old.contra_mass
        # A later write to the dependency drops the entry that read it.
        engine.upsert_evidence(
            TENANT,
            [types_pb2.Evidence(evidence_id="y", claim_id="b", quote="b", span_end=1, source_quality=0.2)],
        )
        assert cache.get("features", docno) is None
    finally:
        engine.close()
