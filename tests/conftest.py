"""Shared fixtures: real node processes on loopback, and a citation-integrity check.

``NodeProcess`` runs ``dash node serve`` as a real child process (port 0, the bound port is read from
its first line of output) so integration and fault tests talk gRPC to the real thing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cluster.audit_accounting import LEDGER_ENV
from cluster.local import node_command
from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, node_pb2_grpc

_READY = re.compile(r"dash node serving on (\S+):(\d+)")
_LEDGER = pytest.StashKey[Path]()
_SUMMARY = pytest.StashKey[str]()


class NodeProcess:
    """A `dash node serve` child process and stubs connected to it."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.address = ""

    def start(self, timeout: float = 60.0) -> NodeProcess:
        cmd = node_command(self.data_dir, *self.extra)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = _READY.search(line)
            if m:
                self.address = f"{m.group(1)}:{m.group(2)}"
                self.channel = grpc.insecure_channel(self.address)
                grpc.channel_ready_future(self.channel).result(timeout=max(deadline - time.monotonic(), 1))
                self.dash = dash_pb2_grpc.DashStub(self.channel)
                self.node = node_pb2_grpc.NodeStub(self.channel)
                # Keep draining output so the child never blocks on a full pipe.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return self
        self.kill()
        raise RuntimeError("node did not start:\n" + "".join(lines))

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._close_channel()

    def stop(self) -> None:
        """SIGTERM: graceful drain."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_channel()

    def _close_channel(self) -> None:
        if getattr(self, "channel", None) is not None:
            self.channel.close()
            self.channel = None


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    n = NodeProcess(tmp_path / "node").start()
    yield n
    n.stop()


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator:
    started: list[NodeProcess] = []

    def make(name: str = "node", *extra: str) -> NodeProcess:
        n = NodeProcess(tmp_path / name, *extra).start()
        started.append(n)
        return n

    yield make
    for n in started:
        n.stop()


def assert_citations_exact(resp: dash_pb2.RetrieveResponse, sources: dict[str, str]) -> int:
    """Every citation whose doc_id names a known source must quote it exactly; returns how many checked."""
    checked = 0
    for r in resp.results:
        cites = list(r.citations) + list(r.contradicting_citations)
        for rel in list(r.contradicting) + list(r.supporting):
            cites += list(rel.citations)
        for c in cites:
            assert c.span_end - c.span_start == len(c.quote), c
            if c.doc_id in sources:
                assert sources[c.doc_id][c.span_start : c.span_end] == c.quote, c
                checked += 1
    return checked


os.environ.setdefault("HF_HUB_OFFLINE", "1")


# ---- audit accounting over the whole session -------------------------------------------------------
# Every LocalCluster a test starts has its routers audit; when it stops it compares each audit log with
# the router's own request count and appends the result to this session's ledger. The session fails if
# any mutation or denial went without a record, or any log does not verify.


def pytest_configure(config: pytest.Config) -> None:
    ledger = Path(tempfile.mkdtemp(prefix="dash-audit-")) / "ledger.jsonl"
    os.environ[LEDGER_ENV] = str(ledger)
    config.stash[_LEDGER] = ledger


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    ledger = session.config.stash.get(_LEDGER, None)
    if ledger is None or not ledger.exists():
        return
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    bad = [e for e in entries if "error" in e or e["missing"] or not e["intact"]]
    session.config.stash[_SUMMARY] = (
        f"audit accounting: {len(entries)} router logs, "
        f"{sum(e.get('requests_to_audit', 0) for e in entries)} mutations and denials counted by the "
        f"routers, {sum(e.get('records', 0) for e in entries)} audit records, "
        f"{sum(e.get('missing', 0) for e in entries)} missing, {len(bad)} logs with a problem"
        + "".join(f"\n  {e['cluster']} {e['router']}: {e}" for e in bad)
    )
    if bad and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    summary = config.stash.get(_SUMMARY, None)
    if summary:
        terminalreporter.write_line(summary)
