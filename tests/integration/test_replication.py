"""Replication through real processes: `replicated` acknowledgements, follower reads that read your
writes, replicas that end identical, and a follower that comes back after its leader trimmed the WAL
and catches up by snapshot."""

from __future__ import annotations

import time

from cluster.local import ClusterSpec, LocalCluster
from cluster.replicas import divergent, placement, replica_stats, wait_converged
from dash_client.client import DashClient


def batch(tag: str, n: int = 5) -> list[dict]:
    return [
        {
            "claim_id": f"{tag}-{j}",
            "subject": f"Quay {tag} {j}",
            "text": f"Quay {tag} {j} has {j + 3} cranes.",
        }
        for j in range(n)
    ]


def test_replicated_acks_follower_reads_and_identical_replicas(tmp_path) -> None:
    spec = ClusterSpec(nodes=3, shards=2, replicas=3)
    with LocalCluster(tmp_path / "c", spec) as c, DashClient(c.router, api_key=c.api_key, tenant="t") as dash:
        written = [dash.ingest_batch(batch(f"b{i}"), ack="replicated") for i in range(6)]
        assert all(w.ack == "replicated" for w in written)
        assert all(w.positions and all(p.lsn > 0 and p.node_id for p in w.positions) for w in written)
        # Read your writes from followers: only replicas holding the write may answer.
        last = written[-1]
        got = dash.retrieve("cranes", top_k=50, after=[last], read_preference="follower")
        assert {f"b5-{j}" for j in range(5)} <= {r.claim_id for r in got.results}
        assert dash.get_claim("b5-0", after=[last], read_preference="follower").claim.text
        views = wait_converged(c)
        assert not divergent(views)
        assert all(len(vs) == 3 for vs in views.values())
        assert sum(next(iter(vs.values())).claims for vs in views.values()) == 30


def test_a_follower_behind_a_trimmed_wal_catches_up_by_snapshot(tmp_path) -> None:
    spec = ClusterSpec(
        nodes=2,
        shards=1,
        replicas=2,
        node_flags=(
            "--checkpoint-every-changes", "10",
            "--wal-segment-bytes", "4096",
            "--follower-retention-s", "1",
            "--replication-buffer-bytes", "1",
        ),
    )  # fmt: skip
    with LocalCluster(tmp_path / "c", spec) as c, DashClient(c.router, api_key=c.api_key, tenant="t") as dash:
        shard = placement(c).shards["s0"]
        follower = next(n for n in shard.replicas if n != shard.leader)
        dash.ingest_batch(batch("before"))
        wait_converged(c)
        was_at = replica_stats(c, follower, "s0").applied_lsn
        c.kill(follower)
        # Write until the leader has checkpointed and trimmed its WAL past where the follower stopped
        # (a silent follower stops holding the WAL back after --follower-retention-s).
        deadline, i = time.monotonic() + 60, 0
        while replica_stats(c, shard.leader, "s0").wal_first_lsn <= was_at + 1:
            assert time.monotonic() < deadline, "the leader never trimmed its WAL"
            dash.ingest_batch(batch(f"while-{i}"))
            i += 1
        c.start_node(follower)
        views = wait_converged(c, timeout=60)
        assert not divergent(views)
        log = (c.dir / "logs" / f"{follower}.log").read_text()
        assert "fetching a snapshot" in log and "installed a snapshot" in log
        # And it keeps following from there.
        dash.ingest_batch(batch("after"), ack="replicated")
        assert not divergent(wait_converged(c))
