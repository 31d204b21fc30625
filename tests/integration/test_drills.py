"""The drills in reduced form: one run each, with the full checker."""

from __future__ import annotations

from cluster.drills.failover import run_failover


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
