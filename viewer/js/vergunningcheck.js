// The Vergunningcheck in the panel: choose an activity, then walk the municipality's STTR questions one at a
// time (services/sttr.py check_activity gives the next open question, what the city model prefilled and, once
// decided, the conclusion). Every answer re-posts the location check (main.js); this module only renders and
// reports answers through callbacks. Texts the rules give in Dutch only (questions, options, toelichting) carry
// lang="nl", so a screen reader in English reads them as Dutch.

import { t, has, language, localized } from "./i18n.js";
import { el } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

// What the panel learnt in earlier responses: the activities (for the chooser, when a response holds one
// activity) and questions (an answered question is no longer open, but its text and options are still shown).
const seenActivities = new Map();
const questions = new Map();
const OUTCOMES = ["vergunning_nodig", "vergunningvrij", "melding", "neem_contact_op"];

/** Remembers the activities of a location-check response and their questions. */
export function rememberActivities(list) {
  for (const a of list) {
    if (!a?.activity) continue;
    seenActivities.set(a.activity, { title: a.title ?? a.activity, sttr: a.source === "sttr" });
    if (a.source !== "sttr") continue;
    for (const q of a.open_questions ?? []) questions.set(`${a.activity} ${q.id}`, q);
    for (const p of a.prefilled ?? []) if (p.asked) questions.set(`${a.activity} ${p.question}`, p.asked);
  }
}

/** The `lang` attribute for a source text ({nl, en, lang}) when it is not in the language shown. */
function langOf(value) {
  const lang = value && typeof value === "object" ? value.lang : undefined;
  return lang && lang !== language() ? lang : undefined;
}

function sourceText(tag, value, attrs = {}) {
  return el(tag, { ...attrs, lang: langOf(value), text: localized(value) });
}

function idPart(value) {
  return String(value).replace(/[^\w-]/g, "_");
}

function answerText(value) {
  if (value === true) return t("value.yes");
  if (value === false) return t("value.no");
  return String(value);
}

/** The choices of a question as [value, label] (boolean: ja/nee; list: the file's option texts, Dutch). */
function choices(question, value) {
  if (question?.type === "list") return question.options.map((o) => [o, o]);
  if (question?.type === "boolean" || typeof value === "boolean") return [[true, t("value.yes")], [false, t("value.no")]];
  return [];
}

/** Radio buttons for one question in a fieldset with the question as its legend and the toelichting below. */
function questionFieldset(activityId, question, prefix, current) {
  const base = `${prefix}-${idPart(activityId)}-${idPart(question.id)}`;
  const list = choices(question, current);
  const toelichting = question.toelichting
    ? el("div", { id: `${base}-uitleg`, class: "toelichting", lang: langOf(question.toelichting) },
        renderMarkdown(localized(question.toelichting), (alt) => t("vc.image", { alt: alt || t("vc.image_untitled") })))
    : null;
  const optionLang = question.type === "list" ? langOf(question.question) : undefined;
  return el("fieldset", { class: "question", "aria-describedby": toelichting ? `${base}-uitleg` : undefined },
    sourceText("legend", question.question),
    toelichting,
    el("div", { class: "options" }, list.map(([value, label], i) =>
      el("label", { class: "check", for: `${base}-${i}` },
        el("input", { type: "radio", id: `${base}-${i}`, name: base, value: JSON.stringify(value), required: true,
          checked: current !== undefined && value === current }),
        " ", el("span", { lang: optionLang, text: label })))));
}

function chosenValue(form) {
  const checked = form.querySelector("input[type=radio]:checked");
  return checked ? JSON.parse(checked.value) : undefined;
}

/** A form that answers (or re-answers) one question. */
function answerForm(activityId, question, prefix, current, submitKey, onAnswer) {
  return el("form", {
    class: "vc-form",
    onsubmit: (event) => {
      event.preventDefault();
      const value = chosenValue(event.target);
      if (value !== undefined) onAnswer(activityId, { [question.id]: value });
    },
  }, questionFieldset(activityId, question, prefix, current), el("button", { type: "submit", text: t(submitKey) }));
}

