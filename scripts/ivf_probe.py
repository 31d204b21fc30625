"""What an inverted-file index (IVF: vectors kept in lists by nearest centroid, a query scanning the lists
of its nearest centroids exactly) would cost and find, beside the HNSW graph a shard builds now, on the
bench's claims (the shipped embedder over ``cluster.bench.corpus``).

Why: graph insertion is about half of a claim's ingest CPU (`docs/benchmarks/capacity.md`), and that is
what keeps one node short of 5,000 claims/s sustained. Filing a vector into an IVF list is one product
with the centroids; the price moves to search, which scans lists instead of walking a graph. This
measures both sides on one machine in one run; it does not build the index into DASH.

Both sides rank the same way DASH does: candidates by exact inner product of unit vectors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from usearch.index import Index

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dash_node.index.vector import VectorConfig
from scripts.ann_recall import embedded_corpus, exact_topk

K = 10


def _hits(found: np.ndarray, truth: np.ndarray) -> int:
    return len(set(found.tolist()) & set(truth.tolist()))


def spherical_kmeans(sample: np.ndarray, lists: int, rounds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centroids = sample[rng.choice(len(sample), lists, replace=False)].copy()
    for _ in range(rounds):
        nearest = np.argmax(sample @ centroids.T, axis=1)
        for j in range(lists):
            members = sample[nearest == j]
            if len(members):
                centroids[j] = members.sum(axis=0)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return centroids


def ivf(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, lists: int, probes: list[int]) -> dict:
    started = time.process_time()
    sample = data[np.random.default_rng(0).choice(len(data), min(len(data), 50 * lists), replace=False)]
    centroids = spherical_kmeans(sample, lists, rounds=10, seed=0)
    train_s = time.process_time() - started
    started = time.process_time()
    nearest = np.concatenate(
        [np.argmax(data[s : s + 500] @ centroids.T, axis=1) for s in range(0, len(data), 500)]
    )
    file_us = (time.process_time() - started) / len(data) * 1e6
    order = np.argsort(nearest, kind="stable")
    rows = np.ascontiguousarray(data[order])  # each list's vectors side by side
    bounds = np.searchsorted(nearest[order], np.arange(lists + 1))
    out = {"lists": lists, "train_cpu_s": round(train_s, 2), "file_us_cpu_per_vector": round(file_us, 2)}
    out["list_size_p50"], out["list_size_max"] = float(np.median(np.diff(bounds))), int(np.diff(bounds).max())
    out["by_probes"] = []
    for probe in probes:
        hits, started = 0, time.perf_counter()
        for q, t in zip(queries, truth, strict=True):
            chosen = np.argpartition(-(centroids @ q), probe)[:probe]
            # each list is a contiguous block of rows: scored in place, no gather
            sims = np.concatenate([rows[bounds[j] : bounds[j + 1]] @ q for j in chosen])
            ids = np.concatenate([order[bounds[j] : bounds[j + 1]] for j in chosen])
            hits += _hits(ids[np.argpartition(-sims, K)[:K]], t)
        ms = (time.perf_counter() - started) / len(queries) * 1000
        out["by_probes"].append(
            {"probes": probe, "recall_at_10": hits / (K * len(queries)), "search_ms": round(ms, 3)}
        )
        print(f"ivf {lists} lists, {probe} probed: {out['by_probes'][-1]}", file=sys.stderr)
    return out


def hnsw(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, timed: int) -> dict:
    """The graph as a shard builds it (VectorConfig), the last ``timed`` vectors inserted 64 at a time on
    one thread and timed; candidates ranked again exactly, as TenantVectors does."""
    cfg = VectorConfig()
    index = Index(
        ndim=data.shape[1],
        metric="ip",
        dtype=cfg.dtype,
        connectivity=cfg.connectivity,
        expansion_add=cfg.expansion_add,
        expansion_search=cfg.expansion_for(len(data)),
    )
    keys = np.arange(len(data), dtype=np.uint64)
    base = len(data) - timed
    index.add(keys[:base], data[:base])
    started = time.process_time()
    for s in range(base, len(data), cfg.merge_chunk):
        index.add(keys[s : s + cfg.merge_chunk], data[s : s + cfg.merge_chunk], threads=1)
    insert_us = (time.process_time() - started) / timed * 1e6
    wanted = cfg.rerank_factor * K + 16
    hits, started = 0, time.perf_counter()
    for q, t in zip(queries, truth, strict=True):
        cand = np.asarray(index.search(q, wanted).keys, dtype=np.int64)
        hits += _hits(cand[np.argsort(-(data[cand] @ q))[:K]], t)
    ms = (time.perf_counter() - started) / len(queries) * 1000
    out = {
        "insert_us_cpu_per_vector": round(insert_us, 1),
        "recall_at_10": hits / (K * len(queries)),
        "search_ms": round(ms, 3),
    }
    print(f"hnsw: {out}", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=250_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--lists", type=int, default=1024)
    ap.add_argument("--probes", type=int, nargs="+", default=[16, 32, 48, 64])
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/ivf_probe.json"))
    args = ap.parse_args()
    data, queries = embedded_corpus(args.n, args.queries)
    truth = exact_topk(data, queries, K)
    result = {
        "n": args.n,
        "dim": int(data.shape[1]),
        "queries": args.queries,
        "data": "bench corpus, shipped embedder",
        "ivf": ivf(data, queries, truth, args.lists, args.probes),
        "hnsw": hnsw(data, queries, truth, timed=20_000),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
