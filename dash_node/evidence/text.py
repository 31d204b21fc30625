"""Text normalisation, tokenisation and alignment for the rule judge.

A claim text becomes a sequence of *content tokens*: stemmed words (stopwords dropped, negators counted
rather than kept), numbers folded with their scale and unit into one comparable value ("$4.2bn" and
"4,200 million dollars" are the same quantity), dates and years as (year, month, day), and words from a
curated antonym lexicon as a shared placeholder so "rose" and "fell" land at the same aligned position.
Two token sequences are aligned with difflib; the alignment says which values differ at matching
positions, whether the texts differ in substance elsewhere, and how similar they are. Everything is
deterministic and cached per text, because ingest compares one new claim with many stored ones.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import Stemmer

__all__ = [
    "Alignment",
    "Analysis",
    "align",
    "analyse",
    "dates_compatible",
    "lemma",
    "norm_predicate",
    "norm_subject",
    "numbers_compatible",
    "objects_equal",
]

_w = str.split  # word lists are written as one string each
# fmt: off
NEGATORS = frozenset(_w("not no never none neither nobody nothing nowhere without cannot"))
STOP = frozenset(_w(
    """a an the this that these those it its they them their there here is are was were be been being am
    has have had having do does did done will would shall should can could may might must of in on at by
    for with from to into onto over under about around approximately roughly nearly almost some and or but
    as than then so such also which who whom whose what when where while if because per via according said
    says reportedly just only still yet already currently now today total totalled totaled totalling
    amount amounted amounts stood stand stands reached reach reaches came come comes reported posted
    corp corporation inc ltd llc plc co gmbh mr ms mrs dr both each all any own one nor"""))
# A year after one of these is a date; after WHEN_PREPS it marks *when* a statement holds.
YEAR_PREPS = frozenset(_w("in during since by until till from through throughout for before after year fy "
                           "fiscal of as"))
WHEN_PREPS = frozenset(_w("in during for throughout through by until till from of as year fy fiscal on"))
ANNUAL_NOUNS = frozenset(_w(
    "revenue revenues sales profit profits budget census election elections season report results earnings "
    "figures final olympics edition harvest crop survey output turnover"))
MONTHS = {m: i + 1 for i, ms in enumerate(_w(
    "january:jan february:feb march:mar april:apr may june:jun july:jul august:aug september:sep:sept "
    "october:oct november:nov december:dec")) for m in ms.split(":")}
NUMBER_WORDS = {w: float(i) for i, w in enumerate(_w(
    "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty")) if w != "_"} | {
    "thirty": 30.0, "forty": 40.0, "fifty": 50.0, "sixty": 60.0, "seventy": 70.0, "eighty": 80.0,
    "ninety": 90.0, "hundred": 100.0}
SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "mln": 1e6, "billion": 1e9, "bn": 1e9,
          "trillion": 1e12, "tn": 1e12}
CURRENCY_SCALES = {"m": 1e6, "b": 1e9}  # only after a currency sign: "$4.2m"; otherwise "m" is metres
UNITS: dict[str, tuple[str, float]] = {}
for _names, _unit, _factor in [
    ("m metre metres meter meters", "m", 1.0), ("km kilometre kilometres kilometer kilometers", "m", 1e3),
    ("cm centimetre centimetres centimeter centimeters", "m", 1e-2), ("mm millimetre millimetres", "m", 1e-3),
    ("mi mile miles", "mi", 1.0), ("ft feet foot", "ft", 1.0), ("kg kilogram kilograms kilos", "kg", 1.0),
    ("t tonne tonnes ton tons", "kg", 1e3), ("km2 sqkm", "km2", 1.0), ("ha hectare hectares", "ha", 1.0),
    ("l litre litres liter liters", "l", 1.0), ("mw megawatt megawatts", "w", 1e6),
    ("gw gigawatt gigawatts", "w", 1e9), ("kwh", "kwh", 1.0), ("usd dollar dollars", "usd", 1.0),
    ("eur euro euros", "eur", 1.0), ("gbp pound pounds sterling", "gbp", 1.0), ("yen jpy", "jpy", 1.0),
    ("°c celsius degrees", "degc", 1.0), ("pp", "pp", 1.0),
]:
    for _n in _w(_names):
        UNITS[_n] = (_unit, _factor)
CURRENCIES = {"$": "usd", "€": "eur", "£": "gbp", "¥": "jpy"}
# Irregular forms, so "rose" meets "rise" and "paid" meets "pay" ("found" stays: it is also "to found").
IRREGULAR = dict(p.split(":") for p in _w(
    "rose:rise risen:rise fell:fall fallen:fall won:win lost:lose grew:grow grown:grow shrank:shrink "
    "shrunk:shrink sold:sell bought:buy higher:high highest:high lower:low lowest:low most:more least:less "
    "fewer:few fewest:few greater:great greatest:great larger:large largest:large bigger:big smaller:small "
    "earlier:early later:late warmer:warm cooler:cool hotter:hot colder:cold stronger:strong weaker:weak "
    "cheaper:cheap began:begin begun:begin built:build has:have had:have drove:drive went:go gone:go "
    "paid:pay said:say made:make held:hold led:lead took:take taken:take gave:give given:give kept:keep "
    "met:meet ran:run saw:see seen:see spent:spend told:tell thought:think wrote:write written:write "
    "left:leave brought:bring became:become broke:break broken:break chose:choose chosen:choose drew:draw "
    "drawn:draw ate:eat eaten:eat fought:fight flew:fly flown:fly forgot:forget froze:freeze frozen:freeze "
    "got:get gotten:get hid:hide hidden:hide hung:hang knew:know known:know laid:lay lent:lend meant:mean "
    "rode:ride rang:ring rung:ring sank:sink sunk:sink sent:send shook:shake shot:shoot sang:sing sung:sing "
    "sat:sit slept:sleep spoke:speak spoken:speak stole:steal stolen:steal struck:strike swore:swear "
    "swam:swim taught:teach tore:tear threw:throw thrown:throw understood:understand woke:wake wore:wear "
    "withdrew:withdraw withdrawn:withdraw wound:wind sought:seek caught:catch dealt:deal fed:feed felt:feel "
    "heard:hear rebuilt:rebuild sped:speed spun:spin stuck:stick swept:sweep wept:weep overtook:overtake"))
# Attribute words that name the same measured quantity ("72 metres tall" / "a height of 72 m").
SYNONYMS: dict[str, str] = {}
for _group in ("tall height", "long length", "deep depth", "wide width breadth broad", "heavy weight weigh",
               "employee employ staff worker workforce", "inhabitant resident population populace",
               "shop store outlet", "price cost", "revenue sales turnover"):
    for _x in _w(_group):
        SYNONYMS[_x] = _w(_group)[0]
_NEG_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non")
# Antonym axes: words on the same side are treated as synonyms, opposite sides as a conflict.
_AXES = {
    "change": ("rise increase grow climb surge soar jump expand gain up improve strengthen advance raise",
               "fall decrease decline drop shrink plunge plummet slump contract down lose worsen weaken dip "
               "slip reduce cut lower"),
    "outcome": ("win beat", "lose"),
    "open": ("open reopen", "close shut"),
    "alive": ("alive", "dead die"),
    "truth": ("true correct accurate", "false incorrect wrong"),
    "level": ("high above more great large big maximum", "low below less few small minimum"),
    "order": ("before early prior", "after late"),
    "verdict": ("accept approve grant pass confirm uphold endorse",
                "reject deny refuse veto overturn decline"),
    "legal": ("legal lawful permitted allowed allow permit", "illegal unlawful prohibited banned ban forbid"),
    "temperature": ("warm warming heat hot", "cool cooling cold"),
    "trade": ("buy acquire purchase", "sell divest"),
    "hiring": ("hire recruit", "fire dismiss"),
    "presence": ("present include", "absent exclude"),
    "stance": ("support favour favor", "oppose"),
    "result": ("profit surplus", "loss deficit"),
    "success": ("succeed success successful", "fail failure unsuccessful"),
    "guilt": ("guilty convict", "innocent acquit"),
    "ns": ("north northern", "south southern"), "ew": ("east eastern", "west western"),
    "online": ("online", "offline"), "access": ("public", "private"), "sign": ("positive", "negative"),
    "share": ("majority", "minority"), "strength": ("strong", "weak"),
    "price": ("cheap inexpensive", "expensive costly"), "position": ("inside", "outside"),
    "rank": ("first", "last"),
}
ONEOFF_WORDS = (
    "found founded born die build complete establish launch incorporate release invent discover sign "
    "premiere inaugurate construct publish open create debut marry retire introduce unveil ratify abolish "
    "dissolve merge acquire demolish discontinue"
)
# fmt: on

_stem_lock = threading.Lock()
_stemmer = Stemmer.Stemmer("english")
_lemma_cache: dict[str, str] = {}


def lemma(word: str) -> str:
    """Irregular forms first (so "rose" meets "rise"), then the Snowball stem; cached."""
    out = _lemma_cache.get(word)
    if out is None:
        out = IRREGULAR.get(word)
        if out is None:
            with _stem_lock:  # the Stemmer object is not thread-safe
                out = _stemmer.stemWord(word)
        _lemma_cache[word] = out
    return out


ANTONYMS: dict[str, frozenset[tuple[str, int]]] = {}
for _axis, (_pos, _neg) in _AXES.items():
    for _sign, _words in ((1, _pos), (-1, _neg)):
        for _word in _w(_words):
            _lem = lemma(_word)
            ANTONYMS[_lem] = ANTONYMS.get(_lem, frozenset()) | {(_axis, _sign)}
ONEOFF = frozenset(lemma(w) for w in _w(ONEOFF_WORDS))
SYNONYMS = {lemma(w): lemma(base) for w, base in SYNONYMS.items()}

_RAW = re.compile(
    r"""\b\d{4}-\d{1,2}-\d{1,2}\b                        # ISO date
      |\b(?:[^\W\d_]+\d[^\W_]*|\d+[^\W\d_]+\d[^\W_]*)   # codes: Q3, A320, km2
      |\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?         # numbers
      |[$€£¥%]
      |[^\W\d_]+(?:'[^\W\d_]+)*                         # words""",
    re.X,
)


