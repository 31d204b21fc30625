"""The edge builder: compare each newly committed claim with nearby claims of its tenant and record what
the judge finds (contradicts, supersedes, duplicates, supports, refines) as detector edges.

"Nearby" is bounded work per claim: claims sharing its subject or an entity (newest first) — or, for a
claim that names neither, its nearest vectors above a similarity floor — plus the claims written just
before it that share a name or a neighbourhood. The detector (``detector.py``) runs it off the write's
acknowledgement path and writes the edges it finds as a WAL record of their own, so replay reproduces
them without judging again. A degree cap keeps noisy data from growing the graph without bound.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dash_client._pb.dash.v1 import types_pb2, wal_pb2
from dash_node.evidence.judge import ClaimView, ContradictionJudge, Judgement
from dash_node.store import names_of
from dash_node.validation import ts_key

if TYPE_CHECKING:
    import lmdb

    from dash_node.store import Store

# (tenant, packed float32 vectors, k) -> per vector, its (docno, similarity) hits; a vector of another
# dimension than the tenant's gets none. The engine searches its index; a worker process asks the engine.
Searcher = Callable[[str, list[bytes], int], list[list[tuple[int, float]]]]

_CITED = 4  # evidence ids an edge cites per side

_RELATIONS = {
    "contradicts": types_pb2.RELATION_CONTRADICTS,
    "supersedes": types_pb2.RELATION_SUPERSEDES,
    "superseded_by": types_pb2.RELATION_SUPERSEDES,
    "duplicates": types_pb2.RELATION_DUPLICATES,
    "supports": types_pb2.RELATION_SUPPORTS,
    "refines": types_pb2.RELATION_REFINES,
}


@dataclass(frozen=True)
class EdgeBuilderConfig:
    """Bounds on the work per claim and on the graph it grows."""

    enabled: bool = True
    per_key_candidates: int = 8  # newest claims per shared subject/entity
    vector_candidates: int = 8  # nearest vectors
    min_similarity: float = 0.55  # vectors below this are not "nearby"
    max_candidates: int = 8  # judged pairs per new claim
    max_degree: int = 32  # detector edges per claim, both directions
    min_strength: float = 0.5  # weaker judgements make no edge
    min_word_overlap: float = 0.3  # Jaccard of word sets below which text claims are not judged
    # The detector (background): claims judged per round, the backlog past which new writes wait, and
    # how long a write waits (for room in the backlog, or for its edges when it asks to).
    round_claims: int = 2_000
    max_backlog_claims: int = 20_000
    wait_timeout_s: float = 30.0
    # Judge in a worker process (off the node's GIL); off: in a thread of the node (e.g. for a judge that
    # cannot be pickled).
    worker_process: bool = True


def view(claim: types_pb2.Claim, observed_at: int | None = None) -> ClaimView:
    return ClaimView(
        claim_id=claim.claim_id,
        text=claim.text,
        subject=claim.subject,
        predicate=claim.predicate,
        object=claim.object,
        entities=tuple(claim.entities),
        valid_from=ts_key(claim.valid_from) if claim.HasField("valid_from") else None,
        valid_to=ts_key(claim.valid_to) if claim.HasField("valid_to") else None,
        recorded_at=ts_key(claim.recorded_at) if claim.HasField("recorded_at") else 0,
        observed_at=observed_at,
        confidence=claim.confidence if claim.HasField("confidence") else 1.0,
    )


class EdgeBuilder:
    """Finds detector edges for claims that were just committed."""

    def __init__(self, judge: ContradictionJudge, config: EdgeBuilderConfig = EdgeBuilderConfig()) -> None:
        self.judge = judge
        self.config = config

    def edges_for(
        self,
        store: Store,
        txn: lmdb.Transaction,
        search: Searcher,
        tenant: str,
        claims: list[types_pb2.Claim],
        later: frozenset[str] = frozenset(),
    ) -> list[types_pb2.Edge]:
        """Detector edges between ``claims`` (stored, in write order) and their stored neighbours, and
        among themselves. Claims in ``later`` were written after these and are judged in their own turn,
        so they are not neighbours here: every pair is judged once, newer claim against older."""
        if not self.config.enabled or not claims:
            return []
        position = {c.claim_id: i for i, c in enumerate(claims)}
        names = [names_of(c) for c in claims]
        # A claim that names its subject or entities meets its neighbours through them; vectors find
        # neighbours for the claims that name nothing (most document sentences).
        unnamed = [i for i, n in enumerate(names) if not n]
        nearest: list[set[str]] = [set() for _ in claims]
        if unnamed:
            found = self._nearest(search, tenant, [claims[i] for i in unnamed])
            for i, docnos in zip(unnamed, found, strict=True):
                nearest[i] = {o[1] for d in docnos if (o := store.claim_of_docno(txn, d)) and o[0] == tenant}
        skip = position.keys() | later
        observed: dict[str, int | None] = {}
        by_name: dict[str, list[int]] = {}
        degree: dict[str, int] = {}
        keys: dict[str, PairKeys] = {}
        edges: list[types_pb2.Edge] = []
        seen_pairs: set[tuple[str, str]] = set()
        for i, claim in enumerate(claims):
            # Earlier claims of this turn that share a name or a vector neighbourhood (newest first)
            # come before the stored ones.
            earlier = {j for name in names[i] for j in by_name.get(name, ())}
            earlier |= {j for cid in nearest[i] if (j := position.get(cid, i)) < i}
            candidates = [claims[j] for j in sorted(earlier, reverse=True)[: self.config.per_key_candidates]]
            candidates += self._stored(store, txn, tenant, names[i], nearest[i], skip)
            for name in names[i]:
                by_name.setdefault(name, []).append(i)
            new: ClaimView | None = None
            judged = 0
            for old in candidates:
                pair = (min(claim.claim_id, old.claim_id), max(claim.claim_id, old.claim_id))
                if old.claim_id == claim.claim_id or pair in seen_pairs:
                    continue
                seen_pairs.add(pair)
                if not worth_judging(_keys(claim, keys), _keys(old, keys), self.config.min_word_overlap):
                    continue
                judged += 1
                if judged > self.config.max_candidates:
                    break
                if new is None:
                    new = view(claim, self._observed(store, txn, tenant, claim.claim_id, observed))
                # The old claim's observation time is only read when it can order the pair.
                old_observed = (
                    self._observed(store, txn, tenant, old.claim_id, observed) if new.observed_at else None
                )
                verdict = self.judge.judge(new, view(old, old_observed))
                edge = self._edge(verdict, claim.claim_id, old.claim_id)
                if edge is None:
                    continue
                if self._degree(store, txn, tenant, old.claim_id, degree) >= self.config.max_degree:
                    continue
                if degree.get(claim.claim_id, 0) >= self.config.max_degree:
                    break
                degree[claim.claim_id] = degree.get(claim.claim_id, 0) + 1
                degree[old.claim_id] = degree[old.claim_id] + 1
                self._cite(store, txn, tenant, edge)
                edges.append(edge)
        return edges

    def plan_round(self, store: Store, search: Searcher) -> list[wal_pb2.WalBatch]:
        """The edges for the oldest pending detection tasks (up to ``round_claims`` claims), one batch per
        tenant naming the tasks it completes. Reads only: the caller writes the batches."""
        per_tenant: dict[str, tuple[list[int], list[types_pb2.Claim]]] = {}
        with store.read() as txn:
            tasks = list(store.detections(txn))
            taken, claims = 0, 0
            for lsn, task in tasks:
                if claims and claims + len(task.claim_ids) > self.config.round_claims:
                    break
                lsns, rows = per_tenant.setdefault(task.tenant_id, ([], []))
                lsns.append(lsn)
                found = (store.get_claim(txn, task.tenant_id, cid) for cid in task.claim_ids)
                rows.extend(c for c in found if c is not None)
                taken += 1
                claims += len(task.claim_ids)
            later = frozenset(cid for _, task in tasks[taken:] for cid in task.claim_ids)
            batches = []
            for tenant, (lsns, rows) in per_tenant.items():
                edges = self.edges_for(store, txn, search, tenant, _last_versions(rows), later)
                batch = wal_pb2.WalBatch(tenant_id=tenant, detected_edges=edges, detected_for=lsns)
                batch.recorded_at.GetCurrentTime()  # when the store learned these relations
                batches.append(batch)
        return batches

    @staticmethod
    def _observed(store: Store, txn, tenant: str, claim_id: str, cache: dict[str, int | None]) -> int | None:
        """The newest observation time among a claim's evidence (None: none is dated)."""
        if claim_id not in cache:
            stamps = [
                ts_key(e.observed_at)
                for e in store.evidence_of(txn, tenant, claim_id)
                if e.HasField("observed_at")
            ]
            cache[claim_id] = max(stamps) if stamps else None
        return cache[claim_id]

    @staticmethod
    def _cite(store: Store, txn, tenant: str, edge: types_pb2.Edge) -> None:
        """An edge cites the evidence of both its claims (the first few rows of each)."""
        edge.from_evidence_ids.extend(store.evidence_ids(txn, tenant, edge.from_claim_id)[:_CITED])
        edge.to_evidence_ids.extend(store.evidence_ids(txn, tenant, edge.to_claim_id)[:_CITED])

    def _edge(self, verdict: Judgement, new_id: str, old_id: str) -> types_pb2.Edge | None:
        if not verdict.relation or verdict.strength < self.config.min_strength:
            return None
        src, dst = (old_id, new_id) if verdict.relation == "superseded_by" else (new_id, old_id)
        return types_pb2.Edge(
            from_claim_id=src,
            to_claim_id=dst,
            relation=_RELATIONS[verdict.relation],
            strength=float(min(max(verdict.strength, 0.0), 1.0)),
            reason_codes=list(verdict.reason_codes)[:16],
            origin=types_pb2.EDGE_ORIGIN_DETECTOR,
        )

    def _nearest(self, search: Searcher, tenant: str, claims: list[types_pb2.Claim]) -> list[set[int]]:
        """Per claim, the docnos of its nearest stored vectors above the similarity floor (one batched
        search for all of them)."""
        if not self.config.vector_candidates:
            return [set() for _ in claims]
        # The claims are indexed already: ask for one more to make room for each one's own vector.
        hits = search(tenant, [c.embedding for c in claims], self.config.vector_candidates + 1)
        return [{d for d, sim in row if sim >= self.config.min_similarity} for row in hits]

    def _stored(
        self, store: Store, txn, tenant: str, names: set[str], near: set[str], skip
    ) -> list[types_pb2.Claim]:
        """Stored neighbours: the newest claims under each of its names (passing over this round's and
        later ones, so a burst does not hide the rest), then its vector neighbours."""
        ids: list[str] = []
        for key in sorted(names):
            newest = store.claims_with_entity(txn, tenant, key, self.config.per_key_candidates, skip)
            ids.extend(reversed(newest))
        ids.extend(sorted(near))
        out, seen = [], set()
        for cid in ids:
            if cid in seen or cid in skip:
                continue
            seen.add(cid)
            old = store.get_claim(txn, tenant, cid)
            if old is not None:
                out.append(old)
        return out

    def _degree(self, store: Store, txn, tenant: str, claim_id: str, cache: dict[str, int]) -> int:
        if claim_id not in cache:
            edges = store.edges_out(txn, tenant, claim_id) + store.edges_in(txn, tenant, claim_id)
            cache[claim_id] = sum(1 for e in edges if e.origin == types_pb2.EDGE_ORIGIN_DETECTOR)
        return cache[claim_id]


