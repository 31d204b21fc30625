"""Generate a labelled, adversarial set of claim pairs for the evidence detector (scripts/eval_detector.py).

Why: the detector must find contradictions and successions without flagging paraphrases, successions,
multi-valued facts or look-alike statements about something else. Each line is one pair
``{"id", "category", "gold", "acceptable", "new", "old"}``; ``gold`` is one of contradicts, supersedes,
superseded_by, duplicates, none, and ``acceptable`` lists every prediction scored as correct for the
pair's category (paraphrases may be duplicates or refinements, never contradictions).

Everything — invented entity names, values, years, template and wording choices — is drawn from
``--seed``, so different seeds give materially different sets. Develop with one seed, report another.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

_ONSET = [
    "b",
    "br",
    "c",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "h",
    "k",
    "kl",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
]
_VOWEL = ["a", "e", "i", "o", "u", "ai", "ei", "ou"]
_CODA = ["", "n", "r", "l", "s", "th", "x", "m", "nd", "rk"]
_FIRST = [
    "Ana",
    "Boris",
    "Chen",
    "Dara",
    "Elif",
    "Farid",
    "Greta",
    "Hana",
    "Ivo",
    "Jonas",
    "Kaia",
    "Lior",
    "Maren",
    "Nico",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tamar",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Zofia",
    "Aiko",
    "Bruno",
    "Carmen",
    "Dmitri",
    "Esther",
]
_LANG = [
    "French",
    "German",
    "Spanish",
    "Portuguese",
    "Turkish",
    "Swahili",
    "Japanese",
    "Polish",
    "Greek",
    "Dutch",
    "Hindi",
    "Korean",
]


def ns(year: int, month: int = 1) -> int:
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 10**9


class World:
    """Invented names drawn from the seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def word(self, syl: tuple[int, int] = (2, 3)) -> str:
        r = self.rng
        return "".join(
            r.choice(_ONSET) + r.choice(_VOWEL) + r.choice(_CODA) for _ in range(r.randint(*syl))
        ).capitalize()

    def company(self) -> str:
        return f"{self.word()} {self.rng.choice(['Corp', 'Industries', 'Systems', 'Group', 'Labs', 'Holdings', 'Energy', 'Foods'])}"  # noqa: E501

    def city(self) -> str:
        return self.word() + self.rng.choice(["", "", "burg", "ford", "haven", "ton", "ville"])

    def country(self) -> str:
        return self.word() + self.rng.choice(["ia", "land", "stan", "ora", ""])

    def person(self) -> str:
        return f"{self.rng.choice(_FIRST)} {self.word()}"

    def org(self) -> str:
        return "".join(self.rng.choice("ABCDEFGHKLMNPRSTUW") for _ in range(self.rng.randint(3, 4)))

    def river(self) -> str:
        return f"the {self.word()} River"

    def lake(self) -> str:
        return f"Lake {self.word()}"

    def bridge(self) -> str:
        return f"the {self.word()} {self.rng.choice(['Bridge', 'Tunnel', 'Dam', 'Viaduct'])}"

    def tower(self) -> str:
        return f"the {self.word()} {self.rng.choice(['Tower', 'Spire', 'Building'])}"

    def product(self) -> str:
        kind = self.rng.choice(["Pro", "X", "Air", "Max", "Mini"])
        return f"the {self.word()} {kind} {self.rng.randint(2, 9)}"

    def team(self) -> str:
        return f"{self.word()} {self.rng.choice(['Rovers', 'United', 'Athletic', 'City', 'Wanderers'])}"

    def year(self, lo: int = 1990, hi: int = 2023) -> int:
        return self.rng.randint(lo, hi)


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def claim(cid: str, text: str, **kw: object) -> dict:
    return {"claim_id": cid, "text": cap(text), **{k: v for k, v in kw.items() if v is not None}}


def other_value(rng: random.Random, x: float, decimals: int) -> float:
    """A value that differs from x beyond any rounding of the written precision."""
    while True:
        y = round(x * rng.choice([rng.uniform(0.45, 0.85), rng.uniform(1.15, 1.9)]), decimals)
        if abs(y - x) > 2 * 10**-decimals and y > 0:
            return y


