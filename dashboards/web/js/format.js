// Formatting for people: large numbers in engineering notation (2.3e24 FLOP), times in UTC with
// the zone shown, enum names without their proto prefixes.

const SEVERITIES = ["SEVERITY_CRITICAL", "SEVERITY_HIGH", "SEVERITY_MEDIUM", "SEVERITY_LOW",
  "SEVERITY_INFO"];
export const severityOrder = SEVERITIES;
export const statusOrder = ["FLAG_STATUS_OPEN", "FLAG_STATUS_ACKNOWLEDGED",
  "FLAG_STATUS_ESCALATED", "FLAG_STATUS_RESOLVED"];

export function severityRank(name) {
  const i = SEVERITIES.indexOf(name);
  return i < 0 ? 0 : SEVERITIES.length - i;  // critical 5 ... info 1
}

// "2.3e24"; plain digits for everyday magnitudes ("123", "0.42").
export function eng(x, digits = 2) {
  if (x === null || x === undefined || x === "" || Number.isNaN(Number(x))) return "–";
  x = Number(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 0.01 && a < 10000) return String(Number(x.toPrecision(3)));
  let e = Math.floor(Math.log10(a));
  let m = (x / 10 ** e).toFixed(digits - 1);
  if (Math.abs(Number(m)) >= 10) {
    e += 1;
    m = (x / 10 ** e).toFixed(digits - 1);
  }
  return `${m}e${e}`;
}

export function flop(x) {
  return `${eng(x)} FLOP`;
}

export function flopRange(r) {
  if (!r || (!Number(r.low) && !Number(r.high))) return "–";
  return `${eng(r.low)} – ${eng(r.high)} FLOP`;
}

// Counts: thousands separators up to a million, then engineering notation.
export function count(x) {
  x = Number(x || 0);
  return Math.abs(x) >= 1e6 ? eng(x) : x.toLocaleString("en-US");
}

export function hours(x) {
  x = Number(x || 0);
  if (x === 0) return "0 h";
  if (Math.abs(x) >= 1e6) return `${eng(x)} h`;
  if (Math.abs(x) >= 100) return `${Math.round(x).toLocaleString("en-US")} h`;
  return `${Number(x.toPrecision(3))} h`;
}

function parse(ts) {
  if (!ts) return null;
  const d = new Date(ts);
  if (Number.isNaN(d.getTime()) || d.getTime() <= 0) return null;
  return d;
}

export function millis(ts) {
  const d = parse(ts);
  return d ? d.getTime() : null;
}

// "2026-12-02 01:10:26 UTC"
export function utc(ts, { seconds = true } = {}) {
  const d = parse(ts);
  if (!d) return "–";
  const iso = d.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)} UTC`;
}

export function utcTime(ts) {
  const d = parse(ts);
  return d ? `${d.toISOString().slice(11, 19)} UTC` : "–";
}

export function ago(ts, now = Date.now()) {
  const d = parse(ts);
  if (!d) return "";
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return "in the future";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function strip(name, prefix) {
  if (!name) return "";
  return String(name).startsWith(prefix) ? String(name).slice(prefix.length).toLowerCase()
    .replaceAll("_", " ") : String(name).toLowerCase();
}

export const severity = (s) => strip(s, "SEVERITY_");
export const status = (s) => strip(s, "FLAG_STATUS_");
export const disposition = (s) => (s === "DISPOSITION_UNSPECIFIED" ? "" : strip(s, "DISPOSITION_"));
export const role = (r) => strip(r, "ROLE_");

export function pciId(vendorId, deviceId) {
  const hex = (v) => Number(v || 0).toString(16).padStart(4, "0");
  return `${hex(vendorId)}:${hex(deviceId)}`;
}

export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${Number(n) === 1 ? one : many}`;
}
