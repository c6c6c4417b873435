"""Plan rule texts → rows of the ``regels`` table: the articles a location check quotes and `regels` serves.

Omgevingsplan (STOP): the regeling in the AKN besluit (``RegelingCompact/Lichaam``: Hoofdstuk, Afdeling,
Artikel with eId/wId, Kop, Lid, Al, Lijst/Li, table) becomes one row per Artikel with its number, heading, the
chapter and afdeling it stands in, the plain text and the structure (leden, list items, tables as text). Each
sentence-like unit (an Al or a Li, with the wId of its lid or list item) is kept in ``zinnen`` so a norm can be
tied to the sentence that states it. :func:`wid_index` maps every wId inside an article (the article, a lid, a
list item) to that article, so OW Regeltekst references to a lid resolve too.

Bestemmingsplan (IMRO): the regels are a separate document (``r_<plan-id>.html``) that ruimtelijkeplannen.nl
publishes next to the GML. Where it is delivered beside the GML, the article at each ``verwijzingNaarTekst``
anchor is read from it; where it is not, the row holds an absolute link into the national plan viewer's
documents (:func:`imro_document_url`) and no text.

XML and HTML are parsed without DTDs, entities or network access; a document with a DOCTYPE is refused (no
entity expansion at all, so no entity bombs). Markup in texts is reduced to its text: a row never holds HTML.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lxml import etree, html

from core.errors import InputError

# Where ruimtelijkeplannen.nl publishes a plan's documents: the Ruimtelijke Plannen API (v4) gives every
# verwijzingNaarTekst as https://ruimtelijkeplannen.nl/documents/<plan-id>/<bestand>#<anker>; the GML holds only
# the <bestand>#<anker> part (relative to that folder).
RUIMTELIJKEPLANNEN_DOCUMENTS = "https://www.ruimtelijkeplannen.nl/documents/{plan_id}/{document}"

# The plan in the national viewer, for a bestemming whose GML has no verwijzingNaarTekst (the viewer opens the plan
# and shows its regels there).
RUIMTELIJKEPLANNEN_VIEWER = "https://www.ruimtelijkeplannen.nl/viewer/view?planidn={plan_id}"

# Unicode superscripts for m<sup>2</sup> and m<sup>3</sup>, so the plain text still reads as m² / m³.
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def safe_xml(path: Path, data: bytes | None = None) -> etree._Element:
    """The root of an XML file parsed safely: no DTD, no entity expansion, no network.

    :raises InputError: not well-formed, or a DOCTYPE (entities could hide in it; plan XML never needs one)
    """
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, dtd_validation=False,
                             huge_tree=True, remove_comments=True, remove_pis=True)
    try:
        tree = etree.fromstring(data if data is not None else path.read_bytes(), parser).getroottree()
    except etree.XMLSyntaxError as e:
        raise InputError(path, f"{path.name}: not well-formed XML: {e}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise InputError(path, f"{path.name}: XML with a DOCTYPE declaration is refused (entities are not "
                               "expanded); remove the DOCTYPE")
    return tree.getroot()


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def plain(el: etree._Element) -> str:
    """The text of an inline element, markup dropped (sup as superscript digits), whitespace collapsed."""
    parts: list[str] = []

    def walk(e: etree._Element) -> None:
        if e.text:
            parts.append(e.text.translate(_SUPERSCRIPT) if _local(e) == "sup" else e.text)
        for child in e:
            if isinstance(child.tag, str):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _kop(el: etree._Element) -> dict[str, str | None]:
    kop = el.find("{*}Kop")
    if kop is None:
        return {"label": None, "nummer": None, "opschrift": None}
    return {k: (plain(v) or None) if (v := kop.find(f"{{*}}{tag}")) is not None else None
            for k, tag in (("label", "Label"), ("nummer", "Nummer"), ("opschrift", "Opschrift"))}


def _heading(el: etree._Element) -> str | None:
    k = _kop(el)
    return " ".join(v for v in (k["label"], k["nummer"], k["opschrift"]) if v) or None


class _Article:
    """Walks one Artikel: the structure (blocks), the plain text lines and the sentence units."""

    def __init__(self, art: etree._Element, nummer: str):
        self.nummer = nummer
        self.lines: list[str] = []
        self.zinnen: list[dict[str, Any]] = []
        self.wids: list[str] = [art.get("wId")]
        self.owner = art.get("wId")  # the wId of the article, lid or list item a unit stands in
        self.structuur = self._blocks(art, lid=None, items=())

    def _label(self, lid: str | None, items: tuple[str, ...]) -> str:
        out = f"Artikel {self.nummer}"
        if lid:
            out += f" lid {lid}"
        if items:
            out += " onder " + ", ".join(items)
        return out

    def _blocks(self, el: etree._Element, lid: str | None, items: tuple[str, ...], depth: int = 0) -> list[dict]:
        blocks: list[dict] = []
        for child in el:
            kind = _local(child)
            if kind in ("Kop", "LidNummer", "LiNummer", ""):
                continue
            if kind in ("Inhoud", "Divisietekst", "Begrippenlijst"):
                blocks += self._blocks(child, lid, items, depth)
            elif kind == "Lid":
                number = plain(child.find("{*}LidNummer")) if child.find("{*}LidNummer") is not None else ""
                number = number.rstrip(".") or str(len([b for b in blocks if b["type"] == "lid"]) + 1)
                self.wids.append(child.get("wId"))
                self.lines.append(f"{number}.")
                outer, self.owner = self.owner, child.get("wId") or self.owner
                blocks.append({"type": "lid", "nummer": number, "wid": child.get("wId"),
                               "blocks": self._blocks(child, number, (), depth)})
                self.owner = outer
            elif kind == "Lijst":
                lijst = {"type": "lijst", "wid": child.get("wId"), "items": []}
                for li in child.findall("{*}Li"):
                    num_el = li.find("{*}LiNummer")
                    num = plain(num_el) if num_el is not None else "•"
                    self.wids.append(li.get("wId"))
                    mark = num.rstrip(".")
                    first = len(self.lines)
                    outer, self.owner = self.owner, li.get("wId") or self.owner
                    body = self._blocks(li, lid, items + (mark,), depth + 1)
                    self.owner = outer
                    # the item number goes in front of the item's first line
                    if len(self.lines) > first:
                        self.lines[first] = "  " * depth + f"{num} " + self.lines[first].lstrip()
                    lijst["items"].append({"nummer": num, "wid": li.get("wId"), "blocks": body})
                blocks.append(lijst)
            elif kind == "Begrip":
                term, definitie = child.find("{*}Term"), child.find("{*}Definitie")
                text = f"{plain(term) if term is not None else ''}: {plain(definitie) if definitie is not None else ''}"
                self._unit(text, child.get("wId"), lid, items, depth)
                blocks.append({"type": "begrip", "tekst": text})
            elif kind == "table":
                rows = [" | ".join(plain(e) for e in row if _local(e) == "entry")
                        for row in child.iter("{*}row")]
                for row in rows:
                    self._unit(row, child.get("wId"), lid, items, depth)
                blocks.append({"type": "tabel", "rijen": rows})
            elif kind in ("Al", "Opschrift", "Tussenkop"):
                text = plain(child)
                if text:
                    self._unit(text, child.get("wId"), lid, items, depth)
                    blocks.append({"type": "al", "tekst": text})
            else:  # an element we do not model (Figuur, Formule, ...): its text, never dropped silently
                text = plain(child)
                if text:
                    self._unit(text, child.get("wId"), lid, items, depth)
                    blocks.append({"type": kind.lower(), "tekst": text})
        return blocks

    def _unit(self, text: str, wid: str | None, lid: str | None, items: tuple[str, ...], depth: int) -> None:
        self.lines.append("  " * depth + text)
        self.zinnen.append({"label": self._label(lid, items), "tekst": text, "wid": wid or self.owner,
                            "lid": lid, "onder": list(items)})


def read_regeling(path: Path, root: etree._Element | None = None) -> list[dict[str, Any]]:
    """Article rows of the regeling in an AKN besluit (AanleveringBesluit); [] when it has none.

    Each row: wid, eid, artikelnummer, kop ("Artikel 2.14 Bouwregels bedrijfsgebouwen"), opschrift,
    hoofdstuk, afdeling, tekst (plain, one line per sentence unit, list items with their letter), structuur
    (JSON blocks), zinnen (JSON: label "Artikel 2.14 onder d", tekst, wid), wids (JSON: every wId inside).
    """
    root = safe_xml(path) if root is None else root
    regelingen = [el for el in root.iter("{*}RegelingCompact", "{*}RegelingKlassiek", "{*}RegelingVrijetekst")]
    rows = []
    for regeling in regelingen:
        for art in regeling.iter("{*}Artikel"):
            kop = _kop(art)
            nummer = kop["nummer"] or art.get("eId") or "?"
            walked = _Article(art, nummer)
            chapter = next((a for a in art.iterancestors("{*}Hoofdstuk")), None)
            section = next((a for a in art.iterancestors("{*}Afdeling", "{*}Paragraaf")), None)
            rows.append({
                "wid": art.get("wId"), "eid": art.get("eId"), "artikelnummer": nummer,
                "kop": _heading(art) or f"Artikel {nummer}", "opschrift": kop["opschrift"],
                "hoofdstuk": _heading(chapter) if chapter is not None else None,
                "afdeling": _heading(section) if section is not None else None,
                "tekst": "\n".join(walked.lines),
                "structuur": json.dumps(walked.structuur, ensure_ascii=False),
                "zinnen": json.dumps(walked.zinnen, ensure_ascii=False),
                "wids": json.dumps([w for w in walked.wids if w], ensure_ascii=False),
            })
    return rows


def wid_index(articles: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every wId inside an article (the article itself, its leden and list items) → that article row."""
    return {wid: art for art in articles for wid in json.loads(art["wids"])}


