"""TLS and mutual TLS on a real gRPC listener with throwaway certificates: who gets in, who does not,
and a certificate rotated on disk without a restart."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from cluster.certs import CertificateAuthority
from dash_client import transport
from dash_client.transport import TlsConfig, bind, open_channel


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(root / "ca")
    other = CertificateAuthority(root / "other")
    return {
        "ca": ca,
        "server": ca.issue("server"),
        "client": ca.issue("client"),
        "stranger": other.issue("stranger"),
        "other_ca": other,
    }


def _serve(tls: TlsConfig | None) -> tuple[grpc.Server, str]:
    server = grpc.server(futures.ThreadPoolExecutor(2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = bind(server, "127.0.0.1:0", tls)
    server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
def mtls_server(pki: dict) -> Iterator[str]:
    server, address = _serve(pki["server"].tls(require_client_cert=True))
    yield address
    server.stop(0)


def _check(address: str, tls: TlsConfig | None) -> grpc.StatusCode:
    with open_channel(address, tls) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            return grpc.StatusCode.OK
        except grpc.RpcError as exc:
            return exc.code()


def test_mutual_tls_admits_a_certificate_the_ca_signed(pki: dict, mtls_server: str) -> None:
    assert _check(mtls_server, pki["client"].tls()) == grpc.StatusCode.OK


@pytest.mark.parametrize(
    "who",
    ["plaintext", "no client certificate", "certificate from another CA", "client trusting another CA"],
)
def test_mutual_tls_refuses_everyone_else(pki: dict, mtls_server: str, who: str) -> None:
    tls = {
        "plaintext": None,
        "no client certificate": TlsConfig(ca_file=pki["ca"].ca_file),
        "certificate from another CA": TlsConfig(
            pki["ca"].ca_file, pki["stranger"].cert_file, pki["stranger"].key_file
        ),
        "client trusting another CA": pki["stranger"].tls(),
    }[who]
    # The handshake fails before any RPC: gRPC reports it as UNAVAILABLE, and no request is served.
    assert _check(mtls_server, tls) == grpc.StatusCode.UNAVAILABLE


def test_a_server_name_the_certificate_does_not_carry_is_refused(pki: dict, mtls_server: str) -> None:
    c = pki["client"]
    wrong = TlsConfig(c.ca_file, c.cert_file, c.key_file, server_name="elsewhere.example")
    assert _check(mtls_server, wrong) == grpc.StatusCode.UNAVAILABLE
    right = TlsConfig(c.ca_file, c.cert_file, c.key_file, server_name="localhost")
    assert _check(mtls_server, right) == grpc.StatusCode.OK


def test_tls_without_client_auth_admits_clients_without_a_certificate(pki: dict) -> None:
    server, address = _serve(pki["server"].tls())
    try:
        assert _check(address, TlsConfig(ca_file=pki["ca"].ca_file)) == grpc.StatusCode.OK
        assert _check(address, None) == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(0)


def test_a_rotated_certificate_is_served_without_a_restart(tmp_path: Path, pki: dict) -> None:
    """The listener's files are replaced by a certificate from a new CA: new connections see it."""
    first = CertificateAuthority(tmp_path / "first").issue("server")
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    cert.write_bytes(first.cert_file.read_bytes())
    key.write_bytes(first.key_file.read_bytes())
    live = TlsConfig(None, cert, key)
    server, address = _serve(live)
    try:
        assert _check(address, TlsConfig(ca_file=first.ca_file)) == grpc.StatusCode.OK
        second = pki["other_ca"].issue("rotated")
        key.write_bytes(second.key_file.read_bytes())
        cert.write_bytes(second.cert_file.read_bytes())
        stamp = time.time() + 1  # a distinct modification time even on coarse-grained filesystems
        os.utime(cert, (stamp, stamp))
        os.utime(key, (stamp, stamp))
        deadline = time.monotonic() + 10
        while _check(address, TlsConfig(ca_file=second.ca_file)) != grpc.StatusCode.OK:
            assert time.monotonic() < deadline, "the rotated certificate was never served"
        assert _check(address, TlsConfig(ca_file=first.ca_file)) == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cert_file": "CERT"}, "needs its key"),
        ({"key_file": "KEY"}, "needs its key"),
        ({"require_client_cert": True}, "--tls-client-auth needs --tls-ca"),
        ({"ca_file": "KEY"}, "tls.ca_file: .* holds no PEM block ending in 'CERTIFICATE-----'"),
        ({"cert_file": "KEY", "key_file": "KEY"}, "tls.cert_file"),
        ({"cert_file": "CERT", "key_file": "CERT"}, "tls.key_file: .* 'PRIVATE KEY-----'"),
        ({"ca_file": "MISSING"}, "tls.ca_file: cannot read"),
    ],
)
def test_bad_configurations_name_what_is_wrong(pki: dict, kwargs: dict, message: str) -> None:
    files = {"CERT": pki["client"].cert_file, "KEY": pki["client"].key_file, "MISSING": Path("/nonexistent")}
    with pytest.raises(ValueError, match=message):
        TlsConfig(**{k: files.get(v, v) for k, v in kwargs.items()})


def test_flags_round_trip(pki: dict) -> None:
    p = argparse.ArgumentParser()
    transport.add_arguments(p)
    transport.add_arguments(p, "node-")
    assert transport.from_args(p.parse_args([])) is None
    tls = TlsConfig(pki["ca"].ca_file, pki["client"].cert_file, pki["client"].key_file, True, "localhost")
    args = p.parse_args(transport.to_flags(tls) + transport.to_flags(pki["server"].tls(), "node-"))
    assert transport.from_args(args) == tls
    assert transport.from_args(args, "node-") == pki["server"].tls()
