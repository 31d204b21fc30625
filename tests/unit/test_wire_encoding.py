"""Answers written around encoded parts must be what protobuf itself writes, at every length."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dash_client._pb.dash.v1 import dash_pb2, node_pb2, types_pb2
from dash_node.wire import message_field, varint

RESULTS = dash_pb2.RetrieveResponse.DESCRIPTOR.fields_by_name["results"].number


def result(text: str, score: float) -> dash_pb2.RetrievedClaim:
    return dash_pb2.RetrievedClaim(claim=types_pb2.Claim(claim_id="c", text=text), score=score)


@given(
    texts=st.lists(st.text(max_size=300), max_size=5), bulk=st.sampled_from([0, 1, 126, 127, 16_380, 2**21])
)
def test_results_appended_as_fields_are_protobufs_own_encoding(texts: list[str], bulk: int) -> None:
    results = [result(t, i / 7) for i, t in enumerate(texts)] + [result("x" * bulk, 1.0)]
    head = dash_pb2.RetrieveResponse(dropped_by_stance=3, shards_answered=["s1"])
    written = head.SerializeToString() + b"".join(
        message_field(RESULTS, r.SerializeToString()) for r in results
    )
    whole = dash_pb2.RetrieveResponse()
    whole.CopyFrom(head)
    whole.results.extend(results)
    assert dash_pb2.RetrieveResponse.FromString(written) == whole  # same fields, results in order
    body = b"".join(message_field(RESULTS, r.SerializeToString()) for r in results)
    assert body == dash_pb2.RetrieveResponse(results=results).SerializeToString()


def test_a_shard_part_holds_its_answer_or_its_status() -> None:
    answer = dash_pb2.RetrieveResponse(results=[result("river", 0.5)])
    ok = node_pb2.ShardAnswer(shard_id="s1").SerializeToString() + message_field(
        2, answer.SerializeToString()
    )
    failed = node_pb2.ShardAnswer(shard_id="s2", code=9, message="read.min_lsn: behind").SerializeToString()
    parsed = node_pb2.RetrieveShardsResponse.FromString(message_field(1, ok) + message_field(1, failed))
    assert [a.shard_id for a in parsed.answers] == ["s1", "s2"]
    assert parsed.answers[0].response == answer and parsed.answers[1].code == 9


@given(st.integers(1, 2**64 - 1))
def test_varint_matches_protobuf(n: int) -> None:
    epoch = node_pb2.FenceRequest.DESCRIPTOR.fields_by_name["epoch"].number  # a uint64: tag, then the varint
    assert node_pb2.FenceRequest(epoch=n).SerializeToString() == bytes([epoch << 3]) + varint(n)
