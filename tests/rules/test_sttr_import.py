"""STTR import (etl.rules.sttr): the 8 real Amsterdam files, the input forms, and bad input refused by name."""

from __future__ import annotations

import zipfile

import pytest

from core.errors import InputError
from etl.rules.sttr import parse_sttr, read_sttr, sttr_documents
from tests.rules.conftest import STTR_IDS, crafted

# questions and decisions (Pads + the conclusion) per file, counted in the XML
COUNTS = {
    "dakraam-bouwen": (21, 41), "het-wijzigen-van-een-monument-bij-een-dakraam": (3, 3), "kozijn-plaatsen": (14, 19),
    "kozijn-plaatsen-in-een-monument": (3, 3), "zonnepaneel-en-zonneboiler-bouwen": (39, 52),
    "zonnepaneel-en-zonneboiler-monument": (7, 5), "zonwering-rolhek-luik-of-rolluik-bouwen": (26, 45),
    "zonwering-rolhek-luik-of-rolluik-monument": (6, 5),
}


def test_all_real_files_import(activities, sttr_dir):
    assert sorted(activities) == sorted(STTR_IDS)
    for a in activities.values():
        assert (len(a.questions), len(a.decisions)) == COUNTS[a.id], a.id
        assert a.conclusion == "dummy" and a.conclusion_decision.name == "_Conclusie_dummy"
        assert a.conclusion_decision.rules[-1].id == "no_hit_rule"
        assert a.conclusion_decision.rules[-1].output == "Toestemmingsvrij"
        assert [q.priority for q in a.questions] == sorted(q.priority for q in a.questions)
        assert all(q.options for q in a.questions if q.type == "list")
        assert all(not q.options for q in a.questions if q.type == "boolean")
        assert a.source["file"].endswith(f"{a.id}.sttr.xml")
        assert a.source["exporter"] == "Geodan FLO Legal STTR Builder"
        assert all(d.hit_policy == "ANY" for d in a.decisions)
        # every conclusion rule carries its explanation (content:conclusieToelichting)
        assert all(r.toelichting for r in a.conclusion_decision.rules), a.id


def test_question_details(activities):
    a = activities["kozijn-plaatsen-in-een-monument"]
    assert a.title == "Kozijn plaatsen in een monument"
    q = a.questions[0]
    assert q.id == "uitv__27bca644-4f3c-4782-9235-33fddf6b9840"
    assert q.input == "_27bca644-4f3c-4782-9235-33fddf6b9840"
    assert q.text == "Is het gebouw een monument?"
    assert q.type == "list" and q.priority == 10 and q.herbruikbaar_id == "kozijn monument"
    assert q.options == ("Rijksmonument", "Gemeentelijk monument", "Geen monument")  # sequenceId order
    assert q.toelichting == "Het rijk of de gemeente kan een gebouw als monument aanwijzen."
    pad1 = a.decisions[0]
    assert pad1.name == "Pad 1" and pad1.inputs == (q.input, a.questions[1].input)
    nieuw, bestaand = a.questions[1].options
    assert nieuw == "Ik ga een nieuw kozijn plaatsen op een plek waar er eerst geen was."
    assert pad1.rules[0].entries == ("Rijksmonument", nieuw)
    assert pad1.rules[3].entries == (None, bestaand)
    assert [r.output for r in pad1.rules] == ["Vergunningplicht", "Vergunningplicht", "no hit", "no hit"]
    assert a.conclusion_decision.rules[0].toelichting.startswith("U wilt een kozijn plaatsen in een monument.")


def test_markdown_toelichting_kept_as_delivered(activities):
    # the toelichtingen are Markdown with image links; kept byte for byte (no stripping of markup)
    texts = [q.toelichting for a in activities.values() for q in a.questions if q.toelichting]
    assert any("![" in t and "](" in t for t in texts)


def test_crafted_document():
    a = parse_sttr(crafted(), "schuur.xml")
    assert (a.id, a.title) == ("schuur-bouwen", "Schuur bouwen")
    soort, voor = a.questions
    assert soort.options == ("Schuur", "Tuinhuis")  # sorted by sequenceId, not document order
    assert soort.toelichting == "Een *schuur* is een bijgebouw.\n![foto](https://example.org/schuur.png)"
    assert voor.type == "boolean" and voor.herbruikbaar_id == "voorkant"
    assert a.source == {"file": "schuur.xml", "definitions_id": "defs", "namespace": "urn:test",
                        "exporter": "test", "exporter_version": None}
    assert a.conclusion_decision.rules[0].toelichting == "U hebt een **vergunning** nodig."


