"""A replica refuses writes beyond its queue bound (RESOURCE_EXHAUSTED) instead of queueing without
limit; what was queued before still lands."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dash_client._pb.dash.v1 import types_pb2
from dash_node import Engine, EngineConfig
from dash_node.errors import ResourceExhausted
from dash_node.evidence.builder import EdgeBuilderConfig


def item(cid: str) -> types_pb2.ClaimInput:
    return types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=cid, text=f"claim {cid} about quays"))


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_full_write_queue_refuses_and_drains(tmp_path: Path) -> None:
    config = EngineConfig(max_queued_writes=1, evidence=EdgeBuilderConfig(enabled=False))
    with Engine(tmp_path / "e", config) as engine:
        engine._write_lock.acquire()  # the writer will stall on its next group
        first = threading.Thread(target=engine.ingest, args=("t", item("c1")))
        first.start()
        wait_until(lambda: engine._queue.qsize() == 0)  # the writer holds c1
        second = threading.Thread(target=engine.ingest, args=("t", item("c2")))
        second.start()
        wait_until(lambda: engine._queue.qsize() == 1)  # c2 waits in the queue
        with pytest.raises(ResourceExhausted, match="limit 1"):
            engine.ingest("t", item("c3"))
        engine._write_lock.release()
        first.join()
        second.join()
        assert sorted(engine.claim_ids("t")) == ["c1", "c2"]
