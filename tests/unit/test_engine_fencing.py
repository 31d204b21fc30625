"""A write routed under an epoch that placement has left behind never lands, even if it was already
queued when the epoch changed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.engine import _Pending
from dash_node.errors import NotFound, StaleEpoch
from dash_node.wal import WalConfig


def item(cid: str) -> types_pb2.ClaimInput:
    return types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=cid, text="a fenced write"))


def test_epoch_change_while_queued_refuses_the_write(tmp_path: Path) -> None:
    # One write per group, so the writer takes the first write alone and stalls on the lock we hold.
    with Engine(tmp_path / "r", EngineConfig(wal=WalConfig(batch_max_records=1))) as engine:
        engine.epoch = 1
        outcome: list[object] = []
        engine._write_lock.acquire()  # hold the writer between taking writes and committing them
        try:
            # The writer takes this first write and blocks on the lock ...
            first = _Pending(engine._upsert_batch("acme", [item("a")]))
            engine._queue.put(first)
            _until(lambda: engine._queue.qsize() == 0)  # the writer has taken it
            # ... so this one is accepted (epoch 1 is current) and waits in the queue.
            t = threading.Thread(target=lambda: outcome.append(_try(engine, "queued", 1)))
            t.start()
            _until(lambda: engine._queue.qsize() == 1)
            engine.epoch = 2  # placement moves on
        finally:
            engine._write_lock.release()
        assert first.future.result(10).claim_ids == ["a"]
        t.join(10)
        assert isinstance(outcome[0], StaleEpoch)
        with pytest.raises(NotFound):
            engine.get_claim("acme", "queued")
        assert engine.ingest("acme", item("fresh"), dash_pb2.WriteOptions(epoch=2)).epoch == 2
        with pytest.raises(StaleEpoch):
            engine.ingest("acme", item("late"), dash_pb2.WriteOptions(epoch=1))


def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def _try(engine: Engine, cid: str, epoch: int) -> object:
    try:
        return engine.ingest("acme", item(cid), dash_pb2.WriteOptions(epoch=epoch))
    except StaleEpoch as exc:
        return exc
