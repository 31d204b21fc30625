"""The index lock is granted in arrival order: a loop that holds it step after step (the indexer) cannot
starve a search waiting for it, as it did with ``threading.Lock``."""

from __future__ import annotations

import threading
import time

import pytest

from dash_node.fairlock import FairLock


def _busy(seconds: float) -> None:
    """Work that holds the GIL, as the indexer's Python between graph insertions does."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_waiter_gets_the_lock_after_the_step_in_progress_not_after_the_loop() -> None:
    lock, stop, steps = FairLock(), threading.Event(), []

    def loop() -> None:  # like the indexer: takes the lock again as soon as it lets go
        while not stop.is_set():
            with lock:
                _busy(0.002)
                steps.append(1)

    looper = threading.Thread(target=loop)
    looper.start()
    try:
        deadline = time.monotonic() + 10
        while not steps:  # the loop is running
            assert time.monotonic() < deadline
        for _ in range(20):
            before = len(steps)
            with lock:
                # At most the step that held the lock and the one queued ahead of us ran meanwhile.
                assert len(steps) - before <= 2
    finally:
        stop.set()
        looper.join()


def test_holders_run_one_at_a_time_in_the_order_they_asked() -> None:
    lock, order, inside = FairLock(), [], []
    lock.__enter__()  # held, so the threads below queue up

    def take(i: int) -> None:
        with lock:
            inside.append(i)
            assert len(inside) == 1
            order.append(i)
            inside.pop()

    threads = []
    for i in range(5):
        t = threading.Thread(target=take, args=(i,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 10
        while lock._next != i + 2:  # thread i holds its ticket before the next one starts
            assert time.monotonic() < deadline
    lock.__exit__(None, None, None)
    for t in threads:
        t.join(timeout=10)
    assert order == [0, 1, 2, 3, 4]


def test_a_waiter_that_gives_up_does_not_block_the_ones_behind_it(monkeypatch) -> None:
    lock = FairLock()
    lock.__enter__()

    def interrupted(timeout: float | None = None) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(lock._cond, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lock.__enter__()  # queued behind the holder, then interrupted: its ticket is given up
    monkeypatch.undo()
    got = threading.Event()
    t = threading.Thread(target=lambda: (lock.__enter__(), got.set(), lock.__exit__(None, None, None)))
    t.start()
    lock.__exit__(None, None, None)
    assert got.wait(10)  # the ticket behind the abandoned one is served
    t.join(timeout=10)
    with pytest.raises(RuntimeError), lock:
        raise RuntimeError("an error inside releases it")
    with lock:
        pass
