"""Placement in etcd: the only coordinator.

Keys (all under ``/dash/``):
  ``/dash/shards/<shard_id>``  a ShardPlacement (JSON); changed only by transactions that compare the
                               key's previous mod_revision — never with etcd locks.
  ``/dash/nodes/<node_id>``    a NodeInfo bound to the node's lease; it expires when the node dies.

``PlacementWatcher`` keeps a live ``PlacementMap``: it loads a snapshot, watches from the next revision,
and on a broken or compacted watch re-reads everything and resumes from the new revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aetcd

from dash_node.placement import NodeInfo, PlacementMap, ShardPlacement

log = logging.getLogger(__name__)

PREFIX = b"/dash/"
SHARDS = b"/dash/shards/"
NODES = b"/dash/nodes/"


def parse_endpoints(spec: str) -> list[tuple[str, int]]:
    """'127.0.0.1:2379,127.0.0.1:22379' -> [(host, port), ...]."""
    out = []
    for part in spec.split(","):
        part = part.strip().removeprefix("http://")
        if part:
            host, _, port = part.rpartition(":")
            out.append((host, int(port)))
    if not out:
        raise ValueError("etcd endpoints: none given")
    return out


class PlacementStore:
    """An etcd client for placement, trying each endpoint in turn until one answers."""

    def __init__(self, endpoints: str, timeout: float = 5.0) -> None:
        self.endpoints = parse_endpoints(endpoints)
        self.timeout = timeout
        self._client: aetcd.Client | None = None
        self._next = 0
        self._connecting = asyncio.Lock()

    async def client(self) -> aetcd.Client:
        async with self._connecting:  # one connection per store, however many tasks ask at once
            if self._client is None:
                self._client = await self._connect()
            return self._client

    async def _connect(self) -> aetcd.Client:
        last: Exception | None = None
        for _ in range(len(self.endpoints)):
            host, port = self.endpoints[self._next % len(self.endpoints)]
            self._next += 1
            c = aetcd.Client(host=host, port=port, timeout=self.timeout, connect_wait_timeout=self.timeout)
            try:
                await c.connect()
                await c.status()
            except Exception as exc:  # try the next member
                last = exc
                with contextlib.suppress(Exception):
                    await c.close()
                continue
            return c
        raise ConnectionError(f"no etcd endpoint answered: {last!r}")

    async def reset(self) -> None:
        """Drop the connection (after an error) so the next call reconnects, maybe to another member."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None

    async def close(self) -> None:
        await self.reset()

    async def load(self) -> PlacementMap:
        c = await self.client()
        got = await c.get_prefix(PREFIX)
        pm = PlacementMap(revision=got.header.revision)
        for kv in got:
            _apply_kv(pm, kv.key, kv.value, kv.mod_revision)
        return pm

    async def initialize(self, shards: list[ShardPlacement]) -> bool:
        """Write the first placement if there is none (every shard key must not exist yet)."""
        c = await self.client()
        keys = [SHARDS + s.shard_id.encode() for s in shards]
        ok, _ = await c.transaction(
            compare=[c.transactions.version(k) == 0 for k in keys],
            success=[c.transactions.put(k, s.to_json()) for k, s in zip(keys, shards, strict=True)],
            failure=[],
        )
        return ok

    async def replace_shards(
        self, expected: dict[str, int], new: list[ShardPlacement], remove: tuple[str, ...] = ()
    ) -> bool:
        """Atomically swap shard placements if each key in ``expected`` still has that mod_revision
        (0 = must not exist). The caller bumps epochs; a False return means someone else changed
        placement first: re-read and decide again."""
        c = await self.client()
        compare = []
        for shard_id, rev in expected.items():
            key = SHARDS + shard_id.encode()
            compare.append(c.transactions.mod(key) == rev if rev else c.transactions.version(key) == 0)
        ops = [c.transactions.put(SHARDS + s.shard_id.encode(), s.to_json()) for s in new]
        ops += [c.transactions.delete(SHARDS + sid.encode()) for sid in remove]
        ok, _ = await c.transaction(compare=compare, success=ops, failure=[])
        return ok

    async def register(self, info: NodeInfo, ttl: int) -> aetcd.Lease:
        """Put the node's key under a fresh lease; the caller keeps the lease alive."""
        c = await self.client()
        lease = await c.lease(ttl)
        await c.put(NODES + info.node_id.encode(), info.to_json(), lease=lease)
        return lease


def _apply_kv(pm: PlacementMap, key: bytes, value: bytes | None, mod_revision: int) -> None:
    if key.startswith(SHARDS):
        shard_id = key[len(SHARDS) :].decode()
        if value:
            pm.shards[shard_id] = ShardPlacement.from_json(value)
            pm.shard_revisions[shard_id] = mod_revision
        else:
            pm.shards.pop(shard_id, None)
            pm.shard_revisions.pop(shard_id, None)
    elif key.startswith(NODES):
        node_id = key[len(NODES) :].decode()
        if value:
            pm.nodes[node_id] = NodeInfo.from_json(value)
        else:
            pm.nodes.pop(node_id, None)


class PlacementWatcher:
    """Keeps ``current`` up to date from etcd and calls ``on_change`` after every change."""

    def __init__(
        self, store: PlacementStore, on_change: Callable[[PlacementMap], Awaitable[None] | None] | None = None
    ) -> None:
        self.store = store
        self.on_change = on_change
        self.current = PlacementMap()
        self.ready = asyncio.Event()
        self.reloads = 0

    async def refresh(self) -> PlacementMap:
        """Re-read the whole placement now (after a stale-epoch refusal, or a broken watch)."""
        pm = await self.store.load()
        if pm.revision >= self.current.revision:
            self.current = pm
            self.reloads += 1
            await self._notify()
        self.ready.set()
        return self.current

    async def run(self) -> None:
        """Forever: load, watch from the next revision, apply events; on any break, reload and resume."""
        backoff = 0.05
        while True:
            try:
                await self.refresh()
                c = await self.store.client()
                watch = await c.watch_prefix(PREFIX, start_revision=self.current.revision + 1)
                backoff = 0.05
                try:
                    async for event in watch:
                        value = event.kv.value if event.kind == aetcd.EventKind.PUT else None
                        _apply_kv(self.current, event.kv.key, value, event.kv.mod_revision)
                        self.current.revision = max(self.current.revision, event.kv.mod_revision)
                        await self._notify()
                finally:
                    with contextlib.suppress(Exception):
                        await watch.cancel()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broken connection, a compacted revision: start over
                log.warning("placement watch broke (%r); reloading in %.2fs", exc, backoff)
                await self.store.reset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _notify(self) -> None:
        if self.on_change is not None:
            result = self.on_change(self.current)
            if asyncio.iscoroutine(result):
                await result
