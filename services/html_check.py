"""The Vergunningcheck without 3D: ``GET /vergunningcheck``, a plain server-rendered HTML page for screen readers
and old devices. No JavaScript, no WebGL, nothing fetched from elsewhere (a Content-Security-Policy says so).

The same check as the viewer's panel: `check_location` of the location-check process, called directly. The page
is one GET form: the location (``x``/``y`` in RD New, ``lon``/``lat``, or ``postcode`` + ``huisnummer``, looked up
in the store's addresses layer), ``activiteit`` (an id), ``lang`` (nl|en) and the answers as fields named by
question id (STTR: ``ja``/``nee`` or the option text; built-in: ``ja``/``nee`` or a number). The page shows the next
open question as radio buttons, the answers so far (hidden fields plus a visible list with "wijzig" links, which
ask that question again), what the city model prefilled with its evidence, the check's notes (e.g. a draft plan
left out of the verdict, with the reason), and the conclusion with its legal basis. Bad input (no location, an
unknown activity, a bad answer) gives 400 with the same page and the message.
"""

from __future__ import annotations

import contextlib
import html
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from pygeoapi.process.base import ProcessorExecuteError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from core import gpkg as geopackage
from core.crs import RD_NEW_URI
from core.products import ADDRESSES, BUILDINGS
from services.processes.location_check import (
    LocationCheckInputError,
    check_location,
    open_store,
    parse_location,
)
from services.rules import load_rules
from services.sttr import stored_activities

PATH = "/vergunningcheck"
LOCATION_FIELDS = ("x", "y", "lon", "lat", "postcode", "huisnummer")
RESERVED = {*LOCATION_FIELDS, "activiteit", "lang", "wijzig"}
LANGS = ("nl", "en")
# Only this page's own inline style; no scripts, no images, forms only to this page.
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

