/* The map (نقشه): Leaflet over the shipped base layers of Iran (basemap/iran.json: provinces,
 * lakes, rivers, cities and towns with Persian and English names), optionally over a
 * deployment's own tile server (EOC_MAP_TILES). Teams and incidents are clustered with
 * counts by status; status is told by colour AND shape; a missed check-in or duress is a
 * distinct blinking marker that is never hidden in a cluster. Markers are keyed by id and
 * changed in place, so a delta moves or restyles only its own markers and no animation
 * restarts. Labels never overlap: after every change a declutter pass hides the lower-ranked
 * of two overlapping labels (teams first, then provincial capitals, then the bigger towns). */
import { i18n as I } from "./i18n.js";

window.EOC = window.EOC || {};
const STATUS_SHAPE = {
  available: "circle", dispatched: "triangle", en_route: "chevron", on_scene: "square",
  transporting: "diamond", at_centre: "house", in_drill: "hexagon", off_duty: "ring",
};
const STATUS_ORDER = ["on_scene", "en_route", "dispatched", "transporting", "at_centre", "available", "in_drill", "off_duty"];
const PRIORITY_ORDER = ["urgent", "high", "normal", "low"];

/* An SVG shape for a status, 22 px: the same shapes in the legend, the list chips and the map. */
function shape(kind, cls = "") {
  const p = {
    circle: '<circle cx="12" cy="12" r="8"/>',
    ring: '<circle cx="12" cy="12" r="7" fill="none" stroke-width="3.5"/>',
    triangle: '<path d="M12 3 L21 20 L3 20 Z"/>',
    chevron: '<path d="M4 4 L21 12 L4 20 L9 12 Z"/>',
    square: '<rect x="4" y="4" width="16" height="16"/>',
    diamond: '<path d="M12 2 L22 12 L12 22 L2 12 Z"/>',
    house: '<path d="M12 3 L21 11 L18 11 L18 21 L6 21 L6 11 L3 11 Z"/>',
    hexagon: '<path d="M7 3 L17 3 L22 12 L17 21 L7 21 L2 12 Z"/>',
    alarm: '<path d="M8 2 L16 2 L22 8 L22 16 L16 22 L8 22 L2 16 L2 8 Z"/><path class="glyph" d="M11 6 h2 v8 h-2 Z M11 16 h2 v2 h-2 Z"/>',
    incident: '<path d="M12 2 L23 21 L1 21 Z"/><path class="glyph" d="M11 8 h2 v7 h-2 Z M11 17 h2 v2 h-2 Z"/>',
    centre: '<rect x="3" y="3" width="18" height="18" rx="3"/><path class="glyph" d="M10.5 7 h3 v3.5 h3.5 v3 h-3.5 v3.5 h-3 v-3.5 h-3.5 v-3 h3.5 Z"/>',
  }[kind];
  return `<svg class="shape ${cls}" viewBox="0 0 24 24" aria-hidden="true">${p}</svg>`;
}

const M = {
  map: null, base: null, ready: false, province: null, fitted: null, follow: null,
  teams: new Map(), incidents: new Map(), centres: new Map(), cityMarkers: [], onFollow: null,
};

