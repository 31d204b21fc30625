"""Who is calling, and which tenants they may touch: API keys and JWTs, reloaded live.

The auth file (``--api-keys-file``) is JSON::

    {"keys": [{"name": "ops", "key": "…", "tenants": ["acme"]},
              {"name": "ci", "key_sha256": "<hex>", "tenants": ["*"]}],
     "revoked": ["<sha256 hex of a key>", …],
     "jwt": {"issuer": "https://idp.example", "audience": "dash", "leeway_seconds": 30,
             "tenant_claim": "tenant_id", "allow_wildcard": false,
             "keys": [{"kid": "2026-11", "alg": "HS256", "secret": "…"},
                      {"kid": "rsa-1", "alg": "RS256", "public_key_file": "idp.pem"}]}}

API keys are kept only as sha256 digests (a file may hold just the digests) and compared in constant time;
several keys may name one principal, so a key is rotated by adding its successor, moving clients over, and
revoking it. ``$DASH_API_KEYS`` (``key=tenant1|tenant2,key2=*``) serves quick local runs.

A bearer credential with the shape of a JWT is verified as one: the ``kid`` in its header selects the key
(several may be active at once, for rotation), the algorithm must be the key's own (no ``none``, no
switching an RSA key for an HMAC secret), ``exp`` is required, ``nbf``/``iss``/``aud`` are checked with a
bounded clock skew, and the tenant claim names the tenants (``*`` only if the file allows it).

The file is re-read when it changes, checked at most every ``reload_interval`` seconds, so a revocation
or a new key takes effect within that interval without a restart; a file that fails to parse leaves the
last good configuration in force. No credential is ever logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import jwt

from dash_node.errors import DashError

log = logging.getLogger(__name__)

ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
MAX_LEEWAY_S = 300


class Unauthenticated(DashError):
    code = "UNAUTHENTICATED"


class PermissionDenied(DashError):
    code = "PERMISSION_DENIED"


@dataclass(frozen=True)
class Principal:
    name: str
    tenants: frozenset[str]

    def check_tenant(self, tenant_id: str) -> None:
        if "*" not in self.tenants and tenant_id not in self.tenants:
            raise PermissionDenied(f"tenant_id: this credential may not access tenant '{tenant_id}'")


class Authenticator(Protocol):
    def authenticate(self, metadata: dict[str, str]) -> Principal: ...


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def bearer(metadata: dict[str, str]) -> str:
    """The presented credential: ``authorization: Bearer X`` or ``x-api-key: X``."""
    auth = metadata.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return metadata.get("x-api-key", "").strip()


@dataclass(frozen=True)
class JwtKey:
    kid: str
    alg: str
    material: object  # the HMAC secret (bytes) or a public key (PEM text)


@dataclass(frozen=True)
class JwtConfig:
    keys: dict[str, JwtKey]
    issuer: str = ""
    audience: str = ""
    leeway_seconds: float = 30.0
    tenant_claim: str = "tenant_id"
    allow_wildcard: bool = False


@dataclass(frozen=True)
class AuthConfig:
    """One parsed auth file (or environment)."""

    keys: list[tuple[bytes, str, frozenset[str]]] = field(default_factory=list)  # digest, name, tenants
    revoked: frozenset[bytes] = frozenset()
    jwt: JwtConfig | None = None

    @classmethod
    def parse(cls, data: dict, base: Path) -> AuthConfig:
        keys = []
        for i, k in enumerate(data.get("keys", [])):
            tenants = k.get("tenants")
            if not tenants or not isinstance(tenants, list):
                raise ValueError(f"keys[{i}]: needs a list of 'tenants'")
            if k.get("key"):
                d = digest(k["key"])
            elif k.get("key_sha256"):
                d = bytes.fromhex(k["key_sha256"])
            else:
                raise ValueError(f"keys[{i}]: needs 'key' or 'key_sha256'")
            keys.append((d, k.get("name", f"key-{i}"), frozenset(tenants)))
        revoked = frozenset(bytes.fromhex(h) for h in data.get("revoked", []))
        return cls(keys, revoked, _parse_jwt(data["jwt"], base) if data.get("jwt") else None)

    @classmethod
    def from_env(cls, spec: str) -> AuthConfig:
        keys = []
        for i, part in enumerate(p for p in spec.split(",") if p.strip()):
            key, _, tenants = part.strip().partition("=")
            if not key or not tenants:
                raise ValueError(f"DASH_API_KEYS entry {i}: expected key=tenant1|tenant2")
            keys.append((digest(key), f"env-key-{i}", frozenset(t for t in tenants.split("|") if t)))
        return cls(keys)


def _parse_jwt(cfg: dict, base: Path) -> JwtConfig:
    keys = {}
    for i, k in enumerate(cfg.get("keys", [])):
        kid, alg = k.get("kid", ""), k.get("alg", "")
        if not kid or alg not in ALGORITHMS:
            raise ValueError(f"jwt.keys[{i}]: needs a 'kid' and an 'alg' among {ALGORITHMS}")
        if alg.startswith("HS"):
            secret = k.get("secret", "")
            if len(secret) < 32:
                raise ValueError(f"jwt.keys[{i}]: an HMAC secret needs at least 32 characters")
            material: object = secret.encode()
        elif k.get("public_key"):
            material = k["public_key"]
        elif k.get("public_key_file"):
            material = (base / k["public_key_file"]).read_text()
        else:
            raise ValueError(f"jwt.keys[{i}]: {alg} needs 'public_key' or 'public_key_file'")
        keys[kid] = JwtKey(kid, alg, material)
    leeway = float(cfg.get("leeway_seconds", 30))
    if not 0 <= leeway <= MAX_LEEWAY_S:
        raise ValueError(f"jwt.leeway_seconds: must be within [0, {MAX_LEEWAY_S}]")
    return JwtConfig(
        keys,
        issuer=cfg.get("issuer", ""),
        audience=cfg.get("audience", ""),
        leeway_seconds=leeway,
        tenant_claim=cfg.get("tenant_claim", "tenant_id"),
        allow_wildcard=bool(cfg.get("allow_wildcard", False)),
    )


def verify_api_key(config: AuthConfig, presented: str) -> Principal:
    d = digest(presented)
    found = None
    for known, name, tenants in config.keys:  # no early exit: constant work per key
        if hmac.compare_digest(known, d):
            found = Principal(name, tenants)
    if found is None:
        raise Unauthenticated("authorization: unknown API key")
    if any(hmac.compare_digest(r, d) for r in config.revoked):
        raise Unauthenticated("authorization: this API key was revoked")
    return found


def verify_jwt(config: JwtConfig, token: str) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthenticated("authorization: malformed token") from exc
    key = config.keys.get(str(header.get("kid", "")))
    if key is None:
        raise Unauthenticated("authorization: unknown token key id (kid)")
    if header.get("alg") != key.alg:
        raise Unauthenticated("authorization: token algorithm does not match its key")
    required = ["exp"] + (["iss"] if config.issuer else []) + (["aud"] if config.audience else [])
    try:
        claims = jwt.decode(
            token,
            key.material,
            algorithms=[key.alg],
            issuer=config.issuer or None,
            audience=config.audience or None,
            leeway=config.leeway_seconds,
            options={"require": required},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("authorization: token expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise Unauthenticated("authorization: token not valid yet (nbf)") from exc
    except jwt.InvalidIssuerError as exc:
        raise Unauthenticated("authorization: wrong token issuer") from exc
    except jwt.InvalidAudienceError as exc:
        raise Unauthenticated("authorization: wrong token audience") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthenticated(f"authorization: token lacks the '{exc.claim}' claim") from exc
    except jwt.PyJWTError as exc:  # bad signature, bad encoding
        raise Unauthenticated("authorization: invalid token") from exc
    raw = claims.get(config.tenant_claim)
    tenants = [raw] if isinstance(raw, str) else raw
    if not tenants or not isinstance(tenants, list) or not all(isinstance(t, str) and t for t in tenants):
        raise Unauthenticated(f"authorization: token has no '{config.tenant_claim}' claim naming tenants")
    if "*" in tenants and not config.allow_wildcard:
        raise Unauthenticated("authorization: wildcard tenants are not allowed in tokens")
    return Principal(f"jwt:{claims.get('sub', '?')}", frozenset(tenants))


def _looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2


class FileAuthenticator:
    """API keys and JWTs from the auth file, re-read when it changes (checked every ``reload_interval``)."""

    def __init__(self, path: Path | None, reload_interval: float = 2.0, env_spec: str = "") -> None:
        self.path = path
        self.reload_interval = reload_interval
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        if path is None:
            self.config = AuthConfig.from_env(env_spec)
        else:
            self.config = self._read()

    def _read(self) -> AuthConfig:
        st = self.path.stat()
        config = AuthConfig.parse(json.loads(self.path.read_text(encoding="utf-8")), self.path.parent)
        self._stamp = (st.st_mtime_ns, st.st_size)
        return config

    def _current(self) -> AuthConfig:
        if self.path is None:
            return self.config
        now = time.monotonic()
        if now - self._checked < self.reload_interval:
            return self.config
        with self._lock:
            self._checked = now
            try:
                st = self.path.stat()
                if (st.st_mtime_ns, st.st_size) != self._stamp:
                    self.config = self._read()
                    log.info(
                        "auth file %s reloaded: %d keys, %d revoked",
                        self.path,
                        len(self.config.keys),
                        len(self.config.revoked),
                    )
            except (OSError, ValueError) as exc:  # keep the last good configuration
                log.warning("auth file %s not reloaded (%s); keeping the previous one", self.path, exc)
            return self.config

    def authenticate(self, metadata: dict[str, str]) -> Principal:
        presented = bearer(metadata)
        if not presented:
            raise Unauthenticated("authorization: no credential presented")
        config = self._current()
        if config.jwt is not None and _looks_like_jwt(presented):
            return verify_jwt(config.jwt, presented)
        return verify_api_key(config, presented)


def load_authenticator(path: Path | None, reload_interval: float = 2.0) -> FileAuthenticator:
    if path is not None:
        return FileAuthenticator(path, reload_interval)
    spec = os.environ.get("DASH_API_KEYS", "")
    if not spec:
        raise ValueError("no API keys configured: pass --api-keys-file or set DASH_API_KEYS")
    return FileAuthenticator(None, env_spec=spec)
