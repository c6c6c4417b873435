"""Plan rule texts (issue 16): the STOP regeling of the real Gemeentestad delivery becomes articles, every OW
regeltekst wId resolves to one; IMRO plans get their article per bestemming (text where the regels document is
delivered, else an absolute ruimtelijkeplannen.nl link); bad input is reported per reference, parsed safely and
kept as text.

Expected values come from the source files themselves (XPath on the AKN and OW XML), not from the importer.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from lxml import etree

from core.errors import InputError
from etl.zoning import import_zoning
from etl.zoning.regeltekst import imro_document_url, plain, read_imro_regels, read_regeling, safe_xml
from tests.conftest import shared_path

DELIVERY = ("geonovum-omgevingsplan-gemeentestad", "opdracht")
AKN = "akn_nl_bill_gm0297-3520-01.xml"
GOES = ("imro-b3partners", "NL.IMRO.0664.BPBS03-ON99_Goes.gml")
GOES_ID = "NL.IMRO.0664.BPBS03-ON99"


def _ow_wids(folder: Path) -> list[str]:
    """Every Regeltekst wId of the delivery's OW files, read with XPath."""
    out = []
    for f in sorted(folder.glob("ow*.xml")):
        out += etree.parse(str(f)).xpath("//*[local-name()='Regeltekst']/@wId")
    return out


def _store(tmp: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp / "stadsmodel.gpkg")


def test_every_ow_regeltekst_wid_resolves_to_an_article(tmp_path):
    folder = shared_path(*DELIVERY)
    report = import_zoning([folder], tmp_path)
    wids = _ow_wids(folder)
    stats = report.regeltekst[str(folder)]
    assert stats["wid_total"] == len(wids) == 14 and stats["wid_resolved"] == 14
    akn = etree.parse(str(folder / AKN))
    articles = akn.xpath("//*[local-name()='RegelingCompact']//*[local-name()='Artikel']")
    assert stats["articles"] == len(articles) == 22
    inner = {w for a in articles for w in a.xpath("descendant-or-self::*/@wId")}
    assert set(wids) <= inner
    assert json.loads((tmp_path / "zoning_report.json").read_text())["regeltekst"][str(folder)]["wid_resolved"] == 14
    with _store(tmp_path) as c:
        # each regeltekst wId is the article's wId, or the wId of a lid inside it
        for wid in wids:
            n = c.execute("SELECT count(*) FROM regels WHERE wid = ? OR wids LIKE ?", (wid, f'%"{wid}"%')).fetchone()
            assert n[0] == 1, wid
        unresolved = c.execute("SELECT count(*) FROM ow_juridische_regel WHERE artikel IS NULL").fetchone()[0]
        assert unresolved == 0


def test_article_2_14_heading_structure_and_werkingsgebied(tmp_path):
    folder = shared_path(*DELIVERY)
    import_zoning([folder], tmp_path)
    with _store(tmp_path) as c:
        c.row_factory = sqlite3.Row
        art = dict(c.execute("SELECT * FROM regels WHERE artikelnummer = '2.14'").fetchone())
    assert art["kop"] == "Artikel 2.14 Bouwregels bedrijfsgebouwen"
    assert art["wid"] == "gm0297_1__chp_2__subchp_2.5__art_2.14"
    assert art["hoofdstuk"] == "Hoofdstuk 2 Functietoedeling" and art["afdeling"].startswith("Afdeling 2.5")
    lines = art["tekst"].splitlines()
    assert lines[0] == "Voor het bouwen en instandhouden van bedrijfsgebouwen gelden de volgende regels:"
    assert lines[4].startswith("d. De maximum bouwhoogte van een bedrijfsgebouw is de ter plaatse van het "
                               "werkingsgebied 'maximum bouwhoogte bedrijfsgebouw' bepaalde waarde.")
    structuur = json.loads(art["structuur"])
    assert [b["type"] for b in structuur] == ["al", "lijst"]
    assert [i["nummer"] for i in structuur[1]["items"]] == ["a.", "b.", "c.", "d.", "e."]
    zinnen = {z["label"]: z for z in json.loads(art["zinnen"])}
    assert zinnen["Artikel 2.14 onder d"]["wid"].endswith("art_2.14__list_o_1__item_d")
    rules = json.loads(art["ow_regels"])
    assert [r["omgevingsnormen"] for r in rules] == [["nl.imow-gm0297.omgevingsnorm.2019000002"]]
    assert art["geom"] is not None and art["tekst_in_opslag"] == 1


