"""The BM25 inner loops, compiled with numba: summing a query's postings per document and keeping the
k best.

In numpy a query over ~100k postings (a 250k-claim shard) cost ~2.4 ms, most of it outside the
arithmetic: concatenating the terms' arrays, a dense bincount, finding the touched documents, then a
partition over all of them. Here one pass adds each posting into a reusable accumulator, and a second
walks the touched documents once with a bounded heap, resetting the accumulator as it goes. The sums
are added in the same order as before (term by term, postings in order), so the scores are the same
bits. Compiled functions are cached on disk beside this file (``cache=True``), and release the GIL.
Importing numba costs ~0.3 s, so only what searches imports this module.
"""

from __future__ import annotations

from array import array

import numpy as np
from numba import njit

K1 = 1.2
B = 0.75


@njit(cache=True, nogil=True)
def accumulate(
    docnos: np.ndarray,
    tfs: np.ndarray,
    lens: np.ndarray,
    gens: np.ndarray,
    live_gens: np.ndarray,
    check_live: bool,
    weight: float,
    length_norm: float,
    acc: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
) -> int:
    """Add one term's ``idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl / avgdl))`` to each of its live
    documents (``weight`` = idf * (K1 + 1), ``length_norm`` = K1 * B / avgdl); documents seen for the
    first time are appended to ``touched``. Returns the new count of touched documents."""
    for i in range(len(docnos)):
        d = docnos[i]
        if check_live and live_gens[d] != gens[i]:
            continue  # a stale posting: its document was replaced or removed
        tf = np.float64(tfs[i])
        norm = np.float64(lens[i]) * length_norm
        norm += K1 * (1 - B)
        norm += tf
        if acc[d] == 0.0:  # every contribution is > 0 (idf > 0, tf >= 1)
            touched[n_touched] = d
            n_touched += 1
        acc[d] += tf * weight / norm
    return n_touched


@njit(inline="always")
def _worse(s_a: float, k_a: int, s_b: float, k_b: int) -> bool:
    """Whether (score a, key a) ranks below (score b, key b): a lower score, or a tie and a higher key."""
    return s_a < s_b or (s_a == s_b and k_a > k_b)


@njit(cache=True, nogil=True)
def take_best(
    acc: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
    allowed: np.ndarray,
    k: int,
    keys: np.ndarray,
    scores: np.ndarray,
) -> int:
    """The ``k`` best touched documents (ties to the lower docno), restricted to ``allowed`` (a mask by
    docno; empty: all), into ``keys``/``scores`` in no particular order; resets ``acc`` to zero for the
    next query. Returns how many were kept. ``keys``/``scores`` are a min-heap of size ``k``."""
    size = 0
    for j in range(n_touched):
        d = touched[j]
        s = acc[d]
        acc[d] = 0.0
        if len(allowed) and not allowed[d]:
            continue
        if size < k:
            i = size
            size += 1
            while i > 0:  # sift up
                parent = (i - 1) >> 1
                if not _worse(s, d, scores[parent], keys[parent]):
                    break
                scores[i], keys[i] = scores[parent], keys[parent]
                i = parent
            scores[i], keys[i] = s, d
        elif _worse(scores[0], keys[0], s, d):
            i = 0
            while True:  # sift down from the root, which the new document replaces
                child = 2 * i + 1
                if child >= size:
                    break
                right = child + 1
                if right < size and _worse(scores[right], keys[right], scores[child], keys[child]):
                    child = right
                if not _worse(scores[child], keys[child], s, d):
                    break
                scores[i], keys[i] = scores[child], keys[child]
                i = child
            scores[i], keys[i] = s, d
    return size


def warm() -> None:
    """Compile both loops (or load them from the cache, ~0.3 s) for the argument types a search passes,
    so that a node's first query does not wait for it."""
    one = np.frombuffer(array("Q", [1]), dtype=np.uint64)
    ones = np.frombuffer(array("I", [1]), dtype=np.uint32)
    acc, touched = np.zeros(2), np.zeros(2, dtype=np.uint64)
    n = accumulate(one, ones, ones, ones, np.ones(2, dtype=np.uint32), True, 1.0, 1.0, acc, touched, 0)
    take_best(acc, touched, n, np.zeros(0, dtype=bool), 1, np.zeros(1, dtype=np.uint64), np.zeros(1))
