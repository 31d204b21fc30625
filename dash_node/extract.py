"""Claim extraction: a source document becomes sentence-level claims with exact evidence spans.

Every claim points back into the original text by half-open code-point offsets, and the invariant
``text[span_start:span_end] == quote`` holds for every output: evidence is only worth keeping if it can be
re-found verbatim. The default extractor is a deterministic rule-based sentence splitter; an LLM extractor
can replace it through the :class:`Extractor` protocol. Each claim also carries its valid time
(:mod:`dash_node.temporal`), read from the sentence or inherited from earlier sentences of its paragraph
or from the document's first line, so ``as_of`` queries work on documents too.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from dash_node.errors import ConfigError
from dash_node.temporal import Validity, extract_validity

__all__ = ["ExtractedClaim", "Extractor", "SentenceExtractor", "claim_id_for"]


@dataclass(frozen=True)
class ExtractedClaim:
    """One claim and the exact span of the document that evidences it."""

    claim_id: str
    evidence_id: str
    chunk_id: str
    text: str
    span_start: int
    span_end: int
    quote: str
    entities: tuple[str, ...]
    validity: Validity | None = None  # spans are relative to ``quote`` unless ``validity.inherited``


class Extractor(Protocol):
    """Pluggable: an LLM extractor can replace the default."""

    name: str

    def extract(self, doc_id: str, text: str) -> list[ExtractedClaim]: ...


def claim_id_for(doc_id: str, span_start: int, span_end: int, quote: str) -> str:
    """Deterministic id; parts are length-prefixed so no two part tuples can collide by concatenation."""
    h = hashlib.blake2b(digest_size=10)
    for part in (doc_id, str(span_start), str(span_end), quote):
        raw = part.encode("utf-8", "surrogatepass")
        h.update(f"{len(raw)}:".encode())
        h.update(raw)
    return "doc-" + h.hexdigest()


# --- paragraphs -------------------------------------------------------------------------------------------

# Line breaks as str.splitlines() sees them; a lone "\r" only when it is not the first half of CRLF, so that
# a single CRLF is never mistaken for a blank line.
_LB = r"(?:\r\n|\r(?!\n)|[\n\x0b\x0c\x1c-\x1e\x85\u2028])"
_HSPACE = r"[^\S\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]"
_PARA_BREAK = re.compile(rf"{_LB}(?:{_HSPACE}*{_LB})+|\u2029")


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """Spans between blank lines (or U+2029); may contain only whitespace."""
    pos = 0
    for m in _PARA_BREAK.finditer(text):
        yield pos, m.start()
        pos = m.end()
    yield pos, len(text)


def _wordset(words: str) -> frozenset[str]:
    """Keep the word lists below readable as prose."""
    return frozenset(words.split())


# --- sentences --------------------------------------------------------------------------------------------

_CJK_TERMS = "。\uff01\uff1f\uff61"
_TERM = re.compile(
    r"(?P<term>[.!?…‼⁇⁈⁉]+|[。\uff01\uff1f\uff61]+)(?P<close>[\"'”\u2019»\u203a)\]}」』\uff09】\u3015〉》]*)"
)
_OPENERS = "\"'“\u2018«\u2039([{「『\uff08【"
_QUOTES = "\"'”\u2019»\u203a」』"

# Never end a sentence: titles and Latin abbreviations that always precede more text.
_ALWAYS_ABBREV = _wordset(
    "dr mr mrs ms mx prof sr jr st mt ft gen col capt lt sgt rev hon gov sen rep e.g i.e cf vs viz "
    "approx fig figs eq eqs al ca"
)
# End a sentence only when the next word is capitalised ("etc. The" splits, "etc. and" does not).
_CONTEXT_ABBREV = _wordset(
    "etc inc ltd co corp no nos vol pp p.m a.m u.s u.k u.n e.u jan feb mar apr jun jul aug sep sept "
    "oct nov dec"
)
_DOTTED = re.compile(r"(?:\w\.)+\w")


def _is_boundary(text: str, m: re.Match[str], sent_start: int, para_end: int) -> bool:
    """Decide whether the terminator run in ``m`` ends a sentence."""
    term, close, after = m["term"], m["close"], m.end()
    cjk = any(c in _CJK_TERMS for c in term)
    if not cjk and after < para_end and not text[after].isspace():
        return False  # "3.14", "e.g.,", "a.b": no whitespace after the terminator
    nxt = after
    while nxt < para_end and text[nxt].isspace():
        nxt += 1
    next_char = text[nxt] if nxt < para_end else None
    lower_next = next_char is not None and next_char.islower()
    if lower_next and ("…" in term or ".." in term or any(c in _QUOTES for c in close)):
        return False  # "wait... what", '"Really?" she asked'
    if term != ".":
        return True
    tok_start = m.start()
    while tok_start > sent_start and not text[tok_start - 1].isspace():
        tok_start -= 1
    token = text[tok_start : m.start()].lstrip(_OPENERS)
    key = token.lower()
    if not token:
        return True
    if key in _ALWAYS_ABBREV or (len(token) == 1 and token.isupper()):
        return False  # "Dr. Smith", "J. R. R. Tolkien"
    if token.isdigit() and not text[sent_start:tok_start].strip():
        return False  # a list marker such as "1. First item"
    if key in _CONTEXT_ABBREV or _DOTTED.fullmatch(key):
        return next_char is None or next_char.isupper()
    return True


def _sentences(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Raw sentence regions of one paragraph (untrimmed, contiguous)."""
    sent_start = start
    pos = start
    while True:
        m = _TERM.search(text, pos, end)
        if m is None:
            break
        pos = m.end()
        if _is_boundary(text, m, sent_start, end):
            yield sent_start, m.end()
            sent_start = m.end()
    if sent_start < end:
        yield sent_start, end


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span so it neither starts nor ends with whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _joins_previous(c: str, prev: str) -> bool:
    """True if ``c`` must stay with the character before it (combining mark, ZWJ sequence, modifier)."""
    return (
        unicodedata.combining(c) != 0
        or unicodedata.category(c) in ("Mn", "Me", "Mc")
        or c in "\u200d\ufe0e\ufe0f"
        or prev == "\u200d"
        or "\U0001f3fb" <= c <= "\U0001f3ff"
        or ("\udc00" <= c <= "\udfff" and "\ud800" <= prev <= "\udbff")
    )


