"""The measurements of one benchmark run, each against a live router (and, where it needs them, the
processes of a local cluster): ingest throughput, freshness, retrieval latency under concurrency,
recall against exact search, ranking quality, and the resources the processes hold.

Calls go through raw gRPC stubs with packed float32 query vectors, as a production client would send
them; the SDK's dataclass conversion is client cost, not DASH's, and is left out of the figures.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import grpc
import numpy as np
from tqdm import tqdm

from cluster.bench.corpus import Query
from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, node_pb2, types_pb2

DENSE_ONLY = dash_pb2.RankingWeights(
    semantic=1.0,
    lexical=0.0,
    support=0.0,
    contradiction_risk=0.0,
    temporal=0.0,
    source_quality=0.0,
    confidence=0.0,
    fusion=0.0,
)


@dataclass
class Target:
    """Where the benchmark sends its calls."""

    router: str
    api_key: str
    channel: grpc.Channel
    # The cluster's processes by name, when the benchmark started them: latency runs then also report
    # the CPU each spent per query (the capacity model's input). Empty for a cluster given by address.
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def stub(self) -> dash_pb2_grpc.DashStub:
        return dash_pb2_grpc.DashStub(self.channel)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.api_key}"),) if self.api_key else ()


def percentiles(ms: Sequence[float]) -> dict:
    a = np.asarray(ms, dtype=np.float64)
    return {
        "n": int(a.size),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p95_ms": round(float(np.percentile(a, 95)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
    }


def _bar(total: int, desc: str, unit: str = "it") -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)


# ---- ingest ---------------------------------------------------------------------------------------


def ingest(
    target: Target,
    tenant: str,
    claims: Sequence[types_pb2.ClaimInput],
    vectors: np.ndarray | None,
    ack: int = dash_pb2.ACK_LEVEL_LEADER,
    batch: int = 500,
    writers: int = 4,
    desc: str = "ingest",
    background: Background | None = None,
) -> dict:
    """Load ``claims`` (with ``vectors`` when given) in batches from ``writers`` threads; claims/s.

    With ``background`` (what the cluster's background work still owes), it also reports:
    - the rate through the background work over the second half of the load (``sustained``);
    - how long the background work took to catch up after the last ack (``background_s``);
    - with the cluster's processes known, the CPU each process spent per claim, through the acks and the
      work that follows them (graph insertion, the edge builder). That total, against the machine's
      cores, bounds what the cluster can take sustained.
    """
    stub, md = target.stub, target.metadata
    starts = list(range(0, len(claims), batch))
    lock = threading.Lock()
    bar = _bar(len(claims), desc, "claim")

    def build(start: int) -> dash_pb2.IngestBatchRequest:
        items = []
        for i in range(start, min(start + batch, len(claims))):
            item = types_pb2.ClaimInput()
            item.CopyFrom(claims[i])
            if vectors is not None:
                item.claim.embedding = vectors[i].astype("<f4").tobytes()
            items.append(item)
        return dash_pb2.IngestBatchRequest(
            tenant_id=tenant, items=items, commit_id=f"{tenant}-{start}", write=dash_pb2.WriteOptions(ack=ack)
        )

    # Built before the clock starts: making up the load is the load generator's work, which on this
    # shared two-core box would take CPU from the cluster. Encoding each request stays in the timed call,
    # as every client pays it.
    requests = [build(start) for start in starts]

    def send(req: dash_pb2.IngestBatchRequest) -> None:
        stub.IngestBatch(req, metadata=md, timeout=600)
        with lock:
            acked[0] += len(req.items)
            bar.update(len(req.items))

    acked = [0]
    cpu_before = cpu_ms(target.pids)
    started = time.perf_counter()
    sampler = _OwedSampler(background, lambda: acked[0], started) if background is not None else None
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(send, requests))
    seconds = time.perf_counter() - started
    bar.close()
    out = {
        "claims": len(claims),
        "seconds": round(seconds, 2),
        "claims_per_s": round(len(claims) / seconds, 1),
        "batch": batch,
        "writers": writers,
        "client_vectors": vectors is not None,
        "ack": dash_pb2.AckLevel.Name(ack),
    }
    if sampler is not None:
        out["sustained"] = sampler.stop()
    if background is not None:
        out["background_s"] = background.drain()
    if background is not None and cpu_before:
        cpu = cpu_per_request(cpu_before, cpu_ms(target.pids), len(claims))
        out["cpu_ms_per_claim"] = cpu
        cores = os.cpu_count() or 1
        out["cpu_bound_claims_per_s"] = round(cores * 1000 / cpu["total"], 1) if cpu["total"] else None
    return out


def freshness(target: Target, tenant: str, probes: int, embed: Callable[[list[str]], np.ndarray]) -> dict:
    """Time from a write's acknowledgement until a query returns it (polling), and the ack itself."""
    stub, md = target.stub, target.metadata
    ack_ms, visible_ms, polls = [], [], []
    for i in tqdm(range(probes), desc="freshness", file=sys.stderr, leave=False):
        token = f"fresh{i}q{time.monotonic_ns() % 10**9}"
        text = f"Probe {token} was written by the freshness check."
        vec = embed([text])[0].astype("<f4").tobytes()
        item = types_pb2.ClaimInput(
            claim=types_pb2.Claim(claim_id=f"fresh-{token}", text=text, embedding=vec)
        )
        t0 = time.perf_counter()
        stub.Ingest(dash_pb2.IngestRequest(tenant_id=tenant, item=item), metadata=md, timeout=30)
        t1 = time.perf_counter()
        query = dash_pb2.RetrieveRequest(tenant_id=tenant, query=token, top_k=1)
        n = 0
        while True:
            n += 1
            res = stub.Retrieve(query, metadata=md, timeout=30)
            if res.results and res.results[0].claim.claim_id == item.claim.claim_id:
                break
            if time.perf_counter() - t1 > 10:
                raise TimeoutError(f"freshness probe {i} not visible after 10 s")
        t2 = time.perf_counter()
        ack_ms.append((t1 - t0) * 1000)
        visible_ms.append((t2 - t1) * 1000)
        polls.append(n)
    return {
        "ack": percentiles(ack_ms),
        "ack_to_visible": percentiles(visible_ms),
        # 1.0: every write was returned by the first query after its ack (visible_ms is one query's time).
        "visible_on_first_query": round(sum(1 for n in polls if n == 1) / len(polls), 4),
    }


# ---- retrieval ------------------------------------------------------------------------------------


def latency(
    target: Target,
    tenant: str,
    queries: Sequence[Query],
    qvecs: np.ndarray,
    top_k: int,
    concurrency: int,
    requests: int,
) -> dict:
    """``requests`` hybrid queries (text and vector) from ``concurrency`` threads on one channel."""
    run = LatencyRun(target, tenant, queries, qvecs, top_k, concurrency)
    run.turn(requests)
    return run.result()


class LatencyRun:
    """Hybrid queries (text and vector) from ``concurrency`` threads on one channel, timed over one or
    more turns. A comparison takes turns with the system it is set against (``floor.measure``), so that a
    slow phase of the machine falls on both rather than on whichever ran in it."""

    def __init__(
        self,
        target: Target,
        tenant: str,
        queries: Sequence[Query],
        qvecs: np.ndarray,
        top_k: int,
        concurrency: int,
    ) -> None:
        self.target, self.top_k, self.concurrency = target, top_k, concurrency
        stub, md = target.stub, target.metadata
        packed = [qvecs[i].astype("<f4").tobytes() for i in range(len(queries))]
        self.requests = [
            dash_pb2.RetrieveRequest(tenant_id=tenant, query=q.text, query_embedding=v, top_k=top_k)
            for q, v in zip(queries, packed, strict=True)
        ]
        self._call = lambda req: stub.Retrieve(req, metadata=md, timeout=30)
        self.ms: list[float] = []
        self.seconds = 0.0
        self.cpu: dict[str, float] = {}  # ms each process spent during the turns
        self._next = 0  # turns go on through the queries where the last one stopped
        self._warm = 50  # untimed queries before the first turn: connections, caches, lazy imports

    def _one(self, i: int) -> float:
        req = self.requests[i % len(self.requests)]
        t0 = time.perf_counter()
        res = self._call(req)
        ms = (time.perf_counter() - t0) * 1000
        if res.shards_missing:
            raise RuntimeError(f"shards missing from an answer: {list(res.shards_missing)}")
        return ms

    def turn(self, requests: int) -> None:
        """Time the next ``requests`` queries (after the warm-up, the first time: just before, as the
        system it takes turns with warms up just before its own first turn)."""
        for i in range(self._warm):
            self._one(i)
        self._warm = 0
        before = cpu_ms(self.target.pids)
        started = time.perf_counter()
        with ThreadPoolExecutor(self.concurrency) as pool:
            self.ms += pool.map(self._one, range(self._next, self._next + requests))
        self.seconds += time.perf_counter() - started
        add_cpu(self.cpu, before, cpu_ms(self.target.pids))
        self._next += requests

    def result(self) -> dict:
        out = {
            **percentiles(self.ms),
            "qps": round(len(self.ms) / self.seconds, 1),
            "concurrency": self.concurrency,
            "top_k": self.top_k,
        }
        if self.cpu:
            out["cpu_ms_per_query"] = cpu_per_request({}, self.cpu, len(self.ms))
        return out


def recall(
    target: Target,
    tenant: str,
    qvecs: np.ndarray,
    ids: Sequence[str],
    vectors: np.ndarray,
    ks: Sequence[int] = (10, 100),
    chunk: int = 64,
) -> dict:
    """Vector-only queries ranked by similarity alone (dense-only weights, whole history) against
    exact search over the same vectors: the share of the exact top-k that DASH returns, and its standard
    error over the queries (graph recall varies from query to query; with ~100 queries at 1M, two runs
    differed by 0.01). The exact scores are worked out ``chunk`` queries at a time, so memory stays
    bounded at any number of queries."""
    search = vector_search(target.stub, tenant, target.metadata)
    per_query: dict[int, list[float]] = {k: [] for k in ks}
    for start in range(0, len(qvecs), chunk):
        exact_scores = qvecs[start : start + chunk] @ vectors.T
        for row, q in zip(exact_scores, qvecs[start : start + chunk], strict=True):
            for k in ks:
                truth = {ids[j] for j in np.argpartition(-row, k)[:k]}
                per_query[k].append(len(truth & set(search(q, k))) / k)
    out = {}
    for k in ks:
        got = np.asarray(per_query[k])
        out[f"recall_at_{k}"] = round(float(got.mean()), 4)
        spread = float(got.std(ddof=1) / np.sqrt(len(got))) if len(got) > 1 else 0.0
        out[f"recall_at_{k}_se"] = round(spread, 4)
    out["queries"] = len(qvecs)
    return out


def owed(stats: Iterable[node_pb2.StatsResponse]) -> dict[str, int]:
    """Background work still to do on these replicas, by stage: claims the edge builder has not judged
    (``detection``), vectors not yet in their graphs (``index``), changed claims whose features are not
    yet computed (``features``)."""
    stats = list(stats)
    return {
        "detection": sum(s.detection_backlog for s in stats),
        "index": sum(s.index_backlog for s in stats),
        "features": sum(s.features_backlog for s in stats),
    }


def backlog(stats: Iterable[node_pb2.StatsResponse]) -> int:
    """All the background work still to do on these replicas (``owed``, summed)."""
    return sum(owed(stats).values())


@dataclass(frozen=True)
class Background:
    """The background work behind a cluster's acks, probed through ``owed`` (work by stage, as ``owed``
    above returns it, over every replica)."""

    owed: Callable[[], dict[str, int]]

    def drain(self, timeout: float = 3600.0) -> float:
        """Seconds until every stage has caught up with every write so far. Queries timed before that
        would share the CPU with the background work."""
        started = time.monotonic()
        while (left := sum(self.owed().values())) > 0:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"edge builders and indexers still {left} items behind after {timeout} s")
            time.sleep(0.2)
        return round(time.monotonic() - started, 2)


