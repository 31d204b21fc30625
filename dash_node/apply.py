"""Applying one resolved write (a ``WalBatch``) to the LMDB state.

The same function runs on the live write path and on WAL replay, so replay is the write path itself.
It is deterministic given the batch and the state: everything time- or model-dependent (recorded_at,
embeddings) was fixed in the batch before it reached the WAL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lmdb

from dash_client._pb.dash.v1 import types_pb2, wal_pb2
from dash_node.errors import InvalidArgument, NotFound
from dash_node.placement import KEYSPACE, claim_routing_key, routing_hash
from dash_node.store import Store


@dataclass
class Touched:
    """What a write changed, keyed (tenant, claim_id): ``claims``, the state it left each written or
    deleted claim in, which the indexes must follow — (docno, claim), or (the freed docno, None) for a
    delete; the write has them in hand, so the indexes need not read them back — and ``features``: every
    claim whose ranking features may have changed (a superset: also the ends of new edges and the claims
    evidence was added to or moved from)."""

    claims: dict[tuple[str, str], tuple[int, types_pb2.Claim | None]] = field(default_factory=dict)
    features: set[tuple[str, str]] = field(default_factory=set)

    def update(self, other: Touched) -> None:
        self.claims.update(other.claims)  # a later write's state replaces an earlier one's
        self.features |= other.features

    def claim(self, tenant: str, claim_id: str, docno: int, claim: types_pb2.Claim | None) -> None:
        self.claims[(tenant, claim_id)] = (docno, claim)
        self.features.add((tenant, claim_id))

    def edge(self, tenant: str, edge: types_pb2.Edge) -> None:
        self.features.update(((tenant, edge.from_claim_id), (tenant, edge.to_claim_id)))


def _same_content(old: types_pb2.Claim, new: types_pb2.Claim) -> bool:
    a, b = types_pb2.Claim(), types_pb2.Claim()
    a.CopyFrom(old)
    b.CopyFrom(new)
    for c in (a, b):
        c.ClearField("recorded_at")
    return a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)


def apply_batch(
    store: Store, txn: lmdb.Transaction, batch: wal_pb2.WalBatch, lsn: int, items_field: str = "items"
) -> Touched:
    """Apply ``batch`` at ``lsn`` inside ``txn``; raise a DashError (and leave txn to be aborted) if it
    conflicts with the state. ``items_field`` names the upserts in errors as the client wrote them
    (``items[3]`` for a batch, ``item`` for a single ingest)."""
    if batch.HasField("trim"):
        return _trim(store, txn, batch.trim, lsn)
    tenant = batch.tenant_id
    touched = Touched()
    dim = store.tenant_dim(txn, tenant)
    if dim is None:
        store.set_tenant_dim(txn, tenant, 0)
        dim = 0
    for i, item in enumerate(batch.upserts):
        where = items_field if items_field == "item" else f"{items_field}[{i}]"
        claim = item.claim
        if claim.embedding:
            vdim = len(claim.embedding) // 4
            if dim == 0:
                dim = vdim
                store.set_tenant_dim(txn, tenant, dim)
            elif vdim != dim:
                raise InvalidArgument(
                    f"{where}.claim.embedding",
                    f"dimension {vdim} does not match the tenant's dimension {dim}",
                )
        old = store.get_claim(txn, tenant, claim.claim_id)
        if old is not None and _same_content(old, claim):
            claim.recorded_at.CopyFrom(old.recorded_at)  # re-ingesting the same claim is a no-op
        docno = store.put_claim(txn, claim, old)
        for ev in item.evidence:
            _put_evidence(store, txn, tenant, ev, touched)
        for edge in item.edges:
            store.put_edge(txn, tenant, edge)
            touched.edge(tenant, edge)
        touched.claim(tenant, claim.claim_id, docno, claim)
    if batch.detect and batch.upserts:
        task = wal_pb2.DetectionTask(tenant_id=tenant, claim_ids=[it.claim.claim_id for it in batch.upserts])
        store.put_detection(txn, lsn, task)
    for done in batch.detected_for:
        store.drop_detection(txn, done)
    for edge in batch.detected_edges:
        ends = (edge.from_claim_id, edge.to_claim_id)
        if not all(store.has_claim(txn, tenant, c) for c in ends):
            continue  # an end was deleted after the builder judged the pair
        existing = store.get_edge(txn, tenant, edge)
        if existing is not None and existing.origin == types_pb2.EDGE_ORIGIN_CLIENT:
            continue  # what a client asserted is not overwritten by what the detector guessed
        store.put_edge(txn, tenant, edge)
        touched.edge(tenant, edge)
        if edge.relation == types_pb2.RELATION_SUPERSEDES:
            _mark_superseded(store, txn, tenant, edge.to_claim_id, batch)
    for i, ev in enumerate(batch.evidence):
        if store.get_claim(txn, tenant, ev.claim_id) is None:
            raise NotFound(f"evidence[{i}].claim_id: no claim '{ev.claim_id}' in tenant")
        _put_evidence(store, txn, tenant, ev, touched)
    for claim_id in batch.deletes:
        freed = store.delete_claim(txn, tenant, claim_id, lsn)
        if freed is None:
            raise NotFound(f"claim_id: no claim '{claim_id}' in tenant")
        touched.claim(tenant, claim_id, freed, None)
    if batch.commit_id:
        store.put_commit(txn, tenant, batch.commit_id, batch.fingerprint, batch.response.SerializeToString())
    return touched


def _trim(store: Store, txn: lmdb.Transaction, trim: wal_pb2.RangeTrim, lsn: int) -> Touched:
    """Delete every claim whose routing position falls outside [start, end) — the other half of a split."""
    end = trim.end or KEYSPACE
    touched = Touched()
    for tenant in store.tenants(txn):
        for claim in list(store.iter_claims(txn, tenant)):
            key = claim.routing_key or claim_routing_key(claim.claim_id, claim.subject, list(claim.entities))
            if not trim.start <= routing_hash(tenant, key) < end:
                freed = store.delete_claim(txn, tenant, claim.claim_id, lsn)
                touched.claim(tenant, claim.claim_id, freed or 0, None)
    return touched


def _put_evidence(
    store: Store, txn: lmdb.Transaction, tenant: str, ev: types_pb2.Evidence, touched: Touched
) -> None:
    moved_from = store.put_evidence(txn, tenant, ev)
    touched.features.add((tenant, ev.claim_id))
    if moved_from is not None:
        touched.features.add((tenant, moved_from))


def _mark_superseded(store: Store, txn: lmdb.Transaction, tenant: str, claim_id: str, batch) -> None:
    """Transaction time: the store learned now that a later claim replaces this one. Nothing is deleted;
    the claim stays queryable as history."""
    old = store.get_claim(txn, tenant, claim_id)
    if old is not None and not old.HasField("superseded_at"):
        old.superseded_at.CopyFrom(batch.recorded_at)
        store.rewrite_claim(txn, old)
