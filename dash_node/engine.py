"""The shard replica engine: durable writes and hybrid retrieval, usable in-process.

Write path (one unit of work per group of queued writes, run by a single writer thread):
    validate (caller's thread) -> resolve (embed, stamp times) -> queue
    -> writer: one LMDB write txn; each write applied in a child txn (a conflicting write is refused alone)
    -> WAL append of the accepted writes + one fsync (group commit)
    -> applied LSN recorded, LMDB commit -> indexes follow the touched claims -> acknowledge.
Nothing is visible before it is durable, and everything acknowledged is visible.

Recovery: LMDB holds the state up to ``applied_lsn``; the WAL tail after it is replayed through the same
``apply_batch``. The vector index is saved at checkpoints with its LSN and caught up from the WAL on open;
the lexical index commits with every group and remembers its LSN.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import google_crc32c
import numpy as np
from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError

from dash_client._pb.dash.v1 import dash_pb2, node_pb2, types_pb2, wal_pb2
from dash_node import deadlines, telemetry
from dash_node import validation as v
from dash_node.apply import Touched, apply_batch
from dash_node.dirlock import DirLock
from dash_node.embedding import Embedder, default_embedder
from dash_node.errors import (
    AlreadyExists,
    ConfigError,
    DashError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    StaleEpoch,
    Unavailable,
    WalCorruption,
    WalFailed,
)
from dash_node.evidence.builder import EdgeBuilder, EdgeBuilderConfig
from dash_node.evidence.detector import Detector
from dash_node.evidence.judge import ContradictionJudge, RuleJudge
from dash_node.extract import Extractor, SentenceExtractor
from dash_node.features import ClaimCache, derive
from dash_node.index.lexical import LexicalIndex
from dash_node.index.vector import VectorConfig, VectorStore
from dash_node.indexlock import IndexLock
from dash_node.metrics import NODE as METRICS
from dash_node.placement import KEYSPACE, claim_routing_key, document_routing_key
from dash_node.planner import Planner, TemporalConfig
from dash_node.replication import Feed, file_crc
from dash_node.scoring import RankingWeights
from dash_node.store import Store, StoreConfig
from dash_node.temporal import Validity
from dash_node.wal import Wal, WalConfig, WalRecord

log = logging.getLogger(__name__)

RECORD_BATCH = 1


@dataclass(frozen=True)
class EngineConfig:
    """Everything an engine needs to know at start-up; validated before anything opens."""

    wal: WalConfig = field(default_factory=WalConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    vector: VectorConfig = field(default_factory=VectorConfig)
    limits: v.Limits = field(default_factory=v.Limits)
    ranking: RankingWeights = field(default_factory=RankingWeights)
    evidence: EdgeBuilderConfig = field(default_factory=EdgeBuilderConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    # Declared tenants; None accepts any tenant (a tenant exists once it has written).
    tenants: tuple[str, ...] | None = None
    # Save the indexes and trim the WAL after this many changes since the last checkpoint: a record counts
    # the claims it changed (at least 1), so a restart re-indexes at most about this many claims.
    checkpoint_every_changes: int = 100_000
    shard_id: str = ""
    node_id: str = ""  # in a cluster: the node hosting this replica (named in write answers)
    # Replication: recent records kept in memory for followers; how long a `replicated` write waits for
    # its quorum (it is answered `leader` after that); how long a silent follower still pins the WAL.
    replication_buffer_bytes: int = 32 << 20
    replicated_ack_timeout_s: float = 2.0
    follower_retention_s: float = 300.0
    # Admission on the node: writes waiting for the writer beyond this are refused (RESOURCE_EXHAUSTED)
    # rather than queued without bound. Internal writes (the edge builder's) are not counted against it.
    max_queued_writes: int = 1024
    # Claims whose ranking features and answers are kept in memory (``features.ClaimCache``); beyond it
    # the cache starts over.
    derived_cache_claims: int = 1_000_000
    # The indexer computes the features of changed claims ahead of queries only once no claim has changed
    # for this long: under a steady load that work would take the cores the writes need (queries compute
    # what they miss themselves), so it waits for the load to pause.
    warm_after_quiet_s: float = 0.25

    def validate(self) -> None:
        self.wal.validate()
        try:
            self.temporal.validate()
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if self.checkpoint_every_changes < 1:
            raise InvalidArgument("checkpoint_every_changes", "must be >= 1")
        if self.derived_cache_claims < 1:
            raise InvalidArgument("derived_cache_claims", "must be >= 1")


@dataclass
class _Pending:
    batch: wal_pb2.WalBatch
    items_field: str = "items"  # how the client named the upserts, for error messages
    epoch: int = 0  # the placement epoch the write was routed with (0: standalone)
    future: Future = field(default_factory=Future)
    started: float = field(default_factory=time.perf_counter)  # when the write entered the engine
    group_size: int = 0  # writes in the WAL group that committed it
    fsync_ms: float = 0.0
    deadline: float | None = field(default_factory=deadlines.CALLER_DEADLINE.get)  # monotonic


@dataclass
class _Replicated:
    """Records from the leader, to be applied as they are (a follower's only writes)."""

    records: list[WalRecord]
    future: Future = field(default_factory=Future)


_STOP = object()


def _load_index(load, empty):
    """An index snapshot, or — if it fails its checks — an empty index at LSN 0: indexes are derived
    from the state, so recovery rebuilds or replays them instead of refusing to open."""
    try:
        return load()
    except WalCorruption as exc:
        log.error("index snapshot unusable (%s); rebuilding the index from the state", exc.message)
        return empty(), 0


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


class _ReadGate:
    """The reads in flight on a replica. Closing it (shutdown, or replacement by an installed snapshot)
    waits for them rather than closing the state under them, and refuses reads that arrive meanwhile as
    UNAVAILABLE, which sends the router to another replica."""

    def __init__(self, shard_id: str) -> None:
        self._shard_id = shard_id
        self._cond = threading.Condition()
        self._active = 0
        self._closing = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            if self._closing:
                raise Unavailable(f"shard_id: this replica of '{self._shard_id}' is closing; ask another")
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    self._cond.notify_all()

    def close(self, timeout: float) -> None:
        with self._cond:
            self._closing = True
            self._cond.wait_for(lambda: self._active == 0, timeout)


class Engine:
    """One shard replica: ``Engine(path)`` opens (or creates) it and recovers from the WAL."""

    def __init__(
        self,
        path: str | Path,
        config: EngineConfig | None = None,
        embedder: Embedder | None = None,
        extractor: Extractor | None = None,
        judge: ContradictionJudge | None = None,
        lead: bool = True,
    ) -> None:
        """``lead``: the replica takes writes from clients (and runs the edge builder); a follower only
        applies its leader's records (``apply_replicated``)."""
        self.config = config or EngineConfig()
        self.config.validate()
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._dir_lock = DirLock(self.path)
        try:
            self._open(embedder, extractor, judge, lead)
        except BaseException:
            self._dir_lock.release()
            raise

    def _open(
        self,
        embedder: Embedder | None,
        extractor: Extractor | None,
        judge: ContradictionJudge | None,
        lead: bool,
    ) -> None:
        self.embedder = embedder or default_embedder()
        self.extractor = extractor or SentenceExtractor()
        self.edge_builder = EdgeBuilder(judge or RuleJudge(), self.config.evidence)
        self.epoch = 0
        # The shard's voting replicas, from placement (this one among them): a `replicated` write waits
        # for a majority of them. Standalone: just this one.
        self.voters: tuple[str, ...] = (self.config.node_id,)
        self._failed: DashError | None = None
        self._closed = False
        self._reads = _ReadGate(self.config.shard_id)
        self.store = Store(self.path / "state", self.config.store)
        with self.store.read() as txn:
            applied = self.store.applied_lsn(txn)
        # A fresh WAL next to existing state (an installed snapshot) starts right after it.
        self.wal = Wal(self.path / "wal", self.config.wal, start_lsn=applied + 1)
        self.lexical, lexical_lsn = _load_index(
            lambda: LexicalIndex.load(self.path / "lexical"), LexicalIndex
        )
        self.vectors, vector_lsn = _load_index(
            lambda: VectorStore.load(self.path / "vectors", self.config.vector),
            lambda: VectorStore(self.config.vector),
        )
        # Held by the writer while it changes the indexes and by readers while they search them; the
        # indexer's steps wait for them (indexlock.py).
        self.index_lock = IndexLock()
        # The indexer thread (started below) moves buffered vectors into the graphs when woken.
        self._stopping = threading.Event()
        self._indexer_wake = threading.Event()
        self._index_backlog = METRICS.index_backlog.labels(shard_id=self.config.shard_id)
        # Ranking features and hydrated answers of claims, kept until a write changes what they read.
        self.derived = ClaimCache(("features", "answer"), self.config.derived_cache_claims)
        # Claims a write may have changed the features of, oldest first: the indexer computes them ahead
        # of the queries that would otherwise pay for it (~50 µs each, a few hundred per top-50 query).
        # It does so only when no vectors wait for the graphs, so under a steady load the queue keeps
        # only the newest changes, as many as the cache holds (queries compute the ones dropped).
        self._to_warm: dict[tuple[str, str], None] = {}
        self._last_change = 0.0  # monotonic time a claim last changed (see warm_after_quiet_s)
        self._warming = 0  # taken from the queue, being computed
        self._warm_lock = threading.Lock()
        index_lsn = min(vector_lsn, lexical_lsn)
        self.recovery = self._recover(index_lsn)
        log.info("replica %s opened: %s", self.path, json.dumps(self.recovery))
        # Changes a restart would re-index (counted as records here: at least that many).
        self._since_checkpoint = self.wal.last_lsn - index_lsn
        self.planner = Planner(self)
        self._queue: queue.Queue = queue.Queue()
        self._write_lock = threading.Lock()
        with self.store.read() as txn:
            self.feed = Feed(self.store.applied_lsn(txn), self.config.replication_buffer_bytes)
        self._writer = threading.Thread(target=self._write_loop, name="dash-writer", daemon=True)
        self._writer.start()
        self._indexer = threading.Thread(target=self._index_loop, name="dash-indexer", daemon=True)
        self._indexer.start()
        self._indexer_wake.set()  # recovery may have left vectors in the write buffer
        # Judges committed claims in the background on a leader; None when the edge builder is off.
        self.detector: Detector | None = None
        self.leads = False
        self.lead(lead)

    @property
    def closed(self) -> bool:
        return self._closed

    def lead(self, leads: bool) -> None:
        """Become the shard's leader (start judging pending claims) or a follower (stop)."""
        if leads == self.leads:
            return
        self.leads = leads
        if not leads and self.detector is not None:
            self.detector.stop()
            self.detector = None
        elif leads and self.edge_builder.config.enabled:
            self.detector = Detector(
                self.edge_builder,
                self.store,
                self._neighbours,
                lambda batch: self._submit(batch, None, "detected_edges"),
                self.config.shard_id,
            )

    # ---- recovery ----------------------------------------------------------------------------------

    def _recover(self, index_lsn: int) -> dict:
        """Replay the WAL tail into LMDB, then bring both indexes (snapshotted at ``index_lsn``) up to
        the applied LSN."""
        started = time.perf_counter()
        with self.store.read() as txn:
            applied = self.store.applied_lsn(txn)
        quarantined = ""
        if applied > self.wal.last_lsn:
            quarantined = self._restart_wal_after(applied)
        if self.wal.first_lsn() > applied + 1:
            raise WalCorruption(
                f"state is at LSN {applied} but the WAL starts at {self.wal.first_lsn()}: records are missing"
            )
        replayed = 0
        for rec in self.wal.replay(after_lsn=applied):
            batch = wal_pb2.WalBatch.FromString(rec.payload)
            with self.store.write() as txn:
                try:
                    apply_batch(self.store, txn, batch, rec.lsn)
                except DashError as exc:
                    raise WalCorruption(f"WAL record {rec.lsn} does not replay: {exc.message}") from exc
                self.store.set_applied_lsn(txn, rec.lsn, google_crc32c.value(rec.payload))
            replayed += 1
        # The index snapshots are caught up from the WAL, unless it no longer holds all they miss.
        gap = index_lsn < applied and (quarantined or self.wal.first_lsn() > index_lsn + 1)
        changed = None if gap else self._changed_after(index_lsn)
        rebuilt = changed is None
        if rebuilt:  # the WAL cannot tell the indexes what they miss: rebuild them from the state
            self._rebuild_indexes()
        else:
            self._sync_indexes(self._touched_as_stored(changed), recovering=True)
        report = {
            "applied_lsn_before": applied,
            "replayed_records": replayed,
            "wal_last_lsn": self.wal.last_lsn,
            "index_snapshot_lsn": index_lsn,
            "rebuilt_indexes": rebuilt,
            "index_backlog": self.vectors.pending,  # re-indexed vectors the indexer moves after opening
            "wal_quarantined_to": quarantined,
            "wal_dropped_bytes": self.wal.recovery.dropped_bytes,
            "wal_drop_reason": self.wal.recovery.reason,
            "seconds": time.perf_counter() - started,
        }
        if self.wal.recovery.dropped_bytes:
            log.warning(
                "WAL recovery dropped %d bytes: %s", self.wal.recovery.dropped_bytes, self.wal.recovery.reason
            )
        return report

    def _restart_wal_after(self, applied: int) -> str:
        """The WAL lost records the state already holds (a damaged frame before the applied LSN was cut
        off on open). The state is complete, so keep serving it: move the damaged log aside for
        inspection and start a new log at applied + 1 in a new generation."""
        damaged = self.path / f"wal.damaged-{time.time_ns()}"
        log.error(
            "WAL ends at LSN %d but the state is at %d (%s); moving it to %s and starting a new generation",
            self.wal.last_lsn,
            applied,
            self.wal.recovery.reason,
            damaged,
        )
        generation = self.wal.generation + 1
        self.wal.close()
        (self.path / "wal").rename(damaged)
        self.wal = Wal(self.path / "wal", self.config.wal, start_lsn=applied + 1, start_generation=generation)
        return str(damaged)

    def _rebuild_indexes(self) -> None:
        self.derived.clear()
        self.vectors = VectorStore(self.config.vector)
        self.lexical = LexicalIndex()
        with self.store.read() as txn:
            every = {
                (tenant, c.claim_id)
                for tenant in self.store.tenants(txn)
                for c in self.store.iter_claims(txn, tenant)
            }
        self._sync_indexes(self._touched_as_stored(every), recovering=True)

    def _changed_after(self, lsn: int) -> set[tuple[str, str]] | None:
        """The claims the WAL's records after ``lsn`` wrote or deleted; None if one of them changed claims
        it does not name (a trim)."""
        changed: set[tuple[str, str]] = set()
        for rec in self.wal.replay(after_lsn=lsn):
            batch = wal_pb2.WalBatch.FromString(rec.payload)
            if batch.HasField("trim"):
                return None
            changed |= {(batch.tenant_id, it.claim.claim_id) for it in batch.upserts}
            changed |= {(batch.tenant_id, cid) for cid in batch.deletes}
        return changed

    def _touched_as_stored(self, keys: set[tuple[str, str]]) -> Touched:
        """``keys`` as a write that left them in their stored state would report them (recovery replays
        the log into the state, not into the indexes, so it reads back what the indexes must follow)."""
        touched = Touched()
        with self.store.read() as txn:
            for tenant, cid in keys:
                claim = self.store.get_claim(txn, tenant, cid)
                if claim is not None:
                    touched.claim(tenant, cid, self.store.docno(txn, tenant, cid) or 0, claim)
                else:
                    touched.claim(tenant, cid, self.store.tombstone_docno(txn, tenant, cid) or 0, None)
        return touched

    def _sync_indexes(self, touched: Touched, recovering: bool = False) -> None:
        """Make the index entries of the touched claims equal to their current state, and queue the
        claims whose features may have changed for the indexer to compute again.

        New vectors wait in the write buffer for the indexer. A write that finds the buffer over its
        bound moves as many vectors into the graphs as it added, so writes cannot outrun the indexer;
        never more, so no write stalls on a backlog it did not cause. Recovery moves none: the replica
        serves at once (the buffer is searched exactly) while the indexer drains what it re-indexed."""
        if touched.features:
            with self._warm_lock:
                self._last_change = time.monotonic()
                self._to_warm.update(dict.fromkeys(touched.features))
                over = len(self._to_warm) - self.derived.max_entries
                for key in list(itertools.islice(self._to_warm, max(over, 0))):
                    del self._to_warm[key]
            self._indexer_wake.set()
        if not touched.claims:
            return
        upserts: dict[str, list[tuple[int, types_pb2.Claim]]] = {}
        removals: dict[str, list[int]] = {}
        for (tenant, _), (docno, claim) in sorted(touched.claims.items()):
            if claim is not None:
                upserts.setdefault(tenant, []).append((docno, claim))
            elif docno:
                removals.setdefault(tenant, []).append(docno)
        for docnos in removals.values():
            self.lexical.remove(docnos)
        for tenant, rows in upserts.items():
            self.lexical.upsert(tenant, [(d, _lexical_text(c)) for d, c in rows])
        with self.index_lock:
            for tenant, docnos in removals.items():
                tv = self.vectors.tenant(tenant)
                if tv is not None:
                    tv.remove(np.asarray(docnos, dtype=np.uint64))
            added = 0
            for tenant, rows in upserts.items():
                with_vec = [(d, c) for d, c in rows if c.embedding]
                if not with_vec:
                    continue
                dim = len(with_vec[0][1].embedding) // 4
                keys = np.asarray([d for d, _ in with_vec], dtype=np.uint64)
                mat = np.vstack([np.frombuffer(c.embedding, dtype="<f4") for _, c in with_vec])
                self.vectors.ensure(tenant, dim).upsert(keys, mat)
                added += len(keys)
            cfg = self.config.vector
            owed = 0 if recovering else min(added, self.vectors.pending - cfg.max_pending)
            while owed > 0:  # the indexer is behind: this write moves its share
                moved = self.vectors.merge(min(cfg.merge_chunk, owed))
                if not moved:
                    break
                owed -= moved
                self.index_lock.handover()  # searches waiting meanwhile go before the next step
        self._index_backlog.set(self.vectors.pending)
        if self.vectors.pending:
            self._indexer_wake.set()

    def _index_loop(self) -> None:
        """Move buffered vectors into their HNSW graphs a chunk at a time (``index.vector``): a write is
        acknowledged without waiting for graph insertion, and a search waits at most one chunk. With
        no vectors waiting and no claim changed for ``warm_after_quiet_s``, compute the features of
        changed claims, a chunk at a time."""
        while True:
            self._indexer_wake.wait()
            self._indexer_wake.clear()
            while not self._stopping.is_set():
                with self.index_lock.background():
                    moved = self.vectors.merge(self.config.vector.merge_chunk)
                    self._index_backlog.set(self.vectors.pending)
                if moved:
                    continue
                with self._warm_lock:
                    owed = bool(self._to_warm)
                    quiet = self._last_change + self.config.warm_after_quiet_s - time.monotonic()
                if owed and quiet > 0:
                    self._stopping.wait(quiet)
                elif not self._warm(self.config.vector.merge_chunk):
                    break
            if self._stopping.is_set():
                return

    def _warm(self, limit: int) -> int:
        """Compute and cache the features and the answer (what a result carries) of up to ``limit`` queued
        claims; returns how many were taken. A full cache is not evicted for this: those claims are
        computed by the queries that reach them."""
        with self._warm_lock:
            keys = list(itertools.islice(self._to_warm, limit))
            for key in keys:
                del self._to_warm[key]
            self._warming = len(keys)
        try:
            room = max(0, int(0.9 * self.derived.max_entries) - len(self.derived))
            if keys[:room]:
                seen = self.derived.generation  # before the snapshot opens: see features.ClaimCache.put
                with self.store.read() as txn:
                    for tenant, claim_id in keys[:room]:
                        docno = self.store.docno(txn, tenant, claim_id)
                        if docno is not None:  # else deleted meanwhile
                            derive(self.derived, self.store, txn, tenant, docno, seen)
        finally:
            with self._warm_lock:
                self._warming = 0
        return len(keys)

    @property
    def features_backlog(self) -> int:
        """Changed claims whose features and answer the indexer has yet to compute (queued or in hand)."""
        with self._warm_lock:
            return len(self._to_warm) + self._warming

    # ---- write path --------------------------------------------------------------------------------

    def _check_write(self, tenant_id: str, write: dash_pb2.WriteOptions | None) -> None:
        if self._closed:
            raise Unavailable("engine is closed")
        if self._failed is not None:
            raise Unavailable(f"replica failed closed: {self._failed.message}")
        v.check_tenant(tenant_id, self.config.limits)
        self._check_known_tenant(tenant_id)
        if write is not None:
            v.check_write_options(write)
            if write.epoch and write.epoch < self.epoch:
                raise StaleEpoch(write.epoch, self.epoch)

    def _check_known_tenant(self, tenant_id: str) -> None:
        if self.config.tenants is not None and tenant_id not in self.config.tenants:
            raise NotFound(f"tenant_id: unknown tenant '{tenant_id}'")

    def _upsert_batch(
        self,
        tenant_id: str,
        items: list[types_pb2.ClaimInput],
        routing_key: str = "",
        batch: wal_pb2.WalBatch | None = None,
    ) -> wal_pb2.WalBatch:
        """A write of claims in WAL form (into ``batch`` when given): resolved items and the transaction
        time, marked for the edge builder when it is on. ``routing_key``: the document's, for its
        sentences."""
        if batch is None:
            batch = wal_pb2.WalBatch(tenant_id=tenant_id)
        self._resolve_items(tenant_id, items, batch.upserts, routing_key)
        batch.recorded_at.CopyFrom(batch.upserts[0].claim.recorded_at)
        batch.detect = self.detector is not None
        return batch

    def _resolve_items(
        self, tenant_id: str, items: Iterable[types_pb2.ClaimInput], out, routing_key: str = ""
    ) -> None:
        """Copy items into ``out`` (a batch's repeated field: each item is copied once, its vector
        included) in WAL form: tenant, times and routing key stamped, evidence/edges owned, missing
        vectors embedded with the node's embedder (so replay never re-embeds)."""
        now = _now()
        for item in items:
            it = out.add()
            it.CopyFrom(item)
            c = it.claim
            c.tenant_id = tenant_id
            c.routing_key = routing_key or claim_routing_key(c.claim_id, c.subject, list(c.entities))
            c.recorded_at.CopyFrom(now)
            c.ClearField("superseded_at")
            for ev in it.evidence:
                ev.claim_id = c.claim_id
                if ev.stance == types_pb2.STANCE_UNSPECIFIED:
                    ev.stance = types_pb2.STANCE_SUPPORTS
            for edge in it.edges:
                edge.from_claim_id = c.claim_id
                if edge.origin == types_pb2.EDGE_ORIGIN_UNSPECIFIED:
                    edge.origin = types_pb2.EDGE_ORIGIN_CLIENT
                if edge.strength == 0:
                    edge.strength = 1.0
        missing = [it.claim for it in out if not it.claim.embedding]
        if missing:
            vecs = self.embedder.embed([c.text for c in missing])
            for c, vec in zip(missing, vecs, strict=True):
                if np.any(vec):
                    c.embedding = np.asarray(vec, dtype="<f4").tobytes()

    def _submit(
        self,
        batch: wal_pb2.WalBatch,
        write: dash_pb2.WriteOptions | None,
        items_field: str = "items",
        started: float | None = None,
    ) -> dash_pb2.WriteResponse:
        pending = _Pending(batch, items_field, epoch=write.epoch if write is not None else 0)
        if started is not None:
            pending.started = started
        if items_field != "detected_edges" and self._queue.qsize() >= self.config.max_queued_writes:
            METRICS.write_queue_rejected.inc()
            raise ResourceExhausted(
                f"write: {self._queue.qsize()} writes already queued on this replica "
                f"(limit {self.config.max_queued_writes}); retry shortly"
            )
        if batch.detect and self.detector is not None:
            self.detector.admit(len(batch.upserts))  # a full backlog holds new claims back
        with telemetry.span(
            "engine.write",
            lambda: {
                "dash.shard_id": self.config.shard_id,
                "dash.tenant_hash": telemetry.tenant_hash(batch.tenant_id),
            },
        ) as span:
            self._queue.put(pending)
            resp = self._acknowledged(pending.future.result(), write)
            if span is not None:
                span.set_attributes(
                    {
                        "dash.wal_group_size": pending.group_size,
                        "dash.wal_fsync_ms": round(pending.fsync_ms, 3),
                        "dash.lsn": resp.lsn,
                        "dash.claims": len(resp.claim_ids),
                    }
                )
            return resp

    def _acknowledged(
        self, resp: dash_pb2.WriteResponse, write: dash_pb2.WriteOptions | None
    ) -> dash_pb2.WriteResponse:
        """The answer to a durable write: which acknowledgement level it met (waiting for a quorum of
        replicas if asked to), where it landed, and whether the edge builder has judged it yet (waiting
        for that too if asked to)."""
        out = dash_pb2.WriteResponse()
        out.CopyFrom(resp)
        # Who accepted it: this node, unless this replays an answer first given by another leader.
        node_id = "" if resp.replayed else self.config.node_id
        out.positions.add(shard_id=self.config.shard_id, lsn=resp.lsn, epoch=resp.epoch, node_id=node_id)
        replicated = write is not None and write.ack == dash_pb2.ACK_LEVEL_REPLICATED
        if replicated and self.feed.wait_quorum(resp.lsn, self.voters, self.config.replicated_ack_timeout_s):
            out.ack_met = dash_pb2.ACK_LEVEL_REPLICATED
        if self.detector is None:
            out.detected = True
        elif write is not None and write.wait_for_detection:
            out.detected = self.detector.wait(resp.lsn)
        else:
            out.detected = self.detector.judged(resp.lsn)
        return out

    def ingest(
        self, tenant_id: str, item: types_pb2.ClaimInput, write: dash_pb2.WriteOptions | None = None
    ) -> dash_pb2.WriteResponse:
        """Upsert one claim with its evidence and edges."""
        started = time.perf_counter()
        self._check_write(tenant_id, write)
        v.check_claim_input("item", item, self.config.limits)
        return self._submit(self._upsert_batch(tenant_id, [item]), write, "item", started)

    def ingest_batch(
        self,
        tenant_id: str,
        items: list[types_pb2.ClaimInput],
        commit_id: str = "",
        write: dash_pb2.WriteOptions | None = None,
    ) -> dash_pb2.WriteResponse:
        """Upsert many claims atomically; idempotent by commit_id."""
        started = time.perf_counter()
        self._check_write(tenant_id, write)
        v.check_batch(tenant_id, items, commit_id, self.config.limits)
        batch = wal_pb2.WalBatch(tenant_id=tenant_id, commit_id=commit_id)
        if commit_id:
            batch.fingerprint = _fingerprint(tenant_id, commit_id, items)
            replay = self._replayed_commit(tenant_id, commit_id, batch.fingerprint)
            if replay is not None:  # the first answer, with the acknowledgement it meets now
                return self._acknowledged(replay, write)
        self._upsert_batch(tenant_id, items, batch=batch)
        return self._submit(batch, write, started=started)

    def _replayed_commit(self, tenant_id: str, commit_id: str, fp: bytes) -> dash_pb2.WriteResponse | None:
        with self.store.read() as txn:
            found = self.store.get_commit(txn, tenant_id, commit_id)
        if found is None:
            return None
        return _commit_answer(commit_id, fp, found)

    def ingest_document(
        self, tenant_id: str, document: types_pb2.Document, write: dash_pb2.WriteOptions | None = None
    ) -> dash_pb2.WriteResponse:
        """Split a document into sentence claims whose evidence quotes are exact spans of its text."""
        started = time.perf_counter()
        self._check_write(tenant_id, write)
        v.check_document(document, self.config.limits)
        quality = document.source_quality if document.HasField("source_quality") else 0.5
        items = []
        for ex in self.extractor.extract(document.doc_id, document.text):
            cid = _document_claim_id(tenant_id, ex.claim_id)
            claim = types_pb2.Claim(claim_id=cid, text=ex.text, entities=list(ex.entities))
            claim.labels.update(document.labels)
            claim.labels["doc_id"] = document.doc_id
            if ex.validity is not None:
                _set_validity(claim, ex.validity)
            ev = types_pb2.Evidence(
                evidence_id=ex.evidence_id,
                claim_id=cid,
                source_id=document.source_id,
                doc_id=document.doc_id,
                chunk_id=ex.chunk_id,
                span_start=ex.span_start,
                span_end=ex.span_end,
                quote=ex.quote,
                stance=types_pb2.STANCE_SUPPORTS,
                source_quality=quality,
                extractor=self.extractor.name,
            )
            if document.HasField("observed_at"):
                ev.observed_at.CopyFrom(document.observed_at)
            items.append(types_pb2.ClaimInput(claim=claim, evidence=[ev]))
        if not items:
            raise InvalidArgument("document.text", "no sentence could be extracted")
        if len(items) > self.config.limits.max_batch_items:
            raise ResourceExhausted(f"document.text: yields {len(items)} claims, over the batch limit")
        key = document_routing_key(document.doc_id)
        return self._submit(self._upsert_batch(tenant_id, items, key), write, started=started)

    def trim_to_range(self, start: int, end: int) -> dash_pb2.WriteResponse:
        """After a split: drop every claim whose routing position is outside [start, end) (end 2^64:
        the end of the keyspace), through the WAL so every replica drops the same ones."""
        trim = wal_pb2.RangeTrim(start=start, end=0 if end >= KEYSPACE else end)
        return self._submit(wal_pb2.WalBatch(trim=trim), None, "trim")

    def upsert_evidence(
        self, tenant_id: str, evidence: list[types_pb2.Evidence], write: dash_pb2.WriteOptions | None = None
    ) -> dash_pb2.WriteResponse:
        """Upsert evidence rows (by evidence_id) of existing claims."""
        self._check_write(tenant_id, write)
        if not evidence:
            raise InvalidArgument("evidence", "must not be empty")
        if len(evidence) > self.config.limits.max_batch_items:
            raise ResourceExhausted("evidence: too many items")
        rows = []
        for i, ev in enumerate(evidence):
            v.check_evidence(f"evidence[{i}]", ev, self.config.limits, None)
            row = types_pb2.Evidence()
            row.CopyFrom(ev)
            if row.stance == types_pb2.STANCE_UNSPECIFIED:
                row.stance = types_pb2.STANCE_SUPPORTS
            rows.append(row)
        return self._submit(wal_pb2.WalBatch(tenant_id=tenant_id, evidence=rows), write)

    def delete_claim(
        self, tenant_id: str, claim_id: str, write: dash_pb2.WriteOptions | None = None
    ) -> dash_pb2.WriteResponse:
        """Delete a claim with its evidence and edges; every index drops it."""
        self._check_write(tenant_id, write)
        v.check_id("claim_id", claim_id, self.config.limits.max_id_chars)
        return self._submit(wal_pb2.WalBatch(tenant_id=tenant_id, deletes=[claim_id]), write)

    @property
    def queued_writes(self) -> int:
        """Writes waiting for the writer (bounded by ``max_queued_writes``)."""
        return self._queue.qsize()

    def _write_loop(self) -> None:
        cfg = self.config.wal
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            if isinstance(first, _Replicated):
                with self._write_lock:
                    self._commit_replicated(first)
                continue
            group = [first]
            deadline = time.monotonic() + cfg.batch_max_interval_ms / 1000
            while len(group) < cfg.batch_max_records:
                try:
                    if cfg.fsync == "batch":
                        nxt = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
                    else:
                        nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP or isinstance(nxt, _Replicated):
                    self._queue.put(nxt)  # FIFO is lost for it, which only a follower sends
                    break
                group.append(nxt)
            with self._write_lock:
                self._commit_group(group)
            if self._since_checkpoint >= self.config.checkpoint_every_changes and self._failed is None:
                self.checkpoint()

    def _commit_group(self, group: list[_Pending]) -> None:
        if self._failed is not None:
            for p in group:
                p.future.set_exception(Unavailable(f"replica failed closed: {self._failed.message}"))
            return
        accepted: list[tuple[_Pending, dash_pb2.WriteResponse]] = []
        touched = Touched()
        next_lsn = self.wal.last_lsn + 1
        txn = self.store.write()
        try:
            for p in group:
                lsn = next_lsn + len(accepted)
                if p.epoch and p.epoch < self.epoch:  # placement moved on while the write was queued
                    p.future.set_exception(StaleEpoch(p.epoch, self.epoch))
                    continue
                if deadlines.expired(p.deadline):  # its caller has given up: do not apply it behind its back
                    METRICS.write_deadline_dropped.inc()
                    p.future.set_exception(
                        DeadlineExceeded("deadline: passed while the write was queued; it was not applied")
                    )
                    continue
                if p.batch.commit_id:  # a twin of this commit may have landed since it was queued
                    found = self.store.get_commit(txn, p.batch.tenant_id, p.batch.commit_id)
                    if found is not None:
                        try:
                            p.future.set_result(_commit_answer(p.batch.commit_id, p.batch.fingerprint, found))
                        except DashError as exc:
                            p.future.set_exception(exc)
                        continue
                child = self.store.write(parent=txn)
                try:
                    p.batch.response.CopyFrom(self._response_for(p.batch, lsn))
                    t = apply_batch(self.store, child, p.batch, lsn, p.items_field)
                except DashError as exc:
                    child.abort()
                    p.future.set_exception(exc)
                    continue
                child.commit()
                touched.update(t)
                accepted.append((p, p.batch.response))
            if not accepted:
                txn.abort()
                return
            payloads = [p.batch.SerializeToString() for p, _ in accepted]
            lsns = self.wal.append([(RECORD_BATCH, raw) for raw in payloads])
            fsync_started = time.perf_counter()
            self.wal.sync()
            fsync_seconds = time.perf_counter() - fsync_started
            self.store.set_applied_lsn(txn, lsns[-1], google_crc32c.value(payloads[-1]))
            txn.commit()
            self.derived.invalidate(touched.features)
        except WalFailed as exc:
            txn.abort()
            self._failed = exc
            for p, _ in accepted:
                p.future.set_exception(
                    Unavailable(f"write not durable, replica failed closed: {exc.message}")
                )
            return
        except BaseException as exc:
            txn.abort()
            self._failed = Unavailable(f"unexpected failure in the write path: {exc!r}")
            log.exception("write path failed; replica fails closed")
            for p, _ in accepted:
                if not p.future.done():
                    p.future.set_exception(self._failed)
            return
        self._sync_indexes(touched)
        self.feed.publish(WalRecord(lsn, RECORD_BATCH, raw) for lsn, raw in zip(lsns, payloads, strict=True))
        if self.detector is not None:  # after the indexes: the builder searches them
            batches = [(p.batch, lsn) for (p, _), lsn in zip(accepted, lsns, strict=True)]
            self.detector.committed(
                {lsn: len(b.upserts) for b, lsn in batches if b.detect},
                [done for b, _ in batches for done in b.detected_for],
            )
        self._since_checkpoint += max(len(accepted), len(touched.claims))
        visible = time.perf_counter()
        METRICS.wal_fsync_seconds.observe(fsync_seconds)
        METRICS.wal_group_size.observe(len(accepted))
        for p, resp in accepted:
            METRICS.ingest_visible_seconds.observe(visible - p.started)
            p.group_size, p.fsync_ms = len(accepted), fsync_seconds * 1000
            p.future.set_result(resp)

    def _commit_replicated(self, item: _Replicated) -> None:
        """Apply the leader's records in one LMDB transaction, append them to our WAL at the same LSNs,
        fsync, commit. A record that does not apply means our history is not the leader's: nothing of
        the run is kept and the follower re-bootstraps."""
        if self._failed is not None:
            item.future.set_exception(Unavailable(f"replica failed closed: {self._failed.message}"))
            return
        if not item.records:  # a barrier (``drain``)
            item.future.set_result(self.feed.committed_lsn)
            return
        touched = Touched()
        txn = self.store.write()
        try:
            for i, rec in enumerate(item.records):
                if rec.lsn != self.wal.last_lsn + 1 + i:
                    expected = self.wal.last_lsn + 1 + i
                    raise FailedPrecondition(f"records: LSN {rec.lsn} where {expected} was expected")
                batch = wal_pb2.WalBatch.FromString(rec.payload)
                touched.update(apply_batch(self.store, txn, batch, rec.lsn))
            lsns = self.wal.append([(rec.type, rec.payload) for rec in item.records])
            self.wal.sync()
            self.store.set_applied_lsn(txn, lsns[-1], google_crc32c.value(item.records[-1].payload))
            txn.commit()
            self.derived.invalidate(touched.features)
        except WalFailed as exc:
            txn.abort()
            self._failed = exc
            item.future.set_exception(Unavailable(f"replica failed closed: {exc.message}"))
            return
        except (DashError, DecodeError) as exc:
            txn.abort()
            item.future.set_exception(exc if isinstance(exc, DashError) else FailedPrecondition(str(exc)))
            return
        except BaseException as exc:
            txn.abort()
            self._failed = Unavailable(f"unexpected failure applying replicated records: {exc!r}")
            log.exception("replication apply failed; replica fails closed")
            item.future.set_exception(self._failed)
            return
        self._sync_indexes(touched)
        self._since_checkpoint += max(len(item.records), len(touched.claims))
        self.feed.publish(item.records)
        item.future.set_result(lsns[-1])

    def drain(self) -> int:
        """Wait until every write queued before this call has committed; returns the committed LSN."""
        item = _Replicated([])
        self._queue.put(item)
        return item.future.result()

    def apply_replicated(self, records: list[WalRecord]) -> int:
        """Follower: apply a run of the leader's records; returns the LSN now durable here."""
        if self._closed:
            raise Unavailable("engine is closed")
        if not records:
            return self.feed.committed_lsn
        item = _Replicated(list(records))
        self._queue.put(item)
        return item.future.result()

    def records_after(self, lsn: int, max_bytes: int = 4 << 20) -> list[WalRecord]:
        """Leader: committed records after ``lsn`` (about ``max_bytes`` at most), from memory or the WAL;
        raises FailedPrecondition when the WAL was trimmed past them (the follower needs a snapshot)."""
        recent = self.feed.recent_after(lsn, max_bytes)
        if recent is not None:
            return recent
        first = self.wal.first_lsn()
        if not first or lsn + 1 < first:
            raise FailedPrecondition(
                f"last_lsn: {lsn} is before this leader's WAL (which starts at {first}): fetch a snapshot"
            )
        out, size = [], 0
        try:
            for rec in self.wal.replay(after_lsn=lsn, upto_lsn=self.feed.committed_lsn):
                out.append(rec)
                size += len(rec.payload)
                if size >= max_bytes:
                    break
        except FileNotFoundError as exc:  # trimmed while we read
            raise FailedPrecondition(f"last_lsn: {lsn} was trimmed from the WAL: fetch a snapshot") from exc
        return out

    def crc_at(self, lsn: int) -> int | None:
        """crc32c of the payload of our record at ``lsn`` (None if we do not hold it)."""
        if lsn == 0:
            return 0
        if lsn == self.feed.committed_lsn:
            with self.store.read() as txn:
                if self.store.applied_lsn(txn) == lsn:
                    return self.store.applied_crc(txn)
        try:
            found = self.records_after(lsn - 1, 1)
        except FailedPrecondition:
            return None
        return google_crc32c.value(found[0].payload) if found and found[0].lsn == lsn else None

    def _response_for(self, batch: wal_pb2.WalBatch, lsn: int) -> dash_pb2.WriteResponse:
        ids = [it.claim.claim_id for it in batch.upserts] or list(batch.deletes)
        if not ids:
            ids = sorted({ev.claim_id for ev in batch.evidence})
        return dash_pb2.WriteResponse(
            claim_ids=ids,
            lsn=lsn,
            generation=self.wal.generation,
            shard_id=self.config.shard_id,
            epoch=self.epoch,
            commit_id=batch.commit_id,
            ack_met=dash_pb2.ACK_LEVEL_LEADER,
            evidence_count=sum(len(it.evidence) for it in batch.upserts) + len(batch.evidence),
            edge_count=sum(len(it.edges) for it in batch.upserts),
        )

    # ---- checkpoints -------------------------------------------------------------------------------

    def checkpoint(self) -> int:
        """Snapshot both indexes at the applied LSN and trim the WAL before it. Returns that LSN."""
        with self._write_lock:
            self.store.env.sync(True)
            with self.store.read() as txn:
                lsn = self.store.applied_lsn(txn)
            with self.index_lock:
                self.vectors.save(self.path / "vectors", lsn)
            self.lexical.save(self.path / "lexical", lsn)
            # Followers heard from lately still need what they have not made durable, and their last
            # record, which proves they share our history.
            needed = self.feed.retained_from(self.config.follower_retention_s) if self.leads else None
            self.wal.truncate_before(min(lsn + 1, needed or lsn + 1))
            self._since_checkpoint = 0
            return lsn

    # ---- reads -------------------------------------------------------------------------------------

    def retrieve(self, request: dash_pb2.RetrieveRequest) -> dash_pb2.RetrieveResponse:
        """Ranked claims with citations; see ``planner``."""
        return dash_pb2.RetrieveResponse.FromString(self.retrieve_encoded(request))

    def retrieve_encoded(self, request: dash_pb2.RetrieveRequest) -> bytes:
        """``retrieve``'s answer encoded, as the node sends it."""
        v.check_retrieve(request, self.config.limits)
        self._check_known_tenant(request.tenant_id)
        with (
            self._reads.reading(),
            telemetry.span(
                "planner.retrieve",
                lambda: {
                    "dash.shard_id": self.config.shard_id,
                    "dash.tenant_hash": telemetry.tenant_hash(request.tenant_id),
                    "dash.top_k": request.top_k or 10,
                },
            ) as span,
        ):
            answer, results = self.planner.retrieve(request)
            if span is not None:
                span.set_attribute("dash.results", results)
            return answer

    def claim_count(self) -> int:
        """Claims stored in this replica, all tenants (an LMDB stat: cheap)."""
        with self.store.read() as txn:
            return self.store.count(txn, "claims")

    def get_claim(self, tenant_id: str, claim_id: str) -> dash_pb2.GetClaimResponse:
        v.check_get_claim(tenant_id, claim_id, self.config.limits)
        self._check_known_tenant(tenant_id)
        with self._reads.reading(), self.store.read() as txn:
            claim = self.store.get_claim(txn, tenant_id, claim_id)
            if claim is None:
                raise NotFound(f"claim_id: no claim '{claim_id}' in tenant")
            claim.ClearField("embedding")
            return dash_pb2.GetClaimResponse(
                claim=claim,
                evidence=self.store.evidence_of(txn, tenant_id, claim_id),
                edges_out=self.store.edges_out(txn, tenant_id, claim_id),
                edges_in=self.store.edges_in(txn, tenant_id, claim_id),
            )

    def _neighbours(self, tenant_id: str, vectors: list[bytes], k: int) -> list[list[tuple[int, float]]]:
        """The edge builder's vector-neighbour search."""
        with self.index_lock:
            return self.vectors.search_packed(tenant_id, vectors, k)

    def snapshot_to(self, directory: Path) -> node_pb2.SnapshotManifest:
        """Write a consistent copy of this replica (state, both indexes, all at one LSN) into
        ``directory`` and describe it; writes wait meanwhile. For a follower to bootstrap from."""
        with self._write_lock:
            self.store.env.sync(True)
            lsn = self.feed.committed_lsn
            with self.index_lock:
                self.vectors.save(directory / "vectors", lsn)
            self.lexical.save(directory / "lexical", lsn)
            self.store.copy_to(directory / "state")
        manifest = node_pb2.SnapshotManifest(shard_id=self.config.shard_id, lsn=lsn)
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            manifest.files.add(
                path=str(path.relative_to(directory)), size=path.stat().st_size, crc32c=file_crc(path)
            )
        return manifest

    def claim_ids(self, tenant_id: str) -> list[str]:
        """Every claim id of a tenant (for checkers)."""
        with self.store.read() as txn:
            return self.store.claim_ids(txn, tenant_id)

    def settle(self) -> bool:
        """Wait until the edge builder has judged every committed write; False if the wait timed out."""
        return self.detector is None or self.detector.wait(self.wal.last_lsn)

    def stats(self, tenant_id: str = "", digest: bool = False) -> node_pb2.StatsResponse:
        with self._reads.reading(), self.store.read() as txn:
            t = tenant_id or None
            return node_pb2.StatsResponse(
                digest=self.store.digest(txn) if digest else "",
                applied_lsn=self.store.applied_lsn(txn),
                generation=self.wal.generation,
                claims=self.store.count(txn, "claims", t),
                evidence=self.store.count(txn, "evidence", t),
                edges=self.store.count(txn, "edges_out", t),
                wal_bytes=self.wal.size_bytes(),
                wal_first_lsn=self.wal.first_lsn(),
                detection_backlog=self.detector.backlog if self.detector is not None else 0,
                index_backlog=self.vectors.pending,
                features_backlog=self.features_backlog,
                leader_lsn=self.feed.committed_lsn if self.leads else self.feed.leader_lsn,
                staleness_seconds=0.0 if self.leads else self.feed.staleness(),
                follower_lsns=self.feed.follower_lsns() if self.leads else {},
            )

    def close(self) -> None:
        """Stop the writer (after queued writes), then close the WAL, indexes and state."""
        if self._closed:
            return
        self._reads.close(timeout=30.0)
        if self.detector is not None:
            self.detector.stop()
        self._queue.put(_STOP)
        self._writer.join()
        self._stopping.set()
        self._indexer_wake.set()
        self._indexer.join()
        self._closed = True
        self.wal.close()
        self.store.close()
        self._dir_lock.release()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# A single point in time ("in 2005", "on 5 March 2022") says when something happened, not how long a state
# holds: "the cathedral was finished in 1880" is still true now. Those become the claim's event time;
# ranges and open intervals ("from 1968 to 1969", "since 2022", "until 2019") become its validity.
EVENT_RULES = frozenset({"in_year", "in_month", "on_date"})


def _set_validity(claim: types_pb2.Claim, validity: Validity) -> None:
    """Time read from the sentence (or its context), with the expression it came from."""
    if validity.rule in EVENT_RULES:
        if validity.start is not None:
            claim.event_time.FromDatetime(validity.start)
    else:
        if validity.start is not None:
            claim.valid_from.FromDatetime(validity.start)
        if validity.end is not None:
            claim.valid_to.FromDatetime(validity.end)
    claim.valid_time_source.CopyFrom(
        types_pb2.TemporalSource(
            expression=validity.expression,
            span_start=validity.span_start,
            span_end=validity.span_end,
            rule=validity.rule,
            inherited=validity.inherited,
        )
    )


def _lexical_text(claim: types_pb2.Claim) -> str:
    parts = [claim.text, claim.subject, claim.predicate, claim.object, *claim.entities]
    return " ".join(p for p in parts if p)


def _document_claim_id(tenant_id: str, extracted_id: str) -> str:
    """A document claim's id, scoped to its tenant. Claim ids have one owner replica-wide, and the
    extractor derives them from the document alone, so without the tenant two tenants ingesting the same
    document would collide (the second refused ALREADY_EXISTS, learning that the first holds it)."""
    h = hashlib.blake2b(digest_size=10)
    for part in (tenant_id, extracted_id):
        raw = part.encode("utf-8", "surrogatepass")
        h.update(f"{len(raw)}:".encode())
        h.update(raw)
    return "doc-" + h.hexdigest()


def _fingerprint(tenant_id: str, commit_id: str, items: list[types_pb2.ClaimInput]) -> bytes:
    """sha256 over the batch's full content as the client sent it."""
    h = hashlib.sha256()
    h.update(f"{tenant_id}\x00{commit_id}\x00".encode())
    for item in items:
        raw = item.SerializeToString(deterministic=True)
        h.update(len(raw).to_bytes(8, "little"))
        h.update(raw)
    return h.digest()


def _commit_answer(commit_id: str, fp: bytes, found: tuple[bytes, bytes]) -> dash_pb2.WriteResponse:
    stored_fp, raw = found
    if stored_fp != fp:
        raise AlreadyExists(f"commit_id: '{commit_id}' was already used for a batch with other content")
    resp = dash_pb2.WriteResponse.FromString(raw)
    resp.replayed = True
    return resp
