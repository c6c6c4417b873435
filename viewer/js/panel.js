// The side panel: what applies at the selected spot. This is the one module that knows the shape of
// the location-check output (services/processes/location_check.py); it reads it tolerantly, so a
// missing section is left out rather than breaking the panel. DOM is built with textContent only:
// nothing the server returns is ever parsed as HTML. The process writes its texts (evidence, reasons,
// notes, sources) as {nl, en}; localized() shows them in the selected language.

import { t, has, localized, formatNumber } from "./i18n.js";
import { el } from "./dom.js";
import { activityChooser, gevelControls, rememberActivities, sttrSummary, sttrWizard } from "./vergunningcheck.js";
import { articleResults, planArticles, sourceSentence } from "./articles.js";
import { envelopeItem } from "./envelopes.js";

// Building facts shown, in order: [label key, value from the process output / tile feature, format].
// The tile feature carries b3_h_* (NAP); the process output nests them in heights_nap.
function buildingRows(b) {
  const h = b.heights_nap ?? {};
  const roof = b.dak ?? {}; // the process output's roof (LoD, type, goot, nok); the tile feature has b3_* instead
  const nap = (k) => h[k] ?? roof[`h_${k}`] ?? b[`b3_h_${k}`];
  const measured = b.measured_height_m ?? (typeof nap("dak_max") === "number" && typeof nap("maaiveld") === "number" ? nap("dak_max") - nap("maaiveld") : undefined);
  const flagged = b.reconstructie_onvolledig ?? b.b3_reconstructie_onvolledig;
  return [
    ["identificatie", b.identificatie, "text"],
    ["adres", addressList(b), "text"],
    ["oorspronkelijkbouwjaar", b.oorspronkelijkbouwjaar, "year"],
    ["gebruiksdoel", b.gebruiksdoel, "text"],
    ["status", b.status, "text"],
    ["aantal_verblijfsobjecten", b.aantal_verblijfsobjecten, "int"],
    ["hoogte", measured, "m"],
    ["b3_h_maaiveld", nap("maaiveld"), "m"],
    ["b3_h_dak_70p", nap("dak_70p"), "m"],
    ["b3_h_dak_max", nap("dak_max"), "m"],
    ["b3_dak_type", roof.dak_type ?? b.b3_dak_type, "daktype"],
    ["b3_h_goot", nap("goot"), "m"],
    ["b3_h_nok", nap("nok"), "m"],
    ["b3_lod_gereconstrueerd", roof.lod ?? b.b3_lod_gereconstrueerd, "text"],
    ["b3_reconstructie_onvolledig", flagged, "bool"],
    ["onvolledig_reden", flagged ? b.onvolledig_reden ?? b.b3_onvolledig_reden : undefined, "text"],
  ];
}

// A block of flats has dozens of addresses: show a few and say how many more.
const ADDRESSES_SHOWN = 3;

function addressList(b) {
  const list = asList(b.addresses ?? b.adressen).map(addressText).filter(Boolean);
  if (!list.length) return undefined;
  const shown = list.slice(0, ADDRESSES_SHOWN).join("; ");
  return list.length > ADDRESSES_SHOWN ? `${shown} ${t("fact.more_addresses", { count: list.length - ADDRESSES_SHOWN })}` : shown;
}

/** The first of `keys` that `obj` has with a value. */
function pick(obj, ...keys) {
  if (!obj || typeof obj !== "object") return undefined;
  for (const k of keys) {
    if (obj[k] !== undefined && obj[k] !== null && obj[k] !== "") return obj[k];
  }
  return undefined;
}

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function formatValue(value, kind) {
  if (value === undefined || value === null || value === "") return t("value.unknown");
  if (kind === "m" && typeof value === "number") return `${formatNumber(value, 2)} m`;
  if (kind === "int" && typeof value === "number") return formatNumber(value, 0);
  if (kind === "bool" || typeof value === "boolean") return value ? t("value.yes") : t("value.no");
  if (kind === "year" && typeof value === "number" && value <= 1005) return t("value.unknown");
  if (kind === "daktype" && typeof value === "string") {
    const key = `daktype.${value.replaceAll(" ", "_")}`; // 3DBAG's roof types: "horizontal", "multiple horizontal", …
    return has(key) ? t(key) : value;
  }
  if (Array.isArray(value)) return value.map((v) => localized(v)).join(", ");
  if (typeof value === "object") return localized(value.naam ?? value.name ?? value);
  return localized(value);
}

