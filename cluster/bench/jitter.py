"""The machine's own slow moments, measured beside the latency runs so a tail can be read against them.

On the 2-core VMs this project is measured on, work of every kind (matrix products, memory gathers) runs
about twice as slowly for 50-150 ms at a time, every 1.3-1.6 s, with nothing else running. A query that
overlaps such an episode takes up to twice its usual time, so the episodes alone put ~8% of sequential
queries in the slow tail: they set p95 and p99, whatever the software does. This module times a fixed
unit of work (~0.6 ms) back to back and reports how often the machine slows and by how much.
"""

from __future__ import annotations

import time

import numpy as np

SLOW_FACTOR = 2.0  # a unit slower than this many medians is a slow unit
JOIN_S = 0.05  # slow units closer than this belong to one episode
MIN_EPISODE_S = 0.02  # shorter runs of slow units are single preemptions, not an episode


def episodes(starts: np.ndarray, seconds: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) of each stretch in which units ran ``SLOW_FACTOR`` times their median or slower:
    slow units less than ``JOIN_S`` apart joined, stretches shorter than ``MIN_EPISODE_S`` left out."""
    slow = np.flatnonzero(seconds > SLOW_FACTOR * np.median(seconds))
    found: list[list[float]] = []
    for i in slow.tolist():
        begin, end = float(starts[i]), float(starts[i] + seconds[i])
        if found and begin - found[-1][1] < JOIN_S:
            found[-1][1] = end
        else:
            found.append([begin, end])
    return [(a, b) for a, b in found if b - a >= MIN_EPISODE_S]


def summarise(starts: np.ndarray, seconds: np.ndarray) -> dict:
    """Episodes per second, the share of time they cover, their length and spacing, and how much slower
    a unit runs inside them than outside."""
    span = float(starts[-1] + seconds[-1] - starts[0])
    eps = episodes(starts, seconds)
    inside = np.zeros(len(starts), dtype=bool)
    for a, b in eps:
        inside |= (starts >= a) & (starts < b)
    out = {
        "seconds": round(span, 2),
        "unit_ms_p50": round(float(np.median(seconds)) * 1000, 3),
        "episodes": len(eps),
        "episodes_per_s": round(len(eps) / span, 2) if span > 0 else 0.0,
        "time_in_episodes": round(sum(b - a for a, b in eps) / span, 3) if span > 0 else 0.0,
    }
    if eps:
        out["episode_ms_p50"] = round(float(np.median([b - a for a, b in eps])) * 1000, 1)
        slowdown = np.median(seconds[inside]) / np.median(seconds[~inside])
        out["slowdown_in_episodes"] = round(float(slowdown), 2)
    if len(eps) > 1:
        out["gap_s_p50"] = round(float(np.median(np.diff([a for a, _ in eps]))), 2)
    return out


def measure(seconds: float, seed: int = 0) -> dict:
    """Time a fixed unit of work (a gather over a 64 MB array and a 256 x 256 matrix product) back to
    back for ``seconds`` in this process, and summarise the slow episodes. Run it while the cluster is
    idle: it measures the machine, not DASH."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(16_000_000).astype(np.float32)
    rows = rng.integers(0, len(data), 20_000)
    m = rng.standard_normal((256, 256)).astype(np.float32)
    starts, took = [], []
    end = time.perf_counter() + seconds
    while (t0 := time.perf_counter()) < end:
        float(data[rows].sum() + (m @ m).sum())
        rows = (rows + 7919) % len(data)
        starts.append(t0)
        took.append(time.perf_counter() - t0)
    begin = starts[0]
    return summarise(np.asarray(starts) - begin, np.asarray(took))
