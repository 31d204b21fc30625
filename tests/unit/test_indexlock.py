"""The index lock puts the indexer's steps behind searches and writes: a loop that takes it step after
step (the indexer) cannot starve a search waiting for it, as it did with a plain ``threading.Lock``."""

from __future__ import annotations

import threading
import time

import pytest

from dash_node.indexlock import IndexLock


def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def _busy(seconds: float) -> None:
    """Work that holds the GIL, as the indexer's Python around each graph insertion does."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_a_search_waits_for_a_step_not_for_the_loop() -> None:
    """Against a loop of 2 ms steps, 20 searches wait about a step each (10 ms in all, measured here).
    With a plain lock the loop kept it: 2.7 s in all, and 10.2 s at worst for one search."""
    lock, stop, steps = IndexLock(), threading.Event(), []

    def loop() -> None:  # like the indexer: takes the lock again as soon as it lets go
        while not stop.is_set():
            with lock.background():
                _busy(0.002)
                steps.append(1)

    looper = threading.Thread(target=loop)
    looper.start()
    waits = []
    try:
        _until(lambda: steps)
        deadline = time.monotonic() + 30
        while len(waits) < 20 and time.monotonic() < deadline:
            started = time.perf_counter()
            with lock:
                waits.append(time.perf_counter() - started)
            _busy(0.005)
    finally:
        stop.set()
        looper.join(timeout=10)
    assert len(waits) == 20 and sum(waits) < 0.5, waits


def test_a_step_waits_until_no_search_is_queued_then_runs() -> None:
    lock, order = IndexLock(), []

    def search() -> None:
        with lock:
            order.append("search")

    def step() -> None:
        with lock.background():
            order.append("step")

    lock.__enter__()  # a search holds it
    searcher = threading.Thread(target=search)
    searcher.start()
    _until(lambda: lock._waiting == 1)  # a second search is queued
    indexer = threading.Thread(target=step)
    indexer.start()  # a step arrives after it
    lock.__exit__(None, None, None)
    searcher.join(timeout=10)
    indexer.join(timeout=10)
    assert order == ["search", "step"]


def test_a_search_waits_for_a_writes_step_not_for_its_whole_share() -> None:
    """A write moving its share of vectors into the graph holds the lock, and hands it over between two
    steps to the searches waiting then; without that, searches wait for the whole share."""
    lock, stop, steps = IndexLock(), threading.Event(), []

    def share() -> None:  # a write moving a long share (at most 3 s of it), step after step
        with lock:
            while not stop.is_set() and len(steps) < 1500:
                _busy(0.002)
                steps.append(1)
                lock.handover()

    writer = threading.Thread(target=share)
    writer.start()
    waits = []
    try:
        _until(lambda: steps)
        deadline = time.monotonic() + 30
        while len(waits) < 20 and time.monotonic() < deadline:
            started = time.perf_counter()
            with lock:
                waits.append(time.perf_counter() - started)
            _busy(0.005)
    finally:
        stop.set()
        writer.join(timeout=10)
    assert len(waits) == 20 and sum(waits) < 0.5, waits


def test_a_handover_with_nobody_waiting_keeps_the_lock() -> None:
    lock = IndexLock()
    with lock:
        lock.handover()
        assert lock._lock.locked()
    assert not lock._lock.locked()
    with lock._cond:
        assert lock._waiting == 0


def test_an_error_inside_releases_it() -> None:
    lock = IndexLock()
    with pytest.raises(RuntimeError), lock:
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError), lock.background():
        raise RuntimeError("boom")
    with lock, lock._cond:
        assert lock._waiting == 0
