"""Partition drill: cut a shard leader off the network (every node runs in a network namespace of its
own) under sustained load, then heal it.

A write probe inside the leader's namespace keeps writing to it directly, so the drill sees when the
partitioned leader stopped accepting writes: that must be within its lease TTL (it fences itself when it
cannot renew its lease), while the others promote a follower once the lease has expired in etcd. After
the heal the old leader rejoins as a follower, dropping what it took alone. The checker then proves no
write acknowledged `replicated` was lost and that no two nodes took writes for one shard under one epoch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from cluster import netns
from cluster.drills.checker import check
from cluster.drills.failover import new_leader, placement_summary, wait_for, writes_resume
from cluster.drills.load import Load, load_summary, unavailability
from cluster.local import ClusterSpec, LocalCluster


def _probe_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def partition_run(cluster: LocalCluster, run: int, writers: int, readers: int) -> dict:
    before = placement_summary(cluster)
    shard_id = sorted(before)[run % len(before)]
    victim = before[shard_id]["leader"]
    ns = cluster.namespace(victim)
    ttl = cluster.spec.lease_ttl
    probe_log = cluster.dir / "logs" / f"probe-{run}.jsonl"
    flags = {
        "--target": cluster.state.nodes[victim],
        "--shard": shard_id,
        "--epoch": str(before[shard_id]["epoch"]),
        "--token-file": str(cluster.dir / "cluster-token"),
        "--seconds": str(3 * ttl + 4),
        "--out": str(probe_log),
    }
    argv = [x for kv in flags.items() for x in kv]
    probe = subprocess.Popen(
        [*ns.exec_prefix(), sys.executable, "-m", "cluster.drills.probe", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with Load(cluster.router, cluster.api_key, writers, readers, tag=f"p{run}-") as load:
            wait_for(lambda: load.acked_count() >= 10, 30, "writes to flow")
            wait_for(lambda: sum(r["ok"] for r in _probe_rows(probe_log)) >= 3, 30, "the probe's writes")
            cut_at = time.monotonic()
            cluster.partition(victim)
            promoted = new_leader(cluster, shard_id, victim)
            promoted_at = time.monotonic()
            writes_resume(load)
            probe.wait(timeout=3 * ttl + 30)
            cluster.heal(victim)
            healed_at = time.monotonic()
            record = load.stop()
    finally:
        if probe.poll() is None:
            probe.kill()
        cluster.heal(victim)
    rows = _probe_rows(probe_log)
    accepted_after_cut = [r for r in rows if r["ok"] and r["started"] >= cut_at]
    last_accepted = max((r["t"] for r in rows if r["ok"]), default=cut_at)
    refused_after = [r for r in rows if not r["ok"] and r["started"] >= cut_at]
    probe_positions = [(shard_id, r["lsn"], r["epoch"], victim) for r in rows if r["ok"]]
    verdict = check(cluster, record, extra_positions=probe_positions)
    last = max(a.at for a in record.acks)
    return {
        "run": run,
        "shard_id": shard_id,
        "partitioned_leader": victim,
        "new_leader": promoted.leader,
        "epoch": [before[shard_id]["epoch"], promoted.epoch],
        "placement_before": before,
        "placement_after": placement_summary(cluster),
        "lease_ttl_seconds": ttl,
        "leader_stopped_accepting_after_seconds": round(max(0.0, last_accepted - cut_at), 3),
        "probe_writes_accepted_after_cut": len(accepted_after_cut),
        "probe_refusals_after_cut": sorted({r["code"] for r in refused_after}),
        "promotion_seconds": round(promoted_at - cut_at, 3),
        "partition_seconds": round(healed_at - cut_at, 3),
        "write_unavailability_seconds": round(unavailability(record.acks, cut_at, last), 3),
        **load_summary(record),
        "checker": verdict,
    }


def run_partition(
    directory: Path, runs: int = 3, writers: int = 2, readers: int = 1, lease_ttl: int = 2
) -> dict:
    if not netns.available():
        raise RuntimeError("the partition drill needs root and iproute2 (ip netns)")
    spec = ClusterSpec(nodes=3, shards=2, replicas=3, lease_ttl=lease_ttl, netns=True)
    started = time.monotonic()
    with LocalCluster(directory, spec) as cluster:
        results = [partition_run(cluster, run, writers, readers) for run in range(runs)]
    return {
        "drill": "partition",
        "spec": {
            "nodes": spec.nodes,
            "shards": spec.shards,
            "replicas": spec.replicas,
            "lease_ttl": lease_ttl,
        },
        "runs": len(results),
        "seconds": round(time.monotonic() - started, 1),
        "leader_stopped_accepting_max_seconds": max(
            r["leader_stopped_accepting_after_seconds"] for r in results
        ),
        "split_brain": sum(len(r["checker"].get("split_brain", [])) for r in results),
        "lost": sum(r["checker"].get("lost_count", 0) for r in results),
        "divergent": sum(len(r["checker"].get("divergent_shards", [])) for r in results),
        "all_checks_ok": all(
            r["checker"]["ok"] and r["leader_stopped_accepting_after_seconds"] <= lease_ttl for r in results
        ),
        "results": results,
    }
