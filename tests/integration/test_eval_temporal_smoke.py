"""Bitemporal answers through the router: a small run of ``scripts/eval_temporal.py`` must be exact.

Ten generated subjects, each a functional fact with 2-5 successive values, written in waves into a real
cluster (3 nodes, 4 shards) in every write mode of the script; every ``as_of`` query must return the value
valid at that instant and every ``as_known_at`` query the value implied by what was known after each wave.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "eval_temporal.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("eval_temporal", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_temporal"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_as_of_and_as_known_at_are_exact_through_the_router(tmp_path: Path) -> None:
    et = _load_script()
    subjects = et.generate(10, seed=3)
    summary = et.evaluate(tmp_path / "cluster", subjects, et.MODES, samples=2, seed=3, progress=False)
    for kind in et.KINDS:
        for mode in et.MODES:
            entry = summary["accuracy"][kind][mode]
            assert entry["accuracy"] == 1.0, (kind, mode, summary["failure_examples"][:5])
    assert summary["failures"] == 0
