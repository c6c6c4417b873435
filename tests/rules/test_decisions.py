"""The decision-table engine (services.decisions) on the 8 real Amsterdam STTR files and on crafted tables.

The expected conclusions below are worked out by hand from the tables (the Pad and rule that decide are named in
each case, with the rules that rule the other Pads out); the engine's path must name the same rule. Pads and
questions are written as in the files: "Pad N rK" is the K-th rule of table "Pad N", questions go by their
inter:prioriteit (p10, p20, …), list answers by the option's position (0 = first).
"""

from __future__ import annotations

import itertools
import json
import random

import pytest

from etl.rules.sttr import parse_sttr
from services.decisions import AnswerError, check_answers, evaluate
from tests.rules.conftest import all_answer_sets, brute, by_priority, crafted, domain

V, N, T = "Vergunningplicht", "NeemContactOpMet", "Toestemmingsvrij"

# (activity, answers {priority: value}, conclusion, deciding Pad or None for no_hit_rule, its rule number,
#  the conclusion's rule number, why — worked out from the tables)
HAND = [
    # kozijn-plaatsen-in-een-monument: p10 monument? (Rijks, Gemeentelijk, Geen), p20 nieuw (0) / bestaand (1),
    # p30 verandert (0) / niet (1)
    ("kozijn-plaatsen-in-een-monument", {10: "Rijksmonument", 20: "Ik ga een nieuw kozijn plaatsen op een plek waar "
     "er eerst geen was."}, V, "Pad 1", 1, 1, "Pad 1 r1: Rijksmonument & nieuw kozijn"),
    ("kozijn-plaatsen-in-een-monument", {10: 1, 20: 1, 30: 0}, V, "Pad 2", 2, 2,
     "Pad 1 r4 no hit (bestaand), Pad 2 r2: Gemeentelijk & bestaand & verandert"),
    ("kozijn-plaatsen-in-een-monument", {10: "Geen monument"}, T, None, None, 3,
     "Pad 1 r3 and Pad 2 r3 no hit (Geen monument): no_hit_rule"),
    ("kozijn-plaatsen-in-een-monument", {10: 0, 20: 1, 30: 1}, T, None, None, 3,
     "Pad 1 r4 (bestaand), Pad 2 r5 (verandert niet): no hit both"),
    # het-wijzigen-van-een-monument-bij-een-dakraam: p10 monument (bool), p20 nieuw/bestaand, p30 verandert/niet
    ("het-wijzigen-van-een-monument-bij-een-dakraam", {10: True, 20: 0}, V, "Pad 1", 1, 1, "Pad 1 r1"),
    ("het-wijzigen-van-een-monument-bij-een-dakraam", {10: True, 20: 1, 30: 0}, V, "Pad 2", 1, 2,
     "Pad 1 r3 no hit (bestaand), Pad 2 r1: monument & bestaand & verandert"),
    ("het-wijzigen-van-een-monument-bij-een-dakraam", {10: False}, T, None, None, 3, "Pad 1 r2, Pad 2 r2"),
    ("het-wijzigen-van-een-monument-bij-een-dakraam", {10: True, 20: 1, 30: 1}, T, None, None, 3,
     "Pad 1 r3, Pad 2 r4 (verandert niet)"),
    # zonnepaneel-en-zonneboiler-monument: p10 panelen (0) / boiler (1); panelen: p20 monument, p30 nieuw/bestaand,
    # p40 verandert; boiler: p50 monument, p60 nieuw/bestaand, p70 verandert
    ("zonnepaneel-en-zonneboiler-monument", {10: 0, 20: True, 30: 0}, V, "Pad 1", 1, 1, "panelen, monument, nieuw"),
    ("zonnepaneel-en-zonneboiler-monument", {10: 1, 50: True, 60: 0}, V, "Pad 2", 1, 2,
     "Pad 1 r2 no hit (boiler); Pad 2 r1: boiler, monument, nieuw"),
    ("zonnepaneel-en-zonneboiler-monument", {10: 0, 20: True, 30: 1, 40: 0}, V, "Pad 3", 1, 3,
     "Pad 1 r4 (bestaand), Pad 2 r2 (panelen); Pad 3 r1: panelen, monument, bestaand, verandert"),
    ("zonnepaneel-en-zonneboiler-monument", {10: 1, 50: True, 60: 1, 70: 0}, V, "Pad 4", 1, 4,
     "Pad 1/3 r2 (boiler), Pad 2 r4 (bestaand); Pad 4 r1: boiler, monument, bestaand, verandert"),
    ("zonnepaneel-en-zonneboiler-monument", {10: 0, 20: False}, T, None, None, 5,
     "Pad 1 r3, Pad 3 r3 (geen monument), Pad 2 r2, Pad 4 r2 (panelen)"),
    ("zonnepaneel-en-zonneboiler-monument", {10: 1, 50: True, 60: 1, 70: 1}, T, None, None, 5,
     "Pad 1/3 r2 (boiler), Pad 2 r4 (bestaand), Pad 4 r5 (verandert niet)"),
    # zonwering-rolhek-luik-of-rolluik-monument: p10 monument (Rijks, Gem, Geen), p20 zonwering (0) / rolhek (1),
    # zonwering: p30 nieuw/bestaand, p40 verandert; rolhek: p50 nieuw/bestaand, p60 verandert
    ("zonwering-rolhek-luik-of-rolluik-monument", {10: 0, 20: 0, 30: 0}, V, "Pad 1", 1, 1, "Rijks, zonwering, nieuw"),
    ("zonwering-rolhek-luik-of-rolluik-monument", {10: 1, 20: 1, 50: 0}, V, "Pad 2", 2, 2,
     "Pad 1 r4 (rolhek); Pad 2 r2: Gemeentelijk, rolhek, nieuw"),
    ("zonwering-rolhek-luik-of-rolluik-monument", {10: 1, 20: 0, 30: 1, 40: 0}, V, "Pad 3", 2, 3,
     "Pad 1 r5 (bestaand), Pad 2 r4 (zonwering); Pad 3 r2: Gemeentelijk, zonwering, bestaand, verandert"),
    ("zonwering-rolhek-luik-of-rolluik-monument", {10: 0, 20: 1, 50: 1, 60: 0}, V, "Pad 4", 1, 4,
     "Pad 1 r4, Pad 3 r4 (rolhek), Pad 2 r5 (bestaand); Pad 4 r1: Rijks, rolhek, bestaand, verandert"),
    ("zonwering-rolhek-luik-of-rolluik-monument", {10: 2}, T, None, None, 5, "every Pad r3: Geen monument"),
    ("zonwering-rolhek-luik-of-rolluik-monument", {10: 0, 20: 0, 30: 1, 40: 1}, T, None, None, 5,
     "Pad 1 r5 (bestaand), Pad 2 r4 and Pad 4 r4 (zonwering), Pad 3 r6 (verandert niet)"),
    # kozijn-plaatsen: p10 monument (Rijks, Gem, Geen); monument: p20 nieuw/bestaand, p30 verandert;
    # geen monument: p40 nieuw/bestaand, p50 verandert, p60 beschermd gezicht, p70 hoofdgebouw (0) / aanbouw (1),
    # p80 voor/zij/achterkant, p90–p140 what that side borders
    ("kozijn-plaatsen", {10: 0, 20: 0}, V, "Pad 1", 1, 1, "Pad 1 r1: Rijksmonument & nieuw kozijn"),
    ("kozijn-plaatsen", {10: 2, 40: 0, 70: 1}, N, "Pad 2", 1, 2,
     "Pad 1 r3 no hit (Geen monument); Pad 2 r1: geen monument, nieuw kozijn in een aanbouw → NeemContactOpMet"),
    ("kozijn-plaatsen", {10: 2, 40: 1, 50: 0, 70: 1}, N, "Pad 4", 1, 4,
     "Pad 1/3 r3 (Geen monument), Pad 2 r4 (bestaand); Pad 4 r1: bestaand, vorm verandert, aanbouw"),
    ("kozijn-plaatsen", {10: 2, 40: 0, 60: True, 70: 0, 80: 0}, V, "Pad 5", 1, 5,
     "Pad 1/3 r3 (Geen monument), Pad 2 r5 (hoofdgebouw), Pad 4 r4 (nieuw); "
     "Pad 5 r1: beschermd, hoofdgebouw, voorkant"),
    ("kozijn-plaatsen", {10: 2, 40: 1, 50: 1}, T, None, None, 19,
     "geen monument, bestaand kozijn dat niet verandert: every Pad has a no-hit rule on p10, p40 or p50"),
    # dakraam-bouwen: p10 monument (bool), p20 nieuw/bestaand (monument), p40 nieuw/bestaand, p50 verandert,
    # p60 beschermd gezicht, p70 achterkant
    ("dakraam-bouwen", {10: True, 20: 0}, V, "Pad 1", 1, 1, "Pad 1 r1: monument & nieuw dakraam"),
    ("dakraam-bouwen", {10: False, 40: 0, 60: True, 70: False}, V, "Pad 3", 1, 3,
     "Pad 1/2 r2 (geen monument); Pad 3 r1: nieuw dakraam, beschermd gezicht, niet aan de achterkant"),
    ("dakraam-bouwen", {10: False, 40: 1, 50: 1}, T, None, None, 41, "geen monument, bestaand dakraam, gelijk"),
    # zonnepaneel-en-zonneboiler-bouwen: p10 panelen (0) / boiler (1), p20/p70 monument,
    # p30/p50/p80/p100 nieuw/bestaand,
    # p120/p130 beschermd gezicht, p140 achterkant, p260/p270 plat dak, p300/p310 schuin dak
    ("zonnepaneel-en-zonneboiler-bouwen", {10: 0, 20: True, 30: 0}, V, "Pad 1", 1, 1, "panelen op monument, nieuw"),
    ("zonnepaneel-en-zonneboiler-bouwen", {10: 1, 70: False, 100: 0, 270: False, 310: False}, N, "Pad 6", 1, 6,
     "Pad 1/4/5 r2 (boiler), Pad 2/3 r3 (geen monument); Pad 6 r1: nieuwe boiler, niet op een plat of schuin dak"),
    ("zonnepaneel-en-zonneboiler-bouwen", {10: 0, 20: False, 50: 0, 120: False, 260: False, 300: False}, N, "Pad 8", 1,
     8, "Pad 1/4 r3 (geen monument), Pad 2/3/6/7 r2 (panelen), Pad 5 r5 (niet beschermd); Pad 8 r1: nieuwe panelen, "
        "niet op een plat of schuin dak"),
    ("zonnepaneel-en-zonneboiler-bouwen", {10: 0, 20: False, 50: 0, 120: True, 140: False, 260: False, 300: False}, N,
     "Pad 8", 1, 8, "Pad 5 r1 hits too (beschermd, niet achterkant: Vergunningplicht), but in the conclusion "
                    "NeemContactOpMet precedes Vergunningplicht (test_contact_precedes_permit_in_the_conclusion)"),
    ("zonnepaneel-en-zonneboiler-bouwen", {10: 1, 70: True, 80: 1, 90: 1}, T, None, None, 52,
     "boiler op monument, bestaande plek, verandert niet"),
    # zonwering-rolhek-luik-of-rolluik-bouwen: p10 monument (Rijks, Gem, Geen), p20 zonwering (0) / rolhek (1),
    # p30/p50 nieuw/bestaand (monument), p90 nieuw/bestaand rolhek, p100 verandert
    ("zonwering-rolhek-luik-of-rolluik-bouwen", {10: 0, 20: 0, 30: 0}, V, "Pad 1", 1, 1, "Rijks, zonwering, nieuw"),
    ("zonwering-rolhek-luik-of-rolluik-bouwen", {10: 1, 20: 1, 50: 0}, V, "Pad 2", 2, 2,
     "Pad 1 r4 (rolhek); Pad 2 r2: Gemeentelijk, rolhek, nieuw"),
    ("zonwering-rolhek-luik-of-rolluik-bouwen", {10: 2, 20: 1, 90: 1, 100: 1}, T, None, None, 45,
     "geen monument, bestaand rolhek dat niet verandert"),
]