class OwedSample(NamedTuple):
    t_s: float  # since the load started
    acked: int  # claims acknowledged so far
    owed: dict[str, int]  # by stage, as ``owed`` returns it


# The stages a write leaves owing that the cluster must keep up with for a rate to be sustained: edges
# (an answer's conflicting evidence) and graph insertion (an HNSW tenant's write buffer; an inverted file
# files each vector on the write and owes nothing). Both are bounded (the edge builder's backlog, the
# write buffer): once full, writes wait for them. Feature warming is not among them: it is a cache
# filled when the indexer has nothing else to do (queries compute and cache what they miss), deferred
# during a load because the edges still to come would invalidate what it computed.
REQUIRED_STAGES = ("detection", "index")


def sustained(samples: Sequence[OwedSample], stages: Sequence[str] = REQUIRED_STAGES) -> dict:
    """The rate through the background work over the second half of a load, from samples taken during
    it: for each of ``stages``, the claims acknowledged in that stretch less the growth of the stage's
    backlog, per second; the slowest stage's rate.

    Why the second half: the first fills the write buffer and the edge builder's backlog, which take
    writes faster than the background work can until they reach their bounds; that is a burst, not a
    rate the cluster can keep. Nor is "claims / (load + catch-up)" the sustained rate: the catch-up after
    the last ack runs graph insertion alone, on one core, while a steady load keeps both busy."""
    end = samples[-1]
    mid = next(x for x in samples if x.t_s >= end.t_s / 2)
    out: dict = {"from_s": round(mid.t_s, 2), "to_s": round(end.t_s, 2), "owed_at_last_ack": end.owed}
    seconds = end.t_s - mid.t_s
    if seconds <= 0:
        return out | {"acked_per_s": None, "through_background_per_s": None}
    acked = end.acked - mid.acked
    through = min(acked - (end.owed[stage] - mid.owed[stage]) for stage in stages)
    return out | {
        "acked_per_s": round(acked / seconds, 1),
        "through_background_per_s": round(through / seconds, 1),
    }


