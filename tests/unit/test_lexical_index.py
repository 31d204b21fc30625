"""Lexical index: BM25 sanity, per-tenant statistics and isolation, replace/remove, snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dash_node.errors import WalCorruption
from dash_node.index.lexical import LexicalIndex


def docnos(hits: list[tuple[int, float]]) -> list[int]:
    return [d for d, _ in hits]


def test_bm25_ranking_sanity() -> None:
    ix = LexicalIndex()
    ix.upsert(
        "t",
        [
            (1, "The invoice was paid by the customer in March."),
            (2, "Invoice invoice invoice: overdue invoices are escalated."),
            (3, "The weather in March was mild."),
            (4, "Customers asked about shipping times."),
        ],
    )
    hits = ix.search("t", "invoices", 10)
    assert docnos(hits) == [2, 1]  # stemming matches invoice/invoices; higher tf ranks first
    assert hits[0][1] > hits[1][1] > 0
    assert docnos(ix.search("t", "paid customer", 10))[0] == 1
    assert set(docnos(ix.search("t", "march", 10))) == {1, 3}
    assert ix.search("t", "the was in by", 10) == []  # stopword-only
    assert ix.search("t", "invoice", 0) == []


def test_tenant_isolation_and_per_tenant_statistics() -> None:
    ix = LexicalIndex()
    ix.upsert("alice", [(1, "secret project apollo"), (2, "apollo budget")])
    ix.upsert("bob", [(3, "apollo launch schedule")])
    assert set(docnos(ix.search("alice", "apollo", 10))) == {1, 2}
    assert docnos(ix.search("bob", "apollo", 10)) == [3]
    assert ix.search("carol", "apollo", 10) == []
    assert ix.search("bob", "apollo", 10, allowed={1, 2}) == []
    # Another tenant's text must not move bob's scores.
    before = ix.search("bob", "apollo launch", 10)
    ix.upsert("alice", [(10 + i, "launch launch apollo") for i in range(50)])
    assert ix.search("bob", "apollo launch", 10) == before


def test_upsert_replaces_text_and_is_idempotent() -> None:
    ix = LexicalIndex()
    ix.upsert("t", [(7, "red apples")])
    ix.upsert("t", [(7, "green pears")])
    ix.upsert("t", [(7, "green pears")])  # replay
    assert ix.search("t", "apples", 10) == []
    assert docnos(ix.search("t", "pears", 10)) == [7]
    ix.upsert("t", [(8, "one"), (8, "two")])  # duplicate in a batch: last wins
    assert ix.search("t", "one", 10) == [] and docnos(ix.search("t", "two", 10)) == [8]
    assert len(ix) == 2


def test_remove_then_reinsert_same_docno() -> None:
    ix = LexicalIndex()
    ix.upsert("t", [(1, "alpha beta"), (2, "alpha gamma"), (3, "alpha")])
    ix.remove([2, 1, 424242])
    assert docnos(ix.search("t", "alpha", 10)) == [3]
    ix.upsert("t", [(1, "delta")])  # the old "alpha beta" postings of docno 1 must stay dead
    assert docnos(ix.search("t", "alpha", 10)) == [3]
    assert docnos(ix.search("t", "delta", 10)) == [1]


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "title:foo", "(a OR b", "AND", "*", "-", "ünïcødé ✓ 東京", "", "   ", "a" * 5000, "\x00"],
)
def test_hostile_queries_never_raise(query: str) -> None:
    ix = LexicalIndex()
    ix.upsert("t", [(1, "ünïcødé text about 東京 and foo")])
    assert isinstance(ix.search("t", query, 5), list)


def test_snapshot_round_trip_and_checksum(tmp_path: Path) -> None:
    ix = LexicalIndex()
    ix.upsert("a", [(1, "alpha beta"), (2, "beta gamma"), (3, "gone")])
    ix.upsert("b€", [(4, "alpha")])
    ix.remove([3])
    ix.save(tmp_path / "lex", lsn=9)
    again, lsn = LexicalIndex.load(tmp_path / "lex")
    assert lsn == 9
    for tenant, q in [("a", "beta"), ("a", "alpha"), ("b€", "alpha"), ("a", "gone")]:
        assert again.search(tenant, q, 10) == ix.search(tenant, q, 10)
    again.upsert("a", [(2, "replaced")])  # a loaded index keeps working
    assert docnos(again.search("a", "beta", 10)) == [1]
    manifest = json.loads((tmp_path / "lex" / "manifest.json").read_text())
    name = manifest["meta"]["tenants"]["a"]["file"]
    with (tmp_path / "lex" / name).open("r+b") as f:
        f.seek(40)
        f.write(b"\xff")
    with pytest.raises(WalCorruption):
        LexicalIndex.load(tmp_path / "lex")


def test_missing_snapshot_is_empty(tmp_path: Path) -> None:
    ix, lsn = LexicalIndex.load(tmp_path / "none")
    assert lsn == 0 and len(ix) == 0


def test_ties_at_the_cut_keep_the_lowest_docnos() -> None:
    """Equal scores across the k-th place: the answer is the lowest docnos, as on every replica (a partial
    sort alone keeps an arbitrary subset of the tied documents)."""
    ix = LexicalIndex()
    ix.upsert("t", [(d, "alpha beta" if d % 7 else "alpha") for d in range(3000)])
    got = ix.search("t", "alpha", 10)
    assert docnos(got) == [0, 7, 14, 21, 28, 35, 42, 49, 56, 63]  # the shorter documents score higher
    short, long = list(range(0, 3000, 7)), [d for d in range(3000) if d % 7]
    assert docnos(ix.search("t", "alpha", 500)) == short + long[: 500 - len(short)]


def test_indexing_an_unchanged_document_again_keeps_its_postings() -> None:
    """A claim is indexed again whenever it changes (new evidence, a successor), mostly with the same text:
    its postings stay live rather than piling up stale copies; a changed text still replaces them."""
    ix = LexicalIndex()
    ix.upsert("t", [(1, "alpha beta beta"), (2, "alpha gamma")])
    before = ix.search("t", "alpha beta gamma", 10)
    ix.upsert("t", [(1, "beta alpha beta"), (2, "alpha gamma")])  # the same terms and frequencies
    postings = ix._tenants["t"].postings
    assert (len(postings["alpha"].docnos), postings["alpha"].stale) == (2, 0)
    assert ix.search("t", "alpha beta gamma", 10) == before
    ix.upsert("t", [(1, "alpha beta")])  # beta's frequency changed: a new version
    assert (len(postings["alpha"].docnos), postings["alpha"].stale) == (3, 1)
    assert docnos(ix.search("t", "beta", 10)) == [1]
    assert ix.search("t", "beta", 10)[0][1] != dict(before).get(1)


def test_concurrent_writers_and_searchers_end_where_one_thread_would() -> None:
    """The index is shared by the writer, the searches and checkpoints without the engine's vector lock:
    writes and searches from several threads must neither fail nor leave a state a serial run would not."""
    import threading

    words = ["apollo", "budget", "invoice", "march", "shipping", "weather", "customer", "overdue"]
    batches = [
        [(1000 * w + i, f"{words[i % 8]} {words[(i * 3 + w) % 8]} {words[(i + w) % 8]}") for i in range(200)]
        for w in range(4)
    ]
    shared, serial = LexicalIndex(), LexicalIndex()
    failures: list[BaseException] = []
    writers_done = threading.Event()

    def write(batch: list[tuple[int, str]]) -> None:
        try:
            for start in range(0, len(batch), 20):
                shared.upsert("t", batch[start : start + 20])
                shared.remove([batch[start][0]])  # and a removal, so stale postings are in play
        except BaseException as exc:
            failures.append(exc)

    def search() -> None:
        try:
            while not writers_done.is_set():
                for hit, score in shared.search("t", "apollo invoice weather", 50):
                    assert score > 0 and hit % 1000 < 200
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    readers = [threading.Thread(target=search) for _ in range(2)]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    writers_done.set()
    for t in readers:
        t.join(timeout=60)
    assert not failures, failures
    for batch in batches:
        for start in range(0, len(batch), 20):
            serial.upsert("t", batch[start : start + 20])
            serial.remove([batch[start][0]])
    assert len(shared) == len(serial) == 4 * 190
    for query in ("apollo", "invoice march", "shipping overdue customer", "budget weather"):
        assert shared.search("t", query, 1000) == serial.search("t", query, 1000)
