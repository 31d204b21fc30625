"""Vector index of one shard replica as an inverted file: a tenant's vectors kept in lists by their nearest
centroid, a query scanning the lists of its nearest centroids exactly.

Why not the graph (``vector``): inserting into an HNSW graph costs ~245 µs of CPU per vector at 250k
vectors here, about half of a claim's ingest CPU; it kept one node short of 5,000 claims/s sustained.
Filing a vector into a list is one product with the centroids, a few µs, cheap enough to do on the write
itself: no write buffer, no indexer behind it, a claim is in the index when its write is acknowledged.
The work moves to search, which scans some thirty lists of a few hundred rows (``scripts/ivf_probe.py``;
docs/decisions.md, "An inverted file instead of the graph").

Lists are grown, not trained. A tenant starts with one list; a list that reaches ``list_split_at`` rows
splits in two by 2-means over its rows (bisecting k-means, the way SPFresh grows its partitions), so the
lists follow the data as a tenant grows, with no training pass and no pause to file everything again.
Each centroid is the normalised mean of its list's rows, kept as running sums. Nothing is random:
replicas that apply the same writes in the same order hold the same lists, and a snapshot holds them
exactly.

Rows are kept as half-precision unit vectors (as the graph's copies are) beside 8-bit codes of them, each
list's side by side. A scan reads the codes of the probed lists in place (``scan``: the scan is bound by
memory) to nominate rows, which are scored again from their rows, so every similarity reported is exact
over the rows as kept. A search that probes every list of a small tenant (a few dozen lists) is exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dash_node.errors import InvalidArgument
from dash_node.index.rows import as_keys, checked_rows, last_of_each, unit, unit_query
from dash_node.index.scan import codes_of, scan
from dash_node.index.topk import top_k

if TYPE_CHECKING:
    from dash_node.index.vector import VectorConfig

_NONE = np.empty(0, np.uint64), np.empty(0, np.float32)


def similarities(rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Each row's inner product with ``q``. einsum, not ``rows @ q``: BLAS rounds a row differently by
    its position, so equal vectors would score apart and a claim's similarity would depend on the path."""
    return np.einsum("ij,j->i", rows, q)


