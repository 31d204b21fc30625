"""Does a router's audit log account for every request it had to audit?

Two independent records are compared: the router's request counter (``dash_router_request_seconds``,
by method and status, scraped from its metrics endpoint) and the records in its audit log. Every
mutation, whatever its outcome, and every denied request must have a record. The router writes the
record before it counts the request, so a request can be audited but not yet counted, never the
reverse: ``missing`` > 0 is always a real gap.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from dash_router.audit import verify
from dash_router.server import DENIALS, MUTATIONS

_DENIED = {code.name for code in DENIALS}
# A file a `LocalCluster` appends its accounting to when it stops (one JSON line per router).
LEDGER_ENV = "DASH_AUDIT_ACCOUNTING"


def scrape(address: str, timeout: float = 5.0) -> Counter:
    """Requests a router has served, by (method, status name)."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=timeout) as resp:
        text = resp.read().decode()
    counts: Counter = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "dash_router_request_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_count"):
                counts[(sample.labels["method"], sample.labels["code"])] += int(sample.value)
    return counts


def must_audit(counts: Counter) -> Counter:
    """The requests among ``counts`` that need a record, by action."""
    out: Counter = Counter()
    for (method, code), n in counts.items():
        if method in MUTATIONS or code in _DENIED:
            out[method] += n
    return out


def account(log: Path, key: bytes, counts: Counter) -> dict:
    """Compare the audit log at ``log`` with the requests a router counted."""
    required = must_audit(counts)
    records: Counter = Counter()
    if log.exists():
        for line in log.read_text().splitlines():
            records[json.loads(line)["action"]] += 1
    problem = verify(log, key) if log.exists() else None
    missing = sum(max(required[a] - records[a], 0) for a in required)
    return {
        "log": str(log),
        "intact": problem is None,
        "problem": problem,
        "requests_to_audit": sum(required.values()),
        "records": sum(records.values()),
        "missing": missing,
        "by_action": {
            a: {"requests": required[a], "records": records[a]} for a in sorted(required | records)
        },
    }
