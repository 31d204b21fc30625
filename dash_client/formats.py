"""The JSON shapes people see: the JSONL claim format of ``dash ingest`` and the ``--json`` answers.

Both directions live here so the README's documented format has one implementation.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from dash_client._pb.dash.v1 import dash_pb2, types_pb2


class FormatError(ValueError):
    """A JSONL line does not follow the documented claim format; the message names the key."""


_STANCES = {"supports": 1, "contradicts": 2, "neutral": 3}
_RELATIONS = {
    "supports": 1,
    "contradicts": 2,
    "refines": 3,
    "duplicates": 4,
    "depends_on": 5,
    "supersedes": 6,
}
_STANCE_NAMES = {v: k for k, v in _STANCES.items()}
_RELATION_NAMES = {v: k for k, v in _RELATIONS.items()}
_ORIGIN_NAMES = {1: "client", 2: "detector"}


def parse_time(field: str, value: str) -> timestamp_pb2.Timestamp:
    """RFC 3339 (a bare date means midnight UTC)."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{field}: not an RFC 3339 time: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt)
    return ts


def format_time(ts: timestamp_pb2.Timestamp) -> str:
    return ts.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def pack_vector(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def _get(obj: dict, key: str, kind: type | tuple, field: str) -> Any:
    value = obj.get(key)
    if value is not None and not isinstance(value, kind):
        raise FormatError(f"{field}.{key}: expected {getattr(kind, '__name__', kind)}")
    return value


def claim_from_json(obj: dict, line: str = "claim") -> types_pb2.ClaimInput:
    """One JSONL record -> a ClaimInput (the format is documented in the README)."""
    if not isinstance(obj, dict):
        raise FormatError(f"{line}: expected a JSON object")
    claim = types_pb2.Claim(
        claim_id=_get(obj, "claim_id", str, line) or "",
        text=_get(obj, "text", str, line) or "",
        subject=_get(obj, "subject", str, line) or "",
        predicate=_get(obj, "predicate", str, line) or "",
        object=_get(obj, "object", str, line) or "",
        claim_type=_get(obj, "claim_type", str, line) or "",
        entities=_get(obj, "entities", list, line) or [],
    )
    conf = _get(obj, "confidence", (int, float), line)
    if conf is not None:
        claim.confidence = float(conf)
    for name in ("valid_from", "valid_to", "event_time"):
        value = _get(obj, name, str, line)
        if value:
            getattr(claim, name).CopyFrom(parse_time(f"{line}.{name}", value))
    labels = _get(obj, "labels", dict, line) or {}
    claim.labels.update({str(k): str(v) for k, v in labels.items()})
    emb = _get(obj, "embedding", list, line)
    if emb:
        if not all(isinstance(x, (int, float)) for x in emb):
            raise FormatError(f"{line}.embedding: expected a list of numbers")
        claim.embedding = pack_vector([float(x) for x in emb])
    item = types_pb2.ClaimInput(claim=claim)
    for i, ev in enumerate(_get(obj, "evidence", list, line) or []):
        f = f"{line}.evidence[{i}]"
        if not isinstance(ev, dict):
            raise FormatError(f"{f}: expected an object")
        stance = (_get(ev, "stance", str, f) or "supports").lower()
        if stance not in _STANCES:
            raise FormatError(f"{f}.stance: one of {sorted(_STANCES)}")
        row = types_pb2.Evidence(
            evidence_id=_get(ev, "evidence_id", str, f) or "",
            source_id=_get(ev, "source_id", str, f) or "",
            doc_id=_get(ev, "doc_id", str, f) or "",
            chunk_id=_get(ev, "chunk_id", str, f) or "",
            span_start=_get(ev, "span_start", int, f) or 0,
            span_end=_get(ev, "span_end", int, f) or 0,
            quote=_get(ev, "quote", str, f) or "",
            stance=_STANCES[stance],
        )
        sq = _get(ev, "source_quality", (int, float), f)
        if sq is not None:
            row.source_quality = float(sq)
        item.evidence.append(row)
    for i, edge in enumerate(_get(obj, "edges", list, line) or []):
        f = f"{line}.edges[{i}]"
        if not isinstance(edge, dict):
            raise FormatError(f"{f}: expected an object")
        rel = (_get(edge, "relation", str, f) or "").lower()
        if rel not in _RELATIONS:
            raise FormatError(f"{f}.relation: one of {sorted(_RELATIONS)}")
        strength = _get(edge, "strength", (int, float), f)
        item.edges.append(
            types_pb2.Edge(
                to_claim_id=_get(edge, "to_claim_id", str, f) or "",
                relation=_RELATIONS[rel],
                strength=1.0 if strength is None else float(strength),
            )
        )
    return item


def citation_json(c: types_pb2.Citation) -> dict:
    return {
        "evidence_id": c.evidence_id,
        "source_id": c.source_id,
        "doc_id": c.doc_id,
        "chunk_id": c.chunk_id,
        "span_start": c.span_start,
        "span_end": c.span_end,
        "quote": c.quote,
        "stance": _STANCE_NAMES.get(c.stance, "unspecified"),
        "source_quality": round(c.source_quality, 4),
    }


def _finite(x: float) -> float | None:
    return round(x, 6) if math.isfinite(x) else None


def retrieve_json(resp: dash_pb2.RetrieveResponse) -> dict:
    """The documented ``dash retrieve --json`` shape."""
    results = []
    for r in resp.results:
        c = r.claim
        b = r.breakdown
        results.append(
            {
                "claim_id": c.claim_id,
                "text": c.text,
                "score": _finite(r.score),
                "score_breakdown": {
                    k: _finite(getattr(b, k))
                    for k in (
                        "total",
                        "semantic",
                        "lexical",
                        "support",
                        "contradiction_risk",
                        "temporal",
                        "source_quality",
                        "confidence",
                        "fusion",
                    )
                },
                "subject": c.subject,
                "predicate": c.predicate,
                "object": c.object,
                "entities": list(c.entities),
                "labels": dict(c.labels),
                "confidence": _finite(c.confidence) if c.HasField("confidence") else None,
                "valid_from": format_time(c.valid_from) if c.HasField("valid_from") else None,
                "valid_to": format_time(c.valid_to) if c.HasField("valid_to") else None,
                "recorded_at": format_time(c.recorded_at) if c.HasField("recorded_at") else None,
                "citations": [citation_json(x) for x in r.citations],
                "contradicting_citations": [citation_json(x) for x in r.contradicting_citations],
                "contradicting": [_related_json(x) for x in r.contradicting],
                "supporting": [_related_json(x) for x in r.supporting],
                "contradiction_risk": _finite(r.contradiction_risk),
                "dominant_stance": _STANCE_NAMES.get(r.dominant_stance, "unspecified"),
                "shard_id": r.shard_id,
                "from_expansion": r.from_expansion,
            }
        )
    out: dict[str, Any] = {"results": results, "dropped_by_stance": resp.dropped_by_stance}
    if resp.explain:
        out["explain"] = [
            {
                "stage": s.stage,
                "candidates": s.candidates,
                "millis": round(s.millis, 3),
                "shard_id": s.shard_id,
            }
            for s in resp.explain
        ]
    if resp.shards_answered or resp.shards_missing:
        out["shards_answered"] = list(resp.shards_answered)
        out["shards_missing"] = list(resp.shards_missing)
    return out


def _related_json(rc: dash_pb2.RelatedClaim) -> dict:
    return {
        "claim_id": rc.claim_id,
        "text": rc.text,
        "relation": _RELATION_NAMES.get(rc.relation, "unspecified"),
        "strength": _finite(rc.strength),
        "reason_codes": list(rc.reason_codes),
        "origin": _ORIGIN_NAMES.get(rc.origin, "unspecified"),
        "citations": [citation_json(x) for x in rc.citations],
    }


def render_text(out: dict, sources: dict[str, str] | None = None) -> list[str]:
    """The human-readable form of a ``retrieve_json`` answer. With ``sources`` (doc_id -> text), each
    citation is checked against its source and marked ``(exact)``."""
    lines = []
    for i, r in enumerate(out["results"], 1):
        valid = f"valid {r['valid_from'] or '-inf'} .. {r['valid_to'] or 'open'}"
        lines.append(
            f"{i:>2}. {r['text']}  [{r['claim_id']}; score {r['score']:.3f}; {valid}; "
            f"stance {r['dominant_stance']}]"
        )
        for label, cites in (("cites", r["citations"]), ("CONTRADICTED BY", r["contradicting_citations"])):
            for c in cites:
                where = f"{c['doc_id'] or c['source_id']}[{c['span_start']}:{c['span_end']}]"
                exact = ""
                if sources and c["doc_id"] in sources:
                    ok = sources[c["doc_id"]][c["span_start"] : c["span_end"]] == c["quote"]
                    exact = "  (exact)" if ok else "  (MISMATCH)"
                lines.append(
                    f'      {label} {where} "{c["quote"]}" (source quality {c["source_quality"]}){exact}'
                )
        for rc in r["contradicting"]:
            reasons = f" {rc['reason_codes']}" if rc["reason_codes"] else ""
            lines.append(f'      conflicts with {rc["claim_id"]}: "{rc["text"]}"{reasons}')
    return lines or ["no results"]
