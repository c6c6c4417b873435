// The Cesium scene: an offline viewer (no ion, no imagery, no terrain service) with the 3D Tiles the
// server publishes under /tiles/. Heights in the tiles are already ellipsoidal (RDNAPTRANS2018 in
// tiles/), so nothing here adds a geoid offset.

const Cesium = window.Cesium;

// Tilesets the viewer knows how to show; /tiles/index.json says which ones exist.
export const TILESET_KINDS = {
  buildings: { shadows: "ENABLED", show: true },
  terrain: { shadows: "RECEIVE_ONLY", show: true },
  pointcloud: { shadows: "DISABLED", show: false },
  // "Toegestane bouwmassa" (envelopes.js): hidden until the layer is switched on or a building with excess is chosen
  envelopes: { shadows: "DISABLED", show: false },
  excess: { shadows: "DISABLED", show: false },
};

export function createViewer(container) {
  // Never talk to Cesium ion: an empty token makes any accidental ion use fail loudly instead of
  // silently calling home.
  Cesium.Ion.defaultAccessToken = "";
  const viewer = new Cesium.Viewer(container, {
    baseLayer: false,
    baseLayerPicker: false,
    geocoder: false,
    homeButton: false,
    sceneModePicker: false,
    navigationHelpButton: false,
    animation: false,
    timeline: false,
    fullscreenButton: false,
    infoBox: false,
    selectionIndicator: false,
    // No globe: the ground is the terrain tileset. A plain globe would sit at the ellipsoid, ~43 m
    // below Dutch ground level, and costs most of the frame time under software WebGL.
    globe: false,
    skyAtmosphere: false,
    skyBox: false,
    requestRenderMode: true,
    maximumRenderTimeChange: Infinity,
    shadows: false,
  });
  const scene = viewer.scene;
  scene.backgroundColor = Cesium.Color.fromCssColorString("#dfe6ec");
  scene.fog.enabled = false;
  if (scene.sun) scene.sun.show = false;
  if (scene.moon) scene.moon.show = false;
  scene.screenSpaceCameraController.minimumZoomDistance = 2;
  viewer.clock.shouldAnimate = false;
  return viewer;
}

// `stadsmodel tiles` writes the buildings in several LoDs: "buildings" (the highest, LoD2.2) and one
// "buildings-lod<NN>" per further LoD; index.json gives each its "lod". One of them is shown at a time.
const BUILDING_LOD_KIND = /^buildings(-lod(\d)(\d+))?$/;

/** The LoD of a building tileset of index.json ("2.2"), or undefined for any other tileset. */
export function buildingLod(kind, entry) {
  const m = BUILDING_LOD_KIND.exec(kind);
  if (!m) return undefined;
  return entry?.lod ?? (m[1] ? `${m[2]}.${m[3]}` : "default");
}

/** The tilesets listed in /tiles/index.json, as {kind: {url, lod?}}. Tolerates a list or a mapping. */
export async function listTilesets() {
  const found = {};
  try {
    const response = await fetch("/tiles/index.json");
    if (response.ok) {
      const index = await response.json();
      const entries = Array.isArray(index) ? index : index.tilesets ?? index;
      for (const [key, value] of Object.entries(entries)) {
        const entry = typeof value === "string" ? { url: value } : value;
        const kind = entry.kind ?? entry.name ?? entry.id ?? key;
        let url = entry.url ?? entry.href ?? entry.tileset ?? `${kind}/tileset.json`;
        if (!url.startsWith("/") && !/^https?:/.test(url)) url = `/tiles/${url}`;
        found[kind] = { url, lod: buildingLod(kind, entry) };
      }
      return found;
    }
  } catch (err) {
    console.warn(`tiles/index.json: ${err.message}`);
  }
  // No index: the fixed layout of `stadsmodel tiles`.
  for (const kind of ["buildings", "terrain", "pointcloud"]) {
    const url = `/tiles/${kind}/tileset.json`;
    const head = await fetch(url, { method: "HEAD" }).catch(() => null);
    if (head?.ok) found[kind] = { url, lod: buildingLod(kind) };
  }
  return found;
}

/**
 * Loads the listed tilesets into the scene. Returns {tilesets: {kind: tileset}, buildingLods: {lod: tileset}}:
 * `tilesets.buildings` is the shown building LoD ("buildings" of the index); the other LoDs are in the scene,
 * hidden, and only in `buildingLods` (switchBuildingLod swaps them).
 */
