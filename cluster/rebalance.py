"""Moving a shard replica to another node, online: ``dash cluster move --shard S --to NODE``.

1. The target joins as a *learner* (one placement transaction, epoch + 1): it opens an empty replica and
   follows the leader — from the leader's WAL, or from a snapshot if the WAL no longer reaches back —
   without voting in `replicated` acknowledgements or serving reads.
2. Once it has caught up, if the replica leaving is the leader, the leader is fenced: it takes no more
   writes (clients' retries ride this out), lets queued writes commit and says its last LSN; the
   target must hold that LSN before the switch.
3. One transaction switches placement (the target becomes a voter — and the leader, if the leader
   left — the source is dropped, epoch + 1). Routers follow their watch; the source retires its replica
   and deletes its data once it sees the new placement.

Each transaction holds only if the shard's key is unchanged since it was read, so a move never races a
failover into an inconsistent placement: it fails and can be run again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import grpc

from cluster.access import NodeAccess
from dash_client._pb.dash.v1 import node_pb2
from dash_node.etcd_placement import PlacementStore
from dash_node.placement import PlacementMap, ShardPlacement

FENCE_SECONDS = 10.0


class MoveError(Exception):
    """The move cannot be made (bad arguments, or placement changed under it)."""


def _applied(pm: PlacementMap, node_id: str, shard_id: str, access: NodeAccess) -> int:
    """The replica's applied LSN; -1 while the node has not yet created it (it learns of a new replica
    from its placement watch, a moment after the placement changed)."""
    try:
        stats = access.call(pm.nodes[node_id].address, "Stats", node_pb2.StatsRequest(shard_id=shard_id))
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return -1
        raise
    return stats.applied_lsn


async def _swap(store: PlacementStore, pm: PlacementMap, new: ShardPlacement) -> PlacementMap:
    if not await store.replace_shards({new.shard_id: pm.shard_revisions[new.shard_id]}, [new]):
        raise MoveError(f"placement of {new.shard_id} changed during the move (a failover?): run it again")
    return await store.load()


async def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise MoveError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


async def _reach(
    pm: PlacementMap, access: NodeAccess, replicas: list[tuple[str, str]], lsn: int, timeout: float
) -> None:
    """Wait until every (node, shard) replica has applied ``lsn``."""
    for node, shard_id in replicas:
        await _wait(
            lambda n=node, s=shard_id: _applied(pm, n, s, access) >= lsn,
            timeout,
            f"{shard_id} on {node} at {lsn}",
        )


async def move_replica(
    etcd: str, access: NodeAccess, shard_id: str, to: str, source: str = "", timeout: float = 120.0
) -> dict:
    """Move the replica of ``shard_id`` on ``source`` (default: a follower) to node ``to``; returns a
    record of the move (placements before and after, timings)."""
    store = PlacementStore(etcd)
    started = time.monotonic()
    try:
        pm = await store.load()
        shard = pm.shards.get(shard_id)
        if shard is None:
            raise MoveError(f"--shard: no shard '{shard_id}'")
        if to not in pm.nodes:
            raise MoveError(f"--to: node '{to}' is not registered")
        if to in shard.replicas:
            raise MoveError(f"--to: node '{to}' already holds a replica of '{shard_id}'")
        followers = [n for n in shard.replicas if n != shard.leader]
        source = source or (followers[0] if followers else shard.leader)
        if source not in shard.replicas:
            raise MoveError(f"--from: node '{source}' holds no replica of '{shard_id}'")
        before = shard
        pm = await _swap(store, pm, replace(shard, learners=(to,), epoch=shard.epoch + 1))
        leader = pm.shards[shard_id].leader
        await _reach(pm, access, [(to, shard_id)], _applied(pm, leader, shard_id, access), timeout)
        caught_up = time.monotonic()
        new_leader, fenced_lsn = leader, None
        if source == leader:
            new_leader = to
            epoch = pm.shards[shard_id].epoch
            fence = node_pb2.FenceRequest(shard_id=shard_id, epoch=epoch, seconds=FENCE_SECONDS)
            fenced_lsn = access.call(pm.nodes[leader].address, "Fence", fence).applied_lsn
            await _reach(pm, access, [(to, shard_id)], fenced_lsn, FENCE_SECONDS)
        current = pm.shards[shard_id]
        after = replace(
            current,
            replicas=(*(n for n in current.replicas if n != source), to),
            learners=(),
            leader=new_leader,
            epoch=current.epoch + 1,
        )
        await _swap(store, pm, after)
        return {
            "shard_id": shard_id,
            "from": source,
            "to": to,
            "before": {"replicas": list(before.replicas), "leader": before.leader, "epoch": before.epoch},
            "after": {"replicas": list(after.replicas), "leader": after.leader, "epoch": after.epoch},
            "leader_handoff": source == before.leader,
            "fenced_at_lsn": fenced_lsn,
            "catch_up_seconds": round(caught_up - started, 3),
            "seconds": round(time.monotonic() - started, 3),
        }
    except grpc.RpcError as exc:
        raise MoveError(f"a node did not answer: {exc.code().name}: {exc.details()}") from exc
    finally:
        await store.close()


async def split_shard(
    etcd: str, access: NodeAccess, shard_id: str, at: int | None = None, timeout: float = 120.0
) -> dict:
    """Split ``shard_id`` at ``at`` (default: the middle of its range) into ``<id>-0`` and ``<id>-1``
    on the same replicas, online; returns a record of the split."""
    store = PlacementStore(etcd)
    started = time.monotonic()
    try:
        pm = await store.load()
        shard = pm.shards.get(shard_id)
        if shard is None or not shard.serving:
            raise MoveError(f"--shard: no serving shard '{shard_id}'")
        at = (shard.start + shard.end) // 2 if at is None else at
        if not shard.start < at < shard.end:
            raise MoveError(f"--at: {at} is not inside the shard's range [{shard.start}, {shard.end})")
        halves = [
            replace(
                shard, shard_id=f"{shard_id}-0", end=at, source=shard_id, learners=(), epoch=shard.epoch + 1
            ),
            replace(
                shard, shard_id=f"{shard_id}-1", start=at, source=shard_id, learners=(), epoch=shard.epoch + 1
            ),
        ]
        # 1. The halves appear on the shard's replicas and copy it (following its leader).
        expected = {shard_id: pm.shard_revisions[shard_id], **{h.shard_id: 0 for h in halves}}
        if not await store.replace_shards(expected, halves):
            raise MoveError(f"placement of {shard_id} changed (or a half exists already): run it again")
        pm = await store.load()
        leader = shard.leader
        copies = [(node, h.shard_id) for h in halves for node in h.replicas]
        await _reach(pm, access, copies, _applied(pm, leader, shard_id, access), timeout)
        copied = time.monotonic()
        # 2. Fence the shard's leader; every copy must hold its last LSN.
        fence = node_pb2.FenceRequest(shard_id=shard_id, epoch=shard.epoch, seconds=FENCE_SECONDS)
        fenced_lsn = access.call(pm.nodes[leader].address, "Fence", fence).applied_lsn
        await _reach(pm, access, copies, fenced_lsn, FENCE_SECONDS)
        # 3. One transaction: the halves serve, the shard is gone.
        final = [replace(h, source="", epoch=h.epoch + 1) for h in halves]
        expected = {
            shard_id: pm.shard_revisions[shard_id],
            **{h.shard_id: pm.shard_revisions[h.shard_id] for h in halves},
        }
        if not await store.replace_shards(expected, final, remove=(shard_id,)):
            raise MoveError(f"placement of {shard_id} changed during the split: run it again")
        switched = time.monotonic()
        pm = await store.load()
        # 4. Each half's leader drops the other half's claims (once it has applied the new placement).
        trimmed = {}
        for h in final:
            request = node_pb2.TrimRequest(shard_id=h.shard_id, epoch=h.epoch)

            def trim(h=h, request=request) -> bool:
                try:
                    trimmed[h.shard_id] = access.call(pm.nodes[h.leader].address, "TrimToRange", request).lsn
                    return True
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                        raise
                    return False  # the node has not seen the new placement yet

            await _wait(trim, timeout, f"{h.shard_id} to trim")
        return {
            "shard_id": shard_id,
            "at": hex(at),
            "halves": {
                h.shard_id: {"range": [hex(h.start), hex(h.end)], "epoch": h.epoch, "leader": h.leader}
                for h in final
            },
            "epoch_before": shard.epoch,
            "fenced_at_lsn": fenced_lsn,
            "trimmed_at_lsn": trimmed,
            "copy_seconds": round(copied - started, 3),
            "fence_to_switch_seconds": round(switched - copied, 3),
            "seconds": round(time.monotonic() - started, 3),
        }
    except grpc.RpcError as exc:
        raise MoveError(f"a node did not answer: {exc.code().name}: {exc.details()}") from exc
    finally:
        await store.close()
