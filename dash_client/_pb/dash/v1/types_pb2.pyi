import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Stance(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STANCE_UNSPECIFIED: _ClassVar[Stance]
    STANCE_SUPPORTS: _ClassVar[Stance]
    STANCE_CONTRADICTS: _ClassVar[Stance]
    STANCE_NEUTRAL: _ClassVar[Stance]

class Relation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELATION_UNSPECIFIED: _ClassVar[Relation]
    RELATION_SUPPORTS: _ClassVar[Relation]
    RELATION_CONTRADICTS: _ClassVar[Relation]
    RELATION_REFINES: _ClassVar[Relation]
    RELATION_DUPLICATES: _ClassVar[Relation]
    RELATION_DEPENDS_ON: _ClassVar[Relation]
    RELATION_SUPERSEDES: _ClassVar[Relation]

class EdgeOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EDGE_ORIGIN_UNSPECIFIED: _ClassVar[EdgeOrigin]
    EDGE_ORIGIN_CLIENT: _ClassVar[EdgeOrigin]
    EDGE_ORIGIN_DETECTOR: _ClassVar[EdgeOrigin]
STANCE_UNSPECIFIED: Stance
STANCE_SUPPORTS: Stance
STANCE_CONTRADICTS: Stance
STANCE_NEUTRAL: Stance
RELATION_UNSPECIFIED: Relation
RELATION_SUPPORTS: Relation
RELATION_CONTRADICTS: Relation
RELATION_REFINES: Relation
RELATION_DUPLICATES: Relation
RELATION_DEPENDS_ON: Relation
RELATION_SUPERSEDES: Relation
EDGE_ORIGIN_UNSPECIFIED: EdgeOrigin
EDGE_ORIGIN_CLIENT: EdgeOrigin
EDGE_ORIGIN_DETECTOR: EdgeOrigin

class Claim(_message.Message):
    __slots__ = ("claim_id", "tenant_id", "text", "subject", "predicate", "object", "entities", "claim_type", "confidence", "valid_from", "valid_to", "event_time", "recorded_at", "superseded_at", "embedding", "labels", "valid_time_source", "routing_key")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PREDICATE_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    CLAIM_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_AT_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    VALID_TIME_SOURCE_FIELD_NUMBER: _ClassVar[int]
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    tenant_id: str
    text: str
    subject: str
    predicate: str
    object: str
    entities: _containers.RepeatedScalarFieldContainer[str]
    claim_type: str
    confidence: float
    valid_from: _timestamp_pb2.Timestamp
    valid_to: _timestamp_pb2.Timestamp
    event_time: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    superseded_at: _timestamp_pb2.Timestamp
    embedding: bytes
    labels: _containers.ScalarMap[str, str]
    valid_time_source: TemporalSource
    routing_key: str
    def __init__(self, claim_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., text: _Optional[str] = ..., subject: _Optional[str] = ..., predicate: _Optional[str] = ..., object: _Optional[str] = ..., entities: _Optional[_Iterable[str]] = ..., claim_type: _Optional[str] = ..., confidence: _Optional[float] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., superseded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., embedding: _Optional[bytes] = ..., labels: _Optional[_Mapping[str, str]] = ..., valid_time_source: _Optional[_Union[TemporalSource, _Mapping]] = ..., routing_key: _Optional[str] = ...) -> None: ...

class TemporalSource(_message.Message):
    __slots__ = ("expression", "span_start", "span_end", "rule", "inherited")
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    SPAN_START_FIELD_NUMBER: _ClassVar[int]
    SPAN_END_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    INHERITED_FIELD_NUMBER: _ClassVar[int]
    expression: str
    span_start: int
    span_end: int
    rule: str
    inherited: bool
    def __init__(self, expression: _Optional[str] = ..., span_start: _Optional[int] = ..., span_end: _Optional[int] = ..., rule: _Optional[str] = ..., inherited: _Optional[bool] = ...) -> None: ...

class Evidence(_message.Message):
    __slots__ = ("evidence_id", "claim_id", "source_id", "doc_id", "chunk_id", "span_start", "span_end", "quote", "stance", "source_quality", "extractor", "observed_at")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DOC_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_START_FIELD_NUMBER: _ClassVar[int]
    SPAN_END_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    STANCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_QUALITY_FIELD_NUMBER: _ClassVar[int]
    EXTRACTOR_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    claim_id: str
    source_id: str
    doc_id: str
    chunk_id: str
    span_start: int
    span_end: int
    quote: str
    stance: Stance
    source_quality: float
    extractor: str
    observed_at: _timestamp_pb2.Timestamp
    def __init__(self, evidence_id: _Optional[str] = ..., claim_id: _Optional[str] = ..., source_id: _Optional[str] = ..., doc_id: _Optional[str] = ..., chunk_id: _Optional[str] = ..., span_start: _Optional[int] = ..., span_end: _Optional[int] = ..., quote: _Optional[str] = ..., stance: _Optional[_Union[Stance, str]] = ..., source_quality: _Optional[float] = ..., extractor: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Edge(_message.Message):
    __slots__ = ("from_claim_id", "to_claim_id", "relation", "strength", "reason_codes", "origin", "from_evidence_ids", "to_evidence_ids")
    FROM_CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    TO_CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    FROM_EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    TO_EVIDENCE_IDS_FIELD_NUMBER: _ClassVar[int]
    from_claim_id: str
    to_claim_id: str
    relation: Relation
    strength: float
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    origin: EdgeOrigin
    from_evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    to_evidence_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, from_claim_id: _Optional[str] = ..., to_claim_id: _Optional[str] = ..., relation: _Optional[_Union[Relation, str]] = ..., strength: _Optional[float] = ..., reason_codes: _Optional[_Iterable[str]] = ..., origin: _Optional[_Union[EdgeOrigin, str]] = ..., from_evidence_ids: _Optional[_Iterable[str]] = ..., to_evidence_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ClaimInput(_message.Message):
    __slots__ = ("claim", "evidence", "edges")
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    claim: Claim
    evidence: _containers.RepeatedCompositeFieldContainer[Evidence]
    edges: _containers.RepeatedCompositeFieldContainer[Edge]
    def __init__(self, claim: _Optional[_Union[Claim, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[Evidence, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ...) -> None: ...

class Document(_message.Message):
    __slots__ = ("doc_id", "source_id", "text", "title", "labels", "observed_at", "source_quality")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DOC_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_QUALITY_FIELD_NUMBER: _ClassVar[int]
    doc_id: str
    source_id: str
    text: str
    title: str
    labels: _containers.ScalarMap[str, str]
    observed_at: _timestamp_pb2.Timestamp
    source_quality: float
    def __init__(self, doc_id: _Optional[str] = ..., source_id: _Optional[str] = ..., text: _Optional[str] = ..., title: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source_quality: _Optional[float] = ...) -> None: ...

class Citation(_message.Message):
    __slots__ = ("evidence_id", "source_id", "doc_id", "chunk_id", "span_start", "span_end", "quote", "stance", "source_quality")
    EVIDENCE_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DOC_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_START_FIELD_NUMBER: _ClassVar[int]
    SPAN_END_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    STANCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_QUALITY_FIELD_NUMBER: _ClassVar[int]
    evidence_id: str
    source_id: str
    doc_id: str
    chunk_id: str
    span_start: int
    span_end: int
    quote: str
    stance: Stance
    source_quality: float
    def __init__(self, evidence_id: _Optional[str] = ..., source_id: _Optional[str] = ..., doc_id: _Optional[str] = ..., chunk_id: _Optional[str] = ..., span_start: _Optional[int] = ..., span_end: _Optional[int] = ..., quote: _Optional[str] = ..., stance: _Optional[_Union[Stance, str]] = ..., source_quality: _Optional[float] = ...) -> None: ...

class TimeWindow(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
