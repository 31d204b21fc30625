"""Valid-time extraction: every rule, rejected non-years, TimeQA tokenisation, context, and exact spans."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dash_node.extract import SentenceExtractor
from dash_node.temporal import RULES, Validity, extract_validity


def d(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


# (sentence, expected expression, start, end, rule)
CASES: list[tuple[str, str, datetime | None, datetime | None, str]] = [
    # ranges: the end unit is inclusive
    ("He was mayor from 1968 to 1969.", "from 1968 to 1969", d(1968), d(1970), "range"),
    ("He was mayor from 1968 until 1969.", "from 1968 until 1969", d(1968), d(1970), "range"),
    ("He was mayor 1968–1969.", "1968–1969", d(1968), d(1970), "range"),  # noqa: RUF001
    ("The 1968-69 season was his best.", "1968-69", d(1968), d(1970), "range"),
    ("The 2004/05 season.", "2004/05", d(2004), d(2006), "range"),
    ("He was mayor between 1968 and 1969.", "between 1968 and 1969", d(1968), d(1970), "between"),
    (
        "She led it from March 2004 to May 2005.",
        "from March 2004 to May 2005",
        d(2004, 3),
        d(2005, 6),
        "range",
    ),
    ("It ran from Jul 2018 to Jul 2019.", "from Jul 2018 to Jul 2019", d(2018, 7), d(2019, 8), "range"),
    ("It was the capital from 1818 to Aug 1940.", "from 1818 to Aug 1940", d(1818), d(1940, 9), "range"),
    ("He worked there in 2005 to 2006.", "in 2005 to 2006", d(2005), d(2007), "range"),
    ("She has chaired it from 2015 to present.", "from 2015 to present", d(2015), None, "range"),
    # points
    ("In 2005 the bridge opened.", "In 2005", d(2005), d(2006), "in_year"),
    ("The team was relegated during 2005.", "during 2005", d(2005), d(2006), "during"),
    ("It rained throughout 2005.", "throughout 2005", d(2005), d(2006), "during"),
    ("Prices fell in March 2022.", "in March 2022", d(2022, 3), d(2022, 4), "in_month"),
    ("Prices fell in Sept. 2022.", "in Sept. 2022", d(2022, 9), d(2022, 10), "in_month"),
    ("It was signed on 5 March 2022.", "on 5 March 2022", d(2022, 3, 5), d(2022, 3, 6), "on_date"),
    ("It was signed March 5, 2022.", "March 5, 2022", d(2022, 3, 5), d(2022, 3, 6), "on_date"),
    ("It was signed on 2022-03-05.", "on 2022-03-05", d(2022, 3, 5), d(2022, 3, 6), "on_date"),
    (
        "It was signed on the 5th of March 2022.",
        "on the 5th of March 2022",
        d(2022, 3, 5),
        d(2022, 3, 6),
        "on_date",
    ),
    ("Leap day: 29 February 2024.", "29 February 2024", d(2024, 2, 29), d(2024, 3, 1), "on_date"),
    ("Sales peaked in the 1990s.", "in the 1990s", d(1990), d(2000), "in_year"),
    ("Sales peaked in the early 1990s.", "in the early 1990s", d(1990), d(2000), "in_year"),
    ("It was built in the 19th century.", "in the 19th century", d(1800), d(1900), "in_year"),
    ("It was common in the 1800s.", "in the 1800s", d(1800), d(1900), "in_year"),
    ("Revenue rose in Q3 2021.", "in Q3 2021", d(2021, 7), d(2021, 10), "in_month"),
    (
        "Revenue rose in the fourth quarter of 2021.",
        "in the fourth quarter of 2021",
        d(2021, 10),
        d(2022),
        "in_month",
    ),
    ("They toured in the summer of 2010.", "in the summer of 2010", d(2010, 6), d(2010, 9), "in_month"),
    ("They toured in winter 2010.", "in winter 2010", d(2010, 12), d(2011, 3), "in_month"),
    ("It was founded in March 800.", "in March 800", d(800, 3), d(800, 4), "in_month"),
    ("It was built c. 1900.", "c. 1900", d(1900), d(1901), "in_year"),
    # open intervals
    ("She has lived there since March 2022.", "since March 2022", d(2022, 3), None, "since"),
    ("He has been CEO since 2015.", "since 2015", d(2015), None, "since"),
    ("As of 2023 the plant employs 400 staff.", "As of 2023", d(2023), None, "as_of"),
    ("He was CEO from 2015.", "from 2015", d(2015), None, "since"),
    ("From 2015 onwards it grew.", "From 2015 onwards", d(2015), None, "since"),
    ("By 2019 it had closed.", "By 2019", d(2019), None, "by"),
    ("He was CEO until 2019.", "until 2019", None, d(2019), "until"),
    ("He was CEO till 2019.", "till 2019", None, d(2019), "until"),
    ("He was CEO up to 2019.", "up to 2019", None, d(2019), "until"),
    ("He was CEO through 2019.", "through 2019", None, d(2020), "until"),
    ("It grew after 2010.", "after 2010", d(2011), None, "after"),
    ("It grew after March 2010.", "after March 2010", d(2010, 4), None, "after"),
    ("It shrank before 2010.", "before 2010", None, d(2010), "before"),
    # precedence: the first interval-shaped expression beats an earlier point
    ("In 2001 he joined, and he has led it since 2005.", "since 2005", d(2005), None, "since"),
    ("Marie Curie won in 1903 and 1911.", "in 1903", d(1903), d(1904), "in_year"),
    ("Born Jan. 5 at No. 10 in Dec. 1999 here.", "in Dec. 1999", d(1999, 12), d(2000), "in_month"),
    # TimeQA tokenisation
    ("He played for Arsenal from 1968 to 1969 , then left .", "from 1968 to 1969", d(1968), d(1970), "range"),
    ("Smith ( 2004 – 2005 ) was chair .", "2004 – 2005", d(2004), d(2006), "range"),  # noqa: RUF001
    ("It opened on March 5 , 2022 .", "on March 5 , 2022", d(2022, 3, 5), d(2022, 3, 6), "on_date"),
    (
        "She has been employed by the Institute since 2015 , where she leads a group .",
        "since 2015",
        d(2015),
        None,
        "since",
    ),
    (
        "He joined Nordita , Sweden , in 2009 as an Assistant Professor .",
        "in 2009",
        d(2009),
        d(2010),
        "in_year",
    ),
]


@pytest.mark.parametrize(("sentence", "expression", "start", "end", "rule"), CASES)
def test_rules(
    sentence: str, expression: str, start: datetime | None, end: datetime | None, rule: str
) -> None:
    v = extract_validity(sentence)
    assert v is not None
    assert (v.expression, v.start, v.end, v.rule, v.inherited) == (expression, start, end, rule, False)
    assert sentence[v.span_start : v.span_end] == v.expression
    assert v.rule in RULES


def test_every_rule_is_covered() -> None:
    assert {c[4] for c in CASES} == set(RULES)


@pytest.mark.parametrize(
    "sentence",
    [
        "The road is 1,230 kilometres long.",
        "Revenue was 4.2 million in total.",
        "Ships berth at Quay 7 daily.",
        "The tower is 16.5 metres tall.",
        "The race was over 2000 metres.",
        "In 1500 people lived there.",
        "It costs $2005 today.",
        "See pp. 1203–1210 for details.",  # noqa: RUF001
        "It is room 1999 of the hotel.",
        "The year 3000 is far away, says a song in 3000.",
        "He scored in 999 games.",
        "The 2004 election was close.",  # a bare year is not enough
        "It was a 19th-century building.",
        "It was dated 1998-02 in the log.",
        "Version 2.2010 shipped.",
        "He was born in Paris.",
        "Smith ( born 18 September 1976 ) is a physicist .",
        "No dates here at all.",
        "",
        "Call 2001-12 now.",
        "He may 2005 be.",  # lower-case month words are verbs
        "On 31 February 2020 nothing happened.",  # not a date
    ],
)
def test_not_temporal(sentence: str) -> None:
    assert extract_validity(sentence) is None


def test_context_inherits_nearest_expression() -> None:
    context = ["It was quiet.", "The club was founded in 1901 .", "History (since 1850)"]
    v = extract_validity("It won the league .", context)
    assert v is not None and v.inherited
    assert (v.expression, v.start, v.end, v.rule) == ("in 1901", d(1901), d(1902), "in_year")
    assert context[1][v.span_start : v.span_end] == v.expression


def test_context_falls_back_to_title_and_own_expression_wins() -> None:
    v = extract_validity("It won the league.", ["No date.", "Season 2010–11 review"])  # noqa: RUF001
    assert v is not None and v.inherited and (v.start, v.end) == (d(2010), d(2012))
    own = extract_validity("It won in 2003.", ["It was founded in 1901."])
    assert own is not None and not own.inherited and own.expression == "in 2003"
    assert extract_validity("It won.", ["Nothing.", "Nor here."]) is None


def test_relative_expressions_need_a_reference() -> None:
    ref = datetime(2024, 5, 17, 15, 30, tzinfo=UTC)
    assert extract_validity("He is currently CEO.") is None
    now = extract_validity("He is currently CEO.", reference=ref)
    assert now is not None and (now.start, now.end, now.rule) == (d(2024, 5, 17), None, "as_of")
    last = extract_validity("Since last year he leads it.", reference=ref)
    assert last is not None and (last.expression, last.start, last.end) == ("Since last year", d(2023), None)
    ago = extract_validity("He left two years ago.", reference=ref)
    assert ago is not None and (ago.start, ago.end) == (d(2022), d(2023))


def test_overlaps() -> None:
    v = Validity(d(2004), d(2006), "x", 0, 1, "range")
    assert v.overlaps(d(2005), d(2005, 6)) and v.overlaps(None, None) and v.overlaps(d(2005), None)
    assert not v.overlaps(d(2006), d(2007)) and not v.overlaps(None, d(2004))


def test_extractor_attaches_validity_with_paragraph_and_title_context() -> None:
    text = (
        "Club history 1900–1950\n\n"  # noqa: RUF001
        "It was founded in 1901 . It won the cup . Since 1920 it plays in red . It moved .\n\n"
        "It had a stadium .\n\n"
        "Club history 1900–1950 is a long page ."  # noqa: RUF001
    )
    claims = SentenceExtractor().extract("d", text)
    got = {c.quote: c.validity for c in claims}
    founded = got["It was founded in 1901 ."]
    assert founded is not None and not founded.inherited
    assert founded.expression == "in 1901" and founded.start == d(1901)
    cup = got["It won the cup ."]
    assert cup is not None and cup.inherited and cup.expression == "in 1901"
    moved = got["It moved ."]
    assert moved is not None and moved.inherited and moved.expression == "Since 1920"
    stadium = got["It had a stadium ."]
    assert stadium is not None and stadium.inherited and (stadium.start, stadium.end) == (d(1900), d(1951))
    title = got["Club history 1900–1950"]  # noqa: RUF001
    assert title is not None and not title.inherited
    for c in claims:
        if c.validity is not None and not c.validity.inherited:
            assert c.quote[c.validity.span_start : c.validity.span_end] == c.validity.expression


def test_extractor_without_dates_or_long_first_line() -> None:
    assert all(c.validity is None for c in SentenceExtractor().extract("d", "One. Two.\n\nThree."))
    long_first = "A first line that runs on. " * 10 + "In 2001 it began.\n\nIt ended."
    claims = SentenceExtractor().extract("d", long_first)
    assert claims[-1].quote == "It ended." and claims[-1].validity is None


# --- properties -------------------------------------------------------------------------------------------

_WORDS = (
    "from to until since in on by after before during between and through the early ( ) , . - \u2013 "
    "\u2014 / "
    "'s s Q3 1968 69 2004 05 1999 0 12 31 2200 2201 999 1,230 4.2 $ March May Sept. Feb 29 5th of summer "
    "winter quarter third 19th century 1990s 1800s present onwards born No. metres people 2022-03-05 "
    "2022-02-30 currently last year ago two"
)
_PIECES = st.sampled_from([*_WORDS.split(), " ", "  ", "as of", "up to", "last year", "two years ago"])
_TEXTS = st.one_of(
    st.text(max_size=120),
    st.lists(_PIECES, max_size=30).map(" ".join),
    st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=30).map("".join),
)


def _check(v: Validity | None, source: str) -> None:
    if v is None:
        return
    if v.start is not None and v.end is not None:
        assert v.start < v.end
    for t in (v.start, v.end):
        assert t is None or t.tzinfo is UTC
    assert 0 <= v.span_start < v.span_end <= len(source)
    assert source[v.span_start : v.span_end] == v.expression
    assert v.rule in RULES


@settings(max_examples=500, deadline=None)
@given(
    text=_TEXTS, context=st.lists(_TEXTS, max_size=3), ref=st.none() | st.datetimes(timezones=st.just(UTC))
)
def test_never_raises_and_spans_hold(text: str, context: list[str], ref: datetime | None) -> None:
    v = extract_validity(text, context, reference=ref)
    if v is not None and v.inherited:
        source = next(c for c in context if extract_validity(c, reference=ref) is not None)
        _check(v, source)
        assert extract_validity(text, reference=ref) is None
    else:
        _check(v, text)


def test_reference_at_the_edges_of_datetime() -> None:
    for ref in (datetime(9999, 12, 31, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1)):
        for text in ("currently", "last year", "next year", "since two years ago"):
            _check(extract_validity(text, reference=ref), text)


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.one_of(_PIECES, st.sampled_from(["\n", "\n\n", ". ", "It won. "])), max_size=40).map(
        " ".join
    )
)
def test_extractor_validity_spans(text: str) -> None:
    for c in SentenceExtractor().extract("d", text):
        if c.validity is not None and not c.validity.inherited:
            _check(c.validity, c.quote)
