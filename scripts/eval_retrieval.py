"""Claim retrieval on CLIMATE-FEVER: BM25-only vs dense-only vs hybrid vs full DASH ranking, in-process.

Corpus: the unique evidence sentences of ``climate-fever/dev.jsonl`` (id = ``evidence_id``, title =
``article``), each ingested into an in-process ``Engine`` as one claim: text = the sentence, entities =
[article], one evidence row quoting the sentence. Ingest runs the node's edge builder as in production, so
the detector's support/contradiction/supersession edges exist when the full ranking uses them.
Optionally ``--distractors N`` adds N FEVER claim texts (seeded sample) as extra, off-topic corpus.

Queries: the 526 claims with at least one SUPPORTS/REFUTES evidence; relevance 1 for those sentences,
0 otherwise. Metrics nDCG@10, recall@10, MRR@10. Rankings (``RankingWeights``, swapped on one engine's
planner; candidate generation is the same BM25 top-M + ANN top-N for all):

* ``bm25``   - lexical weight 1, every other weight 0
* ``dense``  - semantic weight 1, every other weight 0
* ``hybrid`` - the default semantic and lexical weights, every other weight 0
* ``dash``   - the default ``RankingWeights`` (support, contradiction risk, temporal, quality, confidence)

All with ``include_history=True`` (nothing hidden by detector supersession); ``dash (default filter)``
repeats the full ranking with the default "valid now and not superseded" filter, to show what the
detector's supersession edges hide.

Conflict coverage (full ranking, balanced mode, top 10): for the DISPUTED claims, the share whose top 10
holds at least one gold-SUPPORTS and one gold-REFUTES sentence ("both stances"); the share whose top 10
raises a conflict flag (a result with ``contradiction_risk > 0`` or a ``contradicting`` related claim).
A false-conflict rate needs gold "these do not conflict" labels, which the data lacks; what is reported
for the non-DISPUTED claims is (i) how many have gold evidence of both stances (0 by construction of the
dataset, so "both stances" cannot fire falsely) and (ii) their conflict-flag rate, an upper bound on
false conflict flags at the claim level (a flag between two retrieved sentences may still be a true
conflict among the sentences themselves).

Run::

    .venv/bin/python scripts/eval_retrieval.py /work/shared/datasets/climate-fever --distractors 0 4991

writes ``docs/benchmarks/eval_retrieval.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from dash_client._pb.dash.v1 import dash_pb2, types_pb2  # noqa: E402
from dash_client.types import claim_input  # noqa: E402
from dash_node.engine import Engine, EngineConfig  # noqa: E402
from dash_node.scoring import RankingWeights  # noqa: E402
from dash_node.wal import WalConfig  # noqa: E402
from scripts.evalkit import code_state  # noqa: E402

K = 10
DEPTH_KS = (25, 50)
DEPTH_MULTIPLIERS = (4, 3, 2)
TENANT = "climate-fever"
RELEVANT = {"SUPPORTS", "REFUTES"}
_ZERO = dict(
    semantic=0.0, lexical=0.0, support=0.0, contradiction_risk=0.0, temporal=0.0, source_quality=0.0,
    confidence=0.0, fusion=0.0,
)  # fmt: skip
_DEFAULT = RankingWeights()
PRESETS: dict[str, RankingWeights] = {
    "bm25": replace(_DEFAULT, **{**_ZERO, "lexical": 1.0}),
    "dense": replace(_DEFAULT, **{**_ZERO, "semantic": 1.0}),
    "hybrid": replace(_DEFAULT, **{**_ZERO, "semantic": _DEFAULT.semantic, "lexical": _DEFAULT.lexical}),
    "dash": _DEFAULT,
}


# ---- data ------------------------------------------------------------------------------------------------


@dataclass
class Query:
    claim_id: str
    text: str
    label: str
    supports: set[str]
    refutes: set[str]

    @property
    def relevant(self) -> set[str]:
        return self.supports | self.refutes


def load(dataset_dir: Path) -> tuple[dict[str, tuple[str, str]], list[Query]]:
    """(corpus: evidence_id -> (article, sentence), every claim as a Query)."""
    corpus: dict[str, tuple[str, str]] = {}
    queries: list[Query] = []
    with (dataset_dir / "dev.jsonl").open() as f:
        for line in f:
            row = json.loads(line)
            sup, ref = set(), set()
            for ev in row["evidences"]:
                corpus.setdefault(ev["evidence_id"], (ev["article"], ev["evidence"]))
                if ev["evidence_label"] == "SUPPORTS":
                    sup.add(ev["evidence_id"])
                elif ev["evidence_label"] == "REFUTES":
                    ref.add(ev["evidence_id"])
            queries.append(Query(row["claim_id"], row["claim"], row["claim_label"], sup, ref))
    return corpus, queries


def load_distractors(fever: Path, n: int, seed: int) -> list[str]:
    """``n`` distinct FEVER claim texts, a seeded sample in file order."""
    if n <= 0:
        return []
    texts: list[str] = []
    seen: set[str] = set()
    with fever.open() as f:
        for line in f:
            t = json.loads(line)["claim"].strip()
            if t and t not in seen:
                seen.add(t)
                texts.append(t)
    if n >= len(texts):
        return texts
    keep = sorted(random.Random(seed).sample(range(len(texts)), n))
    return [texts[i] for i in keep]


def _cid(prefix: str, key: str) -> str:
    return f"{prefix}-" + hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def corpus_claims(corpus: dict[str, tuple[str, str]], distractors: Sequence[str]) -> tuple[list[dict], dict]:
    """JSONL-format claims and the map claim_id -> evidence_id (None for distractors)."""
    claims, back = [], {}
    for eid, (article, text) in corpus.items():
        cid = _cid("cf", eid)
        back[cid] = eid
        claims.append(
            {
                "claim_id": cid,
                "text": text,
                "entities": [article],
                "labels": {"source": "climate-fever"},
                "evidence": [
                    {
                        "evidence_id": cid + "-ev",
                        "doc_id": article,
                        "chunk_id": eid,
                        "span_start": 0,
                        "span_end": len(text),
                        "quote": text,
                        "source_quality": 0.7,
                    },
                ],
            }
        )
    for i, text in enumerate(distractors):
        cid = _cid("fever", f"{i}:{text}")
        back[cid] = None
        claims.append(
            {
                "claim_id": cid,
                "text": text,
                "labels": {"source": "fever"},
                "evidence": [
                    {
                        "evidence_id": cid + "-ev",
                        "doc_id": f"fever-{i}",
                        "span_start": 0,
                        "span_end": len(text),
                        "quote": text,
                        "source_quality": 0.5,
                    },
                ],
            }
        )
    return claims, back


# ---- metrics ---------------------------------------------------------------------------------------------


def ndcg_at(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    return next((1.0 / (i + 1) for i, d in enumerate(ranked[:k]) if d in relevant), 0.0)


# ---- engine ----------------------------------------------------------------------------------------------


def ingest(engine: Engine, claims: list[dict], batch: int = 128) -> dict:
    t0 = time.perf_counter()
    for i in tqdm(range(0, len(claims), batch), desc="ingest", file=sys.stderr):
        items = [claim_input(c, f"items[{j}]") for j, c in enumerate(claims[i : i + batch])]
        engine.ingest_batch(TENANT, items)
    engine.settle()  # the detector's edges are part of what is measured
    seconds = time.perf_counter() - t0
    relations: Counter[str] = Counter()
    examples: list[dict] = []
    with engine.store.read() as txn:
        for c in engine.store.iter_claims(txn, TENANT):
            for e in engine.store.edges_out(txn, TENANT, c.claim_id):
                origin = types_pb2.EdgeOrigin.Name(e.origin).removeprefix("EDGE_ORIGIN_").lower()
                rel = types_pb2.Relation.Name(e.relation).removeprefix("RELATION_").lower()
                relations[f"{origin}:{rel}"] += 1
                if rel in ("contradicts", "supersedes") and sum(x["relation"] == rel for x in examples) < 8:
                    other = engine.store.get_claim(txn, TENANT, e.to_claim_id)
                    examples.append(
                        {"relation": rel, "from": c.text, "to": other.text if other else "",
                         "strength": round(e.strength, 3), "reasons": list(e.reason_codes)}
                    )  # fmt: skip
    return {
        "claims": len(claims), "seconds": round(seconds, 1), "edges": dict(sorted(relations.items())),
        "edge_examples": examples,
    }  # fmt: skip


def retrieve(
    engine: Engine, text: str, *, history: bool = True, depth: int = 0, k: int = K
) -> dash_pb2.RetrieveResponse:
    req = dash_pb2.RetrieveRequest(
        tenant_id=TENANT, query=text, top_k=k, include_history=history,
        stance_mode=dash_pb2.STANCE_MODE_BALANCED,
    )  # fmt: skip
    if depth:
        req.graph.depth = depth
    return engine.retrieve(req)


def ranked_ids(resp: dash_pb2.RetrieveResponse, back: dict, expanded: bool = False) -> list[str]:
    out = []
    for r in resp.results:
        if r.from_expansion and not expanded:
            continue
        eid = back.get(r.claim.claim_id)
        out.append(eid if eid is not None else r.claim.claim_id)
    return out


def run_setting(engine: Engine, back: dict, queries: list[Query]) -> dict:
    scored = [q for q in queries if q.relevant]
    rows: dict[str, dict] = {}
    configs = [(name, w, True) for name, w in PRESETS.items()] + [("dash (default filter)", _DEFAULT, False)]
    for name, weights, history in configs:
        engine.planner.w = weights
        nd = rc = mr = 0.0
        t0 = time.perf_counter()
        for q in tqdm(scored, desc=name, file=sys.stderr):
            resp = retrieve(engine, q.text, history=history)
            ids = ranked_ids(resp, back)
            nd += ndcg_at(ids, q.relevant)
            rc += recall_at(ids, q.relevant)
            mr += mrr_at(ids, q.relevant)
        n = len(scored)
        rows[name] = {
            "ndcg@10": nd / n, "recall@10": rc / n, "mrr@10": mr / n, "queries": n,
            "ms_per_query": 1000 * (time.perf_counter() - t0) / n,
        }  # fmt: skip
    engine.planner.w = _DEFAULT
    return {
        "ranking": rows,
        "candidate_depth": candidate_depth(engine, back, scored),
        "conflicts": conflicts(engine, back, queries),
    }


def candidate_depth(engine: Engine, back: dict, scored: list[Query]) -> list[dict]:
    """The full ranking at larger k with first-stage depths of 4, 3 and 2 x k (``candidate_multiplier``):
    what a shallower, cheaper candidate list costs in quality. A top-10 takes ``min_candidates`` (50)
    at any of these, so it is not repeated here."""
    rows = []
    for k in DEPTH_KS:
        for mult in DEPTH_MULTIPLIERS:
            engine.planner.w = replace(_DEFAULT, candidate_multiplier=mult)
            nd = rc = 0.0
            t0 = time.perf_counter()
            for q in scored:
                ids = ranked_ids(retrieve(engine, q.text, k=k), back)
                nd += ndcg_at(ids, q.relevant, k)
                rc += recall_at(ids, q.relevant, k)
            n = len(scored)
            rows.append({
                "k": k, "candidate_multiplier": mult, "ndcg": nd / n, "recall": rc / n,
                "ms_per_query": 1000 * (time.perf_counter() - t0) / n,
            })  # fmt: skip
    engine.planner.w = _DEFAULT
    return rows


def conflicts(engine: Engine, back: dict, queries: list[Query]) -> dict:
    """Conflict coverage with the full ranking in balanced mode (see the module docstring)."""

    def flagged(resp: dash_pb2.RetrieveResponse) -> bool:
        return any(r.contradiction_risk > 0 or len(r.contradicting) > 0 for r in resp.results)

    groups = {
        "DISPUTED": [q for q in queries if q.label == "DISPUTED"],
        "not DISPUTED": [q for q in queries if q.label != "DISPUTED"],
        "SUPPORTS or REFUTES": [q for q in queries if q.label in RELEVANT],
    }
    out: dict[str, dict] = {}
    for name, group in groups.items():
        both_gold = [q for q in group if q.supports and q.refutes]
        cov = cov_exp = flag = 0
        for q in tqdm(group, desc=f"conflicts {name}", file=sys.stderr):
            resp = retrieve(engine, q.text)
            ids = set(ranked_ids(resp, back))
            flag += flagged(resp)
            if q.supports and q.refutes:
                cov += bool(ids & q.supports) and bool(ids & q.refutes)
                exp = set(ranked_ids(retrieve(engine, q.text, depth=1), back, expanded=True))
                cov_exp += bool(exp & q.supports) and bool(exp & q.refutes)
        out[name] = {
            "claims": len(group),
            "with_gold_support_and_refute": len(both_gold),
            "top10_has_both_stances": cov / len(both_gold) if both_gold else None,
            "top10_plus_graph_depth1_has_both_stances": cov_exp / len(both_gold) if both_gold else None,
            "top10_conflict_flag_rate": flag / len(group) if group else None,
        }
    return out


# ---- report ----------------------------------------------------------------------------------------------


def write_report(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# CLIMATE-FEVER claim retrieval (`scripts/eval_retrieval.py`)",
        "",
        f"Code: commit {report['code']['git_head']}, product code with uncommitted changes: "
        f"{report['code']['product_code_uncommitted_changes']}, run {report['code']['run_at']}.",
        "",
        f"Corpus: {report['corpus_sentences']} evidence sentences (+ distractors); "
        f"{report['scored_queries']} claims with SUPPORTS/REFUTES evidence as queries; k = {K}; "
        "in-process engine, `include_history=True` unless noted.",
        "",
        "| distractors | ranking | nDCG@10 | recall@10 | MRR@10 | ms/query |",
        "|---|---|---|---|---|---|",
    ]
    for setting in report["settings"]:
        for name, m in setting["ranking"].items():
            lines.append(
                f"| {setting['distractors']} | {name} | {m['ndcg@10']:.4f} | {m['recall@10']:.4f} | "
                f"{m['mrr@10']:.4f} | {m['ms_per_query']:.1f} |"
            )
    lines += [
        "",
        "First-stage depth (full ranking; BM25 and ANN each give max(50, multiplier x k) candidates):",
        "",
        "| distractors | k | multiplier | nDCG@k | recall@k | ms/query |",
        "|---|---|---|---|---|---|",
    ]
    for setting in report["settings"]:
        for d in setting.get("candidate_depth", []):
            lines.append(
                f"| {setting['distractors']} | {d['k']} | {d['candidate_multiplier']} | {d['ndcg']:.4f} | "
                f"{d['recall']:.4f} | {d['ms_per_query']:.1f} |"
            )
    lines += [
        "",
        "Conflict coverage (full ranking, balanced mode, top 10):",
        "",
        "| distractors | claims | n | gold S and R | top10 has S and R | + graph depth 1 | conflict flags |",
        "|---|---|---|---|---|---|---|",
    ]
    for setting in report["settings"]:
        for name, c in setting["conflicts"].items():
            both = c["top10_has_both_stances"]
            exp = c["top10_plus_graph_depth1_has_both_stances"]
            lines.append(
                f"| {setting['distractors']} | {name} | {c['claims']} | "
                f"{c['with_gold_support_and_refute']} | "
                f"{'-' if both is None else f'{both:.4f}'} | {'-' if exp is None else f'{exp:.4f}'} | "
                f"{c['top10_conflict_flag_rate']:.4f} |"
            )
    lines += ["", "Detector edges after ingest (origin:relation → count):", ""]
    for setting in report["settings"]:
        lines.append(f"- {setting['distractors']} distractors: {setting['ingest']['edges']}")
    lines += ["", "Examples of detector edges (largest corpus; `from` → `to`):", ""]
    for ex in report["settings"][-1]["ingest"]["edge_examples"][:6]:
        lines.append(f"- {ex['relation']} ({ex['strength']}, {ex['reasons']}): “{ex['from']}” → “{ex['to']}”")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = report["settings"]
    names = list(settings[0]["ranking"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    width = 0.8 / len(settings)
    for ax, metric in zip(axes, ("ndcg@10", "recall@10"), strict=True):
        for j, s in enumerate(settings):
            ax.bar([i + j * width for i in range(len(names))], [s["ranking"][n][metric] for n in names],
                   width=width, label=f"{s['distractors']} distractors")  # fmt: skip
        ax.set_xticks([i + width * (len(settings) - 1) / 2 for i in range(len(names))], names, fontsize=8)
        ax.set_title(f"CLIMATE-FEVER {metric}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset_dir", type=Path, help="the climate-fever directory (holding dev.jsonl)")
    ap.add_argument("--distractors", type=int, nargs="+", default=[0],
                    help="FEVER claims added to the corpus; one run per value")  # fmt: skip
    ap.add_argument("--fever", type=Path, help="FEVER dev.jsonl (default: DATASET_DIR/../fever/dev.jsonl)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs/benchmarks/eval_retrieval.json")
    args = ap.parse_args(argv)
    corpus, queries = load(args.dataset_dir)
    report = {
        "code": code_state(),
        "dataset": str(args.dataset_dir),
        "corpus_sentences": len(corpus),
        "claims": len(queries),
        "scored_queries": sum(bool(q.relevant) for q in queries),
        "claim_labels": dict(Counter(q.label for q in queries)),
        "weights": {k: asdict(w) for k, w in PRESETS.items()},
        "seed": args.seed,
        "settings": [],
    }
    fever = args.fever or args.dataset_dir.parent / "fever" / "dev.jsonl"
    for n in args.distractors:
        claims, back = corpus_claims(corpus, load_distractors(fever, n, args.seed))
        with tempfile.TemporaryDirectory(prefix="dash-eval-retrieval-") as tmp:
            cfg = EngineConfig(wal=WalConfig(fsync="off", allow_unsafe=True))  # regenerated each run
            with Engine(Path(tmp) / "engine", cfg) as engine:
                info = ingest(engine, claims)
                setting = {"distractors": n, "ingest": info, **run_setting(engine, back, queries)}
        report["settings"].append(setting)
        for name, m in setting["ranking"].items():
            print(f"distractors={n:5d} {name:22s} nDCG@10 {m['ndcg@10']:.4f} recall@10 {m['recall@10']:.4f}")
        print(json.dumps(setting["conflicts"], indent=1))
    write_report(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
