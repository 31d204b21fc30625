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
from dash_node.wal import WalConfig


def item(cid: str) -> types_pb2.ClaimInput:
    return types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=cid, text=f"claim {cid} about quays"))


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_full_write_queue_refuses_and_drains(tmp_path: Path) -> None:
    # One write per group, so the writer takes c1 alone and then stalls on the lock we hold.
    config = EngineConfig(
        max_queued_writes=1,
        wal=WalConfig(batch_max_records=1),
        evidence=EdgeBuilderConfig(enabled=False),
    )
    with Engine(tmp_path / "e", config) as engine:
        queued = engine._queue
        engine._write_lock.acquire()
        try:
            first = threading.Thread(target=engine.ingest, args=("t", item("c1")))
            first.start()
            # unfinished_tasks counts every put: c1 was queued and the writer has taken it.
            wait_until(lambda: queued.unfinished_tasks == 1 and queued.qsize() == 0)
            second = threading.Thread(target=engine.ingest, args=("t", item("c2")))
            second.start()
            wait_until(lambda: queued.unfinished_tasks == 2 and queued.qsize() == 1)
            with pytest.raises(ResourceExhausted, match="limit 1"):
                engine.ingest("t", item("c3"))
        finally:
            engine._write_lock.release()  # never leave the writer stalled, or closing would hang
        first.join()
        second.join()
        assert sorted(engine.claim_ids("t")) == ["c1", "c2"]
