"""The detector: runs the edge builder on committed writes, off their acknowledgement path.

A write of claims is acknowledged once it is durable; applying it also records a ``DetectionTask`` in the
state, keyed by the write's LSN. This thread takes the pending tasks in LSN order, judges their claims
against the claims stored before them, and writes the edges it finds — with the LSNs they complete — as a
WAL record of its own, through the same single writer. So:

- the work survives a restart (the tasks are state, replayed like any other);
- a replica replaying the WAL gets the same edges without judging again;
- every pair is judged once, the newer claim against the older, even when different writers sent them at
  the same moment (judging before the write, as an earlier version did, let such pairs miss each other);
- judging overlaps the next writes instead of delaying each acknowledgement.

The price is a short lag between a claim becoming visible and its detector edges appearing. It is bounded:
a write that would push the backlog past ``max_backlog_claims`` waits, and a write that needs its edges at
once asks for ``wait_for_detection``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dash_client._pb.dash.v1 import wal_pb2
from dash_node.errors import DashError, ResourceExhausted
from dash_node.evidence.worker import Worker, WorkerUnavailable
from dash_node.metrics import NODE as METRICS

if TYPE_CHECKING:
    from dash_node.evidence.builder import EdgeBuilder, Searcher
    from dash_node.store import Store

log = logging.getLogger(__name__)


class Detector:
    """Background edge building with a bounded backlog. ``submit`` writes a batch through the engine's
    writer and returns once it is applied."""

    def __init__(
        self,
        builder: EdgeBuilder,
        store: Store,
        search: Searcher,
        submit: Callable[[wal_pb2.WalBatch], object],
        shard_id: str = "",
    ) -> None:
        self.builder = builder
        self.config = builder.config
        self._store = store
        self._search = search
        self._submit = submit
        # Judging runs in a worker process when configured (the GIL would otherwise make it compete with
        # the write path for one core); the thread only relays its neighbour searches and its results.
        self._worker = Worker(store, builder) if self.config.worker_process else None
        self._backlog_metric = METRICS.detection_backlog.labels(shard_id=shard_id)
        self._cond = threading.Condition()
        self._pending: dict[int, int] = {}  # lsn -> claims, mirrors the state's pending tasks
        self._stopping = False
        with store.read() as txn:
            for lsn, task in store.detections(txn):
                self._pending[lsn] = len(task.claim_ids)
        self._thread = threading.Thread(target=self._run, name="dash-detector", daemon=True)
        self._thread.start()

    # ---- called by the engine ----------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Claims committed but not judged yet."""
        with self._cond:
            return sum(self._pending.values())

    def admit(self, claims: int) -> None:
        """Hold a new write while the backlog is full (bounded lag); refuse it if that lasts too long."""
        deadline = time.monotonic() + self.config.wait_timeout_s
        with self._cond:
            while self._pending and sum(self._pending.values()) + claims > self.config.max_backlog_claims:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping:
                    raise ResourceExhausted(
                        "items: the edge builder is behind; retry after a short wait"
                        f" ({sum(self._pending.values())} claims not judged yet)"
                    )
                self._cond.wait(left)

    def committed(self, added: dict[int, int], done: list[int]) -> None:
        """The writer applied writes that queue tasks (lsn -> claims) and batches that complete them."""
        if not added and not done:
            return
        with self._cond:
            self._pending.update(added)
            for lsn in done:
                self._pending.pop(lsn, None)
            self._backlog_metric.set(sum(self._pending.values()))
            self._cond.notify_all()

    def judged(self, lsn: int) -> bool:
        with self._cond:
            return not any(p <= lsn for p in self._pending)

    def wait(self, lsn: int) -> bool:
        """Wait until every task up to ``lsn`` is judged; False if that took over the timeout."""
        deadline = time.monotonic() + self.config.wait_timeout_s
        with self._cond:
            while any(p <= lsn for p in self._pending):
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping:
                    return False
                self._cond.wait(left)
            return True

    def stop(self) -> None:
        """Stop after the current round; pending tasks stay in the state for the next start."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join()
        if self._worker is not None:
            self._worker.close()

    # ---- the thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
            try:
                self._round()
            except DashError as exc:  # the replica failed closed or is closing: nothing more to write
                log.warning("edge builder stopped: %s", exc.message)
                return
            except Exception:
                log.exception("edge builder round failed; its tasks stay pending")
                with self._cond:
                    self._cond.wait(1.0)

    def _round(self) -> None:
        """Judge the oldest pending tasks and write what was found."""
        started = time.perf_counter()
        batches = None
        if self._worker is not None:
            try:
                batches = self._worker.round(self._search)
            except WorkerUnavailable as exc:
                log.warning("no edge worker process (%s); judging in a thread instead", exc)
                self._worker = None
        if batches is None:
            batches = self.builder.plan_round(self._store, self._search)
        for batch in batches:
            self._submit(batch)
        METRICS.detection_round_seconds.observe(time.perf_counter() - started)
