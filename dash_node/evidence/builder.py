"""The edge builder: at ingest, compare each new claim with nearby claims of its tenant and record what
the judge finds (contradicts, supersedes, duplicates, supports, refines) as detector edges.

"Nearby" is bounded work per claim: claims sharing its subject or an entity (newest first) — or, for a
claim that names neither, its nearest vectors above a similarity floor — plus the other claims of the
same write that share a name. Edges are added to the
write before it reaches the WAL, so replay reproduces them without judging again. A degree cap keeps noisy
data from growing the graph without bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dash_client._pb.dash.v1 import types_pb2
from dash_node.evidence.judge import ClaimView, ContradictionJudge, Judgement
from dash_node.store import names_of
from dash_node.validation import ts_key

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import lmdb

    from dash_node.index.vector import VectorStore
    from dash_node.store import Store

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


def _observed(item: types_pb2.ClaimInput | None, evidence: list[types_pb2.Evidence]) -> int | None:
    rows = list(item.evidence) if item is not None else evidence
    stamps = [ts_key(ev.observed_at) for ev in rows if ev.HasField("observed_at")]
    return max(stamps) if stamps else None


class EdgeBuilder:
    """Finds detector edges for the claims of one write."""

    def __init__(self, judge: ContradictionJudge, config: EdgeBuilderConfig = EdgeBuilderConfig()) -> None:
        self.judge = judge
        self.config = config

    def edges_for(
        self,
        store: Store,
        txn: lmdb.Transaction,
        vectors: VectorStore,
        index_lock: AbstractContextManager,
        tenant: str,
        items: list[types_pb2.ClaimInput],
    ) -> list[types_pb2.Edge]:
        """Detector edges between the new claims and their neighbours (and among themselves)."""
        if not self.config.enabled or not items:
            return []
        new_ids = {it.claim.claim_id for it in items}
        names = [names_of(it.claim) for it in items]
        # A claim that names its subject or entities meets its neighbours through them; vectors find
        # neighbours for the claims that name nothing (most document sentences).
        unnamed = [i for i, n in enumerate(names) if not n]
        nearest: list[set[int]] = [set() for _ in items]
        if unnamed:
            with index_lock:
                found = self._nearest(vectors, tenant, [items[i] for i in unnamed])
            for i, near in zip(unnamed, found, strict=True):
                nearest[i] = near
        by_name: dict[str, list[int]] = {}
        degree: dict[str, int] = {}
        words: dict[str, frozenset[str]] = {}
        name_cache: dict[str, set[str]] = {}
        edges: list[types_pb2.Edge] = []
        seen_pairs: set[tuple[str, str]] = set()
        for i, item in enumerate(items):
            new = view(item.claim, _observed(item, []))
            candidates = self._candidates(store, txn, tenant, item.claim, nearest[i], new_ids)
            # Earlier claims of this same write that share a name are neighbours too (newest first).
            earlier = sorted({j for name in names[i] for j in by_name.get(name, ())}, reverse=True)
            for j in earlier[: self.config.per_key_candidates]:
                candidates.insert(0, (items[j].claim, _observed(items[j], [])))
            for name in names[i]:
                by_name.setdefault(name, []).append(i)
            judged = 0
            for old_claim, old_observed in candidates:
                pair = (min(new.claim_id, old_claim.claim_id), max(new.claim_id, old_claim.claim_id))
                if old_claim.claim_id == new.claim_id or pair in seen_pairs:
                    continue
                seen_pairs.add(pair)
                if not self._worth_judging(item.claim, old_claim, words, name_cache):
                    continue
                judged += 1
                if judged > self.config.max_candidates:
                    break
                if old_observed is None and new.observed_at is not None:  # only then can it order them
                    old_observed = _observed(None, store.evidence_of(txn, tenant, old_claim.claim_id))
                verdict = self.judge.judge(new, view(old_claim, old_observed))
                edge = self._edge(verdict, new.claim_id, old_claim.claim_id)
                if edge is None:
                    continue
                if self._degree(store, txn, tenant, old_claim.claim_id, degree) >= self.config.max_degree:
                    continue
                if degree.get(new.claim_id, 0) >= self.config.max_degree:
                    break
                degree[new.claim_id] = degree.get(new.claim_id, 0) + 1
                degree[old_claim.claim_id] = degree[old_claim.claim_id] + 1
                edges.append(edge)
        return edges

    def _worth_judging(
        self,
        new: types_pb2.Claim,
        old: types_pb2.Claim,
        cache: dict[str, frozenset[str]],
        names: dict[str, set[str]],
    ) -> bool:
        """A cheap test that leaves out pairs no rule could link: claims that name only different things
        (subjects, entities) never pass, claims with the same subject and predicate always do; the rest
        need enough words in common."""
        new_names, old_names = _names(new, names), _names(old, names)
        if new_names and old_names and not new_names & old_names:
            return False  # they name different things: not one fact
        if new.subject and old.subject:
            if _norm(new.subject) != _norm(old.subject):
                return False  # two different subjects are not one fact
            if new.predicate and old.predicate and _norm(new.predicate) == _norm(old.predicate):
                return True
        a, b = _word_set(new, cache), _word_set(old, cache)
        return bool(a and b) and len(a & b) / len(a | b) >= self.config.min_word_overlap

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

    def _nearest(
        self, vectors: VectorStore, tenant: str, items: list[types_pb2.ClaimInput]
    ) -> list[set[int]]:
        """Per item, the docnos of its nearest stored vectors above the similarity floor (one batched
        search for the whole write)."""
        out: list[set[int]] = [set() for _ in items]
        tv = vectors.tenant(tenant)
        if tv is None or not len(tv) or not self.config.vector_candidates:
            return out
        rows = [i for i, it in enumerate(items) if len(it.claim.embedding) == 4 * tv.dim]
        if not rows:
            return out
        matrix = np.stack([np.frombuffer(items[i].claim.embedding, dtype="<f4") for i in rows])
        for i, (keys, sims) in zip(rows, tv.search_many(matrix, self.config.vector_candidates), strict=True):
            out[i] = {
                int(k)
                for k, s in zip(keys.tolist(), sims.tolist(), strict=True)
                if s >= self.config.min_similarity
            }
        return out

    def _candidates(
        self, store: Store, txn, tenant: str, claim: types_pb2.Claim, near: set, new_ids: set[str]
    ) -> list[tuple[types_pb2.Claim, int | None]]:
        """Stored neighbours, with their observation time left None: it is only read when it can matter
        (see ``edges_for``)."""
        ids: list[str] = []
        for key in sorted(names_of(claim)):
            ids.extend(
                reversed(store.claims_with_entity(txn, tenant, key, newest=self.config.per_key_candidates))
            )
        for docno in sorted(near):
            owner = store.claim_of_docno(txn, docno)
            if owner is not None and owner[0] == tenant:
                ids.append(owner[1])
        out, seen = [], set()
        for cid in ids:
            if cid in seen or cid in new_ids:
                continue
            seen.add(cid)
            old = store.get_claim(txn, tenant, cid)
            if old is not None:
                out.append((old, None))
        return out

    def _degree(self, store: Store, txn, tenant: str, claim_id: str, cache: dict[str, int]) -> int:
        if claim_id not in cache:
            edges = store.edges_out(txn, tenant, claim_id) + store.edges_in(txn, tenant, claim_id)
            cache[claim_id] = sum(1 for e in edges if e.origin == types_pb2.EDGE_ORIGIN_DETECTOR)
        return cache[claim_id]


_WORD = re.compile(r"\w+")


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _word_set(claim: types_pb2.Claim, cache: dict[str, frozenset[str]]) -> frozenset[str]:
    found = cache.get(claim.claim_id)
    if found is None:
        found = cache[claim.claim_id] = frozenset(_WORD.findall(claim.text.casefold()))
    return found


def _names(claim: types_pb2.Claim, cache: dict[str, set[str]]) -> set[str]:
    found = cache.get(claim.claim_id)
    if found is None:
        found = cache[claim.claim_id] = names_of(claim)
    return found