class InvertedFile:
    """The lists of one tenant; not thread-safe (the engine's index lock serialises).

    Storage is one arena of rows (keys, half-precision rows, their 8-bit codes and factors) in which each list
    owns a run of slots from ``_starts[j]``: its ``_sizes[j]`` rows, then room to ``_caps[j]``. Once a
    tenant has split its first list, every list gets a run of ``split_at`` slots (what it holds before it
    splits: lists are 1/2 to 3/4 full on average); a list a write overfills moves to the arena's end,
    and the arena is packed again when more than a third of it is left behind by such moves. A scan reads
    the probed runs in place."""

    PARTS = ("sums", "sizes", "keys", "rows")  # what ``state`` returns

    def __init__(self, dim: int, split_at: int) -> None:
        self.dim = dim
        self._split_at = max(split_at, 2)
        self._sums = np.zeros((0, dim), np.float64)  # each list's sum of rows
        self._centroids = np.zeros((0, dim), np.float32)  # each list's normalised mean (0 when empty)
        self._starts = np.zeros(0, np.int64)
        self._sizes = np.zeros(0, np.int64)
        self._caps = np.zeros(0, np.int64)
        self._keys = np.zeros(0, np.uint64)
        self._rows = np.zeros((0, dim), np.float16)
        self._codes = np.zeros((0, dim), np.int8)
        self._factors = np.zeros(0, np.float32)
        self._owner = np.zeros(0, np.int64)  # the list of each slot
        self._end = 0  # slots handed out so far
        self._where: dict[int, int] = {}  # key -> its slot

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: int) -> bool:
        return key in self._where

    @property
    def lists(self) -> int:
        """Lists holding at least one row."""
        return int(np.count_nonzero(self._sizes))

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """File unit ``rows`` under new ``keys`` (callers remove a key before they add it again), kept in
        half precision: the sums, the codes and every similarity are of the rows as kept."""
        if not len(keys):
            return
        rows = half(rows)
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
            slot = self._where.pop(key, None)
            if slot is None:
                continue
            j = int(self._owner[slot])
            self._sums[j] -= self._rows[slot]
            last = int(self._starts[j] + self._sizes[j]) - 1
            if slot != last:
                self._move(last, slot)
                self._where[int(self._keys[slot])] = slot
            self._sizes[j] -= 1
            touched.add(j)
            removed += 1
        if touched:
            self._recentre(np.fromiter(touched, dtype=np.int64))
        return removed

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The rows of ``keys`` (all held)."""
        return self._rows[self._slots(keys)].astype(np.float32)

    def block(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, rows) of every list, list by list."""
        slots = self._live_slots()
        return self._keys[slots], self._rows[slots].astype(np.float32)

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

        The lists' 8-bit codes nominate the ``nominees(k)`` best rows (and any tied with the last), which
        are scored again from their rows with ``similarities``: the similarities reported are
        exact, equal to what ``get`` + ``similarities`` give, ties to the lower key."""
        if not len(self) or k <= 0:
            return _NONE
        scores = self._centroids @ q
        query, _ = codes_of(q[None])
        while True:
            chosen = self.probed(scores, probes)
            total = int(self._sizes[chosen].sum())
            approx = np.empty(total, np.float32)
            slots = np.empty(total, np.int64)
            scan(self._codes, self._factors, self._starts, self._sizes, chosen, query[0], approx, slots)
            if allowed is not None:
                mask = np.isin(self._keys[slots], allowed)
                approx, slots = approx[mask], slots[mask]
            if allowed is None or len(slots) >= k or len(chosen) >= self.lists:
                break
            probes *= 2
        keep = nominees(k)
        if len(slots) > max(keep, EXACT_UPTO):
            cut = np.partition(approx, len(approx) - keep)[len(approx) - keep]
            slots = slots[approx >= cut]
        return top_k(self._keys[slots], similarities(self._rows[slots].astype(np.float32), q), k)

    def search_many(self, queries: np.ndarray, k: int, probes: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Top-k of each unit query (the edge builder asks for the neighbours of a whole write)."""
        return [self.search(q, k, probes) for q in queries]

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

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        return np.fromiter((self._where[k] for k in keys.tolist()), dtype=np.int64, count=len(keys))

    def _live_slots(self) -> np.ndarray:
        live = np.flatnonzero(self._sizes)
        if not len(live):
            return np.empty(0, np.int64)
        return np.concatenate([np.arange(self._starts[j], self._starts[j] + self._sizes[j]) for j in live])

    def _new_list(self) -> int:
        self._sums = np.vstack([self._sums, np.zeros((1, self.dim))])
        self._centroids = np.vstack([self._centroids, np.zeros((1, self.dim), np.float32)])
        self._starts = np.append(self._starts, self._end)
        self._sizes = np.append(self._sizes, 0)
        self._caps = np.append(self._caps, 0)
        return len(self._sizes) - 1

    def _append(self, j: int, keys: np.ndarray, rows: np.ndarray) -> None:
        n = int(self._sizes[j])
        need = n + len(keys)
        if need > self._caps[j]:
            # A tenant's first list doubles its room; once lists split, each gets a run of what it holds
            # before it splits, so growing lists leave no runs behind.
            room = self._split_at if len(self._sizes) > 1 else min(2 * int(self._caps[j]), self._split_at)
            self._relocate(j, max(need, room, 16))
        at = int(self._starts[j]) + n
        end = at + len(keys)
        self._keys[at:end] = keys
        self._rows[at:end] = rows
        self._codes[at:end], self._factors[at:end] = codes_of(rows)
        self._owner[at:end] = j
        self._where.update(zip(keys.tolist(), range(at, end), strict=True))
        self._sizes[j] = n + len(keys)

    def _relocate(self, j: int, capacity: int) -> None:
        """Give list ``j`` a run of ``capacity`` slots at the arena's end (packing the arena first if
        moves have left more than a third of it behind)."""
        if self._end + capacity > len(self._keys):
            if 3 * (self._end - int(self._caps.sum())) > self._end:
                self._pack()
            if self._end + capacity > len(self._keys):
                self._grow(max(self._end + capacity, 2 * len(self._keys), 1024))
        n, old = int(self._sizes[j]), int(self._starts[j])
        new = self._end
        for array in (self._keys, self._rows, self._codes, self._factors):
            array[new : new + n] = array[old : old + n]
        self._owner[new : new + capacity] = j
        self._where.update(zip(self._keys[new : new + n].tolist(), range(new, new + n), strict=True))
        self._starts[j], self._caps[j] = new, capacity
        self._end += capacity

    def _grow(self, slots: int) -> None:
        def grown(a: np.ndarray) -> np.ndarray:
            out = np.zeros((slots, *a.shape[1:]), a.dtype)
            out[: self._end] = a[: self._end]
            return out

        self._keys, self._rows, self._codes = grown(self._keys), grown(self._rows), grown(self._codes)
        self._factors, self._owner = grown(self._factors), grown(self._owner)

    def _pack(self) -> None:
        """Lay every list out again side by side, each with the room it had."""
        slots, caps = self._live_slots(), np.maximum(self._caps, self._sizes)
        starts = np.concatenate([[0], np.cumsum(caps)[:-1]])
        moved = [a[slots] for a in (self._keys, self._rows, self._codes, self._factors)]
        targets = np.concatenate(
            [np.arange(starts[j], starts[j] + self._sizes[j]) for j in np.flatnonzero(self._sizes)]
            or [np.empty(0, np.int64)]
        )
        for array, values in zip((self._keys, self._rows, self._codes, self._factors), moved, strict=True):
            array[targets] = values
        self._owner[: int(caps.sum())] = np.repeat(np.arange(len(caps)), caps)
        self._starts, self._end = starts.astype(np.int64), int(caps.sum())
        self._where = dict(zip(self._keys[targets].tolist(), targets.tolist(), strict=True))

    def _move(self, source: int, target: int) -> None:
        for array in (self._keys, self._rows, self._codes, self._factors):
            array[target] = array[source]

    def _recentre(self, lists: np.ndarray) -> None:
        sums = self._sums[lists]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = self._sizes[lists] == 0
        self._sums[lists[empty]] = 0.0  # no residue of removed rows
        self._centroids[lists] = np.where(norms > 0, sums / np.where(norms > 0, norms, 1.0), 0.0)
        self._centroids[lists[empty]] = 0.0

    def _split(self, j: int) -> int:
        """Split list ``j`` in two by 2-means over its rows; returns the new list."""
        slots = np.arange(self._starts[j], self._starts[j] + self._sizes[j])
        keys, rows = self._keys[slots], self._rows[slots].astype(np.float32)
        side = _bisected(rows)
        new = self._new_list()
        stay = ~side
        self._sizes[j] = 0
        if self._caps[j] > self._split_at:  # a write overfilled it: give back the oversized run
            self._caps[j] = 0
        self._append(j, keys[stay], rows[stay])
        self._append(new, keys[side], rows[side])
        self._sums[j] = rows[stay].sum(axis=0, dtype=np.float64)
        self._sums[new] = rows[side].sum(axis=0, dtype=np.float64)
        self._recentre(np.array([j, new]))
        return new