def _pieces(text: str, start: int, end: int, limit: int) -> Iterator[tuple[int, int]]:
    """Cut a trimmed span into trimmed pieces of at most ``limit`` code points, preferring whitespace."""
    while end - start > limit:
        cut = start + limit
        ws = cut
        while ws > start and not text[ws].isspace():
            ws -= 1
        if ws > start:
            piece_end = ws
        else:  # no whitespace in the window: hard cut, but never inside a grapheme we can recognise
            piece_end = cut
            while piece_end > start + 1 and _joins_previous(text[piece_end], text[piece_end - 1]):
                piece_end -= 1
        s, e = _trim(text, start, piece_end)
        yield s, e
        start, end = _trim(text, piece_end, end)
    if start < end:
        yield start, end


# --- entities ---------------------------------------------------------------------------------------------

_WORD = re.compile(r"(?:[A-Z]\.){2,}|\w+(?:['\u2019-]\w+)*")
_YEAR = re.compile(r"1[5-9]\d\d|20\d\d")
_CONNECTORS = _wordset("of de del der da di du van von la le y")
_TITLES = _wordset("dr mr mrs ms mx prof st sr jr")
_COMMON_INITIAL = _wordset(
    "a an the this that these those in on at of for from to by with as after before when while if "
    "but and or so then there here it its he she they we you i my our their his her yesterday today "
    "tomorrow however meanwhile also"
)


