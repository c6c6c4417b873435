// The plans' articles as text (issue 16): per plan the articles that apply at the selected spot (the location
// check's plans[].articles), the sentence a compliance verdict rests on (compliance.source_sentence), and the
// full-text search over the `regels` collection (q=). Every article is collapsible (<details>/<summary>), its
// text first and the legal citation with it. Article texts are the plan's own Dutch words: the server gives them
// as {nl, en, lang: "nl"} (services.rules.source_text); in English they carry lang="nl" and the label "(Dutch)".
// Text only: nothing here is parsed as HTML, and a link is made only for an http(s) address.

import { t, language, localized } from "./i18n.js";
import { el } from "./dom.js";

/**
 * The language of a text the server gave: a source text {nl, en, lang} is in its lang, a translated pair {nl, en}
 * in the page's language, a plain string from the data (a kop, a plan's words) in Dutch.
 */
function sourceLang(value) {
  if (value && typeof value === "object") return typeof value.lang === "string" ? value.lang : language();
  return "nl";
}

/** Attributes for a source text: lang when it is not the page's language. */
function langAttrs(value) {
  const lang = sourceLang(value);
  return lang !== language() ? { lang } : {};
}

/** "(Dutch)" after a Dutch text shown in English; nothing in Dutch. */
function langNote(value) {
  const lang = sourceLang(value);
  return lang !== language() ? el("span", { class: "lang-note", text: ` ${t(`articles.lang.${lang === "nl" ? "nl" : "other"}`)}` }) : null;
}

function plainText(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? localized(value) : String(value);
}

/** A link for an absolute http(s) address from the data, else its text (a javascript: URL is never a link). */
function safeLink(url, text, attrs = {}) {
  const href = typeof url === "string" && /^https?:\/\//i.test(url.trim()) ? url.trim() : undefined;
  if (!href) return el("span", { ...attrs, text });
  return el("a", { ...attrs, href, rel: "noopener noreferrer", target: "_blank", text });
}

/** The article's text: one paragraph per line (the importer writes one line per sentence unit or lid number). */
function textBlock(value, cls = "article-text") {
  const lines = plainText(value).split("\n").map((line) => line.trim()).filter(Boolean);
  return el("div", { class: cls, ...langAttrs(value) }, lines.map((line) => el("p", { text: line })));
}

/** "Artikel 2.14 Bouwregels …": the kop, with the article number in front when the kop does not say it. */
function heading(article) {
  const kop = plainText(article.kop);
  const nummer = article.artikelnummer ? String(article.artikelnummer) : "";
  if (kop && (!nummer || kop.includes(nummer))) return kop;
  if (kop) return `${t("articles.article")} ${nummer} ${kop}`;
  return nummer ? `${t("articles.article")} ${nummer}` : t("articles.untitled");
}

/** The legal citation: artikelnummer and kop (linked to the article's url when given), and the plan. */
function citation(article, planName) {
  const url = article.url ?? article.citation?.url;
  const kop = plainText(article.kop);
  const nummer = article.artikelnummer ? `${t("articles.article")} ${article.artikelnummer}` : "";
  const label = [nummer && !kop.includes(String(article.artikelnummer)) ? nummer : "", kop].filter(Boolean).join(" ")
    || plainText(article.citation) || nummer;
  return el("p", { class: "citation meta" },
    `${t("articles.citation")}: `,
    safeLink(url, label, langAttrs(article.kop ?? {})),
    planName ? ` — ${planName}` : null);
}

/** The norms of an Omgevingsplan article that apply here, each with the sentence that states it. */
function normList(article) {
  const normen = (article.normen ?? []).filter((n) => n && (n.waarde_tekst || n.waarde !== undefined));
  if (!normen.length) return null;
  return el("div", { class: "article-norms" },
    el("p", { class: "sublist-title", text: t("articles.norms") }),
    el("ul", {}, normen.map((n) => el("li", {},
      `${n.naam ?? n.type ?? ""}: ${plainText(n.waarde_tekst) || String(n.waarde ?? t("value.unknown"))}`,
      n.locatie ? ` (${n.locatie})` : null,
      n.zin ? el("span", { class: "meta block" }, el("span", { ...langAttrs(n.zin.label), text: plainText(n.zin.label) })) : null))));
}

/**
 * One article as a disclosure: the summary is its heading, the body its text (Dutch) and then the citation.
 * :param article: {artikelnummer, kop, tekst, citation, url, tekst_in_opslag, reason, normen, …}
 */