function factLabel(key) {
  return has(`fact.${key}`) ? t(`fact.${key}`) : key;
}

function factList(rows) {
  const dl = el("dl", { class: "facts" });
  for (const [key, value, kind] of rows) {
    if (value === undefined) continue;
    dl.append(el("dt", { text: factLabel(key) }), el("dd", { text: formatValue(value, kind) }));
  }
  return dl.children.length ? dl : null;
}

function section(id, titleKey, ...content) {
  const body = content.flat().filter(Boolean);
  if (!body.length) return null;
  return el("section", { class: "panel-section", "aria-labelledby": `sec-${id}` }, el("h3", { id: `sec-${id}`, text: t(titleKey) }), body);
}

export function addressText(a) {
  if (!a) return undefined;
  if (typeof a === "string") return a;
  const street = [pick(a, "openbareruimte", "straat", "street"), pick(a, "huisnummer")].filter(Boolean).join(" ");
  const suffix = [pick(a, "huisletter"), pick(a, "huisnummertoevoeging")].filter(Boolean).join("-");
  const place = [pick(a, "postcode"), pick(a, "woonplaats")].filter(Boolean).join(" ");
  return [street + suffix, place].filter(Boolean).join(", ") || undefined;
}

// ---- sections ---------------------------------------------------------------------------------

function buildingSection(building) {
  if (!building) return null;
  return section("building", "panel.building", factList(buildingRows(building)));
}

/** "binnen" | "overschrijding" | "onbekend" from a compliance object of the location check. */
export function complianceStatus(c) {
  const raw = String(c?.status ?? "").toLowerCase();
  if (raw.startsWith("overschrijd") || raw.startsWith("exceed")) return "overschrijding";
  if (raw.startsWith("binnen") || raw.startsWith("within")) return "binnen";
  return "onbekend";
}

/** Why a compliance line is "onbekend", as an i18n key, read from the fields the process filled. */
function unknownReasonKey(c, building) {
  if (!building) return "compliance.no_building";
  if (c.measured_height_m === null || c.measured_height_m === undefined) return "compliance.no_height";
  if (c.max_bouwhoogte_m === null || c.max_bouwhoogte_m === undefined) return "compliance.no_maximum";
  return "compliance.unknown";
}

/** The 3D compliance line: measured height against the plan's maximum bouwhoogte (and goothoogte). */
function complianceSection(c, building) {
  const envelope = envelopeItem(building?.bouwenvelop);
  if (!c) return envelope ? section("compliance", "panel.compliance", el("ul", { class: "plain" }, envelope)) : null;
  const status = complianceStatus(c);
  const what = t("compliance.bouwhoogte");
  let sentence;
  if (status === "onbekend") {
    sentence = t(unknownReasonKey(c, building), { what });
  } else {
    const params = { what, measured: formatNumber(c.measured_height_m, 2), maximum: formatNumber(c.max_bouwhoogte_m, 2) };
    sentence = status === "overschrijding"
      ? t("compliance.exceeds", { ...params, delta: formatNumber(c.exceedance_m ?? c.measured_height_m - c.max_bouwhoogte_m, 2) })
      : t("compliance.within", { ...params, delta: formatNumber(c.headroom_m ?? c.max_bouwhoogte_m - c.measured_height_m, 2) });
  }
  const items = [
    el("li", { class: `compliance compliance-${status}` },
      el("span", { class: "badge", text: t(`compliance.status.${status}`) }), " ", sentence,
      c.method ? el("span", { class: "meta block", text: t("compliance.method", { method: c.method }) }) : null,
      c.max_bouwhoogte_source ? el("span", { class: "meta block", text: t("compliance.source", { source: localized(c.max_bouwhoogte_source) }) }) : null,
      sourceSentence(c.source_sentence)),
  ];
  const g = c.goothoogte;
  if (g && (g.max_goothoogte_m !== null && g.max_goothoogte_m !== undefined)) {
    const indication = typeof g.indicative_eaves_m === "number" ? ` ${t("compliance.goot_indication", { value: formatNumber(g.indicative_eaves_m, 2) })}` : "";
    items.push(el("li", { class: "compliance compliance-onbekend" },
      el("span", { class: "badge", text: t("compliance.status.onbekend") }), " ",
      t("compliance.goot", { maximum: formatNumber(g.max_goothoogte_m, 2) }) + indication, sourceSentence(g.source_sentence)));
  }
  if (envelope) items.push(envelope);
  return section("compliance", "panel.compliance", el("ul", { class: "plain" }, items));
}

