"""Shard-local retrieval planner.

prefilter (tenant, labels, entities) -> candidates: BM25 top-M + ANN top-N + entity fetch (union)
-> valid-time / transaction-time filter -> features -> composite ranking -> top-k with citations.

Scores are built from per-claim quantities that mean the same on every shard (cosine similarity, a
saturated BM25, evidence masses), so a router can merge shard answers on them.
"""

from __future__ import annotations

import math
import struct
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import scoring, telemetry
from dash_node.features import FeatureColumns, Features, answer_of, features_of
from dash_node.scoring import PARTS, RankingWeights, When
from dash_node.wire import message_field

if TYPE_CHECKING:
    from dash_node.engine import Engine

_EXPAND = (types_pb2.RELATION_CONTRADICTS, types_pb2.RELATION_SUPPORTS, types_pb2.RELATION_SUPERSEDES)

# How a result's query-dependent fields are encoded (``Planner._hydrated``). A tag is the field's number
# and its wire type: floats are 5, messages 2, enums and bools varints (0; stances fit one byte).
_RESULTS = dash_pb2.RetrieveResponse.DESCRIPTOR.fields_by_name["results"].number
_RESULT = dash_pb2.RetrievedClaim.DESCRIPTOR.fields_by_name
_BREAKDOWN = dash_pb2.ScoreBreakdown.DESCRIPTOR.fields_by_name
_SCORE_TAG = _RESULT["score"].number << 3 | 5
_BREAKDOWN_TAG = _RESULT["breakdown"].number << 3 | 2
_RISK_TAG = _RESULT["contradiction_risk"].number << 3 | 5
_TOTAL_TAG = _BREAKDOWN["total"].number << 3 | 5
_PART_TAGS = tuple(_BREAKDOWN[name].number << 3 | 5 for name in PARTS)
_BREAKDOWN_SIZE = 5 * (1 + len(PARTS))
_SCORES = struct.Struct("<BfBB" + "Bf" * (1 + len(PARTS)) + "Bf")
_STANCE = {v: bytes([_RESULT["dominant_stance"].number << 3, v]) for v in types_pb2.Stance.values()}
_EXPANDED = bytes([_RESULT["from_expansion"].number << 3, 1])


@dataclass(frozen=True)
class TemporalConfig:
    """How queries treat time. ``untimed``: whether claims without any validity pass an explicit
    ``as_of`` / ``valid_window`` ("include": they are taken to hold always; "exclude": they never match
    an explicit time). Default-"now" queries always include them."""

    untimed: str = "include"

    def validate(self) -> None:
        if self.untimed not in ("include", "exclude"):
            raise ValueError(f"temporal.untimed: 'include' or 'exclude', got {self.untimed!r}")


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
    """A candidate as ranked; it becomes a RetrievedClaim only if it is returned."""

    docno: int
    claim_id: str
    parts: tuple[float, ...]  # weighted components, in ScoreBreakdown's field order
    total: float
    risk: float
    stance: int
    from_expansion: bool = False

    @classmethod
    def row(cls, docno: int, claim_id: str, s: scoring.Scores, i: int) -> _Scored:
        return cls(
            docno, claim_id, tuple(s.parts[i].tolist()), float(s.total[i]), float(s.risk[i]), int(s.stance[i])
        )


@dataclass
class _Block:
    """Scored candidates that passed the time filter: their docnos, claim ids and scores."""

    docnos: np.ndarray
    claim_ids: np.ndarray
    scores: scoring.Scores

    @classmethod
    def joined(cls, blocks: list[_Block]) -> _Block:
        if len(blocks) == 1:
            return blocks[0]
        return cls(
            np.concatenate([b.docnos for b in blocks]),
            np.concatenate([b.claim_ids for b in blocks]),
            scoring.Scores.joined([b.scores for b in blocks]),
        )