def _kind(tok: str) -> str:
    c = tok[0]
    if c.isdigit():
        if "-" in tok:
            return "iso"
        return "num" if tok[-1].isdigit() and not any(ch.isalpha() for ch in tok) else "code"
    if c in "$€£¥":
        return "cur"
    if c == "%":
        return "pct"
    return "code" if any(ch.isdigit() for ch in tok) else "word"


_SUBS = [
    (re.compile(r"\bit\s+is\s+(?:not\s+true|untrue|false|not\s+the\s+case)\s+that\b", re.I), " not "),
    (re.compile(r"\bit\s+is\s+(?:true|the\s+case)\s+that\b", re.I), " "),
    (re.compile(r"\bno\s+longer\b", re.I), " not "),
    (re.compile(r"\bwon't\b", re.I), "will not"),
    (re.compile(r"\bcan't\b", re.I), "can not"),
    (re.compile(r"\bshan't\b", re.I), "shall not"),
    (re.compile(r"n't\b", re.I), " not"),
    (re.compile(r"\bper\s*cent\b|\bpercent\b", re.I), "%"),
    (re.compile(r"\bpercentage\s+points?\b", re.I), "pp"),
    (re.compile(r"\bsquare\s+(?:kilometres|kilometers|km)\b", re.I), "km2"),
]
_NO_LONGER = re.compile(r"\bno\s+longer\b|\bany\s*more\b|\bany\s+longer\b", re.I)
_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2013": "-", "\u2014": "-"})

