"""Per-claim ranking features (and other values derived from a claim and its neighbours), computed once
from the state and cached until a write changes them.

Why: scoring a candidate from LMDB means prefix scans of its evidence and edges, the evidence of every
claim at the other end of a support/contradiction edge, and the claims that supersede it — about 50 µs
per candidate, and a top-50 query scores a few hundred. None of that depends on the query, so it is
computed once per claim and kept here; a query then scores from plain numbers.

Correctness: a cached entry must never outlive the state it was read from.

* The write path reports every claim whose features a write may change (``Touched.features``: upserted,
  deleted and trimmed claims, both ends of every edge written, the claims evidence was added to or
  moved from). ``invalidate`` drops those and every entry that read them (its *dependencies*: the
  claim itself and the claims at the other end of its edges).
* A reader computes from an LMDB snapshot that may be older than a write committed meanwhile, so it
  notes the cache's generation *before* opening its transaction and ``put`` refuses the entry if the
  claim or any of its dependencies changed since then. ``invalidate`` runs after the write commits and
  before it is acknowledged, so a query that follows an acknowledged write never sees older features.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import lmdb
import numpy as np

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node.store import Store
from dash_node.validation import ts_key

_CONTRA = types_pb2.RELATION_CONTRADICTS
_SUPPORT = types_pb2.RELATION_SUPPORTS
_SUPERSEDES = types_pb2.RELATION_SUPERSEDES

ClaimKey = tuple[str, str]  # (tenant, claim_id)


@dataclass(frozen=True, slots=True)
class Features:
    """What ranking and the bitemporal filter need to know about a claim, independent of the query."""

    tenant: str
    claim_id: str
    recorded_at: int | None
    valid_from: int | None
    valid_to: int | None
    event_time: int | None
    confidence: float
    quality: float  # mean source quality of its evidence (0.5 without evidence)
    support_mass: float  # its supporting evidence, plus support edges weighted by the backing of their source
    contra_mass: float  # the same for contradicting evidence and contradiction edges (either direction)
    successors: tuple[tuple[int | None, int | None], ...]  # (recorded_at, valid_from) of superseding claims

    @property
    def timed(self) -> bool:
        return self.valid_from is not None or self.valid_to is not None


# Times in the columns are int64 nanoseconds; a missing time is the end of the range it stands for.
NO_START, NO_END = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)


def in_columns_range(ns: int) -> bool:
    """Whether a time (ns) fits the columns strictly inside their sentinels (years 1678..2262)."""
    return NO_START < ns < NO_END


@dataclass
class FeatureColumns:
    """The features of several claims as numpy columns, one row per claim, so that a query filters and
    scores its candidates a block at a time instead of one Python object at a time.

    ``plain`` rows are those numpy can judge alone: no successors, and every time inside the int64
    range (a missing start is ``NO_START``, a missing end ``NO_END``). Other rows keep their Features
    object in ``objects`` and are judged by the per-claim rules."""

    claim_id: np.ndarray  # object (str)
    plain: np.ndarray  # bool
    recorded_at: np.ndarray  # int64
    valid_from: np.ndarray
    valid_to: np.ndarray
    event_time: np.ndarray
    has_event: np.ndarray  # bool
    timed: np.ndarray  # bool
    confidence: np.ndarray  # float64
    quality: np.ndarray
    support_mass: np.ndarray
    contra_mass: np.ndarray

    @classmethod
    def empty(cls, n: int) -> FeatureColumns:
        return cls(
            claim_id=np.full(n, "", dtype=object),
            plain=np.zeros(n, bool),
            recorded_at=np.full(n, NO_START, np.int64),
            valid_from=np.full(n, NO_START, np.int64),
            valid_to=np.full(n, NO_END, np.int64),
            event_time=np.zeros(n, np.int64),
            has_event=np.zeros(n, bool),
            timed=np.zeros(n, bool),
            confidence=np.zeros(n),
            quality=np.zeros(n),
            support_mass=np.zeros(n),
            contra_mass=np.zeros(n),
        )

    @classmethod
    def of(cls, features: list[Features]) -> FeatureColumns:
        cols = cls.empty(len(features))
        for i, f in enumerate(features):
            cols.set(i, f)
        return cols

    def __len__(self) -> int:
        return len(self.claim_id)

    def set(self, i: int, f: Features) -> None:
        times = (f.recorded_at, f.valid_from, f.valid_to, f.event_time)
        plain = not f.successors and all(t is None or in_columns_range(t) for t in times)
        self.plain[i] = plain
        self.claim_id[i] = f.claim_id
        self.recorded_at[i] = f.recorded_at if plain and f.recorded_at is not None else NO_START
        self.valid_from[i] = f.valid_from if plain and f.valid_from is not None else NO_START
        self.valid_to[i] = f.valid_to if plain and f.valid_to is not None else NO_END
        self.event_time[i] = f.event_time if plain and f.event_time is not None else 0
        self.has_event[i] = f.event_time is not None
        self.timed[i] = f.timed
        self.confidence[i] = f.confidence
        self.quality[i] = f.quality
        self.support_mass[i] = f.support_mass
        self.contra_mass[i] = f.contra_mass

    def take(self, rows: np.ndarray) -> FeatureColumns:
        return FeatureColumns(*(getattr(self, name)[rows] for name in _COLUMNS))


_COLUMNS = tuple(FeatureColumns.__dataclass_fields__)


class FeatureTable:
    """The cached features by docno, as columns (``FeatureColumns`` plus a ``present`` flag). It grows
    by doubling to the largest docno seen; docnos are dense per shard, so it costs ~90 bytes a claim."""

    def __init__(self) -> None:
        self._cols = FeatureColumns.empty(0)
        self._present = np.zeros(0, bool)

    def set(self, docno: int, f: Features) -> None:
        if docno >= len(self._present):
            n = max(1024, 2 * len(self._present), docno + 1)
            grown = FeatureColumns.empty(n)
            for name in _COLUMNS:
                getattr(grown, name)[: len(self._present)] = getattr(self._cols, name)
            self._cols = grown
            self._present = np.concatenate([self._present, np.zeros(n - len(self._present), bool)])
        self._cols.set(docno, f)
        self._present[docno] = True

    def unset(self, docno: int) -> None:
        if docno < len(self._present):
            self._present[docno] = False

    def clear(self) -> None:
        self._present[:] = False

    def gather(self, docnos: np.ndarray) -> tuple[FeatureColumns, np.ndarray]:
        """The rows of ``docnos`` and which of them are present (the others hold nothing useful)."""
        inside = docnos < len(self._present)
        rows = np.where(inside, docnos, 0).astype(np.intp)
        if len(self._present) == 0:
            return FeatureColumns.empty(len(docnos)), np.zeros(len(docnos), bool)
        return self._cols.take(rows), self._present[rows] & inside


def quality(ev: types_pb2.Evidence) -> float:
    return ev.source_quality if ev.HasField("source_quality") else 0.5


def masses(evidence: list[types_pb2.Evidence]) -> tuple[float, float]:
    """(supporting, contradicting) evidence mass, each piece weighted by its source quality."""
    support = sum(quality(ev) for ev in evidence if ev.stance != types_pb2.STANCE_CONTRADICTS)
    contra = sum(quality(ev) for ev in evidence if ev.stance == types_pb2.STANCE_CONTRADICTS)
    return support, contra


@dataclass(frozen=True, slots=True)
class Around:
    """What both of a claim's derived values start from: the claim, its evidence, its edges each way."""

    claim: types_pb2.Claim
    evidence: list[types_pb2.Evidence]
    edges_in: list[types_pb2.Edge]
    edges_out: list[types_pb2.Edge]

    @classmethod
    def read(cls, store: Store, txn: lmdb.Transaction, claim: types_pb2.Claim) -> Around:
        tenant, cid = claim.tenant_id, claim.claim_id
        return cls(
            claim,
            store.evidence_of(txn, tenant, cid),
            store.edges_in(txn, tenant, cid),
            store.edges_out(txn, tenant, cid),
        )


