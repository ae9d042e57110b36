/* The call-taker's workspace (کارشناس خط ۱۲۳): a keyboard-first intake form (Enter takes the
 * call; the action is chosen with the keyboard too), the caller's earlier calls and open
 * incidents at the same address while the form is filled (link instead of a duplicate), the
 * shift's open calls with a timer each, and the call-backs that are due. */
import { geo } from "../geo.js";
import { work as W } from "./core.js";
import { picker } from "./picker.js";

const w = (k) => W.ui(k);
const CATEGORIES = ["spouse_abuse", "child_abuse", "child_maltreatment", "elder_abuse", "disabled_abuse",
  "family_dispute", "spouse_addiction", "suicide", "runaway", "street_children", "divorce", "other"];
const PRIORITIES = ["urgent", "high", "normal", "low"];
const RISKS = ["suicide_risk", "child_in_danger", "violence_ongoing", "weapon", "staff_safety"];
let started = Date.now();

export function mount(root) {
  const me = W.state.me;
  const opt = (v, label) => `<option value="${W.esc(v)}">${W.esc(label || W.word(v))}</option>`;
  root.innerHTML = `
    <div class="row g-2">
      <div class="col-lg-6"><form id="ct-form" class="panel" autocomplete="off">
        <h2>${w("intake")}</h2>
        <div class="row g-2">
          <div class="col-6"><label class="form-label" for="ct-phone">${w("phone")}</label>
            <input id="ct-phone" class="form-control" inputmode="tel" dir="ltr" autofocus></div>
          <div class="col-6"><label class="form-label" for="ct-name">${w("name")}</label>
            <input id="ct-name" class="form-control"></div>
          <div class="col-4"><label class="form-label" for="ct-line">${w("line")}</label>
            <select id="ct-line" class="form-select">${opt("123")}${opt("1480")}</select></div>
          <div class="col-8"><label class="form-label" for="ct-county">${w("county")}</label>
            <select id="ct-county" class="form-select">${W.state.counties.map(([en, fa]) => opt(en, W.I.lang === "fa" ? fa : en)).join("")}</select></div>
          <div class="col-6"><label class="form-label" for="ct-category">${w("category")}</label>
            <select id="ct-category" class="form-select">${CATEGORIES.map((c) => opt(c)).join("")}</select></div>
          <div class="col-6"><label class="form-label" for="ct-priority">${w("priority")}</label>
            <select id="ct-priority" class="form-select">${PRIORITIES.map((c) => opt(c)).join("")}</select></div>
          <fieldset class="col-12"><legend class="form-label fs-6">${w("risk")}</legend>
            ${RISKS.map((r) => `<label class="form-check form-check-inline"><input class="form-check-input" type="checkbox" id="ct-risk-${r}" value="${r}"> ${W.esc(W.word(r))}</label>`).join("")}
          </fieldset>
          <div class="col-12"><label class="form-label" for="ct-narrative">${w("narrative")}</label>
            <textarea id="ct-narrative" class="form-control" rows="2"></textarea></div>
          <div class="col-6"><label class="form-label" for="ct-lat">${w("lat")}</label>
            <input id="ct-lat" class="form-control" inputmode="decimal" dir="ltr"></div>
          <div class="col-6"><label class="form-label" for="ct-lon">${w("lon")}</label>
            <input id="ct-lon" class="form-control" inputmode="decimal" dir="ltr"></div>
          <div class="col-12"><div id="ct-map" class="pick-map" role="img" aria-label="${W.esc(W.ui("pickOnMap"))}"></div>
            <div class="form-text">${W.esc(W.ui("pickOnMap"))}</div></div>
          <div class="col-6"><label class="form-label" for="ct-action">${w("action")}</label>
            <select id="ct-action" class="form-select">${["escalate", "counsel", "refer_1480", "refer_agency"].map((a) => opt(a, w(a))).join("")}</select></div>
          <div class="col-6"><label class="form-label" for="ct-agency">${w("agency")}</label>
            <input id="ct-agency" class="form-control"></div>
          <div class="col-12"><label class="form-check"><input class="form-check-input" type="checkbox" id="ct-callback"> ${w("callback")}</label></div>
        </div>
        <button id="ct-submit" class="btn btn-primary mt-2 w-100" type="submit">${w("take")}</button>
      </form></div>
      <div class="col-lg-6">
        <div class="panel" id="ct-related"><h2>${w("related")}</h2><div id="ct-related-body" class="small text-muted">—</div></div>
        <div class="panel"><h2>${w("openCalls")} <span class="badge bg-secondary" id="ct-open-count"></span></h2>
          <div class="list-scroll"><table class="table table-sm"><tbody id="ct-open"></tbody></table></div></div>
        <div class="panel"><h2>${w("callbacks")}</h2><div id="ct-callbacks"></div></div>
      </div>
    </div>`;
  const form = root.querySelector("#ct-form");
  form.addEventListener("submit", (e) => { e.preventDefault(); take(null); });
  form.addEventListener("keydown", (e) => {
    // Enter takes the call from any field (a list too); Shift+Enter is a new line in the narrative.
    const t = e.target;
    if (e.key !== "Enter" || e.shiftKey || t.tagName === "BUTTON") return;
    if (t.tagName === "SELECT" || t.tagName === "TEXTAREA") { e.preventDefault(); take(null); }
  });
  for (const id of ["ct-phone", "ct-lat", "ct-lon"]) form.querySelector("#" + id).addEventListener("input", lookupSoon);
  root.querySelector("#ct-related-body").addEventListener("click", (e) => {
    const b = e.target.closest("[data-link]");
    if (b) take(b.dataset.link);
  });
  root.addEventListener("click", (e) => {
    const b = e.target.closest("[data-callback-done]");
    if (b) { b.disabled = true; W.command(`/follow-ups/${b.dataset.callbackDone}/done`, { reached: true }).catch(() => { b.disabled = false; }); }
  });
  // The county is prefilled: the province's capital county when it bears the province's name.
  const province = geo.PROVINCES[me.province];
  const county = root.querySelector("#ct-county");
  const capital = province && W.state.counties.find(([en]) => en === (province.capital || province.en));
  if (capital) county.value = capital[0];
  county.dataset.default = county.value;
  started = Date.now();
  mapPicker = null;
  picker(root.querySelector("#ct-map"), root.querySelector("#ct-lat"), root.querySelector("#ct-lon"), me.province)
    .then((p) => { mapPicker = p; }, () => {});
  openList = W.keyedList(root.querySelector("#ct-open"), {
    prefix: "call/", limit: 200,
    compare: (a, b) => (a.received_at < b.received_at ? -1 : a.received_at > b.received_at ? 1 : a.id < b.id ? -1 : 1),
    attrs: (c) => ({ "data-call": c.id }),
    html: (c) => `<td>${W.ref(c, c.id)}</td><td>${W.esc(W.word(c.status))}</td><td>${W.esc(W.word(c.category))}</td>
        <td class="timer" data-since="${W.esc(c.received_at)}">${W.since(c.received_at)}</td>`,
    onCount: (n) => { root.querySelector("#ct-open-count").textContent = W.I.digits(n); },
  });
  W.onChange(update, root);
  clearInterval(dueTimer);
  dueTimer = setInterval(callbacks, 30000);  // a call-back becomes due with time, not with a frame
}
let openList = null, dueTimer = null, mapPicker = null;

