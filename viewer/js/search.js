// Address search over the addresses collection (BAG verblijfsobjecten) with CQL2 text filters:
// "1234 AB 12", "1234AB 12a", "Kerkstraat 12", "Kerkstraat 12-2, Delft" or just a postcode.

const POSTCODE = /^(\d{4})\s*([a-z]{2})(?:\s+|\s*,\s*)?(?:(\d+)\s*([a-z])?(?:\s*-\s*(\w+))?)?$/i;
const STREET = /^(.+?)\s+(\d+)\s*([a-z])?(?:\s*-\s*(\w+))?(?:\s*,\s*(.+))?$/i;

function quote(text) {
  return `'${text.replace(/'/g, "''")}'`;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The CQL2 text filter for a typed address, or undefined if it cannot be an address. */
export function addressFilter(query) {
  const q = query.trim().replace(/\s+/g, " ");
  if (!q) return undefined;
  const parts = [];
  let m = POSTCODE.exec(q);
  if (m) {
    parts.push(`postcode=${quote(`${m[1]}${m[2].toUpperCase()}`)}`);
    if (m[3]) parts.push(`huisnummer=${Number(m[3])}`);
    if (m[4]) parts.push(`huisletter=${quote(m[4].toUpperCase())}`);
    if (m[5]) parts.push(`huisnummertoevoeging=${quote(m[5])}`);
    return parts.join(" AND ");
  }
  m = STREET.exec(q);
  const street = m ? m[1] : q;
  // Street names are stored with a capital; LIKE is case-sensitive on PostGIS.
  parts.push(`openbareruimte LIKE ${quote(`${capitalise(street)}%`)}`);
  if (m) {
    parts.push(`huisnummer=${Number(m[2])}`);
    if (m[3]) parts.push(`huisletter=${quote(m[3].toUpperCase())}`);
    if (m[4]) parts.push(`huisnummertoevoeging=${quote(m[4])}`);
    if (m[5]) parts.push(`woonplaats LIKE ${quote(`${capitalise(m[5].trim())}%`)}`);
  }
  return parts.join(" AND ");
}

export function addressLabel(p) {
  const number = `${p.huisnummer ?? ""}${p.huisletter ?? ""}${p.huisnummertoevoeging ? `-${p.huisnummertoevoeging}` : ""}`;
  return [`${p.openbareruimte ?? ""} ${number}`.trim(), [p.postcode, p.woonplaats].filter(Boolean).join(" ")].filter(Boolean).join(", ");
}

/** Finds addresses; returns [{label, lon, lat, properties}]. */
export async function searchAddresses(query, fetchItems, limit = 20) {
  const filter = addressFilter(query);
  if (!filter) return [];
  const collection = await fetchItems("addresses", { filter, limit });
  return (collection.features ?? [])
    .filter((f) => f.geometry?.type === "Point")
    .map((f) => ({ label: addressLabel(f.properties ?? {}), lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1], properties: f.properties ?? {} }));
}
