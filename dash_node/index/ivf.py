"""Vector index of one shard replica as an inverted file: a tenant's vectors kept in lists by their nearest
centroid, a query scanning the lists of its nearest centroids exactly.

Why not the graph (``vector``): inserting into an HNSW graph costs ~245 µs of CPU per vector at 250k
vectors here, about half of a claim's ingest CPU; it kept one node short of 5,000 claims/s sustained.
Filing a vector into a list is one product with the centroids, a few µs, cheap enough to do on the write
itself: no write buffer, no indexer behind it, a claim is in the index when its write is acknowledged.
The price moves to search, which scans some thirty lists of a few hundred rows
(``scripts/ivf_probe.py``; docs/decisions.md, "An inverted file instead of the graph").

Lists are grown, not trained. A tenant starts with one list; a list that reaches ``list_split_at`` rows
splits in two by 2-means over its rows (bisecting k-means, the way SPFresh grows its partitions), so the
lists follow the data as a tenant grows, with no training pass and no pause to file everything again.
Each centroid is the normalised mean of its list's rows, kept as running sums. Nothing is random:
replicas that apply the same writes in the same order hold the same lists, and a snapshot holds them
exactly.

Rows are kept exact (float32 unit vectors), each list's side by side, so a probe scores a list in place
with one product and no gather. A search that probes every list is exact, so a small tenant (a few dozen
lists) is always searched exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dash_node.errors import InvalidArgument
from dash_node.index.rows import as_keys, checked_rows, last_of_each, unit, unit_query
from dash_node.index.topk import top_k

if TYPE_CHECKING:
    from dash_node.index.vector import VectorConfig

_NONE = np.empty(0, np.uint64), np.empty(0, np.float32)
_SLOT_BITS = 32  # a key's place: list << 32 | slot


def similarities(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Each row's inner product with ``q``. einsum, not ``rows @ q``: BLAS rounds a row differently by
    its position, so equal vectors would score apart and a claim's similarity would depend on the path."""
    return np.einsum("ij,j->i", rows, q)


