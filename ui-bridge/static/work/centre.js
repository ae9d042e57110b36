/* The centre staff's workspace (کارکنان مرکز): the centre's places, who is in holding and the
 * days left, admissions (a full centre records the decline), places held for clients on
 * the way (they expire), holding periods, transfers within the rules, discharges with an
 * optional call-back. */
import { work as W } from "./core.js";

const w = (k) => W.ui(k);
const ROUTES = ["mobile_team", "line_123", "self", "police", "judiciary", "other_centre", "other_organization"];
const REASONS = ["returned_home", "independent", "referred", "left", "other"];
const RESIDENTIAL = ["residential_level_1", "residential_level_2", "safe_house", "health_house"];

export function mount(root) {
  root.innerHTML = `<div id="ce-list" class="row g-2"></div>`;
  root.addEventListener("click", (e) => {
    const b = e.target.closest("[data-act]");
    if (!b) return;
    const card = b.closest("[data-centre]");
    const c = card.dataset.centre;
    const v = (sel) => card.querySelector(sel).value;
    const act = b.dataset.act;
    if (act === "hold") W.command(`/centres/${c}/holds`, { minutes: parseInt(v(".ce-minutes"), 10) || 90, hold_id: W.uuid() });
    else if (act === "release") W.command(`/centres/${c}/holds/${b.dataset.hold}/release`, {});
    else if (act === "admit") {
      const body = { route: v(".ce-route") };
      if (v(".ce-hold")) body.hold_id = v(".ce-hold");
      W.command(`/centres/${c}/admissions`, body);
    } else {
      const tr = b.closest("[data-client]");
      const client = tr.dataset.client;
      if (act === "holding") W.command(`/centres/${c}/holding`, { client_id: client, days: 15, destination_kind: "safe_house" });
      else if (act === "transfer") W.command(`/centres/${c}/transfers`, { client_id: client, to_centre_id: tr.querySelector(".ce-to").value });
      else if (act === "discharge") W.command(`/centres/${c}/discharges`, { client_id: client, reason: tr.querySelector(".ce-reason").value,
        call_back_hours: tr.querySelector(".ce-callback").checked ? [24, 72] : [] });
    }
  });
  W.onChange(update, root);
}

function update(keys) {
  const list = document.getElementById("ce-list");
  if (!list || !W.touches(keys, "centre/")) return;
  const me = W.state.me;
  const all = W.rows("centre/").filter((c) => c.open);
  const mine = all.filter((c) => RESIDENTIAL.includes(c.kind) && (!me.centre || c.id === me.centre))
    .sort((a, b) => ((a.ref || "") < (b.ref || "") ? -1 : 1));
  // Keep what is being typed: rebuild a card only when its row changed.
  const keep = new Set();
  for (const c of mine) {
    keep.add(c.id);
    const sig = JSON.stringify(c);
    let card = list.querySelector(`[data-centre="${c.id}"]`);
    if (card && card.dataset.sig === sig) continue;
    const html = cardHtml(c, all);
    if (!card) { card = document.createElement("div"); card.className = "col-12"; list.appendChild(card); }
    card.dataset.centre = c.id;
    card.dataset.sig = sig;
    card.innerHTML = html;
  }
  for (const card of list.querySelectorAll("[data-centre]")) if (!keep.has(card.dataset.centre)) card.remove();
}

function cardHtml(c, all) {
  const now = new Date(W.now()).toISOString();
  const holds = Object.entries(c.holds || {}).filter(([, h]) => h.until > now);
  const free = c.capacity - c.occupied - holds.length;
  const others = all.filter((o) => o.id !== c.id && RESIDENTIAL.includes(o.kind));
  const clients = Object.entries(c.clients || {});
  return `<div class="panel"><h2>${W.ref(c)} ${W.esc(c.name)} <small class="text-muted">${W.esc(W.word(c.kind))}</small></h2>
      <div class="mb-2" data-occupancy>${W.I.digits(`${c.occupied}/${c.capacity}`)} ${w("occupied")} ·
        <strong class="ce-free">${W.I.digits(Math.max(0, free))}</strong> ${w("free")} · <span class="ce-held">${W.I.digits(holds.length)}</span> ${w("held")}</div>
      ${holds.map(([id, h]) => `<div class="d-flex gap-2 align-items-center small" data-hold-row="${W.esc(id)}">${w("held")} ·
        <span class="timer" data-until="${W.esc(h.until)}"></span>
        <button class="btn btn-sm btn-outline-secondary" data-act="release" data-hold="${W.esc(id)}">${w("release")}</button></div>`).join("")}
      <div class="input-group input-group-sm my-1"><input class="form-control ce-minutes" value="90" inputmode="numeric" dir="ltr">
        <span class="input-group-text">${w("minutes")}</span><button class="btn btn-outline-primary" data-act="hold">${w("hold")}</button></div>
      <div class="input-group input-group-sm my-1"><select class="form-select ce-route">${ROUTES.map((r) => `<option value="${r}">${W.esc(W.word(r))}</option>`).join("")}</select>
        <select class="form-select ce-hold"><option value="">${w("noHold")}</option>${holds.map(([id]) => `<option value="${W.esc(id)}">${w("held")} ${W.esc(id.slice(0, 4))}</option>`).join("")}</select>
        <button class="btn btn-primary" data-act="admit">${w("admit")}</button></div>
      <table class="table table-sm align-middle"><tbody>${clients.map(([id, s]) => `
        <tr data-client="${W.esc(id)}"><td class="ref">${W.esc(id.slice(0, 10))}</td><td class="timer" data-since="${W.esc(s.since)}">${W.since(s.since)}</td>
          <td>${s.holding_until ? W.I.digits(Math.max(0, Math.ceil((Date.parse(s.holding_until) - W.now()) / 864e5))) + " " + w("daysLeft")
          : `<button class="btn btn-sm btn-outline-secondary" data-act="holding">${w("startHolding")}</button>`}</td>
          <td><div class="input-group input-group-sm"><select class="form-select ce-to">${others.map((o) => `<option value="${W.esc(o.id)}">${W.esc(o.ref || "")} ${W.esc(o.name)}</option>`).join("")}</select>
            <button class="btn btn-outline-primary" data-act="transfer" ${others.length ? "" : "disabled"}>${w("transfer")}</button></div></td>
          <td><div class="input-group input-group-sm"><select class="form-select ce-reason">${REASONS.map((r) => `<option value="${r}">${W.esc(W.word(r))}</option>`).join("")}</select>
            <label class="input-group-text"><input type="checkbox" class="form-check-input ce-callback me-1" checked> ${w("withCallBack")}</label>
            <button class="btn btn-outline-danger" data-act="discharge">${w("discharge")}</button></div></td></tr>`).join("")}</tbody></table></div>`;
}
