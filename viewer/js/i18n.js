// Dutch and English texts. Every text the viewer shows comes from i18n/<lang>.json; elements in the
// page carry data-i18n="key" (text) or data-i18n-attr="attr:key;attr2:key2" (attributes).

export const LANGUAGES = ["nl", "en"];
const texts = {};
let current = "nl";
const listeners = [];

export async function loadLanguages() {
  await Promise.all(
    LANGUAGES.map(async (lang) => {
      const response = await fetch(`i18n/${lang}.json`);
      if (!response.ok) throw new Error(`i18n/${lang}.json: HTTP ${response.status}`);
      texts[lang] = await response.json();
    }),
  );
}

export function language() {
  return current;
}

/** The text for `key` in the current language, with {name} placeholders filled from `params`. */
export function t(key, params = {}) {
  const text = texts[current]?.[key] ?? texts.nl?.[key];
  if (text === undefined) {
    console.warn(`i18n: missing text "${key}"`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** Whether `key` has a text (used for optional labels, e.g. attribute names). */
export function has(key) {
  return key in (texts[current] ?? {});
}

/**
 * A value the server gave in both languages ({nl: …, en: …}) or as a plain string (a name or id from
 * the data). A text missing or empty in the selected language falls back to the other language.
 */
export function localized(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object" && !Array.isArray(value)) {
    const order = [current, ...LANGUAGES.filter((lang) => lang !== current)];
    const found = order.map((lang) => value[lang]).find((text) => typeof text === "string" && text.trim() !== "");
    return found ?? String(Object.values(value).find((v) => typeof v === "string") ?? "");
  }
  return String(value);
}

export function formatNumber(value, digits = 1) {
  return new Intl.NumberFormat(current === "nl" ? "nl-NL" : "en-GB", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);
}

export function applyTexts(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(key));
    }
  }
}

export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) return;
  current = lang;
  document.documentElement.lang = lang;
  applyTexts();
  for (const fn of listeners) fn(lang);
}

export function onLanguageChange(fn) {
  listeners.push(fn);
}
