/* The dispatcher's workspace (اعزام‌کننده): the incident queue with live timers, the teams
 * recommended for the selected incident with the reason of each rank, one-click dispatch,
 * closing with an outcome, the teams' statuses and missed check-ins. */
import { work as W } from "./core.js";

const w = (k) => W.ui(k);
const RANK = { urgent: 0, high: 1, normal: 2, low: 3 };
const OUTCOMES = ["resolved_on_scene", "admitted", "referred", "no_contact", "false_report", "cancelled"];
let selected = null, rec = null, fetching = false, pending = false;

const TEAM_PAGE = 100;
let queueList = null, teamList = null, flagsCache = null;

export function mount(root) {
  root.innerHTML = `
    <div class="row g-2">
      <div class="col-xl-7"><div class="panel"><h2>${w("queue")} <span class="badge bg-secondary" id="dp-count"></span></h2>
        <div class="list-scroll"><table class="table table-sm table-hover align-middle" id="dp-incidents"><thead><tr>
        <th>#</th><th>${w("priority")}</th><th>${w("category")}</th><th>${w("age")}</th><th>${w("risk")}</th><th>${w("flags")}</th><th>${w("assigned")}</th></tr></thead>
        <tbody id="dp-queue"></tbody></table></div>
        <button type="button" class="btn btn-sm btn-link" id="dp-queue-more" hidden></button></div>
        <div class="panel"><h2>${w("teams")} <span class="badge bg-secondary" id="dp-team-count"></span></h2>
          <div class="list-scroll"><table class="table table-sm"><tbody id="dp-teams"></tbody></table></div>
          <button type="button" class="btn btn-sm btn-link" id="dp-teams-more" hidden></button></div></div>
      <div class="col-xl-5"><div class="panel" id="dp-rec"><h2>${w("recommended")}</h2><div id="dp-rec-body" class="text-muted">${w("select")}</div></div></div>
    </div>`;
  const more = (id, n, shown) => {
    const b = root.querySelector(id);
    b.hidden = n <= shown;
    b.textContent = W.I.digits(`${w("more")} (${n - shown})`);
  };
  queueList = W.keyedList(root.querySelector("#dp-queue"), {
    prefix: "incident/", compare: byQueue, limit: 500, html: incidentHtml,
    attrs: (i) => ({ tabindex: "0", "data-incident": i.id,
                     class: `${i.id === selected ? "row-selected" : ""} ${!i.teams.length && i.priority === "urgent" ? "table-danger" : ""}` }),
    onCount: (n, shown) => { root.querySelector("#dp-count").textContent = W.I.digits(n); more("#dp-queue-more", n, shown); },
  });
  teamList = W.keyedList(root.querySelector("#dp-teams"), {
    prefix: "team/", compare: (a, b) => ((a.ref || "") < (b.ref || "") ? -1 : (a.ref || "") > (b.ref || "") ? 1 : 0),
    limit: TEAM_PAGE, html: teamHtml,
    attrs: (t) => ({ "data-team-row": t.id, "data-status": t.status, class: t.check_in_missed ? "table-danger" : "" }),
    onCount: (n, shown) => { root.querySelector("#dp-team-count").textContent = W.I.digits(n); more("#dp-teams-more", n, shown); },
  });
  root.querySelector("#dp-queue-more").addEventListener("click", () => queueList.more(500));
  root.querySelector("#dp-teams-more").addEventListener("click", () => teamList.more(TEAM_PAGE));
  const select = (id) => {
    const before = selected;
    selected = id; rec = null;
    if (before) queueList.redraw(before);
    queueList.redraw(id);
    renderRec();
    refresh();
  };
  root.addEventListener("click", (e) => {
    const d = e.target.closest("[data-dispatch]");
    if (d) {
      d.disabled = true;
      W.command(`/teams/${d.dataset.dispatch}/dispatch`, { incident_id: selected }).finally(() => refresh());
      return;
    }
    if (e.target.closest("#dp-close")) {
      W.command(`/incidents/${selected}/close`, { outcome: document.getElementById("dp-outcome").value });
      return;
    }
    const tr = e.target.closest("[data-incident]");
    if (tr) select(tr.dataset.incident);
  });
  root.addEventListener("keydown", (e) => {
    const tr = e.target.closest("[data-incident]");
    if (tr && e.key === "Enter") select(tr.dataset.incident);
  });
  W.onChange(update, root);
}