def compute(
    store: Store, txn: lmdb.Transaction, claim: types_pb2.Claim, around: Around | None = None
) -> tuple[Features, set[str]]:
    """The claim's features from the state in ``txn`` (``around``: the claim's own reads, when they were
    made already), and the claim ids they were read from."""
    around = around or Around.read(store, txn, claim)
    tenant, cid = claim.tenant_id, claim.claim_id
    deps = {cid}
    evidence = around.evidence
    support_mass, contra_mass = masses(evidence)

    def backing(other: str) -> float:
        # How well the claim at an edge's other end is sourced, in [0, 1] (0.5 without evidence or when
        # it is not on this shard): a weakly sourced claim cannot overturn a well sourced one.
        deps.add(other)
        ev = store.evidence_of(txn, tenant, other)
        if not ev:
            return 0.5
        s, c = masses(ev)
        return max(0.0, min(1.0, s - c))

    successors = []
    for edge in around.edges_in:
        if edge.relation == _SUPPORT:
            support_mass += edge.strength * backing(edge.from_claim_id)
        elif edge.relation == _CONTRA:
            contra_mass += edge.strength * backing(edge.from_claim_id)
        elif edge.relation == _SUPERSEDES:
            deps.add(edge.from_claim_id)
            successor = store.get_claim(txn, tenant, edge.from_claim_id)
            if successor is not None:
                successors.append((_ts(successor, "recorded_at"), _ts(successor, "valid_from")))
    for edge in around.edges_out:
        if edge.relation == _CONTRA:  # a contradiction puts both claims at risk
            contra_mass += edge.strength * backing(edge.to_claim_id)
    qualities = [quality(ev) for ev in evidence]
    features = Features(
        tenant=tenant,
        claim_id=cid,
        recorded_at=_ts(claim, "recorded_at"),
        valid_from=_ts(claim, "valid_from"),
        valid_to=_ts(claim, "valid_to"),
        event_time=_ts(claim, "event_time"),
        confidence=claim.confidence if claim.HasField("confidence") else 1.0,
        quality=sum(qualities) / len(qualities) if qualities else 0.5,
        support_mass=support_mass,
        contra_mass=contra_mass,
        successors=tuple(successors),
    )
    return features, deps


