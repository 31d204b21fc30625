"""Observability end to end on a real cluster: one trace from the client through the router to every
shard's node and planner stages (W3C context over gRPC metadata, spans in a shared JSONL file), and the
Prometheus endpoints of a node and the router."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cluster.local import ClusterSpec, LocalCluster
from dash_client import trace_view
from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, types_pb2
from dash_client.tracing import instrument_channel, setup_tracing

TENANT = "acme"
STAGES = ("prefilter", "bm25", "ann", "entity_fetch", "time_filter", "rank", "hydrate")
METRICS_LINE = re.compile(r"metrics on (\S+)")


@contextmanager
def env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """A 3-node, 4-shard cluster whose processes trace into one file and serve metrics; a tracer
    provider for this test process writing to the same file."""
    d = tmp_path_factory.mktemp("traced")
    trace_file = d / "spans.jsonl"
    cluster = LocalCluster(d / "cluster", ClusterSpec(nodes=3, shards=4, replicas=1))
    with env(DASH_TRACE_FILE=str(trace_file), DASH_METRICS_LISTEN="127.0.0.1:0"):
        cluster.up()  # children inherit the environment
        provider = setup_tracing("dash-test-client", set_global=False)
    assert provider is not None
    try:
        yield cluster, trace_file, provider
    finally:
        provider.shutdown()
        cluster.down()


def read_spans(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line being written right now
            out.append(json.loads(line))
    return out


def metrics_address(cluster: LocalCluster, name: str) -> str:
    m = METRICS_LINE.search((cluster.dir / "logs" / f"{name}.log").read_text())
    assert m, f"{name} printed no 'metrics on' line"
    return m.group(1)


def scrape(address: str) -> dict[str, list]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def sample_sum(families: dict[str, list], sample: str, **labels: str) -> float:
    family = sample.removesuffix("_count").removesuffix("_sum").removesuffix("_total")
    return sum(
        s.value
        for s in families.get(family, [])
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


def ingest_and_retrieve(cluster: LocalCluster, provider) -> str:
    """Ingest claims on every shard, then one traced Retrieve; returns its trace id."""
    channel = instrument_channel(grpc.insecure_channel(cluster.router), tracer_provider=provider)
    stub = dash_pb2_grpc.DashStub(channel)
    md = [("authorization", f"Bearer {cluster.api_key}")]
    items = [
        types_pb2.ClaimInput(
            claim=types_pb2.Claim(
                claim_id=f"c{i}", text=f"Lake number {i} is clear and cold", subject=f"lake-{i}"
            )
        )
        for i in range(40)  # routing is deterministic: these land on all 4 shards
    ]
    stub.IngestBatch(dash_pb2.IngestBatchRequest(tenant_id=TENANT, items=items), metadata=md, timeout=30)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("test.retrieve") as root:
        resp = stub.Retrieve(
            dash_pb2.RetrieveRequest(tenant_id=TENANT, query="clear lake", top_k=5), metadata=md, timeout=30
        )
        trace_id = format(root.get_span_context().trace_id, "032x")
    assert len(resp.shards_answered) == 4 and resp.results
    provider.force_flush()
    channel.close()
    return trace_id


def ancestors(span: dict, by_id: dict[str, dict]) -> list[dict]:
    out = []
    while span.get("parent_span_id"):
        span = by_id[span["parent_span_id"]]
        out.append(span)
    return out


def test_one_trace_spans_client_router_every_shard_and_planner_stages(traced, capsys) -> None:
    cluster, trace_file, provider = traced
    tid = ingest_and_retrieve(cluster, provider)

    deadline = time.monotonic() + 30
    while True:
        spans = [s for s in read_spans(trace_file) if s["trace_id"] == tid]
        planners = [s for s in spans if s["name"] == "planner.retrieve"]
        stage_spans = [s for s in spans if s["name"] in {f"planner.{n}" for n in STAGES}]
        ids = {s["span_id"] for s in spans}
        linked = all(s["parent_span_id"] is None or s["parent_span_id"] in ids for s in spans)
        # each process exports in batches of its own: wait until every parent has arrived too
        if len(planners) >= 4 and len(stage_spans) >= 4 * len(STAGES) and linked:
            break
        assert time.monotonic() < deadline, f"trace {tid} incomplete after 30 s: {[s['name'] for s in spans]}"
        time.sleep(0.2)

    by_id = {s["span_id"]: s for s in spans}
    (root,) = [s for s in spans if s["parent_span_id"] is None]
    assert root["name"] == "test.retrieve"

    (client,) = [s for s in spans if s["kind"] == "CLIENT" and s["service"] == "dash-test-client"]
    assert client["name"] == "/dash.v1.Dash/Retrieve" and client["parent_span_id"] == root["span_id"]
    (router,) = [s for s in spans if s["service"] == "dash-router" and s["kind"] == "SERVER"]
    assert router["name"] == "/dash.v1.Dash/Retrieve" and router["parent_span_id"] == client["span_id"]
    assert router["attributes"]["dash.fanout_width"] == 4
    assert router["attributes"]["dash.shards_answered"] == 4

    # The router asks each node once, for all the shards it is asking that node for.
    node_servers = [s for s in spans if s["service"] == "dash-node" and s["kind"] == "SERVER"]
    assert len(node_servers) == len({s["attributes"]["dash.node_id"] for s in node_servers})
    assert len({p["attributes"]["dash.shard_id"] for p in planners}) == 4 == len(planners)  # one per shard
    for planner in planners:
        node = by_id[planner["parent_span_id"]]
        assert node["service"] == "dash-node" and node["kind"] == "SERVER"
        assert node["name"] in ("/dash.v1.Node/Retrieve", "/dash.v1.Node/RetrieveShards")
        assert node["attributes"]["dash.node_id"] in {"n1", "n2", "n3"}
        assert planner["attributes"]["dash.shard_id"] in node["attributes"]["dash.shard_id"].split(",")
        chain = ancestors(node, by_id)
        assert chain[0]["service"] == "dash-router" and chain[0]["kind"] == "CLIENT"
        assert chain[1]["span_id"] == router["span_id"]
        assert TENANT not in json.dumps(planner["attributes"])  # a hash, never the tenant
        stages = [s for s in spans if s["parent_span_id"] == planner["span_id"]]
        assert [s["name"] for s in sorted(stages, key=lambda s: s["start_unix_nano"])] == [
            f"planner.{name}" for name in STAGES
        ]
        assert all("dash.candidates" in s["attributes"] for s in stages)

    # the write path has a span with its WAL group
    writes = [s for s in read_spans(trace_file) if s["name"] == "engine.write"]
    assert writes and all(s["attributes"]["dash.wal_group_size"] >= 1 for s in writes)

    capsys.readouterr()
    assert trace_view.main([str(trace_file), "--trace-id", tid]) == 0
    out = capsys.readouterr().out
    for name in (*STAGES, "dash-router", "dash-node", "dash-test-client", "/dash.v1.Node/Retrieve"):
        assert name in out
    assert "shard=" in out and "node=" in out


def test_metrics_endpoints_of_nodes_and_router(traced) -> None:
    cluster, _, provider = traced
    ingest_and_retrieve(cluster, provider)
    nodes = [scrape(metrics_address(cluster, n)) for n in ("n1", "n2", "n3")]
    for fam in (
        "dash_node_request_seconds",
        "dash_node_wal_fsync_seconds",
        "dash_node_wal_group_size",
        "dash_node_ingest_visible_seconds",
        "dash_node_claims",
        "dash_node_write_queue_depth",
    ):
        assert all(fam in n for n in nodes), fam

    def total(sample: str, **labels: str) -> float:
        return sum(sample_sum(n, sample, **labels) for n in nodes)

    assert total("dash_node_request_seconds_count", method="Retrieve", code="OK") >= 4
    assert total("dash_node_request_seconds_count", method="IngestBatch", code="OK") >= 1
    assert total("dash_node_wal_fsync_seconds_count") >= 4
    assert total("dash_node_wal_group_size_sum") >= 4
    assert total("dash_node_ingest_visible_seconds_count") >= 4
    assert total("dash_node_claims") == 40

    # A node down: the router answers from the other shards and counts the partial answer.
    cluster.kill("n3", signal.SIGKILL)
    stub = dash_pb2_grpc.DashStub(grpc.insecure_channel(cluster.router))
    md = [("authorization", f"Bearer {cluster.api_key}")]
    resp = stub.Retrieve(dash_pb2.RetrieveRequest(tenant_id=TENANT, query="lake"), metadata=md, timeout=30)
    assert resp.shards_missing

    router = scrape(metrics_address(cluster, "router"))
    assert sample_sum(router, "dash_router_request_seconds_count", method="Retrieve", code="OK") >= 2
    assert sample_sum(router, "dash_router_request_seconds_count", method="IngestBatch", code="OK") >= 1
    assert sample_sum(router, "dash_router_fanout_width_count") >= 2
    assert sample_sum(router, "dash_router_fanout_width_sum") >= 8
    assert sample_sum(router, "dash_router_shard_errors_total") >= 1
    assert sample_sum(router, "dash_router_retrieve_partial_total") >= 1
