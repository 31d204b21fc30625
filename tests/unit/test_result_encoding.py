"""A result's scores are appended to its cached answer as encoded bytes; parsed, the whole must be the
result built field by field, for any scores, stance, shard id and expansion flag."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node.planner import _Scored, scored_fields
from dash_node.scoring import PARTS

FLOATS = st.floats(-4, 4, allow_nan=False, width=64)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(FLOATS, min_size=len(PARTS), max_size=len(PARTS)),
    total=FLOATS,
    risk=st.floats(0, 1),
    stance=st.sampled_from(list(types_pb2.Stance.values())),
    shard=st.text(min_size=0, max_size=300),
    expanded=st.booleans(),
)
def test_appended_scores_parse_as_the_fields_set_one_by_one(
    parts, total, risk, stance, shard, expanded
) -> None:
    answer = dash_pb2.RetrievedClaim(claim=types_pb2.Claim(claim_id="c1", text="a claim"))
    answer.citations.add(evidence_id="e1", quote="a", span_end=1)
    s = _Scored(7, "c1", tuple(parts), total, risk, stance, expanded)
    encoded = answer.SerializeToString() + scored_fields(
        s, dash_pb2.RetrievedClaim(shard_id=shard).SerializeToString()
    )

    expected = dash_pb2.RetrievedClaim()
    expected.CopyFrom(answer)
    expected.score = total
    expected.breakdown.CopyFrom(dash_pb2.ScoreBreakdown(**dict(zip(PARTS, parts, strict=True)), total=total))
    expected.contradiction_risk = risk
    expected.dominant_stance = stance
    expected.shard_id = shard
    expected.from_expansion = expanded
    assert dash_pb2.RetrievedClaim.FromString(encoded) == expected