NUM, DATE, ANT = "<num", "<date>", "<ant>"


@dataclass(frozen=True, slots=True)
class Analysis:
    """One text as aligned content tokens. ``vals`` holds (value, precision, surface) for numbers,
    (y, m, d, surface) for dates, the lemma for antonym words and the casefolded word otherwise."""

    keys: tuple[str, ...]
    vals: tuple[object, ...]
    proper: tuple[bool, ...]  # capitalised, not sentence-initial: a name
    when: tuple[bool, ...]  # a date that marks when the statement holds ("in 2019")
    neg: int  # negators seen ("neither ... nor" counts once)
    no_longer: bool  # "no longer", "any more": the statement reports a change
    oneoff: bool  # a once-only event verb (founded, born, completed): its date is a fact, not a "when"
    ents: frozenset[str]  # keys of capitalised tokens, including a capitalised first word


_SUB_TRIGGERS = ("that", "that", "longer", "won't", "can't", "shan't", "n't", "cent", "percentage", "square")


def _normalise(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_APOS)
    low = text.casefold()
    for (pattern, repl), trigger in zip(_SUBS, _SUB_TRIGGERS, strict=True):
        if trigger in low:  # most texts need none of these; skipping them is most of the speed
            text = pattern.sub(repl, text)
    return text