# --------------------------------------------------------------------------------------------- IMRO

def imro_document_url(plan_id: str, verwijzing: str | None) -> str | None:
    """The absolute address of a plan document (``r_<plan-id>.html#anker``) on ruimtelijkeplannen.nl."""
    if not verwijzing:
        return None
    if re.match(r"^https?://", verwijzing):
        return verwijzing
    return RUIMTELIJKEPLANNEN_DOCUMENTS.format(plan_id=plan_id, document=verwijzing.lstrip("/"))


def plan_viewer_url(plan_id: str) -> str:
    return RUIMTELIJKEPLANNEN_VIEWER.format(plan_id=plan_id)


def _heading_level(el: html.HtmlElement) -> int | None:
    tag = el.tag if isinstance(el.tag, str) else ""
    return int(tag[1]) if re.fullmatch(r"h[1-6]", tag) else None


def read_imro_regels(path: Path) -> dict[str, dict[str, str]]:
    """anchor → {kop, tekst} of a delivered IMRO regels document (XHTML/HTML), parsed as HTML without
    entities or network; a heading's article runs to the next heading of the same or a higher level."""
    data = path.read_bytes()
    if re.search(rb"<!DOCTYPE[^>]*\[", data[:4096], re.IGNORECASE):
        raise InputError(path, "regels document with an internal DTD subset (entities) is refused")
    parser = html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError) as e:
        raise InputError(path, f"not a readable HTML regels document: {e}") from None
    for bad in root.iter("script", "style"):
        bad.drop_tree()
    out: dict[str, dict[str, str]] = {}
    for el in root.iter():
        anchor = el.get("id") or el.get("name") if isinstance(el.tag, str) else None
        if not anchor or anchor in out:
            continue
        head = el if _heading_level(el) else next((a for a in el.iterancestors() if _heading_level(a)), None)
        if head is None and el.tag == "a":  # <a name=…/> just before its heading
            head = next((s for s in el.itersiblings() if isinstance(s.tag, str)), None)
            head = head if head is not None and _heading_level(head) else None
        if head is not None:
            level, lines = _heading_level(head), []
            for sib in head.itersiblings():
                if not isinstance(sib.tag, str):
                    continue
                if (lv := _heading_level(sib)) is not None and lv <= level:
                    break
                text = re.sub(r"[ \t]+", " ", sib.text_content()).strip()
                if text:
                    lines.append(text)
            out[anchor] = {"kop": re.sub(r"\s+", " ", head.text_content()).strip(), "tekst": "\n".join(lines)}
        else:
            text = re.sub(r"[ \t]+", " ", el.text_content()).strip()
            if text:
                first, _, rest = text.partition("\n")
                out[anchor] = {"kop": first.strip(), "tekst": rest.strip()}
    return out
