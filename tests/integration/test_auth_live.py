"""Credentials through real processes: a JWT works once its key is in the auth file, a revoked API key is
refused within the reload interval while its rotated successor works — no restart."""

from __future__ import annotations

import hashlib
import json
import time

import jwt

from cluster.local import ClusterSpec, LocalCluster
from dash_client.client import DashClient
from dash_client.errors import DashError

INTERVAL = 0.5
SECRET = "k" * 48


def _token(tenant: str, **claims) -> str:
    body = {
        "iss": "idp",
        "aud": "dash",
        "sub": "bob",
        "exp": int(time.time()) + 120,
        "tenant_id": tenant,
        **claims,
    }
    return jwt.encode(body, SECRET, algorithm="HS256", headers={"kid": "hs-1"})


def _refused(target: str, credential: str) -> str:
    try:
        with DashClient(target, api_key=credential, tenant="t") as dash:
            dash.retrieve("anything")
    except DashError as exc:
        return exc.code
    return ""


def test_jwt_and_live_rotation_and_revocation(tmp_path) -> None:
    spec = ClusterSpec(nodes=1, shards=1, replicas=1, router_flags=("--auth-reload-interval", str(INTERVAL)))
    with LocalCluster(tmp_path / "c", spec) as c:
        keys_file = c.dir / "api-keys.json"
        data = json.loads(keys_file.read_text())
        assert _refused(c.router, _token("t")) == "UNAUTHENTICATED"  # no JWT keys configured yet
        data["keys"].append({"name": "admin", "key": "rotated-admin-key-0123456789", "tenants": ["*"]})
        data["jwt"] = {
            "issuer": "idp",
            "audience": "dash",
            "keys": [{"kid": "hs-1", "alg": "HS256", "secret": SECRET}],
        }
        keys_file.write_text(json.dumps(data))
        deadline = time.monotonic() + INTERVAL + 5
        while _refused(c.router, _token("t")):
            assert time.monotonic() < deadline, "the router never picked up the JWT key"
            time.sleep(0.05)
        with DashClient(c.router, api_key=_token("t"), tenant="t") as dash:
            dash.ingest({"claim_id": "j1", "text": "written with a token"})
            assert dash.get_claim("j1").claim.text == "written with a token"
        assert _refused(c.router, _token("other-tenant")) == "PERMISSION_DENIED"  # its tenant is not "t"
        assert _refused(c.router, _token("t", exp=int(time.time()) - 600)) == "UNAUTHENTICATED"
        # Revoke the original admin key; its successor keeps working, no restart.
        data["revoked"] = [hashlib.sha256(c.api_key.encode()).hexdigest()]
        keys_file.write_text(json.dumps(data))
        revoked_at = time.monotonic()
        while not _refused(c.router, c.api_key):
            assert time.monotonic() - revoked_at < INTERVAL + 5, "the revoked key still works"
            time.sleep(0.05)
        took = time.monotonic() - revoked_at
        print(f"revoked key refused after {took:.2f} s (reload interval {INTERVAL} s)")
        assert took <= INTERVAL + 1.0
        assert _refused(c.router, c.api_key) == "UNAUTHENTICATED"
        assert _refused(c.router, "rotated-admin-key-0123456789") == ""
