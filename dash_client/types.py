"""Typed inputs and results of the DASH SDK, and their conversion to and from the wire messages.

Inputs (``ClaimIn``, ``EvidenceIn``, ``EdgeIn``) mirror the README's JSONL claim format key for key and are
converted through ``dash_client.formats.claim_from_json``, so the SDK and ``dash ingest`` share one
implementation of that format. Results are frozen dataclasses; enums are the lowercase strings of the
format (``"supports"``, ``"contradicts"``, ``"supersedes"``, ``"client"``, ...), times are aware UTC
``datetime`` objects, or ``None`` when unset (an open end).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_client.errors import InvalidArgument
from dash_client.formats import (
    _ORIGIN_NAMES,
    _RELATION_NAMES,
    _STANCE_NAMES,
    _STANCES,
    FormatError,
    claim_from_json,
    parse_time,
    retrieve_json,
)

TimeLike = datetime | str
"""An aware ``datetime`` (naive means UTC) or an RFC 3339 string (a bare date means midnight UTC)."""

_ACK_NAMES = {1: "leader", 2: "replicated"}


def to_timestamp(name: str, value: TimeLike) -> timestamp_pb2.Timestamp:
    """A ``datetime`` or RFC 3339 string as a protobuf Timestamp; ``InvalidArgument`` names ``name``."""
    if isinstance(value, datetime):
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
        return ts
    if isinstance(value, str):
        try:
            return parse_time(name, value)
        except FormatError as exc:
            raise InvalidArgument(str(exc)) from exc
    raise InvalidArgument(f"{name}: expected a datetime or an RFC 3339 string, got {type(value).__name__}")


def _time_json(value: datetime) -> str:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


# ---- inputs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceIn:
    """A span of a source that bears on a claim (the JSONL ``evidence`` object).

    ``span_start``/``span_end`` are half-open offsets in Unicode code points and must cover exactly
    ``quote``. ``claim_id`` may stay empty inside a ``ClaimIn``; ``upsert_evidence`` requires it.
    """

    evidence_id: str
    quote: str = ""
    span_start: int = 0
    span_end: int = 0
    doc_id: str = ""
    source_id: str = ""
    chunk_id: str = ""
    stance: str = "supports"
    source_quality: float | None = None
    claim_id: str = ""

    def to_json(self) -> dict:
        """The JSONL ``evidence`` object (plus ``claim_id`` when set)."""
        return {k: v for k, v in vars(self).items() if v is not None and (v or k != "claim_id")}

    def to_pb(self, name: str = "evidence") -> types_pb2.Evidence:
        """The wire message; ``InvalidArgument`` (naming ``name``) for an unknown stance."""
        stance = (self.stance or "supports").lower()
        if stance not in _STANCES:
            raise InvalidArgument(f"{name}.stance: one of {sorted(_STANCES)}")
        try:
            return types_pb2.Evidence(**{**self.to_json(), "stance": _STANCES[stance]})
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"{name}: {exc}") from exc


@dataclass(frozen=True)
class EdgeIn:
    """A typed edge from the enclosing claim to ``to_claim_id`` (the JSONL ``edges`` object).

    ``relation`` is one of supports, contradicts, refines, duplicates, depends_on, supersedes.
    """

    to_claim_id: str
    relation: str
    strength: float = 1.0

    def to_json(self) -> dict:
        """The JSONL ``edges`` object."""
        return dict(vars(self))


@dataclass(frozen=True)
class ClaimIn:
    """One claim with its evidence and outgoing edges: a line of the README's JSONL claim format."""

    claim_id: str
    text: str
    subject: str = ""
    predicate: str = ""
    object: str = ""
    claim_type: str = ""
    entities: Sequence[str] = ()
    valid_from: TimeLike | None = None
    valid_to: TimeLike | None = None
    event_time: TimeLike | None = None
    confidence: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    embedding: Sequence[float] | None = None
    evidence: Sequence[EvidenceIn | dict] = ()
    edges: Sequence[EdgeIn | dict] = ()

    def to_json(self) -> dict:
        """The JSONL record (times as RFC 3339 strings)."""
        out = {k: v for k, v in vars(self).items() if v is not None}
        for name in ("valid_from", "valid_to", "event_time"):
            if isinstance(out.get(name), datetime):
                out[name] = _time_json(out[name])
        out.update(entities=list(self.entities), labels=dict(self.labels))
        if self.embedding is not None:
            out["embedding"] = [float(x) for x in self.embedding]
        out["evidence"] = [e.to_json() if isinstance(e, EvidenceIn) else e for e in self.evidence]
        out["edges"] = [e.to_json() if isinstance(e, EdgeIn) else e for e in self.edges]
        return out


def claim_input(claim: ClaimIn | dict | types_pb2.ClaimInput, name: str = "item") -> types_pb2.ClaimInput:
    """A ``ClaimIn``, a JSONL-format dict or a ready ``ClaimInput`` as the wire message.

    Raises ``InvalidArgument`` naming the key (``items[2].evidence[0].stance: ...``).
    """
    if isinstance(claim, types_pb2.ClaimInput):
        return claim
    if isinstance(claim, ClaimIn):
        claim = claim.to_json()
    try:
        return claim_from_json(claim, name)
    except FormatError as exc:
        raise InvalidArgument(str(exc)) from exc


