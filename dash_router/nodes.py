"""Connections from the router to the shard nodes, kept in step with the nodes registered in etcd."""

from __future__ import annotations

import grpc

from dash_client._pb.dash.v1 import node_pb2, node_pb2_grpc
from dash_client.tracing import aio_client_interceptors
from dash_client.transport import TlsConfig, open_aio_channel
from dash_node.errors import Unavailable
from dash_node.placement import NodeInfo
from dash_node.wire import CLUSTER_TOKEN_HEADER


class NodePool:
    """One asyncio channel per live node, reused by every call (connection reuse is the cheap part of
    a 0.7-1.0 ms hop)."""

    def __init__(
        self, token: str = "", tls: TlsConfig | None = None, max_message_bytes: int = 16 << 20
    ) -> None:
        self.metadata: tuple[tuple[str, str], ...] = ((CLUSTER_TOKEN_HEADER, token),) if token else ()
        self._tls = tls
        self._options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ]
        self._nodes: dict[str, NodeInfo] = {}
        self._channels: dict[str, tuple[str, grpc.aio.Channel, node_pb2_grpc.NodeStub, RawNodeStub]] = {}

    def update(self, nodes: dict[str, NodeInfo]) -> list[grpc.aio.Channel]:
        """Adopt the registered nodes; returns channels that are no longer needed (to close)."""
        self._nodes = dict(nodes)
        stale = []
        for node_id, (address, channel, *_) in list(self._channels.items()):
            info = nodes.get(node_id)
            if info is None or info.address != address:
                stale.append(channel)
                del self._channels[node_id]
        return stale

    def is_live(self, node_id: str) -> bool:
        return node_id in self._nodes

    def stub(self, node_id: str) -> node_pb2_grpc.NodeStub:
        return self._entry(node_id)[2]

    def raw_stub(self, node_id: str) -> RawNodeStub:
        return self._entry(node_id)[3]

    def _entry(self, node_id: str) -> tuple[str, grpc.aio.Channel, node_pb2_grpc.NodeStub, RawNodeStub]:
        info = self._nodes.get(node_id)
        if info is None:
            raise Unavailable(f"node '{node_id}' is not registered (down, or its lease expired)")
        entry = self._channels.get(node_id)
        if entry is None or entry[0] != info.address:
            channel = open_aio_channel(
                info.address, self._tls, self._options, interceptors=aio_client_interceptors() or None
            )
            entry = (info.address, channel, node_pb2_grpc.NodeStub(channel), RawNodeStub(channel))
            self._channels[node_id] = entry
        return entry

    async def close(self) -> None:
        for _, channel, *_ in self._channels.values():
            await channel.close()
        self._channels.clear()


class RawNodeStub:
    """The Node service's unary methods, answering the node's encoded bytes undecoded: what the router
    hands on as it is (one shard's retrieve answer) costs no parse and no re-encoding."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        service = node_pb2.DESCRIPTOR.services_by_name["Node"]
        for m in service.methods:
            if not (m.client_streaming or m.server_streaming):
                path = f"/{service.full_name}/{m.name}"
                setattr(self, m.name, channel.unary_unary(path, request_serializer=_encode))


def _encode(message) -> bytes:
    return message.SerializeToString()