@lru_cache(maxsize=65536)
def negations(text: str) -> int:
    """How many negators a text holds, as ``analyse`` counts them, without the rest of its work."""
    return sum(1 for t in _RAW.findall(_normalise(text)) if t.casefold() in NEGATORS)


@lru_cache(maxsize=65536)
def analyse(text: str) -> Analysis:
    """Tokenise one claim text (cached: a stored claim is compared with many new ones)."""
    no_longer = ("longer" in text or "more" in text) and bool(_NO_LONGER.search(text))
    caseless = text == text.casefold() or text == text.upper()  # no capitals to tell names by
    raw = [(_kind(t), t) for t in _RAW.findall(_normalise(text))]
    keys: list[str] = []
    vals: list[object] = []
    proper: list[bool] = []
    when: list[bool] = []
    ents: set[str] = set()
    neg = 0
    oneoff = False
    prev = ""
    currency = ""
    n = len(raw)

    def word_at(j: int) -> str:
        return raw[j][1].casefold() if j < n and raw[j][0] in ("word", "code") else ""

    def add(key: str, val: object, prop: bool = False, is_when: bool = False) -> None:
        keys.append(key)
        vals.append(val)
        proper.append(prop)
        when.append(is_when)

    i = 0
    while i < n:
        kind, tok = raw[i]
        low = tok.casefold()
        if kind == "word":  # fast path for the common tokens: stopwords, negators, plain content words
            if low.endswith("'s"):
                low = low[:-2]
            if low in STOP and low != "may":
                prev, currency, i = low, "", i + 1
                continue
            if low in NEGATORS:
                neg += 1  # "nor" is a stopword, so "neither ... nor" counts once
                prev, currency, i = low, "", i + 1
                continue
            if low not in MONTHS and low not in NUMBER_WORDS:
                lem = lemma(low)
                oneoff = oneoff or lem in ONEOFF
                capital = tok[0].isupper() and not caseless
                if capital:
                    ents.add(lem)
                if lem in ANTONYMS:
                    add(ANT, lem)
                else:
                    add(SYNONYMS.get(lem, lem), low, capital and i > 0)
                prev, currency, i = low, "", i + 1
                continue
        if kind == "cur":
            currency = CURRENCIES[tok]
            i += 1
            continue
        if kind == "iso":
            y, mo, d = (int(x) for x in tok.split("-"))
            add(DATE, (y, mo, d, tok), False, prev in WHEN_PREPS)
            prev, i = "", i + 1
            continue
        if (
            kind == "word"
            and low in MONTHS
            and ((i > 0 and raw[i - 1][0] == "num") or (raw[i + 1 : i + 2] and raw[i + 1][0] == "num"))
        ):
            # "5 March 2019", "March 5, 2019", "March 2019": one date token
            day, start = 0, i
            if keys and keys[-1].startswith(NUM) and raw[i - 1][0] == "num":
                v = vals[-1]
                if isinstance(v, tuple) and float(v[0]).is_integer() and 1 <= v[0] <= 31:
                    day, start = int(v[0]), i - 1
                    for lst in (keys, vals, proper, when):
                        lst.pop()
            year = 0
            j = i + 1
            while j < n and raw[j][0] == "num" and j <= i + 2:
                val = float(raw[j][1].replace(",", ""))
                if val >= 1000 and val.is_integer():
                    year = int(val)
                elif 1 <= val <= 31 and not day and val.is_integer():
                    day = int(val)
                else:
                    break
                j += 1
            is_when = (prev in WHEN_PREPS) or (day == 0 and prev in ("", "of"))
            add(DATE, (year, MONTHS[low], day, " ".join(t for _, t in raw[start:j])), False, is_when)
            prev, i = "", j
            continue
        if (
            kind == "num"
            and i > 0
            and raw[i - 1][0] == "word"
            and raw[i - 1][1].casefold() not in STOP
            and (raw[i - 1][1][:1].isupper() if not caseless else word_at(i + 1) in STOP or i + 1 == n)
            and "." not in tok
            and "," not in tok
            and not currency
            and word_at(i + 1) not in UNITS
            and word_at(i + 1) not in SCALES
            and raw[i + 1 : i + 2] != [("pct", "%")]
            and keys
            and keys[-1][0] != "<"
        ):
            add(keys[-1] + "#" + tok, tok, True)  # "Quay 7", "Terminal 3": part of the name
            prev, i = "", i + 1
            continue
        if kind in ("num", "word") and (kind == "num" or low in NUMBER_WORDS):
            value = NUMBER_WORDS[low] if kind == "word" else float(tok.replace(",", ""))
            decimals = len(tok.split(".")[1]) if kind == "num" and "." in tok else 0
            j = i + 1
            scale = 1.0
            w = word_at(j)
            if w in SCALES or (currency and w in CURRENCY_SCALES):
                scale = SCALES.get(w) or CURRENCY_SCALES[w]
                j += 1
                w = word_at(j)
            unit, factor = currency, 1.0
            if j < n and raw[j][0] == "pct":
                unit, j = "%", j + 1
            elif w in UNITS and not (currency and UNITS[w][0] == currency):
                unit, factor = UNITS[w]
                j += 1
            elif currency and w in UNITS:
                j += 1  # "$4 dollars": the unit repeats the sign
            if (
                kind == "num"
                and not currency
                and unit == ""
                and scale == 1.0
                and decimals == 0
                and "," not in tok
                and 1000 <= value <= 2199
                and (prev in YEAR_PREPS or word_at(j) in ANNUAL_NOUNS or i == 0)
            ):
                add(DATE, (int(value), 0, 0, tok), False, prev in WHEN_PREPS or word_at(j) in ANNUAL_NOUNS)
            else:
                precision = 10.0**-decimals * scale * factor
                surface = " ".join(t for _, t in raw[i:j])
                add(f"{NUM}:{unit}>", (value * scale * factor, precision, (currency and "$") + surface))
            currency, prev, i = "", "", j
            continue
        currency = ""
        if kind == "pct":
            i += 1
            continue
        if low in NEGATORS:
            neg += 1  # "nor" is a stopword, so "neither ... nor" counts once
            prev, i = low, i + 1
            continue
        if low in STOP:
            prev, i = low, i + 1
            continue
        lem = lemma(low) if kind == "word" else low
        oneoff = oneoff or lem in ONEOFF
        capital = tok[:1].isupper() and not caseless
        if capital:
            ents.add(lem)
        if lem in ANTONYMS:
            add(ANT, lem)
        else:
            add(SYNONYMS.get(lem, lem), low, capital and i > 0)
        prev, i = low, i + 1
    return Analysis(
        tuple(keys), tuple(vals), tuple(proper), tuple(when), neg, no_longer, oneoff, frozenset(ents)
    )


