import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from dash_client._pb.dash.v1 import types_pb2 as _types_pb2
from dash_client._pb.dash.v1 import dash_pb2 as _dash_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WalBatch(_message.Message):
    __slots__ = ("tenant_id", "upserts", "evidence", "deletes", "commit_id", "fingerprint", "recorded_at", "response", "detected_edges", "detect", "detected_for", "trim")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    UPSERTS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DELETES_FIELD_NUMBER: _ClassVar[int]
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    DETECTED_EDGES_FIELD_NUMBER: _ClassVar[int]
    DETECT_FIELD_NUMBER: _ClassVar[int]
    DETECTED_FOR_FIELD_NUMBER: _ClassVar[int]
    TRIM_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    upserts: _containers.RepeatedCompositeFieldContainer[_types_pb2.ClaimInput]
    evidence: _containers.RepeatedCompositeFieldContainer[_types_pb2.Evidence]
    deletes: _containers.RepeatedScalarFieldContainer[str]
    commit_id: str
    fingerprint: bytes
    recorded_at: _timestamp_pb2.Timestamp
    response: _dash_pb2.WriteResponse
    detected_edges: _containers.RepeatedCompositeFieldContainer[_types_pb2.Edge]
    detect: bool
    detected_for: _containers.RepeatedScalarFieldContainer[int]
    trim: RangeTrim
    def __init__(self, tenant_id: _Optional[str] = ..., upserts: _Optional[_Iterable[_Union[_types_pb2.ClaimInput, _Mapping]]] = ..., evidence: _Optional[_Iterable[_Union[_types_pb2.Evidence, _Mapping]]] = ..., deletes: _Optional[_Iterable[str]] = ..., commit_id: _Optional[str] = ..., fingerprint: _Optional[bytes] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., response: _Optional[_Union[_dash_pb2.WriteResponse, _Mapping]] = ..., detected_edges: _Optional[_Iterable[_Union[_types_pb2.Edge, _Mapping]]] = ..., detect: _Optional[bool] = ..., detected_for: _Optional[_Iterable[int]] = ..., trim: _Optional[_Union[RangeTrim, _Mapping]] = ...) -> None: ...

class RangeTrim(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class DetectionTask(_message.Message):
    __slots__ = ("tenant_id", "claim_ids")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_IDS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    claim_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., claim_ids: _Optional[_Iterable[str]] = ...) -> None: ...
