"""Stance of CLIMATE-FEVER (claim, evidence) pairs by the node's contradiction detector (``RuleJudge``).

Each of the 3,690 pairs is judged as the edge builder would judge it at ingest: the evidence sentence is
the *new* claim (entities = [article]), the climate claim the *old* one; the judge's relation maps to a
label:

* ``contradicts``                          -> REFUTES
* ``supports`` / ``duplicates`` / ``refines`` -> SUPPORTS
* anything else (no relation, ``supersedes``, ``superseded_by``) -> NOT_ENOUGH_INFO

Two readings: ``edge`` counts a relation only when its strength reaches the edge builder's
``min_strength`` (what would become an edge in the store); ``any`` counts every relation the judge names.
Reported: accuracy, per-class precision/recall/F1, macro-F1, REFUTES-class F1, confusion matrix, on all
pairs and on the pairs whose annotators agreed (``entropy == 0``), beside two baselines: the majority
class (NOT_ENOUGH_INFO everywhere) and "REFUTES everywhere" (the REFUTES-F1 any detector must beat).

Run::

    .venv/bin/python scripts/eval_stance.py /work/shared/datasets/climate-fever

writes ``docs/benchmarks/eval_stance.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from dash_node.evidence.builder import EdgeBuilderConfig  # noqa: E402
from dash_node.evidence.judge import ClaimView, RuleJudge  # noqa: E402
from scripts.evalkit import code_state  # noqa: E402

LABELS = ("SUPPORTS", "REFUTES", "NOT_ENOUGH_INFO")
TO_LABEL = {"contradicts": "REFUTES", "supports": "SUPPORTS", "duplicates": "SUPPORTS", "refines": "SUPPORTS"}


def load(dataset_dir: Path) -> list[dict]:
    pairs = []
    with (dataset_dir / "dev.jsonl").open() as f:
        for line in f:
            row = json.loads(line)
            for ev in row["evidences"]:
                pairs.append(
                    {
                        "claim_id": row["claim_id"],
                        "claim": row["claim"],
                        "evidence_id": ev["evidence_id"],
                        "article": ev["article"],
                        "evidence": ev["evidence"],
                        "gold": ev["evidence_label"],
                        "entropy": ev["entropy"],
                    }
                )
    return pairs


def view(**kw) -> ClaimView:
    """A ClaimView from the fields it has (the dataclass may grow; unknown keys are dropped)."""
    names = {f.name for f in dataclasses.fields(ClaimView)}
    defaults = dict(subject="", predicate="", object="", entities=(), valid_from=None, valid_to=None,
                    recorded_at=0, observed_at=None, confidence=1.0)  # fmt: skip
    return ClaimView(**{k: v for k, v in {**defaults, **kw}.items() if k in names})


def judge_all(pairs: list[dict]) -> tuple[list[dict], float]:
    judge = RuleJudge()
    out = []
    t0 = time.perf_counter()
    for p in tqdm(pairs, desc="judge", file=sys.stderr):
        new = view(
            claim_id=f"ev:{p['evidence_id']}", text=p["evidence"], entities=(p["article"],), recorded_at=2
        )
        old = view(claim_id=f"claim:{p['claim_id']}", text=p["claim"], recorded_at=1)
        v = judge.judge(new, old)
        out.append(
            {"relation": v.relation or "", "strength": float(v.strength), "reasons": list(v.reason_codes)[:6]}
        )
    return out, time.perf_counter() - t0


def predict(verdict: dict, min_strength: float) -> str:
    if not verdict["relation"] or verdict["strength"] < min_strength:
        return "NOT_ENOUGH_INFO"
    return TO_LABEL.get(verdict["relation"], "NOT_ENOUGH_INFO")


def scores(gold: list[str], pred: list[str]) -> dict:
    per = {}
    for lab in LABELS:
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred, strict=True))
        fp = sum(g != lab and p == lab for g, p in zip(gold, pred, strict=True))
        fn = sum(g == lab and p != lab for g, p in zip(gold, pred, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[lab] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn, "predicted": tp + fp}
    confusion = {g: {p: 0 for p in LABELS} for g in LABELS}
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p] += 1
    return {
        "pairs": len(gold),
        "accuracy": sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold),
        "macro_f1": sum(per[lab]["f1"] for lab in LABELS) / len(LABELS),
        "refutes_f1": per["REFUTES"]["f1"],
        "per_class": per,
        "confusion_gold_rows_pred_cols": confusion,
    }


def evaluate(pairs: list[dict], verdicts: list[dict], min_strength: float) -> dict:
    subsets = {
        "all": list(range(len(pairs))),
        "entropy==0": [i for i, p in enumerate(pairs) if p["entropy"] == 0],
    }
    out: dict = {}
    for name, idx in subsets.items():
        gold = [pairs[i]["gold"] for i in idx]
        out[name] = {
            "rule_judge (edge: strength >= min_strength)": scores(
                gold, [predict(verdicts[i], min_strength) for i in idx]
            ),
            "rule_judge (any strength)": scores(gold, [predict(verdicts[i], 0.0) for i in idx]),
            "majority class (NOT_ENOUGH_INFO)": scores(gold, ["NOT_ENOUGH_INFO"] * len(idx)),
            "REFUTES everywhere": scores(gold, ["REFUTES"] * len(idx)),
        }
    return out


def write_report(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# CLIMATE-FEVER stance by the rule judge (`scripts/eval_stance.py`)",
        "",
        f"Code: commit {report['code']['git_head']}, product code with uncommitted changes: "
        f"{report['code']['product_code_uncommitted_changes']}, run {report['code']['run_at']}.",
        "",
        f"{report['pairs']} (claim, evidence) pairs; judge(new = evidence, old = claim); "
        f"edge threshold min_strength = {report['min_strength']}; {report['judge_seconds']} s.",
        "",
        "| subset | system | pairs | accuracy | macro-F1 | F1 SUPPORTS | F1 REFUTES | F1 NEI |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for subset, systems in report["results"].items():
        for name, s in systems.items():
            pc = s["per_class"]
            lines.append(
                f"| {subset} | {name} | {s['pairs']} | {s['accuracy']:.4f} | {s['macro_f1']:.4f} | "
                f"{pc['SUPPORTS']['f1']:.4f} | {pc['REFUTES']['f1']:.4f} | "
                f"{pc['NOT_ENOUGH_INFO']['f1']:.4f} |"
            )
    main_sys = report["results"]["all"]["rule_judge (edge: strength >= min_strength)"]
    lines += ["", "Confusion (all pairs, edge reading; rows gold, columns predicted):", ""]
    lines.append("| gold \\ pred | " + " | ".join(LABELS) + " |")
    lines.append("|---|---|---|---|")
    for g in LABELS:
        row = main_sys["confusion_gold_rows_pred_cols"][g]
        lines.append(f"| {g} | " + " | ".join(str(row[p]) for p in LABELS) + " |")
    lines += ["", "Judge relations by gold label (any strength):", ""]
    for g, rels in report["relations_by_gold"].items():
        lines.append(f"- {g}: {rels}")
    lines += ["", "Judge reason codes by gold label (most common):", ""]
    for g, rc in report["reason_codes_by_gold"].items():
        lines.append(f"- {g}: {rc}")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    systems = list(report["results"]["all"])
    metrics = ("macro_f1", "refutes_f1")
    for j, subset in enumerate(report["results"]):
        for i, m in enumerate(metrics):
            xs = [k * 3 + i + j * 0.4 for k in range(len(systems))]
            ax1.bar(xs, [report["results"][subset][s][m] for s in systems], width=0.4,
                    label=f"{m} ({subset})")  # fmt: skip
    ax1.set_xticks([k * 3 + 0.7 for k in range(len(systems))],
                   [s.split(" (")[0] + ("\n(" + s.split(" (")[1] if " (" in s else "") for s in systems],
                   fontsize=7)  # fmt: skip
    ax1.legend(fontsize=7)
    ax1.set_title("stance F1")
    conf = main_sys["confusion_gold_rows_pred_cols"]
    mat = [[conf[g][p] for p in LABELS] for g in LABELS]
    ax2.imshow(mat, cmap="Blues")
    for r in range(3):
        for c in range(3):
            ax2.text(c, r, str(mat[r][c]), ha="center", va="center")
    ax2.set_xticks(range(3), LABELS, fontsize=8)
    ax2.set_yticks(range(3), LABELS, fontsize=8)
    ax2.set_xlabel("predicted")
    ax2.set_ylabel("gold")
    ax2.set_title("confusion (all pairs, edge reading)")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset_dir", type=Path, help="the climate-fever directory (holding dev.jsonl)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs/benchmarks/eval_stance.json")
    args = ap.parse_args(argv)
    pairs = load(args.dataset_dir)
    verdicts, seconds = judge_all(pairs)
    min_strength = EdgeBuilderConfig().min_strength
    by_gold: dict[str, Counter] = {g: Counter() for g in LABELS}
    reasons: dict[str, Counter] = {g: Counter() for g in LABELS}
    for p, v in zip(pairs, verdicts, strict=True):
        by_gold[p["gold"]][v["relation"] or "(none)"] += 1
        reasons[p["gold"]][",".join(v["reasons"]) or "(no reason code)"] += 1
    report = {
        "code": code_state(),
        "dataset": str(args.dataset_dir),
        "pairs": len(pairs),
        "gold_labels": dict(Counter(p["gold"] for p in pairs)),
        "entropy0_pairs": sum(p["entropy"] == 0 for p in pairs),
        "min_strength": min_strength,
        "judge_seconds": round(seconds, 2),
        "results": evaluate(pairs, verdicts, min_strength),
        "relations_by_gold": {g: dict(c.most_common()) for g, c in by_gold.items()},
        "reason_codes_by_gold": {g: dict(c.most_common(8)) for g, c in reasons.items()},
        "examples_refutes_missed": [
            {**{k: p[k] for k in ("claim", "evidence")}, **v}
            for p, v in zip(pairs, verdicts, strict=True)
            if p["gold"] == "REFUTES" and p["entropy"] == 0 and predict(v, min_strength) != "REFUTES"
        ][:10],
        "examples_false_refutes": [
            {**{k: p[k] for k in ("claim", "evidence", "gold")}, **v}
            for p, v in zip(pairs, verdicts, strict=True)
            if p["gold"] != "REFUTES" and predict(v, min_strength) == "REFUTES"
        ][:10],
    }
    write_report(report, args.out)
    for subset, systems in report["results"].items():
        for name, s in systems.items():
            print(f"{subset:11s} {name:45s} acc {s['accuracy']:.4f} macroF1 {s['macro_f1']:.4f} "
                  f"refutesF1 {s['refutes_f1']:.4f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
