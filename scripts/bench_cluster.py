"""Latency through a real local cluster: ingest-to-visible and top-50 retrieval.

Starts etcd + 3 nodes + a router (4 shards) on loopback, loads N claims through the router in batches,
then measures, sequentially from one client:
  * ingest-to-visible: a single-claim Ingest with a unique token, then Retrieve for that token until it is
    returned — the time from sending the write to seeing it, and how much of that is after the ack;
  * retrieval top-50 latency for queries drawn from the corpus vocabulary.

    .venv/bin/python scripts/bench_cluster.py --claims 100000 --out docs/benchmarks/cluster.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster.local import ClusterSpec, LocalCluster
from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, types_pb2

PLACES = ["harbour", "bridge", "tunnel", "railway", "airport", "canal", "dam", "lighthouse", "quay", "lock"]
VERBS = ["was inspected", "was rebuilt", "was extended", "was closed", "reopened", "was surveyed"]


def claim(i: int) -> types_pb2.ClaimInput:
    place = PLACES[i % len(PLACES)]
    subject = f"{place} {i % 5000}"
    text = f"The {subject} {VERBS[i % len(VERBS)]} in {1950 + i % 70} after report {i}."
    ev = types_pb2.Evidence(
        evidence_id=f"e{i}", doc_id=f"report-{i}", quote=text, span_end=len(text), source_quality=0.7
    )
    return types_pb2.ClaimInput(
        claim=types_pb2.Claim(claim_id=f"c{i}", subject=subject, text=text), evidence=[ev]
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": pct(ms, 0.50),
        "p95_ms": pct(ms, 0.95),
        "p99_ms": pct(ms, 0.99),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--freshness-probes", type=int, default=200)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/cluster.json"))
    args = ap.parse_args()
    spec = ClusterSpec(nodes=3, shards=4, replicas=1)
    result: dict = {
        "claims": args.claims,
        "spec": spec.__dict__ | {"extra_api_keys": []},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    with tempfile.TemporaryDirectory(prefix="dash-bench-") as d, LocalCluster(d, spec) as c:
        stub = dash_pb2_grpc.DashStub(grpc.insecure_channel(c.router))
        md = [("authorization", f"Bearer {c.api_key}")]
        started = time.perf_counter()
        with tqdm(total=args.claims, unit="claim", file=sys.stderr, desc="load") as bar:
            for start in range(0, args.claims, args.batch):
                items = [claim(i) for i in range(start, min(start + args.batch, args.claims))]
                stub.IngestBatch(
                    dash_pb2.IngestBatchRequest(tenant_id="bench", items=items, commit_id=f"load-{start}"),
                    metadata=md,
                    timeout=300,
                )
                bar.update(len(items))
        result["load_claims_per_second"] = round(args.claims / (time.perf_counter() - started), 1)

        total, after_ack, ack, polls = [], [], [], []
        for i in tqdm(range(args.freshness_probes), file=sys.stderr, desc="freshness"):
            token = f"zq{i}x{random.randrange(10**9)}"
            item = types_pb2.ClaimInput(
                claim=types_pb2.Claim(
                    claim_id=f"fresh-{i}", subject=f"probe {i}", text=f"Probe {token} was written."
                )
            )
            t0 = time.perf_counter()
            stub.Ingest(dash_pb2.IngestRequest(tenant_id="bench", item=item), metadata=md, timeout=30)
            t1 = time.perf_counter()
            deadline = t1 + 10
            n = 0
            while time.perf_counter() < deadline:
                n += 1
                res = stub.Retrieve(
                    dash_pb2.RetrieveRequest(tenant_id="bench", query=token, top_k=1), metadata=md
                )
                if res.results and res.results[0].claim.claim_id == f"fresh-{i}":
                    break
            polls.append(n)
            t2 = time.perf_counter()
            ack.append((t1 - t0) * 1000)
            after_ack.append((t2 - t1) * 1000)
            total.append((t2 - t0) * 1000)
        result["ingest_ack"] = summary(ack)
        result["ack_to_visible"] = summary(after_ack)
        result["ingest_to_visible"] = summary(total)
        # 1.0 means the first retrieve after every ack already returned the write: ack_to_visible is then
        # just one retrieve round trip.
        result["visible_on_first_retrieve"] = round(sum(1 for n in polls if n == 1) / len(polls), 4)

        rng = random.Random(1)
        latencies = []
        for _ in tqdm(range(args.queries), file=sys.stderr, desc="retrieve"):
            q = f"{rng.choice(PLACES)} {rng.choice(VERBS)} {rng.randrange(1950, 2020)}"
            t0 = time.perf_counter()
            res = stub.Retrieve(dash_pb2.RetrieveRequest(tenant_id="bench", query=q, top_k=50), metadata=md)
            latencies.append((time.perf_counter() - t0) * 1000)
            assert len(res.results) == 50 and not res.shards_missing
        result["retrieve_top50"] = summary(latencies)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "load_claims_per_second",
                    "ingest_to_visible",
                    "ack_to_visible",
                    "visible_on_first_retrieve",
                    "retrieve_top50",
                )
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
