"""The caller's deadline, carried from the gRPC edge into the engine without threading it through
every signature: work that has not begun when it passes is not begun at all (a queued write is dropped,
not applied after its caller gave up)."""

from __future__ import annotations

import time
from contextvars import ContextVar

# Monotonic time by which the caller wants an answer; None: no deadline.
CALLER_DEADLINE: ContextVar[float | None] = ContextVar("dash_caller_deadline", default=None)


def expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline
