"""One benchmark run: a profile's corpus into a cluster (started here, or one given by address), then
every measurement, into one result dictionary."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import grpc

from cluster.bench import floor, jitter, measure
from cluster.bench.corpus import generate
from cluster.bench.soak import soak
from cluster.local import ClusterSpec, LocalCluster
from cluster.replicas import placement
from dash_client._pb.dash.v1 import dash_pb2, node_pb2
from dash_node.embedding import default_embedder
from dash_router import eventloop


@dataclass(frozen=True)
class Profile:
    name: str
    claims: int
    queries: int  # distinct queries (latency runs cycle through them)
    nodes: int
    shards: int
    replicas: int
    sample: int  # claims in each of the side ingest runs (node-side embedding, replicated acks)
    requests: int  # requests per latency run at concurrency 1 (more at higher concurrency)
    freshness_probes: int = 200
    with_peers: bool = False
    layout: str = ""  # "NODESxSHARDS" when run on another cluster shape than the profile's own
    jitter_s: float = 20.0  # how long the machine's own slow episodes are timed (see jitter.py)


def with_layout(profile: Profile, layout: str) -> Profile:
    """``profile`` on a cluster of another shape ("1x1": one node, one shard), named apart (``large-1x1``)
    so its results sit beside the profile's own instead of replacing them."""
    nodes, sep, shards = layout.partition("x")
    if not (sep and nodes.isdigit() and shards.isdigit() and int(nodes) > 0 and int(shards) > 0):
        raise ValueError(f"layout: NODESxSHARDS with positive counts (e.g. 1x1), got {layout!r}")
    n, s = int(nodes), int(shards)
    name, replicas = f"{profile.name}-{n}x{s}", min(profile.replicas, n)
    return replace(profile, name=name, nodes=n, shards=s, replicas=replicas, layout=layout)


PROFILES = {
    "smoke": Profile("smoke", 2_000, 60, nodes=2, shards=2, replicas=2, sample=500, requests=200),
    "standard": Profile("standard", 10_000, 200, nodes=3, shards=4, replicas=2, sample=2_000, requests=400),
    "large": Profile("large", 100_000, 300, nodes=3, shards=4, replicas=1, sample=5_000, requests=500),
    # Four 250k shards on two nodes, a node per core of the 2-core machine the targets are set on: the
    # router asks each node once per query for both its shards (docs/decisions.md).
    "xlarge": Profile("xlarge", 1_000_000, 300, nodes=2, shards=4, replicas=1, sample=10_000, requests=500),
}
CONCURRENCY = (1, 4, 16)
FLOOR_TURNS = 10  # DASH's top-50 and the floor's alternate in this many turns each
TENANT = "bench"


