"""A generated corpus with the structure of real claim data, and queries with graded relevance.

Claims are statements about named subjects ("Corvane Harbour Authority handles 412 ships a week.") in
about forty topics, each with its own vocabulary, so the built-in embedder gives clustered vectors (never
i.i.d. random ones, on which HNSW recall collapses). Every subject has several claims; some subjects
carry a contradiction (the same predicate with another number, from another source) and some a
succession (a later value valid from a later year). Queries ask about one subject and predicate; the
subject's claims are relevant (grade 2 for the asked predicate, 1 for the others).

Everything is a function of the seed, so a profile run is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from dash_client._pb.dash.v1 import types_pb2

# topic -> (subject kinds, [(predicate phrase, unit), ...])
TOPICS: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "ports": (
        ("Harbour Authority", "Container Terminal", "Ferry Port"),
        (
            ("handles", "ships a week"),
            ("employs", "dock workers"),
            ("operates", "cranes"),
            ("moves", "thousand containers a month"),
        ),
    ),
    "rail": (
        ("Rail Company", "Metro Line", "Freight Railway"),
        (
            ("runs", "trains a day"),
            ("maintains", "kilometres of track"),
            ("carries", "thousand passengers a day"),
            ("owns", "locomotives"),
        ),
    ),
    "energy": (
        ("Power Station", "Wind Farm", "Solar Park"),
        (
            ("generates", "megawatts"),
            ("supplies", "thousand homes"),
            ("runs", "turbines"),
            ("stores", "megawatt hours"),
        ),
    ),
    "health": (
        ("General Hospital", "Medical Centre", "Children's Clinic"),
        (
            ("has", "beds"),
            ("employs", "nurses"),
            ("treats", "patients a day"),
            ("runs", "operating theatres"),
        ),
    ),
    "schools": (
        ("Grammar School", "Technical College", "University"),
        (
            ("enrols", "students"),
            ("employs", "teachers"),
            ("offers", "degree courses"),
            ("has", "laboratories"),
        ),
    ),
    "water": (
        ("Water Board", "Reservoir", "Treatment Works"),
        (
            ("holds", "million litres"),
            ("supplies", "thousand households"),
            ("treats", "million litres a day"),
            ("maintains", "pumping stations"),
        ),
    ),
    "airports": (
        ("Airport", "Airfield", "Air Terminal"),
        (
            ("handles", "flights a day"),
            ("serves", "million passengers a year"),
            ("has", "runways"),
            ("employs", "ground staff"),
        ),
    ),
    "farming": (
        ("Farm Cooperative", "Dairy", "Orchard"),
        (
            ("grows", "hectares of wheat"),
            ("keeps", "cows"),
            ("produces", "tonnes of apples"),
            ("employs", "seasonal workers"),
        ),
    ),
    "mining": (
        ("Copper Mine", "Quarry", "Coal Pit"),
        (
            ("extracts", "tonnes of ore a day"),
            ("employs", "miners"),
            ("runs", "shafts"),
            ("ships", "trucks a week"),
        ),
    ),
    "finance": (
        ("Savings Bank", "Credit Union", "Insurance Group"),
        (
            ("holds", "million euros in deposits"),
            ("serves", "thousand customers"),
            ("runs", "branches"),
            ("employs", "advisers"),
        ),
    ),
    "media": (
        ("Broadcasting House", "Daily Gazette", "Radio Station"),
        (
            ("reaches", "thousand listeners"),
            ("prints", "thousand copies a day"),
            ("employs", "journalists"),
            ("airs", "hours of news a week"),
        ),
    ),
    "retail": (
        ("Department Store", "Market Hall", "Shopping Arcade"),
        (
            ("has", "shops"),
            ("employs", "sales staff"),
            ("welcomes", "thousand visitors a week"),
            ("opens", "days a week"),
        ),
    ),
    "culture": (
        ("Museum", "Concert Hall", "Public Library"),
        (
            ("holds", "thousand objects"),
            ("seats", "people"),
            ("lends", "thousand books a year"),
            ("employs", "curators"),
        ),
    ),
    "sport": (
        ("Football Club", "Rowing Club", "Athletics Stadium"),
        (("seats", "spectators"), ("has", "members"), ("won", "titles"), ("employs", "coaches")),
    ),
    "science": (
        ("Research Institute", "Observatory", "Marine Laboratory"),
        (
            ("employs", "researchers"),
            ("publishes", "papers a year"),
            ("runs", "telescopes"),
            ("operates", "research vessels"),
        ),
    ),
    "transport": (
        ("Bus Company", "Tram Network", "Ferry Service"),
        (
            ("runs", "buses"),
            ("serves", "stops"),
            ("carries", "thousand passengers a week"),
            ("employs", "drivers"),
        ),
    ),
    "industry": (
        ("Steel Works", "Paper Mill", "Shipyard"),
        (("produces", "tonnes a week"), ("employs", "workers"), ("runs", "furnaces"), ("launched", "ships")),
    ),
    "tourism": (
        ("Grand Hotel", "Campsite", "Visitor Centre"),
        (
            ("has", "rooms"),
            ("welcomes", "thousand guests a year"),
            ("employs", "staff"),
            ("offers", "guided tours a week"),
        ),
    ),
    "government": (
        ("City Council", "District Court", "Tax Office"),
        (
            ("employs", "civil servants"),
            ("hears", "cases a month"),
            ("serves", "thousand residents"),
            ("runs", "offices"),
        ),
    ),
    "telecom": (
        ("Telephone Exchange", "Data Centre", "Cable Company"),
        (
            ("serves", "thousand lines"),
            ("runs", "servers"),
            ("lays", "kilometres of cable"),
            ("employs", "engineers"),
        ),
    ),
}
PREFIXES = (
    "Corvane",
    "Aldmoor",
    "Brightwater",
    "Calderon",
    "Dunmere",
    "Eastreach",
    "Fellgate",
    "Greyhaven",
    "Hollins",
    "Ironbridge",
    "Juniper",
    "Kestrel",
    "Longford",
    "Marrow",
    "Northwick",
    "Oakham",
    "Pellworth",
    "Queensbury",
    "Ravenscar",
    "Saltmarsh",
    "Thornbury",
    "Upperton",
    "Valemont",
    "Westerly",
    "Yarrow",
)
SECONDS = (
    "Abbey",
    "Beacon",
    "Cross",
    "Dale",
    "End",
    "Ford",
    "Gate",
    "Heath",
    "Hill",
    "Holm",
    "Lea",
    "Marsh",
    "Mill",
    "Moor",
    "Ness",
    "Park",
    "Point",
    "Quay",
    "Ridge",
    "Rise",
    "Row",
    "Side",
    "Stone",
    "Vale",
    "Wells",
    "Wharf",
    "Wood",
    "Yard",
    "Bank",
    "Brook",
    "Cliff",
    "Down",
    "Field",
    "Green",
    "Haven",
    "Lane",
    "Mount",
    "Pool",
    "Sands",
    "Tower",
)
SOURCES = ("annual-report", "press-release", "audit", "newspaper", "registry", "survey")


@dataclass(frozen=True)
class Query:
    text: str
    relevance: dict[str, int]  # claim_id -> grade (2: the asked predicate, 1: same subject)


@dataclass
class Corpus:
    claims: list[types_pb2.ClaimInput] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    conflicts: int = 0
    successions: int = 0


def generate(n_claims: int, n_queries: int, seed: int = 1) -> Corpus:
    """``n_claims`` claims about ~``n_claims / 5`` subjects, and ``n_queries`` queries about them."""
    rng = random.Random(seed)
    corpus = Corpus()
    by_subject: dict[str, list[tuple[str, str]]] = {}  # subject -> [(claim_id, predicate)]
    topics = sorted(TOPICS)
    i = 0
    s = 0
    while i < n_claims:
        topic = topics[s % len(topics)]
        kinds, predicates = TOPICS[topic]
        place = s // len(topics)
        first, second = PREFIXES[place % len(PREFIXES)], SECONDS[(place // len(PREFIXES)) % len(SECONDS)]
        number = place // (len(PREFIXES) * len(SECONDS))
        subject = f"{first} {second} {rng.choice(kinds)}" + (f" No. {number + 1}" if number else "")
        s += 1
        chosen = rng.sample(predicates, k=min(len(predicates), rng.randint(2, 4)))
        for pred, unit in chosen:
            if i >= n_claims:
                break
            value = rng.randint(3, 900)
            cid = f"c{i}"
            corpus.claims.append(_claim(cid, subject, pred, unit, value, rng.choice(SOURCES), rng))
            by_subject.setdefault(subject, []).append((cid, pred))
            i += 1
            roll = rng.random()
            if roll < 0.03 and i < n_claims:  # another source disagrees
                cid = f"c{i}"
                other = value + rng.randint(5, 90)
                corpus.claims.append(_claim(cid, subject, pred, unit, other, rng.choice(SOURCES), rng))
                by_subject[subject].append((cid, pred))
                corpus.conflicts += 1
                i += 1
            elif roll < 0.06 and i < n_claims:  # the value changed later
                cid = f"c{i}"
                year = rng.randint(2015, 2024)
                claim = _claim(cid, subject, pred, unit, value + rng.randint(5, 90), rng.choice(SOURCES), rng)
                claim.claim.valid_from.FromSeconds((year - 1970) * 31_556_952)
                claim.claim.text = f"Since {year}, {claim.claim.text[0].lower()}{claim.claim.text[1:]}"
                claim.evidence[0].quote = claim.claim.text
                claim.evidence[0].span_end = len(claim.claim.text)
                corpus.claims.append(claim)
                by_subject[subject].append((cid, pred))
                corpus.successions += 1
                i += 1
    corpus.texts = [c.claim.text for c in corpus.claims]
    subjects = sorted(by_subject)
    for _ in range(n_queries):
        subject = rng.choice(subjects)
        members = by_subject[subject]
        _, pred = rng.choice(members)
        text = rng.choice(("How many does {s} {p}?", "{s} {p}", "What does {s} {p}?")).format(
            s=subject, p=pred
        )
        corpus.queries.append(Query(text, {cid: 2 if p == pred else 1 for cid, p in members}))
    return corpus


def _claim(
    cid: str, subject: str, pred: str, unit: str, value: int, source: str, rng: random.Random
) -> types_pb2.ClaimInput:
    text = f"{subject} {pred} {value} {unit}."
    ev = types_pb2.Evidence(
        evidence_id=f"{cid}-e",
        doc_id=f"{source}-{rng.randint(1, 400)}",
        quote=text,
        span_start=0,
        span_end=len(text),
        source_quality=0.7,
    )
    claim = types_pb2.Claim(
        claim_id=cid, text=text, subject=subject, predicate=pred, object=f"{value} {unit}"
    )
    return types_pb2.ClaimInput(claim=claim, evidence=[ev])
