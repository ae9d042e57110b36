/* The workspaces' core (میز کار): the signed-in user, the live boards from the websocket
 * bridge, the service's words (one catalogue with the server: /api/v1/vocabulary), and every
 * action as an API command with an Idempotency-Key, queued in order in this tab and replayed
 * with the same keys when the network comes back (so nothing is done twice). */
import { i18n as I } from "../i18n.js";
import { session } from "../session.js";
// The workspaces' own words, [Persian, English] (the role names, the controls, each workspace's).
import UI from "./words.js";

const words = {};  // the server's catalogue: value -> [fa, en]
const state = { me: null, rows: {}, seq: 0, conn: "connecting", offset: 0, counties: [] };
const listeners = [];
let ws = null, config = null, attempts = 0, renderQueued = false, baseListeners = 0;

// ------------------------------------------------------------------ words, digits, dates

function lang() { return I.lang === "fa" ? 0 : 1; }
function ui(key) { const p = UI[key]; return p ? p[lang()] : key; }
function word(value) {
  if (value === null || value === undefined) return "—";
  const p = words[value];
  return p ? p[lang()] : I.word(value);
}
const now = () => Date.now() + state.offset;
function when(iso) { const ms = Date.parse(iso); return `${I.date(ms)} ${I.time(ms)}`; }
function since(iso) { return I.duration((now() - Date.parse(iso)) / 1000); }
function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function ref(row, fallbackId) {
  return `<span class="ref">${esc((row && row.ref) || (fallbackId ? String(fallbackId).slice(0, 8) : "—"))}</span>`;
}
/* What a Persian keyboard types, as numbers read it: ۰-۹ and ٠-٩ to 0-9, the decimal ٫ to "." */
function latin(text) {
  return String(text ?? "").replace(/[۰-۹]/g, (d) => String(d.charCodeAt(0) - 0x6f0)).replace(/[٠-٩]/g, (d) => String(d.charCodeAt(0) - 0x660))
    .replace(/[٫,]/g, ".").trim();
}
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ------------------------------------------------------------------ commands, queued in order

const QKEY = "eoc.work.queue";
let queue = [];
let pumping = false;
const waiting = new Map();  // queue id -> {resolve, reject}

function loadQueue() {
  try { queue = JSON.parse(localStorage.getItem(QKEY + "." + (state.me && state.me.user)) || "[]"); } catch (e) { queue = []; }
}
function saveQueue() {
  localStorage.setItem(QKEY + "." + (state.me && state.me.user), JSON.stringify(queue));
  const q = document.getElementById("w-queue");
  q.hidden = queue.length === 0;
  q.textContent = I.digits(`${ui("queued")}: ${queue.length}`);
  document.body.dataset.queue = String(queue.length);
}

/* An action: POST ``path`` with ``body`` and an Idempotency-Key; kept in order until the
 * server has answered, whatever happens to the network meanwhile. */
function command(path, body, options) {
  const item = { id: uuid(), key: "w-" + uuid(), path, body: body || {}, at: Date.now(),
                 silent: !!(options && options.silent) };
  queue.push(item);
  saveQueue();
  const p = new Promise((resolve, reject) => waiting.set(item.id, { resolve, reject }));
  pump();
  return p;
}

/* The queue has one sender: ``pump`` runs while nobody else does, and when the head cannot be
 * sent now it leaves one timer (``resend``) to try again; actions given meanwhile wait behind
 * it, in order. Going back online sends at once. */
/* The wait before the next try after ``attempt`` failed ones: 0.5 s doubling to 10 s, ±25 % so
 * that the pages of a room do not all come back at once (the board's socket, the queue, start-up). */
