"""What every evaluation script shares: a record of which code produced its numbers."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def code_state() -> dict:
    """Which code produced the numbers: the commit, and whether the product code had uncommitted changes."""

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()

    changed = git("status", "--porcelain", "--", "dash_node", "dash_client", "dash_router", "cluster")
    return {
        "git_head": git("rev-parse", "--short", "HEAD"),
        "product_code_uncommitted_changes": bool(changed),
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
