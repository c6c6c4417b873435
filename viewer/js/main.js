// The viewer's entry point: builds the scene, wires the controls and exposes window.stadsmodel, a small
// API that tests, benchmarks and the browser console use (ready/tilesLoaded promises, selection,
// screen positions of coordinates, timings).

import * as api from "./api.js";
import { loadLanguages, setLanguage, language, onLanguageChange, t, has, localized } from "./i18n.js";
import { createViewer, loadTilesets, switchBuildingLod, whenTilesLoaded, renderAfterMoves, viewDistrict, districtSphere, sphereBbox, windowPositionOf } from "./scene.js";
import { loadStyles, setBuildingsTileset, styleCatalogue, applyStyle, activeStyle, legendOf } from "./styling.js";
import { Overlays } from "./overlays.js";
import { Panel, complianceStatus } from "./panel.js";
import { searchAddresses } from "./search.js";
import { interiorPoint } from "./geometry.js";
import { readHash, writeHash, cameraState, setCamera } from "./permalink.js";
import { Shadows } from "./shadows.js";
import { Measure } from "./measure.js";
import { ComplianceView } from "./compliance.js";
import { WhatIf } from "./whatif.js";
import { REGELS, searchArticles } from "./articles.js";
import { BouwmassaLayer, LAYER_ID as BOUWMASSA } from "./envelopes.js";

const Cesium = window.Cesium;

// Building properties copied from the tile feature into the panel straight away (no request needed).
const FEATURE_FACTS = [
  "identificatie", "oorspronkelijkbouwjaar", "status", "gebruiksdoel", "aantal_verblijfsobjecten",
  "b3_h_maaiveld", "b3_h_dak_min", "b3_h_dak_50p", "b3_h_dak_70p", "b3_h_dak_max", "b3_reconstructie_onvolledig",
  "b3_dak_type", "b3_h_goot", "b3_h_nok", "b3_lod_gereconstrueerd",
];

const app = {
  viewer: undefined,
  tilesets: {},
  buildingLods: {}, // per LoD ("2.2", "1.2") its building tileset; tilesets.buildings is the one shown
  lod: undefined, // the LoD shown
  defaultLod: undefined,
  overlays: undefined,
  panel: undefined,
  selection: undefined, // {lon, lat, building, activity, gevel}
  answers: {}, // per activity id: {question id: answer}, sent nested as the location check accepts
  pickingGevel: false, // "Kies gevel" pressed: the next click on the map picks the wall
  highlighted: undefined, // {feature, color}
  checkCounter: 0,
  timings: {},
};

let resolveReady;
let rejectReady;
const ready = new Promise((resolve, reject) => {
  resolveReady = resolve;
  rejectReady = reject;
});
let resolveFirstFrame;
const firstFrame = new Promise((resolve) => {
  resolveFirstFrame = resolve;
});

function mapStatus(text) {
  document.getElementById("map-status").textContent = text;
}

// ---- selection --------------------------------------------------------------------------------

function featureFacts(feature) {
  if (!feature) return undefined;
  const facts = {};
  for (const key of FEATURE_FACTS) {
    const value = feature.getProperty(key);
    if (value !== undefined && value !== null) facts[key] = typeof value === "bigint" ? Number(value) : value;
  }
  return facts.identificatie ? facts : undefined;
}

function highlight(feature) {
  if (app.highlighted) {
    try {
      app.highlighted.feature.color = app.highlighted.color;
    } catch {
      // the tile was unloaded meanwhile; nothing to restore
    }
    app.highlighted = undefined;
  }
  if (feature) {
    app.highlighted = { feature, color: Cesium.Color.clone(feature.color) };
    feature.color = Cesium.Color.fromCssColorString("#ffd400");
  }
  app.viewer.scene.requestRender();
}

function findBuildingFeature(id) {
  const tileset = app.tilesets.buildings;
  if (!tileset?.root || !id) return undefined;
  const stack = [tileset.root];
  while (stack.length) {
    const tile = stack.pop();
    if (tile.contentReady) {
      const content = tile.content;
      for (let i = 0; i < content.featuresLength; i++) {
        const f = content.getFeature(i);
        if (f.getProperty("identificatie") === id) return f;
      }
    }
    stack.push(...tile.children);
  }
  return undefined;
}

/**
 * Selects a spot: shows what the tiles know at once, then asks the location-check process.
 * :param where: {lon, lat, building?, activity?}
 * :param feature: the picked building feature, if any
 */
