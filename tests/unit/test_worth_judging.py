"""The edge builder's cheap pair test: which pairs of claims the judge gets to see."""

from __future__ import annotations

import pytest

from dash_client._pb.dash.v1 import types_pb2
from dash_node.evidence.builder import pair_keys, worth_judging

AIRPORT = "Corvane Abbey Airport"


def _claim(text: str, subject: str = "", predicate: str = "") -> types_pb2.Claim:
    return types_pb2.Claim(claim_id=text, text=text, subject=subject, predicate=predicate)


@pytest.mark.parametrize(
    ("a", "b", "worth"),
    [
        # one subject, two different facts: the long name alone made these look alike (Jaccard 4/13)
        (
            _claim(f"{AIRPORT} handles 782 flights a day.", AIRPORT, "handles"),
            _claim(f"{AIRPORT} serves 810 million passengers a year.", AIRPORT, "serves"),
            False,
        ),
        # one subject, one fact told with two verbs: what they say overlaps
        (
            _claim(f"{AIRPORT} handles 782 flights a day.", AIRPORT, "handles"),
            _claim(f"{AIRPORT} operates 900 flights a day.", AIRPORT, "operates"),
            True,
        ),
        # one subject and predicate: always judged, whatever the words
        (
            _claim(f"{AIRPORT} handles 782 flights a day.", AIRPORT, "handles"),
            _claim("It handles just a few.", AIRPORT, "handles"),
            True,
        ),
        # only one names its subject: the whole texts are compared, name included
        (
            _claim("Acme employs 50 people.", "Acme"),
            _claim("Acme employs 60 people."),
            True,
        ),
        (_claim("Acme employs 50 people.", "Acme"), _claim("Globex employs 50 people.", "Globex"), False),
    ],
)
def test_pairs_are_compared_on_what_they_say_about_their_subject(
    a: types_pb2.Claim, b: types_pb2.Claim, worth: bool
) -> None:
    assert worth_judging(pair_keys(a), pair_keys(b), 0.3) is worth
    assert worth_judging(pair_keys(b), pair_keys(a), 0.3) is worth
