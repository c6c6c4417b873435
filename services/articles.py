"""The articles that apply at a point, for the location check (issue 16): "which rules apply here, in words".

Reads the store's ``regels`` table and ``ow_juridische_regel`` layer (written by ``zoning import``,
etl.zoning.regeltekst). Per plan at the point:

* Omgevingsplan (STOP/TPOD): every OW juridische regel whose location covers the point gives the article it
  belongs to (by wId, a lid or list item resolving to its article), with its heading, chapter, plain text and
  structure; each omgevingsnorm whose value applies here is tied to the sentence that states it (the Al or Li
  naming the norm, e.g. "Artikel 2.14 onder d").
* Bestemmingsplan (IMRO): every bestemming and aanduiding at the point gives its article by verwijzing_regels
  (the ``r_<plan-id>.html#anker`` reference): the text where the regels document was delivered, else an
  absolute link to the article on ruimtelijkeplannen.nl and the statement that the text is not in the store.

Article texts are the plan's own Dutch words: they come as ``services.rules.source_text`` ({nl, en, lang: nl}),
never translated, and always as plain text (the importer strips markup).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

from core import gpkg as geopackage
from core.planstatus import NOT_LAW, plan_states
from core.products import OW_JURIDISCHE_REGEL, REGELS
from services.rules import source_text, text

# The IMRO layers whose objects refer to an article, in the order the answer lists them.
IMRO_ARTICLE_LAYERS = ("enkelbestemming", "dubbelbestemming", "gebiedsaanduiding", "functieaanduiding",
                       "bouwaanduiding", "maatvoering")
# The compliance lines with a plan limit, and the OW norm type (waardelijst TypeNorm) and IMRO column behind it.
LIMITS = {"bouwhoogte": ("MaximumBouwhoogte", "max_bouwhoogte", "max_bouwhoogte_m"),
          "goothoogte": ("MaximumGoothoogte", "max_goothoogte", "max_goothoogte_m")}
UNITS = {"Meter": "m", "Vierkantemeter": "m²", "Kubiekemeter": "m³", "Graad": "°", "Procent": "%"}
_COLUMNS = ("object_id", "plan_id", "plan_naam", "wid", "artikelnummer", "kop", "hoofdstuk", "afdeling", "tekst",
            "structuur", "zinnen", "wids", "bestemming", "verwijzing", "url", "tekst_in_opslag", "ow_regels")

_CONS: dict[tuple[str, float], tuple[sqlite3.Connection, threading.Lock]] = {}
_CONS_LOCK = threading.Lock()


def _connection(path: Path) -> tuple[sqlite3.Connection, threading.Lock]:
    """A cached read-only connection to the store (a new one when the file was replaced)."""
    key = (str(Path(path).resolve()), Path(path).stat().st_mtime)
    with _CONS_LOCK:
        if key not in _CONS:
            for old in [k for k in _CONS if k[0] == key[0]]:
                _CONS.pop(old)[0].close()
            con = geopackage.connect(path, check_same_thread=False)
            con.row_factory = sqlite3.Row
            _CONS[key] = (con, threading.Lock())
        return _CONS[key]


class _Articles:
    """The regels rows of one store, looked up by plan and wId or verwijzing."""

    def __init__(self, path: Path):
        self.con, self.lock = _connection(path)
        with self.lock:
            self.present = self.con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                            (REGELS,)).fetchone() is not None
            self.columns = ({r[1] for r in self.con.execute(f"PRAGMA table_info({geopackage.quote(REGELS)})")}
                            if self.present else set())

    def _rows(self, plan_id: str, where: str, value: str) -> list[dict]:
        if not self.present:
            return []
        cols = ", ".join(c for c in _COLUMNS if c in self.columns)
        with self.lock:
            return [dict(r) for r in self.con.execute(
                f"SELECT {cols} FROM {geopackage.quote(REGELS)} WHERE plan_id = ? AND {where}", (plan_id, value))]

    def by_wid(self, plan_id: str, wid: str) -> dict | None:
        """The article holding ``wid`` (the article itself, a lid or a list item)."""
        rows = self._rows(plan_id, "wid = ?", wid)
        if not rows and "wids" in self.columns:
            like = '%"' + wid.replace("%", "").replace("_", "\\_") + '"%'
            rows = [r for r in self._rows(plan_id, "wids LIKE ? ESCAPE '\\'", like)
                    if wid in json.loads(r["wids"] or "[]")]
        return rows[0] if rows else None

    def ambtsgebied_rules(self, plan_id: str) -> list[dict]:
        """The plan's juridische regels located on its Ambtsgebied (stored without geometry: the delivery has
        none). They apply wherever the plan applies: every location of a plan lies in its Ambtsgebied."""
        with self.lock:
            cols = {r[1] for r in self.con.execute(f"PRAGMA table_info({geopackage.quote(OW_JURIDISCHE_REGEL)})")}
            if "locatie_soort" not in cols:
                return []
            return [dict(r) for r in self.con.execute(
                f"SELECT identificatie, artikel, regeltekst, locatie FROM {geopackage.quote(OW_JURIDISCHE_REGEL)} "
                "WHERE plan_id = ? AND locatie_soort = 'Ambtsgebied'", (plan_id,))]

    def by_reference(self, plan_id: str, verwijzing: str | None, artikelnummer: str | None) -> dict | None:
        if verwijzing:
            rows = self._rows(plan_id, "verwijzing = ?", verwijzing)
            if len(rows) > 1 and artikelnummer:
                rows = [r for r in rows if r.get("artikelnummer") == artikelnummer] or rows
            if rows:
                return rows[0]
        if artikelnummer:
            rows = self._rows(plan_id, "artikelnummer = ?", artikelnummer)
            return rows[0] if rows else None
        return None


def _amount(value: float | None, eenheid: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    unit = UNITS.get(eenheid or "", eenheid or "")
    plain = format(value, "g")
    return {"nl": f"{plain.replace('.', ',')} {unit}".strip(), "en": f"{plain} {unit}".strip()}


def _type_words(norm_type: str | None) -> str:
    """'MaximumBouwhoogte' → 'maximum bouwhoogte' (how the text names a norm of that type)."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", norm_type or "").lower()


