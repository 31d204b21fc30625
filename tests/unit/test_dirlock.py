"""One engine per replica directory: a second open is refused, in this process or another, and the
lock goes with its holder (a closed engine, a killed process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dash_client._pb.dash.v1 import types_pb2
from dash_node.dirlock import DirLock
from dash_node.engine import Engine, EngineConfig
from dash_node.errors import FailedPrecondition
from dash_node.evidence.builder import EdgeBuilderConfig

QUIET = EngineConfig(evidence=EdgeBuilderConfig(enabled=False))
CLAIM = types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id="c1", text="river flows"))
HOLD = (
    "import sys, pathlib; from dash_node.dirlock import DirLock; DirLock(pathlib.Path(sys.argv[1])); "
    "print('held', flush=True); sys.stdin.read()"
)


def test_a_second_engine_in_the_same_process_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    first = Engine(tmp_path, QUIET)
    with pytest.raises(FailedPrecondition, match=r"^data_dir: .* is already open"):
        Engine(tmp_path, QUIET)
    first.ingest_batch("t", [CLAIM])  # the refused open left the first engine whole
    first.close()
    with Engine(tmp_path, QUIET) as again:
        assert again.get_claim("t", "c1").claim.text == "river flows"


def test_a_lock_held_by_another_process_refuses_and_dies_with_it(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FailedPrecondition, match=rf"pid {holder.pid} holds"):
            DirLock(tmp_path)
    finally:
        holder.kill()  # SIGKILL: no clean-up runs
        holder.wait(timeout=30)
    DirLock(tmp_path).release()  # the kernel dropped the dead holder's lock
