"""Score a contradiction judge on a labelled pair set from scripts/gen_adversarial.py.

Why: the detector writes edges that retrieval shows next to every answer, so a false "contradicts" on a
paraphrase or a succession is visible damage. This reports, per class, precision/recall/F1 (contradiction:
``contradicts`` vs everything else; supersession: ``supersedes``/``superseded_by`` with the direction
required), the false-positive rate of ``contradicts`` on the non-conflict categories, a confusion matrix,
per-category accuracy, throughput and failure examples, as JSON + markdown (+ a PNG chart when matplotlib
is installed).

    python scripts/eval_detector.py pairs.jsonl --judge dash_node.evidence.judge:RuleJudge
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dash_node.evidence import text as text_mod
from dash_node.evidence.judge import ClaimView, ContradictionJudge

NON_CONFLICT = (
    "paraphrase",
    "structured_succession",
    "text_succession_year",
    "text_succession_validity",
    "unrelated_similar",
    "multi_valued",
    "double_negation",
    "year_as_time",
    "near_duplicate",
)
GOLD = ["contradicts", "supersedes", "superseded_by", "duplicates", "none"]
PRED = ["contradicts", "supersedes", "superseded_by", "duplicates", "supports", "refines", "none"]
_FIELDS = set(ClaimView.__dataclass_fields__)


def view(d: dict) -> ClaimView:
    return ClaimView(**{k: (tuple(v) if k == "entities" else v) for k, v in d.items() if k in _FIELDS})


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def load_judge(spec: str) -> ContradictionJudge:
    mod, _, cls = spec.partition(":")
    return getattr(importlib.import_module(mod), cls)()


def evaluate(pairs: list[dict], judge: ContradictionJudge) -> dict:
    views = [(view(p["new"]), view(p["old"])) for p in pairs]
    text_mod.analyse.cache_clear()
    text_mod.negations.cache_clear()
    t0 = time.perf_counter()
    verdicts = [judge.judge(n, o) for n, o in views]
    cold = time.perf_counter() - t0
    text_mod.analyse.cache_clear()
    text_mod.negations.cache_clear()
    for _, o in views:  # stored claims were analysed when they were judged before
        text_mod.analyse(o.text)
    t0 = time.perf_counter()
    for n, o in views:
        judge.judge(n, o)
    one_new = time.perf_counter() - t0
    reps = 3
    t0 = time.perf_counter()
    for _ in range(reps):
        for n, o in views:
            judge.judge(n, o)
    warm = (time.perf_counter() - t0) / reps
    preds = [v.relation or "none" for v in verdicts]
    golds = [p["gold"] for p in pairs]

    def count(
        pos_gold: set[str], pos_pred: set[str], exact: bool = False, skip: set[str] = frozenset()
    ) -> dict:
        tp = fp = fn = 0
        for p, g, pair in zip(preds, golds, pairs, strict=True):
            if pair["category"] in skip:
                continue
            gp, pp = g in pos_gold, p in pos_pred
            if gp and pp and (not exact or p == g):
                tp += 1
            elif pp and (not gp or exact):
                fp += 1
                if gp:
                    fn += 1
            elif gp:
                fn += 1
        return prf(tp, fp, fn)

    metrics = {
        "contradiction": count({"contradicts"}, {"contradicts"}),
        "supersession": count({"supersedes", "superseded_by"}, {"supersedes", "superseded_by"}, exact=True),
        # paraphrases may legitimately be predicted duplicates; leave them out of this class
        "duplicates": count({"duplicates"}, {"duplicates"}, skip={"paraphrase", "double_negation"}),
    }
    nc = [(p, pair) for p, pair in zip(preds, pairs, strict=True) if pair["category"] in NON_CONFLICT]
    fp_by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p, pair in nc:
        fp_by_cat[pair["category"]][1] += 1
        fp_by_cat[pair["category"]][0] += p == "contradicts"
    fp_total = sum(v[0] for v in fp_by_cat.values())
    cats: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    failures: dict[str, list[dict]] = defaultdict(list)
    for p, v, pair in zip(preds, verdicts, pairs, strict=True):
        ok = p in pair["acceptable"]
        cats[pair["category"]][0] += ok
        cats[pair["category"]][1] += 1
        if not ok and len(failures[pair["category"]]) < 3:
            failures[pair["category"]].append(
                {
                    "id": pair["id"],
                    "gold": pair["gold"],
                    "pred": p,
                    "reasons": list(v.reason_codes),
                    "detail": v.detail,
                    "new": pair["new"]["text"],
                    "old": pair["old"]["text"],
                }
            )
    confusion = Counter((g, p) for g, p in zip(golds, preds, strict=True))
    return {
        "judge": getattr(judge, "name", type(judge).__name__),
        "pairs": len(pairs),
        "metrics": metrics,
        "contradicts_fp_rate_on_non_conflicts": round(fp_total / max(1, len(nc)), 4),
        "contradicts_fp_by_category": {
            k: {"fp": v[0], "n": v[1], "rate": round(v[0] / v[1], 4)} for k, v in sorted(fp_by_cat.items())
        },
        "category_accuracy": {
            k: {"correct": v[0], "n": v[1], "accuracy": round(v[0] / v[1], 4)}
            for k, v in sorted(cats.items())
        },
        "confusion": {g: {p: confusion.get((g, p), 0) for p in PRED} for g in GOLD},
        "throughput": {
            "cold_judgements_per_s": round(len(pairs) / cold),
            "new_text_cold_judgements_per_s": round(len(pairs) / one_new),
            "warm_judgements_per_s": round(len(pairs) / warm),
            "note": "cold: text-analysis cache cleared, both texts analysed in the loop; "
            "new_text_cold: the stored side already analysed (as at ingest); warm: both analysed",
        },
        "failures": dict(failures),
    }


def markdown(results: dict[str, dict]) -> str:
    out = [
        "# Evidence detector (rule judge) on the adversarial pair set",
        "",
        "Generated by `scripts/gen_adversarial.py`, scored by `scripts/eval_detector.py`. "
        "Rules were developed "
        "against the development seed only; the evaluation seed was generated and scored once at the end. "
        "The generator and the rules share an author, so treat these numbers as an upper bound on "
        "real text.",
        "",
    ]
    for label, r in results.items():
        m = r["metrics"]
        out += [
            f"## {label} ({r['pairs']} pairs, judge `{r['judge']}`)",
            "",
            "| class | precision | recall | F1 |",
            "|---|---|---|---|",
        ]
        out += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} |" for k, v in m.items()]
        t = r["throughput"]
        fps = ", ".join(f"{k} {v['fp']}/{v['n']}" for k, v in r["contradicts_fp_by_category"].items())
        out += [
            "",
            f"False-positive rate of `contradicts` on non-conflict categories: "
            f"**{r['contradicts_fp_rate_on_non_conflicts']:.2%}** "
            f"({fps}).",
            "",
            f"Throughput: {t['cold_judgements_per_s']:,} judgements/s cold, "
            f"{t['new_text_cold_judgements_per_s']:,}/s with the stored side analysed (ingest), "
            f"{t['warm_judgements_per_s']:,}/s warm (single thread, {r['pairs']} pairs).",
            "",
            "| category | accuracy | n |",
            "|---|---|---|",
        ]
        out += [f"| {k} | {v['accuracy']:.3f} | {v['n']} |" for k, v in r["category_accuracy"].items()]
        out += [
            "",
            "Confusion (rows gold, columns predicted):",
            "",
            "| gold \\ pred | " + " | ".join(PRED) + " |",
            "|---" * (len(PRED) + 1) + "|",
        ]
        out += [f"| {g} | " + " | ".join(str(r["confusion"][g][p]) for p in PRED) + " |" for g in GOLD]
        out += ["", "Failure examples:", ""]
        for cat, fs in r["failures"].items():
            for f in fs[:2]:
                out.append(
                    f"- {cat}: gold `{f['gold']}`, predicted `{f['pred']}` {f['reasons']} — "
                    f"new: “{f['new']}” / old: “{f['old']}”"
                )
        out.append("")
    return "\n".join(out)


def chart(results: dict[str, dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    cats = sorted({c for r in results.values() for c in r["category_accuracy"]})
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / max(1, len(results))
    for k, (label, r) in enumerate(results.items()):
        acc = [r["category_accuracy"].get(c, {}).get("accuracy", 0.0) for c in cats]
        ax.bar([i + k * width for i in range(len(cats))], acc, width, label=label)
    ax.set_xticks(
        [i + width * (len(results) - 1) / 2 for i in range(len(cats))], cats, rotation=35, ha="right"
    )
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title("Rule judge: per-category accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pairs", type=Path, nargs="+", help="JSONL pair sets; label = file stem")
    ap.add_argument("--judge", default="dash_node.evidence.judge:RuleJudge", help="module:Class")
    ap.add_argument("--out-dir", type=Path, default=Path("docs/benchmarks"))
    ap.add_argument("--print-failures", type=int, default=0, help="print up to N failures per category")
    args = ap.parse_args()
    judge = load_judge(args.judge)
    results = {}
    for path in args.pairs:
        pairs = [json.loads(line) for line in path.open()]
        results[path.stem] = evaluate(pairs, judge)
        if args.print_failures:
            for p, pair in zip(
                [judge.judge(view(x["new"]), view(x["old"])) for x in pairs], pairs, strict=True
            ):
                if (p.relation or "none") not in pair["acceptable"]:
                    print(
                        f"[{pair['category']}] gold={pair['gold']} pred={p.relation or 'none'} "
                        f"{p.reason_codes} "
                        f"{p.detail}\n   N: {pair['new']}\n   O: {pair['old']}"
                    )
    summary = {
        label: {
            "contradiction_f1": r["metrics"]["contradiction"]["f1"],
            "supersession_f1": r["metrics"]["supersession"]["f1"],
            "fp_rate": r["contradicts_fp_rate_on_non_conflicts"],
            "cold/s": r["throughput"]["cold_judgements_per_s"],
            "ingest/s": r["throughput"]["new_text_cold_judgements_per_s"],
            "warm/s": r["throughput"]["warm_judgements_per_s"],
        }
        for label, r in results.items()
    }
    print(json.dumps(summary, indent=1))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
    }
    (args.out_dir / "detector.json").write_text(json.dumps({"env": env, "results": results}, indent=1) + "\n")
    (args.out_dir / "detector.md").write_text(markdown(results))
    if chart(results, args.out_dir / "detector.png"):
        print("chart:", args.out_dir / "detector.png")


if __name__ == "__main__":
    main()