def _ids():
    return [f"{a}:{c}:{pad or 'no_hit'}:{i}" for i, (a, _, c, pad, *_rest) in enumerate(HAND)]


@pytest.mark.parametrize(("activity_id", "spec", "conclusion", "pad", "pad_rule", "conclusion_rule", "why"), HAND,
                         ids=_ids())
def test_hand_worked_paths(activities, activity_id, spec, conclusion, pad, pad_rule, conclusion_rule, why):
    a = activities[activity_id]
    answers = by_priority(a, spec)
    e = evaluate(a, answers)
    assert e.conclusion == conclusion, why
    assert e.open_questions == [] and not e.gap
    top = a.conclusion_decision
    assert e.path[-1]["decision"] == top.name and e.path[-1]["rule"] == top.rules[conclusion_rule - 1].id, why
    assert e.toelichting == top.rules[conclusion_rule - 1].toelichting
    deciding = [s for s in e.path[:-1] if s["output"] != "no hit"]
    if pad is None:  # no_hit_rule: every Pad decided "no hit", each with its rule in the path
        assert deciding == [] and len(e.path) == len(a.decisions)
    else:
        d = next(d for d in a.decisions if d.name == pad)
        assert [(s["decision"], s["rule"]) for s in deciding] == [(pad, d.rules[pad_rule - 1].id)], why
        tested = deciding[0]["answers"]
        assert tested and all(answers[k] == v for k, v in tested.items())
    # sound: however the questions not asked would be answered, plain DMN gives the same conclusion
    rng = random.Random(activity_id)
    for _ in range(50):
        full = {q.id: answers.get(q.id, rng.choice(domain(q))) for q in a.questions}
        assert brute(a, full) == conclusion, why


