"""A whole cluster over TLS: clients reach the router only with TLS (and, with client auth, only with a
certificate from the cluster's CA); router -> node and node -> node (replication) use mutual TLS, so a
node refuses anyone without such a certificate."""

from __future__ import annotations

import grpc

from cluster.certs import CertificateAuthority
from cluster.local import ClusterSpec, LocalCluster
from cluster.replicas import divergent, wait_converged
from dash_client._pb.dash.v1 import node_pb2, node_pb2_grpc
from dash_client.client import DashClient
from dash_client.errors import DashError
from dash_client.transport import TlsConfig, open_channel


def _reach(target: str, key: str, tls: TlsConfig | None) -> str:
    """'' if a retrieve through ``target`` succeeds, else the status code's name."""
    try:
        with DashClient(target, api_key=key, tenant="t", tls=tls) as dash:
            dash.retrieve("anything")
    except DashError as exc:
        return exc.code
    return ""


def test_a_tls_cluster_serves_replicates_and_refuses_plaintext(tmp_path) -> None:
    spec = ClusterSpec(nodes=2, shards=2, replicas=2, tls=True, tls_client_auth=True)
    with LocalCluster(tmp_path / "c", spec) as c:
        tls = c.tls
        assert tls is not None
        with DashClient(c.router, api_key=c.api_key, tenant="t", tls=tls) as dash:
            for i in range(20):
                text = f"Harbour {i} handles {i * 10} ships a day."
                assert dash.ingest({"claim_id": f"c{i}", "text": text}, ack="replicated").ack == "replicated"
            # Followers received every write over node -> node mutual TLS, and serve reads.
            views = wait_converged(c)
            assert not divergent(views)
            assert sum(v.claims for shard in views.values() for v in shard.values()) == 40
            hits = dash.retrieve("harbour ships", top_k=20, read_preference="follower")
            assert len(hits.results) == 20

        stranger = CertificateAuthority(tmp_path / "stranger").issue("client")
        foreign_cert = TlsConfig(tls.ca_file, stranger.cert_file, stranger.key_file)
        no_cert = TlsConfig(ca_file=tls.ca_file)
        assert _reach(c.router, c.api_key, None) == "UNAVAILABLE"  # plaintext never gets a request in
        assert _reach(c.router, c.api_key, no_cert) == "UNAVAILABLE"
        assert _reach(c.router, c.api_key, foreign_cert) == "UNAVAILABLE"
        assert _reach(c.router, c.api_key, tls) == ""

        # A node answers the operator's certificate and nothing else, even with the cluster token.
        node = c.state.nodes["n1"]
        request = node_pb2.StatsRequest(shard_id="s0")
        assert c.access.call(node, "Stats", request).claims == views["s0"]["n1"].claims > 0
        for other in (None, no_cert, foreign_cert):
            with open_channel(node, other) as channel:
                try:
                    node_pb2_grpc.NodeStub(channel).Stats(request, metadata=c.access.metadata, timeout=5)
                    raise AssertionError(f"node answered a caller with {other}")
                except grpc.RpcError as exc:
                    assert exc.code() == grpc.StatusCode.UNAVAILABLE
