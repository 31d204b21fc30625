"""Text embedders for DASH: texts in, L2-normalised float32 vectors out.

The shipped default is a static (model2vec) distillation of all-MiniLM-L6-v2 stored in-repo under
``dash_node/models/minilm-m2v`` (built by ``scripts/distill_embedder.py``). A static model is a token->vector
table plus a tokenizer, so embedding needs only numpy + tokenizers: no torch, no GPU, no network, and it is
fast enough to embed on the ingest path of a 2-core node.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

DEFAULT_MODEL_DIR = Path(__file__).parent / "models" / "minilm-m2v"
DEFAULT_MAX_TOKENS = 512
_BATCH_SIZE = 1024


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    ``embed`` returns shape ``(len(texts), dim)``; rows are unit norm, except texts with no known tokens
    (e.g. empty strings), which map to the zero vector (never NaN) so callers can detect and skip them.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    """Row-normalise in float32; zero rows stay zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


class StaticModelEmbedder:
    """Embedder backed by a local model2vec ``StaticModel`` directory.

    Loading is strictly from disk: a missing directory raises instead of letting model2vec fall back to a
    Hugging Face Hub download (it treats non-existent paths as repo ids). Thread-safe for concurrent
    ``embed`` calls: the model is read-only after load.
    """

    def __init__(self, model_dir: Path | str, *, max_tokens: int | None = DEFAULT_MAX_TOKENS) -> None:
        path = Path(model_dir)
        if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
            raise FileNotFoundError(f"no model2vec model (model.safetensors + tokenizer.json) in {path}")
        from model2vec import StaticModel  # deferred: keeps `import dash_node.embedding` cheap

        self._model = StaticModel.from_pretrained(path.resolve(), force_download=False)
        # Stored as float16 to halve the on-disk size; float32 in RAM (~30 MB) pools ~15% faster on CPU.
        self._model.embedding = self._model.embedding.astype(np.float32)
        self._max_tokens = max_tokens
        self.name = path.name
        self.dim = int(self._model.dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; tokens past ``max_tokens`` are ignored (bounds cost on huge inputs)."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single str")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        raw = self._model.encode(
            list(texts),
            max_length=self._max_tokens,
            normalize=False,  # we normalise in float32 below, with a NaN-free zero-vector rule
            batch_size=_BATCH_SIZE,
            show_progress_bar=False,
            use_multiprocessing=False,
        )
        return _l2_normalise(raw.reshape(len(texts), self.dim))


_default_lock = threading.Lock()


@functools.cache
def _load_default() -> StaticModelEmbedder:
    return StaticModelEmbedder(DEFAULT_MODEL_DIR)


def default_embedder() -> Embedder:
    """The shipped embedder, loaded once per process (~0.2-0.7 s, ~30 MB RAM; no reason to repeat it)."""
    with _default_lock:  # functools.cache alone may build twice under a race
        return _load_default()
