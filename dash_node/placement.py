"""The placement map: which shard owns which slice of the routing keyspace, where its replicas live,
which replica leads, and at which epoch.

Shards split one 64-bit keyspace into half-open ranges. A claim's position is a hash of (tenant, routing
key), where the routing key is the claim's subject, else its first entity, else its id — so claims about
the same subject meet on one shard, where ingest-time checks can see each other. Documents route by
document id. Every change of a shard's placement bumps that shard's epoch; writes carry the epoch they
were routed with, and replicas refuse older ones.

This module is pure data; ``etcd_placement`` stores it in etcd.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

KEYSPACE = 1 << 64


def routing_hash(tenant_id: str, routing_key: str) -> int:
    """Position in the keyspace: blake2b-64 of (tenant, key), length-prefixed so no two pairs collide."""
    h = hashlib.blake2b(digest_size=8)
    for part in (tenant_id, routing_key):
        raw = part.encode("utf-8")
        h.update(len(raw).to_bytes(4, "big"))
        h.update(raw)
    return int.from_bytes(h.digest(), "big")


def claim_routing_key(claim_id: str, subject: str, entities: list[str] | tuple[str, ...]) -> str:
    """Subject, else first entity, else the claim id; case- and space-insensitive for names."""
    for name in (subject, *(entities[:1])):
        if name and name.strip():
            return "s:" + " ".join(name.casefold().split())
    return "c:" + claim_id


def document_routing_key(doc_id: str) -> str:
    return "d:" + doc_id


@dataclass(frozen=True)
class ShardPlacement:
    """One shard: the range [start, end) of the keyspace it owns, its replicas and their leader."""

    shard_id: str
    start: int
    end: int
    replicas: tuple[str, ...]
    leader: str
    epoch: int = 1
    # Replicas being built on other nodes (a move in progress): they follow the leader but do not vote
    # in `replicated` acknowledgements, serve no reads and are not promoted.
    learners: tuple[str, ...] = ()
    # A half of a split in progress: built from shard ``source`` (its replicas follow that shard's
    # leader); it takes no traffic until the split switches placement over to it.
    source: str = ""

    @property
    def serving(self) -> bool:
        return not self.source

    def owns(self, position: int) -> bool:
        return self.start <= position < self.end

    def to_json(self) -> bytes:
        d = asdict(self)
        d["replicas"] = list(self.replicas)
        d["learners"] = list(self.learners)
        return json.dumps(d, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ShardPlacement:
        d = json.loads(raw)
        return cls(
            shard_id=d["shard_id"],
            start=int(d["start"]),
            end=int(d["end"]),
            replicas=tuple(d["replicas"]),
            leader=d["leader"],
            epoch=int(d["epoch"]),
            learners=tuple(d.get("learners", ())),
            source=d.get("source", ""),
        )


@dataclass(frozen=True)
class NodeInfo:
    """A live node's registration (its key lives as long as the node's etcd lease)."""

    node_id: str
    address: str
    metrics_address: str = ""
    pid: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> NodeInfo:
        d = json.loads(raw)
        return cls(d["node_id"], d["address"], d.get("metrics_address", ""), int(d.get("pid", 0)))


@dataclass
class PlacementMap:
    """A consistent view of shards and live nodes as of one etcd revision."""

    shards: dict[str, ShardPlacement] = field(default_factory=dict)
    # The etcd mod_revision of each shard's key: the compare value for a transaction that changes it.
    shard_revisions: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    revision: int = 0

    def shard_for(self, position: int) -> ShardPlacement:
        for shard in self.shards.values():
            if shard.serving and shard.owns(position):
                return shard
        raise LookupError(f"no shard owns position {position}")

    def ordered(self) -> list[ShardPlacement]:
        """The serving shards, by range (halves of a split in progress are left out)."""
        return sorted((s for s in self.shards.values() if s.serving), key=lambda s: s.start)

    def covers_keyspace(self) -> bool:
        """The shards tile [0, 2^64) with no gap or overlap."""
        at = 0
        for shard in self.ordered():
            if shard.start != at or shard.end <= shard.start:
                return False
            at = shard.end
        return at == KEYSPACE


def initial_shards(n_shards: int, node_ids: list[str], replicas: int) -> list[ShardPlacement]:
    """Even ranges; replicas placed round-robin so leaders spread over the nodes."""
    if n_shards < 1 or not node_ids or not 1 <= replicas <= len(node_ids):
        raise ValueError("need n_shards >= 1 and 1 <= replicas <= number of nodes")
    step = KEYSPACE // n_shards
    out = []
    for i in range(n_shards):
        start = i * step
        end = KEYSPACE if i == n_shards - 1 else (i + 1) * step
        members = tuple(node_ids[(i + j) % len(node_ids)] for j in range(replicas))
        out.append(ShardPlacement(f"s{i}", start, end, members, members[0], 1))
    return out
