"""The DASH client SDK: ``DashClient`` (blocking) and ``AsyncDashClient`` (``grpc.aio``).

One typed method per RPC of the public ``dash.v1.Dash`` service, configured by frozen dataclasses::

    from dash_client.client import DashClient

    with DashClient("127.0.0.1:7070", tenant="acme") as dash:
        dash.ingest({"claim_id": "c1", "text": "Paris is in France."})
        for hit in dash.retrieve("Where is Paris?", top_k=5).results:
            print(hit.score, hit.text, [c.quote for c in hit.citations])

Failures raise ``dash_client.errors.DashError`` subclasses carrying the status name and the server's
message. Retries (exponential backoff with full jitter) happen only where repeating a call is safe:

* ``UNAVAILABLE`` for reads (``retrieve``, ``get_claim``), ``ingest_batch`` (always sent with a
  ``commit_id``; the server replays its first answer) and ``ingest_document`` (deterministic claim ids);
* ``DEADLINE_EXCEEDED`` for reads only;
* never for ``ingest``, ``upsert_evidence`` and ``delete_claim``: a lost answer may hide an applied write.
"""

from __future__ import annotations

import asyncio
import hashlib
import random as _random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
from google.protobuf import message as _message

from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, types_pb2
from dash_client.errors import DashError, InvalidArgument, from_rpc_error
from dash_client.formats import pack_vector
from dash_client.tracing import instrument_channel
from dash_client.transport import TlsConfig, open_aio_channel, open_channel
from dash_client.types import (
    ClaimIn,
    ClaimRecord,
    EvidenceIn,
    RetrieveResult,
    TimeLike,
    WriteResult,
    claim_input,
    evidence_input,
    to_timestamp,
)

ClaimInputLike = ClaimIn | dict | types_pb2.ClaimInput
"""A claim to write: a ``ClaimIn``, a dict in the README's JSONL format, or a built ``ClaimInput``."""

MODES = {
    "balanced": dash_pb2.STANCE_MODE_BALANCED,
    "support_only": dash_pb2.STANCE_MODE_SUPPORT_ONLY,
    "contradictions_first": dash_pb2.STANCE_MODE_CONTRADICTIONS_FIRST,
}
"""``retrieve(mode=...)`` values: how supporting and contradicting material is arranged."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: before attempt ``n + 1`` the client sleeps a uniform random
    time in ``[0, min(max_backoff, initial_backoff * multiplier ** (n - 1))]`` seconds. ``max_attempts``
    counts the first attempt (1 disables retries)."""

    max_attempts: int = 4
    initial_backoff: float = 0.05
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("retry.max_attempts: must be >= 1")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("retry.initial_backoff, retry.max_backoff: must be >= 0")
        if self.multiplier < 1:
            raise ValueError("retry.multiplier: must be >= 1")

    def backoff_cap(self, attempt: int) -> float:
        """The largest sleep after failed attempt number ``attempt`` (1-based)."""
        return min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))


@dataclass(frozen=True)
class ClientConfig:
    """Where and how to connect. ``timeout`` is the deadline of each attempt, in seconds; ``tenant`` is the
    default of every call's ``tenant=``; ``api_key`` is sent as ``authorization: Bearer <key>``; ``tls``
    secures the connection (plaintext without it, which only suits loopback)."""

    target: str = "127.0.0.1:7070"
    api_key: str = ""
    tenant: str = "default"
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_message_bytes: int = 16 << 20
    tls: TlsConfig | None = None

    def __post_init__(self) -> None:
        if not self.target:
            raise ValueError("target: must be HOST:PORT")
        if self.timeout <= 0:
            raise ValueError("timeout: must be > 0 seconds")
        if self.max_message_bytes <= 0:
            raise ValueError("max_message_bytes: must be > 0")


def content_commit_id(items: Sequence[types_pb2.ClaimInput], prefix: str = "batch") -> str:
    """A commit id derived from a batch's content: ``<prefix>-`` and 32 hex digits of the sha256 of the
    items' deterministic serialization. The same items always get the same id, so sending them again
    (a retry, a re-run) replays the first answer instead of writing twice."""
    digest = hashlib.sha256(b"".join(i.SerializeToString(deterministic=True) for i in items))
    return f"{prefix}-{digest.hexdigest()[:32]}"