class Planner:
    """Runs RetrieveRequests against one engine's state and indexes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.w = engine.config.ranking
        self.prune = True  # False scores every candidate (the exhaustive reference the tests compare with)
        self._shard = dash_pb2.RetrievedClaim(shard_id=engine.config.shard_id).SerializeToString()

    def retrieve(self, req: dash_pb2.RetrieveRequest) -> tuple[bytes, int]:
        """The answer, encoded (a RetrieveResponse), and how many results it holds. Results are kept
        encoded from the cache to the wire (``_hydrated``): the rest of the answer is encoded, and the
        results are appended to it as fields."""
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
                return resp.SerializeToString(), 0  # the tenant has no data here
            allowed = self._prefilter(txn, req)
            stage("prefilter", -1 if allowed is None else len(allowed))
            m = req.num_candidates or max(w.min_candidates, w.candidate_multiplier * k)

            lex_hits = []
            if req.query.strip():
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
            when = When.of(req, time.time_ns(), eng.config.temporal.untimed)
            scored, pruned = self._rank(txn, tenant, found, req, w, k, when, seen)
            stage("time_filter", len(scored))
            stage("rank", len(scored))
            if pruned:
                stage("pruned", pruned)
            chosen, dropped = self._apply_stance_mode(scored, req.stance_mode, k)
            if req.graph.depth > 0:
                chosen += self._expand(txn, tenant, chosen, req, w, qvec, when, allowed, seen)
                stage("graph_expansion", len(chosen))
            results = b"".join(message_field(_RESULTS, self._hydrated(txn, tenant, s, seen)) for s in chosen)
            stage("hydrate", len(chosen))
        resp.dropped_by_stance = dropped
        if req.explain:
            for name, n, ms in stages:
                resp.explain.add(stage=name, candidates=n, millis=ms, shard_id=eng.config.shard_id)
        return resp.SerializeToString() + results, len(chosen)

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
        when: When,
        seen: int,
    ) -> tuple[list[_Scored], int]:
        """Score candidates best-first, a block at a time, by the part of the score known without reading
        them (similarity, BM25, fusion), and stop once no remaining candidate can reach the k-th score: the
        other components add at most ``w.headroom``. The answer is exactly what scoring every candidate
        gives, with far fewer claims read. (Support-only mode scores all: it must count what it drops.)
        Returns the results, best first (the top k when pruning), and how many were never read."""
        lexical = scoring.saturated(found.bm25, w)
        known = w.semantic * np.maximum(found.semantic, 0.0) + w.lexical * lexical + w.fusion * found.rrf
        order = np.lexsort((found.docnos, -known))
        prune = self.prune and req.stance_mode != dash_pb2.STANCE_MODE_SUPPORT_ONLY
        blocks: list[_Block] = []
        totals, kth, start = np.empty(0), -math.inf, 0
        step = max(2 * k, 64)  # rows per block: each block costs ~0.1 ms of numpy calls, a row ~1 µs
        while start < len(order):
            if prune and len(totals) >= k and known[order[start]] + w.headroom < kth:
                break
            rows = order[start : start + step] if prune else order
            blocks.append(self._score_block(txn, tenant, found, rows, lexical, when, w, seen))
            totals = np.concatenate([totals, blocks[-1].scores.total])
            if len(totals) >= k:
                kth = np.partition(totals, len(totals) - k)[len(totals) - k]
            start += len(rows)
            step *= 2
        return self._best_first(blocks, k if prune else None), len(order) - start

    def _score_block(
        self,
        txn,
        tenant: str,
        found: _Candidates,
        rows: np.ndarray,
        lexical: np.ndarray,
        when: When,
        w: RankingWeights,
        seen: int,
    ) -> _Block:
        """Filter and score the candidates at ``rows``: cached features as columns, the others computed."""
        docnos = found.docnos[rows]
        cols, cached = self.engine.derived.gather_features(docnos)
        computed: dict[int, Features | None] = {}
        for i in np.flatnonzero(~cached).tolist():
            computed[i] = f = self._features(txn, tenant, int(docnos[i]), seen)
            if f is not None:
                cols.set(i, f)

        def features(i: int) -> Features | None:
            return computed[i] if i in computed else self._features(txn, tenant, int(docnos[i]), seen)

        ok, relevance = scoring.admitted(cols, when, features)
        scores = scoring.score(cols, found.semantic[rows], lexical[rows], found.rrf[rows], relevance, w)
        keep = np.flatnonzero(ok)
        return _Block(docnos[keep], cols.claim_id[keep], scores.take(keep))

    @staticmethod
    def _best_first(blocks: list[_Block], limit: int | None) -> list[_Scored]:
        """The scored rows by score, then claim id; only the first ``limit`` when given."""
        if not blocks:
            return []
        b = _Block.joined(blocks)
        rows = np.arange(len(b.docnos))
        total = b.scores.total
        if limit is not None and len(total) > limit:
            rows = np.flatnonzero(total >= np.partition(total, len(total) - limit)[len(total) - limit])
        totals, ids = total.tolist(), b.claim_ids.tolist()
        rows = sorted(rows.tolist(), key=lambda r: (-totals[r], ids[r]))[:limit]
        return [_Scored.row(int(b.docnos[r]), ids[r], b.scores, r) for r in rows]

    def _expand(
        self,
        txn,
        tenant: str,
        results: list[_Scored],
        req: dash_pb2.RetrieveRequest,
        w: RankingWeights,
        qvec,
        when: When,
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
                    cols = FeatureColumns.of([f] if f is not None else [])
                    ok, relevance = scoring.admitted(cols, when, lambda _, f=f: f)
                    if f is None or not ok[0]:
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
                    none = np.zeros(1)
                    scores = scoring.score(cols, np.array([semantic]), none, none, relevance, w)
                    s = _Scored.row(docno, f.claim_id, scores, 0)
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

    def _hydrated(self, txn, tenant: str, s: _Scored, seen: int) -> bytes:
        """The result as answered, encoded: its cached query-independent part (the claim without its
        vector, its citations, the claims related to it by support/contradiction edges) followed by its
        scores, stance, shard and expansion flag, encoded as protobuf does (concatenated encodings merge,
        and the cached part has none of these fields). It is never parsed on the node: setting the fields
        one by one on a parsed message cost twice as much as one parse of the whole, which in turn cost
        more than writing the answer around the bytes (``retrieve``)."""
        raw = answer_of(self.engine.derived, self.engine.store, txn, tenant, s.docno, s.claim_id, seen)
        return raw + scored_fields(s, self._shard)


def scored_fields(s: _Scored, shard: bytes) -> bytes:
    """A result's query-dependent fields as protobuf encodes them: score, breakdown, contradiction risk,
    stance, then ``shard`` (the encoded shard id) and the expansion flag."""
    breakdown = [_TOTAL_TAG, s.total]
    for tag, part in zip(_PART_TAGS, s.parts, strict=True):
        breakdown += (tag, part)
    scores = _SCORES.pack(_SCORE_TAG, s.total, _BREAKDOWN_TAG, _BREAKDOWN_SIZE, *breakdown, _RISK_TAG, s.risk)
    return b"".join((scores, _STANCE[s.stance], shard, _EXPANDED if s.from_expansion else b""))
