"""BM25 over claim text: an in-memory inverted index per tenant, snapshotted at checkpoints.

Why not tantivy: making a write searchable in tantivy takes a commit and a reader reload, measured at
11 ms p50 / 39 ms p95 on this disk (``docs/benchmarks/lexical_choice.json``), so ack-time visibility
would cap a replica near 50-90 visible writes per second or need a second in-memory tier anyway; the
WAL already gives durability, so the index only needs to be fast and rebuildable.
Here a write is searchable the moment it is applied, postings are scored by compiled loops (``bm25``),
and every statistic
(document count, average length, document frequency) is per tenant, so one tenant's text can never
shift another's ranking.

Postings are append-only arrays of (docno, generation, term frequency, document length). Replacing or
removing a document bumps its generation in a replica-wide table, which turns its old postings stale at
once; stale postings are skipped when scoring and dropped when a snapshot is written. Each term counts
its stale postings, so the common case (none) scores contiguous arrays without a gather.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from array import array
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import Stemmer

from dash_node.errors import WalCorruption
from dash_node.index.snapshot import file_name, read_snapshot, write_snapshot

MAX_QUERY_TERMS = 256
_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
    ]
)


class Analyzer:
    """NFKC, casefold, word tokens, English stopwords out, Snowball English stems (memoised)."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()

    def terms(self, text: str) -> list[str]:
        words = [
            w for w in _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold()) if w not in _STOPWORDS
        ]
        with self._lock:  # the Stemmer object is not thread-safe
            return self._stemmer.stemWords(words)


class _Postings:
    __slots__ = ("docnos", "gens", "lens", "stale", "tfs")

    def __init__(self) -> None:
        self.docnos = array("Q")
        self.gens = array("I")
        self.tfs = array("I")
        self.lens = array("I")  # the document's length when indexed (a changed document is stale)
        self.stale = 0  # postings of replaced or removed documents among these


class _TenantLexical:
    """One tenant's vocabulary, postings and collection statistics."""

    def __init__(self) -> None:
        self.postings: dict[str, _Postings] = {}
        self.df: Counter[str] = Counter()  # live documents per term
        self.doc_terms: dict[int, tuple[str, ...]] = {}  # live docno -> its distinct terms
        self.total_len = 0


