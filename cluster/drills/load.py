"""The sustained load a drill runs while it injects its fault: writers and readers through the router.

Writers send small batches with their own commit ids (so the SDK's retries can never write twice) and
record every answer: when it came, the acknowledgement level met, and where it landed (shard, LSN,
epoch, node). Readers run retrievals that prefer followers. Both stop by themselves at a deadline or
when told; every error is counted by code, not raised.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from dash_client.client import ClientConfig, DashClient, RetryPolicy
from dash_client.errors import DashError

TENANT = "drill"
# Long enough to ride out a failover: retries for about 10 s, backoff capped at 0.15 s.
DRILL_RETRY = RetryPolicy(max_attempts=100, initial_backoff=0.05, max_backoff=0.15)


@dataclass(frozen=True)
class Ack:
    """One acknowledged write."""

    at: float  # monotonic time of the answer
    started: float
    claim_ids: tuple[str, ...]
    ack: str
    replayed: bool
    positions: tuple[tuple[str, int, int, str], ...]  # (shard_id, lsn, epoch, node_id)


@dataclass
class LoadRecord:
    acks: list[Ack] = field(default_factory=list)
    write_errors: Counter = field(default_factory=Counter)
    reads: int = 0
    read_errors: Counter = field(default_factory=Counter)
    partial_reads: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Load:
    """``writers`` writer threads and ``readers`` reader threads against ``router``."""

    def __init__(
        self,
        router: str,
        api_key: str,
        writers: int = 2,
        readers: int = 1,
        batch: int = 4,
        ack: str = "replicated",
        max_staleness_ms: int = 10_000,
        duration_s: float = 60.0,
        tag: str = "w",
    ) -> None:
        self.config = ClientConfig(
            target=router, api_key=api_key, tenant=TENANT, timeout=5.0, retry=DRILL_RETRY
        )
        self.batch, self.ack, self.max_staleness_ms, self.tag = batch, ack, max_staleness_ms, tag
        self.record = LoadRecord()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + duration_s
        self._threads = [
            threading.Thread(target=self._write, args=(i,), name=f"drill-writer-{i}", daemon=True)
            for i in range(writers)
        ] + [
            threading.Thread(target=self._read, name=f"drill-reader-{i}", daemon=True) for i in range(readers)
        ]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def stop(self) -> LoadRecord:
        self._stop.set()
        for t in self._threads:
            t.join(30)
        return self.record

    def acked_count(self) -> int:
        with self.record.lock:
            return len(self.record.acks)

    def _write(self, writer: int) -> None:
        seq = 0
        with DashClient(config=self.config) as client:
            while self._running():
                ids = [f"{self.tag}{writer}-{seq}-{j}" for j in range(self.batch)]
                claims = [
                    {
                        "claim_id": cid,
                        "subject": f"Berth {writer}-{seq % 97}-{j}",
                        "text": f"Berth {writer}-{seq % 97}-{j} handled {seq * 10 + j} containers.",
                    }
                    for j, cid in enumerate(ids)
                ]
                started = time.monotonic()
                try:
                    w = client.ingest_batch(claims, commit_id=f"{self.tag}{writer}-{seq}", ack=self.ack)
                except DashError as exc:
                    with self.record.lock:
                        self.record.write_errors[type(exc).__name__] += 1
                    seq += 1  # that batch's fate is unknown; the checker only holds us to acknowledged ones
                    continue
                positions = tuple((p.shard_id, p.lsn, p.epoch, p.node_id) for p in w.positions)
                with self.record.lock:
                    self.record.acks.append(
                        Ack(time.monotonic(), started, tuple(w.claim_ids), w.ack, w.replayed, positions)
                    )
                seq += 1

    def _read(self) -> None:
        with DashClient(config=self.config) as client:
            while self._running():
                try:
                    res = client.retrieve(
                        "containers handled",
                        top_k=5,
                        read_preference="follower",
                        max_staleness_ms=self.max_staleness_ms,
                    )
                    with self.record.lock:
                        self.record.reads += 1
                        self.record.partial_reads += bool(res.shards_missing)
                except DashError as exc:
                    with self.record.lock:
                        self.record.read_errors[type(exc).__name__] += 1
                self._stop.wait(0.02)


def load_summary(record: LoadRecord) -> dict:
    """What the clients saw: writes acknowledged (by level), errors by kind, reads."""
    return {
        "acknowledged_writes": len(record.acks),
        "acknowledged_by_level": dict(Counter(a.ack for a in record.acks)),
        "write_errors": dict(record.write_errors),
        "reads": record.reads,
        "read_errors": dict(record.read_errors),
        "partial_reads": record.partial_reads,
    }


def unavailability(acks: list[Ack], fault_at: float, until: float) -> float:
    """The longest time without a write being acknowledged, over the window from the fault to ``until``
    (the fault's own gap counts from the last acknowledgement before it)."""
    times = sorted(a.at for a in acks)
    before = [t for t in times if t <= fault_at]
    points = [before[-1] if before else fault_at] + [t for t in times if fault_at < t <= until] + [until]
    return max(b - a for a, b in itertools.pairwise(points)) if len(points) > 1 else 0.0
