"""The node process as operators see it: health checking, reflection, graceful stop, start-up errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cluster.local import node_command


def test_health_and_reflection(node) -> None:
    health = health_pb2_grpc.HealthStub(node.channel)
    for service in ("", "dash.v1.Node", "dash.v1.Dash"):
        resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    refl = reflection_pb2_grpc.ServerReflectionStub(node.channel)
    answer = next(
        iter(
            refl.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
        )
    )
    names = {s.name for s in answer.list_services_response.service}
    assert {"dash.v1.Node", "dash.v1.Dash", "grpc.health.v1.Health"} <= names


def test_sigterm_drains_and_exits_cleanly(node) -> None:
    node.stop()
    assert node.proc.returncode == 0


def test_unsafe_durability_is_refused_at_start_up(tmp_path: Path) -> None:
    proc = subprocess.run(
        node_command(tmp_path / "n", "--fsync", "off"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "wal.fsync" in proc.stderr


def test_a_second_node_on_the_same_data_dir_is_refused_and_the_first_keeps_serving(node) -> None:
    proc = subprocess.run(node_command(node.data_dir), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"data_dir: {node.data_dir} is already open (pid {node.proc.pid} " in proc.stderr
    health = health_pb2_grpc.HealthStub(node.channel)
    assert (
        health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
        == health_pb2.HealthCheckResponse.SERVING
    )


def test_cpus_confines_the_node_and_its_threads_and_a_bad_list_is_refused(
    node_factory, tmp_path: Path
) -> None:
    cpu = min(os.sched_getaffinity(0))
    node = node_factory("pinned", "--cpus", str(cpu))
    threads = os.listdir(f"/proc/{node.proc.pid}/task")
    assert len(threads) > 5  # gRPC's pollers, the writer, the indexer, the detector...
    assert all(os.sched_getaffinity(int(t)) == {cpu} for t in threads)
    for bad, says in (("x", "expected CPU numbers"), ("3-1", "runs backwards"), ("4096", "not available")):
        proc = subprocess.run(
            node_command(tmp_path / "refused", "--cpus", bad), capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2 and "--cpus" in proc.stderr and says in proc.stderr, proc.stderr
