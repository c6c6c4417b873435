// A tiny Markdown → DOM renderer for the toelichting texts of the municipality's STTR files: paragraphs,
// bullet and numbered lists, *emphasis*, **strong**, [links](http…) and images. Everything is built with
// createElement/textContent, never innerHTML, so HTML in the source stays visible text. Links only for
// http(s) addresses; an image becomes a link to it (the viewer works offline and fetches nothing).

const INLINE = /(!?)\[([^\]]*)\]\(\s*([^\s)]+)(?:\s+"([^"]*)")?\s*\)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_/g;

function safeUrl(url) {
  return /^https?:\/\/[^\s]+$/i.test(url) ? url : null;
}

/** Inline Markdown of one block as DOM nodes; `imageLabel(alt)` names a link that stands for an image. */
function inline(text, imageLabel) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(document.createTextNode(unescape(text.slice(last, m.index))));
    last = m.index + m[0].length;
    const [, bang, label, url, title, strong1, strong2, em1, em2] = m;
    if (url !== undefined) {
      const href = safeUrl(url);
      const words = bang ? imageLabel(label || title || "") : label || url;
      if (!href) {
        out.push(document.createTextNode(words));
        continue;
      }
      const a = document.createElement("a");
      a.href = href;
      a.rel = "noopener noreferrer";
      a.textContent = words;
      if (bang) a.className = "md-image";
      out.push(a);
    } else {
      const node = document.createElement(strong1 ?? strong2 ? "strong" : "em");
      node.textContent = unescape(strong1 ?? strong2 ?? em1 ?? em2);
      out.push(node);
    }
  }
  if (last < text.length) out.push(document.createTextNode(unescape(text.slice(last))));
  return out;
}

function unescape(text) {
  return text.replace(/\\([\\`*_{}[\]()#+\-.!])/g, "$1");
}

const ITEM = /^\s*(?:[*+-]|\d+[.)])\s+/;

/**
 * The Markdown `source` as a DocumentFragment of <p>, <ul>/<ol> blocks.
 * :param imageLabel: (alt text) => the text of the link that replaces an image
 */
export function renderMarkdown(source, imageLabel = (alt) => alt || "image") {
  const fragment = document.createDocumentFragment();
  const blocks = String(source ?? "").replace(/\r\n?/g, "\n").split(/\n\s*\n/);
  for (const block of blocks) {
    const lines = block.split("\n").filter((l) => l.trim() !== "");
    if (!lines.length) continue;
    if (lines.every((l) => ITEM.test(l))) {
      const list = document.createElement(/^\s*\d/.test(lines[0]) ? "ol" : "ul");
      for (const line of lines) {
        const li = document.createElement("li");
        li.append(...inline(line.replace(ITEM, "").trim(), imageLabel));
        list.append(li);
      }
      fragment.append(list);
    } else {
      const p = document.createElement("p");
      p.append(...inline(lines.map((l) => l.trim()).join(" "), imageLabel));
      fragment.append(p);
    }
  }
  return fragment;
}
