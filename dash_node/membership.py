"""A node's life in the cluster: its etcd registration (a lease kept alive) and its placement watch.

Runs an asyncio loop in one background thread (the etcd client is asyncio; the node's gRPC server is
threaded). If the node stops renewing — it died, or it is cut off from etcd — its registration expires
with the lease and the cluster sees it gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time

from dash_node.etcd_placement import PlacementStore, PlacementWatcher
from dash_node.failover import Failover
from dash_node.host import ShardHost
from dash_node.placement import NodeInfo, PlacementMap

log = logging.getLogger(__name__)


class Membership:
    """Registers ``node_id`` at ``address`` and keeps ``host`` in step with placement."""

    def __init__(self, host: ShardHost, etcd: str, lease_ttl: int = 10) -> None:
        self.host = host
        # Separate connections: a watch that breaks must not tear down the lease keepalive, and back.
        # Calls on the lease must give up well inside the TTL, so a dead etcd member is left in time.
        self.store = PlacementStore(etcd, timeout=max(lease_ttl / 4, 0.5))
        self.watcher = PlacementWatcher(PlacementStore(etcd), on_change=self._placement_changed)
        self.lease_ttl = lease_ttl
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="dash-membership", daemon=True)
        self._tasks: list[asyncio.Task] = []
        self.info: NodeInfo | None = None
        self._lease = None
        # Until when our lease is surely alive in etcd (loop clock): renewal sent + 80% of the TTL.
        self._valid_until = 0.0
        host.lease_current = self.lease_current
        self.failover = Failover(host, self.store, self.watcher)

    def start_watch(self, timeout: float = 30.0) -> None:
        """Load placement and open this node's replicas before the server takes requests."""
        self._thread.start()
        self._tasks.append(self._submit(self.watcher.run()))
        asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(self.watcher.ready.wait(), timeout), self.loop
        ).result()
        self.host.refresh = self.refresh

    def register(self, address: str, metrics_address: str = "") -> None:
        """Announce the node (after its server is bound), keep the lease alive from now on, and take
        part in failover."""
        self.info = NodeInfo(self.host.node_id, address, metrics_address, os.getpid())
        self._tasks.append(self._submit(self._keep_registered()))
        self._tasks.append(self._submit(self.failover.run()))

    def _placement_changed(self, pm: PlacementMap) -> None:
        self.host.apply_placement(pm)
        self.failover.placement_changed()

    def lease_current(self) -> bool:
        return time.monotonic() < self._valid_until

    def refresh(self, timeout: float = 5.0) -> None:
        asyncio.run_coroutine_threadsafe(self.watcher.refresh(), self.loop).result(timeout)

    def _submit(self, coro) -> asyncio.Task:
        return asyncio.run_coroutine_threadsafe(_as_task(coro), self.loop).result()

    async def _keep_registered(self) -> None:
        while True:
            try:
                sent = time.monotonic()
                lease = self._lease = await self.store.register(self.info, self.lease_ttl)
                self._valid_until = sent + 0.8 * self.lease_ttl
                log.info(
                    "registered node %s at %s (lease ttl %ss)",
                    self.info.node_id,
                    self.info.address,
                    self.lease_ttl,
                )
                while True:
                    await asyncio.sleep(self.lease_ttl / 3)
                    sent = time.monotonic()
                    reply = await lease.refresh()
                    if not reply.TTL:  # the lease is gone (we were cut off too long): register anew
                        break
                    self._valid_until = sent + 0.8 * self.lease_ttl
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("lease keepalive failed (%r); re-registering", exc)
                await self.store.reset()
                await asyncio.sleep(min(1.0, self.lease_ttl / 3))

    def stop(self) -> None:
        """Stop renewing and watching, and revoke the lease so the registration goes at once."""
        if not self._thread.is_alive():
            return

        async def shutdown() -> None:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(BaseException):
                    await task
            if self._lease is not None:
                with contextlib.suppress(Exception):
                    await self._lease.revoke()
            await self.store.close()
            await self.watcher.store.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


async def _as_task(coro) -> asyncio.Task:
    return asyncio.get_running_loop().create_task(coro)
