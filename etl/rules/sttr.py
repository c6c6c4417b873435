"""STTR (the DSO's toepasbare regels: DMN 1.1 with the Uitvoeringsregel/Interactieregel/Content extensions) →
:class:`core.toepasbare_regels.Activity`.

One STTR document is one activity: ``dmn:definitions/@name`` "Conclusie Kozijn plaatsen" gives the id
``kozijn-plaatsen``; each ``uitv:uitvoeringsregel`` is a question, found by the tables through the
``dmn:inputData`` that points to it (``uitv:uitvoeringsregelRef``); each ``dmn:decision`` is a decision table
("Pad N", and the conclusion that combines them).

Only the subset of DMN that STTR uses is accepted, and everything else is refused by name rather than read half
(nothing is half-imported): decision tables with hit policy ANY, FIRST or UNIQUE and one output; inputs that are
the plain name of an input or a decision; entries ``-``, ``true``, ``false`` or one quoted text, which must be an
option of the question (or an output of the decision) they test; boolean and single-answer list questions.
Every error is an :class:`InputError` naming the document and the element (with its id).

The XML is parsed without DTDs, entities or network access, and a document with a DOCTYPE is refused outright:
STTR needs none, and that is how an entity bomb or an external entity is kept out.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from lxml import etree

from core.errors import InputError
from core.toepasbare_regels import (
    QUESTION_TYPES,
    Activity,
    Decision,
    Entry,
    Question,
    Rule,
    activity_id,
    activity_title,
)

DMN = "http://www.omg.org/spec/DMN/20151101/dmn.xsd"
UITV = "http://toepasbare-regels.omgevingswet.overheid.nl/v1.0/Uitvoeringsregel"
INTER = "http://toepasbare-regels.omgevingswet.overheid.nl/v1.0/Interactieregel"
CONTENT = "http://toepasbare-regels.omgevingswet.overheid.nl/v1.0/Content"
NS = {"dmn": DMN, "uitv": UITV, "inter": INTER, "content": CONTENT}
PREFIXES = {v: k for k, v in NS.items()}

# Later DMN versions, named when refused (STTR is DMN 1.1).
OTHER_DMN = {
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "DMN 1.2",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "DMN 1.3",
    "https://www.omg.org/spec/DMN/20211108/MODEL/": "DMN 1.4",
    "https://www.omg.org/spec/DMN/20230324/MODEL/": "DMN 1.5",
}
HIT_POLICIES = ("ANY", "FIRST", "UNIQUE")  # all three: the first matching rule in table order decides
# Top-level DMN elements that carry no logic the engine needs; any other (a business knowledge model, a
# decision service) is refused by name.
IGNORED = {"extensionElements", "description", "itemDefinition", "knowledgeSource", "textAnnotation", "association"}
MAX_MEMBER = 64 * 2**20  # bytes of one .xml in a zip; the largest real STTR file is under 1 MiB
# atomic and possessive: no backtracking into the prolog's parts, so the check stays linear on any input
PROLOG_DOCTYPE = re.compile(rb"(?>\s|<!--.*?-->|<\?.*?\?>)*+<!DOCTYPE", re.DOTALL)
QUOTED = re.compile(r'"([^"\\]*)"')


def read_sttr(path: Path) -> list[Activity]:
    """The activities of an STTR ``.xml`` file, a folder of them or a ``.zip`` of them; all or none.

    :raises InputError: on the first document that is not STTR as this reader accepts it, or when two documents
        are the same activity
    """
    activities: dict[str, tuple[str, Activity]] = {}
    for name, data in sttr_documents(Path(path)):
        activity = parse_sttr(data, name)
        if activity.id in activities:
            raise InputError(name, f"activity '{activity.id}' also comes from {activities[activity.id][0]}")
        activities[activity.id] = (name, activity)
    return [a for _, a in activities.values()]


def sttr_documents(path: Path) -> list[tuple[str, bytes]]:
    """(name, bytes) of each ``.xml`` in a file, a folder (not recursive) or a zip, sorted by name.

    A zip member is named ``archive.zip!member.xml``.

    :raises InputError: for a missing path, a file that is neither ``.xml`` nor a zip, a bad zip, or no ``.xml``
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".xml")
        if not files:
            raise InputError(path, "no .xml files in this folder")
        return [(str(p), _read(p)) for p in files]
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if path.suffix.lower() == ".zip":
        return _zip_documents(path)
    if path.suffix.lower() == ".xml":
        return [(str(path), _read(path))]
    raise InputError(path, "not an STTR input: expected an .xml file, a folder or a .zip of .xml files")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from e


