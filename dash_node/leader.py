"""The leader's side of replication: the WAL stream a follower tails, and the snapshot it starts from.

A follower opens ``Replicate`` with its last record (LSN and payload crc). The leader streams from the
next LSN only if it holds the very same record there — the same record at the same LSN means the same
history before it — and otherwise refuses with FAILED_PRECONDITION, after which the follower fetches a
snapshot. Records are streamed only once committed (durable and applied) on the leader, from memory
while it still holds them, else from the WAL. When idle the leader sends a heartbeat every
``HEARTBEAT_S``, which tells the follower how far the leader is (staleness) and that it is alive. The
follower's further messages acknowledge what it made durable.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from dash_client._pb.dash.v1 import node_pb2
from dash_node.errors import FailedPrecondition, InvalidArgument

if TYPE_CHECKING:
    from dash_node.host import ShardHost
    from dash_node.replication import Feed

HEARTBEAT_S = 0.25
CHUNK_BYTES = 1 << 20


def stream_records(
    host: ShardHost, requests: Iterator[node_pb2.ReplicateRequest], active: Callable[[], bool]
) -> Iterator[node_pb2.ReplicateResponse]:
    """Serve one follower's ``Replicate`` stream until it goes away or this node stops leading."""
    first = next(requests, None)
    if first is None:
        return
    if not isinstance(first, node_pb2.ReplicateRequest):
        raise InvalidArgument(getattr(first, "field", "request"), "malformed")
    engine = host.for_replication(first.shard_id)
    feed = engine.feed
    position = first.last_lsn
    if position > feed.committed_lsn or engine.crc_at(position) != first.last_crc:
        raise FailedPrecondition(
            f"last_lsn: the follower's record {position} is not this leader's (history diverged, or the "
            "WAL no longer holds it): fetch a snapshot"
        )
    # A half of a split in progress acknowledges under its own name, so it never counts as a voter.
    who = f"{first.node_id}/{first.replica_shard_id}" if first.replica_shard_id else first.node_id
    feed.ack(who, first.durable_lsn)
    threading.Thread(
        target=_read_acks, args=(requests, feed, who), name="dash-repl-acks", daemon=True
    ).start()
    while active() and host.is_leader(first.shard_id) and not engine.closed:
        records = engine.records_after(position)
        if records:
            yield node_pb2.ReplicateResponse(
                records=[node_pb2.WalRecord(lsn=r.lsn, type=r.type, payload=r.payload) for r in records],
                leader_lsn=feed.committed_lsn,
                epoch=engine.epoch,
            )
            position = records[-1].lsn
        elif not feed.wait_beyond(position, HEARTBEAT_S):
            yield node_pb2.ReplicateResponse(leader_lsn=feed.committed_lsn, epoch=engine.epoch)
    if active():
        raise FailedPrecondition(f"shard_id: this node no longer leads shard '{first.shard_id}'")


def _read_acks(requests: Iterator[node_pb2.ReplicateRequest], feed: Feed, node_id: str) -> None:
    try:
        for req in requests:
            feed.ack(node_id, req.durable_lsn)
    except Exception:  # the stream ended (cancelled, or the follower went away)
        return


def snapshot_chunks(
    host: ShardHost, request: node_pb2.FetchSnapshotRequest
) -> Iterator[node_pb2.SnapshotChunk]:
    """A consistent snapshot of the shard's leader replica, file by file in chunks, then the manifest."""
    engine = host.for_replication(request.shard_id)
    with tempfile.TemporaryDirectory(prefix="snapshot-", dir=host.data_dir) as tmp:
        root = Path(tmp)
        manifest = engine.snapshot_to(root)
        for f in manifest.files:
            with (root / f.path).open("rb") as fh:
                offset = 0
                while chunk := fh.read(CHUNK_BYTES):
                    yield node_pb2.SnapshotChunk(path=f.path, offset=offset, data=chunk)
                    offset += len(chunk)
        yield node_pb2.SnapshotChunk(manifest=manifest)