def fmt(x: float, decimals: int) -> str:
    return f"{x:,.{decimals}f}" if x >= 10000 else f"{x:.{decimals}f}"


# --- structured facts: (subject kind, predicate, object kind, text templates) ----------------------------
FUNCTIONAL = [
    (
        "company",
        "headquartered in",
        "city",
        [
            "{s} is headquartered in {o}.",
            "{s} has its headquarters in {o}.",
            "The headquarters of {s} are in {o}.",
        ],
    ),
    (
        "company",
        "chief executive",
        "person",
        ["{o} is the chief executive of {s}.", "{s} is led by CEO {o}.", "The CEO of {s} is {o}."],
    ),
    (
        "country",
        "capital",
        "city",
        ["The capital of {s} is {o}.", "{o} is the capital of {s}.", "{s} has its capital at {o}."],
    ),
    (
        "city",
        "mayor",
        "person",
        ["{o} is the mayor of {s}.", "{s}'s mayor is {o}.", "{s} is governed by mayor {o}."],
    ),
    (
        "city",
        "population",
        "count",
        ["{s} has a population of {o}.", "The population of {s} is {o}.", "{s} is home to {o} people."],
    ),
    ("tower", "height", "metres", ["{s} is {o} tall.", "The height of {s} is {o}.", "{s} stands {o} high."]),
    ("product", "price", "dollars", ["{s} costs {o}.", "The price of {s} is {o}.", "{s} sells for {o}."]),
    (
        "person",
        "employer",
        "company",
        ["{s} works for {o}.", "{s} is employed by {o}.", "{s} is on the staff of {o}."],
    ),
    (
        "team",
        "head coach",
        "person",
        ["{o} coaches {s}.", "{s} is coached by {o}.", "The head coach of {s} is {o}."],
    ),
    ("river", "length", "km", ["{s} is {o} long.", "The length of {s} is {o}.", "{s} runs for {o}."]),
    ("company", "chairman", "person", ["{o} chairs the board of {s}.", "The chairman of {s} is {o}."]),
]
MULTI = [
    ("country", "member of", "org", ["{s} is a member of {o}.", "{s} belongs to {o}."]),
    ("person", "speaks", "lang", ["{s} speaks {o}.", "{s} is fluent in {o}."]),
    ("person", "author of", "title", ["{s} wrote {o}.", "{s} is the author of {o}."]),
    ("company", "has subsidiary", "company", ["{o} is a subsidiary of {s}.", "{s} owns the subsidiary {o}."]),
    ("person", "works with", "person", ["{s} works with {o}.", "{s} collaborates with {o}."]),
    ("city", "located near", "city", ["{s} is located near {o}.", "{s} lies close to {o}."]),
]


def make(w: World, kind: str) -> str:
    r = w.rng
    if kind == "count":
        return f"{r.randint(20, 2000) * 1000:,}"
    if kind == "metres":
        return f"{r.randint(80, 600)} m"
    if kind == "dollars":
        return f"${r.randint(49, 1999)}"
    if kind == "km":
        return f"{r.randint(120, 3500)} km"
    if kind == "lang":
        return r.choice(_LANG)
    if kind == "title":
        return f"'The {w.word()} {r.choice(['Letters', 'Garden', 'Winter', 'Archive'])}'"
    return cap(getattr(w, kind)())


def structured(w: World, facts: list, same_template: bool = False) -> tuple[dict, dict, str]:
    r = w.rng
    skind, pred, okind, tmpls = r.choice(facts)
    s = cap(make(w, skind))
    o1 = make(w, okind)
    o2 = make(w, okind)
    while o2 == o1:
        o2 = make(w, okind)
    t1 = r.choice(tmpls)
    t2 = t1 if same_template else r.choice(tmpls)
    new = {"text": cap(t1.format(s=s, o=o1)), "subject": s, "predicate": pred, "object": o1}
    old = {"text": cap(t2.format(s=s, o=o2)), "subject": s, "predicate": pred, "object": o2}
    return new, old, pred


