"""`make demo`: a real DASH node on loopback, a small bundled corpus, and the questions it answers.

Starts `dash node serve` in the background (data under var/demo), ingests examples/ (two annual reports
and a blog post as documents, plus structured claims that conflict and that changed over time), runs a
few queries and prints the answers with citations, conflicting evidence and validity times. The node
keeps running afterwards so you can query it yourself; the last lines say how, and how to stop it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, types_pb2  # noqa: E402
from dash_client.formats import claim_from_json, parse_time, render_text, retrieve_json  # noqa: E402

EXAMPLES = ROOT / "examples"
VAR = ROOT / "var" / "demo"
TENANT = "demo"
DOCS = {"harbour-report-2019": 0.9, "harbour-report-2023": 0.9, "blog-post-17": 0.4}


def start_node() -> tuple[subprocess.Popen, str]:
    pid_file = VAR / "node.pid"
    if pid_file.exists():
        stop_node(int(pid_file.read_text()))
    VAR.mkdir(parents=True, exist_ok=True)
    log = (VAR / "node.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dash_client.cli",
            "node",
            "serve",
            "--data-dir",
            str(VAR / "data"),
            "--listen",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    line = proc.stdout.readline()
    m = re.search(r"serving on (\S+)", line)
    if not m:
        raise SystemExit(f"the node did not start; see {VAR / 'node.log'}")
    pid_file.write_text(str(proc.pid))
    (VAR / "address").write_text(m.group(1))
    return proc, m.group(1)


def stop_node(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def show(title: str, resp: dash_pb2.RetrieveResponse, sources: dict[str, str], limit: int = 3) -> None:
    print(f"\n=== {title}")
    out = retrieve_json(resp)
    out["results"] = out["results"][:limit]
    print("\n".join(render_text(out, sources)))


def main() -> int:
    proc, address = start_node()
    stub = dash_pb2_grpc.DashStub(grpc.insecure_channel(address))
    sources = {name: (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8") for name in DOCS}
    for name, quality in DOCS.items():
        doc = types_pb2.Document(doc_id=name, source_id=name, text=sources[name], source_quality=quality)
        resp = stub.IngestDocument(dash_pb2.IngestDocumentRequest(tenant_id=TENANT, document=doc), timeout=30)
        print(f"ingested document {name}: {len(resp.claim_ids)} sentence claims")
    lines = (EXAMPLES / "claims.jsonl").read_text(encoding="utf-8").splitlines()
    items = [claim_from_json(json.loads(line)) for line in lines if line.strip()]
    resp = stub.IngestBatch(
        dash_pb2.IngestBatchRequest(tenant_id=TENANT, items=items, commit_id="demo-claims"), timeout=30
    )
    print(f"ingested {len(items)} structured claims (replayed={resp.replayed})")

    def ask(query: str, **kw) -> dash_pb2.RetrieveResponse:
        req = dash_pb2.RetrieveRequest(tenant_id=TENANT, query=query, top_k=5, **kw)
        return stub.Retrieve(req, timeout=30)

    show(
        "Who is the harbour master of the Port of Lindholm? (all times)",
        ask("harbour master Lindholm"),
        sources,
    )
    show(
        "... as of 2019-06-01",
        ask("harbour master Lindholm", as_of=parse_time("as_of", "2019-06-01")),
        sources,
    )
    show(
        "... as of 2024-06-01",
        ask("harbour master Lindholm", as_of=parse_time("as_of", "2024-06-01")),
        sources,
    )
    show(
        "When was the north breakwater completed? (balanced: conflicts shown)",
        ask("When was the north breakwater completed?"),
        sources,
    )
    show(
        "... support_only",
        ask("When was the north breakwater completed?", stance_mode=dash_pb2.STANCE_MODE_SUPPORT_ONLY),
        sources,
    )
    dash = f"{sys.executable} -m dash_client.cli"
    print(f"""
The node is still running at {address} (pid {proc.pid}, data in {VAR / "data"}).
Ask it yourself:
  {dash} retrieve --target {address} --tenant {TENANT} -q "How deep is Quay 7?" --as-of 2020-01-01
  {dash} retrieve --target {address} --tenant {TENANT} -q "How deep is Quay 7?" --json
Stop it with:
  make demo-down""")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["down"]:
        pid_file = VAR / "node.pid"
        if pid_file.exists():
            stop_node(int(pid_file.read_text()))
            pid_file.unlink()
            print("demo node stopped")
        sys.exit(0)
    sys.exit(main())