async function select(where, feature) {
  const started = performance.now();
  const feat = feature ?? findBuildingFeature(where.building);
  const facts = featureFacts(feat);
  // Answers and the picked wall belong to a spot: a new spot starts without them.
  const sameSpot = app.selection && app.selection.lon === where.lon && app.selection.lat === where.lat;
  if (!sameSpot) app.answers = {};
  app.selection = { lon: where.lon, lat: where.lat, building: facts?.identificatie ?? where.building, activity: where.activity, address: where.address, gevel: sameSpot ? where.gevel : undefined };
  highlight(feat);
  updateHash();
  app.panel.showLoading(facts, app.selection);
  const counter = ++app.checkCounter;
  const requested = performance.now();
  app.timings.beforeRequestMs = requested - started;
  try {
    const result = await api.locationCheck({
      lon: where.lon,
      lat: where.lat,
      activity: app.selection.activity,
      // one activity: its own answers; all of them: per activity (the location check accepts both)
      answers: app.selection.activity ? app.answers[app.selection.activity] : app.answers,
      gevel: app.selection.gevel,
    });
    if (counter !== app.checkCounter) return; // a newer click won
    const answered = performance.now();
    app.timings.requestMs = answered - requested;
    app.panel.showResult(result, facts, app.selection);
    app.timings.panelMs = performance.now() - answered;
    // The panel first: re-colouring the scene costs a whole frame (hundreds of ms on a software renderer), and a
    // frame requested before the panel is on screen delays the panel by that frame. It follows the panel.
    afterShown("panel-rules", answered, () => {
      if (counter !== app.checkCounter) return;
      app.compliance?.show(result, facts);
      app.bouwmassa?.showExcessOf(result.building?.bouwenvelop?.status === "overschrijdt" ? result.building.identificatie : undefined);
    });
    app.timings.clickToPanelMs = performance.now() - started;
    app.lastResult = result;
  } catch (err) {
    if (counter !== app.checkCounter) return;
    console.warn(`location-check: ${err.message}`);
    app.panel.showError(err.message, facts, app.selection);
    app.timings.clickToPanelMs = performance.now() - started;
  }
  document.dispatchEvent(new CustomEvent("stadsmodel:panel", { detail: { selection: app.selection } }));
}

/**
 * Runs `fn` once the browser has put on screen the element marked `elementtiming="<identifier>"` that was painted
 * after `since` (Element Timing: the paint's presentation, not just a frame callback). Where the API is missing,
 * after the next frame; where nothing is reported within a second (the panel collapsed or scrolled away), then.
 */
function afterShown(identifier, since, fn) {
  if (!PerformanceObserver.supportedEntryTypes?.includes("element")) {
    requestAnimationFrame(() => setTimeout(fn, 0));
    return;
  }
  let done = false;
  const observer = new PerformanceObserver((list) => {
    if (list.getEntries().some((e) => e.identifier === identifier && e.renderTime >= since)) run();
  });
  const run = () => {
    if (done) return;
    done = true;
    observer.disconnect();
    fn();
  };
  observer.observe({ type: "element", buffered: true });
  setTimeout(run, 1000);
}

function clearSelection() {
  app.selection = undefined;
  app.pickingGevel = false;
  app.checkCounter += 1;
  highlight(undefined);
  app.compliance?.clear();
  app.bouwmassa?.showExcessOf(undefined);
  app.panel.showIntro();
  updateHash();
}

function pickAt(windowPosition) {
  const scene = app.viewer.scene;
  const picked = scene.pick(windowPosition);
  let position = scene.pickPositionSupported ? scene.pickPosition(windowPosition) : undefined;
  if (!position) position = app.viewer.camera.pickEllipsoid(windowPosition);
  const feature =
    picked instanceof Cesium.Cesium3DTileFeature && picked.tileset === app.tilesets.buildings ? picked : undefined;
  return { position, feature };
}

function onClick(event) {
  const pickStarted = performance.now();
  const { position, feature } = pickAt(event.position);
  // where a click's time goes (bench/viewer.py prints it): picking, before the request, the request, the panel
  Object.assign(app.timings, { clickHandledAt: pickStarted, pickMs: performance.now() - pickStarted });
  if (!position) return;
  if (app.whatif?.handleClick(position)) return; // "Wat als?": a corner of the footprint being drawn
  if (app.measure.active) {
    app.measure.addPoint(position);
    return;
  }
  const c = Cesium.Cartographic.fromCartesian(position);
  const lon = Cesium.Math.toDegrees(c.longitude);
  const lat = Cesium.Math.toDegrees(c.latitude);
  if (app.pickingGevel && app.selection) {
    // The wall point goes with the same location (CRS84 lon/lat, like it); the panel's button is the next focus.
    app.pickingGevel = false;
    mapStatus("");
    app.panel.focusNext = "vc-gevel-button";
    select({ ...app.selection, gevel: { type: "Point", coordinates: [lon, lat] } });
    return;
  }
  select({ lon, lat, activity: app.selection?.activity }, feature);
}

