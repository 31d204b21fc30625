"""Vectors as a tenant's index takes them in: checked, one row per key, unit length.

Both kinds of tenant index (the HNSW graph in ``vector``, the inverted file in ``ivf``) share these, so a
bad vector gets the same error, naming the same field, whichever kind a shard runs.
"""

from __future__ import annotations

import numpy as np

from dash_node.errors import InvalidArgument


def as_keys(keys: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(keys, dtype=np.uint64).reshape(-1))


def checked_rows(vectors: np.ndarray, n: int, dim: int) -> np.ndarray:
    """``vectors`` as an (n, dim) float32 matrix of finite, non-zero rows, or InvalidArgument."""
    v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if v.ndim == 1 and n == 1:
        v = v.reshape(1, -1)
    if v.ndim != 2 or v.shape != (n, dim):
        raise InvalidArgument("vectors", f"expected shape ({n}, {dim}), got {v.shape}")
    if not np.isfinite(v).all():
        raise InvalidArgument("vectors", "contain NaN or infinity")
    if n and (np.linalg.norm(v, axis=1) == 0).any():
        raise InvalidArgument("vectors", "zero-norm vector has no cosine direction")
    return v


def last_of_each(keys: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last occurrence of each key, in batch order: within a batch the last duplicate wins."""
    rev_unique, rev_idx = np.unique(keys[::-1], return_index=True)
    if len(rev_unique) == len(keys):
        return keys, vectors
    idx = np.sort(len(keys) - 1 - rev_idx)
    return keys[idx], vectors[idx]


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (cosine: scale is free)."""
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def unit_query(query: np.ndarray, dim: int) -> np.ndarray:
    """A query vector as a float32 unit row, or InvalidArgument naming ``query.vector``."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if q.shape != (dim,):
        raise InvalidArgument("query.vector", f"expected dimension {dim}, got {q.shape[0]}")
    norm = np.linalg.norm(q)
    if not np.isfinite(q).all() or not norm:
        raise InvalidArgument("query.vector", "must be finite and non-zero")
    return q / norm
