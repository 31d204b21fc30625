"""The shard replicas one node process hosts, and what placement says about them.

Standalone (no etcd): one replica, shard id "", in the data directory itself.
In a cluster: a replica for every shard whose placement lists this node, in ``<data>/shards/<id>``;
the replica learns its epoch and whether it leads from the placement watch. Writes must come from the
router with the shard's current epoch and must reach its leader; anything else is refused, so a write
routed on an old placement can never land.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dash_client._pb.dash.v1 import dash_pb2
from dash_node.engine import Engine, EngineConfig
from dash_node.errors import FailedPrecondition, NotFound, StaleEpoch
from dash_node.placement import PlacementMap


class ShardHost:
    """Holds the node's engines by shard id and checks every request against placement."""

    def __init__(self, data_dir: Path, config: EngineConfig, node_id: str = "") -> None:
        self.data_dir = Path(data_dir)
        self.config = config
        self.node_id = node_id
        self.clustered = bool(node_id)
        self._lock = threading.Lock()
        self._engines: dict[str, Engine] = {}
        self._leads: dict[str, bool] = {}
        self._leader_of: dict[str, str] = {}
        # Called when a write carries an epoch newer than ours: re-read placement, then re-check.
        self.refresh: Callable[[], None] | None = None
        if not self.clustered:
            self._engines[""] = Engine(self.data_dir, config)
            self._leads[""] = True

    # ---- placement ---------------------------------------------------------------------------------

    def apply_placement(self, pm: PlacementMap) -> None:
        """Open replicas newly placed here; update epochs and leadership of all."""
        with self._lock:
            for shard in pm.shards.values():
                if self.node_id not in shard.replicas:
                    continue
                engine = self._engines.get(shard.shard_id)
                if engine is None:
                    cfg = replace(self.config, shard_id=shard.shard_id)
                    engine = Engine(self.data_dir / "shards" / shard.shard_id, cfg)
                    self._engines[shard.shard_id] = engine
                engine.epoch = max(engine.epoch, shard.epoch)
                self._leads[shard.shard_id] = shard.leader == self.node_id
                self._leader_of[shard.shard_id] = shard.leader

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
        if write.epoch > engine.epoch and self.refresh is not None:
            self.refresh()  # our watch may lag the router's: catch up before judging
        if write.epoch < engine.epoch:
            raise StaleEpoch(write.epoch, engine.epoch)
        if write.epoch > engine.epoch:
            raise FailedPrecondition(f"write.epoch: {write.epoch} is newer than placement ({engine.epoch})")
        with self._lock:
            leads, leader = self._leads.get(write.shard_id, False), self._leader_of.get(write.shard_id, "")
        if not leads:
            raise FailedPrecondition(
                f"write.shard_id: node '{self.node_id}' is not the leader of shard '{write.shard_id}' "
                f"(leader: '{leader}')"
            )
        return engine

    def is_leader(self, shard_id: str) -> bool:
        with self._lock:
            return self._leads.get(shard_id, False)

    def close(self) -> None:
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.close()
