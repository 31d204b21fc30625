"""Credentials: JWTs (HS256, RS256, ES256; every way a token can be wrong is UNAUTHENTICATED), API keys
stored hashed, revocation and rotation picked up from the auth file without a restart."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from dash_router.auth import FileAuthenticator, PermissionDenied, Unauthenticated

SECRET = "s" * 40
OTHER_SECRET = "o" * 40


def _pem(private) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC = ec.generate_private_key(ec.SECP256R1())


def write_auth(path: Path, **extra) -> Path:
    data = {
        "keys": [
            {"name": "ops", "key": "key-ops-0123456789", "tenants": ["acme"]},
            {"name": "ci", "key_sha256": hashlib.sha256(b"key-ci-0123456789").hexdigest(), "tenants": ["*"]},
        ],
        "jwt": {
            "issuer": "https://idp.test",
            "audience": "dash",
            "leeway_seconds": 5,
            "keys": [
                {"kid": "hs-1", "alg": "HS256", "secret": SECRET},
                {"kid": "rsa-1", "alg": "RS256", "public_key": _pem(RSA)},
                {"kid": "ec-1", "alg": "ES256", "public_key": _pem(EC)},
            ],
        },
        **extra,
    }
    path.write_text(json.dumps(data))
    return path


def token(kid: str = "hs-1", key=SECRET, alg: str = "HS256", **claims) -> str:
    now = int(time.time())
    body = {"iss": "https://idp.test", "aud": "dash", "sub": "alice", "exp": now + 60, "tenant_id": "acme"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def auth_of(path: Path, interval: float = 0.0) -> FileAuthenticator:
    return FileAuthenticator(path, reload_interval=interval)


def call(auth: FileAuthenticator, credential: str):
    return auth.authenticate({"authorization": f"Bearer {credential}"})


def test_valid_tokens_of_each_algorithm_name_their_tenants(tmp_path: Path) -> None:
    auth = auth_of(write_auth(tmp_path / "auth.json"))
    assert call(auth, token()).tenants == {"acme"}
    assert call(auth, token("rsa-1", RSA, "RS256", tenant_id=["a", "b"])).tenants == {"a", "b"}
    principal = call(auth, token("ec-1", EC, "ES256"))
    assert principal.name == "jwt:alice"
    principal.check_tenant("acme")
    with pytest.raises(PermissionDenied, match="tenant_id"):
        principal.check_tenant("globex")


def _tampered() -> str:
    head, body, sig = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["tenant_id"] = "globex"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def _alg_none() -> str:
    head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "hs-1"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps({"exp": int(time.time()) + 60, "tenant_id": "*"}).encode())
    return f"{head.decode()}.{body.rstrip(b'=').decode()}."


@pytest.mark.parametrize(
    ("case", "make", "reason"),
    [
        ("expired", lambda: token(exp=int(time.time()) - 60), "expired"),
        ("not yet valid", lambda: token(nbf=int(time.time()) + 60), "not valid yet"),
        ("wrong issuer", lambda: token(iss="https://evil.test"), "issuer"),
        ("wrong audience", lambda: token(aud="other"), "audience"),
        ("no exp", lambda: token(exp=None), "'exp'"),
        ("wrong key", lambda: token(key=OTHER_SECRET), "invalid token"),
        ("unknown kid", lambda: token(kid="hs-9"), "unknown token key id"),
        ("alg none", _alg_none, "algorithm"),
        ("HMAC with the RSA key's kid", lambda: token("rsa-1", SECRET, "HS256"), "algorithm"),
        ("tampered payload", _tampered, "invalid token"),
        ("wildcard tenant", lambda: token(tenant_id="*"), "wildcard"),
        ("no tenant", lambda: token(tenant_id=None), "tenant"),
        ("garbage", lambda: "a.b.c", "malformed"),
    ],
)
def test_bad_tokens_are_unauthenticated(tmp_path: Path, case: str, make, reason: str) -> None:
    auth = auth_of(write_auth(tmp_path / "auth.json"))
    with pytest.raises(Unauthenticated, match=reason):
        call(auth, make())


def test_clock_skew_is_bounded(tmp_path: Path) -> None:
    auth = auth_of(write_auth(tmp_path / "auth.json"))  # leeway 5 s
    assert call(auth, token(exp=int(time.time()) - 2)).tenants == {"acme"}
    with pytest.raises(Unauthenticated, match="expired"):
        call(auth, token(exp=int(time.time()) - 30))


def test_api_keys_stored_hashed_revoked_and_rotated_live(tmp_path: Path) -> None:
    path = write_auth(tmp_path / "auth.json")
    auth = auth_of(path, interval=0.0)
    assert call(auth, "key-ops-0123456789").name == "ops"
    assert call(auth, "key-ci-0123456789").tenants == {"*"}  # known only by its digest
    with pytest.raises(Unauthenticated, match="unknown API key"):
        call(auth, "key-nobody")
    # Rotation: the successor joins, then the old key is revoked — no restart.
    data = json.loads(path.read_text())
    data["keys"].append({"name": "ops", "key": "key-ops-NEW-456789", "tenants": ["acme"]})
    data["revoked"] = [hashlib.sha256(b"key-ops-0123456789").hexdigest()]
    path.write_text(json.dumps(data))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1))
    with pytest.raises(Unauthenticated, match="revoked"):
        call(auth, "key-ops-0123456789")
    assert call(auth, "key-ops-NEW-456789").name == "ops"
    # A broken file leaves the last good configuration in force.
    path.write_text("{not json")
    assert call(auth, "key-ops-NEW-456789").name == "ops"


def test_reload_waits_for_its_interval(tmp_path: Path) -> None:
    path = write_auth(tmp_path / "auth.json")
    auth = auth_of(path, interval=3600.0)
    call(auth, "key-ops-0123456789")
    data = json.loads(path.read_text())
    data["revoked"] = [hashlib.sha256(b"key-ops-0123456789").hexdigest()]
    path.write_text(json.dumps(data))
    assert call(auth, "key-ops-0123456789").name == "ops"  # not re-read before the interval


def test_bad_configuration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text(
        json.dumps({"keys": [], "jwt": {"keys": [{"kid": "k", "alg": "HS256", "secret": "short"}]}})
    )
    with pytest.raises(ValueError, match="at least 32"):
        auth_of(path)
    path.write_text(json.dumps({"keys": [], "jwt": {"keys": [{"kid": "k", "alg": "none"}]}}))
    with pytest.raises(ValueError, match="alg"):
        auth_of(path)
