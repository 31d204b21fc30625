"""The typed SDK (``DashClient``, ``AsyncDashClient``) against a real node process, and the embedded
client (``EmbeddedDashClient``) on the same tests."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dash_client.client import AsyncDashClient, ClientConfig, DashClient, RetryPolicy
from dash_client.embedded import AsyncEmbeddedDashClient, EmbeddedDashClient
from dash_client.errors import (
    AlreadyExists,
    DashError,
    InvalidArgument,
    NotFound,
    Unavailable,
)
from dash_client.types import (
    ClaimIn,
    ClaimRecord,
    EdgeIn,
    EvidenceIn,
    RetrievedClaim,
    RetrieveResult,
    WriteResult,
)

DOC = (
    "The Rhine rises in the Swiss Alps and flows into the North Sea.\n\n"
    "Its length is about 1,230 kilometres. Dr. Ada Byron mapped its delta in 1850!\n"
    "Cologne Cathedral stands beside the river — a Gothic landmark 🏰 finished in 1880."
)
LEN_START = DOC.index("Its length")
LEN_END = DOC.index(" Dr.")
CATHEDRAL = DOC.index("Cologne")

MASTER_OLD = ClaimIn(
    claim_id="master-1990",
    text="Jan Vos is the harbour master of Rotterdam.",
    subject="Rotterdam harbour master",
    entities=("Jan Vos", "Rotterdam"),
    valid_from=datetime(1990, 1, 1),  # naive means UTC
    valid_to="2015-03-01T00:00:00Z",
    labels={"topic": "port"},
)
MASTER_NEW = ClaimIn(
    claim_id="master-2015",
    text="Anna de Wit is the harbour master of Rotterdam.",
    subject="Rotterdam harbour master",
    entities=("Anna de Wit", "Rotterdam"),
    valid_from=datetime(2015, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))),
    confidence=0.95,
    labels={"topic": "port"},
    edges=(EdgeIn("master-1990", "supersedes"),),
)


def rhine_length() -> ClaimIn:
    return ClaimIn(
        claim_id="rhine-length",
        text="The Rhine is about 1,230 km long.",
        subject="Rhine",
        entities=("Rhine",),
        confidence=0.9,
        valid_from="2000-01-01T00:00:00Z",
        labels={"topic": "rivers"},
        evidence=(
            EvidenceIn(
                "ev-len",
                quote=DOC[LEN_START:LEN_END],
                span_start=LEN_START,
                span_end=LEN_END,
                doc_id="rhine-doc",
                source_id="atlas",
                source_quality=0.8,
            ),
        ),
    )


RHINE_SHORT = {
    "claim_id": "rhine-short",
    "text": "The Rhine is only 300 km long.",
    "subject": "Rhine",
    "labels": {"topic": "rivers"},
    "edges": [{"to_claim_id": "rhine-length", "relation": "contradicts", "strength": 0.9}],
}


@pytest.fixture(params=["served", "embedded"])
def dash(request, tmp_path):
    """Each test runs against a node process over gRPC and against an engine in this process
    (``EmbeddedDashClient``): the same answers and the same errors."""
    if request.param == "served":
        client = DashClient(request.getfixturevalue("node").address, tenant="geo")
    else:
        client = EmbeddedDashClient(tmp_path / "embedded", tenant="geo")
    with client:
        yield client


def cited_sources_exact(res: RetrieveResult, sources: dict[str, str]) -> int:
    checked = 0
    for r in res.results:
        cites = r.citations + r.contradicting_citations + [c for rc in r.contradicting for c in rc.citations]
        for c in cites:
            assert c.span_end - c.span_start == len(c.quote)
            if c.doc_id in sources:
                assert sources[c.doc_id][c.span_start : c.span_end] == c.quote
                checked += 1
    return checked


def test_ingest_and_get_claim_are_typed(dash: DashClient) -> None:
    w = dash.ingest(rhine_length())
    assert isinstance(w, WriteResult)
    assert w.claim_ids == ["rhine-length"] and w.lsn >= 1 and w.ack == "leader" and not w.replayed
    assert w.evidence_count == 1

    rec = dash.get_claim("rhine-length")
    assert isinstance(rec, ClaimRecord)
    c = rec.claim
    assert (c.claim_id, c.tenant_id, c.subject, c.entities) == ("rhine-length", "geo", "Rhine", ["Rhine"])
    assert c.valid_from == datetime(2000, 1, 1, tzinfo=UTC) and c.valid_to is None
    assert c.confidence == pytest.approx(0.9)
    assert c.recorded_at is not None and c.recorded_at.tzinfo is not None
    assert c.labels == {"topic": "rivers"}
    (ev,) = rec.evidence
    assert (ev.evidence_id, ev.claim_id, ev.stance) == ("ev-len", "rhine-length", "supports")
    assert DOC[ev.span_start : ev.span_end] == ev.quote
    assert ev.source_quality == pytest.approx(0.8) and ev.observed_at is None  # unknown unless given


def test_ingest_batch_replays_and_refuses_reused_commit_id(dash: DashClient) -> None:
    first = dash.ingest_batch([rhine_length(), RHINE_SHORT])
    assert first.claim_ids == ["rhine-length", "rhine-short"] and not first.replayed
    assert first.commit_id.startswith("batch-")  # content-derived by default
    again = dash.ingest_batch([rhine_length(), RHINE_SHORT])
    assert again.replayed and (again.lsn, again.commit_id) == (first.lsn, first.commit_id)

    explicit = dash.ingest_batch([RHINE_SHORT], commit_id="c-1")
    assert explicit.commit_id == "c-1" and not explicit.replayed
    with pytest.raises(AlreadyExists) as err:
        dash.ingest_batch([rhine_length()], commit_id="c-1")
    assert err.value.code == "ALREADY_EXISTS" and err.value.details.startswith("commit_id")

    rec = dash.get_claim("rhine-length")
    (edge,) = rec.edges_in
    assert (edge.from_claim_id, edge.relation, edge.origin) == ("rhine-short", "contradicts", "client")
    assert edge.strength == pytest.approx(0.9)


def test_ingest_document_citations_are_exact_and_reingest_is_idempotent(dash: DashClient) -> None:
    kw = {"title": "Rhine", "source_quality": 0.7, "labels": {"kind": "atlas"}}
    w = dash.ingest_document("rhine-doc", DOC, **kw)
    assert len(w.claim_ids) == 4
    assert dash.ingest_document("rhine-doc", DOC, **kw).claim_ids == w.claim_ids  # same ids: idempotent

    res = dash.retrieve("Cologne Cathedral Gothic landmark", top_k=3, labels={"doc_id": "rhine-doc"})
    top = res.results[0]
    assert isinstance(top, RetrievedClaim) and "Cologne Cathedral" in top.text
    (cite,) = top.citations
    assert (cite.doc_id, cite.source_id, cite.stance) == ("rhine-doc", "rhine-doc", "supports")
    assert cite.span_start == CATHEDRAL and DOC[cite.span_start : cite.span_end] == cite.quote  # code points
    assert cite.source_quality == pytest.approx(0.7)
    assert cited_sources_exact(res, {"rhine-doc": DOC}) >= 1
    assert top.labels["kind"] == "atlas" and top.dominant_stance == "supports"


def test_retrieve_as_of_modes_labels_and_explain(dash: DashClient) -> None:
    dash.ingest_batch([MASTER_OLD, MASTER_NEW, rhine_length(), RHINE_SHORT], wait_for_detection=True)
    q = "Who is the harbour master of Rotterdam?"

    def ids(res: RetrieveResult) -> list[str]:
        return [r.claim_id for r in res.results]

    then = dash.retrieve(q, top_k=5, as_of="2001-06-01")
    assert "master-1990" in ids(then) and "master-2015" not in ids(then)
    now = dash.retrieve(q, top_k=5, as_of=datetime(2020, 1, 1, tzinfo=UTC))
    assert ids(now)[0] == "master-2015" and "master-1990" not in ids(now)
    hit = now.results[0]
    assert hit.valid_from == datetime(2015, 3, 1, tzinfo=UTC) and hit.valid_to is None
    assert hit.confidence == pytest.approx(0.95)
    assert hit.breakdown.total == pytest.approx(hit.score, abs=1e-4)
    old = dash.get_claim("master-1990").claim
    assert old.valid_from == datetime(1990, 1, 1, tzinfo=UTC)
    assert old.valid_to == datetime(2015, 3, 1, tzinfo=UTC)
    window = dash.retrieve(q, top_k=5, valid_window=("1995-01-01", datetime(1996, 1, 1)))
    assert "master-1990" in ids(window) and "master-2015" not in ids(window)  # untimed claims stay

    rivers = dash.retrieve("How long is the Rhine?", top_k=5, labels={"topic": "rivers"}, explain=True)
    assert set(ids(rivers)) == {"rhine-length", "rhine-short"}
    length = next(r for r in rivers.results if r.claim_id == "rhine-length")
    assert [(rc.claim_id, rc.relation) for rc in length.contradicting] == [("rhine-short", "contradicts")]
    assert [s.stage for s in rivers.explain][:3] == ["prefilter", "bm25", "ann"]
    assert all(s.candidates >= 0 and s.millis >= 0 for s in rivers.explain)
    assert rivers.to_json()["results"][0]["claim_id"] == rivers.results[0].claim_id
    assert ids(dash.retrieve("harbour", entities=["anna de wit"])) == ["master-2015"]

    first = dash.retrieve(
        "How long is the Rhine?", top_k=5, labels={"topic": "rivers"}, mode="contradictions_first"
    )
    assert first.results[0].contradiction_risk > 0


def test_upsert_evidence_and_support_only_mode(dash: DashClient) -> None:
    dash.ingest(rhine_length())
    quote = "Rhine"
    w = dash.upsert_evidence(
        [
            EvidenceIn(
                "ev-doubt",
                claim_id="rhine-length",
                quote=quote,
                span_start=4,
                span_end=9,
                doc_id="rhine-doc",
                stance="contradicts",
                source_quality=1.0,
            ),
            {
                "evidence_id": "ev-doubt-2",
                "claim_id": "rhine-length",
                "quote": "The",
                "span_end": 3,
                "doc_id": "rhine-doc",
                "stance": "contradicts",
                "source_quality": 1.0,
            },
        ]
    )
    assert w.claim_ids == ["rhine-length"] and w.evidence_count == 2
    stances = {e.evidence_id: e.stance for e in dash.get_claim("rhine-length").evidence}
    assert stances == {"ev-len": "supports", "ev-doubt": "contradicts", "ev-doubt-2": "contradicts"}

    res = dash.retrieve("How long is the Rhine?", top_k=3)
    (r,) = res.results
    assert [c.evidence_id for c in r.contradicting_citations] == ["ev-doubt", "ev-doubt-2"]
    assert r.dominant_stance == "contradicts"
    only = dash.retrieve("How long is the Rhine?", top_k=3, mode="support_only")
    assert only.results == [] and only.dropped_by_stance == 1


def test_delete_claim_then_get_claim_is_not_found(dash: DashClient) -> None:
    dash.ingest(rhine_length())
    w = dash.delete_claim("rhine-length")
    assert w.claim_ids == ["rhine-length"]
    with pytest.raises(NotFound) as err:
        dash.get_claim("rhine-length")
    assert err.value.code == "NOT_FOUND" and err.value.details.startswith("claim_id")
    assert dash.retrieve("How long is the Rhine?").results == []


def test_errors_map_to_classes_naming_the_field(dash: DashClient) -> None:
    cases = [
        (lambda: dash.retrieve("x", top_k=5000), "top_k"),  # refused by the node
        (lambda: dash.ingest(replace(rhine_length(), text="")), "item.claim.text"),
        (
            lambda: dash.ingest({"claim_id": "a", "text": "t", "evidence": [{"stance": "maybe"}]}),
            "item.evidence[0].stance",
        ),  # refused by the SDK before sending
        (
            lambda: dash.ingest_batch([RHINE_SHORT, {"claim_id": "b", "text": "t", "confidence": "x"}]),
            "items[1].confidence",
        ),
        (lambda: dash.retrieve("x", as_of="yesterday"), "as_of"),
        (lambda: dash.retrieve("x", mode="loudest"), "mode"),
        (lambda: dash.upsert_evidence([]), "evidence"),
        (lambda: dash.upsert_evidence([{"evidence_id": "e", "claim_id": "a", "bogus": 1}]), "evidence[0]"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidArgument) as err:
            call()
        assert err.value.code == "INVALID_ARGUMENT"
        assert err.value.details.startswith(field), (field, err.value.details)
        assert isinstance(err.value, DashError)
    with DashClient(
        "127.0.0.1:1", config=ClientConfig(timeout=2, retry=RetryPolicy(max_attempts=2, initial_backoff=0))
    ) as dead:
        with pytest.raises(Unavailable) as err:
            dead.retrieve("x")
        assert err.value.code == "UNAVAILABLE" and err.value.details


def test_unknown_declared_tenant_is_not_found(node_factory) -> None:
    n = node_factory("declared", "--tenants", "acme")
    with DashClient(n.address, tenant="acme", api_key="k-1") as dash:
        dash.ingest(RHINE_SHORT | {"edges": []})
        assert dash.get_claim("rhine-short").claim.tenant_id == "acme"
        with pytest.raises(NotFound) as err:
            dash.retrieve("Rhine", tenant="globex")
        assert err.value.details.startswith("tenant_id")


@pytest.fixture(params=["served", "embedded"])
def open_async(request, tmp_path):
    """Opens an ``AsyncDashClient`` to a node process, or an ``AsyncEmbeddedDashClient``."""
    if request.param == "served":
        address = request.getfixturevalue("node").address
        return lambda: AsyncDashClient(address, tenant="geo")
    return lambda: AsyncEmbeddedDashClient(tmp_path / "embedded", tenant="geo")


def test_async_client_round_trip(open_async) -> None:
    async def main() -> None:
        async with open_async() as dash:
            w = await dash.ingest(rhine_length())
            assert w.claim_ids == ["rhine-length"]
            b1 = await dash.ingest_batch([RHINE_SHORT, MASTER_OLD])
            b2 = await dash.ingest_batch([RHINE_SHORT, MASTER_OLD])
            assert not b1.replayed and b2.replayed and b2.lsn == b1.lsn
            d = await dash.ingest_document("rhine-doc", DOC)
            assert len(d.claim_ids) == 4
            await dash.upsert_evidence(
                [EvidenceIn("ev-x", claim_id="rhine-short", quote="Rhine", span_start=4, span_end=9)]
            )
            rec = await dash.get_claim("rhine-short")
            assert [e.evidence_id for e in rec.evidence] == ["ev-x"]
            res = await dash.retrieve("How long is the Rhine?", top_k=5, as_of="2016-01-01")
            ids = [r.claim_id for r in res.results]
            assert "rhine-length" in ids and "master-1990" not in ids
            assert cited_sources_exact(res, {"rhine-doc": DOC}) >= 1
            await dash.delete_claim("rhine-short")
            with pytest.raises(NotFound):
                await dash.get_claim("rhine-short")
            with pytest.raises(InvalidArgument) as err:
                await dash.retrieve("x", top_k=5000)
            assert err.value.details.startswith("top_k")

    asyncio.run(main())


def test_per_query_weights_rank_by_the_chosen_components(dash: DashClient) -> None:
    """Dense-only weights order results by vector similarity alone; other components weigh nothing."""
    basis = [[1.0, 0.0, 0.0, 0.0], [0.8, 0.6, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    claims = [
        ClaimIn(
            claim_id=f"w{i}", text=f"Weighted claim {i} about tides.", embedding=v, confidence=0.1 * (i + 1)
        )
        for i, v in enumerate(basis)
    ]
    dash.ingest_batch(claims)
    dense = {n: 0.0 for n in ("lexical", "support", "contradiction_risk", "temporal", "source_quality")}
    res = dash.retrieve(
        "tides", embedding=[1.0, 0.0, 0.0, 0.0], top_k=4, weights={**dense, "semantic": 1, "confidence": 0}
    )
    assert [r.claim_id for r in res.results] == ["w0", "w1", "w2", "w3"]
    for r in res.results:
        assert r.breakdown.total == pytest.approx(r.breakdown.semantic, abs=1e-5)
        assert r.breakdown.lexical == r.breakdown.confidence == 0.0
    by_confidence = dash.retrieve(
        "tides", embedding=[1.0, 0.0, 0.0, 0.0], top_k=4, weights={**dense, "semantic": 0, "confidence": 1}
    )
    assert [r.claim_id for r in by_confidence.results] == ["w3", "w2", "w1", "w0"]
    with pytest.raises(InvalidArgument, match=r"weights\.novelty"):
        dash.retrieve("tides", weights={"novelty": 1})


def test_num_candidates_sets_how_deep_the_first_stages_look(dash: DashClient) -> None:
    """With the score on confidence alone, the most confident claim ranks first only if a first stage
    hands it to the ranking: it is last by similarity and shares no word with the query, so the default
    depth (50) misses it and a depth reaching all 61 claims finds it."""
    near = [
        ClaimIn(
            claim_id=f"n{i}",
            text=f"Sounding {i} of the harbour basin.",
            embedding=[1.0, 0.01 * i, 0.0, 0.0],
            confidence=0.1,
        )
        for i in range(60)
    ]
    far = ClaimIn(
        claim_id="far", text="A keeper's log entry.", embedding=[0.0, 0.0, 0.0, 1.0], confidence=1.0
    )
    dash.ingest_batch([*near, far])
    only_confidence = {
        "semantic": 0, "lexical": 0, "support": 0, "contradiction_risk": 0, "temporal": 0,
        "source_quality": 0, "confidence": 1,
    }  # fmt: skip
    ask = {"embedding": [1.0, 0.0, 0.0, 0.0], "top_k": 5, "weights": only_confidence}
    default = dash.retrieve("harbour basin sounding", **ask)
    assert len(default.results) == 5 and "far" not in [r.claim_id for r in default.results]
    deep = dash.retrieve("harbour basin sounding", num_candidates=100, **ask)
    assert deep.results[0].claim_id == "far"
    with pytest.raises(InvalidArgument, match=r"num_candidates: must be 0 or within \[top_k"):
        dash.retrieve("harbour basin sounding", num_candidates=4, **ask)
