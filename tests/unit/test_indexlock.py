"""The index lock puts the indexer's steps behind searches and writes: a loop that takes it step after
step (the indexer) cannot starve a search waiting for it, as it did with a plain ``threading.Lock``."""

from __future__ import annotations

import threading
import time

import pytest

from dash_node.indexlock import IndexLock


def _busy(seconds: float) -> None:
    """Work that holds the GIL, as the indexer's Python between graph insertions does."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _background_loop(lock: IndexLock, stop: threading.Event, steps: list[int]) -> threading.Thread:
    def loop() -> None:  # like the indexer: takes the lock again as soon as it lets go
        while not stop.is_set():
            with lock.background():
                _busy(0.002)
                steps.append(1)

    t = threading.Thread(target=loop)
    t.start()
    deadline = time.monotonic() + 10
    while not steps:  # the loop is running
        assert time.monotonic() < deadline
    return t


def test_a_search_waits_for_the_step_in_progress_not_for_the_loop() -> None:
    lock, stop, steps = IndexLock(), threading.Event(), []
    looper = _background_loop(lock, stop, steps)
    try:
        for _ in range(20):
            before = len(steps)
            with lock:
                assert len(steps) - before <= 1  # at most the step that held the lock ran meanwhile
    finally:
        stop.set()
        looper.join()


def test_the_background_waits_while_searches_queue_and_resumes_after() -> None:
    lock, stop, steps = IndexLock(), threading.Event(), []
    holders = 4
    inside, entered = [], threading.Barrier(holders + 1)

    def search() -> None:
        entered.wait()
        with lock:
            inside.append(1)
            assert len(inside) == 1  # still one holder at a time
            _busy(0.001)
            inside.pop()

    threads = [threading.Thread(target=search) for _ in range(holders)]
    for t in threads:
        t.start()
    looper = _background_loop(lock, stop, steps)
    try:
        before = len(steps)
        entered.wait()
        for t in threads:
            t.join(timeout=10)
        assert len(steps) - before <= holders + 1  # a step between searches at most, never a run of them
        resumed = len(steps)
        deadline = time.monotonic() + 10
        while len(steps) == resumed:  # with no one waiting, the indexer goes on
            assert time.monotonic() < deadline
    finally:
        stop.set()
        looper.join()


def test_an_error_inside_releases_it() -> None:
    lock = IndexLock()
    with pytest.raises(RuntimeError), lock:
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError), lock.background():
        raise RuntimeError("boom")
    with lock, lock._cond:
        assert lock._waiting == 0
