"""The gRPC edge of a shard node: ``dash node serve``.

Serves the internal ``dash.v1.Node`` service and, for single-node use, the public ``dash.v1.Dash``
service, both backed by one ``Engine``. This is the one place where domain errors become gRPC status
codes. gRPC health checking and server reflection are on.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import grpc
from google.protobuf import message, message_factory
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dash_client._pb.dash.v1 import dash_pb2, node_pb2
from dash_node.engine import Engine, EngineConfig
from dash_node.errors import DashError
from dash_node.wal import WalConfig
from dash_node.wire import find_bad_field

log = logging.getLogger("dash.node")

MAX_MESSAGE_BYTES = 16 << 20

_CODES = {
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
    "RESOURCE_EXHAUSTED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,
    "DATA_LOSS": grpc.StatusCode.DATA_LOSS,
}


class _Undecodable:
    """Stands in for a request protobuf could not parse, carrying the field to blame."""

    def __init__(self, field: str) -> None:
        self.field = field


class NodeService:
    """Request handlers: unpack, call the engine, return its answer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def Ingest(self, req: dash_pb2.IngestRequest) -> dash_pb2.WriteResponse:
        return self.engine.ingest(req.tenant_id, req.item, req.write)

    def IngestBatch(self, req: dash_pb2.IngestBatchRequest) -> dash_pb2.WriteResponse:
        return self.engine.ingest_batch(req.tenant_id, list(req.items), req.commit_id, req.write)

    def IngestDocument(self, req: dash_pb2.IngestDocumentRequest) -> dash_pb2.WriteResponse:
        return self.engine.ingest_document(req.tenant_id, req.document, req.write)

    def UpsertEvidence(self, req: dash_pb2.UpsertEvidenceRequest) -> dash_pb2.WriteResponse:
        return self.engine.upsert_evidence(req.tenant_id, list(req.evidence), req.write)

    def DeleteClaim(self, req: dash_pb2.DeleteClaimRequest) -> dash_pb2.WriteResponse:
        return self.engine.delete_claim(req.tenant_id, req.claim_id, req.write)

    def Retrieve(self, req: dash_pb2.RetrieveRequest) -> dash_pb2.RetrieveResponse:
        return self.engine.retrieve(req)

    def GetClaim(self, req: dash_pb2.GetClaimRequest) -> dash_pb2.GetClaimResponse:
        return self.engine.get_claim(req.tenant_id, req.claim_id)

    def Stats(self, req: node_pb2.StatsRequest) -> node_pb2.StatsResponse:
        return self.engine.stats(req.tenant_id)


def _unary(fn: Callable, input_desc) -> grpc.RpcMethodHandler:
    cls = message_factory.GetMessageClass(input_desc)

    def decode(raw: bytes):
        try:
            return cls.FromString(raw)
        except message.DecodeError:
            return _Undecodable(find_bad_field(input_desc, raw) or "request")

    def handle(request, context: grpc.ServicerContext):
        if isinstance(request, _Undecodable):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{request.field}: malformed (invalid UTF-8?)")
        try:
            return fn(request)
        except DashError as exc:
            context.abort(_CODES.get(exc.code, grpc.StatusCode.INTERNAL), exc.message)

    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=decode, response_serializer=lambda m: m.SerializeToString()
    )


def service_handlers(service: NodeService) -> list[grpc.GenericRpcHandler]:
    """Generic handlers for the Node and Dash services, built from their descriptors."""
    out = []
    for desc in (node_pb2.DESCRIPTOR.services_by_name["Node"], dash_pb2.DESCRIPTOR.services_by_name["Dash"]):
        methods = {m.name: _unary(getattr(service, m.name), m.input_type) for m in desc.methods}
        out.append(grpc.method_handlers_generic_handler(desc.full_name, methods))
    return out


def build_server(engine: Engine, listen: str, max_workers: int = 16) -> tuple[grpc.Server, int]:
    """A started-ready server bound to ``listen``; returns it and the bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="dash-rpc"),
        handlers=service_handlers(NodeService(engine)),
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
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"--listen: cannot bind {listen}")
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
    p.add_argument("--shard-id", default="")


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    wal = WalConfig(
        fsync=args.fsync,
        batch_max_interval_ms=args.fsync_batch_interval_ms,
        allow_unsafe=args.allow_unsafe_durability,
    )
    tenants = tuple(t for t in args.tenants.split(",") if t) or None
    return replace(EngineConfig(), wal=wal, tenants=tenants, shard_id=args.shard_id)


def main(argv: list[str]) -> int:
    """``dash node serve``: run a node until SIGTERM/SIGINT, then drain and close the engine."""
    parser = argparse.ArgumentParser(prog="dash node serve", description="serve one DASH shard replica")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = config_from_args(args)
        config.validate()
    except DashError as exc:
        print(f"dash node serve: {exc.message}", file=sys.stderr)
        return 2
    engine = Engine(args.data_dir, config)
    server, port = build_server(engine, args.listen)
    server.start()
    host = args.listen.rsplit(":", 1)[0]
    print(f"dash node serving on {host}:{port} data-dir={args.data_dir}", flush=True)
    log.info("recovery: %s", engine.recovery)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=5).wait()
    engine.close()
    return 0