# --- text families with one quantity: (template variants, value maker) ---------------------------------
NUMERIC = [
    (
        [
            "{co}'s revenue in {y} was ${v} billion.",
            "In {y}, {co} reported revenue of ${v} billion.",
            "{co} posted revenue of ${v}bn in {y}.",
        ],
        lambda r: (round(r.uniform(0.5, 90), 1), 1),
    ),
    (
        ["{co} employed {v} people at the end of {y}.", "At the end of {y}, {co} had {v} employees."],
        lambda r: (r.randint(120, 90000), 0),
    ),
    (
        ["The population of {city} was {v} in {y}.", "In {y}, {city} had {v} inhabitants."],
        lambda r: (r.randint(20, 3000) * 1000, 0),
    ),
    (
        [
            "Unemployment in {city} stood at {v}% in {y}.",
            "The unemployment rate in {city} was {v} per cent in {y}.",
        ],
        lambda r: (round(r.uniform(1.5, 15), 1), 1),
    ),
    (
        ["{river} is {v} km long.", "{river} has a length of {v} kilometres."],
        lambda r: (r.randint(80, 4000), 0),
    ),
    (["{tower} is {v} metres tall.", "{tower} has a height of {v} m."], lambda r: (r.randint(60, 700), 0)),
    (
        ["{product} weighs {v} kg.", "{product} has a weight of {v} kilograms."],
        lambda r: (round(r.uniform(0.2, 30), 1), 1),
    ),
    (
        [
            "{co} paid a dividend of {v} cents per share in {y}.",
            "In {y}, {co}'s dividend was {v} cents a share.",
        ],
        lambda r: (r.randint(5, 300), 0),
    ),
    (
        [
            "Average rent in {city} reached €{v} per month in {y}.",
            "In {y}, average monthly rent in {city} was €{v}.",
        ],
        lambda r: (r.randint(400, 3000), 0),
    ),
    (
        ["{lake} has a maximum depth of {v} m.", "{lake} is {v} metres deep at its deepest point."],
        lambda r: (r.randint(10, 900), 0),
    ),
    (
        ["{co} operates {v} stores in {country}.", "{co} runs {v} shops across {country}."],
        lambda r: (r.randint(12, 2500), 0),
    ),
    (
        ["Inflation in {country} was {v}% in {y}.", "{country} recorded inflation of {v} per cent in {y}."],
        lambda r: (round(r.uniform(0.5, 25), 1), 1),
    ),
]
ONEOFF = [
    "{bridge} was completed in {d}.",
    "{co} was founded in {d}.",
    "{person} was born in {d}.",
    "{co} was established in {city} in {d}.",
    "{product} was launched in {d}.",
    "The cathedral of {city} was built in {d}.",
    "{country} declared independence in {d}.",
    "{co} was incorporated in {d}.",
]
NEGATION = [
    (
        "{country} is a member of {org}.",
        [
            "{country} is not a member of {org}.",
            "{country} isn't a member of {org}.",
            "It is false that {country} is a member of {org}.",
        ],
    ),
    (
        "{co} paid a dividend in {y}.",
        ["{co} did not pay a dividend in {y}.", "{co} paid no dividend in {y}."],
    ),
    (
        "{person} attended the {city} summit.",
        ["{person} never attended the {city} summit.", "{person} did not attend the {city} summit."],
    ),
    ("{product} supports wireless charging.", ["{product} does not support wireless charging."]),
    (
        "{river} flows through {city}.",
        ["{river} doesn't flow through {city}.", "{river} does not flow through {city}."],
    ),
    ("{person} was re-elected as mayor of {city}.", ["{person} was not re-elected as mayor of {city}."]),
    ("{co} was profitable in {y}.", ["{co} wasn't profitable in {y}.", "{co} was not profitable in {y}."]),
    (
        "{country} has nuclear weapons.",
        ["{country} has no nuclear weapons.", "{country} does not have nuclear weapons."],
    ),
    ("{person} signed the {org} treaty.", ["{person} never signed the {org} treaty."]),
    ("The {city} metro runs on Sundays.", ["The {city} metro does not run on Sundays."]),
]
ANTONYM = [
    ("Emissions in {city} {a} in {y}.", ("rose", "fell")),
    ("{co}'s shares {a} {p}% on Monday.", ("rose", "fell")),
    ("{team} {a} the {y} cup final.", ("won", "lost")),
    ("The {city} council {a} the harbour expansion plan.", ("approved", "rejected")),
    ("{co}'s profits {a} in {y}.", ("increased", "decreased")),
    ("House prices in {city} were {a} in {y} than in {y0}.", ("higher", "lower")),
    ("The {city} branch of {co} is {a}.", ("open", "closed")),
    ("{co}'s market share {a} in {y}.", ("grew", "shrank")),
    ("The {org} application of {country} was {a}.", ("accepted", "rejected")),
    ("Sea temperatures near {city} were {a} in {y}.", ("warming", "cooling")),
    ("{co} {a} its stake in {co2}.", ("bought", "sold")),
    ("The budget deficit of {country} {a} in {y}.", ("widened", "narrowed")),  # not in the lexicon
    ("Air quality in {city} {a} in {y}.", ("improved", "deteriorated")),  # not in the lexicon
    ("The {country} currency {a} against the dollar in {y}.", ("appreciated", "depreciated")),  # not in it
    ("{co} {a} staff at its {city} plant in {y}.", ("hired", "laid off")),
]
YEAR_EVENT = [
    "Emissions in {city} rose in {y}.",
    "{team} won the league in {y}.",
    "{co} hosted its annual conference in {y}.",
    "{person} visited {city} in {y}.",
    "Floods hit {city} in {y}.",
    "{co} raised its prices in {y}.",
]
STATE_BY_YEAR = [
    "{co} had {v} employees in {y}.",
    "In {y}, {city} had a population of {v}.",
    "{co} operated {v} stores in {y}.",
    "The {city} fleet comprised {v} buses in {y}.",
]
PARAPHRASE: list[Callable[[World], tuple[str, str]]] = []