/** "Wijzig": a disclosure with the question's radios; without the question known, a button that clears it. */
function changeControl(activityId, qid, current, summaryKey, onAnswer) {
  const question = questions.get(`${activityId} ${qid}`)
    ?? (typeof current === "boolean" ? { id: qid, type: "boolean", options: [], question: qid } : undefined);
  if (!question) {
    return el("button", { type: "button", class: "link-button", text: t("vc.clear"), onclick: () => onAnswer(activityId, { [qid]: null }) });
  }
  return el("details", { class: "vc-change" },
    el("summary", { text: t(summaryKey) }),
    answerForm(activityId, question, "change", current, "vc.save", onAnswer));
}

function questionLabel(activityId, qid) {
  const q = questions.get(`${activityId} ${qid}`);
  return q ? sourceText("span", q.question, { class: "vc-q" }) : el("span", { class: "vc-q", text: qid });
}

function prefilledList(activity, onAnswer) {
  const list = activity.prefilled ?? [];
  if (!list.length) return null;
  return el("div", { class: "sublist vc-prefilled" },
    el("h5", { text: t("vc.prefilled") }),
    el("ul", { class: "plain" }, list.map((p) => {
      const ev = p.evidence ?? {};
      const overridden = p.overridden_by_user !== undefined;
      return el("li", { class: "vc-item", "data-question": p.question },
        questionLabel(activity.activity, p.question), " ",
        el("strong", { class: overridden ? "vc-value overridden" : "vc-value", lang: typeof p.value === "string" ? "nl" : undefined, text: answerText(p.value) }),
        el("span", { class: "meta block vc-evidence", text: t("vc.evidence", { text: localized(ev.text) }) }),
        ev.source ? el("span", { class: "meta block vc-source", text: t("vc.source", { source: ev.source, id: ev.object_id ?? "–" }) }) : null,
        overridden ? el("span", { class: "meta block", text: t("vc.overridden", { value: answerText(p.overridden_by_user) }) }) : null,
        changeControl(activity.activity, p.question, overridden ? p.overridden_by_user : p.value, "vc.override", onAnswer));
    })));
}

function answeredList(activity, answers, onAnswer) {
  const prefilled = new Set((activity.prefilled ?? []).map((p) => p.question));
  const own = Object.entries(answers ?? {}).filter(([qid]) => !prefilled.has(qid));
  if (!own.length) return null;
  return el("div", { class: "sublist vc-answered" },
    el("h5", { text: t("vc.answered") }),
    el("ul", { class: "plain" }, own.map(([qid, value]) => el("li", { class: "vc-item", "data-question": qid },
      questionLabel(activity.activity, qid), " ",
      el("strong", { class: "vc-value", lang: typeof value === "string" ? "nl" : undefined, text: answerText(value) }),
      changeControl(activity.activity, qid, value, "vc.change", onAnswer)))));
}

function outcomeOf(activity) {
  return OUTCOMES.includes(activity.outcome) ? activity.outcome : "onbekend";
}

/** The deciding tables: which decision and rule gave the outcome, on which answers (the legal basis). */
function basis(activity) {
  const path = activity.path ?? [];
  if (!path.length) return null;
  return el("div", { class: "sublist vc-basis" },
    el("p", { class: "sublist-title", text: t("vc.basis") }),
    el("ol", {}, path.map((step) => el("li", {},
      t("vc.step", { decision: step.decision, rule: step.rule, output: step.output })))));
}

function conclusionBlock(activity, decided) {
  const outcome = outcomeOf(activity);
  return el("div", { class: "vc-conclusion", "aria-live": "polite" },
    el("h5", { id: decided ? "vc-current" : undefined, tabindex: decided ? "-1" : undefined, text: t(decided ? "vc.conclusion" : "vc.status") }),
    el("p", {}, el("span", { class: `badge outcome-${outcome}`, text: t(`vc.outcome.${outcome}`) }), " ",
      el("span", { class: "vc-text", text: localized(activity.text) })),
    activity.toelichting
      ? el("div", { class: "toelichting", lang: langOf(activity.toelichting) },
          renderMarkdown(localized(activity.toelichting), (alt) => t("vc.image", { alt: alt || t("vc.image_untitled") })))
      : null,
    decided ? basis(activity) : null);
}