def evidence_input(ev: EvidenceIn | dict | types_pb2.Evidence, name: str) -> types_pb2.Evidence:
    """An ``EvidenceIn``, a dict of its fields or a ready ``Evidence`` as the wire message."""
    if isinstance(ev, types_pb2.Evidence):
        return ev
    if isinstance(ev, dict):
        try:
            ev = EvidenceIn(**ev)
        except TypeError as exc:
            raise InvalidArgument(f"{name}: {exc}") from exc
    return ev.to_pb(name)


# ---- results ----------------------------------------------------------------------------------------

_ENUM_NAMES = {
    "stance": _STANCE_NAMES,
    "dominant_stance": _STANCE_NAMES,
    "relation": _RELATION_NAMES,
    "origin": _ORIGIN_NAMES,
}


def _from_pb(cls: type, msg: Any, **given: Any) -> Any:
    """Build result dataclass ``cls`` from ``msg``, field by field of the same name: Timestamps become
    ``datetime`` (or ``None``), unset optional scalars ``None``, enums their lowercase names, repeated
    fields lists and maps dicts. ``given`` supplies fields that need more (nested messages)."""
    fields = msg.DESCRIPTOR.fields_by_name
    kw = dict(given)
    for name in cls.__dataclass_fields__:
        if name in kw or name not in fields:
            continue
        fd = fields[name]
        if fd.has_presence and not msg.HasField(name):
            kw[name] = None
        elif fd.message_type is not None and fd.message_type.full_name == "google.protobuf.Timestamp":
            kw[name] = getattr(msg, name).ToDatetime(tzinfo=UTC)
        elif name in _ENUM_NAMES:
            kw[name] = _ENUM_NAMES[name].get(getattr(msg, name), "unspecified")
        else:
            value = getattr(msg, name)
            kw[name] = dict(value) if isinstance(value, Mapping) else list(value) if fd.is_repeated else value
    return cls(**kw)


@dataclass(frozen=True)
class Position:
    """Where a write landed on one shard: its LSN, the placement epoch, the node that accepted it."""

    shard_id: str
    lsn: int
    epoch: int = 0
    node_id: str = ""


@dataclass(frozen=True)
class WriteResult:
    """Where a write landed; ``(shard_id, generation, lsn)`` is a read-your-writes token.

    ``replayed`` is true when a batch with this ``commit_id`` had already been applied and this is its
    first answer replayed (nothing was written twice). ``ack`` is ``"leader"`` or ``"replicated"``.
    ``detected`` is true when the edge builder had judged the written claims at the time of the answer.
    ``positions`` (one per shard written) are the read-your-writes token: pass the result as ``after=`` to
    a read.
    """

    claim_ids: list[str]
    lsn: int
    generation: int
    shard_id: str
    epoch: int
    replayed: bool
    commit_id: str
    ack: str
    evidence_count: int = 0
    edge_count: int = 0
    detected: bool = False
    positions: list[Position] = field(default_factory=list)

    @classmethod
    def from_pb(cls, m: dash_pb2.WriteResponse) -> WriteResult:
        """From the wire message."""
        positions = [Position(p.shard_id, p.lsn, p.epoch, p.node_id) for p in m.positions]
        return _from_pb(cls, m, ack=_ACK_NAMES.get(m.ack_met, "unspecified"), positions=positions)


@dataclass(frozen=True)
class Citation:
    """A machine-readable pointer into a source: ``source_text[span_start:span_end] == quote``."""

    evidence_id: str
    source_id: str
    doc_id: str
    chunk_id: str
    span_start: int
    span_end: int
    quote: str
    stance: str
    source_quality: float


def _cites(items: Any) -> list[Citation]:
    return [_from_pb(Citation, c) for c in items]


@dataclass(frozen=True)
class RelatedClaim:
    """A claim related to a result through an edge (``relation``, ``strength``, who made it)."""

    claim_id: str
    text: str
    relation: str
    strength: float
    reason_codes: list[str]
    origin: str
    citations: list[Citation]

    @classmethod
    def from_pb(cls, m: dash_pb2.RelatedClaim) -> RelatedClaim:
        """From the wire message."""
        return _from_pb(cls, m, citations=_cites(m.citations))


@dataclass(frozen=True)
class ScoreBreakdown:
    """The weighted components of a score; ``total`` is their sum with ``contradiction_risk`` subtracted."""

    total: float
    semantic: float
    lexical: float
    support: float
    contradiction_risk: float
    temporal: float
    source_quality: float
    confidence: float
    fusion: float