function backoff(attempt) { return Math.min(10000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5); }
const FAULT_TRIES = 5;  // a 500 (a fault, or an answer lost after the commit) is tried this often
const OUTAGE = new Set([502, 503, 504, 429]);  // the service away or busy for now: tried until it answers
let resend = null;
function later(delay) {
  clearTimeout(resend);
  resend = setTimeout(() => { resend = null; pump(); }, delay);
}
async function pump() {
  if (pumping || resend !== null) return;
  pumping = true;
  try {
    while (queue.length) {
      const item = queue[0];
      let r;
      try {
        r = await fetch("api/v1" + item.path, {
          method: "POST", cache: "no-store",
          headers: { "Content-Type": "application/json", "Idempotency-Key": item.key,
                     Authorization: "Bearer " + session.accessToken() },
          body: JSON.stringify(item.body),
        });
      } catch (e) {  // the network is down: keep the queue, try again later
        setOffline(true);
        later(1500);
        return;
      }
      if (r.status === 401 && session.canRefresh()) {
        try { await session.refresh(); continue; } catch (e) { /* answered below */ }
      }
      if (r.status === 409 && (await r.clone().json().catch(() => ({}))).error === "idempotency_in_progress") {
        await new Promise((ok) => setTimeout(ok, 300));
        continue;
      }
      // The service could not answer (restarting, its database away, too busy, or an answer lost
      // after the commit: "may not have been stored"). The same action goes again with the same
      // key, which never stores it twice (0.5 s doubling to 10 s, or the Retry-After). An outage
      // is waited out; a 500 that stays (a fault, not an outage) is told after five.
      if (OUTAGE.has(r.status) || (r.status >= 500 && (item.faults = (item.faults || 0) + 1) < FAULT_TRIES)) {
        item.tries = (item.tries || 0) + 1;
        setOffline(true);
        const after = Number(r.headers.get("Retry-After")) * 1000;
        later(after > 0 ? Math.min(10000, after) : backoff(item.tries - 1));
        return;
      }
      setOffline(false);
      const at = queue.indexOf(item);  // the head it sent: only this loop takes from the queue
      if (at >= 0) queue.splice(at, 1);
      saveQueue();
      const data = await r.json().catch(() => ({}));
      const w = waiting.get(item.id);
      waiting.delete(item.id);
      if (r.ok) {
        if (!item.silent) toast(ui("sent"), "success");
        w && w.resolve(data);
      } else {
        // The refusal in the page's language from its error code (i18n.js, one catalogue).
        const err = I.refusalError(data, r.status);
        if (!item.silent) toast(`${ui("refused")}: ${err.message}`, "danger");
        if (w) w.reject(err);
      }
    }
  } finally {
    pumping = false;
  }
}

let offline = false;
function setOffline(value) {
  if (offline === value) return;
  offline = value;
  renderConn();
}
window.addEventListener("online", () => { clearTimeout(resend); resend = null; pump(); });

