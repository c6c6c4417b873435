// Small planar helpers on GeoJSON lon/lat geometries (areas of a few hundred metres, so planar is fine).

function polygons(geometry) {
  if (geometry?.type === "Polygon") return [geometry.coordinates];
  if (geometry?.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

/**
 * A point inside a (Multi)Polygon, never in a hole: the middle of the widest inside stretch of the
 * horizontal line through the middle of the largest part. (A vertex average can fall in a courtyard.)
 */
export function interiorPoint(geometry) {
  let best;
  for (const rings of polygons(geometry)) {
    const ys = rings[0].map((c) => c[1]);
    const y = (Math.min(...ys) + Math.max(...ys)) / 2;
    const xs = [];
    for (const ring of rings) {
      for (let i = 0; i < ring.length - 1; i++) {
        const [x0, y0] = ring[i];
        const [x1, y1] = ring[i + 1];
        // half-open rule so a vertex exactly on the line counts once
        if (y0 <= y !== y1 <= y) xs.push(x0 + ((y - y0) / (y1 - y0)) * (x1 - x0));
      }
    }
    xs.sort((a, b) => a - b);
    for (let i = 0; i + 1 < xs.length; i += 2) {
      const width = xs[i + 1] - xs[i];
      if (!best || width > best.width) best = { width, point: [(xs[i] + xs[i + 1]) / 2, y] };
    }
  }
  return best?.point;
}

export function outerRing(geometry) {
  return polygons(geometry)[0]?.[0];
}
