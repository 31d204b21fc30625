"""Bitemporal correctness through a real cluster: ``as_of`` (valid time) and ``as_known_at`` (transaction
time) answers for functional facts that change over time.

Data (generated, seeded): N invented subjects (companies, clubs, cities), each with one functional
predicate ("CEO of", "head coach of", "mayor of", "home stadium of") taking 2-5 successive values with
validity intervals [t_1, t_2), [t_2, t_3), ..., [t_n, open). Every value is a structured claim
(``subject``, ``predicate``, ``object``, a sentence as ``text``, the subject also in ``entities`` so the
entity filter finds it and routing keeps a subject's claims on one shard).

Claims are written in WAVES through the router: all first values, then all second values, and so on; the
wall clock is read after each wave is acknowledged (and the script sleeps between waves so transaction
times separate). Each mode writes into its own tenant:

* ``open-client``   - a value carries ``valid_from`` only, plus a client ``supersedes`` edge to the value
                      it replaces; the successor's ``valid_from`` ends the predecessor's validity.
* ``open-detector`` - ``valid_from`` only and no client edge: the node's edge builder must find the
                      supersession itself (same subject and predicate, other object, later start).
* ``closed``        - ``valid_from`` and ``valid_to`` both written (the whole interval known up front).

Queries (``entities=[subject]``, text "Who is the CEO of Norvik Shipping?"):

(a) ``as_of`` = a random instant inside each interval -> the top-1 result's ``object`` must be the value
    valid then.
(a') ``as_of`` at the edges of the half-open intervals: the first instant of each value (-> that value),
    the second before it (-> the previous value) and a day before the first value (-> no result).
(b) ``as_known_at`` = the clock reading after wave w (w = 0 is before the first wave), ``as_of`` = far
    future -> the answer must be what the store's knowledge after wave w implies for that instant: in the
    open modes the latest value known after wave w (nothing for w = 0); in ``closed`` mode only the final
    value is valid in the far future, so the answer is that value once its wave is known, else nothing.

Run::

    .venv/bin/python scripts/eval_temporal.py --subjects 500

writes ``docs/benchmarks/eval_temporal.{json,md,png}``; exits 1 if any query failed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from cluster.local import ClusterSpec, LocalCluster  # noqa: E402
from dash_client.client import DashClient  # noqa: E402
from scripts.evalkit import code_state  # noqa: E402

MODES = ("open-client", "open-detector", "closed")
KINDS = ("as_of", "as_of_edges", "as_known_at")
FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)

# (kind, predicate, claim text, question, object kind)
PREDICATES = (
    ("company", "CEO of", "The CEO of {s} is {o}.", "Who is the CEO of {s}?", "person"),
    ("club", "head coach of", "The head coach of {s} is {o}.", "Who is the head coach of {s}?", "person"),
    ("city", "mayor of", "The mayor of {s} is {o}.", "Who is the mayor of {s}?", "person"),
    (
        "club",
        "home stadium of",
        "The home stadium of {s} is {o}.",
        "What is the home stadium of {s}?",
        "place",
    ),
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SYL_A = _words("nor vel bra kel dal sto har ves mar tor lin ost gar fen hol ask bir rav sel tam")
_SYL_B = _words("vik stad mo by lund berg dal holm ness wick field ford ton mouth ham gate sund vall")
_COMPANY = _words("Shipping Mining Logistics Textiles Foods Energy Optics Timber Pharma Robotics Airlines")
_CLUB = ("FC {}", "{} United", "{} Rovers", "Athletic {}", "{} Wanderers", "Sporting {}")
_FIRST = _words(
    "Ada Ola Ines Jonas Mira Tomas Greta Elias Noor Pavel Lotte Arne Sofia Kasper Runa Henrik "
    "Maja Leif Dagny Oskar Vera Emil Siri Anton Hedda Bruno Klara Nils Edith Viggo"
)
_LAST = _words(
    "Holm Lind Berg Strand Falk Dahl Nyberg Sand Vik Aas Brekke Moen Lunde Rud Hauge Eide "
    "Bakke Solberg Ekman Rask Wold Tveit Lie Foss Grieg Ness Kvam Haug Storm Roald"
)
_STADIUM = ("{} Park", "{} Arena", "{} Stadium", "{} Ground", "{} Bowl", "The {} Dome")


@dataclass
class Subject:
    name: str
    predicate: str
    text: str
    question: str
    values: list[str]
    starts: list[datetime]  # starts[i] = t_{i+1}; value i holds on [starts[i], starts[i+1])

    def interval(self, i: int) -> tuple[datetime, datetime | None]:
        return self.starts[i], self.starts[i + 1] if i + 1 < len(self.starts) else None


def _place(rng: random.Random) -> str:
    return (rng.choice(_SYL_A) + rng.choice(_SYL_B)).capitalize()


def generate(n: int, seed: int = 7) -> list[Subject]:
    """``n`` subjects with distinct names, each with 2-5 successive distinct values."""
    rng = random.Random(seed)
    out: list[Subject] = []
    names: set[str] = set()
    while len(out) < n:
        kind, predicate, text, question, obj_kind = PREDICATES[len(out) % len(PREDICATES)]
        base = _place(rng)
        if kind == "company":
            name = f"{base} {rng.choice(_COMPANY)}"
        elif kind == "club":
            name = rng.choice(_CLUB).format(base)
        else:
            name = base
        if name.lower() in names:
            continue
        names.add(name.lower())
        count = rng.randint(2, 5)
        values: list[str] = []
        while len(values) < count:
            if obj_kind == "person":
                v = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            else:
                v = rng.choice(_STADIUM).format(_place(rng))
            if v not in values:
                values.append(v)
        t = datetime(rng.randint(1960, 1995), rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC)
        starts = []
        for _ in values:
            starts.append(t)
            t = t + timedelta(days=rng.randint(180, 8 * 365))
        out.append(Subject(name, predicate, text, question, values, starts))
    return out


def claim_id(mode: str, subj: Subject, i: int) -> str:
    return f"{mode}:{subj.name}:{i}"


def claim_for(mode: str, subj: Subject, i: int) -> dict:
    """The JSONL-format claim of value ``i`` of ``subj`` as written in ``mode``."""
    start, end = subj.interval(i)
    text = subj.text.format(s=subj.name, o=subj.values[i])
    c: dict = {
        "claim_id": claim_id(mode, subj, i),
        "text": text,
        "subject": subj.name,
        "predicate": subj.predicate,
        "object": subj.values[i],
        "entities": [subj.name],
        "valid_from": _rfc3339(start),
        "evidence": [
            {
                "evidence_id": claim_id(mode, subj, i) + ":ev",
                "doc_id": f"registry:{subj.name}",
                "span_start": 0,
                "span_end": len(text),
                "quote": text,
                "source_quality": 0.8,
            }
        ],
    }
    if mode == "closed" and end is not None:
        c["valid_to"] = _rfc3339(end)
    if mode == "open-client" and i > 0:
        c["edges"] = [{"to_claim_id": claim_id(mode, subj, i - 1), "relation": "supersedes"}]
    return c


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expected_as_of(subj: Subject, t: datetime) -> str | None:
    for i in range(len(subj.values)):
        start, end = subj.interval(i)
        if start <= t and (end is None or t < end):
            return subj.values[i]
    return None


def expected_known(mode: str, subj: Subject, waves_known: int, t: datetime) -> str | None:
    """The value valid at ``t`` according to what the store holds after ``waves_known`` waves."""
    known = min(waves_known, len(subj.values))
    for i in reversed(range(known)):
        start = subj.starts[i]
        # A closed claim ends where it says; an open one where its (known) successor begins.
        successor = subj.starts[i + 1] if i + 1 < known else None
        end = subj.interval(i)[1] if mode == "closed" else successor
        if start <= t and (end is None or t < end):
            return subj.values[i]
    return None


@dataclass
class Query:
    kind: str  # as_of | as_known_at
    mode: str
    subject: str
    question: str
    expected: str | None
    as_of: datetime
    as_known_at: datetime | None = None
    wave: int | None = None
    interval: int | None = None


@dataclass
class Outcome:
    query: Query
    got: str | None
    top: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.got == self.query.expected


def ingest_waves(
    client: DashClient, subjects: list[Subject], modes: tuple[str, ...], gap_s: float = 0.05, progress=True
) -> list[datetime]:
    """Write wave 1..max for every mode; returns the clock after wave w at index w (index 0: before)."""
    stamps = [datetime.now(UTC)]
    time.sleep(gap_s)
    waves = max(len(s.values) for s in subjects)
    for w in tqdm(range(waves), desc="waves", file=sys.stderr, disable=not progress):
        for mode in modes:
            batch = [claim_for(mode, s, w) for s in subjects if w < len(s.values)]
            # Waiting for detection: the wave's stamp must follow the supersessions the detector finds.
            client.ingest_batch(batch, tenant=mode, wait_for_detection=True)
        time.sleep(gap_s)
        stamps.append(datetime.now(UTC))
        time.sleep(gap_s)
    return stamps


def build_queries(
    subjects: list[Subject], modes: tuple[str, ...], stamps: list[datetime], samples: int, seed: int
) -> list[Query]:
    rng = random.Random(seed)
    out: list[Query] = []
    for mode in modes:
        for s in subjects:
            q = s.question.format(s=s.name)
            for i in range(len(s.values)):
                start, end = s.interval(i)
                end = end or start + timedelta(days=5 * 365)
                for _ in range(samples):
                    t = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds() - 1))
                    t = t.replace(microsecond=0)
                    out.append(Query("as_of", mode, s.name, q, expected_as_of(s, t), t, interval=i))
                # Edges of the half-open intervals: the first instant of a value, the last second before
                # it, and an instant before the first value (nothing holds then).
                edges = [start, start - timedelta(seconds=1)] if i else [start - timedelta(days=1)]
                for t in edges:
                    out.append(Query("as_of_edges", mode, s.name, q, expected_as_of(s, t), t, interval=i))
            for w, known_at in enumerate(stamps):
                exp = expected_known(mode, s, w, FAR_FUTURE)
                out.append(Query("as_known_at", mode, s.name, q, exp, FAR_FUTURE, known_at, wave=w))
    return out


def run_query(client: DashClient, q: Query) -> Outcome:
    res = client.retrieve(
        q.question,
        top_k=3,
        as_of=q.as_of,
        as_known_at=q.as_known_at,
        entities=[q.subject],
        include_history=False,
        tenant=q.mode,
    )
    top = [
        {
            "claim_id": r.claim_id,
            "object": r.object,
            "score": round(r.score, 4),
            "valid_from": r.valid_from.isoformat() if r.valid_from else None,
            "valid_to": r.valid_to.isoformat() if r.valid_to else None,
            "recorded_at": r.recorded_at.isoformat() if r.recorded_at else None,
        }
        for r in res.results
    ]
    return Outcome(q, top[0]["object"] if top else None, top)


def run_queries(client: DashClient, queries: list[Query], workers: int = 4, progress=True) -> list[Outcome]:
    with ThreadPoolExecutor(workers) as pool:
        it = pool.map(lambda q: run_query(client, q), queries)
        return list(tqdm(it, total=len(queries), desc="queries", file=sys.stderr, disable=not progress))


def summarize(outcomes: list[Outcome]) -> dict:
    """Accuracy per (mode, kind), per wave for as_known_at, and the failures."""
    acc: dict = {}
    for kind in KINDS:
        for mode in sorted({o.query.mode for o in outcomes}):
            rows = [o for o in outcomes if o.query.kind == kind and o.query.mode == mode]
            if not rows:
                continue
            entry = {"queries": len(rows), "correct": sum(o.ok for o in rows)}
            entry["accuracy"] = entry["correct"] / len(rows)
            if kind == "as_known_at":
                per_wave = {}
                for w in sorted({o.query.wave for o in rows}):
                    wr = [o for o in rows if o.query.wave == w]
                    per_wave[str(w)] = sum(o.ok for o in wr) / len(wr)
                entry["accuracy_by_wave"] = per_wave
            else:
                per_interval = {}
                for i in sorted({o.query.interval for o in rows}):
                    ir = [o for o in rows if o.query.interval == i]
                    per_interval[str(i + 1)] = sum(o.ok for o in ir) / len(ir)
                entry["accuracy_by_value_index"] = per_interval
            acc.setdefault(kind, {})[mode] = entry
    failures = []
    for o in outcomes:
        if o.ok:
            continue
        q = asdict(o.query)
        q["as_of"] = o.query.as_of.isoformat()
        q["as_known_at"] = o.query.as_known_at.isoformat() if o.query.as_known_at else None
        failures.append({**q, "got": o.got, "top": o.top})
    patterns = Counter(
        (f["kind"], f["mode"], "empty" if f["got"] is None else "expected-none" if f["expected"] is None
         else "wrong-value")
        for f in failures
    )  # fmt: skip
    return {
        "accuracy": acc,
        "failures": len(failures),
        "failure_patterns": {" / ".join(k): v for k, v in sorted(patterns.items())},
        "failure_examples": failures[:200],
    }


def evaluate(
    cluster_dir: Path,
    subjects: list[Subject],
    modes: tuple[str, ...] = MODES,
    samples: int = 1,
    seed: int = 7,
    spec: ClusterSpec | None = None,
    workers: int = 4,
    progress: bool = True,
) -> dict:
    """Start a cluster in ``cluster_dir``, write the waves, run the queries; the summary dict."""
    spec = spec or ClusterSpec(nodes=3, shards=4, replicas=1)
    with LocalCluster(cluster_dir, spec) as c, DashClient(c.router, api_key=c.api_key) as client:
        t0 = time.perf_counter()
        stamps = ingest_waves(client, subjects, modes, progress=progress)
        ingest_s = time.perf_counter() - t0
        queries = build_queries(subjects, modes, stamps, samples, seed)
        t0 = time.perf_counter()
        outcomes = run_queries(client, queries, workers, progress)
        query_s = time.perf_counter() - t0
    summary = summarize(outcomes)
    summary["setup"] = {
        "code": code_state(),
        "subjects": len(subjects),
        "claims_per_mode": sum(len(s.values) for s in subjects),
        "values_per_subject": dict(sorted(Counter(len(s.values) for s in subjects).items())),
        "modes": list(modes),
        "as_of_samples_per_interval": samples,
        "seed": seed,
        "cluster": asdict(spec),
        "wave_stamps": [t.isoformat() for t in stamps],
        "ingest_seconds": round(ingest_s, 2),
        "queries": len(queries),
        "query_seconds": round(query_s, 2),
    }
    return summary


def write_report(summary: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    acc = summary["accuracy"]
    setup = summary["setup"]
    lines = [
        "# Bitemporal accuracy through the router (`scripts/eval_temporal.py`)",
        "",
        f"Code: commit {setup['code']['git_head']}, product code with uncommitted changes: "
        f"{setup['code']['product_code_uncommitted_changes']}, run {setup['code']['run_at']}.",
        "",
        f"{setup['subjects']} generated subjects, {setup['claims_per_mode']} claims per mode, values per "
        f"subject {setup['values_per_subject']}; cluster {setup['cluster']['nodes']} nodes / "
        f"{setup['cluster']['shards']} shards / replicas {setup['cluster']['replicas']}; "
        f"{setup['queries']} queries in {setup['query_seconds']} s.",
        "",
        "`as_of`: a random instant inside each interval; `as_of_edges`: the first instant of each value, "
        "the second before it, and a day before the first value (expected: nothing); `as_known_at`: after "
        "each wave, valid time far in the future.",
        "",
        "| mode | " + " | ".join(f"{k} accuracy (queries)" for k in KINDS) + " |",
        "|---|" + "---|" * len(KINDS),
    ]
    for mode in setup["modes"]:
        cells = []
        for kind in KINDS:
            e = acc.get(kind, {}).get(mode, {})
            cells.append(f"{e.get('accuracy', 0):.4f} ({e.get('queries', 0)})")
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    lines += ["", "as_known_at accuracy by wave (0 = before the first wave):", ""]
    waves = sorted({w for m in acc.get("as_known_at", {}).values() for w in m["accuracy_by_wave"]}, key=int)
    lines.append("| mode | " + " | ".join(f"wave {w}" for w in waves) + " |")
    lines.append("|---|" + "---|" * len(waves))
    for mode, m in acc.get("as_known_at", {}).items():
        lines.append(
            f"| {mode} | " + " | ".join(f"{m['accuracy_by_wave'].get(w, 0):.3f}" for w in waves) + " |"
        )
    lines += ["", f"Failures: {summary['failures']}", ""]
    for pat, n in summary["failure_patterns"].items():
        lines.append(f"- {pat}: {n}")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    _plot(summary, out.with_suffix(".png"))


def _plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acc = summary["accuracy"]
    modes = summary["setup"]["modes"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    xs = range(len(modes))
    for off, kind in zip((-0.27, 0.0, 0.27), KINDS, strict=True):
        ax1.bar([x + off for x in xs], [acc.get(kind, {}).get(m, {}).get("accuracy", 0) for m in modes],
                width=0.27, label=kind)  # fmt: skip
    ax1.set_xticks(list(xs), modes)
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel("top-1 accuracy")
    ax1.set_title("accuracy by write mode")
    ax1.legend()
    for mode, m in acc.get("as_known_at", {}).items():
        w = sorted(m["accuracy_by_wave"], key=int)
        ax2.plot([int(x) for x in w], [m["accuracy_by_wave"][x] for x in w], marker="o", label=mode)
    ax2.set_ylim(0, 1.05)
    ax2.set_xlabel("as_known_at = after wave")
    ax2.set_title("as_known_at accuracy by wave")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=500)
    ap.add_argument("--samples", type=int, default=1, help="as_of instants per validity interval")
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=4, help="concurrent queries")
    ap.add_argument("--cluster-dir", type=Path, help="default: a temporary directory")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs/benchmarks/eval_temporal.json")
    args = ap.parse_args(argv)
    subjects = generate(args.subjects, args.seed)
    with tempfile.TemporaryDirectory(prefix="dash-eval-temporal-") as tmp:
        summary = evaluate(
            args.cluster_dir or Path(tmp) / "cluster", subjects, tuple(args.modes), args.samples, args.seed,
            workers=args.workers,
        )  # fmt: skip
    write_report(summary, args.out)
    for kind, per_mode in summary["accuracy"].items():
        for mode, e in per_mode.items():
            print(f"{kind:12s} {mode:14s} {e['accuracy']:.4f} ({e['correct']}/{e['queries']})")
    print(f"failures: {summary['failures']} {summary['failure_patterns']}")
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