def numbers_compatible(a: tuple, b: tuple) -> bool:
    """Equal within 1e-9 relative, or equal up to the coarser precision ("4.2bn" vs "4.24bn")."""
    va, pa = a[0], a[1]
    vb, pb = b[0], b[1]
    diff = abs(va - vb)
    if diff <= 1e-9 * max(abs(va), abs(vb)):
        return True
    return pa != pb and diff <= max(pa, pb) / 2 * (1 + 1e-9)


def dates_compatible(a: tuple, b: tuple) -> bool:
    """Every field both dates specify agrees ("2019" fits "March 2019")."""
    return all(x == y or x == 0 or y == 0 for x, y in zip(a[:3], b[:3], strict=True))


@lru_cache(maxsize=4096)
def antonym_relation(a: str, b: str) -> int:
    """1 same meaning (or same side of an axis), -1 opposite sides, 0 unrelated."""
    if a == b:
        return 1
    sa, sb = ANTONYMS.get(a, frozenset()), ANTONYMS.get(b, frozenset())
    if any((ax, s) in sb for ax, s in sa):
        return 1
    if any((ax, -s) in sb for ax, s in sa):
        return -1
    return 0


@dataclass(slots=True)
class Alignment:
    """How two analyses line up; ``x``/``y`` are the first and second argument of :func:`align`."""

    ratio: float = 1.0  # aligned share, values ignored
    similarity: float = 1.0  # aligned share with agreeing values
    value_diffs: list[tuple[int, int]] | None = None  # (i in x, j in y) numbers/dates that differ
    flips: list[tuple[str, str]] | None = None  # antonym pairs at aligned positions
    substantive: bool = False  # a replaced stretch with content on both sides ("depth" vs "length")
    entity_diff: bool = False  # a name only one side has, or differing names
    qualifier_diff: bool = False  # a number or date only one side has
    x_covered: bool = True  # every token of x aligned with an agreeing token of y
    y_covered: bool = True


