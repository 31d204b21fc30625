"""Vector index: upsert/replace/remove, tenant isolation, exact prefilters, atomic snapshots; the tests that
name no kind hold for both kinds of tenant index (inverted file and HNSW graph)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from usearch.index import MetricKind

from dash_node.errors import InvalidArgument, WalCorruption
from dash_node.index.vector import Tenant, TenantVectors, VectorConfig, VectorStore, stored

DIM = 32
KINDS = pytest.mark.parametrize("kind", ["ivf", "hnsw"])


def tenant(kind: str, dim: int = DIM, **knobs) -> Tenant:
    """A new tenant index of ``kind``, as a store makes one."""
    return VectorStore(VectorConfig(kind=kind, **knobs)).ensure("t", dim)


def clustered(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    """Embedding-like data: 8 centroids in a rank-12 subspace plus spread and noise (never i.i.d.)."""
    b = np.random.default_rng(99)
    basis = np.linalg.qr(b.normal(size=(dim, 12)))[0].T
    cents = b.normal(size=(8, 12)) * 3
    rng = np.random.default_rng(seed)
    latent = cents[rng.integers(0, 8, n)] + rng.normal(size=(n, 12))
    x = latent @ basis + rng.normal(scale=0.05, size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact(data: np.ndarray, keys: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Ground truth as the index scores: the inner product of the unit vectors it stores (half precision
    by default, in either kind) with the unit query, rounded alike."""
    dtype = VectorConfig().dtype
    data = stored(data / np.linalg.norm(data, axis=1, keepdims=True), dtype)
    sims = np.einsum("ij,j->i", data, stored(q / np.linalg.norm(q), dtype))
    return keys[np.argsort(-sims, kind="stable")[:k]]


@KINDS
def test_upsert_search_replace_remove(kind: str) -> None:
    t = tenant(kind)
    x = clustered(200, 1)
    keys = np.arange(100, 300, dtype=np.uint64)
    t.upsert(keys, x)
    assert len(t) == 200 and 150 in t and 99 not in t and -1 not in t
    got, sims = t.search(x[7], 5)
    # the inner product of a unit vector rounded to half precision with itself: 1 within 1e-3
    assert got[0] == 107 and sims[0] == pytest.approx(1.0, abs=1e-3)
    assert np.all(np.diff(sims) <= 1e-6)
    # replace key 107 with the vector of 150: now both are exact matches for x[50]
    t.upsert(np.array([107], np.uint64), x[50:51])
    assert len(t) == 200
    assert set(t.search(x[50], 2)[0].tolist()) == {107, 150}
    t.remove(np.array([107, 150, 999_999], np.uint64))
    assert len(t) == 198 and 107 not in t
    assert not {107, 150} & set(t.search(x[50], 10)[0].tolist())


@KINDS
def test_duplicate_keys_in_batch_last_wins_and_bad_input_rejected(kind: str) -> None:
    t = tenant(kind)
    x = clustered(3, 2)
    t.upsert(np.array([5, 5, 6], np.uint64), x)
    assert len(t) == 2
    assert t.search(x[1], 1)[0][0] == 5
    with pytest.raises(InvalidArgument):
        t.upsert(np.array([1], np.uint64), np.zeros((1, DIM), np.float32))
    with pytest.raises(InvalidArgument):
        t.upsert(np.array([1], np.uint64), np.ones((1, DIM + 1), np.float32))
    with pytest.raises(InvalidArgument):
        t.search(np.ones(DIM + 1, np.float32), 3)


@KINDS
def test_tenant_isolation_and_dimension(kind: str) -> None:
    store = VectorStore(VectorConfig(kind=kind))
    a = store.ensure("a", DIM)
    b = store.ensure("b", 16)
    x = clustered(100, 3)
    a.upsert(np.arange(100, dtype=np.uint64), x)
    b.upsert(np.arange(1000, 1010, dtype=np.uint64), clustered(10, 4, dim=16))
    assert store.dim_of("a") == DIM and store.dim_of("b") == 16 and store.dim_of("c") is None
    assert store.tenant("c") is None
    with pytest.raises(InvalidArgument):
        store.ensure("a", 16)
    got, _ = b.search(clustered(1, 5, dim=16)[0], 50)
    assert set(got.tolist()) <= set(range(1000, 1010))
    # an allowed list naming tenant a's keys yields nothing from b (both paths)
    assert len(b.search(clustered(1, 5, dim=16)[0], 5, allowed=np.arange(100, dtype=np.uint64))[0]) == 0


