"""Tenant isolation under randomised probes through a real cluster, with API keys and JWTs.

.venv/bin/python scripts/probe_tenants.py --probes 10000 --out docs/benchmarks/tenant_probes.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster.local import ClusterSpec, LocalCluster
from cluster.tenant_probes import TENANTS, run_probes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--probes", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/tenant_probes.json"))
    args = ap.parse_args()
    spec = ClusterSpec(nodes=3, shards=4, replicas=2, router_flags=("--auth-reload-interval", "0.2"))
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, LocalCluster(Path(tmp) / "c", spec) as cluster:
        report = run_probes(cluster, args.probes, args.seed)
    result = {
        "tenants": len(TENANTS),
        "seed": args.seed,
        "seconds": round(time.monotonic() - started, 1),
        **report.to_json(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "by_call_and_outcome"}, indent=2))
    return 0 if not report.violations else 1


if __name__ == "__main__":
    sys.exit(main())