function nameOf(item) {
  if (typeof item !== "object" || item === null) return localized(item);
  return localized(pick(item, "naam", "name", "labeltekst", "noemer", "identificatie", "id") ?? "");
}

function describeBestemming(b) {
  const parts = [nameOf(b)];
  if (b.bestemmingshoofdgroep && b.bestemmingshoofdgroep.toLowerCase() !== parts[0].toLowerCase()) parts.push(`(${b.bestemmingshoofdgroep})`);
  if (b.artikelnummer) parts.push(`— ${t("plans.article")} ${b.artikelnummer}`);
  return parts.join(" ");
}

function describeMaatvoering(m) {
  const waarden = asList(m.waarden).filter((w) => w && typeof w === "object");
  if (waarden.length) return waarden.map((w) => `${w.waardetype ?? nameOf(m)}: ${w.waarde ?? t("value.unknown")}`).join("; ");
  return nameOf(m);
}

function describeNorm(n) {
  const value = n.kwantitatieve_waarde ?? n.kwalitatieve_waarde ?? n.waarde_in_regeltekst;
  const unit = n.eenheid ? ` ${n.eenheid}` : "";
  return value === null || value === undefined ? nameOf(n) : `${nameOf(n)}: ${typeof value === "number" ? formatNumber(value, value % 1 ? 2 : 0) : value}${unit}`;
}

function describeActiviteit(a) {
  return a.regelkwalificatie ? `${nameOf(a)} (${a.regelkwalificatie})` : nameOf(a);
}

// Plan layers as the location check lists them per plan, with how to describe each object.
const PLAN_PARTS = [
  ["enkelbestemming", "plans.bestemmingen", describeBestemming],
  ["dubbelbestemming", "plans.dubbelbestemmingen", describeBestemming],
  ["bouwvlak", "plans.bouwvlak", () => t("plans.in_bouwvlak")],
  ["functieaanduiding", "plans.functieaanduidingen", nameOf],
  ["bouwaanduiding", "plans.bouwaanduidingen", nameOf],
  ["gebiedsaanduiding", "plans.gebiedsaanduidingen", nameOf],
  ["maatvoering", "plans.maatvoeringen", describeMaatvoering],
  ["figuur", "plans.figuren", nameOf],
  ["ow_gebiedsaanwijzing", "plans.gebiedsaanwijzingen", nameOf],
  ["ow_omgevingsnorm", "plans.omgevingsnormen", describeNorm],
  ["ow_activiteit", "plans.ow_activiteiten", describeActiviteit],
];

function subList(titleKey, items, describe) {
  const list = asList(items);
  if (!list.length) return null;
  return el("div", { class: "sublist" }, el("p", { class: "sublist-title", text: t(titleKey) }),
    el("ul", {}, list.map((item) => el("li", { text: describe(item) }))));
}

