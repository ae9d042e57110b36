/* The supervisor's and the national EOC's workspace (ناظر استانی / مرکز عملیات اضطراری):
 * today's live board — duress alarms first, overdue call-backs, missed check-ins, the queue,
 * teams by status, occupancy with held places — and, for the supervisor, the dispatcher's
 * and the call-taker's work and recording danger-to-staff flags. */
import { work as W } from "./core.js";
import { mount as admin } from "./admin.js";
import { mount as callTaker } from "./calltaker.js";
import { mount as dispatcher } from "./dispatcher.js";

const w = (k) => W.ui(k);

const TABS = { dispatcher, call_taker: callTaker, admin };  // the supervisor's tabs

export function mount(root) {
  const sup = W.state.me.role === "provincial_supervisor";
  root.innerHTML = `<div class="row g-2">
      <div class="col-12"><div class="panel" id="eo-today"></div></div>
      <div class="col-lg-6"><div class="panel"><h2>${w("overdue")}</h2><div id="eo-overdue"></div></div></div>
      <div class="col-lg-6"><div class="panel"><h2>${w("missedCheckIns")}</h2><div id="eo-missed"></div></div></div>
      <div class="col-12"><div class="panel"><h2>${w("emerging")}</h2><div id="eo-emerging"></div></div></div>
      <div class="col-12"><div class="panel"><h2>${w("occupancy")}</h2><div id="eo-occupancy"></div></div></div>
      ${sup ? `<div class="col-12"><ul class="nav nav-tabs" role="tablist">
        <li class="nav-item"><button class="nav-link active" data-tab="dispatcher">${w("dispatchWork")}</button></li>
        <li class="nav-item"><button class="nav-link" data-tab="call_taker">${w("intakeWork")}</button></li>
        <li class="nav-item"><button class="nav-link" data-tab="admin" id="eo-admin-tab">${W.ui("admin")}</button></li></ul>
        <div id="eo-tab" class="pt-2"></div></div>` : `<div class="col-12" id="eo-admin"></div>`}
    </div>`;
  if (!sup && W.state.me.role === "national_eoc") admin(root.querySelector("#eo-admin"));  // its users
  if (sup) {
    const tab = root.querySelector("#eo-tab");
    dispatcher(tab);
    root.addEventListener("click", (e) => {
      const b = e.target.closest("[data-tab]");
      if (!b) return;
      root.querySelectorAll("[data-tab]").forEach((x) => x.classList.toggle("active", x === b));
      tab.innerHTML = "";
      TABS[b.dataset.tab](tab);
      W.changed(true);
    });
  }
  W.onChange(update, root);
  clearInterval(dueTimer);
  dueTimer = setInterval(() => { overdueList(); occupancy(); }, 30000);  // overdue and held places change with time
}
let dueTimer = null;

function update(keys) {
  const today = document.getElementById("eo-today");
  if (!today) return;
  if (W.touches(keys, "incident/", "team/")) todayBoard(today);
  if (W.touches(keys, "follow_up/")) overdueList();
  if (W.touches(keys, "alert/check_in_missed/")) missedList();
  if (W.touches(keys, "centre/", "secret_places/")) occupancy();
}
const SHOWN = 50;  // every list here is bounded; the count says how many more
const moreNote = (n) => (n > SHOWN ? `<div class="small text-muted">${W.I.digits(`+${n - SHOWN}`)}</div>` : "");
function todayBoard(today) {
  const incidents = W.rows("incident/");
  const teams = W.rows("team/");
  const by = {};
  for (const t of teams) by[t.status] = (by[t.status] || 0) + 1;
  today.innerHTML = `<h2>${w("today")}</h2><div class="d-flex flex-wrap gap-3">
      <div>${w("openIncidents")}: <strong id="eo-open">${W.I.digits(incidents.length)}</strong> (${W.I.digits(incidents.filter((i) => !i.teams.length).length)} ${w("unassigned")})</div>
      <div>${w("teamsBy")}: ${Object.entries(by).map(([s, n]) => `<span data-count-status="${W.esc(s)}">${W.esc(W.word(s))} ${W.I.digits(n)}</span>`).join(" · ")}</div></div>`;
}
function overdueList() {
  const overdue = W.followUps().filter((f) => f.state === "overdue");
  document.getElementById("eo-overdue").innerHTML = overdue.length ? `<ul id="eo-overdue-list">${overdue.slice(0, SHOWN).map((f) =>
    `<li data-follow-up="${W.esc(f.id)}">${f.call_ref ? `<span class="ref">${W.esc(f.call_ref)}</span>` : W.esc(W.word(f.subject))} · ${W.esc(W.when(f.due_at))}</li>`).join("")}</ul>${moreNote(overdue.length)}` : "—";
}
function missedList() {
  const missed = W.rows("alert/check_in_missed/");
  document.getElementById("eo-missed").innerHTML = missed.length ? `<ul>${missed.slice(0, SHOWN).map((a) => {
    const t = W.byId("team", a.team_id) || {};
    return `<li>${W.ref(t, a.team_id)} ${W.esc(t.name || "")} · <span data-since="${W.esc(a.since)}">${W.since(a.since)}</span></li>`;
  }).join("")}</ul>${moreNote(missed.length)}` : "—";
  // Emerging harms (projections/emerging.py), each with its chart on the reports page: the
  // link carries no token, the reports page reads this tab's signed-in session (session.js).
  const harms = W.rows("alert/emerging_harm/");
  document.getElementById("eo-emerging").innerHTML = harms.length ? `<ul id="eo-emerging-list">${harms.map((a) =>
    `<li data-harm="${W.esc(`${a.province}/${a.category}/${a.county}`)}">${W.esc(W.word(a.category))} · ` +
    `${W.esc(a.county === "*" ? w("wholeProvince") : a.county)} · ${w("observedExpected")} ` +
    `${W.I.digits(`${a.observed} / ${a.expected}`)}` +
    (typeof a.chart === "string" ? ` · <a class="alert-chart" href="${W.esc(a.chart.replace(/^\//, ""))}">${w("chart")}</a>` : "") +
    `</li>`).join("")}</ul>` : "—";
}
function occupancy() {
  const centres = W.rows("centre/").filter((c) => c.open);
  const counts = W.rows("secret_places/");
  const now = new Date(W.now()).toISOString();
  document.getElementById("eo-occupancy").innerHTML = `<table class="table table-sm"><tbody>${centres.map((c) => {
    const held = Object.values(c.holds || {}).filter((h) => h.until > now).length;
    return `<tr data-centre-row="${W.esc(c.id)}"><td>${W.ref(c, c.id)}</td><td>${W.esc(c.name)}</td>
        <td>${W.I.digits(`${c.occupied}/${c.capacity}`)}</td><td class="eo-held">${held ? `${W.I.digits(held)} ${W.ui("held")}` : ""}</td></tr>`;
  }).join("")}${counts.map((s) => `<tr><td colspan="2">${w("secretCounts")} · ${W.esc(W.I.province(s.province))}</td>
      <td colspan="2">${s.suppressed ? "<3" : W.I.digits(`${s.occupied}/${s.capacity}`)}</td></tr>`).join("")}</tbody></table>`;
}

