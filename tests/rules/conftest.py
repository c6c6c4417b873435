"""Shared by the STTR tests: the 8 real Amsterdam files (../shared/data/amsterdam-sttr), a small crafted STTR
document to break in the bad-input tests, answers written by priority, and a plain DMN evaluator.

The plain evaluator (:func:`brute`) is written here apart from services.decisions on purpose: it knows nothing of
missing answers, it just takes every input and returns the output of the first matching rule, as DMN does, and in
the conclusion a matching NeemContactOpMet rule before a matching Vergunningplicht rule before the first matching
other (as the DSO's Vergunningcheck resolves the files' overlapping rules). The engine's three-valued evaluation
must agree with it whenever every answer is given.
"""

from __future__ import annotations

import itertools

import pytest

from core.toepasbare_regels import Activity, Question

STTR_IDS = (
    "dakraam-bouwen", "het-wijzigen-van-een-monument-bij-een-dakraam", "kozijn-plaatsen",
    "kozijn-plaatsen-in-een-monument", "zonnepaneel-en-zonneboiler-bouwen", "zonnepaneel-en-zonneboiler-monument",
    "zonwering-rolhek-luik-of-rolluik-bouwen", "zonwering-rolhek-luik-of-rolluik-monument",
)


@pytest.fixture(scope="session")
def activities(sttr_dir) -> dict[str, Activity]:
    from etl.rules.sttr import read_sttr

    return {a.id: a for a in read_sttr(sttr_dir)}


def by_priority(activity: Activity, spec: dict[int, bool | int | str]) -> dict[str, bool | str]:
    """Answers written as {priority: value}: a bool for a yes/no question, an option's index or text for a list.

    Priorities are unique in these files and stable; question texts are not (kozijn-plaatsen asks "Gaat u een
    kozijn plaatsen of vernieuwen?" twice, once for monuments and once for other buildings).
    """
    questions = {q.priority: q for q in activity.questions}
    assert len(questions) == len(activity.questions), "priorities are not unique"
    out = {}
    for prio, value in spec.items():
        q = questions[prio]
        if q.type == "list" and isinstance(value, int):
            value = q.options[value]
        out[q.id] = value
    return out


def domain(q: Question) -> list[bool | str]:
    return [True, False] if q.type == "boolean" else list(q.options)


def brute(activity: Activity, answers: dict[str, bool | str]) -> str | None:
    """Plain DMN with every answer given: each decision is the output of its first matching rule, or None."""
    questions = {q.input: q for q in activity.questions}
    decisions = {d.name: d for d in activity.decisions}
    memo: dict[str, str | None] = {}

    def value(name):
        if name in questions:
            return answers[questions[name].id]
        if name not in memo:
            d = decisions[name]
            matching = [r.output for r in d.rules
                        if all(e is None or (type(e) is type(value(i)) and e == value(i))
                               for i, e in zip(d.inputs, r.entries))]
            if name == top and "NeemContactOpMet" in matching:
                memo[name] = "NeemContactOpMet"
            elif name == top and "Vergunningplicht" in matching:
                memo[name] = "Vergunningplicht"
            else:
                memo[name] = matching[0] if matching else None
        return memo[name]

    top = activity.conclusion_decision.name
    return value(top)


def all_answer_sets(activity: Activity):
    """Every complete answer set of an activity (only for the small files)."""
    qs = activity.questions
    for values in itertools.product(*(domain(q) for q in qs)):
        yield {q.id: v for q, v in zip(qs, values)}


