"""The router's merge flags conflicts between results of different shards, the same way every time it
meets the same pair, and judges a pair again once one of its claims changed."""

from __future__ import annotations

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node.evidence.judge import RuleJudge
from dash_router.crossshard import merge


def _answer(shard: str, claim_id: str, text: str, score: float) -> dash_pb2.RetrieveResponse:
    claim = types_pb2.Claim(claim_id=claim_id, text=text, subject="Danube")
    result = dash_pb2.RetrievedClaim(claim=claim, score=score, shard_id=shard)
    return dash_pb2.RetrieveResponse(results=[result])


def _flags(answers: list[dash_pb2.RetrieveResponse], judge: RuleJudge) -> list[tuple[str, list[str]]]:
    req = dash_pb2.RetrieveRequest(tenant_id="t", query="How long is the Danube?", top_k=5)
    out = merge(answers, req, judge)
    return [(r.claim.claim_id, [rc.claim_id for rc in r.contradicting]) for r in out.results]


def test_a_conflict_across_shards_is_flagged_on_both_sides_every_time() -> None:
    judge = RuleJudge()
    answers = [
        _answer("s0", "a", "The Danube is 2,850 km long.", 0.9),
        _answer("s1", "b", "The Danube is 2,580 km long.", 0.8),
    ]
    want = [("a", ["b"]), ("b", ["a"])]
    assert _flags(answers, judge) == want
    assert _flags(answers, judge) == want  # the same pair again (its verdict remembered)


def test_a_changed_claim_is_judged_again() -> None:
    judge = RuleJudge()

    def a() -> dash_pb2.RetrieveResponse:  # each merge gets freshly parsed answers, as in the router
        return _answer("s0", "a", "The Danube is 2,850 km long.", 0.9)

    assert _flags([a(), _answer("s1", "b", "The Danube is 2,580 km long.", 0.8)], judge)[0] == ("a", ["b"])
    agreeing = _answer("s1", "b", "The Danube is 2,850 km long.", 0.8)
    assert _flags([a(), agreeing], judge) == [("a", []), ("b", [])]


def test_results_of_one_shard_are_not_judged_by_the_router() -> None:
    judge = RuleJudge()
    one = dash_pb2.RetrieveResponse(
        results=[
            *_answer("s0", "a", "The Danube is 2,850 km long.", 0.9).results,
            *_answer("s0", "b", "The Danube is 2,580 km long.", 0.8).results,
        ]
    )
    assert _flags([one], judge) == [("a", []), ("b", [])]