export async function loadTilesets(viewer) {
  const listed = await listTilesets();
  const tilesets = {};
  const buildingLods = {};
  for (const [kind, { url, lod }] of Object.entries(listed)) {
    const opts = TILESET_KINDS[lod ? "buildings" : kind] ?? { shadows: "DISABLED", show: true };
    try {
      const tileset = await Cesium.Cesium3DTileset.fromUrl(url, {
        shadows: Cesium.ShadowMode[opts.shadows],
        // Only what is in view and detailed enough is fetched (streaming).
        maximumScreenSpaceError: 16,
      });
      tileset.show = opts.show;
      // Style and highlight colours mostly replace the model's own, keeping a little of its shading.
      tileset.colorBlendMode = Cesium.Cesium3DTileColorBlendMode.MIX;
      tileset.colorBlendAmount = 0.8;
      if (kind === "pointcloud") {
        tileset.pointCloudShading.attenuation = true;
        tileset.pointCloudShading.maximumAttenuation = 4;
      }
      viewer.scene.primitives.add(tileset);
      if (lod) {
        buildingLods[lod] = tileset;
        if (kind !== "buildings") tileset.show = false;
        else tilesets.buildings = tileset;
      } else {
        tilesets[kind] = tileset;
      }
    } catch (err) {
      console.warn(`tileset ${kind} (${url}) could not be loaded: ${err.message}`);
    }
  }
  return { tilesets, buildingLods };
}

/** Shows the building tileset of `lod` instead of the current one (as shown or hidden as that was). */
export function switchBuildingLod(viewer, tilesets, buildingLods, lod) {
  const next = buildingLods[lod];
  const current = tilesets.buildings;
  if (!next || next === current) return current;
  next.show = current ? current.show : true;
  if (current) current.show = false;
  tilesets.buildings = next;
  viewer.scene.requestRender();
  return next;
}

// Cesium defers requests while the camera moves and for tiles off the centre of view (foveated
// loading, 0.2 s): a tileset can report tilesLoaded before those requests are even made. Loaded means
// "nothing pending" over a quiet period longer than that delay.
const QUIET_MS = 400;

function idle(tileset) {
  const s = tileset.statistics;
  return tileset.tilesLoaded && s.numberOfPendingRequests === 0 && s.numberOfTilesProcessing === 0;
}

/** Resolves once every shown tileset has loaded all tiles the current view needs. */
export function whenTilesLoaded(viewer, tilesets) {
  const list = Object.values(tilesets);
  return new Promise((resolve) => {
    let quietSince;
    let frames = 0;
    const remove = viewer.scene.postRender.addEventListener(() => {
      const now = performance.now();
      if (list.every((ts) => !ts.show || idle(ts))) {
        quietSince ??= now;
        frames += 1;
      } else {
        quietSince = undefined;
        frames = 0;
      }
      if (frames >= 3 && now - quietSince >= QUIET_MS) {
        remove();
        resolve();
      } else {
        // keep frames coming while loading: requestRenderMode would otherwise wait for user input
        setTimeout(() => viewer.scene.requestRender(), 50);
      }
    });
    viewer.scene.requestRender();
  });
}

/** After the camera stops, one more frame so the requests Cesium deferred while it moved go out. */
export function renderAfterMoves(viewer) {
  viewer.camera.moveEnd.addEventListener(() => setTimeout(() => viewer.scene.requestRender(), 250));
}

/** A bounding sphere around all shown tilesets (the district). */
export function districtSphere(tilesets) {
  const spheres = Object.values(tilesets)
    .filter((ts) => ts.show || ts === tilesets.buildings)
    .map((ts) => ts.boundingSphere);
  if (!spheres.length) return undefined;
  return Cesium.BoundingSphere.fromBoundingSpheres(spheres);
}

/** The lon/lat rectangle (degrees, [w, s, e, n]) covered by a bounding sphere. */
export function sphereBbox(sphere) {
  const carto = Cesium.Cartographic.fromCartesian(sphere.center);
  const dLat = Cesium.Math.toDegrees(sphere.radius / 6378137);
  const dLon = dLat / Math.cos(carto.latitude);
  const lon = Cesium.Math.toDegrees(carto.longitude);
  const lat = Cesium.Math.toDegrees(carto.latitude);
  return [lon - dLon, lat - dLat, lon + dLon, lat + dLat];
}

export function viewDistrict(viewer, tilesets, duration = 0) {
  const sphere = districtSphere(tilesets);
  if (!sphere) return;
  viewer.camera.flyToBoundingSphere(sphere, {
    duration,
    offset: new Cesium.HeadingPitchRange(Cesium.Math.toRadians(20), Cesium.Math.toRadians(-40), sphere.radius * 2.2),
  });
}

/**
 * The window position (CSS pixels) of lon/lat at ellipsoidal height h, or of the model's surface
 * there when h is not given; undefined if not in view.
 */
export function windowPositionOf(viewer, lon, lat, h) {
  const top = Cesium.Cartesian3.fromDegrees(lon, lat, h ?? 0);
  const point = h === undefined ? viewer.scene.clampToHeight(top) ?? top : top;
  const p = Cesium.SceneTransforms.worldToWindowCoordinates(viewer.scene, point);
  return p ? { x: p.x, y: p.y } : undefined;
}
