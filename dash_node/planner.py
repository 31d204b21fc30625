"""Shard-local retrieval planner.

prefilter (tenant, labels, entities) -> candidates: BM25 top-M + ANN top-N + entity fetch (union)
-> valid-time / transaction-time filter -> features -> composite ranking -> top-k with citations.

Scores are built from per-claim quantities that mean the same on every shard (cosine similarity, a
saturated BM25, evidence masses), so a router can merge shard answers on them.
"""

from __future__ import annotations

import heapq
import math
import struct
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import telemetry
from dash_node.features import Features, answer_of, features_of, successor_end
from dash_node.validation import ts_key

if TYPE_CHECKING:
    from dash_node.engine import Engine

_YEAR_NS = 365.25 * 24 * 3600 * 1e9
_EXPAND = (types_pb2.RELATION_CONTRADICTS, types_pb2.RELATION_SUPPORTS, types_pb2.RELATION_SUPERSEDES)
_F32 = struct.Struct("<f")


@dataclass(frozen=True)
class TemporalConfig:
    """How queries treat time. ``untimed``: whether claims without any validity pass an explicit
    ``as_of`` / ``valid_window`` ("include": they are taken to hold always; "exclude": they never match
    an explicit time). Default-"now" queries always include them."""

    untimed: str = "include"

    def validate(self) -> None:
        if self.untimed not in ("include", "exclude"):
            raise ValueError(f"temporal.untimed: 'include' or 'exclude', got {self.untimed!r}")


@dataclass(frozen=True)
class RankingWeights:
    """Weights of the composite score; every result reports each weighted component."""

    semantic: float = 0.45
    lexical: float = 0.25
    support: float = 0.10
    contradiction_risk: float = 0.10  # subtracted
    temporal: float = 0.05
    source_quality: float = 0.05
    confidence: float = 0.05
    fusion: float = 0.0  # reciprocal-rank fusion, off by default (not comparable across shards)
    bm25_saturation: float = 8.0  # lexical = bm25 / (bm25 + this)
    candidate_multiplier: int = 4
    min_candidates: int = 50


_NO_KEYS, _NO_SIMS = np.empty(0, np.uint64), np.empty(0, np.float32)


@dataclass
class _Candidates:
    """The first stage's candidates as columns (numpy, one row per distinct docno, ascending): what each
    index said of them, gathered without a Python object per candidate."""

    docnos: np.ndarray  # uint64
    semantic: np.ndarray  # cosine to the query; NaN: not known yet
    bm25: np.ndarray
    rrf: np.ndarray  # reciprocal-rank fusion of the two lists

    @classmethod
    def of(
        cls, lexical: tuple[np.ndarray, np.ndarray], ann: tuple[np.ndarray, np.ndarray], extra: np.ndarray
    ) -> _Candidates:
        docnos = np.unique(np.concatenate([lexical[0], ann[0], extra]))
        n = len(docnos)
        c = cls(docnos, np.full(n, np.nan), np.zeros(n), np.zeros(n))
        at = np.searchsorted(docnos, lexical[0])
        c.bm25[at] = lexical[1]
        c.rrf[at] += 1 / (60 + np.arange(len(at)))
        at = np.searchsorted(docnos, ann[0])
        c.semantic[at] = ann[1]
        c.rrf[at] += 1 / (60 + np.arange(len(at)))
        return c

    def __len__(self) -> int:
        return len(self.docnos)


@dataclass
class _Scored:
    """A candidate scored from its features; it becomes a RetrievedClaim only if it is returned."""

    docno: int
    features: Features
    parts: tuple[float, ...]  # weighted components, in ScoreBreakdown's field order
    total: float
    risk: float
    stance: int
    from_expansion: bool = False

    @property
    def claim_id(self) -> str:
        return self.features.claim_id


