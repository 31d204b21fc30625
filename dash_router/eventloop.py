"""The event loop the asyncio servers run on: uvloop where it is installed (Linux, macOS), asyncio's
own loop otherwise.

grpc.aio hands every completion to the loop as a callback, so the loop's own bookkeeping is a good part
of what a router hop costs. Measured here on a one-shard top-10 (`docs/decisions.md`), uvloop took
~0.15 ms of the router's ~1.1 ms of CPU per query and ~0.2 ms off the p50."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def name() -> str:
    """The loop ``run`` uses: "uvloop" or "asyncio"."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the loop ``name`` says."""
    if name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