@KINDS
@pytest.mark.parametrize("exact_below", [10_000, 16])
def test_allowed_filter_is_exact(exact_below: int, kind: str) -> None:
    """exact_below=10k exercises the brute-force path, 16 the over-fetch path (an inverted file of lists
    of at most 64 vectors, scanning 12 of them at first: it probes more until it finds 10)."""
    n = 3000
    x = clustered(n, 6)
    keys = np.arange(n, dtype=np.uint64) * 7 + 3
    t = tenant(kind, exact_below=exact_below, list_split_at=64, probes=12, probe_share=0)
    t.upsert(keys, x)
    rng = np.random.default_rng(7)
    allowed = keys[rng.random(n) < 0.05]
    allowed_set = set(allowed.tolist())
    hits = 0
    for q in clustered(30, 8):
        got, sims = t.search(q, 10, allowed=allowed)
        assert set(got.tolist()) <= allowed_set
        assert len(got) == 10 and np.all(np.diff(sims) <= 1e-6)
        mask = np.isin(keys, allowed)
        truth = exact(x[mask], keys[mask], q, 10)
        hits += len(set(got.tolist()) & set(truth.tolist()))
        if exact_below > len(allowed):
            assert got.tolist() == truth.tolist()
    assert hits / 300 >= 0.95


@KINDS
def test_overfetch_exhaustion_returns_all_allowed(kind: str) -> None:
    t = tenant(kind, exact_below=2, list_split_at=16, probes=1, probe_share=0)
    x = clustered(500, 9)
    t.upsert(np.arange(500, dtype=np.uint64), x)
    allowed = np.array([3, 17, 400, 12345], np.uint64)  # 12345 does not exist
    got, _ = t.search(x[0], 10, allowed=allowed)
    assert sorted(got.tolist()) == [3, 17, 400]


@KINDS
def test_save_load_round_trip(tmp_path: Path, kind: str) -> None:
    store = VectorStore(VectorConfig(kind=kind))
    x = clustered(300, 10)
    store.ensure("tenant/../ü 🚀", DIM).upsert(np.arange(300, dtype=np.uint64), x)
    store.ensure("b", 16).upsert(np.array([9], np.uint64), clustered(1, 11, dim=16))
    target = tmp_path / "vectors"
    store.save(target, lsn=41)
    store.tenant("b").upsert(np.array([10], np.uint64), clustered(1, 12, dim=16))  # type: ignore[union-attr]
    store.save(target, lsn=42)  # overwrite an existing snapshot
    assert not (tmp_path / "vectors.tmp").exists() and not (tmp_path / "vectors.old").exists()
    loaded, lsn = VectorStore.load(target)
    assert lsn == 42
    t = loaded.tenant("tenant/../ü 🚀")
    assert t is not None and len(t) == 300 and t.dim == DIM
    assert t.search(x[5], 1)[0][0] == 5
    assert len(loaded.tenant("b")) == 2  # type: ignore[arg-type]
    t.upsert(np.array([1000], np.uint64), x[:1])  # loaded index is mutable
    assert 1000 in t
    names = [p.name for p in target.iterdir()]
    assert all(n == "manifest.json" or n.endswith((".usearch", ".npy")) for n in names)
    # a graph (and its copies) per tenant, or its lists
    assert sum(n.endswith(".usearch") for n in names) == (2 if kind == "hnsw" else 0)


