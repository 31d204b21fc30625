"""Ingest throughput with and without the edge builder, and the detector graph it grows.

Data with the structure the builder looks for: subjects with several claims each — successive values of
a functional predicate (successions), restatements from other sources (duplicates), numeric statements
that sometimes disagree (contradictions) and unrelated facts — ingested in batches through the
in-process engine, once with the builder off and once on. Reports claims/s for both, the slowdown, the
edges found by relation, and the average and maximum detector degree against the configured cap.

The builder runs behind the acknowledgements, so a run with it on ends only when it has judged every
claim (``claims_per_second`` counts to that point; ``acknowledged_claims_per_second`` to the last
answer): the slowdown compares settled throughput, not just how fast writes were answered.

    .venv/bin/python scripts/bench_edge_builder.py --claims 100000 --out docs/benchmarks/edge_builder.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from dash_client._pb.dash.v1 import types_pb2
from dash_node import Engine, EngineConfig
from dash_node.evidence.builder import EdgeBuilderConfig

ROLES = ["chief executive", "head coach", "mayor", "chair", "director"]
NAMES = ["Ada Holm", "Ben Ruiz", "Cleo Park", "Dev Rao", "Eli Stone", "Fay Lund", "Gus Moor", "Hana Ito"]
RELATION_NAMES = {
    1: "supports",
    2: "contradicts",
    3: "refines",
    4: "duplicates",
    5: "depends_on",
    6: "supersedes",
}


def claims(n: int, seed: int) -> list[types_pb2.ClaimInput]:
    rng = random.Random(seed)
    out = []
    i = 0
    while len(out) < n:
        subject = f"Norvik Group {i}"
        role = ROLES[i % len(ROLES)]
        for k in range(rng.randint(2, 4)):  # successive holders of a role
            start = 1990 + 7 * k
            c = types_pb2.Claim(
                claim_id=f"c{i}-r{k}",
                subject=subject,
                predicate=role,
                object=rng.choice(NAMES),
                entities=[subject],
                text=f"The {role} of {subject} is {rng.choice(NAMES)}.",
            )
            c.valid_from.FromSeconds(int((start - 1970) * 365.25 * 86400))
            out.append(types_pb2.ClaimInput(claim=c))
        revenue = rng.randint(10, 90) / 10
        for k in range(rng.randint(1, 3)):  # revenue statements, sometimes disagreeing
            value = revenue if rng.random() < 0.7 else revenue + rng.randint(1, 9) / 10
            text = f"{subject} reported revenue of {value:.1f} billion euros in {2000 + i % 20}."
            out.append(
                types_pb2.ClaimInput(
                    claim=types_pb2.Claim(claim_id=f"c{i}-v{k}", entities=[subject], text=text)
                )
            )
        out.append(
            types_pb2.ClaimInput(
                claim=types_pb2.Claim(
                    claim_id=f"c{i}-f",
                    entities=[subject],
                    text=f"{subject} operates {rng.randint(2, 40)} warehouses near the harbour.",
                )
            )
        )
        i += 1
    return out[:n]


def run(items: list[types_pb2.ClaimInput], batch: int, builder: EdgeBuilderConfig, clients: int = 1) -> dict:
    root = Path(tempfile.mkdtemp(prefix="dash-edges-"))
    config = replace(EngineConfig(), evidence=builder, checkpoint_every_changes=10**9)
    try:
        with Engine(root, config) as engine:
            started = time.perf_counter()
            label = "builder on" if builder.enabled else "builder off"
            batches = [items[start : start + batch] for start in range(0, len(items), batch)]
            with tqdm(
                total=len(items), unit="claim", file=sys.stderr, desc=f"{label}, {clients} client(s)"
            ) as bar:

                def send(part: list) -> None:
                    engine.ingest_batch("bench", part)
                    bar.update(len(part))

                # Each client sends its batches in turn; with several, one batch's edge building overlaps
                # another's commit, as it does in a server with concurrent writers.
                with ThreadPoolExecutor(clients) as pool:
                    list(pool.map(send, batches))
            acknowledged = time.perf_counter() - started
            # Edges are built off the acknowledgement path: the run ends when the last one is written.
            assert engine.settle(), "the edge builder did not catch up"
            seconds = time.perf_counter() - started
            relations: Counter[str] = Counter()
            degree: Counter[str] = Counter()
            with engine.store.read() as txn:
                for _, raw in engine.store._scan(txn, "edges_out", b"bench\x00"):
                    edge = types_pb2.Edge.FromString(raw)
                    if edge.origin == types_pb2.EDGE_ORIGIN_DETECTOR:
                        relations[RELATION_NAMES[edge.relation]] += 1
                        degree[edge.from_claim_id] += 1
                        degree[edge.to_claim_id] += 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "claims_per_second": round(len(items) / seconds, 1),
        "seconds": round(seconds, 2),
        "acknowledged_claims_per_second": round(len(items) / acknowledged, 1),
        "detector_edges": sum(relations.values()),
        "edges_by_relation": dict(relations),
        "average_degree": round(sum(degree.values()) / len(items), 3),
        "max_degree": max(degree.values(), default=0),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4], help="concurrent writers to measure")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/edge_builder.json"))
    args = ap.parse_args()
    items = claims(args.claims, seed=7)
    on = EdgeBuilderConfig()
    runs = {}
    for clients in args.clients:
        off = run(items, args.batch, replace(on, enabled=False), clients)
        with_builder = run(items, args.batch, on, clients)
        runs[f"{clients}_clients"] = {
            "without_builder": off,
            "with_builder": with_builder,
            "slowdown": round(1 - with_builder["claims_per_second"] / off["claims_per_second"], 3),
        }
    result = {
        "claims": args.claims,
        "batch": args.batch,
        "cpus": os.cpu_count(),
        "degree_cap": on.max_degree,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
