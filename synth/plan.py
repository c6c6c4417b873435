"""Synthetic zoning with known answers for a synthetic district (synth.district): an IMRO2012 bestemmingsplan
GML with its regels document (``r_<plan-id>.html``, as ruimtelijkeplannen.nl publishes it: one anchored article
per bestemming and aanduiding, which the GML's verwijzingNaarTekst point at; the bouwregels quote the plan's
maatvoering), RCE-format monument and gezicht GeoJSON, and ``expected.json`` with the answer the location check
must give for each pand. Written into DIR/zoning/, in the real formats, so `stadsmodel zoning import` reads them.

Layout (x = west → east over the district's extent, plus a 20 m margin):
  0 – 55 %  Wonen    bouwvlak around each pand (every 7th pand has none), maatvoering per bouwvlak:
                     the first pand EXCEEDS its maximum bouwhoogte by 1.5 m, the others have 2.5 m headroom;
                     maximum goothoogte 1 m above the true eave (truth h_goot), but the first pand with a sloped
                     and the first with a flat roof (after the first pand) EXCEED it by 0.8 m; every third
                     sloped pand gets a dakhelling in turn: a maximum 10° above its steepest main plane (within),
                     a maximum 10° below it (too steep), a minimum 10° below its shallowest (within, where that
                     is ≥ 5°), a minimum 10° above it (too shallow); the first flat roof gets a minimum dakhelling
                     of 15° (a pitched roof required: too shallow); the second pand is a rijksmonument
  55 – 75 % Centrum  bouwvlakken but NO maatvoering (→ maximum bouwhoogte "onbekend"); a beschermd gezicht
  75 – 90 % Groen    gebiedsaanduiding "wetgevingzone - wijzigingsgebied"
  90 – 100 % Verkeer
A pand whose roof the model cannot measure (truth: not ``measurable`` — not built yet, or a roof that returns
almost no pulses) gets a bouwvlak with a maximum bouwhoogte of 10 m (and a maximum goothoogte of 6 m) wherever
it lies, so the check has a maximum to compare with and must answer that the *height* is unknown. Bouwvlakken
stop at the neighbours' walls, so a point on one pand never falls in the bouwvlak of the next.

Heights come from DIR/truth.json (true ground and roof heights per pand), so the measured heights of the
built model (within a few cm of the truth) fall clearly on one side of each maximum. ``expected.json``
holds per pand: point (RD), bestemming, in_bouwvlak, max_bouwhoogte, max_goothoogte, rijksmonument,
beschermd_gezicht, compliance (overschrijdt / binnen_maximum / onbekend), onbekend_omdat (geen_maximum /
hoogte_niet_gemeten) and measured_height_truth; for the roofs goothoogte_compliance (overschrijdt /
binnen_maximum / onbekend) with measured_goothoogte_truth, min_dakhelling / max_dakhelling (degrees or null)
with dakhelling_compliance (binnen_grenzen / buiten_grenzen / onbekend) and measured_dakhelling_truth ([min,
max] of the main planes); and per bestemming a spot in the district on no building. The roof answers hold for
a model whose roof was reconstructed (LoD2.2); a model without it answers "onbekend".
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from core.crs import rdnap_to_etrs89
from core.errors import InputError

PLAN_ID = "NL.IMRO.9999.SYNTH-0001"
PLAN_NAAM = "Bestemmingsplan Synthetische Wijk"
REGELS_DOCUMENT = f"r_{PLAN_ID}.html"  # the plan's regels, beside the GML
EXCEEDANCE_M = 1.5
HEADROOM_M = 2.5
GOOT_EXCEEDANCE_M = 0.8
GOOT_HEADROOM_M = 1.0
PITCH_MARGIN_DEG = 10.0
FLAT_MIN_DAKHELLING = 15.0  # "kap verplicht": a flat roof does not meet it
MAX_GOOTHOOGTE = 6.0  # where the eave is not known
UNMEASURED_MAX_BOUWHOOGTE = 10.0
STRIPS = (("Wonen", "wonen", 0.0, 0.55, 3), ("Centrum", "centrum", 0.55, 0.75, 4),
          ("Groen", "groen", 0.75, 0.90, 5), ("Verkeer", "verkeer", 0.90, 1.0, 6))
SPOT_CLEARANCE_M = 3.0  # an open spot lies at least this far from every pand and strip edge


def _poslist(ring) -> str:
    return " ".join(f"{x:.3f} {y:.3f}" for x, y in ring.coords)


def _rings(poly: Polygon) -> str:
    inner = "".join(f"<gml:interior><gml:LinearRing><gml:posList>{_poslist(r)}</gml:posList></gml:LinearRing>"
                    "</gml:interior>" for r in poly.interiors)
    return (f"<gml:exterior><gml:LinearRing><gml:posList>{_poslist(poly.exterior)}</gml:posList></gml:LinearRing>"
            f"</gml:exterior>{inner}")


def _surface(geom, gid: str) -> str:
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    if len(polys) == 1:
        return (f'<gml:Surface gml:id="{gid}" srsName="urn:ogc:def:crs:EPSG::28992"><gml:patches><gml:PolygonPatch>'
                f"{_rings(polys[0])}</gml:PolygonPatch></gml:patches></gml:Surface>")
    members = "".join(f"<gml:surfaceMember><gml:Polygon>{_rings(p)}</gml:Polygon></gml:surfaceMember>" for p in polys)
    return f'<gml:MultiSurface gml:id="{gid}" srsName="urn:ogc:def:crs:EPSG::28992">{members}</gml:MultiSurface>'


def _feature(kind: str, lokaal: str, body: str, geom) -> str:
    return (f'<imro:featureMember><imro:{kind} gml:id="NL.IMRO.{lokaal}"><imro:identificatie><imro:NEN3610ID>'
            f"<imro:namespace>NL.IMRO</imro:namespace><imro:lokaalID>{lokaal}</imro:lokaalID></imro:NEN3610ID>"
            f"</imro:identificatie><imro:typePlanobject>{kind.lower()}</imro:typePlanobject>"
            f'<imro:plangebied xlink:href="#{PLAN_ID}"/>{body}'
            f"<imro:geometrie>{_surface(geom, 'g-' + lokaal)}</imro:geometrie></imro:{kind}></imro:featureMember>")


def article_anchor(article: int | str) -> str:
    """The anchor of an article (or lid, "3.2") in the regels document: a GUID, as ruimtelijkeplannen.nl has
    them, the same for every run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://example.invalid/{PLAN_ID}/regels/{article}"))


