"""Measure document valid-time extraction (dash_node.temporal via SentenceExtractor) on TimeQA.

Why TimeQA: each question carries a time qualifier ("from 2004 to 2005") and its answer is a span of a
Wikipedia page whose value changes over time, so an ``as_of`` filter only helps if the answer's sentence gets
an interval that overlaps the question's. We report (1) coverage: how many sentences of answer-bearing
paragraphs get a validity, and (2) agreement: for questions whose qualifier the same module parses, how often
a gold answer sentence's interval overlaps the question's, next to the same rate for the page's other dated
sentences (a filter is only useful if gold overlaps much more often than distractors do).

Usage: scripts/eval_temporal_extraction.py /work/shared/datasets/timeqa [--out docs/benchmarks/...json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dash_node.extract import ExtractedClaim, SentenceExtractor
from dash_node.temporal import Validity, extract_validity

_ROOT = Path(__file__).resolve().parents[1]


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _inh(c: ExtractedClaim) -> bool:
    return c.validity is not None and c.validity.inherited


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def _overlaps(v: Validity | None, q: Validity) -> bool:
    return v is not None and v.overlaps(q.start, q.end)


def evaluate(dataset_dir: Path) -> dict:
    """Run the extractor over every page and score coverage and question/answer interval overlap."""
    extractor = SentenceExtractor()
    cov = Counter()
    qs = Counter()
    q_rules: Counter[str] = Counter()
    gold_rules: Counter[str] = Counter()
    distractor_rates: list[float] = []
    survive_rates: dict[str, list[float]] = {"own_only": [], "with_inherited": []}
    misses: list[dict] = []
    files = []
    for path in sorted(dataset_dir.glob("*.json")):
        records = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(records, list):
            continue  # relations.json is a mapping, not pages
        files.append(path.name)
        for rec in records:
            paras: list[str] = rec["paras"]
            offsets, pos = [], 0
            for p in paras:
                offsets.append(pos)
                pos += len(p) + 2
            doc = "\n\n".join(paras)
            claims = extractor.extract(rec["index"], doc)
            cov["pages"] += 1

            def claims_at(a: int, b: int, claims: list[ExtractedClaim] = claims) -> list[ExtractedClaim]:
                return [c for c in claims if c.span_start < b and a < c.span_end]

            answer_paras = {ans["para"] for _, answers in rec["questions"] for ans in answers}
            for pi in answer_paras:
                for c in claims_at(offsets[pi], offsets[pi] + len(paras[pi])):
                    cov["answer_para_sentences"] += 1
                    if c.validity is not None:
                        cov["with_validity"] += 1
                        cov["inherited" if c.validity.inherited else "own"] += 1
            for question, answers in rec["questions"]:
                qs["questions"] += 1
                gold: list[ExtractedClaim] = []
                for ans in answers:
                    a = offsets[ans["para"]] + ans["from"]
                    gold.extend(c for c in claims_at(a, a + len(ans["answer"])) if c not in gold)
                cov["gold_sentences"] += len(gold)
                cov["gold_with_validity"] += sum(c.validity is not None for c in gold)
                qv = extract_validity(question)
                if qv is None:
                    continue
                qs["with_qualifier"] += 1
                q_rules[qv.rule] += 1
                for mode, keep in (("own_only", False), ("with_inherited", True)):
                    vals = {id(c): c.validity if keep or not _inh(c) else None for c in claims}
                    surv = [c for c in gold if vals[id(c)] is None or _overlaps(vals[id(c)], qv)]
                    qs[mode + ":gold_survives"] += bool(surv)
                    others = [c for c in claims if c not in gold]
                    if others:
                        kept = sum(vals[id(c)] is None or _overlaps(vals[id(c)], qv) for c in others)
                        survive_rates[mode].append(kept / len(others))
                dated_gold = [c for c in gold if c.validity is not None]
                if not dated_gold:
                    continue
                qs["gold_dated"] += 1
                hit = [c for c in dated_gold if _overlaps(c.validity, qv)]
                if hit:
                    qs["gold_overlaps"] += 1
                    qs["gold_overlaps_own" if any(not _inh(c) for c in hit) else "gold_overlaps_inh"] += 1
                else:
                    for c in dated_gold:
                        gold_rules[("inherited " if _inh(c) else "") + c.validity.rule] += 1
                    if len(misses) < 25:
                        c = dated_gold[0]
                        misses.append(
                            {
                                "question": question,
                                "question_expression": qv.expression,
                                "sentence": c.text,
                                "expression": c.validity.expression,
                                "rule": c.validity.rule,
                                "inherited": c.validity.inherited,
                            }
                        )
                dated_others = [c for c in claims if c.validity is not None and c not in gold]
                if dated_others:
                    distractor_rates.append(
                        sum(_overlaps(c.validity, qv) for c in dated_others) / len(dated_others)
                    )
    return {
        "dataset": str(dataset_dir),
        "files": files,
        "pages": cov["pages"],
        "coverage": {
            "answer_paragraph_sentences": cov["answer_para_sentences"],
            "with_validity": cov["with_validity"],
            "with_validity_rate": _rate(cov["with_validity"], cov["answer_para_sentences"]),
            "own_expression": cov["own"],
            "inherited": cov["inherited"],
            "gold_answer_sentences": cov["gold_sentences"],
            "gold_with_validity_rate": _rate(cov["gold_with_validity"], cov["gold_sentences"]),
        },
        "questions": {
            "total": qs["questions"],
            "with_parsed_qualifier": qs["with_qualifier"],
            "qualifier_rules": dict(q_rules.most_common()),
            "gold_sentence_dated": qs["gold_dated"],
            "gold_overlaps": qs["gold_overlaps"],
            "gold_overlaps_via_own_expression": qs["gold_overlaps_own"],
            "gold_overlaps_only_via_inherited": qs["gold_overlaps_inh"],
            "overlap_rate_of_qualified_questions": _rate(qs["gold_overlaps"], qs["with_qualifier"]),
            "overlap_rate_when_gold_dated": _rate(qs["gold_overlaps"], qs["gold_dated"]),
            "mean_distractor_overlap_rate": _mean(distractor_rates),
            "non_overlapping_gold_rules": dict(gold_rules.most_common()),
        },
        "as_of_filter": {
            "note": (
                "keep a sentence if it has no validity or its validity overlaps the question's interval; "
                "gold = share of qualified questions with a kept gold sentence, others = mean share of the "
                "page's other sentences kept"
            ),
            **{
                mode: {
                    "gold_kept_rate": _rate(qs[mode + ":gold_survives"], qs["with_qualifier"]),
                    "others_kept_rate": _mean(survive_rates[mode]),
                }
                for mode in survive_rates
            },
        },
        "sample_misses": misses,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset_dir", type=Path)
    ap.add_argument("--out", type=Path, default=_ROOT / "docs" / "benchmarks" / "temporal_extraction.json")
    args = ap.parse_args()
    result = evaluate(args.dataset_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("sample_misses", "files")}, indent=2))


if __name__ == "__main__":
    main()
