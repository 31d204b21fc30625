"""The cross-shard evidence pass: merged top results from different shards checked against each other.

Ingest-time detection only sees claims on the same shard; two claims about one fact can still land on
different shards (different subjects for the same thing, documents routed by document id). After the
merge, the router runs the same judge over pairs of top results from different shards that share a name
or enough words, and flags the conflicts it finds on both results.
"""

from __future__ import annotations

import re
from itertools import combinations

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node.evidence.builder import view
from dash_node.evidence.judge import ContradictionJudge
from dash_node.store import names_of

MAX_RESULTS_CHECKED = 20
MIN_WORD_OVERLAP = 0.3
_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.casefold()) if len(w) > 2}


class _Seen:
    """What the pass needs of one result, worked out once rather than once per pair."""

    def __init__(self, r: dash_pb2.RetrievedClaim) -> None:
        self.result = r
        self.names = names_of(r.claim)
        self.words = _words(r.claim.text)
        self.view = view(r.claim)


def _related(a: _Seen, b: _Seen) -> bool:
    if a.names & b.names:
        return True
    wa, wb = a.words, b.words
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= MIN_WORD_OVERLAP


def flag_cross_shard_conflicts(results: list[dash_pb2.RetrievedClaim], judge: ContradictionJudge) -> int:
    """Add a ``contradicting`` entry (origin DETECTOR, reason ``cross_shard``) to both sides of every
    conflict between results of different shards; returns how many pairs were flagged."""
    flagged = 0
    for sa, sb in combinations([_Seen(r) for r in results[:MAX_RESULTS_CHECKED]], 2):
        a, b = sa.result, sb.result
        if a.shard_id == b.shard_id or not _related(sa, sb):
            continue
        if any(rc.claim_id == b.claim.claim_id for rc in a.contradicting):
            continue  # the shards already linked them
        verdict = judge.judge(sa.view, sb.view)
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