def _regels(article: int) -> str:
    return (f"<imro:verwijzingNaarTekstInfo><imro:TekstReferentie_BP><imro:verwijzingNaarTekst>"
            f"{REGELS_DOCUMENT}#{article_anchor(article)}</imro:verwijzingNaarTekst>"
            "<imro:typeTekst>regels</imro:typeTekst></imro:TekstReferentie_BP></imro:verwijzingNaarTekstInfo>")


def _maatvoering(i: int, max_h: float, max_g: float, vlak, min_pitch: float | None = None,
                 max_pitch: float | None = None) -> str:
    values = [(max_h, "maximum bouwhoogte (m)"), (max_g, "maximum goothoogte (m)"),
              (min_pitch, "minimum dakhelling (graden)"), (max_pitch, "maximum dakhelling (graden)")]
    waarden = "".join(f"<imro:WaardeEnType><imro:waarde>{v:g}</imro:waarde><imro:waardeType>{t}</imro:waardeType>"
                      "</imro:WaardeEnType>" for v, t in values if v is not None)
    naam = "maximum goot- en bouwhoogte (m)" + (", dakhelling (graden)" if (min_pitch, max_pitch) != (None, None)
                                                 else "")
    return _feature("Maatvoering", f"9999.MV-{i}", f"<imro:naam>{naam}</imro:naam>"
                    f"<imro:maatvoeringInfo>{waarden}</imro:maatvoeringInfo>", vlak)


def _eaves(t: dict) -> float | None:
    """The true goothoogte (eave − maaiveld), or None when the model cannot measure it."""
    if _measured(t) is None or t.get("h_goot") is None:
        return None
    return float(t["h_goot"]) - float(t["h_maaiveld"])


def _roof_limits(t: dict, sloped_seen: int, first_flat: bool) -> tuple[float | None, float | None, str]:
    """(minimum, maximum dakhelling, the answer) for a measured pand: see the module's layout."""
    low, high = t.get("hellingshoek_min"), t.get("hellingshoek_max")
    if t.get("dak_type") != "slanted" or low is None or high is None:
        return (FLAT_MIN_DAKHELLING, None, "buiten_grenzen") if first_flat else (None, None, "onbekend")
    if sloped_seen % 3:
        return None, None, "onbekend"
    turn = sloped_seen // 3 % 4
    if turn == 0:
        return None, round(high + PITCH_MARGIN_DEG), "binnen_grenzen"
    if turn == 1:
        return None, round(high - PITCH_MARGIN_DEG), "buiten_grenzen"
    if turn == 2 and low - PITCH_MARGIN_DEG >= 5:
        return round(low - PITCH_MARGIN_DEG), None, "binnen_grenzen"
    return round(low + PITCH_MARGIN_DEG), None, "buiten_grenzen"


