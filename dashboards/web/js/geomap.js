// The node location map (issue 11, docs/location.md): landmarks, their disks and the declared site
// on an equirectangular projection fitted to the disks. No imports and no document: the geometry
// (locationMapModel) is plain data and the drawing (drawLocationMap) takes the SVG element
// factory as an argument, so both run under node for tests/web/geomap_test.mjs without provd or
// a browser.
//
//   const model = locationMapModel(nodeLocationJson, { width: 720, height: 420 });
//   container.append(drawLocationMap(model, s));   // s: dom.js's SVG element builder
//
// A disk is where the node can be given one landmark's minimum RTT: every point within radius_km
// of the landmark along the Earth's surface. Its edge is drawn as a ring of points along that
// great-circle distance (so a 3,000 km disk is drawn as the distorted shape it really is on this
// projection, not as a circle); a disk around a pole is closed along the map's top or bottom
// edge; a disk larger than half the Earth is drawn as the map minus the cap it leaves out.

export const EARTH_RADIUS_KM = 6371.0088;  // as common/location/verifier.h
const RAD = Math.PI / 180;
const HALF_EARTH_KM = Math.PI * EARTH_RADIUS_KM;  // antipode distance

export function greatCircleKm(a, b) {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const h = Math.sin(dLat / 2) ** 2 +
    Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

// The point `distanceKm` from `center` along the initial bearing (degrees clockwise from north).
// Longitude is not normalised.
export function destination(center, bearingDeg, distanceKm) {
  const d = distanceKm / EARTH_RADIUS_KM;
  const lat1 = center.lat * RAD;
  const b = bearingDeg * RAD;
  const lat2 = Math.asin(Math.max(-1, Math.min(1,
    Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(b))));
  const dLon = Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(lat1),
    Math.cos(d) - Math.sin(lat1) * Math.sin(lat2));
  return { lat: lat2 / RAD, lon: center.lon + dLon / RAD };
}

// `lon` moved by whole turns into [ref - 180, ref + 180).
export function wrapLon(lon, ref) {
  return ref + ((((lon - ref + 180) % 360) + 360) % 360) - 180;
}

// A ring that goes once around a pole, cut where it crosses refLon +- 180 and closed along the
// map's edges and the pole's edge, so it spans the map exactly once.
function polarBand(ring, refLon, pole) {
  const w = ring.map((p) => ({ lat: p.lat, lon: wrapLon(p.lon, refLon) }));
  let seam = w.findIndex((p, i) => Math.abs(p.lon - w[(i + w.length - 1) % w.length].lon) > 180);
  if (seam < 0) seam = 0;
  const r = w.slice(seam).concat(w.slice(0, seam));
  const a = r[r.length - 1];  // just before the seam, near one edge
  const b = r[0];             // just after it, near the other
  const aEdge = a.lon > refLon ? refLon + 180 : refLon - 180;
  const bEdge = aEdge === refLon + 180 ? refLon - 180 : refLon + 180;
  const bLon = wrapLon(b.lon, a.lon);
  const t = bLon === a.lon ? 0 : (wrapLon(aEdge, a.lon) - a.lon) / (bLon - a.lon);
  const edgeLat = a.lat + Math.max(0, Math.min(1, t)) * (b.lat - a.lat);
  return [{ lat: edgeLat, lon: bEdge }, ...r, { lat: edgeLat, lon: aEdge },
    { lat: pole, lon: aEdge }, { lat: pole, lon: bEdge }];
}

// The disk's edge as points with continuous longitudes (around refLon), and how to fill it:
//  kind "cap": the ring encloses the disk;
//  kind "polar": the ring goes once around a pole; closed along that pole's edge (pole: 90/-90);
//  kind "complement": the disk is everything but the ring's inside (fill-rule evenodd with the
//    whole map); kind "world": the disk covers the Earth.
export function diskRing(center, radiusKm, refLon = center.lon, steps = 120) {
  if (!(radiusKm < HALF_EARTH_KM)) return { kind: "world", points: [] };
  const points = [];
  let prev = wrapLon(center.lon, refLon);
  for (let i = 0; i <= steps; i += 1) {
    const p = destination(center, (360 * i) / steps, radiusKm);
    const lon = wrapLon(p.lon, prev);
    points.push({ lat: p.lat, lon });
    prev = lon;
  }
  const turn = points[points.length - 1].lon - points[0].lon;
  if (Math.abs(turn) > 180) {
    const pole = greatCircleKm(center, { lat: 90, lon: 0 }) <= radiusKm ? 90 : -90;
    return { kind: "polar", pole, points: polarBand(points.slice(0, -1), refLon, pole) };
  }
  return { kind: radiusKm > HALF_EARTH_KM / 2 ? "complement" : "cap", points };
}

