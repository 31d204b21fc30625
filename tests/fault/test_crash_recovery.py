"""Crash safety of a real node process, and tail-only recovery.

A node is SIGKILLed while clients have batches in flight; after restart every acknowledged batch is
present in full and no batch is present in part. Recovery replays only the WAL after the applied LSN.
"""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from pathlib import Path

import grpc

from dash_client._pb.dash.v1 import dash_pb2, node_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.evidence.builder import EdgeBuilderConfig
from dash_node.placement import KEYSPACE
from dash_node.wal import WalConfig

CLAIMS_PER_BATCH = 40


def batch_request(i: int) -> dash_pb2.IngestBatchRequest:
    items = []
    for j in range(CLAIMS_PER_BATCH):
        cid = f"b{i}-{j}"
        text = f"batch {i} claim {j} reports shipment {i * 100 + j} arrived in port"
        items.append(
            types_pb2.ClaimInput(
                claim=types_pb2.Claim(claim_id=cid, text=text, labels={"batch": str(i)}),
                evidence=[types_pb2.Evidence(evidence_id=f"{cid}-e", quote=text, span_end=len(text))],
            )
        )
    return dash_pb2.IngestBatchRequest(tenant_id="acme", items=items, commit_id=f"commit-{i}")


def present(stub, i: int) -> int:
    """How many claims of batch i the node has."""
    n = 0
    for j in range(CLAIMS_PER_BATCH):
        try:
            stub.GetClaim(dash_pb2.GetClaimRequest(tenant_id="acme", claim_id=f"b{i}-{j}"), timeout=10)
            n += 1
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
    return n


def test_sigkill_mid_batch_keeps_every_acked_batch_and_no_partial_one(node_factory) -> None:
    node = node_factory("crash")
    rng = random.Random(7)
    acked: set[int] = set()
    sent: set[int] = set()
    next_id = iter(range(10_000))
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        stub = node.dash
        while not stop.is_set():
            with lock:
                i = next(next_id)
                sent.add(i)
            try:
                stub.IngestBatch(batch_request(i), timeout=10)
            except grpc.RpcError:
                return  # the node died under us
            with lock:
                acked.add(i)

    for cycle in range(3):
        stop.clear()
        threads = [threading.Thread(target=client) for _ in range(3)]
        for t in threads:
            t.start()
        target = len(acked) + rng.randint(5, 20)
        deadline = time.monotonic() + 60
        while len(acked) < target and time.monotonic() < deadline:
            time.sleep(0.01)  # polling the acked count, bounded by the deadline
        assert len(acked) >= target, "clients made no progress"
        node.kill()  # SIGKILL with batches in flight
        stop.set()
        for t in threads:
            t.join(timeout=30)
        node.start()
        for i in sorted(sent):
            n = present(node.dash, i)
            assert n in (0, CLAIMS_PER_BATCH), f"cycle {cycle}: batch {i} is partial ({n} claims)"
            if i in acked:
                assert n == CLAIMS_PER_BATCH, f"cycle {cycle}: acknowledged batch {i} lost"
        # A replay of an acknowledged commit answers from the stored record instead of writing again.
        some = min(acked)
        resp = node.dash.IngestBatch(batch_request(some), timeout=10)
        assert resp.replayed
    stats = node.node.Stats(node_pb2.StatsRequest(tenant_id="acme"))
    assert stats.claims % CLAIMS_PER_BATCH == 0


def _item(cid: str) -> types_pb2.ClaimInput:
    return types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=cid, text=f"claim {cid} about harbour cranes"))


def test_recovery_replays_only_the_wal_tail(tmp_path: Path) -> None:
    data = tmp_path / "replica"
    plain = EngineConfig(evidence=EdgeBuilderConfig(enabled=False))  # one WAL record per write
    with Engine(data, plain) as engine:
        for i in range(10):
            engine.ingest_batch("acme", [_item(f"a{i}-{j}") for j in range(5)])
        assert engine.checkpoint() == 10
        engine.store.copy_to(tmp_path / "state-at-10")
        for i in range(6):
            engine.ingest("acme", _item(f"tail{i}"))
    # Put back the state as of LSN 10: the WAL after it is the tail a crash would leave unapplied.
    shutil.rmtree(data / "state")
    shutil.copytree(tmp_path / "state-at-10", data / "state")
    with Engine(data, plain) as engine:
        assert engine.recovery["applied_lsn_before"] == 10
        assert engine.recovery["replayed_records"] == 6
        assert engine.recovery["index_snapshot_lsn"] == 10
        assert engine.stats("acme").claims == 56
        hits = engine.retrieve(dash_pb2.RetrieveRequest(tenant_id="acme", query="claim tail3", top_k=3))
        assert hits.results[0].claim.claim_id == "tail3"


def test_lost_index_snapshots_are_rebuilt_from_state(tmp_path: Path) -> None:
    data = tmp_path / "replica"
    config = EngineConfig(wal=WalConfig(segment_bytes=4096))  # small segments, so trimming frees some
    with Engine(data, config) as engine:
        engine.ingest_batch("acme", [_item(f"c{j}") for j in range(20)])
        engine.checkpoint()
        engine.ingest("acme", _item("late"))
        engine.checkpoint()  # trims the WAL: the indexes can no longer be caught up from it alone
    shutil.rmtree(data / "vectors")
    shutil.rmtree(data / "lexical")
    with Engine(data, config) as engine:
        assert engine.recovery["rebuilt_indexes"]
        got = engine.retrieve(dash_pb2.RetrieveRequest(tenant_id="acme", query="claim late", top_k=1))
        assert got.results[0].claim.claim_id == "late"


def test_a_damaged_index_snapshot_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    data = tmp_path / "replica"
    with Engine(data) as engine:
        engine.ingest_batch("acme", [_item(f"c{j}") for j in range(20)])
        engine.checkpoint()
    manifest = data / "vectors" / "manifest.json"
    body = json.loads(manifest.read_text())
    body["lsn"] += 5  # a plausible lie: the index would skip records on catch-up
    manifest.write_text(json.dumps(body))
    with Engine(data) as engine:
        assert engine.recovery["index_snapshot_lsn"] == 0  # the snapshot was not trusted
        got = engine.retrieve(dash_pb2.RetrieveRequest(tenant_id="acme", query="claim c7", top_k=1))
        assert got.results[0].claim.claim_id == "c7"


def test_indexes_catching_up_across_a_trim_drop_the_trimmed_claims(tmp_path: Path) -> None:
    """A trim names no claims, so indexes behind it cannot learn from the WAL tail which ones it removed:
    they are rebuilt from the state instead."""
    data = tmp_path / "replica"
    plain = EngineConfig(evidence=EdgeBuilderConfig(enabled=False))
    with Engine(data, plain) as engine:
        engine.ingest_batch("acme", [_item(f"c{j}") for j in range(40)])
        engine.checkpoint()
        for part in ("vectors", "lexical"):
            shutil.copytree(data / part, tmp_path / f"{part}-before-trim")
        engine.trim_to_range(0, KEYSPACE // 2)
        kept = set(engine.claim_ids("acme"))
    assert 0 < len(kept) < 40
    for part in ("vectors", "lexical"):  # the indexes as a crash right after the trim would leave them
        shutil.rmtree(data / part)
        shutil.copytree(tmp_path / f"{part}-before-trim", data / part)
    with Engine(data, plain) as engine:
        assert engine.recovery["index_snapshot_lsn"] < engine.feed.committed_lsn
        assert len(engine.vectors.tenant("acme")) == len(kept)
        assert len(engine.lexical) == len(kept)