def test_articles_with_leden_and_full_text_index(tmp_path):
    import_zoning([shared_path(*DELIVERY)], tmp_path)
    with _store(tmp_path) as c:
        leden = json.loads(c.execute("SELECT structuur FROM regels WHERE artikelnummer = '2.7'").fetchone()[0])
        assert [b["nummer"] for b in leden if b["type"] == "lid"] == ["1", "2", "3"]
        hits = c.execute("SELECT r.artikelnummer FROM regels_fts f JOIN regels r ON r.fid = f.rowid "
                         "WHERE regels_fts MATCH 'bedrijfsgebouw*' ORDER BY r.fid").fetchall()
        assert ("2.14",) in hits
        assert c.execute("SELECT count(*) FROM regels_fts").fetchone()[0] == 22


def _delivery_copy(tmp_path: Path) -> Path:
    """A writable copy of the delivery in tmp (never in the repository) to spoil one file of."""
    d = tmp_path / "delivery"
    shutil.copytree(shared_path(*DELIVERY), d)
    for f in d.iterdir():
        f.chmod(0o644)
    return d


def test_unresolved_wid_is_reported_the_rest_imported(tmp_path):
    d = _delivery_copy(tmp_path)
    ow = d / "owRegeltekst-Gemeentestad.xml"
    ow.write_text(ow.read_text(encoding="utf-8").replace('wId="gm0297_1__chp_2__subchp_2.5__art_2.14"',
                                                         'wId="gm0297_1__chp_9__art_9.99"'), encoding="utf-8")
    report = import_zoning([d], tmp_path / "out")
    stats = report.regeltekst[str(d)]
    assert (stats["wid_total"], stats["wid_resolved"]) == (14, 13)
    reasons = [s for s in report.skipped.items if "gm0297_1__chp_9__art_9.99" in s.reason]
    assert len(reasons) == 1 and "is no article, lid or list item" in reasons[0].reason
    assert reasons[0].feature == "nl.imow-gm0297.regeltekst.2019000010"
    assert report.imported[str(d)]["regels"] == 22


def test_ow_files_without_stop_text(tmp_path):
    d = _delivery_copy(tmp_path)
    (d / AKN).unlink()
    report = import_zoning([d], tmp_path / "out")
    assert report.imported[str(d)].get("regels", 0) == 0 and report.imported[str(d)]["ow_omgevingsnorm"] == 8
    assert any("no STOP regeling text" in s.reason for s in report.skipped.items)
    assert report.regeltekst[str(d)]["wid_resolved"] == 0


@pytest.mark.parametrize("doc", [
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx"><!ENTITY y "&x;&x;&x;&x;&x;&x;&x;&x;">]><a>&y;</a>',
    b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "http://example.invalid/x">]><a>&e;</a>',
])
def test_doctype_and_entities_are_refused(tmp_path, doc):
    f = tmp_path / "akn.xml"
    f.write_bytes(doc)
    with pytest.raises(InputError, match="DOCTYPE"):
        safe_xml(f)


def test_akn_with_a_doctype_rejects_the_delivery_by_name(tmp_path):
    d = _delivery_copy(tmp_path)
    akn = d / AKN
    akn.write_text(akn.read_text(encoding="utf-8").replace(
        '<AanleveringBesluit', '<!DOCTYPE AanleveringBesluit [<!ENTITY b "bom">]><AanleveringBesluit', 1),
        encoding="utf-8")
    report = import_zoning([d, shared_path(*GOES)], tmp_path / "out")
    [rejected] = report.rejected
    assert rejected["file"] == str(d) and rejected["reason"].startswith(f"{AKN}: XML with a DOCTYPE")
    assert str(shared_path(*GOES)) in report.imported


def test_markup_in_text_stays_text(tmp_path):
    f = tmp_path / "akn.xml"
    f.write_text('<AanleveringBesluit xmlns="https://standaarden.overheid.nl/stop/imop/tekst/"><RegelingCompact>'
                 '<Lichaam><Artikel eId="art_1" wId="x_art_1"><Kop><Label>Artikel</Label><Nummer>1</Nummer>'
                 '<Opschrift>Bijgebouw &lt;b&gt;</Opschrift></Kop><Inhoud><Al>Ten hoogste 30 m<sup>2</sup> '
                 '<i>per</i> &lt;script&gt;alert(1)&lt;/script&gt; perceel.</Al>'
                 '<table><tgroup><tbody><row><entry>zone</entry><entry>7 m</entry></row></tbody></tgroup></table>'
                 '</Inhoud></Artikel></Lichaam></RegelingCompact></AanleveringBesluit>', encoding="utf-8")
    [art] = read_regeling(f)
    assert art["kop"] == "Artikel 1 Bijgebouw <b>"
    assert art["tekst"].splitlines() == ["Ten hoogste 30 m² per <script>alert(1)</script> perceel.", "zone | 7 m"]
    assert plain(etree.fromstring("<Al>a<b>b</b> c</Al>")) == "ab c"


