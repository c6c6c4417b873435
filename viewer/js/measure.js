// Height measurement: two clicks on the model give the height difference, the horizontal distance
// and the straight-line distance between the two points, drawn in the scene.

import { t, formatNumber } from "./i18n.js";

const Cesium = window.Cesium;

export class Measure {
  constructor(viewer) {
    this.viewer = viewer;
    this.button = document.getElementById("measure-button");
    this.result = document.getElementById("measure-result");
    this.active = false;
    this.points = [];
    this.entities = [];
    this.button.addEventListener("click", () => this.setActive(!this.active));
  }

  setActive(active) {
    this.active = active;
    this.button.setAttribute("aria-pressed", String(active));
    this.button.textContent = t(active ? "measure.stop" : "measure.start");
    this.viewer.canvas.style.cursor = active ? "crosshair" : "";
    if (active) {
      this.clear();
      this.result.textContent = t("measure.first");
    }
  }

  refresh() {
    this.button.textContent = t(this.active ? "measure.stop" : "measure.start");
    if (this.last) this.result.textContent = this.describe(this.last);
  }

  clear() {
    for (const e of this.entities) this.viewer.entities.remove(e);
    this.entities = [];
    this.points = [];
    this.last = undefined;
    this.viewer.scene.requestRender();
  }

  /** Adds a measured point (a Cartesian3 on the model); returns the result after the second point. */
  addPoint(position) {
    if (!this.points.length && this.entities.length) this.clear();
    this.points.push(position);
    this.entities.push(
      this.viewer.entities.add({ position, point: { pixelSize: 9, color: Cesium.Color.YELLOW, outlineColor: Cesium.Color.BLACK, outlineWidth: 1, disableDepthTestDistance: Number.POSITIVE_INFINITY } }),
    );
    if (this.points.length < 2) {
      this.result.textContent = t("measure.second");
      this.viewer.scene.requestRender();
      return undefined;
    }
    const [a, b] = this.points;
    const ca = Cesium.Cartographic.fromCartesian(a);
    const cb = Cesium.Cartographic.fromCartesian(b);
    const geodesic = new Cesium.EllipsoidGeodesic(ca, cb);
    const measurement = {
      heightDifference: cb.height - ca.height,
      horizontal: geodesic.surfaceDistance,
      direct: Cesium.Cartesian3.distance(a, b),
    };
    // An L-shaped guide: horizontal leg at the lower point's height, vertical leg to the higher one.
    const low = ca.height <= cb.height ? ca : cb;
    const high = low === ca ? cb : ca;
    const corner = Cesium.Cartesian3.fromRadians(high.longitude, high.latitude, low.height);
    this.entities.push(
      this.viewer.entities.add({
        polyline: { positions: [Cesium.Cartographic.toCartesian(low), corner, Cesium.Cartographic.toCartesian(high)], width: 3, material: Cesium.Color.YELLOW, depthFailMaterial: Cesium.Color.YELLOW.withAlpha(0.5) },
      }),
      this.viewer.entities.add({
        position: Cesium.Cartesian3.midpoint(corner, Cesium.Cartographic.toCartesian(high), new Cesium.Cartesian3()),
        label: { text: `Δh ${formatNumber(measurement.heightDifference, 2)} m`, font: "14px sans-serif", fillColor: Cesium.Color.WHITE, showBackground: true, backgroundColor: Cesium.Color.BLACK.withAlpha(0.7), disableDepthTestDistance: Number.POSITIVE_INFINITY, pixelOffset: new Cesium.Cartesian2(8, 0), horizontalOrigin: Cesium.HorizontalOrigin.LEFT },
      }),
    );
    this.last = measurement;
    this.result.textContent = this.describe(measurement);
    this.points = [];
    this.viewer.scene.requestRender();
    return measurement;
  }

  describe(m) {
    return t("measure.result", {
      dh: formatNumber(m.heightDifference, 2),
      horizontal: formatNumber(m.horizontal, 2),
      direct: formatNumber(m.direct, 2),
    });
  }
}
