"""A lock granted in the order it was asked for.

``threading.Lock`` lets the thread that releases it take it straight back, so a loop that holds it for
one step after another (the indexer moving buffered vectors into a graph) starves a thread waiting for
it: a search waited for the indexer's whole backlog (16 s after a restart with 80k vectors to move,
10 s in a two-thread test). Tickets make the wait at most the steps already queued ahead of it.
"""

from __future__ import annotations

import threading


class FairLock:
    """A ticket lock: ``with lock:`` waits for the holders that asked before, then holds it. Not
    re-entrant."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0  # the ticket the next caller gets
        self._serving = 0  # the ticket that holds the lock
        self._abandoned: set[int] = set()  # tickets whose waiter gave up (an exception while waiting)

    def __enter__(self) -> FairLock:
        with self._cond:
            ticket = self._next
            self._next += 1
            try:
                while ticket != self._serving:
                    self._cond.wait()
            except BaseException:
                if ticket == self._serving:
                    self._advance()
                else:
                    self._abandoned.add(ticket)  # skipped when its turn comes, so no one waits on it
                raise
        return self

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._advance()

    def _advance(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.remove(self._serving)
            self._serving += 1
        self._cond.notify_all()
