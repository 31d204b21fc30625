"""Applied state of one shard replica in LMDB.

LMDB holds what the WAL has made durable and the LSN it reached (``meta/applied_lsn``). Every key is
tenant-prefixed (see ``keys``). Writes happen inside one LMDB write transaction per WAL group, opened
and committed by the engine's unit of work; this module only knows how to read and change rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path

import lmdb

from dash_client._pb.dash.v1 import types_pb2, wal_pb2
from dash_node.keys import SEP, from_u64, key, prefix, split, u64

_DBS = (
    "claims",  # tenant/claim_id -> Claim
    "docnos",  # tenant/claim_id -> u64 docno (the index key)
    "docno_rev",  # u64 docno -> tenant/claim_id
    "evidence",  # tenant/evidence_id -> Evidence
    "claim_evidence",  # tenant/claim_id/evidence_id -> b""
    "edges_out",  # tenant/from/to/relation -> Edge
    "edges_in",  # tenant/to/from/relation -> b""
    "entities",  # tenant/name/docno(hex)/claim_id -> b"" (names: subject and entities; docno = age)
    "labels",  # tenant/label_key/label_value/claim_id -> b""
    "tombstones",  # tenant/claim_id -> u64 lsn of the delete + u64 docno it freed
    "commits",  # tenant/commit_id -> fingerprint(32) + WriteResponse
    "tenants",  # tenant -> u64 vector dimension (0 = not fixed yet)
    "detect_pending",  # u64 lsn -> DetectionTask (claims the edge builder has yet to judge)
    "meta",  # applied_lsn, next_docno
)


def normalise_entity(name: str) -> str:
    """Entities match case- and space-insensitively."""
    return " ".join(name.casefold().split())


def names_of(claim: types_pb2.Claim) -> set[str]:
    """What a claim is about: its subject and its entities, normalised."""
    names = {normalise_entity(e) for e in claim.entities if e.strip()}
    if claim.subject.strip():
        names.add(normalise_entity(claim.subject))
    return names


@dataclass(frozen=True)
class StoreConfig:
    map_size: int = 64 << 30
    # Data pages are fsynced at commit, the meta page is not: integrity holds on an OS crash and the
    # last transaction may be undone, which WAL replay redoes.
    metasync: bool = False


class Store:
    """The LMDB environment and its named databases."""

    def __init__(self, directory: Path, config: StoreConfig = StoreConfig(), readonly: bool = False) -> None:
        """``readonly``: a reader in another process (the edge builder's worker) beside the one writer."""
        self.directory, self.config = directory, config
        if not readonly:
            directory.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(
            str(directory),
            map_size=config.map_size,
            max_dbs=len(_DBS) + 2,
            metasync=config.metasync,
            readahead=False,
            readonly=readonly,
        )
        self.db = {name: self.env.open_db(name.encode(), create=not readonly) for name in _DBS}

    def close(self) -> None:
        self.env.close()

    def read(self) -> lmdb.Transaction:
        return self.env.begin(write=False, buffers=False)

    def write(self, parent: lmdb.Transaction | None = None) -> lmdb.Transaction:
        return self.env.begin(write=True, parent=parent)

    def copy_to(self, path: Path) -> None:
        """A consistent copy of the whole environment (for snapshots)."""
        path.mkdir(parents=True, exist_ok=True)
        self.env.copy(str(path), compact=True)

    # ---- meta --------------------------------------------------------------------------------------

    def applied_lsn(self, txn: lmdb.Transaction) -> int:
        raw = txn.get(b"applied_lsn", db=self.db["meta"])
        return from_u64(raw) if raw else 0

    def set_applied_lsn(self, txn: lmdb.Transaction, lsn: int, crc: int) -> None:
        """The last applied record: its LSN and the crc32c of its payload (replication compares it)."""
        txn.put(b"applied_lsn", u64(lsn), db=self.db["meta"])
        txn.put(b"applied_crc", u64(crc), db=self.db["meta"])

    def applied_crc(self, txn: lmdb.Transaction) -> int:
        raw = txn.get(b"applied_crc", db=self.db["meta"])
        return from_u64(raw) if raw else 0

    def allocate_docno(self, txn: lmdb.Transaction) -> int:
        raw = txn.get(b"next_docno", db=self.db["meta"])
        n = from_u64(raw) if raw else 1
        txn.put(b"next_docno", u64(n + 1), db=self.db["meta"])
        return n

    # ---- tenants -----------------------------------------------------------------------------------

    def tenant_dim(self, txn: lmdb.Transaction, tenant: str) -> int | None:
        """None: the tenant has never written. 0: known, no vector dimension fixed yet."""
        raw = txn.get(tenant.encode(), db=self.db["tenants"])
        return None if raw is None else from_u64(raw)

    def set_tenant_dim(self, txn: lmdb.Transaction, tenant: str, dim: int) -> None:
        txn.put(tenant.encode(), u64(dim), db=self.db["tenants"])

    def tenants(self, txn: lmdb.Transaction) -> list[str]:
        return [k.decode() for k, _ in txn.cursor(db=self.db["tenants"])]

    # ---- claims ------------------------------------------------------------------------------------

    def get_claim(self, txn: lmdb.Transaction, tenant: str, claim_id: str) -> types_pb2.Claim | None:
        raw = txn.get(key(tenant, claim_id), db=self.db["claims"])
        return types_pb2.Claim.FromString(raw) if raw is not None else None

    def has_claim(self, txn: lmdb.Transaction, tenant: str, claim_id: str) -> bool:
        return txn.get(key(tenant, claim_id), db=self.db["claims"]) is not None

    def rewrite_claim(self, txn: lmdb.Transaction, claim: types_pb2.Claim) -> None:
        """Store a changed claim whose names and labels are unchanged (no posting work)."""
        txn.put(key(claim.tenant_id, claim.claim_id), claim.SerializeToString(), db=self.db["claims"])

    def docno(self, txn: lmdb.Transaction, tenant: str, claim_id: str) -> int | None:
        raw = txn.get(key(tenant, claim_id), db=self.db["docnos"])
        return from_u64(raw) if raw is not None else None

    def claim_of_docno(self, txn: lmdb.Transaction, docno: int) -> tuple[str, str] | None:
        raw = txn.get(u64(docno), db=self.db["docno_rev"])
        if raw is None:
            return None
        tenant, claim_id = split(raw)
        return tenant, claim_id

    def put_claim(self, txn: lmdb.Transaction, claim: types_pb2.Claim, old: types_pb2.Claim | None) -> int:
        """Insert or replace a claim and its entity/label postings; returns its docno. ``old``: the claim
        it replaces, as the caller read it in ``txn`` (None for a new one)."""
        tenant, cid = claim.tenant_id, claim.claim_id
        if old is not None:
            self._drop_postings(txn, old)
        docno = self.docno(txn, tenant, cid)
        if docno is None:
            docno = self.allocate_docno(txn)
            txn.put(key(tenant, cid), u64(docno), db=self.db["docnos"])
            txn.put(u64(docno), key(tenant, cid), db=self.db["docno_rev"])
        txn.put(key(tenant, cid), claim.SerializeToString(), db=self.db["claims"])
        txn.delete(key(tenant, cid), db=self.db["tombstones"])
        for name in names_of(claim):
            txn.put(key(tenant, name, f"{docno:016x}", cid), b"", db=self.db["entities"])
        for lk, lv in claim.labels.items():
            txn.put(key(tenant, lk, lv, cid), b"", db=self.db["labels"])
        return docno

    def _drop_postings(self, txn: lmdb.Transaction, claim: types_pb2.Claim) -> None:
        tenant, cid = claim.tenant_id, claim.claim_id
        docno = self.docno(txn, tenant, cid) or 0
        for name in names_of(claim):
            txn.delete(key(tenant, name, f"{docno:016x}", cid), db=self.db["entities"])
        for lk, lv in claim.labels.items():
            txn.delete(key(tenant, lk, lv, cid), db=self.db["labels"])

    def delete_claim(self, txn: lmdb.Transaction, tenant: str, claim_id: str, lsn: int) -> int | None:
        """Remove a claim, its evidence and its edges; leave a tombstone. Returns the freed docno."""
        claim = self.get_claim(txn, tenant, claim_id)
        if claim is None:
            return None
        self._drop_postings(txn, claim)
        for ev_id in self.evidence_ids(txn, tenant, claim_id):
            txn.delete(key(tenant, ev_id), db=self.db["evidence"])
            txn.delete(key(tenant, claim_id, ev_id), db=self.db["claim_evidence"])
        for edge in self.edges_out(txn, tenant, claim_id):
            self.delete_edge(txn, tenant, edge)
        for edge in self.edges_in(txn, tenant, claim_id):
            self.delete_edge(txn, tenant, edge)
        docno = self.docno(txn, tenant, claim_id)
        txn.delete(key(tenant, claim_id), db=self.db["claims"])
        txn.delete(key(tenant, claim_id), db=self.db["docnos"])
        if docno is not None:
            txn.delete(u64(docno), db=self.db["docno_rev"])
        txn.put(key(tenant, claim_id), u64(lsn) + u64(docno or 0), db=self.db["tombstones"])
        return docno

    def tombstone_docno(self, txn: lmdb.Transaction, tenant: str, claim_id: str) -> int | None:
        """The docno a delete freed, so that indexes catching up from the WAL can drop it."""
        raw = txn.get(key(tenant, claim_id), db=self.db["tombstones"])
        return from_u64(raw[8:]) if raw is not None else None

    def iter_claims(self, txn: lmdb.Transaction, tenant: str) -> Iterator[types_pb2.Claim]:
        for _, raw in self._scan(txn, "claims", prefix(tenant)):
            yield types_pb2.Claim.FromString(raw)

    def claim_ids(self, txn: lmdb.Transaction, tenant: str) -> list[str]:
        return [split(k)[-1] for k, _ in self._scan(txn, "claims", prefix(tenant))]

    def count(self, txn: lmdb.Transaction, db: str, tenant: str | None = None) -> int:
        if tenant is None:
            return txn.stat(self.db[db])["entries"]
        return sum(1 for _ in self._scan(txn, db, prefix(tenant)))

    # ---- evidence ----------------------------------------------------------------------------------

    def get_evidence(self, txn: lmdb.Transaction, tenant: str, evidence_id: str) -> types_pb2.Evidence | None:
        raw = txn.get(key(tenant, evidence_id), db=self.db["evidence"])
        return types_pb2.Evidence.FromString(raw) if raw is not None else None

    def put_evidence(self, txn: lmdb.Transaction, tenant: str, ev: types_pb2.Evidence) -> str | None:
        """Upsert by evidence_id; an evidence row that moves to another claim is unlinked from the old one,
        whose id is returned (None if it did not move)."""
        old = self.get_evidence(txn, tenant, ev.evidence_id)
        moved_from = None
        if old is not None and old.claim_id != ev.claim_id:
            txn.delete(key(tenant, old.claim_id, ev.evidence_id), db=self.db["claim_evidence"])
            moved_from = old.claim_id
        txn.put(key(tenant, ev.evidence_id), ev.SerializeToString(), db=self.db["evidence"])
        txn.put(key(tenant, ev.claim_id, ev.evidence_id), b"", db=self.db["claim_evidence"])
        return moved_from

    def evidence_ids(self, txn: lmdb.Transaction, tenant: str, claim_id: str) -> list[str]:
        return [split(k)[2] for k, _ in self._scan(txn, "claim_evidence", prefix(tenant, claim_id))]

    def evidence_of(self, txn: lmdb.Transaction, tenant: str, claim_id: str) -> list[types_pb2.Evidence]:
        out = []
        for ev_id in self.evidence_ids(txn, tenant, claim_id):
            ev = self.get_evidence(txn, tenant, ev_id)
            if ev is not None:
                out.append(ev)
        return out

    # ---- edges -------------------------------------------------------------------------------------

    @staticmethod
    def _edge_keys(tenant: str, edge: types_pb2.Edge) -> tuple[bytes, bytes]:
        rel = str(int(edge.relation))
        return (
            key(tenant, edge.from_claim_id, edge.to_claim_id, rel),
            key(tenant, edge.to_claim_id, edge.from_claim_id, rel),
        )

    def put_edge(self, txn: lmdb.Transaction, tenant: str, edge: types_pb2.Edge) -> None:
        out_key, in_key = self._edge_keys(tenant, edge)
        txn.put(out_key, edge.SerializeToString(), db=self.db["edges_out"])
        txn.put(in_key, b"", db=self.db["edges_in"])

    def get_edge(self, txn: lmdb.Transaction, tenant: str, edge: types_pb2.Edge) -> types_pb2.Edge | None:
        """The stored edge with the same (from, to, relation), if any."""
        raw = txn.get(self._edge_keys(tenant, edge)[0], db=self.db["edges_out"])
        return types_pb2.Edge.FromString(raw) if raw is not None else None

    def delete_edge(self, txn: lmdb.Transaction, tenant: str, edge: types_pb2.Edge) -> None:
        out_key, in_key = self._edge_keys(tenant, edge)
        txn.delete(out_key, db=self.db["edges_out"])
        txn.delete(in_key, db=self.db["edges_in"])

    def edges_out(self, txn: lmdb.Transaction, tenant: str, claim_id: str) -> list[types_pb2.Edge]:
        return [
            types_pb2.Edge.FromString(v) for _, v in self._scan(txn, "edges_out", prefix(tenant, claim_id))
        ]

    def edges_in(self, txn: lmdb.Transaction, tenant: str, claim_id: str) -> list[types_pb2.Edge]:
        out = []
        for k, _ in self._scan(txn, "edges_in", prefix(tenant, claim_id)):
            _, to_id, from_id, rel = split(k)
            raw = txn.get(key(tenant, from_id, to_id, rel), db=self.db["edges_out"])
            if raw is not None:
                out.append(types_pb2.Edge.FromString(raw))
        return out

    # ---- postings for prefilters -------------------------------------------------------------------

    def claims_with_entity(
        self,
        txn: lmdb.Transaction,
        tenant: str,
        entity: str,
        newest: int | None = None,
        skip: Container[str] = (),
    ) -> list[str]:
        """Claims naming ``entity`` (as subject or entity), oldest first; only the ``newest`` n if given,
        passing over the ids in ``skip`` (read backwards, so a hot entity costs about n reads, not all of
        them; at most 4n keys are read)."""
        pre = prefix(tenant, normalise_entity(entity))
        if newest is None:
            return [split(k)[-1] for k, _ in self._scan(txn, "entities", pre) if split(k)[-1] not in skip]
        cur = txn.cursor(db=self.db["entities"])
        out: list[str] = []
        # Start at the last key of the prefix range: just before the first key past it, or at the end.
        positioned = cur.prev() if cur.set_range(pre + b"\xff") else cur.last()
        budget = 4 * newest
        while positioned and len(out) < newest and budget:
            k = cur.key()
            if not k.startswith(pre):
                break
            cid = k[k.rindex(SEP) + 1 :].decode()
            if cid not in skip:
                out.append(cid)
            budget -= 1
            positioned = cur.prev()
        return out[::-1]

    def claims_with_label(self, txn: lmdb.Transaction, tenant: str, label: str, value: str) -> list[str]:
        return [split(k)[-1] for k, _ in self._scan(txn, "labels", prefix(tenant, label, value))]

    # ---- idempotent commits ------------------------------------------------------------------------

    def get_commit(self, txn: lmdb.Transaction, tenant: str, commit_id: str) -> tuple[bytes, bytes] | None:
        raw = txn.get(key(tenant, commit_id), db=self.db["commits"])
        return (raw[:32], raw[32:]) if raw is not None else None

    def put_commit(
        self, txn: lmdb.Transaction, tenant: str, commit_id: str, fingerprint: bytes, response: bytes
    ) -> None:
        txn.put(key(tenant, commit_id), fingerprint + response, db=self.db["commits"])

    # ---- edge-builder work queue --------------------------------------------------------------------

    def put_detection(self, txn: lmdb.Transaction, lsn: int, task: wal_pb2.DetectionTask) -> None:
        txn.put(u64(lsn), task.SerializeToString(), db=self.db["detect_pending"])

    def drop_detection(self, txn: lmdb.Transaction, lsn: int) -> None:
        txn.delete(u64(lsn), db=self.db["detect_pending"])

    def detections(self, txn: lmdb.Transaction) -> Iterator[tuple[int, wal_pb2.DetectionTask]]:
        """Pending detection tasks, oldest write first."""
        for k, raw in txn.cursor(db=self.db["detect_pending"]):
            yield from_u64(k), wal_pb2.DetectionTask.FromString(raw)

    # ---- whole-replica checks -----------------------------------------------------------------------

    def digest(self, txn: lmdb.Transaction) -> str:
        """sha256 over every row but the bookkeeping in ``meta``: replicas that applied the same records
        have the same digest (the drills' checker compares them)."""
        h = hashlib.sha256()
        for name in _DBS:
            if name == "meta":
                continue
            h.update(name.encode() + SEP)
            for k, v in txn.cursor(db=self.db[name]):
                h.update(len(k).to_bytes(4, "big") + k + len(v).to_bytes(4, "big") + v)
        return h.hexdigest()

    # ---- helpers -----------------------------------------------------------------------------------

    def _scan(self, txn: lmdb.Transaction, db: str, pre: bytes) -> Iterator[tuple[bytes, bytes]]:
        cur = txn.cursor(db=self.db[db])
        if not cur.set_range(pre):
            return
        for k, v in cur:
            if not k.startswith(pre):
                return
            yield k, v
