"""The gRPC edge of a shard node: ``dash node serve``.

Serves the internal ``dash.v1.Node`` service and, for single-node use, the public ``dash.v1.Dash``
service, both backed by one ``Engine``. This is the one place where domain errors become gRPC status
codes. gRPC health checking and server reflection are on.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dash_client import transport
from dash_client._pb.dash.v1 import dash_pb2, node_pb2
from dash_node import affinity, deadlines, heap, leader, metrics, telemetry
from dash_node.engine import EngineConfig
from dash_node.errors import DashError
from dash_node.host import ShardHost
from dash_node.membership import Membership
from dash_node.wal import WalConfig
from dash_node.wire import CLUSTER_TOKEN_HEADER, Undecodable, encoded, lenient_decoder, message_field

log = logging.getLogger("dash.node")

MAX_MESSAGE_BYTES = 16 << 20

_SHARD_RESPONSE = node_pb2.ShardAnswer.DESCRIPTOR.fields_by_name["response"].number
_SHARD_ANSWERS = node_pb2.RetrieveShardsResponse.DESCRIPTOR.fields_by_name["answers"].number

CODES = {
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
    "RESOURCE_EXHAUSTED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,
    "DATA_LOSS": grpc.StatusCode.DATA_LOSS,
    "DEADLINE_EXCEEDED": grpc.StatusCode.DEADLINE_EXCEEDED,
}


class NodeService:
    """Request handlers: pick the shard replica, call its engine, return its answer."""

    def __init__(self, host: ShardHost) -> None:
        self.host = host

    def Ingest(self, req: dash_pb2.IngestRequest) -> dash_pb2.WriteResponse:
        return self.host.for_write(req.write).ingest(req.tenant_id, req.item, req.write)

    def IngestBatch(self, req: dash_pb2.IngestBatchRequest) -> dash_pb2.WriteResponse:
        return self.host.for_write(req.write).ingest_batch(
            req.tenant_id, list(req.items), req.commit_id, req.write
        )

    def IngestDocument(self, req: dash_pb2.IngestDocumentRequest) -> dash_pb2.WriteResponse:
        return self.host.for_write(req.write).ingest_document(req.tenant_id, req.document, req.write)

    def UpsertEvidence(self, req: dash_pb2.UpsertEvidenceRequest) -> dash_pb2.WriteResponse:
        return self.host.for_write(req.write).upsert_evidence(req.tenant_id, list(req.evidence), req.write)

    def DeleteClaim(self, req: dash_pb2.DeleteClaimRequest) -> dash_pb2.WriteResponse:
        return self.host.for_write(req.write).delete_claim(req.tenant_id, req.claim_id, req.write)

    def Retrieve(self, req: dash_pb2.RetrieveRequest) -> bytes:
        """The answer encoded (a RetrieveResponse): its results are assembled as bytes."""
        return self.host.for_read(req.shard_id, req.read).retrieve_encoded(req)

    def RetrieveShards(self, req: node_pb2.RetrieveShardsRequest) -> bytes:
        """Each shard in turn (one core's work either way); a shard that cannot answer says why in its
        part, as it would have alone, so the router can ask another replica for just that shard. The
        answer (a RetrieveShardsResponse) is written around the shards' encoded answers, which are
        never parsed here (for a top-50 of two shards that saved parsing, copying and re-encoding 100
        results)."""
        parts = []
        one = req.request
        for shard_id in req.shard_ids:
            part = node_pb2.ShardAnswer(shard_id=shard_id)
            one.shard_id = shard_id
            try:
                answer = message_field(_SHARD_RESPONSE, self.Retrieve(one))
            except DashError as exc:
                part.code = CODES.get(exc.code, grpc.StatusCode.INTERNAL).value[0]
                part.message = exc.message
                answer = b""
            parts.append(message_field(_SHARD_ANSWERS, part.SerializeToString() + answer))
        return b"".join(parts)

    def GetClaim(self, req: dash_pb2.GetClaimRequest) -> dash_pb2.GetClaimResponse:
        return self.host.for_read(req.shard_id, req.read).get_claim(req.tenant_id, req.claim_id)

    def Replicate(self, requests, context: grpc.ServicerContext):
        return leader.stream_records(self.host, requests, context.is_active)

    def FetchSnapshot(self, req: node_pb2.FetchSnapshotRequest, context: grpc.ServicerContext):
        return leader.snapshot_chunks(self.host, req)

    def Fence(self, req: node_pb2.FenceRequest) -> node_pb2.FenceResponse:
        return node_pb2.FenceResponse(applied_lsn=self.host.fence(req.shard_id, req.epoch, req.seconds))

    def TrimToRange(self, req: node_pb2.TrimRequest) -> dash_pb2.WriteResponse:
        return self.host.trim(req.shard_id, req.epoch)

    def ListClaims(self, req: node_pb2.ListClaimsRequest) -> node_pb2.ListClaimsResponse:
        engine = self.host.engine(req.shard_id)
        lsn = engine.feed.committed_lsn
        return node_pb2.ListClaimsResponse(claim_ids=engine.claim_ids(req.tenant_id), applied_lsn=lsn)

    def Stats(self, req: node_pb2.StatsRequest) -> node_pb2.StatsResponse:
        engine = self.host.engine(req.shard_id)
        stats = engine.stats(req.tenant_id, req.digest)
        stats.shard_id, stats.epoch, stats.leader = (
            req.shard_id,
            engine.epoch,
            self.host.is_leader(req.shard_id),
        )
        return stats


def _shard_of(request) -> str:
    if isinstance(request, node_pb2.RetrieveShardsRequest):
        return ",".join(request.shard_ids)
    shard_id = getattr(request, "shard_id", "")
    if not shard_id and isinstance(getattr(request, "write", None), dash_pb2.WriteOptions):
        shard_id = request.write.shard_id
    return shard_id


def _unary(fn: Callable, input_desc, token: bytes, node_id: str = "") -> grpc.RpcMethodHandler:
    method = fn.__name__
    latency = metrics.NODE.request_seconds

    def handle(request, context: grpc.ServicerContext):
        started, code = time.perf_counter(), grpc.StatusCode.UNKNOWN
        try:
            if token and not _has_token(context, token):
                code = grpc.StatusCode.UNAUTHENTICATED
                context.abort(code, f"{CLUSTER_TOKEN_HEADER}: missing or wrong cluster credential")
            if isinstance(request, Undecodable):
                code = grpc.StatusCode.INVALID_ARGUMENT
                context.abort(code, f"{request.field}: malformed (invalid UTF-8?)")
            telemetry.set_attributes({"dash.node_id": node_id, "dash.shard_id": _shard_of(request)})
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:  # it waited for a worker past its deadline
                code = grpc.StatusCode.DEADLINE_EXCEEDED
                context.abort(code, "deadline: passed before the node began the request; nothing was done")
            reset = deadlines.CALLER_DEADLINE.set(
                time.monotonic() + remaining if remaining is not None else None
            )
            try:
                answer = fn(request)
                code = grpc.StatusCode.OK
                return answer
            except DashError as exc:
                code = CODES.get(exc.code, grpc.StatusCode.INTERNAL)
                context.abort(code, exc.message)
            finally:
                deadlines.CALLER_DEADLINE.reset(reset)
        finally:
            latency.labels(method, code.name).observe(time.perf_counter() - started)

    return grpc.unary_unary_rpc_method_handler(
        handle,
        request_deserializer=lenient_decoder(input_desc),
        response_serializer=encoded,
    )


def _streaming(fn: Callable, method_desc, token: bytes) -> grpc.RpcMethodHandler:
    """A server-streaming (or bidirectional) method: same credential check and error mapping, raised
    from inside the stream."""

    def handle(request, context: grpc.ServicerContext):
        if token and not _has_token(context, token):
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                f"{CLUSTER_TOKEN_HEADER}: missing or wrong cluster credential",
            )
        try:
            yield from fn(request, context)
        except DashError as exc:
            context.abort(CODES.get(exc.code, grpc.StatusCode.INTERNAL), exc.message)

    make = (
        grpc.stream_stream_rpc_method_handler
        if method_desc.client_streaming
        else grpc.unary_stream_rpc_method_handler
    )
    return make(
        handle,
        request_deserializer=lenient_decoder(method_desc.input_type),
        response_serializer=lambda m: m.SerializeToString(),
    )


def _has_token(context: grpc.ServicerContext, token: bytes) -> bool:
    for key, value in context.invocation_metadata():
        if key == CLUSTER_TOKEN_HEADER:
            return hmac.compare_digest(value.encode() if isinstance(value, str) else value, token)
    return False


def service_handlers(service: NodeService, token: bytes = b"") -> list[grpc.GenericRpcHandler]:
    """Generic handlers for the Node and Dash services, built from their descriptors. With a cluster
    ``token``, every call must carry it (health and reflection stay open)."""
    out = []
    node_id = service.host.node_id
    for desc in (node_pb2.DESCRIPTOR.services_by_name["Node"], dash_pb2.DESCRIPTOR.services_by_name["Dash"]):
        methods = {
            m.name: _streaming(getattr(service, m.name), m, token)
            if m.server_streaming
            else _unary(getattr(service, m.name), m.input_type, token, node_id)
            for m in desc.methods
        }
        out.append(grpc.method_handlers_generic_handler(desc.full_name, methods))
    return out


def build_server(
    host: ShardHost, listen: str, token: bytes = b"", max_workers: int = 16
) -> tuple[grpc.Server, int]:
    """A ready-to-start server bound to ``listen`` (TLS as ``host.tls`` says); returns it and the bound
    port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="dash-rpc"),
        handlers=service_handlers(NodeService(host), token),
        interceptors=telemetry.server_interceptors(),
        maximum_concurrent_rpcs=max_workers * 8,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = ["dash.v1.Node", "dash.v1.Dash", health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    port = transport.bind(server, listen, host.tls)
    for name in ("", "dash.v1.Node", "dash.v1.Dash"):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True, type=Path, help="replica directory (WAL, LMDB, indexes)")
    p.add_argument("--listen", default="127.0.0.1:7070", help="HOST:PORT to bind (default loopback)")
    p.add_argument("--fsync", default="always", choices=["always", "batch", "off"], help="WAL fsync policy")
    p.add_argument("--fsync-batch-interval-ms", type=float, default=2.0)
    p.add_argument("--allow-unsafe-durability", action="store_true")
    p.add_argument("--tenants", default="", help="comma-separated declared tenants (default: any)")
    p.add_argument(
        "--checkpoint-every-changes",
        type=int,
        default=100_000,
        help="snapshot indexes and trim the WAL after this many changed claims",
    )
    p.add_argument("--wal-segment-bytes", type=int, default=64 << 20, help="WAL segment size")
    p.add_argument(
        "--follower-retention-s",
        type=float,
        default=300.0,
        help="a follower silent for longer no longer holds WAL back (it will need a snapshot)",
    )
    p.add_argument(
        "--replication-buffer-bytes",
        type=int,
        default=32 << 20,
        help="recent WAL records kept in memory for followers (older ones are read from the WAL)",
    )
    transport.add_arguments(p)
    p.add_argument(
        "--cpus",
        default="",
        help="run on these CPUs only, e.g. 0 or 0,2-3 (default: any); nodes sharing a machine answer "
        "faster on cores of their own",
    )
    p.add_argument("--node-id", default="", help="cluster mode: this node's id in placement")
    p.add_argument("--etcd", default="", help="cluster mode: etcd endpoints HOST:PORT[,HOST:PORT...]")
    p.add_argument("--lease-ttl", type=int, default=10, help="cluster mode: registration lease, seconds")
    p.add_argument(
        "--cluster-token-file",
        type=Path,
        default=None,
        help="file holding the cluster credential every call must carry (or $DASH_CLUSTER_TOKEN)",
    )
    p.add_argument(
        "--metrics-listen",
        default=metrics.default_listen(),
        help="HOST:PORT for the Prometheus /metrics endpoint, e.g. 127.0.0.1:0 (or $DASH_METRICS_LISTEN; "
        "default: none)",
    )


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    wal = WalConfig(
        fsync=args.fsync,
        batch_max_interval_ms=args.fsync_batch_interval_ms,
        allow_unsafe=args.allow_unsafe_durability,
        segment_bytes=args.wal_segment_bytes,
    )
    tenants = tuple(t for t in args.tenants.split(",") if t) or None
    return replace(
        EngineConfig(),
        wal=wal,
        tenants=tenants,
        checkpoint_every_changes=args.checkpoint_every_changes,
        follower_retention_s=args.follower_retention_s,
        replication_buffer_bytes=args.replication_buffer_bytes,
    )