def test_contact_precedes_permit_in_the_conclusion(activities):
    """zonnepaneel-en-zonneboiler-bouwen: Pad 5 (Vergunningplicht) and Pad 8 (NeemContactOpMet) both hit here.

    New panels, no monument, beschermd gezicht, not at the back (Pad 5 r1) and not on a flat or sloping roof
    (Pad 8 r1). The conclusion table lists Pad 5 (rule 5) before Pad 8 (rule 8), but where several conclusion rules
    match, NeemContactOpMet precedes Vergunningplicht, as in the DSO's Vergunningcheck: NeemContactOpMet, by
    conclusion rule 8. And while Pad 8 is still open, Pad 5's Vergunningplicht alone does not conclude.
    """
    a = activities["zonnepaneel-en-zonneboiler-bouwen"]
    both = {10: 0, 20: False, 50: 0, 120: True, 140: False, 260: False, 300: False}
    e = evaluate(a, by_priority(a, both))
    assert e.conclusion == N
    top = a.conclusion_decision
    assert [(s["decision"], s["rule"]) for s in e.path] == [
        ("Pad 8", a.decisions[7].rules[0].id), (top.name, top.rules[7].id)]
    pads = {d.name: d for d in a.decisions}
    assert pads["Pad 5"].rules[0].output == V and pads["Pad 8"].rules[0].output == N
    # Pad 5 has hit, but Pad 8 (p260 plat dak, p300 schuin dak) could still make it NeemContactOpMet
    partial = {k: v for k, v in both.items() if k not in (260, 300)}
    e = evaluate(a, by_priority(a, partial))
    assert e.conclusion is None and 260 in [q.priority for q in e.open_questions]
    # a flat roof (p260) rules Pad 8 out (r5); the other contact Pads for panels need a bestaand panel (Pad 15, 33:
    # p50 = 1) or the back (Pad 25: p140), those for a boiler a boiler: Vergunningplicht by Pad 5 r1, rule 5
    e = evaluate(a, by_priority(a, {**partial, 260: True}))
    assert e.conclusion == V
    assert [(s["decision"], s["rule"]) for s in e.path] == [
        ("Pad 5", a.decisions[4].rules[0].id), (top.name, top.rules[4].id)]
    base = by_priority(a, {**partial, 260: True})
    rng = random.Random(5)
    for _ in range(50):
        assert brute(a, {q.id: base.get(q.id, rng.choice(domain(q))) for q in a.questions}) == V


