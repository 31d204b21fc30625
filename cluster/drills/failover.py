"""Failover drill: SIGKILL a shard leader under sustained load, let the cluster promote a follower, bring
the old leader back as a follower, and check.

Each run: start the load, wait for writes to flow, kill the leader of one shard (rotating), wait for the
placement to name a new leader with a higher epoch, wait for writes to flow again, restart the old leader,
stop the load, run the checker. Write unavailability is the longest gap between acknowledged writes
around the fault.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from cluster.drills.checker import check
from cluster.drills.load import Load, load_summary, unavailability
from cluster.local import ClusterSpec, LocalCluster
from cluster.replicas import placement
from dash_node.placement import ShardPlacement


def placement_summary(cluster: LocalCluster) -> dict:
    pm = placement(cluster)
    return {
        s.shard_id: {"leader": s.leader, "epoch": s.epoch, "replicas": list(s.replicas)} for s in pm.ordered()
    }


def wait_for(condition, timeout: float, what: str, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def new_leader(cluster: LocalCluster, shard_id: str, old: str) -> ShardPlacement:
    """Wait for placement to name a leader of ``shard_id`` other than ``old``."""
    return wait_for(
        lambda: (s := placement(cluster).shards[shard_id]).leader != old and s,
        30,
        f"a new leader of {shard_id}",
    )


def writes_resume(load: Load, more: int = 10) -> None:
    start = load.acked_count()
    wait_for(lambda: load.acked_count() >= start + more, 30, "writes to flow again")


def failover_run(cluster: LocalCluster, run: int, writers: int, readers: int) -> dict:
    before = placement_summary(cluster)
    shard_id = sorted(before)[run % len(before)]
    victim = before[shard_id]["leader"]
    with Load(cluster.router, cluster.api_key, writers, readers, tag=f"f{run}-") as load:
        wait_for(lambda: load.acked_count() >= 10, 30, "writes to flow")
        fault_at = time.monotonic()
        cluster.kill(victim)
        promoted = new_leader(cluster, shard_id, victim)
        promoted_at = time.monotonic()
        writes_resume(load)
        cluster.start_node(victim)  # it rejoins as a follower
        record = load.stop()
    last = max(a.at for a in record.acks)
    verdict = check(cluster, record)
    return {
        "run": run,
        "shard_id": shard_id,
        "killed_leader": victim,
        "new_leader": promoted.leader,
        "epoch": [before[shard_id]["epoch"], promoted.epoch],
        "placement_before": before,
        "placement_after": placement_summary(cluster),
        "promotion_seconds": round(promoted_at - fault_at, 3),
        "write_unavailability_seconds": round(unavailability(record.acks, fault_at, last), 3),
        **load_summary(record),
        "checker": verdict,
    }


def run_failover(
    directory: Path, runs: int = 20, writers: int = 2, readers: int = 1, lease_ttl: int = 2
) -> dict:
    spec = ClusterSpec(nodes=3, shards=2, replicas=3, lease_ttl=lease_ttl)
    started = time.monotonic()
    with LocalCluster(directory, spec) as cluster:
        results = [failover_run(cluster, run, writers, readers) for run in range(runs)]
    gaps = [r["write_unavailability_seconds"] for r in results]
    return {
        "drill": "failover",
        "spec": {
            "nodes": spec.nodes,
            "shards": spec.shards,
            "replicas": spec.replicas,
            "lease_ttl": lease_ttl,
        },
        "runs": len(results),
        "seconds": round(time.monotonic() - started, 1),
        "write_unavailability_p50_seconds": round(statistics.median(gaps), 3),
        "write_unavailability_max_seconds": round(max(gaps), 3),
        "lost": sum(r["checker"].get("lost_count", 0) for r in results),
        "duplicated": sum(r["checker"].get("duplicated_count", 0) for r in results),
        "divergent": sum(len(r["checker"].get("divergent_shards", [])) for r in results),
        "read_errors": sum(sum(r["read_errors"].values()) for r in results),
        "partial_reads": sum(r["partial_reads"] for r in results),
        "all_checks_ok": all(r["checker"]["ok"] for r in results),
        "results": results,
    }
