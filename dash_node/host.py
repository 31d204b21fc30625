"""The shard replicas one node process hosts, and what placement says about them.

Standalone (no etcd): one replica, shard id "", in the data directory itself.
In a cluster: a replica for every shard whose placement lists this node, in ``<data>/shards/<id>``;
the replica learns its epoch and whether it leads from the placement watch. Writes must come from the
router with the shard's current epoch and must reach its leader; anything else is refused, so a write
routed on an old placement can never land. A replica that does not lead follows: a ``Follower`` thread
keeps it in step with the leader's WAL.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import grpc

from dash_client._pb.dash.v1 import dash_pb2
from dash_client.transport import TlsConfig, open_channel
from dash_node.engine import Engine, EngineConfig
from dash_node.errors import FailedPrecondition, NotFound, StaleEpoch, Unavailable
from dash_node.follower import Follower
from dash_node.placement import PlacementMap, ShardPlacement
from dash_node.wire import CLUSTER_TOKEN_HEADER


class ShardHost:
    """Holds the node's engines by shard id and checks every request against placement."""

    def __init__(
        self,
        data_dir: Path,
        config: EngineConfig,
        node_id: str = "",
        token: bytes = b"",
        tls: TlsConfig | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.config = config
        self.node_id = node_id
        self.clustered = bool(node_id)
        # Followers call their leaders with the cluster credential, over TLS when the cluster uses it.
        self.metadata = ((CLUSTER_TOKEN_HEADER, token.decode()),) if token else ()
        self.tls = tls
        # Whether this node's cluster lease is current (set by membership): a node that cannot renew it
        # takes no writes, so a leader cut off from etcd stops before another is promoted.
        self.lease_current: Callable[[], bool] = lambda: not self.clustered
        self._lock = threading.Lock()
        self._engines: dict[str, Engine] = {}
        self._leads: dict[str, bool] = {}
        self._leader_of: dict[str, str] = {}
        self._addresses: dict[str, str] = {}  # node id -> address, from placement
        self._followers: dict[str, Follower] = {}
        self._fenced: dict[str, tuple[int, float]] = {}  # shard -> (epoch, monotonic deadline)
        self._shards: dict[str, ShardPlacement] = {}  # placement of the shards hosted here
        self._leader_of_all: dict[str, str] = {}  # every shard's leader (a split's halves follow another)
        # Called when a write carries an epoch newer than ours: re-read placement, then re-check.
        self.refresh: Callable[[], None] | None = None
        if not self.clustered:
            self._engines[""] = Engine(self.data_dir, config)
            self._leads[""] = True

    # ---- placement ---------------------------------------------------------------------------------

    def connect(self, address: str, options: tuple[tuple[str, object], ...] = ()) -> grpc.Channel:
        """A channel to a peer node, secured as this node's own listener is."""
        return open_channel(address, self.tls, options)

    def apply_placement(self, pm: PlacementMap) -> None:
        """Open replicas newly placed here (learners included); update epochs and leadership of all;
        follow where we do not lead; retire replicas placed elsewhere now."""
        with self._lock:
            self._addresses = {n.node_id: n.address for n in pm.nodes.values()}
            self._leader_of_all = {s.shard_id: s.leader for s in pm.shards.values()}
            placed = {s.shard_id for s in pm.shards.values() if self.node_id in (*s.replicas, *s.learners)}
            for shard_id in [sid for sid in self._engines if sid not in placed and self.clustered]:
                self._retire(shard_id)
            for shard in pm.shards.values():
                if shard.shard_id not in placed:
                    continue
                leads = shard.leader == self.node_id and shard.serving
                self._shards[shard.shard_id] = shard
                engine = self._engines.get(shard.shard_id)
                if engine is None:
                    engine = self._open(shard.shard_id, leads)
                    self._engines[shard.shard_id] = engine
                engine.epoch = max(engine.epoch, shard.epoch)
                engine.voters = shard.replicas
                self._leads[shard.shard_id] = leads
                self._leader_of[shard.shard_id] = shard.leader
                follower = self._followers.get(shard.shard_id)
                if leads and follower is not None:
                    self._followers.pop(shard.shard_id)
                    follower.stop(wait=False)  # placement is applied on the membership loop: no blocking
                fence = self._fenced.get(shard.shard_id)
                if fence is not None and shard.epoch > fence[0]:
                    self._fenced.pop(shard.shard_id)  # the handoff happened: a new placement ends it
                    fence = None
                engine.lead(leads and fence is None)
                if not leads and follower is None:
                    self._followers[shard.shard_id] = Follower(self, shard.shard_id, self.metadata)

    def _retire(self, shard_id: str) -> None:
        """A replica moved away: stop following, forget it, then close it and delete its data in the
        background (placement is applied on the membership loop, which must not block). Holds the lock."""
        follower = self._followers.pop(shard_id, None)
        engine = self._engines.pop(shard_id)
        self._shards.pop(shard_id, None)
        self._leads.pop(shard_id, None)
        self._leader_of.pop(shard_id, None)
        path = self.data_dir / "shards" / shard_id

        def retire() -> None:
            if follower is not None:
                follower.stop()
            engine.close()
            retired = path.with_name(f"{shard_id}.retired")
            shutil.rmtree(retired, ignore_errors=True)
            path.rename(retired)
            shutil.rmtree(retired, ignore_errors=True)

        threading.Thread(target=retire, name=f"dash-retire-{shard_id}", daemon=True).start()

    def _open(self, shard_id: str, leads: bool) -> Engine:
        cfg = replace(self.config, shard_id=shard_id, node_id=self.node_id)
        return Engine(self.data_dir / "shards" / shard_id, cfg, lead=leads)

    # ---- replication -------------------------------------------------------------------------------

    def leader_address(self, shard_id: str) -> tuple[str, str] | None:
        """What this node's replica of ``shard_id`` should follow: the address of the leader and the
        shard whose stream to ask for — its own, or for a half of a split in progress the shard being
        split (whose leader may be this very node). None: it leads, or the leader is not registered."""
        with self._lock:
            shard = self._shards.get(shard_id)
            if shard is None or self._leads.get(shard_id, True):
                return None
            stream = shard.source or shard_id
            address = self._addresses.get(self._leader_of_all.get(stream, ""))
            return (address, stream) if address else None

    def for_replication(self, shard_id: str) -> Engine:
        """The replica a follower streams from: ours, if we lead the shard."""
        engine = self.engine(shard_id)
        if not self.is_leader(shard_id):
            with self._lock:
                leader = self._leader_of.get(shard_id, "")
            raise FailedPrecondition(
                f"shard_id: node '{self.node_id}' does not lead '{shard_id}' (leader: '{leader}')"
            )
        return engine

    def staging_dir(self, shard_id: str) -> Path:
        """An empty directory to receive a snapshot of ``shard_id`` in."""
        staging = self.data_dir / "shards" / f"{shard_id}.incoming"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        return staging

    def install_snapshot(self, shard_id: str, staging: Path) -> None:
        """Replace the replica of ``shard_id`` by the verified snapshot in ``staging``: close it, swap the
        directories, open the snapshot as a follower at the snapshot's LSN."""
        path = self.data_dir / "shards" / shard_id
        with self._lock:
            old = self._engines[shard_id]
            epoch, voters = old.epoch, old.voters
            old.close()
            retired = path.with_name(f"{shard_id}.retired")
            shutil.rmtree(retired, ignore_errors=True)
            path.rename(retired)
            staging.rename(path)
            engine = self._open(shard_id, leads=False)
            engine.epoch, engine.voters = epoch, voters
            self._engines[shard_id] = engine
        shutil.rmtree(retired, ignore_errors=True)

    def shard_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._engines)

    # ---- request routing ---------------------------------------------------------------------------

    def engine(self, shard_id: str) -> Engine:
        with self._lock:
            engine = self._engines.get(shard_id)
        if engine is None:
            if not self.clustered and not shard_id:
                raise NotFound("shard_id: this node hosts no shard")
            raise NotFound(f"shard_id: this node hosts no replica of shard '{shard_id}'")
        return engine

    def for_write(self, write: dash_pb2.WriteOptions) -> Engine:
        """The engine a write goes to, after the epoch and leadership checks."""
        engine = self.engine(write.shard_id)
        if not self.clustered:
            return engine
        if write.epoch == 0:
            raise FailedPrecondition("write.epoch: required in a cluster (writes come through the router)")
        if not self.lease_current():
            raise Unavailable(
                f"node '{self.node_id}' has no current cluster lease (cut off from etcd?): no writes"
            )
        if write.epoch > engine.epoch and self.refresh is not None:
            self.refresh()  # our watch may lag the router's: catch up before judging
        if write.epoch < engine.epoch:
            raise StaleEpoch(write.epoch, engine.epoch)
        if write.epoch > engine.epoch:
            raise FailedPrecondition(f"write.epoch: {write.epoch} is newer than placement ({engine.epoch})")
        with self._lock:
            leads, leader = self._leads.get(write.shard_id, False), self._leader_of.get(write.shard_id, "")
            fence = self._fenced.get(write.shard_id)
        if fence is not None and leads:
            epoch, deadline = fence
            if epoch == engine.epoch and time.monotonic() < deadline:
                raise Unavailable(f"write.shard_id: '{write.shard_id}' is handing its leadership over: retry")
            self._unfence(write.shard_id)
        if not leads:
            raise FailedPrecondition(
                f"write.shard_id: node '{self.node_id}' is not the leader of shard '{write.shard_id}' "
                f"(leader: '{leader}')"
            )
        return engine

    def for_read(self, shard_id: str, read: dash_pb2.ReadOptions) -> Engine:
        """The engine a read goes to, if this replica may serve it: at or past the write the client
        reads after, and (a follower) no staler than the bound. Refusals name ``read.`` so the router
        asks another replica."""
        engine = self.engine(shard_id)
        committed = engine.feed.committed_lsn
        for pos in read.after:
            if pos.shard_id == shard_id and committed < pos.lsn:
                raise FailedPrecondition(
                    f"read.after: this replica of '{shard_id}' is at LSN {committed}, the write at {pos.lsn}"
                )
        if read.max_staleness_ms and not self.is_leader(shard_id):
            stale = engine.feed.staleness()
            if stale * 1000 > read.max_staleness_ms:
                raise FailedPrecondition(
                    f"read.max_staleness_ms: this follower of '{shard_id}' is {stale:.2f} s stale"
                )
        return engine

    def fence(self, shard_id: str, epoch: int, seconds: float) -> int:
        """Leader handoff: take no more writes for ``shard_id`` at ``epoch`` (for at most ``seconds``),
        stop the edge builder, let queued writes commit; returns the last committed LSN."""
        engine = self.for_replication(shard_id)
        if epoch != engine.epoch:
            raise StaleEpoch(epoch, engine.epoch)
        with self._lock:
            self._fenced[shard_id] = (epoch, time.monotonic() + min(max(seconds, 0.0), 60.0))
        engine.lead(False)  # the new leader's builder takes the pending claims over
        return engine.drain()

    def trim(self, shard_id: str, epoch: int) -> dash_pb2.WriteResponse:
        """After a split, on the leader of a half: drop the claims outside the shard's range."""
        engine = self.for_replication(shard_id)
        if epoch != engine.epoch:
            raise StaleEpoch(epoch, engine.epoch)
        with self._lock:
            shard = self._shards[shard_id]
        return engine.trim_to_range(shard.start, shard.end)

    def _unfence(self, shard_id: str) -> None:
        """The fence ran out with placement unchanged (the handoff did not happen): lead again."""
        with self._lock:
            self._fenced.pop(shard_id, None)
            leads = self._leads.get(shard_id, False)
        if leads:
            self.engine(shard_id).lead(True)

    def is_leader(self, shard_id: str) -> bool:
        with self._lock:
            return self._leads.get(shard_id, False)

    def close(self) -> None:
        with self._lock:
            followers, self._followers = list(self._followers.values()), {}
        for follower in followers:
            follower.stop()
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.close()
