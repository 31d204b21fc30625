"""``dash trace show FILE``: a trace from a ``DASH_TRACE_FILE`` JSON-lines file, as a waterfall.

    dash trace show spans.jsonl                 the most recent trace
    dash trace show spans.jsonl --slowest       the longest trace in the file
    dash trace show spans.jsonl --trace-id 4bf9 a trace by id (a unique prefix is enough)
    dash trace show spans.jsonl --list          every trace: start, root span, duration, span count

Each line of the waterfall is one span, indented under its parent, with its service, start offset and
duration in milliseconds, a bar placed on the trace's time line, and its key attributes. Lines that are
not JSON spans (a partly written last line, say) are skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BAR_WIDTH = 40
# Attributes worth showing beside a span, in this order, with their short labels.
KEY_ATTRIBUTES = (
    ("dash.node_id", "node"),
    ("dash.shard_id", "shard"),
    ("dash.candidates", "candidates"),
    ("dash.results", "results"),
    ("dash.fanout_width", "fanout"),
    ("dash.shards_answered", "answered"),
    ("dash.shards_missing", "missing"),
    ("dash.wal_group_size", "wal_group"),
    ("dash.wal_fsync_ms", "fsync_ms"),
    ("dash.lsn", "lsn"),
    ("dash.top_k", "top_k"),
    ("dash.tenant_hash", "tenant#"),
)
_GRPC_CODES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    service: str
    start: int
    end: int
    attributes: dict[str, Any]
    status: str
    status_message: str = ""
    children: list[Span] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) / 1e6


@dataclass
class Trace:
    trace_id: str
    spans: list[Span]

    @property
    def start(self) -> int:
        return min(s.start for s in self.spans)

    @property
    def end(self) -> int:
        return max(s.end for s in self.spans)

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) / 1e6

    def roots(self) -> list[Span]:
        """Spans whose parent is not in the file (the true root first), with children linked."""
        by_id = {s.span_id: s for s in self.spans}
        for s in self.spans:
            s.children = []
        roots = []
        for s in sorted(self.spans, key=lambda s: (s.start, s.end)):
            parent = by_id.get(s.parent_span_id or "")
            if parent is None or parent is s:
                roots.append(s)
            else:
                parent.children.append(s)
        roots.sort(key=lambda s: (s.parent_span_id is not None, s.start))
        return roots


def load(path: Path) -> dict[str, Trace]:
    """Traces by id from a JSONL span file; malformed lines are skipped."""
    traces: dict[str, list[Span]] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                d = json.loads(line)
                span = Span(
                    trace_id=str(d["trace_id"]),
                    span_id=str(d["span_id"]),
                    parent_span_id=d.get("parent_span_id") or None,
                    name=str(d.get("name", "")),
                    service=str(d.get("service", "")),
                    start=int(d["start_unix_nano"]),
                    end=int(d["end_unix_nano"]),
                    attributes=dict(d.get("attributes") or {}),
                    status=str(d.get("status", "UNSET")),
                    status_message=str(d.get("status_message", "")),
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            traces.setdefault(span.trace_id, []).append(span)
    return {tid: Trace(tid, spans) for tid, spans in traces.items()}


def _attrs_text(span: Span) -> str:
    parts = []
    for key, label in KEY_ATTRIBUTES:
        value = span.attributes.get(key)
        if value is None or value == "" or value == []:
            continue
        if key == "dash.candidates" and value == -1:
            value = "all"
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        parts.append(f"{label}={value}")
    code = span.attributes.get("rpc.grpc.status_code")
    if isinstance(code, int) and code != 0:
        parts.append(f"grpc={_GRPC_CODES.get(code, code)}")
    if span.status == "ERROR":
        parts.append(f"ERROR{': ' + span.status_message if span.status_message else ''}")
    return "  ".join(parts)


def _bar(span: Span, t0: int, total: int, width: int = BAR_WIDTH) -> str:
    if total <= 0:
        return "|" + "#" * width + "|"
    left = int((span.start - t0) * width / total)
    left = min(max(left, 0), width - 1)
    length = max(1, round((span.end - span.start) * width / total))
    length = min(length, width - left)
    return "|" + " " * left + "#" * length + " " * (width - left - length) + "|"


def render(tr: Trace, width: int = BAR_WIDTH) -> str:
    """The waterfall of one trace as text."""
    t0, total = tr.start, tr.end - tr.start
    services = sorted({s.service for s in tr.spans if s.service})
    lines = [
        f"trace {tr.trace_id}  {len(tr.spans)} spans  {tr.duration_ms:.2f} ms  "
        f"services: {', '.join(services) or '-'}",
        f"{'start ms':>9} {'dur ms':>9}  {'service':<14} {'span':<48} {'':{width + 2}}  attributes",
    ]

    def walk(span: Span, depth: int, orphan: bool) -> None:
        name = "  " * depth + span.name + (" (parent not in file)" if orphan else "")
        offset = (span.start - t0) / 1e6
        lines.append(
            f"{offset:9.2f} {span.duration_ms:9.2f}  {span.service[:14]:<14} {name:<48} "
            f"{_bar(span, t0, total, width)}  {_attrs_text(span)}".rstrip()
        )
        for child in span.children:
            walk(child, depth + 1, False)

    for root in tr.roots():
        walk(root, 0, root.parent_span_id is not None)
    return "\n".join(lines)


def _root_name(tr: Trace) -> str:
    roots = tr.roots()
    return f"{roots[0].service}: {roots[0].name}" if roots else "-"


def render_list(traces: dict[str, Trace]) -> str:
    lines = [f"{'trace id':<32}  {'started (local)':<23}  {'ms':>9}  {'spans':>5}  root"]
    for tr in sorted(traces.values(), key=lambda t: t.start):
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(tr.start / 1e9))
        started += f".{(tr.start // 1_000_000) % 1000:03d}"
        lines.append(
            f"{tr.trace_id:<32}  {started:<23}  {tr.duration_ms:9.2f}  {len(tr.spans):>5}  {_root_name(tr)}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="dash trace show", description="render a trace from a DASH_TRACE_FILE")
    p.add_argument("file", type=Path, help="JSON-lines span file (what DASH_TRACE_FILE names)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--trace-id", default="", help="the trace to show (a unique prefix is enough)")
    which.add_argument("--slowest", action="store_true", help="show the longest trace in the file")
    which.add_argument("--list", action="store_true", help="list the traces in the file")
    p.add_argument("--width", type=int, default=BAR_WIDTH, help="width of the time bars (default 40)")
    args = p.parse_args(argv)
    try:
        traces = load(args.file)
    except OSError as exc:
        print(f"dash trace show: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if not traces:
        print(f"dash trace show: {args.file}: no spans", file=sys.stderr)
        return 1
    if args.list:
        print(render_list(traces))
        return 0
    if args.trace_id:
        wanted = args.trace_id.lower()
        found = [t for tid, t in traces.items() if tid.startswith(wanted)]
        if len(found) != 1:
            why = "no trace" if not found else f"{len(found)} traces"
            print(f"dash trace show: --trace-id {args.trace_id}: {why} in {args.file}", file=sys.stderr)
            return 1
        tr = found[0]
    elif args.slowest:
        tr = max(traces.values(), key=lambda t: (t.duration_ms, t.start))
    else:
        tr = max(traces.values(), key=lambda t: t.start)
    print(render(tr, max(args.width, 10)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