/** "Kies gevel": toggles waiting for a click on a wall of the selected building. */
function pickGevel() {
  app.pickingGevel = !app.pickingGevel;
  mapStatus(app.pickingGevel ? t("vc.pick_gevel_now") : "");
  const button = document.getElementById("vc-gevel-button");
  if (button) button.setAttribute("aria-pressed", String(app.pickingGevel));
}

function checkCentre() {
  const canvas = app.viewer.canvas;
  const { position, feature } = pickAt(new Cesium.Cartesian2(canvas.clientWidth / 2, canvas.clientHeight / 2));
  if (!position) {
    mapStatus(t("map.nothing_here"));
    return;
  }
  const c = Cesium.Cartographic.fromCartesian(position);
  select({ lon: Cesium.Math.toDegrees(c.longitude), lat: Cesium.Math.toDegrees(c.latitude), activity: app.selection?.activity }, feature);
}

// ---- permalink --------------------------------------------------------------------------------

function updateHash() {
  if (!app.viewer) return;
  writeHash({
    camera: cameraState(app.viewer.camera),
    selection: app.selection,
    style: activeStyle() !== "standaard" ? activeStyle() : undefined,
    lod: app.lod !== app.defaultLod ? app.lod : undefined,
    lang: language(),
    layers: shownLayers(),
  });
}

function shownLayers() {
  const tiles = Object.entries(app.tilesets).filter(([kind, ts]) => ts.show && !grouped(kind)).map(([kind]) => kind);
  return [...tiles, ...(app.bouwmassa?.isShown() ? [BOUWMASSA] : []), ...(app.overlays?.shownIds() ?? [])];
}

/** A tileset shown through a layer of several (the envelopes and excess of "Toegestane bouwmassa"). */
function grouped(kind) {
  return BouwmassaLayer.kinds().includes(kind);
}

async function restoreFromHash(state, { fitIfNoCamera }) {
  if (state.lang) {
    setLanguage(state.lang);
    document.getElementById("lang-select").value = language();
  }
  if (state.style) selectStyle(state.style, false);
  setLod(state.lod ?? app.defaultLod, false);
  if (state.layers) {
    for (const [kind, ts] of Object.entries(app.tilesets)) if (!grouped(kind)) ts.show = state.layers.includes(kind);
    app.bouwmassa?.setShown(state.layers.includes(BOUWMASSA));
    for (const o of app.overlays.list()) await app.overlays.setShown(o.id, state.layers.includes(o.id));
    renderLayerList();
  }
  if (state.camera) setCamera(app.viewer.camera, state.camera);
  else if (fitIfNoCamera) viewDistrict(app.viewer, app.tilesets);
  app.viewer.scene.requestRender();
  if (state.selection) {
    // The building's feature may only be pickable once its tile is in; wait for the view to load.
    await whenTilesLoaded(app.viewer, app.tilesets);
    await select(state.selection);
  }
}

// ---- controls ---------------------------------------------------------------------------------

