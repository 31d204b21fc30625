"""The public ``dash.v1.Dash`` service: authenticate, validate, route writes, fan reads out, merge.

Writes go to the leader of the shard that owns the claim's routing key, stamped with that shard's
epoch; a replica that knows a newer placement refuses the write, and the router re-reads placement and
retries once. Reads go to every shard concurrently with a per-shard deadline, each to one replica
chosen by the read preference; a replica that is down, too stale for the bound, or behind the write
the client asked to read after is passed over for the next one. A shard no replica of which answers
is named in ``shards_missing`` instead of failing the whole query.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

import grpc

from dash_client._pb.dash.v1 import dash_pb2, node_pb2, types_pb2
from dash_client.transport import TlsConfig
from dash_node import telemetry
from dash_node import validation as v
from dash_node.errors import DashError, NotFound, Unavailable
from dash_node.etcd_placement import PlacementStore, PlacementWatcher
from dash_node.evidence.judge import RuleJudge
from dash_node.metrics import ROUTER as METRICS
from dash_node.placement import (
    PlacementMap,
    ShardPlacement,
    claim_routing_key,
    document_routing_key,
    routing_hash,
)
from dash_router.auth import Authenticator
from dash_router.crossshard import merge
from dash_router.nodes import NodePool

log = logging.getLogger(__name__)
T = TypeVar("T")

# The calling client's deadline (monotonic seconds), set per request by the server: node calls made on
# its behalf get no more time than it has left.
CLIENT_DEADLINE: ContextVar[float | None] = ContextVar("client_deadline", default=None)

# A node's per-shard answer carries its status as a number.
_STATUS = {code.value[0]: code for code in grpc.StatusCode}

# Refusals after which a fresh placement may route the write correctly.
_REROUTE_HINTS = ("stale epoch", "not the leader", "newer than placement", "hosts no replica")


@dataclass(frozen=True)
class RouterConfig:
    etcd: str
    shard_timeout: float = 5.0  # per-shard deadline on fan-out reads
    write_timeout: float = 30.0
    limits: v.Limits = field(default_factory=v.Limits)
    # For requests that leave them unset: the acknowledgement level of writes, which replica serves
    # reads first, and how stale (ms since it last held all its leader had) a follower may be.
    default_ack: int = dash_pb2.ACK_LEVEL_LEADER
    read_preference: int = dash_pb2.READ_PREFERENCE_LEADER
    max_staleness_ms: int = 10_000
    # How the router reaches its nodes: TLS, with its own certificate when nodes require mutual TLS.
    node_tls: TlsConfig | None = None


class RpcFailed(Exception):
    """A node answered with a status the router passes through unchanged."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class Router:
    """Routing and fan-out over the placement that ``watcher`` keeps current."""

    def __init__(self, config: RouterConfig, auth: Authenticator, token: str = "") -> None:
        self.config = config
        self.auth = auth
        self.judge = RuleJudge()
        self.pool = NodePool(token, config.node_tls)
        self.watcher = PlacementWatcher(PlacementStore(config.etcd), on_change=self._on_placement)
        self._watch_task: asyncio.Task | None = None

    async def start(self, timeout: float = 30.0) -> None:
        self._watch_task = asyncio.get_running_loop().create_task(self.watcher.run())
        await asyncio.wait_for(self.watcher.ready.wait(), timeout)

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
        await self.pool.close()
        await self.watcher.store.close()

    async def _on_placement(self, pm: PlacementMap) -> None:
        for channel in self.pool.update(pm.nodes):
            await channel.close()

    @property
    def placement(self) -> PlacementMap:
        return self.watcher.current

    # ---- calls to nodes ----------------------------------------------------------------------------

    async def _call(self, node_id: str, method: str, request, timeout: float, raw: bool = False):
        """One call to a node; with ``raw`` its answer comes back encoded (bytes), not parsed."""
        deadline = CLIENT_DEADLINE.get()
        if deadline is not None:  # never wait on a node longer than the client will wait for us
            timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0:
                raise RpcFailed(grpc.StatusCode.DEADLINE_EXCEEDED, "the client's deadline has passed")
        stub = self.pool.raw_stub(node_id) if raw else self.pool.stub(node_id)
        try:
            return await getattr(stub, method)(request, timeout=timeout, metadata=self.pool.metadata)
        except grpc.aio.AioRpcError as exc:
            raise RpcFailed(exc.code(), exc.details() or "") from exc

    async def _write(
        self,
        position: int,
        send: Callable[[ShardPlacement, dash_pb2.WriteOptions], Awaitable[T]],
        client: dash_pb2.WriteOptions,
    ) -> T:
        """Send a write to the leader of the shard owning ``position``; re-route once on a refusal. The
        client's write options travel with it, stamped with the placement it was routed by."""
        for attempt in range(2):
            shard = self.placement.shard_for(position)
            opts = dash_pb2.WriteOptions()
            opts.CopyFrom(client)
            opts.epoch, opts.shard_id = shard.epoch, shard.shard_id
            opts.ack = opts.ack or self.config.default_ack
            try:
                return await send(shard, opts)
            except RpcFailed as exc:
                reroute = exc.code == grpc.StatusCode.FAILED_PRECONDITION and any(
                    h in exc.details for h in _REROUTE_HINTS
                )
                if attempt == 0 and reroute:
                    log.info("write to %s refused (%s); refreshing placement", shard.shard_id, exc.details)
                    await self.watcher.refresh()
                    continue
                raise
        raise AssertionError("unreachable")

    async def _write_to(
        self,
        position: int,
        method: str,
        make: Callable[[dash_pb2.WriteOptions], object],
        client: dash_pb2.WriteOptions,
    ):
        async def send(shard: ShardPlacement, opts: dash_pb2.WriteOptions):
            return await self._call(shard.leader, method, make(opts), self.config.write_timeout)

        return await self._write(position, send, client)

    def _replicas_for_read(self, shard: ShardPlacement, preference: int) -> list[str]:
        """The order in which a shard's replicas are asked: the preferred ones first, the rest after."""
        followers = [n for n in shard.replicas if n != shard.leader]
        if preference == dash_pb2.READ_PREFERENCE_FOLLOWER:
            return [*followers, shard.leader]
        if preference == dash_pb2.READ_PREFERENCE_ANY:  # spread the load
            return random.sample(shard.replicas, len(shard.replicas))
        return [shard.leader, *followers]

    def _read_options(self, read: dash_pb2.ReadOptions) -> dash_pb2.ReadOptions:
        out = dash_pb2.ReadOptions()
        out.CopyFrom(read)
        out.preference = out.preference or self.config.read_preference
        out.max_staleness_ms = out.max_staleness_ms or self.config.max_staleness_ms
        return out

    async def _fan_out(
        self,
        method: str,
        make: Callable[[str], object],
        read: dash_pb2.ReadOptions | None = None,
        raw: bool = False,
        by_node: bool = False,
    ) -> dict[str, object]:
        """Ask every shard concurrently (one replica each, by read preference, passing over replicas
        that cannot serve); returns shard_id -> answer (encoded with ``raw``) or exception.

        With ``by_node`` (retrieves), the shards whose first choice is the same node are asked in one
        ``RetrieveShards`` call: each call costs ~1 ms of CPU on each side, so a node holding four shards
        is asked once, not four times. A shard that node cannot serve goes on to its next replica alone.
        """
        shards = self.placement.ordered()
        preference = read.preference if read is not None else dash_pb2.READ_PREFERENCE_LEADER
        orders = {s.shard_id: self._replicas_for_read(s, preference) for s in shards}

        async def one(shard: ShardPlacement, replicas: list[str], failure: BaseException | None = None):
            for node_id in replicas:
                try:
                    return await self._call(
                        node_id, method, make(shard.shard_id), self.config.shard_timeout, raw
                    )
                except (RpcFailed, Unavailable) as exc:
                    if not _next_replica_may_serve(exc):
                        raise
                    failure = exc
            raise failure or Unavailable(f"shard_id: no replica of '{shard.shard_id}'")

        async def together(node_id: str, group: list[ShardPlacement]) -> list[object]:
            ids = [s.shard_id for s in group]
            request = node_pb2.RetrieveShardsRequest(request=make(""), shard_ids=ids)
            try:
                reply = await self._call(node_id, "RetrieveShards", request, self.config.shard_timeout)
                parts: dict[str, object] = {
                    a.shard_id: a.response
                    if a.code == 0
                    else RpcFailed(_STATUS.get(a.code, grpc.StatusCode.UNKNOWN), a.message)
                    for a in reply.answers
                }
            except (RpcFailed, Unavailable) as exc:
                parts = dict.fromkeys(ids, exc)

            async def settle(shard: ShardPlacement) -> object:
                part = parts.get(shard.shard_id, Unavailable(f"node '{node_id}' left out its shard"))
                if not isinstance(part, BaseException):
                    return part
                if isinstance(part, RpcFailed) and part.code == grpc.StatusCode.UNIMPLEMENTED:
                    return await one(shard, orders[shard.shard_id])  # a node older than RetrieveShards
                if not _next_replica_may_serve(part):
                    raise part
                return await one(shard, orders[shard.shard_id][1:], part)

            return await asyncio.gather(*(settle(s) for s in group), return_exceptions=True)

        # Shards asked on their own, and groups of shards asked of one node together.
        alone, grouped = list(shards), {}
        if by_node:
            groups: dict[str, list[ShardPlacement]] = {}
            for s in shards:
                if orders[s.shard_id]:
                    groups.setdefault(orders[s.shard_id][0], []).append(s)
            grouped = {node_id: g for node_id, g in groups.items() if len(g) > 1}
            together_ids = {s.shard_id for g in grouped.values() for s in g}
            alone = [s for s in shards if s.shard_id not in together_ids]
        METRICS.fanout_width.observe(len(shards))
        telemetry.set_attributes({"dash.fanout_width": len(shards)})
        singles, *batches = await asyncio.gather(
            asyncio.gather(*(one(s, orders[s.shard_id]) for s in alone), return_exceptions=True),
            *(together(node_id, g) for node_id, g in grouped.items()),
            return_exceptions=True,
        )
        found = dict(zip([s.shard_id for s in alone], singles, strict=True))
        for group, answers in zip(grouped.values(), batches, strict=True):
            if isinstance(answers, BaseException):
                answers = [answers] * len(group)
            found.update(zip([s.shard_id for s in group], answers, strict=True))
        answers = [found[s.shard_id] for s in shards]
        for s, a in zip(shards, answers, strict=True):
            if isinstance(a, BaseException) and not (
                isinstance(a, RpcFailed) and a.code == grpc.StatusCode.NOT_FOUND  # a GetClaim miss
            ):
                code = (
                    a.code.name
                    if isinstance(a, RpcFailed)
                    else a.code
                    if isinstance(a, DashError)
                    else type(a).__name__
                )
                METRICS.shard_errors.labels(s.shard_id, code).inc()
        return {s.shard_id: a for s, a in zip(shards, answers, strict=True)}

    # ---- the Dash RPCs -----------------------------------------------------------------------------

    async def Ingest(self, req: dash_pb2.IngestRequest) -> dash_pb2.WriteResponse:
        v.check_claim_input("item", req.item, self.config.limits)
        c = req.item.claim
        position = routing_hash(req.tenant_id, claim_routing_key(c.claim_id, c.subject, list(c.entities)))
        return await self._write_to(
            position,
            "Ingest",
            lambda o: dash_pb2.IngestRequest(tenant_id=req.tenant_id, item=req.item, write=o),
            req.write,
        )

    async def IngestBatch(self, req: dash_pb2.IngestBatchRequest) -> dash_pb2.WriteResponse:
        """Split by shard; each shard's part is atomic and idempotent under a commit id derived from the
        batch's. Across shards a retry with the same commit_id completes a batch that failed midway."""
        v.check_batch(req.tenant_id, req.items, req.commit_id, self.config.limits)
        groups: dict[int, list[int]] = {}
        for i, item in enumerate(req.items):
            c = item.claim
            pos = routing_hash(req.tenant_id, claim_routing_key(c.claim_id, c.subject, list(c.entities)))
            shard = self.placement.shard_for(pos)
            groups.setdefault(shard.start, []).append(i)

        async def part(start: int, indexes: list[int]) -> dash_pb2.WriteResponse:
            items = [req.items[i] for i in indexes]
            return await self._write_to(
                start,
                "IngestBatch",
                lambda o: dash_pb2.IngestBatchRequest(
                    tenant_id=req.tenant_id,
                    items=items,
                    commit_id=f"{req.commit_id}@{o.shard_id}" if req.commit_id else "",
                    write=o,
                ),
                req.write,
            )

        answers = await asyncio.gather(*(part(s, ix) for s, ix in groups.items()), return_exceptions=True)
        failed = [a for a in answers if isinstance(a, BaseException)]
        if failed:
            done = sum(1 for a in answers if not isinstance(a, BaseException))
            first = failed[0]
            if isinstance(first, RpcFailed) and done == 0:
                raise first
            raise Unavailable(
                f"commit_id: batch applied on {done} of {len(answers)} shards ({first}); "
                f"retry with the same commit_id '{req.commit_id}' to complete it"
                if req.commit_id
                else f"items: batch applied on {done} of {len(answers)} shards ({first}); retry it"
            )
        out = dash_pb2.WriteResponse(commit_id=req.commit_id, replayed=all(a.replayed for a in answers))
        by_id = {cid for a in answers for cid in a.claim_ids}
        out.claim_ids.extend(it.claim.claim_id for it in req.items if it.claim.claim_id in by_id)
        out.evidence_count = sum(a.evidence_count for a in answers)
        out.edge_count = sum(a.edge_count for a in answers)
        out.detected = all(a.detected for a in answers)
        out.ack_met = min(a.ack_met for a in answers)  # the level every part met
        out.positions.extend(p for a in answers for p in a.positions)
        if len(answers) == 1:
            a = answers[0]
            out.lsn, out.generation, out.shard_id, out.epoch = a.lsn, a.generation, a.shard_id, a.epoch
        return out

    async def IngestDocument(self, req: dash_pb2.IngestDocumentRequest) -> dash_pb2.WriteResponse:
        v.check_document(req.document, self.config.limits)
        position = routing_hash(req.tenant_id, document_routing_key(req.document.doc_id))
        return await self._write_to(
            position,
            "IngestDocument",
            lambda o: dash_pb2.IngestDocumentRequest(tenant_id=req.tenant_id, document=req.document, write=o),
            req.write,
        )

    async def _find(
        self, tenant_id: str, claim_id: str, read: dash_pb2.ReadOptions | None = None
    ) -> tuple[str, dash_pb2.GetClaimResponse]:
        """The shard holding a claim and the claim (claim ids carry no routing key: ask every shard).
        Without read options (before a write) each shard's leader answers."""
        answers = await self._fan_out(
            "GetClaim",
            lambda sid: dash_pb2.GetClaimRequest(
                tenant_id=tenant_id, claim_id=claim_id, shard_id=sid, read=read
            ),
            read,
        )
        for shard_id, answer in answers.items():
            if isinstance(answer, dash_pb2.GetClaimResponse):
                return shard_id, answer
        _raise_unless_all_not_found(answers, f"claim_id: no claim '{claim_id}' in tenant")
        raise AssertionError("unreachable")

    async def _locate(self, tenant_id: str, claim_id: str) -> ShardPlacement:
        shard_id, _ = await self._find(tenant_id, claim_id)
        return self.placement.shards[shard_id]

    async def UpsertEvidence(self, req: dash_pb2.UpsertEvidenceRequest) -> dash_pb2.WriteResponse:
        if not req.evidence:
            raise v.InvalidArgument("evidence", "must not be empty")
        for i, ev in enumerate(req.evidence):
            v.check_evidence(f"evidence[{i}]", ev, self.config.limits, None)
        by_shard: dict[int, list[types_pb2.Evidence]] = {}
        for ev in req.evidence:
            shard = await self._locate(req.tenant_id, ev.claim_id)
            by_shard.setdefault(shard.start, []).append(ev)
        out = dash_pb2.WriteResponse(detected=True)
        for start, rows in by_shard.items():
            a = await self._write_to(
                start,
                "UpsertEvidence",
                lambda o, rows=rows: dash_pb2.UpsertEvidenceRequest(
                    tenant_id=req.tenant_id, evidence=rows, write=o
                ),
                req.write,
            )
            out.claim_ids.extend(a.claim_ids)
            out.evidence_count += a.evidence_count
            out.positions.extend(a.positions)
        return out

    async def DeleteClaim(self, req: dash_pb2.DeleteClaimRequest) -> dash_pb2.WriteResponse:
        v.check_id("claim_id", req.claim_id, self.config.limits.max_id_chars)
        shard = await self._locate(req.tenant_id, req.claim_id)
        return await self._write_to(
            shard.start,
            "DeleteClaim",
            lambda o: dash_pb2.DeleteClaimRequest(tenant_id=req.tenant_id, claim_id=req.claim_id, write=o),
            req.write,
        )

    async def GetClaim(self, req: dash_pb2.GetClaimRequest) -> dash_pb2.GetClaimResponse:
        v.check_get_claim(req.tenant_id, req.claim_id, self.config.limits)
        _, answer = await self._find(req.tenant_id, req.claim_id, self._read_options(req.read))
        return answer

    async def Retrieve(self, req: dash_pb2.RetrieveRequest) -> dash_pb2.RetrieveResponse | bytes:
        """Fan out, merge on score, flag conflicts across shards. A single shard's answer is already what
        the merge would make of it (the node ranks, cuts to top_k and orders by stance mode alike), so it
        is handed on encoded, as the node sent it: no parse, no copy, no re-encoding."""
        v.check_retrieve(req, self.config.limits)

        read = self._read_options(req.read)

        def per_shard(shard_id: str) -> dash_pb2.RetrieveRequest:
            r = dash_pb2.RetrieveRequest()
            r.CopyFrom(req)
            r.shard_id = shard_id
            r.read.CopyFrom(read)
            return r

        passthrough = len(self.placement.shards) == 1
        answers = await self._fan_out("Retrieve", per_shard, read, raw=passthrough, by_node=True)
        answered, missing = [], []
        for shard_id, answer in answers.items():
            if isinstance(answer, bytes | dash_pb2.RetrieveResponse):
                answered.append(shard_id)
            elif isinstance(answer, RpcFailed) and answer.code == grpc.StatusCode.INVALID_ARGUMENT:
                raise answer  # the request itself is wrong: every shard will say so
            else:
                log.warning("shard %s missing from a retrieve: %r", shard_id, answer)
                missing.append(shard_id)
        telemetry.set_attributes(
            {"dash.shards_answered": len(answered), "dash.shards_missing": missing or None}
        )
        if missing:
            METRICS.retrieve_partial.inc()
        if not answered:
            raise Unavailable(f"shards: none answered ({', '.join(missing)})")
        if passthrough:
            return answers[answered[0]]
        out = merge([answers[shard_id] for shard_id in answered], req, self.judge)
        out.shards_answered.extend(answered)
        out.shards_missing.extend(missing)
        out.served_at.GetCurrentTime()
        return out


def _raise_unless_all_not_found(answers: dict[str, object], message: str) -> None:
    """All shards said NOT_FOUND -> NotFound; any shard failing otherwise -> that failure (we cannot
    say the claim does not exist if a shard did not answer)."""
    for answer in answers.values():
        if isinstance(answer, RpcFailed) and answer.code != grpc.StatusCode.NOT_FOUND:
            raise answer
        if isinstance(answer, DashError) and not isinstance(answer, NotFound):
            raise answer
        if isinstance(answer, BaseException) and not isinstance(answer, (RpcFailed, DashError)):
            raise Unavailable(f"shard lookup failed: {answer!r}")
    raise NotFound(message)


def _next_replica_may_serve(exc: BaseException) -> bool:
    """A replica that is down, not (or no longer) holding the shard, too stale, or behind the client's
    write: another replica may still answer."""
    if isinstance(exc, Unavailable):
        return True
    if not isinstance(exc, RpcFailed):
        return False
    if exc.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return True
    if exc.code == grpc.StatusCode.NOT_FOUND:
        return "hosts no replica" in exc.details
    return exc.code == grpc.StatusCode.FAILED_PRECONDITION and exc.details.startswith("read.")