def test_priority_order_not_document_order():
    xml = crafted(("<inter:prioriteit>10</inter:prioriteit>", "<inter:prioriteit>30</inter:prioriteit>"))
    assert [q.priority for q in parse_sttr(xml, "x.xml").questions] == [20, 30]


def test_inputs_file_folder_zip(tmp_path, sttr_dir):
    one = sttr_dir / "kozijn-plaatsen-in-een-monument.sttr.xml"
    assert [a.id for a in read_sttr(one)] == ["kozijn-plaatsen-in-een-monument"]
    archive = tmp_path / "regels.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("kozijn-plaatsen.sttr.xml", "dakraam-bouwen.sttr.xml"):
            z.write(sttr_dir / name, f"sttr/{name}")
        z.writestr("sttr/leesmij.txt", "not rules")
    docs = sttr_documents(archive)
    assert [n for n, _ in docs] == [f"{archive}!sttr/dakraam-bouwen.sttr.xml",
                                    f"{archive}!sttr/kozijn-plaatsen.sttr.xml"]
    assert [a.id for a in read_sttr(archive)] == ["dakraam-bouwen", "kozijn-plaatsen"]
    assert read_sttr(archive)[0].source["file"] == f"{archive}!sttr/dakraam-bouwen.sttr.xml"


def test_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        sttr_documents(tmp_path / "nope.xml")
    with pytest.raises(InputError, match="no .xml files in this folder"):
        sttr_documents(tmp_path)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InputError, match="expected an .xml file"):
        sttr_documents(tmp_path / "x.txt")
    (tmp_path / "bad.zip").write_bytes(b"PK not really")
    with pytest.raises(InputError, match="not a readable zip"):
        sttr_documents(tmp_path / "bad.zip")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as z:
        z.writestr("a.txt", "x")
    with pytest.raises(InputError, match="no .xml files in this zip"):
        sttr_documents(tmp_path / "empty.zip")


def test_folder_all_or_nothing(tmp_path):
    (tmp_path / "a.xml").write_bytes(crafted())
    (tmp_path / "b.xml").write_bytes(crafted(("hitPolicy=\"ANY\"", "hitPolicy=\"COLLECT\"")))
    with pytest.raises(InputError, match="COLLECT") as e:
        read_sttr(tmp_path)
    assert e.value.path.endswith("b.xml")


def test_same_activity_twice(tmp_path):
    (tmp_path / "a.xml").write_bytes(crafted())
    (tmp_path / "b.xml").write_bytes(crafted())
    with pytest.raises(InputError, match="activity 'schuur-bouwen' also comes from .*a.xml"):
        read_sttr(tmp_path)


