"""The SDK's retry rules against a fake in-process Dash server that fails on demand.

Only calls that are safe to repeat are retried: reads and idempotent writes (``ingest_batch`` with its
commit id, ``ingest_document``) on UNAVAILABLE, reads also on DEADLINE_EXCEEDED; ``ingest``,
``upsert_evidence`` and ``delete_claim`` are attempted exactly once. Backoff sleeps go through an
injected ``sleep`` and ``random`` so delays are checked exactly.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from dash_client._pb.dash.v1 import dash_pb2, dash_pb2_grpc, types_pb2
from dash_client.client import AsyncDashClient, ClientConfig, DashClient, RetryPolicy, content_commit_id
from dash_client.errors import (
    DashError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from dash_client.types import claim_input

UNAVAILABLE, DEADLINE = grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED
CLAIM = {"claim_id": "c1", "text": "Paris is in France."}


class FlakyDash(dash_pb2_grpc.DashServicer):
    """Fails each method's first ``n`` calls with ``code`` (``fail[method] = (n, code)``), then answers."""

    def __init__(self) -> None:
        self.fail: dict[str, tuple[int, grpc.StatusCode]] = {}
        self.stall: dict[str, float] = {}  # method -> seconds its first call sleeps before answering
        self.calls: Counter[str] = Counter()
        self.requests: dict[str, list] = {}
        self.metadata: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def _gate(self, name: str, request, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.calls[name] += 1
            n = self.calls[name]
            self.requests.setdefault(name, []).append(request)
            self.metadata.append(dict(context.invocation_metadata()))
        if n == 1 and name in self.stall:
            time.sleep(self.stall[name])
        count, code = self.fail.get(name, (0, grpc.StatusCode.OK))
        if n <= count:
            context.abort(code, f"{name.lower()}: injected failure {n}")

    def _write(self, name: str, request, context) -> dash_pb2.WriteResponse:
        self._gate(name, request, context)
        return dash_pb2.WriteResponse(
            claim_ids=["c1"],
            lsn=7,
            generation=1,
            commit_id=getattr(request, "commit_id", ""),
            ack_met=dash_pb2.ACK_LEVEL_LEADER,
        )

    def Ingest(self, request, context):
        return self._write("Ingest", request, context)

    def IngestBatch(self, request, context):
        return self._write("IngestBatch", request, context)

    def IngestDocument(self, request, context):
        return self._write("IngestDocument", request, context)

    def UpsertEvidence(self, request, context):
        return self._write("UpsertEvidence", request, context)

    def DeleteClaim(self, request, context):
        return self._write("DeleteClaim", request, context)

    def Retrieve(self, request, context):
        self._gate("Retrieve", request, context)
        hit = dash_pb2.RetrievedClaim(
            claim=types_pb2.Claim(claim_id="c1", text="Paris is in France."),
            score=0.5,
            dominant_stance=types_pb2.STANCE_SUPPORTS,
        )
        return dash_pb2.RetrieveResponse(results=[hit])

    def GetClaim(self, request, context):
        self._gate("GetClaim", request, context)
        return dash_pb2.GetClaimResponse(claim=types_pb2.Claim(claim_id=request.claim_id, text="t"))


@pytest.fixture
def fake() -> Iterator[tuple[FlakyDash, str]]:
    servicer = FlakyDash()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    dash_pb2_grpc.add_DashServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    server.stop(0)


def client(address: str, sleeps: list[float], policy: RetryPolicy | None = None, **kw) -> DashClient:
    config = ClientConfig(target=address, timeout=kw.pop("timeout", 5.0), retry=policy or RetryPolicy())
    return DashClient(config=config, sleep=sleeps.append, random=kw.pop("random", lambda: 0.5), **kw)


READS = {
    "Retrieve": lambda c: c.retrieve("where is Paris?"),
    "GetClaim": lambda c: c.get_claim("c1"),
}
IDEMPOTENT_WRITES = {
    "IngestBatch": lambda c: c.ingest_batch([CLAIM], commit_id="commit-1"),
    "IngestDocument": lambda c: c.ingest_document("doc-1", "Paris is in France."),
}
ONCE_WRITES = {
    "Ingest": lambda c: c.ingest(CLAIM),
    "UpsertEvidence": lambda c: c.upsert_evidence([{"evidence_id": "e1", "claim_id": "c1"}]),
    "DeleteClaim": lambda c: c.delete_claim("c1"),
}


@pytest.mark.parametrize("method", sorted(READS | IDEMPOTENT_WRITES))
def test_safe_calls_retry_unavailable_then_succeed(fake, method: str) -> None:
    servicer, address = fake
    servicer.fail[method] = (2, UNAVAILABLE)
    sleeps: list[float] = []
    with client(address, sleeps) as c:
        (READS | IDEMPOTENT_WRITES)[method](c)
    assert servicer.calls[method] == 3
    assert sleeps == [0.5 * 0.05, 0.5 * 0.1]  # full jitter (random() = 0.5) of the doubling cap


@pytest.mark.parametrize("method", sorted(ONCE_WRITES))
def test_unsafe_writes_are_attempted_exactly_once(fake, method: str) -> None:
    servicer, address = fake
    servicer.fail[method] = (1, UNAVAILABLE)
    sleeps: list[float] = []
    with client(address, sleeps) as c, pytest.raises(Unavailable) as err:
        ONCE_WRITES[method](c)
    assert servicer.calls[method] == 1 and sleeps == []
    assert err.value.code == "UNAVAILABLE" and "injected failure 1" in err.value.details


def test_ingest_batch_retries_with_the_same_commit_id_derived_from_content(fake) -> None:
    servicer, address = fake
    servicer.fail["IngestBatch"] = (2, UNAVAILABLE)
    with client(address, []) as c:
        w = c.ingest_batch([CLAIM, {"claim_id": "c2", "text": "Rome is in Italy."}])
    sent = [r.commit_id for r in servicer.requests["IngestBatch"]]
    expected = content_commit_id(
        [claim_input(CLAIM), claim_input({"claim_id": "c2", "text": "Rome is in Italy."})]
    )
    assert sent == [expected] * 3 and w.commit_id == expected and expected.startswith("batch-")


@pytest.mark.parametrize("method", sorted(READS))
def test_reads_retry_deadline_exceeded(fake, method: str) -> None:
    servicer, address = fake
    servicer.fail[method] = (1, DEADLINE)
    with client(address, []) as c:
        READS[method](c)
    assert servicer.calls[method] == 2


@pytest.mark.parametrize("method", sorted(IDEMPOTENT_WRITES | ONCE_WRITES))
def test_writes_do_not_retry_deadline_exceeded(fake, method: str) -> None:
    servicer, address = fake
    servicer.fail[method] = (1, DEADLINE)
    with client(address, []) as c, pytest.raises(DeadlineExceeded):
        (IDEMPOTENT_WRITES | ONCE_WRITES)[method](c)
    assert servicer.calls[method] == 1


def test_a_real_per_attempt_deadline_is_retried_for_reads(fake) -> None:
    servicer, address = fake
    servicer.stall["Retrieve"] = 1.0  # the first attempt outlives its 0.3 s deadline
    with client(address, [], timeout=0.3) as c:
        assert [r.claim_id for r in c.retrieve("q").results] == ["c1"]
    assert servicer.calls["Retrieve"] == 2


def test_backoff_follows_the_policy_and_max_attempts_is_honoured(fake) -> None:
    servicer, address = fake
    servicer.fail["Retrieve"] = (100, UNAVAILABLE)
    policy = RetryPolicy(max_attempts=6, initial_backoff=0.1, max_backoff=0.5, multiplier=3.0)
    sleeps: list[float] = []
    with client(address, sleeps, policy, random=lambda: 1.0) as c, pytest.raises(Unavailable) as err:
        c.retrieve("q")
    assert servicer.calls["Retrieve"] == 6
    assert sleeps == pytest.approx([0.1, 0.3, 0.5, 0.5, 0.5])  # capped at max_backoff
    assert "injected failure 6" in err.value.details


def test_jitter_scales_each_cap_by_a_fresh_random_draw(fake) -> None:
    servicer, address = fake
    servicer.fail["GetClaim"] = (3, UNAVAILABLE)
    draws = iter([0.0, 0.25, 0.75])
    sleeps: list[float] = []
    with client(address, sleeps, random=lambda: next(draws)) as c:
        c.get_claim("c1")
    assert sleeps == pytest.approx([0.0, 0.25 * 0.1, 0.75 * 0.2])


def test_max_attempts_one_disables_retries(fake) -> None:
    servicer, address = fake
    servicer.fail["Retrieve"] = (1, UNAVAILABLE)
    sleeps: list[float] = []
    with client(address, sleeps, RetryPolicy(max_attempts=1)) as c, pytest.raises(Unavailable):
        c.retrieve("q")
    assert servicer.calls["Retrieve"] == 1 and sleeps == []


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgument),
        (grpc.StatusCode.PERMISSION_DENIED, PermissionDenied),
        (grpc.StatusCode.UNAUTHENTICATED, Unauthenticated),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, ResourceExhausted),
        (grpc.StatusCode.FAILED_PRECONDITION, FailedPrecondition),
    ],
)
def test_other_statuses_are_not_retried_and_map_to_their_class(fake, code, cls) -> None:
    servicer, address = fake
    servicer.fail["Retrieve"] = (1, code)
    with client(address, []) as c, pytest.raises(cls) as err:
        c.retrieve("q")
    assert servicer.calls["Retrieve"] == 1
    assert err.value.code == code.name and err.value.details == "retrieve: injected failure 1"