T = {
    "nl": {
        "title": "Vergunningcheck", "intro": "Controleer of u voor een bouwactiviteit een vergunning nodig hebt, "
        "zonder kaart: geef een adres of een punt.", "where": "Locatie", "postcode": "Postcode",
        "huisnummer": "Huisnummer", "activity": "Wat wilt u doen?", "all": "Alle activiteiten",
        "check": "Controleren", "x": "x (RD, meter)", "y": "y (RD, meter)", "or_point": "Of een punt in RD New",
        "error": "Dit ging mis", "building": "Gebouw", "address": "Adres", "point": "Punt (RD New)",
        "next": "Volgende vraag", "submit": "Volgende", "yes": "ja", "no": "nee", "answered": "Uw antwoorden",
        "change": "wijzig", "change_q": "wijzig het antwoord op: {q}", "prefilled": "Ingevuld uit de gegevens",
        "why": "Waarom", "source": "Bron: laag {source}, object {id}", "override": "ander antwoord geven",
        "overridden": "U hebt dit vervangen door: {v}",
        "conclusion": "Conclusie", "status": "Stand van de check", "basis": "Grondslag: de toepasbare regels "
        "van de gemeente", "step": "beslistabel {d}, regel {r}: {o}", "citations": "Bronnen",
        "walk": "Vragen beantwoorden: {a}", "image": "Afbeelding: {alt}",
        "image_untitled": "zonder beschrijving", "choose_address": "Kies een adres", "language": "Taal",
        "number": "{q} (getal, meter)", "again": "Andere locatie of activiteit",
        "viewer": "Naar de 3D-viewer", "notes": "Let op",
        "outcomes": {"vergunning_nodig": "Vergunning nodig", "vergunningvrij": "Vergunningvrij",
                     "melding": "Melding", "neem_contact_op": "Neem contact op", "onbekend": "Nog geen conclusie"},
        "e_location": "Geef een locatie: postcode en huisnummer, x en y (RD New) of lon en lat.",
        "e_coords": "{a} en {b} moeten getallen zijn, niet {v}.",
        "e_address": "Geen adres gevonden voor {a}.", "e_number": "Het huisnummer moet een getal zijn, niet {v!r}.",
        "e_activity": "Onbekende activiteit {a!r}.", "e_lang": "Taal {v!r} bestaat niet; kies nl of en.",
        "e_answers": "Antwoorden horen bij een activiteit: kies eerst een activiteit.",
        "e_question": "{q!r} is geen vraag van de activiteit {a}.",
        "e_bool": "Het antwoord op {q!r} moet ja of nee zijn, niet {v!r}.",
        "e_getal": "Het antwoord op {q!r} moet een getal zijn, niet {v!r}.",
        "e_twice": "De vraag {q!r} is meer dan eens beantwoord.",
    },
    "en": {
        "title": "Permit check", "intro": "Check whether a building activity needs a permit, without a map: give "
        "an address or a point.", "where": "Location", "postcode": "Postcode", "huisnummer": "House number",
        "activity": "What do you want to do?", "all": "All activities", "check": "Check",
        "x": "x (RD, metres)", "y": "y (RD, metres)", "or_point": "Or a point in RD New", "error": "Something went "
        "wrong", "building": "Building", "address": "Address", "point": "Point (RD New)", "next": "Next question",
        "submit": "Next", "yes": "yes", "no": "no", "answered": "Your answers", "change": "change",
        "change_q": "change the answer to: {q}", "prefilled": "Filled in from the data", "why": "Why",
        "source": "Source: layer {source}, object {id}", "override": "give another answer",
        "overridden": "You replaced this with: {v}",
        "conclusion": "Conclusion", "status": "State of the check",
        "basis": "Legal basis: the municipality's toepasbare regels", "step": "decision table {d}, rule {r}: {o}",
        "citations": "Sources", "walk": "Answer the questions: {a}", "image": "Image: {alt}",
        "image_untitled": "no description", "choose_address": "Choose an address", "language": "Language",
        "number": "{q} (number, metres)", "again": "Another location or activity",
        "viewer": "To the 3D viewer", "notes": "Please note",
        "outcomes": {"vergunning_nodig": "Permit needed", "vergunningvrij": "No permit needed",
                     "melding": "Notification", "neem_contact_op": "Contact the municipality",
                     "onbekend": "No conclusion yet"},
        "e_location": "Give a location: postcode and house number, x and y (RD New) or lon and lat.",
        "e_coords": "{a} and {b} must be numbers, not {v}.",
        "e_address": "No address found for {a}.", "e_number": "The house number must be a number, not {v!r}.",
        "e_activity": "Unknown activity {a!r}.", "e_lang": "Language {v!r} does not exist; choose nl or en.",
        "e_answers": "Answers belong to an activity: choose an activity first.",
        "e_question": "{q!r} is not a question of the activity {a}.",
        "e_bool": "The answer to {q!r} must be ja or nee (yes or no), not {v!r}.",
        "e_getal": "The answer to {q!r} must be a number, not {v!r}.",
        "e_twice": "The question {q!r} is answered more than once.",
    },
}
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;max-width:46rem;margin:0 auto;
padding:0 1rem 3rem;color:#1b1f24;line-height:1.45}a{color:#0b5394}:focus-visible{outline:3px solid #ffbf47;
outline-offset:2px}fieldset{border:1px solid #c7ced6;border-radius:4px;margin:.6rem 0;padding:.4rem .8rem}
legend{font-weight:600}label{display:block;margin:.3rem 0}input[type=text],input[type=number],select{font:inherit;
padding:.25rem .4rem;border:1px solid #4a5360;border-radius:4px}button{font:inherit;background:#0b5394;color:#fff;
border:1px solid #0b5394;border-radius:4px;padding:.35rem .8rem;cursor:pointer}.error{color:#a61b0f;
border:2px solid #a61b0f;padding:.4rem .8rem}.meta{color:#4a5360;font-size:.92rem;margin:.1rem 0}
.outcome{font-weight:700}.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);
white-space:nowrap}li{margin:.3rem 0}nav.lang a{margin-right:1rem}
"""


class PageError(Exception):
    """Bad input: the page is shown again with this message (HTTP 400)."""


# --------------------------------------------------------------------------------------------- markdown

_INLINE = re.compile(r'(!?)\[([^\]]*)\]\(\s*([^\s)]+)(?:\s+"([^"]*)")?\s*\)|\*\*([^*]+)\*\*|__([^_]+)__'
                     r"|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_")
_ITEM = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s+")


def markdown(source: str, image_label) -> str:
    """The toelichting's Markdown as HTML: paragraphs, lists, emphasis and http(s) links; an image becomes a link
    to it (never fetched). Everything else is escaped text: HTML in the source stays visible as text."""
    out = []
    for block in re.split(r"\n\s*\n", source.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if all(_ITEM.match(line) for line in lines):
            tag = "ol" if re.match(r"^\s*\d", lines[0]) else "ul"
            items = "".join(f"<li>{_inline(_ITEM.sub('', line).strip(), image_label)}</li>" for line in lines)
            out.append(f"<{tag}>{items}</{tag}>")
        else:
            out.append(f"<p>{_inline(' '.join(line.strip() for line in lines), image_label)}</p>")
    return "".join(out)


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!])", r"\1", text)


def _inline(text: str, image_label) -> str:
    parts, last = [], 0
    for m in _INLINE.finditer(text):
        parts.append(html.escape(_unescape(text[last:m.start()])))
        last = m.end()
        bang, label, url, title, s1, s2, e1, e2 = m.groups()
        if url is not None:
            words = image_label(label or title or "") if bang else (label or url)
            if re.fullmatch(r"https?://\S+", url, re.IGNORECASE):
                parts.append(f'<a href="{html.escape(url)}" rel="noopener noreferrer">{html.escape(words)}</a>')
            else:
                parts.append(html.escape(words))
        elif s1 or s2:
            parts.append(f"<strong>{html.escape(_unescape(s1 or s2))}</strong>")
        else:
            parts.append(f"<em>{html.escape(_unescape(e1 or e2))}</em>")
    parts.append(html.escape(_unescape(text[last:])))
    return "".join(parts)


# --------------------------------------------------------------------------------------------- input

def _lang(params) -> str:
    lang = params.get("lang") or "nl"
    return lang if lang in LANGS else "nl"


def _location(store, params, tr) -> tuple[float, float, tuple[float, float] | None, dict | None, list[dict]]:
    """(x, y, lon/lat or None, the address found or None, several addresses to choose from)."""
    given = {k: (params.get(k) or "").strip() for k in LOCATION_FIELDS}
    if given["postcode"] or given["huisnummer"]:
        return _address(store, given["postcode"], given["huisnummer"], tr)
    for a, b, crs in (("x", "y", RD_NEW_URI), ("lon", "lat", None)):
        if given[a] or given[b]:
            try:
                coords = [float(given[a].replace(",", ".")), float(given[b].replace(",", "."))]
            except ValueError:
                raise PageError(tr["e_coords"].format(a=a, b=b, v=f"{given[a]!r}, {given[b]!r}")) from None
            x, y, lonlat = parse_location({"type": "Point", "coordinates": coords}, crs)
            return x, y, lonlat, None, []
    raise PageError(tr["e_location"])


def _address(store, postcode: str, huisnummer: str, tr):
    pc = re.sub(r"\s+", "", postcode).upper()
    m = re.fullmatch(r"(\d+)\s*([A-Za-z]?)(?:-(\w+))?", huisnummer)
    if not m:
        raise PageError(tr["e_number"].format(v=huisnummer))
    number, letter, addition = int(m.group(1)), m.group(2).upper(), m.group(3)
    label = f"{pc} {huisnummer}"
    if not store.has(ADDRESSES) or not pc:
        raise PageError(tr["e_address"].format(a=label))
    layer = store.layers[ADDRESSES]
    with contextlib.closing(geopackage.connect(store.path)) as con:
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute(
            f'SELECT * FROM "{layer.name}" WHERE replace(upper(postcode), \' \', \'\') = ? AND huisnummer = ? '
            "ORDER BY identificatie", (pc, number))]
    if letter:
        rows = [r for r in rows if (r.get("huisletter") or "").upper() == letter]
    if addition:
        rows = [r for r in rows if str(r.get("huisnummertoevoeging") or "").lower() == addition.lower()]
    if not rows:
        raise PageError(tr["e_address"].format(a=label))
    found = []
    for r in rows:
        blob = r.pop(layer.geometry_column)
        point = geopackage.gpkg_geometries([blob])[0] if blob is not None else None
        if point is None:
            continue
        # an address point may lie on the facade: ask about a point inside its pand, as the viewer does
        x, y = point.x, point.y
        for rec, geom in store.query(BUILDINGS, x, y, x, y):
            if rec.get("identificatie") == r.get("pand_identificatie") and geom is not None:
                inside = geom.representative_point()
                x, y = inside.x, inside.y
        found.append({**r, "x": x, "y": y})
    if not found:
        raise PageError(tr["e_address"].format(a=label))
    if len({(a["x"], a["y"]) for a in found}) > 1:
        return None, None, None, None, found
    a = found[0]
    return a["x"], a["y"], None, a, []


def _answers(activity_id: str | None, params, tr, sttr: dict, rules: dict) -> dict[str, Any]:
    """The form's answer fields, typed per question (ja/nee → true/false for STTR, numbers for getal)."""
    fields = [(k, v) for k, v in params.multi_items() if k not in RESERVED]
    if not fields:
        return {}
    if activity_id is None:
        raise PageError(tr["e_answers"])
    out: dict[str, Any] = {}
    for key, value in fields:
        if key in out:
            raise PageError(tr["e_twice"].format(q=key))
        if activity_id in sttr:
            q = sttr[activity_id].question(key)
            if q is None:
                raise PageError(tr["e_question"].format(q=key, a=activity_id))
            if q.type == "boolean":
                if value not in ("ja", "nee"):
                    raise PageError(tr["e_bool"].format(q=key, v=value))
                out[key] = value == "ja"
            else:
                out[key] = value  # check_answers says which options there are
        else:
            node = rules[activity_id].doc["nodes"].get(key)
            if node is None or "question" not in node:
                raise PageError(tr["e_question"].format(q=key, a=activity_id))
            if node.get("type") == "getal":
                try:
                    out[key] = float(value.replace(",", "."))
                except ValueError:
                    raise PageError(tr["e_getal"].format(q=key, v=value)) from None
            else:
                if value not in ("ja", "nee"):
                    raise PageError(tr["e_bool"].format(q=key, v=value))
                out[key] = value
    return out


