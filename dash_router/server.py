"""`dash router serve`: the cluster's front door, an asyncio gRPC server for ``dash.v1.Dash``.

Every call is authenticated (API key -> principal -> tenant scope) before it is routed. Domain errors
and node answers become gRPC statuses here, in one place.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dash_client import transport
from dash_client._pb.dash.v1 import dash_pb2
from dash_client.client import ACK_LEVELS, READ_PREFERENCES
from dash_client.transport import TlsConfig
from dash_node import heap, metrics, telemetry
from dash_node import validation as v
from dash_node.errors import DashError
from dash_node.server import CODES, MAX_MESSAGE_BYTES
from dash_node.wire import Undecodable, encoded, lenient_decoder
from dash_router import eventloop
from dash_router.admission import Admission, AdmissionConfig, Overloaded
from dash_router.audit import AuditLog, load_key
from dash_router.auth import Authenticator, load_authenticator
from dash_router.service import CLIENT_DEADLINE, Router, RouterConfig, RpcFailed

log = logging.getLogger("dash.router")


MUTATIONS = frozenset({"Ingest", "IngestBatch", "IngestDocument", "UpsertEvidence", "DeleteClaim"})
DENIALS = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


def _ids(request, answer) -> list[str]:
    """The claim ids a request wrote or asked for (a document's id for a document)."""
    if answer is not None and getattr(answer, "claim_ids", None):
        return list(answer.claim_ids)
    if isinstance(request, dash_pb2.IngestRequest):
        return [request.item.claim.claim_id]
    if isinstance(request, dash_pb2.IngestBatchRequest):
        return [it.claim.claim_id for it in request.items]
    if isinstance(request, dash_pb2.IngestDocumentRequest):
        return [f"document:{request.document.doc_id}"]
    if isinstance(request, dash_pb2.UpsertEvidenceRequest):
        return sorted({ev.claim_id for ev in request.evidence})
    claim_id = getattr(request, "claim_id", "")
    return [claim_id] if claim_id else []


def _handler(
    router: Router,
    auth: Authenticator,
    name: str,
    input_desc,
    audit: AuditLog | None = None,
    admission: Admission | None = None,
) -> grpc.RpcMethodHandler:
    method: Callable = getattr(router, name)
    latency = metrics.ROUTER.request_seconds

    async def handle(request, context: grpc.aio.ServicerContext):
        started, code, message, principal, answer = time.perf_counter(), grpc.StatusCode.OK, "", None, None
        admitted = False
        try:
            principal = auth.authenticate({k: v for k, v in context.invocation_metadata() or ()})
            if isinstance(request, Undecodable):
                raise v.InvalidArgument(request.field, "malformed (invalid UTF-8?)")
            v.check_tenant(request.tenant_id, router.config.limits)
            principal.check_tenant(request.tenant_id)
            if admission is not None:
                admission.admit(request.tenant_id)
                admitted = True
            remaining = context.time_remaining()
            CLIENT_DEADLINE.set(time.monotonic() + remaining if remaining is not None else None)
            answer = await method(request)
        except Overloaded as exc:
            code, message = grpc.StatusCode.RESOURCE_EXHAUSTED, exc.message
            context.set_trailing_metadata((("retry-after-ms", str(exc.retry_after_ms)),))
        except DashError as exc:
            code, message = CODES.get(exc.code, grpc.StatusCode.INTERNAL), exc.message
        except RpcFailed as exc:
            code, message = exc.code, exc.details
        except LookupError as exc:  # no shard owns a position: placement is incomplete
            code, message = grpc.StatusCode.UNAVAILABLE, f"placement: {exc}"
        finally:
            if admitted:
                admission.release()
        if audit is not None and (name in MUTATIONS or code in DENIALS):
            try:
                await audit.record(
                    principal=principal.name if principal is not None else "",
                    tenant=getattr(request, "tenant_id", ""),
                    action=name,
                    ids=_ids(request, answer) if not isinstance(request, Undecodable) else [],
                    outcome="ok" if code == grpc.StatusCode.OK else "denied" if code in DENIALS else "error",
                    code=code.name,
                    reason=message,
                )
            except OSError as exc:
                log.error("audit log write failed: %s", exc)
                code, message = (
                    grpc.StatusCode.UNAVAILABLE,
                    "audit log unavailable: the request is not confirmed",
                )
        latency.labels(name, code.name).observe(time.perf_counter() - started)
        if code != grpc.StatusCode.OK:
            await context.abort(code, message)
        return answer

    return grpc.unary_unary_rpc_method_handler(
        handle,
        request_deserializer=lenient_decoder(input_desc),
        response_serializer=encoded,
    )


def build_server(
    router: Router,
    auth: Authenticator,
    listen: str,
    audit: AuditLog | None = None,
    admission: Admission | None = None,
    tls: TlsConfig | None = None,
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    desc = dash_pb2.DESCRIPTOR.services_by_name["Dash"]
    methods = {m.name: _handler(router, auth, m.name, m.input_type, audit, admission) for m in desc.methods}
    server = grpc.aio.server(
        handlers=[grpc.method_handlers_generic_handler(desc.full_name, methods)],
        interceptors=telemetry.aio_server_interceptors(),
        maximum_concurrent_rpcs=256,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [desc.full_name, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    port = transport.bind(server, listen, tls)
    return server, port, health_servicer


async def serve(
    args: argparse.Namespace, auth: Authenticator, token: str, audit: AuditLog | None, admission: Admission
) -> None:
    config = RouterConfig(
        etcd=args.etcd,
        shard_timeout=args.shard_timeout,
        default_ack=ACK_LEVELS[args.default_ack],
        read_preference=READ_PREFERENCES[args.read_preference],
        max_staleness_ms=args.max_staleness_ms,
        node_tls=args.node_tls,
    )
    router = Router(config, auth, token)
    await router.start()
    metrics_server = None
    if args.metrics_listen:
        try:
            shown, metrics_server = metrics.serve_metrics(args.metrics_listen, metrics.ROUTER.registry)
        except OSError as exc:
            await router.stop()
            print(f"dash router serve: --metrics-listen {args.metrics_listen}: {exc}", file=sys.stderr)
            raise SystemExit(2) from exc
        print(f"metrics on {shown}", flush=True)
    server, port, health_servicer = build_server(router, auth, args.listen, audit, admission, args.tls)
    await server.start()
    for name in ("", "dash.v1.Dash"):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    host = args.listen.rsplit(":", 1)[0]
    print(f"dash router serving on {host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(grace=5)
    await router.stop()
    if metrics_server is not None:
        metrics_server.shutdown()


def _as_client(tls: TlsConfig | None) -> TlsConfig | None:
    """The listener's files reused for calls to nodes: the same CA and identity, no listener options."""
    return None if tls is None else TlsConfig(tls.ca_file, tls.cert_file, tls.key_file)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="dash router serve", description="serve the public DASH API")
    p.add_argument("--listen", default="127.0.0.1:7000", help="HOST:PORT to bind (default loopback)")
    p.add_argument("--etcd", required=True, help="etcd endpoints HOST:PORT[,HOST:PORT...]")
    p.add_argument("--api-keys-file", type=Path, default=None, help="JSON API keys (or $DASH_API_KEYS)")
    p.add_argument(
        "--cluster-token-file",
        type=Path,
        default=None,
        help="credential for calls to nodes (or $DASH_CLUSTER_TOKEN)",
    )
    p.add_argument("--shard-timeout", type=float, default=5.0, help="per-shard deadline on reads, seconds")
    p.add_argument(
        "--default-ack",
        choices=["leader", "replicated"],
        default="leader",
        help="acknowledgement level of writes that do not ask for one",
    )
    p.add_argument(
        "--read-preference",
        choices=["leader", "follower", "any"],
        default="leader",
        help="which replica of a shard serves reads that do not say",
    )
    p.add_argument(
        "--max-staleness-ms",
        type=int,
        default=10_000,
        help="followers staler than this are passed over by reads that do not say",
    )
    p.add_argument(
        "--auth-reload-interval",
        type=float,
        default=2.0,
        help="seconds between checks of the auth file for changes (new keys, revocations, JWT keys)",
    )
    p.add_argument(
        "--metrics-listen",
        default=metrics.default_listen(),
        help="HOST:PORT for the Prometheus /metrics endpoint, e.g. 127.0.0.1:0 (or $DASH_METRICS_LISTEN; "
        "default: none)",
    )
    p.add_argument("--audit-log", type=Path, default=None, help="append the audit trail here (JSONL)")
    p.add_argument(
        "--audit-key-file", type=Path, default=None, help="the audit HMAC key (or $DASH_AUDIT_KEY)"
    )
    p.add_argument("--audit-fsync", choices=["always", "off"], default="always")
    p.add_argument("--max-in-flight", type=int, default=256, help="requests served at once; more are refused")
    p.add_argument("--tenant-rate", type=float, default=0.0, help="requests/s per tenant (0: unlimited)")
    p.add_argument("--tenant-burst", type=int, default=100, help="burst size of the per-tenant rate")
    transport.add_arguments(p, what="the client listener")
    transport.add_arguments(p, "node-", "calls to nodes; default: the --tls-* files")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        auth = load_authenticator(args.api_keys_file, args.auth_reload_interval)
        token = (
            args.cluster_token_file.read_text(encoding="utf-8").strip()
            if args.cluster_token_file
            else os.environ.get("DASH_CLUSTER_TOKEN", "").strip()
        )
        if args.metrics_listen:
            metrics.parse_listen(args.metrics_listen)
        admission = Admission(AdmissionConfig(args.max_in_flight, args.tenant_rate, args.tenant_burst))
        args.tls = transport.from_args(args)
        args.node_tls = transport.from_args(args, "node-") or _as_client(args.tls)
        audit = None
        if args.audit_log is not None:
            audit = AuditLog(args.audit_log, load_key(args.audit_key_file), args.audit_fsync)
    except (OSError, ValueError) as exc:
        print(f"dash router serve: {exc}", file=sys.stderr)
        return 2
    provider = telemetry.setup_tracing("dash-router")
    heap.freeze_after_full_collections()  # the judge's caches: see dash_node.heap
    try:
        eventloop.run(serve(args, auth, token, audit, admission))
    finally:
        if audit is not None:
            audit.close()
        if provider is not None:
            provider.shutdown()
    return 0