def features_of(
    cache: ClaimCache, store: Store, txn: lmdb.Transaction, tenant: str, docno: int, seen: int
) -> Features | None:
    """The claim's features, from the cache or computed (and offered to it, as of generation ``seen``);
    None if it is gone (deleted since the index answered) or, defensively, not this tenant's."""
    f = cache.get("features", docno)
    if f is None:
        owner = store.claim_of_docno(txn, docno)
        claim = store.get_claim(txn, *owner) if owner is not None and owner[0] == tenant else None
        if claim is None:
            return None
        f, deps = compute(store, txn, claim)
        cache.put("features", docno, owner, f, deps, seen)
    return f if f.tenant == tenant else None


def answer_of(
    cache: ClaimCache, store: Store, txn: lmdb.Transaction, tenant: str, docno: int, claim_id: str, seen: int
) -> bytes:
    """The query-independent part of a result, serialised (a ``RetrievedClaim`` holding the claim without
    its vector, its citations and the claims related to it by support/contradiction edges): from the cache
    or computed (and offered to it, as of generation ``seen``)."""
    raw = cache.get("answer", docno)
    if raw is None:
        claim = store.get_claim(txn, tenant, claim_id)
        raw, deps = _answer(store, txn, Around.read(store, txn, claim))
        cache.put("answer", docno, (tenant, claim_id), raw, deps, seen)
    return raw


def derive(
    cache: ClaimCache, store: Store, txn: lmdb.Transaction, tenant: str, docno: int, seen: int
) -> None:
    """Compute and offer to the cache whichever of the claim's features and answer it lacks, reading the
    claim, its evidence and its edges once for both (the indexer warms both for every changed claim, and
    reading them twice was a fifth of a node's GIL time under ingest)."""
    lacks = [kind for kind in ("features", "answer") if cache.get(kind, docno) is None]
    owner = store.claim_of_docno(txn, docno) if lacks else None
    claim = store.get_claim(txn, *owner) if owner is not None and owner[0] == tenant else None
    if claim is None:
        return  # nothing lacking, or the claim is gone
    around = Around.read(store, txn, claim)
    if "features" in lacks:
        features, deps = compute(store, txn, claim, around)
        cache.put("features", docno, owner, features, deps, seen)
    if "answer" in lacks:
        raw, deps = _answer(store, txn, around)
        cache.put("answer", docno, owner, raw, deps, seen)


def _answer(store: Store, txn: lmdb.Transaction, around: Around) -> tuple[bytes, set[str]]:
    """``answer_of``'s value, and the claim ids it was read from."""
    tenant, cid = around.claim.tenant_id, around.claim.claim_id
    r = dash_pb2.RetrievedClaim(claim=around.claim)
    r.claim.ClearField("embedding")
    deps = {cid}
    for ev in around.evidence:
        cit = _citation(ev)
        if ev.stance == types_pb2.STANCE_CONTRADICTS:
            r.contradicting_citations.append(cit)
        else:
            r.citations.append(cit)
    related = [(e, e.from_claim_id) for e in around.edges_in]
    related += [(e, e.to_claim_id) for e in around.edges_out]
    for edge, other_id in related:
        if edge.relation not in (_CONTRA, _SUPPORT):
            continue
        deps.add(other_id)
        other = store.get_claim(txn, tenant, other_id)
        rc = dash_pb2.RelatedClaim(
            claim_id=other_id,
            text=other.text if other else "",
            relation=edge.relation,
            strength=edge.strength,
            reason_codes=list(edge.reason_codes),
            origin=edge.origin,
            citations=[_citation(ev) for ev in store.evidence_of(txn, tenant, other_id)],
        )
        (r.contradicting if edge.relation == _CONTRA else r.supporting).append(rc)
    return r.SerializeToString(), deps


