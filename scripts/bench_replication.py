"""What replication costs, for the capacity note: WAL bytes per claim, snapshot size and time, and how
fast a follower catches up — from the WAL (record by record, as it tails) and from a snapshot.

In-process engines on this machine's disk (fsync on), edge builder on, claims in batches of 200:

    .venv/bin/python scripts/bench_replication.py --claims 100000 --out docs/benchmarks/replication.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from dash_node import Engine, EngineConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.bench_edge_builder import claims


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/replication.json"))
    args = ap.parse_args()
    items = claims(args.claims, seed=11)
    root = Path(tempfile.mkdtemp(prefix="dash-repl-"))
    config = EngineConfig(checkpoint_every_changes=10**9)
    try:
        with Engine(root / "leader", config) as leader:
            started = time.perf_counter()
            for i in tqdm(range(0, len(items), args.batch), desc="leader ingest", file=sys.stderr):
                leader.ingest_batch("bench", items[i : i + args.batch])
            leader.settle()
            ingest_s = time.perf_counter() - started
            records = leader.feed.committed_lsn
            wal_bytes = leader.wal.size_bytes()

            started = time.perf_counter()
            with Engine(root / "tail", config, lead=False) as tail:
                while tail.feed.committed_lsn < records:
                    tail.apply_replicated(leader.records_after(tail.feed.committed_lsn))
                tail_s = time.perf_counter() - started
                same = tail.stats(digest=True).digest == leader.stats(digest=True).digest

            started = time.perf_counter()
            manifest = leader.snapshot_to(root / "snap")
            snapshot_s = time.perf_counter() - started
            snap_bytes = sum(f.size for f in manifest.files)
            started = time.perf_counter()
            shutil.copytree(root / "snap", root / "restored")  # what a follower receives, then opens
            with Engine(root / "restored", config, lead=False) as restored:
                restore_s = time.perf_counter() - started
                restored_same = restored.stats(digest=True).digest == leader.stats(digest=True).digest
            state_bytes = dir_bytes(root / "leader" / "state")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "claims": args.claims,
        "batch": args.batch,
        "cpus": os.cpu_count(),
        "wal_records": records,
        "leader_ingest_seconds": round(ingest_s, 1),
        "wal_bytes": wal_bytes,
        "wal_bytes_per_claim": round(wal_bytes / args.claims, 1),
        "state_bytes": state_bytes,
        "catch_up_from_wal_seconds": round(tail_s, 1),
        "catch_up_from_wal_claims_per_second": round(args.claims / tail_s),
        "follower_identical": same,
        "snapshot_seconds": round(snapshot_s, 2),
        "snapshot_bytes": snap_bytes,
        "snapshot_bytes_per_claim": round(snap_bytes / args.claims, 1),
        "snapshot_open_seconds": round(restore_s, 2),
        "snapshot_identical": restored_same,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
