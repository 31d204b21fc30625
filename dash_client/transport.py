"""Transport security: TLS on every listener and channel, mutual TLS where a process must prove who it is.

One ``TlsConfig`` per process says whom it trusts (``ca_file``) and who it is (``cert_file`` and
``key_file``). The same identity serves its listener and, as a client certificate, its calls to peers
(router -> node, node -> node), so one set of files per process is all an operator manages. With
``require_client_cert`` its listener refuses any peer whose certificate the CA did not sign (mTLS).

Servers re-read their certificate files when they change (gRPC asks before each handshake; we compare
modification times), so a certificate can be rotated without a restart. ``None`` everywhere means
plaintext, which is only sensible on loopback.
"""

from __future__ import annotations

import argparse
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

# What each file must hold; checked when the configuration is made so that a wrong file fails at start,
# not at the first handshake.
_PEM_MARKERS = {
    "ca_file": b"CERTIFICATE-----",
    "cert_file": b"CERTIFICATE-----",
    "key_file": b"PRIVATE KEY-----",
}


@dataclass(frozen=True)
class TlsConfig:
    """Files in PEM. ``server_name`` overrides the name checked against the server's certificate (for
    servers reached by an address their certificate does not name)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    require_client_cert: bool = False
    server_name: str = ""

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls: a certificate needs its key (give both --tls-cert and --tls-key)")
        if self.require_client_cert and self.ca_file is None:
            raise ValueError("tls: --tls-client-auth needs --tls-ca to check client certificates against")
        for name, marker in _PEM_MARKERS.items():
            path = getattr(self, name)
            if path is None:
                continue
            try:
                if marker not in Path(path).read_bytes():
                    raise ValueError(f"tls.{name}: {path} holds no PEM block ending in {marker.decode()!r}")
            except OSError as exc:
                raise ValueError(f"tls.{name}: cannot read {path}: {exc.strerror}") from exc

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Credentials to call a TLS server: trust ``ca_file`` (the system roots without it) and present
        this process's certificate when it has one."""
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file),
            private_key=_read(self.key_file),
            certificate_chain=_read(self.cert_file),
        )

    def server_credentials(self) -> grpc.ServerCredentials:
        """Credentials for a listener; the certificate is re-read whenever its files change."""
        if self.cert_file is None or self.key_file is None:
            raise ValueError("tls: a listener needs --tls-cert and --tls-key")
        files = _ReloadingFiles(self)
        return grpc.dynamic_ssl_server_credentials(
            files.initial(), files.fetch, require_client_authentication=self.require_client_cert
        )

    def channel_options(self) -> list[tuple[str, Any]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []


def open_channel(
    target: str, tls: TlsConfig | None, options: Sequence[tuple[str, Any]] = (), **kwargs: Any
) -> grpc.Channel:
    """A blocking channel to ``target``: TLS when ``tls`` is set, plaintext otherwise."""
    if tls is None:
        return grpc.insecure_channel(target, options=list(options), **kwargs)
    opts = list(options) + tls.channel_options()
    return grpc.secure_channel(target, tls.channel_credentials(), options=opts, **kwargs)


def open_aio_channel(
    target: str, tls: TlsConfig | None, options: Sequence[tuple[str, Any]] = (), **kwargs: Any
) -> grpc.aio.Channel:
    """The asyncio twin of ``open_channel``."""
    if tls is None:
        return grpc.aio.insecure_channel(target, options=list(options), **kwargs)
    opts = list(options) + tls.channel_options()
    return grpc.aio.secure_channel(target, tls.channel_credentials(), options=opts, **kwargs)


def bind(server: grpc.Server | grpc.aio.Server, listen: str, tls: TlsConfig | None) -> int:
    """Bind ``server`` to ``listen`` (TLS when ``tls`` is set); the bound port. Raises OSError if the
    address cannot be bound."""
    port = (
        server.add_insecure_port(listen)
        if tls is None
        else server.add_secure_port(listen, tls.server_credentials())
    )
    if port == 0:
        raise OSError(f"--listen: cannot bind {listen}")
    return port


def add_arguments(p: argparse.ArgumentParser, prefix: str = "", what: str = "") -> None:
    """The ``--<prefix>tls-*`` flags; ``what`` names the connections they secure in the help."""
    scope = f" ({what})" if what else ""
    p.add_argument(f"--{prefix}tls-ca", type=Path, default=None, help=f"PEM CA bundle: whom to trust{scope}")
    p.add_argument(f"--{prefix}tls-cert", type=Path, default=None, help=f"PEM certificate chain{scope}")
    p.add_argument(
        f"--{prefix}tls-key", type=Path, default=None, help=f"PEM private key of the certificate{scope}"
    )
    p.add_argument(
        f"--{prefix}tls-client-auth",
        action="store_true",
        help=f"listeners: refuse peers without a certificate signed by the CA (mutual TLS){scope}",
    )
    p.add_argument(
        f"--{prefix}tls-server-name",
        default="",
        help=f"name to check the server certificate against, if not the host{scope}",
    )


def from_args(args: argparse.Namespace, prefix: str = "") -> TlsConfig | None:
    """The TLS configuration the ``--<prefix>tls-*`` flags give; ``None`` (plaintext) when none is set.
    Raises ValueError naming what is wrong."""
    key = prefix.replace("-", "_") + "tls_"
    ca, cert, pem_key, client_auth, server_name = (
        getattr(args, key + name) for name in ("ca", "cert", "key", "client_auth", "server_name")
    )
    if not (ca or cert or pem_key or client_auth):
        return None
    return TlsConfig(ca, cert, pem_key, client_auth, server_name)


def to_flags(tls: TlsConfig | None, prefix: str = "") -> list[str]:
    """The command-line flags that give ``tls`` to a child process."""
    if tls is None:
        return []
    flags = []
    for name, value in (("ca", tls.ca_file), ("cert", tls.cert_file), ("key", tls.key_file)):
        if value is not None:
            flags += [f"--{prefix}tls-{name}", str(value)]
    if tls.require_client_cert:
        flags.append(f"--{prefix}tls-client-auth")
    if tls.server_name:
        flags += [f"--{prefix}tls-server-name", tls.server_name]
    return flags


def _read(path: Path | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


class _ReloadingFiles:
    """Serves a listener's certificate configuration, fresh whenever a file's modification time moves."""

    def __init__(self, tls: TlsConfig) -> None:
        self._tls = tls
        self._lock = threading.Lock()
        self._stamp = self._mtimes()

    def _mtimes(self) -> tuple[int, ...]:
        files = (self._tls.ca_file, self._tls.cert_file, self._tls.key_file)
        return tuple(Path(f).stat().st_mtime_ns if f is not None else 0 for f in files)

    def initial(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(_read(self._tls.key_file), _read(self._tls.cert_file))],
            root_certificates=_read(self._tls.ca_file),
        )

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before handshakes: a new configuration if the files changed, else None (keep)."""
        try:
            with self._lock:
                stamp = self._mtimes()
                if stamp == self._stamp:
                    return None
                # Half-replaced files (a new key beside the old certificate) are not taken: keep serving
                # the old pair and look again at the next handshake.
                ssl.create_default_context().load_cert_chain(self._tls.cert_file, self._tls.key_file)
                config = self.initial()
                self._stamp = stamp
                return config
        except (OSError, ssl.SSLError):
            return None