# (what is broken, replacements in the crafted document, the element the error must name, words of the reason)
BAD = [
    ("not xml", [("<dmn:definitions", "<<dmn:definitions")], None, "not well-formed XML"),
    ("not DMN", [("<dmn:definitions", "<dmn:definitions xmlns:x='urn:x'"), ("</dmn:definitions>", "")], None,
     "not well-formed"),
    ("other root", [("http://www.omg.org/spec/DMN/20151101/dmn.xsd", "urn:other")], "definitions", "not DMN"),
    ("DMN 1.3", [("http://www.omg.org/spec/DMN/20151101/dmn.xsd", "https://www.omg.org/spec/DMN/20191111/MODEL/")],
     "definitions", "DMN 1.3 is not supported"),
    ("broken uitvoeringsregelRef", [('href="#uitv_voor"', 'href="#uitv_weg"')], "dmn:inputData in_voor",
     "broken reference: uitvoeringsregelRef href '#uitv_weg'"),
    ("broken requiredInput", [('href="#in_voor"', 'href="#in_weg"')], "dmn:requiredInput",
     "broken reference: requiredInput href '#in_weg'"),
    ("broken requiredDecision", [('href="#pad1"', 'href="#pad9"')], "dmn:requiredDecision",
     "broken reference: requiredDecision href '#pad9'"),
    ("FEEL input expression", [("<dmn:text>voor</dmn:text>", "<dmn:text>voor and true</dmn:text>")], "dmn:input i2",
     "input expression 'voor and true' is not supported"),
    ("FEEL comparison", [('<dmn:text>true</dmn:text></dmn:inputEntry>',
                          '<dmn:text>&gt;= 3</dmn:text></dmn:inputEntry>')],
     "dmn:inputEntry e12", "FEEL expression '>= 3' is not supported"),
    ("FEEL list of texts", [('<dmn:text>"Schuur"</dmn:text>', '<dmn:text>"Schuur","Tuinhuis"</dmn:text>')],
     "dmn:inputEntry e11", "FEEL expression '\"Schuur\",\"Tuinhuis\"' is not supported"),
    ("FEEL not()", [('<dmn:text>"Tuinhuis"</dmn:text>', '<dmn:text>not("Schuur")</dmn:text>')],
     "dmn:inputEntry e21", "is not supported"),
    ("output not a text", [('<dmn:text>"no hit"</dmn:text></dmn:outputEntry></dmn:rule>\n   <dmn:rule id="r3">',
                            '<dmn:text>-</dmn:text></dmn:outputEntry></dmn:rule>\n   <dmn:rule id="r3">')],
     "dmn:outputEntry x2", "FEEL expression '-' is not supported"),
    ("hit policy COLLECT", [('hitPolicy="ANY"', 'hitPolicy="COLLECT"')], "dmn:decisionTable t1",
     "hitPolicy 'COLLECT' is not supported"),
    ("hit policy COLLECT SUM", [('hitPolicy="ANY"', 'hitPolicy="COLLECT" aggregation="SUM"')],
     "dmn:decisionTable t1", "hitPolicy 'COLLECT SUM' is not supported"),
    ("hit policy RULE ORDER", [('hitPolicy="ANY"', 'hitPolicy="RULE ORDER"')], "dmn:decisionTable t1",
     "hitPolicy 'RULE ORDER' is not supported"),
    ("list question without options", [("<uitv:opties>", "<uitv:geen>"), ("</uitv:opties>", "</uitv:geen>")],
     "uitv:uitvoeringsregel uitv_soort", "a list question without options"),
    ("several answers", [("enkelAntwoord", "meerdereAntwoorden")], "uitv:uitvoeringsregel uitv_soort",
     "optieType 'meerdereAntwoorden' is not supported"),
    ("number question", [("<uitv:gegevensType>boolean", "<uitv:gegevensType>double")],
     "uitv:uitvoeringsregel uitv_voor", "gegevensType 'double' is not supported"),
    ("entry not an option", [('<dmn:text>"Schuur"</dmn:text>', '<dmn:text>"Kasteel"</dmn:text>')], "dmn:rule r1",
     "entry \"Kasteel\" for input 'soort' is not an option of the question uitv_soort"),
    ("boolean entry on a list", [('<dmn:text>"Tuinhuis"</dmn:text>', '<dmn:text>true</dmn:text>')], "dmn:rule r2",
     "is not an option of the question"),
    ("text entry on a boolean", [('<dmn:inputEntry id="e32"><dmn:text>false',
                                  '<dmn:inputEntry id="e32"><dmn:text>"nee"')],
     "dmn:rule r3", "is not the boolean question uitv_voor"),
    ("conclusion tests an output Pad 1 never gives",
     [('<dmn:text>"no hit"</dmn:text></dmn:inputEntry>', '<dmn:text>"Meldingsplicht"</dmn:text></dmn:inputEntry>')],
     "dmn:rule no_hit_rule", "is not an output of that decision"),
    ("entries and inputs disagree", [('<dmn:inputEntry id="e22"><dmn:text>-</dmn:text></dmn:inputEntry>', "")],
     "dmn:rule r2", "1 input entries for 2 inputs"),
    ("literal expression", [('<dmn:decisionTable id="tc" hitPolicy="ANY">',
                             '<dmn:literalExpression/><dmn:decisionTable id="tc">')],
     "dmn:decision dummy", "decision logic dmn:literalExpression, dmn:decisionTable is not supported"),
    ("business knowledge model", [('<dmn:inputData id="in_soort"',
                                   '<dmn:businessKnowledgeModel id="bkm"/><dmn:inputData id="in_soort"')],
     "dmn:businessKnowledgeModel bkm", "is not supported"),
    ("unreferenced question", [('<dmn:inputData id="in_voor" name="voor"><dmn:extensionElements>\n  '
                                '<uitv:uitvoeringsregelRef href="#uitv_voor"/></dmn:extensionElements>'
                                '</dmn:inputData>', "")],
     "uitv:uitvoeringsregel uitv_voor", "no dmn:inputData refers to this uitvoeringsregel"),
    ("no name", [('name="Conclusie Schuur bouwen"', 'name=""')], "dmn:definitions", "no usable name"),
]


