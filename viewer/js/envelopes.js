// The allowed building volume (issue 14): the layer "Toegestane bouwmassa" shows the `envelopes` tileset (one
// translucent solid per bouwenvelop) and the `excess` tileset (red: the part of each building outside its
// envelope), both written by `stadsmodel tiles` (tiles/envelopes.py) when the store has them. Both are off by
// default; a selected building with excess shows its own excess even then. The panel line reads the location
// check's building.bouwenvelop (core.clash: status, excess_volume_m3, max_excess_height_m, reason).

import { t, localized, formatNumber } from "./i18n.js";
import { el } from "./dom.js";

const Cesium = window.Cesium;

export const ENVELOPES = "envelopes";
export const EXCESS = "excess";
export const LAYER_ID = "bouwmassa";
const ENVELOPE_COLOUR = "color('#2f7fd1', 0.35)";
const EXCESS_COLOUR = "color('#e01b1b', 0.9)";
// How far the excess is drawn towards the eye, so that it shows in front of the building surfaces it shares (m).
const EYE_OFFSET_M = 0.2;
// Below this the height says nothing (core.clash's tolerance is 5 cm): the excess is then beside the envelope.
const HEIGHT_SHOWN_M = 0.05;

/** A string literal for a 3D Tiles style expression (identifiers are BAG ids; anything else is dropped). */
function literal(value) {
  return `'${String(value).replace(/[^\w.:-]/g, "")}'`;
}

export class BouwmassaLayer {
  /**
   * :param viewer: the Cesium viewer
   * :param tilesets: the loaded tilesets by kind (scene.loadTilesets); uses tilesets.envelopes and .excess
   */
  constructor(viewer, tilesets) {
    this.viewer = viewer;
    this.envelopes = tilesets[ENVELOPES];
    this.excess = tilesets[EXCESS];
    this.shown = false;
    this.selected = undefined; // the selected building's id when it has excess
    for (const ts of [this.envelopes, this.excess]) {
      if (!ts) continue;
      ts.colorBlendMode = Cesium.Cesium3DTileColorBlendMode.REPLACE;
      ts.show = false;
    }
    if (this.envelopes) this.envelopes.style = new Cesium.Cesium3DTileStyle({ color: ENVELOPE_COLOUR });
    // The excess shares its roof and walls with the building: drawn where they are, the two would flicker into
    // each other (z-fighting). Each excess vertex is drawn a few centimetres towards the eye instead.
    if (this.excess && Cesium.CustomShader) {
      this.excess.customShader = new Cesium.CustomShader({
        vertexShaderText: `
          void vertexMain(VertexInput vsInput, inout czm_modelVertexOutput vsOutput) {
            vec3 eye = (czm_inverseModelView * vec4(0.0, 0.0, 0.0, 1.0)).xyz;
            vsOutput.positionMC += normalize(eye - vsOutput.positionMC) * ${EYE_OFFSET_M.toFixed(2)};
          }`,
      });
    }
    this._apply();
  }

  /** Whether there is anything to show (the server has at least one of the two tilesets). */
  available() {
    return Boolean(this.envelopes || this.excess);
  }

  /** The tileset kinds this layer stands for (not listed as layers of their own). */
  static kinds() {
    return [ENVELOPES, EXCESS];
  }

  isShown() {
    return this.shown;
  }

  setShown(on) {
    this.shown = Boolean(on);
    this._apply();
  }

  /** The excess of this building (an id), shown even with the layer off; undefined: none selected. */
  showExcessOf(id) {
    this.selected = id || undefined;
    this._apply();
  }

  _apply() {
    if (this.envelopes) this.envelopes.show = this.shown;
    if (this.excess) {
      const only = this.shown ? undefined : this.selected;
      this.excess.style = new Cesium.Cesium3DTileStyle({
        color: EXCESS_COLOUR,
        show: only ? `\${identificatie} === ${literal(only)}` : "true",
      });
      this.excess.show = this.shown || Boolean(this.selected);
    }
    this.viewer.scene.requestRender();
  }
}

/** "binnen" | "overschrijding" | "onbekend", the compliance classes, from a bouwenvelop status. */
function statusClass(status) {
  if (status === "overschrijdt") return "overschrijding";
  if (status === "binnen_envelop") return "binnen";
  return "onbekend";
}

/** The sentence for the panel: "steekt 1,8 m boven de bouwenvelop uit, 42 m³", "binnen de bouwenvelop", a reason. */
export function envelopeSentence(b) {
  if (b.status === "overschrijdt") {
    const volume = typeof b.excess_volume_m3 === "number" ? b.excess_volume_m3 : 0;
    const params = { volume: formatNumber(volume, volume < 10 ? 1 : 0) };
    if (typeof b.max_excess_height_m === "number" && b.max_excess_height_m >= HEIGHT_SHOWN_M) {
      return t("envelope.exceeds", { ...params, height: formatNumber(b.max_excess_height_m, 1) });
    }
    return t("envelope.exceeds_beside", params);
  }
  if (b.status === "binnen_envelop") return t("envelope.within");
  const reason = localized(b.reason);
  return reason ? t("envelope.unknown_because", { reason }) : t("envelope.unknown");
}

/** The limits of the envelopes the building stands in, e.g. "maximaal 9,0 m bouwhoogte, 6,0 m goothoogte". */
function limits(b) {
  const parts = [];
  for (const e of Array.isArray(b.envelopes) ? b.envelopes : []) {
    const bits = [];
    if (typeof e.max_bouwhoogte === "number") bits.push(t("envelope.max_bouwhoogte", { value: formatNumber(e.max_bouwhoogte, 1) }));
    if (typeof e.max_goothoogte === "number") bits.push(t("envelope.max_goothoogte", { value: formatNumber(e.max_goothoogte, 1) }));
    if (typeof e.max_dakhelling === "number") bits.push(t("envelope.max_dakhelling", { value: formatNumber(e.max_dakhelling, 0) }));
    if (bits.length) parts.push(bits.join(", "));
  }
  return [...new Set(parts)].join("; ");
}

/** The bouwenvelop line of the panel (a list item of the compliance section), or null without one. */
export function envelopeItem(b) {
  if (!b || typeof b !== "object" || !b.status) return null;
  const cls = statusClass(b.status);
  const shownLimits = limits(b);
  return el("li", { class: `compliance compliance-${cls} envelope`, "data-envelope-status": b.status },
    el("span", { class: "badge", text: t(`compliance.status.${cls}`) }), " ",
    `${t("envelope.label")}: `, el("span", { class: "envelope-text", text: envelopeSentence(b) }),
    shownLimits ? el("span", { class: "meta block", text: t("envelope.limits", { limits: shownLimits }) }) : null);
}
