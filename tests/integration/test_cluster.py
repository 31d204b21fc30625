"""A real cluster: etcd, 3 node processes, a router, 4 shards, over loopback gRPC.

One cluster per module (starting one costs a few seconds); tests that kill processes run last and
restart what they killed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from cluster.cli import status
from cluster.local import ClusterSpec, LocalCluster, process_alive
from cluster.replicas import divergent, wait_converged
from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, node_pb2, node_pb2_grpc, types_pb2
from dash_client.client import DashClient
from dash_node.etcd_placement import PlacementStore
from dash_node.placement import claim_routing_key, routing_hash
from dash_router.auth import FileAuthenticator
from dash_router.service import Router, RouterConfig, RpcFailed

KEY_A, KEY_B = "key-tenant-a-0123456789", "key-tenant-b-0123456789"
LEASE_TTL = 3
SOURCE = "Lake Vättern is the second largest lake in Sweden. Its water is famously clear."


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> LocalCluster:
    spec = ClusterSpec(
        nodes=3,
        shards=4,
        replicas=2,
        lease_ttl=LEASE_TTL,
        extra_api_keys=((KEY_A, ("tenant-a",)), (KEY_B, ("tenant-b",))),
    )
    c = LocalCluster(tmp_path_factory.mktemp("cluster"), spec)
    c.up()
    yield c
    c.down()


def stub(c: LocalCluster) -> dash_pb2_grpc.DashStub:
    return dash_pb2_grpc.DashStub(grpc.insecure_channel(c.router))


def auth(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


def subject_per_shard(c: LocalCluster, tenant: str) -> dict[str, str]:
    """A subject that routes to each shard."""
    pm = asyncio.run(_placement(c))
    found: dict[str, str] = {}
    i = 0
    while len(found) < len(pm.shards):
        subject = f"Harbour {i}"
        shard = pm.shard_for(routing_hash(tenant, claim_routing_key("x", subject, [])))
        found.setdefault(shard.shard_id, subject)
        i += 1
    return found


async def _placement(c: LocalCluster):
    store = PlacementStore(c.state.etcd)
    try:
        return await store.load()
    finally:
        await store.close()


def test_ingest_then_retrieve_through_the_sdk_with_exact_citations(cluster) -> None:
    with DashClient(cluster.router, api_key=KEY_A, tenant="tenant-a") as dash:
        dash.ingest_document("vattern", SOURCE, source_id="atlas", source_quality=0.8)
        dash.ingest(
            {
                "claim_id": "vattern-depth",
                "subject": "Lake Vättern",
                "text": "Lake Vättern is 128 m deep.",
                "evidence": [
                    {
                        "evidence_id": "ev-depth",
                        "doc_id": "survey",
                        "quote": "128 m",
                        "span_start": 40,
                        "span_end": 45,
                    }
                ],
            }
        )
        res = dash.retrieve("Which lake in Sweden?", top_k=3)
        top = res.results[0]
        assert top.text == "Lake Vättern is the second largest lake in Sweden."
        assert [(c.doc_id, SOURCE[c.span_start : c.span_end]) for c in top.citations] == [
            ("vattern", top.text)
        ]
        assert [c.quote for c in top.citations] == [top.text]
        assert sorted(res.shards_answered) == ["s0", "s1", "s2", "s3"] and not res.shards_missing
        depth = dash.get_claim("vattern-depth")
        assert [e.quote for e in depth.evidence] == ["128 m"]


def test_results_merge_across_all_shards(cluster) -> None:
    s = stub(cluster)
    subjects = subject_per_shard(cluster, "tenant-a")
    items = [
        types_pb2.ClaimInput(
            claim=types_pb2.Claim(
                claim_id=f"merge-{shard}", subject=subject, text=f"The pier at {subject} handles merge cargo."
            )
        )
        for shard, subject in subjects.items()
    ]
    resp = s.IngestBatch(
        dash_pb2.IngestBatchRequest(tenant_id="tenant-a", items=items, commit_id="merge-1"),
        metadata=auth(KEY_A),
    )
    assert len(resp.claim_ids) == 4
    res = s.Retrieve(
        dash_pb2.RetrieveRequest(tenant_id="tenant-a", query="pier merge cargo", top_k=10),
        metadata=auth(KEY_A),
    )
    got = {r.claim.claim_id: r.shard_id for r in res.results if r.claim.claim_id.startswith("merge-")}
    assert got == {f"merge-{shard}": shard for shard in subjects}  # one from each shard, labelled with it
    again = s.IngestBatch(
        dash_pb2.IngestBatchRequest(tenant_id="tenant-a", items=items, commit_id="merge-1"),
        metadata=auth(KEY_A),
    )
    assert again.replayed


def _no_keys() -> FileAuthenticator:
    return FileAuthenticator(None, env_spec="")


def test_stale_epoch_write_is_refused_and_the_router_retry_lands_it_once(cluster) -> None:
    async def scenario() -> None:
        router = Router(RouterConfig(etcd=cluster.state.etcd), _no_keys(), cluster.token)
        await router.watcher.refresh()  # a placement snapshot, and no watch: this router will go stale
        await router._on_placement(router.placement)
        subject = "Stale Quay"
        pos = routing_hash("tenant-a", claim_routing_key("x", subject, []))
        shard = router.placement.shard_for(pos)
        store = PlacementStore(cluster.state.etcd)
        bumped = type(shard)(**{**shard.__dict__, "epoch": shard.epoch + 1})
        assert await store.replace_shards(
            {shard.shard_id: router.placement.shard_revisions[shard.shard_id]}, [bumped]
        )
        await store.close()
        # The leader learns the new epoch from its own watch; wait for it (bounded poll).
        leader = router.placement.nodes[shard.leader].address
        deadline = time.monotonic() + 10
        async with grpc.aio.insecure_channel(leader) as ch:
            while True:
                st = await node_pb2_grpc.NodeStub(ch).Stats(
                    node_pb2.StatsRequest(shard_id=shard.shard_id),
                    metadata=[("x-dash-cluster-token", cluster.token)],
                )
                if st.epoch == bumped.epoch or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
        assert st.epoch == bumped.epoch
        calls: list[str] = []
        original = router._call

        async def counting(node_id, method, request, timeout):
            calls.append(method)
            return await original(node_id, method, request, timeout)

        router._call = counting
        item = types_pb2.ClaimInput(
            claim=types_pb2.Claim(claim_id="stale-1", subject=subject, text="A stale write.")
        )
        resp = await router.Ingest(dash_pb2.IngestRequest(tenant_id="tenant-a", item=item))
        assert calls == ["Ingest", "Ingest"]  # refused once with the old epoch, then landed
        assert resp.epoch == bumped.epoch
        await router.stop()

    asyncio.run(scenario())
    got = stub(cluster).GetClaim(
        dash_pb2.GetClaimRequest(tenant_id="tenant-a", claim_id="stale-1"), metadata=auth(KEY_A)
    )
    assert got.claim.text == "A stale write."


def test_a_retrieve_asks_each_node_once_and_a_shard_it_cannot_serve_goes_to_its_replica(cluster) -> None:
    """Shards led by one node are asked in one RetrieveShards call. When the first choice for every
    shard is a node that holds only some of them, its per-shard refusals send just those shards on to
    their replicas; a node without RetrieveShards gets one call per shard. The answers match."""
    subjects = subject_per_shard(cluster, "tenant-a")
    items = [
        types_pb2.ClaimInput(
            claim=types_pb2.Claim(
                claim_id=f"group-{shard}",
                subject=subject,
                text=f"The crane at {subject} lifts grouped crates.",
            )
        )
        for shard, subject in subjects.items()
    ]
    stub(cluster).IngestBatch(
        dash_pb2.IngestBatchRequest(
            tenant_id="tenant-a", items=items, write=dash_pb2.WriteOptions(ack=dash_pb2.ACK_LEVEL_REPLICATED)
        ),
        metadata=auth(KEY_A),
    )
    query = dash_pb2.RetrieveRequest(tenant_id="tenant-a", query="crane lifts grouped crates", top_k=10)

    async def scenario() -> list[tuple[list[tuple[str, str, tuple[str, ...]]], dash_pb2.RetrieveResponse]]:
        router = Router(RouterConfig(etcd=cluster.state.etcd), _no_keys(), cluster.token)
        await router.start()
        calls: list[tuple[str, str, tuple[str, ...]]] = []
        original, unimplemented = router._call, False

        async def recording(node_id, method, request, timeout, raw=False):
            shards = tuple(request.shard_ids) if method == "RetrieveShards" else (request.shard_id,)
            calls.append((node_id, method, shards))
            if unimplemented and method == "RetrieveShards":
                raise RpcFailed(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
            return await original(node_id, method, request, timeout, raw)

        router._call = recording
        out = []
        try:
            out.append(([], await router.Retrieve(query)))  # as placed: one call per node
            out[-1][0].extend(calls)
            calls.clear()
            first = sorted(router.placement.nodes)[0]
            ordered = router._replicas_for_read
            router._replicas_for_read = lambda shard, pref: [first, *ordered(shard, pref)]
            out.append((list(calls), await router.Retrieve(query)))
            out[-1][0].extend(calls)
            calls.clear()
            router._replicas_for_read, unimplemented = ordered, True
            out.append(([], await router.Retrieve(query)))
            out[-1][0].extend(calls)
        finally:
            await router.stop()
        return out

    (placed, normal), (detoured, rerouted), (old, per_shard) = asyncio.run(scenario())
    pm = asyncio.run(_placement(cluster))
    shard_ids = sorted(pm.shards)
    expected = {f"group-{s}" for s in shard_ids}

    def ranked(resp: dash_pb2.RetrieveResponse) -> list[tuple[str, str]]:
        return [(r.claim.claim_id, r.shard_id) for r in resp.results]

    for resp in (normal, rerouted, per_shard):
        assert sorted(resp.shards_answered) == shard_ids and not resp.shards_missing
        assert expected <= {r.claim.claim_id for r in resp.results}
        assert ranked(resp) == ranked(normal)
    nodes = [node for node, _, _ in placed]
    assert len(nodes) == len(set(nodes))  # each node asked once
    assert sorted(s for _, _, shards in placed for s in shards) == shard_ids
    assert any(method == "RetrieveShards" for _, method, _ in placed)  # 4 shards led by 3 nodes
    first = sorted(pm.nodes)[0]
    assert detoured[0] == (first, "RetrieveShards", tuple(shard_ids))
    elsewhere = sorted(s for s in shard_ids if first not in pm.shards[s].replicas)
    assert elsewhere and sorted(shards[0] for _, _, shards in detoured[1:]) == elsewhere
    assert all(method == "Retrieve" and node != first for node, method, _ in detoured[1:])
    assert [(n, m, s) for n, m, s in old if m == "RetrieveShards"] == [
        c for c in placed if c[1] == "RetrieveShards"
    ]
    assert sorted(shards[0] for _, m, shards in old if m == "Retrieve") == shard_ids  # then shard by shard


def test_direct_stale_epoch_write_names_the_current_epoch(cluster) -> None:
    pm = asyncio.run(_placement(cluster))
    shard = pm.shards["s0"]
    with grpc.insecure_channel(pm.nodes[shard.leader].address) as ch:
        item = types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="direct-1", text="x"))
        with pytest.raises(grpc.RpcError) as err:
            node_pb2_grpc.NodeStub(ch).Ingest(
                dash_pb2.IngestRequest(
                    tenant_id="tenant-a",
                    item=item,
                    write=dash_pb2.WriteOptions(epoch=shard.epoch - 1 or 0, shard_id="s0"),
                ),
                metadata=[("x-dash-cluster-token", cluster.token)],
            )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "epoch" in err.value.details()


ALL_RPCS = [
    (
        "Ingest",
        lambda t: dash_pb2.IngestRequest(
            tenant_id=t, item=types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="p1", text="x"))
        ),
    ),
    (
        "IngestBatch",
        lambda t: dash_pb2.IngestBatchRequest(
            tenant_id=t, items=[types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="p2", text="x"))]
        ),
    ),
    (
        "IngestDocument",
        lambda t: dash_pb2.IngestDocumentRequest(
            tenant_id=t, document=types_pb2.Document(doc_id="d", text="Some text.")
        ),
    ),
    (
        "UpsertEvidence",
        lambda t: dash_pb2.UpsertEvidenceRequest(
            tenant_id=t, evidence=[types_pb2.Evidence(evidence_id="e", claim_id="p1")]
        ),
    ),
    ("DeleteClaim", lambda t: dash_pb2.DeleteClaimRequest(tenant_id=t, claim_id="p1")),
    ("Retrieve", lambda t: dash_pb2.RetrieveRequest(tenant_id=t, query="x")),
    ("GetClaim", lambda t: dash_pb2.GetClaimRequest(tenant_id=t, claim_id="p1")),
]


@pytest.mark.parametrize(("method", "make"), ALL_RPCS, ids=[m for m, _ in ALL_RPCS])
def test_tenant_scoping_on_every_rpc(cluster, method, make) -> None:
    s = stub(cluster)
    call = getattr(s, method)
    with pytest.raises(grpc.RpcError) as denied:
        call(make("tenant-b"), metadata=auth(KEY_A))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "tenant-b" in denied.value.details()
    with pytest.raises(grpc.RpcError) as anonymous:
        call(make("tenant-a"))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as wrong:
        call(make("tenant-a"), metadata=auth("not-a-key"))
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_nodes_refuse_calls_without_the_cluster_credential(cluster) -> None:
    pm = asyncio.run(_placement(cluster))
    for info in pm.nodes.values():
        with grpc.insecure_channel(info.address) as ch:
            for call in (
                lambda c: node_pb2_grpc.NodeStub(c).Stats(node_pb2.StatsRequest(shard_id="s0")),
                lambda c: dash_pb2_grpc.DashStub(c).Retrieve(
                    dash_pb2.RetrieveRequest(tenant_id="tenant-a", query="x")
                ),
            ):
                with pytest.raises(grpc.RpcError) as err:
                    call(ch)
                assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_status_reports_shards_leaders_and_epochs(cluster) -> None:
    st = status(cluster)
    assert {n for n, info in st["nodes"].items() if info["registered"]} == {"n1", "n2", "n3"}
    assert [s["shard_id"] for s in st["shards"]] == ["s0", "s1", "s2", "s3"]
    for s in st["shards"]:
        assert s["replicas"][s["leader"]]["role"] == "leader" and s["replicas"][s["leader"]]["up"]
        assert len(s["replicas"]) == 2


def test_killed_leader_expires_within_its_lease_its_shards_fail_over_and_reads_keep_working(cluster) -> None:
    pm = asyncio.run(_placement(cluster))
    items = [
        types_pb2.ClaimInput(
            claim=types_pb2.Claim(
                claim_id=f"kill-{shard}", subject=subject, text=f"The slipway at {subject} tolerates outages."
            )
        )
        for shard, subject in subject_per_shard(cluster, "tenant-a").items()
    ]
    stub(cluster).IngestBatch(
        dash_pb2.IngestBatchRequest(
            tenant_id="tenant-a", items=items, write=dash_pb2.WriteOptions(ack=dash_pb2.ACK_LEVEL_REPLICATED)
        ),
        metadata=auth(KEY_A),
    )
    victim = pm.shards["s0"].leader
    led = {s.shard_id: s.epoch for s in pm.shards.values() if s.leader == victim}
    killed_at = time.monotonic()
    cluster.kill(victim)
    while True:  # poll status until the registration is gone, bounded by twice the lease
        st = status(cluster, timeout=1.0)
        if not st["nodes"][victim]["registered"]:
            break
        assert time.monotonic() - killed_at < 2 * LEASE_TTL + 2, "registration outlived its lease"
        time.sleep(0.1)
    expired_after = time.monotonic() - killed_at
    print(f"registration of a SIGKILLed node gone after {expired_after:.2f} s (lease TTL {LEASE_TTL} s)")
    assert expired_after <= LEASE_TTL + 1.5  # etcd checks leases about every 500 ms
    # Reads keep working throughout: followers serve within the staleness bound, then the new leaders.
    query = dash_pb2.RetrieveRequest(tenant_id="tenant-a", query="slipway tolerates outages", top_k=10)
    res = stub(cluster).Retrieve(query, metadata=auth(KEY_A))
    assert not res.shards_missing
    assert {i.claim.claim_id for i in items} <= {r.claim.claim_id for r in res.results}
    # Every shard the victim led gets a new leader, one epoch on.
    deadline = time.monotonic() + 10
    while True:
        now = asyncio.run(_placement(cluster))
        if all(now.shards[sid].leader != victim for sid in led):
            break
        assert time.monotonic() < deadline, "no follower was promoted"
        time.sleep(0.1)
    assert all(now.shards[sid].epoch == epoch + 1 for sid, epoch in led.items())
    cluster.start_node(victim)  # it comes back, as a follower of the shards it led
    views = wait_converged(cluster)
    assert not divergent(views)
    res = stub(cluster).Retrieve(query, metadata=auth(KEY_A))
    assert not res.shards_missing
    assert {r.claim.claim_id for r in res.results} >= {f"kill-{s}" for s in pm.shards}


def test_up_and_down_from_the_command_line_leave_no_process(tmp_path: Path) -> None:
    d = str(tmp_path / "c")
    cli = [sys.executable, "-m", "dash_client.cli", "cluster"]
    up = subprocess.run(
        [*cli, "up", "--dir", d, "--nodes", "1", "--shards", "1", "--replicas", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert up.returncode == 0, up.stderr
    state = json.loads((tmp_path / "c" / "cluster.json").read_text())
    assert state["router"] in up.stdout and state["api_key"] in up.stdout and state["etcd"]
    shown = subprocess.run([*cli, "status", "--dir", d, "--json"], capture_output=True, text=True, timeout=60)
    assert json.loads(shown.stdout)["nodes"]["n1"]["registered"]
    down = subprocess.run([*cli, "down", "--dir", d], capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    # Gone, or a zombie left to a parent that does not reap (PID 1 here): nothing runs any more.
    assert not [pid for pid in state["pids"].values() if process_alive(pid)]