def test_imro_every_bestemming_has_an_absolute_article_link(tmp_path):
    files = sorted(shared_path("imro-b3partners").glob("*.gml"))
    report = import_zoning(files, tmp_path)
    assert len(report.imported) == 6
    with _store(tmp_path) as c:
        for layer in ("enkelbestemming", "dubbelbestemming"):
            rows = c.execute(f"SELECT plan_id, verwijzing_regels, artikel_url FROM {layer}").fetchall()
            assert rows
            for plan_id, ref, url in rows:
                assert url == f"https://www.ruimtelijkeplannen.nl/documents/{plan_id}/{ref}", (layer, plan_id)
        no_text = c.execute("SELECT count(*), sum(tekst_in_opslag), sum(url LIKE 'https://%') FROM regels").fetchone()
        assert no_text[0] > 0 and no_text[1] == 0 and no_text[2] == no_text[0]
        kantoor = c.execute("SELECT kop, url FROM regels WHERE plan_id = ? AND artikelnummer = '4'",
                            (GOES_ID,)).fetchone()
    assert kantoor == ("Artikel 4 Kantoor", f"https://www.ruimtelijkeplannen.nl/documents/{GOES_ID}/r_{GOES_ID}.html"
                                            "#0369b6ec-bc08-452f-b548-6d335008d259")


def test_imro_delivered_regels_document(tmp_path):
    d = tmp_path / "plan"
    d.mkdir()
    shutil.copy(shared_path(*GOES), d / "plan.gml")
    (d / "plan.gml").chmod(0o644)
    # a regels document with the anchor of article 4 (Kantoor) only; markup in it must come out as text
    (d / f"r_{GOES_ID}.html").write_text(
        '<html><body><h2 id="0369b6ec-bc08-452f-b548-6d335008d259">Artikel 4 Kantoor</h2>'
        '<h3>4.1 Bestemmingsomschrijving</h3><p>De voor <b>Kantoor</b> aangewezen gronden zijn bestemd voor '
        'kantoren &amp; dakkapellen.</p><script>alert(1)</script>'
        '<h2 id="other">Artikel 5 Maatschappelijk</h2><p>Iets anders.</p></body></html>', encoding="utf-8")
    report = import_zoning([d / "plan.gml"], tmp_path / "out")
    with _store(tmp_path / "out") as c:
        kop, tekst, stored = c.execute("SELECT kop, tekst, tekst_in_opslag FROM regels WHERE artikelnummer = '4'"
                                       ).fetchone()
        hits = c.execute("SELECT count(*) FROM regels_fts WHERE regels_fts MATCH '\"dakkapel\"*'").fetchone()[0]
    assert kop == "Artikel 4 Kantoor" and stored == 1 and hits == 1
    assert tekst.splitlines() == ["4.1 Bestemmingsomschrijving",
                                  "De voor Kantoor aangewezen gronden zijn bestemd voor kantoren & dakkapellen."]
    # every other article's anchor is missing: reported one by one, linked instead
    missing = [s for s in report.skipped.items if "no such anchor" in s.reason]
    assert len(missing) == 4 and all(s.feature.startswith("#") for s in missing)


def test_imro_regels_without_anchors_and_with_a_dtd(tmp_path):
    f = tmp_path / "r.html"
    f.write_text("<html><body><p>Artikel 1</p></body></html>", encoding="utf-8")
    assert read_imro_regels(f) == {}
    f.write_text('<!DOCTYPE html [<!ENTITY x "y">]><html><body><h1 id="a">&x;</h1></body></html>', encoding="utf-8")
    with pytest.raises(InputError, match="DTD"):
        read_imro_regels(f)


def test_imro_document_url():
    assert imro_document_url("NL.IMRO.1", "r_NL.IMRO.1.html#_3") == \
        "https://www.ruimtelijkeplannen.nl/documents/NL.IMRO.1/r_NL.IMRO.1.html#_3"
    assert imro_document_url("NL.IMRO.1", "https://example.org/r.html") == "https://example.org/r.html"
    assert imro_document_url("NL.IMRO.1", None) is None


def test_imro_bestemming_without_a_text_reference_links_the_plan_viewer(tmp_path):
    import re

    gml = shared_path(*GOES).read_text(encoding="utf-8")
    gml = re.sub(r"<imro:verwijzingNaarTekstInfo>.*?</imro:verwijzingNaarTekstInfo>", "", gml, flags=re.S)
    (tmp_path / "plan.gml").write_text(gml, encoding="utf-8")
    import_zoning([tmp_path / "plan.gml"], tmp_path / "out")
    viewer = f"https://www.ruimtelijkeplannen.nl/viewer/view?planidn={GOES_ID}"
    with _store(tmp_path / "out") as c:
        assert {r[0] for r in c.execute("SELECT artikel_url FROM enkelbestemming")} == {viewer}
        assert {r[0] for r in c.execute("SELECT url FROM regels")} == {viewer}
        assert c.execute("SELECT count(*) FROM regels WHERE artikelnummer = '4'").fetchone()[0] == 1
