"""Examples of each splitting rule, id determinism, chunking and the entity heuristic."""

from __future__ import annotations

import pytest

from dash_node.errors import ConfigError
from dash_node.extract import ExtractedClaim, Extractor, SentenceExtractor, claim_id_for


def quotes(text: str, **kw: int) -> list[str]:
    claims = SentenceExtractor(**kw).extract("doc1", text)
    for c in claims:
        assert text[c.span_start : c.span_end] == c.quote
    return [c.quote for c in claims]


def test_is_an_extractor() -> None:
    ex: Extractor = SentenceExtractor()
    assert ex.name == "sentence-v1"


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\r\n", "\u00a0\u2029 "])
def test_empty_or_whitespace_gives_nothing(text: str) -> None:
    assert SentenceExtractor().extract("d", text) == []


def test_basic_terminators() -> None:
    assert quotes("It rained. Did it? Yes! Fine") == ["It rained.", "Did it?", "Yes!", "Fine"]


def test_abbreviations_do_not_split() -> None:
    text = "Dr. Smith met Mr. Jones and Mrs. Lee, i.e. friends, vs. Ms. Brown on St. Mark's Day. Done."
    assert quotes(text) == [text[: text.index(" Done")], "Done."]
    assert quotes("Fruit, e.g. apples, was sold. More.") == ["Fruit, e.g. apples, was sold.", "More."]


def test_context_abbreviations_split_only_before_capital() -> None:
    assert quotes("Pens, pencils, etc. and more. We had pens etc. The end.") == [
        "Pens, pencils, etc. and more.",
        "We had pens etc.",
        "The end.",
    ]
    assert quotes("The U.S. economy grew. It did.") == ["The U.S. economy grew.", "It did."]
    assert quotes("Born Jan. 5 at No. 10 in Dec. 1999 here. Ok then.") == [
        "Born Jan. 5 at No. 10 in Dec. 1999 here.",
        "Ok then.",
    ]


def test_decimals() -> None:
    assert quotes("Pi is 3.14 roughly. It costs $2.50 now.") == ["Pi is 3.14 roughly.", "It costs $2.50 now."]


def test_initials() -> None:
    assert quotes("J. R. R. Tolkien wrote it. He was British.") == [
        "J. R. R. Tolkien wrote it.",
        "He was British.",
    ]


def test_ellipses() -> None:
    assert quotes("Wait... what happened? I see… The End.") == [
        "Wait... what happened?",
        "I see…",
        "The End.",
    ]


def test_closing_quotes_and_brackets_stay_with_sentence() -> None:
    assert quotes('He said "Stop." Then he ran. (It was late.) "Really?" she asked.') == [
        'He said "Stop."',
        "Then he ran.",
        "(It was late.)",
        '"Really?" she asked.',
    ]


def test_numbered_list_marker_is_not_a_sentence() -> None:
    assert quotes("1. First item here. 2. Second item.") == ["1. First item here.", "2. Second item."]


def test_cjk() -> None:
    assert quotes("我喜欢猫。你呢？好的！") == ["我喜欢猫。", "你呢？", "好的！"]  # noqa: RUF001
    assert quotes("「行こう。」と言った。") == ["「行こう。」", "と言った。"]


def test_crlf_and_paragraph_chunks() -> None:
    text = "One here.\r\nTwo here.\r\n\r\nThree here.\r\n \t\r\n\r\nFour here."
    claims = SentenceExtractor().extract("d", text)
    assert [(c.quote, c.chunk_id) for c in claims] == [
        ("One here.", "d:p0"),
        ("Two here.", "d:p0"),
        ("Three here.", "d:p1"),
        ("Four here.", "d:p2"),
    ]


def test_leading_blank_paragraphs_do_not_shift_chunk_index() -> None:
    claims = SentenceExtractor().extract("d", "\n\n  \n\nHello there.\n\nBye now.")
    assert [c.chunk_id for c in claims] == ["d:p0", "d:p1"]


