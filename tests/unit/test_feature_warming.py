"""The indexer computes the ranking features and the answer (what a result carries) of every claim a write
changed, ahead of the queries that would otherwise pay ~50 µs per candidate for each, and what it caches
equals a fresh computation."""

from __future__ import annotations

import time

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.evidence.builder import EdgeBuilderConfig
from dash_node.features import Around, _answer, compute


def _claims(n: int) -> list[types_pb2.ClaimInput]:
    out = []
    for i in range(n):
        claim = types_pb2.Claim(claim_id=f"c{i}", text=f"river number {i} flows east", subject=f"river-{i}")
        evidence = types_pb2.Evidence(evidence_id=f"e{i}", source_id=f"s{i % 3}", source_quality=0.6)
        out.append(types_pb2.ClaimInput(claim=claim, evidence=[evidence]))
    return out


def _settled(engine: Engine, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    # The edge builder's judgements are writes too: settle it first, then see the indexer idle.
    while not engine.settle() or (s := engine.stats()).features_backlog or s.index_backlog:
        assert time.monotonic() < deadline, f"backlog after {timeout} s: {engine.stats()}"
        time.sleep(0.01)


def _cached_equals_fresh(engine: Engine, tenant: str) -> int:
    """How many claims have cached features and answers; each must equal what the state gives now."""
    n = 0
    with engine.store.read() as txn:
        for claim in engine.store.iter_claims(txn, tenant):
            docno = engine.store.docno(txn, tenant, claim.claim_id)
            features, answer = engine.derived.get("features", docno), engine.derived.get("answer", docno)
            if features is not None and answer is not None:
                assert features == compute(engine.store, txn, claim)[0], claim.claim_id
                assert answer == _answer(engine.store, txn, Around.read(engine.store, txn, claim))[0], (
                    claim.claim_id
                )
                n += 1
    return n


def test_written_claims_have_their_features_computed_before_any_query(tmp_path) -> None:
    engine = Engine(tmp_path / "e", EngineConfig(evidence=EdgeBuilderConfig(enabled=False)))
    try:
        engine.ingest_batch("t", _claims(300))
        _settled(engine)
        assert engine.stats().features_backlog == 0
        assert _cached_equals_fresh(engine, "t") == 300  # no query has run
    finally:
        engine.close()


def test_a_change_to_a_claim_is_computed_again(tmp_path) -> None:
    engine = Engine(tmp_path / "e", EngineConfig(evidence=EdgeBuilderConfig(enabled=False)))
    try:
        engine.ingest_batch("t", _claims(50))
        _settled(engine)
        # More evidence for c7 from a new source: its support and source quality change.
        engine.upsert_evidence(
            "t",
            [types_pb2.Evidence(evidence_id="extra", claim_id="c7", source_id="s9", source_quality=0.9)],
        )
        _settled(engine)
        assert _cached_equals_fresh(engine, "t") == 50  # c7 again too, with its new evidence
    finally:
        engine.close()


def test_with_the_edge_builder_on_the_cache_follows_the_edges_it_writes(tmp_path) -> None:
    engine = Engine(tmp_path / "e", EngineConfig())  # a leader: it runs the edge builder
    try:
        claims = _claims(40)
        for c in claims[:20]:  # pairs that say opposite things about the same river
            twin = types_pb2.ClaimInput()
            twin.CopyFrom(c)
            twin.claim.claim_id += "-not"
            twin.claim.text = twin.claim.text.replace("flows east", "does not flow east")
            twin.evidence[0].evidence_id += "-not"
            claims.append(twin)
        engine.ingest_batch("t", claims)
        _settled(engine)
        assert engine.stats().edges > 0  # the builder linked the twins
        assert _cached_equals_fresh(engine, "t") == 60
    finally:
        engine.close()


def test_the_queue_of_claims_to_warm_keeps_only_the_newest_the_cache_can_hold(tmp_path) -> None:
    """Warming waits while vectors wait for the graphs, so a steady load would grow the queue without
    bound; it keeps the newest changes, as many as the cache holds, and queries compute the rest."""
    config = EngineConfig(evidence=EdgeBuilderConfig(enabled=False), derived_cache_claims=40)
    engine = Engine(tmp_path / "e", config)
    try:
        engine.ingest_batch("t", _claims(300))  # one write: 300 claims queued at once
        assert engine.stats().features_backlog <= 40
        _settled(engine)
        assert 0 < _cached_equals_fresh(engine, "t") <= 40
        # a dropped claim is still answered, its features computed by the query
        hits = engine.retrieve(
            dash_pb2.RetrieveRequest(tenant_id="t", query="river number 3 flows east", top_k=1)
        )
        assert hits.results[0].claim.claim_id == "c3"
    finally:
        engine.close()


def test_the_indexer_computes_features_ahead_only_once_writes_pause(tmp_path) -> None:
    """Under a steady load, computing features ahead would take the cores the writes need: the indexer
    waits until no claim has changed for ``warm_after_quiet_s``, and queries compute what they miss."""
    config = EngineConfig(evidence=EdgeBuilderConfig(enabled=False), warm_after_quiet_s=3600.0)
    engine = Engine(tmp_path / "e", config)
    try:
        engine.ingest_batch("t", _claims(50))
        assert engine.settle()
        deadline = time.monotonic() + 0.5  # a window in which an indexer that did not wait would warm 50
        while time.monotonic() < deadline:
            assert engine.stats().features_backlog == 50
            time.sleep(0.02)
        hits = engine.retrieve(
            dash_pb2.RetrieveRequest(tenant_id="t", query="river number 7 flows east", top_k=1)
        )
        assert hits.results[0].claim.claim_id == "c7"
    finally:
        engine.close()
