"""`dash cluster up|status|down`: drive a local cluster from the shell."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import grpc

from cluster.access import NodeAccess
from cluster.local import ClusterSpec, LocalCluster
from cluster.rebalance import MoveError, move_replica, split_shard
from dash_client import transport
from dash_client._pb.dash.v1 import node_pb2
from dash_node.etcd_placement import PlacementStore


def status(cluster: LocalCluster, timeout: float = 3.0) -> dict:
    """Nodes (registered or not), shards (range, replicas, leader, epoch) and each replica's position."""
    pm = asyncio.run(_load(cluster.state.etcd))
    access = cluster.access
    nodes = {}
    for node_id in sorted(set(cluster.state.nodes) | set(pm.nodes)):
        info = pm.nodes.get(node_id)
        nodes[node_id] = {
            "registered": info is not None,
            "address": info.address if info else cluster.state.nodes.get(node_id, ""),
            "pid": cluster.state.pids.get(node_id),
        }
    shards = []
    for shard in pm.ordered():
        replicas = {}
        for node_id in shard.replicas:
            replicas[node_id] = _replica_stats(nodes.get(node_id, {}), shard.shard_id, access, timeout)
            replicas[node_id]["role"] = "leader" if node_id == shard.leader else "follower"
        leader_lsn = replicas.get(shard.leader, {}).get("applied_lsn", 0)
        for r in replicas.values():
            r["lag_records"] = max(leader_lsn - r.get("applied_lsn", 0), 0) if r.get("up") else None
        shards.append(
            {
                "shard_id": shard.shard_id,
                "range": [hex(shard.start), hex(shard.end)],
                "epoch": shard.epoch,
                "leader": shard.leader,
                "replicas": replicas,
            }
        )
    return {
        "router": cluster.state.router,
        "etcd": cluster.state.etcd,
        "revision": pm.revision,
        "nodes": nodes,
        "shards": shards,
    }


def _replica_stats(node: dict, shard_id: str, access: NodeAccess, timeout: float) -> dict:
    if not node.get("registered"):
        return {"up": False}
    try:
        s = access.call(node["address"], "Stats", node_pb2.StatsRequest(shard_id=shard_id), timeout)
    except grpc.RpcError as exc:
        return {"up": False, "error": f"{exc.code().name}: {exc.details()}"}
    return {
        "up": True,
        "claims": s.claims,
        "applied_lsn": s.applied_lsn,
        "generation": s.generation,
        "epoch": s.epoch,
        "staleness_seconds": round(s.staleness_seconds, 3),
        "detection_backlog": s.detection_backlog,
        "index_backlog": s.index_backlog,
        "features_backlog": s.features_backlog,
    }


async def _load(etcd: str):
    store = PlacementStore(etcd)
    try:
        return await store.load()
    finally:
        await store.close()


def render(st: dict) -> str:
    lines = [f"router {st['router']}   etcd {st['etcd']}   placement revision {st['revision']}", "", "nodes:"]
    for node_id, n in st["nodes"].items():
        state = "up" if n["registered"] else "DOWN (no live registration)"
        lines.append(f"  {node_id:<6} {n['address']:<22} {state}")
    lines += ["", "shards:"]
    for s in st["shards"]:
        lines.append(f"  {s['shard_id']:<4} epoch {s['epoch']:<3} range {s['range'][0]}..{s['range'][1]}")
        for node_id, r in s["replicas"].items():
            if not r.get("up"):
                lines.append(f"       {node_id:<6} {r['role']:<8} DOWN")
                continue
            lines.append(
                f"       {node_id:<6} {r['role']:<8} claims {r['claims']:<8} lsn {r['applied_lsn']:<8} "
                f"lag {r['lag_records']:<6} records, {r['staleness_seconds']:.2f} s"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="dash cluster", description="run a DASH cluster on this machine")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start etcd, nodes and a router; print the router address and API key")
    up.add_argument("--dir", required=True)
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--shards", type=int, default=4)
    up.add_argument("--replicas", type=int, default=2)
    up.add_argument("--etcd-members", type=int, choices=[1, 3], default=1)
    up.add_argument("--lease-ttl", type=int, default=5)
    up.add_argument(
        "--tls", action="store_true", help="TLS everywhere, mutual between router and nodes (throwaway CA)"
    )
    up.add_argument(
        "--tls-client-auth", action="store_true", help="with --tls: clients need a certificate too"
    )
    st = sub.add_parser("status", help="nodes, shards, leaders, epochs, replica positions")
    st.add_argument("--dir", required=True)
    st.add_argument("--json", action="store_true")
    down = sub.add_parser("down", help="stop everything `up` started")
    down.add_argument("--dir", required=True)
    mv = sub.add_parser("move", help="move a shard replica to another node, online")
    mv.add_argument("--dir", required=True)
    mv.add_argument("--shard", required=True)
    mv.add_argument("--to", required=True, help="node to move the replica to")
    mv.add_argument("--from", dest="source", default="", help="node the replica leaves (default: a follower)")
    sp = sub.add_parser("split", help="split a shard's key range in two, online")
    sp.add_argument("--dir", required=True)
    sp.add_argument("--shard", required=True)
    sp.add_argument("--at", type=lambda x: int(x, 0), default=None, help="split point (default: the middle)")
    args = p.parse_args(argv)
    try:
        if args.cmd == "up":
            spec = ClusterSpec(
                args.nodes,
                args.shards,
                args.replicas,
                args.etcd_members,
                args.lease_ttl,
                tls=args.tls or args.tls_client_auth,
                tls_client_auth=args.tls_client_auth,
            )
            cluster = LocalCluster(args.dir, spec)
            state = cluster.up()
            print(
                f"router   {state.router}\napi key  {state.api_key}\netcd     {state.etcd}\n"
                f"state    {args.dir}/cluster.json\nstop with: dash cluster down --dir {args.dir}"
            )
            if cluster.tls is not None:
                print("client   " + " ".join(transport.to_flags(cluster.tls)))
        elif args.cmd == "move":
            c = LocalCluster.attach(args.dir)
            print(
                json.dumps(
                    asyncio.run(move_replica(c.state.etcd, c.access, args.shard, args.to, args.source)),
                    indent=2,
                )
            )
        elif args.cmd == "split":
            c = LocalCluster.attach(args.dir)
            print(json.dumps(asyncio.run(split_shard(c.state.etcd, c.access, args.shard, args.at)), indent=2))
        elif args.cmd == "status":
            st = status(LocalCluster.attach(args.dir))
            print(json.dumps(st, indent=2) if args.json else render(st))
        else:
            LocalCluster.attach(args.dir).down()
            print("cluster stopped")
    except (OSError, RuntimeError, TimeoutError, ValueError, MoveError) as exc:
        print(f"dash cluster {args.cmd}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