# A small STTR document in the real files' shape: a list question (priority 10), a yes/no question (20), one Pad
# and the conclusion. Bad-input tests break one thing in it with str.replace.
CRAFTED = """<?xml version="1.0" encoding="UTF-8"?>
<dmn:definitions xmlns:dmn="http://www.omg.org/spec/DMN/20151101/dmn.xsd"
    xmlns:inter="http://toepasbare-regels.omgevingswet.overheid.nl/v1.0/Interactieregel"
    xmlns:uitv="http://toepasbare-regels.omgevingswet.overheid.nl/v1.0/Uitvoeringsregel"
    xmlns:content="http://toepasbare-regels.omgevingswet.overheid.nl/v1.0/Content"
    namespace="urn:test" exporter="test" id="defs" name="Conclusie Schuur bouwen">
 <dmn:extensionElements><uitv:uitvoeringsregels>
  <uitv:uitvoeringsregel id="uitv_soort"><inter:prioriteit>10</inter:prioriteit>
   <uitv:vraag><uitv:gegevensType>list</uitv:gegevensType><uitv:vraagTekst>Wat bouwt u?</uitv:vraagTekst>
    <uitv:opties><uitv:optieType>enkelAntwoord</uitv:optieType>
     <uitv:optie><uitv:sequenceId>1</uitv:sequenceId><uitv:optieText>Tuinhuis</uitv:optieText></uitv:optie>
     <uitv:optie><uitv:sequenceId>0</uitv:sequenceId><uitv:optieText>Schuur</uitv:optieText></uitv:optie>
    </uitv:opties></uitv:vraag>
   <content:uitvoeringsregelToelichting><content:toelichting><![CDATA[Een *schuur* is een bijgebouw.
![foto](https://example.org/schuur.png)]]></content:toelichting></content:uitvoeringsregelToelichting>
  </uitv:uitvoeringsregel>
  <uitv:uitvoeringsregel id="uitv_voor"><uitv:herbruikbaarId>voorkant</uitv:herbruikbaarId>
   <inter:prioriteit>20</inter:prioriteit>
   <uitv:vraag><uitv:gegevensType>boolean</uitv:gegevensType><uitv:vraagTekst>Aan de voorkant?</uitv:vraagTekst>
   </uitv:vraag></uitv:uitvoeringsregel>
 </uitv:uitvoeringsregels></dmn:extensionElements>
 <dmn:inputData id="in_soort" name="soort"><dmn:extensionElements>
  <uitv:uitvoeringsregelRef href="#uitv_soort"/></dmn:extensionElements></dmn:inputData>
 <dmn:inputData id="in_voor" name="voor"><dmn:extensionElements>
  <uitv:uitvoeringsregelRef href="#uitv_voor"/></dmn:extensionElements></dmn:inputData>
 <dmn:decision id="pad1" name="Pad 1">
  <dmn:informationRequirement><dmn:requiredInput href="#in_soort"/></dmn:informationRequirement>
  <dmn:informationRequirement><dmn:requiredInput href="#in_voor"/></dmn:informationRequirement>
  <dmn:decisionTable id="t1" hitPolicy="ANY">
   <dmn:input id="i1"><dmn:inputExpression><dmn:text>soort</dmn:text></dmn:inputExpression></dmn:input>
   <dmn:input id="i2"><dmn:inputExpression><dmn:text>voor</dmn:text></dmn:inputExpression></dmn:input>
   <dmn:output id="o1"/>
   <dmn:rule id="r1"><dmn:inputEntry id="e11"><dmn:text>"Schuur"</dmn:text></dmn:inputEntry>
    <dmn:inputEntry id="e12"><dmn:text>true</dmn:text></dmn:inputEntry>
    <dmn:outputEntry id="x1"><dmn:text>"Vergunningplicht"</dmn:text></dmn:outputEntry></dmn:rule>
   <dmn:rule id="r2"><dmn:inputEntry id="e21"><dmn:text>"Tuinhuis"</dmn:text></dmn:inputEntry>
    <dmn:inputEntry id="e22"><dmn:text>-</dmn:text></dmn:inputEntry>
    <dmn:outputEntry id="x2"><dmn:text>"no hit"</dmn:text></dmn:outputEntry></dmn:rule>
   <dmn:rule id="r3"><dmn:inputEntry id="e31"><dmn:text>-</dmn:text></dmn:inputEntry>
    <dmn:inputEntry id="e32"><dmn:text>false</dmn:text></dmn:inputEntry>
    <dmn:outputEntry id="x3"><dmn:text>"no hit"</dmn:text></dmn:outputEntry></dmn:rule>
  </dmn:decisionTable></dmn:decision>
 <dmn:decision id="dummy" name="_Conclusie_dummy">
  <dmn:informationRequirement><dmn:requiredDecision href="#pad1"/></dmn:informationRequirement>
  <dmn:decisionTable id="tc" hitPolicy="ANY">
   <dmn:input id="ic"><dmn:inputExpression><dmn:text>Pad 1</dmn:text></dmn:inputExpression></dmn:input>
   <dmn:output id="oc"/>
   <dmn:rule id="c1"><dmn:inputEntry id="ec1"><dmn:text>"Vergunningplicht"</dmn:text></dmn:inputEntry>
    <dmn:outputEntry id="xc1"><dmn:extensionElements><content:conclusieToelichting>
     <content:toelichting><![CDATA[U hebt een **vergunning** nodig.]]></content:toelichting>
    </content:conclusieToelichting>
    </dmn:extensionElements><dmn:text>"Vergunningplicht"</dmn:text></dmn:outputEntry></dmn:rule>
   <dmn:rule id="no_hit_rule"><dmn:inputEntry id="ec2"><dmn:text>"no hit"</dmn:text></dmn:inputEntry>
    <dmn:outputEntry id="xc2"><dmn:text>"Toestemmingsvrij"</dmn:text></dmn:outputEntry></dmn:rule>
  </dmn:decisionTable></dmn:decision>
</dmn:definitions>
"""


def crafted(*replacements: tuple[str, str]) -> bytes:
    """The crafted document with each (old, new) replaced once; a replacement that finds nothing fails the test."""
    text = CRAFTED
    for old, new in replacements:
        assert old in text, f"crafted document has no {old!r}"
        text = text.replace(old, new, 1)
    return text.encode()
