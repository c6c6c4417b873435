// "Wat als?" (issue 14): a plan that exists only on paper, checked against the bouwenvelop by the server's
// OGC API process bouwplan-check (services/processes/bouwplan_check.py). The user draws a footprint on the
// map (clicks place the corners; double-click, Enter or "Klaar" finishes, Escape stops) or types its corners,
// gives a hoogte (and optionally goothoogte + dakhelling, a hipped roof), or uploads a CityJSON with one Solid.
// The answer (fits / by how much it exceeds / why there is no verdict, or the server's 400 reason) goes to an
// aria-live region; the checked solid is drawn, the part outside the envelope in red. Nothing is stored: "Wissen"
// removes the drawing and the answer.
//
// Coordinates: the footprint goes out in CRS84 lon/lat (the picked positions), so `crs` is left out. The answer's
// solids are in EPSG:7415 (RD New + NAP); they are placed with the tiles' origin in /tiles/index.json (RD, NAP and
// its exact ETRS89 lon/lat/ellipsoidal height from RDNAPTRANS2018): RD → lon/lat by the RD approximation formulas
// (Schreutelkamp & Strang van Hees) shifted to agree exactly at that origin (≤ 5 mm within a km of it), NAP → the
// ellipsoid by the origin's quasi-geoid height. Without an origin the footprint is extruded from the picked ground.

import { t, localized, formatNumber, onLanguageChange } from "./i18n.js";
import { el } from "./dom.js";
import { API, ApiError } from "./api.js";

const Cesium = window.Cesium;

export const PROCESS = "bouwplan-check";
const TIMEOUT_MS = 90_000;
// Clicks closer than this (m) to the previous corner are the same corner (a double click gives two clicks);
// closer than CLOSE_M to the first corner closes the ring.
const SAME_M = 0.2;
const CLOSE_M = 0.4;
// Below this the excess height says nothing (core.clash's tolerance is 5 cm): the excess is then beside it.
const HEIGHT_SHOWN_M = 0.05;
const DRAW_COLOUR = Cesium.Color.fromCssColorString("#ffd400");
const PLAN_COLOUR = Cesium.Color.fromCssColorString("#f2a900").withAlpha(0.5);
const EXCESS_COLOUR = Cesium.Color.fromCssColorString("#e01b1b").withAlpha(0.85);

// ---- RD New + NAP → Cesium ------------------------------------------------------------------------------

const K = [[0, 1, 3235.65389], [2, 0, -32.58297], [0, 2, -0.2475], [2, 1, -0.84978], [0, 3, -0.0655], [2, 2, -0.01709],
  [1, 0, -0.00738], [4, 0, 0.0053], [2, 3, -0.00039], [4, 1, 0.00033], [1, 1, -0.00012]];
const L = [[1, 0, 5260.52916], [1, 1, 105.94684], [1, 2, 2.45656], [3, 0, -0.81885], [1, 3, 0.05594], [3, 1, -0.05607],
  [0, 1, 0.01199], [3, 2, -0.00256], [1, 4, 0.00128], [0, 2, 0.00022], [2, 0, -0.00022], [5, 0, 0.00026]];

/** RD New x/y → [lon, lat] (degrees) by the approximation formulas (about 0.25 m off on their own). */
export function rdApprox(x, y) {
  const dx = (x - 155000) * 1e-5;
  const dy = (y - 463000) * 1e-5;
  const sum = (terms) => terms.reduce((s, [p, q, k]) => s + k * dx ** p * dy ** q, 0);
  return [5.38720621 + sum(L) / 3600, 52.1551744 + sum(K) / 3600];
}

/** (x, y, z NAP) → Cartesian3, exact at the origin of /tiles/index.json ({rd: [x, y, nap], lon, lat, height}). */
export function rdNapConverter(origin) {
  if (!origin || !Array.isArray(origin.rd) || ![origin.lon, origin.lat, origin.height].every(Number.isFinite)) return undefined;
  const [ox, oy, oz] = origin.rd;
  const [alon, alat] = rdApprox(ox, oy);
  const dlon = origin.lon - alon;
  const dlat = origin.lat - alat;
  const geoid = origin.height - oz; // the quasi-geoid height N there: h = NAP + N
  return (x, y, z) => {
    const [lon, lat] = rdApprox(x, y);
    return Cesium.Cartesian3.fromDegrees(lon + dlon, lat + dlat, z + geoid);
  };
}

