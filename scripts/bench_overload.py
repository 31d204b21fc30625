"""Overload: drive the router at 5x its configured capacity and see it refuse politely.

A local cluster (3 nodes, 2 shards x 2 replicas) whose router admits ``--capacity`` requests at once. First
``capacity`` closed-loop clients measure the unloaded latency; then ``5 x capacity`` clients run for
``--seconds``. Clients do not retry a call (a refusal is counted, not hidden); after a refusal a client
waits the hinted 50 ms before its next call, as a polite client does. Reports: refusals
(RESOURCE_EXHAUSTED) and other errors, p50/p95 of admitted requests against the unloaded p95, the router's
resident memory over the run, and whether every acknowledged write is readable afterwards.

    .venv/bin/python scripts/bench_overload.py --out docs/benchmarks/overload.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster.local import ClusterSpec, LocalCluster
from dash_client.client import ClientConfig, DashClient, RetryPolicy
from dash_client.errors import DashError

NO_RETRY = RetryPolicy(max_attempts=1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def drive(router: str, key: str, clients: int, seconds: float, tag: str) -> dict:
    """``clients`` closed-loop clients, alternating a 4-claim batch and a retrieve, for ``seconds``."""
    latencies: list[float] = []
    codes: Counter = Counter()
    acked: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        config = ClientConfig(target=router, api_key=key, tenant="load", timeout=10.0, retry=NO_RETRY)
        with DashClient(config=config) as dash:
            n = 0
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    if n % 2 == 0:
                        ids = [f"{tag}{i}-{n}-{j}" for j in range(4)]
                        dash.ingest_batch(
                            [
                                {"claim_id": c, "subject": f"Pier {c}", "text": f"Pier {c} takes ferries."}
                                for c in ids
                            ],
                            commit_id=f"{tag}{i}-{n}",
                        )
                        with lock:
                            acked.extend(ids)
                    else:
                        dash.retrieve("ferries at the pier", top_k=5)
                    with lock:
                        latencies.append(time.perf_counter() - started)
                        codes["OK"] += 1
                except DashError as exc:
                    with lock:
                        codes[exc.code] += 1
                    if exc.code == "RESOURCE_EXHAUSTED":
                        time.sleep(0.05)  # a polite client waits as the refusal hints
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat = np.asarray(latencies) * 1000
    return {
        "clients": clients,
        "seconds": seconds,
        "outcomes": dict(codes),
        "admitted_p50_ms": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
        "admitted_p95_ms": round(float(np.percentile(lat, 95)), 2) if len(lat) else None,
        "acked_claims": acked,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capacity", type=int, default=8, help="the router's --max-in-flight")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/overload.json"))
    args = ap.parse_args()
    spec = ClusterSpec(nodes=3, shards=2, replicas=2, router_flags=("--max-in-flight", str(args.capacity)))
    with tempfile.TemporaryDirectory() as tmp, LocalCluster(Path(tmp) / "c", spec) as c:
        pid = c.state.pids["router"]
        base = drive(c.router, c.api_key, args.capacity, args.seconds / 2, "u")
        memory: list[float] = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.25):
                memory.append(rss_mb(pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        rss_before = rss_mb(pid)
        over = drive(c.router, c.api_key, 5 * args.capacity, args.seconds, "o")
        sampling.set()
        sampler.join()
        acked = base.pop("acked_claims") + over.pop("acked_claims")
        missing = []
        config = ClientConfig(target=c.router, api_key=c.api_key, tenant="load", timeout=10.0)
        with DashClient(config=config) as dash:
            for cid in acked:
                try:
                    dash.get_claim(cid)
                except DashError:
                    missing.append(cid)
    result = {
        "capacity_in_flight": args.capacity,
        "cpus": os.cpu_count(),
        "unloaded": base,
        "overload_5x": over,
        "p95_ratio": round(over["admitted_p95_ms"] / base["admitted_p95_ms"], 2),
        "router_rss_mb": {
            "before": round(rss_before, 1),
            "max": round(max(memory), 1),
            "samples": len(memory),
        },
        "acknowledged_writes_checked": len(acked),
        "acknowledged_writes_missing": len(missing),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
