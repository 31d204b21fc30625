"""Randomised tenant-isolation probes through the router, with API keys and JWTs.

Five tenants write claims that share vocabulary, subjects and document ids, each with marker words of its
own; the probes also write and delete other tenants' claim ids. Each tenant has an API
key and a JWT scoped to it. Then seeded random probes — retrievals (plain, filtered, with history and graph
expansion), claim reads, writes aimed at another tenant's claims, and calls naming a tenant the credential
does not hold — check that:

- an answer carries only the asking tenant's claims, citations and related claims;
- a credential never reaches another tenant (``PERMISSION_DENIED``), whichever kind it is;
- errors never name another tenant, its claims or its marker words.

``run_probes`` returns counts by call and outcome and the list of violations (which must stay empty).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import jwt

from cluster.local import LocalCluster
from dash_client.client import ClientConfig, DashClient, RetryPolicy
from dash_client.errors import DashError

TENANTS = ("amber", "birch", "cedar", "delta", "ember")
WORDS = ("harbour", "ferry", "cargo", "storm", "budget", "crane", "pier", "tide", "freight", "dock")
SUBJECTS = ("Port Authority", "Rhine Valley", "Acme Corp", "North Quay")
JWT_SECRET = "probe-secret-" + "x" * 32


@dataclass
class ProbeReport:
    requests: Counter = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    # Writes of another tenant's claim id: ids are scoped by tenant, so each made a claim of the
    # writer's own (read back by the writer); the owner's claim is checked unchanged at the end.
    foreign_id_writes: int = 0

    def to_json(self) -> dict:
        return {
            "requests": sum(self.requests.values()),
            "foreign_id_writes_as_own_claims": self.foreign_id_writes,
            "by_call_and_outcome": dict(sorted(self.requests.items())),
            "violations": self.violations[:50],
            "violation_count": len(self.violations),
        }


def _markers(tenant: str) -> tuple[str, ...]:
    return tuple(f"{tenant}mark{i}" for i in range(3))


def _credentials(cluster: LocalCluster) -> dict[str, dict[str, str]]:
    """Per tenant an API key and a JWT, added to the running router's auth file (picked up live)."""
    keys_file = cluster.dir / "api-keys.json"
    data = json.loads(keys_file.read_text())
    creds = {}
    for t in TENANTS:
        key = f"probe-key-{t}-0123456789"
        data["keys"].append({"name": f"probe-{t}", "key": key, "tenants": [t]})
        token = jwt.encode(
            {
                "sub": f"user-{t}",
                "tenant_id": t,
                "exp": int(time.time()) + 3600,
                "iss": "probe",
                "aud": "dash",
            },
            JWT_SECRET,
            algorithm="HS256",
            headers={"kid": "probe"},
        )
        creds[t] = {"api_key": key, "jwt": token}
    data["jwt"] = {
        "issuer": "probe",
        "audience": "dash",
        "keys": [{"kid": "probe", "alg": "HS256", "secret": JWT_SECRET}],
    }
    keys_file.write_text(json.dumps(data))
    return creds


def _client(cluster: LocalCluster, credential: str, tenant: str) -> DashClient:
    config = ClientConfig(
        target=cluster.router,
        api_key=credential,
        tenant=tenant,
        timeout=10.0,
        retry=RetryPolicy(max_attempts=1),
        tls=cluster.tls,
    )
    return DashClient(config=config)