def _zip_documents(path: Path) -> list[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist()
                       if not i.is_dir() and i.filename.lower().endswith(".xml")
                       and not i.filename.startswith("__MACOSX/")]
            if not members:
                raise InputError(path, "no .xml files in this zip")
            documents = []
            for info in sorted(members, key=lambda i: i.filename):
                name = f"{path}!{info.filename}"
                with archive.open(info) as f:
                    data = f.read(MAX_MEMBER + 1)  # the header's size may lie; read at most one byte past the cap
                if len(data) > MAX_MEMBER:
                    raise InputError(name, f"larger than {MAX_MEMBER // 2**20} MiB; not an STTR file")
                documents.append((name, data))
            return documents
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError) as e:
        raise InputError(path, f"not a readable zip: {e}") from e


def parse_sttr(data: bytes, name: str) -> Activity:
    """One STTR document (the file's bytes) → its Activity; ``name`` (file or zip member) goes into errors.

    :raises InputError: naming ``name`` and the element, for anything this reader does not accept
    """
    return _Document(name, _parse_xml(data, name)).activity()


def _parse_xml(data: bytes, name: str) -> etree._Element:
    # Refused before parsing, so an entity bomb never reaches the parser; the check after parsing catches a
    # DOCTYPE this prolog pattern misses (another encoding, say).
    if PROLOG_DOCTYPE.match(data.removeprefix(b"\xef\xbb\xbf")):
        raise InputError(name, "has a DOCTYPE; STTR needs none and DTDs/entities are refused")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as e:
        raise InputError(name, f"not well-formed XML: {e}") from e
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise InputError(name, "has a DOCTYPE; STTR needs none and DTDs/entities are refused")
    return tree.getroot()


def _tag(el: etree._Element) -> str:
    q = etree.QName(el)
    return f"{PREFIXES.get(q.namespace, q.namespace)}:{q.localname}" if q.namespace else q.localname


def _where(el: etree._Element) -> str:
    """The element for an error message: its tag, its id (or name) and its line."""
    ident = el.get("id") or el.get("name")
    return f"{_tag(el)}" + (f" {ident}" if ident else "") + (f" (line {el.sourceline})" if el.sourceline else "")


def _text(el: etree._Element | None) -> str | None:
    return None if el is None or el.text is None else el.text


