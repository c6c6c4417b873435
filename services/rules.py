"""The built-in toepasbare regels (config/rules/*.yml): decision trees evaluated against facts and user answers.

A rule file is one activity's decision tree (schema: config/rules/schema.json). Question nodes with a
``fact`` are answered from the data (see :data:`FACTS`, computed by the location check); the others are
asked of the user through ``answers``. There is one engine for these and for the municipality's imported STTR
activities: a tree becomes a decision table (:func:`tree_table`) that `services.decisions` evaluates. It never
guesses: an unknown fact that the user has not answered, or an open user question, ends in outcome ``onbekend``
with the reason and the open question.

Every text the engine and the location check generate for people (evidence, reasons, notes) is a
:data:`Text`, ``{"nl": ..., "en": ...}``, as the rule files' own questions and conclusions are: a
municipal service answers Dutch users in Dutch and others in English.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from core.config import CONFIG_DIR, load_yaml
from core.errors import ConfigError, StadsmodelError
from core.toepasbare_regels import Activity, Decision, Question, Rule
from services.decisions import evaluate as evaluate_table

log = logging.getLogger(__name__)

RULES_DIR = CONFIG_DIR / "rules"
SCHEMA_PATH = RULES_DIR / "schema.json"

# Facts the location check derives from the store; rule files may only ask these.
FACTS = {
    "rijksmonument": "the point lies on a rijksmonument (monumenten layer)",
    "beschermd_gezicht": "the point lies in a beschermd stads- of dorpsgezicht",
    "gebouw_aanwezig": "a BAG pand covers the point",
    "bestemmingshoofdgroep": "bestemmingshoofdgroep of the enkelbestemming at the point (lower case)",
    "plan_aanwezig": "a bestemmingsplan or omgevingsplan covers the point",
    "in_bouwvlak": "the point lies inside a bouwvlak",
    "maximum_bouwhoogte_bekend": "a maximum bouwhoogte applies at the point",
    "maximum_bouwhoogte": "the maximum bouwhoogte (m) at the point",
    "hoogte_binnen_maximum": "the measured building height is within the maximum bouwhoogte",
    "goothoogte_binnen_maximum": "the measured goothoogte (LoD2.2 eaves) is within the maximum goothoogte",
    "dakhelling_binnen_grenzen": "the measured roof pitch (LoD2.2) is within the minimale/maximale dakhelling",
}
OUTCOMES = ("vergunningvrij", "vergunning_nodig", "melding", "onbekend")
LANGUAGES = ("nl", "en")
YES = {"ja", "yes", "true", "1", "j", "y"}
NO = {"nee", "no", "false", "0", "n"}


# A generated text in both languages: {"nl": "...", "en": "..."}.
Text = dict[str, str]


def text(nl: str, en: str) -> Text:
    """A generated text in Dutch and English (domain words such as bouwvlak stay Dutch in both)."""
    return {"nl": nl, "en": en}


def same_text(value: str) -> Text:
    """A text that reads the same in both languages: an identifier or a name from the data."""
    return text(value, value)


def source_text(value: str, language: str = "nl") -> dict[str, str]:
    """A text that a source gives in one language only (an STTR question, a plan article): shown as it is in
    both, with ``lang`` saying which language it is in, so an English reader sees it labelled as Dutch."""
    return {"nl": value, "en": value, "lang": language}


def is_text(value: Any) -> bool:
    return (isinstance(value, dict) and set(value) == set(LANGUAGES)
            and all(isinstance(value[lang], str) and value[lang].strip() for lang in LANGUAGES))


class RuleAnswerError(StadsmodelError):
    """A user answer that the rule cannot use (wrong type or value)."""


@dataclass(frozen=True)
class Fact:
    """A value derived from the data, or None with the reason it is unknown; the evidence in both languages,
    and where it comes from: the store layer and the object id(s) in it, when one object decides it."""

    value: Any
    evidence: Text
    source: str | None = None
    object_id: str | None = None

    def __post_init__(self):
        if not is_text(self.evidence):
            raise TypeError(f"fact evidence must be a text in both languages ({{'nl': ..., 'en': ...}}), "
                            f"got {self.evidence!r}")

    @property
    def known(self) -> bool:
        return self.value is not None


@dataclass
class RuleSet:
    activity: str
    doc: dict[str, Any]
    path: Path

    @property
    def title(self) -> dict[str, str]:
        return self.doc["title"]

    @cached_property
    def table(self) -> Activity:
        """The tree as the decision table the engine evaluates (built once per process)."""
        return tree_table(self)


def check_rule_doc(doc: Any, path: Path) -> list[str]:
    """Problems in one rule document: JSON-schema errors, then dangling or unreachable nodes, unknown
    facts and sources, and cycles. An empty list means the file is usable."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)]
    if problems:
        return problems
    nodes, sources = doc["nodes"], doc["sources"]
    if doc["start"] not in nodes:
        problems.append(f"start: node '{doc['start']}' does not exist")
    if path.stem != doc["activity"]:
        problems.append(f"activity '{doc['activity']}' must match the file name '{path.stem}'")
    for name, node in nodes.items():
        if "conclusion" in node:
            problems += [f"nodes/{name}/cite: unknown source '{c}'" for c in node["cite"] if c not in sources]
            continue
        problems += [f"nodes/{name}/answers/{k}: unknown node '{v}'" for k, v in node["answers"].items()
                     if v not in nodes]
        for key in ("fact", "lte_fact"):
            if key in node and node[key] not in FACTS:
                problems.append(f"nodes/{name}/{key}: unknown fact '{node[key]}' (known: {', '.join(FACTS)})")
        if node.get("type") == "getal" and "lte_fact" not in node:
            problems.append(f"nodes/{name}: a 'getal' question needs lte_fact")
        if "fact" not in node and "type" not in node:
            problems.append(f"nodes/{name}: a question needs either 'fact' (from data) or 'type' (asked)")
    if problems:
        return problems
    # every node reachable from start, no cycles (a tree, or at least a DAG)
    seen: set[str] = set()

    def walk(name: str, stack: tuple[str, ...]) -> None:
        if name in stack:
            problems.append(f"cycle: {' → '.join(stack + (name,))}")
            return
        seen.add(name)
        for nxt in nodes[name].get("answers", {}).values():
            walk(nxt, stack + (name,))

    walk(doc["start"], ())
    problems += [f"nodes/{n}: unreachable from start" for n in nodes if n not in seen]
    return problems