def _typo_close(a: object, b: object) -> bool:
    """A misspelling of the same word. Tokens with digits are identifiers ("Group 10008" vs "Group 10002",
    "A320" vs "A321"): one differing digit is another thing, never a typo."""
    return (
        isinstance(a, str)
        and isinstance(b, str)
        and not any(ch.isdigit() for ch in a + b)
        and min(len(a), len(b)) >= 5
        and a[0] == b[0]
        and SequenceMatcher(None, a, b).ratio() >= 0.8
    )


def _name_number(name_key: str, num_key: str, num_val: object) -> bool:
    """ "Pro 6" read as a name on one side and as a bare number (lower-case text) on the other."""
    if "#" not in name_key or num_key != NUM + ":>" or not isinstance(num_val, tuple):
        return False
    return name_key.rsplit("#", 1)[1] == num_val[2]


def _lex(key: str, val: object) -> str:
    """The word behind a token: the lemma for antonym-lexicon words, else the key (numbers give "<")."""
    return val if key == ANT and isinstance(val, str) else key


def _prefix_antonym(a: object, b: object) -> bool:
    """ "profitable" vs "unprofitable", "legal" vs "illegal": a negating prefix on the same word."""
    if not (isinstance(a, str) and isinstance(b, str)):
        return False
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return len(short) >= 4 and any(long_ == p + short for p in _NEG_PREFIXES)


def _positional_opcodes(xk: tuple, yk: tuple) -> list | None:
    """Opcodes for two equally long sequences that differ only in single positions (a template with a
    value swapped — most claim pairs worth judging): the same answer SequenceMatcher gives, without its
    cost. None when the shape is anything else."""
    if len(xk) != len(yk):
        return None
    diff = [i for i, (a, b) in enumerate(zip(xk, yk, strict=True)) if a != b]
    if len(diff) * 3 > len(xk) or any(b - a == 1 for a, b in itertools.pairwise(diff)):
        return None  # too different, or adjacent changes that an insertion could explain better
    if any(xk[i] in yk or yk[i] in xk for i in diff):
        return None  # a moved token: let SequenceMatcher find the real alignment
    ops, start = [], 0
    for i in diff:
        if i > start:
            ops.append(("equal", start, i, start, i))
        ops.append(("replace", i, i + 1, i, i + 1))
        start = i + 1
    if start < len(xk):
        ops.append(("equal", start, len(xk), start, len(xk)))
    return ops


