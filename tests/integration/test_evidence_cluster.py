"""Evidence reasoning through a real cluster: detector edges with reasons and citations, successions that
are history rather than conflicts, and a conflict between claims on different shards flagged at the
router."""

from __future__ import annotations

import asyncio

from cluster.local import ClusterSpec, LocalCluster
from dash_client.client import DashClient
from dash_node.etcd_placement import PlacementStore
from dash_node.placement import document_routing_key, routing_hash


async def _placement(c: LocalCluster):
    store = PlacementStore(c.state.etcd)
    try:
        return await store.load()
    finally:
        await store.close()


def docs_on_two_shards(c: LocalCluster, tenant: str) -> tuple[str, str]:
    pm = asyncio.run(_placement(c))
    first, i = None, 0
    while True:
        doc_id = f"atlas-{i}"
        shard = pm.shard_for(routing_hash(tenant, document_routing_key(doc_id))).shard_id
        if first is None:
            first = (doc_id, shard)
        elif shard != first[1]:
            return first[0], doc_id
        i += 1


def test_detector_edges_successions_and_a_cross_shard_conflict(tmp_path) -> None:
    with (
        LocalCluster(tmp_path / "c", ClusterSpec(nodes=2, shards=4, replicas=1)) as c,
        DashClient(c.router, api_key=c.api_key, tenant="geo") as dash,
    ):
        # Same subject: a numeric contradiction, found at ingest by the detector (one shard).
        dash.ingest(
            {
                "claim_id": "len-a",
                "subject": "Rhine",
                "text": "The Rhine is 1,230 km long.",
                "evidence": [
                    {
                        "evidence_id": "ev-a",
                        "doc_id": "atlas",
                        "quote": "1,230 km",
                        "span_start": 13,
                        "span_end": 21,
                        "source_quality": 0.9,
                    }
                ],
            }
        )
        # Detector edges follow the acknowledgement; this write asks to be answered once they are in.
        written = dash.ingest(
            {
                "claim_id": "len-b",
                "subject": "Rhine",
                "text": "The Rhine is 1,320 km long.",
                "evidence": [
                    {
                        "evidence_id": "ev-b",
                        "doc_id": "blog",
                        "quote": "1,320 km",
                        "span_start": 13,
                        "span_end": 21,
                        "source_quality": 0.4,
                    }
                ],
            },
            wait_for_detection=True,
        )
        assert written.detected
        top = {r.claim_id: r for r in dash.retrieve("How long is the Rhine?", top_k=5).results}
        conflict = top["len-b"].contradicting[0]
        assert conflict.claim_id == "len-a" and conflict.origin == "detector"
        assert conflict.reason_codes and any(code.startswith("numeric") for code in conflict.reason_codes)
        # The edge's two sides are both cited: the result's own evidence and the other claim's.
        assert [c.quote for c in top["len-b"].citations] == ["1,320 km"]
        assert [c.quote for c in conflict.citations] == ["1,230 km"]
        # ... and the stored edge names the evidence of each side.
        [edge] = [e for e in dash.get_claim("len-b").edges_out if e.origin == "detector"]
        assert edge.to_claim_id == "len-a"
        assert (edge.from_evidence_ids, edge.to_evidence_ids) == (["ev-b"], ["ev-a"])

        # A changed fact is a succession, not a contradiction: history, queryable as of its time.
        for i, (who, year) in enumerate((("Ingrid Solberg", 2015), ("Tomas Berg", 2022))):
            dash.ingest(
                {
                    "claim_id": f"master-{i}",
                    "subject": "Port of Lindholm",
                    "predicate": "harbour master",
                    "object": who,
                    "text": f"{who} is the harbour master of the Port of Lindholm.",
                    "valid_from": f"{year}-01-01T00:00:00Z",
                },
                wait_for_detection=True,
            )
        now = dash.retrieve("harbour master Lindholm", top_k=5)
        assert [r.claim_id for r in now.results if r.claim_id.startswith("master")] == ["master-1"]
        assert not now.results[0].contradicting
        then = dash.retrieve("harbour master Lindholm", top_k=5, as_of="2018-06-01T00:00:00Z")
        assert [r.claim_id for r in then.results if r.claim_id.startswith("master")] == ["master-0"]
        old = dash.get_claim("master-0")
        assert old.claim.superseded_at is not None  # never deleted, marked when the store learned it
        assert [(e.from_claim_id, e.relation, e.origin) for e in old.edges_in] == [
            ("master-1", "supersedes", "detector")
        ]

        # Two documents routed to different shards disagree: only the router sees both.
        doc_a, doc_b = docs_on_two_shards(c, "geo")
        dash.ingest_document(doc_a, "The Danube is 2,850 km long.", source_quality=0.9)
        dash.ingest_document(doc_b, "The Danube is 2,580 km long.", source_quality=0.5)
        res = dash.retrieve("How long is the Danube?", top_k=4)
        danube = [r for r in res.results if "Danube" in r.text]
        assert len({r.shard_id for r in danube}) == 2
        flagged = [rc for r in danube for rc in r.contradicting if "cross_shard" in rc.reason_codes]
        assert len(flagged) == 2  # on both sides
        assert all(rc.citations and rc.origin == "detector" for rc in flagged)