# --------------------------------------------------------------------------------------------- the page

def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _text(value: Any, lang: str) -> str:
    """A {nl, en} text in the page's language, escaped; a source text in another language gets its lang."""
    if isinstance(value, dict):
        shown = value.get(lang) or value.get("nl") or ""
        source = value.get("lang")
        if source and source != lang:
            return f'<span lang="{_e(source)}">{_e(shown)}</span>'
        return _e(shown)
    return _e(value if value is not None else "")


class Page:
    """One rendering of the page: the state of the request and the HTML building."""

    def __init__(self, lang: str, params: dict[str, str], answers: dict[str, Any], wijzig: str | None = None):
        self.lang, self.tr, self.params, self.answers = lang, T[lang], params, answers
        self.wijzig = wijzig  # the question the user asked to answer again

    def url(self, **changes) -> str:
        """This page's URL with the location, activity and answers, changed as given (None removes)."""
        query = {k: v for k, v in self.params.items() if v}
        query.update({k: ("ja" if v is True else "nee" if v is False else v) for k, v in self.answers.items()})
        query.update(changes)
        return f"{PATH}?{urlencode({k: v for k, v in query.items() if v is not None})}"

    def hidden(self, skip: str | None = None) -> str:
        fields = {**{k: v for k, v in self.params.items() if v},
                  **{k: ("ja" if v is True else "nee" if v is False else v) for k, v in self.answers.items()}}
        return "".join(f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">'
                       for k, v in fields.items() if k != skip)

    def value_text(self, value: Any) -> str:
        if value is True or value == "ja":
            return self.tr["yes"]
        if value is False or value == "nee":
            return self.tr["no"]
        if isinstance(value, str) and self.lang != "nl":
            return f'<span lang="nl">{_e(value)}</span>'  # an option text of the rules: Dutch
        return _e(value)

    def phrase(self, key: str, q: dict) -> str:
        """A text with a question in it, as HTML: the question keeps its own language."""
        before, _, after = self.tr[key].partition("{q}")
        return f"{_e(before)}{_text(q.get('question'), self.lang)}{_e(after)}"

    def change_link(self, qid: str, words: str, q: dict) -> str:
        """A link that asks the question again; its name for screen readers says which question."""
        return (f'<a href="{_e(self.url(wijzig=qid))}">{_e(words)}<span class="vh">: '
                f"{_text(q.get('question'), self.lang)}</span></a>")

    def image_label(self, alt: str) -> str:
        return self.tr["image"].format(alt=alt or self.tr["image_untitled"])

    def toelichting(self, value: dict | None, id_: str | None = None) -> str:
        if not value:
            return ""
        source = value.get("lang")
        lang_attr = f' lang="{_e(source)}"' if source and source != self.lang else ""
        id_attr = f' id="{_e(id_)}"' if id_ else ""
        rendered = markdown(value.get(self.lang) or value.get("nl") or "", self.image_label)
        return f'<div class="toelichting"{id_attr}{lang_attr}>{rendered}</div>'

    # -- the question form

    def question_form(self, q: dict, current: Any = None, heading: str | None = None) -> str:
        """One question as a GET form: radios (or a number field), the other answers hidden, a submit button."""
        tr, qid = self.tr, str(q["id"])
        base = "v-" + re.sub(r"[^\w-]", "_", qid)
        legend = _text(q.get("question"), self.lang)
        described = f' aria-describedby="{base}-uitleg"' if q.get("toelichting") else ""
        if q.get("type") == "getal":
            value = f' value="{_e(current)}"' if current is not None else ""
            control = (f'<label for="{base}">{tr["number"].format(q=legend)}</label>'
                       f'<input type="number" step="0.01" id="{base}" name="{_e(qid)}" required{value}{described}>')
            body = control + self.toelichting(q.get("toelichting"), f"{base}-uitleg")
        else:
            if q.get("type") == "list":
                options = [(o, self.value_text(o)) for o in q.get("options", [])]
            else:
                options = [("ja", tr["yes"]), ("nee", tr["no"])]
            checked = {True: "ja", False: "nee"}.get(current, current) if not isinstance(current, str) else current
            radios = "".join(
                f'<label for="{base}-{i}"><input type="radio" id="{base}-{i}" name="{_e(qid)}" value="{_e(v)}"'
                f'{" checked" if v == checked else ""} required> {label}</label>'
                for i, (v, label) in enumerate(options))
            body = (f'<fieldset{described}><legend>{legend}</legend>'
                    f'{self.toelichting(q.get("toelichting"), f"{base}-uitleg")}{radios}</fieldset>')
        title = f'<h3 id="volgende">{heading or _e(tr["next"])}</h3>'
        return (f'<section aria-labelledby="volgende">{title}<form method="get" action="{PATH}">'
                f'{self.hidden(skip=qid)}{body}<p><button type="submit">{_e(tr["submit"])}</button></p>'
                "</form></section>")

    # -- blocks

    def prefilled(self, activity: dict, known: dict[str, dict]) -> str:
        tr, items = self.tr, []
        for p in activity.get("prefilled", []):
            q = known.get(p["question"]) or {"question": p["question"]}
            ev = p.get("evidence") or {}
            question = _text(q.get("question"), self.lang)
            overridden = ""
            if "overridden_by_user" in p:
                replaced = tr["overridden"].format(v=self.value_text(p["overridden_by_user"]))
                overridden = f'<p class="meta">{replaced}</p>'
            where = tr["source"].format(source=ev.get("source"), id=ev.get("object_id") or "–")
            source = (f'<p class="meta">{_e(where)}</p>'
                      if ev.get("source") else "")
            link = self.change_link(p["question"], tr["override"], q)
            items.append(f'<li>{question}: <strong>{self.value_text(p["value"])}</strong>'
                         f'<p class="meta">{_e(tr["why"])}: {_text(ev.get("text"), self.lang)}</p>{source}'
                         f"{overridden}<p>{link}</p></li>")
        if not items:
            return ""
        return _section("ingevuld", "h3", tr["prefilled"], f'<ul>{"".join(items)}</ul>')

    def answered(self, activity: dict, known: dict[str, dict]) -> str:
        tr = self.tr
        prefilled = {p["question"] for p in activity.get("prefilled", [])}
        items = []
        for qid, value in self.answers.items():
            if qid in prefilled:
                continue
            q = known.get(qid) or {"question": qid}
            link = self.change_link(qid, tr["change"], q)
            items.append(f'<li>{_text(q.get("question"), self.lang)}: <strong>{self.value_text(value)}</strong> '
                         f"({link})</li>")
        if not items:
            return ""
        return _section("antwoorden", "h3", tr["answered"], f'<ul>{"".join(items)}</ul>')

    def conclusion(self, activity: dict) -> str:
        tr = self.tr
        decided = _decided(activity)
        outcome = activity.get("outcome") if activity.get("outcome") in tr["outcomes"] else "onbekend"
        parts = [f'<h3 id="conclusie">{_e(tr["conclusion"] if decided else tr["status"])}</h3>',
                 f'<p><span class="outcome">{_e(tr["outcomes"][outcome])}</span>: '
                 f'{_text(activity.get("text"), self.lang)}</p>']
        if activity.get("reason"):
            parts.append(f'<p class="meta">{_text(activity["reason"], self.lang)}</p>')
        parts.append(self.toelichting(activity.get("toelichting")))
        if decided and activity.get("path"):
            steps = "".join(f"<li>{_e(tr['step'].format(d=s.get('decision'), r=s.get('rule'), o=s.get('output')))}</li>"
                            for s in activity["path"])
            parts.append(f'<p class="meta">{_e(tr["basis"])}</p><ol>{steps}</ol>')
        if activity.get("citations"):
            cites = "".join(f"<li>{_text(c, self.lang) if isinstance(c, dict) else _e(c)}"
                            f"{' — ' + _e(c['url']) if isinstance(c, dict) and c.get('url') else ''}</li>"
                            for c in activity["citations"])
            parts.append(f'<p class="meta">{_e(tr["citations"])}</p><ul>{cites}</ul>')
        return f'<section aria-labelledby="conclusie" class="conclusie">{"".join(parts)}</section>'