def _measured(t: dict) -> float | None:
    """The true height above ground (roof maximum − maaiveld, chimneys and antennas not counted, as plans
    measure bouwhoogte), or None when the model cannot measure it (not built, or a roof that returns too few
    pulses: truth ``measurable``)."""
    if not t.get("measurable", t.get("has_points", True)) or t.get("h_dak_max") is None or t.get("h_maaiveld") is None:
        return None
    return float(t["h_dak_max"]) - float(t["h_maaiveld"])


def _read_truth(path: Path) -> dict[str, dict]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no truth.json: write the district with `stadsmodel synth` first") from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"not valid JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("panden"), dict):
        raise InputError(path, "no 'panden' object (the truth file synth.district writes)")
    return doc["panden"]


def _bouwvlak(footprints: np.ndarray, tree: shapely.STRtree, i: int):
    """The pand's footprint grown by 1 m, minus its neighbours (row houses share walls)."""
    fp = footprints[i]
    grown = fp.buffer(1.0, join_style="mitre")
    neighbours = [j for j in tree.query(grown, predicate="intersects") if j != i]
    vlak = grown.difference(shapely.union_all(footprints[neighbours])) if neighbours else grown
    parts = [p for p in getattr(vlak, "geoms", [vlak]) if p.intersects(fp)]  # drop slivers between neighbours
    return shapely.union_all(parts)


def _open_spot(area: Polygon, footprints: np.ndarray, tree: shapely.STRtree) -> list[float] | None:
    """The point of the area farthest from every pand (grid search, 1 m), or None when no point is clear."""
    inner = area.buffer(-SPOT_CLEARANCE_M, join_style="mitre")
    if inner.is_empty:
        return None
    x0, y0, x1, y1 = inner.bounds
    xs, ys = np.meshgrid(np.arange(np.ceil(x0), x1, 1.0), np.arange(np.ceil(y0), y1, 1.0))
    pts = shapely.points(xs.ravel(), ys.ravel())
    nearest = tree.query_nearest(pts, return_distance=True, all_matches=False)
    dist = np.full(len(pts), np.inf)
    dist[nearest[0][0]] = nearest[1]
    best = int(np.argmax(dist))
    if dist[best] < SPOT_CLEARANCE_M:
        return None
    return [float(xs.ravel()[best]), float(ys.ravel()[best])]


# --------------------------------------------------------------------------------------------- the regels

def _nl(value: float) -> str:
    """A number as the Dutch text writes it (8,5)."""
    return f"{value:g}".replace(".", ",")


def _span(values, unit: str) -> str | None:
    """'8,5 m' for one value, '7,2 tot 12,8 m' for several (lowest to highest), None for none."""
    vals = sorted({v for v in values if v is not None})
    if not vals:
        return None
    return _nl(vals[0]) + (f" tot {_nl(vals[-1])}" if len(vals) > 1 else "") + f" {unit}"


def _lettered(items: list[str]) -> list[str]:
    """List items as the regels letter them: "a. …;", "b. …;" and the last one ending in a full stop."""
    items = items[:-1] + [items[-1].removesuffix(";") + "."] if items else []
    return [f"{chr(ord('a') + i)}. {t}" for i, t in enumerate(items)]