@dataclass(frozen=True, slots=True)
class _When:
    """The time questions of one query, read from the request once rather than per candidate.

    ``known``: transaction time (what the store knew); ``at``: the valid-time instant a claim must hold
    at (None: the whole history, or the window is the question); ``window``: the valid-time window, if
    asked; ``asked``: the interval temporal relevance is measured from (``as_of``, else the window; None
    when the query named no time); ``now``: when the query started."""

    now: int
    known: int
    at: int | None
    window: tuple[float, float] | None
    asked: tuple[float, float] | None
    include_history: bool
    exclude_untimed: bool

    @classmethod
    def of(cls, req: dash_pb2.RetrieveRequest, now: int, untimed: str) -> _When:
        window = None
        if req.HasField("valid_window"):
            w = req.valid_window
            window = (
                ts_key(w.start) if w.HasField("start") else -math.inf,
                ts_key(w.end) if w.HasField("end") else math.inf,
            )
        if req.HasField("as_of"):
            at = ts_key(req.as_of)
        elif req.include_history or window is not None:
            at = None
        else:
            at = now
        asked = (at, at) if req.HasField("as_of") else window
        return cls(
            now=now,
            known=ts_key(req.as_known_at) if req.HasField("as_known_at") else now,
            at=at,
            window=window,
            asked=asked,
            include_history=req.include_history,
            exclude_untimed=asked is not None and untimed == "exclude",
        )


_PARTS = (
    "semantic",
    "lexical",
    "support",
    "contradiction_risk",
    "temporal",
    "source_quality",
    "confidence",
    "fusion",
)