@dataclass(frozen=True)
class RetrievedClaim:
    """One ranked answer: the claim, why it ranks here, its citations and the claims around it.

    ``citations`` support the claim; ``contradicting_citations`` contradict it; ``contradicting`` and
    ``supporting`` are claims related through edges. ``confidence`` is ``None`` when the claim left it unset
    (meaning 1.0); ``valid_to`` is ``None`` for an open end.
    """

    claim_id: str
    text: str
    subject: str
    predicate: str
    object: str
    claim_type: str
    entities: list[str]
    labels: dict[str, str]
    confidence: float | None
    valid_from: datetime | None
    valid_to: datetime | None
    event_time: datetime | None
    recorded_at: datetime | None
    score: float
    breakdown: ScoreBreakdown
    citations: list[Citation]
    contradicting_citations: list[Citation]
    contradicting: list[RelatedClaim]
    supporting: list[RelatedClaim]
    contradiction_risk: float
    dominant_stance: str
    shard_id: str
    from_expansion: bool

    @classmethod
    def from_pb(cls, m: dash_pb2.RetrievedClaim) -> RetrievedClaim:
        """From the wire message."""
        claim_fields = {
            k: v for k, v in vars(Claim.from_pb(m.claim)).items() if k in cls.__dataclass_fields__
        }
        return _from_pb(
            cls,
            m,
            **claim_fields,
            breakdown=_from_pb(ScoreBreakdown, m.breakdown),
            citations=_cites(m.citations),
            contradicting_citations=_cites(m.contradicting_citations),
            contradicting=[RelatedClaim.from_pb(x) for x in m.contradicting],
            supporting=[RelatedClaim.from_pb(x) for x in m.supporting],
        )


@dataclass(frozen=True)
class StageTrace:
    """One retrieval stage of an ``explain`` answer: candidates it produced and its time."""

    stage: str
    candidates: int
    millis: float
    shard_id: str


@dataclass(frozen=True)
class RetrieveResult:
    """A ranked answer. ``shards_missing`` lists shards that did not answer (a partial answer)."""

    results: list[RetrievedClaim]
    explain: list[StageTrace]
    shards_answered: list[str]
    shards_missing: list[str]
    dropped_by_stance: int
    served_at: datetime | None = None
    raw: dash_pb2.RetrieveResponse | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_pb(cls, m: dash_pb2.RetrieveResponse) -> RetrieveResult:
        """From the wire message (kept in ``raw``)."""
        return _from_pb(
            cls,
            m,
            results=[RetrievedClaim.from_pb(r) for r in m.results],
            explain=[_from_pb(StageTrace, s) for s in m.explain],
            raw=m,
        )

    def to_json(self) -> dict:
        """The documented ``dash retrieve --json`` shape (see the README)."""
        if self.raw is None:
            raise ValueError("to_json needs the wire answer this result was built from")
        return retrieve_json(self.raw)


@dataclass(frozen=True)
class Claim:
    """A stored claim. ``recorded_at`` is when the store learned it (transaction time); ``confidence`` is
    ``None`` when unset (meaning 1.0)."""

    claim_id: str
    tenant_id: str
    text: str
    subject: str
    predicate: str
    object: str
    claim_type: str
    entities: list[str]
    labels: dict[str, str]
    confidence: float | None
    valid_from: datetime | None
    valid_to: datetime | None
    event_time: datetime | None
    recorded_at: datetime | None
    superseded_at: datetime | None
    embedding: list[float]

    @classmethod
    def from_pb(cls, c: types_pb2.Claim) -> Claim:
        """From the wire message (``embedding`` unpacked from little-endian float32)."""
        n = len(c.embedding) // 4
        return _from_pb(cls, c, embedding=list(struct.unpack(f"<{n}f", c.embedding[: 4 * n])))


@dataclass(frozen=True)
class Evidence:
    """A stored evidence row. ``source_quality`` is ``None`` when unset (meaning 0.5)."""

    evidence_id: str
    claim_id: str
    source_id: str
    doc_id: str
    chunk_id: str
    span_start: int
    span_end: int
    quote: str
    stance: str
    source_quality: float | None
    extractor: str
    observed_at: datetime | None


@dataclass(frozen=True)
class Edge:
    """A stored edge; ``origin`` is ``"client"`` or ``"detector"`` (DASH's own edge builder). A detector
    edge cites the evidence each side stood on (``from_evidence_ids``, ``to_evidence_ids``)."""

    from_claim_id: str
    to_claim_id: str
    relation: str
    strength: float
    reason_codes: list[str]
    origin: str
    from_evidence_ids: list[str] = field(default_factory=list)
    to_evidence_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClaimRecord:
    """One claim with all its evidence, its outgoing edges and the edges pointing at it."""

    claim: Claim
    evidence: list[Evidence]
    edges_out: list[Edge]
    edges_in: list[Edge]

    @classmethod
    def from_pb(cls, m: dash_pb2.GetClaimResponse) -> ClaimRecord:
        """From the wire message."""
        return cls(
            claim=Claim.from_pb(m.claim),
            evidence=[_from_pb(Evidence, e) for e in m.evidence],
            edges_out=[_from_pb(Edge, e) for e in m.edges_out],
            edges_in=[_from_pb(Edge, e) for e in m.edges_in],
        )