function byQueue(a, b) {
  return (RANK[a.priority] - RANK[b.priority]) || (a.opened_at < b.opened_at ? -1 : a.opened_at > b.opened_at ? 1 : 0)
    || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
function incidentHtml(i) {
  const danger = flagsCache && flagsCache.length ? W.dangerAt(i.location, i.id, flagsCache).length : 0;
  const teams = i.teams.map((t) => (W.byId("team", t) || {}).ref || t.slice(0, 8));
  return `<td>${W.ref(i, i.id)}</td><td>${W.esc(W.word(i.priority))}</td><td>${W.esc(W.word(i.category))}</td>
      <td class="timer" data-since="${W.esc(i.opened_at)}">${W.since(i.opened_at)}</td>
      <td>${W.I.list(i.risk_flags.map(W.word).map(W.esc))}</td><td>${danger ? `<span class="badge bg-danger">⚠ ${W.I.digits(danger)}</span>` : ""}</td>
      <td>${teams.map((t) => `<span class="ref">${W.esc(t)}</span>`).join(" ")}</td>`;
}
function teamHtml(t) {
  return `<td>${W.ref(t, t.id)}</td><td>${W.esc(t.name)}</td><td>${W.esc(W.word(t.status))}</td>
      <td class="timer" data-since="${W.esc(t.since)}">${W.since(t.since)}</td>
      <td>${W.I.list((t.skills || []).map(W.word).map(W.esc))}</td>
      <td>${t.check_in_missed ? w("missed") : t.last_check_in ? `<span class="checked-in text-success" data-checked-in="${W.esc(t.last_check_in)}">✓ ${W.esc(W.I.time(Date.parse(t.last_check_in)))}</span>` : ""}</td>`;
}

async function refresh() {
  if (!selected) return;
  if (fetching) { pending = true; return; }
  fetching = true;
  try { rec = await W.query("GET", `/incidents/${selected}/recommendation`); } catch (e) { rec = null; }
  fetching = false;
  renderRec();
  if (pending) { pending = false; refresh(); }
}

function reason(r) {
  const I = W.I;
  switch (r.code) {
    case "distance": return r.km === null ? "—" : I.digits(`${r.km} ${w("km")} ≈ ${Math.round(r.eta_min)} ${w("min")}`);
    case "busy": return `${W.word("busy")} (${W.word(r.status)})`;
    case "conflict": return `${W.word("conflict")}: ${r.reason}`;
    case "crew_too_small": return `${W.word("crew_too_small")} (${I.digits(r.crew)})`;
    case "has_skill": return `✓ ${W.word(r.skill)}`;
    case "missing_skill": return `✗ ${W.word(r.skill)}`;
    case "on_shift": return `${W.word("on_shift")} ${W.word(r.shift)}`;
    default: return W.word(r.code);
  }
}

function renderRec() {
  const body = document.getElementById("dp-rec-body");
  if (!body) return;
  const inc = selected && W.byId("incident", selected);
  if (!inc) { body.innerHTML = w("select"); return; }
  const danger = W.dangerAt(inc.location, inc.id);
  const teams = rec && rec.open ? rec.teams : [];
  body.innerHTML = `<div class="mb-2">${W.ref(inc)} ${W.esc(W.word(inc.category))} · ${W.esc(W.word(inc.priority))}
      ${rec && rec.needs.length ? ` · ${w("needs")}: ${W.I.list(rec.needs.map(W.word).map(W.esc))}` : ""}</div>
      ${W.dangerHtml(danger)}
      <table class="table table-sm align-middle" id="dp-rec-list"><tbody>${teams.map((t) => `
        <tr data-team="${W.esc(t.team_id)}" data-eligible="${t.eligible}" class="${t.eligible ? "" : "text-muted"}">
          <td>${W.I.digits(t.rank)}</td><td><span class="ref">${W.esc(t.ref || "")}</span> ${W.esc(t.name || "")}</td>
          <td class="reasons">${t.reasons.map(reason).map(W.esc).join(" · ")}</td>
          <td>${t.eligible && !inc.teams.length ? `<button class="btn btn-sm btn-primary" data-dispatch="${W.esc(t.team_id)}">${w("dispatch")}</button>` : ""}</td>
        </tr>`).join("")}</tbody></table>
      <div class="small text-muted">${w("estimate")}</div>
      <div class="input-group input-group-sm mt-2"><select id="dp-outcome" class="form-select">${OUTCOMES.map((o) => `<option value="${o}">${W.esc(W.word(o))}</option>`).join("")}</select>
      <button id="dp-close" class="btn btn-outline-secondary">${w("close_incident")}</button></div>`;
}

/* Keyed: only the incidents and teams a frame names are drawn again; a change of danger
 * flags redraws the queue's flag column (rare); the recommendation is asked again only when
 * a team or the selected incident changed. */
function update(keys) {
  if (!queueList) return;
  if (W.touches(keys, "danger/")) { flagsCache = W.rows("danger/"); queueList.sync(null); }
  else queueList.sync(keys ? W.changedIds(keys, "incident/") : null);
  teamList.sync(keys ? W.changedIds(keys, "team/") : null);
  if (selected && !W.byId("incident", selected)) { selected = null; rec = null; }
  if (!keys || W.touches(keys, "danger/", "incident/" + selected)) { renderRec(); refresh(); }
  else if (W.touches(keys, "team/")) refreshSoon();  // teams move all the time: at most once a second
}
let soon = null;
function refreshSoon() {
  if (soon) return;
  soon = setTimeout(() => { soon = null; refresh(); }, 1000);
}