def align(x: Analysis, y: Analysis) -> Alignment:
    """Align content tokens and classify every difference."""
    xk, yk = x.keys, y.keys
    out = Alignment(value_diffs=[], flips=[])
    total = len(xk) + len(yk)
    if not total:
        return out
    ops = (
        [("equal", 0, len(xk), 0, len(yk))]
        if xk == yk
        else _positional_opcodes(xk, yk) or SequenceMatcher(None, xk, yk, autojunk=False).get_opcodes()
    )
    struct = compat = 0
    pend_x: list[int] = []
    pend_y: list[int] = []

    def pair(i: int, j: int) -> None:
        nonlocal struct, compat
        key = xk[i]
        if key[0] != "<":
            struct += 1
            compat += 1
        elif key == ANT:
            rel = antonym_relation(x.vals[i], y.vals[j])  # type: ignore[arg-type]
            if rel == 1:
                struct += 1
                compat += 1
            elif rel == -1:
                struct += 1
                out.flips.append((x.vals[i], y.vals[j]))  # type: ignore[union-attr, arg-type]
            else:
                out.substantive = True
        else:
            ok = (dates_compatible if key == DATE else numbers_compatible)(x.vals[i], y.vals[j])  # type: ignore
            struct += 1
            if ok:
                compat += 1
            else:
                out.value_diffs.append((i, j))  # type: ignore[union-attr]

    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                pair(i, j)
            continue
        xs, ys = list(range(i1, i2)), list(range(j1, j2))
        if tag == "replace" and len(xs) == len(ys):
            done = set()
            for i, j in zip(xs, ys, strict=True):
                if _name_number(xk[i], yk[j], y.vals[j]) or _name_number(yk[j], xk[i], x.vals[i]):
                    struct += 1
                    compat += 1
                elif _prefix_antonym(_lex(xk[i], x.vals[i]), _lex(yk[j], y.vals[j])):
                    struct += 1
                    out.flips.append((_lex(xk[i], x.vals[i]), _lex(yk[j], y.vals[j])))  # type: ignore[union-attr]
                elif xk[i][0] == "<" or yk[j][0] == "<":
                    continue
                elif _typo_close(x.vals[i], y.vals[j]):
                    struct += 1
                    compat += 1
                else:
                    continue
                done.add((i, j))
            xs = [i for i in xs if (i, i - i1 + j1) not in done]
            ys = [j for j in ys if (j - j1 + i1, j) not in done]
        pend_x += xs
        pend_y += ys
    # Tokens that moved ("In 2019, X ..." vs "X ... in 2019") pair up by key.
    free: dict[str, list[int]] = {}
    for j in pend_y:
        free.setdefault(yk[j], []).append(j)
    rest_x = []
    for i in pend_x:
        js = free.get(xk[i])
        if js:
            pair(i, js.pop(0))
        else:
            rest_x.append(i)
    rest_y = [j for js in free.values() for j in js]
    out.entity_diff = any(x.proper[i] for i in rest_x) or any(y.proper[j] for j in rest_y)
    out.qualifier_diff = any(xk[i] == DATE or xk[i].startswith(NUM) for i in rest_x) or any(
        yk[j] == DATE or yk[j].startswith(NUM) for j in rest_y
    )
    out.substantive = out.substantive or bool(rest_x and rest_y)
    out.ratio = 2.0 * struct / total
    out.similarity = 2.0 * compat / total
    out.x_covered = compat == len(xk)
    out.y_covered = compat == len(yk)
    return out


_WORD = re.compile(r"[^\W_]+")
_AUX = frozenset(["is", "are", "was", "were", "be", "been", "being", "am", "the", "a", "an"])
_SUFFIXES = frozenset(["corp", "corporation", "inc", "ltd", "llc", "plc", "co", "gmbh", "the"])


@lru_cache(maxsize=16384)
def norm_predicate(predicate: str) -> tuple[str, int]:
    """Casefold, drop auxiliaries, count and drop negators, lemmatise.

    "is not a Member_of" -> ("member of", 1)."""
    words = _WORD.findall(_normalise(predicate).casefold().replace("_", " "))
    neg = sum(1 for w in words if w in NEGATORS)
    return " ".join(lemma(w) for w in words if w not in _AUX and w not in NEGATORS), neg


@lru_cache(maxsize=16384)
def norm_subject(subject: str) -> str:
    """Casefold, strip punctuation, articles, possessives and company suffixes."""
    words = _WORD.findall(
        unicodedata.normalize("NFKC", subject).translate(_APOS).casefold().replace("'s", "")
    )
    return " ".join(w for w in words if w not in _SUFFIXES)


def objects_equal(a: str, b: str) -> bool:
    """Structured objects agree: same tokens, numbers within tolerance ("18 m" == "18.0 metres")."""
    if norm_subject(a) == norm_subject(b):
        return True
    x, y = analyse(a), analyse(b)
    if x.keys != y.keys or x.neg % 2 != y.neg % 2:
        return False
    al = align(x, y)
    return not al.value_diffs and not al.flips and not al.substantive and al.similarity == 1.0
