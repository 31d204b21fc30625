"""How long usearch's graph calls take while another thread runs Python, at several GIL switch intervals.

Why: under ingest a node's indexer inserted only ~900 vectors/s while the writer ran Python, against ~7,000/s
once the writes stopped (docs/benchmarks/capacity.md). usearch takes the GIL back for every vector it inserts
and at the end of every search, and a thread running Python gives the GIL up only every switch interval
(``sys.setswitchinterval``, 5 ms by default). This measures that wait in isolation: a k = 50 search and an
insertion in chunks of 64 (two threads, as the indexer does), alone and beside one thread spinning in Python.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dash_node.index.vector import VectorConfig
from scripts.ann_recall import clustered


def _timed(index, data: np.ndarray, next_key: int, seconds: float) -> tuple[float, float, int]:
    """(ms per k=50 search, µs per inserted vector, the next unused key) over ~``seconds`` each."""
    started, n = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        index.search(data[n % len(data)], 50)
        n += 1
    search_ms = (time.perf_counter() - started) / n * 1000
    started, added = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        rows = data[added % len(data) : added % len(data) + 64]
        index.add(np.arange(next_key, next_key + len(rows), dtype=np.uint64), rows, threads=2)
        next_key, added = next_key + len(rows), added + len(rows)
    return search_ms, (time.perf_counter() - started) / added * 1e6, next_key


def _spin(stop: threading.Event) -> None:
    """A thread that only runs Python, as a node's writer does under ingest."""
    while not stop.is_set():
        sum(range(100))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=30_000, help="vectors in the graph before timing")
    ap.add_argument("--seconds", type=float, default=1.5, help="per measurement")
    ap.add_argument("--intervals", default="0.005,0.001,0.0002", help="GIL switch intervals, seconds")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/gil_contention.json"))
    args = ap.parse_args()

    from usearch.index import Index

    cfg = VectorConfig()
    data = clustered(args.n, 256, seed=1)
    index = Index(
        ndim=256, metric="ip", dtype=cfg.dtype, connectivity=cfg.connectivity, expansion_add=cfg.expansion_add
    )
    index.expansion_search = cfg.expansion_search_min
    index.add(np.arange(args.n, dtype=np.uint64), data)
    next_key, rows = args.n, []
    for interval in (float(x) for x in args.intervals.split(",")):
        sys.setswitchinterval(interval)
        alone_search, alone_add, next_key = _timed(index, data, next_key, args.seconds)
        stop = threading.Event()
        spinner = threading.Thread(target=_spin, args=(stop,), daemon=True)
        spinner.start()
        try:
            busy_search, busy_add, next_key = _timed(index, data, next_key, args.seconds)
        finally:
            stop.set()
            spinner.join()
        rows.append(
            {
                "switch_interval_s": interval,
                "search_k50_ms_alone": round(alone_search, 3),
                "search_k50_ms_beside_python": round(busy_search, 3),
                "insert_us_per_vector_alone": round(alone_add, 1),
                "insert_us_per_vector_beside_python": round(busy_add, 1),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    result = {"graph_vectors": args.n, "dim": 256, "dtype": cfg.dtype, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
