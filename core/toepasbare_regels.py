"""Toepasbare regels as an activity: the questions, the decision tables and the conclusion of one STTR file.

The contract between the STTR importer (etl.rules.sttr), which builds an :class:`Activity` from a DSO file, and
the decision-table engine (services.decisions), which evaluates it against a user's answers. Plain data, no
behaviour beyond lookups and a lossless JSON form, so the store can keep an activity as JSON and the engine
reads back exactly what was imported.

An :data:`Entry` is one cell of a table's input column, in the subset of FEEL that STTR uses:
``None`` for ``-`` (any value), ``True``/``False`` for ``true``/``false``, a str for a quoted text (an option of
a list question, or an output of another decision such as ``"no hit"``), quotes stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Entry = None | bool | str

QUESTION_TYPES = ("boolean", "list")
NO_HIT = "no hit"  # what a Pad yields when none of its permit rules applies; the conclusion tests for it literally


def activity_id(name: str) -> str:
    """The activity's id: its DMN name without the leading "Conclusie ", as a slug.

    "Conclusie Kozijn plaatsen" → "kozijn-plaatsen": lower case, every run of characters other than a-z and 0-9
    becomes one "-", none at either end.
    """
    title = activity_title(name)
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def activity_title(name: str) -> str:
    """The DMN definitions/@name without the leading "Conclusie " (the files name the conclusion, not the activity)."""
    name = name.strip()
    return name[len("Conclusie "):].strip() if name.startswith("Conclusie ") else name


@dataclass(frozen=True)
class Question:
    """One uitvoeringsregel: a question put to the user (or answered from data), keyed by its id."""

    id: str  # uitvoeringsregel id, the key of user answers
    input: str  # the dmn:inputData name the tables use for it
    text: str  # vraagTekst
    type: str  # "boolean" | "list"
    options: tuple[str, ...]  # optieText in sequenceId order; () for a boolean
    toelichting: str | None  # Markdown as delivered
    priority: int  # inter:prioriteit; questions are asked lowest first
    herbruikbaar_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "input": self.input, "text": self.text, "type": self.type,
                "options": list(self.options), "toelichting": self.toelichting, "priority": self.priority,
                "herbruikbaar_id": self.herbruikbaar_id}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Question:
        return cls(id=d["id"], input=d["input"], text=d["text"], type=d["type"], options=tuple(d["options"]),
                   toelichting=d["toelichting"], priority=d["priority"], herbruikbaar_id=d.get("herbruikbaar_id"))


@dataclass(frozen=True)
class Rule:
    """One row of a decision table: an entry per input, the output (unquoted; "no hit" kept literally)."""

    id: str
    entries: tuple[Entry, ...]
    output: str
    toelichting: str | None = None  # content:conclusieToelichting, where the file gives one

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "entries": list(self.entries), "output": self.output, "toelichting": self.toelichting}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rule:
        return cls(id=d["id"], entries=tuple(d["entries"]), output=d["output"], toelichting=d.get("toelichting"))


@dataclass(frozen=True)
class Decision:
    """A decision table: its inputs each name a question's input or another decision; rules in table order."""

    id: str
    name: str
    inputs: tuple[str, ...]
    rules: tuple[Rule, ...]
    hit_policy: str = "ANY"

    @property
    def outputs(self) -> tuple[str, ...]:
        """The distinct outputs of the rules, in first-seen order."""
        return tuple(dict.fromkeys(r.output for r in self.rules))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "inputs": list(self.inputs), "hit_policy": self.hit_policy,
                "rules": [r.to_json() for r in self.rules]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Decision:
        return cls(id=d["id"], name=d["name"], inputs=tuple(d["inputs"]),
                   rules=tuple(Rule.from_json(r) for r in d["rules"]), hit_policy=d.get("hit_policy", "ANY"))


@dataclass(frozen=True)
class Activity:
    """One STTR file: an activity (e.g. "kozijn-plaatsen") with its questions, decisions and conclusion."""

    id: str
    title: str
    questions: tuple[Question, ...]  # priority order
    decisions: tuple[Decision, ...]  # document order
    conclusion: str  # id of the top decision
    source: dict[str, Any] = field(default_factory=dict, hash=False)  # file, definitions_id, namespace, exporter

    def question(self, id: str) -> Question | None:
        return next((q for q in self.questions if q.id == id), None)

    def decision(self, id: str) -> Decision | None:
        return next((d for d in self.decisions if d.id == id), None)

    @property
    def conclusion_decision(self) -> Decision:
        d = self.decision(self.conclusion)
        if d is None:  # only a hand-made Activity can get here; the importer checks it
            raise ValueError(f"activity {self.id}: conclusion {self.conclusion!r} is not one of its decisions")
        return d

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "conclusion": self.conclusion, "source": dict(self.source),
                "questions": [q.to_json() for q in self.questions],
                "decisions": [d.to_json() for d in self.decisions]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Activity:
        return cls(id=d["id"], title=d["title"], conclusion=d["conclusion"], source=dict(d.get("source", {})),
                   questions=tuple(Question.from_json(q) for q in d["questions"]),
                   decisions=tuple(Decision.from_json(x) for x in d["decisions"]))