def load_rule_file(path: Path) -> RuleSet:
    """One validated rule file. :raises ConfigError: naming the file and every problem."""
    doc = load_yaml(path)
    problems = check_rule_doc(doc, path)
    if problems:
        raise ConfigError(f"{path}: invalid rule file:\n  " + "\n  ".join(problems))
    return RuleSet(doc["activity"], doc, path)


@lru_cache(maxsize=4)
def load_rules(rules_dir: str = str(RULES_DIR)) -> dict[str, RuleSet]:
    """All rule files of a directory by activity (cached: parsed once per process)."""
    files = sorted(Path(rules_dir).glob("*.yml"))
    if not files:
        raise ConfigError(f"{rules_dir}: no rule files (*.yml)")
    return {rs.activity: rs for rs in map(load_rule_file, files)}


def _yes_no(value: Any, question: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise RuleAnswerError(f"answer to '{question}' must be ja or nee, got {value!r}")


def _number(value: Any, question: str) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(str(value).replace(",", "."))
    except ValueError:
        raise RuleAnswerError(f"answer to '{question}' must be a number (metres), got {value!r}") from None


@dataclass
class Outcome:
    activity: str
    title: dict[str, str]
    outcome: str
    text: dict[str, str]
    trail: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    open_questions: list[dict[str, Any]] = field(default_factory=list)
    reason: Text | None = None
    prefilled: list[dict[str, Any]] = field(default_factory=list)  # the answers the data gave, with evidence
    path: list[dict[str, Any]] = field(default_factory=list)  # the engine's deciding rule (services.decisions)

    def as_json(self) -> dict[str, Any]:
        # the same keys as an STTR activity's result (services.sttr), beside the tree's own trail and citations
        out = {"activity": self.activity, "source": "config/rules", "title": self.title, "outcome": self.outcome,
               "conclusion": self.outcome if self.path else None, "text": self.text, "trail": self.trail,
               "citations": self.citations, "open_questions": self.open_questions, "prefilled": self.prefilled,
               "path": self.path}
        if self.reason:
            out["reason"] = self.reason
        return out


def tree_table(rules: RuleSet) -> Activity:
    """A rule file's decision tree as one decision table, so `services.decisions` (the engine of the STTR
    activities) evaluates it: a question per node and a rule per way from the start to a conclusion, its entries
    the answers on that way, its output the conclusion node. A node reached on several ways is one question.

    A question's priority is its longest distance from the start (then the order a walk meets it): every node
    comes after every node above it on any way, so the first open question is the one the walk stands at, in
    whatever order the file lists the answers."""
    nodes, depth, ways = rules.doc["nodes"], {}, []

    def walk(name: str, taken: dict[str, bool]) -> None:
        node = nodes[name]
        if "conclusion" in node:
            ways.append((taken, name))
            return
        depth[name] = max(depth.get(name, 0), len(taken))
        for answer, nxt in node["answers"].items():
            walk(nxt, {**taken, name: answer == "ja"})

    walk(rules.doc["start"], {})
    first_met = {name: i for i, name in enumerate(depth)}
    order = sorted(depth, key=lambda name: (depth[name], first_met[name]))
    questions = tuple(Question(id=name, input=name, text=nodes[name]["question"]["nl"], type="boolean", options=(),
                               toelichting=None, priority=i) for i, name in enumerate(order))
    table = Decision(id="conclusie", name="Conclusie", inputs=tuple(order),
                     rules=tuple(Rule(id=f"weg-{i}", entries=tuple(taken.get(q) for q in order), output=leaf)
                                 for i, (taken, leaf) in enumerate(ways)))
    return Activity(id=rules.activity, title=rules.title["nl"], questions=questions, decisions=(table,),
                    conclusion=table.id, source={"file": rules.path.name})


def evaluate(rules: RuleSet, facts: dict[str, Fact], answers: dict[str, Any],
             plan_citations: list[dict[str, Any]] | None = None) -> Outcome:
    """The activity's conclusion, or the question that stands in the way (``onbekend``, with the reason).

    Each question node gets its answer first — from the data for a ``fact`` node (the user's answer counts only
    where the data is silent), from the user otherwise, a ``getal`` answer compared with its ``lte_fact`` — and
    the engine of the STTR activities (`services.decisions`) evaluates the tree's table (:func:`tree_table`).

    :param facts: facts from the data (missing names count as unknown)
    :param answers: user answers by question node name (or by fact name, used only where the data is silent)
    :param plan_citations: plan articles at the location, cited where a conclusion says ``cite_plan``
    :raises RuleAnswerError: an answer of the wrong kind to a question the conclusion depends on
    """
    doc, nodes, table = rules.doc, rules.doc["nodes"], rules.table
    inputs: dict[str, bool] = {}
    steps: dict[str, dict[str, Any]] = {}
    prefilled: list[dict[str, Any]] = []
    missing: dict[str, Text] = {}  # node → why it has no answer yet
    wrong: dict[str, RuleAnswerError] = {}  # raised only when the node turns out to matter
    for q in table.questions:
        try:
            answer = _node_answer(q.id, nodes[q.id], facts, answers)
        except RuleAnswerError as e:
            wrong[q.id] = e
            continue
        if isinstance(answer, tuple):
            inputs[q.id], steps[q.id], fact = answer
            if fact is not None:
                prefilled.append({"question": q.id, "value": answer[0], "fact": nodes[q.id]["fact"], "evidence": {
                    "source": fact.source, "object_id": fact.object_id, "text": fact.evidence}})
        else:
            missing[q.id] = answer
    result = evaluate_table(table, inputs)
    if result.conclusion is None:
        name = result.open_questions[0].id  # a tree has no gaps: undecided means a question is open
        if name in wrong:
            raise wrong[name]
        outcome = _unknown(rules, _trail(table, inputs, steps, name), name, nodes[name], missing[name])
        outcome.prefilled = prefilled
        return outcome
    decided = result.path[-1]["answers"]
    trail = [steps[q.id] for q in table.questions if q.id in decided]
    end = nodes[result.conclusion]
    cites = [{"id": c, **doc["sources"][c]} for c in end["cite"]]
    if end.get("cite_plan") and plan_citations:
        cites += plan_citations
    used = set(decided)
    return Outcome(rules.activity, rules.title, end["conclusion"], end["text"], trail, cites,
                   prefilled=[p for p in prefilled if p["question"] in used], path=result.path)


def _node_answer(name: str, node: dict, facts: dict[str, Fact], answers: dict[str, Any]):
    """(yes, trail step, the fact when the data answered) for a question node, or the reason (a Text) it has no
    answer yet."""
    step: dict[str, Any] = {"node": name, "question": node["question"]}
    fact = None
    if "fact" in node:
        known = facts.get(node["fact"], _no_data(node["fact"]))
        user = answers.get(name, answers.get(node["fact"]))
        if known.known:
            fact = known
            value, step["source"], step["evidence"] = fact.value, "data", fact.evidence
        elif user is not None:
            value, step["source"] = user, "gebruiker"
            step["evidence"] = text(f"door de gebruiker beantwoord; de gegevens zeggen: {known.evidence['nl']}",
                                    f"answered by the user; the data says: {known.evidence['en']}")
        else:
            return {lang: f"{known.evidence[lang]} ({node['question'][lang]})" for lang in LANGUAGES}
        if "in" in node:
            yes = str(value).strip().lower() in {v.lower() for v in node["in"]}
            step["value"] = value
        else:
            yes = _yes_no(value, name)
    else:
        if answers.get(name) is None:
            return text(f"de vraag '{name}' is nog niet beantwoord", f"question '{name}' is not answered yet")
        step["source"] = "gebruiker"
        if node["type"] == "getal":
            planned = _number(answers[name], name)
            limit = facts.get(node["lte_fact"], _no_data(node["lte_fact"]))
            if not limit.known:
                return limit.evidence
            yes = planned <= float(limit.value)
            step.update(value=planned, compared_to={"fact": node["lte_fact"], "value": limit.value,
                                                    "evidence": limit.evidence})
        else:
            yes = _yes_no(answers[name], name)
    step["answer"] = "ja" if yes else "nee"
    return yes, step, fact


def _trail(table: Activity, inputs: dict[str, bool], steps: dict[str, dict], open_node: str) -> list[dict]:
    """The answered steps on the way from the start to the open node (the answers of any live way through it)."""
    (decision,) = table.decisions
    for rule in decision.rules:
        entries = dict(zip(decision.inputs, rule.entries))
        if entries.get(open_node) is None:
            continue
        if all(entries[q] is None or q not in inputs or inputs[q] == entries[q] for q in entries):
            before = decision.inputs[:decision.inputs.index(open_node)]
            return [steps[q] for q in before if entries[q] is not None]
    return []


def _no_data(fact: str) -> Fact:
    return Fact(None, text(f"geen gegevens voor '{fact}'", f"no data for '{fact}'"))


def _unknown(rules: RuleSet, trail: list, name: str, node: dict, reason: Text) -> Outcome:
    open_q = {"id": name, "question": node["question"], "type": node.get("type", "ja_nee")}
    if "fact" in node:
        open_q["answers_fact"] = node["fact"]
    return Outcome(rules.activity, rules.title, "onbekend",
                   {"nl": "Onbekend: nog niet te beoordelen; zie de open vraag en de reden.",
                    "en": "Unknown: cannot be decided yet; see the open question and the reason."},
                   trail, [], [open_q], reason)