/** A translucent Primitive of a CityJSON-like solid ({vertices, geometry: {type: "Solid", boundaries}}). */
function solidPrimitive(solid, toCartesian, colour) {
  const vertices = solid?.vertices;
  const shells = solid?.geometry?.boundaries;
  if (!Array.isArray(vertices) || !Array.isArray(shells)) return undefined;
  const triangles = [];
  for (const shell of shells) {
    for (const surface of shell ?? []) {
      const ring = surface?.[0] ?? [];
      for (let i = 1; i + 1 < ring.length; i++) triangles.push([ring[0], ring[i], ring[i + 1]]);
    }
  }
  if (!triangles.length) return undefined;
  const cartesians = vertices.map(([x, y, z]) => toCartesian(x, y, z));
  // each triangle its own corners, so the normals are the faces' (flat shading)
  const values = new Float64Array(triangles.length * 9);
  triangles.forEach((tri, i) => tri.forEach((v, j) => Cesium.Cartesian3.pack(cartesians[v], values, i * 9 + j * 3)));
  const geometry = new Cesium.Geometry({
    attributes: {
      position: new Cesium.GeometryAttribute({ componentDatatype: Cesium.ComponentDatatype.DOUBLE, componentsPerAttribute: 3, values }),
    },
    indices: Uint32Array.from({ length: triangles.length * 3 }, (_, i) => i),
    primitiveType: Cesium.PrimitiveType.TRIANGLES,
    boundingSphere: Cesium.BoundingSphere.fromVertices(values),
  });
  Cesium.GeometryPipeline.computeNormal(geometry);
  const primitive = new Cesium.Primitive({
    geometryInstances: new Cesium.GeometryInstance({ geometry, attributes: { color: Cesium.ColorGeometryInstanceAttribute.fromColor(colour) } }),
    appearance: new Cesium.PerInstanceColorAppearance({ translucent: colour.alpha < 1, closed: false }),
    asynchronous: false,
  });
  const centre = Cesium.Cartographic.fromCartesian(geometry.boundingSphere.center);
  primitive.stadsmodelCentre = [Cesium.Math.toDegrees(centre.longitude), Cesium.Math.toDegrees(centre.latitude), centre.height];
  return primitive;
}

// ---- the process ----------------------------------------------------------------------------------------

/** POSTs {inputs} to bouwplan-check; the raw answer. :raises ApiError: the server's reason (400) or a failure. */
export async function bouwplanCheck(inputs, { timeoutMs = TIMEOUT_MS } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(`${API}/processes/${PROCESS}/execution`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ inputs }),
      signal: controller.signal,
    });
  } catch (err) {
    throw new ApiError(err.name === "AbortError" ? t("whatif.timeout") : err.message, 0);
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the HTTP status below says what happened
  }
  if (!response.ok) {
    throw new ApiError(body?.description ?? body?.detail ?? body?.message ?? `HTTP ${response.status}`, response.status);
  }
  if (body && body.outputs && typeof body.outputs === "object") {
    const values = Object.values(body.outputs);
    return values.length === 1 ? values[0]?.value ?? values[0] : body.outputs;
  }
  if (body && "value" in body && "id" in body && Object.keys(body).length <= 3) return body.value;
  return body;
}

/** Corners typed as "lon, lat" (or "lon lat"), one a line or separated by ";": [[lon, lat], ...] or a message. */
export function parseCorners(text) {
  const points = [];
  for (const part of String(text).split(/[;\n]+/)) {
    const s = part.trim();
    if (!s) continue;
    const nums = s.split(/[\s,]+/).filter(Boolean).map(Number);
    if (nums.length !== 2 || !nums.every(Number.isFinite) || Math.abs(nums[0]) > 180 || Math.abs(nums[1]) > 90) {
      return { error: t("whatif.coords_bad", { line: s }) };
    }
    points.push(nums);
  }
  return { points };
}