class _OwedSampler:
    """Samples, every ``every_s`` during a load, the claims acknowledged so far and what each background
    stage owes (``sustained`` reads them)."""

    def __init__(
        self, background: Background, acked: Callable[[], int], started: float, every_s: float = 0.5
    ) -> None:
        self._background, self._acked, self._started = background, acked, started
        self._every_s = every_s
        self.samples: list[OwedSample] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-owed-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        acked = self._acked()
        self.samples.append(OwedSample(time.perf_counter() - self._started, acked, self._background.owed()))

    def _run(self) -> None:
        while not self._done.wait(self._every_s):
            self._sample()

    def stop(self) -> dict:
        """Stop sampling (one last sample, at the last ack): ``sustained``, and the samples."""
        self._done.set()
        self._thread.join()
        self._sample()
        timeline = [
            {"t_s": round(x.t_s, 2), "acked": x.acked, **{f"owed_{k}": v for k, v in x.owed.items()}}
            for x in self.samples
        ]
        return sustained(self.samples) | {"timeline": timeline}


def vector_search(
    stub: dash_pb2_grpc.DashStub, tenant: str, md: tuple[tuple[str, str], ...] = ()
) -> Callable[[np.ndarray, int], list[str]]:
    """A kNN search through DASH (vector only, dense-only weights): what the peers are asked. ``stub``:
    the router's, or an embedded engine's (``dash_client.embedded.InProcessNode``)."""

    def search(q: np.ndarray, k: int) -> list[str]:
        req = dash_pb2.RetrieveRequest(
            tenant_id=tenant,
            query_embedding=q.astype("<f4").tobytes(),
            top_k=k,
            include_history=True,
            weights=DENSE_ONLY,
        )
        return [r.claim.claim_id for r in stub.Retrieve(req, metadata=md, timeout=30).results]

    return search


