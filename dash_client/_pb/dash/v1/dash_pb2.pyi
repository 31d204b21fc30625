import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from dash_client._pb.dash.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AckLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACK_LEVEL_UNSPECIFIED: _ClassVar[AckLevel]
    ACK_LEVEL_LEADER: _ClassVar[AckLevel]
    ACK_LEVEL_REPLICATED: _ClassVar[AckLevel]

class StanceMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STANCE_MODE_UNSPECIFIED: _ClassVar[StanceMode]
    STANCE_MODE_BALANCED: _ClassVar[StanceMode]
    STANCE_MODE_SUPPORT_ONLY: _ClassVar[StanceMode]
    STANCE_MODE_CONTRADICTIONS_FIRST: _ClassVar[StanceMode]

class ReadPreference(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    READ_PREFERENCE_UNSPECIFIED: _ClassVar[ReadPreference]
    READ_PREFERENCE_LEADER: _ClassVar[ReadPreference]
    READ_PREFERENCE_FOLLOWER: _ClassVar[ReadPreference]
    READ_PREFERENCE_ANY: _ClassVar[ReadPreference]
ACK_LEVEL_UNSPECIFIED: AckLevel
ACK_LEVEL_LEADER: AckLevel
ACK_LEVEL_REPLICATED: AckLevel
STANCE_MODE_UNSPECIFIED: StanceMode
STANCE_MODE_BALANCED: StanceMode
STANCE_MODE_SUPPORT_ONLY: StanceMode
STANCE_MODE_CONTRADICTIONS_FIRST: StanceMode
READ_PREFERENCE_UNSPECIFIED: ReadPreference
READ_PREFERENCE_LEADER: ReadPreference
READ_PREFERENCE_FOLLOWER: ReadPreference
READ_PREFERENCE_ANY: ReadPreference

class WriteOptions(_message.Message):
    __slots__ = ("epoch", "shard_id", "ack", "wait_for_detection")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    WAIT_FOR_DETECTION_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    shard_id: str
    ack: AckLevel
    wait_for_detection: bool
    def __init__(self, epoch: _Optional[int] = ..., shard_id: _Optional[str] = ..., ack: _Optional[_Union[AckLevel, str]] = ..., wait_for_detection: _Optional[bool] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("tenant_id", "item", "write")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    item: _types_pb2.ClaimInput
    write: WriteOptions
    def __init__(self, tenant_id: _Optional[str] = ..., item: _Optional[_Union[_types_pb2.ClaimInput, _Mapping]] = ..., write: _Optional[_Union[WriteOptions, _Mapping]] = ...) -> None: ...

class IngestBatchRequest(_message.Message):
    __slots__ = ("tenant_id", "items", "commit_id", "write")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    items: _containers.RepeatedCompositeFieldContainer[_types_pb2.ClaimInput]
    commit_id: str
    write: WriteOptions
    def __init__(self, tenant_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_types_pb2.ClaimInput, _Mapping]]] = ..., commit_id: _Optional[str] = ..., write: _Optional[_Union[WriteOptions, _Mapping]] = ...) -> None: ...

class IngestDocumentRequest(_message.Message):
    __slots__ = ("tenant_id", "document", "write")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    document: _types_pb2.Document
    write: WriteOptions
    def __init__(self, tenant_id: _Optional[str] = ..., document: _Optional[_Union[_types_pb2.Document, _Mapping]] = ..., write: _Optional[_Union[WriteOptions, _Mapping]] = ...) -> None: ...

class UpsertEvidenceRequest(_message.Message):
    __slots__ = ("tenant_id", "evidence", "write")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    evidence: _containers.RepeatedCompositeFieldContainer[_types_pb2.Evidence]
    write: WriteOptions
    def __init__(self, tenant_id: _Optional[str] = ..., evidence: _Optional[_Iterable[_Union[_types_pb2.Evidence, _Mapping]]] = ..., write: _Optional[_Union[WriteOptions, _Mapping]] = ...) -> None: ...

