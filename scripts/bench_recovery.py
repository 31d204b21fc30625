"""How long a replica takes to open: WAL tail replay versus a clean start from snapshots.

Scenarios, each on the same data (N claims ingested in batches through the in-process engine):
  clean      checkpoint after the last write, then reopen: snapshots load, nothing is replayed;
  tail       state and index snapshots as of a checkpoint at 90% of N, the last 10% left in the WAL;
  full       state and index snapshots as of the empty replica: all N claims replayed from the WAL.
The LMDB state "as of" a checkpoint is a copy taken at that checkpoint, put back before reopening, which
is exactly what a crash between a WAL fsync and the state commit leaves behind, at a larger scale.

    .venv/bin/python scripts/bench_recovery.py --claims 100000 --out docs/benchmarks/recovery.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dash_client._pb.dash.v1 import types_pb2
from dash_node import Engine, EngineConfig
from dash_node.wal import WalConfig

SUBJECTS = ["harbour", "bridge", "tunnel", "railway", "airport", "canal", "dam", "tower"]


def items(start: int, n: int) -> list[types_pb2.ClaimInput]:
    out = []
    for i in range(start, start + n):
        s = SUBJECTS[i % len(SUBJECTS)]
        text = f"The {s} project number {i} was inspected in {1990 + i % 30} and rated {i % 7} of 7."
        out.append(
            types_pb2.ClaimInput(
                claim=types_pb2.Claim(claim_id=f"c{i}", text=text, subject=f"{s}-{i % 1000}"),
                evidence=[
                    types_pb2.Evidence(evidence_id=f"e{i}", quote=text, span_end=len(text), doc_id=f"d{i}")
                ],
            )
        )
    return out


def snapshot_state(engine: Engine, where: Path) -> None:
    """Checkpoint, then keep a copy of the state and the index snapshots as of that LSN."""
    engine.checkpoint()
    shutil.rmtree(where, ignore_errors=True)
    engine.store.copy_to(where / "state")
    for name in ("vectors", "lexical"):
        shutil.copytree(engine.path / name, where / name)


def restore(data: Path, saved: Path) -> None:
    for name in ("state", "vectors", "lexical"):
        shutil.rmtree(data / name, ignore_errors=True)
        shutil.copytree(saved / name, data / name)


def timed_open(data: Path, config: EngineConfig) -> dict:
    started = time.perf_counter()
    engine = Engine(data, config)
    seconds = time.perf_counter() - started
    report = dict(engine.recovery)
    claims = engine.stats().claims
    engine.close()
    return {"open_seconds": round(seconds, 3), "claims_after": claims, **report}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=100, help="claims per WAL record")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/recovery.json"))
    args = ap.parse_args()
    # No automatic checkpoints, and one huge WAL segment so checkpoints trim nothing: the WAL keeps
    # every record, and the state/index copies decide where replay starts.
    config = replace(EngineConfig(), checkpoint_every_changes=10**12, wal=WalConfig(segment_bytes=1 << 40))
    root = Path(tempfile.mkdtemp(prefix="dash-recovery-"))
    data = root / "replica"
    n, b = args.claims, args.batch
    tail_from = (n * 9 // 10) // b * b
    result: dict = {
        "claims": n,
        "claims_per_record": b,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    try:
        engine = Engine(data, config)
        snapshot_state(engine, root / "at-empty")
        ingest_started = time.perf_counter()
        with tqdm(total=n, unit="claim", file=sys.stderr, desc="ingest") as bar:
            for start in range(0, n, b):
                if start == tail_from:
                    snapshot_state(engine, root / "at-90")
                engine.ingest_batch("bench", items(start, min(b, n - start)))
                bar.update(min(b, n - start))
        result["ingest_claims_per_second"] = round(n / (time.perf_counter() - ingest_started), 1)
        engine.close()
        result["wal_bytes"] = sum(f.stat().st_size for f in (data / "wal").iterdir())

        restore(data, root / "at-90")
        result["tail"] = timed_open(data, config)
        restore(data, root / "at-empty")
        result["full"] = timed_open(data, config)
        engine = Engine(data, config)
        engine.checkpoint()
        engine.close()
        result["clean"] = timed_open(data, config)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for name in ("clean", "tail", "full"):
        r = result[name]
        print(
            f"{name:>5}: open {r['open_seconds']:.2f} s, replayed {r['replayed_records']} records, "
            f"{r['claims_after']} claims",
            file=sys.stderr,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