async function query(method, path, body) {
  const r = await fetch("api/v1" + path, {
    method, cache: "no-store",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + session.accessToken() },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw I.refusalError(data, r.status);  // in the page's language, from its code
  return data;
}

function toast(text, kind) {
  const area = document.getElementById("w-toast");
  const div = document.createElement("div");
  div.className = `alert alert-${kind || "info"}`;
  div.textContent = text;
  area.appendChild(div);
  setTimeout(() => div.remove(), kind === "danger" ? 6000 : 2000);
}

// ------------------------------------------------------------------ the live boards

async function connect() {
  if (!config) {
    try { config = state.config = await (await fetch("dashboard/config.json", { cache: "no-store" })).json(); }
    catch (e) { return retry(); }
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.hostname}:${config.bridge_port}${config.bridge_path || "/"}`);
  ws.onopen = () => ws.send(JSON.stringify({ token: session.accessToken() }));
  ws.onmessage = (event) => onFrame(JSON.parse(event.data));
  ws.onclose = (event) => {
    ws = null;
    if (event.code === 4401 && session.canRefresh()) {
      session.refresh().then(connect, () => setConn("unauthorized"));
      return;
    }
    if (event.code === 4401) return setConn("unauthorized");
    retry();
  };
}
function retry() {
  const delay = backoff(attempts);
  attempts += 1;
  setConn("reconnecting");
  setTimeout(connect, delay);
}
function onFrame(frame) {
  // The time is the command service's (its clock decides what is due), read from /workspace/me.
  if (frame.type === "snapshot") {
    if (!state.seq) mark("snapshot");
    state.rows = frame.rows;
    state.seq = frame.seq;
    attempts = 0;
    dirty = null;  // everything is new: every list draws in full once
    cache.clear();
    setConn("live");
  } else if (frame.type === "delta") {
    if (frame.seq <= state.seq) return;
    if (frame.prev !== state.seq) { ws && ws.send(JSON.stringify({ type: "resync" })); return; }
    const keys = Object.keys(frame.changes);
    for (const key of keys) {
      const row = frame.changes[key];
      if (row === null) delete state.rows[key]; else state.rows[key] = row;
      if (dirty) dirty.add(key);
      for (const prefix of cache.keys()) if (key.startsWith(prefix)) cache.delete(prefix);
    }
    state.seq = frame.seq;
  } else {
    return;
  }
  document.body.dataset.seq = String(state.seq);
  changed();
}
function setConn(conn) { state.conn = conn; renderConn(); }
function renderConn() {
  const el = document.getElementById("w-conn");
  // "live" once the board is here and the workspace is drawn on it (the snapshot may come first)
  const key = offline ? "offline" : state.conn === "live" && !state.mounted ? "connecting" : state.conn;
  el.textContent = ui(key);
  el.className = "badge " + (key === "live" ? "bg-success" : key === "offline" ? "bg-warning text-dark" : "bg-secondary");
  document.body.dataset.conn = key;
}
/* Redraws are batched per animation frame, and keyed: each listener gets the keys that
 * changed since the last frame (null: everything — after a snapshot or a new mount), and
 * redraws only the rows those keys name. */
let dirty = null;
const cache = new Map();  // prefix -> rows, until a key under the prefix changes
function changed(full) {
  if (full) dirty = null;
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    const keys = dirty;
    dirty = new Set();
    for (let i = listeners.length - 1; i >= baseListeners; i--) {  // a workspace taken off the page stops listening
      if (listeners[i].root && !listeners[i].root.isConnected) listeners.splice(i, 1);
    }
    for (const f of listeners.slice()) {
      try { f(keys); } catch (e) { setTimeout(() => { throw e; }); }
    }
  });
}
function onChange(f, root) { if (root) f.root = root; listeners.push(f); }
/* Whether a frame's changed keys touch any of these prefixes (null: a full redraw). */
function touches(keys, ...prefixes) {
  if (!keys) return true;
  for (const k of keys) for (const p of prefixes) if (k.startsWith(p)) return true;
  return false;
}
/* The ids under a prefix that changed in this frame. */
function changedIds(keys, prefix) {
  const out = [];
  if (keys) for (const k of keys) if (k.startsWith(prefix)) out.push(k.slice(prefix.length));
  return out;
}

/* A keyed list (a table's body): one element per row, in order, at most ``limit`` shown.
 * ``sync(ids)`` redraws only the rows whose ids changed (null: all); the first drawing of a
 * long list is spread over frames (``BUDGET`` new rows a frame), the top rows first. */
const BUDGET = 150;
function keyedList(container, { prefix, html, compare, filter, attrs, limit = Infinity, tag = "tr", onCount }) {
  let items = [];
  const index = new Map();  // id -> row (the ones in ``items``)
  const shown = new Map();  // id -> element
  const drawn = new Map();  // id -> the row object it was drawn from
  let scheduled = false;
  const keep = filter || (() => true);
  function make(r) {
    const el = document.createElement(tag);
    fill(el, r);
    return el;
  }
  function fill(el, r) {
    el.innerHTML = html(r);
    if (attrs) for (const [k, v] of Object.entries(attrs(r))) {
      if (k === "class") el.className = v; else if (v === null || v === false) el.removeAttribute(k); else el.setAttribute(k, v);
    }
    drawn.set(r.id, r);
  }
  function place() {
    scheduled = false;
    if (!container.isConnected) return;  // its workspace was taken off the page
    const n = Math.min(list.limit, items.length);
    let budget = BUDGET;
    let cursor = container.firstElementChild;
    const want = new Set();
    for (let i = 0; i < n; i++) {
      const r = items[i];
      want.add(r.id);
      let el = shown.get(r.id);
      if (!el) {
        if (budget-- <= 0) { scheduled = true; requestAnimationFrame(place); break; }
        el = make(r);
        shown.set(r.id, el);
      } else if (drawn.get(r.id) !== r) fill(el, r);
      if (el !== cursor) container.insertBefore(el, cursor); else cursor = cursor.nextElementSibling;
    }
    if (!scheduled) for (const [id, el] of shown) if (!want.has(id)) { el.remove(); shown.delete(id); drawn.delete(id); }
    if (onCount) onCount(items.length, n);
  }
  function position(r) {
    let lo = 0, hi = items.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (compare(items[mid], r) <= 0) lo = mid + 1; else hi = mid; }
    return lo;
  }
  const list = {
    limit,
    sync(ids) {
      if (ids === null) {
        items = rows(prefix).filter(keep).sort(compare);
        index.clear();
        for (const r of items) index.set(r.id, r);
        drawn.clear();  // words, language, derived columns: draw every shown row again
      } else {
        if (!ids.length) return;
        for (const id of ids) {
          const old = index.get(id);
          if (old) { const i = items.indexOf(old); if (i >= 0) items.splice(i, 1); index.delete(id); }
          const r = state.rows[prefix + id];
          if (r && keep(r)) { items.splice(position(r), 0, r); index.set(id, r); }
        }
      }
      if (!scheduled) place();
    },
    redraw(id) { drawn.delete(id); if (!scheduled) place(); },
    more(n) { list.limit += n; if (!scheduled) place(); },
    get count() { return items.length; },
    ids() { return items.map((r) => r.id); },
  };
  return list;
}

function rows(prefix) {
  let out = cache.get(prefix);
  if (out) return out.slice();
  out = [];
  for (const k in state.rows) if (k.startsWith(prefix)) out.push(state.rows[k]);
  cache.set(prefix, out);
  return out.slice();
}
function row(key) { return state.rows[key]; }
function byId(kind, id) { return state.rows[`${kind}/${id}`] || state.rows[`drill/${kind}/${id}`]; }

function km(a, b) {
  const r = Math.PI / 180, h = Math.sin((b.lat - a.lat) * r / 2) ** 2
    + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin((b.lon - a.lon) * r / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.sqrt(Math.min(1, h)));
}
/* Danger flags in force now at this place / incident / person (projections/workspace_views.py). */
function dangerAt(location, incidentId, flags) {
  const at = new Date(now()).toISOString();
  return (flags || rows("danger/")).filter((f) => f.expires_at > at && (
    (incidentId && f.incident_id === incidentId)
    || (location && f.location && km(location, f.location) * 1000 <= (f.radius_m || 100))));
}
const DANGER_SHOWN = 10;  // the newest ten, then a count
function dangerHtml(all) {
  const flags = all.length > DANGER_SHOWN ? all.slice().sort((a, b) => (a.recorded_at < b.recorded_at ? 1 : -1)).slice(0, DANGER_SHOWN) : all;
  return flags.map((f) => `<div class="danger-flag" data-danger="${esc(f.id)}">⚠ ${I.list(f.kinds.map(word).map(esc))}`
    + `${f.note ? " — " + esc(f.note) : ""} <small class="text-muted">(${esc(when(f.expires_at))})</small></div>`).join("")
    + (all.length > flags.length ? `<div class="small text-danger">${I.digits(`+${all.length - flags.length}`)} ⚠</div>` : "");
}
/* Call-backs with their state now: scheduled, due, overdue (like projections/workspace_views.follow_ups). */
function followUps() {
  const t = now();
  return rows("follow_up/").map((f) => {
    const due = Date.parse(f.due_at);
    const grace = Math.max(2 * 3600e3, f.after_hours * 3600e3 / 4);
    return { ...f, state: t < due ? "scheduled" : t < due + grace ? "due" : "overdue" };
  }).sort((a, b) => (a.due_at < b.due_at ? -1 : 1));
}

// ------------------------------------------------------------------ start

/* Load marks (performance.mark "eoc:<name>"), read by the benchmark to tell what bounds a load. */
function mark(name) { try { performance.mark("eoc:" + name); } catch (e) { /* old browsers */ } }
function tokenProvince() {
  try {
    const part = (session.accessToken() || "").split(".")[1];
    return JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))).province || null;
  } catch (e) { return null; }
}

/* A read the workspace cannot start without (who I am, the words): asked again while the
 * service cannot answer (no connection, 5xx, 429) — 0.5 s doubling to 10 s, as the board's
 * socket does — so a page opened during a restart comes up by itself. A refusal ends it (a 401
 * after the access token was renewed once). */
async function needed(ask) {
  let refreshed = false;
  for (let attempt = 0; ; attempt += 1) {
    try { return await ask(); } catch (e) {
      // the access token ran out while the service was away: renewed once, as a command's would be
      if (e.status === 401 && !refreshed && session.canRefresh()) {
        refreshed = true;
        try { await session.refresh(); continue; } catch (_) { throw e; }
      }
      if (e.status && e.status < 500 && e.status !== 429) throw e;
      await new Promise((done) => setTimeout(done, backoff(attempt)));
    }
  }
}

async function start(mounts) {
  I.lang = localStorage.getItem("eoc.lang") === "en" ? "en" : "fa";
  applyLang();
  document.getElementById("w-lang").addEventListener("click", () => {
    I.choose(I.lang === "fa" ? "en" : "fa");
    applyLang();
    mountRole(mounts);
  });
  // The board's snapshot, the user and the words are read at once: the province for the words is
  // read from the token (a hint only; the server decides everything from the token itself).
  mark("start");
  connect();
  const hinted = tokenProvince();
  const vocabulary = (province) => query("GET", `/vocabulary?province=${province === "IR" ? "" : province}`);
  const early = hinted ? vocabulary(hinted).catch(() => null) : null;
  let voc;
  try {
    state.me = await needed(() => query("GET", "/workspace/me"));
    state.offset = Date.parse(state.me.now) - Date.now();
    mark("me");
    voc = (hinted === state.me.province && (await early)) || await needed(() => vocabulary(state.me.province));
  } catch (e) {
    if (e.status === 401) { session.clear(); location.replace("signin.html"); } else toast(e.message, "danger");
    return;
  }
  mark("vocabulary");
  Object.assign(words, voc.words);
  state.counties = voc.counties || [];
  loadQueue();
  saveQueue();
  baseListeners = listeners.length;  // the page's own (alarms); a workspace's go with its mount
  mountRole(mounts);
  pump();
  setInterval(tick, 1000);
  setInterval(() => query("GET", "/workspace/me").then((me) => { state.offset = Date.parse(me.now) - Date.now(); }, () => {}), 60000);
}
function mountRole(mounts) {
  document.getElementById("w-role").textContent = state.me ? `${ui(state.me.role)} · ${I.province(state.me.province)}` : "";
  document.body.dataset.role = state.me ? state.me.role : "";
  const main = document.getElementById("w-main");
  main.innerHTML = "";
  listeners.length = baseListeners;
  const m = state.me && (mounts[state.me.role] || mounts.national_eoc);
  if (m) m(main);
  if (!state.mounted) {
    mark("mounted");
    requestAnimationFrame(() => requestAnimationFrame(() => mark("drawn")));
  }
  state.mounted = true;
  changed(true);
  renderConn();
}
function applyLang() {
  I.showLanguage();
  document.getElementById("bs-css").href = `work/vendor/bootstrap/bootstrap${I.lang === "fa" ? ".rtl" : ""}.min.css`;
  document.getElementById("w-title").textContent = ui("title");
  document.getElementById("w-board").textContent = ui("board");
  document.getElementById("w-lang").textContent = ui("lang");
  renderConn();
}
function tick() {
  const t = now();
  document.getElementById("w-clock").textContent = `${I.date(t)} ${I.time(t, true)}`;
  // timers: write only the ones whose text changed (most read in minutes)
  for (const el of document.querySelectorAll("[data-since]")) {
    const text = since(el.dataset.since);
    if (el.textContent !== text) el.textContent = text;
  }
  for (const el of document.querySelectorAll("[data-until]")) {
    const left = (Date.parse(el.dataset.until) - now()) / 1000;
    const text = (left < 0 ? "−" : "") + I.duration(Math.abs(left));
    if (el.textContent !== text) el.textContent = text;
    if (el.classList.contains("text-danger") !== left < 0) el.classList.toggle("text-danger", left < 0);
  }
}

export const work = { state, ui, word, when, since, esc, ref, uuid, latin, command, query, toast, rows, row, byId,
             onChange, changed, touches, changedIds, keyedList, dangerAt, dangerHtml, followUps, km, start, now, I };
window.EOC = window.EOC || {};
EOC.work = work;  // the page's handle (console, tests)
