"""Tenant isolation of a real node, probed at random over gRPC.

Three tenants write claims that share vocabulary, entities, label values, doc_ids, evidence ids and
commit ids, plus marker words of their own; one document is ingested, byte for byte, by all three. Then
hundreds of seeded random probes (lexical, vector, hybrid, filtered, by id, stats, and writes aimed at
another tenant's claims) check that an answer only ever carries the asking tenant's own claims, evidence
and related claims, that errors never reveal another tenant, and that one tenant's writes do not move
another tenant's ranking.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import grpc
import numpy as np
import pytest
from conftest import NodeProcess, assert_citations_exact

from dash_client._pb.dash.v1 import dash_pb2, node_pb2, types_pb2
from dash_node.embedding import default_embedder
from dash_node.store import normalise_entity

SEED = 20_240_611
PROBES = 360
TENANTS = ("alpha", "bravo", "charlie")
MARKERS = {
    "alpha": ("zorblax", "quimbelt", "fradnix", "plovertine", "snazzik"),
    "bravo": ("wexlorn", "trindabo", "glumphet", "varnosk", "yindrel"),
    "charlie": ("kestrovan", "blenthorp", "drazzle", "mopquin", "huvelkin"),
}
WORDS = (
    "harbour",
    "bridge",
    "ferry",
    "budget",
    "quarterly",
    "revenue",
    "shipment",
    "warehouse",
    "river",
    "engine",
    "supplier",
    "contract",
    "delay",
    "storm",
    "inspection",
    "cargo",
    "pricing",
    "forecast",
    "audit",
    "pipeline",
)
ENTITIES = ("Acme Corp", "Rhine Valley", "Ada Lovelace", "Port Authority", "NASA")
TOPICS = ("logistics", "finance", "weather")
TEAMS = ("north", "south")
STANCES = (types_pb2.STANCE_SUPPORTS, types_pb2.STANCE_CONTRADICTS, types_pb2.STANCE_NEUTRAL)
SHARED_NOTICE = (
    "The Port Authority closed the harbour bridge for inspection. "
    "Acme Corp expects a delay in every cargo shipment this quarter.\n\n"
    "NASA forecast a storm over the Rhine Valley on Friday."
)
GHOSTS = ("alph", "ALPHA", "alphab", "bravo-x", "charlie\u200b")


@dataclass
class Truth:
    """What one tenant wrote, as the node reports it back after the writes."""

    claims: dict[str, types_pb2.Claim] = field(default_factory=dict)
    evidence: dict[tuple[str, str], types_pb2.Evidence] = field(default_factory=dict)  # (claim, ev id)
    edges: int = 0
    dangling: set[str] = field(default_factory=set)  # edge targets that are not this tenant's claims
    sources: dict[str, str] = field(default_factory=dict)  # doc_id -> exact source text
    doc_claims: set[str] = field(default_factory=set)
    vectors: dict[str, bytes] = field(default_factory=dict)


def _sentence(rng: random.Random, tenant: str) -> str:
    w = rng.sample(WORDS, 4)
    return (
        f"The {w[0]} {w[1]} report from {rng.choice(ENTITIES)} mentions {rng.choice(MARKERS[tenant])} "
        f"and the {w[2]} {w[3]}."
    )


def _document(rng: random.Random, tenant: str, sentences: int) -> str:
    paras = []
    for _ in range(2):
        paras.append(" ".join(_sentence(rng, tenant) for _ in range(sentences // 2)))
    return "\n\n".join(paras)


def _write_tenant(n: NodeProcess, tenant: str, rng: random.Random, ids: list[str], foreign: str) -> Truth:
    """Two documents (doc_ids shared with the other tenants, texts not), the shared notice (identical in
    every tenant) and 45 claims in three batches (commit ids shared with the other tenants)."""
    t = Truth()
    docs = {
        "handbook": _document(rng, tenant, 6),
        "field-notes": _document(rng, tenant, 6),
        "shared-notice": SHARED_NOTICE,
    }
    for doc_id, text in docs.items():
        resp = n.dash.IngestDocument(
            dash_pb2.IngestDocumentRequest(
                tenant_id=tenant,
                document=types_pb2.Document(
                    doc_id=doc_id, source_id="wiki", text=text, labels={"topic": rng.choice(TOPICS)}
                ),
            ),
            timeout=60,
        )
        assert len(resp.claim_ids) >= 3, (doc_id, resp)
        t.doc_claims |= set(resp.claim_ids)
        t.sources[doc_id] = text
    for b in range(3):
        items = []
        for i in range(b * 15, b * 15 + 15):
            cid = ids[i]
            text = _sentence(rng, tenant)
            t.sources[f"note-{i}"] = text
            evs = []
            for j, suffix in enumerate(("", "-b")[: rng.randint(1, 2)]):
                start = rng.randrange(0, len(text) - 10)
                end = rng.randrange(start + 1, len(text) + 1)
                evs.append(
                    types_pb2.Evidence(
                        evidence_id=f"ev-{i}{suffix}",  # the same evidence ids in every tenant
                        doc_id=f"note-{i}",  # the same doc ids in every tenant, other texts
                        source_id="notes",
                        span_start=start,
                        span_end=end,
                        quote=text[start:end],
                        stance=STANCES[(i + j) % 3],
                        source_quality=rng.choice((0.3, 0.6, 0.9)),
                    )
                )
            edges = []
            if i == 0:  # an edge naming another tenant's claim id: dangling here, and it must stay so
                edges.append(types_pb2.Edge(to_claim_id=foreign, relation=types_pb2.RELATION_CONTRADICTS))
                t.dangling.add(foreign)
            elif rng.random() < 0.6:
                rel = rng.choice((types_pb2.RELATION_SUPPORTS, types_pb2.RELATION_CONTRADICTS))
                edges.append(types_pb2.Edge(to_claim_id=ids[rng.randrange(i)], relation=rel, strength=0.7))
            t.edges += len(edges)
            ents = rng.sample(ENTITIES, rng.randint(0, 2))
            labels = {"topic": rng.choice(TOPICS), "team": rng.choice(TEAMS)}
            claim = types_pb2.Claim(claim_id=cid, text=text, entities=ents, labels=labels)
            items.append(types_pb2.ClaimInput(claim=claim, evidence=evs, edges=edges))
        resp = n.dash.IngestBatch(
            dash_pb2.IngestBatchRequest(tenant_id=tenant, items=items, commit_id=f"commit-{b}"), timeout=60
        )
        assert not resp.replayed, "a commit id of another tenant was replayed"
        assert list(resp.claim_ids) == [it.claim.claim_id for it in items]
    for cid in [*ids, *sorted(t.doc_claims)]:
        got = n.dash.GetClaim(dash_pb2.GetClaimRequest(tenant_id=tenant, claim_id=cid), timeout=30)
        assert got.claim.tenant_id == tenant
        t.claims[cid] = got.claim
        for ev in got.evidence:
            t.evidence[(cid, ev.evidence_id)] = ev
    return t


# ---- checks ----------------------------------------------------------------------------------------


def _foreign_secrets(truths: dict[str, Truth], tenant: str) -> list[str]:
    out = []
    for other in TENANTS:
        if other != tenant:
            out += [other, *MARKERS[other]]
    return out


def _check_citation(t: Truth, cid: str, c: types_pb2.Citation) -> None:
    ev = t.evidence.get((cid, c.evidence_id))
    assert ev is not None, f"citation {c.evidence_id} is not evidence of {cid} in this tenant"
    assert (c.quote, c.doc_id, c.span_start, c.span_end, c.stance) == (
        ev.quote,
        ev.doc_id,
        ev.span_start,
        ev.span_end,
        ev.stance,
    )


SEEN: Counter[str] = Counter()  # what the probes actually exercised, so the test cannot pass vacuously


def _check_answer(truths: dict[str, Truth], tenant: str, resp: dash_pb2.RetrieveResponse) -> None:
    t = truths[tenant]
    SEEN["answers"] += 1
    secrets = [m for o in TENANTS if o != tenant for m in MARKERS[o]]
    for r in resp.results:
        cid = r.claim.claim_id
        assert r.claim.tenant_id == tenant, r.claim
        assert cid in t.claims, f"{cid} is not a claim of {tenant}"
        assert r.claim.text == t.claims[cid].text
        assert not r.claim.embedding
        SEEN["results"] += 1
        SEEN["doc_results"] += cid in t.doc_claims
        cites = list(r.citations) + list(r.contradicting_citations)
        for c in cites:
            _check_citation(t, cid, c)
        assert {c.evidence_id for c in cites} == {e for (k, e) in t.evidence if k == cid}
        texts = [r.claim.text, *(c.quote for c in cites)]
        for rel in list(r.contradicting) + list(r.supporting):
            if rel.claim_id in t.claims:
                assert rel.text == t.claims[rel.claim_id].text
                for c in rel.citations:
                    _check_citation(t, rel.claim_id, c)
            else:
                assert rel.claim_id in t.dangling, f"related claim {rel.claim_id} is not {tenant}'s"
                assert rel.text == "" and not rel.citations, "a dangling edge revealed another tenant"
                SEEN["dangling"] += 1
            SEEN["related"] += 1
            texts += [rel.text, *(c.quote for c in rel.citations)]
        for text in texts:
            low = text.lower()
            assert not any(m in low for m in secrets), f"{tenant} got another tenant's text: {text!r}"
    SEEN["exact_citations"] += assert_citations_exact(resp, t.sources)


def _stats(n: NodeProcess, tenant: str = "") -> tuple[int, int, int]:
    s = n.node.Stats(node_pb2.StatsRequest(tenant_id=tenant), timeout=30)
    return s.claims, s.evidence, s.edges


def _expected_stats(t: Truth) -> tuple[int, int, int]:
    return len(t.claims), len(t.evidence), t.edges


def _retrieve(n: NodeProcess, **kw) -> dash_pb2.RetrieveResponse:
    return n.dash.Retrieve(dash_pb2.RetrieveRequest(**kw), timeout=30)


def _fingerprint(resp: dash_pb2.RetrieveResponse) -> list[bytes]:
    return [r.SerializeToString(deterministic=True) for r in resp.results]


def _refused(fn, req, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.RpcError) as info:
        fn(req, timeout=30)
    assert info.value.code() == code, (info.value.code(), info.value.details())
    return info.value.details() or ""


# ---- the test ----------------------------------------------------------------------------------------


def test_tenants_never_see_each_other(node: NodeProcess) -> None:
    n = node
    rng = random.Random(SEED)
    all_ids: dict[str, list[str]] = {}
    taken: set[str] = set()
    for tenant in TENANTS:
        ids = []
        while len(ids) < 45:
            cid = f"c-{rng.getrandbits(40):010x}"
            if cid not in taken:
                taken.add(cid)
                ids.append(cid)
        all_ids[tenant] = ids

    truths: dict[str, Truth] = {}
    # alpha first; its answers to a fixed set of queries must not move when the others write.
    truths["alpha"] = _write_tenant(n, "alpha", rng, all_ids["alpha"], all_ids["bravo"][0])
    fixed_queries = [" ".join(rng.sample(WORDS, 3)) for _ in range(8)] + ["Acme Corp shipment", "zorblax"]
    before = [_fingerprint(_retrieve(n, tenant_id="alpha", query=q, top_k=20)) for q in fixed_queries]
    truths["bravo"] = _write_tenant(n, "bravo", rng, all_ids["bravo"], all_ids["charlie"][0])
    truths["charlie"] = _write_tenant(n, "charlie", rng, all_ids["charlie"], all_ids["alpha"][0])
    after = [_fingerprint(_retrieve(n, tenant_id="alpha", query=q, top_k=20)) for q in fixed_queries]
    assert after == before, "other tenants' writes changed alpha's answers"

    for tenant, t in truths.items():
        assert len(t.claims) >= 55, (tenant, len(t.claims))
        assert _stats(n, tenant) == _expected_stats(t)
        # The identical shared document landed in every tenant, as that tenant's own claims.
        assert any(ev.doc_id == "shared-notice" for ev in t.evidence.values())
    assert _stats(n) == tuple(
        sum(x) for x in zip(*(_expected_stats(t) for t in truths.values()), strict=True)
    )
    for a in TENANTS:
        for b in TENANTS:
            if a < b:
                assert not set(truths[a].claims) & set(truths[b].claims), (a, b)

    embedder = default_embedder()
    for t in truths.values():
        cids = sorted(t.claims)
        mat = embedder.embed([t.claims[c].text for c in cids])
        t.vectors = {c: np.asarray(v, dtype="<f4").tobytes() for c, v in zip(cids, mat, strict=True)}

    kinds: Counter[str] = Counter()
    SEEN.clear()
    stats_before = _stats(n)
    for _ in range(PROBES):
        tenant = rng.choice(TENANTS)
        t = truths[tenant]
        others = [o for o in TENANTS if o != tenant]
        other = rng.choice(others)
        kind = rng.choices(
            [
                "shared",
                "foreign_marker",
                "own_marker",
                "vector_foreign",
                "vector_own",
                "hybrid_foreign",
                "get_foreign",
                "get_own",
                "stats",
                "write_foreign",
                "ghost",
            ],
            weights=[20, 12, 6, 10, 5, 6, 10, 4, 4, 5, 3],
        )[0]
        kinds[kind] += 1
        top_k = rng.choice((0, 1, 3, 10, 50, 200))
        if kind == "shared":
            req = dict(
                tenant_id=tenant,
                query=" ".join(
                    rng.sample(WORDS, rng.randint(1, 4)) + rng.sample(ENTITIES, rng.randint(0, 1))
                ),
                top_k=top_k,
                stance_mode=rng.randrange(4),
                graph=dash_pb2.GraphOptions(depth=rng.randrange(4), max_degree=rng.randrange(0, 20)),
                explain=rng.random() < 0.3,
            )
            labels = {}
            if rng.random() < 0.4:
                labels["topic"] = rng.choice(TOPICS)
            if rng.random() < 0.2:
                labels["team"] = rng.choice(TEAMS)
            if rng.random() < 0.15:
                labels["doc_id"] = rng.choice(("handbook", "field-notes", "shared-notice"))
            entities = rng.sample(ENTITIES, rng.randint(0, 2)) if rng.random() < 0.4 else []
            resp = _retrieve(n, label_filter=labels, entity_filter=entities, **req)
            _check_answer(truths, tenant, resp)
            assert len([r for r in resp.results if not r.from_expansion]) <= (top_k or 10)
            for r in resp.results:
                assert all(r.claim.labels.get(k) == v for k, v in labels.items())
                if entities:
                    have = {normalise_entity(e) for e in r.claim.entities}
                    assert have & {normalise_entity(e) for e in entities}
        elif kind == "foreign_marker":
            markers = rng.sample([m for o in others for m in MARKERS[o]], rng.randint(1, 3))
            resp = _retrieve(n, tenant_id=tenant, query=" ".join(markers), top_k=top_k or 50)
            _check_answer(truths, tenant, resp)
            for r in resp.results:
                assert r.breakdown.lexical == 0.0, "another tenant's marker matched lexically"
                assert not any(m in r.claim.text for m in markers)
        elif kind == "own_marker":
            marker = rng.choice(MARKERS[tenant])
            resp = _retrieve(n, tenant_id=tenant, query=marker, top_k=1000)
            _check_answer(truths, tenant, resp)
            lexical = {r.claim.claim_id for r in resp.results if r.breakdown.lexical > 0}
            assert lexical == {c for c, claim in t.claims.items() if marker in claim.text.split()}, marker
        elif kind in ("vector_foreign", "hybrid_foreign"):
            src = rng.choice(sorted(truths[other].claims))
            req = dict(tenant_id=tenant, query_embedding=truths[other].vectors[src], top_k=top_k)
            if kind == "hybrid_foreign":
                req["query"] = truths[other].claims[src].text
            resp = _retrieve(n, **req)
            _check_answer(truths, tenant, resp)
            assert src not in {r.claim.claim_id for r in resp.results} or src in t.claims
        elif kind == "vector_own":
            src = rng.choice(sorted(t.claims))
            resp = _retrieve(n, tenant_id=tenant, query_embedding=t.vectors[src], top_k=10)
            _check_answer(truths, tenant, resp)
            assert src in {r.claim.claim_id for r in resp.results}, (
                "the vector path lost a claim's own vector"
            )
        elif kind == "get_foreign":
            src = rng.choice(sorted(truths[other].claims))
            req = dash_pb2.GetClaimRequest(tenant_id=tenant, claim_id=src)
            details = _refused(n.dash.GetClaim, req, grpc.StatusCode.NOT_FOUND)
            for secret in [*_foreign_secrets(truths, tenant), truths[other].claims[src].text]:
                assert secret not in details, details
        elif kind == "get_own":
            src = rng.choice(sorted(t.claims))
            got = n.dash.GetClaim(dash_pb2.GetClaimRequest(tenant_id=tenant, claim_id=src), timeout=30)
            assert got.claim.tenant_id == tenant and got.claim.text == t.claims[src].text
            assert {(src, e.evidence_id) for e in got.evidence} == {k for k in t.evidence if k[0] == src}
            for e in got.edges_in:
                assert e.from_claim_id in t.claims, "an edge of another tenant reached this claim"
        elif kind == "stats":
            assert _stats(n, tenant) == _expected_stats(t)
        elif kind == "write_foreign":
            # Not an id this tenant's edges point at: deleting its own claim of that id would drop them.
            src = rng.choice(sorted(set(truths[other].claims) - t.dangling))
            secrets = [*_foreign_secrets(truths, tenant), truths[other].claims[src].text]
            d1 = _refused(
                n.dash.DeleteClaim,
                dash_pb2.DeleteClaimRequest(tenant_id=tenant, claim_id=src),
                grpc.StatusCode.NOT_FOUND,
            )
            ev = types_pb2.Evidence(evidence_id="probe-ev", claim_id=src, quote="x", span_end=1)
            d2 = _refused(
                n.dash.UpsertEvidence,
                dash_pb2.UpsertEvidenceRequest(tenant_id=tenant, evidence=[ev]),
                grpc.StatusCode.NOT_FOUND,
            )
            for details in (d1, d2):
                assert not any(s in details for s in secrets), details
            # Ids are scoped by tenant: writing the other tenant's id makes a claim of this tenant's
            # own, which the owner never sees, and deleting it leaves the owner's claim untouched.
            item = types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=src, text="hijack attempt"))
            wait = dash_pb2.WriteOptions(wait_for_detection=True)
            n.dash.Ingest(dash_pb2.IngestRequest(tenant_id=tenant, item=item, write=wait), timeout=30)
            mine = n.dash.GetClaim(dash_pb2.GetClaimRequest(tenant_id=tenant, claim_id=src), timeout=30)
            assert mine.claim.text == "hijack attempt" and not mine.evidence
            n.dash.DeleteClaim(dash_pb2.DeleteClaimRequest(tenant_id=tenant, claim_id=src), timeout=30)
            theirs = n.dash.GetClaim(dash_pb2.GetClaimRequest(tenant_id=other, claim_id=src), timeout=30)
            assert theirs.claim.text == truths[other].claims[src].text
            assert {e.evidence_id for e in theirs.evidence} == {
                ev for c, ev in truths[other].evidence if c == src
            }
            assert _stats(n) == stats_before
        elif kind == "ghost":
            ghost = rng.choice(GHOSTS)
            resp = _retrieve(n, tenant_id=ghost, query=" ".join(rng.sample(WORDS, 2)), top_k=50)
            assert not resp.results, f"tenant {ghost!r} saw data"
            assert _stats(n, ghost) == (0, 0, 0)
            src = rng.choice(sorted(truths[rng.choice(TENANTS)].claims))
            _refused(
                n.dash.GetClaim,
                dash_pb2.GetClaimRequest(tenant_id=ghost, claim_id=src),
                grpc.StatusCode.NOT_FOUND,
            )
    assert sum(kinds.values()) == PROBES and len(kinds) == 11, kinds
    assert SEEN["answers"] >= 200 and SEEN["results"] >= 2000, SEEN
    assert SEEN["doc_results"] >= 100 and SEEN["exact_citations"] >= 1000, SEEN
    assert SEEN["related"] >= 100 and SEEN["dangling"] >= 1, SEEN

    # Nothing above wrote anything, and every tenant still has exactly its own data.
    assert _stats(n) == stats_before
    for tenant, t in truths.items():
        assert _stats(n, tenant) == _expected_stats(t)
        for cid in rng.sample(sorted(t.claims), 10):
            got = n.dash.GetClaim(dash_pb2.GetClaimRequest(tenant_id=tenant, claim_id=cid), timeout=30)
            assert got.claim.text == t.claims[cid].text
