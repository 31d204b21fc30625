"""Tracing for the servers: set-up, gRPC server/client interceptors and the spans nodes add.

The set-up itself (``setup_tracing``, the JSON-lines exporter) lives in ``dash_client.tracing`` so that
the client can use it without the server code; this module re-exports it and adds what the node and
the router need. Nothing here imports ``dash_router``.

Every helper is cheap when tracing is off: interceptors are only added when a tracer provider is
installed, and spans are only started under a span that records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

from dash_client.tracing import (
    TRACE_FILE_ENV,
    JsonlSpanExporter,
    aio_client_interceptors,
    setup_tracing,
    span_record,
    tracing_enabled,
)

__all__ = [
    "TRACE_FILE_ENV",
    "JsonlSpanExporter",
    "aio_client_interceptors",
    "aio_server_interceptors",
    "recording",
    "server_interceptors",
    "set_attributes",
    "setup_tracing",
    "span",
    "span_record",
    "stage_span",
    "tenant_hash",
    "tracing_enabled",
]

tracer = trace.get_tracer("dash")


def _not_plumbing():
    """Health checks and reflection get no spans (probes would drown the traces)."""
    from opentelemetry.instrumentation.grpc import filters

    return filters.negate(
        filters.any_of(filters.service_prefix("grpc.health."), filters.service_prefix("grpc.reflection."))
    )


def server_interceptors() -> list:
    """For ``grpc.server(interceptors=...)``: a server span per call, continuing the caller's trace."""
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import server_interceptor

    return [server_interceptor(filter_=_not_plumbing())]


def aio_server_interceptors() -> list:
    """For ``grpc.aio.server(interceptors=...)``."""
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor(filter_=_not_plumbing())]


def tenant_hash(tenant_id: str) -> str:
    """What spans carry instead of the tenant: a short stable digest (tenants are customer names)."""
    return hashlib.blake2b(tenant_id.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def recording() -> bool:
    """Whether the current span records (so child spans and attributes are worth making)."""
    return trace.get_current_span().is_recording()


def set_attributes(attributes: Mapping[str, Any]) -> None:
    """Set attributes on the current span (a no-op when it does not record)."""
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes({k: v for k, v in attributes.items() if v is not None and v != ""})


@contextmanager
def span(
    name: str, attributes: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None
) -> Iterator[trace.Span | None]:
    """A child span of the current one, or nothing (yields None) when the current span does not record.
    ``attributes`` may be a callable, evaluated only when the span is made."""
    if not recording():
        yield None
        return
    attrs = attributes() if callable(attributes) else attributes
    with tracer.start_as_current_span(name, attributes=dict(attrs or {})) as s:
        yield s


def stage_span(name: str, start_ns: int, end_ns: int, attributes: Mapping[str, Any]) -> None:
    """Record an already finished step (unix-nanosecond times) as a child of the current span."""
    s = tracer.start_span(name, attributes=dict(attributes), start_time=start_ns)
    s.end(end_time=end_ns)
