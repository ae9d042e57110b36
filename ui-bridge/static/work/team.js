/* The mobile team's workspace (گروه سیار), for a phone or a tablet: the status buttons in the
 * order of a call, the incident and its danger flags before arrival, the safety check-in with
 * its countdown and one tap, SOS and a covert SOS (nothing shows on this screen), the
 * position from the browser when allowed. Offline, actions wait in order in the page. */
import { work as W } from "./core.js";

const w = (k) => W.ui(k);
const ORDER = ["en_route", "on_scene", "transporting", "at_centre", "available"];
const NEXT = { dispatched: ["en_route", "available"], en_route: ["on_scene", "available"],
               on_scene: ["transporting", "available"], transporting: ["at_centre"], at_centre: ["available"] };
const CHECK_IN_S = 20 * 60;
const KINDS = ["weapon", "violent_relative", "dog", "assault_on_staff"];
const SKILLS = ["social_worker", "woman_social_worker", "psychologist", "lawyer"];
let position = null, lastSent = 0;

export function mount(root) {
  const id = W.state.me.team;
  if (!id) { root.innerHTML = `<div class="panel">${w("unbound")}</div>`; return; }
  root.innerHTML = `
    <div class="row g-2 justify-content-center"><div class="col-md-8 col-lg-6">
      <div class="panel" id="tm-head"></div>
      <div class="panel team-status d-grid gap-2" id="tm-status">${ORDER.map((s) =>
      `<button type="button" class="btn btn-outline-primary" data-status="${s}">${W.esc(W.word(s))}</button>`).join("")}</div>
      <div class="panel" id="tm-incident"></div>
      <div class="panel d-flex align-items-center justify-content-between gap-2">
        <div>${w("nextCheckIn")}: <strong class="timer" id="tm-countdown">—</strong></div>
        <button type="button" class="btn btn-success btn-lg" id="tm-check-in">${w("checkIn")}</button></div>
      <div class="panel d-grid gap-1">
        <button type="button" class="btn btn-danger sos" id="tm-sos">${w("sos")}</button>
        <button type="button" class="btn btn-link covert-sos" id="tm-covert">${w("covert")}</button></div>
      <div class="panel" id="tm-shift"></div>
    </div></div>`;
  root.addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    const pos = position ? { position } : {};
    if (b.dataset.status) W.command(`/teams/${id}/status`, { status: b.dataset.status, ...pos });
    else if (b.id === "tm-check-in") W.command(`/teams/${id}/check-in`, pos);
    else if (b.id === "tm-sos") W.command(`/teams/${id}/duress`, { covert: false, ...pos });
    else if (b.id === "tm-covert") W.command(`/teams/${id}/duress`, { covert: true, ...pos }, { silent: true });
    else if (b.id === "tm-start") {
      const members = document.getElementById("tm-members").value.split(/[,،]/).map((m) => m.trim()).filter(Boolean);
      const skills = [...document.querySelectorAll("[id^=tm-skill-]:checked")].map((c) => c.value);
      W.command(`/teams/${id}/shift/start`, { shift: document.getElementById("tm-shift-kind").value, members, skills });
    } else if (b.id === "tm-end") W.command(`/teams/${id}/shift/end`, {});
    else if (b.id === "tm-danger") {
      const team = W.byId("team", id);
      const kinds = [...document.querySelectorAll("[id^=tm-kind-]:checked")].map((c) => c.value);
      if (team && team.incident_id && kinds.length) {
        W.command("/danger-flags", { kinds, incident_id: team.incident_id, note: document.getElementById("tm-danger-note").value || null });
      }
    }
  });
  if (navigator.geolocation) {
    navigator.geolocation.watchPosition((p) => {
      position = { lat: +p.coords.latitude.toFixed(6), lon: +p.coords.longitude.toFixed(6) };
      // telemetry, once a second at most: the live map moves with it (موقعیت زنده), the server
      // keeps one a 30 s in the track (docs/telemetry.md); not queued, the newest one wins anyway
      if (Date.now() - lastSent >= 1000) {
        lastSent = Date.now();
        W.query("POST", `/teams/${id}/position`, { position }).catch(() => {});
      }
    }, () => {}, { enableHighAccuracy: true, maximumAge: 15000 });
  }
  W.onChange(update, root);
  setInterval(countdown, 1000);
}

