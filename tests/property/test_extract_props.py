"""Property tests: every claim's evidence span re-finds its quote exactly, for any Unicode input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dash_node.extract import ExtractedClaim, SentenceExtractor

_ALPHABET = st.characters(exclude_categories=("Cs",))
_TRICKY = st.sampled_from(
    [
        *" \t\n\r\u00a0\u2028\u2029\u3000.!?…。\uff01\uff1f\"')]」”\u2019",
        "\r\n",
        "\n\n",
        "\r\n\r\n",
        "...",
        "e.g.",
        "Dr.",
        "U.S.",
        "3.14",
        "J. ",
        "e\u0301",
        "😀",
        "👍🏽",
        "\u200d",
        "שלום",
        "مرحبا",
        "etc.",
        "No. 5",
    ]
)
_WORDS = st.sampled_from(
    [
        "The",
        "cat",
        "Marie",
        "Curie",
        "Dr.",
        "Mr.",
        "e.g.",
        "i.e.",
        "etc.",
        "U.S.",
        "3.14",
        "1999",
        "NASA",
        "J.",
        "R.",
        "Tolkien",
        "naïve",
        "Cafe\u0301",
        "😀",
        "שלום",
        "مرحبا",
        "猫",
        "vs.",
        "Jan.",
        "No.",
    ]
)
_ENDS = st.sampled_from([".", "!", "?", "...", "…", "。", '."', "?)", "!」", ""])
_SEPS = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\n\n", "\r\n\r\n", "\u00a0", " \n \n ", ""])


@st.composite
def sentence_like(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 12))):
        words = draw(st.lists(_WORDS, min_size=1, max_size=15))
        seps = draw(st.lists(_SEPS, min_size=len(words), max_size=len(words)))
        parts.append("".join(w + s for w, s in zip(words, seps, strict=True)).rstrip(" ") + draw(_ENDS))
        parts.append(draw(_SEPS))
    return "".join(parts)


texts = st.one_of(
    st.text(_ALPHABET, max_size=400),
    st.lists(st.one_of(_TRICKY, st.text(_ALPHABET, max_size=5)), max_size=80).map("".join),
    sentence_like(),
)
extractors = st.builds(
    SentenceExtractor,
    max_sentence_chars=st.integers(1, 80) | st.just(1000),
    min_sentence_chars=st.integers(0, 5),
)


def check(claims: list[ExtractedClaim], text: str, ex: SentenceExtractor) -> None:
    prev_end = 0
    for c in claims:
        assert 0 <= c.span_start < c.span_end <= len(text)
        assert text[c.span_start : c.span_end] == c.quote
        assert c.span_start >= prev_end
        prev_end = c.span_end
        assert c.quote == c.quote.strip()
        assert len(c.quote) <= ex.max_sentence_chars
        assert c.text == " ".join(c.quote.split())
        assert c.evidence_id == c.claim_id + "-ev"
        assert c.chunk_id.startswith("doc:p")
    assert len({c.claim_id for c in claims}) == len(claims)
    chunk_numbers = [int(c.chunk_id.rsplit(":p", 1)[1]) for c in claims]
    assert chunk_numbers == sorted(chunk_numbers)


@settings(max_examples=400, deadline=None)
@given(text=texts, ex=extractors)
def test_spans_are_exact_and_ordered(text: str, ex: SentenceExtractor) -> None:
    claims = ex.extract("doc", text)
    check(claims, text, ex)
    assert ex.extract("doc", text) == claims
    assert SentenceExtractor(ex.max_sentence_chars, ex.min_sentence_chars).extract("doc", text) == claims


@settings(max_examples=200, deadline=None)
@given(text=sentence_like())
def test_no_text_lost(text: str) -> None:
    """With no minimum, every non-space character of the input lands in exactly one quote."""
    ex = SentenceExtractor(max_sentence_chars=1000, min_sentence_chars=0)
    claims = ex.extract("doc", text)
    check(claims, text, ex)
    covered = "".join(c.quote for c in claims)
    assert "".join(covered.split()) == "".join(text.split())


@settings(max_examples=200, deadline=None)
@given(text=texts)
def test_whitespace_only_is_empty(text: str) -> None:
    blank = "".join(ch for ch in text if ch.isspace())
    assert SentenceExtractor().extract("doc", blank) == []
