"""The ids-only fan-out floor: what the cluster's shape costs before DASH does any of its own work.

The same vectors are split into as many shards as the profile has, each a usearch HNSW built with DASH's
settings, and the shards into as many processes as the profile has nodes; a process searches each of its
shards and answers with packed (key, score) pairs only. An asyncio router asks every process once per query
(as DASH's router asks each node once) and merges the top k. No ranking, no text, no
evidence, no protobuf: raw bytes over gRPC on loopback. DASH's latency is reported beside this floor in
the same run, so the ratio says what DASH's own work costs on this machine
(``../shared/design/fanout-measurements.md`` measured the same shape as a spike).

    python -m cluster.bench.floor node --vectors V.npy --bounds A,B[,C...] --port-file F
    python -m cluster.bench.floor router --nodes ADDR,ADDR --port-file F
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from cluster.bench.measure import add_cpu, cpu_ms, cpu_per_request, percentiles
from dash_node import affinity
from dash_node.index.vector import VectorConfig
from dash_router import eventloop

METHOD = "/dash.bench.Floor/Search"
_HIT = np.dtype([("key", "<u8"), ("score", "<f4")])


def _query(k: int, vector: np.ndarray) -> bytes:
    return struct.pack("<I", k) + np.asarray(vector, "<f4").tobytes()


def _hits(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype=_HIT)


async def _serve(handler, port_file: Path) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                METHOD.split("/")[1], {"Search": grpc.unary_unary_rpc_method_handler(handler)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.replace(port_file)  # readers never see a half-written port
    await server.wait_for_termination()


def _node(vectors: Path, bounds: list[int], port_file: Path, cpus: str) -> None:
    """One process holding the shards whose edges are ``bounds``, each its own graph, searched in turn."""
    from usearch.index import Index

    if cpus:
        affinity.pin(affinity.parse_cpus(cpus))
    cfg = VectorConfig()
    data = np.load(vectors, mmap_mode="r")
    indexes = []
    for start, end in itertools.pairwise(bounds):
        index = Index(
            ndim=data.shape[1],
            metric="ip",  # on unit rows, as DASH's graphs (dash_node/index/vector.py)
            # Half precision: the floor merges shards by the graph's own scores, and an 8-bit graph's
            # are not similarities (DASH ranks its graph's candidates again from exact copies instead).
            dtype="f16",
            connectivity=cfg.connectivity,
            expansion_add=cfg.expansion_add,
            expansion_search=cfg.expansion_for(end - start),  # as wide as a DASH shard of this size
        )
        rows = np.asarray(data[start:end], np.float32)
        index.add(np.arange(start, end, dtype=np.uint64), rows / np.linalg.norm(rows, axis=1, keepdims=True))
        indexes.append(index)

    async def search(request: bytes, context) -> bytes:
        (k,) = struct.unpack_from("<I", request)
        query = np.frombuffer(request, "<f4", offset=4)
        query = query / np.linalg.norm(query)  # a unit query, so scores are cosines (as DASH's)
        found = [index.search(query, k) for index in indexes]
        out = np.empty(sum(len(m.keys) for m in found), dtype=_HIT)
        out["key"] = np.concatenate([m.keys for m in found])
        out["score"] = 1.0 - np.concatenate([np.asarray(m.distances) for m in found])
        return out.tobytes()

    eventloop.run(_serve(search, port_file))


def _router(nodes: list[str], port_file: Path) -> None:
    async def main() -> None:
        calls = [grpc.aio.insecure_channel(a).unary_unary(METHOD) for a in nodes]

        async def search(request: bytes, context) -> bytes:
            (k,) = struct.unpack_from("<I", request)
            answers = await asyncio.gather(*(call(request) for call in calls))
            hits = np.concatenate([_hits(raw) for raw in answers])
            return hits[np.argsort(-hits["score"], kind="stable")[:k]].tobytes()

        await _serve(search, port_file)

    eventloop.run(main())


@dataclass(frozen=True)
class Serving:
    address: str  # the router's
    pids: dict[str, int]  # router and nodes, by name


@contextlib.contextmanager
def serving(
    vectors: np.ndarray, shards: int, nodes: int | None = None, pin: bool = False
) -> Iterator[Serving]:
    """Start the node processes (each builds its shards' indexes; ``nodes`` defaults to one per shard;
    with ``pin``, process i runs on the i-th CPU, as `ClusterSpec.pin_nodes` places DASH's nodes) and the
    router; yield where it listens."""
    with tempfile.TemporaryDirectory(prefix="dash-floor-") as d:
        path = Path(d) / "vectors.npy"
        np.save(path, np.asarray(vectors, dtype=np.float32))
        edges = np.linspace(0, len(vectors), shards + 1).astype(int)
        groups = np.array_split(np.arange(shards), min(nodes or shards, shards))
        cpus = sorted(os.sched_getaffinity(0))
        procs: list[subprocess.Popen] = []
        try:
            port_files = []
            for i, held in enumerate(groups):
                pf = Path(d) / f"node{i}.port"
                bounds = ",".join(str(e) for e in edges[held[0] : held[-1] + 2])
                args = ("--vectors", str(path), "--bounds", bounds, "--port-file", str(pf))
                if pin:
                    args += ("--cpus", str(cpus[i % len(cpus)]))
                procs.append(_spawn("node", *args))
                port_files.append(pf)
            node_addrs = [f"127.0.0.1:{_wait_port(pf, procs)}" for pf in port_files]
            pf = Path(d) / "router.port"
            procs.append(_spawn("router", "--nodes", ",".join(node_addrs), "--port-file", str(pf)))
            address = f"127.0.0.1:{_wait_port(pf, procs)}"
            names = [*(f"node{i}" for i in range(len(groups))), "router"]
            yield Serving(address, {n: p.pid for n, p in zip(names, procs, strict=True)})
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cluster.bench.floor", *args])


def _wait_port(port_file: Path, procs: list[subprocess.Popen], timeout: float = 3600.0) -> int:
    """A process's port once its indexes are built (building 250k vectors takes minutes here)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.exists():
            return int(port_file.read_text())
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a floor process exited before it was serving")
        time.sleep(0.05)
    raise TimeoutError(f"{port_file} never appeared")


def search(channel: grpc.Channel, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys, scores) of the top ``k``, best first, from a floor router."""
    hits = _hits(channel.unary_unary(METHOD)(_query(k, query), timeout=30))
    return hits["key"], hits["score"]


def measure(
    vectors: np.ndarray,
    queries: np.ndarray,
    shards: int,
    k: int,
    requests: int,
    nodes: int | None = None,
    pin: bool = False,
    beside: Callable[[int], None] | None = None,
    turns: int = 1,
) -> dict:
    """Sequential latency of ids-only top-``k`` queries through the floor router, and the CPU its
    processes spent per query (the index build time is reported apart). With ``beside`` (which runs
    that many requests of the system set against the floor), the two take ``turns`` turns each, the
    other system first: on these VMs the machine's speed drifts within minutes (the floor's CPU per
    query doubled between two runs of one commit), and measured one after the other, a ratio to the
    floor said more of when each ran than of either."""
    started = time.perf_counter()
    with serving(vectors, shards, nodes, pin) as floor, grpc.insecure_channel(floor.address) as channel:
        build_s = time.perf_counter() - started
        call = channel.unary_unary(METHOD)
        packed = [_query(k, q) for q in queries]
        for raw in packed[: min(50, requests)]:
            call(raw, timeout=30)
        ms: list[float] = []
        spent: dict[str, float] = {}
        for share in np.array_split(np.arange(requests), turns):
            if beside is not None:
                beside(len(share))
            before = cpu_ms(floor.pids)
            for i in share.tolist():
                t0 = time.perf_counter()
                call(packed[i % len(packed)], timeout=30)
                ms.append((time.perf_counter() - t0) * 1000)
            add_cpu(spent, before, cpu_ms(floor.pids))
    return {
        "shards": shards,
        "nodes": len(floor.pids) - 1,
        "pinned": pin,
        "top_k": k,
        "build_s": round(build_s, 1),
        "turns": turns if beside is not None else 0,
        **percentiles(ms),
        "cpu_ms_per_query": cpu_per_request({}, spent, requests),
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m cluster.bench.floor")
    sub = ap.add_subparsers(dest="role", required=True)
    n = sub.add_parser("node")
    n.add_argument("--vectors", type=Path, required=True)
    n.add_argument("--bounds", required=True, help="the edges of the shards it holds: A,B[,C...]")
    n.add_argument("--port-file", type=Path, required=True)
    n.add_argument("--cpus", default="", help="run on these CPUs only")
    r = sub.add_parser("router")
    r.add_argument("--nodes", required=True)
    r.add_argument("--port-file", type=Path, required=True)
    args = ap.parse_args()
    if args.role == "node":
        _node(args.vectors, [int(b) for b in args.bounds.split(",")], args.port_file, args.cpus)
    else:
        _router(args.nodes.split(","), args.port_file)


if __name__ == "__main__":
    main()