def _para(fn: Callable[[World], tuple[str, str]]) -> Callable[[World], tuple[str, str]]:
    PARAPHRASE.append(fn)
    return fn


@_para
def _p_passive(w: World) -> tuple[str, str]:
    a, b, y = w.company(), w.company(), w.year()
    return f"{a} acquired {b} in {y}.", f"{b} was acquired by {a} in {y}."


@_para
def _p_length(w: World) -> tuple[str, str]:
    r, v = w.river(), w.rng.randint(100, 3000)
    return cap(f"{r} is {v} km long."), w.rng.choice(
        [f"The length of {r} is {v} kilometres.", cap(f"{r} has a length of {v:,} km.")]
    )


@_para
def _p_workforce(w: World) -> tuple[str, str]:
    c, v = w.company(), w.rng.randint(200, 50000)
    return f"{c} employs {v:,} people.", w.rng.choice(
        [f"{c} has a workforce of {v}.", f"{v:,} people work for {c}."]
    )


@_para
def _p_synonym(w: World) -> tuple[str, str]:
    a, b = w.company(), w.company()
    v1, v2 = w.rng.sample(["bought", "purchased", "acquired", "took over"], 2)
    return f"{a} {v1} {b}.", f"{a} {v2} {b}."


@_para
def _p_money(w: World) -> tuple[str, str]:
    c, y = w.company(), w.year()
    x = round(w.rng.uniform(1, 50), 1)
    return (
        f"{c}'s revenue in {y} was ${x} billion.",
        w.rng.choice(
            [
                f"{c}'s revenue in {y} was ${x * 1000:,.0f} million.",
                f"{c}'s revenue in {y} was {x}bn dollars.",
            ]
        ),
    )


@_para
def _p_population(w: World) -> tuple[str, str]:
    c, v = w.city(), w.rng.randint(2, 90) * 100000
    return f"The population of {c} is {v:,}.", w.rng.choice(
        [f"{c} has {v / 1e6:g} million inhabitants.", f"{c} is home to {v:,} people."]
    )


@_para
def _p_born(w: World) -> tuple[str, str]:
    p, c, y = w.person(), w.city(), w.year(1930, 2000)
    return f"{p} was born in {c} in {y}.", f"In {y}, {p} was born in {c}."


