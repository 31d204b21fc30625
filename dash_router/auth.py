"""Who is calling, and which tenants they may touch.

API keys come from a JSON file (``{"keys": [{"name": "ops", "key": "…", "tenants": ["acme"]}]}``, where
``"*"`` means every tenant) or from ``$DASH_API_KEYS`` (``key=tenant1|tenant2,key2=*``). Keys are kept
only as sha256 digests and compared in constant time; a key is never logged. The ``Authenticator``
protocol is the seam where JWT verification plugs in later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dash_node.errors import DashError


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


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def bearer(metadata: dict[str, str]) -> str:
    """The presented credential: ``authorization: Bearer X`` or ``x-api-key: X``."""
    auth = metadata.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return metadata.get("x-api-key", "").strip()


class ApiKeyAuthenticator:
    """Static API keys with tenant scopes."""

    def __init__(self, entries: list[tuple[str, str, frozenset[str]]]) -> None:
        # (digest, principal name, tenants); several keys may map to one principal (rotation overlap).
        self._entries = [(_digest(key), name, tenants) for key, name, tenants in entries]

    @classmethod
    def from_file(cls, path: Path) -> ApiKeyAuthenticator:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = []
        for i, k in enumerate(data.get("keys", [])):
            if not k.get("key") or not k.get("tenants"):
                raise ValueError(f"{path}: keys[{i}] needs 'key' and 'tenants'")
            entries.append((k["key"], k.get("name", f"key-{i}"), frozenset(k["tenants"])))
        return cls(entries)

    @classmethod
    def from_env(cls, spec: str) -> ApiKeyAuthenticator:
        entries = []
        for i, part in enumerate(p for p in spec.split(",") if p.strip()):
            key, _, tenants = part.strip().partition("=")
            if not key or not tenants:
                raise ValueError(f"DASH_API_KEYS entry {i}: expected key=tenant1|tenant2")
            entries.append((key, f"env-key-{i}", frozenset(t for t in tenants.split("|") if t)))
        return cls(entries)

    def authenticate(self, metadata: dict[str, str]) -> Principal:
        presented = bearer(metadata)
        if not presented:
            raise Unauthenticated("authorization: no API key presented")
        digest = _digest(presented)
        found = None
        for known, name, tenants in self._entries:  # no early exit: constant work per key
            if hmac.compare_digest(known, digest):
                found = Principal(name, tenants)
        if found is None:
            raise Unauthenticated("authorization: unknown API key")
        return found


def load_authenticator(path: Path | None) -> ApiKeyAuthenticator:
    if path is not None:
        return ApiKeyAuthenticator.from_file(path)
    spec = os.environ.get("DASH_API_KEYS", "")
    if not spec:
        raise ValueError("no API keys configured: pass --api-keys-file or set DASH_API_KEYS")
    return ApiKeyAuthenticator.from_env(spec)