class LexicalIndex:
    """All tenants of one replica. Thread-safe: it has a lock of its own rather than sharing the vector
    graphs', so a write's postings go in while the indexer inserts vectors into a graph (with one lock
    for both, a node used 1.4 of its 2 cores under ingest). Text is analysed outside the lock."""

    def __init__(self) -> None:
        self.analyzer = Analyzer()
        self._lock = threading.Lock()
        self._tenants: dict[str, _TenantLexical] = {}
        # Replica-wide, indexed by docno: current generation (0 = absent) and length in terms.
        self._gen = np.zeros(1024, dtype=np.uint32)
        self._len = np.zeros(1024, dtype=np.uint32)
        # A hash of each document's (term, tf) pairs (0 = unknown), so a document indexed again unchanged
        # (its claim changed, not its text) keeps its postings instead of turning them stale.
        self._sig = np.zeros(1024, dtype=np.int64)
        self._tenant_of: dict[int, str] = {}
        self._stale: dict[int, int] = {}  # removed docno -> its last generation
        # A query's scratch, by docno: the sums (all zero between queries) and the documents touched.
        self._acc = np.zeros(0)
        self._touched = np.zeros(0, dtype=np.uint64)

    def _grow(self, docno: int) -> None:
        if docno >= len(self._gen):
            size = max(docno + 1, 2 * len(self._gen))
            self._gen = np.concatenate([self._gen, np.zeros(size - len(self._gen), np.uint32)])
            self._len = np.concatenate([self._len, np.zeros(size - len(self._len), np.uint32)])
            self._sig = np.concatenate([self._sig, np.zeros(size - len(self._sig), np.int64)])

    def upsert(self, tenant_id: str, docs: Sequence[tuple[int, str]]) -> None:
        """Index (docno, text) pairs; a docno already present is replaced."""
        analysed = []
        for docno, text in docs:
            terms = Counter(self.analyzer.terms(text))
            analysed.append((docno, terms, hash(frozenset(terms.items())) or 1))
        with self._lock:
            t = self._tenants.setdefault(tenant_id, _TenantLexical())
            for docno, terms, sig in analysed:
                self._put(t, tenant_id, docno, terms, sig)

    def _put(self, t: _TenantLexical, tenant_id: str, docno: int, terms: Counter[str], sig: int) -> None:
        if self._tenant_of.get(docno) == tenant_id and self._sig[docno] == sig:
            return
        self._drop(docno)
        self._grow(docno)
        gen = self._stale.pop(docno, 0) + 1  # never reuse a generation: old postings stay stale
        length = sum(terms.values())
        self._gen[docno] = gen
        self._len[docno] = length
        self._sig[docno] = sig
        self._tenant_of[docno] = tenant_id
        for term, tf in terms.items():
            p = t.postings.get(term)
            if p is None:
                p = t.postings[term] = _Postings()
            p.docnos.append(docno)
            p.gens.append(gen)
            p.tfs.append(tf)
            p.lens.append(length)
        t.df.update(terms.keys())
        t.doc_terms[docno] = tuple(terms)
        t.total_len += length

    def remove(self, docnos: Sequence[int]) -> None:
        with self._lock:
            for docno in docnos:
                self._drop(docno)

    def _drop(self, docno: int) -> None:
        tenant_id = self._tenant_of.pop(docno, None)
        if tenant_id is None:
            return
        t = self._tenants[tenant_id]
        terms = t.doc_terms.pop(docno)
        for term in terms:
            t.postings[term].stale += 1
        t.df.subtract(terms)
        t.total_len -= int(self._len[docno])
        self._stale[docno] = int(self._gen[docno])
        self._gen[docno] = 0
        self._len[docno] = 0
        self._sig[docno] = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._tenant_of)

    def search(
        self, tenant_id: str, query: str, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (docno, BM25) for the query's terms, best first; ``allowed`` restricts docnos."""
        terms = list(dict.fromkeys(self.analyzer.terms(query)))[:MAX_QUERY_TERMS]
        with self._lock:
            return self._search(tenant_id, terms, k, allowed)

    def _search(
        self, tenant_id: str, terms: list[str], k: int, allowed: set[int] | None
    ) -> list[tuple[int, float]]:
        t = self._tenants.get(tenant_id)
        if t is None or not t.doc_terms or k <= 0:
            return []
        from dash_node.index.bm25 import K1, B, accumulate, take_best  # numba: imported where it is used

        n_docs = len(t.doc_terms)
        length_norm = K1 * B / max(t.total_len / n_docs, 1e-9)
        if len(self._acc) < len(self._gen):
            self._acc = np.zeros(len(self._gen))
            self._touched = np.zeros(len(self._gen), dtype=np.uint64)
        n = 0
        for term in terms:
            p = t.postings.get(term)
            df = t.df.get(term, 0)
            if p is None or df <= 0:
                continue
            idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
            n = accumulate(
                np.frombuffer(p.docnos, dtype=np.uint64),
                np.frombuffer(p.tfs, dtype=np.uint32),
                np.frombuffer(p.lens, dtype=np.uint32),
                np.frombuffer(p.gens, dtype=np.uint32),
                self._gen,
                p.stale > 0,
                idf * (K1 + 1),
                length_norm,
                self._acc,
                self._touched,
                n,
            )
        mask = np.zeros(0, dtype=bool)
        if allowed is not None:
            mask = np.zeros(len(self._gen), dtype=bool)
            wanted = np.fromiter(allowed, dtype=np.uint64, count=len(allowed))
            mask[wanted[wanted < len(mask)]] = True
        if n == 0:
            return []
        k = min(k, n)  # a caller may ask for far more than the query matched
        keys, scores = np.zeros(k, dtype=np.uint64), np.zeros(k)
        kept = take_best(self._acc, self._touched, n, mask, k, keys, scores)
        keys, scores = keys[:kept], scores[:kept]
        order = np.lexsort((keys, -scores))
        return list(zip(keys[order].tolist(), scores[order].tolist(), strict=True))

    # ---- snapshots ---------------------------------------------------------------------------------

    def save(self, directory: Path, lsn: int) -> None:
        """Publish the live documents' postings, tagged with ``lsn`` (stale postings are dropped)."""
        with self._lock:
            writers, tenants = {}, {}
            for tenant_id, t in self._tenants.items():
                name = file_name(tenant_id, ".npz")
                writers[name] = lambda path, t=t: self._write_tenant(path, t)
                tenants[tenant_id] = {"file": name, "docs": len(t.doc_terms)}
            write_snapshot(directory, lsn, writers, {"tenants": tenants})

    def _write_tenant(self, path: Path, t: _TenantLexical) -> None:
        docnos = np.fromiter(t.doc_terms, dtype=np.uint64, count=len(t.doc_terms))
        terms, offsets, post_docs, post_tfs = [], [0], [], []
        for term, p in t.postings.items():
            d = np.frombuffer(p.docnos, dtype=np.uint64)
            live = self._gen[d] == np.frombuffer(p.gens, dtype=np.uint32)
            if not live.any():
                continue
            terms.append(term)
            post_docs.append(d[live])
            post_tfs.append(np.frombuffer(p.tfs, dtype=np.uint32)[live])
            offsets.append(offsets[-1] + int(live.sum()))
        with path.open("wb") as f:
            np.savez(
                f,
                docnos=docnos,
                lengths=self._len[docnos] if len(docnos) else np.zeros(0, np.uint32),
                terms=np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8),
                offsets=np.asarray(offsets, dtype=np.int64),
                post_docs=np.concatenate(post_docs) if post_docs else np.zeros(0, np.uint64),
                post_tfs=np.concatenate(post_tfs) if post_tfs else np.zeros(0, np.uint32),
            )

    @classmethod
    def load(cls, directory: Path) -> tuple[LexicalIndex, int]:
        """Load the last published snapshot -> (index, lsn); (empty, 0) if none."""
        index = cls()
        found = read_snapshot(directory)
        if found is None:
            return index, 0
        where, lsn, meta = found
        try:
            for tenant_id, info in meta["tenants"].items():
                with np.load(where / info["file"]) as z:
                    index._restore_tenant(tenant_id, z)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OSError) as exc:
            raise WalCorruption(f"{where}: lexical snapshot does not load ({exc!r})") from exc
        return index, lsn

    def _restore_tenant(self, tenant_id: str, z) -> None:
        t = self._tenants.setdefault(tenant_id, _TenantLexical())
        docnos = z["docnos"]
        if len(docnos):
            self._grow(int(docnos.max()))
        self._gen[docnos] = 1
        self._len[docnos] = z["lengths"]
        terms, offsets, post_docs, post_tfs = z["terms"], z["offsets"], z["post_docs"], z["post_tfs"]
        doc_terms: dict[int, list[str]] = {int(d): [] for d in docnos}
        for i, term in enumerate(terms.tobytes().decode("utf-8").split("\n") if len(terms) else []):
            lo, hi = int(offsets[i]), int(offsets[i + 1])
            p = t.postings[term] = _Postings()
            p.docnos.frombytes(post_docs[lo:hi].astype(np.uint64).tobytes())
            p.gens.frombytes(np.ones(hi - lo, np.uint32).tobytes())
            p.tfs.frombytes(post_tfs[lo:hi].astype(np.uint32).tobytes())
            p.lens.frombytes(self._len[post_docs[lo:hi]].astype(np.uint32).tobytes())
            t.df[term] = hi - lo
            for d in post_docs[lo:hi].tolist():
                doc_terms[d].append(term)
        for d, ts in doc_terms.items():
            t.doc_terms[d] = tuple(ts)
            self._tenant_of[d] = tenant_id
        t.total_len = int(self._len[docnos].sum()) if len(docnos) else 0
