"""Rebalance and split drills, under sustained load, each followed by the checker.

Rebalance moves shard replicas between nodes — a follower's, then a leader's (a fenced handoff). Split
cuts a shard's range in two. Both check that the data moved (claims per shard before and after), that
nothing acknowledged was lost or written twice, and that clients (with the SDK's retries) saw no error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from cluster.drills.checker import check
from cluster.drills.failover import placement_summary, wait_for, writes_resume
from cluster.drills.load import Load, load_summary, unavailability
from cluster.local import ClusterSpec, LocalCluster
from cluster.rebalance import move_replica, split_shard
from cluster.replicas import placement, shard_views


def _moves(cluster: LocalCluster, run: int) -> tuple[str, str, str]:
    """(shard, from, to) for this run: odd runs move a leader, even runs a follower, to a node without
    a replica of that shard."""
    pm = placement(cluster)
    shard = pm.shards[sorted(pm.shards)[run % len(pm.shards)]]
    source = shard.leader if run % 2 else next(n for n in shard.replicas if n != shard.leader)
    target = next(n for n in sorted(pm.nodes) if n not in shard.replicas)
    return shard.shard_id, source, target


def _claims_per_shard(cluster: LocalCluster) -> dict[str, int]:
    views = {sid: shard_views(cluster, sid, digest=False) for sid in placement(cluster).shards}
    return {sid: max((v.claims for v in vs.values()), default=0) for sid, vs in views.items()}


def _under_load(
    cluster: LocalCluster,
    run: int,
    tag: str,
    operation: Callable[[], dict],
    dropped: Callable[[], bool],
    writers: int,
    readers: int,
    warmup_writes: int,
) -> dict:
    """Run ``operation`` (a move or a split) once writes flow, wait for writes after it and for the
    old replica(s) to be dropped (``dropped``), then check."""
    before = placement_summary(cluster)
    with Load(cluster.router, cluster.api_key, writers, readers, tag=f"{tag}{run}-") as load:
        wait_for(lambda: load.acked_count() >= warmup_writes, 60, "writes to flow")
        counts_before = _claims_per_shard(cluster)
        started = time.monotonic()
        done = operation()
        finished = time.monotonic()
        writes_resume(load)
        wait_for(dropped, 30, "the old replica(s) to be dropped")
        record = load.stop()
    verdict = check(cluster, record)
    last = max(a.at for a in record.acks)
    return {
        "run": run,
        "change": done,
        "placement_before": before,
        "placement_after": placement_summary(cluster),
        "claims_per_shard_before": counts_before,
        "claims_per_shard_after": verdict.get("claims_per_shard"),
        "change_seconds": round(finished - started, 3),
        "write_unavailability_seconds": round(unavailability(record.acks, started, last), 3),
        **load_summary(record),
        "checker": verdict,
    }


def rebalance_run(cluster: LocalCluster, run: int, writers: int, readers: int, warmup_writes: int) -> dict:
    shard_id, source, target = _moves(cluster, run)
    replica = cluster.dir / "nodes" / source / "shards" / shard_id
    return _under_load(
        cluster,
        run,
        "m",
        lambda: asyncio.run(move_replica(cluster.state.etcd, cluster.access, shard_id, target, source)),
        lambda: not replica.exists(),
        writers,
        readers,
        warmup_writes,
    )


def split_run(cluster: LocalCluster, run: int, writers: int, readers: int, warmup_writes: int) -> dict:
    shard_id = sorted(placement_summary(cluster))[run % len(placement_summary(cluster))]
    replicas = [cluster.dir / "nodes" / n / "shards" / shard_id for n in cluster.state.nodes]
    return _under_load(
        cluster,
        run,
        "s",
        lambda: asyncio.run(split_shard(cluster.state.etcd, cluster.access, shard_id)),
        lambda: not any(p.exists() for p in replicas),
        writers,
        readers,
        warmup_writes,
    )


def run_rebalance(
    directory: Path, runs: int = 2, writers: int = 2, readers: int = 1, warmup_writes: int = 200
) -> dict:
    spec = ClusterSpec(nodes=4, shards=2, replicas=2, lease_ttl=2)
    started = time.monotonic()
    with LocalCluster(directory, spec) as cluster:
        results = [rebalance_run(cluster, run, writers, readers, warmup_writes) for run in range(runs)]
    return _summary("rebalance", spec, started, results)


def _summary(name: str, spec: ClusterSpec, started: float, results: list[dict]) -> dict:
    return {
        "drill": name,
        "spec": {"nodes": spec.nodes, "shards": spec.shards, "replicas": spec.replicas},
        "runs": len(results),
        "seconds": round(time.monotonic() - started, 1),
        "lost": sum(r["checker"].get("lost_count", 0) for r in results),
        "duplicated": sum(r["checker"].get("duplicated_count", 0) for r in results),
        "client_errors": sum(
            sum(r["write_errors"].values()) + sum(r["read_errors"].values()) for r in results
        ),
        "all_checks_ok": all(
            r["checker"]["ok"] and not r["write_errors"] and not r["read_errors"] for r in results
        ),
        "results": results,
    }


def run_split(
    directory: Path, runs: int = 2, writers: int = 2, readers: int = 1, warmup_writes: int = 200
) -> dict:
    spec = ClusterSpec(nodes=3, shards=2, replicas=2, lease_ttl=2)
    started = time.monotonic()
    with LocalCluster(directory, spec) as cluster:
        results = [split_run(cluster, run, writers, readers, warmup_writes) for run in range(runs)]
    return _summary("split", spec, started, results)