export function articleDetails(article, planName, { open = false, cls = "article" } = {}) {
  const hasText = article.tekst !== null && article.tekst !== undefined && plainText(article.tekst) !== "";
  return el("details", { class: cls, "data-artikel": article.artikelnummer ?? undefined, open },
    el("summary", {}, el("span", { class: "article-kop", ...langAttrs(article.kop ?? {}), text: heading(article) }), langNote(article.kop ?? {})),
    hasText
      ? textBlock(article.tekst)
      : el("p", { class: "meta article-missing", text: plainText(article.reason) || t("articles.no_text") }),
    normList(article),
    citation(article, planName));
}

/** The articles of one plan at the spot, or null when it has none. */
export function planArticles(plan, planName) {
  const list = Array.isArray(plan?.articles) ? plan.articles.filter((a) => a && typeof a === "object") : [];
  if (!list.length) {
    return plan?.articles_reason ? el("p", { class: "meta", text: plainText(plan.articles_reason) }) : null;
  }
  return el("div", { class: "sublist articles" },
    el("p", { class: "sublist-title", text: t("articles.title", { count: list.length }) }),
    el("ul", { class: "plain" }, list.map((a) => el("li", {}, articleDetails(a, planName)))));
}

/**
 * The sentence a compliance verdict comes from (compliance.source_sentence: label, tekst, citation, summary,
 * url, reason), shown next to the verdict; null when the process gave none.
 */
export function sourceSentence(s) {
  if (!s || typeof s !== "object") return null;
  const label = plainText(s.label);
  const lines = plainText(s.tekst).split("\n").map((line) => line.trim()).filter(Boolean);
  const head = el("span", { class: "meta block" }, `${t("articles.source_sentence")}: `,
    safeLink(s.url ?? s.citation?.url, label || plainText(s.citation), langAttrs(s.label ?? {})), langNote(s.label ?? {}));
  let body;
  if (lines.length === 1) {
    body = el("blockquote", { class: "sentence", ...langAttrs(s.tekst) }, el("p", { text: lines[0] }));
  } else if (lines.length > 1) {
    // a whole article (a bestemmingsplan's limit whose sentence the store does not single out): the summary
    // says what the limit is, the article's text is there to open
    body = [
      s.summary ? el("span", { class: "meta block", ...langAttrs(s.summary), text: plainText(s.summary) }) : null,
      el("details", { class: "sentence-article" },
        el("summary", { text: t("articles.whole_article") }), textBlock(s.tekst)),
    ];
  } else {
    body = el("span", { class: "meta block", text: plainText(s.reason) || plainText(s.summary) });
  }
  return el("div", { class: "source-sentence" }, head, body);
}

// ---- search over the regels collection (q=) ---------------------------------------------------

export const REGELS = "regels";

/** Finds articles by full text; returns the collection's features (properties: artikelnummer, kop, tekst, …). */
export async function searchArticles(query, fetchItems, limit = 25) {
  const q = query.trim();
  if (!q) return { features: [], matched: 0 };
  const collection = await fetchItems(REGELS, { q, limit });
  const features = (collection.features ?? []).filter((f) => f && typeof f.properties === "object");
  return { features, matched: collection.numberMatched ?? features.length };
}

/** An article feature of the `regels` collection in the shape the location check gives (text as Dutch source). */
function fromFeature(f) {
  const p = f.properties ?? {};
  const dutch = (v) => (v === null || v === undefined || v === "" ? null : { nl: String(v), en: String(v), lang: "nl" });
  return {
    artikelnummer: p.artikelnummer ?? null,
    kop: dutch(p.kop),
    tekst: dutch(p.tekst),
    url: p.url ?? null,
    reason: p.tekst ? undefined : { nl: t("articles.no_text"), en: t("articles.no_text") },
  };
}

/** The search results: a list of disclosures, each "artikelnummer · kop · plan", opened for its text. */
export function articleResults(query, found) {
  const features = found?.features ?? [];
  if (!features.length) return [el("p", { class: "search-none", text: t("articles.search_none", { query }) })];
  const summary = t("articles.search_found", { count: found.matched ?? features.length, query });
  return [
    el("p", { class: "meta", text: summary }),
    el("ul", { class: "plain article-results" }, features.map((f) => {
      const p = f.properties ?? {};
      const plan = p.plan_naam || p.plan_id || "";
      const item = articleDetails(fromFeature(f), plan, { cls: "article article-result" });
      // the summary names the plan too: a result list mixes plans
      if (plan) item.querySelector("summary").append(el("span", { class: "meta result-plan", text: ` — ${plan}` }));
      if (f.id !== undefined) item.dataset.id = String(f.id);
      return el("li", {}, item);
    })),
  ];
}
