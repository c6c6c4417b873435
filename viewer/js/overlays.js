// 2D overlays draped on the ground and the buildings: GeoJSON from the OGC API, loaded when first
// switched on, for the district's extent. Each overlay lists candidate collection ids; the first that
// the server offers is used, so the viewer keeps working whatever subset of layers was imported.

const Cesium = window.Cesium;

export const OVERLAYS = [
  { id: "bgt_wegdeel", collections: ["bgt_wegdeel"], label: "layers.bgt_wegdeel", fill: "#8c8c8c", alpha: 0.55 },
  { id: "bgt_waterdeel", collections: ["bgt_waterdeel"], label: "layers.bgt_waterdeel", fill: "#4a90d9", alpha: 0.6 },
  { id: "bgt_begroeidterreindeel", collections: ["bgt_begroeidterreindeel"], label: "layers.bgt_begroeidterreindeel", fill: "#5aa469", alpha: 0.5 },
  { id: "bestemmingsvlak", collections: ["enkelbestemming", "bestemmingsvlak", "bestemmingsvlakken", "enkelbestemmingen"], label: "layers.bestemmingsvlak", fill: "#f2c14e", alpha: 0.35 },
  { id: "bouwvlak", collections: ["bouwvlak", "bouwvlakken"], label: "layers.bouwvlak", fill: "#8e44ad", alpha: 0.35 },
  { id: "monumenten", collections: ["monumenten", "rijksmonumenten", "monument"], label: "layers.monumenten", fill: "#c0392b", alpha: 0.6 },
  { id: "beschermde_gezichten", collections: ["beschermde_gezichten", "gezichten", "beschermd_gezicht"], label: "layers.beschermde_gezichten", fill: "#e67e22", alpha: 0.3 },
];

export class Overlays {
  /**
   * :param viewer: the Cesium viewer
   * :param available: collection ids the server offers
   * :param bbox: lon/lat bbox [w, s, e, n] of the district
   */
  constructor(viewer, available, bbox, fetchItems) {
    this.viewer = viewer;
    this.bbox = bbox;
    this.fetchItems = fetchItems;
    this.sources = new Map();
    this.active = OVERLAYS.map((o) => ({ ...o, collection: o.collections.find((c) => available.includes(c)) })).filter(
      (o) => o.collection,
    );
  }

  list() {
    return this.active;
  }

  isShown(id) {
    return this.sources.get(id)?.show ?? false;
  }

  async setShown(id, show) {
    const overlay = this.active.find((o) => o.id === id);
    if (!overlay) return;
    let source = this.sources.get(id);
    if (!source && show) {
      const geojson = await this.fetchItems(overlay.collection, { bbox: this.bbox, limit: 5000 });
      source = await Cesium.GeoJsonDataSource.load(geojson, {
        clampToGround: true,
        fill: Cesium.Color.fromCssColorString(overlay.fill).withAlpha(overlay.alpha),
        stroke: Cesium.Color.fromCssColorString(overlay.fill),
        strokeWidth: 2,
        markerSize: 24,
        markerColor: Cesium.Color.fromCssColorString(overlay.fill),
      });
      source.name = overlay.id;
      // Points (e.g. monuments given as points) are drawn on the surface, not on the ellipsoid.
      for (const entity of source.entities.values) {
        if (entity.billboard) {
          entity.billboard.heightReference = Cesium.HeightReference.CLAMP_TO_GROUND;
          entity.billboard.disableDepthTestDistance = Number.POSITIVE_INFINITY;
        }
        if (entity.polygon) entity.polygon.classificationType = Cesium.ClassificationType.BOTH;
      }
      await this.viewer.dataSources.add(source);
      this.sources.set(id, source);
    }
    if (source) source.show = show;
    this.viewer.scene.requestRender();
  }

  shownIds() {
    return [...this.sources.entries()].filter(([, s]) => s.show).map(([id]) => id);
  }
}
