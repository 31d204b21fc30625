"""The shipped static embedder: contract (shape/dtype/norm), determinism, offline load, and semantics."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest

from dash_node.embedding import DEFAULT_MODEL_DIR, Embedder, StaticModelEmbedder, default_embedder


@pytest.fixture(scope="module")
def emb() -> Embedder:
    return default_embedder()


def _cos(e: Embedder, a: str, b: str) -> float:
    v = e.embed([a, b])
    return float(v[0] @ v[1])


def test_contract_shape_dtype_unit_norm(emb: Embedder) -> None:
    assert isinstance(emb, Embedder)
    assert emb.dim == 256
    texts = [
        "hello world",
        "Retrieval-augmented generation needs evidence.",
        "long text " * 2000,
        "naïve café ☕",
    ]
    v = emb.embed(texts)
    assert v.shape == (len(texts), emb.dim)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_empty_inputs_are_zero_not_nan(emb: Embedder) -> None:
    # "x" * 500 is a single over-long word: the WordPiece tokenizer maps it to [UNK], which is dropped.
    v = emb.embed(["", "   ", "real text", "x" * 500])
    assert not np.isnan(v).any()
    assert np.all(v[0] == 0) and np.all(v[1] == 0) and np.all(v[3] == 0)
    assert abs(float(np.linalg.norm(v[2])) - 1.0) < 1e-5
    assert emb.embed([]).shape == (0, emb.dim)


def test_rejects_bare_string(emb: Embedder) -> None:
    with pytest.raises(TypeError):
        emb.embed("not a list")  # type: ignore[arg-type]


def test_deterministic_and_batch_independent(emb: Embedder) -> None:
    texts = [f"document number {i} about topic {i % 7}" for i in range(50)]
    a = emb.embed(texts)
    b = emb.embed(texts)
    assert np.array_equal(a, b)
    singles = np.vstack([emb.embed([t]) for t in texts[:10]])
    np.testing.assert_allclose(singles, a[:10], atol=1e-6)
    assert default_embedder() is emb  # cached: loaded once per process


# (anchor, paraphrase, unrelated): the paraphrase must be closer than the unrelated text.
TRIPLES = [
    ("The cat sat on the mat", "A cat is sitting on a rug", "Quarterly revenue rose 4% in Europe"),
    ("How do I reset my password?", "Steps to change a forgotten login password", "The river flooded"),
    ("Global temperatures are rising", "The planet is warming", "He scored two goals in the final"),
    ("The patient has a high fever", "The sick person's temperature is elevated", "Stock prices fell"),
    ("Sea levels rose by 20 cm last century", "Oceans have risen over the past 100 years", "I like pizza"),
    ("The database crashed during the backup", "A server failure interrupted the backup job", "Birds sing"),
]


@pytest.mark.parametrize(("anchor", "para", "other"), TRIPLES)
def test_semantic_ordering(emb: Embedder, anchor: str, para: str, other: str) -> None:
    close, far = _cos(emb, anchor, para), _cos(emb, anchor, other)
    assert close > far + 0.1, (close, far)


def test_ranking_picks_the_relevant_passage(emb: Embedder) -> None:
    corpus = [
        "Arctic sea ice extent has declined sharply since satellite records began.",
        "The central bank raised interest rates by a quarter point.",
        "The recipe calls for two eggs and a cup of flour.",
        "The football club signed a new striker this summer.",
    ]
    q = emb.embed(["Is the ice in the Arctic melting?"])
    scores = emb.embed(corpus) @ q[0]
    assert int(np.argmax(scores)) == 0


def test_load_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_net(*_a: object, **_k: object) -> None:
        raise AssertionError("embedder tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_net)
    monkeypatch.setattr(socket, "create_connection", no_net)
    e = StaticModelEmbedder(DEFAULT_MODEL_DIR)
    assert e.embed(["offline"]).shape == (1, e.dim)


def test_missing_model_dir_fails_fast(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        StaticModelEmbedder(tmp_path / "nope")


def test_report_load_time_and_throughput(capsys: pytest.CaptureFixture[str]) -> None:
    """Not asserted (timing is box-dependent); printed so regressions are visible with `pytest -s`."""
    t0 = time.perf_counter()
    e = StaticModelEmbedder(DEFAULT_MODEL_DIR)
    load_s = time.perf_counter() - t0
    texts = [
        f"Evidence sentence {i}: the anomaly in region {i % 13} was {i * 0.01:.2f} degrees."
        for i in range(5000)
    ]
    e.embed(texts[:100])
    t0 = time.perf_counter()
    e.embed(texts)
    rate = len(texts) / (time.perf_counter() - t0)
    with capsys.disabled():
        print(f"\n[embedder] {e.name} dim={e.dim} load={load_s * 1000:.0f} ms throughput={rate:,.0f} sent/s")
