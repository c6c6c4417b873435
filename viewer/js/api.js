// The server's OGC API (pygeoapi under /api): features for overlays and address search, and the
// location-check process. Everything the viewer asks the server goes through here.

export const API = "/api";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function readJson(response, what) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // an error page that is not JSON: keep the HTTP status as the message below
  }
  if (!response.ok) {
    // OGC exception documents carry {code, description}
    const detail = body?.description ?? body?.detail ?? body?.message ?? `HTTP ${response.status}`;
    throw new ApiError(`${what}: ${detail}`, response.status);
  }
  return body;
}

/** Ids of the collections the server offers (an empty list when the API is not reachable). */
export async function collectionIds() {
  try {
    const response = await fetch(`${API}/collections?f=json`);
    const body = await readJson(response, "collections");
    return (body.collections ?? []).map((c) => c.id);
  } catch (err) {
    console.warn(`OGC API not available: ${err.message}`);
    return [];
  }
}

/**
 * GeoJSON items of a collection, in CRS84, optionally within a lon/lat bbox, a CQL2 text filter or a full-text
 * search (q=, on the collections with an index: `regels`).
 */
export async function items(collection, { bbox, filter, q, limit = 1000, properties } = {}) {
  const params = new URLSearchParams({ f: "json", limit: String(limit) });
  if (q) params.set("q", q);
  if (bbox) params.set("bbox", bbox.map((v) => v.toFixed(7)).join(","));
  if (filter) {
    params.set("filter", filter);
    params.set("filter-lang", "cql2-text");
  }
  if (properties) params.set("properties", properties.join(","));
  const response = await fetch(`${API}/collections/${encodeURIComponent(collection)}/items?${params}`);
  return readJson(response, collection);
}

export async function item(collection, id) {
  const response = await fetch(
    `${API}/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}?f=json`,
  );
  return readJson(response, `${collection}/${id}`);
}

/**
 * Runs the location-check process at lon/lat (CRS84).
 * :param activity: optional activity id (e.g. "dakkapel", "kozijn-plaatsen"), sent as activities: [id]
 * :param answers: optional {question id: answer} for the questions the data could not answer
 * :param gevel: optional GeoJSON Point (CRS84) on the wall the user picked
 */
// factsOnly: no activities, the location's plans, building and compliance only (the compliance colouring).
export async function locationCheck({ lon, lat, activity, answers, gevel, factsOnly }) {
  const inputs = { location: { type: "Point", coordinates: [lon, lat] } };
  if (factsOnly) inputs.activities = [];
  else if (activity) inputs.activities = [activity];
  if (answers && Object.keys(answers).length) inputs.answers = answers;
  if (gevel) inputs.gevel = gevel;
  const response = await fetch(`${API}/processes/location-check/execution`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ inputs }),
  });
  const body = await readJson(response, "location-check");
  // pygeoapi returns the raw output for a single JSON output, or {outputs: {...}} / {id, value}
  // depending on the requested response form; accept each.
  if (body && body.outputs && typeof body.outputs === "object") {
    const values = Object.values(body.outputs);
    return values.length === 1 ? values[0]?.value ?? values[0] : body.outputs;
  }
  if (body && "value" in body && "id" in body && Object.keys(body).length <= 3) return body.value;
  return body;
}