class InvertedFile:
    """The lists of one tenant; not thread-safe (the engine's index lock serialises)."""

    PARTS = ("sums", "sizes", "keys", "rows")  # what ``state`` returns

    def __init__(self, dim: int, split_at: int) -> None:
        self.dim = dim
        self._split_at = max(split_at, 2)
        self._sums = np.zeros((0, dim), np.float64)  # each list's sum of rows
        self._centroids = np.zeros((0, dim), np.float32)  # each list's normalised mean (0 when empty)
        self._sizes = np.zeros(0, np.int64)
        self._keys: list[np.ndarray] = []  # per list, capacity-grown; the first size entries are live
        self._rows: list[np.ndarray] = []
        self._where: dict[int, int] = {}  # key -> list << 32 | slot
        # How far BLAS's rounding can move an inner product of unit vectors (n * 2^-24 each way).
        self._slack = 2 * dim * 2.0**-24

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: int) -> bool:
        return key in self._where

    @property
    def lists(self) -> int:
        """Lists holding at least one row."""
        return int(np.count_nonzero(self._sizes))

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """File unit ``rows`` under new ``keys`` (callers remove a key before they add it again)."""
        if not len(keys):
            return
        if not len(self._sizes):
            self._new_list()
        lists = np.argmax(rows @ self._centroids.T, axis=1)
        order = np.argsort(lists, kind="stable")
        touched, starts = np.unique(lists[order], return_index=True)
        ends = np.append(starts[1:], len(order))
        for j, start, end in zip(touched.tolist(), starts.tolist(), ends.tolist(), strict=True):
            chosen = order[start:end]
            self._append(j, keys[chosen], rows[chosen])
            self._sums[j] += rows[chosen].sum(axis=0, dtype=np.float64)
        self._recentre(touched)
        full = [j for j in touched.tolist() if self._sizes[j] >= self._split_at]
        while full:
            j = full.pop()
            new = self._split(j)
            full += [i for i in (j, new) if self._sizes[i] >= self._split_at]

    def remove(self, keys: np.ndarray) -> int:
        """Drop ``keys``, ignoring unknown ones (replays of removals are harmless); returns how many went."""
        touched: set[int] = set()
        removed = 0
        for key in keys.tolist():
            place = self._where.pop(key, None)
            if place is None:
                continue
            j, slot = place >> _SLOT_BITS, place & ((1 << _SLOT_BITS) - 1)
            rows, held = self._rows[j], self._keys[j]
            self._sums[j] -= rows[slot]
            last = int(self._sizes[j]) - 1
            if slot != last:
                moved = int(held[last])
                held[slot], rows[slot] = moved, rows[last]
                self._where[moved] = (j << _SLOT_BITS) | slot
            self._sizes[j] = last
            touched.add(j)
            removed += 1
        if touched:
            self._recentre(np.fromiter(touched, dtype=np.int64))
        return removed

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The rows of ``keys`` (all held)."""
        out = np.empty((len(keys), self.dim), np.float32)
        for i, key in enumerate(keys.tolist()):
            place = self._where[key]
            out[i] = self._rows[place >> _SLOT_BITS][place & ((1 << _SLOT_BITS) - 1)]
        return out

    def block(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, rows) of every list, list by list."""
        live = [j for j in range(len(self._sizes)) if self._sizes[j]]
        if not live:
            return np.empty(0, np.uint64), np.empty((0, self.dim), np.float32)
        keys = np.concatenate([self._keys[j][: self._sizes[j]] for j in live])
        return keys, np.concatenate([self._rows[j][: self._sizes[j]] for j in live])

    def probed(self, scores: np.ndarray, probes: int) -> np.ndarray:
        """The ``probes`` non-empty lists whose centroids score highest (all of them if there are fewer)."""
        live = self._sizes > 0
        if probes >= np.count_nonzero(live):
            return np.flatnonzero(live)
        scores = np.where(live, scores, -np.inf)
        return np.argpartition(-scores, probes - 1)[:probes]

    def search(
        self, q: np.ndarray, k: int, probes: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (keys, similarities) of unit query ``q`` over the ``probes`` nearest lists, among
        ``allowed`` keys when given: probing twice as many lists until k are found or every list is.

        The lists are scanned with BLAS (2.5x faster than einsum), whose rounding depends on a row's
        position; the rows that can reach the top k within that rounding are scored again with
        ``similarities``, so the answer and its similarities are exactly what einsum over every scanned
        row would give: the same as ``get`` + ``similarities`` give, ties to the lower key."""
        if not len(self) or k <= 0:
            return _NONE
        scores = self._centroids @ q
        while True:
            chosen = self.probed(scores, probes)
            sizes = self._sizes[chosen]
            scanned = list(zip(chosen.tolist(), sizes.tolist(), strict=True))
            keys = np.concatenate([self._keys[j][:n] for j, n in scanned])
            sims = np.concatenate([self._rows[j][:n] @ q for j, n in scanned])
            at = np.arange(len(keys))
            if allowed is not None:
                mask = np.isin(keys, allowed)
                keys, sims, at = keys[mask], sims[mask], at[mask]
            if allowed is None or len(keys) >= k or len(chosen) >= self.lists:
                break
            probes *= 2
        if len(keys) > k:
            kth = np.partition(sims, len(sims) - k)[len(sims) - k]
            near = np.flatnonzero(sims >= kth - self._slack)
            keys, at = keys[near], at[near]
        starts = np.cumsum(sizes) - sizes
        which = np.searchsorted(starts, at, side="right") - 1
        rows = np.empty((len(at), self.dim), np.float32)
        for i, (j, slot) in enumerate(
            zip(chosen[which].tolist(), (at - starts[which]).tolist(), strict=True)
        ):
            rows[i] = self._rows[j][slot]
        return top_k(keys, similarities(rows, q), k)

    def search_many(self, queries: np.ndarray, k: int, probes: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-k of each unit query, as ``search`` finds it, for a batch at once: each probed list is
        scored against all the queries that probe it in one product (the edge builder asks for the
        neighbours of a whole write). Similarities may differ from ``search``'s in the last bit."""
        if not len(self) or k <= 0 or not len(queries):
            return [_NONE for _ in queries]
        scores = queries @ self._centroids.T
        chosen = [self.probed(row, probes) for row in scores]
        width = max(len(c) for c in chosen)
        cand_keys = np.zeros((len(queries), width * k), np.uint64)
        cand_sims = np.full((len(queries), width * k), -np.inf, np.float32)
        pairs_q = np.concatenate([np.full(len(c), i) for i, c in enumerate(chosen)])
        pairs_p = np.concatenate([np.arange(len(c)) for c in chosen])
        pairs_j = np.concatenate(chosen)
        order = np.argsort(pairs_j, kind="stable")
        lists, starts = np.unique(pairs_j[order], return_index=True)
        ends = np.append(starts[1:], len(order))
        for j, start, end in zip(lists.tolist(), starts.tolist(), ends.tolist(), strict=True):
            qs, ps = pairs_q[order[start:end]], pairs_p[order[start:end]]
            n = int(self._sizes[j])
            sims = queries[qs] @ self._rows[j][:n].T  # (queries, rows)
            keys = self._keys[j][:n]
            if n > k:
                best = np.argpartition(sims, n - k, axis=1)[:, n - k :]
                sims, keys = np.take_along_axis(sims, best, axis=1), keys[best]
            else:
                keys = np.broadcast_to(keys, sims.shape)
            cols = ps[:, None] * k + np.arange(sims.shape[1])[None, :]
            cand_sims[qs[:, None], cols] = sims
            cand_keys[qs[:, None], cols] = keys
        out = []
        for keys, sims in zip(cand_keys, cand_sims, strict=True):
            real = np.isfinite(sims)
            out.append(top_k(keys[real], sims[real], k))
        return out

    def state(self) -> dict[str, np.ndarray]:
        """The arrays a snapshot keeps: every list (an empty one too) and its running sum, exactly, so a
        restored replica files and probes as the one it was copied from."""
        keys, rows = self.block()
        return {"sums": self._sums, "sizes": self._sizes, "keys": keys, "rows": rows}

    @classmethod
    def from_state(cls, dim: int, split_at: int, state: dict[str, np.ndarray]) -> InvertedFile:
        """Lists as ``state`` saved them; ValueError if its arrays do not fit together."""
        out = cls(dim, split_at)
        sums, sizes = state["sums"].astype(np.float64), state["sizes"].astype(np.int64)
        keys, rows = state["keys"].astype(np.uint64), state["rows"].astype(np.float32)
        if (
            sums.shape != (len(sizes), dim)
            or rows.shape != (len(keys), dim)
            or (sizes < 0).any()
            or int(sizes.sum()) != len(keys)
        ):
            raise ValueError("lists do not match their rows")
        start = 0
        for size in sizes.tolist():
            j = out._new_list()
            out._append(j, keys[start : start + size], rows[start : start + size])
            start += size
        if len(out) != len(keys):
            raise ValueError("a key is in two lists")
        out._sums[:] = sums
        out._recentre(np.arange(len(sizes)))
        return out

    def _new_list(self) -> int:
        self._sums = np.vstack([self._sums, np.zeros((1, self.dim))])
        self._centroids = np.vstack([self._centroids, np.zeros((1, self.dim), np.float32)])
        self._sizes = np.append(self._sizes, 0)
        self._keys.append(np.empty(0, np.uint64))
        self._rows.append(np.empty((0, self.dim), np.float32))
        return len(self._sizes) - 1

    def _append(self, j: int, keys: np.ndarray, rows: np.ndarray) -> None:
        n = int(self._sizes[j])
        need = n + len(keys)
        if need > len(self._keys[j]):
            capacity = max(need, 2 * len(self._keys[j]), 16)
            grown_keys = np.empty(capacity, np.uint64)
            grown_rows = np.empty((capacity, self.dim), np.float32)
            grown_keys[:n], grown_rows[:n] = self._keys[j][:n], self._rows[j][:n]
            self._keys[j], self._rows[j] = grown_keys, grown_rows
        self._keys[j][n:need] = keys
        self._rows[j][n:need] = rows
        base = j << _SLOT_BITS
        self._where.update(zip(keys.tolist(), range(base + n, base + need), strict=True))
        self._sizes[j] = need

    def _recentre(self, lists: np.ndarray) -> None:
        sums = self._sums[lists]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = self._sizes[lists] == 0
        self._sums[lists[empty]] = 0.0  # no residue of removed rows
        self._centroids[lists] = np.where(norms > 0, sums / np.where(norms > 0, norms, 1.0), 0.0)
        self._centroids[lists[empty]] = 0.0

    def _split(self, j: int) -> int:
        """Split list ``j`` in two by 2-means over its rows; returns the new list."""
        n = int(self._sizes[j])
        keys, rows = self._keys[j][:n].copy(), self._rows[j][:n].copy()
        side = _bisected(rows)
        new = self._new_list()
        stay = ~side
        self._sizes[j] = 0
        self._append(j, keys[stay], rows[stay])
        self._append(new, keys[side], rows[side])
        self._sums[j] = rows[stay].sum(axis=0, dtype=np.float64)
        self._sums[new] = rows[side].sum(axis=0, dtype=np.float64)
        self._recentre(np.array([j, new]))
        return new


def _bisected(rows: np.ndarray, rounds: int = 8) -> np.ndarray:
    """Which rows go to the second half of a 2-means split (spherical, seeded by the row farthest from the
    mean and the row farthest from that one, so nothing is random). Rows that do not separate (all equal)
    are split by position, so a list always gets smaller."""
    a = rows[np.argmin(rows @ rows.mean(axis=0))]
    b = rows[np.argmin(rows @ a)]
    side = np.zeros(len(rows), bool)
    for _ in range(rounds):
        now = rows @ b > rows @ a
        if not now.any() or now.all():
            break
        if (now == side).all():
            break
        side = now
        a, b = unit(rows[~side].sum(axis=0)[None])[0], unit(rows[side].sum(axis=0)[None])[0]
    if not side.any() or side.all():
        side = np.arange(len(rows)) >= len(rows) // 2
    return side


class TenantLists:
    """One tenant's vectors in an inverted file, with the interface of ``vector.TenantVectors``: nothing is
    ever buffered (``pending`` is 0, ``merge`` moves nothing)."""

    def __init__(self, dim: int, config: VectorConfig, lists: InvertedFile | None = None) -> None:
        if dim <= 0:
            raise InvalidArgument("vector.dim", f"must be positive, got {dim}")
        self.dim = dim
        self.config = config
        self.lists = lists if lists is not None else InvertedFile(dim, config.list_split_at)
        self._probes_pinned: int | None = None

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Replace-or-insert so WAL replays are idempotent; within a batch the last duplicate key wins."""
        k = as_keys(keys)
        v = checked_rows(vectors, len(k), self.dim)
        if not len(k):
            return
        k, v = last_of_each(k, v)
        self.lists.remove(k)
        self.lists.add(k, np.ascontiguousarray(unit(v), dtype=np.float32))

    def remove(self, keys: np.ndarray) -> None:
        """Drop keys; unknown keys are ignored so replays of removals are harmless."""
        self.lists.remove(as_keys(keys))

    @property
    def pending(self) -> int:
        return 0

    def merge(self, limit: int) -> int:
        return 0

    def set_probes(self, probes: int) -> None:
        """Fix how many lists a search scans, whatever their number (recall against time); the sweeps in
        ``scripts/ann_recall.py`` use it."""
        self._probes_pinned = probes

    def probes(self, k: int) -> int:
        return self._probes_pinned or self.config.probes_for(self.lists.lists, k)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by cosine similarity, best first, restricted to ``allowed`` when given (exactly: a small
        prefilter is scored directly, a large one probes more lists until k are found)."""
        q = unit_query(query, self.dim)
        if k <= 0 or not len(self):
            return _NONE
        if allowed is not None:
            allow = as_keys(allowed)
            if len(allow) <= self.config.exact_below:
                return self._exact(q, k, allow)
            return self.lists.search(q, k, self.probes(k), allow)
        return self.lists.search(q, k, self.probes(k))

    def search_many(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Unfiltered top-k for several queries in one call."""
        q = np.asarray(queries, dtype=np.float32).reshape(len(queries), self.dim)
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        q = np.ascontiguousarray(q / np.where(norms > 0, norms, 1.0), dtype=np.float32)
        return self.lists.search_many(q, k, self.probes(k))

    def similarities(self, query: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of the query to each of ``keys`` that the index holds (the others are left out)."""
        return self._exact(unit_query(query, self.dim), len(keys), as_keys(keys))

    def _exact(self, q: np.ndarray, k: int, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        held = np.unique(candidates)
        held = held[np.fromiter((key in self.lists for key in held.tolist()), dtype=bool, count=len(held))]
        if not len(held):
            return _NONE
        return top_k(held, similarities(self.lists.get(held), q), k)

    def keys(self) -> np.ndarray:
        """Live keys (for checks and tests)."""
        return self.lists.block()[0]

    def __len__(self) -> int:
        return len(self.lists)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer) or int(key) < 0:
            return False
        return int(key) in self.lists
