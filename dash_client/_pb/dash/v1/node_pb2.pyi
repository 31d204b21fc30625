from dash_client._pb.dash.v1 import dash_pb2 as _dash_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class StatsRequest(_message.Message):
    __slots__ = ("tenant_id", "shard_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    shard_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., shard_id: _Optional[str] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("applied_lsn", "generation", "claims", "evidence", "edges", "wal_bytes", "shard_id", "epoch", "leader", "detection_backlog")
    APPLIED_LSN_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    WAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LEADER_FIELD_NUMBER: _ClassVar[int]
    DETECTION_BACKLOG_FIELD_NUMBER: _ClassVar[int]
    applied_lsn: int
    generation: int
    claims: int
    evidence: int
    edges: int
    wal_bytes: int
    shard_id: str
    epoch: int
    leader: bool
    detection_backlog: int
    def __init__(self, applied_lsn: _Optional[int] = ..., generation: _Optional[int] = ..., claims: _Optional[int] = ..., evidence: _Optional[int] = ..., edges: _Optional[int] = ..., wal_bytes: _Optional[int] = ..., shard_id: _Optional[str] = ..., epoch: _Optional[int] = ..., leader: _Optional[bool] = ..., detection_backlog: _Optional[int] = ...) -> None: ...