def _maat_items(values: list[tuple], elders: str | None) -> list[str]:
    """The bouwregels items that quote the plan's maatvoering (bouwhoogte, goothoogte, dakhelling): the numbers
    the GML gives in this bestemming; ``elders`` ("de bestaande {what}") says what holds where the verbeelding
    gives none."""
    items = []
    for k, (what, aanduiding, unit) in enumerate((("bouwhoogte", "maximum bouwhoogte (m)", "m"),
                                                   ("goothoogte", "maximum goothoogte (m)", "m"))):
        span = _span((v[k] for v in values), unit)
        if span is not None:
            items.append(f"de {what} van een hoofdgebouw bedraagt niet meer dan ter plaatse van de aanduiding "
                         f"'{aanduiding}' is aangegeven (op de verbeelding {span})"
                         + (f"; elders niet meer dan {elders.format(what=what)}" if elders else "") + ";")
        elif elders:
            items.append(f"de {what} van een hoofdgebouw bedraagt niet meer dan {elders.format(what=what)};")
    low, high = _span((v[2] for v in values if len(v) > 2), "graden"), _span((v[3] for v in values if len(v) > 3),
                                                                                "graden")
    if low:
        items.append("de dakhelling van een hoofdgebouw bedraagt niet minder dan ter plaatse van de aanduiding "
                     f"'minimum dakhelling (graden)' is aangegeven (op de verbeelding {low});")
    if high:
        items.append("de dakhelling van een hoofdgebouw bedraagt niet meer dan ter plaatse van de aanduiding "
                     f"'maximum dakhelling (graden)' is aangegeven (op de verbeelding {high});")
    return items


def _bestemming_article(naam: str, nr: int, values: list[tuple]) -> list[tuple]:
    """The blocks of one bestemming's article: ("h3", number, title), ("p", text), ("ul", items), ("raw", html)."""
    if naam == "Wonen":
        return [
            ("h3", f"{nr}.1", "Bestemmingsomschrijving"),
            ("p", "De voor 'Wonen' aangewezen gronden zijn bestemd voor:"),
            ("ul", ["a. wonen, al dan niet in combinatie met een aan-huis-verbonden beroep;", "b. tuinen en erven;",
                    "met de daarbij behorende bouwwerken, parkeervoorzieningen en nutsvoorzieningen."]),
            ("h3", f"{nr}.2", "Bouwregels"),
            ("p", "Op de voor 'Wonen' aangewezen gronden mag uitsluitend worden gebouwd ten dienste van de bestemming, "
                  "met inachtneming van de volgende regels:"),
            ("ul", _lettered(["hoofdgebouwen worden uitsluitend binnen het bouwvlak gebouwd;"]
                             + _maat_items(values, None))),
            ("h3", f"{nr}.3", "Dakkapellen"),
            ("p", "Voor het bouwen van een dakkapel op een hoofdgebouw gelden de volgende regels:"),
            ("ul", ["a. een dakkapel wordt uitsluitend in een hellend dakvlak gebouwd;",
                    "b. de onderzijde van een dakkapel ligt ten minste 0,5 m en ten hoogste 1 m boven de dakvoet;",
                    "c. de bovenzijde van een dakkapel ligt ten minste 0,5 m onder de daknok;",
                    "d. de zijkanten van een dakkapel liggen ten minste 0,5 m van de zijkanten van het dakvlak;",
                    "e. de hoogte van een dakkapel, gemeten vanaf de voet, bedraagt ten hoogste 1,75 m."]),
            ("h3", f"{nr}.4", "Afwijken van de bouwregels"),
            ("p", f"Het bevoegd gezag kan bij omgevingsvergunning afwijken van het bepaalde in {nr}.2 voor een "
                  "overschrijding van de maximum bouwhoogte met ten hoogste 10 %, mits het straatbeeld daardoor niet "
                  "onevenredig wordt aangetast."),
            ("h3", f"{nr}.5", "Specifieke gebruiksregels"),
            ("p", "Tot een gebruik in strijd met de bestemming wordt in ieder geval gerekend het gebruik van een "
                  "bijbehorend bouwwerk als zelfstandige woning."),
        ]
    if naam == "Centrum":
        return [
            ("h3", f"{nr}.1", "Bestemmingsomschrijving"),
            ("p", "De voor 'Centrum' aangewezen gronden zijn bestemd voor:"),
            ("ul", ["a. detailhandel, dienstverlening en horeca van categorie 1, op de begane grond;",
                    "b. wonen, op de verdiepingen;", "c. maatschappelijke voorzieningen;",
                    "d. het behoud van de cultuurhistorische waarden van het beschermde stadsgezicht."]),
            ("h3", f"{nr}.2", "Bouwregels"),
            ("ul", _lettered(["hoofdgebouwen worden uitsluitend binnen het bouwvlak gebouwd;"]
                             + _maat_items(values, "de bestaande {what}")
                             + ["een dakkapel in het naar de openbare weg gekeerde dakvlak is niet toegestaan;"])),
            ("h3", f"{nr}.3", "Omgevingsvergunning voor het slopen"),
            ("p", "Het is verboden zonder omgevingsvergunning een hoofdgebouw geheel of gedeeltelijk te slopen."),
        ]
    if naam == "Groen":
        return [
            ("h3", f"{nr}.1", "Bestemmingsomschrijving"),
            ("p", "De voor 'Groen' aangewezen gronden zijn bestemd voor groenvoorzieningen, water, speelvoorzieningen "
                  "en voet- en fietspaden."),
            ("h3", f"{nr}.2", "Bouwregels"),
            ("ul", _lettered(["op deze gronden worden geen gebouwen gebouwd, met uitzondering van bestaande "
                              "gebouwen en gebouwen binnen een bouwvlak;",
                              "de bouwhoogte van speeltoestellen bedraagt ten hoogste 4 m;",
                              "de bouwhoogte van overige bouwwerken, geen gebouwen zijnde, bedraagt ten hoogste 3 m;"]
                             + _maat_items(values, None))),
        ]
    return [  # Verkeer
        ("h3", f"{nr}.1", "Bestemmingsomschrijving"),
        ("p", "De voor 'Verkeer' aangewezen gronden zijn bestemd voor wegen en straten, voet- en fietspaden, "
              "parkeervoorzieningen, groen en water."),
        ("h3", f"{nr}.2", "Bouwregels"),
        ("ul", _lettered(["op deze gronden worden geen gebouwen gebouwd, met uitzondering van bestaande gebouwen "
                          "en gebouwen binnen een bouwvlak;",
                          "de bouwhoogte van lichtmasten bedraagt ten hoogste 8 m;",
                          "de bouwhoogte van overige bouwwerken, geen gebouwen zijnde, bedraagt ten hoogste 6 m;"]
                         + _maat_items(values, None))),
        # a script in the document is never text, and markup written as text stays text (the viewer shows it so)
        ("raw", "<script>document.title = 'synthetisch';</script>"),
        ("p", "Noot bij dit synthetische plan: de tekens <script> en <b>vet</b> in deze zin zijn gewone tekst, geen "
              "opmaak."),
    ]


