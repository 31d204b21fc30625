"""Throwaway certificates for a local cluster and for tests: one CA and a leaf per process.

Production clusters bring certificates from their own CA; this is what `dash certs issue` and
``LocalCluster(..., ClusterSpec(tls=True))`` use so that TLS and mutual TLS can be run end to end on one
machine. Leaves name ``localhost`` and the loopback addresses (plus any given names), are usable as server
and client certificates, and use ECDSA P-256 keys (small and fast to handshake).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dash_client.transport import TlsConfig

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Issued:
    """Where one process's files were written."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def tls(self, require_client_cert: bool = False) -> TlsConfig:
        return TlsConfig(self.ca_file, self.cert_file, self.key_file, require_client_cert)


class CertificateAuthority:
    """A self-signed CA kept in ``directory`` (``ca.pem``, ``ca.key``); created on first use."""

    def __init__(self, directory: Path, days: int = 30) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.days = days
        self.ca_file = self.directory / "ca.pem"
        key_file = self.directory / "ca.key"
        if self.ca_file.exists() and key_file.exists():
            self._key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            self._cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
            return
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DASH local CA")])
        self._cert = (
            self._builder(name, name, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        _write_key(key_file, self._key)
        self.ca_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name: str, extra_names: tuple[str, ...] = ()) -> Issued:
        """A leaf for process ``name`` (``<name>.pem``, ``<name>.key``), valid as server and client."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        sans: list[x509.GeneralName] = []
        for n in (*LOOPBACK_NAMES, *extra_names):
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        cert = (
            self._builder(subject, self._cert.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        cert_file, key_file = self.directory / f"{name}.pem", self.directory / f"{name}.key"
        _write_key(key_file, key)
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return Issued(self.ca_file, cert_file, key_file)

    def _builder(self, subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=self.days))
        )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Private keys are written readable by their owner only."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(pem)