def norm_sentence(article: dict, naam: str | None, norm_type: str | None) -> dict | None:
    """The sentence unit of ``article`` that states a norm: the one naming it, else one naming its type."""
    zinnen = json.loads(article.get("zinnen") or "[]")
    for needle in (naam, _type_words(norm_type)):
        if needle:
            hit = next((z for z in zinnen if needle.casefold() in z["tekst"].casefold()), None)
            if hit is not None:
                return hit
    return None


# An IMRO regels text, as etl.zoning.imro keeps it: one line per lid heading ("3.2 Bouwregels"), paragraph or list
# item ("b. de bouwhoogte ...").
_LID = re.compile(r"^(\d+(?:\.\d+)+)\s")
_ITEM = re.compile(r"^([a-z])\.\s")


def imro_sentence(tekst: str | None, kop: str | None, needles) -> tuple[str, str | None]:
    """(label, line) of a bestemmingsplan article's line that names a norm — the first needle found: its type
    ("maximum goothoogte"), else the maatvoering's naam — labelled like "Artikel 3.2 onder b"; without such a line
    the article itself (its heading and whole text)."""
    for needle in (n for n in needles if n):
        lid = None
        for line in (tekst or "").splitlines():
            if m := _LID.match(line):
                lid = m.group(1)
            elif needle.casefold() in line.casefold():
                item = _ITEM.match(line)
                label = f"Artikel {lid}" + (f" onder {item.group(1)}" if item else "") if lid else (kop or "")
                return label, line
    return kop or "", tekst


