"""Where a shard's query time goes: one in-process engine holding one shard's share of the bench corpus,
queried warm with ``explain``, reporting each planner stage's mean and the query's p50/p95.

It isolates the shard's own work from gRPC, the router and the other processes sharing two cores (the
cluster figures come from ``dash bench``). Each run is appended to the output with its git commit, so a
change is recorded beside the run before it:

    .venv/bin/python scripts/profile_shard.py --claims 250000 --out docs/benchmarks/shard_profile.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cluster.bench.corpus import generate
from dash_client._pb.dash.v1 import dash_pb2
from dash_node import Engine, EngineConfig
from dash_node.embedding import default_embedder


def profile(claims: int, queries: int, top_ks: list[int], seed: int) -> dict:
    corpus = generate(claims, queries, seed)
    embedder = default_embedder()
    vectors = np.asarray(embedder.embed(corpus.texts), dtype="<f4")
    for item, vec in zip(corpus.claims, vectors, strict=True):
        item.claim.embedding = vec.tobytes()
    qvecs = np.asarray(embedder.embed([q.text for q in corpus.queries]), dtype="<f4")
    with tempfile.TemporaryDirectory(prefix="dash-profile-") as d:
        engine = Engine(Path(d) / "shard", EngineConfig())
        try:
            started = time.perf_counter()
            for start in tqdm(range(0, claims, 500), desc="ingest", unit="batch", file=sys.stderr):
                engine.ingest_batch("t", corpus.claims[start : start + 500])
            ingest_s = time.perf_counter() - started
            while not engine.settle() or engine.vectors.pending:  # edges judged, graphs built
                time.sleep(0.05)
            out = {"claims": claims, "ingest_claims_per_s": round(claims / ingest_s, 1), "queries": {}}
            for k in top_ks:
                reqs = [
                    dash_pb2.RetrieveRequest(
                        tenant_id="t", query=q.text, query_embedding=v.tobytes(), top_k=k, explain=True
                    )
                    for q, v in zip(corpus.queries, qvecs, strict=True)
                ]
                for _ in range(2):  # warm: derived cache filled, as a long-running shard has it
                    for r in reqs:
                        engine.retrieve(r)
                ms, stages = [], {}
                for r in reqs:
                    t0 = time.perf_counter()
                    resp = engine.retrieve(r)
                    ms.append((time.perf_counter() - t0) * 1000)
                    for e in resp.explain:
                        if e.stage not in ("rank", "pruned", "entity_fetch", "prefilter"):
                            stages[e.stage] = stages.get(e.stage, 0.0) + e.millis / len(reqs)
                out["queries"][f"top{k}"] = {
                    "p50_ms": round(float(np.percentile(ms, 50)), 2),
                    "p95_ms": round(float(np.percentile(ms, 95)), 2),
                    "stage_mean_ms": {s: round(v, 2) for s, v in stages.items()},
                }
            return out
        finally:
            engine.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=250_000, help="one shard's share (xlarge: 1M / 4)")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--top-k", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/shard_profile.json"))
    args = ap.parse_args()
    run = profile(args.claims, args.queries, args.top_k, args.seed)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    run = {"git": commit.stdout.strip(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **run}
    runs = json.loads(args.out.read_text())["runs"] if args.out.exists() else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": [*runs, run]}, indent=2) + "\n")
    print(json.dumps(run, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
