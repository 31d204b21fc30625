"""Measure HNSW recall and speed of dash_node.index.vector on embedding-like clustered data.

Why clustered: i.i.d. random vectors are a worst case that says nothing about real embeddings (which live
near a low-rank subspace with topic clusters), so they would mis-tune the HNSW knobs. ``--data corpus``
uses the bench's generated claims embedded by the shipped model instead (384-d, real embeddings).
Recall is against exact float32 search over the vectors as given, whatever ``--dtype`` stores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dash_node.index.vector import TenantVectors, VectorConfig


def clustered(n: int, dim: int, seed: int, basis_seed: int = 7) -> np.ndarray:
    """64 centroids in a random rank-48 subspace + per-point spread + small isotropic noise, L2-normalised."""
    brng = np.random.default_rng(basis_seed)  # shared geometry between corpus and queries
    rank, n_centroids = 48, 64
    basis = np.linalg.qr(brng.normal(size=(dim, rank)))[0].T  # (rank, dim)
    centroids = brng.normal(size=(n_centroids, rank))
    spreads = brng.uniform(0.5, 1.2, size=n_centroids)
    rng = np.random.default_rng(seed)
    which = rng.integers(0, n_centroids, size=n)
    latent = centroids[which] + rng.normal(size=(n, rank)) * spreads[which, None]
    x = latent @ basis + rng.normal(scale=0.05, size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def embedded_corpus(n: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """The bench corpus's claim texts and queries, embedded by the shipped model."""
    from cluster.bench.corpus import generate
    from dash_node.embedding import default_embedder

    corpus, embedder = generate(n, queries, 1), default_embedder()
    data = np.asarray(embedder.embed(corpus.texts), dtype=np.float32)
    return data, np.asarray(embedder.embed([q.text for q in corpus.queries]), dtype=np.float32)


def exact_topk(data: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 50):
        sims = queries[start : start + 50] @ data.T
        if mask is not None:
            sims[:, ~mask] = -np.inf
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out[start : start + 50] = part
    return out


def recall(found: list[np.ndarray], truth: np.ndarray, k: int) -> float:
    """The share of the true neighbours (each row of ``truth``) among the first ``k`` found."""
    hits = sum(len(np.intersect1d(f[:k], t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def sweep_point(
    tv: TenantVectors, queries: np.ndarray, truth10: np.ndarray, truth100: np.ndarray, expansion: int
) -> dict:
    """Recall and search time at one search breadth. ``recall_at_10_of_50`` is what a top-10 query of
    the planner sees: it takes 50 candidates from the graph (``RankingWeights.min_candidates``)."""
    tv.set_search_expansion(expansion)
    lat: list[float] = []
    found10: list[np.ndarray] = []
    found50: list[np.ndarray] = []
    found100: list[np.ndarray] = []
    for q in tqdm(queries, desc=f"expansion {expansion}", file=sys.stderr):
        k10, _ = tv.search(q, 10)
        t = time.perf_counter()
        k50, _ = tv.search(q, 50)
        lat.append((time.perf_counter() - t) * 1000)
        k100, _ = tv.search(q, 100)
        found10.append(k10.astype(np.int64))
        found50.append(k50.astype(np.int64))
        found100.append(k100.astype(np.int64))
    return {
        "expansion_search": expansion,
        "recall_at_10": round(recall(found10, truth10, 10), 4),
        "recall_at_10_of_50": round(recall(found50, truth10, 50), 4),
        "recall_at_100": round(recall(found100, truth100, 100), 4),
        "search_k50_p50_ms": round(float(np.percentile(lat, 50)), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--connectivity", type=int, default=VectorConfig.connectivity)
    ap.add_argument("--expansion-add", type=int, default=VectorConfig.expansion_add)
    ap.add_argument(
        "--expansion-search",
        type=int,
        default=VectorConfig.expansion_search,
        help="the breadth of large graphs; smaller ones search narrower (VectorConfig.expansion_for)",
    )
    ap.add_argument("--dtype", default=VectorConfig.dtype, choices=("f32", "f16", "i8"))
    ap.add_argument("--data", default="clustered", choices=("clustered", "corpus"))
    ap.add_argument(
        "--sweep-expansion-search",
        default="",
        help="comma-separated search breadths to measure on the same graph afterwards, e.g. 128,256,512",
    )
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/ann_recall.json"))
    args = ap.parse_args()

    cfg = VectorConfig(
        connectivity=args.connectivity,
        expansion_add=args.expansion_add,
        expansion_search=args.expansion_search,
        dtype=args.dtype,
    )
    if args.data == "corpus":
        data, queries = embedded_corpus(args.n, args.queries)
        args.dim = data.shape[1]
    else:
        data = clustered(args.n, args.dim, seed=1)
        queries = clustered(args.queries, args.dim, seed=2)
    keys = np.arange(args.n, dtype=np.uint64)

    tv = TenantVectors(args.dim, cfg)
    batch = 5000
    t0 = time.perf_counter()
    for s in tqdm(range(0, args.n, batch), desc="build", file=sys.stderr):
        tv.upsert(keys[s : s + batch], data[s : s + batch])
        tv.merge(tv.pending)  # into the graph at once: this measures the graph, not the write buffer
    build_s = time.perf_counter() - t0

    truth10 = exact_topk(data, queries, 10)
    truth100 = exact_topk(data, queries, 100)

    lat: list[float] = []
    found10: list[np.ndarray] = []
    found100: list[np.ndarray] = []
    for q in tqdm(queries, desc="search", file=sys.stderr):
        t = time.perf_counter()
        k10, _ = tv.search(q, 10)
        lat.append((time.perf_counter() - t) * 1000)
        found10.append(k10.astype(np.int64))
        k100, _ = tv.search(q, 100)
        found100.append(k100.astype(np.int64))

    rng = np.random.default_rng(3)
    mask = rng.random(args.n) < 0.30
    allowed = keys[mask]
    truth_f = exact_topk(data, queries, 10, mask)
    flat: list[float] = []
    found_f: list[np.ndarray] = []
    for q in tqdm(queries, desc="filtered", file=sys.stderr):
        t = time.perf_counter()
        kf, _ = tv.search(q, 10, allowed=allowed)
        flat.append((time.perf_counter() - t) * 1000)
        found_f.append(kf.astype(np.int64))

    result = {
        "n": args.n,
        "dim": args.dim,
        "queries": args.queries,
        "data": "bench corpus, shipped embedder"
        if args.data == "corpus"
        else "64 centroids in random rank-48 subspace, per-cluster spread, noise 0.05, L2-normed",
        "config": asdict(cfg),
        "build_seconds": round(build_s, 2),
        "adds_per_second": round(args.n / build_s, 1),
        "recall_at_10": round(recall(found10, truth10, 10), 4),
        "recall_at_100": round(recall(found100, truth100, 100), 4),
        "search_k10_p50_ms": round(float(np.percentile(lat, 50)), 3),
        "search_k10_p95_ms": round(float(np.percentile(lat, 95)), 3),
        "filtered_fraction": round(float(mask.mean()), 3),
        "filtered_recall_at_10": round(recall(found_f, truth_f, 10), 4),
        "filtered_search_p50_ms": round(float(np.percentile(flat, 50)), 3),
        "filtered_search_p95_ms": round(float(np.percentile(flat, 95)), 3),
    }
    if args.sweep_expansion_search:
        breadths = [int(e) for e in args.sweep_expansion_search.split(",")]
        result["sweep"] = [sweep_point(tv, queries, truth10, truth100, e) for e in breadths]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
