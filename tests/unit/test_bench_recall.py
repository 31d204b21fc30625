"""The bench's recall: the share of the exact top-k a search returns, over every query, chunk by chunk."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cluster.bench import measure

rng = np.random.default_rng(3)
CENTRES = rng.normal(size=(5, 16))
VECTORS = (CENTRES[rng.integers(0, 5, 400)] + 0.3 * rng.normal(size=(400, 16))).astype(np.float32)
VECTORS /= np.linalg.norm(VECTORS, axis=1, keepdims=True)
IDS = [f"c{i}" for i in range(len(VECTORS))]
TARGET = SimpleNamespace(stub=None, metadata=())  # the search itself is replaced
QUERIES = VECTORS[rng.integers(0, 400, 23)] + 0.05 * rng.normal(size=(23, 16)).astype(np.float32)


def searcher(miss_every: int):
    """Exact search that drops its best hit on every ``miss_every``-th query (0: never)."""
    calls = {"n": 0}

    def search(q: np.ndarray, k: int) -> list[str]:
        calls["n"] += 1
        ranked = [IDS[i] for i in np.argsort(-(VECTORS @ q))[: k + 1]]
        return ranked[1 : k + 1] if miss_every and calls["n"] % miss_every == 0 else ranked[:k]

    return search


@pytest.mark.parametrize("chunk", [1, 4, 64])
def test_recall_counts_every_query_whatever_the_chunk(monkeypatch, chunk: int) -> None:
    monkeypatch.setattr(measure, "vector_search", lambda *a: searcher(0))
    out = measure.recall(TARGET, "t", QUERIES, IDS, VECTORS, ks=(10,), chunk=chunk)
    assert out == {"recall_at_10": 1.0, "recall_at_10_se": 0.0, "queries": len(QUERIES)}


def test_a_missed_neighbour_costs_its_share_and_shows_in_the_spread(monkeypatch) -> None:
    monkeypatch.setattr(measure, "vector_search", lambda *a: searcher(2))  # every other query misses one
    out = measure.recall(TARGET, "t", QUERIES, IDS, VECTORS, ks=(10,), chunk=5)
    per_query = np.array([1.0 if i % 2 == 0 else 0.9 for i in range(len(QUERIES))])
    assert out["recall_at_10"] == round(per_query.mean(), 4)
    assert out["recall_at_10_se"] == round(per_query.std(ddof=1) / np.sqrt(len(per_query)), 4) > 0
