"""CPU per graph insertion against the graph's build breadth (``expansion_add``): 8-bit usearch graphs fed
the bench's claims (the shipped embedder over ``cluster.bench.corpus``) 64 at a time on one thread, as a
node's indexer merges its write buffer. Breadths are measured in interleaved rounds, so a slow phase of
the machine falls on all of them.

Why: graph insertion is most of a node's ingest CPU; ``scripts/ann_recall.py --expansion-add`` gives the
recall each breadth buys, this gives its price.
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
from scripts.ann_recall import embedded_corpus

CHUNK = 64  # VectorConfig.merge_chunk


def insertion_us(data: np.ndarray, expansion_add: int) -> float:
    """Process CPU microseconds per vector to build one graph of ``data``."""
    cfg = VectorConfig()
    index = Index(
        ndim=data.shape[1],
        metric="ip",
        dtype=cfg.dtype,
        connectivity=cfg.connectivity,
        expansion_add=expansion_add,
    )
    keys = np.arange(len(data), dtype=np.uint64)
    started = time.process_time()
    for s in range(0, len(data), CHUNK):
        index.add(keys[s : s + CHUNK], data[s : s + CHUNK], threads=1)
    return (time.process_time() - started) / len(data) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--breadths", type=int, nargs="+", default=[64, 80, 96, 128])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/insertion_cost.json"))
    args = ap.parse_args()
    data, _ = embedded_corpus(args.n, 1)
    rounds: dict[int, list[float]] = {b: [] for b in args.breadths}
    widest = max(args.breadths)
    for r in range(args.rounds):
        order = args.breadths if r % 2 == 0 else args.breadths[::-1]
        for b in order:
            rounds[b].append(round(insertion_us(data, b), 1))
            print(f"round {r}: expansion_add {b}: {rounds[b][-1]} us CPU per vector", file=sys.stderr)
    result = {
        "n": args.n,
        "dim": int(data.shape[1]),
        "dtype": VectorConfig.dtype,
        "connectivity": VectorConfig.connectivity,
        "chunk": CHUNK,
        "data": "bench corpus, shipped embedder",
        "us_cpu_per_vector": {
            str(b): {"median": float(np.median(v)), "rounds": v} for b, v in rounds.items()
        },
        # The machine's speed drifts between rounds; the ratio within a round does not.
        "per_round_ratio_to_widest": {
            str(b): [round(x / w, 3) for x, w in zip(v, rounds[widest], strict=True)]
            for b, v in rounds.items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
