"""Vector index of one shard replica: one usearch HNSW per tenant, plus a write buffer.

Partitioning by tenant makes isolation exact by construction (a query only ever touches its tenant's graph)
and lets each tenant pick its own dimension. Keys are engine-allocated uint64 docnos.

Inserting into an HNSW graph costs ~0.4 ms per vector at a few hundred thousand vectors here, far more
than the rest of a write. So a write only appends its vectors to a flat buffer, searched exactly beside
the graph (it is small), and the engine's indexer thread moves buffered vectors into the graph in small
chunks off the acknowledgement path (usearch releases the GIL while it inserts, but takes it back for
each vector: scripts/gil_contention.py). Tenants small enough to be searched exactly go straight into the
graph.

Similarity is cosine, computed as the inner product of unit vectors: vectors are normalised once on the
way in, so the graph's metric need not divide by two norms at every comparison (at 250k of the bench's
claims, inner product inserts 22% and searches 31% faster than usearch's cosine, with the same recall).

The graph keeps 8-bit vectors (cheaper to insert and to search) and only nominates candidates; DASH keeps
an exact half-precision copy of each vector beside it (`_Copies`) and ranks the candidates again from it,
as it scores the write buffer, so every path gives a claim the same similarity.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from usearch.index import Index, MetricKind, ScalarKind

from dash_node.errors import InvalidArgument, WalCorruption
from dash_node.index.ivf import InvertedFile, TenantLists
from dash_node.index.rows import as_keys, checked_rows, last_of_each, unit, unit_query
from dash_node.index.snapshot import file_name, read_snapshot, write_snapshot
from dash_node.index.topk import top_k


@dataclass(frozen=True)
class VectorConfig:
    """Which index a new tenant gets, and its knobs, chosen with scripts/ann_recall.py on the bench's claims
    (``--data corpus``).

    ``kind``: "ivf", an inverted file (``ivf.TenantLists``): a vector is filed into its list on the write
    itself for ~15-30 µs of CPU, against ~245 µs to insert it into a graph of 250k, which is what one
    node's sustained ingest needed; at 250k it finds the same neighbours (recall@10 0.982 scanning 32
    lists), and its scan of 8-bit codes answers a top-50 of 100k in 0.26 ms against the graph's 0.35,
    for ~40% more memory (docs/decisions.md, "An inverted file instead of the graph"). "hnsw", a
    usearch graph behind a write buffer (``TenantVectors``). A snapshot keeps each tenant's kind,
    whatever the configuration says.

    The inverted file's knobs: a list splits in two when it reaches ``list_split_at`` rows, and a search
    for up to ``probes_depth`` neighbours scans the ``probes`` lists nearest the query, or ``probe_share``
    of them all when that is more, so the share of a tenant scanned stops falling as it grows. A deeper
    search scans proportionally more: the true top 100 spread over more lists than the top 10 (100k of
    the bench's claims, 292 lists: recall@100 0.914 scanning 32 lists, 0.980 scanning 96, 0.990 scanning
    128; recall@10 0.984 at 32). A planner's top-10 asks for 50 candidates, a top-50 for 100.

    Graph insertion is most of a node's ingest CPU and costs in proportion to ``expansion_add``. At 250k
    8-bit vectors ranked again from exact copies (the shape of an xlarge shard), recall@10 is 0.983 at 128,
    0.981-0.983 at 96, 0.977 at 80 and 0.952 at 64, so 96 (a quarter less insertion CPU than 128) is
    where recall starts to pay for speed (docs/decisions.md, "Graph build breadth")."""

    kind: str = "ivf"
    list_split_at: int = 512
    probes: int = 32
    probe_share: float = 1 / 32
    probes_depth: int = 50
    # The HNSW graph's knobs.
    connectivity: int = 16
    expansion_add: int = 96
    # How wide a graph search runs grows with the graph: measured on the bench's claims
    # (scripts/ann_recall.py --data corpus, docs/benchmarks/ann_recall_corpus_{100k,250k}_sweep.json),
    # recall@10 is 0.987 at 64 and 0.994 at 128 for 100k vectors, but 0.951 and 0.970 for 250k. So a
    # graph of up to `expansion_min_upto` vectors searches at `expansion_search_min`, one of
    # `expansion_full_from` or more at `expansion_search`, and one in between at a breadth growing with
    # the logarithm of its size. A small graph no longer pays the breadth a large one needs (a top-50
    # search of 100k vectors: 0.2-0.4 ms less, docs/decisions.md). At 250k, 192 rather than 128: recall@10
    # 0.968 -> 0.980 for ~0.1 ms more per search, which the 1M target (>= 0.97, measured 0.969-0.984 at
    # 128) needed as margin (docs/decisions.md, "Search breadth of large graphs").
    expansion_search: int = 192
    expansion_search_min: int = 64
    expansion_min_upto: int = 100_000
    expansion_full_from: int = 250_000
    # The graph's precision. 8-bit: at 250k of the bench's claims it inserts for 29% less CPU than half
    # precision and searches faster (scripts/quantized_rerank.py); it only nominates candidates, which are
    # ranked again from exact half-precision copies of the vectors (`_Copies`), `rerank_factor` times as
    # many as asked for. ("f16" and "f32" graphs work the same way; snapshots keep the precision they
    # were written with.)
    dtype: str = "i8"
    rerank_factor: int = 2
    exact_below: int = 2048  # below this many allowed keys, exact search over just those keys
    # Below this many vectors a tenant is searched exactly: perfect recall, and the same answer on every
    # replica (an HNSW graph depends on the order it was built in, which differs between a replica that
    # grew with the log and one restored from a snapshot).
    exact_search_below: int = 10_000
    # The write buffer: vectors moved into the graph per indexer step (a search waits at most one step:
    # 64 into a 180k graph, searches during a restart's catch-up took 33 ms at p50, 65 with 256), and
    # the size beyond which each write moves as many vectors as it adds (so writes cannot grow the
    # buffer, searched exactly, and the work owed to the graph without bound). Recovery may leave more
    # buffered than this: the replica serves while its indexer drains them.
    merge_chunk: int = 64
    max_pending: int = 20_000

    def probes_for(self, lists: int, k: int) -> int:
        """How many lists a top-``k`` search of an inverted file of ``lists`` lists scans."""
        return math.ceil(max(self.probes, lists * self.probe_share) * max(1.0, k / self.probes_depth))

    def expansion_for(self, vectors: int) -> int:
        """The search breadth for a graph of ``vectors`` (see ``expansion_search``)."""
        low, high = self.expansion_search_min, self.expansion_search
        if vectors <= self.expansion_min_upto or high <= low:
            return min(low, high)
        if vectors >= self.expansion_full_from:
            return high
        share = math.log(vectors / self.expansion_min_upto) / math.log(
            self.expansion_full_from / self.expansion_min_upto
        )
        return round(low * (high / low) ** share)


class TenantVectors:
    """One tenant's HNSW graph and write buffer; not thread-safe (the engine's index lock serialises)."""

    def __init__(
        self,
        dim: int,
        config: VectorConfig,
        index: Index | None = None,
        pending: tuple[np.ndarray, np.ndarray] | None = None,
        copies: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if dim <= 0:
            raise InvalidArgument("vector.dim", f"must be positive, got {dim}")
        self.dim = dim
        self.config = config
        self._index = index if index is not None else self._new_index(dim, config)
        # Snapshots written before the switch to inner product keep their cosine graph; the exact paths
        # follow whichever metric the graph has, so a claim's similarity does not depend on the path.
        self._cosine = self._index.metric_kind == MetricKind.Cos
        # Rows are kept (and queries rounded) at half precision, or single for a float32 graph.
        self._precision = "f32" if self._index.dtype == ScalarKind.F32 else "f16"
        # (half precision once the tenant outgrows exact search; a float32 graph's copies stay single)
        single_upto = config.exact_search_below if self._precision == "f16" else math.inf
        self._copies = _Copies(dim, single_upto)
        if copies is not None:
            self._copies.put(*copies)
        elif len(self._index):  # a snapshot from before the copies: its graph holds the exact rows
            keys = np.asarray(self._index.keys, dtype=np.uint64)
            self._copies.put(keys, self._graph_rows(keys))
        self._breadth_pinned: int | None = None  # set_search_expansion: fixed, whatever the graph's size
        self._breadth: int | None = None  # what the graph was last told
        # Written but not yet in the graph, oldest first; searched exactly.
        self._pending: dict[int, np.ndarray] = {}
        # (keys, matrix, row norms) of the buffer, stacked when a search needs them
        self._pending_arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if pending is not None:
            for key, row in zip(pending[0].tolist(), pending[1], strict=True):
                self._pending[int(key)] = row

    @staticmethod
    def _new_index(dim: int, config: VectorConfig, metric: MetricKind = MetricKind.IP) -> Index:
        return Index(
            ndim=dim,
            metric=metric,
            dtype=config.dtype,
            connectivity=config.connectivity,
            expansion_add=config.expansion_add,
            expansion_search=config.expansion_search,
        )

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Replace-or-insert so WAL replays are idempotent; within a batch the last duplicate key wins."""
        k = as_keys(keys)
        v = checked_rows(vectors, len(k), self.dim)
        if len(k) == 0:
            return
        k, v = last_of_each(k, v)
        v = self._stored(unit(v))
        self.remove(k)
        if len(self) + len(k) <= self.config.exact_search_below:
            self._index.add(k, v)  # searched exactly anyway: no point buffering
            self._copies.put(k, v)
            return
        for key, row in zip(k.tolist(), v, strict=True):
            self._pending[key] = row
        self._pending_arrays = None

    def remove(self, keys: np.ndarray) -> None:
        """Drop keys; unknown keys are ignored so replays of removals are harmless."""
        k = as_keys(keys)
        if len(k) == 0:
            return
        if self._pending:
            dropped = [self._pending.pop(key, None) for key in k.tolist()]
            if any(d is not None for d in dropped):
                self._pending_arrays = None
        if len(self._index) == 0:
            return
        present = k[np.asarray(self._index.contains(k), dtype=bool).reshape(-1)]
        if len(present):
            self._index.remove(present)
            self._copies.drop(present)

    def set_search_expansion(self, expansion: int) -> None:
        """Fix how wide the graph search runs, whatever the graph's size (recall against time);
        `scripts/ann_recall.py` sweeps it."""
        self._breadth_pinned = expansion

    def _candidates(self, queries: np.ndarray, count: int) -> list[np.ndarray]:
        """Each query's ``count`` nearest keys by the graph's own (quantised) distances, searched at the
        breadth this graph's size calls for."""
        breadth = self._breadth_pinned or self.config.expansion_for(len(self._index))
        if breadth != self._breadth:
            self._index.expansion_search = self._breadth = breadth
        return [keys for keys, _ in _hit_rows(self._index.search(queries, count), len(queries))]

    def _graph_hits(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each query's top-k from the graph: ``rerank_factor`` times k candidates (16 more at least, so a
        top-1 is not left to the quantised order), ranked by their exact similarity from the copies."""
        count = min(len(self._index), max(k * self.config.rerank_factor, k + 16))
        nominated = self._candidates(queries, count)
        return [self._reranked(keys, q, k) for q, keys in zip(queries, nominated, strict=True)]

    def _reranked(self, keys: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return _top(keys, self._similarities(self._copies.get(keys), q), k)

    @property
    def pending(self) -> int:
        """Vectors written but not yet in the graph."""
        return len(self._pending)

    def merge(self, limit: int) -> int:
        """Move up to ``limit`` of the oldest buffered vectors into the graph; returns how many moved."""
        items = list(itertools.islice(self._pending.items(), limit))
        if not items:
            return 0
        keys = np.fromiter((key for key, _ in items), dtype=np.uint64, count=len(items))
        rows = np.stack([row for _, row in items])
        self._index.add(keys, rows)
        self._copies.put(keys, rows)
        for key, _ in items:
            del self._pending[key]
        if self._pending_arrays is not None:
            # The oldest rows went, and the stacked buffer is in the same order: drop its head (a view)
            # instead of stacking it again, which would cost every search after each step O(buffer).
            n = len(items)
            self._pending_arrays = tuple(None if a is None else a[n:] for a in self._pending_arrays)
        return len(items)

    def _buffered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The buffer's keys, vectors and (for a cosine graph) their norms, oldest first."""
        if self._pending_arrays is None:
            keys = np.fromiter(self._pending, dtype=np.uint64, count=len(self._pending))
            rows = list(self._pending.values())
            matrix = np.stack(rows) if rows else np.empty((0, self.dim), np.float32)
            self._pending_arrays = keys, matrix, _norms(matrix) if self._cosine else None
        return self._pending_arrays

    def _query(self, query: np.ndarray) -> np.ndarray:
        return self._stored(unit_query(query, self.dim))

    def _stored(self, vectors: np.ndarray) -> np.ndarray:
        """Unit vectors as the copies keep them (a query too), so the buffer's exact cosines equal the
        graph's reranked ones and a claim has one similarity whichever path finds it."""
        return stored(vectors, self._precision)

    def _vectors_of(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(keys present, their vectors) among ``keys``, from the buffer or the graph."""
        in_graph = keys
        parts_k, parts_v = [], []
        if self._pending:
            buffered = np.fromiter((k in self._pending for k in keys.tolist()), dtype=bool, count=len(keys))
            if buffered.any():
                parts_k.append(keys[buffered])
                parts_v.append(np.stack([self._pending[k] for k in keys[buffered].tolist()]))
                in_graph = keys[~buffered]
        if len(in_graph) and len(self._copies):
            in_graph = in_graph[np.fromiter((k in self._copies for k in in_graph.tolist()), dtype=bool)]
            if len(in_graph):
                parts_k.append(in_graph)
                parts_v.append(self._copies.get(in_graph))
        if not parts_k:
            return np.empty(0, np.uint64), np.empty((0, self.dim), np.float32)
        return np.concatenate(parts_k), np.concatenate(parts_v)

    def _graph_rows(self, keys: np.ndarray) -> np.ndarray:
        """The graph's float32 rows of ``keys`` (all present), read once when a snapshot from before the
        copies loads. usearch's ``Index.get`` wraps every row in Python (a view per key, then a tuple to
        stack); the compiled call under it, asked for float32, converts in C++ (usearch is pinned; a test
        compares the two)."""
        return np.concatenate(self._index._compiled.get_many(keys, ScalarKind.F32)).reshape(
            len(keys), self.dim
        )

    def _exact(self, q: np.ndarray, k: int, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Brute-force cosine over `candidates` (deduplicated, present-only): exact for small prefilters."""
        cand, mat = self._vectors_of(np.unique(candidates))
        if len(cand) == 0:
            return np.empty(0, np.uint64), np.empty(0, np.float32)
        return _top(cand, self._similarities(mat, q), k)

    def similarities(self, query: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of the query to each of ``keys`` that the index holds (the others are left out)."""
        return self._exact(self._query(query), len(keys), as_keys(keys))

    def _buffer_hits(
        self, q: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        keys, matrix, norms = self._buffered()
        if allowed is not None and len(keys):
            mask = np.isin(keys, allowed)
            keys, matrix = keys[mask], matrix[mask]
            norms = None if norms is None else norms[mask]
        if len(keys) == 0:
            return np.empty(0, np.uint64), np.empty(0, np.float32)
        return _top(keys, self._similarities(matrix, q, norms), k)

    def _similarities(self, matrix: np.ndarray, q: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
        """Each row's similarity to the stored unit query ``q``, as the graph's metric computes it.
        einsum, not ``matrix @ q``: BLAS rounds rows differently by their position, so equal vectors
        would score apart and replicas split ties differently (30% slower)."""
        if self._cosine:
            if norms is None:
                norms = _norms(matrix)
            return np.einsum("ij,j->i", matrix, q / np.linalg.norm(q)) / norms
        return np.einsum("ij,j->i", matrix, q)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by cosine similarity (1 - distance), best first, restricted to `allowed` when given."""
        q = self._query(query)
        n = len(self._index)
        if k <= 0 or len(self) == 0:
            return np.empty(0, np.uint64), np.empty(0, np.float32)
        if allowed is None and len(self) <= self.config.exact_search_below:
            return self._exact_all(q.reshape(1, -1), k)[0]
        if allowed is None:
            graph = np.empty(0, np.uint64), np.empty(0, np.float32)
            if n:
                graph = self._graph_hits(q.reshape(1, -1), k)[0]
            return _merged(graph, self._buffer_hits(q, k), k)
        allow = as_keys(allowed)  # no np.unique here: sorting a large prefilter costs more than the search
        if len(allow) <= self.config.exact_below:
            return self._exact(q, k, allow)
        buffered = self._buffer_hits(q, k, allow)
        count = min(k * 4 * max(self.config.rerank_factor, 1), n)
        while n:
            keys = self._candidates(q.reshape(1, -1), count)[0]
            mask = np.isin(keys, allow)
            if mask.sum() >= k:
                return _merged(self._reranked(keys[mask], q, k), buffered, k)
            if count >= n:
                break
            count = min(count * 2, n)
        # graph exhausted without k hits: fall back to exact so the filter never loses results
        return self._exact(q, k, allow)

    def _exact_all(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Brute force over the whole tenant's copies (ties broken by key, not by the order the graph was
        built in), merged with the buffer."""
        keys, matrix = self._copies.block()
        if len(keys) == 0:
            return [self._buffer_hits(q, k) for q in queries]
        out = []
        for q in queries:
            graph = _top(keys, self._similarities(matrix, q), k)
            out.append(_merged(graph, self._buffer_hits(q, k), k) if self._pending else graph)
        return out

    def search_many(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Unfiltered top-k for several queries in one call (usearch searches a batch in parallel)."""
        n = len(self._index)
        if k <= 0 or len(self) == 0 or len(queries) == 0:
            return [(np.empty(0, np.uint64), np.empty(0, np.float32)) for _ in range(len(queries))]
        q = np.asarray(queries, dtype=np.float32).reshape(len(queries), self.dim)
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        q = np.ascontiguousarray(self._stored(q / np.where(norms > 0, norms, 1.0)))
        if len(self) <= self.config.exact_search_below:
            return self._exact_all(q, k)
        if n == 0:
            return [self._buffer_hits(row, k) for row in q]
        hits = self._graph_hits(q, k)
        return [_merged(hit, self._buffer_hits(row, k), k) for row, hit in zip(q, hits, strict=True)]

    def keys(self) -> np.ndarray:
        """Live keys (for checks and tests)."""
        return np.concatenate([self._copies.block()[0], self._buffered()[0]])

    def __len__(self) -> int:
        return len(self._index) + len(self._pending)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer) or int(key) < 0:
            return False
        return int(key) in self._pending or int(key) in self._copies