function renderLayerList() {
  const list = document.getElementById("layer-list");
  const rows = [];
  const row = (id, label, checked, onChange) => {
    const input = Object.assign(document.createElement("input"), { type: "checkbox", id: `layer-${id}`, checked });
    input.addEventListener("change", () => onChange(input.checked));
    const lab = Object.assign(document.createElement("label"), { htmlFor: input.id, textContent: label, className: "check" });
    lab.prepend(input, " ");
    const li = document.createElement("li");
    li.append(lab);
    rows.push(li);
  };
  for (const [kind, ts] of Object.entries(app.tilesets)) {
    if (grouped(kind)) continue;
    row(kind, has(`layers.${kind}`) ? t(`layers.${kind}`) : kind, ts.show, (on) => {
      ts.show = on;
      app.viewer.scene.requestRender();
      updateHash();
    });
  }
  if (app.bouwmassa?.available()) {
    row(BOUWMASSA, t("layers.bouwmassa"), app.bouwmassa.isShown(), (on) => {
      app.bouwmassa.setShown(on);
      mapStatus(on ? t("layers.shown", { name: t("layers.bouwmassa") }) : "");
      updateHash();
    });
    // what the two colours are, in words (not by colour alone)
    const hint = Object.assign(document.createElement("span"), { id: "layer-bouwmassa-hint", className: "hint", textContent: t("layers.bouwmassa_hint") });
    rows.at(-1).append(hint);
    rows.at(-1).querySelector("input").setAttribute("aria-describedby", hint.id);
  }
  for (const o of app.overlays?.list() ?? []) {
    row(o.id, t(o.label), app.overlays.isShown(o.id), async (on) => {
      mapStatus(on ? t("layers.loading", { name: t(o.label) }) : "");
      try {
        await app.overlays.setShown(o.id, on);
        mapStatus(on ? t("layers.shown", { name: t(o.label) }) : "");
      } catch (err) {
        mapStatus(t("layers.failed", { name: t(o.label), message: err.message }));
      }
      updateHash();
    });
  }
  list.replaceChildren(...rows);
}

// ---- building LoD -----------------------------------------------------------------------------

/** LoDs of the building tilesets, the most detailed first. */
function lods() {
  return Object.keys(app.buildingLods).sort((a, b) => Number(b) - Number(a));
}

function renderLodSelect() {
  const control = document.getElementById("lod-control");
  const select = document.getElementById("lod-select");
  control.hidden = lods().length < 2;
  select.replaceChildren(
    ...lods().map((lod) => Object.assign(document.createElement("option"), { value: lod, textContent: has(`lod.${lod}`) ? t(`lod.${lod}`) : `LoD ${lod}` })),
  );
  if (app.lod) select.value = app.lod;
}

/** Shows the buildings in another LoD; the style, the compliance colours and the highlight follow. */
function setLod(lod, hash = true) {
  if (!app.buildingLods[lod] || lod === app.lod) return;
  const selected = app.highlighted ? app.selection?.building : undefined;
  highlight(undefined);
  setBuildingsTileset(switchBuildingLod(app.viewer, app.tilesets, app.buildingLods, lod));
  app.lod = lod;
  document.getElementById("lod-select").value = lod;
  if (selected) {
    whenTilesLoaded(app.viewer, app.tilesets).then(() => {
      if (app.lod === lod && app.selection?.building === selected) highlight(findBuildingFeature(selected));
    });
  }
  if (hash) updateHash();
}

function renderStyles() {
  const select = document.getElementById("style-select");
  select.replaceChildren(
    ...styleCatalogue().map((s) => Object.assign(document.createElement("option"), { value: s.id, textContent: t(s.label) })),
  );
  select.value = activeStyle();
  renderLegend();
}

function renderLegend() {
  const legend = document.getElementById("legend");
  const entries = legendOf(activeStyle());
  if (!entries.length) {
    legend.replaceChildren();
    return;
  }
  const ul = document.createElement("ul");
  ul.className = "legend-list";
  ul.setAttribute("aria-label", t("style.legend"));
  for (const e of entries) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = e.color;
    swatch.setAttribute("aria-hidden", "true");
    li.append(swatch, e.label);
    ul.append(li);
  }
  legend.replaceChildren(ul);
}

async function selectStyle(id, hash = true) {
  const applied = applyStyle(id);
  document.getElementById("style-select").value = applied;
  if (applied === "compliance" && app.compliance) {
    const done = await app.compliance.computeDistrict((n) => mapStatus(t("style.computing", { done: n })));
    if (done !== undefined) mapStatus(t("style.computed", { done }));
  }
  renderLegend();
  if (hash) updateHash();
}

/** What the search field looks for: "adres" (the addresses) or "regels" (the plans' articles, q=). */
function searchKind() {
  return document.getElementById("search-kind").value;
}

/** The search field's label, placeholder and hint for the chosen kind. */
function applySearchKind() {
  const regels = searchKind() === "regels";
  document.getElementById("search-label").textContent = t(regels ? "search.label_regels" : "search.label");
  document.getElementById("search-input").setAttribute("placeholder", t(regels ? "search.placeholder_regels" : "search.placeholder"));
  document.getElementById("search-hint").textContent = t(regels ? "search.hint_regels" : "search.hint");
}

/** The full-text search over the plans' articles (the regels collection); the panel lists what it found. */
async function runArticleSearch(query) {
  const status = document.getElementById("panel-status");
  status.textContent = t("search.searching");
  try {
    app.panel.showArticles(query, await searchArticles(query, api.items));
  } catch (err) {
    app.panel.showError(err.message);
  }
}