def test_gap_in_real_table(activities):
    """kozijn-plaatsen Pad 5 has no rule for: geen monument, nieuw kozijn, not beschermd, hoofdgebouw, zijkant.

    Pad 5 r1 and r3 need beschermd gezicht, r2 needs the voorkant; its no-hit rules need a monument (r4, r5), a
    bestaand kozijn (r6), an aanbouw (r7) or the achterkant (r8). So Pad 5 yields nothing, the no_hit_rule can never
    match, and once no other Pad can give a Vergunningplicht (the zijkant questions p90–p110 all "no") the engine
    reports the gap instead of a conclusion.
    """
    a = activities["kozijn-plaatsen"]
    spec = {10: 2, 40: 0, 60: False, 70: 0, 80: 1}
    e = evaluate(a, by_priority(a, spec))
    assert e.conclusion is None and not e.gap
    assert [q.priority for q in e.open_questions] == [90, 100, 110]  # Pad 6, 9, 10 (zijkant) can still hit
    e = evaluate(a, by_priority(a, {**spec, 90: False, 100: False, 110: False}))
    assert e.gap and e.conclusion is None and e.open_questions == [] and e.path == []
    full = by_priority(a, {**spec, 90: False, 100: False, 110: False, 20: 0, 30: 0, 50: 0, 120: True, 130: True,
                           140: True})
    assert brute(a, full) is None  # plain DMN: no conclusion either
    assert evaluate(a, by_priority(a, {**spec, 90: True})).conclusion == V  # Pad 6 r1: zijkant aan een straat


