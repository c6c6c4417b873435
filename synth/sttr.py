"""A synthetic STTR file (toepasbare regels as the DSO delivers them) for the demo and for tests without the
real Amsterdam files: "Kozijn plaatsen (synthetisch)", written element for element like those files (DMN 1.1 with
the Uitvoeringsregel and Content extensions, Pads with hit policy ANY, a conclusion with a no-hit rule).

Its questions are the ones the city model can answer (monument, beschermd gezicht, the side of the building and
whether that side borders a street), so the demo shows them prefilled. The rules, simplified from Amsterdam's
kozijn-plaatsen (:data:`PADS`): a monument, a beschermd gezicht, the voorkant, or a zijkant on a street needs a
permit; anything else is permission-free.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

TITLE = "Kozijn plaatsen (synthetisch)"
NAMESPACE = "http://toepasbare-regels.omgevingswet.overheid.nl/00000000000000000000"
# (uitvoeringsregel id, vraagTekst, gegevensType, options, toelichting)
QUESTIONS = (
    ("uitv_synth-monument", "Is het gebouw een monument?", "list",
     ("Rijksmonument", "Gemeentelijk monument", "Geen monument"),
     "Het rijk of de gemeente kan een gebouw als **monument** aanwijzen. Zie het "
     "[monumentenregister](https://monumentenregister.cultureelerfgoed.nl/)."),
    ("uitv_synth-gezicht", "Staat het gebouw in een beschermd stads- of dorpsgezicht?", "boolean", (),
     "Een beschermd stads- of dorpsgezicht is een gebied met een bijzondere historische waarde."),
    ("uitv_synth-kant", "Aan welke kant van het gebouw gaat u een kozijn plaatsen?", "list",
     ("Voorkant", "Zijkant", "Achterkant"), None),
    ("uitv_synth-zijkant-straat", "U gaat een kozijn plaatsen aan de zijkant van het gebouw. Ligt die kant aan een "
     "straat, fietspad of voetpad waar iedereen mag komen?", "boolean", (), None),
)
VERGUNNING, GEEN = '"Vergunningplicht"', '"no hit"'
# Each Pad: (entries per question, "-" for any; output) rows in table order.
PADS = (
    ((('"Rijksmonument"', "-", "-", "-"), VERGUNNING), (('"Gemeentelijk monument"', "-", "-", "-"), VERGUNNING),
     (('"Geen monument"', "-", "-", "-"), GEEN)),
    ((('"Geen monument"', "true", "-", "-"), VERGUNNING), (('"Geen monument"', "false", "-", "-"), GEEN),
     (('"Rijksmonument"', "-", "-", "-"), GEEN), (('"Gemeentelijk monument"', "-", "-", "-"), GEEN)),
    ((('"Geen monument"', "false", '"Voorkant"', "-"), VERGUNNING),
     (("-", "-", '"Zijkant"', "-"), GEEN), (("-", "-", '"Achterkant"', "-"), GEEN),
     (('"Rijksmonument"', "-", "-", "-"), GEEN), (('"Gemeentelijk monument"', "-", "-", "-"), GEEN),
     (("-", "true", "-", "-"), GEEN)),
    ((('"Geen monument"', "false", '"Zijkant"', "true"), VERGUNNING),
     (("-", "-", '"Voorkant"', "-"), GEEN), (("-", "-", '"Achterkant"', "-"), GEEN),
     (('"Rijksmonument"', "-", "-", "-"), GEEN), (('"Gemeentelijk monument"', "-", "-", "-"), GEEN),
     (("-", "true", "-", "-"), GEEN), (("-", "-", "-", "false"), GEEN)),
)
CONCLUSIE_VERGUNNING = "U hebt waarschijnlijk een omgevingsvergunning nodig. Vraag die aan in het Omgevingsloket."
CONCLUSIE_VRIJ = "U hebt geen vergunning nodig voor het plaatsen van dit kozijn."


def _text(value: str) -> str:
    return f"<dmn:text>{escape(value)}</dmn:text>"


def _question(qid: str, text: str, kind: str, options: tuple[str, ...], toelichting: str | None, i: int) -> str:
    opts = "".join(f"<uitv:optie><uitv:sequenceId>{k}</uitv:sequenceId><uitv:optieText>{escape(o)}</uitv:optieText>"
                   f"</uitv:optie>" for k, o in enumerate(options))
    opties = f"<uitv:opties><uitv:optieType>enkelAntwoord</uitv:optieType>{opts}</uitv:opties>" if options else ""
    uitleg = (f"<content:uitvoeringsregelToelichting><content:toelichting><![CDATA[{toelichting}]]>"
              f"</content:toelichting></content:uitvoeringsregelToelichting>" if toelichting else "")
    return (f'<uitv:uitvoeringsregel id="{qid}"><uitv:regelgroepRef href="#groep1"/>'
            f"<inter:prioriteit>{10 * (i + 1)}</inter:prioriteit><uitv:vraag><uitv:gegevensType>{kind}"
            f"</uitv:gegevensType><uitv:vraagTekst>{escape(text)}</uitv:vraagTekst>{opties}</uitv:vraag>{uitleg}"
            f"</uitv:uitvoeringsregel>")


def _input_data(qid: str) -> str:
    name = qid.removeprefix("uitv_")
    return (f'<dmn:inputData id="input_{name}" name="{name}"><dmn:extensionElements>'
            f'<uitv:uitvoeringsregelRef href="#{qid}"/></dmn:extensionElements>'
            f'<dmn:variable id="var_{name}" name="{name}" typeRef="feel:string"/></dmn:inputData>')


def _table(did: str, name: str, inputs: list[tuple[str, str]], rows, requirement: str, conclusion: bool) -> str:
    reqs = "".join(f'<dmn:informationRequirement><dmn:{requirement} href="#{ref}"/></dmn:informationRequirement>'
                   for ref, _ in inputs)
    cols = "".join(f'<dmn:input id="{did}-in{k}" label={quoteattr(label)}><dmn:inputExpression typeRef="feel:string">'
                   f"{_text(label)}</dmn:inputExpression></dmn:input>" for k, (_, label) in enumerate(inputs))
    rules = []
    for r, (entries, output) in enumerate(rows):
        cells = "".join(f'<dmn:inputEntry id="{did}-r{r}-{k}">{_text(e)}</dmn:inputEntry>'
                        for k, e in enumerate(entries))
        uitleg = ""
        if conclusion:
            toelichting = CONCLUSIE_VERGUNNING if output == VERGUNNING else CONCLUSIE_VRIJ
            uitleg = (f"<dmn:extensionElements><content:conclusieToelichting><content:toelichting><![CDATA["
                      f"{toelichting}]]></content:toelichting></content:conclusieToelichting></dmn:extensionElements>")
        rules.append(f'<dmn:rule id="{did}-r{r}">{cells}<dmn:outputEntry id="{did}-r{r}-out">{uitleg}{_text(output)}'
                     f"</dmn:outputEntry></dmn:rule>")
    return (f'<dmn:decision id="{did}" name="{name}"><dmn:variable id="{did}-var" name="{name}" typeRef="feel:string"/>'
            f'{reqs}<dmn:decisionTable hitPolicy="ANY" id="{did}-table" outputLabel="{name}">{cols}'
            f'<dmn:output id="{did}-out" label="{name}"/>{"".join(rules)}</dmn:decisionTable></dmn:decision>')


def sttr_document() -> str:
    """The synthetic STTR file's XML text."""
    inputs = [(f"input_{qid.removeprefix('uitv_')}", qid.removeprefix("uitv_")) for qid, *_ in QUESTIONS]
    pads = [_table(f"pad{p + 1}", f"Pad {p + 1}", inputs, rows, "requiredInput", False) for p, rows in enumerate(PADS)]
    n = len(PADS)
    rows = [(tuple(VERGUNNING if k == p else "-" for k in range(n)), VERGUNNING) for p in range(n)]
    rows.append(((GEEN,) * n, '"Toestemmingsvrij"'))
    conclusion = _table("conclusie", "_Conclusie_dummy", [(f"pad{p + 1}", f"Pad {p + 1}") for p in range(n)], rows,
                        "requiredDecision", True)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<dmn:definitions xmlns:dmn="http://www.omg.org/spec/DMN/20151101/dmn.xsd" '
            'xmlns:feel="http://www.omg.org/spec/FEEL/20140401" '
            'xmlns:inter="http://toepasbare-regels.omgevingswet.overheid.nl/v1.0/Interactieregel" '
            'xmlns:uitv="http://toepasbare-regels.omgevingswet.overheid.nl/v1.0/Uitvoeringsregel" '
            'xmlns:content="http://toepasbare-regels.omgevingswet.overheid.nl/v1.0/Content" '
            f'namespace="{NAMESPACE}" exporter="stadsmodel synth" id="synth-kozijn" name="Conclusie {TITLE}">'
            '<dmn:extensionElements><inter:regelgroepen><inter:regelgroep id="groep1"><inter:naam>'
            f"Conclusie {TITLE}</inter:naam><inter:prioriteit>10</inter:prioriteit></inter:regelgroep>"
            "</inter:regelgroepen><uitv:uitvoeringsregels>"
            + "".join(_question(*q, i) for i, q in enumerate(QUESTIONS))
            + "</uitv:uitvoeringsregels></dmn:extensionElements>"
            + "".join(_input_data(q[0]) for q in QUESTIONS) + "".join(pads) + conclusion + "</dmn:definitions>")


def write_synthetic_sttr(folder: Path) -> Path:
    """Write FOLDER/kozijn-plaatsen-synthetisch.sttr.xml; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kozijn-plaatsen-synthetisch.sttr.xml"
    path.write_text(sttr_document(), encoding="utf-8")
    return path
