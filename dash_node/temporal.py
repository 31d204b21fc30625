"""Valid-time extraction: the interval during which a sentence's claim holds, read from its temporal words.

Documents carry their validity in prose ("from 1968 to 1969", "since 2015"), not in structured fields, so
``as_of`` queries over ingested documents need this interval. Every result keeps the exact expression and
its code-point span so the interval can be shown (and audited) next to the claim. Precision beats recall:
a wrong interval hides a true claim from an ``as_of`` query, a missing one merely leaves it unfiltered.

A date names a *unit* (day, month, season, quarter, year, decade, century) with ``lo`` = its first instant
and ``hi`` = the first instant after it. Intervals are half-open ``[start, end)`` in UTC; ``None`` = open.

===========  ====================================================================  ======================
rule         expression                                                            interval
===========  ====================================================================  ======================
range        "from A to/until/till/through B", "A-B" (any dash), "1968-69",        [lo(A), hi(B))
             "A to B", "( 2004 - 2005 )", "in 2005 to 2006"
             "from A to present", "A - present", "( 2014 - )"                      [lo(A), open)
between      "between A and B"                                                     [lo(A), hi(B))
in_year      "in 2005", "in the 1990s", "in the 19th century", "around 1900"       [lo(A), hi(A))
in_month     "in March 2022", "March 2022", "Q3 2021", "summer 2010"               [lo(A), hi(A))
on_date      "on 5 March 2022", "March 5, 2022", "2022-03-05"                      [lo(A), hi(A))
during       "during 2005", "throughout 2005"                                      [lo(A), hi(A))
since        "since 2015", "from 2015" (no end), "2015 onwards"                    [lo(A), open)
as_of        "as of 2023", "as at 2023", "currently" (needs ``reference``)         [lo(A), open)
by           "by 2019": the state was reached at the latest during A               [lo(A), open)
until        "until/till/up to/up until 2019": the end year is *excluded*          [open, lo(A))
             "through/thru 2019": the end year is included                         [open, hi(A))
after        "after 2010"                                                          [hi(A), open)
before       "before 2010"                                                         [open, lo(A))
===========  ====================================================================  ======================

Note the asymmetry: a bare "until 2019" excludes 2019 (keep only the years it surely covers) while
"from 2015 until 2019" includes it like "to" does (a range's end year is inclusive, as in TimeQA).
Winter YEAR is Dec YEAR to Feb YEAR+1 (northern meteorological seasons); "the 1800s" is a century;
"early/mid/late" do not narrow the unit. With ``reference``, "this/last/next year" and "N years ago" are
in_year and "currently"/"at present" is as_of that day; without it they are ignored.

Choice among several expressions (a stand-in for "the one attached to the main verb"): the first
interval-shaped one (range, between, since, until, as_of, by, after, before) wins; else the first point
one (in_*, on_date, during). Dates right after "born"/"died" describe a life event, not the claim, and
are skipped. A bare year with no preposition ("the 2004 election") is not an expression unless it heads a
list item ("- 2016 : Elected ..."); a bare full date, month, season or quarter is. Numbers count as years
only in 1000-2200 (100-2200 next to a month) and never when glued to digits/decimals/currency ("1,230",
"4.2", "$2005"), after a label such as "Quay", "No." or "pp.", or before a unit ("2000 metres").

With no expression in the sentence, ``context`` (earlier sentences of the paragraph, most recent first,
then a title) is searched in order and the nearest expression is returned with ``inherited=True``; its
span then refers to the context string it came from.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

__all__ = ["RULES", "Validity", "extract_validity"]

RULES = (
    "range", "between", "in_year", "in_month", "on_date", "during",
    "since", "as_of", "by", "until", "after", "before",
)  # fmt: skip
_INTERVAL_RULES = frozenset({"range", "between", "since", "until", "as_of", "by", "after", "before"})


@dataclass(frozen=True)
class Validity:
    """When a claim holds, and the exact text that says so."""

    start: datetime | None
    end: datetime | None
    expression: str
    span_start: int
    span_end: int
    rule: str
    inherited: bool = False

    def overlaps(self, start: datetime | None, end: datetime | None) -> bool:
        """True if ``[start, end)`` (None = open) shares an instant with this interval."""
        return (self.start is None or end is None or self.start < end) and (
            self.end is None or start is None or start < self.end
        )


# --- date mentions ----------------------------------------------------------------------------------------

_MONTH_NAMES = (
    "january jan|february feb|march mar|april apr|may|june jun|july jul|august aug|september sept sep"
    "|october oct|november nov|december dec"
)
_MONTH_NUM = {name: i for i, names in enumerate(_MONTH_NAMES.split("|"), 1) for name in names.split()}
_DASH = "-\u2013\u2014"  # hyphen, en dash, em dash
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)(?:\s?\.)?(?!\w)"
)
_NOT_AFTER = r"(?![\w%]|[.,:]\d)"
_Y4_BASE = rf"(?<![\w$£€¥#.,/:+])(?:1\d{{3}}|2[01]\d{{2}}|2200){_NOT_AFTER}"
_Y4 = (
    _Y4_BASE + rf"(?![{_DASH}/]\d{{1,2}}(?!\d))"
)  # "1998-02" is not the year 1998 (but "1968-69" is a yspan)
_YM = rf"(?<![\w$£€¥#.,/:])[1-9]\d{{2,3}}{_NOT_AFTER}"
_DAY = r"[0-3]?\d(?:st|nd|rd|th)?"
_ORD_Q = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}

_DATE = re.compile(
    "|".join(
        [
            r"(?P<iso>(?<![\w.-])(?P<iso_y>1\d{3}|2[01]\d{2})-(?P<iso_m>\d\d)-(?P<iso_d>\d\d)(?![\w-]))",
            rf"(?P<dmy>(?<![\w.,])(?P<dmy_d>{_DAY})\s+(?:of\s+)?(?P<dmy_m>{_MONTH})\s*,?\s*(?P<dmy_y>{_YM}))",
            rf"(?P<mdy>(?P<mdy_m>{_MONTH})\s+(?P<mdy_d>{_DAY})\s*,?\s*(?P<mdy_y>{_YM}))",
            rf"(?P<my>(?P<my_m>{_MONTH})\s*,?\s*(?:of\s+)?(?P<my_y>{_YM}))",
            rf"(?P<season>(?<!\w)(?P<season_n>(?i:spring|summer|autumn|fall|winter))\s+(?:of\s+)?(?P<season_y>{_Y4}))",
            rf"(?P<q>(?<!\w)Q(?P<q_n>[1-4])\s*(?:of\s+)?(?P<q_y>{_Y4}))",
            rf"(?P<qw>(?<!\w)(?P<qw_n>(?i:first|second|third|fourth|1st|2nd|3rd|4th))\s+(?i:quarter)\s+"
            rf"(?:of\s+)?(?P<qw_y>{_Y4}))",
            r"(?P<cent>(?<![\w.,])(?P<cent_n>[2-9]|1\d|2[0-2])(?:st|nd|rd|th)(?:\s+|-)(?i:century)(?!\w))",
            r"(?P<dec>(?<![\w$£€¥#.,/:])(?P<dec_y>1\d\d0|20\d0|2100)(?:'?s|\s's)(?!\w))",
            rf"(?P<yspan>(?P<ys_a>{_Y4_BASE})\s?(?P<ys_sep>[{_DASH}/])\s?(?P<ys_b>\d\d)(?![\w%]|[.,:/-]\d))",
            rf"(?P<year>{_Y4})",
        ]
    )
)
_RELATIVE = re.compile(
    r"(?i:(?<!\w)(?:(?P<rel>this|last|next|previous|the\s+past)\s+year|(?P<ago>\d{1,2}|one|two|three|four|five"
    r"|ten)\s+years\s+ago|(?P<now>currently|at\s+present|presently|as\s+of\s+(?:today|now)))(?!\w))"
)
_SMALL = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10}

_LABEL_BEFORE = re.compile(
    r"(?<!\w)(?:No|Nos|no|nos|Quay|Route|route|Platform|platform|Flight|flight|Room|room|Gate|gate|page|pages"
    r"|pp|p|number|Number|Highway|Interstate|ISBN|version|Version|Model|Type|Class|Unit|Pier|Berth|Track"
    r"|Line|Bus|Hwy|Street|St|Avenue|Ave|Code|code|PIN|#|\$|£|€|US\$)\s?\.?\s*$"
)
_UNIT_AFTER = re.compile(
    r"\s*(?i:km|kms|kilomet|metre|meter|m\b|cm\b|mm\b|mi\b|miles?|feet|foot|ft\b|yards?|kg|g\b|lb|pounds"
    r"|tonnes?|tons?|people|persons|inhabitants|residents|votes|points|pts|goals|runs|copies|units|troops"
    r"|soldiers|men\b|women\b|acres|hectares|ha\b|sq|square|%|percent|per\s+cent|million|billion|thousand"
    r"|hours|hrs|minutes|seconds|mph|km/h|kph|rpm|hp\b|kw|mw|passengers|pages|dollars|euros"
    r"|horsepower|bhp|cc\b|calories|\+)"
)


def _dt(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def _month_span(year: int, month: int, months: int = 1) -> tuple[datetime, datetime]:
    idx = year * 12 + month - 1 + months
    return _dt(year, month), _dt(idx // 12, idx % 12 + 1)


@dataclass(frozen=True)
class _Mention:
    """One date in the text: its span, its unit's bounds, and whether it is a bare year."""

    start: int
    end: int
    lo: datetime
    hi: datetime
    grain: str  # day, month, year, coarse (decade/century), span ("1968-69"), relyear, now


