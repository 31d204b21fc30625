"""Replication at the engine level: a follower applying its leader's records ends identical to it (same
digest, same answers), from memory or from the WAL, across the edge builder's own records; a diverged or
trimmed history is refused; a snapshot carries a replica to a new place at one LSN."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.errors import FailedPrecondition
from dash_node.placement import KEYSPACE, claim_routing_key, document_routing_key, routing_hash
from dash_node.replication import file_crc
from dash_node.wal import WalConfig


def item(cid: str, text: str, subject: str = "") -> types_pb2.ClaimInput:
    return types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=cid, text=text, subject=subject))


def fill(leader: Engine, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        leader.ingest_batch(
            "t",
            [
                item(f"c{i}", f"The Rhine is {1200 + i} km long.", "Rhine"),
                item(f"d{i}", f"ferry number {i} leaves at noon"),
            ],
            write=dash_pb2.WriteOptions(wait_for_detection=True),
        )


def catch_up(follower: Engine, leader: Engine, batch_bytes: int = 4 << 20) -> None:
    while follower.feed.committed_lsn < leader.feed.committed_lsn:
        follower.apply_replicated(leader.records_after(follower.feed.committed_lsn, batch_bytes))


def same(a: Engine, b: Engine) -> None:
    assert a.feed.committed_lsn == b.feed.committed_lsn
    assert a.stats(digest=True).digest == b.stats(digest=True).digest
    q = dash_pb2.RetrieveRequest(tenant_id="t", query="How long is the Rhine?", top_k=5)
    assert [r.claim.claim_id for r in a.retrieve(q).results] == [
        r.claim.claim_id for r in b.retrieve(q).results
    ]


def test_a_follower_ends_identical_and_never_judges(tmp_path: Path) -> None:
    with Engine(tmp_path / "leader") as leader, Engine(tmp_path / "follower", lead=False) as follower:
        fill(leader, 6)
        catch_up(follower, leader, batch_bytes=1)  # one record at a time
        same(leader, follower)
        assert follower.detector is None
        edges = follower.stats().edges
        assert edges and edges == leader.stats().edges  # the leader's detector edges, replicated
        fill(leader, 3, start=6)
        catch_up(follower, leader)
        same(leader, follower)


def test_records_come_from_the_wal_when_memory_no_longer_holds_them(tmp_path: Path) -> None:
    config = EngineConfig(replication_buffer_bytes=1)
    with Engine(tmp_path / "leader", config) as leader, Engine(tmp_path / "follower", lead=False) as follower:
        fill(leader, 5)
        assert leader.feed.recent_after(0, 1 << 20) is None
        catch_up(follower, leader)
        same(leader, follower)


def test_a_diverged_follower_is_told_so_and_a_trimmed_wal_asks_for_a_snapshot(tmp_path: Path) -> None:
    # Small segments so a checkpoint trims some; no records kept in memory, so the WAL is all there is.
    config = EngineConfig(wal=WalConfig(segment_bytes=4096), replication_buffer_bytes=1)
    with Engine(tmp_path / "leader", config) as leader, Engine(tmp_path / "other") as other:
        fill(leader, 4)
        fill(other, 1)  # another history
        last = other.feed.committed_lsn
        assert other.crc_at(last) != leader.crc_at(last)
        with pytest.raises(FailedPrecondition, match="records: LSN"):
            other.apply_replicated(leader.records_after(last + 3))
        fill(leader, 20, start=4)
        leader.checkpoint()  # no follower has spoken: the WAL is trimmed
        assert leader.wal.first_lsn() > 1
        with pytest.raises(FailedPrecondition, match="fetch a snapshot"):
            leader.records_after(0)


def test_a_snapshot_opens_as_a_replica_at_its_lsn_and_then_follows(tmp_path: Path) -> None:
    with Engine(tmp_path / "leader") as leader:
        fill(leader, 5)
        manifest = leader.snapshot_to(tmp_path / "snap")
        assert manifest.lsn == leader.feed.committed_lsn
        for f in manifest.files:
            path = tmp_path / "snap" / f.path
            assert (path.stat().st_size, file_crc(path)) == (f.size, f.crc32c)
        fill(leader, 2, start=5)
        shutil.copytree(tmp_path / "snap", tmp_path / "follower")
        with Engine(tmp_path / "follower", replace(EngineConfig()), lead=False) as follower:
            assert follower.feed.committed_lsn == manifest.lsn
            assert not follower.recovery["rebuilt_indexes"] and not follower.recovery["wal_quarantined_to"]
            catch_up(follower, leader)
            same(leader, follower)


def test_a_trim_keeps_the_claims_routed_into_the_range_on_every_replica(tmp_path: Path) -> None:
    with Engine(tmp_path / "leader") as leader, Engine(tmp_path / "follower", lead=False) as follower:
        fill(leader, 8)
        leader.ingest_document(  # judged before the trim, so no edge record lands mid-comparison
            "t",
            types_pb2.Document(doc_id="atlas", text="The Rhine is long. The Elbe is too."),
            write=dash_pb2.WriteOptions(wait_for_detection=True),
        )
        half = KEYSPACE // 2
        leader.trim_to_range(0, half)
        catch_up(follower, leader)
        same(leader, follower)
        kept = set(leader.claim_ids("t"))
        doc_in = routing_hash("t", document_routing_key("atlas")) < half
        for cid in [f"c{i}" for i in range(8)] + [f"d{i}" for i in range(8)]:
            claim = item(cid, "", "Rhine" if cid.startswith("c") else "").claim
            inside = routing_hash("t", claim_routing_key(cid, claim.subject, [])) < half
            assert (cid in kept) == inside
        assert any(c.startswith("doc-") for c in kept) == doc_in  # sentences follow their document
