"""The lock over a replica's indexes, with the indexer's steps behind everyone else.

Searches and writes take it as a plain lock. The indexer moves buffered vectors into the graphs one
step after another, and with a plain lock the thread that releases it takes it straight back, so the
indexer starved whoever waited: after a restart with 80k vectors to move, the first 50 searches took
16 s; in a two-thread test a waiter's longest wait was 10.2 s against a loop holding the lock 2 ms at a
time. So the indexer takes a step only when no search or write is waiting, and one that arrives during
a step waits for that step alone.

A write that finds the indexer behind moves its own share of vectors into the graphs (engine.py),
holding the lock; between two steps it hands the lock over to whoever waits at that moment, so that
under a steady load a search waits for one step rather than for the write's whole share (a share of
500 vectors held the lock ~100 ms: searches during such a load took 65 ms at p50, 240-270 at p95).

A lock granting every caller in arrival order (a ticket lock) did as well for the indexer, but handing
over at every release cost searches at 16 clients 17% of their throughput.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class IndexLock:
    """``with lock:`` for searches and writes; ``with lock.background():`` for the indexer's steps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(threading.Lock())
        self._waiting = 0  # searches and writes waiting for the lock
        self._served = 0  # searches and writes that stopped waiting (took the lock, or gave up)

    def __enter__(self) -> IndexLock:
        with self._cond:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._cond:
                self._waiting -= 1
                self._served += 1
                self._cond.notify_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def handover(self) -> None:
        """Called by the holder between two steps of its work: let every search and write waiting now
        take the lock first, then hold it again (ahead of the indexer's steps, as before)."""
        with self._cond:
            if not self._waiting:
                return
            ahead = self._served + self._waiting
            self._waiting += 1  # the holder waits too from here: the indexer keeps giving way to it
        self._lock.release()
        try:
            with self._cond:
                self._cond.wait_for(lambda: self._served >= ahead)
            self._lock.acquire()
        finally:
            with self._cond:
                self._waiting -= 1
                self._served += 1
                self._cond.notify_all()

    @contextmanager
    def background(self) -> Iterator[None]:
        """Hold the lock for one step of background work, once no search or write waits for it."""
        with self._cond:
            self._cond.wait_for(lambda: not self._waiting)
        with self._lock:
            yield
