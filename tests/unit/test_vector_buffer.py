"""The engine's vector write buffer: a write is searchable as soon as it is acknowledged, the indexer
thread empties the buffer into the graph without changing any answer, and a checkpoint taken with a
full buffer restores it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.evidence.builder import EdgeBuilderConfig
from dash_node.index.vector import VectorConfig

DIM = 16


def _vectors(n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(6, DIM))
    v = centres[rng.integers(0, 6, n)] + 0.3 * rng.normal(size=(n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype("<f4")


def _engine(path: Path, max_pending: int = 10_000) -> Engine:
    vector = VectorConfig(kind="hnsw", exact_search_below=0, merge_chunk=16, max_pending=max_pending)
    return Engine(path, EngineConfig(vector=vector, evidence=EdgeBuilderConfig(enabled=False)))


def _ingest(engine: Engine, vectors: np.ndarray, first: int = 0) -> None:
    items = [
        types_pb2.ClaimInput(
            claim=types_pb2.Claim(claim_id=f"c{i}", text=f"claim {i}", embedding=v.tobytes())
        )
        for i, v in enumerate(vectors, start=first)
    ]
    for start in range(0, len(items), 50):
        engine.ingest_batch("t", items[start : start + 50])


def _finds_itself(engine: Engine, vectors: np.ndarray) -> float:
    """The share of claims that their own vector (cosine 1, unambiguous) ranks first: 1.0 when searched
    exactly (the buffer); an HNSW graph built by parallel insertion may miss one in a few hundred."""
    found = 0
    for i, v in enumerate(vectors):
        resp = engine.retrieve(dash_pb2.RetrieveRequest(tenant_id="t", query_embedding=v.tobytes(), top_k=1))
        found += [r.claim.claim_id for r in resp.results] == [f"c{i}"]
    return found / len(vectors)


def _stop_indexer(engine: Engine) -> None:
    """Only writers move buffered vectors from now on (the engine's close stops it the same way)."""
    engine._stopping.set()
    engine._indexer_wake.set()
    engine._indexer.join()


def _drained(engine: Engine, timeout: float = 30.0) -> None:
    """Poll the indexer's backlog as Stats reports it (what `dash bench` waits on before timing)."""
    deadline = time.monotonic() + timeout
    while backlog := engine.stats().index_backlog:
        assert time.monotonic() < deadline, f"{backlog} vectors still buffered"
        time.sleep(0.01)


def test_acknowledged_vectors_are_searchable_and_the_indexer_moves_them_into_the_graph(tmp_path) -> None:
    vectors = _vectors(400)
    engine = _engine(tmp_path / "e")
    try:
        _ingest(engine, vectors)
        # Every claim finds itself first straight after its acknowledgement, buffered or not, and
        # still does once the indexer has moved everything into the graph.
        assert _finds_itself(engine, vectors) >= 0.98
        _drained(engine)
        assert len(engine.vectors.tenant("t")) == 400
        assert _finds_itself(engine, vectors) >= 0.98
    finally:
        engine.close()


def test_writers_help_a_lagging_indexer_so_the_buffer_stays_bounded(tmp_path) -> None:
    engine = _engine(tmp_path / "e", max_pending=60)
    try:
        _stop_indexer(engine)
        vectors = _vectors(300)
        for start in range(0, 300, 50):
            _ingest(engine, vectors[start : start + 50], first=start)
            assert 0 < engine.vectors.pending <= 60
            assert engine.stats().index_backlog == engine.vectors.pending
        assert len(engine.vectors.tenant("t")) == 300
        assert _finds_itself(engine, vectors) >= 0.98
    finally:
        engine.close()


def test_a_checkpoint_keeps_the_buffer_and_a_reopened_engine_answers_the_same(tmp_path) -> None:
    vectors = _vectors(300)
    engine = _engine(tmp_path / "e")
    try:
        _stop_indexer(engine)
        _ingest(engine, vectors)
        assert engine.vectors.pending == 300
        assert _finds_itself(engine, vectors) == 1.0  # all in the buffer, searched exactly
        engine.checkpoint()  # the WAL is trimmed: the snapshot alone must hold the buffered vectors
        assert list((tmp_path / "e" / "vectors").glob("*.pending-keys.npy"))
    finally:
        engine.close()
    engine = _engine(tmp_path / "e")
    try:
        assert _finds_itself(engine, vectors) >= 0.98
        _drained(engine)
        assert _finds_itself(engine, vectors) >= 0.98
    finally:
        engine.close()


def test_a_reopened_replica_serves_what_it_reindexed_at_once_and_a_write_moves_only_its_share(
    tmp_path, monkeypatch
) -> None:
    vectors = _vectors(350)
    engine = _engine(tmp_path / "e", max_pending=60)
    try:
        _ingest(engine, vectors[:300])
    finally:
        engine.close()  # no checkpoint since the first write: reopening re-indexes all 300 from the WAL
    # Only writes move vectors now: what recovery left in the buffer, and what each write moves, show.
    monkeypatch.setattr(Engine, "_index_loop", lambda self: None)
    engine = _engine(tmp_path / "e", max_pending=60)
    try:
        # Recovery moved none into the graph (it used to move all but 60 before the replica opened),
        # and every claim is found at once: the buffer is searched exactly.
        assert engine.recovery["index_backlog"] == engine.vectors.pending == 300
        assert _finds_itself(engine, vectors[:300]) == 1.0
        # A write over the bound moves as many vectors as it adds, not the whole backlog it found.
        _ingest(engine, vectors[300:], first=300)
        assert engine.vectors.pending == 300
        assert len(engine.vectors.tenant("t")) == 350
        assert _finds_itself(engine, vectors) >= 0.98
    finally:
        engine.close()
    monkeypatch.undo()
    engine = _engine(tmp_path / "e", max_pending=60)
    try:
        _drained(engine)  # with its indexer, a reopened replica drains the backlog by itself
        assert _finds_itself(engine, vectors) >= 0.98
    finally:
        engine.close()