function init(el, config) {
  if (M.map) return;
  M.map = L.map(el, { zoomSnap: 0.25, zoomDelta: 0.5, minZoom: 4, maxZoom: 17, attributionControl: true,
                      preferCanvas: false, worldCopyJump: false });
  M.map.attributionControl.setPrefix(false);
  if (config && config.map_tiles) {
    // A deployment's own tile server: street-level detail under the shipped layers.
    L.tileLayer(config.map_tiles, { maxZoom: 19, attribution: config.map_tiles_attribution || "" }).addTo(M.map);
    el.classList.add("with-tiles");
  }
  M.map.fitBounds([[25.0, 44.0], [39.8, 63.4]]);
  el.classList.toggle("far", M.map.getZoom() < 7);
  el.classList.toggle("nation", M.map.getZoom() < 6);
  M.teamLayer = L.markerClusterGroup({
    maxClusterRadius: (z) => (z < 6 ? 80 : 56), showCoverageOnHover: false, spiderfyOnMaxZoom: true, disableClusteringAtZoom: 15,
    iconCreateFunction: (cluster) => clusterIcon(cluster, "team"), animate: !reducedMotion(),
  }).addTo(M.map);
  M.incidentLayer = L.markerClusterGroup({
    maxClusterRadius: 40, showCoverageOnHover: false, disableClusteringAtZoom: 13,
    iconCreateFunction: (cluster) => clusterIcon(cluster, "incident"), animate: !reducedMotion(),
  }).addTo(M.map);
  M.alarmLayer = L.layerGroup().addTo(M.map);   // missed check-in, duress: never inside a cluster
  M.centreLayer = L.layerGroup().addTo(M.map);
  // Counts by status under each cluster at national zoom (one cluster per province or so);
  // closer in, the clusters' rings tell the mix and a hover tells the counts.
  // At the nation's zoom a nation's few hundred centres would bury the teams and the places:
  // they are drawn from zoom 6 on (a province), their occupancy is in the boards meanwhile.
  M.map.on("zoomend", () => {
    el.classList.toggle("far", M.map.getZoom() < 7);
    el.classList.toggle("nation", M.map.getZoom() < 6);
  });
  M.map.on("zoomend moveend", () => { showCities(); showCounties(); declutter(); });
  // While the map moves (a fit to the province is animated), a zoom asked of it is dropped by
  // Leaflet: the map says when it is still, for what waits on it (the tests, a screenshot).
  M.map.on("movestart zoomstart", () => { el.dataset.moving = "yes"; });
  M.map.on("moveend", () => { delete el.dataset.moving; });
  M.teamLayer.on("animationend", declutter);
  M.map.on("dragstart", () => { if (M.follow) setFollow(null); });
  fetch("basemap/iran.json").then((r) => r.json()).then((base) => { M.base = base; drawBase(); });
}