ACK_LEVELS = {
    "": dash_pb2.ACK_LEVEL_UNSPECIFIED,
    "leader": dash_pb2.ACK_LEVEL_LEADER,
    "replicated": dash_pb2.ACK_LEVEL_REPLICATED,
}
READ_PREFERENCES = {
    "": dash_pb2.READ_PREFERENCE_UNSPECIFIED,
    "leader": dash_pb2.READ_PREFERENCE_LEADER,
    "follower": dash_pb2.READ_PREFERENCE_FOLLOWER,
    "any": dash_pb2.READ_PREFERENCE_ANY,
}


def write_options(ack: str, wait_for_detection: bool) -> dash_pb2.WriteOptions:
    if ack not in ACK_LEVELS:
        raise InvalidArgument(f"ack: one of {sorted(k for k in ACK_LEVELS if k)}")
    return dash_pb2.WriteOptions(ack=ACK_LEVELS[ack], wait_for_detection=wait_for_detection)


def read_options(
    after: Sequence[WriteResult], preference: str, max_staleness_ms: int
) -> dash_pb2.ReadOptions:
    """Read options; ``after`` holds earlier writes' results (their positions are the token)."""
    if preference not in READ_PREFERENCES:
        raise InvalidArgument(f"read_preference: one of {sorted(k for k in READ_PREFERENCES if k)}")
    if max_staleness_ms < 0:
        raise InvalidArgument("max_staleness_ms: must be >= 0")
    read = dash_pb2.ReadOptions(preference=READ_PREFERENCES[preference], max_staleness_ms=max_staleness_ms)
    for w in after:
        read.after.extend(dash_pb2.ReplicaPosition(shard_id=p.shard_id, lsn=p.lsn) for p in w.positions)
    return read


def _args(scope: dict[str, Any]) -> dict[str, Any]:
    """A public method's arguments (its ``locals()`` on entry) minus ``self``, as keywords for its planner."""
    return {k: v for k, v in scope.items() if k != "self"}


# How a call may be repeated: reads on UNAVAILABLE and DEADLINE_EXCEEDED, idempotent writes on UNAVAILABLE
# only, other writes never.
_READ, _IDEMPOTENT, _ONCE = "read", "idempotent", "once"


@dataclass(frozen=True)
class _Call:
    """One planned RPC: the stub method, the request, its retry class and the answer's converter."""

    method: str
    request: _message.Message
    kind: str
    convert: Callable[[Any], Any]


