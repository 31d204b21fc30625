"""CPU lists for `dash node serve --cpus`."""

from __future__ import annotations

import os

import pytest

from dash_node.affinity import parse_cpus


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