class _Document:
    """One document being read: each step raises an InputError naming ``name`` and the element."""

    def __init__(self, name: str, root: etree._Element):
        self.name = name
        self.root = root

    def fail(self, el: etree._Element | None, reason: str) -> InputError:
        return InputError(self.name, reason, _where(el) if el is not None else None)

    def activity(self) -> Activity:
        root = self.root
        q = etree.QName(root)
        if q.namespace in OTHER_DMN:
            raise self.fail(root, f"{OTHER_DMN[q.namespace]} is not supported; STTR is DMN 1.1 ({DMN})")
        if q.namespace != DMN or q.localname != "definitions":
            raise self.fail(root, f"not DMN: the root element is {{{q.namespace}}}{q.localname}, "
                                  f"expected dmn:definitions ({DMN})")
        title = activity_title(root.get("name") or "")
        ident = activity_id(root.get("name") or "")
        if not ident:
            raise self.fail(root, "dmn:definitions has no usable name (the activity's id is made from it)")
        for child in root:
            if etree.QName(child).namespace == DMN and etree.QName(child).localname not in IGNORED | {
                    "inputData", "decision"}:
                raise self.fail(child, f"{_tag(child)} is not supported (STTR uses dmn:inputData and dmn:decision)")

        regels = self.uitvoeringsregels()
        inputs = self.input_data(regels)  # input name → question id
        by_id = {r.get("id"): r for r in regels}
        unreferenced = [i for i in by_id if i not in inputs.values()]
        if unreferenced:
            raise self.fail(by_id[unreferenced[0]], "no dmn:inputData refers to this uitvoeringsregel")
        input_of = {qid: name for name, qid in inputs.items()}
        questions = [self.question(r, input_of[r.get("id")]) for r in regels]
        order = {q.id: i for i, q in enumerate(questions)}
        questions.sort(key=lambda x: (x.priority, order[x.id]))
        decisions = self.decisions({q.input: q for q in questions})
        return Activity(id=ident, title=title, questions=tuple(questions), decisions=tuple(decisions),
                        conclusion=self.conclusion(decisions),
                        source={"file": self.name, "definitions_id": root.get("id"),
                                "namespace": root.get("namespace"), "exporter": root.get("exporter"),
                                "exporter_version": root.get("exporterVersion")})

    # -- questions ---------------------------------------------------------------------------------------------

    def uitvoeringsregels(self) -> list[etree._Element]:
        regels = self.root.findall("dmn:extensionElements/uitv:uitvoeringsregels/uitv:uitvoeringsregel", NS)
        seen = set()
        for r in regels:
            if not r.get("id"):
                raise self.fail(r, "uitv:uitvoeringsregel without an id")
            if r.get("id") in seen:
                raise self.fail(r, "a second uitv:uitvoeringsregel with this id")
            seen.add(r.get("id"))
        return regels

    def question(self, el: etree._Element, input_name: str) -> Question:
        vraag = el.find("uitv:vraag", NS)
        if vraag is None:
            raise self.fail(el, "uitv:uitvoeringsregel without uitv:vraag (only questions are supported)")
        kind = (_text(vraag.find("uitv:gegevensType", NS)) or "").strip()
        if kind not in QUESTION_TYPES:
            raise self.fail(el, f"gegevensType '{kind}' is not supported (only {' and '.join(QUESTION_TYPES)})")
        text = (_text(vraag.find("uitv:vraagTekst", NS)) or "").strip()
        if not text:
            raise self.fail(el, "question without uitv:vraagTekst")
        prio = _text(el.find("inter:prioriteit", NS))
        try:
            priority = int((prio or "").strip())
        except ValueError:
            raise self.fail(el, f"inter:prioriteit {prio!r} is not a whole number") from None
        opties = vraag.find("uitv:opties", NS)
        options: tuple[str, ...] = ()
        if kind == "list":
            options = self.options(el, opties)
        elif opties is not None and opties.find("uitv:optie", NS) is not None:
            raise self.fail(el, "a boolean question with uitv:opties")
        toelichting = _text(el.find("content:uitvoeringsregelToelichting/content:toelichting", NS))
        herbruikbaar = _text(el.find("uitv:herbruikbaarId", NS))
        return Question(id=el.get("id"), input=input_name, text=text, type=kind, options=options,
                        toelichting=toelichting, priority=priority,
                        herbruikbaar_id=herbruikbaar.strip() if herbruikbaar else None)

    def options(self, el: etree._Element, opties: etree._Element | None) -> tuple[str, ...]:
        if opties is None or opties.find("uitv:optie", NS) is None:
            raise self.fail(el, "a list question without options (uitv:opties/uitv:optie)")
        kind = (_text(opties.find("uitv:optieType", NS)) or "enkelAntwoord").strip()
        if kind != "enkelAntwoord":
            raise self.fail(el, f"optieType '{kind}' is not supported (only enkelAntwoord: one answer)")
        found = []
        for i, optie in enumerate(opties.findall("uitv:optie", NS)):
            text = (_text(optie.find("uitv:optieText", NS)) or "").strip()
            seq = (_text(optie.find("uitv:sequenceId", NS)) or str(i)).strip()
            if not text:
                raise self.fail(el, f"option {seq} has no uitv:optieText")
            if '"' in text or "\\" in text:
                raise self.fail(el, f"option {text!r} holds a quote or backslash, which no FEEL entry here can test")
            try:
                found.append((int(seq), i, text))
            except ValueError:
                raise self.fail(el, f"option {text!r}: sequenceId {seq!r} is not a whole number") from None
        texts = [t for _, _, t in sorted(found)]
        dup = next((t for t in texts if texts.count(t) > 1), None)
        if dup is not None:
            raise self.fail(el, f"option {dup!r} appears twice")
        return tuple(texts)

    def input_data(self, regels: list[etree._Element]) -> dict[str, str]:
        """dmn:inputData name → the id of the uitvoeringsregel it refers to."""
        known = {r.get("id") for r in regels}
        found: dict[str, str] = {}
        for el in self.root.findall("dmn:inputData", NS):
            name = (el.get("name") or "").strip()
            if not name or not el.get("id"):
                raise self.fail(el, "dmn:inputData needs an id and a name")
            if name in found:
                raise self.fail(el, f"a second dmn:inputData named '{name}'")
            ref = el.find("dmn:extensionElements/uitv:uitvoeringsregelRef", NS)
            if ref is None:
                raise self.fail(el, "dmn:inputData without uitv:uitvoeringsregelRef (no question to ask)")
            target = (ref.get("href") or "").removeprefix("#")
            if target not in known:
                raise self.fail(el, f"broken reference: uitvoeringsregelRef href '{ref.get('href')}' "
                                    f"names no uitv:uitvoeringsregel")
            if target in found.values():
                raise self.fail(el, f"a second dmn:inputData for uitvoeringsregel {target}")
            found[name] = target
        return found

    # -- decisions ---------------------------------------------------------------------------------------------

    def decisions(self, questions: dict[str, Question]) -> list[Decision]:
        elements = self.root.findall("dmn:decision", NS)
        if not elements:
            raise self.fail(self.root, "no dmn:decision")
        names: dict[str, etree._Element] = {}
        ids: dict[str, etree._Element] = {}
        for el in elements:
            name, ident = (el.get("name") or "").strip(), el.get("id")
            if not name or not ident:
                raise self.fail(el, "dmn:decision needs an id and a name")
            if name in names or name in questions:
                raise self.fail(el, f"the name '{name}' is used twice; tables refer to inputs by name")
            if ident in ids:
                raise self.fail(el, "a second dmn:decision with this id")
            names[name], ids[ident] = el, el
        input_ids = {el.get("id"): (el.get("name") or "").strip() for el in self.root.findall("dmn:inputData", NS)}
        tables = [self.table(el, input_ids, ids) for el in elements]
        outputs = {d.name: set(d.outputs) for d in tables}
        for el, d in zip(elements, tables):
            self.check_entries(el, d, questions, outputs)
        return tables

    def table(self, el: etree._Element, input_ids: dict[str, str], ids: dict[str, etree._Element]) -> Decision:
        logic = [c for c in el if etree.QName(c).namespace == DMN
                 and etree.QName(c).localname not in {"variable", "informationRequirement", "knowledgeRequirement",
                                                       "authorityRequirement", "extensionElements", "description",
                                                       "question", "allowedAnswers"}]
        if len(logic) != 1 or etree.QName(logic[0]).localname != "decisionTable":
            what = ", ".join(_tag(c) for c in logic) or "nothing"
            raise self.fail(el, f"decision logic {what} is not supported (only one dmn:decisionTable)")
        dt = logic[0]
        policy = (dt.get("hitPolicy") or "UNIQUE").strip()
        if policy not in HIT_POLICIES or dt.get("aggregation"):
            shown = policy + (f" {dt.get('aggregation')}" if dt.get("aggregation") else "")
            raise self.fail(dt, f"hitPolicy '{shown}' is not supported (only {', '.join(HIT_POLICIES)})")
        outputs = dt.findall("dmn:output", NS)
        if len(outputs) != 1:
            raise self.fail(dt, f"a decision table with {len(outputs)} outputs is not supported (only one)")
        required = set()
        for req in el.findall("dmn:informationRequirement/*", NS):
            target = (req.get("href") or "").removeprefix("#")
            kind = etree.QName(req).localname
            if kind == "requiredInput" and target in input_ids:
                required.add(input_ids[target])
            elif kind == "requiredDecision" and target in ids:
                required.add(ids[target].get("name").strip())
            else:
                raise self.fail(req, f"broken reference: {kind} href '{req.get('href')}' names no "
                                     f"{'dmn:inputData' if kind == 'requiredInput' else 'dmn:decision'}")
        inputs = []
        for inp in dt.findall("dmn:input", NS):
            expr = _text(inp.find("dmn:inputExpression/dmn:text", NS))
            name = (expr or "").strip()
            if not name:
                raise self.fail(inp, "dmn:input without an inputExpression text")
            if name not in required:
                raise self.fail(inp, f"input expression '{name}' is not supported: only the plain name of a "
                                     f"dmn:inputData or dmn:decision that the decision requires "
                                     f"(its informationRequirement)")
            inputs.append(name)
        if not inputs:
            raise self.fail(dt, "a decision table without inputs")
        rules = [self.rule(r, len(inputs)) for r in dt.findall("dmn:rule", NS)]
        if not rules:
            raise self.fail(dt, "a decision table without rules")
        return Decision(id=el.get("id"), name=el.get("name").strip(), inputs=tuple(inputs), rules=tuple(rules),
                        hit_policy=policy)

    def rule(self, el: etree._Element, n_inputs: int) -> Rule:
        entries = el.findall("dmn:inputEntry", NS)
        if len(entries) != n_inputs:
            raise self.fail(el, f"{len(entries)} input entries for {n_inputs} inputs")
        outs = el.findall("dmn:outputEntry", NS)
        if len(outs) != 1:
            raise self.fail(el, f"{len(outs)} output entries (expected one)")
        output = self.feel(outs[0], allow_any=False)
        if not isinstance(output, str):
            raise self.fail(outs[0], f"output entry {_text(outs[0].find('dmn:text', NS))!r} is not a quoted text")
        toelichting = _text(outs[0].find("dmn:extensionElements/content:conclusieToelichting/content:toelichting", NS))
        return Rule(id=el.get("id") or "", entries=tuple(self.feel(e) for e in entries), output=output,
                    toelichting=toelichting)

    def feel(self, el: etree._Element, allow_any: bool = True) -> Entry:
        """The FEEL subset STTR uses: ``-``, ``true``, ``false``, one quoted text; any other expression is refused."""
        raw = _text(el.find("dmn:text", NS))
        text = (raw or "").strip()
        if text == "-" and allow_any:
            return None
        if text in ("true", "false"):
            return text == "true"
        m = QUOTED.fullmatch(text)
        if m:
            return m.group(1)
        raise self.fail(el, f"FEEL expression {text!r} is not supported (only -, true, false or one quoted text)")

    def check_entries(self, el: etree._Element, d: Decision, questions: dict[str, Question],
                      outputs: dict[str, set[str]]) -> None:
        """Every entry must be a value its input can take: an option, a boolean, an output of the decision."""
        rule_els = el.findall("dmn:decisionTable/dmn:rule", NS)
        for rule, rule_el in zip(d.rules, rule_els):
            for name, entry in zip(d.inputs, rule.entries):
                if entry is None:
                    continue
                if name in questions:
                    q = questions[name]
                    ok = isinstance(entry, bool) if q.type == "boolean" else entry in q.options
                    what = "the boolean" if q.type == "boolean" else "an option of the"
                    if not ok:
                        raise self.fail(rule_el, f"entry {_show(entry)} for input '{name}' is not {what} "
                                                 f"question {q.id} ({_show_options(q)})")
                elif entry not in outputs[name]:
                    raise self.fail(rule_el, f"entry {_show(entry)} for input '{name}' is not an output of that "
                                             f"decision ({', '.join(sorted(outputs[name]))})")

    def conclusion(self, decisions: list[Decision]) -> str:
        """The id of the one decision no other decision uses; refused when there are several, or a cycle."""
        by_name = {d.name: d for d in decisions}
        used = {i for d in decisions for i in d.inputs if i in by_name}
        tops = [d for d in decisions if d.name not in used]
        elements = {el.get("id"): el for el in self.root.findall("dmn:decision", NS)}
        if len(tops) != 1:
            shown = ", ".join(f"'{d.name}'" for d in tops) or "none (a cycle)"
            raise self.fail(self.root, f"expected one conclusion (a decision no other uses), found {shown}")
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(d: Decision) -> None:
            state[d.name] = 1
            for i in d.inputs:
                if i in by_name:
                    if state.get(i) == 1:
                        raise self.fail(elements[by_name[i].id], f"decision '{i}' depends on itself")
                    if i not in state:
                        visit(by_name[i])
            state[d.name] = 2

        visit(tops[0])
        cyclic = [d for d in decisions if d.name not in state]
        if cyclic:
            raise self.fail(elements[cyclic[0].id], f"decision '{cyclic[0].name}' depends on itself")
        return tops[0].id


def _show(entry: Entry) -> str:
    return ("true" if entry else "false") if isinstance(entry, bool) else f'"{entry}"'


def _show_options(q: Question) -> str:
    return "true or false" if q.type == "boolean" else "; ".join(f'"{o}"' for o in q.options)
