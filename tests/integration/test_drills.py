"""The drills in reduced form: one run each, with the full checker."""

from __future__ import annotations

import pytest

from cluster import netns
from cluster.drills.failover import run_failover
from cluster.drills.partition import run_partition
from cluster.drills.rebalance import run_rebalance, run_split


def test_failover_drill_loses_nothing_and_promotes_within_bounds(tmp_path) -> None:
    result = run_failover(tmp_path / "c", runs=1)
    [run] = result["results"]
    assert run["checker"]["ok"], run["checker"]
    assert run["checker"]["acknowledged_claims"] > 0 and run["checker"]["lost_count"] == 0
    assert run["new_leader"] != run["killed_leader"] and run["epoch"][1] == run["epoch"][0] + 1
    assert run["placement_after"][run["shard_id"]]["leader"] == run["new_leader"]
    # Reads preferred followers throughout and none failed; writes came back once a follower led.
    assert run["read_errors"] == {} and run["partial_reads"] == 0 and run["reads"] > 0
    assert run["write_unavailability_seconds"] < 10


@pytest.mark.skipif(not netns.available(), reason="needs root and iproute2 network namespaces")
def test_partition_drill_fences_the_cut_off_leader_without_split_brain(tmp_path) -> None:
    result = run_partition(tmp_path / "c", runs=1)
    [run] = result["results"]
    assert run["checker"]["ok"], run["checker"]
    assert run["checker"]["split_brain"] == [] and run["checker"]["lost_count"] == 0
    # The probe inside the leader's namespace saw it take writes, then refuse them within the lease TTL.
    assert 0 < run["leader_stopped_accepting_after_seconds"] <= run["lease_ttl_seconds"]
    assert run["probe_refusals_after_cut"]
    assert run["new_leader"] != run["partitioned_leader"] and run["epoch"][1] > run["epoch"][0]


def test_rebalance_drill_moves_a_follower_and_a_leader_without_client_errors(tmp_path) -> None:
    result = run_rebalance(tmp_path / "c", runs=2, warmup_writes=20)
    follower_move, leader_move = result["results"]
    for run in result["results"]:
        assert run["checker"]["ok"], run["checker"]
        assert run["write_errors"] == {} and run["read_errors"] == {}
        move = run["change"]
        assert move["to"] in move["after"]["replicas"] and move["from"] not in move["after"]["replicas"]
        assert move["after"]["epoch"] > move["before"]["epoch"]
        assert run["placement_after"][move["shard_id"]]["replicas"] == move["after"]["replicas"]
    assert not follower_move["change"]["leader_handoff"]
    assert leader_move["change"]["leader_handoff"] and leader_move["change"]["fenced_at_lsn"] > 0
    assert (
        leader_move["placement_after"][leader_move["change"]["shard_id"]]["leader"]
        == leader_move["change"]["to"]
    )


def test_split_drill_moves_half_the_data_to_new_shards_without_client_errors(tmp_path) -> None:
    result = run_split(tmp_path / "c", runs=1, warmup_writes=30)
    [run] = result["results"]
    assert run["checker"]["ok"], run["checker"]
    assert run["write_errors"] == {} and run["read_errors"] == {}, run
    split = run["change"]
    halves = sorted(split["halves"])
    assert halves == [f"{split['shard_id']}-0", f"{split['shard_id']}-1"]
    after, before = run["claims_per_shard_after"], run["claims_per_shard_before"]
    assert split["shard_id"] not in after and all(after[h] > 0 for h in halves)
    # Every claim of the old shard went to exactly one half (plus what was written meanwhile).
    assert sum(after[h] for h in halves) >= before[split["shard_id"]], run
    assert all(
        run["placement_after"][h]["epoch"] > run["placement_before"][split["shard_id"]]["epoch"]
        for h in halves
    )