async function runSearch(query, kind = searchKind()) {
  const status = document.getElementById("panel-status");
  if (!query.trim()) return;
  if (kind === "regels") return runArticleSearch(query);
  status.textContent = t("search.searching");
  let found;
  try {
    found = await searchAddresses(query, api.items);
  } catch (err) {
    app.panel.showError(err.message);
    return;
  }
  if (!found.length) {
    app.panel.showError(t("search.none", { query }));
    status.textContent = t("search.none", { query });
    return;
  }
  if (found.length === 1) {
    await goToAddress(found[0]);
    return;
  }
  app.panel.showChoices(
    "search.choose",
    found.map((a) => ({ label: a.label, onSelect: () => goToAddress(a) })),
  );
}

async function goToAddress(address) {
  const viewer = app.viewer;
  // An address point may lie on the façade; ask about a point well inside its pand instead.
  let where = { lon: address.lon, lat: address.lat };
  const pandId = address.properties.pand_identificatie;
  if (pandId) {
    try {
      const pand = await api.item("buildings", pandId);
      const inside = interiorPoint(pand.geometry);
      if (inside) where = { lon: inside[0], lat: inside[1] };
    } catch (err) {
      console.warn(`pand ${pandId} of ${address.label}: ${err.message}`);
    }
  }
  const target = Cesium.Cartesian3.fromDegrees(where.lon, where.lat, 0);
  const ground = viewer.scene.clampToHeight(target) ?? target;
  await new Promise((resolve) =>
    viewer.camera.flyToBoundingSphere(new Cesium.BoundingSphere(ground, 20), {
      duration: 1.2,
      offset: new Cesium.HeadingPitchRange(viewer.camera.heading, Cesium.Math.toRadians(-45), 140),
      complete: resolve,
      cancel: resolve,
    }),
  );
  await whenTilesLoaded(viewer, app.tilesets);
  await select({ ...where, building: pandId, activity: app.selection?.activity, address: address.label });
}

function wireControls() {
  document.getElementById("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    runSearch(document.getElementById("search-input").value);
  });
  document.getElementById("search-kind").addEventListener("change", applySearchKind);
  applySearchKind(); // a reload may restore the field's kind
  const lang = document.getElementById("lang-select");
  lang.value = language();
  lang.addEventListener("change", () => {
    setLanguage(lang.value);
    updateHash();
  });
  document.getElementById("style-select").addEventListener("change", (e) => selectStyle(e.target.value));
  document.getElementById("lod-select").addEventListener("change", (e) => setLod(e.target.value));
  document.getElementById("check-centre").addEventListener("click", checkCentre);
  document.getElementById("copy-link").addEventListener("click", async () => {
    updateHash();
    const status = document.getElementById("copy-status");
    try {
      await navigator.clipboard.writeText(window.location.href);
      status.textContent = t("view.copied");
    } catch {
      status.textContent = t("view.copy_failed", { url: window.location.href });
    }
  });
  onLanguageChange(() => {
    applySearchKind();
    app.panel.refresh();
    renderLayerList();
    renderLodSelect();
    renderStyles();
    app.measure.refresh();
    app.viewer.canvas.setAttribute("aria-label", t("map.canvas"));
  });
  window.addEventListener("hashchange", () => restoreFromHash(readHash(), { fitIfNoCamera: false }));
}

// ---- start ------------------------------------------------------------------------------------