def ndcg_at_10(ranked: Sequence[str], relevance: dict[str, int]) -> float:
    gains = [relevance.get(cid, 0) for cid in ranked[:10]]
    dcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(relevance.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def quality(
    target: Target,
    tenant: str,
    queries: Sequence[Query],
    qvecs: np.ndarray,
    ids: Sequence[str],
    vectors: np.ndarray,
) -> dict:
    """nDCG@10 of DASH's ranking (text and vector) against the dense-only baseline (exact search)."""
    stub, md = target.stub, target.metadata
    dash_scores, dense_scores = [], []
    for q, qv in zip(queries, qvecs, strict=True):
        req = dash_pb2.RetrieveRequest(
            tenant_id=tenant, query=q.text, query_embedding=qv.astype("<f4").tobytes(), top_k=10
        )
        ranked = [r.claim.claim_id for r in stub.Retrieve(req, metadata=md, timeout=30).results]
        dash_scores.append(ndcg_at_10(ranked, q.relevance))
        top = np.argsort(-(vectors @ qv))[:10]
        dense_scores.append(ndcg_at_10([ids[j] for j in top], q.relevance))
    return {
        "ndcg_at_10_dash": round(statistics.fmean(dash_scores), 4),
        "ndcg_at_10_dense_only": round(statistics.fmean(dense_scores), 4),
        "queries": len(queries),
    }


# ---- resources ------------------------------------------------------------------------------------


def _status_mb(pids: dict[str, int], *fields: str) -> dict[str, dict[str, float]]:
    """``fields`` of each live process's ``/proc/PID/status`` (kB there), in MB."""
    out = {}
    for name, pid in sorted(pids.items()):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = {f: re.search(rf"^{f}:\s+(\d+) kB", status, re.M) for f in fields}
        if all(found.values()):
            out[name] = {f: round(int(m.group(1)) / 1024, 1) for f, m in found.items()}
    return out


def peak_rss_mb(pids: dict[str, int]) -> dict[str, float]:
    """Each live process's peak resident set (VmHWM), in MB."""
    return {name: v["VmHWM"] for name, v in _status_mb(pids, "VmHWM").items()}


def rss_split_mb(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    """Each live process's resident memory now, split into anonymous pages (heap: the indexes, caches,
    Python objects) and file-backed ones (mostly the LMDB map, which the kernel can drop and read back),
    in MB. The peak (``peak_rss_mb``) counts both, so it overstates what a node must keep in memory."""
    return {
        name: {"anon": v["RssAnon"], "file": v["RssFile"]}
        for name, v in _status_mb(pids, "RssAnon", "RssFile").items()
    }


def cpu_ms(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system) each live process has used so far, in ms (Linux ``/proc``). A process's
    descendants (a node's edge-builder workers) are summed under ``NAME.workers``: their work is the
    node's too, done in processes of its own to get past the GIL."""
    out = {}
    for name, pid in pids.items():
        own = _cpu_of(pid)
        if own is None:
            continue
        out[name] = own
        workers = [ms for child in _descendants(pid) if (ms := _cpu_of(child)) is not None]
        if workers:
            out[f"{name}.workers"] = sum(workers)
    return out


def _cpu_of(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / _CLOCK_TICKS


def _descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # the thread ended while we looked
            continue
    return children + [d for c in children for d in _descendants(c)]


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def add_cpu(spent: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    """Add the CPU ms each process used between two ``cpu_ms`` readings to ``spent``."""
    for name, ms in after.items():
        spent[name] = spent.get(name, 0.0) + ms - before.get(name, 0.0)


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Each process's CPU ms per request between two ``cpu_ms`` readings, and their ``total``; a
    process that started in between counts from zero."""
    per = {n: round((after[n] - before.get(n, 0.0)) / requests, 3) for n in sorted(after)}
    return {**per, "total": round(sum(per.values()), 3)}


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


RECOVERY = re.compile(r"replica (\S+) opened: (\{.*\})")


def recovery_report(log_text: str) -> list[dict]:
    """What each replica reported when it opened (WAL records replayed, index snapshot LSN, seconds)."""
    return [{"replica": Path(m.group(1)).name, **json.loads(m.group(2))} for m in RECOVERY.finditer(log_text)]
