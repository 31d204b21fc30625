"""Automatic failover: the most up-to-date live follower takes over a shard whose leader is gone.

Every node runs this in its membership loop, woken by placement changes (a leader's registration goes
when its lease expires): an idle cluster costs it nothing. When a shard it holds a replica of has a
leader without a live registration (it died, or it is cut off from etcd), each live replica asks the
others how far they got; the one furthest ahead (ties: the lowest node id) writes the new
placement — itself as leader, epoch + 1 — in one etcd transaction that holds only if the shard's key is
unchanged, so at most one promotion per epoch can win. A write acknowledged `replicated` is on a
majority of the replicas, so the replica furthest ahead among any majority holds it.

The old leader is fenced twice: by the epoch (routers send the new one, and its replica refuses what it
does not know) and by its own lease (a node whose lease it could not renew in time takes no writes). It
rejoins as a follower; what it had not replicated is dropped when it re-bootstraps from the new leader.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import grpc

from dash_client._pb.dash.v1 import node_pb2, node_pb2_grpc
from dash_node.placement import PlacementMap, ShardPlacement

if TYPE_CHECKING:
    from dash_node.etcd_placement import PlacementStore, PlacementWatcher
    from dash_node.host import ShardHost

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 0.05  # between attempts while a shard held here stays leaderless
PEER_TIMEOUT_S = 0.5


class Failover:
    """Watches for leaderless shards this node holds a replica of, and promotes the right replica."""

    def __init__(
        self,
        host: ShardHost,
        store: PlacementStore,
        watcher: PlacementWatcher,
        interval: float = CHECK_INTERVAL_S,
    ) -> None:
        self.host = host
        self.store = store
        self.watcher = watcher
        self.interval = interval
        self._changed = asyncio.Event()
        self._changed.set()  # the placement loaded before ``run`` starts is a change too

    def placement_changed(self) -> None:
        """Called (on the membership loop) after every placement change."""
        self._changed.set()

    async def run(self) -> None:
        """Sleep until placement changes; then, while a shard held here has no live leader, try to
        promote every ``interval`` (an attempt can be deferred: a peer that does not answer, our own
        lease not current, too few replicas live)."""
        while True:
            await self._changed.wait()
            self._changed.clear()  # before reading placement: a change from now on wakes us again
            while True:
                pm = self.watcher.current
                orphans = [s for s in list(pm.shards.values()) if self._orphaned(s, pm)]
                if not orphans:
                    break
                if self.host.lease_current():  # cut off from etcd ourselves: not the one to take over
                    for shard in orphans:
                        try:
                            await self._try_promote(shard, pm)
                        except Exception:
                            log.exception("promotion attempt for shard %s failed", shard.shard_id)
                await asyncio.sleep(self.interval)

    def _orphaned(self, shard: ShardPlacement, pm: PlacementMap) -> bool:
        me = self.host.node_id
        return me in shard.replicas and shard.leader != me and shard.leader not in pm.nodes

    async def _try_promote(self, shard: ShardPlacement, pm: PlacementMap) -> None:
        me = self.host.node_id
        live = [n for n in shard.replicas if n in pm.nodes and n != shard.leader]
        positions = {me: self.host.engine(shard.shard_id).feed.committed_lsn}
        loop = asyncio.get_running_loop()
        for node_id in live:
            if node_id == me:
                continue
            lsn = await loop.run_in_executor(None, self._position, pm.nodes[node_id].address, shard.shard_id)
            if lsn is None:
                return  # a live replica that does not answer may be ahead of us: decide next round
            positions[node_id] = lsn
        # The replicas we heard must meet every write quorum, or a `replicated` write could be missing.
        quorum = len(shard.replicas) // 2 + 1
        if len(positions) + quorum <= len(shard.replicas):
            log.warning(
                "shard %s: only %s of %d replicas live; not promoting",
                shard.shard_id,
                sorted(positions),
                len(shard.replicas),
            )
            return
        if min(positions, key=lambda n: (-positions[n], n)) != me:
            return
        promoted = replace(shard, leader=me, epoch=shard.epoch + 1)
        ok = await self.store.replace_shards({shard.shard_id: pm.shard_revisions[shard.shard_id]}, [promoted])
        if ok:
            log.warning(
                "shard %s: leader %s is gone; promoted %s at LSN %d (epoch %d -> %d; positions %s)",
                shard.shard_id,
                shard.leader,
                me,
                positions[me],
                shard.epoch,
                promoted.epoch,
                positions,
            )
            await self.watcher.refresh()

    def _position(self, address: str, shard_id: str) -> int | None:
        """A peer replica's committed LSN, or None if it does not answer in time."""
        with self.host.connect(address) as channel:
            try:
                stats = node_pb2_grpc.NodeStub(channel).Stats(
                    node_pb2.StatsRequest(shard_id=shard_id),
                    timeout=PEER_TIMEOUT_S,
                    metadata=self.host.metadata,
                )
            except grpc.RpcError:
                return None
        return stats.applied_lsn
