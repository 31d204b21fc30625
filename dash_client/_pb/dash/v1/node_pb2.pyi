from dash_client._pb.dash.v1 import dash_pb2 as _dash_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RetrieveShardsRequest(_message.Message):
    __slots__ = ("request", "shard_ids")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    SHARD_IDS_FIELD_NUMBER: _ClassVar[int]
    request: _dash_pb2.RetrieveRequest
    shard_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request: _Optional[_Union[_dash_pb2.RetrieveRequest, _Mapping]] = ..., shard_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ShardAnswer(_message.Message):
    __slots__ = ("shard_id", "response", "code", "message")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    shard_id: str
    response: _dash_pb2.RetrieveResponse
    code: int
    message: str
    def __init__(self, shard_id: _Optional[str] = ..., response: _Optional[_Union[_dash_pb2.RetrieveResponse, _Mapping]] = ..., code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class RetrieveShardsResponse(_message.Message):
    __slots__ = ("answers",)
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    answers: _containers.RepeatedCompositeFieldContainer[ShardAnswer]
    def __init__(self, answers: _Optional[_Iterable[_Union[ShardAnswer, _Mapping]]] = ...) -> None: ...

class TrimRequest(_message.Message):
    __slots__ = ("shard_id", "epoch")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    shard_id: str
    epoch: int
    def __init__(self, shard_id: _Optional[str] = ..., epoch: _Optional[int] = ...) -> None: ...

class FenceRequest(_message.Message):
    __slots__ = ("shard_id", "epoch", "seconds")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    shard_id: str
    epoch: int
    seconds: float
    def __init__(self, shard_id: _Optional[str] = ..., epoch: _Optional[int] = ..., seconds: _Optional[float] = ...) -> None: ...

class FenceResponse(_message.Message):
    __slots__ = ("applied_lsn",)
    APPLIED_LSN_FIELD_NUMBER: _ClassVar[int]
    applied_lsn: int
    def __init__(self, applied_lsn: _Optional[int] = ...) -> None: ...

class ListClaimsRequest(_message.Message):
    __slots__ = ("tenant_id", "shard_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    shard_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., shard_id: _Optional[str] = ...) -> None: ...

class ListClaimsResponse(_message.Message):
    __slots__ = ("claim_ids", "applied_lsn")
    CLAIM_IDS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_LSN_FIELD_NUMBER: _ClassVar[int]
    claim_ids: _containers.RepeatedScalarFieldContainer[str]
    applied_lsn: int
    def __init__(self, claim_ids: _Optional[_Iterable[str]] = ..., applied_lsn: _Optional[int] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ("tenant_id", "shard_id", "digest")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    shard_id: str
    digest: bool
    def __init__(self, tenant_id: _Optional[str] = ..., shard_id: _Optional[str] = ..., digest: _Optional[bool] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("applied_lsn", "generation", "claims", "evidence", "edges", "wal_bytes", "shard_id", "epoch", "leader", "detection_backlog", "leader_lsn", "staleness_seconds", "follower_lsns", "digest", "wal_first_lsn", "index_backlog", "features_backlog")
    class FollowerLsnsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
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
    LEADER_LSN_FIELD_NUMBER: _ClassVar[int]
    STALENESS_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_LSNS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    WAL_FIRST_LSN_FIELD_NUMBER: _ClassVar[int]
    INDEX_BACKLOG_FIELD_NUMBER: _ClassVar[int]
    FEATURES_BACKLOG_FIELD_NUMBER: _ClassVar[int]
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
    leader_lsn: int
    staleness_seconds: float
    follower_lsns: _containers.ScalarMap[str, int]
    digest: str
    wal_first_lsn: int
    index_backlog: int
    features_backlog: int
    def __init__(self, applied_lsn: _Optional[int] = ..., generation: _Optional[int] = ..., claims: _Optional[int] = ..., evidence: _Optional[int] = ..., edges: _Optional[int] = ..., wal_bytes: _Optional[int] = ..., shard_id: _Optional[str] = ..., epoch: _Optional[int] = ..., leader: _Optional[bool] = ..., detection_backlog: _Optional[int] = ..., leader_lsn: _Optional[int] = ..., staleness_seconds: _Optional[float] = ..., follower_lsns: _Optional[_Mapping[str, int]] = ..., digest: _Optional[str] = ..., wal_first_lsn: _Optional[int] = ..., index_backlog: _Optional[int] = ..., features_backlog: _Optional[int] = ...) -> None: ...

class ReplicateRequest(_message.Message):
    __slots__ = ("shard_id", "node_id", "last_lsn", "last_crc", "durable_lsn", "replica_shard_id")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_LSN_FIELD_NUMBER: _ClassVar[int]
    LAST_CRC_FIELD_NUMBER: _ClassVar[int]
    DURABLE_LSN_FIELD_NUMBER: _ClassVar[int]
    REPLICA_SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    shard_id: str
    node_id: str
    last_lsn: int
    last_crc: int
    durable_lsn: int
    replica_shard_id: str
    def __init__(self, shard_id: _Optional[str] = ..., node_id: _Optional[str] = ..., last_lsn: _Optional[int] = ..., last_crc: _Optional[int] = ..., durable_lsn: _Optional[int] = ..., replica_shard_id: _Optional[str] = ...) -> None: ...

class WalRecord(_message.Message):
    __slots__ = ("lsn", "type", "payload")
    LSN_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    lsn: int
    type: int
    payload: bytes
    def __init__(self, lsn: _Optional[int] = ..., type: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...

class ReplicateResponse(_message.Message):
    __slots__ = ("records", "leader_lsn", "epoch")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    LEADER_LSN_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[WalRecord]
    leader_lsn: int
    epoch: int
    def __init__(self, records: _Optional[_Iterable[_Union[WalRecord, _Mapping]]] = ..., leader_lsn: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class FetchSnapshotRequest(_message.Message):
    __slots__ = ("shard_id", "node_id")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    shard_id: str
    node_id: str
    def __init__(self, shard_id: _Optional[str] = ..., node_id: _Optional[str] = ...) -> None: ...

class SnapshotFile(_message.Message):
    __slots__ = ("path", "size", "crc32c")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    crc32c: int
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., crc32c: _Optional[int] = ...) -> None: ...

class SnapshotManifest(_message.Message):
    __slots__ = ("shard_id", "lsn", "files")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    shard_id: str
    lsn: int
    files: _containers.RepeatedCompositeFieldContainer[SnapshotFile]
    def __init__(self, shard_id: _Optional[str] = ..., lsn: _Optional[int] = ..., files: _Optional[_Iterable[_Union[SnapshotFile, _Mapping]]] = ...) -> None: ...

class SnapshotChunk(_message.Message):
    __slots__ = ("path", "offset", "data", "manifest")
    PATH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    path: str
    offset: int
    data: bytes
    manifest: SnapshotManifest
    def __init__(self, path: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., manifest: _Optional[_Union[SnapshotManifest, _Mapping]] = ...) -> None: ...
