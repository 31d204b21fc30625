"""`dash bench --soak MINUTES`: mixed ingest and query load for a bounded time, sampled in windows, to
show drift — does latency, memory or disk per claim creep up as the store grows and runs?"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cluster.bench import measure
from cluster.bench.corpus import Corpus
from dash_client._pb.dash.v1 import dash_pb2, types_pb2


def soak(
    target: measure.Target,
    tenant: str,
    corpus: Corpus,
    vectors: np.ndarray,
    qvecs: np.ndarray,
    minutes: float,
    pids: dict[str, int],
    data_dir: Path,
    windows: int = 10,
) -> dict:
    """One writer (batches of 100 new claims) and one reader (hybrid top-10 queries) for ``minutes``;
    per window: query p50/p95, writes/s, current RSS per process and disk bytes per stored claim."""
    stub, md = target.stub, target.metadata
    stop = threading.Event()
    lock = threading.Lock()
    latencies: list[float] = []
    written = [len(corpus.claims)]  # the preloaded corpus counts as stored

    def writer() -> None:
        i = 0
        while not stop.is_set():
            items = []
            for _ in range(100):
                j = i % len(corpus.claims)
                item = types_pb2.ClaimInput()
                item.CopyFrom(corpus.claims[j])
                item.claim.claim_id = f"soak-{i}"
                item.evidence[0].evidence_id = f"soak-{i}-e"
                item.claim.embedding = vectors[j].astype("<f4").tobytes()
                items.append(item)
                i += 1
            stub.IngestBatch(
                dash_pb2.IngestBatchRequest(tenant_id=tenant, items=items), metadata=md, timeout=60
            )
            with lock:
                written[0] += len(items)

    def reader() -> None:
        n = 0
        while not stop.is_set():
            j = n % len(corpus.queries)
            req = dash_pb2.RetrieveRequest(
                tenant_id=tenant,
                query=corpus.queries[j].text,
                query_embedding=qvecs[j].astype("<f4").tobytes(),
                top_k=10,
            )
            t0 = time.perf_counter()
            stub.Retrieve(req, metadata=md, timeout=30)
            with lock:
                latencies.append((time.perf_counter() - t0) * 1000)
            n += 1

    threads = [threading.Thread(target=writer, daemon=True), threading.Thread(target=reader, daemon=True)]
    for t in threads:
        t.start()
    window_s = minutes * 60 / windows
    samples = []
    try:
        for w in tqdm(range(windows), desc="soak", file=sys.stderr, leave=False):
            with lock:
                start_written, latencies[:] = written[0], []
            time.sleep(window_s)  # the window's length is the measurement, not a wait for an event
            with lock:
                window_ms, stored = list(latencies), written[0]
            disk = measure.disk_bytes(data_dir)
            samples.append(
                {
                    "window": w,
                    "claims_stored": stored,
                    "writes_per_s": round((stored - start_written) / window_s, 1),
                    "queries": len(window_ms),
                    "query_p50_ms": round(float(np.percentile(window_ms, 50)), 2) if window_ms else None,
                    "query_p95_ms": round(float(np.percentile(window_ms, 95)), 2) if window_ms else None,
                    "rss_mb": current_rss_mb(pids),
                    "disk_bytes_per_claim": round(disk / stored, 1),
                }
            )
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    first, last = samples[0], samples[-1]
    return {
        "minutes": minutes,
        "samples": samples,
        "drift": {
            "query_p95_ratio_last_to_first": _ratio(last["query_p95_ms"], first["query_p95_ms"]),
            "rss_mb_change": {
                k: round(last["rss_mb"][k] - v, 1) for k, v in first["rss_mb"].items() if k in last["rss_mb"]
            },
            "disk_bytes_per_claim_change": round(
                last["disk_bytes_per_claim"] - first["disk_bytes_per_claim"], 1
            ),
            "claims_added": last["claims_stored"] - first["claims_stored"],
        },
    }


def current_rss_mb(pids: dict[str, int]) -> dict[str, float]:
    """Each live process's resident set now (VmRSS), in MB."""
    out = {}
    for name, pid in sorted(pids.items()):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[name] = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            continue
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None
