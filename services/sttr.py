"""The municipality's own toepasbare regels (STTR, `stadsmodel rules import`) in the location check.

Three steps per activity: the activities come from the store's ``toepasbare_regels`` table; the answers the city
model already knows are filled in from the location check's facts (``config/sttr_prefill.yml`` says which question
takes which fact), each with its evidence; the user's own answers override them; `services.decisions` evaluates
the tables. Nothing is guessed: a fact the data does not know leaves its question open.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from core import gpkg as geopackage
from core.config import CONFIG_DIR, load_checked
from core.errors import ConfigError
from core.products import TOEPASBARE_REGELS
from core.toepasbare_regels import Activity, Question
from services.decisions import Evaluation, check_answers, evaluate
from services.rules import Fact, Text, source_text, text

PREFILL_PATH = CONFIG_DIR / "sttr_prefill.yml"
# The facts a question may take its answer from (computed by the location check, see model_facts).
PREFILL_FACTS = {
    "rijksmonument": "the building at the point is a rijksmonument (RCE)",
    "monument": "the building is a rijksmonument or a gemeentelijk monument",
    "monument_status": "rijksmonument / gemeentelijk_monument / geen_monument",
    "beschermd_gezicht": "the point lies in a beschermd stads- of dorpsgezicht (RCE)",
    "plat_dak": "the building's LoD2.2 roof is flat (yes) or has no flat face of MIN_ROOF_PART_M2 (no)",
    "schuin_dak": "the building's LoD2.2 roof has no flat face of MIN_ROOF_PART_M2 (yes) or is flat (no)",
    "gevel_kant": "the side of the building the picked wall is: voorkant / zijkant / achterkant (services.gevel)",
    "gevel_is_achterkant": "the picked wall is the achterkant",
    "gevel_aan_straat": "the picked wall borders a street, cycle path or footpath (BGT)",
    "gevel_aan_water": "the picked wall borders a canal or other water (BGT waterdeel)",
    "gevel_aan_openbare_ruimte": "the picked wall borders a square, park or parking open to all (BGT)",
}
FACADE_FACTS = ("gevel_kant", "gevel_aan_straat", "gevel_aan_water", "gevel_aan_openbare_ruimte")
LIST_FACTS = {"monument_status", "gevel_kant"}  # valued facts, for list questions; all others are yes/no
SIDE_FACTS = {"gevel_aan_straat", "gevel_aan_water", "gevel_aan_openbare_ruimte"}  # about one side of the building
FLAT_PITCH_DEG = 5.0  # a roof face at most this steep counts as flat, as the 3DBAG's roof type does
MIN_ROOF_PART_M2 = 2.0  # flat roof area (plan view) below this is no place to put something: a ridge cap, a seam
# The STTR conclusions and what they mean, in both languages; the file's own explanation comes with it (Dutch).
CONCLUSIONS: dict[str, Text] = {
    "Vergunningplicht": text("Vergunningplicht: voor deze activiteit is een omgevingsvergunning nodig.",
                             "Permit required: this activity needs an environmental permit."),
    "Toestemmingsvrij": text("Toestemmingsvrij: voor deze activiteit is geen vergunning of melding nodig.",
                             "Permission-free: this activity needs neither a permit nor a notification."),
    "NeemContactOpMet": text("Neem contact op met de gemeente: de regels vragen om overleg.",
                             "Contact the municipality: the rules ask you to consult it first."),
}
OUTCOMES = {"Vergunningplicht": "vergunning_nodig", "Toestemmingsvrij": "vergunningvrij",
            "NeemContactOpMet": "neem_contact_op"}


@dataclass(frozen=True)
class Prefill:
    """An answer the city model gives to a question, with its evidence."""

    question: str
    value: bool | str
    fact: str
    evidence: Fact

    def as_json(self, overridden_by: Any = None) -> dict[str, Any]:
        out = {"question": self.question, "value": self.value, "fact": self.fact,
               "evidence": {"source": self.evidence.source, "object_id": self.evidence.object_id,
                            "text": self.evidence.evidence}}
        if overridden_by is not None:
            out["overridden_by_user"] = overridden_by
        return out


# --------------------------------------------------------------------------------------------- activities

_CACHE: dict[str, tuple[float, dict[str, Activity]]] = {}
_CACHE_LOCK = threading.Lock()


def stored_activities(gpkg: Path) -> dict[str, Activity]:
    """The imported activities by id (re-read when the store file changes; none without the table)."""
    if not gpkg.is_file():
        return {}
    key, mtime = str(gpkg.resolve()), gpkg.stat().st_mtime
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached and cached[0] == mtime:
            return cached[1]
    with contextlib.closing(geopackage.connect(gpkg)) as con:
        if TOEPASBARE_REGELS not in geopackage.attribute_tables(con):
            activities = {}
        else:
            try:
                rows = con.execute(f'SELECT activity, model FROM "{TOEPASBARE_REGELS}"').fetchall()
            except sqlite3.DatabaseError as e:
                raise ConfigError(f"{gpkg}: table {TOEPASBARE_REGELS} cannot be read ({e}); import the rules "
                                  "again with stadsmodel rules import") from None
            activities = {}
            for activity, model in rows:
                try:
                    activities[activity] = Activity.from_json(json.loads(model))
                except (ValueError, KeyError, TypeError) as e:
                    raise ConfigError(f"{gpkg}: activity {activity!r} in {TOEPASBARE_REGELS} cannot be read "
                                      f"({e.__class__.__name__}: {e}); import it again with stadsmodel rules "
                                      "import") from None
    with _CACHE_LOCK:
        _CACHE[key] = (mtime, activities)
    return activities


# --------------------------------------------------------------------------------------------- prefilling

@lru_cache(maxsize=1)
def prefill_config() -> tuple[dict[str, Any], ...]:
    """The checked entries of config/sttr_prefill.yml (`serve` checks them before it starts).

    :raises ConfigError: naming the entry: an unknown fact, a fact of the wrong kind for the question type, a
        side on a fact that is not about a side, a text that is no regular expression
    """
    doc = load_checked(PREFILL_PATH, "sttr_prefill")
    problems = []
    for i, entry in enumerate(doc["questions"]):
        where, fact = f"questions[{i}] ({entry['fact']})", entry["fact"]
        if fact not in PREFILL_FACTS:
            problems.append(f"{where}: unknown fact; known: {', '.join(PREFILL_FACTS)}")
        elif (entry["type"] == "list") != (fact in LIST_FACTS):
            problems.append(f"{where}: a {'list' if fact in LIST_FACTS else 'yes/no'} fact cannot answer a "
                            f"{entry['type']} question")
        if "side" in entry and fact not in SIDE_FACTS:
            problems.append(f"{where}: 'side' only applies to {', '.join(sorted(SIDE_FACTS))}")
        if "text" in entry:
            try:
                re.compile(entry["text"])
            except re.error as e:
                problems.append(f"{where}: text is no regular expression ({e})")
    if problems:
        raise ConfigError(f"{PREFILL_PATH}: " + "; ".join(problems))
    return tuple(doc["questions"])


def _entry_for(question: Question) -> dict[str, Any] | None:
    for entry in prefill_config():
        if entry["type"] != question.type:
            continue
        if question.herbruikbaar_id and question.herbruikbaar_id in entry.get("herbruikbaar_id", ()):
            return entry
        if "text" in entry and re.search(entry["text"], question.text, re.IGNORECASE):
            return entry
    return None


def model_facts(facts: Mapping[str, Fact], building: Mapping[str, Any] | None,
                facade: Mapping[str, Fact] | None = None) -> dict[str, Fact]:
    """The facts questions may take (PREFILL_FACTS), from the location check's facts, the building's roof and the
    wall the user picked (services.gevel; without one, the side questions stay the user's)."""
    out = {name: facts[name] for name in ("rijksmonument",) if name in facts}
    gezicht = facts.get("beschermd_gezicht")
    # The RCE layer holds the rijksbeschermde gezichten only; a municipality designates its own too, so only a yes
    # answers the question.
    if gezicht is not None and gezicht.value is not True:
        reason = gezicht.evidence if gezicht.value is None else text(
            f"{gezicht.evidence['nl']}; gemeentelijk beschermde gezichten staan niet in de opslag, dus dat het geen "
            "beschermd gezicht is, is niet bekend",
            f"{gezicht.evidence['en']}; municipally protected townscapes are not in the store, so that it is none "
            "is not known")
        gezicht = Fact(None, reason)
    if gezicht is not None:
        out["beschermd_gezicht"] = gezicht
    rijks = facts.get("rijksmonument")
    # No store has a gemeentelijk monumenten layer yet: only a rijksmonument answers these two; "no
    # rijksmonument" still leaves the gemeentelijk monument open.
    no_municipal = text("geen laag met gemeentelijke monumenten in de opslag; of het een gemeentelijk monument is, "
                        "is onbekend", "the store has no layer of municipal monuments (gemeentelijke monumenten); "
                        "whether it is one is unknown")
    if rijks is not None and rijks.value is True:
        out["monument"] = rijks
        out["monument_status"] = Fact("rijksmonument", rijks.evidence, rijks.source, rijks.object_id)
    else:
        out["monument"] = out["monument_status"] = Fact(None, no_municipal)
    out.update(_roof_facts(building))
    no_wall = text("geen gevel aangewezen (klik op een gevel)", "no wall picked (click on a facade)")
    out.update({name: (facade or {}).get(name, Fact(None, no_wall)) for name in FACADE_FACTS})
    side = out["gevel_kant"]
    out["gevel_is_achterkant"] = Fact(None if side.value is None else side.value == "achterkant", side.evidence,
                                      side.source, side.object_id)
    return out


def _roof_facts(building: Mapping[str, Any] | None) -> dict[str, Fact]:
    if building is None:
        unknown = Fact(None, text("geen gebouw op dit punt", "no building at the point"))
        return {"plat_dak": unknown, "schuin_dak": unknown}
    pand = building.get("identificatie")
    dak = building.get("dak") or {}
    if dak.get("lod") != "2.2":
        unknown = Fact(None, text(f"pand {pand}: geen LoD2.2-dak gereconstrueerd, dus het daktype is onbekend",
                                  f"pand {pand}: no LoD2.2 roof reconstructed, so the roof type is unknown"))
        return {"plat_dak": unknown, "schuin_dak": unknown}
    kind, flat_m2 = dak.get("dak_type"), dak.get("opp_plat_m2")
    if kind in ("horizontal", "multiple horizontal"):
        flat, sloped = True, False
    elif kind == "slanted" and isinstance(flat_m2, (int, float)) and flat_m2 < MIN_ROOF_PART_M2:
        flat, sloped = False, True
    else:  # sloped and flat faces together (a pitched roof with a flat extension): the user's to say
        unknown = Fact(None, text(
            f"pand {pand}: het dak heeft platte ({flat_m2} m²) en schuine delen ({kind}); kies zelf",
            f"pand {pand}: the roof has flat ({flat_m2} m²) and sloped parts ({kind}); answer yourself"))
        return {"plat_dak": unknown, "schuin_dak": unknown}
    sloped_m2 = dak.get("opp_schuin_m2")
    evidence = text(f"LoD2.2-dak van pand {pand}: b3_dak_type {kind}, {flat_m2} m² plat, {sloped_m2} m² schuin",
                    f"LoD2.2 roof of pand {pand}: b3_dak_type {kind}, {flat_m2} m² flat, {sloped_m2} m² sloped")
    return {"plat_dak": Fact(flat, evidence, "buildings", pand),
            "schuin_dak": Fact(sloped, evidence, "buildings", pand)}


def prefill(activity: Activity, facts: Mapping[str, Fact], given: Mapping[str, Any] | None = None
            ) -> dict[str, Prefill]:
    """The answers the data gives to this activity's questions, by question id.

    :param given: the user's own answers: where they name another side of the building than the picked wall,
        nothing about that wall is filled in (it would answer for a side the user does not mean)
    """
    if _user_side_differs(activity, facts, given or {}):
        facts = {k: v for k, v in facts.items() if k not in SIDE_FACTS}
    out = {}
    for question in activity.questions:
        entry = _entry_for(question)
        fact = facts.get(entry["fact"]) if entry else None
        if fact is None or not fact.known:
            continue
        side = facts.get("gevel_kant")
        if "side" in entry and (side is None or side.value != entry["side"]):
            continue  # the question is about another side than the wall the user picked
        value: bool | str | None = bool(fact.value) if question.type == "boolean" else entry["options"].get(fact.value)
        if value is None or (question.type == "list" and value not in question.options):
            continue
        out[question.id] = Prefill(question.id, value, entry["fact"], fact)
    return out


def _user_side_differs(activity: Activity, facts: Mapping[str, Fact], given: Mapping[str, Any]) -> bool:
    picked = facts.get("gevel_kant")
    if picked is None or picked.value is None:
        return False
    for question in activity.questions:
        entry = _entry_for(question)
        if entry is None or question.id not in given:
            continue
        answer = given[question.id]
        if entry["fact"] == "gevel_kant" and answer != entry["options"].get(picked.value):
            return True
        if entry["fact"] == "gevel_is_achterkant" and answer != (picked.value == "achterkant"):
            return True
    return False


# --------------------------------------------------------------------------------------------- the check

def check_activity(activity: Activity, facts: Mapping[str, Fact], answers: Mapping[str, Any]) -> dict[str, Any]:
    """One activity's result: the conclusion (or the next questions), what was prefilled and the deciding path.

    :raises services.decisions.AnswerError: an answer that is not one of the question's options / not a boolean
    """
    given = check_answers(activity, answers)
    prefilled = prefill(activity, facts, given)
    merged = {**{q: p.value for q, p in prefilled.items()}, **given}
    result: Evaluation = evaluate(activity, merged)
    used = {q for step in result.path for q in step.get("answers", {})}
    return {
        "activity": activity.id,
        "source": "sttr",
        "title": source_text(activity.title),
        "conclusion": result.conclusion,
        "outcome": OUTCOMES.get(result.conclusion, "onbekend") if result.conclusion else "onbekend",
        "text": _conclusion_text(result),
        "toelichting": source_text(result.toelichting) if result.toelichting else None,
        "open_questions": [_question(q) for q in result.open_questions],
        # each with the question it answers, so a client can offer the options to override it
        "prefilled": [{**p.as_json(given.get(q) if q in given and given[q] != p.value else None),
                       "asked": _question(activity.question(q))} for q, p in prefilled.items()],
        "prefilled_in_path": sorted(q for q in used if q in prefilled and q not in given),
        "path": result.path,
        "gap": result.gap,
    }


def _conclusion_text(result: Evaluation) -> Text:
    if result.conclusion is not None:
        return CONCLUSIONS.get(result.conclusion, source_text(result.conclusion))
    if result.gap:
        return text("Geen conclusie: de regels van de gemeente geven voor deze antwoorden geen uitkomst; neem "
                    "contact op met de gemeente.", "No conclusion: the municipality's rules give no outcome for "
                    "these answers; contact the municipality.")
    return text("Nog geen conclusie: beantwoord de open vragen, de eerste staat bovenaan.",
                "No conclusion yet: answer the open questions, the first one comes first.")


def _question(q: Question) -> dict[str, Any]:
    return {"id": q.id, "question": source_text(q.text), "type": q.type, "options": list(q.options),
            "toelichting": source_text(q.toelichting) if q.toelichting else None, "priority": q.priority}
