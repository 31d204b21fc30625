"""Judges: how does a new claim relate to a stored one?

The default :class:`RuleJudge` is deterministic and needs no model, so it runs at ingest speed on every
(new, nearby) pair. Rules run in order and each verdict names the rule that fired in its reason codes:

1. *Structured*: same subject and predicate (normalised) — the same object duplicates or supports; a
   different object of a functional predicate is a conflict, unless the validity intervals (or the
   observation times, for untimed claims) show a succession, because a changed fact is not a
   contradiction.
2. *Text*: the two texts are aligned token by token; differing numbers or dates at aligned positions, an
   odd number of negations, or antonymous words at aligned positions are conflicts — but only when the
   texts align well, share their subject, and differ in nothing else of substance. Near-identical texts
   duplicate; a text that adds qualifiers to the other refines it.

A model-based judge (NLI cross-encoder, LLM endpoint) can replace the rules through
:class:`ContradictionJudge`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from dash_node.evidence.text import (
    DATE,
    Alignment,
    Analysis,
    align,
    analyse,
    lemma,
    negations,
    norm_predicate,
    norm_subject,
    objects_equal,
)

__all__ = [
    "DEFAULT_MULTI_VALUED",
    "ClaimView",
    "ContradictionJudge",
    "Judgement",
    "RuleConfig",
    "RuleJudge",
]


@dataclass(frozen=True)
class ClaimView:
    """What a judge sees of a claim (times as integer nanoseconds since the epoch, None = open/unset)."""

    claim_id: str
    text: str
    subject: str = ""
    predicate: str = ""
    object: str = ""
    entities: tuple[str, ...] = ()
    valid_from: int | None = None
    valid_to: int | None = None
    recorded_at: int = 0
    observed_at: int | None = None  # newest evidence observation, if any
    confidence: float = 1.0


@dataclass(frozen=True)
class Judgement:
    """A verdict on (new, old). ``superseded_by`` means the old claim supersedes the new one."""

    relation: (
        str  # "contradicts" | "supersedes" | "superseded_by" | "duplicates" | "supports" | "refines" | ""
    )
    strength: float  # (0, 1]; 0 with relation ""
    reason_codes: tuple[str, ...]  # rule names; with relation "" they only explain why there is no edge
    detail: str = ""  # a short human explanation


class ContradictionJudge(Protocol):
    """Pluggable: a model-based judge (NLI cross-encoder, LLM endpoint) can replace the rules."""

    name: str

    def judge(self, new: ClaimView, old: ClaimView) -> Judgement: ...


DEFAULT_MULTI_VALUED = frozenset(
    {
        "member of",
        "has",
        "have",
        "includes",
        "include",
        "works with",
        "author of",
        "located near",
        "speaks",
        "speak",
        "owns",
        "produces",
        "sells",
        "borders",
        "contains",
        "part of",
        "partner of",
        "affiliated with",
        "subsidiary of",
        "parent of",
        "child of",
        "sibling of",
        "invested in",
        "visited",
        "studied at",
        "also known as",
        "alias",
        "genre",
        "category",
        "supplier of",
        "customer of",
        "plays",
        "won award",
        "award received",
        "field of work",
        "occupation",
        "language spoken",
        "has subsidiary",
        "has member",
        "operates in",
        "exports",
        "imports",
        "flows through",
        "hosted",
        "collaborates with",
        "friend of",
        "listed on",
    }
)


@dataclass(frozen=True)
class RuleConfig:
    """Which predicates are functional (one object at a time) and how strict the text rules are."""

    functional_predicates: frozenset[str] | None = None  # None = every predicate except multi_valued
    multi_valued_predicates: frozenset[str] = field(default_factory=lambda: DEFAULT_MULTI_VALUED)
    duplicate_threshold: float = 0.9  # token similarity for near-identical text
    min_alignment: float = 0.6  # aligned share of two texts before a number/negation/antonym counts


NONE = Judgement("", 0.0, ())
_YEAR_NS = 365 * 86400 * 10**9
_EPOCH_YEAR = 1970


def _none(*codes: str, detail: str = "") -> Judgement:
    return Judgement("", 0.0, codes, detail)


def _year(ns: int | None) -> str:
    return "open" if ns is None else str(_EPOCH_YEAR + ns // _YEAR_NS)  # approximate; for details only


def _succession(new: ClaimView, old: ClaimView) -> Judgement | None:
    """A later validity or a newer observation turns a conflict into a succession (None: no order)."""
    # Both must say when they hold: an untimed claim against a timed one has no order, so a conflict
    # between them stays a contradiction ("the river is 300 km long" is not history of "... 1,230 km").
    new_timed = new.valid_from is not None or new.valid_to is not None
    old_timed = old.valid_from is not None or old.valid_to is not None
    if new_timed and old_timed:
        lo, hi = -(2**63), 2**63
        nf, of = (
            lo if new.valid_from is None else new.valid_from,
            lo if old.valid_from is None else old.valid_from,
        )
        nt, ot = hi if new.valid_to is None else new.valid_to, hi if old.valid_to is None else old.valid_to
        overlap = nf < ot and of < nt
        if nf != of:
            rel = "supersedes" if nf > of else "superseded_by"
        elif not overlap and nt != ot:  # same start, an empty interval: order by end
            rel = "supersedes" if nt > ot else "superseded_by"
        else:
            return None
        later, earlier = (new, old) if rel == "supersedes" else (old, new)
        return Judgement(
            rel,
            0.85,
            ("temporal:later_validity",),
            f"valid from {_year(later.valid_from)} after {_year(earlier.valid_from)}",
        )
    if new.observed_at is not None and old.observed_at is not None and new.observed_at != old.observed_at:
        rel = "supersedes" if new.observed_at > old.observed_at else "superseded_by"
        return Judgement(rel, 0.7, ("temporal:newer_observation",), "observed later")
    return None


def _words(s: str) -> frozenset[str]:
    return frozenset(lemma(w) for w in norm_subject(s).split())


class RuleJudge:
    """The default judge: deterministic rules over structure, numbers, negation and antonyms."""

    name = "rules-v1"

    def __init__(self, config: RuleConfig = RuleConfig()) -> None:
        self.config = config
        self._multi = frozenset(norm_predicate(p)[0] for p in config.multi_valued_predicates)
        fp = config.functional_predicates
        self._functional = None if fp is None else frozenset(norm_predicate(p)[0] for p in fp)

    def _is_functional(self, pred: str) -> bool:
        return pred in self._functional if self._functional is not None else pred not in self._multi

    def judge(self, new: ClaimView, old: ClaimView) -> Judgement:
        if new.subject and new.predicate and old.subject and old.predicate:
            sn = norm_subject(new.subject)
            if sn and sn == norm_subject(old.subject):
                verdict = self._structured(new, old)
                if verdict is not None:
                    return verdict
        return self._text(new, old)

    # -- rule 1 -------------------------------------------------------------------------------------
    def _structured(self, new: ClaimView, old: ClaimView) -> Judgement | None:
        pn, negn = norm_predicate(new.predicate)
        po, nego = norm_predicate(old.predicate)
        if pn != po or not pn:
            return None  # different predicates: only the text can still say something
        # Polarity lives in the predicate if it is negated there, else in the text.
        poln = negn % 2 if negn else negations(new.text) % 2
        polo = nego % 2 if nego else negations(old.text) % 2
        if not (new.object and old.object):
            return None
        if objects_equal(new.object, old.object):
            if poln != polo:
                return _succession(new, old) or Judgement(
                    "contradicts", 0.85, ("structured:negation_polarity",), f"'{pn}' asserted and denied"
                )
            al = _align_sym(new.text, old.text, analyse(new.text), analyse(old.text))
            if al.similarity >= 0.5:
                return Judgement("duplicates", max(0.9, al.similarity), ("structured:same_object",))
            return Judgement("supports", 0.8, ("structured:same_object",))
        if poln or polo:
            return _none("structured:negated_different_object")
        if not self._is_functional(pn):
            return _none("structured:multi_valued", detail=f"'{pn}' takes several objects")
        return _succession(new, old) or Judgement(
            "contradicts", 0.9, ("structured:functional_object_mismatch",), f"{new.object} vs {old.object}"
        )

    # -- rule 2 -------------------------------------------------------------------------------------
    def _text(self, new: ClaimView, old: ClaimView) -> Judgement:
        cfg = self.config
        x, y = analyse(new.text), analyse(old.text)
        al = _align_sym(new.text, old.text, x, y)
        ex = x.ents | _words(new.subject) | frozenset().union(*(_words(e) for e in new.entities))
        ey = y.ents | _words(old.subject) | frozenset().union(*(_words(e) for e in old.entities))
        head_ok = not (ex and ey) or bool(ex & ey)
        flip_neg = x.neg % 2 != y.neg % 2
        flip_ant = len(al.flips or ()) % 2 == 1
        polarity = flip_neg != flip_ant
        clean = (
            head_ok
            and al.ratio >= cfg.min_alignment
            and not al.substantive
            and not al.entity_diff
            and not al.qualifier_diff
        )
        if clean:
            verdict = self._conflict(new, old, x, y, al, flip_neg, flip_ant, polarity)
            if verdict is not None:
                return verdict
        if al.value_diffs or polarity or al.flips or not head_ok:
            return _none("text:differs")
        if al.similarity >= cfg.duplicate_threshold and not al.entity_diff and not al.qualifier_diff:
            return Judgement("duplicates", round(al.similarity, 6), ("text:near_identical",))
        if al.ratio >= 0.3 and not al.substantive and (x.keys and y.keys) and (al.x_covered or al.y_covered):
            if al.y_covered and not al.x_covered:
                return Judgement("refines", 0.6, ("text:adds_qualifiers",), "new adds detail to old")
            if al.x_covered and not al.y_covered:
                return _none("text:generalises", detail="old adds detail to new")
        return NONE

    def _conflict(
        self,
        new: ClaimView,
        old: ClaimView,
        x: Analysis,
        y: Analysis,
        al: Alignment,
        flip_neg: bool,
        flip_ant: bool,
        polarity: bool,
    ) -> Judgement | None:
        when_diffs, fact_diffs = [], []
        for i, j in al.value_diffs or ():
            a, b = x.vals[i], y.vals[j]
            is_when = (
                x.keys[i] == DATE
                and x.when[i]
                and y.when[j]
                and not (x.oneoff or y.oneoff)
                and a[2] == 0
                and b[2] == 0
            )  # type: ignore[index]
            (when_diffs if is_when else fact_diffs).append((a, b, x.keys[i] == DATE))
        if when_diffs:
            a, b, _ = when_diffs[0]
            if not fact_diffs or polarity:
                return _none("temporal:different_time", detail=f"{a[3]} vs {b[3]}")  # type: ignore[index]
            rel = "supersedes" if a[:3] > b[:3] else "superseded_by"  # type: ignore[index]
            return _succession(new, old) or Judgement(
                rel, 0.75, ("temporal:later_year",), f"{a[3]} vs {b[3]}"
            )  # type: ignore[index]
        if not fact_diffs and not polarity:
            return None
        codes: list[str] = []
        details: list[str] = []
        strength = 0.0
        scale = 0.7 + 0.3 * min(1.0, al.ratio)
        for a, b, is_date in fact_diffs:
            code = "date:mismatch" if is_date else "numeric:mismatch"
            if code not in codes:
                codes.append(code)
            details.append(f"{a[3] if is_date else a[2]} vs {b[3] if is_date else b[2]}")  # type: ignore[index]
            strength = max(strength, 0.85 * scale)
        if polarity and flip_neg:
            codes.append("negation:polarity")
            details.append("negated" if x.neg % 2 else "old negated")
            strength = max(strength, 0.75 * scale)
        if polarity and flip_ant:
            codes.extend(f"antonym:{a}/{b}" for a, b in al.flips or ())
            details.append(", ".join(f"{a} vs {b}" for a, b in al.flips or ()))
            strength = max(strength, 0.7 * scale)
        if polarity and not fact_diffs and flip_neg and (x.no_longer or y.no_longer):
            rel = "supersedes" if (x.no_longer and x.neg % 2) else "superseded_by"
            return Judgement(rel, 0.7, ("temporal:no_longer",), "a change is reported")
        return _succession(new, old) or Judgement(
            "contradicts", round(strength, 6), tuple(codes), "; ".join(details)
        )


def _align_sym(tn: str, to: str, x: Analysis, y: Analysis) -> Alignment:
    """Align in a canonical order so judge(a, b) and judge(b, a) see the same alignment."""
    if tn <= to:
        return align(x, y)
    al = align(y, x)
    al.value_diffs = [(j, i) for i, j in al.value_diffs or ()]
    al.flips = [(b, a) for a, b in al.flips or ()]
    al.x_covered, al.y_covered = al.y_covered, al.x_covered
    return al
