"""Input checks whose fast forms must mean exactly what their definitions say."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from dash_node.errors import InvalidArgument
from dash_node.validation import Limits, check_id, decode_vector


def test_control_check_is_unicode_cc_and_cs_over_every_code_point() -> None:
    """The regex refuses exactly the code points whose category is control (Cc) or surrogate (Cs)."""
    wrong = []
    for cp in range(0x110000):
        ch = chr(cp)
        try:
            check_id("id", f"a{ch}b", 1000)
            refused = False
        except InvalidArgument:
            refused = True
        if refused != (unicodedata.category(ch) in ("Cc", "Cs")):
            wrong.append(cp)
    assert wrong == []


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_vector_with_a_non_finite_component_is_refused(bad: float) -> None:
    v = np.ones(16, dtype="<f4")
    v[7] = bad
    with pytest.raises(InvalidArgument, match="NaN or infinity"):
        decode_vector("embedding", v.tobytes(), Limits())


def test_zero_vector_is_refused_and_a_tiny_one_is_not() -> None:
    with pytest.raises(InvalidArgument, match="zero vector"):
        decode_vector("embedding", np.zeros(8, dtype="<f4").tobytes(), Limits())
    tiny = np.zeros(8, dtype="<f4")
    tiny[3] = np.finfo(np.float32).smallest_subnormal
    assert decode_vector("embedding", tiny.tobytes(), Limits())[3] > 0