def cluster_token(path: Path | None) -> bytes:
    """The cluster credential from a file or $DASH_CLUSTER_TOKEN; empty means none is required."""
    if path is not None:
        return path.read_text(encoding="utf-8").strip().encode()
    return os.environ.get("DASH_CLUSTER_TOKEN", "").strip().encode()


def _warm_bm25() -> None:
    from dash_node.index import bm25

    bm25.warm()


def main(argv: list[str]) -> int:
    """``dash node serve``: run a node until SIGTERM/SIGINT, then drain and close its replicas."""
    parser = argparse.ArgumentParser(prog="dash node serve", description="serve DASH shard replicas")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if bool(args.node_id) != bool(args.etcd):
        print("dash node serve: --node-id and --etcd go together (cluster mode)", file=sys.stderr)
        return 2
    try:
        if args.cpus:
            affinity.pin(affinity.parse_cpus(args.cpus))
        affinity.single_threaded_blas()
        config = config_from_args(args)
        config.validate()
        token = cluster_token(args.cluster_token_file)
        tls = transport.from_args(args)
        if args.metrics_listen:
            metrics.parse_listen(args.metrics_listen)
    except (DashError, OSError, ValueError) as exc:
        print(f"dash node serve: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    provider = telemetry.setup_tracing("dash-node", {"dash.node_id": args.node_id} if args.node_id else None)
    try:
        host = ShardHost(args.data_dir, config, args.node_id, token, tls)
    except DashError as exc:  # e.g. the data directory is open in another process
        print(f"dash node serve: {exc.message}", file=sys.stderr)
        return 2
    heap.freeze_after_full_collections()
    metrics.NODE.watch_replicas(lambda: _replica_gauges(host))
    metrics_server = None
    if args.metrics_listen:
        try:
            shown, metrics_server = metrics.serve_metrics(args.metrics_listen, metrics.NODE.registry)
        except OSError as exc:
            print(f"dash node serve: --metrics-listen {args.metrics_listen}: {exc}", file=sys.stderr)
            host.close()
            return 2
        print(f"metrics on {shown}", flush=True)
    membership = Membership(host, args.etcd, args.lease_ttl) if args.etcd else None
    if membership is not None:
        membership.start_watch()
    server, port = build_server(host, args.listen, token)
    server.start()
    threading.Thread(target=_warm_bm25, name="dash-bm25-warm", daemon=True).start()
    address = f"{args.listen.rsplit(':', 1)[0]}:{port}"
    if membership is not None:
        membership.register(address)
    print(f"dash node serving on {address} data-dir={args.data_dir}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    if membership is not None:
        membership.stop()
    server.stop(grace=5).wait()
    host.close()
    if metrics_server is not None:
        metrics_server.shutdown()
    if provider is not None:
        provider.shutdown()
    return 0


def _replica_gauges(host: ShardHost) -> dict[str, tuple[int, int]]:
    out = {}
    for shard_id in host.shard_ids():
        try:
            engine = host.engine(shard_id)
            out[shard_id] = (engine.claim_count(), engine.queued_writes)
        except Exception:  # closed or moved away since listed: not this scrape's business
            continue
    return out
