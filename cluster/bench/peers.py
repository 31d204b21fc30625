"""The systems users would otherwise pick, on the same data and queries, in the same run.

Each peer runs in this process the way its documentation starts users off: chromadb's PersistentClient,
lancedb (with its default vector index), milvus-lite and qdrant's local mode (both through their Python
clients, on a local file), and raw usearch (the floor: an in-process HNSW index, no network, no
ranking, no storage of anything but vectors). They get the client vectors and return the top-k ids; DASH
gets the same vectors through its router, and once more in this process through its embedded client.
Installed with the ``bench`` extra.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cluster.bench.measure import backlog, percentiles, vector_search
from dash_client._pb.dash.v1 import dash_pb2, types_pb2

BATCH = 1000


class Peer:
    """Build once from (ids, vectors, texts), then answer top-k searches with ids."""

    name = ""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def build(self, ids: Sequence[str], vectors: np.ndarray, texts: Sequence[str]) -> None:
        raise NotImplementedError

    def search(self, q: np.ndarray, k: int) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        return None


class Usearch(Peer):
    name = "usearch (in-process floor)"

    def build(self, ids, vectors, texts) -> None:
        from usearch.index import Index

        self.ids = list(ids)
        # inner product on unit rows: cosine, the cheap way (as DASH's graphs)
        self.index = Index(ndim=vectors.shape[1], metric="ip", connectivity=16, expansion_add=128)
        self.index.expansion_search = 64
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.index.add(np.arange(len(ids), dtype=np.uint64), unit)

    def search(self, q, k) -> list[str]:
        return [self.ids[int(key)] for key in self.index.search(q, k).keys]


class Chroma(Peer):
    name = "chromadb (PersistentClient)"

    def build(self, ids, vectors, texts) -> None:
        import chromadb

        self.client = chromadb.PersistentClient(path=str(self.dir))
        self.col = self.client.create_collection("bench", configuration={"hnsw": {"space": "cosine"}})
        step = min(BATCH, self.client.get_max_batch_size())
        for i in range(0, len(ids), step):
            self.col.add(
                ids=list(ids[i : i + step]),
                embeddings=vectors[i : i + step],
                documents=list(texts[i : i + step]),
            )

    def search(self, q, k) -> list[str]:
        return self.col.query(query_embeddings=[q], n_results=k, include=[])["ids"][0]


class Lance(Peer):
    name = "lancedb"

    def build(self, ids, vectors, texts) -> None:
        import lancedb
        import pyarrow as pa

        db = lancedb.connect(str(self.dir))
        flat = pa.array(vectors.reshape(-1), type=pa.float32())
        table = pa.table(
            {
                "id": pa.array(list(ids)),
                "text": pa.array(list(texts)),
                "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
            }
        )
        self.table = db.create_table("bench", data=table)
        if len(ids) >= 10_000:  # below that lancedb's docs say a flat scan is the better choice
            self.table.create_index(metric="cosine", vector_column_name="vector")

    def search(self, q, k) -> list[str]:
        rows = self.table.search(q).metric("cosine").limit(k).select(["id"]).to_list()
        return [r["id"] for r in rows]


class MilvusLite(Peer):
    name = "milvus-lite"

    def build(self, ids, vectors, texts) -> None:
        from pymilvus import MilvusClient

        self.ids = list(ids)
        self.client = MilvusClient(str(self.dir / "milvus.db"))
        self.client.create_collection("bench", dimension=vectors.shape[1], metric_type="COSINE")
        for i in range(0, len(ids), BATCH):
            rows = [{"id": j, "vector": vectors[j].tolist()} for j in range(i, min(i + BATCH, len(ids)))]
            self.client.insert("bench", rows)

    def search(self, q, k) -> list[str]:
        hits = self.client.search("bench", data=[q.tolist()], limit=k)[0]
        return [self.ids[int(h["id"])] for h in hits]

    def close(self) -> None:
        self.client.close()


class QdrantLocal(Peer):
    name = "qdrant (local mode)"

    def build(self, ids, vectors, texts) -> None:
        from qdrant_client import QdrantClient, models

        self.ids = list(ids)
        self.client = QdrantClient(path=str(self.dir))
        self.client.create_collection(
            "bench",
            vectors_config=models.VectorParams(size=vectors.shape[1], distance=models.Distance.COSINE),
        )
        for i in range(0, len(ids), BATCH):
            j = min(i + BATCH, len(ids))
            self.client.upsert(
                "bench", points=models.Batch(ids=list(range(i, j)), vectors=vectors[i:j].tolist())
            )

    def search(self, q, k) -> list[str]:
        points = self.client.query_points("bench", query=q.tolist(), limit=k).points
        return [self.ids[int(p.id)] for p in points]

    def close(self) -> None:
        self.client.close()


class DashEmbedded(Peer):
    """DASH itself in this process (``dash_client.embedded``): the same engine as a node's, asked the
    same vector-only query as the cluster, without the two gRPC hops. It gets what the peers get: ids,
    texts and vectors as plain claims."""

    name = "DASH embedded (EmbeddedDashClient)"

    def build(self, ids, vectors, texts) -> None:
        from dash_client.embedded import InProcessNode
        from dash_node.engine import EngineConfig

        self.node = InProcessNode(self.dir, EngineConfig())
        for i in range(0, len(ids), BATCH):
            items = [
                types_pb2.ClaimInput(
                    claim=types_pb2.Claim(
                        claim_id=ids[j], text=texts[j], embedding=vectors[j].astype("<f4").tobytes()
                    )
                )
                for j in range(i, min(i + BATCH, len(ids)))
            ]
            self.node.IngestBatch(
                dash_pb2.IngestBatchRequest(tenant_id="bench", items=items, commit_id=f"bench-{i}")
            )
        deadline = time.monotonic() + 3600
        while backlog([self.node.engine.stats()]):  # queries would share the CPU with it
            if time.monotonic() > deadline:
                raise TimeoutError("embedded engine: background work did not catch up in an hour")
            time.sleep(0.2)
        self._search = vector_search(self.node, "bench")

    def search(self, q, k) -> list[str]:
        return self._search(q, k)

    def close(self) -> None:
        if hasattr(self, "node"):
            self.node.close()


PEERS: tuple[type[Peer], ...] = (Usearch, Chroma, Lance, MilvusLite, QdrantLocal, DashEmbedded)


def compare(
    ids: Sequence[str],
    vectors: np.ndarray,
    texts: Sequence[str],
    qvecs: np.ndarray,
    dash_search: Callable[[np.ndarray, int], list[str]],
    k: int = 10,
    warmup: int = 20,
    max_queries: int = 100,
    budget_s: float = 120.0,
    rounds: int = 10,
    peers: Sequence[type[Peer]] = PEERS,
) -> dict:
    """Each peer's build time, sequential top-k latency and recall@k, beside DASH's latency and recall
    on the same queries (``dash_search`` is a vector-only query through DASH's router).

    This machine's speed drifts by up to 1.6x between hours, and from minute to minute (DASH's p50 beside
    one peer was twice its p50 beside another in the same run), so DASH and each peer take turns:
    ``rounds`` passes over the queries each, alternating (a pass of a fast system takes well under a
    second), and the ratio is DASH's p50 over the passes beside that peer to the peer's p50. The ratio
    of each round is kept too, to show how much it moves. A peer that needs more than ``budget_s`` in
    all is timed on the queries it answered in its share of that time (``n``)."""
    qvecs = qvecs[:max_queries]
    exact = qvecs @ vectors.T
    truth = [{ids[j] for j in np.argpartition(-exact[i], k)[:k]} for i in range(len(qvecs))]

    def warm(search: Callable[[np.ndarray, int], list[str]]) -> None:
        deadline = time.monotonic() + budget_s / rounds
        for q in qvecs[:warmup]:
            search(q, k)
            if time.monotonic() > deadline:
                break

    def timed(search: Callable[[np.ndarray, int], list[str]], budget: float) -> tuple[list[float], int]:
        """One pass over the queries -> (latencies, hits); cut short after ``budget`` seconds."""
        ms, hits = [], 0
        deadline = time.monotonic() + budget
        for i, q in enumerate(qvecs):
            t0 = time.perf_counter()
            got = search(q, k)
            ms.append((time.perf_counter() - t0) * 1000)
            hits += len(truth[i] & set(got))
            if time.monotonic() > deadline:
                break
        return ms, hits

    def row(ms: list[float], hits: int) -> dict:
        return {**percentiles(ms), f"recall_at_{k}": round(hits / (k * len(ms)), 4)}

    warm(dash_search)
    dash_ms, dash_hits = timed(dash_search, float("inf"))
    out: dict = {"dash": {}}  # filled last, from every DASH pass, but listed first
    for cls in tqdm(peers, desc="peers", file=sys.stderr, leave=False):
        with tempfile.TemporaryDirectory(prefix="dash-peer-") as d:
            peer = cls(Path(d))
            try:
                t0 = time.perf_counter()
                peer.build(ids, vectors, texts)
                build_s = round(time.perf_counter() - t0, 2)
                warm(peer.search)
                beside, ms, hits, per_round = [], [], 0, []
                for _ in range(rounds):
                    theirs, h = timed(peer.search, budget_s / rounds)
                    ms, hits = ms + theirs, hits + h
                    ours, h = timed(dash_search, float("inf"))
                    beside, dash_ms, dash_hits = beside + ours, dash_ms + ours, dash_hits + h
                    per_round.append(round(float(np.median(ours) / np.median(theirs)), 2))
                dash_p50 = float(np.percentile(beside, 50))
                out[cls.__name__.lower()] = {
                    "name": cls.name,
                    "ingest_s": build_s,
                    **row(ms, hits),
                    "dash_p50_beside_ms": round(dash_p50, 3),
                    "dash_p50_ratio": round(dash_p50 / float(np.percentile(ms, 50)), 2),
                    "dash_p50_ratio_per_round": per_round,
                }
            except Exception as exc:  # a peer that fails is reported, not fatal to the run
                out[cls.__name__.lower()] = {"name": cls.name, "error": f"{type(exc).__name__}: {exc}"[:300]}
            finally:
                peer.close()
    out["dash"] = {"name": "DASH (client -> router -> shards)", **row(dash_ms, dash_hits)}
    return out
