"""How candidates are filtered by time and scored: the bitemporal filter and the composite score, over
feature columns (``features.FeatureColumns``) a block of candidates at a time.

Why columns: a top-50 query scores a few hundred candidates, and doing it one Python object at a time
cost ~5 µs each, the largest stage of a shard's query. numpy judges the plain rows (no successors, times
inside int64 nanoseconds) together; the rare others fall back to the per-claim rules below, which are
the definition the columns follow. Every row's score is computed by the same numpy arithmetic, so a
claim scores the same bits whichever way it was filtered, and on every shard.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node.features import NO_END, FeatureColumns, Features, in_columns_range, successor_end
from dash_node.validation import ts_key

_YEAR_NS = 365.25 * 24 * 3600 * 1e9

PARTS = (
    "semantic",
    "lexical",
    "support",
    "contradiction_risk",
    "temporal",
    "source_quality",
    "confidence",
    "fusion",
)


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
    # First-stage depth: BM25 and ANN each hand the ranking max(min_candidates, multiplier x top_k)
    # candidates. 2 x top_k, not 4: a top-50 over a 250k shard costs 2.5 ms instead of 3.2 (the ANN beam
    # and the claims scored shrink), and CLIMATE-FEVER's recall@50 moves 0.7656 -> 0.7627, nDCG@50
    # 0.4808 -> 0.4799 (`scripts/eval_retrieval.py`, docs/decisions.md). A top-10 keeps its 50.
    candidate_multiplier: int = 2
    min_candidates: int = 50

    @property
    def headroom(self) -> float:
        """The most that the components not known before reading a claim can add to its score."""
        return self.support + self.temporal + self.source_quality + self.confidence + 1e-6


@dataclass(frozen=True, slots=True)
class When:
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
    fits_columns: bool = field(init=False)  # every time named fits the columns (else rows use the rules)

    def __post_init__(self) -> None:
        times = [self.now, self.known] + ([] if self.at is None else [self.at])
        times += [t for t in self.window or () if math.isfinite(t)]
        object.__setattr__(self, "fits_columns", all(in_columns_range(int(t)) for t in times))

    @classmethod
    def of(cls, req: dash_pb2.RetrieveRequest, now: int, untimed: str) -> When:
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


# ---- the per-claim rules ------------------------------------------------------------------------------


def time_ok(f: Features, when: When) -> bool:
    """Bitemporal filter. Transaction time: only what the store knew at ``as_known_at`` (default now).
    Valid time: at ``as_of`` (default now, unless ``include_history``), or overlapping ``valid_window``.
    A successor that the store knew of ends this claim's validity where the successor's begins; a
    successor without a validity supersedes it outright (excluded unless history is asked)."""
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


def temporal(f: Features, when: When) -> float:
    """Temporal relevance in [0, 1]. Asked about a time (``as_of`` or ``valid_window``): a claim whose
    validity matches (it passed the filter) scores 1, an event scores by its distance from the asked
    time (halving every year), untimed 0.5. Asked about now: current 1, expired 0.25, untimed 0.5."""
    if when.asked is not None:
        if f.timed:
            return 1.0
        if f.event_time is None:
            return 0.5
        return _event_relevance(f.event_time, when.asked)
    if not f.timed:
        return 0.5
    if f.valid_to is not None and f.valid_to <= when.now:
        return 0.25
    return 1.0


def _event_relevance(at: int, asked: tuple[float, float]) -> float:
    lo, hi = asked
    years = max(lo - at, at - hi, 0) / _YEAR_NS
    return 0.5 ** max(years - 0.5, 0.0)


# ---- the same, over columns ---------------------------------------------------------------------------


def admitted(
    cols: FeatureColumns, when: When, features: Callable[[int], Features | None]
) -> tuple[np.ndarray, np.ndarray]:
    """(rows that pass the time filter, their temporal relevance), by ``time_ok`` and ``temporal``:
    numpy for the plain rows, the rules for the others (``features(row)`` gives their object, None
    for a claim deleted meanwhile)."""
    n = len(cols)
    ok = np.zeros(n, bool)
    relevance = np.zeros(n)
    plain = cols.plain & when.fits_columns
    if plain.any():
        ok[plain] = _time_ok_plain(cols, when)[plain]
        relevance[plain] = _temporal_plain(cols, when)[plain]
    for i in np.flatnonzero(~plain).tolist():
        f = features(i)
        if f is None:  # deleted since the index answered
            continue
        ok[i] = time_ok(f, when)
        relevance[i] = temporal(f, when)
    return ok, relevance


def _time_ok_plain(c: FeatureColumns, when: When) -> np.ndarray:
    ok = c.recorded_at <= when.known  # a missing time is NO_START: always known
    if when.exclude_untimed:
        ok &= c.timed
    if when.at is not None:
        ok &= (c.valid_from <= when.at) & (when.at < c.valid_to)
    if when.window is not None:
        start, end = when.window
        if math.isfinite(end):
            ok &= c.valid_from < int(end)
        if math.isfinite(start):
            ok &= int(start) < c.valid_to
    return ok


def _temporal_plain(c: FeatureColumns, when: When) -> np.ndarray:
    if when.asked is None:
        expired = (c.valid_to != NO_END) & (c.valid_to <= when.now)
        return np.where(c.timed, np.where(expired, 0.25, 1.0), 0.5)
    out = np.where(c.timed, 1.0, 0.5)
    for i in np.flatnonzero(~c.timed & c.has_event).tolist():  # events, only when a time is asked
        out[i] = _event_relevance(int(c.event_time[i]), when.asked)
    return out


@dataclass
class Scores:
    """Composite scores of a block of rows: the weighted components (``PARTS`` order, one row each),
    the total as the answer carries it (float32), the contradiction risk and the dominant stance."""

    parts: np.ndarray  # (n, len(PARTS))
    total: np.ndarray
    risk: np.ndarray
    stance: np.ndarray

    def take(self, rows: np.ndarray) -> Scores:
        return Scores(self.parts[rows], self.total[rows], self.risk[rows], self.stance[rows])

    @classmethod
    def joined(cls, scores: list[Scores]) -> Scores:
        return cls(
            *(
                np.concatenate([getattr(s, name) for s in scores])
                for name in ("parts", "total", "risk", "stance")
            )
        )


def score(
    cols: FeatureColumns,
    semantic: np.ndarray,
    lexical: np.ndarray,
    rrf: np.ndarray,
    relevance: np.ndarray,
    w: RankingWeights,
) -> Scores:
    """The composite score: similarity, saturated BM25, evidence support, contradiction risk (subtracted),
    temporal relevance, source quality, confidence and (optionally) rank fusion, each weighted."""
    support_mass, contra_mass = cols.support_mass, cols.contra_mass
    support = 1 - np.exp(-support_mass)
    risk = np.divide(contra_mass, support_mass + contra_mass, out=np.zeros(len(cols)), where=contra_mass > 0)
    parts = np.stack(
        [
            w.semantic * np.maximum(semantic, 0.0),
            w.lexical * lexical,
            w.support * support,
            w.contradiction_risk * risk,
            w.temporal * relevance,
            w.source_quality * cols.quality,
            w.confidence * cols.confidence,
            w.fusion * rrf,
        ],
        axis=1,
    )
    p = parts.T
    total = p[0] + p[1] + p[2] - p[3] + p[4] + p[5] + p[6] + p[7]
    stance = np.where(
        contra_mass > support_mass,
        types_pb2.STANCE_CONTRADICTS,
        np.where(support_mass > 0, types_pb2.STANCE_SUPPORTS, types_pb2.STANCE_NEUTRAL),
    )
    return Scores(parts, total.astype(np.float32).astype(np.float64), risk, stance)


def saturated(bm25: np.ndarray, w: RankingWeights) -> np.ndarray:
    """BM25 mapped to [0, 1): ``bm25 / (bm25 + saturation)``, 0 without a match."""
    return np.divide(bm25, bm25 + w.bm25_saturation, out=np.zeros(len(bm25)), where=bm25 > 0)