class DeleteClaimRequest(_message.Message):
    __slots__ = ("tenant_id", "claim_id", "write")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    WRITE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    claim_id: str
    write: WriteOptions
    def __init__(self, tenant_id: _Optional[str] = ..., claim_id: _Optional[str] = ..., write: _Optional[_Union[WriteOptions, _Mapping]] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("claim_ids", "lsn", "generation", "shard_id", "epoch", "replayed", "commit_id", "ack_met", "evidence_count", "edge_count", "detected", "positions")
    CLAIM_IDS_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    ACK_MET_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    EDGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DETECTED_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    claim_ids: _containers.RepeatedScalarFieldContainer[str]
    lsn: int
    generation: int
    shard_id: str
    epoch: int
    replayed: bool
    commit_id: str
    ack_met: AckLevel
    evidence_count: int
    edge_count: int
    detected: bool
    positions: _containers.RepeatedCompositeFieldContainer[ReplicaPosition]
    def __init__(self, claim_ids: _Optional[_Iterable[str]] = ..., lsn: _Optional[int] = ..., generation: _Optional[int] = ..., shard_id: _Optional[str] = ..., epoch: _Optional[int] = ..., replayed: _Optional[bool] = ..., commit_id: _Optional[str] = ..., ack_met: _Optional[_Union[AckLevel, str]] = ..., evidence_count: _Optional[int] = ..., edge_count: _Optional[int] = ..., detected: _Optional[bool] = ..., positions: _Optional[_Iterable[_Union[ReplicaPosition, _Mapping]]] = ...) -> None: ...

class GraphOptions(_message.Message):
    __slots__ = ("depth", "max_degree")
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    MAX_DEGREE_FIELD_NUMBER: _ClassVar[int]
    depth: int
    max_degree: int
    def __init__(self, depth: _Optional[int] = ..., max_degree: _Optional[int] = ...) -> None: ...

class ReplicaPosition(_message.Message):
    __slots__ = ("shard_id", "lsn", "epoch", "node_id")
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    shard_id: str
    lsn: int
    epoch: int
    node_id: str
    def __init__(self, shard_id: _Optional[str] = ..., lsn: _Optional[int] = ..., epoch: _Optional[int] = ..., node_id: _Optional[str] = ...) -> None: ...

class ReadOptions(_message.Message):
    __slots__ = ("after", "preference", "max_staleness_ms")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    PREFERENCE_FIELD_NUMBER: _ClassVar[int]
    MAX_STALENESS_MS_FIELD_NUMBER: _ClassVar[int]
    after: _containers.RepeatedCompositeFieldContainer[ReplicaPosition]
    preference: ReadPreference
    max_staleness_ms: int
    def __init__(self, after: _Optional[_Iterable[_Union[ReplicaPosition, _Mapping]]] = ..., preference: _Optional[_Union[ReadPreference, str]] = ..., max_staleness_ms: _Optional[int] = ...) -> None: ...

class RetrieveRequest(_message.Message):
    __slots__ = ("tenant_id", "query", "query_embedding", "top_k", "stance_mode", "as_of", "as_known_at", "valid_window", "label_filter", "entity_filter", "graph", "explain", "read", "shard_id", "include_history", "weights", "num_candidates")
    class LabelFilterEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    QUERY_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    STANCE_MODE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    AS_KNOWN_AT_FIELD_NUMBER: _ClassVar[int]
    VALID_WINDOW_FIELD_NUMBER: _ClassVar[int]
    LABEL_FILTER_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FILTER_FIELD_NUMBER: _ClassVar[int]
    GRAPH_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    NUM_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    query: str
    query_embedding: bytes
    top_k: int
    stance_mode: StanceMode
    as_of: _timestamp_pb2.Timestamp
    as_known_at: _timestamp_pb2.Timestamp
    valid_window: _types_pb2.TimeWindow
    label_filter: _containers.ScalarMap[str, str]
    entity_filter: _containers.RepeatedScalarFieldContainer[str]
    graph: GraphOptions
    explain: bool
    read: ReadOptions
    shard_id: str
    include_history: bool
    weights: RankingWeights
    num_candidates: int
    def __init__(self, tenant_id: _Optional[str] = ..., query: _Optional[str] = ..., query_embedding: _Optional[bytes] = ..., top_k: _Optional[int] = ..., stance_mode: _Optional[_Union[StanceMode, str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_known_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_window: _Optional[_Union[_types_pb2.TimeWindow, _Mapping]] = ..., label_filter: _Optional[_Mapping[str, str]] = ..., entity_filter: _Optional[_Iterable[str]] = ..., graph: _Optional[_Union[GraphOptions, _Mapping]] = ..., explain: _Optional[bool] = ..., read: _Optional[_Union[ReadOptions, _Mapping]] = ..., shard_id: _Optional[str] = ..., include_history: _Optional[bool] = ..., weights: _Optional[_Union[RankingWeights, _Mapping]] = ..., num_candidates: _Optional[int] = ...) -> None: ...

class RankingWeights(_message.Message):
    __slots__ = ("semantic", "lexical", "support", "contradiction_risk", "temporal", "source_quality", "confidence", "fusion")
    SEMANTIC_FIELD_NUMBER: _ClassVar[int]
    LEXICAL_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_FIELD_NUMBER: _ClassVar[int]
    CONTRADICTION_RISK_FIELD_NUMBER: _ClassVar[int]
    TEMPORAL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_QUALITY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    semantic: float
    lexical: float
    support: float
    contradiction_risk: float
    temporal: float
    source_quality: float
    confidence: float
    fusion: float
    def __init__(self, semantic: _Optional[float] = ..., lexical: _Optional[float] = ..., support: _Optional[float] = ..., contradiction_risk: _Optional[float] = ..., temporal: _Optional[float] = ..., source_quality: _Optional[float] = ..., confidence: _Optional[float] = ..., fusion: _Optional[float] = ...) -> None: ...

class ScoreBreakdown(_message.Message):
    __slots__ = ("total", "semantic", "lexical", "support", "contradiction_risk", "temporal", "source_quality", "confidence", "fusion")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_FIELD_NUMBER: _ClassVar[int]
    LEXICAL_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_FIELD_NUMBER: _ClassVar[int]
    CONTRADICTION_RISK_FIELD_NUMBER: _ClassVar[int]
    TEMPORAL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_QUALITY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    total: float
    semantic: float
    lexical: float
    support: float
    contradiction_risk: float
    temporal: float
    source_quality: float
    confidence: float
    fusion: float
    def __init__(self, total: _Optional[float] = ..., semantic: _Optional[float] = ..., lexical: _Optional[float] = ..., support: _Optional[float] = ..., contradiction_risk: _Optional[float] = ..., temporal: _Optional[float] = ..., source_quality: _Optional[float] = ..., confidence: _Optional[float] = ..., fusion: _Optional[float] = ...) -> None: ...

class RelatedClaim(_message.Message):
    __slots__ = ("claim_id", "text", "relation", "strength", "reason_codes", "origin", "citations")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    text: str
    relation: _types_pb2.Relation
    strength: float
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    origin: _types_pb2.EdgeOrigin
    citations: _containers.RepeatedCompositeFieldContainer[_types_pb2.Citation]
    def __init__(self, claim_id: _Optional[str] = ..., text: _Optional[str] = ..., relation: _Optional[_Union[_types_pb2.Relation, str]] = ..., strength: _Optional[float] = ..., reason_codes: _Optional[_Iterable[str]] = ..., origin: _Optional[_Union[_types_pb2.EdgeOrigin, str]] = ..., citations: _Optional[_Iterable[_Union[_types_pb2.Citation, _Mapping]]] = ...) -> None: ...

class RetrievedClaim(_message.Message):
    __slots__ = ("claim", "score", "breakdown", "citations", "contradicting_citations", "contradicting", "supporting", "contradiction_risk", "dominant_stance", "shard_id", "from_expansion")
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    CONTRADICTING_CITATIONS_FIELD_NUMBER: _ClassVar[int]
    CONTRADICTING_FIELD_NUMBER: _ClassVar[int]
    SUPPORTING_FIELD_NUMBER: _ClassVar[int]
    CONTRADICTION_RISK_FIELD_NUMBER: _ClassVar[int]
    DOMINANT_STANCE_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_EXPANSION_FIELD_NUMBER: _ClassVar[int]
    claim: _types_pb2.Claim
    score: float
    breakdown: ScoreBreakdown
    citations: _containers.RepeatedCompositeFieldContainer[_types_pb2.Citation]
    contradicting_citations: _containers.RepeatedCompositeFieldContainer[_types_pb2.Citation]
    contradicting: _containers.RepeatedCompositeFieldContainer[RelatedClaim]
    supporting: _containers.RepeatedCompositeFieldContainer[RelatedClaim]
    contradiction_risk: float
    dominant_stance: _types_pb2.Stance
    shard_id: str
    from_expansion: bool
    def __init__(self, claim: _Optional[_Union[_types_pb2.Claim, _Mapping]] = ..., score: _Optional[float] = ..., breakdown: _Optional[_Union[ScoreBreakdown, _Mapping]] = ..., citations: _Optional[_Iterable[_Union[_types_pb2.Citation, _Mapping]]] = ..., contradicting_citations: _Optional[_Iterable[_Union[_types_pb2.Citation, _Mapping]]] = ..., contradicting: _Optional[_Iterable[_Union[RelatedClaim, _Mapping]]] = ..., supporting: _Optional[_Iterable[_Union[RelatedClaim, _Mapping]]] = ..., contradiction_risk: _Optional[float] = ..., dominant_stance: _Optional[_Union[_types_pb2.Stance, str]] = ..., shard_id: _Optional[str] = ..., from_expansion: _Optional[bool] = ...) -> None: ...

class StageTrace(_message.Message):
    __slots__ = ("stage", "candidates", "millis", "shard_id")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MILLIS_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    stage: str
    candidates: int
    millis: float
    shard_id: str
    def __init__(self, stage: _Optional[str] = ..., candidates: _Optional[int] = ..., millis: _Optional[float] = ..., shard_id: _Optional[str] = ...) -> None: ...

class RetrieveResponse(_message.Message):
    __slots__ = ("results", "explain", "shards_answered", "shards_missing", "dropped_by_stance", "served_at")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    SHARDS_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    SHARDS_MISSING_FIELD_NUMBER: _ClassVar[int]
    DROPPED_BY_STANCE_FIELD_NUMBER: _ClassVar[int]
    SERVED_AT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RetrievedClaim]
    explain: _containers.RepeatedCompositeFieldContainer[StageTrace]
    shards_answered: _containers.RepeatedScalarFieldContainer[str]
    shards_missing: _containers.RepeatedScalarFieldContainer[str]
    dropped_by_stance: int
    served_at: _timestamp_pb2.Timestamp
    def __init__(self, results: _Optional[_Iterable[_Union[RetrievedClaim, _Mapping]]] = ..., explain: _Optional[_Iterable[_Union[StageTrace, _Mapping]]] = ..., shards_answered: _Optional[_Iterable[str]] = ..., shards_missing: _Optional[_Iterable[str]] = ..., dropped_by_stance: _Optional[int] = ..., served_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetClaimRequest(_message.Message):
    __slots__ = ("tenant_id", "claim_id", "shard_id", "read")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    claim_id: str
    shard_id: str
    read: ReadOptions
    def __init__(self, tenant_id: _Optional[str] = ..., claim_id: _Optional[str] = ..., shard_id: _Optional[str] = ..., read: _Optional[_Union[ReadOptions, _Mapping]] = ...) -> None: ...

class GetClaimResponse(_message.Message):
    __slots__ = ("claim", "evidence", "edges_out", "edges_in")
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    EDGES_OUT_FIELD_NUMBER: _ClassVar[int]
    EDGES_IN_FIELD_NUMBER: _ClassVar[int]
    claim: _types_pb2.Claim
    evidence: _containers.RepeatedCompositeFieldContainer[_types_pb2.Evidence]
    edges_out: _containers.RepeatedCompositeFieldContainer[_types_pb2.Edge]
    edges_in: _containers.RepeatedCompositeFieldContainer[_types_pb2.Edge]
    def __init__(self, claim: _Optional[_Union[_types_pb2.Claim, _Mapping]] = ..., evidence: _Optional[_Iterable[_Union[_types_pb2.Evidence, _Mapping]]] = ..., edges_out: _Optional[_Iterable[_Union[_types_pb2.Edge, _Mapping]]] = ..., edges_in: _Optional[_Iterable[_Union[_types_pb2.Edge, _Mapping]]] = ...) -> None: ...
