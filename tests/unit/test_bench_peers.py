"""The peers comparison: DASH and each peer take turns, so the ratio compares passes run side by side."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from cluster.bench import peers

rng = np.random.default_rng(7)
CENTRES = rng.normal(size=(4, 8))
VECTORS = (CENTRES[rng.integers(0, 4, 300)] + 0.2 * rng.normal(size=(300, 8))).astype(np.float32)
VECTORS /= np.linalg.norm(VECTORS, axis=1, keepdims=True)
IDS = [f"c{i}" for i in range(len(VECTORS))]
QUERIES = VECTORS[:12] + 0.05 * rng.normal(size=(12, 8)).astype(np.float32)


def exact(q: np.ndarray, k: int) -> list[str]:
    return [IDS[i] for i in np.argsort(-(VECTORS @ q))[:k]]


class Clock:
    """Stands in for the ``time`` module in ``peers``: it advances only when a fake search says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    perf_counter = monotonic

    def spend(self, ms: float) -> None:
        self.now += ms / 1000


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(peers, "time", c)
    return c


def test_dash_and_each_peer_alternate_and_the_ratio_uses_the_passes_beside_it(clock: Clock) -> None:
    calls: list[str] = []

    class Exact(peers.Peer):
        name = "exact"

        def search(self, q, k):
            calls.append("exact")
            clock.spend(1.0)
            return exact(q, k)

        def build(self, ids, vectors, texts):
            assert list(ids) == IDS and vectors is VECTORS

    class Broken(peers.Peer):
        name = "broken"

        def build(self, ids, vectors, texts):
            raise RuntimeError("no disk")

    def dash(q, k):
        calls.append("dash")
        clock.spend(3.0 if calls.count("exact") else 5.0)  # slower alone, before the peer's turn
        return [*exact(q, k)[: k - 1], "not-a-neighbour"]  # 9 of the true 10

    out = peers.compare(
        IDS, VECTORS, ["t"] * len(IDS), QUERIES, dash, warmup=4, rounds=3, peers=(Exact, Broken)
    )
    assert list(out) == ["dash", "exact", "broken"]
    assert out["broken"] == {"name": "broken", "error": "RuntimeError: no disk"}
    row = out["exact"]
    assert row["n"] == 3 * len(QUERIES) and row["recall_at_10"] == 1.0
    assert (row["p50_ms"], row["dash_p50_beside_ms"], row["dash_p50_ratio"]) == (1.0, 3.0, 3.0)
    assert row["dash_p50_ratio_per_round"] == [3.0, 3.0, 3.0]
    # One pass of its own, then one beside each of the peer's three; the failed peer ran none.
    assert out["dash"]["n"] == 4 * len(QUERIES) and out["dash"]["recall_at_10"] == 0.9
    # warm-up, pass | peer warm-up, pass | DASH pass | peer | DASH | peer | DASH
    assert [name for name, _ in itertools.groupby(calls)] == ["dash", "exact"] * 3 + ["dash"]


def test_a_slow_peer_is_timed_on_what_it_answers_in_its_share_of_the_budget(clock: Clock) -> None:
    class Slow(peers.Peer):
        name = "slow"

        def search(self, q, k):
            clock.spend(10_000.0)
            return exact(q, k)

        def build(self, ids, vectors, texts):
            return None

    out = peers.compare(
        IDS, VECTORS, [""] * len(IDS), QUERIES, exact, budget_s=60.0, rounds=3, peers=(Slow,), warmup=5
    )
    # 20 s a pass: the third answer (at 30 s) ends each pass; DASH's passes run in full.
    assert out["slow"]["n"] == 3 * 3 and out["slow"]["p50_ms"] == 10_000.0
    assert out["dash"]["n"] == 4 * len(QUERIES)


def test_peer_directories_are_temporary(tmp_path: Path) -> None:
    seen: list[Path] = []

    class Records(peers.Peer):
        name = "records"

        def build(self, ids, vectors, texts):
            seen.append(self.dir)
            (self.dir / "data").write_text("x")

        def search(self, q, k):
            return exact(q, k)

    peers.compare(IDS, VECTORS, [""] * len(IDS), QUERIES, exact, rounds=1, peers=(Records,))
    assert len(seen) == 1 and not seen[0].exists()


def test_dash_embedded_peer_loads_plain_claims_and_finds_the_exact_neighbours(tmp_path: Path) -> None:
    peer = peers.DashEmbedded(tmp_path)
    try:
        peer.build(IDS, VECTORS, [f"note number {i}" for i in range(len(IDS))])
        assert peer.node.engine.claim_count() == len(IDS)
        hits = sum(len(set(peer.search(q, 10)) & set(exact(q, 10))) for q in QUERIES)
    finally:
        peer.close()
    assert hits / (10 * len(QUERIES)) >= 0.95
