"""The synthetic STTR file: read by the real importer, and every way to its conclusions as its tables say."""

from __future__ import annotations

import pytest

from etl.rules.sttr import parse_sttr
from services.decisions import evaluate
from synth.sttr import TITLE, sttr_document

MONUMENT, GEZICHT, KANT, ZIJKANT_STRAAT = ("uitv_synth-monument", "uitv_synth-gezicht", "uitv_synth-kant",
                                          "uitv_synth-zijkant-straat")


@pytest.fixture(scope="module")
def activity():
    return parse_sttr(sttr_document().encode(), "synthetisch.sttr.xml")


def test_it_reads_as_sttr(activity):
    assert activity.id == "kozijn-plaatsen-synthetisch" and activity.title == TITLE
    assert [q.id for q in activity.questions] == [MONUMENT, GEZICHT, KANT, ZIJKANT_STRAAT]
    assert [d.name for d in activity.decisions] == ["Pad 1", "Pad 2", "Pad 3", "Pad 4", "_Conclusie_dummy"]
    assert "**monument**" in activity.questions[0].toelichting


@pytest.mark.parametrize("answers, conclusion", [
    ({MONUMENT: "Gemeentelijk monument"}, "Vergunningplicht"),                  # Pad 1, row 2
    ({MONUMENT: "Geen monument", GEZICHT: True}, "Vergunningplicht"),         # Pad 2, row 1
    ({MONUMENT: "Geen monument", GEZICHT: False, KANT: "Voorkant"}, "Vergunningplicht"),  # Pad 3, row 1
    ({MONUMENT: "Geen monument", GEZICHT: False, KANT: "Zijkant", ZIJKANT_STRAAT: True}, "Vergunningplicht"),  # Pad 4
    ({MONUMENT: "Geen monument", GEZICHT: False, KANT: "Zijkant", ZIJKANT_STRAAT: False}, "Toestemmingsvrij"),
    # the achterkant: every Pad "no hit" without the street question being asked
    ({MONUMENT: "Geen monument", GEZICHT: False, KANT: "Achterkant"}, "Toestemmingsvrij"),
])
def test_each_way_to_a_conclusion(activity, answers, conclusion):
    result = evaluate(activity, answers)
    assert (result.conclusion, result.open_questions, result.gap) == (conclusion, [], False)


def test_open_questions_come_in_priority_order(activity):
    assert [q.id for q in evaluate(activity, {}).open_questions] == [MONUMENT, GEZICHT, KANT, ZIJKANT_STRAAT]
    assert [q.id for q in evaluate(activity, {MONUMENT: "Geen monument", GEZICHT: False, KANT: "Zijkant"})
            .open_questions] == [ZIJKANT_STRAAT]