def _citation(plan: dict, article: dict) -> dict[str, str]:
    """The legal citation: plan name, plan id and the article's heading, in the plan's own (Dutch) words."""
    name = plan.get("plan_naam") or plan.get("plan_id")
    return {"id": article.get("object_id") or f"{plan.get('plan_id')}#{article.get('wid')}",
            **source_text(f"{name} ({plan.get('plan_id')}), {article.get('kop')}"), "url": article.get("url")}


def _article_out(plan: dict, row: dict) -> dict[str, Any]:
    """One article in the answer: heading and text first, the legal citation with it."""
    out: dict[str, Any] = {
        "kop": source_text(row["kop"]) if row.get("kop") else None,
        "tekst": source_text(row["tekst"]) if row.get("tekst") else None,
        "citation": _citation(plan, row),
        "artikelnummer": row.get("artikelnummer"),
        "tekst_in_opslag": bool(row.get("tekst_in_opslag")) and bool(row.get("tekst")),
        "url": row.get("url"),
    }
    if row.get("wid"):
        out.update(wid=row["wid"], hoofdstuk=row.get("hoofdstuk"), afdeling=row.get("afdeling"),
                   structuur=json.loads(row.get("structuur") or "[]"))
    if row.get("bestemming"):
        out["bestemming"] = row["bestemming"]
    if not out["tekst_in_opslag"]:
        out["reason"] = text(
            "de tekst van dit artikel is niet in de opslag (het regelsdocument is niet meegeleverd); "
            "de link gaat naar het artikel op ruimtelijkeplannen.nl",
            "the text of this article is not in the store (the regels document was not delivered); "
            "the link goes to the article on ruimtelijkeplannen.nl")
    return out


def _ow_articles(db: _Articles, plan: dict, rules: list[dict], norms: list[dict]) -> list[dict]:
    out: dict[str, dict] = {}
    everywhere = {r["identificatie"] for r in rules if r.get("locatie_soort") == "Ambtsgebied"}
    for rule in rules:
        wid = rule.get("artikel") or (rule.get("regeltekst") or "").split(";")[0]
        if not wid:
            continue
        if wid not in out:
            row = db.by_wid(plan["plan_id"], wid)
            if row is None:
                out[wid] = {"kop": None, "tekst": None, "wid": wid, "tekst_in_opslag": False,
                            "juridische_regels": [], "normen": [],
                            "reason": text(f"regeltekst {wid} is geen artikel van de geïmporteerde regeling",
                                           f"regeltekst {wid} is no article of the imported regeling")}
            else:
                out[wid] = {**_article_out(plan, row), "juridische_regels": [], "normen": [], "_row": row}
        if rule["identificatie"] not in out[wid]["juridische_regels"]:
            out[wid]["juridische_regels"].append(rule["identificatie"])
        if rule["identificatie"] in everywhere:
            out[wid]["werkingsgebied"] = text("het hele ambtsgebied (de geometrie ervan zit niet in de levering)",
                                              "the whole ambtsgebied (its geometry is not in the delivery)")
    for norm in norms:
        for wid in filter(None, (norm.get("regeltekst") or "").split(";")):
            art = out.get(wid) or next((a for a in out.values() if "_row" in a
                                        and wid in json.loads(a["_row"].get("wids") or "[]")), None)
            if art is None or "_row" not in art:
                continue
            zin = norm_sentence(art["_row"], norm.get("naam"), norm.get("type"))
            value = norm.get("kwantitatieve_waarde")
            art["normen"].append({
                "norm": norm.get("norm"), "naam": norm.get("naam"), "type": norm.get("type"),
                "waarde": value if value is not None else norm.get("kwalitatieve_waarde"),
                "eenheid": norm.get("eenheid"), "locatie": norm.get("locatie_noemer"),
                "waarde_tekst": _amount(value, norm.get("eenheid")),
                "zin": {"label": zin["label"], "tekst": source_text(zin["tekst"]), "wid": zin["wid"]} if zin else None,
            })
    for art in out.values():
        art.pop("_row", None)
    return list(out.values())


