"""Metrics helpers, and the node metrics an in-process engine records."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import metrics
from dash_node.engine import Engine, EngineConfig
from dash_node.evidence.builder import EdgeBuilderConfig


def test_parse_listen() -> None:
    assert metrics.parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert metrics.parse_listen("[::1]:9100") == ("::1", 9100)
    for bad in ("9100", "host:", ":9100", "h:port", "h:70000"):
        with pytest.raises(ValueError, match="--metrics-listen"):
            metrics.parse_listen(bad)


def test_separate_registries() -> None:
    node, router = metrics.NodeMetrics(), metrics.RouterMetrics()
    node.request_seconds.labels("Retrieve", "OK").observe(0.001)
    router.shard_errors.labels("s1", "UNAVAILABLE").inc()
    node_text = generate_latest(node.registry).decode()
    router_text = generate_latest(router.registry).decode()
    assert "dash_node_request_seconds_count" in node_text and "dash_router" not in node_text
    assert 'dash_router_shard_errors_total{code="UNAVAILABLE",shard_id="s1"} 1.0' in router_text
    assert "dash_node" not in router_text


def test_replica_gauges_read_at_scrape_time_and_can_be_replaced() -> None:
    m = metrics.NodeMetrics(CollectorRegistry())
    counts = {"s0": (3, 0)}
    m.watch_replicas(lambda: dict(counts))
    assert m.registry.get_sample_value("dash_node_claims", {"shard_id": "s0"}) == 3
    counts["s1"] = (5, 7)
    assert m.registry.get_sample_value("dash_node_claims", {"shard_id": "s1"}) == 5
    assert m.registry.get_sample_value("dash_node_write_queue_depth", {"shard_id": "s1"}) == 7
    m.watch_replicas(dict)  # a second watch replaces the first instead of failing on a duplicate
    assert m.registry.get_sample_value("dash_node_claims", {"shard_id": "s0"}) is None


def test_serve_metrics_on_a_free_loopback_port() -> None:
    m = metrics.RouterMetrics()
    m.retrieve_partial.inc()
    shown, server = metrics.serve_metrics("127.0.0.1:0", m.registry)
    try:
        host, port = shown.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        with urllib.request.urlopen(f"http://{shown}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        assert "dash_router_retrieve_partial_total 1.0" in body
    finally:
        server.shutdown()
        server.server_close()


def test_engine_records_wal_and_visibility_metrics(tmp_path: Path) -> None:
    reg = metrics.NODE.registry

    def value(name: str) -> float:
        return reg.get_sample_value(name) or 0.0

    names = (
        "dash_node_wal_fsync_seconds_count",
        "dash_node_wal_group_size_count",
        "dash_node_wal_group_size_sum",
        "dash_node_ingest_visible_seconds_count",
    )
    before = {n: value(n) for n in names}
    # The edge builder off: its own WAL records would add groups at times of its choosing.
    with Engine(tmp_path / "e", EngineConfig(evidence=EdgeBuilderConfig(enabled=False))) as engine:
        items = [
            types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=f"c{i}", text=f"fact {i}")) for i in range(3)
        ]
        engine.ingest_batch("t", items)
        engine.ingest("t", types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="c9", text="another fact")))
        assert engine.claim_count() == 4
        assert engine.retrieve(dash_pb2.RetrieveRequest(tenant_id="t", query="fact")).results
    # two writes one after the other: two WAL groups of one write each
    assert {n: value(n) - before[n] for n in names} == dict.fromkeys(names, 2)