// The projection fitted to `points` ({lat, lon}, longitudes already continuous): x grows with
// longitude scaled by cos(mean latitude), y with latitude downwards; equal km per pixel along both
// axes at the mean latitude. `pad` pixels stay free around the content.
export function fitProjection(points, width, height, pad = 24) {
  let lonMin = Infinity;
  let lonMax = -Infinity;
  let latMin = Infinity;
  let latMax = -Infinity;
  for (const p of points) {
    lonMin = Math.min(lonMin, p.lon);
    lonMax = Math.max(lonMax, p.lon);
    latMin = Math.min(latMin, p.lat);
    latMax = Math.max(latMax, p.lat);
  }
  if (!Number.isFinite(lonMin)) {
    lonMin = -180; lonMax = 180; latMin = -90; latMax = 90;
  }
  if (lonMax - lonMin > 360) {
    const mid = (lonMin + lonMax) / 2;
    lonMin = mid - 180; lonMax = mid + 180;
  }
  // At least about 100 km on each side, so one tiny disk is not a dot filling the map.
  const minSpan = 2;
  if (lonMax - lonMin < minSpan) { const m = (lonMin + lonMax) / 2; lonMin = m - minSpan / 2; lonMax = m + minSpan / 2; }
  if (latMax - latMin < minSpan) { const m = (latMin + latMax) / 2; latMin = m - minSpan / 2; latMax = m + minSpan / 2; }
  latMin = Math.max(-90, latMin);
  latMax = Math.min(90, latMax);
  const k = Math.max(0.2, Math.cos(((latMin + latMax) / 2) * RAD));
  const scale = Math.min((width - 2 * pad) / ((lonMax - lonMin) * k),
    (height - 2 * pad) / (latMax - latMin));
  const ox = (width - (lonMax - lonMin) * k * scale) / 2;
  const oy = (height - (latMax - latMin) * scale) / 2;
  return {
    bounds: { lonMin, lonMax, latMin, latMax },
    kmPerPixel: (EARTH_RADIUS_KM * RAD) / scale,
    x: (lon) => ox + (lon - lonMin) * k * scale,
    y: (lat) => oy + (latMax - lat) * scale,
  };
}

const num = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);
const fix = (v) => Math.round(v * 10) / 10;

function ringPath(points, proj) {
  return points.map((p, i) => `${i ? "L" : "M"}${fix(proj.x(p.lon))},${fix(proj.y(p.lat))}`).join(" ") + " Z";
}

function worldPath(proj, refLon) {
  const [x0, x1] = [proj.x(refLon - 180), proj.x(refLon + 180)];
  const [y0, y1] = [proj.y(90), proj.y(-90)];
  return `M${fix(x0)},${fix(y0)} L${fix(x1)},${fix(y0)} L${fix(x1)},${fix(y1)} L${fix(x0)},${fix(y1)} Z`;
}

// Graticule step: about 4-8 lines across the view.
function gridStep(span) {
  return [0.5, 1, 2, 5, 10, 15, 30, 45].find((s) => span / s <= 8) || 60;
}