function planBlock(plan) {
  const name = localized(pick(plan, "plan_naam", "naam") ?? "") || t("plans.unnamed");
  const meta = [plan.plan_type, plan.plan_status, plan.plan_datum, plan.plan_id].filter(Boolean).join(" · ");
  return el("div", { class: "plan" },
    el("h4", { text: name }),
    meta ? el("p", { class: "meta", text: meta }) : null,
    PLAN_PARTS.map(([key, titleKey, describe]) => subList(titleKey, plan[key], describe)),
    planArticles(plan, name),
    plan.verwijzing_regels ? el("p", { class: "meta", text: t("plans.rules_at", { url: plan.verwijzing_regels }) }) : null);
}

function plansSection(result) {
  const plans = asList(result.plans);
  if (!plans.length) return section("plans", "panel.plans", el("p", { text: t("plans.none") }));
  return section("plans", "panel.plans", plans.map(planBlock));
}

function protectionSection(result) {
  const monuments = asList(result.monuments);
  const gezichten = asList(result.beschermde_gezichten ?? result.gezichten);
  return section("protection", "panel.protection",
    el("p", { text: monuments.length ? t("protection.monument", { names: monuments.map(nameOf).join(", ") }) : t("protection.no_monument") }),
    el("p", { text: gezichten.length ? t("protection.gezicht", { names: gezichten.map(nameOf).join(", ") }) : t("protection.no_gezicht") }));
}

export function outcomeKey(outcome) {
  const raw = String(outcome ?? "").toLowerCase();
  return ["vergunningvrij", "vergunning_nodig", "melding"].includes(raw) ? raw : "onbekend";
}

function questionField(q, activityId, index) {
  const id = String(q.id ?? index);
  const fieldName = `q-${activityId}-${id}`.replace(/[^\w-]/g, "_");
  const text = localized(q.question ?? id);
  if (q.type === "getal") {
    return el("div", { class: "question" },
      el("label", { for: fieldName, text: `${text} (m)` }),
      el("input", { id: fieldName, name: id, type: "number", step: "0.01", inputmode: "decimal", "data-kind": "number", required: true }));
  }
  return el("fieldset", { class: "question" },
    el("legend", { text }),
    [["ja", "value.yes"], ["nee", "value.no"]].map(([value, key]) =>
      el("label", { class: "check" },
        el("input", { type: "radio", name: id, value, id: `${fieldName}-${value}`, required: true }), " ", t(key))));
}

function stepText(step) {
  let text = localized(step.question ?? step.node ?? "");
  const answer = step.answer ?? step.value;
  if (answer !== undefined) text += ` — ${answer === "ja" ? t("value.yes") : answer === "nee" ? t("value.no") : localized(answer)}`;
  return text;
}

function stepSource(step) {
  const source = step.source === "data" ? t("activity.from_data") : step.source === "gebruiker" ? t("activity.from_user") : "";
  return [source, localized(step.evidence)].filter(Boolean).join(": ");
}

function activityBlock(activity, index, onAnswer) {
  const id = String(activity.activity ?? index);
  const headingId = `act-${id}`.replace(/[^\w-]/g, "_");
  const outcome = outcomeKey(activity.outcome);
  const trail = asList(activity.trail);
  const citations = asList(activity.citations);
  const questions = asList(activity.open_questions);

  const form = questions.length
    ? el("form", {
        class: "questions",
        // the activity's heading too: several forms named "Nog te beantwoorden" alone would be the same landmark
        "aria-labelledby": `${headingId} ${headingId}-q`,
        onsubmit: (event) => {
          event.preventDefault();
          const answers = {};
          for (const input of event.target.querySelectorAll("input")) {
            if (input.type === "radio" && input.checked) answers[input.name] = input.value;
            if (input.type === "number" && input.value !== "") answers[input.name] = Number(input.value);
          }
          onAnswer(id, answers);
        },
      },
      el("p", { id: `${headingId}-q`, class: "sublist-title", text: t("activity.questions") }),
      activity.reason ? el("p", { class: "meta", text: localized(activity.reason) }) : null,
      questions.map((q, i) => questionField(q, id, i)),
      el("button", { type: "submit", text: t("activity.answer") }))
    : null;

  return el("article", { class: "activity", "aria-labelledby": headingId, "data-activity": id, "data-outcome": outcome },
    el("h4", { id: headingId }, localized(activity.title ?? id), " ", el("span", { class: `badge outcome-${outcome}`, text: t(`outcome.${outcome}`) })),
    activity.text ? el("p", { text: localized(activity.text) }) : null,
    trail.length
      ? el("details", { class: "sublist" },
          el("summary", { class: "sublist-title", text: t("activity.reasoning", { count: trail.length }) }),
          el("ol", {}, trail.map((step) => el("li", {}, stepText(step), stepSource(step) ? el("span", { class: "meta block", text: stepSource(step) }) : null))))
      : null,
    citations.length
      ? el("div", { class: "sublist" },
          el("p", { class: "sublist-title", text: t("activity.citations") }),
          el("ul", { class: "citations" }, citations.map(citationItem)))
      : null,
    form);
}

