"""Which replica may serve a read: a follower refuses one that wants fresher data than it can vouch for,
any replica refuses one that must follow a write it does not hold yet — each naming ``read.`` so the
router asks the next replica."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dash_client._pb.dash.v1 import dash_pb2
from dash_node.engine import EngineConfig
from dash_node.errors import FailedPrecondition
from dash_node.host import ShardHost
from dash_node.placement import KEYSPACE, PlacementMap, ShardPlacement


def test_staleness_bound_and_read_after(tmp_path: Path) -> None:
    host = ShardHost(tmp_path, EngineConfig(), node_id="n1")
    try:
        # n1 follows s0, whose leader n2 is not registered: nothing refreshes n1's view of the leader.
        host.apply_placement(
            PlacementMap(shards={"s0": ShardPlacement("s0", 0, KEYSPACE, ("n2", "n1"), "n2")})
        )
        bound = dash_pb2.ReadOptions(max_staleness_ms=50)
        deadline = time.monotonic() + 5
        while host.engine("s0").feed.staleness() <= 0.05:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(FailedPrecondition, match=r"read\.max_staleness_ms: this follower of 's0'"):
            host.for_read("s0", bound)
        assert host.for_read("s0", dash_pb2.ReadOptions()) is host.engine("s0")  # no bound: served
        ahead = dash_pb2.ReadOptions(after=[dash_pb2.ReplicaPosition(shard_id="s0", lsn=7)])
        with pytest.raises(FailedPrecondition, match=r"read\.after: .* at LSN 0, the write at 7"):
            host.for_read("s0", ahead)
        other_shard = dash_pb2.ReadOptions(after=[dash_pb2.ReplicaPosition(shard_id="s9", lsn=7)])
        assert host.for_read("s0", other_shard) is host.engine("s0")
    finally:
        host.close()
