/* The call-taker's location picker (انتخاب محل روی نقشه): a small Leaflet map (the vendored
 * Leaflet, loaded only when a call-taker's workspace needs it) over the shipped base layers
 * (basemap/iran.json: provinces, cities) and a deployment's own tiles if it has them. A click
 * (or a tap) puts the incident's marker there and fills the latitude and longitude fields;
 * typing the coordinates moves the marker. The fields stay the keyboard's way: the map is
 * not a Tab stop, so the intake form's order does not change. */
import { work as W } from "./core.js";

let loading = null;

function load() {
  if (window.L) return Promise.resolve();
  if (loading) return loading;
  loading = new Promise((resolve, reject) => {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = "vendor/leaflet/leaflet.css";
    document.head.appendChild(css);
    const js = document.createElement("script");
    js.src = "vendor/leaflet/leaflet.js";
    js.onload = () => resolve();
    js.onerror = () => { loading = null; reject(new Error("leaflet")); };
    document.head.appendChild(js);
  });
  return loading;
}

/* A picker in ``el`` writing to the inputs ``lat`` and ``lon``; returns {map, set(point)}. */
export async function picker(el, lat, lon, province) {
  await load();
  if (!el.isConnected) return null;
  const map = L.map(el, { zoomSnap: 0.5, minZoom: 4, maxZoom: 17, keyboard: false, attributionControl: true });
  map.attributionControl.setPrefix(false);
  // not a Tab stop (the coordinates' fields are the keyboard's way): zoom buttons neither
  el.removeAttribute("tabindex");
  for (const a of el.querySelectorAll("a, [tabindex]")) a.tabIndex = -1;
  const config = W.state.config;
  if (config && config.map_tiles) L.tileLayer(config.map_tiles, { maxZoom: 19, attribution: config.map_tiles_attribution || "" }).addTo(map);
  map.fitBounds([[25.0, 44.0], [39.8, 63.4]]);
  let marker = null;
  const out = { map, marker: () => marker };
  function put(point, fromMap) {
    if (!marker) marker = L.marker(point, { keyboard: false, title: W.ui("incidentHere") }).addTo(map);
    else marker.setLatLng(point);
    el.dataset.picked = `${point.lat.toFixed(5)},${point.lng.toFixed(5)}`;
    if (fromMap) {
      lat.value = point.lat.toFixed(5);
      lon.value = point.lng.toFixed(5);
      lat.dispatchEvent(new Event("input", { bubbles: true }));  // the related-calls lookup follows
    }
  }
  map.on("click", (e) => put(e.latlng, true));
  const typed = () => {
    const a = parseFloat(W.latin(lat.value)), b = parseFloat(W.latin(lon.value));
    if (Number.isFinite(a) && Number.isFinite(b) && Math.abs(a) <= 90 && Math.abs(b) <= 180) put(L.latLng(a, b), false);
    else if (marker) { marker.remove(); marker = null; delete el.dataset.picked; }
  };
  lat.addEventListener("input", typed);
  lon.addEventListener("input", typed);
  out.clear = () => { if (marker) { marker.remove(); marker = null; } delete el.dataset.picked; };
  try {
    const base = await (await fetch("basemap/iran.json")).json();
    const own = base.provinces.features.filter((f) => f.properties.code === province);
    L.geoJSON(base.provinces, { interactive: false, style: (f) => ({ color: "#64748b", weight: f.properties.code === province ? 2.5 : 0.8, fillOpacity: f.properties.code === province ? 0.04 : 0 }) }).addTo(map);
    for (const c of base.cities) {
      if (c.province !== province && !c.capital) continue;
      L.circleMarker([c.lat, c.lon], { radius: c.capital ? 4 : 2.5, color: "#334155", weight: 1, interactive: false }).addTo(map);
      if (c.province === province && (c.capital || c.pop >= 20000)) {  // names as plain labels: nothing to focus
        L.marker([c.lat, c.lon], { interactive: false, keyboard: false, icon: L.divIcon({ className: "pick-city", iconSize: [0, 0],
          html: `<span>${W.esc(W.I.lang === "fa" ? c.fa : c.en)}</span>` }) }).addTo(map);
      }
    }
    if (own.length) map.fitBounds(L.geoJSON({ type: "FeatureCollection", features: own }).getBounds(), { padding: [8, 8] });
    map.attributionControl.addAttribution("Natural Earth · GeoNames");
  } catch (e) { /* the map works without its base layers */ }
  for (const a of el.querySelectorAll("a, [tabindex]")) a.tabIndex = -1;  // the labels' tooltips neither
  el.dataset.ready = "1";
  return out;
}