EXACT_UPTO = 256  # a scan of this many rows or fewer scores them all exactly


def nominees(k: int) -> int:
    """How many rows the 8-bit codes nominate for a top-k, to be scored again exactly (as the graph's
    candidates are): twice k, and 32 more than k at least."""
    return max(2 * k, k + 32)


def half(rows: np.ndarray) -> np.ndarray:
    """float32 values of ``rows`` rounded to half precision (unit vectors: no overflow, no underflow)."""
    return np.asarray(rows, dtype=np.float32).astype(np.float16).astype(np.float32)


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
        self.lists.add(k, unit(v))

    def remove(self, keys: np.ndarray) -> None:
        """Drop keys; unknown keys are ignored so replays of removals are harmless."""
        self.lists.remove(as_keys(keys))

    @property
    def pending(self) -> int:
        return 0

    def merge(self, limit: int) -> int:
        return 0

    def set_probes(self, probes: int) -> None:
        """Fix how many lists a search scans, whatever their number and the depth asked (recall against
        time); ``scripts/ivf_probe.py`` sweeps it."""
        self._probes_pinned = probes

    def probes(self, k: int) -> int:
        return self._probes_pinned or self.config.probes_for(self.lists.lists, k)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by cosine similarity, best first, restricted to ``allowed`` when given (exactly: a small
        prefilter is scored directly, a large one probes more lists until k are found)."""
        q = self._query(query)
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
        q = half(q / np.where(norms > 0, norms, 1.0))
        return self.lists.search_many(q, k, self.probes(k))

    def similarities(self, query: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of the query to each of ``keys`` that the index holds (the others are left out)."""
        return self._exact(self._query(query), len(keys), as_keys(keys))

    def _query(self, query: np.ndarray) -> np.ndarray:
        """The unit query rounded as the rows are, so a vector's similarity to itself is the same on
        both kinds of index."""
        return half(unit_query(query, self.dim)[None])[0]

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