async function start() {
  await loadLanguages();
  const state = readHash();
  // Dutch by default (a Dutch municipal service); the language switch and permalinks choose English.
  setLanguage(state.lang ?? "nl");

  const viewer = createViewer("cesium");
  app.viewer = viewer;
  viewer.canvas.setAttribute("aria-label", t("map.canvas"));
  // Timings count from navigation start (performance.now()'s origin), as a user experiences them.
  const removeFirst = viewer.scene.postRender.addEventListener(() => {
    removeFirst();
    app.timings.firstFrameMs = performance.now();
    resolveFirstFrame(app.timings.firstFrameMs);
  });
  viewer.scene.renderError.addEventListener((scene, error) => console.error(`render error: ${error}`));

  app.panel = new Panel({
    onAnswer: (activityId, answers) => {
      // null clears an answer (a question whose text the panel never saw cannot be re-asked in place)
      const merged = { ...(app.answers[activityId] ?? {}), ...answers };
      app.answers[activityId] = Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== null));
      app.panel.focusNext = "vc-current";
      if (app.selection) select({ ...app.selection });
    },
    onActivity: (activityId) => {
      app.panel.focusNext = "vc-current";
      if (app.selection) select({ ...app.selection, activity: activityId || undefined });
    },
    answersOf: (activityId) => app.answers[activityId] ?? {},
    onPickGevel: pickGevel,
    pickingGevel: () => app.pickingGevel,
    onClose: clearSelection,
  });
  app.measure = new Measure(viewer);
  app.whatif = new WhatIf(viewer, { selectedBuilding: () => app.selection?.building });
  app.shadows = new Shadows(viewer);
  wireControls();

  mapStatus(t("map.loading"));
  ({ tilesets: app.tilesets, buildingLods: app.buildingLods } = await loadTilesets(viewer));
  if (!app.tilesets.buildings) mapStatus(t("map.no_buildings"));
  app.defaultLod = app.lod = lods().find((lod) => app.buildingLods[lod] === app.tilesets.buildings);
  const buildingTilesets = [app.tilesets.buildings, ...Object.values(app.buildingLods)];
  const [available] = await Promise.all([api.collectionIds(), loadStyles(viewer.scene, buildingTilesets)]);
  const sphere = districtSphere(app.tilesets);
  app.bbox = sphere ? sphereBbox(sphere) : undefined;
  app.overlays = new Overlays(viewer, available, app.bbox, api.items);
  app.compliance = new ComplianceView(viewer, app.tilesets, available, app.bbox);
  app.bouwmassa = new BouwmassaLayer(viewer, app.tilesets);
  // The article search needs the regels collection (zoning import of plans with their texts).
  const kind = document.getElementById("search-kind");
  kind.hidden = !available.includes(REGELS);
  if (kind.hidden) {
    kind.value = "adres";
    applySearchKind();
  }
  renderLayerList();
  renderLodSelect();
  renderStyles();

  // One click handler, ours. The Viewer's own would select an entity (picking the scene once more) on a click and
  // zoom to it on a double click, which would also grab a "Wat als?" footprint being drawn.
  const handler = viewer.screenSpaceEventHandler;
  handler.removeInputAction(Cesium.ScreenSpaceEventType.LEFT_DOUBLE_CLICK);
  handler.setInputAction(onClick, Cesium.ScreenSpaceEventType.LEFT_CLICK);
  viewer.camera.moveEnd.addEventListener(updateHash);
  renderAfterMoves(viewer);

  if (!state.camera) viewDistrict(viewer, app.tilesets);
  await restoreFromHash({ ...state, lang: undefined }, { fitIfNoCamera: false });
  whenTilesLoaded(viewer, app.tilesets).then(() => {
    app.timings.tilesLoadedMs = performance.now();
    mapStatus(t("map.loaded"));
  });
  resolveReady();
}

window.stadsmodel = {
  app,
  ready,
  firstFrame,
  /** Resolves when all tiles needed for the current view are loaded. */
  tilesLoaded: () => ready.then(() => whenTilesLoaded(app.viewer, app.tilesets)),
  windowPositionOf: (lon, lat, h) => windowPositionOf(app.viewer, lon, lat, h),
  /** Ellipsoidal height of the model surface at lon/lat (buildings and terrain in view), or undefined. */
  surfaceHeight: (lon, lat, exclude = []) =>
    app.viewer.scene.sampleHeight(Cesium.Cartographic.fromDegrees(lon, lat), exclude.map((k) => app.tilesets[k]).filter(Boolean)),
  select: (lon, lat, options = {}) => select({ lon, lat, ...options }),
  /** Searches addresses, or with kind "regels" the plans' articles (q=). */
  search: (query, kind) => runSearch(query, kind),
  setStyle: selectStyle,
  /** Shows the buildings in this LoD ("2.2", "1.2"; see lods()). */
  setLod: (lod) => setLod(lod),
  lods,
  setLanguage: (lang) => {
    setLanguage(lang);
    document.getElementById("lang-select").value = language();
    updateHash();
  },
  setCamera: (s) => {
    setCamera(app.viewer.camera, s);
    app.viewer.scene.requestRender();
  },
  viewDistrict: () => viewDistrict(app.viewer, app.tilesets),
  timings: app.timings,
  complianceStatus,
  localized,
};

start().catch((err) => {
  console.error(`viewer failed to start: ${err.stack ?? err}`);
  mapStatus(`${t("map.failed")}: ${err.message}`);
  rejectReady(err);
});
