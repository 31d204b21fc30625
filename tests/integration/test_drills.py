"""The drills in reduced form: one run each, with the full checker."""

from __future__ import annotations

import pytest

from cluster import netns
from cluster.drills.failover import run_failover
from cluster.drills.partition import run_partition


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