def test_unicode_spans_are_exact() -> None:
    text = "\u00a0Emoji 😀👍🏽 rocks.\tCafe\u0301 naïve. مرحبا بالعالم. שלום עולם!  "
    claims = SentenceExtractor().extract("d", text)
    assert [c.quote for c in claims] == [
        "Emoji 😀👍🏽 rocks.",
        "Cafe\u0301 naïve.",
        "مرحبا بالعالم.",
        "שלום עולם!",
    ]
    for c in claims:
        assert text[c.span_start : c.span_end] == c.quote


def test_text_is_whitespace_normalised() -> None:
    (claim,) = SentenceExtractor().extract("d", "  A\tlong \u00a0 line\r\nwrapped here.  ")
    assert claim.text == "A long line wrapped here."
    assert claim.quote == "A\tlong \u00a0 line\r\nwrapped here."


def test_min_sentence_chars_skips_short() -> None:
    assert quotes("Ok. Hi. Yes. Fine then.", min_sentence_chars=4) == ["Yes.", "Fine then."]
    assert quotes("A? B! \u00a0!\t It is.") == ["It is."]
    assert quotes("Ok. Hi.", min_sentence_chars=1) == ["Ok.", "Hi."]


def test_overlong_sentence_is_cut_at_whitespace() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta."
    pieces = quotes(text, max_sentence_chars=12)
    assert all(len(p) <= 12 for p in pieces)
    assert " ".join(pieces) == text


def test_overlong_without_whitespace_is_hard_cut_off_combining_marks() -> None:
    text = "e\u0301" * 8
    pieces = quotes(text, max_sentence_chars=5)
    assert all(len(p) <= 5 and not p.startswith("\u0301") for p in pieces)
    assert "".join(pieces) == text


def test_ids_deterministic_and_distinct() -> None:
    text = "Same words. Same words.\n\nSame words."
    a = SentenceExtractor().extract("d", text)
    b = SentenceExtractor().extract("d", text)
    assert a == b
    ids = [c.claim_id for c in a]
    assert len(set(ids)) == 3
    for c in a:
        assert c.claim_id.startswith("doc-") and len(c.claim_id) == 24
        assert c.evidence_id == c.claim_id + "-ev"
        assert c.claim_id == claim_id_for("d", c.span_start, c.span_end, c.quote)
    other = SentenceExtractor().extract("e", text)
    assert not set(ids) & {c.claim_id for c in other}


def test_claim_id_separators_are_unambiguous() -> None:
    assert claim_id_for("a1", 2, 3, "x") != claim_id_for("a", 12, 3, "x")
    assert claim_id_for("a", 1, 23, "x") != claim_id_for("a", 12, 3, "x")


def test_claim_is_frozen() -> None:
    (c,) = SentenceExtractor().extract("d", "A claim here.")
    assert isinstance(c, ExtractedClaim)
    with pytest.raises(AttributeError):
        c.text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Marie Curie won in 1903 and 1911.", ("Marie Curie", "1903", "1911")),
        ("The United Nations met NASA officials.", ("United Nations", "NASA")),
        ("He visited the Bank of England twice.", ("Bank of England",)),
        ("J. R. R. Tolkien's books sold.", ("J. R. R. Tolkien",)),
        ("The cat sat. In Paris it rained.", ()),
        ("When Émile Zola wrote, the U.S. listened.", ("Émile Zola", "U.S.")),
        ("Marie Curie met Marie Curie.", ("Marie Curie",)),
    ],
)
def test_entities(sentence: str, expected: tuple[str, ...]) -> None:
    claims = SentenceExtractor().extract("d", sentence)
    got: list[str] = []
    for c in claims:
        got.extend(e for e in c.entities if e not in got)
    assert tuple(got) == expected


def test_bad_settings_raise() -> None:
    with pytest.raises(ConfigError):
        SentenceExtractor(max_sentence_chars=0)
    with pytest.raises(ConfigError):
        SentenceExtractor(min_sentence_chars=-1)
