"""The drills' checker: after a fault, prove nothing acknowledged was lost and the replicas agree.

Verdicts, each with the evidence behind it:

- ``converged``: every replica of every shard reached its leader's LSN;
- ``divergent_shards``: shards whose replicas differ in content digest at the same LSN;
- ``lost`` / ``duplicated`` / ``partial``: acknowledged claims on no shard, on more than one shard, or on
  only some replicas of their shard;
- ``split_brain``: a (shard, epoch) under which two nodes acknowledged writes;
- ``stale_epoch``: a write acknowledged under an older epoch than an earlier LSN of the same shard;
- ``read_mismatch``: queries whose answer differs between replicas of a shard.
"""

from __future__ import annotations

from collections import defaultdict

from cluster.drills.load import TENANT, LoadRecord
from cluster.local import LocalCluster
from cluster.replicas import divergent, placement, wait_converged
from dash_client._pb.dash.v1 import dash_pb2, node_pb2

QUERIES = ("containers handled", "berth", "Berth 0-1-0 handled containers")


def check(
    cluster: LocalCluster,
    record: LoadRecord,
    required_ack: str = "replicated",
    timeout: float = 60,
    extra_positions: list[tuple[str, int, int, str]] | tuple = (),
) -> dict:
    """``extra_positions``: more writes some node acknowledged (shard, LSN, epoch, node), for the
    split-brain check only (e.g. a partitioned leader's, whose history was dropped on rejoin)."""
    out: dict = {"ok": False}
    try:
        views = wait_converged(cluster, timeout)
    except TimeoutError as exc:
        out.update(converged=False, error=str(exc))
        return out
    out["converged"] = True
    out["divergent_shards"] = divergent(views)
    pm = placement(cluster)
    holders: dict[str, dict[str, set[str]]] = defaultdict(dict)  # claim -> shard -> nodes holding it
    for shard in pm.shards.values():
        for node_id in shard.replicas:
            for cid in _claim_ids(cluster, node_id, shard.shard_id):
                holders[cid].setdefault(shard.shard_id, set()).add(node_id)
    acked = sorted({cid for a in record.acks if a.ack == required_ack for cid in a.claim_ids})
    lost, duplicated, partial = [], [], []
    for cid in acked:
        shards = holders.get(cid, {})
        if not shards:
            lost.append(cid)
        elif len(shards) > 1:
            duplicated.append(cid)
        elif any(nodes != set(pm.shards[sid].replicas) for sid, nodes in shards.items()):
            partial.append(cid)
    leaders: dict[tuple[str, int], set[str]] = defaultdict(set)
    by_shard: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for a in record.acks:
        for shard_id, lsn, epoch, node_id in a.positions:
            if node_id:  # a replayed answer names no node: its first answer did
                leaders[(shard_id, epoch)].add(node_id)
            by_shard[shard_id].append((lsn, epoch))
    for shard_id, _, epoch, node_id in extra_positions:
        leaders[(shard_id, epoch)].add(node_id)
    split_brain = [f"{s}@{e}: {sorted(n)}" for (s, e), n in sorted(leaders.items()) if len(n) > 1]
    stale = []
    for shard_id, rows in by_shard.items():
        top = 0
        for lsn, epoch in sorted(rows):
            if epoch < top:
                stale.append(f"{shard_id}: LSN {lsn} at epoch {epoch} after epoch {top}")
            top = max(top, epoch)
    out.update(
        acknowledged_claims=len(acked),
        stored_claims=len(holders),
        lost=lost[:20],
        lost_count=len(lost),
        duplicated_count=len(duplicated),
        partial_count=len(partial),
        split_brain=split_brain,
        stale_epoch=stale[:20],
        read_mismatch=_read_mismatches(cluster, pm),
        claims_per_shard={sid: next(iter(vs.values())).claims for sid, vs in views.items() if vs},
    )
    out["ok"] = not (
        out["divergent_shards"]
        or lost
        or duplicated
        or partial
        or split_brain
        or stale
        or out["read_mismatch"]
    )
    return out


def _claim_ids(cluster: LocalCluster, node_id: str, shard_id: str) -> list[str]:
    request = node_pb2.ListClaimsRequest(tenant_id=TENANT, shard_id=shard_id)
    return list(cluster.access.call(cluster.state.nodes[node_id], "ListClaims", request, 30).claim_ids)


def _read_mismatches(cluster: LocalCluster, pm) -> list[str]:
    """Each query on each replica of each shard, directly: the answers of one shard's replicas must match."""
    out = []
    for shard in pm.shards.values():
        for q in QUERIES:
            answers = {}
            for node_id in shard.replicas:
                request = dash_pb2.RetrieveRequest(
                    tenant_id=TENANT, query=q, top_k=10, shard_id=shard.shard_id
                )
                res = cluster.access.call(cluster.state.nodes[node_id], "Retrieve", request, 30)
                answers[node_id] = [r.claim.claim_id for r in res.results]
            if len({tuple(a) for a in answers.values()}) > 1:
                out.append(f"{shard.shard_id} {q!r}: {answers}")
    return out
