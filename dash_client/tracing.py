"""OpenTelemetry tracing shared by the client, the router and the nodes (imports nothing from dash_node).

Configured from the environment, like any OpenTelemetry program:

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), or
  ``OTEL_TRACES_EXPORTER=otlp``: spans go to an OTLP/gRPC collector. ``OTEL_TRACES_EXPORTER=console``
  prints them; ``OTEL_TRACES_EXPORTER=none`` turns the OpenTelemetry exporters off. The other standard
  variables (``OTEL_EXPORTER_OTLP_HEADERS``, ``..._INSECURE``, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``,
  ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SDK_DISABLED``) are read by the SDK as usual.
- ``DASH_TRACE_FILE=/path/spans.jsonl``: every span is appended to a JSON-lines file (``dash trace
  show`` renders it). Several processes may append to the same file. Independent of
  ``OTEL_TRACES_EXPORTER``.

With neither, tracing is off: no provider is installed, no interceptor is added to any channel or
server, and the only cost is the OpenTelemetry API's no-op spans.

W3C trace context travels in gRPC metadata (``traceparent``), so one trace covers client -> router ->
every node. ``instrument_channel`` adds the client side to a channel.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

log = logging.getLogger("dash.tracing")

TRACE_FILE_ENV = "DASH_TRACE_FILE"
# Spans reach the JSONL file within this long unless OTEL_BSP_SCHEDULE_DELAY says otherwise.
FILE_FLUSH_MILLIS = 500


class JsonlSpanExporter(SpanExporter):
    """Appends one JSON object per span to a file, one ``write()`` per line on an ``O_APPEND`` file
    descriptor: lines from several processes appending to the same file never interleave."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [
            (json.dumps(span_record(s), default=str, separators=(",", ":")) + "\n").encode() for s in spans
        ]
        with self._lock:
            if self._fd is None:
                return SpanExportResult.FAILURE
            try:
                for line in lines:
                    os.write(self._fd, line)
            except OSError as exc:
                log.warning("trace file %s: %s", self.path, exc)
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export is written straight to the kernel


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """The JSONL form of a finished span."""
    ctx = span.context
    parent = span.parent
    start, end = span.start_time or 0, span.end_time or 0
    record: dict[str, Any] = {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "parent_span_id": format(parent.span_id, "016x") if parent is not None else None,
        "name": span.name,
        "service": span.resource.attributes.get("service.name", ""),
        "kind": span.kind.name if span.kind is not None else "",
        "start_unix_nano": start,
        "end_unix_nano": end,
        "duration_ms": round((end - start) / 1e6, 3),
        "attributes": {k: list(v) if isinstance(v, tuple) else v for k, v in (span.attributes or {}).items()},
        "status": span.status.status_code.name,
    }
    if span.status.description:
        record["status_message"] = span.status.description
    if span.events:
        record["events"] = [{"name": e.name, "time_unix_nano": e.timestamp} for e in span.events]
    return record


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _otel_exporters() -> list[SpanExporter]:
    """The exporters OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_*ENDPOINT ask for."""
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names:
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        names = ["otlp"] if endpoint else []
    out: list[SpanExporter] = []
    for name in names:
        if name == "none":
            return []
        if name == "otlp":
            protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"
            )
            if protocol != "grpc":
                log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s: only grpc is installed; using grpc", protocol)
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            out.append(OTLPSpanExporter())  # endpoint, headers, TLS, timeout: from OTEL_EXPORTER_OTLP_*
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            out.append(ConsoleSpanExporter())
        else:
            log.warning("OTEL_TRACES_EXPORTER=%s: not supported here (otlp, console, none)", name)
    return out


def setup_tracing(
    service_name: str, attributes: Mapping[str, Any] | None = None, *, set_global: bool = True
) -> TracerProvider | None:
    """Configure tracing for this process from the environment; None (and nothing installed) when no
    exporter is asked for. With ``set_global`` the provider becomes the process's global one, which is
    what the server interceptors and the nodes' planner spans use."""
    if _env_flag("OTEL_SDK_DISABLED"):
        return None
    exporters = _otel_exporters()
    path = os.environ.get(TRACE_FILE_ENV, "").strip()
    file_exporter = JsonlSpanExporter(path) if path else None
    if not exporters and file_exporter is None:
        return None
    resource = Resource.create({"service.name": service_name, **(attributes or {})})
    provider = TracerProvider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if file_exporter is not None:
        delay = None if os.environ.get("OTEL_BSP_SCHEDULE_DELAY") else FILE_FLUSH_MILLIS
        provider.add_span_processor(BatchSpanProcessor(file_exporter, schedule_delay_millis=delay))
    if set_global:
        trace.set_tracer_provider(provider)
    return provider


def tracing_enabled(tracer_provider: trace.TracerProvider | None = None) -> bool:
    """Whether spans would be recorded: a provider was given, or one was installed globally (by
    ``setup_tracing`` or by the application itself)."""
    if tracer_provider is not None:
        return not isinstance(tracer_provider, trace.NoOpTracerProvider)
    return not isinstance(trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def aio_client_interceptors(tracer_provider: trace.TracerProvider | None = None) -> list:
    """Interceptors to pass to ``grpc.aio.insecure_channel(..., interceptors=...)``; none if tracing is
    off."""
    if not tracing_enabled(tracer_provider):
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors as make

    return make(tracer_provider=tracer_provider)


def instrument_channel(channel, tracer_provider: trace.TracerProvider | None = None):
    """Client spans and W3C context propagation on a channel; returns the channel to use.

    A sync ``grpc.Channel`` is wrapped (use the returned channel). A ``grpc.aio.Channel`` is
    instrumented in place and must be instrumented before stubs are made from it (or pass
    ``aio_client_interceptors()`` when creating it). With tracing off, the channel is returned as is.
    """
    if not tracing_enabled(tracer_provider):
        return channel
    if isinstance(channel, grpc.aio.Channel):
        from opentelemetry.instrumentation.grpc import _aio_client

        lists = {
            _aio_client.UnaryUnaryAioClientInterceptor: "_unary_unary_interceptors",
            _aio_client.UnaryStreamAioClientInterceptor: "_unary_stream_interceptors",
            _aio_client.StreamUnaryAioClientInterceptor: "_stream_unary_interceptors",
            _aio_client.StreamStreamAioClientInterceptor: "_stream_stream_interceptors",
        }
        if not all(hasattr(channel, attr) for attr in lists.values()):
            raise TypeError(
                "instrument_channel: this grpc.aio channel cannot be instrumented after creation; "
                "create it with interceptors=aio_client_interceptors()"
            )
        for interceptor in aio_client_interceptors(tracer_provider):
            getattr(channel, lists[type(interceptor)]).append(interceptor)
        return channel
    from opentelemetry.instrumentation.grpc import client_interceptor
    from opentelemetry.instrumentation.grpc.grpcext import intercept_channel

    return intercept_channel(channel, client_interceptor(tracer_provider=tracer_provider))