_WORD = re.compile(r"\w+")


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _keys(claim: types_pb2.Claim, cache: dict[str, PairKeys]) -> PairKeys:
    found = cache.get(claim.claim_id)
    if found is None:
        found = cache[claim.claim_id] = pair_keys(claim)
    return found


@dataclass(frozen=True)
class PairKeys:
    """What the cheap pair test reads of a claim, worked out once per claim rather than once per pair."""

    names: frozenset[str]
    subject: str
    predicate: str
    words: frozenset[str]
    said: frozenset[str]  # the words beyond the subject's: what the claim says about it


def pair_keys(claim: types_pb2.Claim) -> PairKeys:
    words = frozenset(_WORD.findall(claim.text.casefold()))
    return PairKeys(
        names=frozenset(names_of(claim)),
        subject=_norm(claim.subject),
        predicate=_norm(claim.predicate),
        words=words,
        said=words.difference(_WORD.findall(claim.subject.casefold())),
    )


def worth_judging(a: PairKeys, b: PairKeys, min_word_overlap: float) -> bool:
    """A cheap test that leaves out pairs no rule could link: claims that name only different things
    (subjects, entities) never pass, claims with the same subject and predicate always do; the rest
    need enough words in common (Jaccard). Two claims about one subject are compared on what they say
    about it: the subject's own words are common to both by construction, and a long name made every
    two facts about it look alike (on the bench's claims, 94% of the pairs judged, none of which the
    judge linked). Used at ingest and by the router's cross-shard pass."""
    if a.names and b.names and not a.names & b.names:
        return False  # they name different things: not one fact
    x, y = a.words, b.words
    if a.subject and b.subject:
        if a.subject != b.subject:
            return False  # two different subjects are not one fact
        if a.predicate and b.predicate and a.predicate == b.predicate:
            return True
        x, y = a.said, b.said
    return bool(x and y) and len(x & y) / len(x | y) >= min_word_overlap


def _last_versions(claims: list[types_pb2.Claim]) -> list[types_pb2.Claim]:
    """A claim written twice in one round is judged once, as it stands now, at its latest position."""
    last = {c.claim_id: i for i, c in enumerate(claims)}
    return [c for i, c in enumerate(claims) if last[c.claim_id] == i]
