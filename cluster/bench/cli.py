"""`dash bench`: reproducible performance figures for DASH on this machine.

    dash bench --profile smoke|standard|large|xlarge [--json] [--router ADDR --api-key K] [--layout 1x1]

A profile generates its corpus (``corpus.py``), starts a local cluster (or uses ``--router``), and runs
every measurement (``measure.py``); the result is kept under ``<out>/history/``, plotted, and summarised
in ``<out>/bench.md``. Progress goes to stderr; ``--json`` prints the result on stdout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import signal
import sys
from pathlib import Path

from cluster.bench import report
from cluster.bench.run import PROFILES, run, with_layout


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="dash bench", description="benchmark DASH on this machine")
    p.add_argument("--profile", choices=sorted(PROFILES, key=lambda n: PROFILES[n].claims), default="smoke")
    p.add_argument("--router", default="", help="benchmark this router instead of starting a local cluster")
    p.add_argument("--api-key", default="", help="with --router: an API key for tenants bench*")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks"), help="where history/ and plots go")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print the result JSON on stdout")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots (no matplotlib needed)")
    p.add_argument(
        "--peers",
        action="store_true",
        help="also chromadb, lancedb, milvus-lite, qdrant, usearch (bench extra)",
    )
    p.add_argument(
        "--layout",
        default="",
        metavar="NODESxSHARDS",
        help="run the profile on a cluster of this shape instead of its own (results kept as PROFILE-NxS)",
    )
    p.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="MINUTES",
        help="instead of the measurements: mixed ingest and query load for MINUTES on the profile's corpus, "
        "reporting drift of latency, memory and disk (kept under <out>/soak/)",
    )
    args = p.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the local cluster is stopped rather than left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not (args.no_plots or args.soak) and importlib.util.find_spec("matplotlib") is None:
        # Said now, not after a run that can take half an hour.
        p.error("--no-plots, or install the bench extra for the plots (pip install -e '.[bench]')")
    if args.soak and args.router:
        p.error("--soak starts its own cluster (it samples the processes' memory and disk): drop --router")
    profile = PROFILES[args.profile]
    if args.layout:
        if args.router:
            p.error("--layout shapes the local cluster the bench starts: drop --router")
        try:
            profile = with_layout(profile, args.layout)
        except ValueError as exc:
            p.error(str(exc))
    result = run(profile, args.router, args.api_key, args.seed, args.peers, args.soak)
    if args.soak:
        saved = report.save(result, args.out / "soak", history=False)
        print(f"result: {saved}", file=sys.stderr)
        if args.json:
            print(json.dumps(result, indent=2))
        return 0
    saved = report.save(result, args.out)
    runs = report.latest(args.out)
    (args.out / "bench.md").write_text(report.markdown(runs, report.latest(args.out, with_peers=True)))
    if not args.no_plots:
        report.plot(result, runs, args.out)
    print(f"result: {saved}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0
