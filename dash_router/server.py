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

from dash_client._pb.dash.v1 import dash_pb2
from dash_client.client import ACK_LEVELS, READ_PREFERENCES
from dash_node import metrics, telemetry
from dash_node import validation as v
from dash_node.errors import DashError
from dash_node.server import CODES, MAX_MESSAGE_BYTES
from dash_node.wire import Undecodable, lenient_decoder
from dash_router.auth import Authenticator, load_authenticator
from dash_router.service import Router, RouterConfig, RpcFailed

log = logging.getLogger("dash.router")


def _handler(router: Router, auth: Authenticator, name: str, input_desc) -> grpc.RpcMethodHandler:
    method: Callable = getattr(router, name)
    latency = metrics.ROUTER.request_seconds

    async def handle(request, context: grpc.aio.ServicerContext):
        started, code = time.perf_counter(), grpc.StatusCode.UNKNOWN
        try:
            principal = auth.authenticate({k: v for k, v in context.invocation_metadata() or ()})
            if isinstance(request, Undecodable):
                raise v.InvalidArgument(request.field, "malformed (invalid UTF-8?)")
            v.check_tenant(request.tenant_id, router.config.limits)
            principal.check_tenant(request.tenant_id)
            answer = await method(request)
            code = grpc.StatusCode.OK
            return answer
        except DashError as exc:
            code = CODES.get(exc.code, grpc.StatusCode.INTERNAL)
            await context.abort(code, exc.message)
        except RpcFailed as exc:
            code = exc.code
            await context.abort(exc.code, exc.details)
        except LookupError as exc:  # no shard owns a position: placement is incomplete
            code = grpc.StatusCode.UNAVAILABLE
            await context.abort(code, f"placement: {exc}")
        finally:
            latency.labels(name, code.name).observe(time.perf_counter() - started)

    return grpc.unary_unary_rpc_method_handler(
        handle,
        request_deserializer=lenient_decoder(input_desc),
        response_serializer=lambda m: m.SerializeToString(),
    )


def build_server(
    router: Router, auth: Authenticator, listen: str
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    desc = dash_pb2.DESCRIPTOR.services_by_name["Dash"]
    methods = {m.name: _handler(router, auth, m.name, m.input_type) for m in desc.methods}
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
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"--listen: cannot bind {listen}")
    return server, port, health_servicer


async def serve(args: argparse.Namespace, auth: Authenticator, token: str) -> None:
    config = RouterConfig(
        etcd=args.etcd,
        shard_timeout=args.shard_timeout,
        default_ack=ACK_LEVELS[args.default_ack],
        read_preference=READ_PREFERENCES[args.read_preference],
        max_staleness_ms=args.max_staleness_ms,
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
    server, port, health_servicer = build_server(router, auth, args.listen)
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
    except (OSError, ValueError) as exc:
        print(f"dash router serve: {exc}", file=sys.stderr)
        return 2
    provider = telemetry.setup_tracing("dash-router")
    try:
        asyncio.run(serve(args, auth, token))
    finally:
        if provider is not None:
            provider.shutdown()
    return 0