class _Copies:
    """The exact row of every vector in a tenant's graph, by key. An 8-bit graph ranks by quantised
    distances; every similarity DASH reports is computed again from these rows, the same way as the write
    buffer's, so a claim scores the same whichever path finds it. The rows form one dense block (a
    removal moves the last row into the hole), so a rerank is one gather and an exact search one product.
    They are float32 while the tenant is small enough to be searched exactly (numpy has no fast
    half-precision product: 4 ms over 10k rows against 0.25), half precision once it outgrows that (the
    values are the same: rows are rounded to half precision on the way in)."""

    def __init__(self, dim: int, single_upto: float) -> None:
        self._slot: dict[int, int] = {}
        self._keys = np.empty(0, np.uint64)
        self._matrix = np.empty((0, dim), np.float32)
        self._single_upto = single_upto

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, key: int) -> bool:
        return key in self._slot

    def put(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Append the rows of keys not held yet (callers remove a key before they put it again)."""
        n, need = len(self._slot), len(self._slot) + len(keys)
        if need > len(self._keys):
            capacity = max(need, 2 * len(self._keys), 64)
            dtype = np.float16 if need > self._single_upto else self._matrix.dtype
            matrix = np.empty((capacity, self._matrix.shape[1]), dtype)
            matrix[:n] = self._matrix[:n]
            grown = np.empty(capacity, np.uint64)
            grown[:n] = self._keys[:n]
            self._matrix, self._keys = matrix, grown
        self._matrix[n:need] = rows
        self._keys[n:need] = keys
        for i, key in enumerate(keys.tolist()):
            self._slot[key] = n + i

    def drop(self, keys: np.ndarray) -> None:
        for key in keys.tolist():
            slot = self._slot.pop(key, None)
            if slot is None:
                continue
            last = len(self._slot)
            if slot != last:
                moved = int(self._keys[last])
                self._keys[slot], self._matrix[slot] = moved, self._matrix[last]
                self._slot[moved] = slot

    def get(self, keys: np.ndarray) -> np.ndarray:
        """float32 rows of ``keys`` (all held)."""
        slots = np.fromiter((self._slot[k] for k in keys.tolist()), dtype=np.intp, count=len(keys))
        return self._matrix[slots].astype(np.float32, copy=False)

    def block(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, float32 rows) of all, in slot order."""
        n = len(self._slot)
        return self._keys[:n], self._matrix[:n].astype(np.float32, copy=False)

    def stored(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, rows) as kept, for a snapshot."""
        n = len(self._slot)
        return self._keys[:n], self._matrix[:n]


def _hit_rows(matches, queries: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each query's (keys, cosines) from a usearch answer (a one-query batch comes back as plain Matches)."""
    keys = np.asarray(matches.keys).reshape(queries, -1)
    sims = 1.0 - np.asarray(matches.distances, dtype=np.float32).reshape(queries, -1)
    counts = np.asarray(matches.counts) if hasattr(matches, "counts") else [keys.shape[1]]
    return [(keys[i, : counts[i]].astype(np.uint64), sims[i, : counts[i]]) for i in range(queries)]


def stored(vectors: np.ndarray, dtype: str) -> np.ndarray:
    """The float32 values DASH keeps for ``vectors`` (a copy) beside a graph of ``dtype``: single precision
    for an "f32" graph, half for the others ("f16", "i8"). "Exact" search here means exact over these, so
    tests compute their ground truth from them too. (A graph loaded from a snapshot keeps the precision it
    was saved with, whatever the configuration says.) Half precision needs unit vectors: larger components
    overflow it, tiny ones vanish."""
    v = np.asarray(vectors, dtype=np.float32)
    return v.copy() if dtype == "f32" else v.astype(np.float16).astype(np.float32)


def _norms(matrix: np.ndarray) -> np.ndarray:
    """Each row's length (1 where it is zero). Four times faster than ``np.linalg.norm(axis=1)``, which
    cost 56 ms of a 69 ms search over a 100k-vector buffer."""
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    norms[norms == 0] = 1.0
    return norms


def _top(keys: np.ndarray, sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar, ties to the lower key, as float32 similarities."""
    keys, sims = top_k(keys, sims, k)
    return keys, sims.astype(np.float32)


def _merged(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Graph hits and buffer hits as one top-k (a key is in one or the other, never both)."""
    if len(b[0]) == 0:
        return a
    if len(a[0]) == 0:
        return b
    return _top(np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]]), k)


