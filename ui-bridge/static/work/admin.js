/* Administration in the supervisor's and the national EOC's workspace (مدیریت): what their
 * role may do per the policy table (events/policy.py), each an API command with its key —
 * the provincial supervisor registers teams and places (with capacity and closing), sets the
 * rosters (planned teams per shift and county, beside the teams on shift now), runs drills
 * (مانور: incidents kept apart from the real figures) and manages the province's users; the
 * national EOC, which only watches, manages national users and supervisors. Users are the
 * identity's page (users.html), linked here. Every list is bounded. */
import { geo } from "../geo.js";
import { work as W } from "./core.js";
import { picker } from "./picker.js";

const w = (k) => W.ui(k);
const KINDS = ["residential_level_1", "residential_level_2", "outpatient", "safe_house", "health_house", "social_service_base", "mobile_base"];
const SHIFTS = ["morning", "evening", "night"];
const CATEGORIES = ["spouse_abuse", "child_abuse", "family_dispute", "suicide", "runaway", "other"];
const SHOWN = 50;

function may(command) { return (W.state.me.commands || []).includes(command); }

export function mount(root) {
  const me = W.state.me;
  const opt = (v, label) => `<option value="${W.esc(v)}">${W.esc(label || W.word(v))}</option>`;
  const counties = W.state.counties.map(([en, fa]) => opt(en, W.I.lang === "fa" ? fa : en)).join("");
  const point = (id) => `<div class="col-6"><input id="${id}-lat" class="form-control form-control-sm" inputmode="decimal" dir="ltr" placeholder="${w("lat")}" aria-label="${w("lat")}"></div>
      <div class="col-6"><input id="${id}-lon" class="form-control form-control-sm" inputmode="decimal" dir="ltr" placeholder="${w("lon")}" aria-label="${w("lon")}"></div>
      <div class="col-12"><div id="${id}-map" class="pick-map pick-map-sm"></div></div>`;
  const users = me.manages ? `<div class="col-12"><div class="panel d-flex justify-content-between align-items-center">
        <div><h2 class="mb-0">${w("users")}</h2><small class="text-muted">${w("usersNote")}</small></div>
        <a class="btn btn-outline-primary" id="ad-users" href="users.html">${w("users")}</a></div></div>` : "";
  if (!may("register_team")) {  // the national EOC and the auditors: no commands
    root.innerHTML = `<div class="row g-2">${users}<div class="col-12"><div class="panel text-muted" id="ad-watch">${w("watchOnly")}</div></div></div>`;
    return;
  }
  root.innerHTML = `<div class="row g-2">${users}
      <div class="col-lg-6"><form class="panel" id="ad-team" autocomplete="off"><h2>${w("registerTeam")}</h2><div class="row g-1">
        <div class="col-7"><input id="ad-team-name" class="form-control form-control-sm" placeholder="${w("teamName")}" aria-label="${w("teamName")}" maxlength="80" required></div>
        <div class="col-5"><select id="ad-team-county" class="form-select form-select-sm" aria-label="${w("county")}">${counties}</select></div>
        <div class="col-12 small text-muted">${w("home")}</div>${point("ad-team")}
        <div class="col-12 d-grid"><button class="btn btn-sm btn-primary" type="submit">${w("register")}</button></div></div></form></div>
      <div class="col-lg-6"><form class="panel" id="ad-place" autocomplete="off"><h2>${w("registerPlace")}</h2><div class="row g-1">
        <div class="col-7"><input id="ad-place-name" class="form-control form-control-sm" placeholder="${w("placeName")}" aria-label="${w("placeName")}" maxlength="120" required></div>
        <div class="col-5"><select id="ad-place-county" class="form-select form-select-sm" aria-label="${w("county")}">${counties}</select></div>
        <div class="col-6"><select id="ad-place-kind" class="form-select form-select-sm" aria-label="${w("kind")}">${KINDS.map((k) => opt(k)).join("")}</select></div>
        <div class="col-3"><input id="ad-place-capacity" class="form-control form-control-sm" inputmode="numeric" dir="ltr" value="10" aria-label="${w("capacity")}"></div>
        <div class="col-3"><label class="form-check small"><input type="checkbox" class="form-check-input" id="ad-place-secret"> ${w("secret")}</label></div>
        ${point("ad-place")}
        <div class="col-12 d-grid"><button class="btn btn-sm btn-primary" type="submit">${w("register")}</button></div></div></form></div>
      <div class="col-lg-6"><div class="panel"><h2>${w("places")}</h2>
        <div class="input-group input-group-sm mb-2"><select id="ad-centre" class="form-select" aria-label="${w("places")}"></select>
          <input id="ad-centre-capacity" class="form-control" inputmode="numeric" dir="ltr" aria-label="${w("capacity")}" placeholder="${w("capacity")}">
          <button class="btn btn-outline-primary" type="button" id="ad-capacity">${w("changeCapacity")}</button></div>
        <div class="input-group input-group-sm"><input id="ad-close-reason" class="form-control" placeholder="${w("reason")}" aria-label="${w("reason")}" maxlength="200">
          <button class="btn btn-outline-danger" type="button" id="ad-close">${w("closePlace")}</button></div></div></div>
      <div class="col-lg-6"><form class="panel" id="ad-roster"><h2>${w("roster")}</h2>
        <div class="input-group input-group-sm mb-2"><select id="ad-roster-county" class="form-select" aria-label="${w("county")}">${opt("*", w("everyCounty"))}${counties}</select>
          ${SHIFTS.map((s) => `<span class="input-group-text">${W.esc(W.word(s))}</span><input id="ad-roster-${s}" class="form-control" inputmode="numeric" dir="ltr" value="0" aria-label="${W.esc(W.word(s))}">`).join("")}
          <button class="btn btn-primary" type="submit">${w("setRoster")}</button></div>
        <table class="table table-sm" id="ad-rosters"><thead><tr><th>${w("county")}</th><th>${w("roster")}</th><th>${w("actual")}</th></tr></thead><tbody></tbody></table></form></div>
      <div class="col-12"><form class="panel" id="ad-drill"><h2>${w("drills")}</h2><div class="row g-1 align-items-end">
        <div class="col-md-3"><select id="ad-drill-category" class="form-select form-select-sm" aria-label="${w("category")}">${CATEGORIES.map((c) => opt(c)).join("")}</select></div>
        <div class="col-md-3"><select id="ad-drill-county" class="form-select form-select-sm" aria-label="${w("county")}">${counties}</select></div>
        <div class="col-md-2"><input id="ad-drill-lat" class="form-control form-control-sm" dir="ltr" placeholder="${w("lat")}" aria-label="${w("lat")}"></div>
        <div class="col-md-2"><input id="ad-drill-lon" class="form-control form-control-sm" dir="ltr" placeholder="${w("lon")}" aria-label="${w("lon")}"></div>
        <div class="col-md-2 d-grid"><button class="btn btn-sm btn-warning" type="submit">${w("openDrill")}</button></div></div>
        <table class="table table-sm mt-2" id="ad-drills"><tbody></tbody></table></form></div>
    </div>`;
  const $ = (id) => root.querySelector("#" + id);
  const num = (id) => parseFloat(W.latin($(id).value));
  const at = (id) => ({ lat: num(id + "-lat"), lon: num(id + "-lon") });
  const valid = (p) => Number.isFinite(p.lat) && Number.isFinite(p.lon);
  // the county selects start at the province's capital county, as the intake form does
  const province = geo.PROVINCES[me.province];
  const capital = province && W.state.counties.find(([en]) => en === (province.capital || province.en));
  if (capital) for (const id of ["ad-team-county", "ad-place-county", "ad-drill-county"]) $(id).value = capital[0];
  for (const id of ["ad-team", "ad-place"]) picker($(id + "-map"), $(id + "-lat"), $(id + "-lon"), me.province).catch(() => {});
  $("ad-team").addEventListener("submit", (e) => {
    e.preventDefault();
    const p = at("ad-team");
    if (!valid(p)) { W.toast(`${w("lat")} / ${w("lon")}`, "danger"); return; }
    W.command("/teams", { province: me.province, county: $("ad-team-county").value, name: $("ad-team-name").value.trim(),
                          home: p, team_id: W.uuid() });
    e.target.reset();
  });
  $("ad-place").addEventListener("submit", (e) => {
    e.preventDefault();
    const p = at("ad-place");
    if (!valid(p)) { W.toast(`${w("lat")} / ${w("lon")}`, "danger"); return; }
    W.command("/centres", { province: me.province, county: $("ad-place-county").value, name: $("ad-place-name").value.trim(),
                            kind: $("ad-place-kind").value, capacity: parseInt(W.latin($("ad-place-capacity").value), 10) || 0,
                            secret: $("ad-place-secret").checked, location: p, centre_id: W.uuid() });
    e.target.reset();
  });
  $("ad-capacity").addEventListener("click", () => {
    const c = $("ad-centre").value;
    if (c) W.command(`/centres/${c}/capacity`, { capacity: parseInt(W.latin($("ad-centre-capacity").value), 10) || 0 });
  });
  $("ad-close").addEventListener("click", () => {
    const c = $("ad-centre").value, reason = $("ad-close-reason").value.trim();
    if (c && reason) W.command(`/centres/${c}/close`, { reason });
  });
  $("ad-roster").addEventListener("submit", (e) => {
    e.preventDefault();
    const shifts = {};
    for (const s of SHIFTS) shifts[s] = parseInt(W.latin($("ad-roster-" + s).value), 10) || 0;
    W.command("/rosters", { province: me.province, county: $("ad-roster-county").value, shifts });
  });
  $("ad-drill").addEventListener("submit", (e) => {
    e.preventDefault();
    const p = at("ad-drill");
    if (!valid(p)) { W.toast(`${w("lat")} / ${w("lon")}`, "danger"); return; }
    W.command("/incidents", { province: me.province, county: $("ad-drill-county").value, route: "other_organization",
                              category: $("ad-drill-category").value, priority: "normal", location: p, exercise: true,
                              incident_id: W.uuid() });
  });
  root.addEventListener("click", (e) => {
    const b = e.target.closest("[data-close-drill]");
    if (b) W.command(`/incidents/${b.dataset.closeDrill}/close`, { outcome: "cancelled", exercise: true });
  });
  W.onChange(update, root);
}