def _imro_articles(db: _Articles, plan: dict) -> list[dict]:
    out: dict[str, dict] = {}
    for layer in IMRO_ARTICLE_LAYERS:
        for rec in plan.get(layer, []):
            ref, nummer = rec.get("verwijzing_regels"), rec.get("artikelnummer")
            row = db.by_reference(plan["plan_id"], ref, nummer) if (ref or nummer) else None
            if row is not None and not rec.get("artikel_url"):
                rec["artikel_url"] = row.get("url")
            if row is None or layer == "maatvoering":
                continue
            key = row["object_id"]
            if key not in out:
                out[key] = {**_article_out(plan, row), "planobjecten": []}
            out[key]["planobjecten"].append({"layer": layer, "identificatie": rec.get("identificatie"),
                                             "naam": rec.get("naam")})
    return list(out.values())


def attach_articles(store, x: float, y: float, plans: dict[str, dict], found: dict[str, list[dict]],
                    compliance: dict, plan_key=lambda r: r.get("plan_id"), law: dict[str, list[dict]] | None = None,
                    ) -> None:
    """Add ``articles`` to every plan at the point and ``source_sentence`` to the compliance lines that rest on
    a plan limit. ``store`` is the location check's Store (at_point, path); ``plans`` and ``compliance`` are
    edited in place; every bestemming record in the plans gets its absolute ``artikel_url``. ``law``: the rows
    the verdict rests on (``found`` without drafts, see without_drafts), so a sentence never cites a draft."""
    db = _Articles(store.path)
    label_plan_states(plans, plan_states(plans))
    rules = store.at_point(OW_JURIDISCHE_REGEL, x, y) if store.has(OW_JURIDISCHE_REGEL) else []
    for key, plan in plans.items():
        if not plan.get("plan_id"):
            continue
        if plan.get("plan_type") == "omgevingsplan":
            here = [r for r in rules if plan_key(r) == key]
            if db.present and store.has(OW_JURIDISCHE_REGEL):
                here += [{**r, "locatie_soort": "Ambtsgebied"} for r in db.ambtsgebied_rules(plan["plan_id"])]
            plan["articles"] = _ow_articles(db, plan, here,
                                            [n for n in found.get("ow_omgevingsnorm", []) if plan_key(n) == key])
        else:
            plan["articles"] = _imro_articles(db, plan)
        if not db.present:
            plan["articles_reason"] = text("de opslag heeft geen artikelen (tabel regels): importeer de plannen "
                                           "opnieuw met stadsmodel zoning import",
                                           "the store has no articles (table regels): re-import the plans with "
                                           "stadsmodel zoning import")
    for line, (norm_type, column, limit_key) in LIMITS.items():
        target = compliance if line == "bouwhoogte" else compliance.get("goothoogte")
        if isinstance(target, dict) and target.get(limit_key) is not None:
            sentence = _source_sentence(db, plans, found if law is None else law, target, norm_type, column,
                                        limit_key, plan_key)
            if sentence is not None:
                target["source_sentence"] = sentence


