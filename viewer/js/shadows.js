// Shadows for a chosen date and time of day (Dutch local time), for planners judging the effect of a
// building on its surroundings. The clock never runs: each change sets the time and requests one frame.

const Cesium = window.Cesium;
const TIME_ZONE = "Europe/Amsterdam";

/** Minutes to add to UTC to get Dutch local time on that day (60 in winter, 120 in summer). */
function amsterdamOffsetMinutes(utcDate) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: TIME_ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
    .formatToParts(utcDate)
    .reduce((acc, p) => ({ ...acc, [p.type]: Number(p.value) }), {});
  const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute);
  return Math.round((asUtc - utcDate.getTime()) / 60000);
}

/** The UTC instant of local (Dutch) date "YYYY-MM-DD" at minutes after midnight. */
export function localToUtc(dateText, minutes) {
  const [y, m, d] = dateText.split("-").map(Number);
  const guess = new Date(Date.UTC(y, m - 1, d, 0, minutes));
  return new Date(guess.getTime() - amsterdamOffsetMinutes(guess) * 60000);
}

export class Shadows {
  constructor(viewer) {
    this.viewer = viewer;
    this.toggle = document.getElementById("shadow-toggle");
    this.date = document.getElementById("shadow-date");
    this.time = document.getElementById("shadow-time");
    this.out = document.getElementById("shadow-time-out");
    const today = new Date();
    this.date.value = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}-${String(today.getDate()).padStart(2, "0")}`;
    this.time.value = String(14 * 60);
    this.toggle.addEventListener("change", () => this.update());
    this.date.addEventListener("change", () => this.update());
    this.time.addEventListener("input", () => this.update());
    this.update();
  }

  update() {
    const minutes = Number(this.time.value);
    const label = `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
    this.out.textContent = label;
    this.time.setAttribute("aria-valuetext", label);
    const viewer = this.viewer;
    viewer.shadows = this.toggle.checked;
    viewer.scene.shadowMap.softShadows = true;
    if (this.date.value) viewer.clock.currentTime = Cesium.JulianDate.fromDate(localToUtc(this.date.value, minutes));
    viewer.scene.requestRender();
  }
}