def _wait_live(cluster: LocalCluster, creds: dict[str, dict[str, str]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    for t, c in creds.items():
        for credential in c.values():
            while True:
                try:
                    with _client(cluster, credential, t) as dash:
                        dash.retrieve("warmup")
                    break
                except DashError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


def _write(cluster: LocalCluster, creds: dict[str, dict[str, str]], rng: random.Random):
    """Each tenant's claims: the ids it owns, and the texts of its structured claims."""
    owned: dict[str, set[str]] = {t: set() for t in TENANTS}
    originals: dict[str, dict[str, str]] = {t: {} for t in TENANTS}
    for k, t in enumerate(TENANTS):
        with _client(cluster, creds[t]["api_key"], t) as dash:
            claims = []
            for i in range(40):
                words = " ".join(rng.sample(WORDS, 4))
                claims.append(
                    {
                        "claim_id": f"id-{1000 * k + i}",  # opaque: an echoed id must not name its tenant
                        "subject": rng.choice(SUBJECTS),
                        "text": f"{rng.choice(SUBJECTS)} {words} {rng.choice(_markers(t))}.",
                        "labels": {"topic": rng.choice(("a", "b"))},
                        "evidence": [
                            {
                                "evidence_id": f"ev-{1000 * k + i}",
                                "doc_id": "shared-doc",
                                "quote": words[:5],
                                "span_start": 0,
                                "span_end": 5,
                            }
                        ],
                    }
                )
            dash.ingest_batch(claims)
            owned[t] |= {c["claim_id"] for c in claims}
            originals[t] = {c["claim_id"]: c["text"] for c in claims}
            doc = dash.ingest_document(
                "shared-doc", f"The {rng.choice(WORDS)} report: {' '.join(_markers(t))}."
            )
            owned[t] |= set(doc.claim_ids)
    return owned, originals


def run_probes(cluster: LocalCluster, n: int = 10_000, seed: int = 7) -> ProbeReport:
    rng = random.Random(seed)
    creds = _credentials(cluster)
    _wait_live(cluster, creds)
    owned, originals = _write(cluster, creds, rng)
    report = ProbeReport()
    clients = {
        (t, kind, target): _client(cluster, cred, target)
        for t in TENANTS
        for kind, cred in creds[t].items()
        for target in TENANTS
    }
    try:
        for _ in range(n):
            me = rng.choice(TENANTS)
            kind = rng.choice(("api_key", "jwt"))
            target = me if rng.random() < 0.85 else rng.choice([x for x in TENANTS if x != me])
            other = rng.choice([x for x in TENANTS if x != me])
            dash = clients[(me, kind, target)]
            call = rng.choice(
                (
                    "retrieve",
                    "retrieve_filtered",
                    "get_own",
                    "get_foreign",
                    "write_foreign",
                    "delete_foreign",
                    "evidence_foreign",
                )
            )
            foreign_id = rng.choice(sorted(owned[other] - owned[me]))
            try:
                if call.startswith("retrieve"):
                    q = " ".join(rng.sample(WORDS, 2)) + " " + rng.choice(_markers(rng.choice(TENANTS)))
                    kw = (
                        {"labels": {"topic": "a"}, "include_history": True, "graph_depth": 2}
                        if call == "retrieve_filtered"
                        else {}
                    )
                    res = dash.retrieve(q, top_k=rng.randrange(1, 30), **kw)
                    _check_results(report, me, target, owned, res)
                elif call == "get_own":
                    dash.get_claim(rng.choice(sorted(owned[me])))
                elif call == "get_foreign":
                    # Found only if the caller made a claim of that id itself (see write_foreign).
                    got = dash.get_claim(foreign_id).claim.text
                    if got == originals[other].get(foreign_id) or any(m in got for m in _markers(other)):
                        report.violations.append(f"{me} read {other}'s claim {foreign_id}")
                elif call == "write_foreign":
                    # A claim of the writer's own; a refusal would tell it someone holds that id.
                    dash.ingest({"claim_id": foreign_id, "text": "overwrite attempt"})
                    if dash.get_claim(foreign_id).claim.text != "overwrite attempt":
                        report.violations.append(f"{me}'s write of id {foreign_id} is not its own claim")
                    report.foreign_id_writes += 1
                elif call == "delete_foreign":
                    dash.delete_claim(foreign_id)  # at most the caller's own claim of that id
                else:
                    ev = {
                        "evidence_id": "ev-probe",
                        "claim_id": foreign_id,
                        "quote": "x",
                        "span_start": 0,
                        "span_end": 1,
                    }
                    dash.upsert_evidence([ev])  # lands only on a claim of the caller's own, if any
                outcome = "OK"
            except DashError as exc:
                outcome = exc.code
                _check_error(report, me, target, exc)
            if target != me and outcome != "PERMISSION_DENIED":
                report.violations.append(f"{me}'s {kind} reached tenant {target} ({call}: {outcome})")
            if outcome == "ALREADY_EXISTS":
                report.violations.append(f"{me} learned that id {foreign_id} is taken ({call})")
            report.requests[f"{call}:{kind}:{outcome}"] += 1
        _check_owners_intact(cluster, creds, originals, report)
    finally:
        for c in clients.values():
            c.close()
    return report


def _check_owners_intact(
    cluster: LocalCluster, creds, originals: dict[str, dict[str, str]], report: ProbeReport
) -> None:
    """After all the foreign writes and deletes, every tenant's claims are as it wrote them."""
    for t, texts in originals.items():
        with _client(cluster, creds[t]["api_key"], t) as dash:
            for cid, text in texts.items():
                try:
                    record = dash.get_claim(cid)
                except DashError as exc:
                    report.violations.append(f"{t}'s claim {cid} is gone ({exc.code})")
                    continue
                if record.claim.text != text:
                    report.violations.append(f"{t}'s claim {cid} was changed by someone else")
                if any(ev.evidence_id == "ev-probe" for ev in record.evidence):
                    report.violations.append(f"someone attached evidence to {t}'s claim {cid}")


def _check_results(report: ProbeReport, me: str, target: str, owned: dict[str, set[str]], res) -> None:
    if target != me:
        report.violations.append(f"{me} retrieved from {target}")
        return
    foreign = set().union(*(owned[t] for t in TENANTS if t != me)) - owned[me]
    others_markers = [m for t in TENANTS if t != me for m in _markers(t)]
    for r in res.results:
        related = [rc.claim_id for rc in (*r.contradicting, *r.supporting)]
        for cid in [r.claim_id, *related]:
            if cid in foreign or cid not in owned[me]:
                report.violations.append(f"{me} saw {cid}")
        text = r.text + " ".join(c.quote for c in r.citations)
        if any(m in text for m in others_markers):
            report.violations.append(f"{me} saw another tenant's marker in {r.claim_id}")


def _check_error(report: ProbeReport, me: str, target: str, exc: DashError) -> None:
    message = str(exc)
    for t in TENANTS:
        if t in (me, target):
            continue
        if t in message or any(m in message for m in _markers(t)):
            report.violations.append(f"an error to {me} names tenant {t}: {message}")
