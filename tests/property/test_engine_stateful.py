"""The shard engine against an in-memory oracle (the Chroma model).

A hypothesis state machine ingests, batches (with commit ids), upserts evidence, deletes, retrieves and
restarts the engine; after every step the engine's state and what retrieval can see must equal the
oracle's, and a restart must lose nothing that was acknowledged.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, precondition, rule

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.errors import AlreadyExists, NotFound
from dash_node.wal import WalConfig

TENANTS = ["acme", "globex", "initech"]
DIM = 8
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]


def vector_for(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=DIM).astype("<f4")
    return (v / np.linalg.norm(v)).astype("<f4").tobytes()


@dataclass
class OracleClaim:
    text: str
    embedding: bytes
    evidence: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # id -> (quote, start, end)


class EngineMachine(RuleBasedStateMachine):
    claim_ids = Bundle("claim_ids")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="dash-stateful-"))
        self.config = EngineConfig(wal=WalConfig(fsync="always"), checkpoint_every_changes=7)
        self.engine = Engine(self.dir, self.config)
        self.oracle: dict[tuple[str, str], OracleClaim] = {}
        self.commits: dict[tuple[str, str], tuple[bytes, dash_pb2.WriteResponse]] = {}
        self.seed = 0

    def teardown(self) -> None:
        self.engine.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _item(
        self, claim_id: str, words: list[str], n_evidence: int
    ) -> tuple[types_pb2.ClaimInput, OracleClaim]:
        self.seed += 1
        text = " ".join(words)
        emb = vector_for(self.seed)
        item = types_pb2.ClaimInput(claim=types_pb2.Claim(claim_id=claim_id, text=text, embedding=emb))
        oc = OracleClaim(text, emb)
        for j in range(n_evidence):
            quote = text[: j + 1]
            ev_id = f"{claim_id}-ev{j}"
            item.evidence.append(
                types_pb2.Evidence(evidence_id=ev_id, quote=quote, span_start=0, span_end=len(quote))
            )
            oc.evidence[ev_id] = (quote, 0, len(quote))
        return item, oc

    @rule(
        target=claim_ids,
        tenant=st.sampled_from(TENANTS),
        n=st.integers(0, 30),
        words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=5),
        n_evidence=st.integers(0, 2),
    )
    def ingest(self, tenant: str, n: int, words: list[str], n_evidence: int) -> str:
        claim_id = f"c{n}"
        item, oc = self._item(claim_id, words, n_evidence)
        # Ids are scoped by tenant: another tenant's claim of the same id is a different claim.
        resp = self.engine.ingest(tenant, item)
        assert list(resp.claim_ids) == [claim_id]
        old = self.oracle.get((tenant, claim_id))
        if old is not None:  # evidence is upserted by id: earlier rows stay
            oc.evidence = {**old.evidence, **oc.evidence}
        self.oracle[(tenant, claim_id)] = oc
        return claim_id

    @rule(
        tenant=st.sampled_from(TENANTS),
        ids=st.lists(st.integers(0, 30), min_size=1, max_size=6, unique=True),
        commit=st.integers(0, 3),
        replay=st.booleans(),
    )
    def batch(self, tenant: str, ids: list[int], commit: int, replay: bool) -> None:
        commit_id = f"commit-{commit}"
        key = (tenant, commit_id)
        if replay and key in self.commits:
            items, first = self.commits[key]
            resp = self.engine.ingest_batch(
                tenant, [types_pb2.ClaimInput.FromString(b) for b in items], commit_id
            )
            assert resp.replayed and list(resp.claim_ids) == list(first.claim_ids)
            return
        pairs = [self._item(f"c{n}", [WORDS[n % len(WORDS)], "batch"], 1) for n in ids]
        items = [p[0] for p in pairs]
        try:
            resp = self.engine.ingest_batch(tenant, items, commit_id)
        except AlreadyExists:
            assert key in self.commits  # the commit id was used for other content: nothing applied
            return
        assert key not in self.commits
        self.commits[key] = ([it.SerializeToString() for it in items], resp)
        for item, oc in pairs:
            cid = item.claim.claim_id
            old = self.oracle.get((tenant, cid))
            if old is not None:
                oc.evidence = {**old.evidence, **oc.evidence}
            self.oracle[(tenant, cid)] = oc

    @rule(tenant=st.sampled_from(TENANTS), claim_id=claim_ids, j=st.integers(0, 3))
    def upsert_evidence(self, tenant: str, claim_id: str, j: int) -> None:
        ev_id = f"{claim_id}-up{j}"
        ev = types_pb2.Evidence(evidence_id=ev_id, claim_id=claim_id, quote="x", span_start=3, span_end=4)
        oc = self.oracle.get((tenant, claim_id))
        if oc is None:
            try:
                self.engine.upsert_evidence(tenant, [ev])
                raise AssertionError("evidence for a missing claim was accepted")
            except NotFound:
                return
        self.engine.upsert_evidence(tenant, [ev])
        oc.evidence[ev_id] = ("x", 3, 4)

    @rule(tenant=st.sampled_from(TENANTS), claim_id=consumes(claim_ids))
    def delete(self, tenant: str, claim_id: str) -> None:
        if (tenant, claim_id) in self.oracle:
            self.engine.delete_claim(tenant, claim_id)
            del self.oracle[(tenant, claim_id)]
        else:
            try:
                self.engine.delete_claim(tenant, claim_id)
                raise AssertionError("deleting a missing claim succeeded")
            except NotFound:
                pass

    @rule()
    def restart(self) -> None:
        self.engine.close()
        self.engine = Engine(self.dir, self.config)

    @precondition(lambda self: self.oracle)
    @rule(data=st.data())
    def retrieve_own_vector(self, data) -> None:
        """A live claim's own vector finds it first (cosine 1) — the ANN and prefilter see every write."""
        (tenant, cid) = data.draw(st.sampled_from(sorted(self.oracle)))
        oc = self.oracle[(tenant, cid)]
        resp = self.engine.retrieve(
            dash_pb2.RetrieveRequest(tenant_id=tenant, query_embedding=oc.embedding, top_k=3)
        )
        assert resp.results and resp.results[0].claim.claim_id == cid
        assert abs(resp.results[0].breakdown.semantic - self.config.ranking.semantic) < 1e-3

    @invariant()
    def retrieval_sees_exactly_the_live_claims(self) -> None:
        for tenant in TENANTS:
            live = {cid for (t, cid) in self.oracle if t == tenant}
            resp = self.engine.retrieve(
                dash_pb2.RetrieveRequest(
                    tenant_id=tenant, query=" ".join(WORDS), query_embedding=vector_for(0), top_k=1000
                )
            )
            got = [r.claim.claim_id for r in resp.results]
            assert len(got) == len(set(got))
            # Every lexical word is in every claim's vocabulary, and ANN over-fetch covers small tenants.
            assert set(got) == live, (tenant, sorted(set(got) ^ live))
            for r in resp.results:
                oc = self.oracle[(tenant, r.claim.claim_id)]
                assert r.claim.text == oc.text
                assert {c.evidence_id for c in r.citations} == set(oc.evidence)
                for c in r.citations:
                    assert (c.quote, c.span_start, c.span_end) == oc.evidence[c.evidence_id]

    @invariant()
    def state_matches(self) -> None:
        for (tenant, cid), oc in self.oracle.items():
            got = self.engine.get_claim(tenant, cid)
            assert got.claim.text == oc.text
            assert {e.evidence_id for e in got.evidence} == set(oc.evidence)
        for tenant in TENANTS:
            n = sum(1 for (t, _) in self.oracle if t == tenant)
            assert self.engine.stats(tenant).claims == n


EngineMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngineStateful = EngineMachine.TestCase