let timer = null;
function lookupSoon() { clearTimeout(timer); timer = setTimeout(lookup, 250); }
function location_() {
  const lat = parseFloat(W.latin(document.getElementById("ct-lat").value)), lon = parseFloat(W.latin(document.getElementById("ct-lon").value));
  return Number.isFinite(lat) && Number.isFinite(lon) ? { lat, lon } : null;
}
async function lookup() {
  const phone = document.getElementById("ct-phone").value.trim();
  const loc = location_();
  const body = {};
  if (phone.length >= 3 && /^\+?[0-9][0-9 \-]*$/.test(phone)) body.phone = phone;
  if (loc) body.location = loc;
  const out = document.getElementById("ct-related-body");
  if (!body.phone && !body.location) { out.textContent = "—"; return; }
  let r;
  try { r = await W.query("POST", "/intake/lookup", body); } catch (e) { return; }
  const incident = (i) => `<li>${W.ref(i)} ${W.esc(W.word(i.category))} · ${W.esc(W.word(i.priority))} · <span data-since="${W.esc(i.opened_at)}">${W.since(i.opened_at)}</span>
      <button type="button" class="btn btn-sm btn-outline-primary" data-link="${W.esc(i.id)}">${w("link")}</button></li>`;
  const open = new Map([...r.open_incidents, ...r.at_address].map((i) => [i.id, i]));
  // bounded by the server (the newest 20 of each list); the totals say how many more there are
  const more = (k, shown) => (r.totals && r.totals[k] > shown ? `<div class="small text-muted" data-more="${k}">${W.I.digits(`+${r.totals[k] - shown}`)}</div>` : "");
  out.innerHTML = `${r.calls.length ? `<h3 class="h6">${w("earlier")}</h3><ul id="ct-earlier">${r.calls.map((c) =>
    `<li data-call="${W.esc(c.call_id)}"><span class="ref">${W.esc(c.ref || "—")}</span> ${W.esc(W.when(c.received_at))} · ${W.esc(W.word(c.category))} · ${W.esc(W.word(c.outcome))}</li>`).join("")}</ul>${more("calls", r.calls.length)}` : ""}
      ${open.size ? `<h3 class="h6">${w("sameAddress")}</h3><ul id="ct-open-incidents">${[...open.values()].map(incident).join("")}</ul>` : ""}
      ${W.dangerHtml(r.danger)}` || "—";
}

