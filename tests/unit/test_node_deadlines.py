"""A node enforces its caller's deadline: a write still queued when the deadline passes is dropped, not
applied behind the back of a caller who was told DEADLINE_EXCEEDED. Through a real gRPC server in
process (the write lock is held so the write must wait)."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, types_pb2
from dash_node import deadlines
from dash_node.engine import EngineConfig
from dash_node.errors import DeadlineExceeded
from dash_node.evidence.builder import EdgeBuilderConfig
from dash_node.host import ShardHost
from dash_node.metrics import NODE as METRICS
from dash_node.server import build_server


def _dropped() -> float:
    return METRICS.registry.get_sample_value("dash_node_write_deadline_dropped_total") or 0.0


def test_a_write_whose_deadline_passes_in_the_queue_is_not_applied(tmp_path: Path) -> None:
    host = ShardHost(tmp_path, EngineConfig(evidence=EdgeBuilderConfig(enabled=False)))
    server, port = build_server(host, "127.0.0.1:0")
    server.start()
    engine = host.engine("")
    dropped = _dropped()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            dash = dash_pb2_grpc.DashStub(channel)

            def ingest(cid: str, timeout: float) -> None:
                item = types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=cid, text=f"claim {cid}"))
                dash.Ingest(dash_pb2.IngestRequest(tenant_id="t", item=item), timeout=timeout)

            engine._write_lock.acquire()  # the writer takes the write, then waits here
            try:
                with pytest.raises(grpc.RpcError) as err:
                    ingest("late", 0.3)
                assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            finally:
                engine._write_lock.release()
            deadline = time.monotonic() + 10
            while _dropped() == dropped:
                assert time.monotonic() < deadline, "the expired write was never dropped"
                time.sleep(0.01)
            assert "late" not in engine.claim_ids("t")
            ingest("timely", 10)  # nothing stuck behind it
            assert engine.claim_ids("t") == ["timely"]
    finally:
        server.stop(0)
        host.close()


def test_an_expired_deadline_is_refused_by_the_engine_with_a_named_reason(tmp_path: Path) -> None:
    host = ShardHost(tmp_path, EngineConfig(evidence=EdgeBuilderConfig(enabled=False)))
    try:
        reset = deadlines.CALLER_DEADLINE.set(time.monotonic() - 1)
        try:
            item = types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="x", text="too late"))
            with pytest.raises(DeadlineExceeded, match="deadline: passed while the write was queued"):
                host.engine("").ingest("t", item)
        finally:
            deadlines.CALLER_DEADLINE.reset(reset)
        assert host.engine("").claim_ids("t") == []
    finally:
        host.close()