def _section(id_: str, tag: str, title: str, content: str) -> str:
    return f'<section aria-labelledby="{id_}"><{tag} id="{id_}">{_e(title)}</{tag}>{content}</section>'


def _known_questions(activity: dict) -> dict[str, dict]:
    known = {q["id"]: q for q in activity.get("open_questions", []) if "id" in q}
    for p in activity.get("prefilled", []):
        if p.get("asked"):
            known[p["question"]] = p["asked"]
    return known


def _sttr_question(act, qid: str) -> dict | None:
    q = act.question(qid) if act is not None else None
    if q is None:
        return None
    return {"id": q.id, "question": {"nl": q.text, "en": q.text, "lang": "nl"}, "type": q.type,
            "options": list(q.options), "toelichting": ({"nl": q.toelichting, "en": q.toelichting, "lang": "nl"}
                                                        if q.toelichting else None)}


def render(data_dir: Path, query) -> tuple[int, str]:
    """(status, HTML) of the page for these query parameters (a starlette QueryParams or a MultiDict)."""
    lang = _lang(query)
    tr = T[lang]
    params = {k: query.get(k) for k in (*LOCATION_FIELDS, "activiteit", "lang") if query.get(k)}
    params["lang"] = lang
    activity_id = params.get("activiteit") or None
    page = Page(lang, params, {}, query.get("wijzig") or None)
    error, result, choices, address = None, None, [], None
    sttr: dict = {}
    rules: dict = {}
    catalogue: list[tuple[str, str]] = []
    try:
        if query.get("lang") and query.get("lang") not in LANGS:
            raise PageError(tr["e_lang"].format(v=query.get("lang")))
        store = open_store(data_dir)
        sttr = stored_activities(store.path)
        rules = load_rules()
        catalogue = sorted([(a.id, a.title) for a in sttr.values()]
                           + [(r, rules[r].title[lang]) for r in rules if r not in sttr], key=lambda c: c[1].lower())
        if activity_id is not None and activity_id not in sttr and activity_id not in rules:
            raise PageError(tr["e_activity"].format(a=activity_id))
        page.answers = _answers(activity_id, query, tr, sttr, rules)
        x, y, lonlat, address, choices = _location(store, query, tr)
        if not choices:
            result = check_location(store, x, y, answers=page.answers, lonlat=lonlat,
                                    activities=[activity_id] if activity_id else None)
    except (PageError, LocationCheckInputError) as e:
        error = str(e) if isinstance(e, PageError) else e.message
    except ProcessorExecuteError as e:  # no store: the server's own state, still a page and no traceback
        return 503, _document(page, catalogue, None, [], None, str(e.message), activity_id, sttr, {})
    status = 400 if error else 200
    return status, _document(page, catalogue, result, choices, address, error, activity_id, sttr, rules)


