"""The machine-jitter probe finds stretches of slow work units, not single preemptions."""

from __future__ import annotations

import numpy as np
import pytest

from cluster.bench.jitter import episodes, summarise


def _units(seconds: float, slow: list[tuple[float, float]], unit: float = 0.001, factor: float = 2.5):
    """Back-to-back units of ``unit`` s, ``factor`` times longer inside the ``slow`` (start, end)."""
    starts, took, t = [], [], 0.0
    while t < seconds:
        d = unit * factor if any(a <= t < b for a, b in slow) else unit
        starts.append(t)
        took.append(d)
        t += d
    return np.asarray(starts), np.asarray(took)


def test_slow_stretches_are_episodes_with_their_spacing_and_slowdown() -> None:
    starts, took = _units(10.0, [(3.0, 3.1), (6.0, 6.1)])
    found = episodes(starts, took)
    assert len(found) == 2
    assert found[0][0] == pytest.approx(3.0, abs=0.003) and found[0][1] == pytest.approx(3.1, abs=0.003)
    s = summarise(starts, took)
    assert s["episodes"] == 2 and s["gap_s_p50"] == pytest.approx(3.0, abs=0.01)
    assert s["slowdown_in_episodes"] == pytest.approx(2.5, rel=0.01)
    assert s["time_in_episodes"] == pytest.approx(0.2 / 10.0, abs=0.002)
    assert s["episode_ms_p50"] == pytest.approx(100, abs=3)


def test_a_lone_slow_unit_is_not_an_episode_and_close_stretches_join() -> None:
    starts, took = _units(5.0, [])
    took[1000] = 0.010  # one preemption
    assert episodes(starts, took) == []
    assert summarise(starts, took)["episodes"] == 0
    starts, took = _units(5.0, [(1.0, 1.04), (1.07, 1.11)])  # 30 ms apart: one episode
    assert len(episodes(starts, took)) == 1