def test_a_cosine_graph_from_an_older_snapshot_stays_cosine(tmp_path: Path) -> None:
    """Graphs were cosine before they became inner product over unit vectors: such a snapshot loads as
    cosine, and its buffer scores as its graph does (cosine of a vector with itself is 1 exactly; the
    inner product of its half-precision rounding is not)."""
    cfg = VectorConfig(exact_search_below=0)
    old = TenantVectors(DIM, cfg, TenantVectors._new_index(DIM, cfg, MetricKind.Cos))
    x = clustered(300, 13)
    old.upsert(np.arange(300, dtype=np.uint64), x)
    while old.merge(100):
        pass
    store = VectorStore(cfg)
    store._tenants["t"] = old
    store.save(tmp_path / "v", lsn=1)
    t = VectorStore.load(tmp_path / "v", cfg)[0].tenant("t")
    assert t is not None and t._index.metric_kind == MetricKind.Cos
    t.upsert(np.array([1000], np.uint64), x[7:8])  # buffered beside the graph
    keys, sims = t.search(x[7], 2)
    assert sorted(keys.tolist()) == [7, 1000] and np.all(np.abs(sims - 1.0) < 1e-6)


def test_load_missing_and_interrupted_swap(tmp_path: Path) -> None:
    store, lsn = VectorStore.load(tmp_path / "nothing")
    assert lsn == 0 and store.tenant("a") is None
    s = VectorStore()
    s.ensure("a", DIM).upsert(np.array([1], np.uint64), clustered(1, 13))
    s.save(tmp_path / "v", lsn=7)
    (tmp_path / "v").rename(tmp_path / "v.old")  # crash between the two renames
    loaded, lsn = VectorStore.load(tmp_path / "v")
    assert lsn == 7 and len(loaded.tenant("a")) == 1  # type: ignore[arg-type]


@KINDS
def test_checksum_mismatch_detected(tmp_path: Path, kind: str) -> None:
    s = VectorStore(VectorConfig(kind=kind))
    s.ensure("a", DIM).upsert(np.arange(50, dtype=np.uint64), clustered(50, 14))
    s.save(tmp_path / "v", lsn=3)
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text())
    f = tmp_path / "v" / manifest["meta"]["tenants"]["a"]["file" if kind == "hnsw" else "rows"]
    data = bytearray(f.read_bytes())
    data[-5] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(WalCorruption, match=f.name):
        VectorStore.load(tmp_path / "v")


@KINDS
@pytest.mark.parametrize("rows", [1, 7])
def test_search_many_equals_one_search_per_query(rows: int, kind: str) -> None:
    t = tenant(kind, list_split_at=32, probes=3, probe_share=0)  # many lists, a few scanned
    t.upsert(np.arange(300, dtype=np.uint64), clustered(300, 3))
    queries = clustered(rows, 99)
    for q, (keys, sims) in zip(queries, t.search_many(queries, 5), strict=True):
        one_keys, one_sims = t.search(q, 5)
        assert keys.tolist() == one_keys.tolist()
        assert np.allclose(sims, one_sims, atol=1e-5)


@KINDS
def test_small_tenants_get_the_same_exact_answer_whatever_the_build_order(kind: str) -> None:
    """Replicas build their indexes in different orders (log vs snapshot): below the exact-search
    threshold (a graph's, or while a search scans every list) they answer alike, ties broken by key."""
    rng = np.random.default_rng(5)
    vecs = rng.normal(size=(300, 16)).astype(np.float32)
    vecs[7] = vecs[3]  # an exact tie
    keys = np.arange(1, 301, dtype=np.uint64)
    a, b = tenant(kind, 16, list_split_at=32), tenant(kind, 16, list_split_at=32)
    a.upsert(keys, vecs)
    order = rng.permutation(300)
    for chunk in np.array_split(order, 7):
        b.upsert(keys[chunk], vecs[chunk])
    for q in [vecs[3], *rng.normal(size=(20, 16)).astype(np.float32)]:
        ka, sa = a.search(q, 10)
        kb, sb = b.search(q, 10)
        assert ka.tolist() == kb.tolist() and np.allclose(sa, sb)
        brute = np.argsort(-(vecs @ q) / np.linalg.norm(vecs, axis=1), kind="stable")[:10] + 1
        assert set(ka.tolist()) == set(brute.tolist())  # exact, not approximate
    assert a.search(vecs[3], 2)[0].tolist() == [4, 8]  # the tie, in key order