def _source_sentence(db: _Articles, plans: dict, found: dict, line: dict, norm_type: str, column: str,
                     limit_key: str, plan_key) -> dict | None:
    """The sentence the limit of a compliance line comes from, beside its verdict."""
    limit = line[limit_key]
    measured = line.get("measured_height_m", line.get("measured_m"))
    for norm in found.get("ow_omgevingsnorm", []):
        if norm.get("type") != norm_type or norm.get("kwantitatieve_waarde") != limit:
            continue
        plan = plans.get(plan_key(norm)) or {}
        for art in plan.get("articles", []):
            for n in art.get("normen", []):
                if n["norm"] == norm.get("norm") and n["zin"] is not None:
                    return _sentence_out(plan, art, n["zin"], _amount(limit, norm.get("eenheid")), measured)
    for mv in found.get("maatvoering", []):
        if mv.get(column) != limit:
            continue
        plan = plans.get(plan_key(mv)) or {}
        row = db.by_reference(mv.get("plan_id"), mv.get("verwijzing_regels"), mv.get("artikelnummer"))
        # a maatvoering lies on a bestemmingsvlak: its article is the bestemming's
        if row is None:
            for eb in found.get("enkelbestemming", []):
                if plan_key(eb) == plan_key(mv):
                    row = db.by_reference(eb.get("plan_id"), eb.get("verwijzing_regels"), eb.get("artikelnummer"))
                    break
        if row is not None:
            amount = _amount(limit, "Meter")
            label, sentence = imro_sentence(row.get("tekst"), row.get("kop"), (_type_words(norm_type), mv.get("naam")))
            return {"label": source_text(label), "tekst": source_text(sentence) if sentence else None,
                    "citation": _citation(plan, row), "url": row.get("url"),
                    "summary": text(f"{row.get('kop')}: maatvoering '{mv.get('naam')}', maximaal {amount['nl']}"
                                    + _measured(measured, "nl"),
                                    f"{row.get('kop')}: maatvoering '{mv.get('naam')}', maximum {amount['en']}"
                                    + _measured(measured, "en")),
                    "reason": text("de zin staat in het regelsdocument, dat niet in de opslag is",
                                   "the sentence is in the regels document, which is not in the store")
                    if not row.get("tekst") else None}
    return None


def _measured(measured: float | None, lang: str) -> str:
    if measured is None:
        return ""
    if lang == "nl":
        return f" — gemeten {format(measured, '.2f').replace('.', ',')} m"
    return f" — measured {format(measured, '.2f')} m"


def _sentence_out(plan: dict, art: dict, zin: dict, amount: dict | None, measured: float | None) -> dict:
    """The sentence beside a verdict. The Dutch summary quotes it; the English one points at ``tekst`` (the
    sentence itself stays in the plan's language)."""
    value_nl = f" ({amount['nl']} ter plaatse)" if amount else ""
    value_en = f": maximum {amount['en']} here" if amount else ""
    return {"label": source_text(zin["label"]), "tekst": zin["tekst"], "id": zin["wid"],
            "citation": art["citation"],
            "summary": text(f"{zin['label']}: {zin['tekst']['nl']}{value_nl}{_measured(measured, 'nl')}",
                            f"{zin['label']} (Dutch text in tekst){value_en}{_measured(measured, 'en')}")}


# --------------------------------------------------------------------------------------------- plan status

# Where each plan stands (core.planstatus) in words.
STATE_TEXT = {
    "in_werking": text("geldend plan", "plan in force"),
    "ontwerp": text("ontwerp: nog niet vastgesteld", "draft (ontwerp): not yet adopted"),
    "vervangen": text("vervangen door een latere versie van hetzelfde plan", "superseded by a later version of "
                      "the same plan"),
    "onbekend": text("status van het plan onbekend", "plan status unknown"),
}


def without_drafts(found: dict[str, list[dict]], states: dict[str, str], plan_key, include_ontwerp: bool = False,
                   ) -> dict[str, list[dict]]:
    """``found`` without the rows of plans that are no law here (ontwerp, vervangen), unless ``include_ontwerp``
    (then only superseded plans are left out): the rows a compliance verdict may rest on."""
    left_out = NOT_LAW - ({"ontwerp"} if include_ontwerp else set())
    return {layer: [r for r in rows if states.get(plan_key(r)) not in left_out] for layer, rows in found.items()}


def label_plan_states(plans: dict[str, dict], states: dict[str, str]) -> None:
    """``status`` on every plan: the state and its text (which plans are in force, ontwerp or superseded)."""
    for key, plan in plans.items():
        state = states.get(key, "onbekend")
        plan["status"] = {"value": state, "text": STATE_TEXT[state]}