// NodeLocation (proto3 JSON, field names as in location.proto) -> what to draw.
export function locationMapModel(loc, { width = 720, height = 420 } = {}) {
  const site = loc.site_known && loc.declared_site
    ? { lat: num(loc.declared_site.lat_deg), lon: num(loc.declared_site.lon_deg) } : null;
  const disks = (loc.disks || []).map((d) => ({
    landmark_id: d.landmark_id || "?",
    center: { lat: num(d.center && d.center.lat_deg), lon: num(d.center && d.center.lon_deg) },
    radius_km: num(d.radius_km),
    rtt_min_ms: num(d.rtt_min_ms),
    distance_to_site_km: num(d.distance_to_site_km),
    inside: !!d.contains_site,
    fresh: !!d.fresh,
  }));
  const refLon = site ? site.lon : (disks.length ? disks[0].center.lon : 0);
  const rings = disks.map((d) => diskRing(d.center, d.radius_km, refLon));
  const fitPoints = [];
  disks.forEach((d, i) => {
    if (rings[i].kind === "cap") fitPoints.push(...rings[i].points);
    else fitPoints.push({ lat: -90, lon: refLon - 180 }, { lat: 90, lon: refLon + 180 });
    fitPoints.push({ lat: d.center.lat, lon: wrapLon(d.center.lon, refLon) });
  });
  if (site) fitPoints.push({ lat: site.lat, lon: site.lon });
  const proj = fitProjection(fitPoints, width, height);
  const b = proj.bounds;
  const step = gridStep(Math.max(b.lonMax - b.lonMin, b.latMax - b.latMin));
  const grid = [];
  for (let lon = Math.ceil(b.lonMin / step) * step; lon <= b.lonMax; lon += step) {
    grid.push({ path: `M${fix(proj.x(lon))},0 L${fix(proj.x(lon))},${height}`,
      label: `${fix(wrapLon(lon, 0))}°`, x: fix(proj.x(lon)), y: height - 4 });
  }
  for (let lat = Math.ceil(b.latMin / step) * step; lat <= b.latMax; lat += step) {
    grid.push({ path: `M0,${fix(proj.y(lat))} L${width},${fix(proj.y(lat))}`,
      label: `${fix(lat)}°`, x: 4, y: fix(proj.y(lat)) - 3 });
  }
  return {
    width,
    height,
    verdict: String(loc.verdict || "").replace("LOCATION_VERDICT_", "").toLowerCase() || "unknown",
    reason: loc.reason || "",
    kmPerPixel: proj.kmPerPixel,
    grid,
    site: site ? { x: fix(proj.x(site.lon)), y: fix(proj.y(site.lat)),
      label: loc.datacenter || "declared site" } : null,
    disks: disks.map((d, i) => {
      const ring = rings[i];
      let path;
      if (ring.kind === "world") path = worldPath(proj, refLon);
      else if (ring.kind === "complement") path = `${worldPath(proj, refLon)} ${ringPath(ring.points, proj)}`;
      else path = ringPath(ring.points, proj);
      const lon = wrapLon(d.center.lon, refLon);
      return {
        ...d,
        kind: ring.kind,
        path,
        cx: fix(proj.x(lon)),
        cy: fix(proj.y(d.center.lat)),
        cls: `disk ${d.inside ? "disk-inside" : "disk-outside"}${d.fresh ? "" : " disk-stale"}`,
        title: `${d.landmark_id}: min RTT ${d.rtt_min_ms.toFixed(3)} ms → within ${Math.round(d.radius_km)} km; ` +
          `site ${Math.round(d.distance_to_site_km)} km away, ${d.inside ? "inside" : "OUTSIDE"}` +
          `${d.fresh ? "" : " (stale: decides nothing)"}`,
      };
    }),
  };
}

// The model as an <svg>. `s(tag, attrs, ...children)` creates an SVG element (dom.js's `s`).
export function drawLocationMap(model, s) {
  const { width, height } = model;
  const svg = s("svg", { class: "chart location-map", viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": `location map: ${model.verdict}` });
  svg.append(s("rect", { class: "map-bg", x: 0, y: 0, width, height }));
  for (const g of model.grid) {
    svg.append(s("path", { class: "map-grid", d: g.path }),
      s("text", { class: "map-grid-label", x: g.x, y: g.y }, g.label));
  }
  for (const d of model.disks) {
    svg.append(s("path", { class: d.cls, d: d.path, "fill-rule": d.kind === "complement" ? "evenodd" : null,
      "data-landmark": d.landmark_id }, s("title", {}, d.title)));
  }
  for (const d of model.disks) {
    svg.append(s("g", { class: `landmark ${d.inside ? "disk-inside" : "disk-outside"}` },
      s("title", {}, d.title),
      s("circle", { class: "landmark-point", cx: d.cx, cy: d.cy, r: 4 }),
      s("text", { class: "landmark-label", x: d.cx + 6, y: d.cy - 6 }, d.landmark_id)));
  }
  if (model.site) {
    const { x, y } = model.site;
    svg.append(s("g", { class: "site-marker" },
      s("title", {}, `declared site: ${model.site.label}`),
      s("path", { d: `M${x},${y - 9} L${x + 7},${y} L${x},${y + 9} L${x - 7},${y} Z` }),
      s("text", { class: "site-label", x: x + 10, y: y + 4 }, model.site.label)));
  }
  const legend = [
    ["disk-inside", "disk contains the declared site"],
    ["disk-outside", "disk excludes the declared site"],
    ["disk-inside disk-stale", "stale (older than max age): decides nothing"],
  ];
  const lg = s("g", { class: "map-legend" },
    s("rect", { class: "map-legend-bg", x: 4, y: 4, width: 300, height: 18 * legend.length + 22, rx: 4 }));
  legend.forEach(([cls, text], i) => {
    lg.append(s("rect", { class: `disk ${cls}`, x: 8, y: 8 + i * 18, width: 14, height: 12 }),
      s("text", { x: 28, y: 18 + i * 18 }, text));
  });
  lg.append(s("text", { x: 8, y: 18 + legend.length * 18 },
    `◆ declared site · ● landmark · 1 px ≈ ${Math.round(model.kmPerPixel)} km`));
  svg.append(lg);
  return svg;
}
