"""A cluster on a 3-member etcd keeps working when one member dies, and routers are interchangeable."""

from __future__ import annotations

import time

from cluster.cli import status
from cluster.local import ClusterSpec, LocalCluster
from dash_client.client import DashClient

LEASE_TTL = 5


def test_losing_one_etcd_member_and_a_second_router(tmp_path) -> None:
    spec = ClusterSpec(nodes=2, shards=2, replicas=1, etcd_members=3, lease_ttl=LEASE_TTL)
    with LocalCluster(tmp_path / "c", spec) as c:
        assert len(c.state.etcd.split(",")) == 3
        with DashClient(c.router, api_key=c.api_key, tenant="t") as dash:
            dash.ingest({"claim_id": "before", "text": "the ferry leaves at noon", "subject": "ferry"})
            c.kill("etcd-0")  # the member everyone connected to first
            dash.ingest({"claim_id": "after", "text": "the ferry returns at dusk", "subject": "ferry 2"})
            assert {r.claim_id for r in dash.retrieve("ferry").results} == {"before", "after"}
        # Registrations must survive: each node's keepalive moves to a live member within its lease.
        deadline = time.monotonic() + 3 * LEASE_TTL
        while time.monotonic() < deadline:
            time.sleep(0.2)
            st = status(c, timeout=1.0)
            assert all(n["registered"] for n in st["nodes"].values()), st["nodes"]

        # A second router, started on its own, serves the same data (routers hold no state).
        second = c.start_router("router-2")
        with DashClient(second, api_key=c.api_key, tenant="t") as dash2:
            assert {r.claim_id for r in dash2.retrieve("ferry").results} == {"before", "after"}
            dash2.ingest({"claim_id": "via-2", "text": "a ferry written through router two"})
        with DashClient(c.router, api_key=c.api_key, tenant="t") as dash:
            assert dash.get_claim("via-2").claim.text == "a ferry written through router two"
