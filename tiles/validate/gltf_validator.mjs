// Runs the Khronos glTF validator (npm gltf-validator) on .glb files and prints one JSON line per file.
// Usage: node tiles/validate/gltf_validator.mjs FILE.glb...   (b3dm: the embedded glb is validated)
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const validator = require("gltf-validator");

function embeddedGlb(bytes) {
  // b3dm/i3dm header: magic, version, byteLength, then table lengths; the glb follows the tables
  const magic = Buffer.from(bytes.subarray(0, 4)).toString("latin1");
  if (magic !== "b3dm") return bytes;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = 28 + dv.getUint32(12, true) + dv.getUint32(16, true) + dv.getUint32(20, true) + dv.getUint32(24, true);
  return bytes.subarray(start);
}

for (const file of process.argv.slice(2)) {
  try {
    const bytes = new Uint8Array(await readFile(file));
    const report = await validator.validateBytes(embeddedGlb(bytes), { maxIssues: 200, writeTimestamp: false });
    const issues = report.issues;
    process.stdout.write(JSON.stringify({
      file, errors: issues.numErrors, warnings: issues.numWarnings, infos: issues.numInfos,
      messages: issues.messages.filter((m) => m.severity <= 1).slice(0, 50),
    }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ file, errors: 1, warnings: 0, infos: 0,
      messages: [{ code: "CANNOT_VALIDATE", message: String(e), severity: 0 }] }) + "\n");
  }
}
