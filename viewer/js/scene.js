// The Cesium scene: an offline viewer (no ion, no imagery, no terrain service) with the 3D Tiles the
// server publishes under /tiles/. Heights in the tiles are already ellipsoidal (RDNAPTRANS2018 in
// tiles/), so nothing here adds a geoid offset.

const Cesium = window.Cesium;

// Tilesets the viewer knows how to show; /tiles/index.json says which ones exist.
export const TILESET_KINDS = {
  buildings: { shadows: "ENABLED", show: true },
  terrain: { shadows: "RECEIVE_ONLY", show: true },
  pointcloud: { shadows: "DISABLED", show: false },
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

/** The tilesets listed in /tiles/index.json, as {kind: url}. Tolerates a list or a mapping. */
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
        found[kind] = url;
      }
      return found;
    }
  } catch (err) {
    console.warn(`tiles/index.json: ${err.message}`);
  }
  // No index: the fixed layout of `stadsmodel tiles`.
  for (const kind of Object.keys(TILESET_KINDS)) {
    const url = `/tiles/${kind}/tileset.json`;
    const head = await fetch(url, { method: "HEAD" }).catch(() => null);
    if (head?.ok) found[kind] = url;
  }
  return found;
}

export async function loadTilesets(viewer) {
  const urls = await listTilesets();
  const tilesets = {};
  for (const [kind, url] of Object.entries(urls)) {
    const opts = TILESET_KINDS[kind] ?? { shadows: "DISABLED", show: true };
    try {
      const tileset = await Cesium.Cesium3DTileset.fromUrl(url, {
        shadows: Cesium.ShadowMode[opts.shadows],
        // Only what is in view and detailed enough is fetched (streaming).
        maximumScreenSpaceError: 16,
      });
      tileset.show = opts.show;
      if (kind === "pointcloud") {
        tileset.pointCloudShading.attenuation = true;
        tileset.pointCloudShading.maximumAttenuation = 4;
      }
      viewer.scene.primitives.add(tileset);
      tilesets[kind] = tileset;
    } catch (err) {
      console.warn(`tileset ${kind} (${url}) could not be loaded: ${err.message}`);
    }
  }
  return tilesets;
}

/** Resolves once every shown tileset has loaded all tiles the current view needs. */
export function whenTilesLoaded(viewer, tilesets) {
  const list = Object.values(tilesets);
  return new Promise((resolve) => {
    let frames = 0;
    const remove = viewer.scene.postRender.addEventListener(() => {
      frames += 1;
      // tilesLoaded is only meaningful after the tileset has seen one frame of this view.
      if (frames > 1 && list.every((ts) => !ts.show || ts.tilesLoaded)) {
        remove();
        resolve();
      } else {
        viewer.scene.requestRender();
      }
    });
    viewer.scene.requestRender();
  });
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