function citationItem(c) {
  if (typeof c !== "object" || c === null) return el("li", { text: localized(c) });
  // The official texts' addresses are shown, not fetched: the viewer itself works offline.
  return el("li", {}, localized({ nl: c.nl, en: c.en }) || c.id, c.url ? el("span", { class: "meta block", text: c.url }) : null);
}

/**
 * The Vergunningcheck: the activity chooser, "Kies gevel" and either the chosen STTR activity's questions one at a
 * time or every activity checked (built-in ones with their open questions, STTR ones as a summary).
 */
function activitiesSection(result, where, ctx) {
  const list = asList(result.activities);
  rememberActivities(list);
  const chosen = where?.activity;
  const only = list.length === 1 && list[0].activity === chosen ? list[0] : undefined;
  const blocks = only?.source === "sttr"
    ? sttrWizard(only, ctx.answersOf(only.activity), ctx.onAnswer)
    : list.map((a, i) => (a.source === "sttr" ? sttrSummary(a, ctx.onActivity) : activityBlock(a, i, ctx.onAnswer)));
  return section("activities", "panel.activities",
    activityChooser(chosen, ctx.onActivity),
    gevelControls(result.building, ctx.pickingGevel(), ctx.onPickGevel),
    blocks);
}

// ---- the panel --------------------------------------------------------------------------------

