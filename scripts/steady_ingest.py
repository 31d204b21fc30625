"""Steady-state ingest of one shard, in process: an engine (edge builder on) holding ``--pre`` of the bench's
claims is fed ``--n`` more from 4 writers in batches of 500, with the shipped embedder's vectors sent as
client vectors; the rate through the background work over the load's second half is
``cluster.bench.measure.sustained``, as `dash bench` reports it, without the gRPC hops.

Why: a change to the write path or the indexer is judged by the rate a shard keeps up, not by how fast
its write buffer fills. In process, two versions of the code can take turns minutes apart (run this
script from each tree), which is how `docs/decisions.md` compares them; the machine's speed drifts too
much between runs for one run of each to say anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster.bench.corpus import generate
from cluster.bench.measure import OwedSample, cpu_ms, percentiles, sustained
from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node.affinity import single_threaded_blas
from dash_node.embedding import default_embedder
from dash_node.engine import Engine, EngineConfig

BATCH, WRITERS = 500, 4


def feed(engine: Engine, items: list[types_pb2.ClaimInput], acked: list[int]) -> None:
    batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]

    def writer(k: int) -> None:
        for batch in batches[k::WRITERS]:
            engine.ingest_batch("t", batch)
            acked[0] += len(batch)  # one int add under the GIL; only this script reads it

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def caught_up(engine: Engine) -> None:
    deadline = time.monotonic() + 600
    while not engine.settle() or (s := engine.stats()).index_backlog or s.features_backlog:
        if time.monotonic() > deadline:
            raise TimeoutError("background work did not catch up in 10 minutes")
        time.sleep(0.05)


class Searcher:
    """Hybrid top-10 queries, one every ``every_s``, from a thread of their own: what a reader of the
    shard sees while it is loaded, set against the same queries at rest."""

    def __init__(self, engine: Engine, queries: list[dash_pb2.RetrieveRequest], every_s: float) -> None:
        self.engine, self.queries, self.every_s = engine, queries, every_s

    def measure(self, until: threading.Event) -> dict:
        ms: list[float] = []
        while not until.is_set():
            started = time.perf_counter()
            self.engine.retrieve(self.queries[len(ms) % len(self.queries)])
            ms.append((time.perf_counter() - started) * 1000)
            until.wait(self.every_s)
        return percentiles(ms)

    def at_rest(self, seconds: float) -> dict:
        until = threading.Event()
        threading.Timer(seconds, until.set).start()
        return self.measure(until)


def one_run(claims: list[types_pb2.ClaimInput], pre: int, searcher_of=None) -> dict:
    """``searcher_of(engine)``: a ``Searcher`` to time queries at rest and during the load (they take
    CPU from it, so the ingest figures of such a run are not comparable with one without)."""
    with tempfile.TemporaryDirectory(prefix="dash-steady-") as d:
        engine = Engine(Path(d) / "shard", EngineConfig())
        try:
            acked = [0]
            feed(engine, claims[:pre], acked)
            caught_up(engine)
            searcher = searcher_of(engine) if searcher_of is not None else None
            searches = {"at_rest": searcher.at_rest(5.0)} if searcher is not None else {}
            acked[0] = 0
            samples: list[OwedSample] = []
            done = threading.Event()
            started = time.perf_counter()
            cpu_before = cpu_ms({"engine": os.getpid()})

            def sample() -> None:
                s = engine.stats()
                owed = {"detection": s.detection_backlog, "index": s.index_backlog}
                samples.append(OwedSample(time.perf_counter() - started, acked[0], owed))

            def sampler() -> None:
                while not done.wait(0.25):
                    sample()

            thread = threading.Thread(target=sampler)
            thread.start()
            during: list[dict] = []
            reader = None
            if searcher is not None:
                reader = threading.Thread(target=lambda: during.append(searcher.measure(done)))
                reader.start()
            feed(engine, claims[pre:], acked)
            done.set()
            thread.join()
            if reader is not None:
                reader.join()
                searches["during_load"] = during[0]
            sample()
            load_s = time.perf_counter() - started
            caught_up(engine)
            total_s = time.perf_counter() - started
            cpu_after = cpu_ms({"engine": os.getpid()})
            n = len(claims) - pre
            return {
                "acked_per_s": round(n / load_s, 1),
                "through_all_per_s": round(n / total_s, 1),  # load plus catch-up, warming included
                # the engine's process and its edge-builder workers
                "cpu_ms_per_claim": round((sum(cpu_after.values()) - sum(cpu_before.values())) / n, 3),
                "sustained": sustained(samples),
            } | ({"top10_ms": searches} if searches else {})
        finally:
            engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=60_000)
    ap.add_argument("--pre", type=int, default=40_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--search-every-ms", type=float, default=0.0, help="also time queries (0: none)")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/steady_ingest.json"))
    args = ap.parse_args()
    single_threaded_blas()  # as a node runs
    corpus = generate(args.pre + args.n, 50, seed=3)
    embedder = default_embedder()
    vectors = np.asarray(embedder.embed(corpus.texts), dtype="<f4")
    for item, vec in zip(corpus.claims, vectors, strict=True):
        item.claim.embedding = vec.tobytes()
    qvecs = np.asarray(embedder.embed([q.text for q in corpus.queries]), dtype="<f4")
    queries = [
        dash_pb2.RetrieveRequest(tenant_id="t", query=q.text, query_embedding=v.tobytes(), top_k=10)
        for q, v in zip(corpus.queries, qvecs, strict=True)
    ]
    every_s = args.search_every_ms / 1000

    def searcher_of(engine: Engine) -> Searcher:
        return Searcher(engine, queries, every_s)

    runs = []
    for r in range(args.runs):
        runs.append(one_run(corpus.claims, args.pre, searcher_of if every_s > 0 else None))
        s = runs[-1]["sustained"]
        print(f"run {r}: {s['through_background_per_s']} claims/s sustained", file=sys.stderr)
    rates = [r["sustained"]["through_background_per_s"] for r in runs]
    result = {
        "n": args.n,
        "pre": args.pre,
        "batch": BATCH,
        "writers": WRITERS,
        "data": "bench corpus, shipped embedder, client vectors",
        "search_every_ms": args.search_every_ms,
        "sustained_per_s": {"median": float(np.median(rates)), "runs": rates},
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