class VectorStore:
    """All tenants of one replica, with atomic snapshot save/load tagged by the WAL LSN it covers."""

    def __init__(self, config: VectorConfig = VectorConfig()) -> None:
        self.config = config
        self._tenants: dict[str, Tenant] = {}

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    def ensure(self, tenant_id: str, dim: int) -> Tenant:
        """Create on first use, of the configured kind; a tenant's dimension is fixed by its first vector."""
        t = self._tenants.get(tenant_id)
        if t is None:
            kind = TenantLists if self.config.kind == "ivf" else TenantVectors
            t = self._tenants[tenant_id] = kind(dim, self.config)
        elif t.dim != dim:
            raise InvalidArgument("vector.dim", f"tenant uses dimension {t.dim}, got {dim}")
        return t

    def search_packed(self, tenant_id: str, vectors: list[bytes], k: int) -> list[list[tuple[int, float]]]:
        """Top-k (key, similarity) hits for packed little-endian float32 vectors, one batched search; a
        vector of another dimension than the tenant's gets no hits (the edge builder's neighbour search)."""
        out: list[list[tuple[int, float]]] = [[] for _ in vectors]
        tv = self._tenants.get(tenant_id)
        if tv is None or not len(tv):
            return out
        rows = [i for i, raw in enumerate(vectors) if len(raw) == 4 * tv.dim]
        if not rows:
            return out
        matrix = np.stack([np.frombuffer(vectors[i], dtype="<f4") for i in rows])
        for i, (keys, sims) in zip(rows, tv.search_many(matrix, k), strict=True):
            out[i] = list(zip(keys.tolist(), sims.tolist(), strict=True))
        return out

    @property
    def pending(self) -> int:
        """Vectors written but not yet in a graph, over all tenants."""
        return sum(t.pending for t in self._tenants.values())

    def merge(self, limit: int) -> int:
        """Move up to ``limit`` buffered vectors into their graphs (one tenant per call)."""
        for t in self._tenants.values():
            if t.pending:
                return t.merge(limit)
        return 0

    def dim_of(self, tenant_id: str) -> int | None:
        t = self._tenants.get(tenant_id)
        return None if t is None else t.dim

    def __iter__(self) -> Iterator[str]:
        return iter(self._tenants)

    def save(self, directory: Path, lsn: int) -> None:
        """Publish a snapshot of every tenant's graph, tagged with ``lsn`` (see ``snapshot``)."""
        writers, tenants = {}, {}
        for tenant_id, t in self._tenants.items():
            if isinstance(t, TenantLists):
                info = {"kind": "ivf", "dim": t.dim, "count": len(t)}
                for part, array in t.lists.state().items():
                    info[part] = file_name(tenant_id, f".ivf-{part}.npy")
                    writers[info[part]] = lambda path, a=array: _save_npy(path, a)
                tenants[tenant_id] = info
                continue
            name = file_name(tenant_id, ".usearch")
            writers[name] = lambda path, t=t: t._index.save(str(path))
            info = {"file": name, "dim": t.dim, "count": len(t._index)}
            info["copy_keys"] = file_name(tenant_id, ".copy-keys.npy")
            info["copy_rows"] = file_name(tenant_id, ".copy-rows.npy")
            keys, rows = t._copies.stored()
            writers[info["copy_keys"]] = lambda path, a=keys: _save_npy(path, a)
            writers[info["copy_rows"]] = lambda path, a=rows: _save_npy(path, a)
            if t.pending:  # the buffer is saved as it is: a checkpoint does not wait for the graph
                keys, matrix, _ = t._buffered()
                info["pending_keys"] = file_name(tenant_id, ".pending-keys.npy")
                info["pending_vectors"] = file_name(tenant_id, ".pending-vectors.npy")
                writers[info["pending_keys"]] = lambda path, a=keys: _save_npy(path, a)
                writers[info["pending_vectors"]] = lambda path, a=matrix: _save_npy(path, a)
            tenants[tenant_id] = info
        write_snapshot(directory, lsn, writers, {"tenants": tenants})

    @classmethod
    def load(cls, directory: Path, config: VectorConfig = VectorConfig()) -> tuple[VectorStore, int]:
        """Load the last published snapshot -> (store, lsn); (empty, 0) if none. Checksums are verified."""
        store = cls(config)
        found = read_snapshot(directory)
        if found is None:
            return store, 0
        where, lsn, meta = found
        try:
            for tenant_id, info in meta["tenants"].items():
                dim = int(info["dim"])
                if info.get("kind") == "ivf":
                    state = {p: np.load(where / info[p], allow_pickle=False) for p in InvertedFile.PARTS}
                    lists = InvertedFile.from_state(dim, config.list_split_at, state)
                    if len(lists) != int(info["count"]):
                        raise WalCorruption(f"{where}: {tenant_id!r}: count differs from the manifest")
                    store._tenants[tenant_id] = TenantLists(dim, config, lists)
                    continue
                path = where / info["file"]
                index = TenantVectors._new_index(dim, config, Index.metadata(str(path))["kind_metric"])
                index.load(str(path))
                if len(index) != int(info["count"]) or index.ndim != dim:
                    raise WalCorruption(f"{path}: count or dimension differs from the manifest")
                pending = None
                if "pending_keys" in info:
                    keys = np.load(where / info["pending_keys"], allow_pickle=False)
                    matrix = np.load(where / info["pending_vectors"], allow_pickle=False)
                    if matrix.shape != (len(keys), dim):
                        raise WalCorruption(f"{where}: buffered vectors do not match their keys")
                    pending = keys.astype(np.uint64), matrix.astype(np.float32)
                copies = None
                if "copy_keys" in info:
                    keys = np.load(where / info["copy_keys"], allow_pickle=False).astype(np.uint64)
                    rows = np.load(where / info["copy_rows"], allow_pickle=False)
                    if rows.shape != (len(keys), dim) or len(keys) != len(index):
                        raise WalCorruption(f"{where}: the vectors' copies do not match their graph")
                    copies = keys, rows
                elif index.dtype not in (ScalarKind.F16, ScalarKind.F32):
                    raise WalCorruption(f"{where}: a {index.dtype.name} graph without its vectors' copies")
                store._tenants[tenant_id] = TenantVectors(dim, config, index, pending, copies)
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            RuntimeError,
            OSError,
            InvalidArgument,
        ) as exc:
            raise WalCorruption(f"{where}: vector snapshot does not load ({exc!r})") from exc
        return store, lsn


Tenant = TenantVectors | TenantLists


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would add ".npy" to a path
        np.save(f, array, allow_pickle=False)
