"""Every shipped rule file passes the schema and graph checks; broken files are reported precisely."""

from __future__ import annotations

import pytest
import yaml

from services.rules import (
    RULES_DIR,
    Fact,
    RuleAnswerError,
    check_rule_doc,
    evaluate,
    load_rule_file,
    load_rules,
    same_text,
    text,
)

REQUIRED = {"dakkapel", "aanbouw", "bijgebouw", "erfafscheiding", "zonnepanelen", "bouwen_tot_maximale_hoogte"}


@pytest.mark.parametrize("path", sorted(RULES_DIR.glob("*.yml")), ids=lambda p: p.name)
def test_shipped_rule_file_is_valid(path):
    assert check_rule_doc(yaml.safe_load(path.read_text()), path) == []


def test_required_activities_and_outcomes_present():
    rules = load_rules()
    assert REQUIRED <= set(rules)
    outcomes = {n["conclusion"] for r in rules.values() for n in r.doc["nodes"].values() if "conclusion" in n}
    assert outcomes == {"vergunningvrij", "vergunning_nodig", "melding", "onbekend"}


def test_broken_rule_file_reports_every_problem(tmp_path):
    doc = yaml.safe_load((RULES_DIR / "dakkapel.yml").read_text())
    doc["nodes"]["rijksmonument"]["answers"]["ja"] = "nergens"
    doc["nodes"]["gebouw"]["fact"] = "kleur_van_de_deur"
    doc["nodes"]["vergunningvrij"]["cite"] = ["bbl_9_99"]
    problems = check_rule_doc(doc, tmp_path / "dakkapel.yml")
    assert "nodes/rijksmonument/answers/ja: unknown node 'nergens'" in problems
    assert any(p.startswith("nodes/gebouw/fact: unknown fact 'kleur_van_de_deur'") for p in problems)
    assert "nodes/vergunningvrij/cite: unknown source 'bbl_9_99'" in problems
    doc = yaml.safe_load((RULES_DIR / "dakkapel.yml").read_text())
    del doc["nodes"]["vergunningvrij"]["text"]["en"]
    assert any(p.startswith("nodes/vergunningvrij: ") for p in check_rule_doc(doc, tmp_path / "dakkapel.yml"))


def test_unknown_fact_is_onbekend_unless_user_answers():
    rules = load_rule_file(RULES_DIR / "slopen.yml")
    out = evaluate(rules, {}, {})
    assert out.outcome == "onbekend"
    assert "geen gegevens voor 'rijksmonument'" in out.reason["nl"]
    assert "no data for 'rijksmonument'" in out.reason["en"]
    out = evaluate(rules, {"rijksmonument": Fact(None, text("geen monumentgegevens", "no monumenten data"))},
                   {"rijksmonument": "nee", "gezicht": "nee", "hoeveelheid": "ja"})
    assert out.outcome == "melding" and out.trail[0]["source"] == "gebruiker"
    assert out.trail[0]["evidence"] == text("door de gebruiker beantwoord; de gegevens zeggen: geen monumentgegevens",
                                            "answered by the user; the data says: no monumenten data")
    # data wins over the user where the data knows
    out = evaluate(rules, {"rijksmonument": Fact(True, same_text("rijksmonument 1"))}, {"rijksmonument": "nee"})
    assert out.outcome == "vergunning_nodig"
    with pytest.raises(RuleAnswerError, match="ja or nee"):
        evaluate(rules, {"rijksmonument": Fact(False, same_text("x")),
                         "beschermd_gezicht": Fact(False, same_text("y"))},
                 {"hoeveelheid": "misschien"})


def test_fact_evidence_must_be_in_both_languages():
    with pytest.raises(TypeError, match="both languages"):
        Fact(None, "no monumenten data")
    with pytest.raises(TypeError, match="both languages"):
        Fact(None, text("geen monumentgegevens", ""))
