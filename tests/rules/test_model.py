"""The activity model (core.toepasbare_regels): the slug rule and a lossless JSON form."""

from __future__ import annotations

import json

import pytest

from core.toepasbare_regels import Activity, Decision, Question, Rule, activity_id, activity_title
from etl.rules.sttr import parse_sttr
from tests.rules.conftest import crafted


@pytest.mark.parametrize(("name", "expected"), [
    ("Conclusie Kozijn plaatsen", "kozijn-plaatsen"),
    ("Conclusie Zonwering, rolhek, luik of rolluik bouwen", "zonwering-rolhek-luik-of-rolluik-bouwen"),
    ("Conclusie Het wijzigen van een monument bij een dakraam", "het-wijzigen-van-een-monument-bij-een-dakraam"),
    ("  Conclusie  Dakraam -- bouwen!  ", "dakraam-bouwen"),  # runs of other characters → one "-", none at the ends
    ("Kozijn plaatsen", "kozijn-plaatsen"),  # no leading "Conclusie ": the name as it is
    ("Conclusie Café (2e) verbouwen", "caf-2e-verbouwen"),  # only a-z and 0-9 survive
    ("Conclusiebord plaatsen", "conclusiebord-plaatsen"),  # "Conclusie" only as a word of its own
])
def test_activity_id(name, expected):
    assert activity_id(name) == expected


def test_activity_title():
    assert activity_title("Conclusie Kozijn plaatsen") == "Kozijn plaatsen"
    assert activity_title("Kozijn plaatsen") == "Kozijn plaatsen"


def test_json_round_trip_crafted():
    a = parse_sttr(crafted(), "schuur.xml")
    d = a.to_json()
    text = json.dumps(d)  # plain JSON: no tuples, sets or objects
    back = Activity.from_json(json.loads(text))
    assert back == a
    assert back.to_json() == d
    assert d["decisions"][0]["rules"][1]["entries"] == ["Tuinhuis", None]  # "-" is null, texts unquoted
    assert d["decisions"][0]["rules"][0]["entries"] == ["Schuur", True]


def test_json_round_trip_real(activities):
    for a in activities.values():
        back = Activity.from_json(json.loads(json.dumps(a.to_json(), ensure_ascii=False)))
        assert back == a, a.id
        assert isinstance(back.questions, tuple) and isinstance(back.decisions[0].rules[0].entries, tuple)


def test_lookups():
    q = Question(id="q1", input="in1", text="Ja?", type="boolean", options=(), toelichting=None, priority=10)
    d = Decision(id="d1", name="Pad 1", inputs=("in1",), rules=(Rule(id="r1", entries=(True,), output="X"),))
    a = Activity(id="a", title="A", questions=(q,), decisions=(d,), conclusion="d1")
    assert a.question("q1") is q and a.question("nope") is None
    assert a.conclusion_decision is d
    assert d.outputs == ("X",)
    with pytest.raises(ValueError, match="conclusion"):
        _ = Activity(id="a", title="A", questions=(q,), decisions=(d,), conclusion="zz").conclusion_decision
