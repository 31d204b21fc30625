"""The follower's side of replication: a thread per follower replica keeps it in step with its leader.

It tails the leader's ``Replicate`` stream from its own last record, applies each run of records through
the engine (WAL, then state, then indexes, at the leader's LSNs), and acknowledges what is durable. When
the leader cannot prove a shared history (the follower diverged, or the leader's WAL no longer reaches
back), it fetches a snapshot, verifies every file against the manifest, installs it in place of the
replica and tails from there. When placement names another leader it simply reconnects there.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from dash_client._pb.dash.v1 import node_pb2, node_pb2_grpc
from dash_node.errors import DashError
from dash_node.metrics import NODE as METRICS
from dash_node.replication import file_crc
from dash_node.wal import WalRecord

if TYPE_CHECKING:
    from dash_node.host import ShardHost

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 16 << 20


class NeedSnapshot(Exception):
    """The leader cannot stream to this replica from where it is."""


class Follower:
    """Keeps the replica of ``shard_id`` on this node in step with the shard's leader."""

    def __init__(self, host: ShardHost, shard_id: str, metadata: tuple[tuple[str, str], ...]) -> None:
        self.host = host
        self.shard_id = shard_id
        self._metadata = metadata
        self._stop = threading.Event()
        self._call: grpc.Future | None = None
        self._lag = METRICS.replication_lag_records.labels(shard_id=shard_id)
        self._staleness = METRICS.replication_staleness_seconds.labels(shard_id=shard_id)
        self.snapshots_installed = 0
        self._thread = threading.Thread(target=self._run, name=f"dash-follow-{shard_id}", daemon=True)
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        """Stop following; ``wait=False`` returns at once (the thread ends after its current step)."""
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        if wait:
            self._thread.join(10)

    # ---- the thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            target = self.host.leader_address(self.shard_id)
            if target is None:
                self._stop.wait(0.1)
                continue
            address, stream = target
            try:
                with self.host.connect(address, _OPTIONS) as channel:
                    stub = node_pb2_grpc.NodeStub(channel)
                    try:
                        self._follow(stub, target)
                    except NeedSnapshot as exc:
                        log.warning("shard %s: %s; fetching a snapshot from %s", self.shard_id, exc, address)
                        self._bootstrap(stub, stream)
                backoff = 0.05
            except (grpc.RpcError, DashError, OSError) as exc:
                if self._stop.is_set():
                    return
                log.info("shard %s: following %s failed (%s); retrying", self.shard_id, address, _brief(exc))
                self._pause(backoff, target)
                backoff = min(backoff * 2, 0.5)

    def _pause(self, seconds: float, target: tuple[str, str]) -> None:
        """Back off before trying ``target`` again — but not a moment longer once placement names a new
        leader (after a failover the new leader's first `replicated` writes wait for us)."""
        deadline = time.monotonic() + seconds
        while not self._stop.wait(min(0.02, max(deadline - time.monotonic(), 0))):
            if time.monotonic() >= deadline or self.host.leader_address(self.shard_id) != target:
                return

    def _follow(self, stub: node_pb2_grpc.NodeStub, target: tuple[str, str]) -> None:
        """Tail ``target`` (leader address, stream shard) until it stops being what to follow."""
        engine = self.host.engine(self.shard_id)
        last = engine.feed.committed_lsn
        stream = target[1]
        acks: queue.Queue = queue.Queue()
        acks.put(
            node_pb2.ReplicateRequest(
                shard_id=stream,
                node_id=self.host.node_id,
                last_lsn=last,
                last_crc=engine.crc_at(last) or 0,
                durable_lsn=last,
                replica_shard_id="" if stream == self.shard_id else self.shard_id,
            )
        )

        def requests() -> Iterator[node_pb2.ReplicateRequest]:
            while (req := acks.get()) is not None:
                yield req

        self._call = call = stub.Replicate(requests(), metadata=self._metadata)
        try:
            for resp in call:
                if self._stop.is_set() or self.host.leader_address(self.shard_id) != target:
                    return  # stopped, or placement names another leader or stream now
                if resp.records:
                    records = [WalRecord(r.lsn, r.type, r.payload) for r in resp.records]
                    try:
                        durable = engine.apply_replicated(records)
                    except DashError as exc:
                        if exc.code == "UNAVAILABLE":
                            raise
                        raise NeedSnapshot(f"leader records do not apply here ({exc.message})") from exc
                    acks.put(node_pb2.ReplicateRequest(durable_lsn=durable))
                engine.feed.heard(resp.leader_lsn)
                self._lag.set(max(0, resp.leader_lsn - engine.feed.committed_lsn))
                self._staleness.set(engine.feed.staleness())
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "snapshot" in (exc.details() or ""):
                raise NeedSnapshot(exc.details()) from exc
            raise
        finally:
            acks.put(None)
            call.cancel()
            self._call = None

    def _bootstrap(self, stub: node_pb2_grpc.NodeStub, stream: str) -> None:
        """Fetch, verify and install a snapshot of the leader's replica of ``stream``."""
        staging = self.host.staging_dir(self.shard_id)
        manifest = None
        request = node_pb2.FetchSnapshotRequest(shard_id=stream, node_id=self.host.node_id)
        for chunk in stub.FetchSnapshot(request, metadata=self._metadata):
            if chunk.HasField("manifest"):
                manifest = chunk.manifest
                break
            target = _inside(staging, chunk.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("r+b" if chunk.offset else "wb") as fh:
                fh.seek(chunk.offset)
                fh.write(chunk.data)
        if manifest is None:
            raise NeedSnapshot("the snapshot stream ended without its manifest")
        for f in manifest.files:
            path = _inside(staging, f.path)
            if not path.is_file() or path.stat().st_size != f.size or file_crc(path) != f.crc32c:
                shutil.rmtree(staging, ignore_errors=True)
                raise NeedSnapshot(f"snapshot file {f.path} does not match its manifest")
        self.host.install_snapshot(self.shard_id, staging)
        self.snapshots_installed += 1
        log.info("shard %s: installed a snapshot at LSN %d", self.shard_id, manifest.lsn)


_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


def _inside(root: Path, relative: str) -> Path:
    """A manifest path, refused if it would leave the staging directory."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise NeedSnapshot(f"snapshot path {relative!r} leaves the replica directory")
    return path


def _brief(exc: BaseException) -> str:
    if isinstance(exc, grpc.RpcError):
        return f"{exc.code().name}: {exc.details()}"
    return repr(exc)