// ---- the tool -------------------------------------------------------------------------------------------

function numberOf(input) {
  const v = input.value.trim() === "" ? NaN : input.valueAsNumber;
  return Number.isFinite(v) ? v : undefined;
}

export class WhatIf {
  /**
   * :param viewer: the Cesium viewer
   * :param selectedBuilding: () => the selected pand's identificatie (or undefined)
   * :param container: the element the tool is built in (index.html: section#whatif)
   */
  constructor(viewer, { selectedBuilding = () => undefined, container = document.getElementById("whatif") } = {}) {
    this.viewer = viewer;
    this.selectedBuilding = selectedBuilding;
    this.drawing = false;
    this.points = []; // Cartographic (radians, ellipsoidal height) of the corners
    this.plan = undefined; // {kind: "footprint", points} | {kind: "cityjson", cityjson, name}
    this.entities = [];
    this.primitives = [];
    this.answer = undefined;
    this.message = undefined; // {key, params, loading?}: an error or a hint shown instead of an answer
    this.requests = 0;
    this.origin = undefined;
    if (!container) return;
    this.build(container);
    this.doubleClick = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
    this.doubleClick.setInputAction(() => this.drawing && this.finish(), Cesium.ScreenSpaceEventType.LEFT_DOUBLE_CLICK);
    this.onKey = (e) => this.key(e);
    document.addEventListener("stadsmodel:panel", () => this.showPand());
    onLanguageChange(() => this.refresh());
    this.refresh();
  }

  build(container) {
    const field = (id, key, attrs) => [
      el("label", { for: id, "data-i18n": key, text: t(key) }),
      el("input", { id, type: "number", step: "any", inputmode: "decimal", ...attrs }),
    ];
    this.drawButton = el("button", { id: "whatif-draw", type: "button", "aria-pressed": "false", "aria-describedby": "whatif-draw-status", onclick: () => (this.drawing ? this.cancel() : this.start()) });
    this.finishButton = el("button", { id: "whatif-finish", type: "button", disabled: true, "data-i18n": "whatif.finish", text: t("whatif.finish"), onclick: () => this.finish() });
    this.drawStatus = el("p", { id: "whatif-draw-status", class: "hint", "aria-live": "polite" });
    this.coords = el("textarea", { id: "whatif-coords", rows: "3", spellcheck: "false", "aria-describedby": "whatif-coords-hint" });
    const coordsBox = el("details", { class: "whatif-coords" },
      el("summary", { "data-i18n": "whatif.coords_title", text: t("whatif.coords_title") }),
      el("label", { for: "whatif-coords", "data-i18n": "whatif.coords_label", text: t("whatif.coords_label") }),
      el("p", { id: "whatif-coords-hint", class: "hint", "data-i18n": "whatif.coords_hint", text: t("whatif.coords_hint") }),
      this.coords,
      el("button", { id: "whatif-coords-use", type: "button", "data-i18n": "whatif.coords_use", text: t("whatif.coords_use"), onclick: () => this.useCorners() }));
    const [hoogteLabel, hoogte] = field("whatif-hoogte", "whatif.hoogte", { min: "0", max: "300" });
    const [gootLabel, goot] = field("whatif-goot", "whatif.goothoogte", { min: "0", max: "300" });
    const [dakLabel, dak] = field("whatif-dak", "whatif.dakhelling", { min: "0", max: "90" });
    Object.assign(this, { hoogte, goot, dak });
    this.aanbouw = el("input", { id: "whatif-aanbouw", type: "checkbox", "aria-describedby": "whatif-pand", onfocus: () => this.showPand(), onchange: () => this.showPand() });
    this.pandHint = el("p", { id: "whatif-pand", class: "hint" });
    this.file = el("input", { id: "whatif-file", type: "file", accept: ".json,.city.json,application/json", "aria-describedby": "whatif-file-status", onchange: () => this.readFile() });
    this.fileStatus = el("p", { id: "whatif-file-status", class: "hint", "aria-live": "polite" });
    this.submitButton = el("button", { id: "whatif-submit", type: "submit", "data-i18n": "whatif.submit", text: t("whatif.submit") });
    this.form = el("form", { id: "whatif-form", class: "whatif-form", novalidate: true, onsubmit: (e) => { e.preventDefault(); this.submit(); } },
      hoogteLabel, hoogte, gootLabel, goot, dakLabel, dak,
      el("label", { class: "check" }, this.aanbouw, " ", el("span", { "data-i18n": "whatif.aanbouw", text: t("whatif.aanbouw") })),
      this.pandHint,
      el("label", { for: "whatif-file", "data-i18n": "whatif.upload", text: t("whatif.upload") }),
      this.file, this.fileStatus,
      this.submitButton,
      el("button", { id: "whatif-clear", type: "button", "data-i18n": "whatif.clear", text: t("whatif.clear"), onclick: () => this.clear() }));
    this.result = el("div", { id: "whatif-result", class: "whatif-result", "aria-live": "polite" });
    container.replaceChildren(
      el("h2", { id: "whatif-title", "data-i18n": "whatif.title", text: t("whatif.title") }),
      el("p", { class: "hint", "data-i18n": "whatif.intro", text: t("whatif.intro") }),
      this.drawButton, this.finishButton, this.drawStatus, coordsBox, this.form, this.result);
  }

