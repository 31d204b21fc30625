"""The columns judge as the per-claim rules do: over random features (times equal to the query's, far
outside int64 nanoseconds, missing; successors; evidence masses) and random time questions, the numpy
filter and temporal relevance equal ``time_ok`` and ``temporal`` row for row, and the numpy score equals
the composite score written out per claim."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dash_client._pb.dash.v1 import types_pb2
from dash_node.features import FeatureColumns, Features, FeatureTable
from dash_node.scoring import RankingWeights, When, admitted, score, temporal, time_ok

YEAR = 31_556_952 * 10**9
# Times near each other (ties with the query's), a few years apart, and beyond int64 nanoseconds.
TIMES = st.one_of(
    st.none(),
    st.sampled_from([0, 1, 2, YEAR, 3 * YEAR, -YEAR, 10**20, -(10**20)]),
    st.integers(-(4 * YEAR), 4 * YEAR),
)
MASS = st.floats(0, 5, allow_nan=False)


@st.composite
def features(draw) -> Features:
    return Features(
        tenant="t",
        claim_id=draw(st.sampled_from(["a", "b", "c"])),
        recorded_at=draw(TIMES),
        valid_from=draw(TIMES),
        valid_to=draw(TIMES),
        event_time=draw(TIMES),
        confidence=draw(st.floats(0, 1)),
        quality=draw(st.floats(0, 1)),
        support_mass=draw(MASS),
        contra_mass=draw(MASS),
        successors=tuple(draw(st.lists(st.tuples(TIMES, TIMES), max_size=2))),
    )


@st.composite
def whens(draw) -> When:
    now = draw(st.sampled_from([2, YEAR, 2 * YEAR]))
    at = draw(st.one_of(st.none(), TIMES))
    window = draw(
        st.one_of(
            st.none(),
            st.tuples(
                st.one_of(st.just(-math.inf), TIMES.filter(lambda t: t is not None)),
                st.one_of(st.just(math.inf), TIMES.filter(lambda t: t is not None)),
            ),
        )
    )
    asked = (at, at) if at is not None else window
    return When(
        now=now,
        known=draw(st.one_of(st.just(now), TIMES.filter(lambda t: t is not None))),
        at=at if at is not None or window is not None else draw(st.one_of(st.none(), st.just(now))),
        window=window,
        asked=asked,
        include_history=draw(st.booleans()),
        exclude_untimed=draw(st.booleans()) and asked is not None,
    )


def _reference_score(f: Features, semantic: float, lexical: float, rrf: float, when: When, w) -> list[float]:
    support = 1 - math.exp(-f.support_mass)
    risk = f.contra_mass / (f.support_mass + f.contra_mass) if f.contra_mass > 0 else 0.0
    parts = [
        w.semantic * max(semantic, 0.0),
        w.lexical * lexical,
        w.support * support,
        w.contradiction_risk * risk,
        w.temporal * temporal(f, when),
        w.source_quality * f.quality,
        w.confidence * f.confidence,
        w.fusion * rrf,
    ]
    return [*parts, parts[0] + parts[1] + parts[2] - parts[3] + parts[4] + parts[5] + parts[6] + parts[7]]


@settings(max_examples=300, deadline=None)
@given(fs=st.lists(features(), min_size=1, max_size=12), when=whens(), seed=st.integers(0, 1000))
def test_columns_filter_and_score_as_the_rules_do(fs, when, seed) -> None:
    cols = FeatureColumns.of(fs)
    ok, relevance = admitted(cols, when, lambda i: fs[i])
    assert ok.tolist() == [time_ok(f, when) for f in fs]
    assert relevance.tolist() == [temporal(f, when) for f in fs]

    rng = np.random.default_rng(seed)
    semantic, lexical, rrf = (
        rng.uniform(-1, 1, len(fs)),
        rng.uniform(0, 1, len(fs)),
        rng.uniform(0, 0.1, len(fs)),
    )
    w = RankingWeights(*rng.uniform(0, 2, 8))
    s = score(cols, semantic, lexical, rrf, relevance, w)
    for i, f in enumerate(fs):
        ref = _reference_score(f, semantic[i], lexical[i], rrf[i], when, w)
        assert np.allclose(s.parts[i], ref[:8], rtol=1e-12, atol=1e-15)
        assert s.total[i] == np.float32(s.total[i])  # what the answer carries
        assert math.isclose(s.total[i], ref[8], rel_tol=1e-6, abs_tol=1e-6)
        expected = (
            types_pb2.STANCE_CONTRADICTS
            if f.contra_mass > f.support_mass
            else types_pb2.STANCE_SUPPORTS
            if f.support_mass > 0
            else types_pb2.STANCE_NEUTRAL
        )
        assert s.stance[i] == expected


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(st.tuples(st.integers(0, 3000), st.one_of(st.none(), features())), max_size=30))
def test_the_table_holds_what_was_set_last(ops) -> None:
    """The table against a dict: a row is present exactly when its last operation set it, and then
    holds what was set (set, unset and growth in any order)."""
    table, oracle = FeatureTable(), {}
    for docno, f in ops:
        if f is None:
            table.unset(docno)
            oracle.pop(docno, None)
        else:
            table.set(docno, f)
            oracle[docno] = f
    docnos = np.array(sorted({d for d, _ in ops} | {0, 5000}), dtype=np.uint64)
    cols, present = table.gather(docnos)
    assert present.tolist() == [int(d) in oracle for d in docnos]
    for i, d in enumerate(docnos.tolist()):
        if d in oracle:
            expected = FeatureColumns.of([oracle[d]])
            for name in FeatureColumns.__dataclass_fields__:
                assert getattr(cols, name)[i] == getattr(expected, name)[0], name