def _document(page: Page, catalogue, result, choices, address, error, activity_id, sttr, rules) -> str:
    tr, lang = page.tr, page.lang
    body: list[str] = [f'<h1>{_e(tr["title"])}</h1>']
    other = "en" if lang == "nl" else "nl"
    body.append(f'<nav class="lang" aria-label="{_e(tr["language"])}"><a href="{_e(page.url(lang=other))}" '
                f'lang="{other}" hreflang="{other}">{"English" if other == "en" else "Nederlands"}</a>'
                f'<a href="/">{_e(tr["viewer"])}</a></nav>')
    if error:
        body.append(f'<div class="error" role="alert"><h2>{_e(tr["error"])}</h2><p>{_e(error)}</p></div>')
    rd = result.get("location", {}).get("rd") if result else None
    form = _location_form(page, catalogue, activity_id, rd)
    if result is None:
        body.append(form)
    if choices:
        links = "".join(f'<li><a href="{_e(page.url(postcode=None, huisnummer=None, x=f"{a["x"]:.2f}",
                                                       y=f"{a["y"]:.2f}"))}">'
                        f"{_e(_address_text(a))}</a></li>" for a in choices)
        body.append(_section("kies", "h2", tr["choose_address"], f"<ul>{links}</ul>"))
    if result is not None:
        body.append(_result(page, result, address, activity_id, sttr, rules))
        # the check first, for keyboards and screen readers; then another location or activity
        body.append(_section("opnieuw", "h2", tr["again"], form))
    title = tr["title"] + (f" – {_address_text(address)}" if address else "")
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body><main>{''.join(body)}</main></body></html>")