@pytest.mark.parametrize(("replacements", "element", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(replacements, element, reason):
    with pytest.raises(InputError) as e:
        parse_sttr(crafted(*replacements), "/tmp/regels/schuur.xml")
    err = e.value
    assert err.path == "/tmp/regels/schuur.xml" and str(err).startswith("/tmp/regels/schuur.xml")
    assert reason in err.reason, str(err)
    if element:
        assert err.feature and element in err.feature, str(err)


def test_two_conclusions():
    # a second decision that no other uses, well formed: two tops, refused by name
    extra = ('<dmn:decision id="los" name="Los">'
             '<dmn:informationRequirement><dmn:requiredInput href="#in_voor"/></dmn:informationRequirement>'
             '<dmn:decisionTable id="tl"><dmn:input id="il"><dmn:inputExpression><dmn:text>voor</dmn:text>'
             '</dmn:inputExpression></dmn:input><dmn:output id="ol"/><dmn:rule id="rl"><dmn:inputEntry id="el">'
             '<dmn:text>-</dmn:text></dmn:inputEntry><dmn:outputEntry id="xl"><dmn:text>"x"</dmn:text>'
             '</dmn:outputEntry></dmn:rule></dmn:decisionTable></dmn:decision>')
    with pytest.raises(InputError, match="expected one conclusion .* found '_Conclusie_dummy', 'Los'"):
        parse_sttr(crafted(("</dmn:definitions>", extra + "</dmn:definitions>")), "x.xml")


def test_entity_bomb_refused():
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
            + "".join(f' <!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n'
                      for i in range(1, 10))
            + ']>\n')
    data = crafted(('<?xml version="1.0" encoding="UTF-8"?>\n', bomb),
                   ("<uitv:vraagTekst>Wat bouwt u?", "<uitv:vraagTekst>&lol9;"))
    with pytest.raises(InputError, match="DOCTYPE"):
        parse_sttr(data, "bomb.xml")


def test_external_entity_refused(tmp_path):
    secret = tmp_path / "geheim.txt"
    secret.write_text("GEHEIM-123")
    doctype = f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>\n'
    data = crafted(('<?xml version="1.0" encoding="UTF-8"?>\n', doctype),
                   ("<uitv:vraagTekst>Wat bouwt u?", "<uitv:vraagTekst>&x;"))
    with pytest.raises(InputError, match="DOCTYPE") as e:
        parse_sttr(data, "xxe.xml")
    assert "GEHEIM" not in str(e.value)


def test_external_dtd_refused():
    data = crafted(('<?xml version="1.0" encoding="UTF-8"?>\n',
                    '<?xml version="1.0"?>\n<!DOCTYPE d SYSTEM "http://example.invalid/sttr.dtd">\n'))
    with pytest.raises(InputError, match="DOCTYPE"):
        parse_sttr(data, "dtd.xml")


def test_doctype_in_another_encoding_refused():
    # UTF-16 passes the byte pattern in the prolog; the check after (entity-free) parsing still refuses it
    text = crafted(('<?xml version="1.0" encoding="UTF-8"?>\n',
                    '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE d [<!ENTITY x "x">]>\n')).decode()
    with pytest.raises(InputError, match="DOCTYPE"):
        parse_sttr(text.encode("utf-16"), "utf16.xml")


def test_cycle_refused():
    # Pad 1 also requires the conclusion, which requires Pad 1: no decision is the top one
    data = crafted(('<dmn:informationRequirement><dmn:requiredInput href="#in_soort"/>',
                    '<dmn:informationRequirement><dmn:requiredDecision href="#dummy"/></dmn:informationRequirement>'
                    '<dmn:informationRequirement><dmn:requiredInput href="#in_soort"/>'),
                   ('<dmn:input id="i1">', '<dmn:input id="i0"><dmn:inputExpression><dmn:text>_Conclusie_dummy'
                                           '</dmn:text></dmn:inputExpression></dmn:input><dmn:input id="i1">'),
                   ('<dmn:rule id="r1">', '<dmn:rule id="r1"><dmn:inputEntry id="e10"><dmn:text>-</dmn:text>'
                                          '</dmn:inputEntry>'),
                   ('<dmn:rule id="r2">', '<dmn:rule id="r2"><dmn:inputEntry id="e20"><dmn:text>-</dmn:text>'
                                          '</dmn:inputEntry>'),
                   ('<dmn:rule id="r3">', '<dmn:rule id="r3"><dmn:inputEntry id="e30"><dmn:text>-</dmn:text>'
                                          '</dmn:inputEntry>'))
    with pytest.raises(InputError, match=r"expected one conclusion .* found none \(a cycle\)"):
        parse_sttr(data, "kring.xml")


def test_zip_member_too_large(tmp_path, monkeypatch):
    import etl.rules.sttr as sttr

    monkeypatch.setattr(sttr, "MAX_MEMBER", 100)
    archive = tmp_path / "groot.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("groot.xml", crafted())
    with pytest.raises(InputError, match="larger than") as e:
        sttr_documents(archive)
    assert e.value.path.endswith("groot.zip!groot.xml")
