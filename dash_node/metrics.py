"""Prometheus metrics of the node and the router, served on ``--metrics-listen HOST:PORT``.

Each kind of process has its own ``CollectorRegistry`` (``NODE.registry``, ``ROUTER.registry``), so a
node's endpoint shows only node metrics and a router's only router metrics, and tests can make fresh
instances. Without ``--metrics-listen`` (or ``$DASH_METRICS_LISTEN``) no HTTP server is started; the
metrics are still counted (a few lock-protected additions per request).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

METRICS_LISTEN_ENV = "DASH_METRICS_LISTEN"

# Seconds: 0.1 ms to 10 s.
LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ReplicaCollector(Collector):
    """``dash_node_claims{shard_id}`` and ``dash_node_write_queue_depth{shard_id}``, read from the
    replicas at scrape time (an LMDB stat and a queue length, both O(1))."""

    def __init__(self, by_shard: Callable[[], dict[str, tuple[int, int]]]) -> None:
        self.by_shard = by_shard

    def collect(self) -> Iterator[GaugeMetricFamily]:
        claims = GaugeMetricFamily("dash_node_claims", "Claims stored per shard replica", labels=["shard_id"])
        queued = GaugeMetricFamily(
            "dash_node_write_queue_depth", "Writes waiting for the replica's writer", labels=["shard_id"]
        )
        for shard_id, (n, depth) in sorted(self.by_shard().items()):
            claims.add_metric([shard_id], n)
            queued.add_metric([shard_id], depth)
        yield claims
        yield queued


class NodeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.request_seconds = Histogram(
            "dash_node_request_seconds",
            "Node RPC latency",
            ["method", "code"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.wal_fsync_seconds = Histogram(
            "dash_node_wal_fsync_seconds",
            "WAL fsync latency (one per write group)",
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.wal_group_size = Histogram(
            "dash_node_wal_group_size",
            "Writes committed per WAL group (group commit)",
            registry=r,
            buckets=SIZE_BUCKETS,
        )
        self.ingest_visible_seconds = Histogram(
            "dash_node_ingest_visible_seconds",
            "From a write entering the engine to its claims being visible in the indexes",
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.detection_backlog = Gauge(
            "dash_node_detection_backlog_claims",
            "Claims committed but not yet judged by the edge builder",
            ["shard_id"],
            registry=r,
        )
        self.index_backlog = Gauge(
            "dash_node_index_backlog_vectors",
            "Vectors searchable from the write buffer but not yet inserted into their HNSW graph",
            ["shard_id"],
            registry=r,
        )
        self.detection_round_seconds = Histogram(
            "dash_node_detection_round_seconds",
            "One edge-builder round: judging a run of pending writes and writing their edges",
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.write_deadline_dropped = Counter(
            "dash_node_write_deadline_dropped",
            "Queued writes dropped unapplied because their caller's deadline had passed",
            registry=r,
        )
        self.write_queue_rejected = Counter(
            "dash_node_write_queue_rejected",
            "Writes refused because the replica's write queue was full",
            registry=r,
        )
        self.replication_lag_records = Gauge(
            "dash_node_replication_lag_records",
            "Follower replicas: records the leader had that this replica had not applied, at last contact",
            ["shard_id"],
            registry=r,
        )
        self.replication_staleness_seconds = Gauge(
            "dash_node_replication_staleness_seconds",
            "Follower replicas: seconds since the replica last held everything its leader had",
            ["shard_id"],
            registry=r,
        )
        self._replicas: ReplicaCollector | None = None

    def watch_replicas(self, by_shard: Callable[[], dict[str, tuple[int, int]]]) -> None:
        """Report each replica's (claims, queued writes) from this callable at every scrape."""
        if self._replicas is not None:
            self.registry.unregister(self._replicas)
        self._replicas = ReplicaCollector(by_shard)
        self.registry.register(self._replicas)


class RouterMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.request_seconds = Histogram(
            "dash_router_request_seconds",
            "Router RPC latency",
            ["method", "code"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.fanout_width = Histogram(
            "dash_router_fanout_width", "Shards called by one fan-out", registry=r, buckets=SIZE_BUCKETS
        )
        self.shard_errors = Counter(
            "dash_router_shard_errors", "Failed calls to a shard", ["shard_id", "code"], registry=r
        )
        self.retrieve_partial = Counter(
            "dash_router_retrieve_partial", "Retrieves answered without some shards", registry=r
        )
        self.in_flight = Gauge("dash_router_in_flight", "Requests being served by the router", registry=r)
        self.rejected = Counter(
            "dash_router_rejected", "Requests refused by admission control", ["gate"], registry=r
        )


NODE = NodeMetrics()
ROUTER = RouterMetrics()


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.started


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) -> (host, port); ValueError names the flag."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--metrics-listen: expected HOST:PORT, got '{listen}'")
    return host.strip("[]"), int(port)


def serve_metrics(listen: str, registry: CollectorRegistry) -> tuple[str, Any]:
    """Serve ``registry`` over HTTP on ``listen`` (port 0 picks one); returns ("HOST:PORT", server).
    Call ``server.shutdown()`` to stop it."""
    host, port = parse_listen(listen)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    bound = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{bound}", server


def default_listen() -> str:
    return os.environ.get(METRICS_LISTEN_ENV, "").strip()
