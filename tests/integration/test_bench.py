"""`dash bench` end to end on a tiny profile: every measurement runs against real processes and its
result is sound (below 10,000 vectors per tenant search is exact, so recall must be 1)."""

from __future__ import annotations

import json
import os

import grpc
import numpy as np
import pytest

from cluster.bench import floor, report
from cluster.bench.corpus import generate
from cluster.bench.measure import ndcg_at_10
from cluster.bench.run import CONCURRENCY, FLOOR_TURNS, PROFILES, Profile, run, with_layout

TINY = Profile(
    "tiny", 400, 20, nodes=2, shards=2, replicas=2, sample=100, requests=20, freshness_probes=10, jitter_s=1.0
)


def test_corpus_has_structure_and_graded_queries() -> None:
    a, b = generate(3000, 50, seed=3), generate(3000, 50, seed=3)
    assert a.texts == b.texts and [q.text for q in a.queries] == [q.text for q in b.queries]
    assert a.conflicts > 0 and a.successions > 0
    subjects = {c.claim.subject for c in a.claims}
    assert 400 < len(subjects) < 1500  # several claims per subject
    by_id = {c.claim.claim_id: c.claim for c in a.claims}
    for q in a.queries:
        assert 2 in q.relevance.values()
        assert len({by_id[cid].subject for cid in q.relevance}) == 1


def test_ndcg() -> None:
    rel = {"a": 2, "b": 1}
    assert ndcg_at_10(["a", "b"], rel) == pytest.approx(1.0)
    assert ndcg_at_10(["x", "y"], rel) == 0.0
    assert 0 < ndcg_at_10(["b", "a"], rel) < 1


