"""`dash trace show` on hand-made span files, and the JSONL exporter that writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dash_client import trace_view
from dash_client.tracing import JsonlSpanExporter, setup_tracing

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def span(
    trace: str,
    sid: str,
    parent: str | None,
    name: str,
    service: str,
    start_ms: float,
    end_ms: float,
    **attributes,
) -> dict:
    return {
        "trace_id": trace,
        "span_id": sid,
        "parent_span_id": parent,
        "name": name,
        "service": service,
        "kind": "INTERNAL",
        "start_unix_nano": T0 + int(start_ms * MS),
        "end_unix_nano": T0 + int(end_ms * MS),
        "duration_ms": end_ms - start_ms,
        "attributes": attributes,
        "status": "UNSET",
    }


A = "a" * 32
B = "b" * 32


@pytest.fixture
def span_file(tmp_path: Path) -> Path:
    spans = [
        # trace A: 10 ms, written out of order as several processes would
        span(
            A,
            "0000000000000003",
            "0000000000000002",
            "/dash.v1.Node/Retrieve",
            "dash-node",
            2,
            8,
            **{"dash.node_id": "n1", "dash.shard_id": "s0"},
        ),
        span(A, "0000000000000001", None, "/dash.v1.Dash/Retrieve", "dash-client", 0, 10),
        span(
            A,
            "0000000000000002",
            "0000000000000001",
            "/dash.v1.Dash/Retrieve",
            "dash-router",
            1,
            9,
            **{"dash.fanout_width": 1, "dash.shards_answered": 1},
        ),
        span(
            A,
            "0000000000000004",
            "0000000000000003",
            "planner.prefilter",
            "dash-node",
            3,
            4,
            **{"dash.candidates": -1},
        ),
        span(
            A,
            "0000000000000005",
            "0000000000000003",
            "planner.bm25",
            "dash-node",
            4,
            7,
            **{"dash.candidates": 12},
        ),
        # trace B: later and longer, and one span whose parent never made it to the file
        span(B, "0000000000000011", None, "/dash.v1.Dash/IngestBatch", "dash-client", 100, 150),
        span(
            B,
            "0000000000000012",
            "00000000000000ff",
            "engine.write",
            "dash-node",
            110,
            140,
            **{"dash.wal_group_size": 3},
        ),
    ]
    path = tmp_path / "spans.jsonl"
    lines = [json.dumps(s) for s in spans]
    lines.insert(2, "not json at all")
    path.write_text("\n".join(lines) + '\n{"trace_id": "cut off')
    return path


def test_renders_the_tree_indented_with_bars_and_attributes(span_file: Path, capsys) -> None:
    assert trace_view.main([str(span_file), "--trace-id", "aaaa"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"trace {A}  5 spans  10.00 ms")
    rows = out[2:]
    names = [r.split("|")[0] for r in rows]
    assert "dash-client    /dash.v1.Dash/Retrieve" in names[0]
    assert "dash-router      /dash.v1.Dash/Retrieve" in names[1]
    assert "dash-node          /dash.v1.Node/Retrieve" in names[2]
    assert "planner.prefilter" in names[3] and "planner.bm25" in names[4]
    assert "node=n1" in rows[2] and "shard=s0" in rows[2]
    assert "fanout=1" in rows[1]
    assert "candidates=all" in rows[3] and "candidates=12" in rows[4]
    # bars are placed on the trace's time line: the root spans it all, bm25 sits at 40%..70%
    assert "|" + "#" * 40 + "|" in rows[0]
    bar = rows[4].split("|")[1]
    assert bar.index("#") == 16 and bar.count("#") == 12


def test_default_is_the_most_recent_trace_and_orphans_are_marked(span_file: Path, capsys) -> None:
    assert trace_view.main([str(span_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"trace {B}")
    assert "engine.write (parent not in file)" in out and "wal_group=3" in out


def test_slowest_and_list(span_file: Path, capsys) -> None:
    assert trace_view.main([str(span_file), "--slowest"]) == 0
    assert capsys.readouterr().out.startswith(f"trace {B}  2 spans  50.00 ms")
    assert trace_view.main([str(span_file), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith(A) and "5  dash-client: /dash.v1.Dash/Retrieve" in lines[1]
    assert lines[2].startswith(B) and "50.00" in lines[2]


def test_unknown_trace_and_missing_file(span_file: Path, tmp_path: Path, capsys) -> None:
    assert trace_view.main([str(span_file), "--trace-id", "ffff"]) == 1
    assert "no trace" in capsys.readouterr().err
    assert trace_view.main([str(tmp_path / "nope.jsonl")]) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert trace_view.main([str(empty)]) == 1


def test_tracing_is_off_without_configuration(monkeypatch) -> None:
    for var in ("DASH_TRACE_FILE", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(var, raising=False)
    assert setup_tracing("x", set_global=False) is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    assert setup_tracing("x", set_global=False) is None


def test_file_exporter_writes_spans_the_viewer_reads(tmp_path: Path, monkeypatch, capsys) -> None:
    path = tmp_path / "sub" / "spans.jsonl"
    monkeypatch.setenv("DASH_TRACE_FILE", str(path))
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")  # the file does not depend on the OTel exporters
    provider = setup_tracing("unit", {"dash.node_id": "n9"}, set_global=False)
    assert provider is not None
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("outer") as outer, tracer.start_as_current_span("inner") as inner:
        inner.set_attribute("dash.shard_id", "s7")
    provider.shutdown()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    by_name = {r["name"]: r for r in records}
    assert by_name["inner"]["parent_span_id"] == format(outer.get_span_context().span_id, "016x")
    assert by_name["inner"]["trace_id"] == by_name["outer"]["trace_id"]
    assert by_name["inner"]["service"] == "unit"
    assert by_name["inner"]["attributes"] == {"dash.shard_id": "s7"}
    assert by_name["outer"]["end_unix_nano"] >= by_name["inner"]["end_unix_nano"]
    assert trace_view.main([str(path)]) == 0
    assert "inner" in capsys.readouterr().out


def test_exporter_appends_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_text('{"existing": true}\n')
    exporter = JsonlSpanExporter(path)
    exporter.shutdown()
    assert path.read_text() == '{"existing": true}\n'  # opened for append, nothing truncated
