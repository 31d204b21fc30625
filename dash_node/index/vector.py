"""Vector index of one shard replica: one usearch HNSW (cosine) per tenant.

Partitioning by tenant makes isolation exact by construction (a query only ever touches its tenant's graph)
and lets each tenant pick its own dimension. Keys are engine-allocated uint64 docnos.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from usearch.index import Index

from dash_node.errors import InvalidArgument, WalCorruption
from dash_node.index.snapshot import file_name, read_snapshot, write_snapshot


@dataclass(frozen=True)
class VectorConfig:
    """HNSW knobs; defaults chosen from scripts/ann_recall.py (recall@10 >= 0.97 at 100k x 256)."""

    connectivity: int = 16
    expansion_add: int = 128
    expansion_search: int = 128
    dtype: str = "f32"
    exact_below: int = 2048  # below this many allowed keys, exact search over just those keys
    # Below this many vectors a tenant is searched exactly: perfect recall, and the same answer on every
    # replica (an HNSW graph depends on the order it was built in, which differs between a replica that
    # grew with the log and one restored from a snapshot).
    exact_search_below: int = 10_000


def _as_keys(keys: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(keys, dtype=np.uint64).reshape(-1))


class TenantVectors:
    """One tenant's HNSW graph; not thread-safe (the engine serialises writers per replica)."""

    def __init__(self, dim: int, config: VectorConfig, index: Index | None = None) -> None:
        if dim <= 0:
            raise InvalidArgument("vector.dim", f"must be positive, got {dim}")
        self.dim = dim
        self.config = config
        self._index = index if index is not None else self._new_index(dim, config)
        self._index.expansion_search = config.expansion_search

    @staticmethod
    def _new_index(dim: int, config: VectorConfig) -> Index:
        return Index(
            ndim=dim,
            metric="cos",
            dtype=config.dtype,
            connectivity=config.connectivity,
            expansion_add=config.expansion_add,
            expansion_search=config.expansion_search,
        )

    def _check_vectors(self, vectors: np.ndarray, n: int) -> np.ndarray:
        v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if v.ndim == 1 and n == 1:
            v = v.reshape(1, -1)
        if v.ndim != 2 or v.shape != (n, self.dim):
            raise InvalidArgument("vectors", f"expected shape ({n}, {self.dim}), got {v.shape}")
        if not np.isfinite(v).all():
            raise InvalidArgument("vectors", "contain NaN or infinity")
        if n and (np.linalg.norm(v, axis=1) == 0).any():
            raise InvalidArgument("vectors", "zero-norm vector has no cosine direction")
        return v

    def upsert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Replace-or-insert so WAL replays are idempotent; within a batch the last duplicate key wins."""
        k = _as_keys(keys)
        v = self._check_vectors(vectors, len(k))
        if len(k) == 0:
            return
        # keep the last occurrence of each key
        rev_unique, rev_idx = np.unique(k[::-1], return_index=True)
        if len(rev_unique) != len(k):
            idx = np.sort(len(k) - 1 - rev_idx)
            k, v = k[idx], v[idx]
        self.remove(k)
        self._index.add(k, v)

    def remove(self, keys: np.ndarray) -> None:
        """Drop keys; unknown keys are ignored so replays of removals are harmless."""
        k = _as_keys(keys)
        if len(k) == 0 or len(self._index) == 0:
            return
        present = k[np.asarray(self._index.contains(k), dtype=bool).reshape(-1)]
        if len(present):
            self._index.remove(present)

    def _query(self, query: np.ndarray) -> np.ndarray:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape != (self.dim,):
            raise InvalidArgument("query.vector", f"expected dimension {self.dim}, got {q.shape[0]}")
        if not np.isfinite(q).all() or not np.linalg.norm(q):
            raise InvalidArgument("query.vector", "must be finite and non-zero")
        return q

    def _exact(self, q: np.ndarray, k: int, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Brute-force cosine over `candidates` (deduplicated, present-only): exact for small prefilters."""
        cand = np.unique(candidates)
        if len(cand) == 0 or len(self._index) == 0:
            return np.empty(0, np.uint64), np.empty(0, np.float32)
        cand = cand[np.asarray(self._index.contains(cand), dtype=bool).reshape(-1)]
        if len(cand) == 0:
            return np.empty(0, np.uint64), np.empty(0, np.float32)
        mat = np.asarray(self._index.get(cand), dtype=np.float32).reshape(len(cand), self.dim)
        norms = np.linalg.norm(mat, axis=1)
        norms[norms == 0] = 1.0
        sims = (mat @ (q / np.linalg.norm(q))) / norms
        top = min(k, len(cand))
        part = np.argpartition(-sims, top - 1)[:top] if top < len(cand) else np.arange(len(cand))
        order = part[np.lexsort((cand[part], -sims[part]))]
        return cand[order], sims[order].astype(np.float32)

    def similarities(self, query: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of the query to each of ``keys`` that the index holds (the others are left out)."""
        return self._exact(self._query(query), len(keys), _as_keys(keys))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by cosine similarity (1 - distance), best first, restricted to `allowed` when given."""
        q = self._query(query)
        n = len(self._index)
        if k <= 0 or n == 0:
            return np.empty(0, np.uint64), np.empty(0, np.float32)
        if allowed is None and n <= self.config.exact_search_below:
            return self._exact_all(q.reshape(1, -1), k)[0]
        if allowed is None:
            m = self._index.search(q, min(k, n))
            return np.asarray(m.keys, np.uint64), (1.0 - np.asarray(m.distances)).astype(np.float32)
        allow = _as_keys(allowed)  # no np.unique here: sorting a large prefilter costs more than the search
        if len(allow) <= self.config.exact_below:
            return self._exact(q, k, allow)
        count = min(k * 4, n)
        while True:
            m = self._index.search(q, count)
            keys = np.asarray(m.keys, np.uint64)
            mask = np.isin(keys, allow)
            if mask.sum() >= k:
                keys, dist = keys[mask][:k], np.asarray(m.distances)[mask][:k]
                return keys, (1.0 - dist).astype(np.float32)
            if count >= n:
                # graph exhausted without k hits: fall back to exact so the filter never loses results
                return self._exact(q, k, allow)
            count = min(count * 2, n)

    def _exact_all(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Brute force in usearch over the whole tenant, over-fetched so ties at the cut are broken by
        key, not by the order the index was built in."""
        n = len(self._index)
        m = self._index.search(queries, min(2 * k, n), exact=True)
        keys, dist = np.asarray(m.keys), np.asarray(m.distances)
        if not hasattr(m, "counts"):
            keys, dist, counts = keys.reshape(1, -1), dist.reshape(1, -1), [keys.size]
        else:
            counts = np.asarray(m.counts)
        out = []
        for i in range(len(queries)):
            ks = keys[i, : counts[i]].astype(np.uint64)
            sims = (1.0 - dist[i, : counts[i]]).astype(np.float32)
            order = np.lexsort((ks, -sims))[:k]
            out.append((ks[order], sims[order]))
        return out

    def search_many(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Unfiltered top-k for several queries in one call (usearch searches a batch in parallel)."""
        n = len(self._index)
        if k <= 0 or n == 0 or len(queries) == 0:
            return [(np.empty(0, np.uint64), np.empty(0, np.float32)) for _ in range(len(queries))]
        q = np.ascontiguousarray(np.asarray(queries, dtype=np.float32).reshape(len(queries), self.dim))
        if n <= self.config.exact_search_below:
            return self._exact_all(q, k)
        m = self._index.search(q, min(k, n))
        keys, dist = np.asarray(m.keys), np.asarray(m.distances)
        if not hasattr(m, "counts"):  # usearch answers a one-row batch with plain Matches
            return [(keys.astype(np.uint64), (1.0 - dist).astype(np.float32))]
        counts = np.asarray(m.counts)
        return [
            (keys[i, : counts[i]].astype(np.uint64), (1.0 - dist[i, : counts[i]]).astype(np.float32))
            for i in range(len(queries))
        ]

    def keys(self) -> np.ndarray:
        """Live keys (for checks and tests)."""
        return np.asarray(self._index.keys, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int | np.integer) or int(key) < 0:
            return False
        return bool(self._index.contains(int(key)))


class VectorStore:
    """All tenants of one replica, with atomic snapshot save/load tagged by the WAL LSN it covers."""

    def __init__(self, config: VectorConfig = VectorConfig()) -> None:
        self.config = config
        self._tenants: dict[str, TenantVectors] = {}

    def tenant(self, tenant_id: str) -> TenantVectors | None:
        return self._tenants.get(tenant_id)

    def ensure(self, tenant_id: str, dim: int) -> TenantVectors:
        """Create on first use; a tenant's dimension is fixed by its first vector."""
        t = self._tenants.get(tenant_id)
        if t is None:
            t = self._tenants[tenant_id] = TenantVectors(dim, self.config)
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

    def dim_of(self, tenant_id: str) -> int | None:
        t = self._tenants.get(tenant_id)
        return None if t is None else t.dim

    def __iter__(self) -> Iterator[str]:
        return iter(self._tenants)

    def save(self, directory: Path, lsn: int) -> None:
        """Publish a snapshot of every tenant's graph, tagged with ``lsn`` (see ``snapshot``)."""
        writers, tenants = {}, {}
        for tenant_id, t in self._tenants.items():
            name = file_name(tenant_id, ".usearch")
            writers[name] = lambda path, t=t: t._index.save(str(path))
            tenants[tenant_id] = {"file": name, "dim": t.dim, "count": len(t)}
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
                path = where / info["file"]
                dim = int(info["dim"])
                index = TenantVectors._new_index(dim, config)
                index.load(str(path))
                if len(index) != int(info["count"]) or index.ndim != dim:
                    raise WalCorruption(f"{path}: count or dimension differs from the manifest")
                store._tenants[tenant_id] = TenantVectors(dim, config, index)
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
