"""Shared fixtures: real node processes on loopback, and a citation-integrity check.

``NodeProcess`` runs ``dash node serve`` as a real child process (port 0, the bound port is read from
its first line of output) so integration and fault tests talk gRPC to the real thing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cluster.local import node_command
from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, node_pb2_grpc

_READY = re.compile(r"dash node serving on (\S+):(\d+)")


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
