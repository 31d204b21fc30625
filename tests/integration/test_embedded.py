"""The embedded client's own promises: its directory is a node's data directory (a node serves what it
wrote), it is locked while open, and what it acknowledged survives closing and reopening. (The SDK's
behaviour through it is ``test_sdk.py``, run against both a node process and an embedded engine.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NodeProcess

from dash_client.client import DashClient
from dash_client.embedded import EmbeddedDashClient
from dash_client.errors import FailedPrecondition
from dash_client.types import ClaimIn, ClaimRecord

CLAIMS = [
    ClaimIn(claim_id="rhine", text="The Rhine is 1,230 km long.", subject="Rhine"),
    ClaimIn(claim_id="rhine-short", text="The Rhine is 300 km long.", subject="Rhine"),
    ClaimIn(claim_id="danube", text="The Danube flows into the Black Sea.", subject="Danube"),
]
# A user's script as users write them: no `if __name__ == "__main__"` guard.
SCRIPT = """
import sys
print("script body ran", flush=True)
from dash_client.embedded import EmbeddedDashClient
from dash_client.types import ClaimIn
with EmbeddedDashClient(sys.argv[1], tenant="geo") as dash:
    w = dash.ingest_batch([ClaimIn(claim_id="a", text="The Rhine is 1,230 km long.", subject="Rhine"),
                           ClaimIn(claim_id="b", text="The Rhine is 300 km long.", subject="Rhine")],
                          wait_for_detection=True)
    edges = dash.get_claim("b").edges_out
    print("detected", w.detected, [(e.to_claim_id, e.relation, e.origin) for e in edges], flush=True)
"""


def edge_set(record: ClaimRecord) -> set[tuple[str, str, str]]:
    return {(e.from_claim_id, e.to_claim_id, e.relation) for e in record.edges_out + record.edges_in}


def test_embedded_directory_is_locked_reopens_and_is_served_by_a_node(tmp_path: Path) -> None:
    path = tmp_path / "memory"
    with EmbeddedDashClient(path, tenant="geo") as dash:
        written = dash.ingest_batch(CLAIMS, wait_for_detection=True)
        with pytest.raises(FailedPrecondition) as err:
            EmbeddedDashClient(path, tenant="geo")
        assert err.value.details.startswith(f"data_dir: {path} is already open")
        before = dash.retrieve("How long is the Rhine?", top_k=3)
    assert written.claim_ids == ["rhine", "rhine-short", "danube"] and written.detected
    assert before.results[0].claim_id in {"rhine", "rhine-short"}

    with EmbeddedDashClient(path, tenant="geo") as dash:  # closed: the lock went with it
        again = dash.retrieve("How long is the Rhine?", top_k=3)
        assert [r.claim_id for r in again.results] == [r.claim_id for r in before.results]
        edges = edge_set(dash.get_claim("rhine-short"))
    assert ("rhine-short", "rhine", "contradicts") in edges  # found by the detector, not sent

    node = NodeProcess(path).start()
    try:
        with DashClient(node.address, tenant="geo") as served:
            answer = served.retrieve("How long is the Rhine?", top_k=3)
            assert [r.claim_id for r in answer.results] == [r.claim_id for r in before.results]
            assert [r.score for r in answer.results] == pytest.approx([r.score for r in before.results])
            assert edge_set(served.get_claim("rhine-short")) == edges
            with pytest.raises(FailedPrecondition):  # the node holds it now
                EmbeddedDashClient(path, tenant="geo")
    finally:
        node.stop()


def test_a_script_without_the_main_guard_runs_once_and_its_edges_are_judged_in_the_worker(
    tmp_path: Path,
) -> None:
    script = tmp_path / "notes.py"
    script.write_text(SCRIPT, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "memory")], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("script body ran") == 1  # the edge worker did not run it again
    assert "detected True [('a', 'contradicts', 'detector')]" in run.stdout
    assert "judging in a thread instead" not in run.stderr  # the worker process did the judging
