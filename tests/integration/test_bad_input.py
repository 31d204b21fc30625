"""Malformed requests against a real node process, over gRPC.

Each row of ``CASES`` is one kind of bad request: the RPC, the request (or raw bytes for what protobuf
itself cannot build), the status code expected and a substring the details must contain (the field, as the
client wrote it). After every refusal the store must be exactly as before: same applied LSN and counts,
and no item of the refused request visible. Never INTERNAL or UNKNOWN.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from conftest import NodeProcess
from google.protobuf import timestamp_pb2

from dash_client._pb.dash.v1 import dash_pb2, node_pb2, types_pb2
from dash_node.errors import InvalidArgument
from dash_node.validation import check_id

T = "t1"  # the main tenant of the open node (its vector dimension is fixed by the node's embedder: 256)
V8 = "vec8"  # a tenant whose dimension was fixed at 8 by a client vector
OTHER = "zeta-private-co"  # owns OWNED; its name must never appear in another tenant's error details
OWNED = "owned-claim-1"
SEED = ("seed-a", "seed-b", "v8-seed")
FRESH = ("new-1", "new-2", "new-3", "m0", "doc-new")  # ids the refused requests would have created
DECLARED = ("acme", "globex")
INVALID, NOT_FOUND, EXISTS, EXHAUSTED = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
)


# ---- request builders ------------------------------------------------------------------------------


def vec(*xs: float) -> bytes:
    return struct.pack(f"<{len(xs)}f", *xs)


def ts(seconds: int = 1_700_000_000, nanos: int = 0) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def claim(cid: str = "new-1", text: str = "the harbour bridge opened in spring", **kw) -> types_pb2.Claim:
    return types_pb2.Claim(claim_id=cid, text=text, **kw)


def evidence(eid: str = "ev-1", quote: str = "harbour bridge", start: int = 4, **kw) -> types_pb2.Evidence:
    kw.setdefault("span_end", start + len(quote))
    return types_pb2.Evidence(evidence_id=eid, quote=quote, span_start=start, source_id="src", **kw)


def edge(to: str = "seed-a", relation: int = types_pb2.RELATION_SUPPORTS, **kw) -> types_pb2.Edge:
    return types_pb2.Edge(to_claim_id=to, relation=relation, **kw)


def item(cid: str = "new-1", ev=(), edges=(), **claim_kw) -> types_pb2.ClaimInput:
    return types_pb2.ClaimInput(claim=claim(cid, **claim_kw), evidence=list(ev), edges=list(edges))


def ingest(it: types_pb2.ClaimInput | None = None, tenant: str = T, **kw) -> dash_pb2.IngestRequest:
    return dash_pb2.IngestRequest(tenant_id=tenant, item=it if it is not None else item(), **kw)


def batch(*items: types_pb2.ClaimInput, tenant: str = T, commit_id: str = "") -> dash_pb2.IngestBatchRequest:
    return dash_pb2.IngestBatchRequest(tenant_id=tenant, items=list(items), commit_id=commit_id)


def doc(tenant: str = T, **kw) -> dash_pb2.IngestDocumentRequest:
    kw.setdefault("doc_id", "doc-new")
    kw.setdefault("text", "The ferry left at noon. It reached the island by dusk.")
    return dash_pb2.IngestDocumentRequest(tenant_id=tenant, document=types_pb2.Document(**kw))


def upsert_ev(*evs: types_pb2.Evidence, tenant: str = T) -> dash_pb2.UpsertEvidenceRequest:
    return dash_pb2.UpsertEvidenceRequest(tenant_id=tenant, evidence=list(evs))


def retrieve(tenant: str = T, **kw) -> dash_pb2.RetrieveRequest:
    kw.setdefault("query", "harbour bridge")
    return dash_pb2.RetrieveRequest(tenant_id=tenant, **kw)


def get(cid: str, tenant: str = T) -> dash_pb2.GetClaimRequest:
    return dash_pb2.GetClaimRequest(tenant_id=tenant, claim_id=cid)


def delete(cid: str, tenant: str = T) -> dash_pb2.DeleteClaimRequest:
    return dash_pb2.DeleteClaimRequest(tenant_id=tenant, claim_id=cid)


def bad_utf8(msg, placeholder: bytes) -> bytes:
    """Serialize ``msg`` and overwrite the (same-length) placeholder with invalid UTF-8."""
    raw = msg.SerializeToString()
    assert raw.count(placeholder) == 1 and len(placeholder) == 2
    return raw.replace(placeholder, b"\xff\xfe")


def many_items(n: int) -> list[types_pb2.ClaimInput]:
    return [types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=f"m{i}", text="x")) for i in range(n)]


def conf(value: float) -> types_pb2.ClaimInput:
    return item(confidence=value)


# ---- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    rpc: str
    build: Callable[[], object]  # a request message, or raw bytes sent as they are
    code: grpc.StatusCode
    detail: str  # substring the status details must contain
    node: str = "open"  # or "declared" (started with --tenants acme,globex)
    forbid: tuple[str, ...] = field(default=(OTHER,))  # substrings the details must not contain


NAN, INF = math.nan, math.inf

CASES = [
    # -- tenant ids
    Case("empty tenant", "Ingest", lambda: ingest(tenant=""), INVALID, "tenant_id"),
    Case("tenant with NUL", "Ingest", lambda: ingest(tenant="t\x001"), INVALID, "tenant_id"),
    Case(
        "tenant with control char", "IngestBatch", lambda: batch(item(), tenant="t\x07"), INVALID, "tenant_id"
    ),
    Case("tenant with newline", "Retrieve", lambda: retrieve(tenant="t1\n"), INVALID, "tenant_id"),
    Case("tenant too long", "Ingest", lambda: ingest(tenant="t" * 129), INVALID, "tenant_id"),
    Case("tenant with trailing space", "GetClaim", lambda: get("seed-a", tenant="t1 "), INVALID, "tenant_id"),
    # -- claim ids and text
    Case("missing claim", "Ingest", lambda: ingest(types_pb2.ClaimInput()), INVALID, "item.claim"),
    Case("empty claim_id", "Ingest", lambda: ingest(item("")), INVALID, "item.claim.claim_id"),
    Case("claim_id leading space", "Ingest", lambda: ingest(item(" new-1")), INVALID, "item.claim.claim_id"),
    Case("claim_id with tab", "Ingest", lambda: ingest(item("new\t1")), INVALID, "item.claim.claim_id"),
    Case("claim_id too long", "Ingest", lambda: ingest(item("c" * 257)), INVALID, "item.claim.claim_id"),
    Case("empty text", "Ingest", lambda: ingest(item(text="")), INVALID, "item.claim.text"),
    Case("blank text", "Ingest", lambda: ingest(item(text=" \n\t ")), INVALID, "item.claim.text"),
    Case("text too long", "Ingest", lambda: ingest(item(text="w" * 32_769)), INVALID, "item.claim.text"),
    Case("subject too long", "Ingest", lambda: ingest(item(subject="s" * 32_769)), INVALID, "claim.subject"),
    Case("empty entity", "Ingest", lambda: ingest(item(entities=["Berlin", " "])), INVALID, "entities[1]"),
    Case("label value NUL", "Ingest", lambda: ingest(item(labels={"k": "a\x00b"})), INVALID, "labels[k]"),
    Case("label key empty", "Ingest", lambda: ingest(item(labels={"": "v"})), INVALID, "labels key"),
    # -- confidence
    Case("confidence 1.5", "IngestBatch", lambda: batch(conf(1.5)), INVALID, "items[0].claim.confidence"),
    Case("confidence -0.1", "IngestBatch", lambda: batch(conf(-0.1)), INVALID, "items[0].claim.confidence"),
    Case("confidence NaN", "IngestBatch", lambda: batch(conf(NAN)), INVALID, "items[0].claim.confidence"),
    Case("confidence inf", "Ingest", lambda: ingest(conf(INF)), INVALID, "item.claim.confidence"),
    # -- embeddings
    Case("embedding 7 bytes", "Ingest", lambda: ingest(item(embedding=b"\x00" * 7)), INVALID, "embedding"),
    Case(
        "embedding NaN",
        "Ingest",
        lambda: ingest(item(embedding=vec(1, NAN))),
        INVALID,
        "item.claim.embedding",
    ),
    Case(
        "embedding inf",
        "Ingest",
        lambda: ingest(item(embedding=vec(INF, 1))),
        INVALID,
        "item.claim.embedding",
    ),
    Case("embedding -inf", "IngestBatch", lambda: batch(item(embedding=vec(1, -INF))), INVALID, "embedding"),
    Case(
        "zero vector", "Ingest", lambda: ingest(item(embedding=vec(0, 0, 0))), INVALID, "item.claim.embedding"
    ),
    Case(
        "dimension > 4096", "Ingest", lambda: ingest(item(embedding=vec(*[1] * 4097))), INVALID, "embedding"
    ),
    Case(
        "dim 8 vs tenant 256", "Ingest", lambda: ingest(item(embedding=vec(*[1] * 8))), INVALID, "embedding"
    ),
    Case(
        "dim 16 vs tenant 8",
        "Ingest",
        lambda: ingest(item(embedding=vec(*[1] * 16)), tenant=V8),
        INVALID,
        "claim.embedding",
    ),
    Case("node vector 256 vs tenant 8", "Ingest", lambda: ingest(item(), tenant=V8), INVALID, "embedding"),
    Case(
        "batch: item 1 dim differs",
        "IngestBatch",
        lambda: batch(
            item("new-1", embedding=vec(*[1] * 8)), item("new-2", embedding=vec(*[1] * 9)), tenant=V8
        ),
        INVALID,
        "items[1].claim.embedding",
    ),
    # -- time
    Case(
        "valid_from after valid_to",
        "Ingest",
        lambda: ingest(item(valid_from=ts(2000), valid_to=ts(1000))),
        INVALID,
        "item.claim.valid_from",
    ),
    Case(
        "valid_from nanos 1e9",
        "Ingest",
        lambda: ingest(item(valid_from=ts(nanos=1_000_000_000))),
        INVALID,
        "item.claim.valid_from",
    ),
    Case(
        "valid_to nanos -1",
        "Ingest",
        lambda: ingest(item(valid_to=ts(nanos=-1))),
        INVALID,
        "item.claim.valid_to",
    ),
    Case(
        "event_time year 10000",
        "Ingest",
        lambda: ingest(item(event_time=ts(253_402_300_800))),
        INVALID,
        "item.claim.event_time",
    ),
    Case(
        "observed_at before year 1",
        "Ingest",
        lambda: ingest(item(ev=[evidence(observed_at=ts(-62_135_596_801))])),
        INVALID,
        "item.evidence[0].observed_at",
    ),
    # -- evidence
    Case(
        "empty evidence_id",
        "Ingest",
        lambda: ingest(item(ev=[evidence("")])),
        INVALID,
        "item.evidence[0].evidence_id",
    ),
    Case(
        "span_start negative",
        "Ingest",
        lambda: ingest(item(ev=[evidence(start=-1, span_end=3, quote="")])),
        INVALID,
        "item.evidence[0].span_start",
    ),
    Case(
        "span reversed",
        "Ingest",
        lambda: ingest(item(ev=[evidence(start=9, span_end=4, quote="")])),
        INVALID,
        "item.evidence[0].span_end",
    ),
    Case(
        "span length != quote length",
        "Ingest",
        lambda: ingest(item(ev=[evidence(quote="abc", span_end=10)])),
        INVALID,
        "item.evidence[0].span_end",
    ),
    Case(
        "quote of astral chars, byte span",
        "Ingest",
        lambda: ingest(item(ev=[evidence(quote="\U0001f30a\U0001f30a", start=0, span_end=8)])),
        INVALID,
        "item.evidence[0].span_end",
    ),
    Case(
        "unknown Stance 99",
        "Ingest",
        lambda: ingest(item(ev=[evidence(stance=99)])),
        INVALID,
        "item.evidence[0].stance",
    ),
    Case(
        "source_quality 1.5",
        "Ingest",
        lambda: ingest(item(ev=[evidence(source_quality=1.5)])),
        INVALID,
        "item.evidence[0].source_quality",
    ),
    Case(
        "evidence of another claim",
        "Ingest",
        lambda: ingest(item(ev=[evidence(claim_id="seed-a")])),
        INVALID,
        "item.evidence[0].claim_id",
    ),
    Case(
        "duplicate evidence ids in an item",
        "Ingest",
        lambda: ingest(item(ev=[evidence("ev-x"), evidence("ev-x")])),
        INVALID,
        "item.evidence[1].evidence_id",
    ),
    Case(
        "257 evidence rows",
        "Ingest",
        lambda: ingest(item(ev=[evidence(f"e{i}") for i in range(257)])),
        EXHAUSTED,
        "item.evidence",
    ),
    # -- edges
    Case(
        "unknown Relation 99",
        "Ingest",
        lambda: ingest(item(edges=[edge(relation=99)])),
        INVALID,
        "item.edges[0].relation",
    ),
    Case(
        "RELATION_UNSPECIFIED",
        "Ingest",
        lambda: ingest(item(edges=[edge(relation=0)])),
        INVALID,
        "item.edges[0].relation",
    ),
    Case(
        "edge strength 2.0",
        "Ingest",
        lambda: ingest(item(edges=[edge(strength=2.0)])),
        INVALID,
        "item.edges[0].strength",
    ),
    Case(
        "edge strength -1",
        "Ingest",
        lambda: ingest(item(edges=[edge(strength=-1.0)])),
        INVALID,
        "item.edges[0].strength",
    ),
    Case(
        "edge strength NaN",
        "Ingest",
        lambda: ingest(item(edges=[edge(strength=NAN)])),
        INVALID,
        "item.edges[0].strength",
    ),
    Case(
        "edge to itself",
        "Ingest",
        lambda: ingest(item(edges=[edge(to="new-1")])),
        INVALID,
        "item.edges[0].to_claim_id",
    ),
    Case(
        "edge from another claim",
        "Ingest",
        lambda: ingest(item(edges=[edge(from_claim_id="seed-b")])),
        INVALID,
        "item.edges[0].from_claim_id",
    ),
    Case(
        "edge to nothing",
        "Ingest",
        lambda: ingest(item(edges=[edge(to="")])),
        INVALID,
        "item.edges[0].to_claim_id",
    ),
    Case(
        "unknown EdgeOrigin 7",
        "Ingest",
        lambda: ingest(item(edges=[edge(origin=7)])),
        INVALID,
        "item.edges[0].origin",
    ),
    Case(
        "unknown AckLevel 9",
        "Ingest",
        lambda: ingest(write=dash_pb2.WriteOptions(ack=9)),
        INVALID,
        "write.ack",
    ),
    # -- batches
    Case("empty batch", "IngestBatch", lambda: batch(), INVALID, "items"),
    Case("10,001 items", "IngestBatch", lambda: batch(*many_items(10_001)), EXHAUSTED, "items"),
    Case(
        "duplicate claim ids",
        "IngestBatch",
        lambda: batch(item("new-1"), item("new-2"), item("new-1")),
        INVALID,
        "items[2].claim.claim_id",
    ),
    Case(
        "duplicate evidence ids across items",
        "IngestBatch",
        lambda: batch(item("new-1", ev=[evidence("ev-d")]), item("new-2", ev=[evidence("ev-d")])),
        INVALID,
        "items[1].evidence[0].evidence_id",
    ),
    Case(
        "last item bad",
        "IngestBatch",
        lambda: batch(item("new-1"), item("new-2"), item("new-3", text="")),
        INVALID,
        "items[2].claim.text",
    ),
    Case("commit_id with NUL", "IngestBatch", lambda: batch(item(), commit_id="c\x00"), INVALID, "commit_id"),
    Case(
        "commit_id reused, other content",
        "IngestBatch",
        lambda: batch(item("new-1"), commit_id="commit-1"),
        EXISTS,
        "commit_id",
    ),
    # (Another tenant's claim id is not bad input: ids are scoped by tenant; see test_tenant_isolation.)
    # -- wire-level
    Case(
        "invalid UTF-8 claim_id",
        "Ingest",
        lambda: bad_utf8(ingest(item("@@")), b"@@"),
        INVALID,
        "item.claim.claim_id",
    ),
    Case(
        "invalid UTF-8 claim_id in a batch",
        "IngestBatch",
        lambda: bad_utf8(batch(item("new-1"), item("@@")), b"@@"),
        INVALID,
        "items.claim.claim_id",
    ),
    Case(
        "invalid UTF-8 tenant_id",
        "Retrieve",
        lambda: bad_utf8(retrieve(tenant="@@"), b"@@"),
        INVALID,
        "tenant_id",
    ),
    Case(
        "invalid UTF-8 evidence quote",
        "UpsertEvidence",
        lambda: bad_utf8(upsert_ev(evidence(claim_id="seed-a", quote="@@")), b"@@"),
        INVALID,
        "evidence.quote",
    ),
    Case("message > 16 MiB", "Ingest", lambda: ingest(item(text="y" * (17 << 20))), EXHAUSTED, "larger than"),
    # -- documents
    Case("document without doc_id", "IngestDocument", lambda: doc(doc_id=""), INVALID, "document.doc_id"),
    Case("document without text", "IngestDocument", lambda: doc(text="  "), INVALID, "document.text"),
    Case("document with no sentence", "IngestDocument", lambda: doc(text="!!"), INVALID, "document.text"),
    Case(
        "document source_quality 2",
        "IngestDocument",
        lambda: doc(source_quality=2.0),
        INVALID,
        "document.source_quality",
    ),
    Case(
        "document label NUL",
        "IngestDocument",
        lambda: doc(labels={"k": "\x00"}),
        INVALID,
        "document.labels[k]",
    ),
    # -- evidence upserts
    Case("no evidence", "UpsertEvidence", lambda: upsert_ev(), INVALID, "evidence"),
    Case(
        "evidence without claim_id",
        "UpsertEvidence",
        lambda: upsert_ev(evidence()),
        INVALID,
        "evidence[0].claim_id",
    ),
    Case(
        "evidence for a missing claim",
        "UpsertEvidence",
        lambda: upsert_ev(evidence(claim_id="nope")),
        NOT_FOUND,
        "evidence[0].claim_id",
    ),
    Case(
        "second evidence row for a missing claim",
        "UpsertEvidence",
        lambda: upsert_ev(evidence("ev-new-a", claim_id="seed-a"), evidence("ev-new-b", claim_id="nope")),
        NOT_FOUND,
        "evidence[1].claim_id",
    ),
    Case(
        "evidence for another tenant's claim",
        "UpsertEvidence",
        lambda: upsert_ev(evidence(claim_id=OWNED)),
        NOT_FOUND,
        "claim_id",
    ),
    # -- deletes and reads of what is not there
    Case("delete a missing claim", "DeleteClaim", lambda: delete("nope"), NOT_FOUND, "claim_id"),
    Case("delete another tenant's claim", "DeleteClaim", lambda: delete(OWNED), NOT_FOUND, "claim_id"),
    Case("delete with empty claim_id", "DeleteClaim", lambda: delete(""), INVALID, "claim_id"),
    Case("get a missing claim", "GetClaim", lambda: get("nope"), NOT_FOUND, "claim_id"),
    Case("get another tenant's claim", "GetClaim", lambda: get(OWNED), NOT_FOUND, "claim_id"),
    Case("get with claim_id NUL", "GetClaim", lambda: get("a\x00b"), INVALID, "claim_id"),
    # -- retrieval
    Case("no query, no embedding", "Retrieve", lambda: retrieve(query=""), INVALID, "query"),
    Case("blank query", "Retrieve", lambda: retrieve(query="   "), INVALID, "query"),
    Case("query too long", "Retrieve", lambda: retrieve(query="q" * 32_769), INVALID, "query"),
    Case(
        "negative weight",
        "Retrieve",
        lambda: retrieve(weights=dash_pb2.RankingWeights(lexical=-0.5)),
        INVALID,
        "weights.lexical",
    ),
    Case(
        "NaN weight",
        "Retrieve",
        lambda: retrieve(weights=dash_pb2.RankingWeights(semantic=float("nan"))),
        INVALID,
        "weights.semantic",
    ),
    Case("top_k -1", "Retrieve", lambda: retrieve(top_k=-1), INVALID, "top_k"),
    Case("top_k 5000", "Retrieve", lambda: retrieve(top_k=5000), INVALID, "top_k"),
    Case(
        "num_candidates under top_k",
        "Retrieve",
        lambda: retrieve(top_k=20, num_candidates=19),
        INVALID,
        "num_candidates",
    ),
    Case(
        "num_candidates under the default top_k",
        "Retrieve",
        lambda: retrieve(num_candidates=9),
        INVALID,
        "num_candidates",
    ),
    Case(
        "num_candidates 10001", "Retrieve", lambda: retrieve(num_candidates=10_001), INVALID, "num_candidates"
    ),
    Case("num_candidates -1", "Retrieve", lambda: retrieve(num_candidates=-1), INVALID, "num_candidates"),
    Case(
        "graph.depth 9",
        "Retrieve",
        lambda: retrieve(graph=dash_pb2.GraphOptions(depth=9)),
        INVALID,
        "graph.depth",
    ),
    Case(
        "graph.max_degree -1",
        "Retrieve",
        lambda: retrieve(graph=dash_pb2.GraphOptions(max_degree=-1)),
        INVALID,
        "graph.max_degree",
    ),
    Case("unknown stance_mode", "Retrieve", lambda: retrieve(stance_mode=42), INVALID, "stance_mode"),
    Case(
        "valid_window start after end",
        "Retrieve",
        lambda: retrieve(valid_window=types_pb2.TimeWindow(start=ts(2000), end=ts(1000))),
        INVALID,
        "valid_window.start",
    ),
    Case(
        "as_of nanos out of range",
        "Retrieve",
        lambda: retrieve(as_of=ts(nanos=2_000_000_000)),
        INVALID,
        "as_of",
    ),
    Case(
        "query_embedding 5 bytes",
        "Retrieve",
        lambda: retrieve(query_embedding=b"12345"),
        INVALID,
        "query_embedding",
    ),
    Case(
        "query_embedding NaN",
        "Retrieve",
        lambda: retrieve(query_embedding=vec(NAN, 1)),
        INVALID,
        "query_embedding",
    ),
    Case(
        "query_embedding zero",
        "Retrieve",
        lambda: retrieve(query="", query_embedding=vec(0, 0)),
        INVALID,
        "query_embedding",
    ),
    Case(
        "query_embedding dim 8 vs 256",
        "Retrieve",
        lambda: retrieve(query_embedding=vec(*[1] * 8)),
        INVALID,
        "query_embedding",
    ),
    Case(
        "entity_filter empty", "Retrieve", lambda: retrieve(entity_filter=[""]), INVALID, "entity_filter[0]"
    ),
    Case(
        "label_filter value NUL",
        "Retrieve",
        lambda: retrieve(label_filter={"k": "\x00"}),
        INVALID,
        "label_filter[k]",
    ),
    # -- declared tenants (node started with --tenants acme,globex)
    Case(
        "unknown tenant: Ingest",
        "Ingest",
        lambda: ingest(tenant="initech"),
        NOT_FOUND,
        "tenant_id",
        node="declared",
    ),
    Case(
        "unknown tenant: IngestBatch",
        "IngestBatch",
        lambda: batch(item(), tenant="initech"),
        NOT_FOUND,
        "tenant_id",
        node="declared",
    ),
    Case(
        "unknown tenant: IngestDocument",
        "IngestDocument",
        lambda: doc(tenant="initech"),
        NOT_FOUND,
        "tenant_id",
        node="declared",
    ),
    Case(
        "unknown tenant: UpsertEvidence",
        "UpsertEvidence",
        lambda: upsert_ev(evidence(claim_id="anvil-1"), tenant="initech"),
        NOT_FOUND,
        "tenant_id",
        node="declared",
    ),
    Case(
        "unknown tenant: DeleteClaim",
        "DeleteClaim",
        lambda: delete("anvil-1", tenant="initech"),
        NOT_FOUND,
        "tenant_id",
        node="declared",
    ),
    Case(
        "unknown tenant: Retrieve",
        "Retrieve",
        lambda: retrieve(tenant="initech"),
        NOT_FOUND,
        "tenant_id",
        node="declared",
    ),
    Case(
        "unknown tenant: GetClaim",
        "GetClaim",
        lambda: get("anvil-1", tenant="initech"),
        NOT_FOUND,
        "tenant_id",
        node="declared",
    ),
    Case(
        "declared tenant, other's claim",
        "GetClaim",
        lambda: get("anvil-1", tenant="globex"),
        NOT_FOUND,
        "claim_id",
        node="declared",
        forbid=("acme",),
    ),
    Case(
        "declared tenant, bad input still INVALID",
        "Ingest",
        lambda: ingest(conf(2.0), tenant="globex"),
        INVALID,
        "item.claim.confidence",
        node="declared",
    ),
]


# ---- nodes -----------------------------------------------------------------------------------------


def _seed_open(n: NodeProcess) -> None:
    d = n.dash
    d.Ingest(ingest(item("seed-a", text="The harbour bridge opened in spring.", ev=[evidence("seed-a-ev")])))
    d.IngestBatch(batch(item("seed-b", text="Ferries run hourly across the bay."), commit_id="commit-1"))
    d.Ingest(ingest(item("v8-seed", text="eight dimensional", embedding=vec(*range(1, 9))), tenant=V8))
    d.Ingest(ingest(item(OWNED, text="A secret of the other tenant."), tenant=OTHER))


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    root: Path = tmp_path_factory.mktemp("bad-input")
    started: dict[str, NodeProcess] = {}
    try:
        started["open"] = NodeProcess(root / "open", "--fsync", "off", "--allow-unsafe-durability").start()
        _seed_open(started["open"])
        started["declared"] = NodeProcess(root / "declared", "--tenants", ",".join(DECLARED)).start()
        started["declared"].dash.Ingest(ingest(item("anvil-1", text="Acme ships anvils."), tenant="acme"))
        yield started
    finally:
        for n in started.values():
            alive = n.proc is not None and n.proc.poll() is None
            n.stop()
            assert alive, "the node died during the bad-input run"


def _snapshot(n: NodeProcess, tenants: list[str]) -> dict[str, tuple[int, ...]]:
    out = {}
    for t in ["", *tenants]:
        s = n.node.Stats(node_pb2.StatsRequest(tenant_id=t), timeout=30)
        out[t] = (s.applied_lsn, s.claims, s.evidence, s.edges)
    return out


def _written_ids(req: object) -> tuple[str, list[str]]:
    """The tenant and the (well-formed) claim ids a write request would have created."""
    if isinstance(req, dash_pb2.IngestRequest):
        tenant, ids = req.tenant_id, [req.item.claim.claim_id]
    elif isinstance(req, dash_pb2.IngestBatchRequest):
        tenant, ids = req.tenant_id, [it.claim.claim_id for it in req.items]
    else:
        return "", []
    good = []
    for cid in ids:
        try:
            check_id("claim_id", cid, 256)
            check_id("tenant_id", tenant, 128)
        except InvalidArgument:
            continue
        if cid not in SEED and cid != OWNED:
            good.append(cid)
    return tenant, good[:50]


def _call(n: NodeProcess, rpc: str, req: object):
    if isinstance(req, bytes):  # sent as they are: no serializer on a raw-bytes stub
        method = n.channel.unary_unary(f"/dash.v1.Dash/{rpc}", request_serializer=None)
        return method(req, timeout=60)
    return getattr(n.dash, rpc)(req, timeout=60)


def test_table_is_broad_enough() -> None:
    assert len(CASES) >= 35
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_request_is_refused_and_changes_nothing(nodes: dict[str, NodeProcess], case: Case) -> None:
    n = nodes[case.node]
    watched = [T, V8, OTHER] if case.node == "open" else list(DECLARED)
    before = _snapshot(n, watched)
    req = case.build()

    with pytest.raises(grpc.RpcError) as info:
        _call(n, case.rpc, req)
    err = info.value
    assert err.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), err.details()
    assert err.code() == case.code, (err.code(), err.details())
    details = err.details() or ""
    assert case.detail in details, details
    for secret in case.forbid:
        assert secret not in details, f"details leak {secret!r}: {details}"

    assert _snapshot(n, watched) == before
    # No item of the refused request became visible (raw-bytes rows only use the FRESH ids).
    tenant, ids = _written_ids(req)
    probes = {(tenant, cid) for cid in ids}
    probes |= {(t, cid) for t in ((T, V8) if case.node == "open" else DECLARED) for cid in FRESH}
    for t, cid in sorted(probes):
        with pytest.raises(grpc.RpcError) as miss:
            n.dash.GetClaim(get(cid, tenant=t), timeout=30)
        assert miss.value.code() == NOT_FOUND, (t, cid, miss.value.details())
    # The seeded data is still whole.
    if case.node == "open":
        assert (
            n.dash.GetClaim(get(OWNED, tenant=OTHER), timeout=30).claim.text
            == "A secret of the other tenant."
        )
        assert [e.evidence_id for e in n.dash.GetClaim(get("seed-a"), timeout=30).evidence] == ["seed-a-ev"]