function update(keys) {
  const rosters = document.querySelector("#ad-rosters tbody");
  if (!rosters) return;
  if (W.touches(keys, "centre/")) {
    const sel = document.getElementById("ad-centre");
    const was = sel.value;
    const centres = W.rows("centre/").filter((c) => c.open).sort((a, b) => ((a.ref || "") < (b.ref || "") ? -1 : 1));
    sel.innerHTML = centres.map((c) => `<option value="${W.esc(c.id)}">${W.esc(c.ref || "")} ${W.esc(c.name)} (${W.I.digits(c.capacity)})</option>`).join("");
    if (was && centres.some((c) => c.id === was)) sel.value = was;
  }
  if (W.touches(keys, "roster/", "team/")) {
    const teams = W.rows("team/");
    const on = {};
    for (const t of teams) if (t.shift && t.status !== "off_duty") on[`${t.county}/${t.shift}`] = (on[`${t.county}/${t.shift}`] || 0) + 1;
    const list = W.rows("roster/").sort((a, b) => (a.county < b.county ? -1 : 1));
    rosters.innerHTML = list.slice(0, SHOWN).map((r) => `<tr data-roster="${W.esc(r.county)}">
        <td>${r.county === "*" ? w("everyCounty") : W.esc(W.I.county ? W.I.county(r.county, r.province) : r.county)}</td>
        <td>${Object.entries(r.shifts).map(([s, n]) => `<span data-shift="${W.esc(s)}">${W.esc(W.word(s))} ${W.I.digits(n)}</span>`).join(" · ")}</td>
        <td>${r.county === "*" ? "" : SHIFTS.map((s) => on[`${r.county}/${s}`] ? `${W.esc(W.word(s))} ${W.I.digits(on[`${r.county}/${s}`])}` : "").filter(Boolean).join(" · ")}</td></tr>`).join("")
      + (list.length > SHOWN ? `<tr><td colspan="3" class="text-muted small">${W.I.digits(`+${list.length - SHOWN}`)}</td></tr>` : "");
  }
  if (W.touches(keys, "drill/incident/")) {
    const drills = W.rows("drill/incident/").sort((a, b) => (a.opened_at < b.opened_at ? 1 : -1));
    document.querySelector("#ad-drills tbody").innerHTML = drills.slice(0, SHOWN).map((i) => `<tr data-drill="${W.esc(i.id)}">
        <td>${W.ref(i, i.id)}</td><td>${W.esc(W.word(i.category))}</td><td class="timer" data-since="${W.esc(i.opened_at)}">${W.since(i.opened_at)}</td>
        <td><button type="button" class="btn btn-sm btn-outline-secondary" data-close-drill="${W.esc(i.id)}">${W.ui("close")}</button></td></tr>`).join("");
  }
}

