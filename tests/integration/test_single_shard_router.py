"""A one-shard cluster: the router hands the shard's encoded answer on as the node sent it. Through the
real processes, the client gets exactly what the node answers, and the node's statuses pass unchanged."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from cluster.local import ClusterSpec, LocalCluster
from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, types_pb2
from dash_node.wire import CLUSTER_TOKEN_HEADER

DIM = 8


def _items() -> list[types_pb2.ClaimInput]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(40):
        claim = types_pb2.Claim(
            claim_id=f"c{i}",
            text=f"The pier {i % 5} is {100 + i} m long",
            subject=f"pier {i % 5}",
            embedding=rng.normal(size=DIM).astype("<f4").tobytes(),
        )
        evidence = types_pb2.Evidence(
            evidence_id=f"e{i}",
            source_id=f"s{i % 3}",
            quote=claim.text,
            span_end=len(claim.text),
            source_quality=0.7,
            stance=types_pb2.STANCE_CONTRADICTS if i % 7 == 0 else types_pb2.STANCE_SUPPORTS,
        )
        out.append(types_pb2.ClaimInput(claim=claim, evidence=[evidence]))
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with LocalCluster(tmp_path_factory.mktemp("c"), ClusterSpec(nodes=1, shards=1, replicas=1)) as c:
        auth = [("authorization", f"Bearer {c.api_key}")]
        with grpc.insecure_channel(c.router) as ch:
            dash_pb2_grpc.DashStub(ch).IngestBatch(
                dash_pb2.IngestBatchRequest(tenant_id="t", items=_items()), metadata=auth, timeout=30
            )
        yield c, auth


@pytest.mark.parametrize(
    "mode",
    [
        dash_pb2.STANCE_MODE_BALANCED,
        dash_pb2.STANCE_MODE_CONTRADICTIONS_FIRST,
        dash_pb2.STANCE_MODE_SUPPORT_ONLY,
    ],
)
def test_the_client_gets_the_shards_answer_as_the_node_gives_it(cluster, mode) -> None:
    c, auth = cluster
    q = np.random.default_rng(9).normal(size=DIM).astype("<f4").tobytes()
    req = dash_pb2.RetrieveRequest(
        tenant_id="t", query="pier long", query_embedding=q, top_k=7, stance_mode=mode, explain=True
    )
    with grpc.insecure_channel(c.router) as ch:
        via_router = dash_pb2_grpc.DashStub(ch).Retrieve(req, metadata=auth, timeout=30)
    direct_req = dash_pb2.RetrieveRequest()
    direct_req.CopyFrom(req)
    direct_req.shard_id = "s0"
    with grpc.insecure_channel(c.state.nodes["n1"]) as ch:
        direct = dash_pb2_grpc.DashStub(ch).Retrieve(
            direct_req, metadata=[(CLUSTER_TOKEN_HEADER, c.token)], timeout=30
        )
    assert len(via_router.results) == 7
    assert list(via_router.results) == list(direct.results)  # claims, scores, citations, related claims
    assert all(r.citations or r.contradicting_citations for r in via_router.results)
    assert [e.stage for e in via_router.explain] == [e.stage for e in direct.explain]
    assert via_router.dropped_by_stance == direct.dropped_by_stance
    assert list(via_router.shards_answered) == ["s0"] and not via_router.shards_missing
    assert via_router.served_at.seconds > 0
    if mode == dash_pb2.STANCE_MODE_SUPPORT_ONLY:
        assert via_router.dropped_by_stance > 0
        assert all(r.dominant_stance != types_pb2.STANCE_CONTRADICTS for r in via_router.results)


def test_a_tenant_without_data_is_answered_empty_by_its_shard(cluster) -> None:
    c, auth = cluster
    with grpc.insecure_channel(c.router) as ch:
        res = dash_pb2_grpc.DashStub(ch).Retrieve(
            dash_pb2.RetrieveRequest(tenant_id="nobody", query="pier"), metadata=auth, timeout=30
        )
    assert not res.results and list(res.shards_answered) == ["s0"]


def test_the_nodes_refusal_reaches_the_client_naming_the_field(cluster) -> None:
    c, auth = cluster
    wrong_dim = np.ones(DIM + 1, dtype="<f4").tobytes()
    with grpc.insecure_channel(c.router) as ch, pytest.raises(grpc.RpcError) as err:
        dash_pb2_grpc.DashStub(ch).Retrieve(
            dash_pb2.RetrieveRequest(tenant_id="t", query_embedding=wrong_dim), metadata=auth, timeout=30
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "query_embedding" in (err.value.details() or "")
