"""CPU lists for `dash node serve --cpus`; BLAS on the calling thread."""

from __future__ import annotations

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from dash_node.affinity import parse_cpus, single_threaded_blas


def test_lists_and_ranges_of_usable_cpus_parse() -> None:
    usable = sorted(os.sched_getaffinity(0))
    first, last = usable[0], usable[-1]
    assert parse_cpus(str(first)) == {first}
    assert parse_cpus(f"{first}-{first}") == {first}
    assert parse_cpus(",".join(str(c) for c in usable)) == set(usable)
    if usable == list(range(first, last + 1)):
        assert parse_cpus(f"{first}-{last}") == set(usable)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("", "expected CPU numbers"),
        ("0,", "expected CPU numbers"),
        ("-1", "expected CPU numbers"),
        ("1-", "expected CPU numbers"),
        ("a-b", "expected CPU numbers"),
        ("5-2", "runs backwards"),
        ("100000", "not available"),
    ],
)
def test_bad_lists_name_the_flag(spec: str, says: str) -> None:
    with pytest.raises(ValueError, match=f"--cpus: .*{says}"):
        parse_cpus(spec)


def test_a_node_runs_numpys_blas_on_the_calling_thread() -> None:
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas, "numpy's BLAS is not visible to threadpoolctl"
    before = {p["filepath"]: p["num_threads"] for p in blas}
    try:
        single_threaded_blas()
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
        assert np.allclose(np.ones((64, 64)) @ np.ones(64), 64.0)  # and products still work
    finally:
        threadpool_limits(limits=max(before.values()), user_api="blas")
