"""How a node uses its cores: pinned to CPUs (``dash node serve --cpus``), with numpy's BLAS on the calling
thread.

Several nodes on one machine, each with cores of its own, answer faster than the same nodes left to
migrate between cores: a node's caches stay on its core. On 2 nodes x 4 shards (200k claims, hybrid
top-50 from one client) p95 fell from 18.2 to 14.7 ms (docs/decisions.md). Child processes (the edge
builder's worker) inherit the set, so a node and its helpers stay on the cores it was given.
"""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits


def parse_cpus(spec: str) -> set[int]:
    """CPU numbers from a list like "0", "0,2" or "0-3,6"; ValueError naming ``--cpus`` otherwise."""
    cpus: set[int] = set()
    for part in spec.split(","):
        low, sep, high = part.strip().partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise ValueError(f"--cpus: expected CPU numbers like 0,2-3, got {spec!r}")
        first, last = int(low), int(high) if sep else int(low)
        if last < first:
            raise ValueError(f"--cpus: range {part.strip()!r} runs backwards")
        cpus.update(range(first, last + 1))
    usable = os.sched_getaffinity(0)
    if not cpus <= usable:
        raise ValueError(
            f"--cpus: {sorted(cpus - usable)} not available (this process may use {sorted(usable)})"
        )
    return cpus


def pin(cpus: set[int]) -> None:
    """Confine every thread of this process, and what it starts later, to ``cpus`` (Linux sets the
    affinity per thread, so threads already running are each moved)."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except ProcessLookupError:  # a thread that ended meanwhile
            continue


def single_threaded_blas() -> None:
    """Run numpy's BLAS products on the thread that calls them. A node's products are small (filing a write's
    vectors, scanning a few lists, scoring candidates) and come from several threads at once; BLAS's own
    threads then spin waiting for work. One shard's steady ingest in process (scripts/steady_ingest.py,
    alternating runs) took 0.29-0.30 ms of CPU per claim with BLAS on two threads and 0.20-0.23 on one:
    5,782-6,034 against 7,457-7,821 claims/s sustained (docs/decisions.md)."""
    threadpool_limits(limits=1, user_api="blas")