def _month_of(tok: str) -> int:
    return _MONTH_NUM[tok.replace(".", "").strip().lower()]


def _bounds(m: re.Match[str]) -> tuple[datetime, datetime, str] | None:
    """Interval of a date match, or None if the numbers do not form a valid date."""
    kind = m.lastgroup
    g = m.group
    if kind in ("iso", "dmy", "mdy"):
        y = int(g(kind + "_y"))
        mo = int(g("iso_m")) if kind == "iso" else _month_of(g(kind + "_m"))
        d = int(re.sub(r"\D", "", g(kind + "_d")))
        if not (100 <= y <= 2200 and 1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]):
            return None
        lo = _dt(y, mo, d)
        return lo, lo + timedelta(days=1), "day"
    if kind == "my":
        y = int(g("my_y"))
        return (*_month_span(y, _month_of(g("my_m"))), "month") if 100 <= y <= 2200 else None
    if kind == "season":
        first = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}[g("season_n").lower()]
        return *_month_span(int(g("season_y")), first, 3), "month"
    if kind in ("q", "qw"):
        n = int(g("q_n")) if kind == "q" else _ORD_Q[g("qw_n").lower()]
        return *_month_span(int(g(kind + "_y")), 3 * n - 2, 3), "month"
    if kind == "cent":
        n = int(g("cent_n"))
        return _dt((n - 1) * 100), _dt(n * 100), "coarse"
    if kind == "dec":
        y = int(g("dec_y"))
        return _dt(y), _dt(y + (100 if y % 100 == 0 else 10)), "coarse"
    if kind == "yspan":
        a = int(g("ys_a"))
        b = a // 100 * 100 + int(g("ys_b"))
        if g("ys_sep") == "-" and int(g("ys_b")) <= 12 and b != a + 1:
            return None  # "2001-12" is more likely December 2001 than 2001 to 2012
        return (_dt(a), _dt(b + 1), "span") if b > a else None
    y = int(g("year"))
    return _dt(y), _dt(y + 1), "year"