class Planner:
    """Runs RetrieveRequests against one engine's state and indexes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.w = engine.config.ranking
        self.prune = True  # False scores every candidate (the exhaustive reference the tests compare with)

    def retrieve(self, req: dash_pb2.RetrieveRequest) -> dash_pb2.RetrieveResponse:
        eng, tenant = self.engine, req.tenant_id
        k = req.top_k or 10
        resp = dash_pb2.RetrieveResponse()
        resp.served_at.GetCurrentTime()
        if eng.config.shard_id:  # answered even when the tenant has nothing here
            resp.shards_answered.append(eng.config.shard_id)
        stages: list[tuple[str, int, float]] = []
        clock = time.perf_counter()
        # Each stage is also a child span of the current one (when it records), timed after the fact.
        traced = telemetry.recording()
        span_attrs = (
            {"dash.shard_id": eng.config.shard_id, "dash.tenant_hash": telemetry.tenant_hash(tenant)}
            if traced
            else {}
        )
        span_clock = time.time_ns()

        def stage(name: str, n: int) -> None:
            nonlocal clock, span_clock
            now = time.perf_counter()
            stages.append((name, n, (now - clock) * 1000))
            clock = now
            if traced:
                end = time.time_ns()
                telemetry.stage_span(f"planner.{name}", span_clock, end, {**span_attrs, "dash.candidates": n})
                span_clock = end

        w = self._weights(req)
        seen = eng.derived.generation  # before the snapshot opens: see features.ClaimCache.put
        with eng.store.read() as txn:
            dim = eng.store.tenant_dim(txn, tenant)
            if dim is None:
                return resp  # the tenant has no data here
            allowed = self._prefilter(txn, req)
            stage("prefilter", -1 if allowed is None else len(allowed))
            m = max(w.min_candidates, w.candidate_multiplier * k)

            lex_hits = []
            if req.query.strip():
                with eng.index_lock:
                    lex_hits = eng.lexical.search(tenant, req.query, m, allowed)
            lexical = (
                np.fromiter((d for d, _ in lex_hits), np.uint64, len(lex_hits)),
                np.fromiter((b for _, b in lex_hits), np.float64, len(lex_hits)),
            )
            stage("bm25", len(lex_hits))

            qvec = self._query_vector(req, dim)
            ann = _NO_KEYS, _NO_SIMS
            if qvec is not None:
                with eng.index_lock:
                    tv = eng.vectors.tenant(tenant)
                    if tv is not None and len(tv):
                        allowed_arr = None if allowed is None else np.fromiter(allowed, dtype=np.uint64)
                        ann = tv.search(qvec, m, allowed_arr)
            stage("ann", len(ann[0]))

            extra = _NO_KEYS
            if req.entity_filter and allowed is not None:
                # The prefilter already holds the claims naming an asked-for entity (and passing the
                # label filter); the newest m of them become candidates even without a text match.
                extra = np.asarray(sorted(allowed, reverse=True)[:m], dtype=np.uint64)
            stage("entity_fetch", len(extra))

            found = _Candidates.of(lexical, ann, extra)
            self._fill_similarities(tenant, found, qvec)
            when = _When.of(req, time.time_ns(), eng.config.temporal.untimed)
            scored, pruned = self._rank(txn, tenant, found, req, w, k, when, seen)
            stage("time_filter", len(scored))
            stage("rank", len(scored))
            if pruned:
                stage("pruned", pruned)
            chosen, dropped = self._apply_stance_mode(scored, req.stance_mode, k)
            if req.graph.depth > 0:
                chosen += self._expand(txn, tenant, chosen, req, w, qvec, when, allowed, seen)
                stage("graph_expansion", len(chosen))
            results = [self._hydrate(txn, tenant, s, seen) for s in chosen]
            stage("hydrate", len(results))
        resp.results.extend(results)
        resp.dropped_by_stance = dropped
        if req.explain:
            for name, n, ms in stages:
                resp.explain.add(stage=name, candidates=n, millis=ms, shard_id=eng.config.shard_id)
        return resp

    # ---- stages ------------------------------------------------------------------------------------

    def _prefilter(self, txn, req: dash_pb2.RetrieveRequest) -> set[int] | None:
        """Docnos allowed by label (all must match) and entity (any may match) filters; None = all."""
        store, tenant = self.engine.store, req.tenant_id
        ids: set[str] | None = None
        for lk, lv in sorted(req.label_filter.items()):
            got = set(store.claims_with_label(txn, tenant, lk, lv))
            ids = got if ids is None else ids & got
        if req.entity_filter:
            got = set()
            for entity in req.entity_filter:
                got |= set(store.claims_with_entity(txn, tenant, entity))
            ids = got if ids is None else ids & got
        if ids is None:
            return None
        docnos = (store.docno(txn, tenant, cid) for cid in ids)
        return {d for d in docnos if d is not None}

    def _query_vector(self, req: dash_pb2.RetrieveRequest, dim: int) -> np.ndarray | None:
        if req.query_embedding:
            vec = np.frombuffer(req.query_embedding, dtype="<f4").astype(np.float32)
        elif dim in (0, self.engine.embedder.dim) and req.query.strip():
            vec = np.asarray(self.engine.embedder.embed([req.query])[0], dtype=np.float32)
        else:
            return None  # the tenant uses client vectors of another dimension: lexical only
        if dim and len(vec) != dim:
            from dash_node.errors import InvalidArgument

            raise InvalidArgument(
                "query_embedding", f"dimension {len(vec)} does not match the tenant's {dim}"
            )
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else None

    def _features(self, txn, tenant: str, docno: int, seen: int) -> Features | None:
        return features_of(self.engine.derived, self.engine.store, txn, tenant, docno, seen)

    def _fill_similarities(self, tenant: str, found: _Candidates, qvec: np.ndarray | None) -> None:
        """Cosine to the query for candidates the vector search did not return (lexical or entity hits),
        in one pass over their stored vectors; claims without a vector keep 0."""
        unknown = np.isnan(found.semantic)
        if qvec is not None and unknown.any():
            with self.engine.index_lock:
                tv = self.engine.vectors.tenant(tenant)
                keys, sims = (
                    tv.similarities(qvec, found.docnos[unknown]) if tv is not None else (_NO_KEYS, _NO_SIMS)
                )
            found.semantic[np.searchsorted(found.docnos, keys)] = sims
            unknown = np.isnan(found.semantic)
        found.semantic[unknown] = 0.0

    def _rank(
        self,
        txn,
        tenant: str,
        found: _Candidates,
        req: dash_pb2.RetrieveRequest,
        w: RankingWeights,
        k: int,
        when: _When,
        seen: int,
    ) -> tuple[list[_Scored], int]:
        """Score candidates best-first by the part of the score known without reading them (similarity,
        BM25, fusion), and stop once no remaining candidate can reach the k-th score: the other components
        add at most ``w.support + w.temporal + w.source_quality + w.confidence``. The answer is exactly what
        scoring every candidate gives, with far fewer claims read. (Support-only mode scores all: it must
        count what it drops.) Returns the scored results, best first, and how many were never read."""

        bm25 = found.bm25
        lexical = np.divide(bm25, bm25 + w.bm25_saturation, out=np.zeros(len(found)), where=bm25 > 0)
        known = w.semantic * np.maximum(found.semantic, 0.0) + w.lexical * lexical + w.fusion * found.rrf
        order = np.lexsort((found.docnos, -known))
        rows = zip(
            known[order].tolist(),
            found.docnos[order].tolist(),
            found.semantic[order].tolist(),
            bm25[order].tolist(),
            found.rrf[order].tolist(),
            strict=True,
        )
        headroom = w.support + w.temporal + w.source_quality + w.confidence + 1e-6
        prune = self.prune and req.stance_mode != dash_pb2.STANCE_MODE_SUPPORT_ONLY
        best: list[float] = []  # min-heap of the k best scores so far
        scored: list[_Scored] = []
        for i, (bound, docno, semantic, bm25_score, rrf) in enumerate(rows):
            if prune and len(best) == k and bound + headroom < best[0]:
                return self._sorted(scored), len(order) - i
            f = self._features(txn, tenant, docno, seen)
            if f is None or not self._time_ok(f, when):
                continue
            s = self._score(docno, semantic, bm25_score, rrf, f, when, w)
            scored.append(s)
            if len(best) < k:
                heapq.heappush(best, s.total)
            elif s.total > best[0]:
                heapq.heapreplace(best, s.total)
        return self._sorted(scored), 0

    @staticmethod
    def _sorted(scored: list[_Scored]) -> list[_Scored]:
        scored.sort(key=lambda s: (-s.total, s.claim_id))
        return scored

    @staticmethod
    def _time_ok(f: Features, when: _When) -> bool:
        """Bitemporal filter. Transaction time: only what the store knew at ``as_known_at`` (default now).
        Valid time: at ``as_of`` (default now, unless ``include_history``), or overlapping
        ``valid_window``. A successor that the store knew of ends this claim's validity where the successor's
        begins; a successor without a validity supersedes it outright (excluded unless history is asked)."""
        if f.recorded_at is not None and f.recorded_at > when.known:
            return False
        if when.exclude_untimed and not f.timed:
            return False
        lo = f.valid_from if f.valid_from is not None else -math.inf
        hi = f.valid_to if f.valid_to is not None else math.inf
        if f.successors:
            end = successor_end(f, when.known, when.include_history)
            if end is None:
                return False
            hi = min(hi, end)
        if when.at is not None and not lo <= when.at < hi:
            return False
        return when.window is None or (lo < when.window[1] and when.window[0] < hi)

    def _expand(
        self,
        txn,
        tenant: str,
        results: list[_Scored],
        req: dash_pb2.RetrieveRequest,
        w: RankingWeights,
        qvec,
        when: _When,
        allowed,
        seen_gen: int,
    ) -> list[_Scored]:
        """Bounded graph expansion: claims linked to the results by contradiction, support or
        supersession edges (strongest first, ``graph.max_degree`` per claim, ``graph.depth`` hops),
        that pass the same label/entity and time filters; returned flagged ``from_expansion``."""
        store = self.engine.store
        degree = req.graph.max_degree or 5
        seen = {r.claim_id for r in results}
        frontier = [r.claim_id for r in results]
        added: list[_Scored] = []
        for _ in range(req.graph.depth):
            nxt = []
            for cid in frontier:
                linked = [(e, e.from_claim_id) for e in store.edges_in(txn, tenant, cid)]
                linked += [(e, e.to_claim_id) for e in store.edges_out(txn, tenant, cid)]
                linked = [x for x in linked if x[0].relation in _EXPAND and x[1] not in seen]
                linked.sort(key=lambda x: -x[0].strength)
                for _, other_id in linked[:degree]:
                    seen.add(other_id)
                    docno = store.docno(txn, tenant, other_id)
                    if docno is None or (allowed is not None and docno not in allowed):
                        continue
                    f = self._features(txn, tenant, docno, seen_gen)
                    if f is None or not self._time_ok(f, when):
                        continue
                    semantic = 0.0
                    if qvec is not None:
                        with self.engine.index_lock:
                            tv = self.engine.vectors.tenant(tenant)
                            keys, sims = (
                                tv.similarities(qvec, np.asarray([docno], np.uint64)) if tv else ((), ())
                            )
                        if len(keys):
                            semantic = float(np.asarray(sims)[0])
                    s = self._score(docno, semantic, 0.0, 0.0, f, when, w)
                    s.from_expansion = True
                    added.append(s)
                    nxt.append(other_id)
            frontier = nxt
        return added

    def _weights(self, req: dash_pb2.RetrieveRequest) -> RankingWeights:
        """The node's weights, with this query's overrides."""
        if not req.HasField("weights"):
            return self.w
        return replace(self.w, **{f.name: value for f, value in req.weights.ListFields()})

    def _score(
        self,
        docno: int,
        semantic: float,
        bm25: float,
        rrf: float,
        f: Features,
        when: _When,
        w: RankingWeights,
    ) -> _Scored:
        support_mass, contra_mass = f.support_mass, f.contra_mass
        support = 1 - math.exp(-support_mass)
        risk = contra_mass / (support_mass + contra_mass) if contra_mass > 0 else 0.0
        lexical = bm25 / (bm25 + w.bm25_saturation) if bm25 > 0 else 0.0
        parts = (
            w.semantic * max(semantic, 0.0),
            w.lexical * lexical,
            w.support * support,
            w.contradiction_risk * risk,
            w.temporal * self._temporal(f, when),
            w.source_quality * f.quality,
            w.confidence * f.confidence,
            w.fusion * rrf,
        )
        total = parts[0] + parts[1] + parts[2] - parts[3] + parts[4] + parts[5] + parts[6] + parts[7]
        total = _F32.unpack(_F32.pack(total))[0]  # what the answer carries (a float): all sort alike
        stance = (
            types_pb2.STANCE_CONTRADICTS
            if contra_mass > support_mass
            else types_pb2.STANCE_SUPPORTS
            if support_mass > 0
            else types_pb2.STANCE_NEUTRAL
        )
        return _Scored(docno, f, parts, total, risk, stance)

    @staticmethod
    def _temporal(f: Features, when: _When) -> float:
        """Temporal relevance in [0, 1]. Asked about a time (``as_of`` or ``valid_window``): a claim whose
        validity matches (it passed the filter) scores 1, an event scores by its distance from the asked
        time (halving every year), untimed 0.5. Asked about now: current 1, expired 0.25, untimed 0.5."""
        if when.asked is not None:
            if f.timed:
                return 1.0
            if f.event_time is None:
                return 0.5
            at = f.event_time
            lo, hi = when.asked
            years = max(lo - at, at - hi, 0) / _YEAR_NS
            return 0.5 ** max(years - 0.5, 0.0)
        if not f.timed:
            return 0.5
        if f.valid_to is not None and f.valid_to <= when.now:
            return 0.25
        return 1.0

    @staticmethod
    def _apply_stance_mode(scored: list[_Scored], mode: int, k: int) -> tuple[list[_Scored], int]:
        if mode == dash_pb2.STANCE_MODE_SUPPORT_ONLY:
            top, dropped = [], 0
            for s in scored:
                if len(top) == k:
                    break
                if s.stance == types_pb2.STANCE_CONTRADICTS:
                    dropped += 1
                else:
                    top.append(s)
            return top, dropped
        top = scored[:k]
        if mode == dash_pb2.STANCE_MODE_CONTRADICTIONS_FIRST:
            top.sort(key=lambda s: (-(s.risk > 0), -s.total, s.claim_id))
        return top, 0

    def _hydrate(self, txn, tenant: str, s: _Scored, seen: int) -> dash_pb2.RetrievedClaim:
        """The result as answered: its score, and (cached per claim) the claim without its vector, its
        citations and the claims related to it by support/contradiction edges."""
        raw = answer_of(self.engine.derived, self.engine.store, txn, tenant, s.docno, s.claim_id, seen)
        r = dash_pb2.RetrievedClaim.FromString(raw)
        r.score = s.total
        r.breakdown.CopyFrom(
            dash_pb2.ScoreBreakdown(**dict(zip(_PARTS, s.parts, strict=True)), total=s.total)
        )
        r.contradiction_risk = s.risk
        r.dominant_stance = s.stance
        r.shard_id = self.engine.config.shard_id
        r.from_expansion = s.from_expansion
        return r