def _citation(ev: types_pb2.Evidence) -> types_pb2.Citation:
    return types_pb2.Citation(
        evidence_id=ev.evidence_id,
        source_id=ev.source_id,
        doc_id=ev.doc_id,
        chunk_id=ev.chunk_id,
        span_start=ev.span_start,
        span_end=ev.span_end,
        quote=ev.quote,
        stance=ev.stance,
        source_quality=quality(ev),
    )


def _ts(msg, name: str) -> int | None:
    return ts_key(getattr(msg, name)) if msg.HasField(name) else None


class ClaimCache:
    """Values derived from a claim and its neighbours, by kind ("features", "answer") and docno; all of a
    claim's values are dropped when a write touches the claim or anything one of them was computed from.
    """

    def __init__(self, kinds: tuple[str, ...], max_entries: int = 1_000_000) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._values: dict[str, dict[int, Any]] = {kind: {} for kind in kinds}
        self._table = FeatureTable()  # the "features" values again, as columns
        self._docno_of: dict[ClaimKey, int] = {}
        self._dependents: dict[ClaimKey, set[ClaimKey]] = {}
        self._generation = 0
        # The generation of each claim's latest change, for the most recent changes only; anything older
        # than what is remembered happened at or before ``_forgotten``.
        self._changed: dict[ClaimKey, int] = {}
        self._forgotten = 0

    @property
    def generation(self) -> int:
        """Read before opening the snapshot a computation will use; pass it to ``put``."""
        return self._generation

    def __len__(self) -> int:
        return len(self._docno_of)

    def get(self, kind: str, docno: int) -> Any | None:
        return self._values[kind].get(docno)

    def gather_features(self, docnos: np.ndarray) -> tuple[FeatureColumns, np.ndarray]:
        """The cached features of ``docnos`` as columns, and which of them were cached."""
        with self._lock:
            return self._table.gather(docnos)

    def put(self, kind: str, docno: int, claim: ClaimKey, value: Any, deps: Iterable[str], seen: int) -> None:
        """Keep ``value`` unless the claim or a dependency changed after generation ``seen``."""
        tenant = claim[0]
        keys = [(tenant, d) for d in deps]
        with self._lock:
            if seen < self._forgotten or any(self._changed.get(k, 0) > seen for k in keys):
                return  # computed from a snapshot older than a committed write: use it once, keep nothing
            full = len(self._docno_of) >= self.max_entries or len(self._dependents) >= 2 * self.max_entries
            if full and claim not in self._docno_of:  # (a claim's other kind of value takes no room)
                self._clear()
            self._values[kind][docno] = value
            if kind == "features":
                self._table.set(docno, value)
            self._docno_of[claim] = docno
            for k in keys:
                self._dependents.setdefault(k, set()).add(claim)

    def invalidate(self, claims: Iterable[ClaimKey]) -> None:
        """Called after a write commits, before it is acknowledged."""
        with self._lock:
            self._generation += 1
            for k in claims:
                self._changed.pop(k, None)  # re-inserted last: the dict stays ordered by change
                self._changed[k] = self._generation
                self._drop(k)
                for dependent in self._dependents.pop(k, ()):
                    self._drop(dependent)
            while len(self._changed) > self.max_entries:
                oldest = next(iter(self._changed))
                self._forgotten = max(self._forgotten, self._changed.pop(oldest))

    def clear(self) -> None:
        """Forget everything (the indexes were rebuilt from the state)."""
        with self._lock:
            self._generation += 1
            self._forgotten = self._generation
            self._changed.clear()
            self._clear()

    def _clear(self) -> None:
        for values in self._values.values():
            values.clear()
        self._table.clear()
        self._docno_of.clear()
        self._dependents.clear()

    def _drop(self, k: ClaimKey) -> None:
        docno = self._docno_of.pop(k, None)
        if docno is not None:
            for values in self._values.values():
                values.pop(docno, None)
            self._table.unset(docno)


def successor_end(f: Features, known: int, include_history: bool) -> float | None:
    """Where the successors the store knew of by ``known`` end this claim's validity (``inf``: none
    does); None when a successor without a validity supersedes it outright and history was not asked."""
    hi = math.inf
    for recorded_at, valid_from in f.successors:
        if recorded_at is not None and recorded_at > known:
            continue
        if valid_from is not None:
            hi = min(hi, valid_from)
        elif not include_history:
            return None
    return hi
