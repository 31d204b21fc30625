"""How operator tools reach shard nodes directly: the cluster credential and, when the cluster uses it,
TLS with an operator certificate (nodes that require mutual TLS refuse anyone else)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc

from dash_client._pb.dash.v1 import node_pb2_grpc
from dash_client.transport import TlsConfig, open_channel
from dash_node.wire import CLUSTER_TOKEN_HEADER


@dataclass(frozen=True)
class NodeAccess:
    token: str
    tls: TlsConfig | None = None

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return ((CLUSTER_TOKEN_HEADER, self.token),) if self.token else ()

    def channel(self, address: str) -> grpc.Channel:
        return open_channel(address, self.tls)

    def call(self, address: str, method: str, request: Any, timeout: float = 5.0) -> Any:
        """One unary ``Node`` call on a channel of its own (operator calls are rare; no pooling)."""
        with self.channel(address) as channel:
            return getattr(node_pb2_grpc.NodeStub(channel), method)(
                request, timeout=timeout, metadata=self.metadata
            )
