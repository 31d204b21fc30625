"""Drills: real faults under real load on a local cluster, each ending with the checker's verdict.

``dash drill failover|partition|rebalance|split --dir D [--runs N] [--json]`` — see the module of each.
Each drill writes its artifact
(placement before/after with epochs, timings, write unavailability, error counts, checker verdict) to
``D/drill-<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from cluster.drills.failover import run_failover
from cluster.drills.partition import run_partition
from cluster.drills.rebalance import run_rebalance, run_split

DRILLS = {
    "failover": run_failover,
    "partition": run_partition,
    "rebalance": run_rebalance,
    "split": run_split,
}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="dash drill", description="fault drills on a local cluster, with a checker"
    )
    p.add_argument("name", choices=sorted(DRILLS))
    p.add_argument("--dir", type=Path, required=True, help="directory for the drill's cluster and artifact")
    p.add_argument("--runs", type=int, default=None, help="default: 20 for failover, 3 for the others")
    p.add_argument("--json", action="store_true", help="print the artifact as JSON")
    p.add_argument("--keep", action="store_true", help="keep the drill's cluster directory (logs, data)")
    args = p.parse_args(argv)
    cluster_dir = args.dir / f"{args.name}-cluster"
    shutil.rmtree(cluster_dir, ignore_errors=True)
    runs = args.runs if args.runs is not None else (20 if args.name == "failover" else 3)
    try:
        result = DRILLS[args.name](cluster_dir, runs=runs)
    finally:
        if not args.keep:
            shutil.rmtree(cluster_dir, ignore_errors=True)
    args.dir.mkdir(parents=True, exist_ok=True)
    artifact = args.dir / f"drill-{args.name}.json"
    artifact.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        summary = {k: v for k, v in result.items() if k != "results"}
        print(json.dumps(summary, indent=2))
        print(f"artifact: {artifact}", file=sys.stderr)
    return 0 if result["all_checks_ok"] else 1