def test_a_tiny_bench_run_measures_everything(tmp_path) -> None:
    result = run(TINY)
    ing = result["ingest"]
    assert ing["leader_client_vectors"]["claims"] == 400 and ing["leader_client_vectors"]["claims_per_s"] > 0
    assert ing["leader_node_embeds"]["claims"] == 100 and ing["replicated_client_vectors"]["claims"] == 100
    load = ing["leader_client_vectors"]
    assert load["background_s"] >= 0
    # what each background stage owed through the load, sampled from the replicas' Stats
    steady = load["sustained"]
    assert steady["timeline"] and steady["timeline"][-1]["acked"] == 400
    assert set(steady["owed_at_last_ack"]) == {"detection", "index", "features"}
    per_claim = load["cpu_ms_per_claim"]  # the acks and the background work after them, every process
    assert {"n1", "n2", "router"} <= set(per_claim) and per_claim["router"] > 0
    # the edge builders (worker processes of the nodes that lead a shard) judged the claims
    assert sum(v for n, v in per_claim.items() if n.endswith(".workers")) > 0
    assert per_claim["total"] == pytest.approx(sum(v for n, v in per_claim.items() if n != "total"), abs=0.01)
    assert load["cpu_bound_claims_per_s"] == pytest.approx(
        (os.cpu_count() or 1) * 1000 / per_claim["total"], rel=0.01
    )
    assert result["freshness"]["ack_to_visible"]["n"] == 10
    assert set(result["retrieval"]) == {f"top{k}_c{c}" for k in (10, 50) for c in (1, 4, 16)}
    assert all(r["qps"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0 for r in result["retrieval"].values())
    cpu = result["retrieval"]["top50_c1"]["cpu_ms_per_query"]  # every process of the cluster, and a total
    assert {"n1", "n2", "router"} <= set(cpu) and cpu["total"] == pytest.approx(
        sum(v for n, v in cpu.items() if n != "total"), abs=0.05
    )
    assert cpu["router"] > 0 and cpu["n1"] + cpu["n2"] > 0
    machine = result["machine"]["jitter"]
    assert machine["seconds"] >= 1.0 and machine["unit_ms_p50"] > 0 and 0 <= machine["time_in_episodes"] < 1
    pinned = TINY.nodes == len(os.sched_getaffinity(0))  # a node per core when there are as many
    assert result["cluster"]["pin_nodes"] is pinned and result["floor"]["pinned"] is pinned
    floor_cpu = result["floor"]["cpu_ms_per_query"]
    assert set(floor_cpu) == {"node0", "node1", "router", "total"} and floor_cpu["total"] > 0
    # Searched exactly (a small tenant), over half-precision vectors: the float32 truth differs only where
    # neighbours tie within rounding at the cut.
    assert result["recall"]["recall_at_10"] >= 0.99 and result["recall"]["recall_at_100"] >= 0.99
    assert result["recall"]["queries"] == TINY.queries  # every query of the profile, not a sample
    assert 0 <= result["recall"]["recall_at_10_se"] <= 0.01
    assert (
        result["floor"]["n"] == TINY.requests and result["floor"]["p99_ms"] >= result["floor"]["p50_ms"] > 0
    )
    # DASH's top-50 took turns with the floor: as many requests, its CPU measured over the turns alone.
    assert result["floor"]["turns"] == FLOOR_TURNS and result["retrieval"]["top50_c1"]["n"] == TINY.requests
    assert list(result["retrieval"]) == [f"top{k}_c{c}" for k in (10, 50) for c in CONCURRENCY]
    assert (
        0 < result["quality"]["ndcg_at_10_dash"] <= 1 and 0 < result["quality"]["ndcg_at_10_dense_only"] <= 1
    )
    assert {"n1", "n2", "router"} <= set(result["resources"]["peak_rss_mb"])
    now = result["resources"]["rss_mb_now"]
    assert {"n1", "n2", "router"} <= set(now) and all(v["anon"] > 0 and v["file"] > 0 for v in now.values())
    assert now["n1"]["anon"] + now["n1"]["file"] <= result["resources"]["peak_rss_mb"]["n1"] + 1
    assert result["resources"]["disk_bytes_per_claim_per_replica"] > 0
    restart = result["restart"]
    assert restart["seconds_to_serving"] > 0 and restart["replicas"]
    assert restart["seconds_to_caught_up"] >= restart["seconds_to_serving"] and restart["peak_rss_mb"] > 0
    assert all("replayed_records" in r for r in restart["replicas"])
    saved = report.save(result, tmp_path)
    assert saved.exists() and "tiny" in report.latest(tmp_path)
    md = report.markdown(report.latest(tmp_path))
    recall = result["recall"]
    assert "recall@10" in md and f"{recall['recall_at_10']} / {recall['recall_at_100']}" in md
    assert f"{recall['queries']} queries" in md


def test_a_short_soak_samples_drift_under_mixed_load() -> None:
    result = run(TINY, soak_minutes=0.1)
    soak = result["soak"]
    assert len(soak["samples"]) == 10
    stored = [s["claims_stored"] for s in soak["samples"]]
    assert stored == sorted(stored) and stored[-1] > 400  # the writer kept adding claims
    assert sum(s["queries"] for s in soak["samples"]) > 0
    assert {"n1", "n2", "router"} <= set(soak["samples"][0]["rss_mb"])
    assert soak["drift"]["claims_added"] == stored[-1] - stored[0]
    assert "retrieval" not in result  # a soak replaces the measurement matrix


@pytest.mark.parametrize(("nodes", "pin"), [(3, False), (2, True)])
def test_the_floor_merges_shards_into_the_global_top_k(nodes: int, pin: bool) -> None:
    """Through the floor's router, three shards answer as one index would, whether each has a process of
    its own or two share one: each key's score is its exact similarity, best first, and the merged answers
    find the exact top 10 of clustered vectors (an HNSW graph built on several threads is not
    deterministic, so recall is pooled over the queries)."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(8, 16))
    vectors = (centres[rng.integers(0, 8, 1500)] + 0.3 * rng.normal(size=(1500, 16))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:20] + 0.05 * rng.normal(size=(20, 16)).astype(np.float32)
    shards_in_answers, found = set(), 0
    with floor.serving(vectors, 3, nodes, pin) as served, grpc.insecure_channel(served.address) as channel:
        assert len(served.pids) == nodes + 1  # and the router
        cpus = sorted(os.sched_getaffinity(0))
        for i in range(nodes):
            want = {cpus[i % len(cpus)]} if pin else set(cpus)
            assert os.sched_getaffinity(served.pids[f"node{i}"]) == want
        for q in queries:
            keys, scores = floor.search(channel, q, 10)
            similarity = vectors @ (q / np.linalg.norm(q))
            exact = np.argsort(-similarity)[:10]
            assert len(set(keys.tolist())) == 10
            # half-precision unit vectors: their inner product is the cosine within 1e-3
            np.testing.assert_allclose(scores, similarity[keys.astype(np.int64)], atol=1e-3)
            assert list(scores) == sorted(scores, reverse=True)
            found += len(set(keys.tolist()) & set(exact.tolist()))
            shards_in_answers |= {k // 500 for k in keys.tolist()}
    assert found / 200 >= 0.95
    assert shards_in_answers == {0, 1, 2}


def test_a_layout_reshapes_the_cluster_and_names_the_run_apart() -> None:
    one = with_layout(PROFILES["large"], "1x1")
    assert (one.name, one.nodes, one.shards, one.replicas, one.claims) == ("large-1x1", 1, 1, 1, 100_000)
    assert with_layout(PROFILES["smoke"], "3x6").replicas == PROFILES["smoke"].replicas
    for bad in ("1", "0x2", "x", "2x-1", "axb"):
        with pytest.raises(ValueError, match="layout"):
            with_layout(PROFILES["smoke"], bad)


def test_the_peers_tables_come_from_the_last_run_that_had_peers(tmp_path) -> None:
    def result(name: str, started: str, peers: bool) -> dict:
        r = {"profile": {"name": name, "claims": 100}, "corpus": {"claims": 100}, "started_at": started}
        r["git"] = "abc"
        if peers:
            row = {"n": 5, "p50_ms": 2.0, "p95_ms": 3.0, "recall_at_10": 1.0}
            r["peers"] = {
                "dash": {"name": "DASH", **row},
                "chroma": {
                    "name": "chromadb",
                    **row,
                    "dash_p50_ratio": 3.0,
                    "dash_p50_ratio_per_round": [3.5, 2.5],
                },
            }
            r["ingest"] = {"leader_client_vectors": {"seconds": 1.0}}
        return r

    history = tmp_path / "history"
    history.mkdir()
    for stamp, peers in (("2026-01-01T00", True), ("2026-01-02T00", False)):
        (history / f"p-{stamp}.json").write_text(json.dumps(result("p", stamp, peers)))
    assert report.latest(tmp_path)["p"]["started_at"] == "2026-01-02T00"  # the newest run's figures
    md = report.markdown(report.latest(tmp_path), report.latest(tmp_path, with_peers=True))
    assert "## Peers, profile `p`" in md and "run of 2026-01-01" in md
    assert "| 3.0 (rounds 2.5 to 3.5) |" in md
    assert "## Peers" not in report.markdown(report.latest(tmp_path))
