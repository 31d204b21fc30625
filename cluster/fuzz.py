"""Fuzzing: malformed gRPC payloads against a live router and node, corrupted WAL and index files against
their readers. Every case must end in a precise refusal — never a crash, a hang, ``INTERNAL``/``UNKNOWN``,
or a write half-applied.

- **payloads**: for every RPC, valid requests mutated at the byte level (flips, truncation, insertion,
  splices of random bytes) and plain random bytes, sent raw. A write that is refused must leave the
  node's claims and evidence as they were (nothing half-applied); a hang is a call that hits its
  deadline.
- **files**: a real WAL segment and real index snapshots, corrupted at random (flips, zeroed ranges,
  truncation, appended garbage, a damaged manifest), then opened: the reader must either recover or
  raise the store's own error (``WalCorruption`` and kin), nothing else.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from cluster.local import LocalCluster
from dash_client._pb.dash.v1 import dash_pb2, node_pb2, node_pb2_grpc, types_pb2
from dash_client.transport import open_channel
from dash_node.errors import DashError
from dash_node.index.lexical import LexicalIndex
from dash_node.index.vector import VectorStore
from dash_node.wal import Wal, WalConfig

BAD_CODES = {"INTERNAL", "UNKNOWN"}


@dataclass
class FuzzReport:
    cases: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "cases": sum(self.cases.values()),
            "by_outcome": dict(sorted(self.cases.items())),
            "failures": self.failures[:50],
            "failure_count": len(self.failures),
        }


def mutate(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        if op == 0 and data:  # flip bits
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # truncate
            del data[rng.randrange(len(data)) :]
        elif op == 2:  # insert random bytes
            i = rng.randrange(len(data) + 1)
            data[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 3 and data:  # overwrite a run with one of the protobuf-significant bytes
            i = rng.randrange(len(data))
            data[i : i + rng.randint(1, 8)] = bytes(
                [rng.choice((0x00, 0x0A, 0x12, 0x80, 0xFF))]
            ) * rng.randint(1, 8)
        else:  # splice in a random tag + length + payload
            i = rng.randrange(len(data) + 1)
            data[i:i] = bytes([rng.randrange(256), rng.randrange(256)]) + rng.randbytes(rng.randint(0, 8))
    return bytes(data)


def _seed_requests(tenant: str) -> dict[str, list[bytes]]:
    """Valid requests per Dash RPC, the raw material of mutations."""
    claim = types_pb2.Claim(
        claim_id="fz-1", subject="Fuzz Quay", text="The fuzz quay is 120 m long.", entities=["Fuzz"]
    )
    ev = types_pb2.Evidence(
        evidence_id="fz-e1", claim_id="fz-1", doc_id="d", quote="120 m", span_start=21, span_end=26
    )
    item = types_pb2.ClaimInput(claim=claim, evidence=[ev])
    return {
        "Ingest": [dash_pb2.IngestRequest(tenant_id=tenant, item=item).SerializeToString()],
        "IngestBatch": [
            dash_pb2.IngestBatchRequest(tenant_id=tenant, items=[item], commit_id="fz").SerializeToString()
        ],
        "IngestDocument": [
            dash_pb2.IngestDocumentRequest(
                tenant_id=tenant,
                document=types_pb2.Document(doc_id="fd", text="A quay. It is long since 2001."),
            ).SerializeToString()
        ],
        "UpsertEvidence": [
            dash_pb2.UpsertEvidenceRequest(tenant_id=tenant, evidence=[ev]).SerializeToString()
        ],
        "DeleteClaim": [dash_pb2.DeleteClaimRequest(tenant_id=tenant, claim_id="fz-1").SerializeToString()],
        "Retrieve": [
            dash_pb2.RetrieveRequest(
                tenant_id=tenant, query="quay length", top_k=5, explain=True
            ).SerializeToString()
        ],
        "GetClaim": [dash_pb2.GetClaimRequest(tenant_id=tenant, claim_id="fz-1").SerializeToString()],
    }


WRITES = {"Ingest", "IngestBatch", "IngestDocument", "UpsertEvidence", "DeleteClaim"}


def fuzz_payloads(
    cluster: LocalCluster, node_id: str, n: int, seed: int = 1, tenant: str = "fuzz"
) -> FuzzReport:
    """``n`` malformed requests, spread over the router's RPCs; the content of shard ``s0`` on
    ``node_id`` is watched for writes."""
    rng = random.Random(seed)
    report = FuzzReport()
    seeds = _seed_requests(tenant)
    auth = (("authorization", f"Bearer {cluster.api_key}"),)
    access = cluster.access
    node_meta = access.metadata
    with (
        open_channel(cluster.router, cluster.tls) as channel,
        access.channel(cluster.state.nodes[node_id]) as node_channel,
    ):
        stats = node_pb2_grpc.NodeStub(node_channel).Stats
        calls = {
            name: channel.unary_unary(
                f"/dash.v1.Dash/{name}", request_serializer=None, response_deserializer=None
            )
            for name in seeds
        }

        list_claims = node_pb2_grpc.NodeStub(node_channel).ListClaims

        def content() -> tuple:
            """What a write changes: every tenant's claim ids and the evidence count (detector edges,
            written behind earlier acknowledgements, are left out)."""
            s = stats(node_pb2.StatsRequest(shard_id="s0"), metadata=node_meta, timeout=10)
            ids = list_claims(
                node_pb2.ListClaimsRequest(tenant_id=tenant, shard_id="s0"), metadata=node_meta, timeout=10
            )
            return s.claims, s.evidence, tuple(sorted(ids.claim_ids))

        before = content()
        for i in range(n):
            name = rng.choice(sorted(seeds))
            raw = (
                rng.randbytes(rng.randint(0, 64))
                if rng.random() < 0.1
                else mutate(rng.choice(seeds[name]), rng)
            )
            try:
                calls[name](raw, metadata=auth, timeout=5)
                outcome = "OK"
            except grpc.RpcError as exc:
                outcome = exc.code().name
            report.cases[f"{name}:{outcome}"] += 1
            if outcome in BAD_CODES:
                report.failures.append(f"case {i} {name}: {outcome}")
            elif outcome == "DEADLINE_EXCEEDED":
                report.failures.append(f"case {i} {name}: hang (deadline exceeded)")
            if name in WRITES:
                after = content()
                if outcome != "OK" and after != before:
                    report.failures.append(f"case {i} {name}: refused ({outcome}) but the store changed")
                before = after
    return report


def _corrupt_file(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    op = rng.randrange(4)
    if op == 0 and data:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        what = "flipped bits"
    elif op == 1 and data:
        i = rng.randrange(len(data))
        data[i : i + rng.randint(1, 64)] = bytes(min(64, len(data) - i))
        what = "zeroed a range"
    elif op == 2 and data:
        del data[rng.randrange(len(data)) :]
        what = "truncated"
    else:
        data += rng.randbytes(rng.randint(1, 256))
        what = "appended garbage"
    path.write_bytes(bytes(data))
    return what


def fuzz_files(replica: Path, n: int, seed: int = 2) -> FuzzReport:
    """``n`` corrupted copies of the replica's WAL and index snapshots, each opened by its reader."""
    rng = random.Random(seed)
    report = FuzzReport()
    targets = {
        "wal": sorted((replica / "wal").glob("*.wal")),
        "vectors": sorted(p for p in (replica / "vectors").rglob("*") if p.is_file()),
        "lexical": sorted(p for p in (replica / "lexical").rglob("*") if p.is_file()),
    }
    targets = {k: v for k, v in targets.items() if v}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(n):
            kind = rng.choice(sorted(targets))
            work = Path(tmp) / f"case-{i}"
            shutil.copytree(replica / kind, work / kind)
            victim = work / kind / rng.choice(targets[kind]).relative_to(replica / kind)
            what = _corrupt_file(victim, rng)
            try:
                if kind == "wal":
                    wal = Wal(work / "wal", WalConfig())
                    sum(1 for _ in wal.replay())
                    wal.close()
                elif kind == "vectors":
                    VectorStore.load(work / "vectors")
                else:
                    LexicalIndex.load(work / "lexical")
                outcome = "opened"
            except DashError as exc:
                outcome = f"refused:{exc.code}"
            except Exception as exc:  # anything else is a reader that does not know its own failure
                outcome = "crash"
                report.failures.append(
                    f"case {i} {kind} ({what} in {victim.name}): {type(exc).__name__}: {exc}"
                )
            report.cases[f"{kind}:{outcome}"] += 1
            shutil.rmtree(work, ignore_errors=True)
    return report
