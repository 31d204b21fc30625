"""`make demo`: a real local DASH cluster, a small bundled corpus, and the questions it answers.

Starts etcd, three shard nodes and a router on loopback (state in var/demo), ingests examples/ through
the SDK — two annual reports and a blog post as documents, plus structured claims that conflict and that
changed over time — then asks a few questions and prints the answers with their citations (checked
against the source text), conflicting evidence and validity times. The cluster keeps running; the last
lines say how to query it and how to stop it (`make demo-down`).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from cluster.local import ClusterSpec, LocalCluster, process_alive
from dash_client.client import DashClient
from dash_client.formats import render_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
STATE = ROOT / "var" / "demo"
TENANT = "demo"
DOCS = {"harbour-report-2019": 0.9, "harbour-report-2023": 0.9, "blog-post-17": 0.4}


def stop_previous() -> None:
    """A demo starts from scratch: stop the last one (if running) and drop its data."""
    if (STATE / "cluster.json").exists():
        old = LocalCluster.attach(STATE)
        if any(process_alive(pid) for pid in old.state.pids.values()):
            print("stopping the previous demo cluster")
        old.down()
    shutil.rmtree(STATE, ignore_errors=True)


def main() -> int:
    stop_previous()
    print("starting etcd, 3 nodes and a router on loopback ...")
    cluster = LocalCluster(STATE, ClusterSpec(nodes=3, shards=4, replicas=2))
    state = cluster.up()
    print(f"router {state.router}, etcd {state.etcd}\n")
    sources = {name: (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8") for name in DOCS}
    with DashClient(state.router, api_key=state.api_key, tenant=TENANT) as client:
        for name, quality in DOCS.items():
            w = client.ingest_document(
                name, sources[name], source_id=name, source_quality=quality, wait_for_detection=True
            )
            print(f"ingested document {name}: {len(w.claim_ids)} sentence claims on shard {w.shard_id}")
        lines = (EXAMPLES / "claims.jsonl").read_text(encoding="utf-8").splitlines()
        claims = [json.loads(line) for line in lines if line.strip()]
        w = client.ingest_batch(claims, commit_id="demo-claims", wait_for_detection=True)
        print(f"ingested {len(w.claim_ids)} structured claims (spread over the shards by subject)")

        def show(title: str, query: str, **kw) -> None:
            result = client.retrieve(query, top_k=3, **kw)
            answered = ", ".join(result.shards_answered)
            print(f"\n=== {title}   [shards answered: {answered}]")
            print("\n".join(render_text(result.to_json(), sources)))

        show("Who is the harbour master of the Port of Lindholm? (now)", "harbour master Lindholm")
        show("... the whole history", "harbour master Lindholm", include_history=True)
        show("... as of 2019-06-01", "harbour master Lindholm", as_of="2019-06-01T00:00:00Z")
        show("... as of 2024-06-01", "harbour master Lindholm", as_of="2024-06-01T00:00:00Z")
        show(
            "When was the north breakwater completed? (balanced: conflicts shown)",
            "When was the north breakwater completed?",
        )
        show(
            "... support_only (claims whose contradiction outweighs support are dropped)",
            "When was the north breakwater completed?",
            mode="support_only",
        )
    dash = f"{ROOT / '.venv' / 'bin' / 'dash'}"
    print(f"""
The cluster is still running (state and logs in {STATE}).
Ask it yourself:
  {dash} retrieve --target {state.router} --api-key {state.api_key} --tenant {TENANT} \\
      -q "How deep is Quay 7?" --as-of 2020-01-01
  {dash} retrieve --target {state.router} --api-key {state.api_key} --tenant {TENANT} \\
      -q "How deep is Quay 7?" --json --explain
  {dash} cluster status --dir {STATE}
Stop it with:
  make demo-down      (or: {dash} cluster down --dir {STATE})""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