function take(linkTo) {
  clearTimeout(timer);  // the form is taken: no lookup of what it held
  const $ = (id) => document.getElementById(id);
  const me = W.state.me;
  const callId = W.uuid();
  const caller = {};
  if ($("ct-phone").value.trim()) caller.phone = $("ct-phone").value.trim();
  if ($("ct-name").value.trim()) caller.name = $("ct-name").value.trim();
  if ($("ct-narrative").value.trim()) caller.note = $("ct-narrative").value.trim();
  const body = { call_id: callId, province: me.province, county: $("ct-county").value, line: $("ct-line").value };
  if (Object.keys(caller).length) body.caller = caller;
  const risk = [...document.querySelectorAll("[id^=ct-risk-]:checked")].map((c) => c.value);
  // The intake in one request (POST /calls/intake): received, classified and what follows,
  // stored together or not at all; a link or a call-back follow it in the queue, in order.
  Object.assign(body, { category: $("ct-category").value, priority: $("ct-priority").value, risk_flags: risk });
  const after = [];
  const action = linkTo ? "link" : $("ct-action").value;
  if (action === "link") after.push([`/calls/${callId}/link`, { incident_id: linkTo }]);
  else if (action === "escalate") {
    const loc = location_();
    if (!loc) { W.toast(w("lat") + " / " + w("lon"), "danger"); }
    else {
      const incidentId = W.uuid();
      document.body.dataset.lastIncident = incidentId;  // the benchmark follows it to the dispatcher's queue
      body.escalate = { location: loc, incident_id: incidentId };
    }
  } else if (action === "counsel") {
    body.counsel = { services: ["counselling"], duration_s: Math.min(6 * 3600, Math.round((Date.now() - started) / 1000)) };
  } else if (action === "refer_1480") body.refer = { target: "line_1480" };
  else if (action === "refer_agency") body.refer = { target: "outside_agency", agency: $("ct-agency").value.trim() || null };
  if ($("ct-callback").checked) after.push(["/follow-ups", { call_id: callId, after_hours: [24, 72] }]);
  const form = document.getElementById("ct-form");
  const typed = [...form.elements].filter((el) => el.id).map((el) => [el.id, el.value, el.checked]);
  const intake = W.command("/calls/intake", body);
  // Refused (nothing of it is stored): the form comes back as it was typed, unless the next
  // call is already being written in it.
  intake.catch(() => {
    if ([...form.elements].some((el) => el.id && el.type !== "checkbox" && el.tagName !== "SELECT"
                                 && el.value && el.id !== "ct-county")) return;
    for (const [id, value, checked] of typed) {
      const el = document.getElementById(id);
      if (el) { el.value = value; el.checked = checked; }
    }
  });
  Promise.allSettled([intake, ...after.map(([path, b]) => W.command(path, b))]);
  form.reset();
  $("ct-county").value = $("ct-county").dataset.default;
  document.getElementById("ct-related-body").textContent = "—";
  if (mapPicker) mapPicker.clear();
  started = Date.now();
  $("ct-phone").focus();
}

const CALLBACKS_SHOWN = 50;
function update(keys) {
  if (!openList) return;
  openList.sync(keys ? W.changedIds(keys, "call/") : null);
  if (!keys || W.touches(keys, "follow_up/", "call/")) callbacks();
}
function callbacks() {
  const box = document.getElementById("ct-callbacks");
  if (!box) return;
  // due and overdue call-backs, oldest first, at most CALLBACKS_SHOWN (the count says how many)
  const due = W.followUps().filter((f) => f.state !== "scheduled");
  box.innerHTML = due.length ? `<table class="table table-sm" id="ct-callback-list"><tbody>${due.slice(0, CALLBACKS_SHOWN).map((f) =>
    `<tr data-follow-up="${W.esc(f.id)}" data-state="${f.state}" class="${f.state === "overdue" ? "table-danger" : "table-warning"}">
       <td>${f.call_ref ? `<span class="ref">${W.esc(f.call_ref)}</span>` : W.esc(W.word(f.subject === "client" ? "client" : "call"))}</td>
       <td>${W.esc(W.word(f.state))}</td><td>${W.esc(W.when(f.due_at))}</td>
       <td><button class="btn btn-sm btn-success" data-callback-done="${W.esc(f.id)}">${w("done")}</button></td></tr>`).join("")}</tbody></table>
       ${due.length > CALLBACKS_SHOWN ? `<div class="small text-muted" id="ct-callbacks-more">${W.I.digits(`+${due.length - CALLBACKS_SHOWN}`)}</div>` : ""}` : "—";
}
