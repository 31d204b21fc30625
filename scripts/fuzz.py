"""Fuzz DASH: malformed gRPC payloads through a live local cluster and corrupted WAL/index files through
their readers; reports crashes, hangs, INTERNAL statuses and half-applied writes (see ``cluster/fuzz.py``).

    .venv/bin/python scripts/fuzz.py --payloads 100000 --files 10000 --out docs/benchmarks/fuzz.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster.fuzz import fuzz_files, fuzz_payloads
from cluster.local import ClusterSpec, LocalCluster, process_alive
from dash_client._pb.dash.v1 import types_pb2
from dash_node import Engine, EngineConfig
from dash_node.wal import WalConfig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--payloads", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/fuzz.json"))
    args = ap.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        with LocalCluster(Path(tmp) / "c", ClusterSpec(nodes=1, shards=1, replicas=1)) as c:
            payloads = fuzz_payloads(c, "n1", args.payloads, args.seed)
            alive = {name: process_alive(pid) for name, pid in c.state.pids.items()}
        result["payloads"] = {
            **payloads.to_json(),
            "processes_alive_after": alive,
            "seconds": round(time.monotonic() - started, 1),
        }
        replica = Path(tmp) / "replica"
        with Engine(replica, EngineConfig(wal=WalConfig(segment_bytes=1 << 16))) as engine:
            for i in range(300):
                text = f"Berth {i} handles {i * 3} ships a day."
                engine.ingest("t", types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=f"c{i}", text=text)))
            engine.checkpoint()
            for i in range(20):
                engine.ingest(
                    "t", types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=f"t{i}", text=f"tail {i}"))
                )
        started = time.monotonic()
        files = fuzz_files(replica, args.files, args.seed + 1)
        result["files"] = {**files.to_json(), "seconds": round(time.monotonic() - started, 1)}
    ok = not payloads.failures and not files.failures and all(alive.values())
    result["ok"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: ({kk: vv for kk, vv in v.items() if kk != "by_outcome"} if isinstance(v, dict) else v)
                for k, v in result.items()
            },
            indent=2,
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
