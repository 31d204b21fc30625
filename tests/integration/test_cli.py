"""The README's tour through the real `dash` CLI against a real node process, and with `--embedded`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DOC = (
    "The Rhine rises in the Swiss Alps and flows into the North Sea.\n\n"
    "Its length is about 1,230 kilometres. Dr. Ada Byron mapped its delta in 1850!\n"
    "Cologne Cathedral stands beside the river — a Gothic landmark 🏰 finished in 1880."
)
LEN_START = DOC.index("Its length")
LEN_END = DOC.index(" Dr.")


def dash(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "dash_client.cli", *args], capture_output=True, text=True, timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(params=["served", "embedded"])
def target(request, tmp_path: Path) -> list[str]:
    """Where the commands go: a node process, or a data directory each command opens in-process."""
    if request.param == "served":
        return ["--target", request.getfixturevalue("node").address, "--tenant", "geo"]
    return ["--embedded", str(tmp_path / "memory"), "--tenant", "geo"]


def test_ingest_ingest_doc_and_retrieve_json(target: list[str], tmp_path: Path) -> None:
    claims = tmp_path / "claims.jsonl"
    rows = [
        {
            "claim_id": "rhine-length",
            "text": "The Rhine is about 1,230 km long.",
            "subject": "Rhine",
            "entities": ["Rhine"],
            "confidence": 0.9,
            "valid_from": "2000-01-01T00:00:00Z",
            "labels": {"topic": "rivers"},
            "evidence": [
                {
                    "evidence_id": "ev-len",
                    "doc_id": "rhine-doc",
                    "source_id": "atlas",
                    "span_start": LEN_START,
                    "span_end": LEN_END,
                    "quote": DOC[LEN_START:LEN_END],
                    "stance": "supports",
                    "source_quality": 0.8,
                }
            ],
        },
        {
            "claim_id": "rhine-short",
            "text": "The Rhine is only 300 km long.",
            "subject": "Rhine",
            "edges": [{"to_claim_id": "rhine-length", "relation": "contradicts", "strength": 0.9}],
        },
    ]
    claims.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = json.loads(dash("ingest", str(claims), *target, "--quiet").stdout)
    assert out == {"claims": 2, "already_present": 0}
    again = json.loads(dash("ingest", str(claims), *target, "--quiet").stdout)
    assert again == {"claims": 2, "already_present": 2}  # the commit id makes a re-run a no-op

    doc = tmp_path / "rhine.txt"
    doc.write_text(DOC, encoding="utf-8")
    got = json.loads(dash("ingest-doc", str(doc), "--doc-id", "rhine-doc", *target).stdout)
    assert got["claims"] == 4

    res = json.loads(
        dash(
            "retrieve", "--query", "How long is the Rhine?", "--top-k", "5", "--json", "--explain", *target
        ).stdout
    )
    ids = [r["claim_id"] for r in res["results"]]
    assert "rhine-length" in ids
    top = next(r for r in res["results"] if r["claim_id"] == "rhine-length")
    assert top["contradicting"][0]["claim_id"] == "rhine-short"
    assert set(top["score_breakdown"]) >= {"total", "semantic", "lexical", "support", "contradiction_risk"}
    assert [s["stage"] for s in res["explain"]][:3] == ["prefilter", "bm25", "ann"]
    cited = 0
    for r in res["results"]:
        for c in r["citations"]:
            assert DOC[c["span_start"] : c["span_end"]] == c["quote"]  # code-point offsets, emoji included
            cited += 1
    assert cited >= 2

    human = dash("retrieve", "-q", "Cologne Cathedral", *target).stdout
    assert "Cologne Cathedral" in human and "cites rhine-doc[" in human


def test_errors_print_status_name_and_exit_nonzero(node) -> None:
    proc = dash("retrieve", "-q", "x", "--top-k", "5000", "--target", node.address, check=False)
    assert proc.returncode != 0
    assert proc.stderr.startswith("INVALID_ARGUMENT: top_k")
    proc = dash("retrieve", "-q", "x", "--target", "127.0.0.1:1", "--timeout", "2", check=False)
    assert proc.returncode != 0 and proc.stderr.startswith(("UNAVAILABLE", "DEADLINE_EXCEEDED"))


def test_embedded_and_target_are_exclusive(tmp_path: Path) -> None:
    proc = dash("retrieve", "-q", "x", "--target", "127.0.0.1:1", "--embedded", str(tmp_path), check=False)
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr
