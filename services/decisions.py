"""The decision-table engine for toepasbare regels (an :class:`core.toepasbare_regels.Activity` from STTR).

``evaluate(activity, answers)`` gives the conclusion once the answers decide it, or else the questions still
needed, next first — never a guess.

Semantics, those of the STTR files: an entry ``-`` matches anything, ``true``/``false`` a boolean answer, a text
an option (or, in the conclusion, a Pad's output such as ``"no hit"``). Hit policy ANY (FIRST and UNIQUE alike):
when several rules match, the first in table order counts — except in the conclusion, where NeemContactOpMet comes
first, then Vergunningplicht, then any other output (Toestemmingsvrij), each in table order (:data:`PRECEDENCE`).
Why: DMN's ANY requires all matching rules to give the same output, and the files break that (in
zonnepaneel-en-zonneboiler-bouwen, Pad 5 → Vergunningplicht and Pad 8 → NeemContactOpMet can both hit, and the
conclusion table lists Pad 5 first); the DSO's Vergunningcheck resolves it by letting a matching contact rule win,
else the first matching rule (Amsterdam's imtr-client, ``Checker.getOutcomesToDisplay``). So the conclusion's
rules are reordered that way, stably, before the same first-match logic.

With answers missing, evaluation is three-valued: a rule is *dead* when one of its entries is contradicted,
*matched* when all hold, else *pending*; a decision is decided when its first rule that is not dead is matched
(every rule before it is contradicted, so no further answer can change it), or when every rule is dead (output
None: a gap in the table, reported, never filled in).
A decision that is neither is undecided, and so is every decision that tests it while it could still matter.

The questions still needed are the unanswered ones with an entry other than ``-`` in a live rule — not dead, and
not after a matched one — of an undecided decision, followed down from the conclusion through the live rules'
undecided inputs only; they come in priority order. Because a decision is only called decided when no
completion of the answers can change it, the result depends on the set of answers alone: whatever order they
arrive in, and with all of them given it is the plain DMN result (with the conclusion's precedence).

Why not a DMN library: the maintained Python DMN engines on PyPI evaluate decisions from complete input data
(pyDMNrules' ``decide(data)``; jdmn-python-runtime runs code that jDMN, a Java tool, generates; SpiffWorkflow
evaluates DMN inside BPMN workflows) and have no notion of an input not yet answered, nor of the questions still
needed, which is what a permit check is. Nor would a FEEL engine read these files as they are: STTR's input
expressions are inputData names such as ``dbf957ae-3d1e-…``, which FEEL parses as a subtraction, not a name. The
subset evaluated here is exactly what etl.rules.sttr accepts; it refuses everything else by name at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import StadsmodelError
from core.toepasbare_regels import Activity, Decision, Entry, Question, Rule

UNKNOWN = object()  # an input without an answer, or a decision not yet decided
# The conclusion's outputs by precedence when several of its rules match (see the module docstring); any other
# output comes after these, table order within each.
PRECEDENCE = ("NeemContactOpMet", "Vergunningplicht")

DEAD, PENDING, MATCHED = "dead", "pending", "matched"


class AnswerError(StadsmodelError):
    """An answer that is not one of the question's options, or not a boolean for a yes/no question."""

    def __init__(self, question: str, reason: str):
        self.question = question
        self.reason = reason
        super().__init__(f"answer to question {question}: {reason}")


def check_answers(activity: Activity, answers: Mapping[str, Any]) -> dict[str, bool | str]:
    """The answers that belong to this activity (keyed by Question.id), checked; other keys are left out.

    A yes/no question takes a boolean (or the text "true"/"false", as a query string delivers it); a list question
    exactly one of its option texts. ``None`` means not answered.

    :raises AnswerError: naming the question and what it accepts
    """
    by_id = {q.id: q for q in activity.questions}
    checked: dict[str, bool | str] = {}
    for key, value in answers.items():
        q = by_id.get(key)
        if q is None or value is None:
            continue
        checked[key] = _checked(q, value)
    return checked


def _checked(q: Question, value: Any) -> bool | str:
    if q.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        raise AnswerError(q.id, f"{value!r} is not a boolean (true or false) for {q.text!r}")
    if isinstance(value, str) and value in q.options:
        return value
    options = "; ".join(repr(o) for o in q.options)
    raise AnswerError(q.id, f"{value!r} is not one of the options of {q.text!r}: {options}")


@dataclass
class Evaluation:
    """What the answers decide: the conclusion, or the questions still needed (next first)."""

    conclusion: str | None
    toelichting: str | None
    open_questions: list[Question] = field(default_factory=list)
    # the decisions that decided, in order (each Pad before the conclusion that tests it; the conclusion last):
    # {"decision": name, "rule": id, "output": str, "answers": {question id: value tested by that rule}}
    path: list[dict[str, Any]] = field(default_factory=list)
    gap: bool = False  # every needed input known, yet no rule matched: a gap in the tables, not a guess

    @property
    def decided(self) -> bool:
        return self.conclusion is not None or self.gap

    def to_json(self) -> dict[str, Any]:
        return {"conclusion": self.conclusion, "toelichting": self.toelichting, "gap": self.gap,
                "open_questions": [q.to_json() for q in self.open_questions], "path": self.path}


def evaluate(activity: Activity, answers: Mapping[str, Any]) -> Evaluation:
    """The activity's conclusion from the answers (keyed by Question.id), or the questions still needed.

    :raises AnswerError: for an answer that the question does not accept
    """
    run = _Run(activity, check_answers(activity, answers))
    top = activity.conclusion_decision
    outcome = run.decide(top)
    if outcome is UNKNOWN:
        return Evaluation(conclusion=None, toelichting=None, open_questions=run.needed(top))
    rule = run.rule_of[top.name]
    if rule is None:
        return Evaluation(conclusion=None, toelichting=None, gap=True)
    return Evaluation(conclusion=rule.output, toelichting=rule.toelichting, path=run.explain(top))


class _Run:
    """One evaluation: decisions are decided once each, memoised by name."""

    def __init__(self, activity: Activity, answers: dict[str, bool | str]):
        self.answers = answers
        self.questions = {q.input: q for q in activity.questions}
        self.decisions = {d.name: d for d in activity.decisions}
        top = activity.conclusion_decision
        rank = {output: i for i, output in enumerate(PRECEDENCE)}
        # every table in table order, the conclusion by precedence of its outputs (sorted() is stable)
        self.order = {d.name: d.rules for d in activity.decisions}
        self.order[top.name] = tuple(sorted(top.rules, key=lambda r: rank.get(r.output, len(PRECEDENCE))))
        self.outcome: dict[str, object] = {}  # decision name → output (str), None (gap) or UNKNOWN
        self.rule_of: dict[str, Rule | None] = {}  # decision name → the rule that decided it (None: a gap)

    def value(self, name: str) -> object:
        q = self.questions.get(name)
        if q is not None:
            return self.answers.get(q.id, UNKNOWN)
        return self.decide(self.decisions[name])

    def state(self, d: Decision, rule: Rule) -> str:
        state = MATCHED
        for name, entry in zip(d.inputs, rule.entries):
            if entry is None:
                continue
            v = self.value(name)
            if v is UNKNOWN:
                state = PENDING
            elif not _equal(v, entry):
                return DEAD
        return state

    def decide(self, d: Decision) -> object:
        if d.name not in self.outcome:
            self.outcome[d.name] = UNKNOWN
            for rule in self.order[d.name]:
                state = self.state(d, rule)
                if state == DEAD:
                    continue
                if state == MATCHED:
                    self.outcome[d.name], self.rule_of[d.name] = rule.output, rule
                break
            else:  # every rule contradicted
                self.outcome[d.name], self.rule_of[d.name] = None, None
        return self.outcome[d.name]

    def live_rules(self, d: Decision) -> list[Rule]:
        """The rules of an undecided decision that may still decide it: not dead, up to the first matched one."""
        live = []
        for rule in self.order[d.name]:
            state = self.state(d, rule)
            if state == DEAD:
                continue
            live.append(rule)
            if state == MATCHED:
                break
        return live

    def needed(self, top: Decision) -> list[Question]:
        """The unanswered questions on a live path from the undecided ``top``, in priority order."""
        found: dict[str, Question] = {}
        seen: set[str] = set()

        def walk(d: Decision) -> None:
            seen.add(d.name)
            for rule in self.live_rules(d):
                for name, entry in zip(d.inputs, rule.entries):
                    if entry is None or self.value(name) is not UNKNOWN:
                        continue
                    q = self.questions.get(name)
                    if q is not None:
                        found[q.id] = q
                    elif name not in seen:
                        walk(self.decisions[name])

        walk(top)
        order = {q.id: i for i, q in enumerate(self.questions.values())}
        return sorted(found.values(), key=lambda q: (q.priority, order[q.id]))

    def explain(self, d: Decision, seen: set[str] | None = None) -> list[dict[str, Any]]:
        """The decided chain under ``d``: each decision whose output its deciding rule tested, then ``d`` itself."""
        seen = set() if seen is None else seen
        seen.add(d.name)
        rule = self.rule_of[d.name]
        steps: list[dict[str, Any]] = []
        tested: dict[str, bool | str] = {}
        for name, entry in zip(d.inputs, rule.entries):
            if entry is None:
                continue
            q = self.questions.get(name)
            if q is not None:
                tested[q.id] = self.answers[q.id]
            elif name not in seen:
                steps += self.explain(self.decisions[name], seen)
        steps.append({"decision": d.name, "rule": rule.id, "output": rule.output, "answers": tested})
        return steps


def _equal(value: object, entry: Entry) -> bool:
    """An answer (or a decision's output) against an entry; True never equals a text, nor None (a gap) anything."""
    return type(value) is type(entry) and value == entry
