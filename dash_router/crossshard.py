"""What the router makes of several shards' answers: one ranking, with conflicts across shards flagged.

Ingest-time detection only sees claims on the same shard; two claims about one fact can still land on
different shards (different subjects for the same thing, documents routed by document id). After the
merge, the router runs the same judge over pairs of top results from different shards that pass the
edge builder's pair test (``worth_judging``), and flags the conflicts it finds on both results.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import combinations

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node.evidence.builder import EdgeBuilderConfig, PairKeys, pair_keys, view, worth_judging
from dash_node.evidence.judge import ClaimView, ContradictionJudge, Judgement

MAX_RESULTS_CHECKED = 20
MIN_WORD_OVERLAP = EdgeBuilderConfig().min_word_overlap


@lru_cache(maxsize=20_000)
def _derived(claim: bytes) -> tuple[PairKeys, ClaimView]:
    """A claim's pair keys and judge view, by its serialised form: the same claims top many queries, and
    working these out (word sets, normalised names) costs more than serialising the claim to look up."""
    c = types_pb2.Claim.FromString(claim)
    return pair_keys(c), view(c)


@lru_cache(maxsize=20_000)
def _judged(judge: ContradictionJudge, a: bytes, b: bytes) -> Judgement:
    """The judge's verdict on two claims, by their serialised forms: judging aligns the two texts (~0.16
    ms a pair, most of a merge's time), and the same pairs meet again whenever the same claims top a
    query. A verdict depends on the claims alone; a changed claim serialises differently."""
    return judge.judge(_derived(a)[1], _derived(b)[1])


class _Seen:
    """What the pass needs of one result, worked out once rather than once per pair."""

    def __init__(self, r: dash_pb2.RetrievedClaim) -> None:
        self.result = r
        self.shard_id = r.shard_id
        self.claim = r.claim.SerializeToString(deterministic=True)
        self.keys = _derived(self.claim)[0]


def flag_cross_shard_conflicts(results: list[dash_pb2.RetrievedClaim], judge: ContradictionJudge) -> int:
    """Add a ``contradicting`` entry (origin DETECTOR, reason ``cross_shard``) to both sides of every
    conflict between results of different shards; returns how many pairs were flagged."""
    flagged = 0
    for sa, sb in combinations([_Seen(r) for r in results[:MAX_RESULTS_CHECKED]], 2):
        if sa.shard_id == sb.shard_id or not worth_judging(sa.keys, sb.keys, MIN_WORD_OVERLAP):
            continue
        a, b = sa.result, sb.result
        if any(rc.claim_id == b.claim.claim_id for rc in a.contradicting):
            continue  # the shards already linked them
        verdict = _judged(judge, sa.claim, sb.claim)
        if verdict.relation != "contradicts":
            continue
        for x, y in ((a, b), (b, a)):
            x.contradicting.append(
                dash_pb2.RelatedClaim(
                    claim_id=y.claim.claim_id,
                    text=y.claim.text,
                    relation=types_pb2.RELATION_CONTRADICTS,
                    strength=verdict.strength,
                    reason_codes=[*verdict.reason_codes, "cross_shard"],
                    origin=types_pb2.EDGE_ORIGIN_DETECTOR,
                    citations=list(y.citations),
                )
            )
            x.contradiction_risk = max(x.contradiction_risk, verdict.strength / 2)
        flagged += 1
    return flagged


def merge(
    answers: Sequence[dash_pb2.RetrieveResponse], req: dash_pb2.RetrieveRequest, judge: ContradictionJudge
) -> dash_pb2.RetrieveResponse:
    """The shards' answers as one: merged on score (comparable across shards: cosine, saturated BM25,
    evidence masses), cut to ``top_k``, conflicts across shards flagged, ordered by the stance mode; then
    the graph-expanded results that are not in the top. One shard's answer is its own merge (the node
    ranks alike), which is why the router may pass it on unparsed."""
    out = dash_pb2.RetrieveResponse()
    results: list[dash_pb2.RetrievedClaim] = []
    expanded: list[dash_pb2.RetrievedClaim] = []
    for a in answers:
        for r in a.results:
            (expanded if r.from_expansion else results).append(r)
        out.explain.extend(a.explain)
        out.dropped_by_stance += a.dropped_by_stance
    # Each result's sort key is read once: a field read on a parsed message builds a Python object.
    keys = [(-r.score, r.claim.claim_id) for r in results]
    order = sorted(range(len(results)), key=keys.__getitem__)
    k = req.top_k or 10
    top: list[dash_pb2.RetrievedClaim] = []
    seen: set[str] = set()
    for i in order:
        if len(top) == k:
            break
        if keys[i][1] not in seen:  # between a split's switch and its trim, both halves hold the claims
            seen.add(keys[i][1])
            top.append(results[i])
    expanded = [r for r in expanded if r.claim.claim_id not in seen]  # seen: the top's claims
    if req.stance_mode != dash_pb2.STANCE_MODE_SUPPORT_ONLY:
        flag_cross_shard_conflicts(top, judge)
    if req.stance_mode == dash_pb2.STANCE_MODE_CONTRADICTIONS_FIRST:
        top.sort(key=lambda r: (-(r.contradiction_risk > 0), -r.score, r.claim.claim_id))
    out.results.extend(top)
    out.results.extend(expanded)
    return out