def test_undecided_returns_next_question(activities):
    a = activities["kozijn-plaatsen-in-een-monument"]
    e = evaluate(a, {})
    assert e.conclusion is None and not e.gap and e.path == []
    assert [q.priority for q in e.open_questions] == [10, 20, 30]
    # Rijksmonument, bestaand kozijn: Pad 1 is "no hit" (r4), Pad 2 r1 still waits for p30
    e = evaluate(a, by_priority(a, {10: 0, 20: 1}))
    assert e.conclusion is None and [q.priority for q in e.open_questions] == [30]
    # kozijn-plaatsen, a Rijksmonument: only the monument questions (p20, p30) remain, not the other 11
    k = activities["kozijn-plaatsen"]
    assert [q.priority for q in evaluate(k, by_priority(k, {10: 0})).open_questions] == [20, 30]


@pytest.mark.parametrize("case", range(len(HAND)), ids=_ids())
def test_order_independent(activities, case):
    activity_id, spec, conclusion = HAND[case][:3]
    a = activities[activity_id]
    answers = by_priority(a, spec)
    expected = evaluate(a, answers).to_json()
    items = list(answers.items())
    perms = list(itertools.permutations(items)) if len(items) <= 4 else [
        random.Random(i).sample(items, len(items)) for i in range(24)]
    for perm in perms:
        assert evaluate(a, dict(perm)).to_json() == expected
    # and one at a time, in any order: each prefix is either undecided (asking something) or already this conclusion
    for perm in perms[:6]:
        given = {}
        for k, v in perm:
            given[k] = v
            e = evaluate(a, given)
            assert e.conclusion in (None, conclusion) and (e.decided or e.open_questions)
        assert e.conclusion == conclusion


def _rule_alive(d, rule, answers, questions):
    """A rule not contradicted by the answers given (decision inputs count as open)."""
    for name, entry in zip(d.inputs, rule.entries):
        q = questions.get(name)
        if entry is not None and q is not None and q.id in answers and answers[q.id] != entry:
            return False
    return True