  // ---- drawing --------------------------------------------------------------------------------------------

  start() {
    this.clear();
    this.drawing = true;
    this.points = [];
    this.viewer.canvas.style.cursor = "crosshair";
    document.addEventListener("keydown", this.onKey, true);
    this.status("whatif.drawing");
    this.refresh();
  }

  stop() {
    this.drawing = false;
    this.viewer.canvas.style.cursor = "";
    document.removeEventListener("keydown", this.onKey, true);
  }

  /** Escape: the corners drawn so far are dropped. */
  cancel() {
    this.stop();
    this.points = [];
    this.redraw();
    this.status("whatif.cancelled");
    this.refresh();
  }

  key(e) {
    if (!this.drawing) return;
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      this.cancel();
      this.drawButton.focus();
    } else if (e.key === "Enter" && (e.target === this.drawButton || !e.target.closest?.("input, textarea, select, button, summary, a"))) {
      // (on the draw button itself Enter finishes too, instead of pressing it, which would stop the drawing)
      e.preventDefault();
      this.finish();
    }
  }

  /** A click on the map (main.js onClick): a corner while drawing. Returns whether the click was taken. */
  handleClick(position) {
    if (!this.drawing || !position) return false;
    this.addCorner(Cesium.Cartographic.fromCartesian(position));
    return true;
  }

  addCorner(carto) {
    const here = Cesium.Cartographic.toCartesian(carto);
    const last = this.points.at(-1);
    if (last && Cesium.Cartesian3.distance(here, Cesium.Cartographic.toCartesian(last)) < SAME_M) return;
    if (this.points.length >= 3 && Cesium.Cartesian3.distance(here, Cesium.Cartographic.toCartesian(this.points[0])) < CLOSE_M) {
      this.finish();
      return;
    }
    this.points.push(carto);
    this.redraw();
    this.status("whatif.corners", { count: this.points.length });
    this.refresh();
  }

  /** The typed corners, through the same path as clicks (heights from the model's surface there). */
  useCorners() {
    const { points, error } = parseCorners(this.coords.value);
    if (error) return this.status(null, {}, error);
    if (points.length < 3) return this.status("whatif.need_three");
    if (!this.drawing) this.start();
    for (const [lon, lat] of points) {
      const c = Cesium.Cartographic.fromDegrees(lon, lat);
      let h;
      try {
        h = this.viewer.scene.sampleHeight(c);
      } catch {
        h = undefined; // sampleHeight needs a rendered scene; the corner is then drawn at the origin's height
      }
      c.height = Number.isFinite(h) ? h : this.origin?.height ?? 0;
      this.addCorner(c);
    }
    if (this.drawing) this.finish();
  }

  finish() {
    if (!this.drawing) return;
    if (this.points.length < 3) {
      this.status("whatif.need_three");
      return;
    }
    this.stop();
    this.plan = { kind: "footprint", points: this.points.slice() };
    this.file.value = "";
    this.fileStatus.textContent = "";
    this.redraw();
    this.status("whatif.drawn", { count: this.points.length });
    this.refresh();
    this.hoogte.focus();
  }

  /** The corners drawn (or the finished footprint) as entities: points, outline, a translucent fill. */
  redraw() {
    for (const e of this.entities) this.viewer.entities.remove(e);
    this.entities = [];
    const positions = this.points.map((c) => Cesium.Cartesian3.fromRadians(c.longitude, c.latitude, c.height + 0.05));
    for (const position of positions) {
      this.entities.push(this.viewer.entities.add({ position, point: { pixelSize: 8, color: DRAW_COLOUR, outlineColor: Cesium.Color.BLACK, outlineWidth: 1, disableDepthTestDistance: Number.POSITIVE_INFINITY } }));
    }
    if (positions.length >= 2) {
      const closed = positions.length >= 3 ? [...positions, positions[0]] : positions;
      this.entities.push(this.viewer.entities.add({ name: "whatif-outline", polyline: { positions: closed, width: 2, material: DRAW_COLOUR, depthFailMaterial: DRAW_COLOUR.withAlpha(0.5) } }));
    }
    if (positions.length >= 3 && !this.primitives.length) {
      this.entities.push(this.viewer.entities.add({ name: "whatif-footprint", polygon: { hierarchy: positions, perPositionHeight: true, material: DRAW_COLOUR.withAlpha(0.35) } }));
    }
    this.viewer.scene.requestRender();
  }

  // ---- upload ---------------------------------------------------------------------------------------------

  readFile() {
    const file = this.file.files?.[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onerror = () => this.fileError(reader.error?.message ?? "?", file.name);
    reader.onload = () => {
      let cityjson;
      try {
        cityjson = JSON.parse(String(reader.result));
      } catch (err) {
        this.fileError(err.message, file.name);
        return;
      }
      if (!cityjson || typeof cityjson !== "object" || Array.isArray(cityjson)) {
        this.fileError(t("whatif.file_not_object"), file.name);
        return;
      }
      if (this.drawing) this.stop();
      this.points = [];
      this.redraw();
      this.plan = { kind: "cityjson", cityjson, name: file.name };
      this.fileStatus.textContent = t("whatif.file_read", { name: file.name });
      this.message = undefined;
      this.refresh();
    };
    reader.readAsText(file);
  }

  fileError(message, name) {
    if (this.plan?.kind === "cityjson") this.plan = undefined;
    this.fileStatus.textContent = "";
    this.message = { key: "whatif.file_bad", params: { name, message } };
    this.answer = undefined;
    this.refresh();
    this.reveal();
  }

  /** The answer or message in view (the tools column scrolls); screen readers hear it from the live region. */
  reveal() {
    this.result.scrollIntoView({ block: "nearest" });
  }

  // ---- the check ------------------------------------------------------------------------------------------

  /** The process inputs for the current plan, or {error: {key, params}}. */
  inputs() {
    if (!this.plan) return { error: { key: this.drawing ? "whatif.finish_first" : "whatif.no_plan" } };
    const inputs = { activities: [] }; // the envelope only: the permit checks are the location check's
    if (this.plan.kind === "cityjson") {
      inputs.cityjson = this.plan.cityjson;
    } else {
      const ring = this.plan.points.map((c) => [
        Number(Cesium.Math.toDegrees(c.longitude).toFixed(8)), Number(Cesium.Math.toDegrees(c.latitude).toFixed(8))]);
      ring.push(ring[0].slice());
      const hoogte = numberOf(this.hoogte);
      if (hoogte === undefined) return { error: { key: "whatif.need_hoogte" } };
      inputs.footprint = { type: "Polygon", coordinates: [ring] };
      inputs.hoogte = hoogte;
      const goot = numberOf(this.goot);
      const dak = numberOf(this.dak);
      if (goot !== undefined) inputs.goothoogte = goot;
      if (dak !== undefined) inputs.dakhelling = dak;
    }
    if (this.aanbouw.checked) {
      const pand = this.selectedBuilding();
      if (!pand) return { error: { key: "whatif.need_pand" } };
      inputs.pand = pand;
    }
    return { inputs };
  }

  async submit() {
    const { inputs, error } = this.inputs();
    this.answer = undefined;
    if (error) {
      this.message = error;
      this.refresh();
      this.reveal();
      return undefined;
    }
    const counter = ++this.requests;
    this.message = { key: "whatif.checking", loading: true };
    this.refresh();
    try {
      const [answer] = await Promise.all([bouwplanCheck(inputs), this.loadOrigin()]);
      if (counter !== this.requests) return undefined;
      this.answer = answer;
      this.message = undefined;
      this.drawAnswer(answer, inputs);
    } catch (err) {
      if (counter !== this.requests) return undefined;
      console.warn(`${PROCESS}: ${err.message}`);
      this.message = { key: err.status === 400 ? "whatif.refused" : "whatif.failed", params: { message: err.message } };
      this.removeSolids();
      this.redraw();
    }
    this.refresh();
    this.reveal();
    return this.answer;
  }

  async loadOrigin() {
    if (this.origin !== undefined) return this.origin;
    try {
      const response = await fetch("/tiles/index.json");
      this.origin = response.ok ? (await response.json()).origin ?? null : null;
    } catch {
      this.origin = null;
    }
    return this.origin;
  }

  removeSolids() {
    for (const p of this.primitives) this.viewer.scene.primitives.remove(p);
    this.primitives = [];
  }

  /** The checked solid (translucent) and the excess (red); without an origin the footprint extruded. */
  drawAnswer(answer, inputs) {
    this.removeSolids();
    const toCartesian = rdNapConverter(this.origin);
    if (toCartesian) {
      const add = (solid, colour, kind) => {
        const p = solidPrimitive(solid, toCartesian, colour);
        if (p) {
          p.stadsmodelKind = kind;
          this.primitives.push(this.viewer.scene.primitives.add(p));
        }
      };
      add(answer?.plan?.solid, PLAN_COLOUR, "plan");
      add(answer?.bouwenvelop?.excess_solid, EXCESS_COLOUR, "excess");
    }
    this.redraw();
    if (!toCartesian && inputs.footprint && this.points.length >= 3) {
      const base = Math.min(...this.points.map((c) => c.height));
      this.entities.push(this.viewer.entities.add({ name: "whatif-plan", polygon: {
        hierarchy: this.points.map((c) => Cesium.Cartesian3.fromRadians(c.longitude, c.latitude)),
        height: base, extrudedHeight: base + inputs.hoogte, material: PLAN_COLOUR } }));
    }
    this.viewer.scene.requestRender();
  }

  /** "Wissen": no drawing, no plan, no answer (nothing was stored anywhere). */
  clear() {
    if (this.drawing) this.stop();
    this.requests += 1;
    this.points = [];
    this.plan = undefined;
    this.answer = undefined;
    this.message = undefined;
    this.file.value = "";
    this.fileStatus.textContent = "";
    this.removeSolids();
    this.redraw();
    this.status(null);
    this.refresh();
  }

  // ---- texts ----------------------------------------------------------------------------------------------

  status(key, params = {}, text = undefined) {
    this.statusKey = key ? { key, params } : undefined;
    this.drawStatus.textContent = text ?? (key ? t(key, params) : "");
  }

  showPand() {
    const pand = this.selectedBuilding();
    this.pandHint.textContent = pand ? t("whatif.pand", { pand }) : t("whatif.no_pand");
  }

  /** For tests and the console: what is drawn and shown. */
  state() {
    return {
      drawing: this.drawing,
      corners: this.points.length,
      plan: this.plan?.kind ?? null,
      solids: this.primitives.map((p) => p.stadsmodelKind),
      centres: this.primitives.map((p) => p.stadsmodelCentre), // [lon, lat, ellipsoidal h] of each solid's bounding sphere
      entities: this.entities.length,
      fits: this.answer ? this.answer.fits : null,
      requests: this.requests,
    };
  }

  refresh() {
    this.drawButton.textContent = t(this.drawing ? "whatif.draw_stop" : "whatif.draw");
    this.drawButton.setAttribute("aria-pressed", String(this.drawing));
    this.finishButton.disabled = !(this.drawing && this.points.length >= 3);
    if (this.statusKey) this.drawStatus.textContent = t(this.statusKey.key, this.statusKey.params);
    if (this.plan?.kind === "cityjson") this.fileStatus.textContent = t("whatif.file_read", { name: this.plan.name });
    this.showPand();
    this.result.replaceChildren(...this.resultNodes().filter(Boolean));
    this.result.dataset.fits = this.answer ? String(this.answer.fits) : "";
    this.result.dataset.state = this.answer ? "answer" : this.message?.loading ? "loading" : this.message ? "message" : "";
  }

  resultNodes() {
    if (this.message) {
      const text = t(this.message.key, this.message.params ?? {});
      return [el("p", { class: this.message.loading ? "loading" : "error whatif-message", text })];
    }
    const a = this.answer;
    if (!a) return [];
    const b = a.bouwenvelop ?? {};
    const cls = a.fits === true ? "binnen" : a.fits === false ? "overschrijding" : "onbekend";
    const verdict = el("p", { class: `whatif-verdict compliance compliance-${cls}` },
      el("span", { class: "badge", text: t(`compliance.status.${cls}`) }), " ",
      el("span", { class: "whatif-verdict-text", text: verdictText(a) }));
    const facts = el("dl", { class: "facts" });
    const fact = (key, value) => value !== undefined && facts.append(el("dt", { text: t(key) }), el("dd", { text: value }));
    const p = a.plan ?? {};
    if (typeof p.volume_m3 === "number") fact("whatif.fact.volume", `${formatNumber(p.volume_m3, 1)} m³`);
    if (typeof p.footprint_area_m2 === "number") fact("whatif.fact.area", `${formatNumber(p.footprint_area_m2, 1)} m²`);
    if (typeof p.maaiveld_nap === "number") {
      const bron = localized(p.maaiveld_bron);
      fact("whatif.fact.maaiveld", `${formatNumber(p.maaiveld_nap, 2)} m NAP${bron ? ` (${bron})` : ""}`);
    }
    const limits = (Array.isArray(b.envelopes) ? b.envelopes : []).map((e) => [
      typeof e.max_bouwhoogte === "number" ? t("envelope.max_bouwhoogte", { value: formatNumber(e.max_bouwhoogte, 1) }) : undefined,
      typeof e.max_goothoogte === "number" ? t("envelope.max_goothoogte", { value: formatNumber(e.max_goothoogte, 1) }) : undefined,
      typeof e.max_dakhelling === "number" ? t("envelope.max_dakhelling", { value: formatNumber(e.max_dakhelling, 0) }) : undefined,
    ].filter(Boolean).join(", ")).filter(Boolean);
    if (limits.length) fact("whatif.fact.allowed", [...new Set(limits)].join("; "));
    const notes = (Array.isArray(a.notes) ? a.notes : []).map(localized).filter(Boolean);
    return [
      verdict, facts,
      notes.length ? el("ul", { class: "whatif-notes note" }, notes.map((n) => el("li", { text: n }))) : null,
      el("p", { class: "hint", text: t("whatif.not_stored") }),
    ];
  }
}

/** "Past binnen de bouwenvelop" / "Steekt 2,05 m boven de bouwenvelop uit, 32,8 m³" / the reason. */
export function verdictText(answer) {
  const b = answer?.bouwenvelop ?? {};
  if (answer?.fits === true) return t("whatif.fits");
  if (answer?.fits === false) {
    const volume = formatNumber(typeof b.excess_volume_m3 === "number" ? b.excess_volume_m3 : 0, 1);
    if (typeof b.max_excess_height_m === "number" && b.max_excess_height_m >= HEIGHT_SHOWN_M) {
      return t("whatif.exceeds", { height: formatNumber(b.max_excess_height_m, 2), volume });
    }
    return t("whatif.exceeds_beside", { volume });
  }
  const reason = localized(b.reason);
  return reason ? t("whatif.unknown_because", { reason }) : t("whatif.unknown");
}