def _entities(sentence: str) -> tuple[str, ...]:
    """Cheap entity guess: capitalised multi-word names, acronyms and years, in order, deduplicated."""
    found: list[tuple[int, str]] = []
    run: list[re.Match[str]] = []

    def flush() -> None:
        while run and run[-1].group().lower() in _CONNECTORS:
            run.pop()
        if run and run[0].start() == 0 and run[0].group().lower() in _COMMON_INITIAL:
            run.pop(0)
        if len(run) >= 2:
            name = sentence[run[0].start() : run[-1].end()]
            found.append((run[0].start(), re.sub(r"['\u2019]s$", "", name)))
        run.clear()

    for m in _WORD.finditer(sentence):
        word = m.group()
        bare = word.replace(".", "")
        if _YEAR.fullmatch(word) or (len(bare) >= 2 and bare.isupper() and bare[0].isalpha()):
            found.append((m.start(), word))
        capital = word[0].isupper()
        if run:
            gap = sentence[run[-1].end() : m.start()]
            prev = run[-1].group()
            dotted_ok = len(prev) == 1 or prev.lower() in _TITLES
            if gap not in (" ", ". ") or (gap == ". " and not dotted_ok):
                flush()
        if capital or (run and word.lower() in _CONNECTORS):
            run.append(m)
        else:
            flush()
    flush()
    seen: set[str] = set()
    out: list[str] = []
    for _, ent in sorted(found, key=lambda p: p[0]):
        if ent not in seen:
            seen.add(ent)
            out.append(ent)
    return tuple(out)


# --- valid-time context -----------------------------------------------------------------------------------

_MAX_TITLE_CHARS = 200  # a longer first line is body text, not a title
_FIRST_LB = re.compile(_LB + "|\u2029")


def _first_line_end(text: str) -> int:
    """End of the document's first line, the title-ish context that every sentence may inherit from."""
    m = _FIRST_LB.search(text)
    return m.start() if m else len(text)


# --- the default extractor --------------------------------------------------------------------------------


class SentenceExtractor:
    """Rule-based sentence splitter: deterministic, dependency-free, exact spans."""

    name = "sentence-v1"

    def __init__(self, max_sentence_chars: int = 1000, min_sentence_chars: int = 3) -> None:
        if max_sentence_chars < 1:
            raise ConfigError(f"max_sentence_chars: must be >= 1, got {max_sentence_chars}")
        if min_sentence_chars < 0:
            raise ConfigError(f"min_sentence_chars: must be >= 0, got {min_sentence_chars}")
        self.max_sentence_chars = max_sentence_chars
        self.min_sentence_chars = min_sentence_chars

    def extract(self, doc_id: str, text: str) -> list[ExtractedClaim]:
        """Split ``text`` into claims; paragraphs (blank-line separated) become chunks."""
        claims: list[ExtractedClaim] = []
        para_index = 0
        title_start, title_end = _trim(text, 0, _first_line_end(text))
        title = text[title_start:title_end] if title_end - title_start <= _MAX_TITLE_CHARS else ""
        for p_start, p_end in _paragraphs(text):
            if p_start == p_end or text[p_start:p_end].isspace():
                continue
            chunk_id = f"{doc_id}:p{para_index}"
            para_index += 1
            # Only the latest earlier sentence that had an expression of its own can be inherited from, so
            # keeping just that one gives the same answer as passing every earlier sentence, in linear time.
            last_dated = ""
            for raw_start, raw_end in _sentences(text, p_start, p_end):
                s, e = _trim(text, raw_start, raw_end)
                if sum(not c.isspace() for c in text[s:e]) < max(self.min_sentence_chars, 1):
                    continue
                for ps, pe in _pieces(text, s, e, self.max_sentence_chars):
                    context = tuple(c for c in (last_dated, title if ps >= title_end else "") if c)
                    validity = extract_validity(text[ps:pe], context)
                    if validity is not None and not validity.inherited:
                        last_dated = text[ps:pe]
                    claims.append(self._claim(doc_id, chunk_id, text, ps, pe, validity))
        return claims

    @staticmethod
    def _claim(
        doc_id: str, chunk_id: str, text: str, start: int, end: int, validity: Validity | None = None
    ) -> ExtractedClaim:
        quote = text[start:end]
        claim_text = " ".join(quote.split())
        cid = claim_id_for(doc_id, start, end, quote)
        return ExtractedClaim(
            claim_id=cid,
            evidence_id=cid + "-ev",
            chunk_id=chunk_id,
            text=claim_text,
            span_start=start,
            span_end=end,
            quote=quote,
            entities=_entities(claim_text),
            validity=validity,
        )
