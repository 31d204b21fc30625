"""Closing a replica (shutdown, or replacement by an installed snapshot) while reads are in flight: it
waits for them instead of closing the state under them (which answered an lmdb error, and the router
counted the shard missing), and refuses reads that arrive meanwhile as UNAVAILABLE, so the router asks
another replica."""

from __future__ import annotations

import threading
import time

import pytest

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.errors import Unavailable
from dash_node.evidence.builder import EdgeBuilderConfig


def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_close_waits_for_reads_in_flight_and_refuses_new_ones(tmp_path) -> None:
    engine = Engine(tmp_path / "e", EngineConfig(evidence=EdgeBuilderConfig(enabled=False)))
    engine.ingest_batch("t", [types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="c1", text="river flows"))])
    request = dash_pb2.RetrieveRequest(tenant_id="t", query="river", top_k=1)
    inside, release, read_in_flight = threading.Event(), threading.Event(), []

    def reader() -> None:
        with engine._reads.reading():  # a read that is still running when the close begins
            inside.set()
            release.wait(10)
            read_in_flight.append(dash_pb2.RetrieveResponse.FromString(engine.planner.retrieve(request)[0]))

    t = threading.Thread(target=reader)
    t.start()
    inside.wait(10)
    closer = threading.Thread(target=engine.close)
    closer.start()
    _until(lambda: engine._reads._closing)
    assert closer.is_alive()  # it cannot finish while the read holds the gate
    with pytest.raises(Unavailable, match="shard_id"):
        engine.retrieve(request)
    with pytest.raises(Unavailable):
        engine.get_claim("t", "c1")
    release.set()
    t.join(10)
    closer.join(10)
    assert not closer.is_alive() and engine.closed
    [answer] = read_in_flight  # the read in flight finished on open state
    assert [r.claim.claim_id for r in answer.results] == ["c1"]