def _address_text(a: dict) -> str:
    number = f"{a.get('huisnummer')}{a.get('huisletter') or ''}"
    if a.get("huisnummertoevoeging"):
        number += f"-{a['huisnummertoevoeging']}"
    return f"{a.get('openbareruimte') or ''} {number}, {a.get('postcode') or ''} {a.get('woonplaats') or ''}".strip()


def _location_form(page: Page, catalogue, activity_id, rd: list[float] | None) -> str:
    """Location and activity; a point found (from lon/lat too) stays in the form as RD x, y."""
    tr, p = page.tr, dict(page.params)
    if rd and not p.get("postcode"):
        p["x"], p["y"] = f"{rd[0]:.2f}", f"{rd[1]:.2f}"
    options = "".join(f'<option value="{_e(i)}"{" selected" if i == activity_id else ""}>{_e(title)}</option>'
                      for i, title in catalogue)

    def field(name: str, label: str) -> str:
        return (f'<label for="f-{name}">{_e(label)}</label>'
                f'<input type="text" id="f-{name}" name="{name}" value="{_e(p.get(name, ""))}">')

    return (f'<form method="get" action="{PATH}"><p>{_e(tr["intro"])}</p>'
            f'<fieldset><legend>{_e(tr["where"])}</legend>{field("postcode", tr["postcode"])}'
            f'{field("huisnummer", tr["huisnummer"])}<p class="meta">{_e(tr["or_point"])}</p>'
            f'{field("x", tr["x"])}{field("y", tr["y"])}</fieldset>'
            f'<label for="f-activiteit">{_e(tr["activity"])}</label><select id="f-activiteit" name="activiteit">'
            f'<option value="">{_e(tr["all"])}</option>{options}</select>'
            f'<input type="hidden" name="lang" value="{page.lang}">'
            f'<p><button type="submit">{_e(tr["check"])}</button></p></form>')


