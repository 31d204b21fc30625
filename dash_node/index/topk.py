"""The k best of scored keys, the same on every replica: ties, at the cut too, go to the lower key."""

from __future__ import annotations

import numpy as np


def top_k(keys: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys, scores) of the k best, best first. A partial sort alone would keep an arbitrary subset of
    the keys tied at the k-th score, so two replicas (or two runs) could answer differently."""
    if len(keys) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        above = np.flatnonzero(scores > kth)
        tied = np.flatnonzero(scores == kth)
        tied = tied[np.argsort(keys[tied], kind="stable")[: k - len(above)]]
        chosen = np.concatenate([above, tied])
        keys, scores = keys[chosen], scores[chosen]
    order = np.lexsort((keys, -scores))
    return keys[order], scores[order]