def test_unmapped_status_raises_the_base_error_with_its_name(fake) -> None:
    servicer, address = fake
    servicer.fail["GetClaim"] = (1, grpc.StatusCode.INTERNAL)
    with client(address, []) as c, pytest.raises(DashError) as err:
        c.get_claim("c1")
    assert type(err.value) is DashError and err.value.code == "INTERNAL"


def test_api_key_is_sent_as_bearer_metadata(fake) -> None:
    servicer, address = fake
    with DashClient(address, api_key="k-123", tenant="acme") as c:
        c.retrieve("q")
    with DashClient(address) as c:
        c.retrieve("q")
    assert servicer.metadata[0].get("authorization") == "Bearer k-123"
    assert "authorization" not in servicer.metadata[1]
    assert [r.tenant_id for r in servicer.requests["Retrieve"]] == ["acme", "default"]


def test_config_is_validated_and_overridden_by_explicit_arguments() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="timeout"):
        ClientConfig(timeout=0)
    base = ClientConfig(target="10.0.0.1:1", tenant="acme", api_key="k")
    c = DashClient("127.0.0.1:9", config=base)
    assert (c.config.target, c.config.tenant, c.config.api_key) == ("127.0.0.1:9", "acme", "k")
    c.close()


def test_async_client_follows_the_same_rules(fake) -> None:
    servicer, address = fake
    servicer.fail.update(
        Retrieve=(2, UNAVAILABLE),
        IngestBatch=(1, UNAVAILABLE),
        Ingest=(1, UNAVAILABLE),
        GetClaim=(9, DEADLINE),
    )
    sleeps: list[float] = []

    async def record(delay: float) -> None:
        sleeps.append(delay)

    async def main() -> None:
        config = ClientConfig(target=address, timeout=5.0, retry=RetryPolicy(max_attempts=3))
        async with AsyncDashClient(config=config, sleep=record, random=lambda: 1.0) as c:
            assert [r.claim_id for r in (await c.retrieve("q")).results] == ["c1"]
            assert sleeps == pytest.approx([0.05, 0.1])
            sleeps.clear()
            assert (await c.ingest_batch([CLAIM], commit_id="x")).commit_id == "x"
            assert sleeps == pytest.approx([0.05])
            sleeps.clear()
            with pytest.raises(Unavailable):
                await c.ingest(CLAIM)
            with pytest.raises(DeadlineExceeded):
                await c.get_claim("c1")
            assert sleeps == pytest.approx([0.05, 0.1])

    asyncio.run(main())
    assert servicer.calls == Counter(Retrieve=3, IngestBatch=2, Ingest=1, GetClaim=3)
