"""Admission control at the router: say no early and politely instead of queueing without bound.

Two gates, checked before any work is done for a request:

- **in flight**: at most ``max_in_flight`` requests are being served at once; one more is refused;
- **per tenant**: a token bucket per tenant (``tenant_rate`` requests/s, bursts of ``tenant_burst``), so
  one tenant cannot take the whole capacity.

A refusal is ``RESOURCE_EXHAUSTED`` naming the gate, with a retry hint in the message and in the
``retry-after-ms`` trailing metadata. The router runs on one asyncio loop, so the gates are plain
counters. Queue depth and refusals are metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dash_node.errors import DashError
from dash_node.metrics import ROUTER as METRICS


class Overloaded(DashError):
    code = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, retry_after_ms: int) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


@dataclass(frozen=True)
class AdmissionConfig:
    max_in_flight: int = 256
    tenant_rate: float = 0.0  # requests per second per tenant; 0: no per-tenant limit
    tenant_burst: int = 100

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise ValueError("--max-in-flight: must be >= 1")
        if self.tenant_rate < 0 or self.tenant_burst < 1:
            raise ValueError("--tenant-rate must be >= 0 and --tenant-burst >= 1")


class Admission:
    def __init__(self, config: AdmissionConfig) -> None:
        self.config = config
        self.in_flight = 0
        self._buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, last refill)

    def admit(self, tenant_id: str) -> None:
        """Take a slot (and a tenant token) or raise ``Overloaded``; ``release`` gives the slot back."""
        if self.in_flight >= self.config.max_in_flight:
            METRICS.rejected.labels("in_flight").inc()
            limit = self.config.max_in_flight
            raise Overloaded(
                f"router: {self.in_flight} requests in flight (limit {limit}); retry in ~50 ms", 50
            )
        if self.config.tenant_rate > 0:
            now = time.monotonic()
            tokens, last = self._buckets.get(tenant_id, (float(self.config.tenant_burst), now))
            tokens = min(float(self.config.tenant_burst), tokens + (now - last) * self.config.tenant_rate)
            if tokens < 1:
                wait_ms = int((1 - tokens) / self.config.tenant_rate * 1000) + 1
                self._buckets[tenant_id] = (tokens, now)
                METRICS.rejected.labels("tenant_rate").inc()
                raise Overloaded(
                    f"tenant_id: '{tenant_id}' is over its rate of {self.config.tenant_rate:g} requests/s; "
                    f"retry in ~{wait_ms} ms",
                    wait_ms,
                )
            self._buckets[tenant_id] = (tokens - 1, now)
        self.in_flight += 1
        METRICS.in_flight.set(self.in_flight)

    def release(self) -> None:
        self.in_flight -= 1
        METRICS.in_flight.set(self.in_flight)
