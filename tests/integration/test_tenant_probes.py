"""Tenant isolation through the router in reduced form: randomised probes with API keys and JWTs."""

from __future__ import annotations

from cluster.local import ClusterSpec, LocalCluster
from cluster.tenant_probes import run_probes


def test_random_probes_with_keys_and_tokens_never_cross_tenants(tmp_path) -> None:
    spec = ClusterSpec(nodes=2, shards=2, replicas=2, router_flags=("--auth-reload-interval", "0.2"))
    with LocalCluster(tmp_path / "c", spec) as cluster:
        report = run_probes(cluster, n=600, seed=11)
    assert report.violations == []
    outcomes = {key.rsplit(":", 1)[1] for key in report.requests}
    kinds = {key.split(":")[1] for key in report.requests}
    assert kinds == {"api_key", "jwt"}
    assert {"OK", "PERMISSION_DENIED", "NOT_FOUND"} <= outcomes, report.requests
    assert report.foreign_id_writes > 0
    assert sum(report.requests.values()) == 600