def _result(page: Page, result: dict, address, activity_id, sttr, rules) -> str:
    tr = page.tr
    b = result.get("building") or {}
    rd = result.get("location", {}).get("rd") or []
    where = [f'<p>{_e(tr["point"])}: {_e(", ".join(f"{v:.2f}" for v in rd))}</p>']
    if address:
        where.append(f'<p>{_e(tr["address"])}: {_e(_address_text(address))}</p>')
    elif b.get("addresses"):
        where.append(f'<p>{_e(tr["address"])}: {_e(_address_text(b["addresses"][0]))}</p>')
    if b.get("identificatie"):
        where.append(f'<p>{_e(tr["building"])}: {_e(b["identificatie"])}</p>')
    parts = [f'<section aria-labelledby="locatie"><h2 id="locatie">{_e(tr["where"])}</h2>{"".join(where)}</section>']
    if result.get("notes"):  # what the check left out and why (a draft plan, answers it did not use, no zoning data)
        notes = "".join(f"<li>{_text(n, page.lang)}</li>" for n in result["notes"])
        parts.append(_section("opmerkingen", "h2", tr["notes"], f"<ul>{notes}</ul>"))
    activities = result.get("activities", [])
    if activity_id is None:
        items = "".join(
            f'<li><a href="{_e(page.url(activiteit=a["activity"]))}">'
            f'{tr["walk"].format(a=_text(a.get("title"), page.lang))}</a>'
            f' — {_e(tr["outcomes"].get(a.get("outcome"), tr["outcomes"]["onbekend"]))}</li>' for a in activities)
        parts.append(f'<section aria-labelledby="alle"><h2 id="alle">{_e(tr["all"])}</h2><ul>{items}</ul></section>')
        return "".join(parts)
    (activity,) = activities
    known = _known_questions(activity)
    for qid in {*page.answers, page.wijzig} - {None} - set(known):
        # an answered question is no longer open: its text comes from the rules themselves
        q = _sttr_question(sttr.get(activity_id), qid) or _tree_question(rules.get(activity_id), qid)
        if q is not None:
            known[qid] = q
    parts.append(f'<section aria-labelledby="activiteit"><h2 id="activiteit">'
                 f'{_text(activity.get("title"), page.lang)}</h2>')
    parts.append(page.prefilled(activity, known))
    parts.append(page.answered(activity, known))
    prefilled = {p["question"]: p.get("overridden_by_user", p["value"]) for p in activity.get("prefilled", [])}
    if page.wijzig in known:
        current = page.answers.get(page.wijzig, prefilled.get(page.wijzig))
        q = known[page.wijzig]
        parts.append(page.question_form(q, current, page.phrase("change_q", q)))
    elif activity.get("open_questions") and not _decided(activity):
        parts.append(page.question_form(activity["open_questions"][0]))
    parts.append(page.conclusion(activity))
    parts.append("</section>")
    return "".join(parts)


def _decided(activity: dict) -> bool:
    if activity.get("source") == "sttr":
        return activity.get("conclusion") is not None
    return activity.get("outcome") != "onbekend"


def _tree_question(rules, qid: str) -> dict | None:
    """A question node of a built-in rule tree (config/rules) in the open-question shape."""
    node = rules.doc["nodes"].get(qid) if rules is not None else None
    if not node or "question" not in node:
        return None
    return {"id": qid, "question": node["question"], "type": node.get("type", "ja_nee")}


def endpoint(data_dir: Path):
    """The Starlette endpoint of ``GET /vergunningcheck`` for one data directory (the check runs in a thread)."""

    async def vergunningcheck(request: Request) -> HTMLResponse:
        status, body = await run_in_threadpool(render, data_dir, request.query_params)
        return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": CSP})

    return vergunningcheck