def regels_document(maatvoering: dict[str, list[tuple]]) -> str:
    """The plan's regels as ruimtelijkeplannen.nl publishes them (``r_<plan-id>.html``): a chapter per
    ``div.hoofdstuk`` with its h1, an article per ``div.artikel`` with an anchored h2 ("Artikel 3 Wonen"), its
    leden as anchored h3 with their paragraphs and lists. One article per bestemming (synth.plan.STRIPS) and the
    gebiedsaanduiding's article 9; ``maatvoering`` (per bestemming: (bouwhoogte, goothoogte, minimum and maximum
    dakhelling) of each Maatvoering) gives the numbers the bouwregels quote."""
    bestemmingen = {art: (naam, _bestemming_article(naam, art, maatvoering[naam])) for naam, _, _, _, art in STRIPS}
    chapters = [
        ("Hoofdstuk 1 Inleidende regels", {
            1: ("Begrippen", [("ul", [
                f"1.1 plan: het bestemmingsplan '{PLAN_NAAM}' van de gemeente Synthetica, {PLAN_ID};",
                "1.2 bouwvlak: een geometrisch bepaald vlak, waarmee gronden zijn aangeduid waar ingevolge de regels "
                "bepaalde gebouwen zijn toegelaten;",
                "1.3 dakkapel: een constructie ter vergroting van een gebouw, die zich tussen de dakvoet en de "
                "daknok bevindt, waarbij de constructie onder de daklijn blijft;",
                "1.4 hoofdgebouw: een gebouw dat op een bouwperceel door zijn aard, constructie of afmetingen als "
                "belangrijkste bouwwerk valt aan te merken."])]),
            2: ("Wijze van meten", [("ul", [
                "2.1 bouwhoogte van een bouwwerk: vanaf het peil tot aan het hoogste punt van een gebouw of van een "
                "bouwwerk, geen gebouw zijnde, met uitzondering van schoorstenen, antennes en naar de aard daarmee "
                "gelijk te stellen bouwonderdelen;",
                "2.2 goothoogte van een bouwwerk: vanaf het peil tot aan de bovenkant van de goot, c.q. de druiplijn, "
                "het boeibord of een daarmee gelijk te stellen constructiedeel;",
                "2.3 dakhelling: langs het dakvlak ten opzichte van het horizontale vlak;",
                "2.4 peil: de hoogte van het aansluitende afgewerkte maaiveld."])]),
        }),
        ("Hoofdstuk 2 Bestemmingsregels", {art: b for art, b in sorted(bestemmingen.items())}),
        ("Hoofdstuk 3 Algemene regels", {
            7: ("Anti-dubbeltelregel", [("p", "Grond die eenmaal in aanmerking is genomen bij het toestaan van een "
                                              "bouwplan, blijft bij de beoordeling van latere bouwplannen buiten "
                                              "beschouwing.")]),
            8: ("Algemene bouwregels", [("p", "Ondergeschikte bouwdelen, zoals schoorstenen, antennes en "
                                              "liftopbouwen, mogen de maximum bouwhoogte met ten hoogste 1,5 m "
                                              "overschrijden.")]),
            9: ("Algemene wijzigingsregels", [
                ("h3", "9.1", "wetgevingzone - wijzigingsgebied"),
                ("p", "Burgemeester en wethouders kunnen ter plaatse van de aanduiding 'wetgevingzone - "
                      "wijzigingsgebied' de bestemming 'Groen' wijzigen in de bestemming 'Wonen', met inachtneming "
                      "van de volgende regels:"),
                ("ul", ["a. de regels van artikel 3 zijn van overeenkomstige toepassing;",
                        f"b. de bouwhoogte bedraagt ten hoogste {_nl(UNMEASURED_MAX_BOUWHOOGTE)} m en de goothoogte "
                        f"ten hoogste {_nl(MAX_GOOTHOOGTE)} m;",
                        "c. ten minste 30 % van het wijzigingsgebied blijft groen ingericht."])]),
        }),
        ("Hoofdstuk 4 Overgangs- en slotregels", {
            10: ("Overgangsrecht", [("p", "Een bouwwerk dat op het tijdstip van inwerkingtreding van het plan "
                                          "aanwezig of in uitvoering is, mag gedeeltelijk worden vernieuwd of "
                                          "veranderd, mits daardoor de afwijking naar aard en omvang niet wordt "
                                          "vergroot.")]),
            11: ("Slotregel", [("p", f"Deze regels worden aangehaald als: regels van het '{PLAN_NAAM}'.")]),
        }),
    ]

    def block(b: tuple) -> str:
        if b[0] == "h3":
            return f'<h3 id="{article_anchor(b[1])}">{escape(b[1])} {escape(b[2])}</h3>'
        if b[0] == "ul":
            return '<ul class="opsomming">\n' + "\n".join(f"<li>{escape(t)}</li>" for t in b[1]) + "\n</ul>"
        if b[0] == "raw":
            return b[1]
        return f"<p>{escape(b[1])}</p>"

    body = []
    for c, (kop, articles) in enumerate(chapters, 1):
        body.append(f'<div class="hoofdstuk">\n<h1 id="{article_anchor(f"hoofdstuk-{c}")}">{escape(kop)}</h1>')
        for art, (titel, blocks) in articles.items():
            body.append(f'<div class="artikel">\n<h2 id="{article_anchor(art)}">Artikel {art} {escape(titel)}</h2>\n'
                        + "\n".join(block(b) for b in blocks) + "\n</div>")
        body.append("</div>")
    return ('<!DOCTYPE html>\n<html lang="nl">\n<head>\n<meta charset="utf-8">\n'
            f"<title>Regels {escape(PLAN_NAAM)} ({PLAN_ID})</title>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_synthetic_plan(district_dir: Path) -> list[Path]:
    """Write DIR/zoning/{plan GML, its regels document, monument and gezicht GeoJSON, expected.json}; returns
    the import files (the regels document is no import file: the importer reads it beside the GML).

    :raises InputError: DIR/bag.gpkg or DIR/truth.json missing, or a pand without truth
    """
    district_dir = Path(district_dir)
    if not (district_dir / "bag.gpkg").is_file():
        raise InputError(district_dir / "bag.gpkg",
                         "no BAG GeoPackage: write the district with `stadsmodel synth` first")
    panden = gpd.read_file(district_dir / "bag.gpkg", layer="pand").sort_values("identificatie", ignore_index=True)
    truth = _read_truth(district_dir / "truth.json")
    out = district_dir / "zoning"
    out.mkdir(parents=True, exist_ok=True)

    footprints = np.asarray(panden.geometry)
    tree = shapely.STRtree(footprints)
    district = box(*panden.total_bounds)
    x0, y0, x1, y1 = district.buffer(20, join_style="mitre").bounds
    strips = {naam: box(x0 + a * (x1 - x0), y0, x0 + b * (x1 - x0), y1) for naam, _, a, b, _ in STRIPS}
    features = [_feature("Enkelbestemming", f"9999.EB-{naam}",
                         f"<imro:naam>{naam}</imro:naam><imro:bestemmingshoofdgroep>{hg}</imro:bestemmingshoofdgroep>"
                         f"<imro:artikelnummer>{art}</imro:artikelnummer>{_regels(art)}",
                         strips[naam]) for naam, hg, _, _, art in STRIPS]
    features.append(_feature("Gebiedsaanduiding", "9999.GA-1", "<imro:naam>wetgevingzone - wijzigingsgebied</imro:naam>"
                             "<imro:gebiedsaanduidinggroep>wetgevingzone</imro:gebiedsaanduidinggroep>"
                             f"<imro:artikelnummer>9</imro:artikelnummer>{_regels(9)}", strips["Groen"]))

    expected: dict[str, dict] = {}
    maatvoering: dict[str, list[tuple]] = {naam: [] for naam, *_ in STRIPS}  # per strip: (bouwh, gooth, dakh.)
    wonen_seen = sloped_seen = 0
    goot_exceeded: set[str] = set()
    flat_limited = False
    monument_pand = None
    for i, ident in enumerate(panden["identificatie"]):
        pid = ident if str(ident).startswith("NL.") else f"NL.IMBAG.Pand.{ident}"
        if pid not in truth:
            raise InputError(district_dir / "truth.json", "no truth for this pand of bag.gpkg", pid)
        fp = footprints[i]
        c = fp.representative_point()
        strip = next(naam for naam, *_ in STRIPS if strips[naam].covers(c))
        measured = _measured(truth[pid])
        eaves = _eaves(truth[pid])
        exp = {"point": [c.x, c.y], "bestemming": strip.lower(), "in_bouwvlak": False, "max_bouwhoogte": None,
               "max_goothoogte": None, "rijksmonument": False, "beschermd_gezicht": strip == "Centrum",
               "compliance": "onbekend", "onbekend_omdat": "geen_maximum",
               "measured_height_truth": None if measured is None else round(measured, 3),
               "goothoogte_compliance": "onbekend",
               "measured_goothoogte_truth": None if eaves is None else round(eaves, 3),
               "min_dakhelling": None, "max_dakhelling": None, "dakhelling_compliance": "onbekend",
               "measured_dakhelling_truth": None if measured is None else
               [truth[pid].get("hellingshoek_min"), truth[pid].get("hellingshoek_max")]}
        if measured is None:
            exp["onbekend_omdat"] = "hoogte_niet_gemeten"
        if (strip in ("Wonen", "Centrum") and i % 7 != 3) or measured is None:
            vlak = _bouwvlak(footprints, tree, i)
            features.append(_feature("Bouwvlak", f"9999.BV-{i}", "<imro:naam>bouwvlak</imro:naam>", vlak))
            exp["in_bouwvlak"] = True
            max_g, pitch = MAX_GOOTHOOGTE, (None, None)
            if measured is None:
                max_h = UNMEASURED_MAX_BOUWHOOGTE
            elif strip == "Wonen":
                first = wonen_seen == 0
                wonen_seen += 1
                max_h = round(measured - EXCEEDANCE_M if first else measured + HEADROOM_M, 1)
                exp.update(compliance="overschrijdt" if first else "binnen_maximum", onbekend_omdat=None)
                if wonen_seen == 2:
                    monument_pand = (pid, fp)
                if eaves is not None:
                    kind = "sloped" if truth[pid].get("dak_type") == "slanted" else "flat"
                    over = not first and kind not in goot_exceeded
                    if over:
                        goot_exceeded.add(kind)
                    max_g = round(eaves - GOOT_EXCEEDANCE_M if over else eaves + GOOT_HEADROOM_M, 1)
                    exp["goothoogte_compliance"] = "overschrijdt" if over else "binnen_maximum"
                    low, high, answer = _roof_limits(truth[pid], sloped_seen, kind == "flat" and not flat_limited)
                    sloped_seen += kind == "sloped"
                    flat_limited |= kind == "flat"
                    pitch = (low, high)
                    exp.update(min_dakhelling=low, max_dakhelling=high, dakhelling_compliance=answer)
            else:
                max_h = None
            if max_h is not None:
                features.append(_maatvoering(i, max_h, max_g, vlak, *pitch))
                exp.update(max_bouwhoogte=max_h, max_goothoogte=max_g)
                maatvoering[strip].append((max_h, max_g, *pitch))
        expected[pid] = exp
    if monument_pand:
        expected[monument_pand[0]]["rijksmonument"] = True
    spots = {}
    for naam, *_ in STRIPS:
        if (spot := _open_spot(strips[naam].intersection(district), footprints, tree)) is not None:
            spots[naam.lower()] = {"point": spot, "bestemming": naam.lower(), "beschermd_gezicht": naam == "Centrum"}

    plan_geom = box(x0, y0, x1, y1)
    plan = (f'<imro:featureMember><imro:Bestemmingsplangebied gml:id="{PLAN_ID}"><imro:identificatie><imro:NEN3610ID>'
            "<imro:namespace>NL.IMRO</imro:namespace><imro:lokaalID>9999.SYNTH</imro:lokaalID>"
            "<imro:versie>0001</imro:versie>"
            "</imro:NEN3610ID></imro:identificatie><imro:typePlan>bestemmingsplan</imro:typePlan>"
            "<imro:beleidsmatigVerantwoordelijkeOverheid>gemeentelijke overheid"
            "</imro:beleidsmatigVerantwoordelijkeOverheid>"
            "<imro:naamOverheid>Synthetica</imro:naamOverheid><imro:overheidsCode>9999</imro:overheidsCode>"
            f"<imro:naam>{escape(PLAN_NAAM)}</imro:naam><imro:planstatusInfo><imro:PlanstatusEnDatum>"
            "<imro:planstatus>vastgesteld"
            "</imro:planstatus><imro:datum>2024-01-01</imro:datum></imro:PlanstatusEnDatum></imro:planstatusInfo>"
            "<imro:verwijzingNorm>IMRO2012</imro:verwijzingNorm>"
            f"<imro:geometrie>{_surface(plan_geom, 'g-plan')}</imro:geometrie>"
            "</imro:Bestemmingsplangebied></imro:featureMember>")
    gml = ('<?xml version="1.0" encoding="UTF-8"?>\n<imro:FeatureCollectionIMRO gml:id="Collectie" '
           'xmlns:imro="http://www.geonovum.nl/imro/2012/1.1" xmlns:gml="http://www.opengis.net/gml/3.2" '
           'xmlns:xlink="http://www.w3.org/1999/xlink">\n' + plan + "\n" + "\n".join(features)
           + "\n</imro:FeatureCollectionIMRO>\n")
    plan_path = out / f"{PLAN_ID}.gml"
    plan_path.write_text(gml, encoding="utf-8")
    (out / REGELS_DOCUMENT).write_text(regels_document(maatvoering), encoding="utf-8")

    def lonlat(geom):
        def conv(xy):
            return np.array([rdnap_to_etrs89(x, y, 0.0)[1::-1] for x, y in xy])
        return shapely.transform(geom, conv)

    def fc(name, feats):
        return {"type": "FeatureCollection", "name": name, "features": feats}

    mon_path, gez_path = out / "rce-rijksmonumenten.geojson", out / "rce-beschermde-gezichten.geojson"
    mon = []
    if monument_pand:
        mon.append({"type": "Feature", "properties": {
            "cho_uri": "https://example.invalid/synthetisch/rijksmonument/999001", "rijksmonumentnummer": "999001",
            "naam": "Synthetisch woonhuis", "type": "Woonhuis", "monumentenregister_url": None,
            "datum_inschrijving_monumentenregister": "2001-01-01"},
            "geometry": mapping(lonlat(monument_pand[1].buffer(-0.5)))})
    mon_path.write_text(json.dumps(fc("rijksmonumenten_synthetisch", mon)), encoding="utf-8")
    gez = [{"type": "Feature", "properties": {"gezicht_uri": "https://example.invalid/synthetisch/gezicht/9001",
                                              "gezichtsnummer": "9001", "naam": "Synthetisch centrum",
                                              "status": "rijksbeschermd stads- of dorpsgezicht"},
            "geometry": mapping(lonlat(strips["Centrum"]))}]
    gez_path.write_text(json.dumps(fc("beschermde_gezichten_synthetisch", gez)), encoding="utf-8")
    (out / "expected.json").write_text(json.dumps({"plan_id": PLAN_ID, "plan_naam": PLAN_NAAM, "panden": expected,
                                                   "spots": spots}, indent=1), encoding="utf-8")
    return [plan_path, mon_path, gez_path]
