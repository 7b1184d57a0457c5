// Checks dashboards/web/js/geomap.js (the node location map) under node, without provd or a
// browser: disk edges at the right great-circle distance, polar and over-half-Earth disks,
// the dateline, the fit of the projection, and the SVG tree drawn from a NodeLocation.
// Run: node tests/web/geomap_test.mjs [path/to/geomap.js]   (ctest: web_geomap_test)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] || path.join(here, "../../dashboards/web/js/geomap.js");
// geomap.js has no imports: load it as an ES module from its text.
const g = await import(`data:text/javascript,${encodeURIComponent(readFileSync(file, "utf8"))}`);

let failures = 0;
function test(name, fn) {
  try {
    fn();
    console.log(`ok   ${name}`);
  } catch (err) {
    failures += 1;
    console.log(`FAIL ${name}\n${err.stack}`);
  }
}
const near = (a, b, tol, what) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (±${tol})`);

const FRA = { lat: 50.11, lon: 8.68 };
const NYC = { lat: 40.71, lon: -74.01 };

test("great-circle distance matches the verifier's haversine", () => {
  near(g.greatCircleKm(FRA, NYC), 6205, 10, "FRA-NYC");
  near(g.greatCircleKm({ lat: 0, lon: 0 }, { lat: 0, lon: 180 }), Math.PI * g.EARTH_RADIUS_KM, 1e-6, "antipode");
});

test("every point of a disk's edge lies at its radius, small and large", () => {
  const EQ = { lat: 0, lon: 10 };
  for (const [c, r, kind] of [[FRA, 1, "cap"], [FRA, 100, "cap"], [FRA, 3000, "cap"],
    [EQ, 9000, "cap"], [EQ, 12000, "complement"]]) {
    const ring = g.diskRing(c, r);
    assert.equal(ring.kind, kind, `radius ${r}`);
    for (const p of ring.points) near(g.greatCircleKm(c, p), r, r * 1e-6 + 1e-6, `radius ${r}`);
  }
});

test("a large disk is drawn as its true shape, not a circle in degrees", () => {
  // 3,000 km at 50N: about 27 degrees of latitude either way but far more of longitude.
  const pts = g.diskRing(FRA, 3000).points;
  const lats = pts.map((p) => p.lat);
  const lons = pts.map((p) => p.lon);
  const latSpan = Math.max(...lats) - Math.min(...lats);
  const lonSpan = Math.max(...lons) - Math.min(...lons);
  near(latSpan, (2 * 3000) / (g.EARTH_RADIUS_KM * Math.PI / 180), 0.1, "latitude span");
  assert.ok(lonSpan > latSpan * 1.4, `longitude span ${lonSpan} should exceed latitude span ${latSpan}`);
});

test("a disk around a pole is closed along that pole's edge", () => {
  const ring = g.diskRing({ lat: 80, lon: 20 }, 2000);
  assert.equal(ring.kind, "polar");
  assert.equal(ring.pole, 90);
  assert.equal(ring.points.at(-1).lat, 90);
  // It spans the map exactly once, from the left edge to the right (reference 20E).
  const lons = ring.points.map((p) => p.lon);
  near(Math.min(...lons), -160, 1e-9, "west edge");
  near(Math.max(...lons), 200, 1e-9, "east edge");
  // Its edge (all but the closing corners) lies at the radius.
  for (const p of ring.points.slice(1, -4)) near(g.greatCircleKm({ lat: 80, lon: 20 }, p), 2000, 1e-3, "polar edge");
  const south = g.diskRing({ lat: -85, lon: 0 }, 1000);
  assert.equal(south.pole, -90);
  assert.equal(g.diskRing(FRA, 30000).kind, "world");
});

test("longitudes stay continuous across the dateline", () => {
  const pts = g.diskRing({ lat: 0, lon: 179.5 }, 500, -179.5).points;
  for (let i = 1; i < pts.length; i += 1) {
    assert.ok(Math.abs(pts[i].lon - pts[i - 1].lon) < 10, `jump at ${i}`);
  }
  assert.ok(pts.every((p) => Math.abs(p.lon - -179.5) < 10), "drawn next to the site, not across the map");
});

test("the projection fits every point inside the view with equal km per pixel", () => {
  const pts = g.diskRing(FRA, 500).points;
  const proj = g.fitProjection(pts, 600, 400, 20);
  for (const p of pts) {
    const x = proj.x(p.lon);
    const y = proj.y(p.lat);
    assert.ok(x >= 19.9 && x <= 580.1 && y >= 19.9 && y <= 380.1, `${x},${y} outside`);
  }
  // The disk is about as wide as it is tall on screen (equal scale at its latitude).
  const xs = pts.map((p) => proj.x(p.lon));
  const ys = pts.map((p) => proj.y(p.lat));
  const w = Math.max(...xs) - Math.min(...xs);
  const h = Math.max(...ys) - Math.min(...ys);
  near(w / h, 1, 0.08, "aspect");
});

// A fake SVG factory: plain objects with tag, attrs and children.
function s(tag, attrs, ...children) {
  const el = { tag, attrs: attrs || {}, children: [] };
  el.append = (...c) => el.children.push(...c);
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}
function all(el, pred, out = []) {
  if (el && typeof el === "object") {
    if (pred(el)) out.push(el);
    for (const c of el.children) all(c, pred, out);
  }
  return out;
}
const text = (el) => all(el, () => true).flatMap((e) => e.children.filter((c) => typeof c === "string")).join("|");

const contradicted = {
  node_id: "gpu-2", datacenter: "fra1", site_known: true,
  declared_site: { lat_deg: 50.1, lon_deg: 8.7 },
  verdict: "LOCATION_VERDICT_CONTRADICTED", reason: "lm-nyc excludes fra1",
  disks: [
    { landmark_id: "lm-nyc", center: { lat_deg: 40.71, lon_deg: -74.01 }, rtt_min_ms: 2,
      radius_km: 200, distance_to_site_km: 6209, contains_site: false, fresh: true },
    { landmark_id: "lm-fra", center: { lat_deg: 50.11, lon_deg: 8.68 }, rtt_min_ms: 70,
      radius_km: 7000, distance_to_site_km: 1.7, contains_site: true, fresh: false },
  ],
};

test("the model colours disks by inside/outside and fits them all", () => {
  const m = g.locationMapModel(contradicted, { width: 720, height: 420 });
  assert.equal(m.verdict, "contradicted");
  assert.deepEqual(m.disks.map((d) => d.cls), ["disk disk-outside", "disk disk-inside disk-stale"]);
  assert.ok(m.site.x > 0 && m.site.x < 720 && m.site.y > 0 && m.site.y < 420);
  for (const d of m.disks) {
    assert.ok(d.cx > 0 && d.cx < 720 && d.cy > 0 && d.cy < 420, `${d.landmark_id} centre in view`);
    for (const [, x, y] of d.path.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)) {
      assert.ok(+x >= -1 && +x <= 721 && +y >= -1 && +y <= 421, `${d.landmark_id} edge ${x},${y}`);
    }
  }
  // New York lies west of Frankfurt on the map.
  assert.ok(m.disks[0].cx < m.disks[1].cx);
});

test("the drawing has one path per disk, one point per landmark, the site and a legend", () => {
  const svg = g.drawLocationMap(g.locationMapModel(contradicted), s);
  assert.equal(svg.tag, "svg");
  assert.equal(all(svg, (e) => e.tag === "path" && /\bdisk\b/.test(e.attrs.class || "") && e.attrs["data-landmark"]).length, 2);
  assert.equal(all(svg, (e) => e.attrs.class === "landmark-point").length, 2);
  assert.equal(all(svg, (e) => e.attrs.class === "site-marker").length, 1);
  const t = text(svg);
  for (const want of ["lm-nyc", "lm-fra", "fra1", "disk excludes the declared site", "OUTSIDE"]) {
    assert.ok(t.includes(want), `missing "${want}"`);
  }
});

test("a node without coordinates or disks still draws (no site, no disks)", () => {
  const m = g.locationMapModel({ node_id: "x", verdict: "LOCATION_VERDICT_UNVERIFIED", disks: [] });
  assert.equal(m.site, null);
  assert.equal(m.disks.length, 0);
  const svg = g.drawLocationMap(m, s);
  assert.equal(all(svg, (e) => e.attrs.class === "site-marker").length, 0);
});

if (failures) {
  console.log(`${failures} failed`);
  process.exit(1);
}
console.log("all passed");