@_para
def _p_joined(w: World) -> tuple[str, str]:
    c, o, y = w.country(), w.org(), w.year()
    return f"{c} joined {o} in {y}.", f"{c} became a member of {o} in {y}."


@_para
def _p_rate(w: World) -> tuple[str, str]:
    c, p = w.city(), round(w.rng.uniform(2, 12), 1)
    return f"Unemployment in {c} was {p}%.", f"{c}'s unemployment rate stood at {p} per cent."


@_para
def _p_hq(w: World) -> tuple[str, str]:
    c, t = w.company(), w.city()
    return f"{c} is headquartered in {t}.", f"{c}'s head office is located in {t}."


@_para
def _p_rise(w: World) -> tuple[str, str]:
    c, y = w.city(), w.year()
    a, b = w.rng.choice(
        [("rose", "increased"), ("fell", "declined"), ("grew", "went up"), ("fell", "did not rise")]
    )
    return f"Emissions in {c} {a} in {y}.", f"Emissions in {c} {b} in {y}."


@_para
def _p_opened(w: World) -> tuple[str, str]:
    b, y = w.bridge(), w.year()
    return cap(f"{b} opened in {y}."), cap(f"{b} was opened to traffic in {y}.")


@_para
def _p_date(w: World) -> tuple[str, str]:
    p, d, m, y = w.product(), w.rng.randint(1, 28), w.rng.choice(["March", "June", "October"]), w.year()
    return cap(f"{p} was launched on {d} {m} {y}."), cap(f"{p} was launched on {m} {d}, {y}.")


UNRELATED = [
    ("{co}'s revenue in {y} was ${v} billion.", "{co}'s net profit in {y} was ${v2} billion."),
    ("{river} is {v} km long.", "{river} is {v2} metres deep."),
    ("{city} has a population of {v}.", "{city} has an area of {v2} square kilometres."),
    ("{co} employs {v} people in {city}.", "{co} has {v2} stores in {city}."),
    ("{person} is the mayor of {city}.", "{person} was born in {city2}."),
    ("{co} is headquartered in {city}.", "{co} was founded in {city2}."),
    ("{tower} is {v} metres tall.", "{tower} has {v2} floors."),
    ("{co}'s revenue in {y} was ${v} billion.", "{co2}'s revenue in {y} was ${v2} billion."),
    ("Unemployment in {city} was {p}% in {y}.", "Unemployment in {city2} was {p2}% in {y}."),
    ("{team} won the {y} cup final.", "{team} lost the {y} league opener."),
]


def slots(w: World) -> dict:
    r = w.rng
    y = w.year()
    return {
        "co": w.company(),
        "co2": w.company(),
        "city": w.city(),
        "city2": w.city(),
        "country": w.country(),
        "person": w.person(),
        "org": w.org(),
        "river": w.river(),
        "lake": w.lake(),
        "bridge": w.bridge(),
        "tower": w.tower(),
        "product": w.product(),
        "team": w.team(),
        "y": y,
        "y0": y - r.randint(1, 5),
        "p": round(r.uniform(1, 9), 1),
        "p2": round(r.uniform(1, 9), 1),
    }


