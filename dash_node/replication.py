"""Replication bookkeeping of one replica, shared by its leader and follower roles.

As a leader, a replica keeps its latest committed WAL records in memory (followers tailing it are served
from there rather than from disk), wakes the streams waiting for new records, and counts what each
follower has acknowledged as durable: that decides `replicated` acknowledgements and how far the WAL may
be trimmed. As a follower, it remembers how far the leader was at last contact, which bounds how stale
a read from it can be.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import google_crc32c

from dash_node.wal import WalRecord


def file_crc(path: Path) -> int:
    """crc32c of a whole file, read in chunks (snapshot files are verified by it)."""
    crc = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            crc = google_crc32c.extend(crc, chunk)
    return crc


class Feed:
    """What a replica committed lately and who has it. Thread-safe."""

    def __init__(self, committed_lsn: int, buffer_bytes: int = 32 << 20) -> None:
        self._cond = threading.Condition()
        self._recent: deque[WalRecord] = deque()
        self._bytes = 0
        self._buffer_bytes = buffer_bytes
        self.committed_lsn = committed_lsn
        self._acks: dict[str, tuple[int, float]] = {}  # follower node -> (durable LSN, when heard)
        self.leader_lsn = committed_lsn  # followers: the leader's LSN at last contact
        self._caught_up_at = time.monotonic()

    # ---- both roles --------------------------------------------------------------------------------

    def publish(self, records: Iterable[WalRecord]) -> None:
        """Records just committed (durable and applied), in LSN order."""
        with self._cond:
            for rec in records:
                self._recent.append(rec)
                self._bytes += len(rec.payload)
                self.committed_lsn = rec.lsn
            while self._bytes > self._buffer_bytes and len(self._recent) > 1:
                self._bytes -= len(self._recent.popleft().payload)
            if self.committed_lsn >= self.leader_lsn:
                self._caught_up_at = time.monotonic()
            self._cond.notify_all()

    def reset(self, committed_lsn: int) -> None:
        """The replica's history was replaced (a snapshot was installed): forget the old records."""
        with self._cond:
            self._recent.clear()
            self._bytes = 0
            self.committed_lsn = committed_lsn
            self._cond.notify_all()

    # ---- leader ------------------------------------------------------------------------------------

    def recent_after(self, lsn: int, max_bytes: int) -> list[WalRecord] | None:
        """Committed records after ``lsn`` (up to about ``max_bytes``) if memory still holds them all,
        else None (read them from the WAL)."""
        with self._cond:
            if lsn >= self.committed_lsn:
                return []
            if not self._recent or self._recent[0].lsn > lsn + 1:
                return None
            out, size = [], 0
            for rec in self._recent:
                if rec.lsn <= lsn:
                    continue
                out.append(rec)
                size += len(rec.payload)
                if size >= max_bytes:
                    break
            return out

    def wait_beyond(self, lsn: int, timeout: float) -> bool:
        """Wait until something after ``lsn`` is committed."""
        with self._cond:
            return self._cond.wait_for(lambda: self.committed_lsn > lsn, timeout)

    def ack(self, node_id: str, durable_lsn: int) -> None:
        with self._cond:
            self._acks[node_id] = (durable_lsn, time.monotonic())
            self._cond.notify_all()

    def wait_quorum(self, lsn: int, voters: tuple[str, ...], timeout: float) -> bool:
        """Wait until a majority of ``voters`` (the shard's replicas, this leader among them) hold ``lsn``
        durably; learners' acknowledgements do not count."""
        needed = len(voters) // 2 + 1

        def enough() -> bool:
            others = sum(1 for node, (durable, _) in self._acks.items() if node in voters and durable >= lsn)
            return 1 + others >= needed

        with self._cond:
            return self._cond.wait_for(enough, timeout)

    def follower_lsns(self) -> dict[str, int]:
        with self._cond:
            return {node: durable for node, (durable, _) in self._acks.items()}

    def retained_from(self, fresh_seconds: float) -> int | None:
        """The lowest LSN a follower heard from within ``fresh_seconds`` still needs — its last durable
        record, which it proves its history with, and all after (None: no such follower). A follower
        silent for longer catches up from a snapshot instead of pinning the WAL."""
        now = time.monotonic()
        with self._cond:
            needed = [max(durable, 1) for durable, at in self._acks.values() if now - at <= fresh_seconds]
        return min(needed) if needed else None

    # ---- follower ----------------------------------------------------------------------------------

    def heard(self, leader_lsn: int) -> None:
        """The leader was at ``leader_lsn`` when it last wrote to us."""
        with self._cond:
            self.leader_lsn = max(self.leader_lsn, leader_lsn)
            if self.committed_lsn >= self.leader_lsn:
                self._caught_up_at = time.monotonic()

    def staleness(self) -> float:
        """Seconds since this replica last held everything its leader had, as far as it knows."""
        with self._cond:
            return time.monotonic() - self._caught_up_at