def _mentions(text: str, reference: datetime | None) -> list[_Mention]:
    """All plausible dates in order, after dropping numbers that are labels or quantities."""
    out: list[_Mention] = []
    for m in _DATE.finditer(text):
        b = _bounds(m)
        if b is None:
            continue
        if m.lastgroup in ("year", "yspan", "dec", "my", "dmy", "mdy"):
            if _LABEL_BEFORE.search(text, max(0, m.start() - 12), m.start()):
                continue
            if _UNIT_AFTER.match(text, m.end()):
                continue
        out.append(_Mention(m.start(), m.end(), *b))
    if reference is not None:
        ref = reference if reference.tzinfo else reference.replace(tzinfo=UTC)
        ref = ref.astimezone(UTC)
        for m in _RELATIVE.finditer(text):
            if any(x.start < m.end() and m.start() < x.end for x in out):
                continue
            if m["now"]:
                if ref.year > 9998:
                    continue
                day = _dt(ref.year, ref.month, ref.day)
                out.append(_Mention(m.start(), m.end(), day, day + timedelta(days=1), "now"))
                continue
            if m["rel"]:
                delta = {"this": 0, "next": 1}.get(m["rel"].lower(), -1)
            else:
                ago = m["ago"].lower()
                delta = -(int(ago) if ago.isdigit() else _SMALL[ago])
            y = ref.year + delta
            if 1 <= y <= 9998:
                out.append(_Mention(m.start(), m.end(), _dt(y), _dt(y + 1), "relyear"))
        out.sort(key=lambda x: x.start)
    return out


# --- expressions ------------------------------------------------------------------------------------------

