// Building colours from the 3D Tiles styles in styles/ (served at /styles/), with a legend derived
// from the style's own colour conditions so colours have one home.

import { t } from "./i18n.js";

const Cesium = window.Cesium;
const STYLES = "/styles/";

// The runtime feature property the compliance style reads; set per building by setCompliance().
export const COMPLIANCE_PROPERTY = "stadsmodel_compliance";

let catalogue = [];
const styleJson = {};
let activeId = "standaard";
let buildings; // the shown building tileset (one of the LoDs)
let scene;
const complianceById = new Map();

/** :param buildingTilesets: every building LoD's tileset, the shown one first. */
export async function loadStyles(viewerScene, buildingTilesets) {
  scene = viewerScene;
  const all = [...new Set(buildingTilesets.filter(Boolean))];
  buildings = all[0];
  try {
    const response = await fetch(`${STYLES}index.json`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    catalogue = (await response.json()).styles;
    await Promise.all(
      catalogue
        .filter((s) => s.file)
        .map(async (s) => {
          const r = await fetch(`${STYLES}${s.file}`);
          if (!r.ok) throw new Error(`${s.file}: HTTP ${r.status}`);
          styleJson[s.id] = await r.json();
        }),
    );
  } catch (err) {
    console.warn(`styles could not be loaded: ${err.message}`);
    catalogue = [{ id: "standaard", file: null, label: "style.default", legend: [] }];
  }
  for (const tileset of all) {
    // Compliance is known per building id, not stored in the tiles: copy it onto features as they load.
    tileset.tileLoad.addEventListener((tile) => applyComplianceToContent(tile.content));
  }
  return catalogue;
}

/** After a LoD switch: the style and the compliance colours go to the building tileset now shown. */
export function setBuildingsTileset(tileset) {
  buildings = tileset;
  if (buildings?.root) forEachLoadedContent(buildings, applyComplianceToContent);
  applyStyle(activeId);
}

export function styleCatalogue() {
  return catalogue;
}

export function activeStyle() {
  return activeId;
}

/** The legend of a style: [{color: css, label}] in the order of its conditions. */
export function legendOf(id) {
  const entry = catalogue.find((s) => s.id === id);
  const json = styleJson[id];
  if (!entry || !json) return [];
  const conditions = json.color?.conditions ?? [];
  return conditions.map(([, colorExpr], i) => ({
    color: /color\('([^']+)'\)/.exec(colorExpr)?.[1] ?? "#999999",
    label: t(entry.legend[i] ?? "legend.other"),
  }));
}

export function applyStyle(id) {
  if (!catalogue.some((s) => s.id === id)) id = "standaard";
  activeId = id;
  if (buildings) {
    buildings.style = styleJson[id] ? new Cesium.Cesium3DTileStyle(styleJson[id]) : undefined;
  }
  scene?.requestRender();
  return id;
}

function applyComplianceToContent(content) {
  if (!content || !complianceById.size) return;
  for (let i = 0; i < content.featuresLength; i++) {
    const feature = content.getFeature(i);
    const status = complianceById.get(feature.getProperty("identificatie"));
    if (status) feature.setProperty(COMPLIANCE_PROPERTY, status);
  }
}

function forEachLoadedContent(tileset, fn) {
  const stack = [tileset.root];
  while (stack.length) {
    const tile = stack.pop();
    if (tile.contentReady) fn(tile.content);
    stack.push(...tile.children);
  }
}

/**
 * Records per building whether it exceeds the plan's maximum bouwhoogte
 * (status: "overschrijding" | "binnen" | "onbekend") and restyles.
 */
export function setCompliance(entries) {
  for (const [id, status] of entries) complianceById.set(id, status);
  if (buildings?.root) forEachLoadedContent(buildings, applyComplianceToContent);
  if (buildings && activeId === "compliance") buildings.makeStyleDirty();
  scene?.requestRender();
}

export function complianceOf(id) {
  return complianceById.get(id);
}
