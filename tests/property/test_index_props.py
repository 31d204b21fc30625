"""Property: whatever the upsert/remove history, a tenant's search returns only (and, lexically, exactly)
that tenant's live keys."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dash_node.index.lexical import LexicalIndex
from dash_node.index.vector import VectorConfig, VectorStore, stored

TENANTS = ["a", "b", "ç/ü"]
DIM = 8
WORDS = ["apple", "pear", "plum", "fig", "the", "and", "kiwi", "lime"]

_b = np.random.default_rng(5)
_BASIS = np.linalg.qr(_b.normal(size=(DIM, 4)))[0].T
_CENTS = _b.normal(size=(4, 4)) * 3


def vec(seed: int) -> np.ndarray:
    """Clustered, embedding-like vectors (4 centroids in a rank-4 subspace) — never i.i.d. noise."""
    rng = np.random.default_rng(seed)
    x = (_CENTS[seed % 4] + rng.normal(size=4)) @ _BASIS + rng.normal(scale=0.05, size=DIM)
    return (x / np.linalg.norm(x)).astype(np.float32)


# docnos are unique per replica: docno d always belongs to tenant d % 3
op = st.tuples(
    st.sampled_from(["upsert", "remove"]),
    st.lists(st.integers(0, 59), min_size=1, max_size=8),
    st.integers(0, 10_000),
)
ops = st.lists(op, min_size=1, max_size=25)


def _live_after(history: list[tuple[str, list[int], int]]) -> dict[str, set[int]]:
    live: dict[str, set[int]] = {t: set() for t in TENANTS}
    for kind, docs, _ in history:
        for d in docs:
            (live[TENANTS[d % 3]].add if kind == "upsert" else live[TENANTS[d % 3]].discard)(d)
    return live


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=ops,
    qseed=st.integers(0, 1000),
    allowed=st.sets(st.integers(0, 59)),
    exact_below=st.sampled_from([0, 64]),  # 0 forces the HNSW over-fetch path, 64 the exact path
    buffered=st.booleans(),  # every write goes through the write buffer (else: straight into the graph)
    merges=st.lists(st.integers(0, 10), min_size=25, max_size=25),  # buffer -> graph after each step
    snapshot_at=st.integers(0, 25),
    kind=st.sampled_from(["ivf", "hnsw"]),
)
def test_vector_results_subset_of_tenant_live_keys(
    history: list[tuple[str, list[int], int]],
    qseed: int,
    allowed: set[int],
    exact_below: int,
    buffered: bool,
    merges: list[int],
    snapshot_at: int,
    kind: str,
    tmp_path_factory,
) -> None:
    # Lists of at most 8 vectors: an inverted file splits many times over and still scans them all.
    config = VectorConfig(
        kind=kind, exact_below=exact_below, exact_search_below=0 if buffered else 10_000, list_split_at=8
    )
    store = VectorStore(config)
    current: dict[int, np.ndarray] = {}  # the oracle: each live doc's latest vector
    for i, (kind, docs, seed) in enumerate(history):
        for d in docs:
            current[d] = vec(seed + d)
        for tenant in TENANTS:
            mine = np.array([d for d in docs if TENANTS[d % 3] == tenant], dtype=np.uint64)
            if len(mine) == 0:
                continue
            if kind == "upsert":
                store.ensure(tenant, DIM).upsert(mine, np.stack([vec(seed + int(d)) for d in mine]))
            elif (t := store.tenant(tenant)) is not None:
                t.remove(mine)
        store.merge(merges[i])
        if i == snapshot_at:  # a snapshot round trip (buffer included) in the middle changes nothing
            target = tmp_path_factory.mktemp("vectors") / "v"
            store.save(target, lsn=i)
            store, _ = VectorStore.load(target, config)
    live = _live_after(history)
    for tenant in TENANTS:
        t = store.tenant(tenant)
        if t is None:
            assert not live[tenant]
            continue
        assert set(t.keys().tolist()) == live[tenant] and len(t) == len(live[tenant])
        got, _ = t.search(vec(qseed), 100)
        assert set(got.tolist()) <= live[tenant]
        got_f, _ = t.search(vec(qseed), 5, allowed=np.array(sorted(allowed), dtype=np.uint64))
        assert set(got_f.tolist()) <= live[tenant] & allowed
        assert len(got_f) == min(5, len(live[tenant] & allowed))
        # Small and clustered, so the HNSW search is as good as exact: the exact top 5 over the graph and
        # the buffer together (the inverted file scans every list: exact).
        # Cosines over the vectors as stored (half-precision unit vectors), as the index computes them.
        q = vec(qseed)
        unit = {d: stored(current[d] / np.linalg.norm(current[d]), config.dtype) for d in live[tenant]}
        uq = stored(q / np.linalg.norm(q), config.dtype)
        exact = sorted(live[tenant], key=lambda d: (-float(uq @ unit[d]), d))[:5]
        got5, sims = t.search(q, 5)
        assert list(sims) == sorted(sims, reverse=True)
        assert set(got5.tolist()) == set(exact)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=ops,
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    allowed=st.sets(st.integers(0, 59)),
    snapshot_at=st.integers(0, 25),
)
def test_lexical_matches_exactly_the_live_docs_with_a_query_word(
    history: list[tuple[str, list[int], int]], query: list[str], allowed: set[int], snapshot_at: int
) -> None:
    """... and scores them as an index built afresh from the live documents does (stale postings and
    incrementally kept statistics change nothing)."""
    ix = LexicalIndex()
    text: dict[int, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (kind, docs, seed) in enumerate(history):
            if kind == "upsert":
                for tenant in TENANTS:
                    mine = [
                        (d, [WORDS[(seed + d + j) % len(WORDS)] for j in range(3)])
                        for d in docs
                        if TENANTS[d % 3] == tenant
                    ]
                    if mine:
                        ix.upsert(tenant, [(d, " ".join(words)) for d, words in mine])
                        text.update({d: words for d, words in mine})
            else:
                ix.remove(docs)
            if i == snapshot_at:  # a snapshot round trip in the middle of the history changes nothing
                ix.save(Path(tmp) / "lex", lsn=i)
                ix, _ = LexicalIndex.load(Path(tmp) / "lex")
    live = _live_after(history)
    fresh = LexicalIndex()
    for tenant in TENANTS:
        fresh.upsert(tenant, [(d, " ".join(text[d])) for d in sorted(live[tenant])])
    wanted = set(query) - {"the", "and"}  # stopwords never match
    for tenant in TENANTS:
        expected = {d for d in live[tenant] if set(text[d]) & wanted}
        scored = dict(ix.search(tenant, " ".join(query), 100))
        assert set(scored) == expected
        assert scored == pytest.approx(dict(fresh.search(tenant, " ".join(query), 100)), rel=1e-9)
        got_f = {d for d, _ in ix.search(tenant, " ".join(query), 100, allowed=allowed)}
        assert got_f == expected & allowed


# Skewed word frequencies, as in real text: a few words in most documents, most words in few.
ZIPF = [f"w{i}" for i in range(40)]
_ZIPF_P = 1 / np.arange(1, 41) ** 1.1
_ZIPF_P /= _ZIPF_P.sum()


def _zipf_text(rng: np.random.Generator) -> str:
    return " ".join(rng.choice(ZIPF, size=int(rng.integers(1, 12)), p=_ZIPF_P))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_docs=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
    rewritten=st.sets(st.integers(0, 399), max_size=30),
    removed=st.sets(st.integers(0, 399), max_size=30),
    query=st.lists(st.sampled_from(ZIPF), min_size=1, max_size=5),
    k=st.integers(1, 10),
    allowed=st.none() | st.sets(st.integers(0, 399)),
    snapshot=st.booleans(),
)
def test_lexical_top_k_is_the_exhaustive_rankings_prefix(
    n_docs: int,
    seed: int,
    rewritten: set[int],
    removed: set[int],
    query: list[str],
    k: int,
    allowed: set[int] | None,
    snapshot: bool,
) -> None:
    """The top k is exactly the first k of the full ranking: same documents, same order, same scores; among
    equal scores at the cut the lower docnos (a partial sort alone may keep any of them). Rewritten
    documents (stale postings, or none when the text is unchanged), removals and a snapshot round trip
    read postings every way; word frequencies are skewed as in real text."""
    rng = np.random.default_rng(seed)
    texts = {d: _zipf_text(rng) for d in range(n_docs)}
    ix = LexicalIndex()
    ix.upsert("t", sorted(texts.items()))
    for d in sorted(rewritten):  # every other one keeps its text: indexing it again changes nothing
        ix.upsert("t", [(d, _zipf_text(rng) if d % 2 else texts.get(d, "w0"))])
    ix.remove(sorted(removed))
    if snapshot:
        with tempfile.TemporaryDirectory() as tmp:
            ix.save(Path(tmp) / "lex", lsn=1)
            ix, _ = LexicalIndex.load(Path(tmp) / "lex")
    text = " ".join(query)
    assert ix.search("t", text, k, allowed) == ix.search("t", text, 1_000, allowed)[:k]


@settings(max_examples=150, deadline=None)
@given(
    scores=st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.25]) | st.floats(0.01, 10), max_size=120),
    k=st.integers(1, 40),
    allow_every=st.integers(1, 4),
)
def test_the_compiled_best_k_equals_the_reference_top_k(scores, k, allow_every) -> None:
    """BM25's compiled heap selection keeps what ``top_k`` keeps, ties at the cut to the lower docno, and
    leaves the accumulator zeroed for the next query."""
    from dash_node.index.bm25 import take_best
    from dash_node.index.topk import top_k

    rng = np.random.default_rng(len(scores))
    docnos = rng.permutation(np.arange(1, 2 * len(scores) + 2, dtype=np.uint64))[: len(scores)]
    acc = np.zeros(2 * len(scores) + 2)
    acc[docnos] = scores
    allowed = np.zeros(len(acc), dtype=bool)
    allowed[::allow_every] = True
    keys, got = np.zeros(k, dtype=np.uint64), np.zeros(k)
    kept = take_best(acc, docnos, len(docnos), allowed, k, keys, got)
    order = np.lexsort((keys[:kept], -got[:kept]))
    mask = allowed[docnos]
    want_keys, want_scores = top_k(docnos[mask], np.asarray(scores)[mask], k)
    assert keys[:kept][order].tolist() == want_keys.tolist()
    assert got[:kept][order].tolist() == want_scores.tolist()
    assert not acc.any()
