"""The sustained ingest rate: claims acknowledged over a load's second half, less what the background
work fell further behind by, per second; the slowest required stage decides."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.bench.measure import OwedSample, sustained


def _samples(rate: float, seconds: int, owed_growth: dict[str, float]) -> list[OwedSample]:
    return [
        OwedSample(float(t), int(rate * t), {k: int(g * t) for k, g in owed_growth.items()})
        for t in range(seconds + 1)
    ]


def test_with_every_backlog_flat_the_rate_is_the_acknowledged_rate() -> None:
    out = sustained(_samples(1000, 10, {"detection": 0, "index": 0, "features": 0}))
    assert out["acked_per_s"] == out["through_background_per_s"] == 1000
    assert (out["from_s"], out["to_s"]) == (5.0, 10.0)


def test_a_growing_backlog_is_work_not_done() -> None:
    out = sustained(_samples(1000, 10, {"detection": 100, "index": 300, "features": 0}))
    assert out["acked_per_s"] == 1000
    assert out["through_background_per_s"] == 700  # the index fell behind by 300 a second


def test_feature_warming_is_not_a_stage_the_load_waits_for() -> None:
    out = sustained(_samples(1000, 10, {"detection": 0, "index": 0, "features": 1000}))
    assert out["through_background_per_s"] == 1000
    assert out["owed_at_last_ack"]["features"] == 10_000  # but it is reported


def test_a_load_too_short_to_halve_gives_no_rate() -> None:
    out = sustained([OwedSample(0.0, 500, {"detection": 0, "index": 0})])
    assert out["acked_per_s"] is None and out["through_background_per_s"] is None


@given(
    rate=st.integers(1, 10_000),
    growth=st.dictionaries(st.sampled_from(["detection", "index"]), st.integers(-500, 500), min_size=2),
)
def test_the_rate_never_exceeds_the_acks_plus_what_a_shrinking_backlog_gave_back(rate, growth) -> None:
    out = sustained(_samples(rate, 10, growth))
    worst = max(growth.values())
    assert out["through_background_per_s"] == pytest.approx(rate - worst, abs=2)