@pytest.mark.parametrize("metric", [MetricKind.IP, MetricKind.Cos])
def test_a_vector_has_one_similarity_whichever_path_finds_it(metric: MetricKind) -> None:
    """Buffer (exact), graph (usearch rounds the query to half precision) and similarities() agree to
    float32 rounding, so replicas holding a vector in different places rank it the same; half precision
    stays within 1e-3 of the float32 cosine. Cosine: the metric of graphs from older snapshots."""
    x = clustered(2000, 11)
    keys = np.arange(2000, dtype=np.uint64)
    cfg = VectorConfig(exact_search_below=0)
    t = TenantVectors(DIM, cfg, TenantVectors._new_index(DIM, cfg, metric))
    t.upsert(keys, x)
    queries = clustered(20, 12)
    from_buffer = [t.search(q, 10) for q in queries]
    while t.merge(500):
        pass
    assert t.pending == 0
    for q, (buf_keys, buf_sims) in zip(queries, from_buffer, strict=True):
        graph_keys, graph_sims = t.search(q, 10)
        graph = dict(zip(graph_keys.tolist(), graph_sims.tolist(), strict=True))
        again = dict(zip(*(a.tolist() for a in t.similarities(q, graph_keys)), strict=True))
        assert again.keys() == graph.keys()
        assert all(again[key] == pytest.approx(sim, abs=1e-6) for key, sim in graph.items())
        buf = dict(zip(buf_keys.tolist(), buf_sims.tolist(), strict=True))
        shared = buf.keys() & graph.keys()
        assert len(shared) >= 9
        assert all(buf[key] == pytest.approx(graph[key], abs=1e-6) for key in shared)
        truth = x[buf_keys.astype(np.int64)] @ (q / np.linalg.norm(q))
        assert np.abs(truth - buf_sims).max() < 1e-3


@pytest.mark.parametrize("scale", [1e6, 1e-9])
def test_vectors_beyond_half_precision_range_are_kept_by_direction(scale: float) -> None:
    """Components past half precision's range (65504 up, ~6e-8 down) would store as inf or 0: vectors are
    kept as unit vectors (cosine does not see scale), in the graph and in the buffer alike, and in the
    lists of an inverted file."""
    x = clustered(300, 13)
    lists = tenant("ivf", list_split_at=64)
    lists.upsert(np.arange(300, dtype=np.uint64), x * scale)
    for i in (0, 150, 299):
        keys, sims = lists.search(x[i] * scale, 3)
        assert keys[0] == i and sims[0] == pytest.approx(1.0, abs=1e-3)
    for exact_search_below in (10_000, 0):  # straight into the graph / through the buffer
        t = TenantVectors(DIM, VectorConfig(exact_search_below=exact_search_below))
        t.upsert(np.arange(300, dtype=np.uint64), x * scale)
        t.merge(100)  # some in the graph, the rest buffered (a no-op when they went straight in)
        for i in (0, 150, 299):
            keys, sims = t.search(x[i] * scale, 3)
            assert keys[0] == i and sims[0] == pytest.approx(1.0, abs=1e-3)
            assert np.isfinite(sims).all()


def test_equal_vectors_tied_at_the_cut_keep_the_lowest_keys() -> None:
    """The same text sent twice embeds the same: searched exactly (the write buffer), the k nearest of
    many equal vectors are the lowest keys, as on every replica."""
    x = clustered(50, 14)
    same = np.repeat(x[:1], 300, axis=0)
    t = TenantVectors(DIM, VectorConfig(exact_search_below=0))
    t.upsert(np.arange(1000, 1350, dtype=np.uint64), np.concatenate([x, same]))
    keys, _ = t.search(x[0], 5)
    assert keys.tolist() == [1000, 1050, 1051, 1052, 1053]


@pytest.mark.parametrize("dtype", ["f16", "f32"])
def test_rows_read_in_one_call_equal_usearchs_get(dtype: str) -> None:
    """A snapshot from before the copies fills them from its graph through usearch's compiled call; it
    must return exactly what the public ``get`` does (the pinned usearch's layout, at either precision)."""
    x = clustered(300, 13)
    t = TenantVectors(DIM, VectorConfig(dtype=dtype, exact_search_below=0))
    t.upsert(np.arange(300, dtype=np.uint64), x)
    while t.merge(100):
        pass
    keys = np.array([299, 0, 17, 17, 150], dtype=np.uint64)
    public = np.asarray(t._index.get(keys), dtype=np.float32).reshape(len(keys), DIM)
    assert np.array_equal(t._graph_rows(keys), public)
    assert np.array_equal(t._copies.get(keys), public)  # the copies hold what such a graph holds


