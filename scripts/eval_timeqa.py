"""Temporal retrieval on TimeQA (human-annotated): do the citations of the top results point at the answer?

Corpus: every paragraph of every record of ``dev.human_annotated_{test,train}.json`` is ingested into one
in-process ``Engine`` as a document (``doc_id = tq<record>-p<paragraph>``, label ``record=<record>``); the
engine splits it into sentence claims whose evidence spans are exact code-point offsets into the paragraph,
and reads each sentence's valid time from its text (``dash_node.temporal``, when the extractor has it).

Each question's gold answers are spans ``paras[para][from:end]``; questions whose only answer is empty
(``answer == ""``, 157 of 1,053: unanswerable from the page) are counted and skipped. A retrieved claim
*hits* when one of its citations is in the gold paragraph and its span overlaps ``[from, end)``; a
question scores hit@1 / hit@5 when its top-1 / any of its top-5 results hits (``para@k``: the gold
paragraph is cited at all).

Settings, each over the pooled corpus (all records compete) and per record (label filter ``record``):

* ``(i) dash``        - default ``RankingWeights``, ``include_history=True`` (documents are history).
* ``(ii) dash+as_of`` - the same plus ``as_of`` = an instant inside the question's time qualifier, read by
                        ``dash_node.temporal.extract_validity(question)``: the midpoint of a closed interval,
                        its start if only the start is known, one day before its end if only the end is.
* ``(iii) bm25``      - lexical weight only, ``include_history=True``.

Diagnostics: how many ingested claims carry a validity; for (ii), how often the gold sentence itself
survives the time filter at the chosen instant ("gold reachable").

Run::

    .venv/bin/python scripts/eval_timeqa.py /work/shared/datasets/timeqa

writes ``docs/benchmarks/eval_timeqa.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path

from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from dash_client._pb.dash.v1 import dash_pb2, types_pb2  # noqa: E402
from dash_node.engine import Engine, EngineConfig  # noqa: E402
from dash_node.errors import InvalidArgument  # noqa: E402
from dash_node.extract import ExtractedClaim  # noqa: E402
from dash_node.scoring import RankingWeights  # noqa: E402
from dash_node.validation import ts_key  # noqa: E402
from dash_node.wal import WalConfig  # noqa: E402
from scripts.evalkit import code_state  # noqa: E402

try:
    from dash_node.temporal import extract_validity
except ImportError:  # the temporal module is not there yet
    extract_validity = None

TENANT = "timeqa"
FILES = ("dev.human_annotated_test.json", "dev.human_annotated_train.json")
_ZERO = dict(
    semantic=0.0, lexical=0.0, support=0.0, contradiction_risk=0.0, temporal=0.0, source_quality=0.0,
    confidence=0.0, fusion=0.0,
)  # fmt: skip
BM25 = replace(RankingWeights(), **{**_ZERO, "lexical": 1.0})
DASH = RankingWeights()


def doc_id(record: int, para: int) -> str:
    return f"tq{record}-p{para}"


def load(dataset_dir: Path) -> list[dict]:
    records = []
    for name in FILES:
        for rec in json.loads((dataset_dir / name).read_text()):
            rec["file"] = name
            records.append(rec)
    return records


def questions_of(records: list[dict]) -> list[dict]:
    out = []
    for r, rec in enumerate(records):
        for text, answers in rec["questions"]:
            for a in answers:
                assert rec["paras"][a["para"]][a["from"] : a["end"]] == a["answer"], (r, text)
            gold = [a for a in answers if a["answer"]]  # an empty answer marks an unanswerable question
            out.append({"record": r, "question": text, "answers": gold, "type": rec["type"]})
    return out


def question_instant(question: str):
    """(instant inside the question's time qualifier, the qualifier's rule, its (start, end)) or Nones."""
    if extract_validity is None:
        return None, None, None
    v = extract_validity(question)
    if v is None or (v.start is None and v.end is None):
        return None, None, None
    if v.start is not None and v.end is not None:
        at = v.start + (v.end - v.start) / 2
    elif v.start is not None:
        at = v.start
    else:
        at = v.end - timedelta(days=1)
    return at.astimezone(UTC).replace(microsecond=0), v.rule, (v.start, v.end)


def ingest(engine: Engine, records: list[dict], workers: int = 3) -> dict:
    jobs = [(r, p, text) for r, rec in enumerate(records) for p, text in enumerate(rec["paras"])]

    def one(job) -> str:
        r, p, text = job
        doc = types_pb2.Document(
            doc_id=doc_id(r, p), source_id=records[r]["link"], text=text, title=records[r]["paras"][0],
            labels={"record": str(r)},
        )  # fmt: skip
        try:
            engine.ingest_document(TENANT, doc)
            return "ok"
        except InvalidArgument:
            return "no sentence"

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        status = Counter(tqdm(pool.map(one, jobs), total=len(jobs), desc="ingest", file=sys.stderr))
    engine.settle()  # the detector's edges are part of what is measured
    seconds = time.perf_counter() - t0
    claims = timed = events = 0
    with engine.store.read() as txn:
        for c in engine.store.iter_claims(txn, TENANT):
            claims += 1
            if c.HasField("valid_from") or c.HasField("valid_to"):
                timed += 1
            elif c.HasField("event_time"):
                events += 1
    return {
        "documents": len(jobs), "status": dict(status), "claims": claims, "claims_with_validity": timed,
        "claims_with_event_time_only": events,
        "seconds": round(seconds, 1),
    }  # fmt: skip


def sentence_validity(engine: Engine) -> dict[str, list[tuple]]:
    """doc_id -> [(span_start, span_end, valid lo, valid hi, rule, expression, text)] of its claims."""
    out: dict[str, list] = {}
    with engine.store.read() as txn:
        for c in engine.store.iter_claims(txn, TENANT):
            lo = ts_key(c.valid_from) if c.HasField("valid_from") else -math.inf
            hi = ts_key(c.valid_to) if c.HasField("valid_to") else math.inf
            src = c.valid_time_source
            rule = (src.rule + (" (inherited)" if src.inherited else "")) if src.rule else ""
            if not (c.HasField("valid_from") or c.HasField("valid_to")):
                rule = f"event_time only: {rule}" if c.HasField("event_time") else "(untimed)"
            for ev in engine.store.evidence_of(txn, TENANT, c.claim_id):
                out.setdefault(ev.doc_id, []).append(
                    (ev.span_start, ev.span_end, lo, hi, rule, src.expression, c.text)
                )
    return out


def hits(resp: dash_pb2.RetrieveResponse, record: int, answers: list[dict], k: int) -> tuple[bool, bool]:
    """(a citation overlaps a gold span, a citation is in a gold paragraph) within the top k."""
    span = para = False
    for r in resp.results[:k]:
        for c in list(r.citations) + list(r.contradicting_citations):
            for a in answers:
                if c.doc_id != doc_id(record, a["para"]):
                    continue
                para = True
                if c.span_start < a["end"] and a["from"] < c.span_end:
                    span = True
    return span, para


def run(engine: Engine, qs: list[dict], scope: str) -> dict:
    settings = {
        "(i) dash": (DASH, ""),
        "(ii) dash+as_of": (DASH, "as_of"),
        "(ii') dash+valid_window": (DASH, "window"),
        "(iii) bm25": (BM25, ""),
    }
    out = {}
    for name, (weights, use_time) in settings.items():
        engine.planner.w = weights
        acc = Counter()
        t0 = time.perf_counter()
        for q in tqdm(qs, desc=f"{scope} {name}", file=sys.stderr):
            req = dash_pb2.RetrieveRequest(
                tenant_id=TENANT, query=q["question"], top_k=5, include_history=True
            )
            if scope == "per-record":
                req.label_filter["record"] = str(q["record"])
            if use_time == "as_of" and q["as_of"] is not None:
                req.as_of.FromDatetime(q["as_of"])
            if use_time == "window" and q["window"] is not None:
                req.valid_window.SetInParent()
                start, end = q["window"]
                if start is not None:
                    req.valid_window.start.FromDatetime(start)
                if end is not None:
                    req.valid_window.end.FromDatetime(end)
            resp = engine.retrieve(req)
            s1, p1 = hits(resp, q["record"], q["answers"], 1)
            s5, p5 = hits(resp, q["record"], q["answers"], 5)
            acc.update({"hit@1": s1, "hit@5": s5, "para@1": p1, "para@5": p5})
        n = len(qs)
        out[name] = {k: acc[k] / n for k in ("hit@1", "hit@5", "para@1", "para@5")}
        out[name]["questions"] = n
        out[name]["ms_per_query"] = 1000 * (time.perf_counter() - t0) / n
    engine.planner.w = DASH
    return out


def reachable(qs: list[dict], validity: dict) -> dict:
    """For questions with a time qualifier: does a sentence claim holding a gold span pass the valid-time
    filter at the question's instant (``as_of``) / overlap its interval (``valid_window``)? Own validity
    only: supersession by later sentences can hide more. Misses are broken down by the rule that dated the
    gold sentence."""
    timed = [q for q in qs if q["as_of"] is not None]
    ok_at = ok_win = gold_timed = 0
    missed: Counter[str] = Counter()
    examples = []
    for q in timed:
        at = ts_key_dt(q["as_of"])
        w_lo = ts_key_dt(q["window"][0]) if q["window"][0] is not None else -math.inf
        w_hi = ts_key_dt(q["window"][1]) if q["window"][1] is not None else math.inf
        rows = [
            row
            for a in q["answers"]
            for row in validity.get(doc_id(q["record"], a["para"]), [])
            if row[0] < a["end"] and a["from"] < row[1]
        ]
        gold_timed += any(r[2] != -math.inf or r[3] != math.inf for r in rows)
        passed = any(r[2] <= at < r[3] for r in rows)
        ok_at += passed
        ok_win += any(r[2] < w_hi and w_lo < r[3] for r in rows)
        if not passed and rows:
            missed[rows[0][4]] += 1
            if len(examples) < 15:
                examples.append(
                    {"question": q["question"], "as_of": q["as_of"].isoformat(), "gold_sentence": rows[0][6],
                     "sentence_rule": rows[0][4], "sentence_expression": rows[0][5]}
                )  # fmt: skip
    n = len(timed)
    return {
        "questions_with_instant": n,
        "gold_sentence_has_validity": gold_timed / n if n else None,
        "gold_reachable_under_as_of": ok_at / n if n else None,
        "gold_reachable_under_valid_window": ok_win / n if n else None,
        "as_of_misses_by_gold_sentence_rule": dict(missed.most_common()),
        "as_of_miss_examples": examples,
    }


def ts_key_dt(dt) -> int:
    from google.protobuf import timestamp_pb2

    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt)
    return ts_key(ts)


def write_report(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    ing = report["ingest"]
    lines = [
        "# TimeQA (human-annotated) temporal retrieval (`scripts/eval_timeqa.py`)",
        "",
        f"Code: commit {report['code']['git_head']}, product code with uncommitted changes: "
        f"{report['code']['product_code_uncommitted_changes']}, run {report['code']['run_at']}.",
        "",
        f"{report['records']} records, {ing['documents']} paragraphs as documents → {ing['claims']} "
        f"sentence claims, {ing['claims_with_validity']} with a validity (valid_from/valid_to) read from "
        f"their text, {ing['claims_with_event_time_only']} more with only an event time.",
        "",
        f"{report['questions']} answerable questions scored ({report['questions_unanswerable']} of "
        f"{report['questions_total']} have an empty gold answer and are skipped); "
        f"{report['questions_with_instant']} with a time qualifier parsed "
        f"(rules: {report['question_rules']}).",
        "",
        f"`ExtractedClaim` has `validity`: {report['extractor_has_validity']}.",
        "",
        "| scope | setting | hit@1 (span) | hit@5 (span) | para@1 | para@5 | ms/query |",
        "|---|---|---|---|---|---|---|",
    ]
    for scope, rows in report["results"].items():
        for name, m in rows.items():
            lines.append(
                f"| {scope} | {name} | {m['hit@1']:.4f} | {m['hit@5']:.4f} | {m['para@1']:.4f} | "
                f"{m['para@5']:.4f} | {m['ms_per_query']:.1f} |"
            )
    r = report["reachability"]
    lines += [
        "",
        f"Gold answer sentence carries a validity: {r['gold_sentence_has_validity']:.4f}; "
        "gold sentence passes the valid-time filter at the question's instant: "
        f"{r['gold_reachable_under_as_of']:.4f} "
        f"({r['questions_with_instant']} questions); overlaps the question's interval (valid_window): "
        f"{r['gold_reachable_under_valid_window']:.4f}.",
        "",
        f"as_of misses by the rule that dated the gold sentence: {r['as_of_misses_by_gold_sentence_rule']}",
    ]
    if report.get("note"):
        lines += ["", report["note"]]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (scope, rows) in zip(axes, report["results"].items(), strict=True):
        names = list(rows)
        for j, m in enumerate(("hit@1", "hit@5", "para@5")):
            ax.bar(
                [i + j * 0.27 for i in range(len(names))], [rows[n][m] for n in names], width=0.27, label=m
            )
        ax.set_xticks([i + 0.27 for i in range(len(names))], names, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"TimeQA, {scope}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset_dir", type=Path, help="the timeqa directory")
    ap.add_argument("--limit-records", type=int, default=0, help="only the first N records (0: all)")
    ap.add_argument("--workers", type=int, default=3, help="concurrent document ingests")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs/benchmarks/eval_timeqa.json")
    args = ap.parse_args(argv)
    records = load(args.dataset_dir)
    if args.limit_records:
        records = records[: args.limit_records]
    all_qs = questions_of(records)
    qs = [q for q in all_qs if q["answers"]]
    rules: Counter[str] = Counter()
    for q in qs:
        q["as_of"], rule, q["window"] = question_instant(q["question"])
        rules[rule or "(none)"] += 1
    has_validity = "validity" in {f.name for f in dataclasses.fields(ExtractedClaim)}
    report: dict = {
        "code": code_state(),
        "dataset": str(args.dataset_dir),
        "records": len(records),
        "questions_total": len(all_qs),
        "questions_unanswerable": len(all_qs) - len(qs),
        "questions": len(qs),
        "questions_with_instant": sum(q["as_of"] is not None for q in qs),
        "question_rules": dict(rules.most_common()),
        "extractor_has_validity": has_validity,
        "temporal_module": extract_validity is not None,
    }
    with tempfile.TemporaryDirectory(prefix="dash-eval-timeqa-") as tmp:
        cfg = EngineConfig(wal=WalConfig(fsync="off", allow_unsafe=True))  # regenerated each run
        with Engine(Path(tmp) / "engine", cfg) as engine:
            report["ingest"] = ingest(engine, records, args.workers)
            report["reachability"] = reachable(qs, sentence_validity(engine))
            report["results"] = {scope: run(engine, qs, scope) for scope in ("pooled", "per-record")}
    if not report["ingest"]["claims_with_validity"]:
        report["note"] = (
            "No ingested claim carries a validity (the engine does not yet copy the extractor's validity "
            "into valid_from/valid_to), so every claim is untimed: an explicit as_of keeps untimed claims "
            "and ranks them all with temporal 0.5, hence (ii) equals (i)."
        )
    write_report(report, args.out)
    for scope, rows in report["results"].items():
        for name, m in rows.items():
            print(
                f"{scope:10s} {name:16s} hit@1 {m['hit@1']:.4f} hit@5 {m['hit@5']:.4f} "
                f"para@5 {m['para@5']:.4f}"
            )
    print(json.dumps({k: report[k] for k in ("ingest", "reachability")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
