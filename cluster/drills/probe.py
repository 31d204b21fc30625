"""A write probe run inside a node's network namespace: it keeps writing straight to that node (as a
router with the placement of that moment would) and logs, per attempt, whether the node accepted it.

The partition drill starts it in the leader's namespace before cutting the namespace off: the log shows
when the partitioned leader stopped taking writes (it must within its lease TTL) and which writes it
took meanwhile (each with the epoch and LSN it answered). One JSON object per line, flushed as written.

    python -m cluster.drills.probe --target ADDR --shard S --epoch E --token-file F --seconds N --out FILE
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import grpc

from cluster.drills.load import TENANT
from dash_client._pb.dash.v1 import dash_pb2, node_pb2_grpc, types_pb2
from dash_node.wire import CLUSTER_TOKEN_HEADER


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="probe")
    p.add_argument("--target", required=True)
    p.add_argument("--shard", required=True)
    p.add_argument("--epoch", type=int, required=True)
    p.add_argument("--token-file", type=Path, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    metadata = [(CLUSTER_TOKEN_HEADER, args.token_file.read_text().strip())]
    write = dash_pb2.WriteOptions(epoch=args.epoch, shard_id=args.shard, ack=dash_pb2.ACK_LEVEL_LEADER)
    deadline = time.monotonic() + args.seconds
    i = 0
    with grpc.insecure_channel(args.target) as channel, args.out.open("w") as out:
        stub = node_pb2_grpc.NodeStub(channel)
        while time.monotonic() < deadline:
            claim = types_pb2.Claim(
                claim_id=f"probe-{i}", subject=f"Probe {i}", text=f"Probe write {i} to the leader."
            )
            req = dash_pb2.IngestBatchRequest(
                tenant_id=TENANT,
                items=[types_pb2.ClaimInput(claim=claim)],
                commit_id=f"probe-{i}",
                write=write,
            )
            started = time.monotonic()
            try:
                resp = stub.IngestBatch(req, timeout=0.5, metadata=metadata)
                row = {
                    "t": time.monotonic(),
                    "started": started,
                    "ok": True,
                    "lsn": resp.lsn,
                    "epoch": resp.epoch,
                }
            except grpc.RpcError as exc:
                row = {"t": time.monotonic(), "started": started, "ok": False, "code": exc.code().name}
            out.write(json.dumps(row) + "\n")
            out.flush()
            i += 1
            time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