def _semantically_needed(a, answers, q) -> bool:
    """Some completion of the other open questions where q's answer changes the conclusion (brute force)."""
    rest = [o for o in a.questions if o.id not in answers and o.id != q.id]
    for values in itertools.product(*(domain(o) for o in rest)):
        base = {**answers, **{o.id: v for o, v in zip(rest, values)}}
        if len({brute(a, {**base, q.id: v}) for v in domain(q)}) > 1:
            return True
    return False


SMALL = ("kozijn-plaatsen-in-een-monument", "het-wijzigen-van-een-monument-bij-een-dakraam",
         "zonnepaneel-en-zonneboiler-monument", "zonwering-rolhek-luik-of-rolluik-monument")


@pytest.mark.parametrize("activity_id", ["dakraam-bouwen", "het-wijzigen-van-een-monument-bij-een-dakraam",
                                         "kozijn-plaatsen", "kozijn-plaatsen-in-een-monument",
                                         "zonnepaneel-en-zonneboiler-bouwen", "zonnepaneel-en-zonneboiler-monument",
                                         "zonwering-rolhek-luik-of-rolluik-bouwen",
                                         "zonwering-rolhek-luik-of-rolluik-monument"])
def test_dialogue_follows_open_questions(activities, activity_id):
    """Answer open_questions[0] (randomly) until concluded; each question asked is needed, none twice.

    Needed: on the small files, exactly (some completion where its answer changes the conclusion, by brute
    force); on all files, on a live path (it has an entry other than "-" in a rule the answers so far do not
    contradict), in priority order among the open ones. At the end, plain DMN with any completion agrees.
    """
    a = activities[activity_id]
    questions = {q.input: q for q in a.questions}
    rng = random.Random(activity_id)
    for _ in range(20):
        answers: dict = {}
        while True:
            e = evaluate(a, answers)
            if e.decided:
                break
            assert e.open_questions, "undecided but nothing to ask"
            prios = [q.priority for q in e.open_questions]
            assert prios == sorted(prios)
            q = e.open_questions[0]
            assert q.id not in answers
            assert any(entry is not None and _rule_alive(d, r, answers, questions)
                       for d in a.decisions if q.input in d.inputs
                       for r in d.rules for name, entry in zip(d.inputs, r.entries) if name == q.input)
            if activity_id in SMALL:
                assert _semantically_needed(a, answers, q), (answers, q.text)
            answers[q.id] = rng.choice(domain(q))
        for _ in range(5):
            full = {o.id: answers.get(o.id, rng.choice(domain(o))) for o in a.questions}
            assert brute(a, full) == e.conclusion


@pytest.mark.parametrize("activity_id", [*SMALL, pytest.param("kozijn-plaatsen", marks=pytest.mark.slow)])
def test_exhaustive_against_plain_dmn(activities, activity_id):
    """Every complete answer set: the three-valued evaluation equals plain DMN (and a gap is plain DMN's None).

    kozijn-plaatsen too (36,864 sets, with its NeemContactOpMet Pads and its 96 gaps).
    """
    a = activities[activity_id]
    seen = set()
    for answers in all_answer_sets(a):
        e = evaluate(a, answers)
        expected = brute(a, answers)
        assert e.conclusion == expected and e.gap == (expected is None) and not e.open_questions, answers
        seen.add(expected)
    assert {V, T} <= seen


@pytest.mark.parametrize("activity_id", SMALL)
def test_partial_answers_sound(activities, activity_id):
    """Every partial answer set of the small files: a conclusion only when every completion gives it."""
    a = activities[activity_id]
    qs = a.questions
    for values in itertools.product(*([None, *domain(q)] for q in qs)):
        partial = {q.id: v for q, v in zip(qs, values) if v is not None}
        e = evaluate(a, partial)
        rest = [q for q in qs if q.id not in partial]
        outcomes = {brute(a, {**partial, **{q.id: v for q, v in zip(rest, vs)}})
                    for vs in itertools.product(*(domain(q) for q in rest))}
        if e.decided:
            assert outcomes == {e.conclusion}, partial
        else:
            assert e.open_questions and all(q.id not in partial for q in e.open_questions)