function countdown() {
  const el = document.getElementById("tm-countdown");
  const team = W.byId("team", W.state.me.team);
  if (!el || !team) return;
  if (!["on_scene", "transporting"].includes(team.status)) { el.textContent = "—"; return; }
  const from = Math.max(Date.parse(team.since), team.last_check_in ? Date.parse(team.last_check_in) : 0);
  const left = (from + CHECK_IN_S * 1000 - W.now()) / 1000;
  el.textContent = (left < 0 ? "−" : "") + W.I.duration(Math.abs(left));
  el.classList.toggle("text-danger", left < 120);
}

function update(keys) {
  const head = document.getElementById("tm-head");
  if (!head) return;
  const team = W.byId("team", W.state.me.team);
  if (!team) return;
  // keyed: this screen changes with its own team, its incident and the danger flags only
  if (keys && !W.touches(keys, `team/${team.id}`, `drill/team/${team.id}`, "danger/",
                         ...(team.incident_id ? [`incident/${team.incident_id}`, `drill/incident/${team.incident_id}`] : []))) return;
  document.body.dataset.teamStatus = team.status;
  head.innerHTML = `<div class="d-flex justify-content-between"><div>${W.ref(team)} <strong>${W.esc(team.name)}</strong></div>
      <span class="badge bg-primary fs-6" id="tm-current">${W.esc(W.word(team.status))}</span></div>`;
  const allowed = NEXT[team.status] || [];
  for (const b of document.querySelectorAll("#tm-status [data-status]")) {
    b.disabled = !allowed.includes(b.dataset.status);
    b.className = `btn ${b.disabled ? "btn-outline-secondary" : "btn-primary"}`;
  }
  const inc = team.incident_id && W.byId("incident", team.incident_id);
  const box = document.getElementById("tm-incident");
  box.innerHTML = inc ? `<h2>${w("incident")} ${W.ref(inc)}</h2>
      <div>${W.esc(W.word(inc.category))} · ${W.esc(W.word(inc.priority))} · ${W.I.list(inc.risk_flags.map(W.word).map(W.esc))}</div>
      <div class="small" dir="ltr">${w("location")}: ${W.I.digits(inc.location.lat.toFixed(5))}, ${W.I.digits(inc.location.lon.toFixed(5))}</div>
      <div id="tm-danger-list">${W.dangerHtml(W.dangerAt(inc.location, inc.id))}</div>
      <details class="mt-2"><summary>${w("recordDanger")}</summary>
        ${KINDS.map((k) => `<label class="form-check form-check-inline"><input class="form-check-input" type="checkbox" id="tm-kind-${k}" value="${k}"> ${W.esc(W.word(k))}</label>`).join("")}
        <input id="tm-danger-note" class="form-control form-control-sm my-1"><button type="button" class="btn btn-sm btn-outline-danger" id="tm-danger">${w("recordDanger")}</button></details>`
    : `<div class="text-muted">${w("noIncident")}</div>`;
  const shift = document.getElementById("tm-shift");
  const off = team.status === "off_duty";
  if (shift.dataset.off !== String(off)) {
    shift.dataset.off = String(off);
    shift.innerHTML = off ? `<div class="row g-1"><div class="col-4"><select id="tm-shift-kind" class="form-select">${["morning", "evening", "night"].map((s) => `<option value="${s}">${W.esc(W.word(s))}</option>`).join("")}</select></div>
        <div class="col-8"><input id="tm-members" class="form-control" placeholder="${w("members")}"></div>
        <div class="col-12">${SKILLS.map((k) => `<label class="form-check form-check-inline"><input class="form-check-input" type="checkbox" id="tm-skill-${k}" value="${k}"> ${W.esc(W.word(k))}</label>`).join("")}</div>
        <div class="col-12 d-grid"><button type="button" class="btn btn-outline-primary" id="tm-start">${w("startShift")}</button></div></div>`
      : `<button type="button" class="btn btn-outline-secondary w-100" id="tm-end">${w("endShift")}</button>`;
  }
  countdown();
}