export class Panel {
  /**
   * :param onAnswer: (activityId, answers) => void, when the user answers open questions
   * :param onActivity: (activityId | "") => void, when the user picks an activity to check
   * :param answersOf: activityId => {question id: answer}, the answers given so far
   * :param onPickGevel: () => void, "Kies gevel": the next click on the map picks a wall
   * :param pickingGevel: () => boolean, whether that next click is awaited
   */
  constructor({ onAnswer, onActivity, onClose, answersOf, onPickGevel, pickingGevel }) {
    this.root = document.getElementById("panel");
    this.body = document.getElementById("panel-body");
    this.status = document.getElementById("panel-status");
    this.title = document.getElementById("panel-title");
    this.ctx = { onAnswer, onActivity, answersOf, onPickGevel, pickingGevel };
    // The id of the element to focus after the next result (the Vergunningcheck's next step), else the title.
    this.focusNext = undefined;
    this.state = { kind: "intro" };
    document.getElementById("panel-close").addEventListener("click", () => onClose());
    this.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") onClose();
    });
  }

  /** Re-renders the current content (after a language switch). */
  refresh() {
    const s = this.state;
    if (s.kind === "intro") this.showIntro();
    else if (s.kind === "loading") this.showLoading(s.facts, s.where, false);
    else if (s.kind === "result") this.showResult(s.result, s.facts, s.where, false);
    else if (s.kind === "error") this.showError(s.message, s.facts, s.where);
    else if (s.kind === "list") this.showChoices(s.titleKey, s.choices, false);
    else if (s.kind === "articles") this.showArticles(s.query, s.found, false);
  }

  showIntro() {
    this.state = { kind: "intro" };
    this.root.dataset.buildingId = "";
    this.title.textContent = t("panel.title");
    this.body.replaceChildren(el("p", { text: t("panel.intro") }));
    this.status.textContent = "";
  }

  _heading(result, facts, where) {
    if (where?.address) return where.address;
    const building = result?.building ?? facts;
    const address = building ? asList(building.addresses).map(addressText).find(Boolean) : undefined;
    if (address) return address;
    if (building?.identificatie) return t("panel.building_title", { id: building.identificatie });
    return where ? t("panel.location_title", { lat: where.lat.toFixed(6), lon: where.lon.toFixed(6) }) : t("panel.title");
  }

  showLoading(facts, where, announce = true) {
    this.state = { kind: "loading", facts, where };
    this.title.textContent = this._heading(null, facts, where);
    this.body.replaceChildren(...[buildingSection(facts), el("p", { class: "loading", text: t("panel.loading") })].filter(Boolean));
    if (announce) this.status.textContent = t("panel.loading");
  }

  showResult(result, facts, where, announce = true) {
    this.state = { kind: "result", result, facts, where };
    const building = result.building ? { ...(facts ?? {}), ...result.building } : facts;
    this.title.textContent = this._heading(result, facts, where);
    const plans = plansSection(result);
    // Element Timing: the browser reports when the rules are on screen (bench/viewer.py measures a click by it)
    plans.querySelector("h3").setAttribute("elementtiming", "panel-rules");
    const sections = [
      buildingSection(building),
      complianceSection(result.compliance, result.building),
      plans,
      protectionSection(result),
      activitiesSection(result, where, this.ctx),
    ].filter(Boolean);
    const notes = asList(result.notes).map((n) => el("p", { class: "note", text: localized(n) }));
    this.body.replaceChildren(...sections, ...notes);
    this.root.dataset.buildingId = building?.identificatie ?? "";
    // A decided Vergunningcheck says its conclusion too (its block is also an aria-live region).
    const conclusion = this.body.querySelector(".vc[data-conclusion]:not([data-conclusion='']) .vc-text");
    const updated = t("panel.updated", { title: this.title.textContent });
    if (announce) this._announce(conclusion ? `${updated} ${conclusion.textContent}` : updated);
  }

  /** Tells screen readers what changed and moves focus to the panel's heading. */
  _announce(text) {
    this.status.textContent = text;
    const target = this.focusNext && document.getElementById(this.focusNext);
    this.focusNext = undefined;
    (target || this.title).focus({ preventScroll: false });
  }

  showError(message, facts, where) {
    this.state = { kind: "error", message, facts, where };
    this.title.textContent = this._heading(null, facts, where);
    this.body.replaceChildren(
      ...[buildingSection(facts), el("p", { class: "error", text: t("panel.error", { message }) })].filter(Boolean),
    );
    this.root.dataset.buildingId = facts?.identificatie ?? "";
    this._announce(t("panel.error", { message }));
  }

  /** The articles a full-text search over the plans' rules found (articles.js), each opened for its text. */
  showArticles(query, found, announce = true) {
    this.state = { kind: "articles", query, found };
    this.root.dataset.buildingId = "";
    this.title.textContent = t("articles.search_title", { query });
    this.body.replaceChildren(...articleResults(query, found));
    if (announce) this._announce(this.body.querySelector("p")?.textContent ?? "");
  }

  /** A list of choices (e.g. several addresses found); each is {label, onSelect}. */
  showChoices(titleKey, choices, announce = true) {
    this.state = { kind: "list", titleKey, choices };
    this.title.textContent = t(titleKey);
    this.body.replaceChildren(
      el("ul", { class: "plain choices" }, choices.map((c) => el("li", {}, el("button", { type: "button", class: "link-button", text: c.label, onclick: c.onSelect })))),
    );
    if (announce) this._announce(t("search.results", { count: choices.length }));
  }
}
