"""The inverted file a shard builds (``dash_node.index.ivf``) beside the HNSW graph it built before, on the
bench's claims (the shipped embedder over ``cluster.bench.corpus``): the CPU to file or insert a vector,
and recall@10 against the time of a search, scanning more or fewer lists.

Why: graph insertion was about half of a claim's ingest CPU (`docs/benchmarks/capacity.md`), and that is
what kept one node short of 5,000 claims/s sustained. Filing a vector into a list is one product with the
centroids; the price moves to search, which scans lists instead of walking a graph. This measures both
sides on one machine in one run, each built as a shard builds it (the lists in batches of 500 through
``TenantLists``, growing by splits; the graph as ``VectorConfig`` sets it up).
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
from dash_node.affinity import single_threaded_blas
from dash_node.index.vector import VectorConfig, VectorStore
from scripts.ann_recall import embedded_corpus, exact_topk

K = 10


def _hits(found: np.ndarray, truth: np.ndarray) -> int:
    return len(set(found.tolist()) & set(truth.tolist()))


def ivf(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, probes: list[int]) -> dict:
    """The lists as a shard files them, then searches at each number of lists scanned."""
    cfg = VectorConfig(kind="ivf")
    t = VectorStore(cfg).ensure("t", data.shape[1])
    keys = np.arange(len(data), dtype=np.uint64)
    started = time.process_time()
    for s in range(0, len(data), 500):
        t.upsert(keys[s : s + 500], data[s : s + 500])
    file_us = (time.process_time() - started) / len(data) * 1e6
    sizes = t.lists._sizes[t.lists._sizes > 0]
    out = {
        "list_split_at": cfg.list_split_at,
        "lists": len(sizes),
        "file_us_cpu_per_vector": round(file_us, 2),
        "list_size_p50": float(np.median(sizes)),
        "list_size_max": int(sizes.max()),
        "probes_shipped_top10": cfg.probes_for(len(sizes), cfg.probes_depth),
        "by_probes": [],
    }
    for probe in probes:
        t.set_probes(probe)
        hits, started = 0, time.perf_counter()
        for q, want in zip(queries, truth, strict=True):
            hits += _hits(t.search(q, K)[0], want)
        ms = (time.perf_counter() - started) / len(queries) * 1000
        started = time.process_time()
        t.search_many(queries, K)
        batch_us = (time.process_time() - started) / len(queries) * 1e6
        out["by_probes"].append(
            {
                "probes": probe,
                "recall_at_10": hits / (K * len(queries)),
                "search_ms": round(ms, 3),
                "batched_search_us_cpu_per_query": round(batch_us, 1),
            }
        )
        print(f"ivf {out['lists']} lists, {probe} probed: {out['by_probes'][-1]}", file=sys.stderr)
    return out


def hnsw(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, timed: int) -> dict:
    """The graph as a shard builds it (VectorConfig), the last ``timed`` vectors inserted 64 at a time on
    one thread and timed; candidates ranked again exactly, as TenantVectors does."""
    cfg = VectorConfig(kind="hnsw")
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
    ap.add_argument("--probes", type=int, nargs="+", default=[16, 24, 32, 48, 64])
    ap.add_argument(
        "--no-hnsw", action="store_true", help="measure the lists only (building a graph of 1M takes long)"
    )
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/ivf_probe.json"))
    args = ap.parse_args()
    single_threaded_blas()  # as a node runs
    data, queries = embedded_corpus(args.n, args.queries)
    truth = exact_topk(data, queries, K)
    result = {
        "n": args.n,
        "dim": int(data.shape[1]),
        "queries": args.queries,
        "data": "bench corpus, shipped embedder",
        "ivf": ivf(data, queries, truth, args.probes),
    }
    if not args.no_hnsw:
        result["hnsw"] = hnsw(data, queries, truth, timed=20_000)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