_FILLER = (  # "in the early 1990s", "by the end of 2005", "in the year 1900"
    r"(?:the\s+)?(?:(?:early|mid|late)(?:\s?-\s?|\s+)"
    r"|(?:end|beginning|start|middle|course)\s+of\s+(?:the\s+)?|year\s+)?"
)
_PREFIX = re.compile(
    r"(?<!\w)(?P<w>(?i:from|between|since|as\s+of|as\s+at|until|till|til|up\s+to|up\s+until|through|thru"
    r"|throughout|by|after|before|during|in|on|circa|around|about|ca\.|c\.|born|died|b\.|d\.))\s*"
    rf"(?i:{_FILLER})\(?\s*$"
)
_CONNECT = re.compile(rf"\s*(?P<c>(?i:to|until|till|til|through|thru|and|up\s+to)|[{_DASH}])\s*$")
_OPEN_END = re.compile(rf"\s*(?:(?i:to|until|till)|[{_DASH}])\s*(?i:(?:the\s+)?present|date|now|today)(?!\w)")
_DANGLING = re.compile(rf"\s*[{_DASH}](?=\s*(?:\)|$))")  # "( 2014 - )": still ongoing
_LIST_HEAD = re.compile(r"\s*(?:[-*•]\s*)?$")  # a year that heads a list item: "- 2016 : Elected ..."
_HEAD_SEP = re.compile(rf"\s*[:{_DASH}]\s")
_ONWARDS = re.compile(r"\s*(?i:onwards?|and\s+(?:after|later|beyond))(?!\w)")
_RANGE_PREFIXES = frozenset({"", "from", "between", "in", "during", "throughout", "circa", "around", "about"})


def _word(m: re.Match[str] | None) -> str:
    return " ".join(m["w"].lower().split()) if m is not None else ""


def _expressions(text: str, reference: datetime | None) -> list[Validity]:
    """Every temporal expression in ``text``, in order of appearance."""
    ments = _mentions(text, reference)
    found: list[Validity] = []
    i = 0
    while i < len(ments):
        a = ments[i]
        i += 1
        pre = _PREFIX.search(text, max(0, a.start - 60), a.start)
        word = _word(pre)
        if word in ("born", "died", "b.", "d."):
            continue
        start = pre.start() if pre is not None else a.start

        def emit(lo: datetime | None, hi: datetime | None, end: int, rule: str, s: int = start) -> None:
            if lo is not None and hi is not None and not lo < hi:
                return
            found.append(Validity(lo, hi, text[s:end], s, end, rule))

        range_rule = "between" if word == "between" else "range"
        if a.grain == "now":
            emit(a.lo, None, a.end, "as_of", a.start)
            continue
        if word in _RANGE_PREFIXES:
            if a.grain == "span":
                emit(a.lo, a.hi, a.end, range_rule)
                continue
            if i < len(ments):
                b = ments[i]
                con = _CONNECT.match(text, a.end, b.start)
                if (
                    con is not None
                    and con.end() == b.start
                    and (con["c"].lower() == "and") == (word == "between")
                    and b.grain not in ("now", "span")
                    and a.lo < b.hi
                ):
                    i += 1
                    emit(a.lo, b.hi, b.end, range_rule)
                    continue
            if (oe := _OPEN_END.match(text, a.end) or _DANGLING.match(text, a.end)) is not None:
                emit(a.lo, None, oe.end(), "range")
                continue
        if word in ("", "from", "since", "in") and (on := _ONWARDS.match(text, a.end)) is not None:
            emit(a.lo, None, on.end(), "since")
            continue
        point = {"day": "on_date", "month": "in_month", "span": "range"}.get(a.grain, "in_year")
        rule, lo, hi = {
            "from": ("since", a.lo, None),
            "since": ("since", a.lo, None),
            "as of": ("as_of", a.lo, None),
            "as at": ("as_of", a.lo, None),
            "by": ("by", a.lo, None),
            "until": ("until", None, a.lo),
            "till": ("until", None, a.lo),
            "til": ("until", None, a.lo),
            "up to": ("until", None, a.lo),
            "up until": ("until", None, a.lo),
            "through": ("until", None, a.hi),
            "thru": ("until", None, a.hi),
            "after": ("after", a.hi, None),
            "before": ("before", None, a.lo),
            "during": ("during", a.lo, a.hi),
            "throughout": ("during", a.lo, a.hi),
        }.get(word, (point, a.lo, a.hi))
        bare = word == "" and a.grain in ("year", "coarse")
        if bare and not (_LIST_HEAD.fullmatch(text, 0, a.start) and _HEAD_SEP.match(text, a.end)):
            continue  # a bare year ("the 2004 election") is too weak to date the whole claim
        emit(lo, hi, a.end, rule)
    return found


def _pick(found: list[Validity]) -> Validity | None:
    """First interval-shaped expression, else the first point expression."""
    for v in found:
        if v.rule in _INTERVAL_RULES:
            return v
    return found[0] if found else None


def extract_validity(
    sentence: str, context: Sequence[str] = (), *, reference: datetime | None = None
) -> Validity | None:
    """The sentence's valid time; else the nearest one in ``context`` (inherited); else None.

    ``reference`` anchors relative words ("this year", "currently"); without it they are ignored.
    """
    own = _pick(_expressions(sentence, reference))
    if own is not None:
        return own
    for ctx in context:
        v = _pick(_expressions(ctx, reference))
        if v is not None:
            return replace(v, inherited=True)
    return None
