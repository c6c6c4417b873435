// The 3D compliance view: for the selected building, the plan's maximum bouwhoogte drawn as a
// translucent envelope over its footprint (green: room left, red: exceeded); for the compliance
// style, the outcome per building in the district, taken from the location-check process itself so
// the colours and the panel can never disagree.

import * as api from "./api.js";
import { complianceStatus } from "./panel.js";
import { setCompliance, complianceOf } from "./styling.js";
import { interiorPoint, outerRing } from "./geometry.js";

const Cesium = window.Cesium;
const CONCURRENCY = 4;
// Above this many buildings the compliance style would take too many requests; it is then limited
// to the first ones and says so.
const MAX_BUILDINGS = 2000;

export class ComplianceView {
  constructor(viewer, tilesets, available, bbox) {
    this.viewer = viewer;
    this.tilesets = tilesets;
    this.hasBuildings = available.includes("buildings");
    this.bbox = bbox;
    this.entity = undefined;
    this.computed = false;
  }

  clear() {
    if (this.entity) this.viewer.entities.remove(this.entity);
    this.entity = undefined;
    this.viewer.scene.requestRender();
  }

  /** NAP → ellipsoidal offset here, from the building's roof in the tiles (LoD1.2 roof at b3_h_dak_70p). */
  _geoidOffset(lon, lat, roofNap) {
    const exclude = [this.tilesets.terrain, this.tilesets.pointcloud].filter(Boolean);
    const roof = this.viewer.scene.sampleHeight(Cesium.Cartographic.fromDegrees(lon, lat), exclude);
    return roof === undefined ? undefined : roof - roofNap;
  }

  async show(result, facts) {
    this.clear();
    const c = result?.compliance;
    const building = result?.building;
    const id = building?.identificatie ?? facts?.identificatie;
    const heights = building?.heights_nap ?? {};
    const maximum = c?.max_bouwhoogte_m;
    const ground = heights.maaiveld ?? facts?.b3_h_maaiveld;
    const roof = heights.dak_70p ?? facts?.b3_h_dak_70p;
    if (!id || !this.hasBuildings || ![maximum, ground, roof].every((v) => typeof v === "number")) return;
    let footprint;
    try {
      footprint = await api.item("buildings", id);
    } catch (err) {
      console.warn(`footprint of ${id}: ${err.message}`);
      return;
    }
    const inside = interiorPoint(footprint.geometry);
    if (!inside) return;
    const [lon, lat] = inside;
    const offset = this._geoidOffset(lon, lat, roof);
    if (offset === undefined) return;
    // The maximum bouwhoogte counts from ground level (peil ≈ maaiveld), as in the location check.
    const top = ground + maximum + offset;
    const exceeded = complianceStatus(c) === "overschrijding";
    const color = Cesium.Color.fromCssColorString(exceeded ? "#d7301f" : "#1a9850");
    const outer = outerRing(footprint.geometry);
    this.entity = this.viewer.entities.add({
      name: "maximum bouwhoogte",
      polygon: {
        hierarchy: Cesium.Cartesian3.fromDegreesArray(outer.flatMap(([x, y]) => [x, y])),
        height: ground + offset,
        extrudedHeight: top,
        material: color.withAlpha(0.18),
        outline: true,
        outlineColor: color,
      },
    });
    this.viewer.scene.requestRender();
  }

  /** Runs the location check for every building of the district and colours them by outcome. */
  async computeDistrict(onProgress) {
    if (this.computed || !this.hasBuildings || !this.bbox) return;
    this.computed = true;
    const collection = await api.items("buildings", { bbox: this.bbox, limit: MAX_BUILDINGS });
    const queue = (collection.features ?? []).filter((f) => interiorPoint(f.geometry) && !complianceOf(f.properties?.identificatie ?? f.id));
    let done = 0;
    const worker = async () => {
      while (queue.length) {
        const feature = queue.shift();
        const id = feature.properties?.identificatie ?? feature.id;
        const [lon, lat] = interiorPoint(feature.geometry);
        let status = "onbekend";
        try {
          const result = await api.locationCheck({ lon, lat, factsOnly: true });
          // The centroid of an L-shaped footprint can fall on a neighbour: only trust a match.
          if (result.building?.identificatie === id) status = complianceStatus(result.compliance);
        } catch (err) {
          console.warn(`compliance of ${id}: ${err.message}`);
        }
        setCompliance([[id, status]]);
        done += 1;
        onProgress?.(done);
      }
    };
    // One request first: it warms the server's caches (a cold server failed concurrent first calls).
    const rest = queue.splice(1);
    await worker();
    queue.push(...rest);
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return done;
  }
}