class _Base:
    """Request building and the retry decision, shared by the blocking and the async client."""

    _new_channel: Callable[..., Any]
    _default_sleep: Callable[[float], Any]

    def __init__(
        self,
        target: str | None = None,
        *,
        api_key: str = "",
        tenant: str = "default",
        config: ClientConfig | None = None,
        tls: TlsConfig | None = None,
        sleep: Callable[[float], Any] | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        cfg = config or ClientConfig()
        cfg = replace(
            cfg,
            target=target if target is not None else cfg.target,
            api_key=api_key or cfg.api_key,
            tenant=tenant if config is None or tenant != "default" else cfg.tenant,
            tls=tls or cfg.tls,
        )
        self.config = cfg
        self._sleep = sleep if sleep is not None else type(self)._default_sleep
        self._random = random
        self._metadata = (("authorization", f"Bearer {cfg.api_key}"),) if cfg.api_key else ()
        options = [
            ("grpc.max_send_message_length", cfg.max_message_bytes),
            ("grpc.max_receive_message_length", cfg.max_message_bytes),
        ]
        self._channel, self._stub = self._connect(cfg, options)

    def _connect(self, cfg: ClientConfig, options: list[tuple[str, Any]]) -> tuple[Any, Any]:
        """The channel (what ``close`` closes) and the stub the calls go through."""
        # Traced when tracing is configured (W3C context to the router); unchanged otherwise.
        channel = instrument_channel(type(self)._new_channel(cfg.target, cfg.tls, options))
        return channel, dash_pb2_grpc.DashStub(channel)

    def _tenant(self, tenant: str | None) -> str:
        return self.config.tenant if tenant is None else tenant

    def _retry_delay(self, call: _Call, exc: grpc.RpcError, attempt: int, rand: float) -> float | None:
        """Seconds to wait before another attempt, or ``None`` when the failure must be raised."""
        code = exc.code() if hasattr(exc, "code") else None
        retryable = (code == grpc.StatusCode.UNAVAILABLE and call.kind in (_READ, _IDEMPOTENT)) or (
            code == grpc.StatusCode.DEADLINE_EXCEEDED and call.kind == _READ
        )
        if not retryable or attempt >= self.config.retry.max_attempts:
            return None
        return rand * self.config.retry.backoff_cap(attempt)

    # ---- planning: one per RPC ---------------------------------------------------------------------

    def _plan_ingest(self, claim: ClaimInputLike, tenant: str | None, write: dash_pb2.WriteOptions) -> _Call:
        req = dash_pb2.IngestRequest(
            tenant_id=self._tenant(tenant),
            item=claim_input(claim, "item"),
            write=write,
        )
        return _Call("Ingest", req, _ONCE, WriteResult.from_pb)

    def _plan_ingest_batch(
        self,
        claims: Sequence[ClaimInputLike],
        commit_id: str,
        tenant: str | None,
        write: dash_pb2.WriteOptions,
    ) -> _Call:
        items = [claim_input(c, f"items[{i}]") for i, c in enumerate(claims)]
        req = dash_pb2.IngestBatchRequest(
            tenant_id=self._tenant(tenant),
            items=items,
            commit_id=commit_id or content_commit_id(items),
            write=write,
        )
        return _Call("IngestBatch", req, _IDEMPOTENT, WriteResult.from_pb)

    def _plan_ingest_document(
        self,
        *,
        doc_id: str,
        text: str,
        source_id: str,
        title: str,
        source_quality: float | None,
        labels: Mapping[str, str] | None,
        observed_at: TimeLike | None,
        tenant: str | None,
        wait_for_detection: bool,
        ack: str,
    ) -> _Call:
        doc = types_pb2.Document(
            doc_id=doc_id, source_id=source_id or doc_id, text=text, title=title, labels=dict(labels or {})
        )
        if source_quality is not None:
            doc.source_quality = source_quality
        if observed_at is not None:
            doc.observed_at.CopyFrom(to_timestamp("document.observed_at", observed_at))
        req = dash_pb2.IngestDocumentRequest(
            tenant_id=self._tenant(tenant), document=doc, write=write_options(ack, wait_for_detection)
        )
        return _Call("IngestDocument", req, _IDEMPOTENT, WriteResult.from_pb)

    def _plan_upsert_evidence(self, evidence: Sequence[EvidenceIn | dict], tenant: str | None) -> _Call:
        rows = [evidence_input(e, f"evidence[{i}]") for i, e in enumerate(evidence)]
        req = dash_pb2.UpsertEvidenceRequest(tenant_id=self._tenant(tenant), evidence=rows)
        return _Call("UpsertEvidence", req, _ONCE, WriteResult.from_pb)

    def _plan_delete_claim(self, claim_id: str, tenant: str | None) -> _Call:
        req = dash_pb2.DeleteClaimRequest(tenant_id=self._tenant(tenant), claim_id=claim_id)
        return _Call("DeleteClaim", req, _ONCE, WriteResult.from_pb)

    def _plan_retrieve(
        self,
        *,
        query: str,
        top_k: int,
        embedding: Sequence[float] | None,
        mode: str,
        as_of: TimeLike | None,
        as_known_at: TimeLike | None,
        valid_window: tuple[TimeLike | None, TimeLike | None] | None,
        labels: Mapping[str, str] | None,
        entities: Sequence[str],
        explain: bool,
        include_history: bool,
        graph_depth: int,
        tenant: str | None,
        after: Sequence[WriteResult],
        read_preference: str,
        max_staleness_ms: int,
        weights: Mapping[str, float] | None,
        num_candidates: int,
    ) -> _Call:
        if mode not in MODES:
            raise InvalidArgument(f"mode: one of {sorted(MODES)}")
        req = dash_pb2.RetrieveRequest(
            tenant_id=self._tenant(tenant),
            query=query,
            top_k=top_k,
            stance_mode=MODES[mode],
            label_filter=dict(labels or {}),
            entity_filter=[entities] if isinstance(entities, str) else list(entities),
            explain=explain,
            include_history=include_history,
            read=read_options(after, read_preference, max_staleness_ms),
            num_candidates=num_candidates,
        )
        if graph_depth:
            req.graph.depth = graph_depth
        for name, value in (weights or {}).items():
            if name not in dash_pb2.RankingWeights.DESCRIPTOR.fields_by_name:
                raise InvalidArgument(f"weights.{name}: not a ranking weight")
            setattr(req.weights, name, float(value))
        if embedding is not None:
            req.query_embedding = pack_vector([float(x) for x in embedding])
        if as_of is not None:
            req.as_of.CopyFrom(to_timestamp("as_of", as_of))
        if as_known_at is not None:
            req.as_known_at.CopyFrom(to_timestamp("as_known_at", as_known_at))
        if valid_window is not None:
            start, end = valid_window
            req.valid_window.SetInParent()
            if start is not None:
                req.valid_window.start.CopyFrom(to_timestamp("valid_window.start", start))
            if end is not None:
                req.valid_window.end.CopyFrom(to_timestamp("valid_window.end", end))
        return _Call("Retrieve", req, _READ, RetrieveResult.from_pb)

    def _plan_get_claim(
        self,
        claim_id: str,
        tenant: str | None,
        after: Sequence[WriteResult],
        read_preference: str,
        max_staleness_ms: int,
    ) -> _Call:
        req = dash_pb2.GetClaimRequest(
            tenant_id=self._tenant(tenant),
            claim_id=claim_id,
            read=read_options(after, read_preference, max_staleness_ms),
        )
        return _Call("GetClaim", req, _READ, ClaimRecord.from_pb)


class DashClient(_Base):
    """A blocking client of the ``dash.v1.Dash`` service (a node or the router).

    ``DashClient(target, *, api_key="", tenant="default", config=None, sleep=time.sleep,
    random=random.random)``: pass ``config`` for every setting; ``target``, a non-empty ``api_key`` and a
    ``tenant`` other than ``"default"`` override the config's. ``sleep`` and ``random`` (returning a float in
    ``[0, 1)``) drive the retry backoff; tests inject them to make delays deterministic.
    """

    _new_channel = staticmethod(open_channel)
    _default_sleep = staticmethod(time.sleep)

    def _invoke(self, call: _Call) -> Any:
        rpc = getattr(self._stub, call.method)
        attempt = 1
        while True:
            try:
                answer = rpc(call.request, timeout=self.config.timeout, metadata=self._metadata)
            except grpc.RpcError as exc:
                delay = self._retry_delay(call, exc, attempt, self._random())
                if delay is None:
                    raise from_rpc_error(exc) from exc
                self._sleep(delay)
                attempt += 1
                continue
            return call.convert(answer)

    def ingest(
        self,
        claim: ClaimInputLike,
        *,
        tenant: str | None = None,
        wait_for_detection: bool = False,
        ack: str = "",
    ) -> WriteResult:
        """Upsert one claim with its evidence and edges. Never retried (see the module docstring).

        The answer comes once the claim is durable and visible; the edges the detector finds for it
        (contradicts, supersedes, ...) follow within a short lag. ``wait_for_detection=True`` answers
        only once they are in place (``WriteResult.detected`` says which happened). ``ack="replicated"``
        answers once a quorum of the shard's replicas hold the write durably (``"leader"``: the leader
        alone; default: the cluster's); ``WriteResult.ack`` says which level was met. Both hold for
        ``ingest_batch`` and ``ingest_document`` too."""
        return self._invoke(self._plan_ingest(claim, tenant, write_options(ack, wait_for_detection)))

    def ingest_batch(
        self,
        claims: Sequence[ClaimInputLike],
        *,
        commit_id: str = "",
        tenant: str | None = None,
        wait_for_detection: bool = False,
        ack: str = "",
    ) -> WriteResult:
        """Upsert many claims atomically. Without ``commit_id`` the batch gets ``content_commit_id(items)``,
        so sending the same claims again replays the first answer (``replayed=True``) and writes nothing;
        pass a fresh ``commit_id`` to write identical content again (e.g. after a delete). Same id with
        other content raises ``AlreadyExists``. Retried on ``UNAVAILABLE``."""
        return self._invoke(
            self._plan_ingest_batch(claims, commit_id, tenant, write_options(ack, wait_for_detection))
        )

    def ingest_document(
        self,
        doc_id: str,
        text: str,
        *,
        source_id: str = "",
        title: str = "",
        source_quality: float | None = None,
        labels: Mapping[str, str] | None = None,
        observed_at: TimeLike | None = None,
        tenant: str | None = None,
        wait_for_detection: bool = False,
        ack: str = "",
    ) -> WriteResult:
        """Split ``text`` into sentence claims whose citations are exact spans of it. ``source_id``
        defaults to ``doc_id``. Claim ids derive from the document, so it is retried on ``UNAVAILABLE``."""
        return self._invoke(self._plan_ingest_document(**_args(locals())))

    def upsert_evidence(
        self, evidence: Sequence[EvidenceIn | dict], *, tenant: str | None = None
    ) -> WriteResult:
        """Upsert evidence rows (by ``evidence_id``) of existing claims; each needs ``claim_id``."""
        return self._invoke(self._plan_upsert_evidence(evidence, tenant))

    def delete_claim(self, claim_id: str, *, tenant: str | None = None) -> WriteResult:
        """Delete a claim with its evidence and edges; every index drops it. Never retried."""
        return self._invoke(self._plan_delete_claim(claim_id, tenant))

    def retrieve(
        self,
        query: str = "",
        *,
        top_k: int = 10,
        embedding: Sequence[float] | None = None,
        mode: str = "balanced",
        as_of: TimeLike | None = None,
        as_known_at: TimeLike | None = None,
        valid_window: tuple[TimeLike | None, TimeLike | None] | None = None,
        labels: Mapping[str, str] | None = None,
        entities: Sequence[str] = (),
        explain: bool = False,
        include_history: bool = False,
        graph_depth: int = 0,
        tenant: str | None = None,
        after: Sequence[WriteResult] = (),
        read_preference: str = "",
        max_staleness_ms: int = 0,
        weights: Mapping[str, float] | None = None,
        num_candidates: int = 0,
    ) -> RetrieveResult:
        """Ranked claims with citations. ``mode`` is one of ``MODES``; ``as_of`` keeps claims valid at that
        instant, ``as_known_at`` answers from what the store knew then, ``valid_window=(start, end)`` keeps
        claims whose validity overlaps it (``None`` ends are open); every label must match and a claim must
        mention one of ``entities``. ``explain`` adds per-stage traces. By default only what holds now (or at
        ``as_of``) and is not superseded is returned; ``include_history`` returns the whole history.
        ``graph_depth`` adds claims linked to the results by contradiction/support/supersession edges
        (flagged ``from_expansion``). Replicas: ``after=[write_result, ...]`` reads your writes (only
        replicas holding them answer); ``read_preference`` is ``"leader"``, ``"follower"`` or ``"any"``
        (default: the cluster's) and ``max_staleness_ms`` bounds how stale a follower may be; a replica
        that cannot serve is passed over for the next (the same holds for ``get_claim``). ``weights``
        overrides the composite score's weights for this query (e.g. ``{"semantic": 1, "lexical": 0,
        ...}``), with the names of ``ScoreBreakdown``. ``num_candidates`` is how many candidates BM25 and
        the vector search each give the ranking on each shard (``top_k`` to 10,000; default max(50,
        2 x top_k)): more can find results the full score ranks higher, at more time."""
        return self._invoke(self._plan_retrieve(**_args(locals())))

    def get_claim(
        self,
        claim_id: str,
        *,
        tenant: str | None = None,
        after: Sequence[WriteResult] = (),
        read_preference: str = "",
        max_staleness_ms: int = 0,
    ) -> ClaimRecord:
        """One claim with all its evidence and edges; ``NotFound`` when it does not exist."""
        return self._invoke(self._plan_get_claim(claim_id, tenant, after, read_preference, max_staleness_ms))

    def close(self) -> None:
        """Close the channel; the client cannot be used afterwards."""
        self._channel.close()

    def __enter__(self) -> DashClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDashClient(_Base):
    """The ``grpc.aio`` twin of ``DashClient``: the same methods as coroutines, the same retry rules.

    Takes the same arguments; ``sleep`` (default ``asyncio.sleep``) is awaited between attempts. Create
    and use it inside one running event loop.
    """

    _new_channel = staticmethod(open_aio_channel)
    _default_sleep = staticmethod(asyncio.sleep)

    async def _invoke(self, call: _Call) -> Any:
        rpc = getattr(self._stub, call.method)
        attempt = 1
        while True:
            try:
                answer = await rpc(call.request, timeout=self.config.timeout, metadata=self._metadata)
            except grpc.RpcError as exc:
                delay = self._retry_delay(call, exc, attempt, self._random())
                if delay is None:
                    raise from_rpc_error(exc) from exc
                await self._sleep(delay)
                attempt += 1
                continue
            return call.convert(answer)

    async def ingest(
        self,
        claim: ClaimInputLike,
        *,
        tenant: str | None = None,
        wait_for_detection: bool = False,
        ack: str = "",
    ) -> WriteResult:
        """See ``DashClient.ingest``."""
        return await self._invoke(self._plan_ingest(claim, tenant, write_options(ack, wait_for_detection)))

    async def ingest_batch(
        self,
        claims: Sequence[ClaimInputLike],
        *,
        commit_id: str = "",
        tenant: str | None = None,
        wait_for_detection: bool = False,
        ack: str = "",
    ) -> WriteResult:
        """See ``DashClient.ingest_batch`` (a content-derived ``commit_id`` by default)."""
        return await self._invoke(
            self._plan_ingest_batch(claims, commit_id, tenant, write_options(ack, wait_for_detection))
        )

    async def ingest_document(
        self,
        doc_id: str,
        text: str,
        *,
        source_id: str = "",
        title: str = "",
        source_quality: float | None = None,
        labels: Mapping[str, str] | None = None,
        observed_at: TimeLike | None = None,
        tenant: str | None = None,
        wait_for_detection: bool = False,
        ack: str = "",
    ) -> WriteResult:
        """See ``DashClient.ingest_document``."""
        return await self._invoke(self._plan_ingest_document(**_args(locals())))

    async def upsert_evidence(
        self, evidence: Sequence[EvidenceIn | dict], *, tenant: str | None = None
    ) -> WriteResult:
        """See ``DashClient.upsert_evidence``."""
        return await self._invoke(self._plan_upsert_evidence(evidence, tenant))

    async def delete_claim(self, claim_id: str, *, tenant: str | None = None) -> WriteResult:
        """See ``DashClient.delete_claim``."""
        return await self._invoke(self._plan_delete_claim(claim_id, tenant))

    async def retrieve(
        self,
        query: str = "",
        *,
        top_k: int = 10,
        embedding: Sequence[float] | None = None,
        mode: str = "balanced",
        as_of: TimeLike | None = None,
        as_known_at: TimeLike | None = None,
        valid_window: tuple[TimeLike | None, TimeLike | None] | None = None,
        labels: Mapping[str, str] | None = None,
        entities: Sequence[str] = (),
        explain: bool = False,
        include_history: bool = False,
        graph_depth: int = 0,
        tenant: str | None = None,
        after: Sequence[WriteResult] = (),
        read_preference: str = "",
        max_staleness_ms: int = 0,
        weights: Mapping[str, float] | None = None,
        num_candidates: int = 0,
    ) -> RetrieveResult:
        """See ``DashClient.retrieve``."""
        return await self._invoke(self._plan_retrieve(**_args(locals())))

    async def get_claim(
        self,
        claim_id: str,
        *,
        tenant: str | None = None,
        after: Sequence[WriteResult] = (),
        read_preference: str = "",
        max_staleness_ms: int = 0,
    ) -> ClaimRecord:
        """See ``DashClient.get_claim``."""
        return await self._invoke(
            self._plan_get_claim(claim_id, tenant, after, read_preference, max_staleness_ms)
        )

    async def close(self) -> None:
        """Close the channel; the client cannot be used afterwards."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncDashClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = [
    "MODES",
    "AsyncDashClient",
    "ClientConfig",
    "DashClient",
    "DashError",
    "RetryPolicy",
    "content_commit_id",
]