# -- answers -------------------------------------------------------------------------------------------------------

def test_check_answers(activities):
    a = activities["het-wijzigen-van-een-monument-bij-een-dakraam"]
    q10, q20 = a.questions[0], a.questions[1]
    got = check_answers(a, {q10.id: "true", q20.id: q20.options[0], "uitv_van_een_ander": 3, a.questions[2].id: None})
    assert got == {q10.id: True, q20.id: q20.options[0]}
    with pytest.raises(AnswerError) as e:
        check_answers(a, {q20.id: "Ik ga een dakraam plaatsen"})
    assert e.value.question == q20.id and "is not one of the options" in e.value.reason
    assert q20.options[0] in e.value.reason
    with pytest.raises(AnswerError, match="is not a boolean") as e:
        evaluate(a, {q10.id: "ja"})
    assert e.value.question == q10.id
    with pytest.raises(AnswerError, match="is not a boolean"):
        check_answers(a, {q10.id: 1})  # 1 is not True here
    with pytest.raises(AnswerError, match="not one of the options"):
        check_answers(a, {q20.id: True})


# -- crafted tables ------------------------------------------------------------------------------------------------

def test_crafted_engine():
    a = parse_sttr(crafted(), "schuur.xml")
    assert [q.id for q in evaluate(a, {}).open_questions] == ["uitv_soort", "uitv_voor"]
    # Tuinhuis: Pad 1 r2 "no hit" → Toestemmingsvrij, the voorkant question never asked
    e = evaluate(a, {"uitv_soort": "Tuinhuis"})
    assert e.conclusion == T and e.toelichting is None
    # aan de voorkant alone: Pad 1 r1 waits for the soort, r3 is dead → the soort is the one question left
    e = evaluate(a, {"uitv_voor": True})
    assert e.conclusion is None and [q.id for q in e.open_questions] == ["uitv_soort"]
    e = evaluate(a, {"uitv_voor": True, "uitv_soort": "Schuur"})
    assert e.conclusion == V and e.toelichting == "U hebt een **vergunning** nodig."
    assert e.path == [{"decision": "Pad 1", "rule": "r1", "output": V,
                       "answers": {"uitv_soort": "Schuur", "uitv_voor": True}},
                      {"decision": "_Conclusie_dummy", "rule": "c1", "output": V, "answers": {}}]
    json.dumps(e.to_json())


def test_crafted_gap():
    # r3 now needs "true" too: a Schuur not at the voorkant matches no rule of Pad 1 → the conclusion has a gap
    a = parse_sttr(crafted(('<dmn:inputEntry id="e32"><dmn:text>false', '<dmn:inputEntry id="e32"><dmn:text>true')),
                   "gat.xml")
    e = evaluate(a, {"uitv_soort": "Schuur", "uitv_voor": False})
    assert e.gap and e.conclusion is None and e.open_questions == []
    assert evaluate(a, {"uitv_soort": "Schuur"}).open_questions[0].id == "uitv_voor"


def test_first_rule_in_table_order_counts():
    # r0 before r1 matches the same answers with another output; the first in table order decides
    first = ('<dmn:rule id="r0"><dmn:inputEntry id="e01"><dmn:text>"Schuur"</dmn:text></dmn:inputEntry>'
             '<dmn:inputEntry id="e02"><dmn:text>-</dmn:text></dmn:inputEntry>'
             '<dmn:outputEntry id="x0"><dmn:text>"no hit"</dmn:text></dmn:outputEntry></dmn:rule>')
    a = parse_sttr(crafted(('<dmn:rule id="r1">', first + '<dmn:rule id="r1">'),
                           ('hitPolicy="ANY"', 'hitPolicy="FIRST"')), "first.xml")
    assert a.decisions[0].hit_policy == "FIRST"
    e = evaluate(a, {"uitv_soort": "Schuur", "uitv_voor": True})
    assert e.conclusion == T and e.path[0]["rule"] == "r0"
    # r0 matches on the soort alone: decided without asking the voorkant
    assert evaluate(a, {"uitv_soort": "Schuur"}).conclusion == T