function reducedMotion() {
  return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

function drawBase() {
  const b = M.base;
  M.provinceLayer = L.geoJSON(b.provinces, {
    style: (f) => ({ className: "province" + (f.properties.code === M.province ? " home" : ""), weight: f.properties.code === M.province ? 2.5 : 1 }),
    interactive: false,
  }).addTo(M.map).bringToBack();
  L.geoJSON(b.rivers, { style: { className: "river", weight: 1.2 }, interactive: false }).addTo(M.map);
  L.geoJSON(b.lakes, { style: { className: "lake", weight: 0.8 }, interactive: false }).addTo(M.map);
  M.map.attributionControl.addAttribution("Natural Earth · GeoNames · GSHHG · © OpenStreetMap contributors (counties)");
  // County (شهرستان) borders: a second file, fetched once the map is ready and drawn only
  // at provincial zoom (≥ 7), where they help; at national zoom they would be a mesh.
  fetch("basemap/counties.json").then((r) => r.json()).then((counties) => {
    M.countyLayer = L.geoJSON(counties, {
      style: (f) => ({ className: "county", weight: f.properties.province === M.province ? 1 : 0.7 }),
      interactive: false,
    });
    M.countyCount = counties.features.length;
    showCounties();
  });
  M.cityMarkers = b.cities.map((c) => {
    const m = L.marker([c.lat, c.lon], { interactive: false, keyboard: false,
      icon: L.divIcon({ className: "city" + (c.capital ? " capital" : ""), iconSize: [0, 0], html: "<i></i><span class='map-label'></span>" }) });
    m.city = c;
    return m;
  });
  // County names in Persian: a county is named after its seat (شهرستان ← مرکز شهرستان).
  const names = {};
  for (const c of b.cities) {
    const k = I.fold(c.en);
    if (!names[c.province + "/" + k]) names[c.province + "/" + k] = c.fa;
    if (!names["*/" + k]) names["*/" + k] = c.fa;
  }
  EOC.placeNames = names;
  M.ready = true;
  document.getElementById("map").dataset.basemap = "ready";
  if (M.province) fitProvince(M.province, true);
  showCities();
  relabel();
  if (EOC.app) EOC.app.render();
}

function showCounties() {
  if (!M.countyLayer) return;
  const want = M.map.getZoom() >= 7;
  if (want && !M.map.hasLayer(M.countyLayer)) {
    M.countyLayer.addTo(M.map);
    if (M.provinceLayer) M.provinceLayer.bringToBack();
  } else if (!want && M.map.hasLayer(M.countyLayer)) M.countyLayer.remove();
  document.getElementById("map").dataset.counties = want ? "shown" : "hidden";
}

/* Which places a zoom level has room for: capitals always, bigger towns as one zooms in. */
function showCities() {
  if (!M.ready) return;
  const z = M.map.getZoom();
  const min = z >= 9 ? 0 : z >= 8 ? 20000 : z >= 7 ? 60000 : z >= 6 ? 200000 : Infinity;
  const view = M.map.getBounds().pad(0.1);
  for (const m of M.cityMarkers) {
    const want = (m.city.capital || m.city.pop >= min) && view.contains(m.getLatLng());
    if (want && !M.map.hasLayer(m)) m.addTo(M.map);
    else if (!want && M.map.hasLayer(m)) m.remove();
  }
  relabel();
}

function relabel() {
  for (const m of M.cityMarkers) {
    const el = m.getElement && m.getElement();
    if (el) el.querySelector(".map-label").textContent = I.lang === "fa" ? m.city.fa : m.city.en;
  }
}

function fitProvince(code, force) {
  if (!M.map) return;
  M.province = code;
  if (!M.ready || (M.fitted === code && !force)) return;
  M.fitted = code;
  if (code === "IR" || !code) { M.map.fitBounds([[25.0, 44.0], [39.8, 63.4]]); return; }
  M.provinceLayer.eachLayer((l) => {
    const home = l.feature.properties.code === code;
    l.setStyle({ weight: home ? 2.5 : 1 });
    const path = l.getElement && l.getElement();
    if (path) path.classList.toggle("home", home);
    if (home) M.map.fitBounds(l.getBounds(), { padding: [12, 12] });
  });
}

// ------------------------------------------------------------------ markers

function teamIcon(t) {
  const alarm = t.check_in_missed || t.duress;
  const kind = t.duress ? "duress" : t.check_in_missed ? "missed" : "";
  const html = `<div class="tm${alarm ? " alarm " + kind : ""}" data-team-id="${esc(t.id)}" data-status="${esc(t.status)}">` +
    shape(alarm ? "alarm" : STATUS_SHAPE[t.status] || "circle", "s-" + esc(t.status)) +
    `<span class="map-label">${esc(t.name)}</span></div>`;
  return L.divIcon({ className: "team-icon", html, iconSize: alarm ? [34, 34] : [22, 22], iconAnchor: alarm ? [17, 17] : [11, 11] });
}

function incidentIcon(i) {
  const hot = i.unassigned && i.priority === "urgent";
  const html = `<div class="im p-${esc(i.priority)}${hot ? " hot" : ""}" data-incident-id="${esc(i.id)}">${shape("incident")}</div>`;
  return L.divIcon({ className: "incident-icon", html, iconSize: [22, 22], iconAnchor: [11, 11] });
}

function centreIcon(c, share) {
  const level = share >= 0.9 ? "bad" : share >= 0.75 ? "warn" : "ok";
  const html = `<div class="cm ${level}${c.secret ? " secret" : ""}" data-centre-id="${esc(c.id)}">${shape("centre")}</div>`;
  return L.divIcon({ className: "centre-icon", html, iconSize: [22, 22], iconAnchor: [11, 11] });
}

function clusterIcon(cluster, kind) {
  const counts = {};
  for (const m of cluster.getAllChildMarkers()) counts[m.key] = (counts[m.key] || 0) + 1;
  const order = kind === "team" ? STATUS_ORDER : PRIORITY_ORDER;
  const total = cluster.getChildCount();
  let at = 0;
  const stops = [];
  for (const k of order) {
    if (!counts[k]) continue;
    const from = (at / total) * 360;
    at += counts[k];
    stops.push(`var(--${kind === "team" ? "s" : "p"}-${k}) ${from}deg ${(at / total) * 360}deg`);
  }
  const parts = order.filter((k) => counts[k]).map((k) =>
    `<span class="${kind === "team" ? "s" : "p"}-${k}" data-k="${k}" data-n="${counts[k]}">${kind === "team" ? shape(STATUS_SHAPE[k], "s-" + k) : shape("incident", "p-" + k)}${I.num(counts[k])}</span>`).join("");
  const size = total >= 100 ? 54 : total >= 10 ? 46 : 40;
  const title = I.list(order.filter((k) => counts[k]).map((k) => `${I.word(k)}: ${I.num(counts[k])}`));
  return L.divIcon({
    className: "cluster-icon",
    iconSize: [size, size],
    html: `<div class="cluster ${kind}" data-count="${total}" title="${esc(title)}" style="--ring: conic-gradient(${stops.join(",")})">` +
      `<b>${I.num(total)}</b><div class="by">${parts}</div></div>`,
  });
}

/* Update one keyed layer: add new ids, restyle or move changed ones, drop gone ones. */
let changed = false;
function sync(store, layer, rows, latlng, signature, icon, popup, keyOf, alarmOf) {
  const seen = new Set();
  for (const r of rows) {
    const pos = latlng(r);
    if (!pos) continue;
    seen.add(r.id);
    const sig = signature(r);
    const wantLayer = alarmOf && alarmOf(r) ? M.alarmLayer : layer;
    let m = store.get(r.id);
    if (m && m.layerIn !== wantLayer) { m.layerIn.removeLayer(m); store.delete(r.id); m = null; }
    if (!m) {
      m = L.marker(pos, { icon: icon(r), riseOnHover: true, keyboard: false, zIndexOffset: wantLayer === M.alarmLayer ? 2000 : layer === M.teamLayer ? 1000 : 0 });
      m.key = keyOf(r); m.sig = sig; m.row = r; m.layerIn = wantLayer;
      m.bindPopup(() => (m.popupHtml = popup(m.row)), { maxWidth: 320 });
      wantLayer.addLayer(m);
      store.set(r.id, m);
      changed = true;
      continue;
    }
    m.row = r;
    const ll = m.getLatLng();
    if (Math.abs(ll.lat - pos[0]) > 1e-7 || Math.abs(ll.lng - pos[1]) > 1e-7) { m.setLatLng(pos); changed = true; }
    if (m.sig !== sig) {
      changed = true;
      m.sig = sig; m.key = keyOf(r);
      m.setIcon(icon(r));
      if (layer.refreshClusters && wantLayer === layer) layer.refreshClusters(m);
    }
    // An open popup is drawn again only when what it shows changed: a live board brings frames
    // many times a second, and a popup redrawn under the pointer loses the click on its button
    // (the press on the old button, the release on the new one).
    if (m.isPopupOpen() && popup(r) !== m.popupHtml) m.setPopupContent(() => (m.popupHtml = popup(m.row)));
  }
  for (const [id, m] of store) if (!seen.has(id)) { m.layerIn.removeLayer(m); store.delete(id); changed = true; }
}

function update(view) {
  if (!M.map) return;
  if (view.province && view.province !== M.province) fitProvince(view.province);
  else if (view.province && M.ready && M.fitted !== view.province) fitProvince(view.province);
  sync(M.teams, M.teamLayer, view.teams, (t) => t.position && [t.position.lat, t.position.lon],
       (t) => [t.status, !!t.check_in_missed, !!t.duress, t.name, I.lang].join("|"), teamIcon, view.teamPopup,
       (t) => t.status, (t) => t.check_in_missed || t.duress);
  sync(M.incidents, M.incidentLayer, view.incidents, (i) => i.location && [i.location.lat, i.location.lon],
       (i) => [i.priority, i.unassigned].join("|"), incidentIcon, view.incidentPopup, (i) => i.priority);
  sync(M.centres, M.centreLayer, view.centres, (c) => c.location && [c.location.lat, c.location.lon],
       (c) => [c.occupied, c.capacity, c.secret].join("|"), (c) => centreIcon(c, c.capacity ? c.occupied / c.capacity : 0),
       view.centrePopup, () => "centre");
  if (M.follow) {
    const m = M.teams.get(M.follow);
    if (m) M.map.panTo(m.getLatLng(), { animate: !reducedMotion() });
  }
  if (changed) declutter();
  changed = false;
}

function setFollow(id) {
  M.follow = id;
  if (id) {
    const m = M.teams.get(id);
    if (m) M.map.setView(m.getLatLng(), Math.max(M.map.getZoom(), 13), { animate: !reducedMotion() });
  }
  if (M.onFollow) M.onFollow(id);
}

/* Hide the lower-ranked of two overlapping labels. Ranked: alarm teams, teams, capitals, towns by size. */
let declutterQueued = false;
function declutter() {
  if (declutterQueued) return;
  declutterQueued = true;
  requestAnimationFrame(() => {
    declutterQueued = false;
    const el = document.getElementById("map");
    const placed = [];
    const free = (r) => !placed.some((p) => r.left < p.right + 2 && r.right > p.left - 2 && r.top < p.bottom + 1 && r.bottom > p.top - 1);
    // The clusters' discs stay where they are; their counts by status (under each disc at the
    // nation's zoom) are shown biggest cluster first, and a strip that would lie on a disc or
    // on another strip is left out (its disc's ring and its hover still tell the mix).
    const discs = [...el.querySelectorAll(".cluster")];
    for (const d of discs) { const r = d.getBoundingClientRect(); if (r.width) placed.push(r); }
    const strips = discs.map((d) => d.querySelector(".by")).filter(Boolean)
      .sort((a, b) => (+b.parentNode.dataset.count) - (+a.parentNode.dataset.count));
    for (const st of strips) {
      st.classList.remove("hidden");
      const r = st.getBoundingClientRect();
      if (!r.width) continue;
      if (free(r)) placed.push(r);
      else st.classList.add("hidden");
    }
    const labels = [...el.querySelectorAll(".map-label")].map((l) => {
      const tm = l.closest(".tm");
      const city = l.closest(".city");
      const rank = tm ? (tm.classList.contains("alarm") ? 0 : 1) : city && city.classList.contains("capital") ? 2 : 3;
      return { l, rank };
    });
    labels.sort((a, b) => a.rank - b.rank);
    for (const x of labels) {
      x.l.classList.remove("hidden");
      const r = x.l.getBoundingClientRect();
      if (!r.width) continue;
      if (free(r)) placed.push(r);
      else x.l.classList.add("hidden");
    }
  });
}

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

export const map = {
  init, update, fitProvince, setFollow, shape, STATUS_SHAPE, declutter, relabel,
  get state() { return M; },
  teamLatLng(id) { const m = M.teams.get(id); return m ? m.getLatLng() : null; },
  openTeam(id) {
    const m = M.teams.get(id);
    if (!m) return false;
    if (m.layerIn === M.teamLayer) M.teamLayer.zoomToShowLayer(m, () => m.openPopup());
    else m.openPopup();
    return true;
  },
};
EOC.map = map;
