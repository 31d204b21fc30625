"""DASH inside this process: ``EmbeddedDashClient(path)`` is a ``DashClient`` whose calls go straight to
a shard engine stored at ``path``, with no server and no network::

    from dash_client.embedded import EmbeddedDashClient

    with EmbeddedDashClient("./memory", tenant="acme") as dash:
        dash.ingest({"claim_id": "c1", "text": "Paris is in France."})
        print(dash.retrieve("Where is Paris?", top_k=5).results[0].text)

``AsyncEmbeddedDashClient`` is its ``AsyncDashClient`` twin. For notebooks, tests and single-process
applications: what chromadb's PersistentClient, qdrant's local mode and milvus-lite offer. Calls go
through the handlers a node serves the public service with, so
validation, answers and errors (raised as the SDK's errors, with the same status names and field
paths) are those of ``dash node serve --data-dir path``, which can serve the same directory later (not
at the same time: an open directory is locked). No API key: the process owns the files. For several
processes or more than one machine, run a node or a cluster.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from dash_client._pb.dash.v1 import dash_pb2
from dash_client.client import AsyncDashClient, ClientConfig, DashClient
from dash_client.errors import error_for
from dash_node import deadlines
from dash_node.engine import Engine, EngineConfig
from dash_node.errors import DashError as EngineError
from dash_node.host import ShardHost
from dash_node.server import NodeService


class InProcessNode:
    """A standalone node's ``dash.v1.Dash`` methods, called as a gRPC stub's are
    (``node.Retrieve(request, timeout=...)``), and ``close``."""

    def __init__(self, path: Path, config: EngineConfig) -> None:
        self._host = ShardHost(path, config)
        service = NodeService(self._host)
        for method in dash_pb2.DESCRIPTOR.services_by_name["Dash"].methods:
            answer_type = getattr(dash_pb2, method.output_type.name)
            setattr(self, method.name, _unary(getattr(service, method.name), answer_type))

    @property
    def engine(self) -> Engine:
        """The engine itself, for what the public service does not say (``stats``, ``settle``)."""
        return self._host.engine("")

    def close(self) -> None:
        """Finish queued writes, then close the engine (and release the directory)."""
        self._host.close()


def _unary(
    handler: Callable[[Message], Message | bytes], answer_type: type[Message]
) -> Callable[..., Message]:
    """``handler`` called as a stub's method; an answer the service gives encoded (``Retrieve``'s) is
    parsed, as a stub would."""

    def call(request: Message, timeout: float | None = None, metadata: Any = None) -> Message:
        # The per-attempt deadline reaches the engine as a served call's does: a write still queued
        # when it passes is dropped (DEADLINE_EXCEEDED), not applied behind the caller's back.
        reset = deadlines.CALLER_DEADLINE.set(None if timeout is None else time.monotonic() + timeout)
        try:
            answer = handler(request)
            return answer_type.FromString(answer) if isinstance(answer, bytes) else answer
        except EngineError as exc:
            raise error_for(exc.code, exc.message) from None
        finally:
            deadlines.CALLER_DEADLINE.reset(reset)

    return call


class _Threaded:
    """``InProcessNode`` for ``AsyncDashClient``: each call runs in a worker thread, so the event loop
    keeps serving while the engine works and waits for its fsync."""

    def __init__(self, node: InProcessNode) -> None:
        self._node = node
        for method in dash_pb2.DESCRIPTOR.services_by_name["Dash"].methods:
            setattr(self, method.name, _in_thread(getattr(node, method.name)))

    async def close(self) -> None:
        await asyncio.to_thread(self._node.close)


def _in_thread(call: Callable[..., Message]) -> Callable[..., Awaitable[Message]]:
    async def run(request: Message, timeout: float | None = None, metadata: Any = None) -> Message:
        return await asyncio.to_thread(call, request, timeout)

    return run


class _Embedded:
    """What both embedded clients add to theirs: the engine at ``path`` in place of a channel."""

    def __init__(
        self,
        path: str | Path,
        *,
        tenant: str = "default",
        config: ClientConfig | None = None,
        engine: EngineConfig | None = None,
    ) -> None:
        self._path = Path(path)
        self._engine_config = engine or EngineConfig()
        super().__init__(f"embedded:{self._path}", tenant=tenant, config=config)  # type: ignore[call-arg]

    def _connect(self, cfg: ClientConfig, options: list[tuple[str, Any]]) -> tuple[Any, Any]:
        try:
            node = InProcessNode(self._path, self._engine_config)
        except EngineError as exc:  # e.g. the directory is open elsewhere: FailedPrecondition
            raise error_for(exc.code, exc.message) from None
        stub = self._stub_of(node)
        return stub, stub

    @staticmethod
    def _stub_of(node: InProcessNode) -> Any:
        return node


class EmbeddedDashClient(_Embedded, DashClient):
    """``DashClient`` over an engine in this process, opened (or created) at ``path``.

    ``EmbeddedDashClient(path, *, tenant="default", config=None, engine=None)``: ``config`` is the
    client's (its ``timeout`` bounds each call; its target and key are not used), ``engine`` the
    engine's (``dash_node.engine.EngineConfig``: WAL fsync policy, limits, ranking weights, ...).
    ``close`` (or leaving the ``with`` block) finishes queued writes and releases the directory.
    """


class AsyncEmbeddedDashClient(_Embedded, AsyncDashClient):
    """``AsyncDashClient`` over an engine in this process: the same arguments as
    ``EmbeddedDashClient``; each call runs in a worker thread. Opening the engine (recovery included)
    happens in the constructor, before the first ``await``."""

    _stub_of = staticmethod(_Threaded)