def run(
    profile: Profile,
    router: str = "",
    api_key: str = "",
    seed: int = 1,
    with_peers: bool = False,
    soak_minutes: float = 0.0,
) -> dict:
    """Run ``profile`` against ``router`` (an existing cluster) or against a local cluster started in a
    temporary directory, and the peers on the same data when ``with_peers``; returns the result."""
    profile = replace(profile, with_peers=with_peers)
    result: dict = {
        "profile": asdict(profile),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "host": platform.node(),
            "event_loop": eventloop.name(),  # the router's and the floor's
        },
        "git": _git_commit(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    corpus = generate(profile.claims, profile.queries, seed)
    result["corpus"] = {
        "claims": len(corpus.claims),
        "subjects": len({c.claim.subject for c in corpus.claims}),
        "conflicts": corpus.conflicts,
        "successions": corpus.successions,
    }
    embedder = default_embedder()
    t0 = time.perf_counter()
    vectors = embedder.embed(corpus.texts)
    qvecs = embedder.embed([q.text for q in corpus.queries])
    result["client_embedding_s"] = round(time.perf_counter() - t0, 2)
    if router:
        with grpc.insecure_channel(router) as channel:
            _measure(
                result, profile, corpus, vectors, qvecs, embedder, measure.Target(router, api_key, channel)
            )
        return result
    # As many nodes as cores: a node per core (cluster/local.py `pin_nodes`; the floor alike).
    pin = profile.nodes == len(os.sched_getaffinity(0))
    spec = ClusterSpec(
        nodes=profile.nodes, shards=profile.shards, replicas=profile.replicas, audit=False, pin_nodes=pin
    )
    result["cluster"] = asdict(spec)
    with tempfile.TemporaryDirectory(prefix="dash-bench-") as d, LocalCluster(Path(d) / "c", spec) as c:
        with grpc.insecure_channel(c.router) as channel:
            pids = {name: pid for name, pid in c.state.pids.items() if not name.startswith("etcd")}
            target = measure.Target(c.router, c.api_key, channel, pids)
            if soak_minutes:  # the profile's corpus as the starting store, then only the soak
                result["ingest"] = {
                    "load": measure.ingest(
                        target, TENANT, corpus.claims, vectors, desc="load", background=_background(c)
                    )
                }
                result["soak"] = soak(
                    target, TENANT, corpus, vectors, qvecs, soak_minutes, c.state.pids, c.dir / "nodes"
                )
                return result
            _measure(result, profile, corpus, vectors, qvecs, embedder, target, _background(c))
        result["resources"] = _resources(c, len(corpus.claims))
        result["restart"] = _restart_after_kill(c, "n1", len(corpus.claims))
    return result


def _measure(
    result,
    profile,
    corpus,
    vectors,
    qvecs,
    embedder,
    target: measure.Target,
    background: measure.Background | None = None,
) -> None:
    ids = [c.claim.claim_id for c in corpus.claims]
    # Each run waits for the background work it caused (the edge builder works behind the acks), so the
    # next run and the queries after it do not share the CPU with it.
    ing = result.setdefault("ingest", {})
    ing["leader_client_vectors"] = measure.ingest(
        target, TENANT, corpus.claims, vectors, desc="load", background=background
    )
    side = corpus.claims[: profile.sample]
    ing["leader_node_embeds"] = measure.ingest(
        target, f"{TENANT}-text", side, None, desc="node embeds", background=background
    )
    if profile.replicas > 1:
        ing["replicated_client_vectors"] = measure.ingest(
            target,
            f"{TENANT}-repl",
            side,
            vectors[: profile.sample],
            ack=dash_pb2.ACK_LEVEL_REPLICATED,
            desc="replicated",
            background=background,
        )
    result["freshness"] = measure.freshness(target, TENANT, profile.freshness_probes, embedder.embed)
    # The cluster is idle here: how often the machine itself slows down, to read the latency tails by.
    result.setdefault("machine", {})["jitter"] = jitter.measure(profile.jitter_s)
    lat = result.setdefault("retrieval", {})
    for k in (10, 50):
        for c in CONCURRENCY:
            requests = profile.requests * (1 if c == 1 else 2)
            if (k, c) == (50, 1):
                lat["top50_c1"] = None  # measured beside the floor, below
                continue
            lat[f"top{k}_c{c}"] = measure.latency(target, TENANT, corpus.queries, qvecs, k, c, requests)
    # The same vectors on as many shards and processes (pinned alike), answering ids only: the floor DASH
    # is set against. DASH's top-50 at concurrency 1 and the floor's take turns.
    pin = result.get("cluster", {}).get("pin_nodes", False)
    top50 = measure.LatencyRun(target, TENANT, corpus.queries, qvecs, 50, 1)
    result["floor"] = floor.measure(
        vectors, qvecs, profile.shards, 50, profile.requests, profile.nodes, pin, top50.turn, FLOOR_TURNS
    )
    lat["top50_c1"] = top50.result()
    result["recall"] = measure.recall(target, TENANT, qvecs, ids, vectors)
    result["quality"] = measure.quality(target, TENANT, corpus.queries, qvecs, ids, vectors)
    if profile.with_peers:
        from cluster.bench import peers  # the `bench` extra

        result["peers"] = peers.compare(
            ids, vectors, corpus.texts, qvecs, measure.vector_search(target.stub, TENANT, target.metadata)
        )


def _background(c: LocalCluster) -> measure.Background:
    """What the background work of every replica of ``c`` still owes, by stage."""

    def owed() -> dict[str, int]:
        pm = placement(c)
        return measure.owed(
            c.access.call(c.state.nodes[node], "Stats", node_pb2.StatsRequest(shard_id=shard.shard_id))
            for shard in pm.shards.values()
            for node in shard.replicas
        )

    return measure.Background(owed)


def _resources(c: LocalCluster, claims: int) -> dict:
    nodes_dir = c.dir / "nodes"
    total = measure.disk_bytes(nodes_dir)
    per_node = {n.name: measure.disk_bytes(n) for n in sorted(nodes_dir.iterdir())}
    replicas = c.spec.replicas
    return {
        "peak_rss_mb": measure.peak_rss_mb(c.state.pids),
        "rss_mb_now": measure.rss_split_mb(c.state.pids),
        "disk_bytes_total": total,
        "disk_bytes_per_node": per_node,
        # Every claim is stored once per replica; this is the cost of one copy.
        "disk_bytes_per_claim_per_replica": round(total / (claims * replicas), 1),
    }


def _restart_after_kill(c: LocalCluster, node_id: str, claims: int) -> dict:
    """SIGKILL a node (no checkpoint, no flush) and start it again: seconds until it serves, and what
    each replica replayed from its WAL on top of its last index snapshot. A restart that does not finish
    is reported as such; it does not cost the run its other figures."""
    c.kill(node_id, signal.SIGKILL)
    log = c.dir / "logs" / f"{node_id}.log"
    log.write_text("")
    started = time.perf_counter()
    timeout = 60.0 + claims / 1000  # re-indexing runs at a few thousand claims/s here
    try:
        c.start_node(node_id, timeout=timeout)
    except TimeoutError as exc:
        return {"node": node_id, "error": str(exc), "seconds_to_serving": None}
    seconds = time.perf_counter() - started
    # It serves while its indexer moves what recovery re-indexed into the graphs (searched exactly
    # meanwhile): how long until that work is done too.
    try:
        caught_up: float | None = round(seconds + _background(c).drain(timeout), 2)
    except TimeoutError:
        caught_up = None
    return {
        "node": node_id,
        "seconds_to_serving": round(seconds, 2),
        "seconds_to_caught_up": caught_up,
        # what the buffer of re-indexed vectors costs in memory until the indexer has moved them
        "peak_rss_mb": measure.peak_rss_mb({node_id: c.state.pids[node_id]}).get(node_id),
        "replicas": measure.recovery_report(log.read_text(errors="replace")),
    }


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
        return out.stdout.strip()
    except OSError:
        return ""