def gen(seed: int) -> list[dict]:
    rng = random.Random(seed)
    w = World(rng)
    pairs: list[dict] = []

    def emit(cat: str, new: dict, old: dict, gold: str, acceptable: list[str] | None = None) -> None:
        k = len(pairs)
        pairs.append(
            {
                "id": f"p{k:05d}",
                "category": cat,
                "gold": gold,
                "acceptable": acceptable or [gold],
                "new": claim(f"p{k:05d}-n", **new),
                "old": claim(f"p{k:05d}-o", **old),
            }
        )

    def flip(new: dict, old: dict, gold: str) -> tuple[dict, dict, str]:
        if rng.random() < 0.5:
            return old, new, {"supersedes": "superseded_by", "superseded_by": "supersedes"}.get(gold, gold)
        return new, old, gold

    for _ in range(220):  # same subject + functional predicate, different object, overlapping/open validity
        new, old, _p = structured(w, FUNCTIONAL)
        mode = rng.randrange(3)
        if mode == 1:
            y = w.year()
            new["valid_from"] = old["valid_from"] = ns(y)
            if rng.random() < 0.5:
                old["valid_to"] = ns(y + rng.randint(1, 6))
        elif mode == 2:
            new["observed_at"] = old["observed_at"] = ns(w.year())
        emit("structured_conflict", new, old, "contradicts")
    for _ in range(260):  # successions, both directions
        new, old, _p = structured(w, FUNCTIONAL)
        y1 = w.year(1990, 2015)
        y2 = y1 + rng.randint(1, 8)
        mode = rng.randrange(4)
        if mode == 0:
            old["valid_from"], new["valid_from"] = ns(y1), ns(y2)
        elif mode == 1:
            old["valid_from"], old["valid_to"], new["valid_from"] = ns(y1), ns(y2), ns(y2)
        elif mode == 2:
            old["valid_from"], old["valid_to"] = ns(y1), ns(y1 + 1)
            new["valid_from"], new["valid_to"] = ns(y2 + 1), ns(y2 + 3)
        else:
            old["observed_at"], new["observed_at"] = ns(y1, rng.randint(1, 12)), ns(y2, rng.randint(1, 12))
        new, old, gold = flip(new, old, "supersedes")
        emit("structured_succession", new, old, gold)
    for _ in range(220):  # numeric conflicts on text claims
        tmpls, maker = rng.choice(NUMERIC)
        s = slots(w)
        v, dec = maker(rng)
        v2 = other_value(rng, v, dec)
        t1 = rng.choice(tmpls)
        t2 = t1 if rng.random() < 0.7 else rng.choice(tmpls)
        emit(
            "numeric_conflict",
            {"text": t1.format(v=fmt(v, dec), **s)},
            {"text": t2.format(v=fmt(v2, dec), **s)},
            "contradicts",
        )
    for _ in range(130):  # dates of once-only events
        t = rng.choice(ONEOFF)
        s = slots(w)
        y1 = w.year(1850, 2020)
        y2 = y1 + rng.choice([-1, 1]) * rng.randint(1, 30)
        if rng.random() < 0.35:
            m = rng.choice(["January", "April", "July", "November"])
            d1, d2 = f"{rng.randint(1, 28)} {m} {y1}", f"{rng.randint(1, 28)} {m} {y1}"
            if d1 == d2:
                d2 = f"{m} {y2}"
            t = t.replace(" in {d}", " on {d}")
        else:
            d1, d2 = str(y1), str(y2)
        emit("date_conflict", {"text": t.format(d=d1, **s)}, {"text": t.format(d=d2, **s)}, "contradicts")
    for _ in range(200):  # negation
        pos, negs = rng.choice(NEGATION)
        s = slots(w)
        a, b = pos.format(**s), rng.choice(negs).format(**s)
        if rng.random() < 0.5:
            a, b = b, a
        emit("negation", {"text": a}, {"text": b}, "contradicts")
    for _ in range(60):  # double negation / both negated: consistent
        pos, negs = rng.choice(NEGATION[:3])
        s = slots(w)
        if rng.random() < 0.5:
            a = "It is not true that " + negs[0].format(**s)
            b = pos.format(**s)
        else:
            a, b = negs[0].format(**s), rng.choice(negs).format(**s)
        emit(
            "double_negation", {"text": a}, {"text": b}, "none", ["none", "duplicates", "supports", "refines"]
        )
    for _ in range(200):  # antonyms
        t, (x, z) = rng.choice(ANTONYM)
        s = slots(w)
        a, b = t.format(a=x, **s), t.format(a=z, **s)
        if rng.random() < 0.5:
            a, b = b, a
        emit("antonym", {"text": a}, {"text": b}, "contradicts")
    for _ in range(100):  # a repeatable event in different years: different facts
        t = rng.choice(YEAR_EVENT)
        s = slots(w)
        y2 = s["y"] + rng.randint(1, 6)
        emit("year_as_time", {"text": t.format(**s)}, {"text": t.format(**{**s, "y": y2})}, "none")
    for _ in range(100):  # a state measured in different years: the later value supersedes
        t = rng.choice(STATE_BY_YEAR)
        s = slots(w)
        v = rng.randint(50, 5000)
        y2 = s["y"] + rng.randint(1, 6)
        new = {"text": t.format(v=f"{other_value(rng, v, 0):,.0f}", **{**s, "y": y2})}
        old = {"text": t.format(v=f"{v:,}", **s)}
        new, old, gold = flip(new, old, "supersedes")
        emit("text_succession_year", new, old, gold)
    for _ in range(100):  # text claims with validity intervals that follow each other
        tmpls, maker = rng.choice(NUMERIC[4:7] + NUMERIC[9:11])
        s = slots(w)
        v, dec = maker(rng)
        t = rng.choice(tmpls)
        y1 = w.year(1995, 2015)
        y2 = y1 + rng.randint(1, 6)
        old = {"text": t.format(v=fmt(v, dec), **s), "valid_from": ns(y1)}
        new = {"text": t.format(v=fmt(other_value(rng, v, dec), dec), **s), "valid_from": ns(y2)}
        if rng.random() < 0.5:
            old["valid_to"] = ns(y2)
        new, old, gold = flip(new, old, "supersedes")
        emit("text_succession_validity", new, old, gold)
    for _ in range(240):  # paraphrases
        a, b = rng.choice(PARAPHRASE)(w)
        if rng.random() < 0.5:
            a, b = b, a
        emit("paraphrase", {"text": a}, {"text": b}, "none", ["none", "duplicates", "supports", "refines"])
    for _ in range(200):  # near-duplicates
        pool = rng.choice(["numeric", "oneoff", "neg", "para"])
        s = slots(w)
        if pool == "numeric":
            tmpls, maker = rng.choice(NUMERIC)
            v, dec = maker(rng)
            base = rng.choice(tmpls).format(v=fmt(v, dec), **s)
        elif pool == "oneoff":
            base = rng.choice(ONEOFF).format(d=w.year(), **s)
        elif pool == "neg":
            pos, negs = rng.choice(NEGATION)
            base = rng.choice([pos, *negs]).format(**s)
        else:
            base = rng.choice(PARAPHRASE)(w)[0]
        emit("near_duplicate", {"text": cap(base)}, {"text": perturb(rng, cap(base))}, "duplicates")
    for _ in range(180):  # same subject, something else
        a, b = rng.choice(UNRELATED)
        s = slots(w)
        v = rng.randint(10, 900)
        new, old = (
            {"text": a.format(v=v, v2=rng.randint(10, 900), **s)},
            {"text": b.format(v=v, v2=v + 7, **s)},
        )
        if rng.random() < 0.4:
            new["subject"] = old["subject"] = s["co"]
            new["predicate"], old["predicate"] = "attribute a", "attribute b"
            new["object"], old["object"] = str(v), str(v + 7)
        if rng.random() < 0.5:
            new, old = old, new
        emit("unrelated_similar", new, old, "none")
    for _ in range(130):  # multi-valued predicates
        new, old, _p = structured(w, MULTI)
        emit("multi_valued", new, old, "none")
    return pairs


def perturb(rng: random.Random, text: str) -> str:
    """Surface changes that keep the meaning: case, punctuation, spacing, articles, number format."""
    ops = [
        lambda t: t.lower(),
        lambda t: t.rstrip("."),
        lambda t: t.replace(" ", "  ", 1),
        lambda t: t.replace("the ", "", 1) if "the " in t else t + " ",
        lambda t: t.replace(" per cent", "%") if " per cent" in t else t.replace("%", " per cent"),
        lambda t: t.replace(",", "") if any(c.isdigit() for c in t) else t.replace(".", "!"),
        lambda t: (
            t.replace(" is not ", " isn't ")
            .replace(" did not ", " didn't ")
            .replace(" does not ", " doesn't ")
        ),
        lambda t: t.replace(" Corp", " Corp."),
        lambda t: t.upper(),
    ]
    for op in rng.sample(ops, rng.randint(1, 3)):
        text = op(text)
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    pairs = gen(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as f:
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(f"wrote {len(pairs)} pairs to {args.out}")


if __name__ == "__main__":
    main()
