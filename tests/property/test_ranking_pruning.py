"""Best-first ranking with early stopping returns exactly what scoring every candidate returns: same
claims, same order, same scores — over random evidence, confidence, validity, edges and weights. And one
shard's answer is its own merge, which is what lets the router pass it on unparsed."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dash_client._pb.dash.v1 import dash_pb2, types_pb2
from dash_node import Engine, EngineConfig
from dash_node.evidence.builder import EdgeBuilderConfig
from dash_node.evidence.judge import RuleJudge
from dash_router.crossshard import merge

WORDS = ("harbour", "crane", "ferry", "tide", "cargo", "storm", "pier", "dock", "quay", "freight")
DIM = 16


NAMES = ("semantic", "lexical", "support", "contradiction_risk", "temporal", "source_quality", "confidence")


def _engine(seed: int) -> Engine:
    rng = random.Random(seed)
    vrng = np.random.default_rng(seed)
    centres = vrng.normal(size=(4, DIM))
    engine = Engine(Path(tempfile.mkdtemp()) / "e", EngineConfig(evidence=EdgeBuilderConfig(enabled=False)))
    items = []
    for i in range(300):
        v = centres[i % 4] + 0.4 * vrng.normal(size=DIM)
        text = " ".join(rng.sample(WORDS, 3)) + f" report {i}"
        claim = types_pb2.Claim(claim_id=f"c{i}", text=text, embedding=v.astype("<f4").tobytes())
        if rng.random() < 0.5:
            claim.confidence = rng.random()
        if rng.random() < 0.3:
            claim.valid_from.FromSeconds(rng.randint(0, 1_700_000_000))
        evidence = [
            types_pb2.Evidence(
                evidence_id=f"c{i}-e{j}",
                quote=text[:5],
                span_end=5,
                source_quality=rng.random(),
                stance=rng.choice((types_pb2.STANCE_SUPPORTS, types_pb2.STANCE_CONTRADICTS)),
            )
            for j in range(rng.randint(0, 3))
        ]
        edges = [
            types_pb2.Edge(
                to_claim_id=f"c{rng.randrange(i)}",
                relation=rng.choice((types_pb2.RELATION_SUPPORTS, types_pb2.RELATION_CONTRADICTS)),
                strength=rng.random(),
            )
            for _ in range(rng.randint(0, 2) if i else 0)
        ]
        items.append(types_pb2.ClaimInput(claim=claim, evidence=evidence, edges=edges))
    for start in range(0, len(items), 100):
        engine.ingest_batch("t", items[start : start + 100])
    return engine


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    e = _engine(5)
    yield e
    e.close()


@settings(max_examples=60, deadline=None)
@given(
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    vector_seed=st.integers(0, 10_000),
    top_k=st.integers(1, 60),
    weights=st.lists(st.floats(0, 2), min_size=7, max_size=7),
    mode=st.sampled_from((dash_pb2.STANCE_MODE_BALANCED, dash_pb2.STANCE_MODE_CONTRADICTIONS_FIRST)),
    history=st.booleans(),
)
def test_pruned_ranking_equals_exhaustive(engine, query, vector_seed, top_k, weights, mode, history) -> None:
    q = np.random.default_rng(vector_seed).normal(size=DIM).astype("<f4")
    req = dash_pb2.RetrieveRequest(
        tenant_id="t",
        query=" ".join(query),
        query_embedding=q.tobytes(),
        top_k=top_k,
        stance_mode=mode,
        include_history=history,
        weights=dash_pb2.RankingWeights(**dict(zip(NAMES, weights, strict=True))),
    )
    engine.planner.prune = True
    pruned = engine.retrieve(req)
    engine.planner.prune = False
    try:
        full = engine.retrieve(req)
    finally:
        engine.planner.prune = True
    assert [(r.claim.claim_id, r.score) for r in pruned.results] == [
        (r.claim.claim_id, r.score) for r in full.results
    ]


@settings(max_examples=40, deadline=None)
@given(
    query=st.lists(st.sampled_from(WORDS), max_size=3),
    vector_seed=st.integers(0, 10_000),
    top_k=st.integers(0, 60),
    weights=st.lists(st.floats(0, 2), min_size=7, max_size=7),
    mode=st.sampled_from(
        (
            dash_pb2.STANCE_MODE_BALANCED,
            dash_pb2.STANCE_MODE_CONTRADICTIONS_FIRST,
            dash_pb2.STANCE_MODE_SUPPORT_ONLY,
        )
    ),
    depth=st.integers(0, 2),
    explain=st.booleans(),
)
def test_one_shards_answer_is_its_own_merge(
    engine, query, vector_seed, top_k, weights, mode, depth, explain
) -> None:
    q = np.random.default_rng(vector_seed).normal(size=DIM).astype("<f4")
    req = dash_pb2.RetrieveRequest(
        tenant_id="t",
        query=" ".join(query),
        query_embedding=q.tobytes(),
        top_k=top_k,
        stance_mode=mode,
        weights=dash_pb2.RankingWeights(**dict(zip(NAMES, weights, strict=True))),
        graph=dash_pb2.GraphOptions(depth=depth, max_degree=3),
        explain=explain,
    )
    answer = engine.retrieve(req)
    merged = merge([answer], req, RuleJudge())
    assert list(merged.results) == list(answer.results)
    assert list(merged.explain) == list(answer.explain)
    assert merged.dropped_by_stance == answer.dropped_by_stance
