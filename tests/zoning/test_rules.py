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


def _walked(rules, facts: dict, answers: dict) -> tuple:
    """The tree walked by hand from its start, as a reader of the file would: (outcome, trail nodes, open node)."""
    nodes, name, trail = rules.doc["nodes"], rules.doc["start"], []
    while "conclusion" not in nodes[name]:
        node = nodes[name]
        value = facts.get(node["fact"]) if "fact" in node else answers.get(name)
        if value is None:
            return "onbekend", trail, name
        trail.append(name)
        name = node["answers"]["ja" if value in (True, "ja") else "nee"]
    return nodes[name]["conclusion"], trail, None


@pytest.mark.parametrize("activity", sorted(REQUIRED))
def test_the_engine_walks_each_tree_as_written_whatever_the_order_of_its_answers(activity, tmp_path):
    """Every combination of facts and answers (yes, no, missing) gives the outcome, trail and open question of a
    walk by hand, also when the file lists `nee` before `ja` (a node reached on several ways must not be asked
    before the nodes above it)."""
    import itertools

    original = load_rules()[activity]
    doc = yaml.safe_load(original.path.read_text(encoding="utf-8"))
    for node in doc["nodes"].values():
        if "answers" in node:
            node["answers"] = dict(reversed(node["answers"].items()))
    swapped = tmp_path / f"{activity}.yml"
    swapped.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    nodes = original.doc["nodes"]
    questions = sorted(n for n, node in nodes.items() if "question" in node and node.get("type") != "getal"
                       and "in" not in node)
    checked = 0
    for combo in itertools.product((True, False, None), repeat=len(questions)):
        given = dict(zip(questions, combo))
        facts = {nodes[n]["fact"]: Fact(v, same_text(f"feit {n}")) for n, v in given.items() if "fact" in nodes[n]}
        answers = {n: ("ja" if v else "nee") for n, v in given.items() if "fact" not in nodes[n] and v is not None}
        want_outcome, want_trail, want_open = _walked(original, {nodes[n]["fact"]: v for n, v in given.items()
                                                                  if "fact" in nodes[n]}, answers)
        if any(nodes[n].get("type") == "getal" or "in" in nodes[n] for n in want_trail + [want_open] if n):
            continue  # a number or membership node on the way: not part of this enumeration
        for rules in (original, load_rule_file(swapped)):
            got = evaluate(rules, facts, answers)
            assert got.outcome == want_outcome, (activity, given)
            assert [s["node"] for s in got.trail] == want_trail, (activity, given)
            assert [q["id"] for q in got.open_questions] == ([want_open] if want_open else []), (activity, given)
        checked += 1
    assert checked >= 3 ** min(len(questions), 3) // 3
