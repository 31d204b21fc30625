"""Looking at every replica of every shard from outside: positions, digests, and whether they agree.

Used by tests and by the drills' checker: replicas of a shard are identical when they stand at the same
LSN with the same content digest (``Stats`` with ``digest``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import grpc

from cluster.local import LocalCluster
from dash_client._pb.dash.v1 import node_pb2
from dash_node.etcd_placement import PlacementStore
from dash_node.placement import PlacementMap


@dataclass(frozen=True)
class ReplicaView:
    node_id: str
    leader: bool
    applied_lsn: int
    claims: int
    digest: str
    wal_first_lsn: int


def placement(cluster: LocalCluster) -> PlacementMap:
    async def load() -> PlacementMap:
        store = PlacementStore(cluster.state.etcd)
        try:
            return await store.load()
        finally:
            await store.close()

    return asyncio.run(load())


def replica_stats(
    cluster: LocalCluster, node_id: str, shard_id: str, digest: bool = False, timeout: float = 5.0
) -> node_pb2.StatsResponse:
    request = node_pb2.StatsRequest(shard_id=shard_id, digest=digest)
    return cluster.access.call(cluster.state.nodes[node_id], "Stats", request, timeout)


def shard_views(cluster: LocalCluster, shard_id: str, digest: bool = True) -> dict[str, ReplicaView]:
    """Every live replica of a shard (replicas that do not answer are left out)."""
    shard = placement(cluster).shards[shard_id]
    out = {}
    for node_id in shard.replicas:
        try:
            s = replica_stats(cluster, node_id, shard_id, digest)
        except (grpc.RpcError, KeyError):
            continue
        out[node_id] = ReplicaView(
            node_id, node_id == shard.leader, s.applied_lsn, s.claims, s.digest, s.wal_first_lsn
        )
    return out


def wait_converged(cluster: LocalCluster, timeout: float = 30.0) -> dict[str, dict[str, ReplicaView]]:
    """Poll until every replica of every shard stands at its leader's LSN; then return the views with
    digests. Raises TimeoutError naming the shards that did not get there."""
    deadline = time.monotonic() + timeout
    shards = sorted(placement(cluster).shards)
    while True:
        views = {sid: shard_views(cluster, sid, digest=False) for sid in shards}
        behind = [
            sid
            for sid, vs in views.items()
            if len({v.applied_lsn for v in vs.values()}) != 1
            or len(vs) < len(placement(cluster).shards[sid].replicas)
        ]
        if not behind:
            return {sid: shard_views(cluster, sid, digest=True) for sid in shards}
        if time.monotonic() > deadline:
            raise TimeoutError(f"replicas of {behind} did not converge: {views}")
        time.sleep(0.05)


def divergent(views: dict[str, dict[str, ReplicaView]]) -> list[str]:
    """Shards whose replicas differ in position or content."""
    return [sid for sid, vs in views.items() if len({(v.applied_lsn, v.digest) for v in vs.values()}) > 1]