/** One STTR activity, chosen: prefilled and given answers, the next question, and the conclusion. */
export function sttrWizard(activity, answers, onAnswer) {
  const id = activity.activity;
  const headingId = `vc-${idPart(id)}`;
  const decided = activity.conclusion !== null && activity.conclusion !== undefined;
  const next = !decided ? (activity.open_questions ?? [])[0] : undefined;
  return el("article", { class: "activity vc", "aria-labelledby": headingId, "data-activity": id,
    "data-outcome": outcomeOf(activity), "data-conclusion": activity.conclusion ?? "" },
  sourceText("h4", activity.title, { id: headingId }),
  prefilledList(activity, onAnswer),
  answeredList(activity, answers, onAnswer),
  next
    ? el("div", { class: "vc-next" },
        el("h5", { id: "vc-current", tabindex: "-1", text: t("vc.next", { count: activity.open_questions.length }) }),
        answerForm(id, next, "next", undefined, "vc.submit", onAnswer))
    : null,
  conclusionBlock(activity, decided));
}

/** An STTR activity in the list of all activities: its state and a button to walk its questions. */
export function sttrSummary(activity, onActivity) {
  const id = activity.activity;
  const headingId = `act-${idPart(id)}`;
  const outcome = outcomeOf(activity);
  return el("article", { class: "activity", "aria-labelledby": headingId, "data-activity": id, "data-outcome": outcome },
    el("h4", { id: headingId }, sourceText("span", activity.title), " ",
      el("span", { class: `badge outcome-${outcome}`, text: t(`vc.outcome.${outcome}`) })),
    el("p", { text: localized(activity.text) }),
    el("button", { type: "button", "aria-describedby": headingId, text: t("vc.walk"), onclick: () => onActivity(id) }));
}

/** Chooser of the activity to check: every activity seen (STTR and built-in), or all of them. */
export function activityChooser(chosen, onActivity) {
  if (chosen && !seenActivities.has(chosen)) seenActivities.set(chosen, { title: chosen, sttr: false });
  const name = (id, { title, sttr }) => (!sttr && has(`activity.name.${id}`) ? t(`activity.name.${id}`) : localized(title));
  const select = el("select", { id: "vc-activity", name: "activiteit" },
    el("option", { value: "", text: t("activity.all") }),
    [...seenActivities].map(([id, a]) => el("option", { value: id, lang: a.sttr ? langOf(a.title) : undefined, text: name(id, a) })));
  select.value = chosen ?? "";
  return el("form", {
    class: "activity-picker",
    onsubmit: (event) => {
      event.preventDefault();
      onActivity(select.value);
    },
  }, el("label", { for: "vc-activity", text: t("activity.pick") }), select, " ", el("button", { type: "submit", text: t("vc.choose") }));
}

/** "Kies gevel" and, when the response has one, the picked wall: which side, what it borders. */
export function gevelControls(building, picking, onPickGevel) {
  const gevel = building?.gevel;
  const borders = Object.entries(gevel?.borders ?? {}).filter(([, hits]) => Array.isArray(hits) && hits.length);
  return el("div", { class: "vc-gevel" },
    el("button", { type: "button", id: "vc-gevel-button", "aria-pressed": picking ? "true" : "false", text: t("vc.pick_gevel"), onclick: onPickGevel }),
    el("p", { class: "meta", text: t(picking ? "vc.pick_gevel_now" : "vc.pick_gevel_hint") }),
    gevel
      ? el("dl", { class: "facts vc-gevel-result" },
          el("dt", { text: t("vc.gevel_kant") }), el("dd", { text: gevel.kant ?? t("value.unknown") }),
          gevel.kant_evidence ? [el("dt", { text: t("vc.gevel_why") }), el("dd", { text: localized(gevel.kant_evidence) })] : null,
          el("dt", { text: t("vc.gevel_borders") }),
          el("dd", { text: borders.length ? borders.map(([role, hits]) => `${t(`vc.border.${role}`)} (${hits.map((h) => h.identificatie ?? h).join(", ")})`).join("; ") : t("vc.border.none") }))
      : null);
}
