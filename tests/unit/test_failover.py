"""Failover works on placement changes, not on a clock: an idle node reads placement once per change,
and a node whose shard lost its leader keeps trying (a peer that does not answer defers the decision)
until it promotes the replica furthest ahead."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace

from dash_node.failover import Failover
from dash_node.placement import KEYSPACE, NodeInfo, PlacementMap, ShardPlacement

SHARD = ShardPlacement("s0", 0, KEYSPACE, ("a", "b", "c"), "a", epoch=3)


def _placement(*live: str, shard: ShardPlacement = SHARD) -> PlacementMap:
    return PlacementMap(
        shards={shard.shard_id: shard},
        shard_revisions={shard.shard_id: 7},
        nodes={n: NodeInfo(n, f"127.0.0.1:{i + 1}") for i, n in enumerate(live)},
    )


class _Watcher:
    """Counts the reads of ``current``: each is one look at placement by the failover loop."""

    def __init__(self, pm: PlacementMap) -> None:
        self._pm, self.reads = pm, 0
        self.failover: Failover | None = None

    @property
    def current(self) -> PlacementMap:
        self.reads += 1
        return self._pm

    def change(self, pm: PlacementMap) -> None:
        self._pm = pm
        assert self.failover is not None
        self.failover.placement_changed()

    async def refresh(self) -> PlacementMap:
        return self._pm


class _Store:
    def __init__(self, watcher: _Watcher) -> None:
        self.watcher, self.swaps = watcher, []

    async def replace_shards(self, expected: dict[str, int], new: list[ShardPlacement]) -> bool:
        self.swaps.append((expected, new))
        self.watcher.change(replace(self.watcher._pm, shards={s.shard_id: s for s in new}))
        return True


def _failover(pm: PlacementMap, committed_lsn: int, peer_answers: list[int | None]):
    host = SimpleNamespace(
        node_id="b",
        lease_current=lambda: True,
        engine=lambda shard_id: SimpleNamespace(feed=SimpleNamespace(committed_lsn=committed_lsn)),
    )
    watcher = _Watcher(pm)
    store = _Store(watcher)
    failover = Failover(host, store, watcher, interval=0.001)  # type: ignore[arg-type]
    watcher.failover = failover
    answers = iter(peer_answers)
    failover._position = lambda address, shard_id: next(answers)  # type: ignore[method-assign]
    return failover, watcher, store


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.001)


def test_an_idle_node_looks_at_placement_once_per_change() -> None:
    async def scenario() -> None:
        failover, watcher, store = _failover(_placement("a", "b", "c"), 10, [])
        task = asyncio.create_task(failover.run())
        await _until(lambda: watcher.reads == 1)
        await asyncio.sleep(0.05)  # fifty intervals: a polling loop would have looked fifty times
        assert watcher.reads == 1
        watcher.change(_placement("a", "b"))  # a follower went: the leader is still there
        await _until(lambda: watcher.reads == 2)
        await asyncio.sleep(0.05)
        assert watcher.reads == 2 and store.swaps == []
        task.cancel()

    asyncio.run(scenario())


def test_a_leaderless_shard_is_retried_until_the_replica_furthest_ahead_is_promoted() -> None:
    async def scenario() -> None:
        # c does not answer three times: it may be ahead of us, so b waits, and asks again on its own.
        failover, watcher, store = _failover(_placement("a", "b", "c"), 10, [None, None, None, 5])
        task = asyncio.create_task(failover.run())
        await _until(lambda: watcher.reads == 1)
        watcher.change(_placement("b", "c"))  # a's registration expired
        await _until(lambda: len(store.swaps) == 1)
        expected, (promoted,) = store.swaps[0]
        assert expected == {"s0": 7}
        assert (promoted.leader, promoted.epoch, promoted.replicas) == ("b", 4, SHARD.replicas)
        reads = watcher.reads
        await asyncio.sleep(0.05)  # led by b now: no more attempts
        assert len(store.swaps) == 1 and watcher.reads <= reads + 2
        task.cancel()

    asyncio.run(scenario())


def test_the_replica_behind_does_not_promote_itself() -> None:
    async def scenario() -> None:
        failover, watcher, store = _failover(_placement("b", "c"), 10, [12] * 1000)
        task = asyncio.create_task(failover.run())
        await _until(lambda: watcher.reads >= 20)  # it keeps checking while the shard is leaderless
        assert store.swaps == []
        watcher.change(_placement("b", "c", shard=replace(SHARD, leader="c", epoch=4)))  # c took over
        reads = watcher.reads
        await asyncio.sleep(0.05)
        assert watcher.reads <= reads + 2 and store.swaps == []
        task.cancel()

    asyncio.run(scenario())
