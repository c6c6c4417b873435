// The URL hash holds the view: camera, selected spot (and building), activity, style, building LoD, layers
// and language, e.g. #cam=4.3571,52.0116,180,20,-40,0&sel=4.3575,52.0119&b=NL.IMBAG.Pand.…&lang=en.
// Copying the address bar shares exactly what one sees; opening it restores it.

const Cesium = window.Cesium;

export function readHash(hash = window.location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const numbers = (key, n) => {
    const parts = (params.get(key) ?? "").split(",").map(Number);
    return parts.length === n && parts.every(Number.isFinite) ? parts : undefined;
  };
  const cam = numbers("cam", 6);
  const sel = numbers("sel", 2);
  return {
    camera: cam && { lon: cam[0], lat: cam[1], height: cam[2], heading: cam[3], pitch: cam[4], roll: cam[5] },
    selection: sel && { lon: sel[0], lat: sel[1], building: params.get("b") || undefined, activity: params.get("act") || undefined },
    style: params.get("style") || undefined,
    lod: params.get("lod") || undefined,
    lang: params.get("lang") || undefined,
    layers: params.has("layers") ? params.get("layers").split(",").filter(Boolean) : undefined,
  };
}

export function cameraState(camera) {
  const c = camera.positionCartographic;
  return {
    lon: Cesium.Math.toDegrees(c.longitude),
    lat: Cesium.Math.toDegrees(c.latitude),
    height: c.height,
    heading: Cesium.Math.toDegrees(camera.heading),
    pitch: Cesium.Math.toDegrees(camera.pitch),
    roll: Cesium.Math.toDegrees(camera.roll),
  };
}

export function setCamera(camera, s) {
  camera.setView({
    destination: Cesium.Cartesian3.fromDegrees(s.lon, s.lat, s.height),
    orientation: {
      heading: Cesium.Math.toRadians(s.heading),
      pitch: Cesium.Math.toRadians(s.pitch),
      roll: Cesium.Math.toRadians(s.roll ?? 0),
    },
  });
}

export function buildHash({ camera, selection, style, lod, lang, layers }) {
  const parts = [];
  if (camera) {
    const c = camera;
    parts.push(`cam=${[c.lon.toFixed(6), c.lat.toFixed(6), c.height.toFixed(1), c.heading.toFixed(1), c.pitch.toFixed(1), c.roll.toFixed(1)].join(",")}`);
  }
  if (selection) {
    parts.push(`sel=${selection.lon.toFixed(7)},${selection.lat.toFixed(7)}`);
    if (selection.building) parts.push(`b=${encodeURIComponent(selection.building)}`);
    if (selection.activity) parts.push(`act=${encodeURIComponent(selection.activity)}`);
  }
  if (style) parts.push(`style=${encodeURIComponent(style)}`);
  if (lod) parts.push(`lod=${encodeURIComponent(lod)}`);
  if (lang) parts.push(`lang=${lang}`);
  if (layers?.length) parts.push(`layers=${layers.map(encodeURIComponent).join(",")}`);
  return `#${parts.join("&")}`;
}

/** Writes the hash without adding a history entry per camera move. */
export function writeHash(state) {
  const hash = buildHash(state);
  if (hash !== window.location.hash) history.replaceState(null, "", hash);
  return hash;
}