def test_search_breadth_grows_with_the_graph() -> None:
    cfg = VectorConfig()
    assert cfg.expansion_for(1_000) == cfg.expansion_for(cfg.expansion_min_upto) == cfg.expansion_search_min
    assert cfg.expansion_for(cfg.expansion_full_from) == cfg.expansion_for(10**7) == cfg.expansion_search
    sizes = np.geomspace(cfg.expansion_min_upto, cfg.expansion_full_from, 20).astype(int)
    breadths = [cfg.expansion_for(int(n)) for n in sizes]
    assert breadths == sorted(breadths) and len(set(breadths)) > 5  # grows step by step, never back
    assert cfg.expansion_search_min < cfg.expansion_for(160_000) < cfg.expansion_search


def test_a_growing_graph_is_searched_wider_unless_the_breadth_is_pinned() -> None:
    cfg = VectorConfig(
        exact_search_below=0, expansion_search_min=16, expansion_min_upto=100, expansion_full_from=400
    )
    t = TenantVectors(DIM, cfg)
    x = clustered(600, 4)
    keys = np.arange(600, dtype=np.uint64)
    seen = []
    for end in (100, 200, 400, 600):
        t.upsert(keys[len(t) : end], x[len(t) : end])
        t.merge(t.pending)
        got, _ = t.search(x[0], 5)
        assert got[0] == 0
        seen.append(t._index.expansion_search)
    assert seen[0] == 16 and seen[2] == seen[3] == cfg.expansion_search and 16 < seen[1] < seen[2]
    t.set_search_expansion(40)
    t.search(x[0], 5)
    assert t._index.expansion_search == 40


_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), st.integers(0, 80), st.integers(1, 40)),
        st.tuples(st.just("remove"), st.integers(0, 120), st.integers(1, 20)),
        st.tuples(st.just("merge"), st.integers(1, 50), st.just(0)),
        st.tuples(st.just("search"), st.integers(0, 119), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(steps=_STEPS, metric=st.sampled_from([MetricKind.IP, MetricKind.Cos]))
def test_the_searched_buffer_always_holds_what_is_buffered_while_the_indexer_drains_it(steps, metric) -> None:
    """The buffer's stacked form is built once and its head dropped as the indexer moves the oldest
    vectors (rebuilding it cost every search after each step O(buffer)): whatever the order of writes,
    removals, indexer steps and searches, it holds exactly the buffered keys, vectors and norms, in
    order (norms: for a cosine graph only)."""
    x = clustered(120, 21)
    cfg = VectorConfig(exact_search_below=0)
    t = TenantVectors(DIM, cfg, TenantVectors._new_index(DIM, cfg, metric))
    for op, a, b in steps:
        keys = np.arange(a, min(a + b, 120), dtype=np.uint64)
        if op == "upsert" and len(keys):
            t.upsert(keys, x[keys.astype(int)])
        elif op == "remove":
            t.remove(keys)
        elif op == "merge":
            t.merge(a)
        elif op == "search" and len(t):
            got, _ = t.search(x[a], 5)
            assert len(got) == min(5, len(t))
        cached_keys, matrix, norms = t._buffered()
        assert cached_keys.tolist() == list(t._pending)
        want = np.stack(list(t._pending.values())) if t.pending else np.empty((0, DIM), np.float32)
        assert np.array_equal(matrix, want)
        if metric == MetricKind.Cos:
            assert np.allclose(norms, np.linalg.norm(want, axis=1), rtol=1e-6)
        else:
            assert norms is None


def test_an_indexer_step_keeps_the_stacked_buffer_instead_of_stacking_it_again() -> None:
    t = TenantVectors(DIM, VectorConfig(exact_search_below=0))
    t.upsert(np.arange(300, dtype=np.uint64), clustered(300, 22))
    _, before, _ = t._buffered()
    t.merge(100)
    keys, after, _ = t._buffered()
    assert keys.tolist() == list(range(100, 300))
    assert np.shares_memory(before, after)  # a view of the same rows, not a copy
