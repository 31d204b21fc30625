"""What an 8-bit graph with an exact rerank would buy: insertion CPU, recall and search time of usearch graphs
in i8 and in f16 (what ships), each searched for ``over`` x 100 candidates that are then ranked again by the
exact half-precision inner product. Data: the bench's claims through the shipped embedder (as
``scripts/ann_recall.py --data corpus``); recall against exact float32 search.

Why: graph insertion is most of a node's ingest CPU, and i8 distances are cheaper to compute than f16's.
Raw i8 top-10 loses recall (0.946 at 100k, docs/decisions.md); ranking more candidates again exactly
is how quantised graphs usually win it back.
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


def overlap(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return len(set(found[:k].tolist()) & set(truth.tolist())) / k


def measure(dtype: str, data: np.ndarray, queries: np.ndarray, truths: dict, overs: list[int]) -> dict:
    cfg = VectorConfig()
    index = Index(
        ndim=data.shape[1],
        metric="ip",
        dtype=dtype,
        connectivity=cfg.connectivity,
        expansion_add=cfg.expansion_add,
    )
    index.expansion_search = cfg.expansion_search
    keys = np.arange(len(data), dtype=np.uint64)
    cpu = time.process_time()
    index.add(keys, data)
    row: dict = {"insert_cpu_us_per_vector": round((time.process_time() - cpu) / len(data) * 1e6, 1)}
    copy = data.astype(np.float16)  # what a rerank reads
    for over in overs:
        hits10 = hits100 = 0.0
        lat = []
        for q, t10, t100 in zip(queries, truths[10], truths[100], strict=True):
            started = time.perf_counter()
            cand = np.asarray(index.search(q, 100 * over).keys, dtype=np.int64)
            cand = cand[np.argsort(-(copy[cand].astype(np.float32) @ q), kind="stable")]
            lat.append((time.perf_counter() - started) * 1000)
            hits10 += overlap(cand, t10, 10)
            hits100 += overlap(cand, t100, 100)
        row[f"candidates_{100 * over}"] = {
            "recall_at_10": round(hits10 / len(queries), 4),
            "recall_at_100": round(hits100 / len(queries), 4),
            "search_and_rerank_p50_ms": round(float(np.median(lat)), 3),
        }
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=250_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--over", default="1,2,4", help="candidates searched, in hundreds")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/quantized_rerank.json"))
    args = ap.parse_args()
    data, queries = embedded_corpus(args.n, args.queries)
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    truths = {k: exact_topk(data, queries, k) for k in (10, 100)}
    overs = [int(x) for x in args.over.split(",")]
    result = {
        "n": args.n,
        "queries": args.queries,
        "data": "bench corpus, shipped embedder",
        "config": {
            "connectivity": VectorConfig.connectivity,
            "expansion_add": VectorConfig.expansion_add,
            "expansion_search": VectorConfig.expansion_search,
            "threads": "usearch default (one per core)",
        },
        "graphs": {dtype: measure(dtype, data, queries, truths, overs) for dtype in ("i8", "f16")},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
