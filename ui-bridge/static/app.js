/* The live EOC dashboard: connects to the bridge, keeps the boards it may see, draws them.
 *
 * Protocol (ui_bridge/protocol.py): a snapshot, then deltas whose "prev" must equal the seq
 * of the previous frame (else: ask {"type":"resync"}), heartbeats. Everything that depends
 * on the passing of time (ages, days left, urgent-unassigned alerts) is computed here from
 * the rows and the bridge's clock, as projections/views.py does on the server.
 *
 * Drawing is keyed: every list row, tile and marker carries its key and the signature of
 * what it shows, and only rows whose signature changed are touched — a delta re-renders only
 * its rows, the urgent row's glow never restarts, and a new or changed row is highlighted
 * briefly. Ages tick in their own cells (class "tick"), once their text changes.
 *
 * Liveness is honest: with no frame for STALE_MS (a half-open socket) the socket is closed
 * and reopened; while not live the board is greyed out, its ages stop, and it says when it
 * was last updated. */
import { geo as G } from "./geo.js";
import { i18n as I } from "./i18n.js";
import { session } from "./session.js";
import { map } from "./map.js";

window.EOC = window.EOC || {};
const $ = (id) => document.getElementById(id);

/* The panel of a list (<section id="NAME-panel" data-rows="table|list">): its title (the word
 * NAME), the page shown (#NAME-page), the count (#NAME-count), and its rows: #NAME-table or
 * #NAME-list in the box #NAME that pages them. */
for (const panel of document.querySelectorAll("section[data-rows]")) {
  const name = panel.id.replace(/-panel$/, "");
  const rows = panel.dataset.rows === "table" ? `<table id="${name}-table"><tbody></tbody></table>` : `<div class="list" id="${name}-list"></div>`;
  panel.innerHTML = `<h2><span data-t="${name}"></span><span class="pager" id="${name}-page"></span><span class="count" id="${name}-count"></span></h2>` +
    `<div class="scroll" id="${name}">${rows}</div>`;
}

const URGENT_UNASSIGNED_S = 5 * 60;
const FULL_SHARE = 0.9;
const DAY_MS = 86400 * 1000;
const STALE_MS = 15000;       // three heartbeats missed
const PAGE_MS = 10000;        // a wall screen turns the page of a long list this often
const FLASH_MS = 2500;        // a new or changed row is highlighted this long
const RESIDENTIAL = new Set(["residential_level_1", "residential_level_2", "safe_house", "health_house"]);
const STATUSES = ["on_scene", "en_route", "dispatched", "transporting", "at_centre", "available", "in_drill", "off_duty"];
const ENGAGED = new Set(["dispatched", "en_route", "on_scene", "transporting", "at_centre"]);
const PRIORITY_RANK = { urgent: 0, high: 1, normal: 2, low: 3 };
const LATENCY_EDGES = [60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200];
const CATEGORY_COLOURS = {
  spouse_abuse: "#ff6b6b", child_abuse: "#f06595", child_maltreatment: "#cc5de8", elder_abuse: "#845ef7",
  disabled_abuse: "#5c7cfa", family_dispute: "#339af0", spouse_addiction: "#22b8cf", suicide: "#ff922b",
  runaway: "#fcc419", street_children: "#94d82d", divorce: "#51cf66", other: "#868e96", unclassified: "#495057",
};

const state = {
  token: null,
  rows: {},
  seq: -1,
  role: null,
  province: null,
  offset: 0,          // bridge clock minus this computer's clock (ms)
  lastFrame: 0,       // Date.now() of the last frame of any kind
  lastUpdate: 0,      // bridge time of the last frame: what the board is as of
  conn: "connecting",
  closeReason: "",
  retryAt: 0,
  attempts: 0,
  awaitingSnapshot: false,
  mode: "live",       // live | drill: which rows are shown (drill rows live under "drill/")
  history: { live: [], drill: [] },
  estimated: { live: [], drill: [] },
  frames: 0,
  snapshots: 0,
  resyncs: 0,
  staleCloses: 0,
  sound: false,
  beeps: 0,
  knownAlerts: null,
  pages: {},          // list id -> current page
  version: 0,         // changes of the rows (snapshot, delta): the map is updated only then
};
let ws = null;
let config = null;
let renderQueued = false;

/* The bridge's clock: the frame's "now", run on by this computer's clock; in a demo the
 * bridge's clock is a simulation (شبیه‌سازی) that runs `rate` times faster. */
const clock = { at: 0, seen: 0, rate: 1, simulated: false };
const clockNow = () => (clock.seen ? clock.at + (Date.now() - clock.seen) * clock.rate : Date.now() + state.offset);
/* Time the board is drawn at: the bridge's clock while live; frozen at the last update when not. */
const now = () => (state.conn === "live" || !state.lastUpdate ? clockNow() : state.lastUpdate);
const ns = () => (state.mode === "drill" ? "drill/" : "");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const ms = (iso) => (iso ? Date.parse(iso) : NaN);

// ---------------------------------------------------------------- the connection

/* Where the page's token comes from: the signed-in session (session.js) keeps it out of the address bar. */
function currentToken() {
  return session.accessToken();
}

async function connect() {
  state.token = currentToken();
  if (!state.token) {
    setConn("unauthorized", "no token");
    return;
  }
  if (!config) {
    try {
      config = await (await fetch("dashboard/config.json", { cache: "no-store" })).json();
    } catch (e) {
      return retry();
    }
    map.init($("map"), config);
    // Counties' Persian names from the reference table (a page without them shows them as registered).
    fetch("dashboard/counties.json").then((r) => r.json()).then((names) => { EOC.countyNames = names; render(); }, () => {});
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  setConn(state.attempts ? "reconnecting" : "connecting");
  const socket = new WebSocket(`${scheme}://${location.hostname}:${config.bridge_port}${config.bridge_path || "/"}`);
  ws = socket;
  state.lastFrame = Date.now();  // the new socket gets its own STALE_MS to answer
  // The token goes in the first message, not the address: addresses end up in logs.
  socket.onopen = () => socket.send(JSON.stringify({ token: state.token }));
  socket.onmessage = (event) => { if (ws === socket) onFrame(JSON.parse(event.data)); };
  socket.onclose = (event) => {
    if (ws !== socket) return;  // an old socket we closed as stale
    ws = null;
    if (event.code === 4401 && event.reason === "token expired" && session.canRefresh()) {
      session.refresh().then(connect, () => setConn("unauthorized", event.reason));
      return;  // a live session renews its token and comes back
    }
    if (event.code === 4401) {
      setConn("unauthorized", event.reason);
      return;  // a refused token stays refused: a new address (token) is needed
    }
    retry();
  };
}

function retry() {
  // Back off (0.5 s, 1, 2, 4, 8, then every 10 s, with jitter) so that a thousand wall
  // screens do not all knock at once when the bridge comes back.
  const delay = Math.min(10000, 500 * 2 ** state.attempts) * (0.75 + Math.random() * 0.5);
  state.attempts += 1;
  state.retryAt = Date.now() + delay;
  setConn("reconnecting");
  setTimeout(connect, delay);
}

/* A socket that stopped bringing frames (half-open: no close ever comes) is closed and reopened. */
function checkStale() {
  if (state.conn !== "live" || Date.now() - state.lastFrame <= STALE_MS) return;
  state.staleCloses += 1;
  const old = ws;
  ws = null;
  if (old) { try { old.close(4000, "stale"); } catch (e) { /* already closing */ } }
  setConn("stale");
  retry();
}

function setConn(conn, reason) {
  state.conn = conn;
  if (reason !== undefined) state.closeReason = reason;
  renderConn();  // the state and its words change together, at once
  schedule();
}

function onFrame(frame) {
  state.frames += 1;
  state.lastFrame = Date.now();
  if (frame.now) {
    const at = Date.parse(frame.now), seen = Date.now();
    // A simulation's pace between frames some seconds apart: the rate the clock really keeps
    // (the snapshot tells the rate at its moment; a loaded machine slows the simulation).
    if (clock.simulated && clock.mark && seen - clock.mark.seen >= 10000 && at > clock.mark.at) {
      // never above the rate the server announced (frames arriving late would overstate it)
      clock.rate = Math.min(clock.announced || Infinity, (at - clock.mark.at) / (seen - clock.mark.seen));
      clock.mark = { at, seen };
    } else if (!clock.mark) clock.mark = { at, seen };
    state.offset = at - seen;
    state.lastUpdate = at;
    clock.at = at;
    clock.seen = seen;
  }
  if (frame.clock) {
    clock.rate = clock.announced = frame.clock.rate || 1; clock.simulated = !!frame.clock.simulated;
    clock.mark = frame.now ? { at: Date.parse(frame.now), seen: Date.now() } : null;
  }
  if (frame.type === "snapshot") {
    state.snapshots += 1;
    state.version += 1;
    state.rows = frame.rows;
    state.seq = frame.seq;
    state.role = frame.role;
    state.province = frame.province;
    state.awaitingSnapshot = false;
    state.attempts = 0;
    document.body.dataset.seq = frame.seq;
    document.body.dataset.scope = frame.province === "IR" ? "nation" : "province";
    setConn("live");
    loadHistory();
    estimateHistory();
    sampleHistory();
  } else if (frame.type === "delta") {
    if (state.awaitingSnapshot || frame.seq <= state.seq) return;
    if (frame.prev !== state.seq) {
      // A frame went missing: the board may be wrong. Ask for a fresh one.
      state.awaitingSnapshot = true;
      state.resyncs += 1;
      ws && ws.send(JSON.stringify({ type: "resync" }));
      return;
    }
    for (const [key, row] of Object.entries(frame.changes)) {
      if (row === null) delete state.rows[key];
      else state.rows[key] = row;
    }
    state.version += 1;
    state.seq = frame.seq;
    document.body.dataset.seq = frame.seq;
    if (Object.keys(frame.changes).some((k) => k.includes("centre/"))) sampleHistory();
  } else if (frame.type === "heartbeat") {
    if (state.conn === "stale") setConn("live");
    renderConn();
    return;
  }
  schedule();
}

// ---------------------------------------------------------------- reading the boards

function rowsOf(prefix) {
  const p = ns() + prefix;
  const out = [];
  for (const [key, row] of Object.entries(state.rows)) if (key.startsWith(p)) out.push(row);
  return out;
}

function teams() {
  const positions = {};
  for (const p of rowsOf("position/")) positions[p.team_id] = p;
  return rowsOf("team/").map((t) => ({ ...t, position: positions[t.id] || null }));
}

function incidents(t) {
  return rowsOf("incident/")
    .map((r) => ({ ...r, age: (t - ms(r.opened_at)) / 1000, unassigned: !r.teams || r.teams.length === 0 }))
    .sort((a, b) => (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9) || ms(a.opened_at) - ms(b.opened_at));
}

function centres(t) {
  return rowsOf("centre/").map((c) => {
    const holding = [];
    for (const stay of Object.values(c.clients || {})) {
      if (stay.holding_until) {
        const left = (ms(stay.holding_until) - t) / DAY_MS;
        holding.push({ days: left, due: left <= 1 });
      }
    }
    holding.sort((a, b) => a.days - b.days);
    return { ...c, free: Math.max(0, c.capacity - c.occupied), holding,
             due: holding.filter((h) => h.due).length };
  }).sort((a, b) => (b.occupied / (b.capacity || 1)) - (a.occupied / (a.capacity || 1)) || String(a.name).localeCompare(b.name));
}

function localDay(t) {
  const d = I.tehran(t);
  return `${d.y}-${I.pad2(d.m)}-${I.pad2(d.d)}`;
}

function figures(t) {
  const day = localDay(t);
  const total = { calls: 0, interventions: 0, dispatches: 0, admissions: 0, declined: 0, byHour: {}, byHourCat: {},
                  c2d: new Array(LATENCY_EDGES.length + 1).fill(0), c2dN: 0 };
  for (const r of rowsOf("figures/")) {
    if (r.day !== day) continue;
    for (const k of ["calls", "interventions", "dispatches", "admissions", "declined"]) total[k] += r[k] || 0;
    for (const [h, n] of Object.entries(r.calls_by_hour || {})) total.byHour[h] = (total.byHour[h] || 0) + n;
    for (const [h, cats] of Object.entries(r.calls_by_hour_category || {})) {
      const into = (total.byHourCat[h] = total.byHourCat[h] || {});
      for (const [c, n] of Object.entries(cats)) into[c] = (into[c] || 0) + n;
    }
    const lat = r.call_to_dispatch;
    if (lat && lat.n) {
      total.c2dN += lat.n;
      lat.buckets.forEach((n, i) => { total.c2d[i] += n; });
    }
  }
  return total;
}

/* Calls per hour over the last 24 hours (today's and yesterday's figures rows), oldest first. */
function lastDayByHour(t) {
  const byDay = {};
  for (const r of rowsOf("figures/")) (byDay[r.day] = byDay[r.day] || []).push(r);
  const hours = [];
  for (let k = 23; k >= 0; k--) {
    const at = t - k * 3600000;
    const hh = I.pad2(I.tehran(at).hh);
    const cats = {};
    let calls = 0;
    for (const r of byDay[localDay(at)] || []) {
      calls += (r.calls_by_hour || {})[hh] || 0;
      for (const [c, n] of Object.entries((r.calls_by_hour_category || {})[hh] || {})) cats[c] = (cats[c] || 0) + n;
    }
    const classified = Object.values(cats).reduce((a, n) => a + n, 0);
    if (calls > classified) cats.unclassified = calls - classified;
    hours.push({ hh, cats });
  }
  return hours;
}

function medianEdge(buckets, n) {
  if (!n) return null;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i];
    if (seen >= n / 2) return i < LATENCY_EDGES.length ? LATENCY_EDGES[i] : null;
  }
  return null;
}

function alerts(t, teamList, incidentList, centreList) {
  const teamName = Object.fromEntries(teamList.map((x) => [x.id, x.name]));
  const centreName = Object.fromEntries(centreList.map((c) => [c.id, centreLabel(c)]));
  const icon = (kind) => map.shape(kind, "alert-icon");
  const out = [];
  for (const a of rowsOf("alert/")) {
    if (a.kind === "check_in_missed") {
      out.push({ key: "missed/" + a.team_id, kind: a.kind, rank: 0, icon: icon("alarm"), title: I.t("alert_check_in_missed"),
                 subject: teamName[a.team_id] || a.team_id.slice(0, 8), where: place(a), province: a.province,
                 since: ms(a.due_at || a.since) });
    } else if (a.kind === "dead_letter") {
      // An event the boards could not fold: the boards may be short of it until it is fixed.
      out.push({ key: "dead/" + (a.position ?? a.event_id), kind: a.kind, rank: 4, icon: icon("incident"), warn: true,
                 title: I.t("alert_dead_letter"), subject: `${a.type || "?"} #${I.num(a.position)}`, where: place(a),
                 province: a.province, since: ms(a.since) });
    } else if (a.kind === "centre_full") {
      const pct = a.capacity ? Math.round((a.occupied / a.capacity) * 100) : 100;
      out.push({ key: "full/" + a.centre_id, kind: a.kind, rank: 2, icon: icon("centre"), warn: a.occupied < a.capacity,
                 title: a.occupied >= a.capacity ? I.t("alert_centre_full") : I.t("alert_centre_nearly_full") + " (" + I.digits(pct + "%") + ")",
                 subject: `${centreName[a.centre_id] || I.t("secretPlace")} · ${I.num(a.occupied)}/${I.num(a.capacity)}`,
                 where: place(a), province: a.province, since: ms(a.since) });
    } else if (a.kind === "emerging_harm") {  // projections/emerging.py: observed vs expected
      out.push({ key: `emerging/${a.province}/${a.county}/${a.category}`, kind: a.kind, rank: 4, icon: icon("chevron"),
                 warn: true, title: I.t("alert_emerging_harm"),
                 subject: `${I.word(a.category)} · ${I.num(a.observed)} / ${I.num(a.expected, 1)}`,
                 where: place({ ...a, county: a.county === "*" ? null : a.county }), province: a.province, since: ms(a.since),
                 // The chart behind the alert, on the reports page of this server: it reads the
                 // same signed-in session (session.js), so the link carries no token.
                 link: typeof a.chart === "string" ? a.chart.replace(/^\//, "") : null });
    }
  }
  for (const inc of incidentList) {
    if (inc.priority === "urgent" && inc.unassigned && inc.age > URGENT_UNASSIGNED_S) {
      out.push({ key: "urgent/" + inc.id, kind: "urgent_unassigned", rank: 1, icon: icon("incident"), title: I.t("alert_urgent_unassigned"),
                 subject: I.word(inc.category), where: place(inc), province: inc.province, since: ms(inc.opened_at) });
    }
  }
  for (const c of centreList) {
    c.holding.forEach((h, n) => {
      if (h.days < 0) {
        out.push({ key: `overdue/${c.id}/${n}`, kind: "transfer_overdue", rank: 3, icon: icon("house"), warn: true,
                   title: I.t("alert_transfer_overdue"), subject: centreLabel(c), where: place(c), province: c.province,
                   since: Math.round((t + h.days * DAY_MS) / 60000) * 60000 });
      }
    });
  }
  return out.sort((a, b) => a.rank - b.rank || a.since - b.since);
}

function place(r) {
  const p = I.province(r.province);
  return r.county ? `${I.county(r.county, r.province)} · ${p}` : p;
}

function centreLabel(c) {
  if (c.secret && !c.location) return `${I.word(c.kind)} (${I.t("secretPlace")})`;
  return c.name;
}

// ---------------------------------------------------------------- occupancy history

function historyKey() {
  return `eoc.occupancy.${state.role}.${state.province}`;
}

function loadHistory() {
  try {
    const saved = JSON.parse(localStorage.getItem(historyKey()) || "null");
    if (saved && saved.live) state.history = saved;
  } catch (e) { /* a wall screen without storage keeps the history in memory only */ }
}

function occupancyNow(mode) {
  const prefix = (mode === "drill" ? "drill/" : "") + "centre/";
  let occ = 0, cap = 0;
  for (const [key, c] of Object.entries(state.rows)) {
    if (key.startsWith(prefix) && RESIDENTIAL.has(c.kind) && c.open) { occ += c.occupied; cap += c.capacity; }
  }
  return { occ, cap };
}

function sampleHistory() {
  const t = now();
  for (const mode of ["live", "drill"]) {
    const points = state.history[mode];
    const { occ, cap } = occupancyNow(mode);
    const last = points[points.length - 1];
    const point = { t, occ, cap };
    if (last && t - last.t < 60000) points[points.length - 1] = { ...point, t: last.t };  // one a minute
    else points.push(point);
    while (points.length && points[0].t < t - DAY_MS) points.shift();
  }
  try { localStorage.setItem(historyKey(), JSON.stringify(state.history)); } catch (e) { /* full or absent */ }
}

/* Before this screen watched, the snapshot still tells something: the current stays began
 * at their "since", so the occupancy an hour ago was at least the stays that had begun. */
function estimateHistory() {
  const t = now();
  for (const mode of ["live", "drill"]) {
    const prefix = (mode === "drill" ? "drill/" : "") + "centre/";
    const starts = [];
    let cap = 0;
    for (const [key, c] of Object.entries(state.rows)) {
      if (!key.startsWith(prefix) || !RESIDENTIAL.has(c.kind) || !c.open) continue;
      cap += c.capacity;
      for (const stay of Object.values(c.clients || {})) starts.push(ms(stay.since));
    }
    const points = [];
    for (let h = 24; h >= 0; h--) {
      const at = t - h * 3600 * 1000;
      points.push({ t: at, occ: starts.filter((s) => s <= at).length, cap });
    }
    state.estimated[mode] = points;
  }
}

// ---------------------------------------------------------------- keyed drawing

/* Make the container's children the items, in order, touching only what changed.
 * item: {key, sig, html, cls, attrs}. A row whose sig changed (or a new row) flashes. */
function keyed(container, items, tag) {
  const generation = I.lang + "|" + state.mode + "|" + state.snapshots + "|" + !!EOC.placeNames + !!EOC.countyNames;
  const quiet = container._generation !== generation;  // first drawing, language, mode, snapshot: no flash
  container._generation = generation;
  const existing = new Map();
  for (const el of [...container.children]) {
    if (el.dataset.key === undefined) el.remove();
    else existing.set(el.dataset.key, el);
  }
  const wanted = new Set(items.map((x) => x.key));
  const box = container.closest(".scroll");
  const dirty = () => { if (box) box._dirty = true; };
  for (const [k, el] of existing) if (!wanted.has(k)) { el.remove(); existing.delete(k); dirty(); }
  let i = 0;
  for (const item of items) {
    let el = existing.get(item.key);
    const fresh = !el;
    if (fresh) { el = document.createElement(tag); el.dataset.key = item.key; }
    if (el._sig !== item.sig || el._lang !== I.lang) {
      dirty();
      if (!quiet && el._lang === I.lang || (fresh && !quiet)) flash(el);
      el.innerHTML = item.html;
      el._sig = item.sig;
      el._lang = I.lang;
      el._ticked = null;
    }
    const cls = (item.cls || "") + (el._flashUntil > Date.now() ? " flash" : "");
    if (el.className !== cls.trim()) el.className = cls.trim();
    for (const [a, v] of Object.entries(item.attrs || {})) if (el.getAttribute(a) !== String(v)) el.setAttribute(a, v);
    let cur = container.children[i];
    if (cur !== el) {
      // A row that moved down leaves its old place: take it out, it goes back in when reached.
      if (cur && cur.nextElementSibling === el && wanted.has(cur.dataset.key)) { cur.remove(); cur = container.children[i]; }
      if (cur !== el) { container.insertBefore(el, cur || null); dirty(); }
    }
    i += 1;
  }
  tick(container);
}

function flash(el) {
  el._flashUntil = Date.now() + FLASH_MS;
  el.classList.add("flash");
  setTimeout(() => { if (el._flashUntil <= Date.now()) el.classList.remove("flash"); }, FLASH_MS + 20);
}

/* Time cells: <td class="tick" data-at="ms" data-form="age|left">: their text only. */
function tick(root) {
  const t = now();
  for (const el of root.querySelectorAll(".tick")) {
    const at = +el.dataset.at;
    let text = "";
    if (Number.isFinite(at)) {
      text = el.dataset.form === "days" ? I.t("daysLeft", { n: I.num(Math.max(0, (at - t) / DAY_MS), 1) })
        : I.duration((t - at) / 1000);
    }
    if (el.textContent !== text) el.textContent = text;
  }
}

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }
function setHTML(el, html) { if (el._html !== html) { el.innerHTML = html; el._html = html; } }

/* An empty list says so, in one keyed row that the next real rows replace. */
function emptyItem(text, cols) {
  return [{ key: "empty", sig: text, cls: "empty", html: cols ? `<td colspan="${cols}">${esc(text)}</td>` : esc(text) }];
}

function header(table, cols) {
  const thead = table.tHead || table.createTHead();
  const html = "<tr>" + cols.map(([key, cls]) => `<th class="${cls || ""}">${esc(I.t(key))}</th>`).join("") + "</tr>";
  setHTML(thead, html);
  return table.tBodies[0] || table.createTBody();
}

// ---------------------------------------------------------------- paging a long list on a wall

/* A list longer than its panel is shown a page at a time (whole rows only), turning every
 * PAGE_MS; the panel's header says which page. Nothing in the rows changes to page them. */
const pending = [];
function paginate(box, pagerEl) { pending.push([box, pagerEl]); }

/* Layout is read once per drawing, after every list has been written. */
function paginateAll() {
  // Only lists whose rows or size changed, or whose page turned: reading layout is the
  // costly part of a drawing.
  for (const [box, pagerEl] of pending.splice(0)) {
    if (!box._observed) {
      box._observed = true;
      box._dirty = true;
      if (window.ResizeObserver) new ResizeObserver(() => { box._dirty = true; schedule(); }).observe(box);
    }
    if (box._dirty) { box._dirty = false; paginateNow(box, pagerEl); }
  }
}

function paginateNow(box, pagerEl) {
  const rows = [...box.querySelectorAll("tbody > tr, .list > div")];
  const head = box.querySelector("thead");
  const headH = head ? head.offsetHeight : 0;
  const avail = box.clientHeight - headH;
  const starts = [0];
  if (rows.length && avail > 0) {
    const base = rows[0].offsetTop;
    let pageTop = base;
    for (const r of rows) {
      if (r.offsetTop + r.offsetHeight - pageTop > avail + 0.5 && r.offsetTop > pageTop) {
        starts.push(r.offsetTop - base);
        pageTop = r.offsetTop;
      }
    }
  }
  const pages = starts.length;
  const id = box.id;
  let page = state.pages[id] || 0;
  if (page >= pages) page = 0;
  state.pages[id] = page;
  box._pages = starts;
  const top = starts[page];
  if (box.scrollTop !== top) box.scrollTop = top;
  // Hide the part of a row cut at the bottom: the next page shows it whole.
  let visible = box.clientHeight;
  if (pages > 1) {
    const base = rows[0].offsetTop;
    const end = page + 1 < pages ? starts[page + 1] : Infinity;
    const last = rows.filter((r) => r.offsetTop - base >= top && r.offsetTop - base < end).pop();
    if (last) visible = Math.min(box.clientHeight, last.offsetTop - base + last.offsetHeight - top + headH);
  }
  const clip = pages > 1 ? `inset(0 0 ${Math.max(0, box.clientHeight - visible)}px 0)` : "";
  if (box._clip !== clip) { box.style.clipPath = clip; box._clip = clip; }
  if (box.dataset.pages !== String(pages)) box.dataset.pages = pages;
  if (box.dataset.page !== String(page + 1)) box.dataset.page = page + 1;
  if (pagerEl) setText(pagerEl, pages > 1 ? I.t("page", { n: I.num(page + 1), of: I.num(pages) }) : "");
}

function turnPages() {
  for (const box of document.querySelectorAll(".scroll")) {
    const pages = box._pages ? box._pages.length : 1;
    if (pages > 1) { state.pages[box.id] = ((state.pages[box.id] || 0) + 1) % pages; box._dirty = true; }
  }
  if (state.conn === "live") render();
}

// ---------------------------------------------------------------- drawing

function schedule() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => { renderQueued = false; render(); }, 16);
}

function render() {
  const t = now();
  I.showLanguage();
  document.body.dataset.mode = state.mode;
  for (const el of document.querySelectorAll("[data-t]")) setText(el, I.t(el.dataset.t));
  setText($("title"), I.t("title"));
  if (document.title !== I.t("title")) document.title = I.t("title");
  setText($("subtitle"), I.t("subtitle"));
  setText($("lang"), I.t("language"));
  setText($("mode-live"), I.t("live"));
  setText($("mode-drill"), I.t("drill"));
  $("mode-live").classList.toggle("on", state.mode === "live");
  $("mode-drill").classList.toggle("on", state.mode === "drill");
  $("sound").classList.toggle("on", state.sound);
  $("sound").setAttribute("aria-pressed", String(state.sound));
  $("sound").title = I.t(state.sound ? "soundOn" : "soundOff");
  const wall = clockNow();  // the wall clock runs on even when the board is not live
  // A simulation says so, with the pace its clock keeps (×120; lower while a loaded machine
  // makes the simulator slow its clock down: the demo never scales the nation's volume).
  setText($("clock-time"), I.time(wall, true) + (clock.simulated
    ? ` · ${I.t("simulated")} ×${I.num(Math.max(1, Math.round(clock.rate)))}` : ""));
  setText($("clock-date"), I.date(wall, true));
  $("clock-date").dataset.gregorian = new Date(wall).toISOString().slice(0, 10);
  renderConn();
  if (state.province) {
    setText($("scope-place"), I.province(state.province));
    setText($("scope-role"), I.t("role_" + state.role));
  }
  const drillBanner = $("drill-banner");
  drillBanner.hidden = state.mode !== "drill";
  setText(drillBanner, I.t("drillBanner"));
  const drillRows = Object.keys(state.rows).some((k) => k.startsWith("drill/") && !k.startsWith("drill/applied"));
  $("drill-note").hidden = !(state.mode === "live" && drillRows);
  setText($("drill-note"), "● " + I.t("drillRunning"));

  const teamList = teams();
  const incidentList = incidents(t);
  const centreList = centres(t);
  const fig = figures(t);
  const alertList = alerts(t, teamList, incidentList, centreList);
  renderTiles(teamList, incidentList, centreList, fig);
  renderMap(teamList, incidentList, centreList, t);
  renderTeams(teamList, incidentList);
  renderAlerts(alertList);
  renderIncidents(incidentList, teamList);
  renderOccupancy(centreList);
  renderProvinces(teamList, incidentList, centreList, alertList, t);
  renderCallsChart(t);
  renderOccupancyChart(t);
  paginateAll();
  sound(alertList);
}

function renderConn() {
  checkStale();
  const conn = state.conn;
  document.body.dataset.conn = conn;
  let text = I.t(conn === "live" ? "connected" : conn);
  if (conn === "reconnecting") {
    const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
    if (s > 0) text += " " + I.t("inSeconds", { n: s });
  }
  setText($("conn"), text);
  // Not live: say in plain words when the board was last right.
  const stale = $("stale");
  const down = conn !== "live" && conn !== "unauthorized" && state.lastUpdate > 0;
  stale.hidden = !down;
  if (down) {
    const ago = I.duration((Date.now() + state.offset - state.lastUpdate) / 1000);
    setText($("last-updated"), I.t("lastUpdated", { time: I.time(state.lastUpdate, true), ago }));
    $("last-updated").dataset.at = new Date(state.lastUpdate).toISOString();
  }
  const overlay = $("overlay");
  overlay.hidden = conn !== "unauthorized";
  if (conn === "unauthorized") setText($("overlay-text"), `${I.t("unauthorized")} — ${I.refusal(state.closeReason)}`);
}

function renderTiles(teamList, incidentList, centreList, fig) {
  const ready = teamList.filter((x) => x.status === "available").length;
  const engaged = teamList.filter((x) => ENGAGED.has(x.status)).length;
  const urgent = incidentList.filter((i) => i.priority === "urgent" && i.unassigned).length;
  const res = centreList.filter((c) => RESIDENTIAL.has(c.kind) && c.open);
  const cap = res.reduce((s, c) => s + c.capacity, 0);
  const occ = res.reduce((s, c) => s + c.occupied, 0);
  const share = cap ? occ / cap : 0;
  const median = medianEdge(fig.c2d, fig.c2dN);
  const tiles = [
    ["calls", I.num(fig.calls), "", "unitCalls"],
    ["interventions", I.num(fig.interventions), "", "unitCases"],
    ["dispatches", I.num(fig.dispatches), "", "unitTimes"],
    ["admissions", I.num(fig.admissions), "", "unitPeople"],
    ["declined", I.num(fig.declined), fig.declined ? "warn" : "", "unitPeople"],
    ["incidents", I.num(incidentList.length), "", "unitCases"],
    ["urgent", I.num(urgent), urgent ? "bad" : "", "unitCases"],
    ["teams", `${I.num(ready)} / ${I.num(engaged)}`, "", "unitTeams"],
    ["occupancy", cap ? I.digits(`${Math.round(share * 100)}%`) : "—", share >= FULL_SHARE ? "bad" : share >= 0.75 ? "warn" : "",
     cap ? null : ""],
    ["c2d", median ? "≤ " + I.duration(median) : "—", "", ""],
  ];
  keyed($("tiles"), tiles.map(([key, value, cls, unit]) => {
    const u = unit === null ? I.digits(`${occ}/${cap}`) : unit ? I.t(unit) : "";
    return { key, sig: value + cls + u, cls: "tile " + cls, attrs: { "data-tile": key },
             html: `<div class="v">${value}${u ? ` <small class="u">${esc(u)}</small>` : ""}</div><div class="k">${esc(I.t("tiles_" + key))}</div>` };
  }), "div");
}

function teamPopup(x) {
  const t = now();
  const inc = x.incident_id && state.rows[ns() + "incident/" + x.incident_id];
  const following = map.state.follow === x.id;
  return `<div class="popup" data-team-id="${esc(x.id)}"><b>${esc(x.name)}</b>` +
    `<div>${chip("s", x.status)} ${x.check_in_missed ? `<span class="chip alarm">${esc(I.t("alert_check_in_missed"))}</span>` : ""}</div>` +
    `<dl><dt>${esc(I.t("colSince"))}</dt><dd>${I.duration((t - ms(x.since)) / 1000)}</dd>` +
    `<dt>${esc(I.t("colPlace"))}</dt><dd>${esc(I.county(x.county, x.province))}</dd>` +
    (x.shift ? `<dt>${esc(I.t("colShift"))}</dt><dd>${esc(I.word(x.shift))} · ${I.t("crew", { n: I.num(x.crew || 0) })}</dd>` : "") +
    (inc ? `<dt>${esc(I.t("colCase"))}</dt><dd>${esc(I.word(inc.category))} · ${esc(I.word(inc.priority))}</dd>` : "") +
    (x.last_check_in ? `<dt>${esc(I.t("lastCheckIn"))}</dt><dd>${I.t("ago", { t: I.duration((t - ms(x.last_check_in)) / 1000) })}</dd>` : "") +
    (x.position ? `<dt>${esc(I.t("position"))}</dt><dd dir="ltr">${I.digits(I.list([x.position.lat.toFixed(4), x.position.lon.toFixed(4)]))}</dd>` : "") +
    `</dl><button type="button" class="follow" data-follow="${esc(x.id)}">${esc(I.t(following ? "unfollow" : "follow"))}</button></div>`;
}

function incidentPopup(i) {
  return `<div class="popup" data-incident-id="${esc(i.id)}"><b>${esc(I.word(i.category))}</b>` +
    `<div>${chip("p", i.priority)} ${i.unassigned ? `<b>${esc(I.t("unassigned"))}</b>` : ""}</div>` +
    `<dl><dt>${esc(I.t("colAge"))}</dt><dd>${I.duration((now() - ms(i.opened_at)) / 1000)}</dd>` +
    `<dt>${esc(I.t("colPlace"))}</dt><dd>${esc(place(i))}</dd></dl></div>`;
}

function centrePopup(c) {
  return `<div class="popup" data-centre-id="${esc(c.id)}"><b>${esc(centreLabel(c))}</b><div>${esc(I.word(c.kind))}</div>` +
    `<dl><dt>${esc(I.t("colOccupied"))}</dt><dd>${I.num(c.occupied)} / ${I.num(c.capacity)} ${esc(I.t("unitPeople"))}</dd>` +
    `<dt>${esc(I.t("free"))}</dt><dd>${I.num(c.free)}</dd></dl></div>`;
}

let mapDrawn = "";
function renderMap(teamList, incidentList, centreList) {
  const drawn = `${state.version}|${I.lang}|${state.mode}|${map.state.ready}|${map.state.follow}`;
  if (drawn === mapDrawn) return;  // markers change only with the rows (ages are in the popups)
  mapDrawn = drawn;
  map.update({ province: state.province, teams: teamList, incidents: incidentList,
                   centres: centreList.filter((c) => c.location), teamPopup, incidentPopup, centrePopup });
  const legend = STATUSES.map((s) => {
    const n = teamList.filter((x) => x.status === s).length;
    return `<span>${map.shape(map.STATUS_SHAPE[s], "s-" + s)}${esc(I.word(s))} ${I.num(n)}</span>`;
  }).join("") + `<span>${map.shape("alarm", "alarm")}${esc(I.t("legendAlarm"))}</span>` +
    `<span>${map.shape("incident", "p-urgent")}${esc(I.t("legendIncident"))}</span>`;
  setHTML($("map-legend"), legend);
  const following = map.state.follow;
  const f = $("following");
  f.hidden = !following;
  if (following) {
    const team = teamList.find((x) => x.id === following);
    setText($("following-name"), I.t("following", { name: team ? team.name : "" }));
  }
}

function chip(kind, value) {
  const shape = kind === "s" ? map.shape(map.STATUS_SHAPE[value] || "circle", "s-" + value) : "";
  return `<span class="chip ${kind}-${esc(value)}">${shape}${esc(I.word(value))}</span>`;
}

function renderTeams(teamList, incidentList) {
  const incidentsById = Object.fromEntries(incidentList.map((i) => [i.id, i]));
  const order = (x) => (x.check_in_missed ? -1 : ENGAGED.has(x.status) ? 0 : x.status === "available" ? 1 : 2);
  const sorted = [...teamList].sort((a, b) => order(a) - order(b) || String(a.name).localeCompare(b.name));
  setText($("teams-count"), I.num(teamList.length));
  const nation = state.province === "IR";
  const cols = [["colTeam", "name"], ["colStatus"], ["colSince"], ["colCase"], ["colShift", "opt"], [nation ? "colProvince" : "colCounty"]];
  const body = header($("teams-table"), cols);
  const items = sorted.map((x) => {
    const inc = x.incident_id && incidentsById[x.incident_id];
    const where = nation ? I.province(x.province) : I.county(x.county, x.province);
    return {
      key: x.id, cls: x.check_in_missed ? "missed pin" : "",
      attrs: { "data-team-id": x.id, "data-status": x.status },
      sig: [x.name, x.status, x.check_in_missed, x.since, inc && inc.category, x.shift, where].join("|"),
      html: `<td class="name">${x.check_in_missed ? map.shape("alarm", "alarm") : ""}${esc(x.name)}</td>` +
        `<td>${chip("s", x.status)}</td>` +
        `<td class="tick num" data-at="${ms(x.since)}"></td>` +
        `<td>${inc ? esc(I.word(inc.category)) : ""}</td>` +
        `<td class="opt">${x.shift ? esc(I.word(x.shift)) : ""}</td>` +
        `<td class="place">${esc(where)}</td>`,
    };
  });
  keyed(body, items.length ? items : emptyItem(I.t("noTeams"), cols.length), "tr");
  paginate($("teams"), $("teams-page"));
}

function renderAlerts(list) {
  setText($("alerts-count"), I.num(list.length));
  $("alerts-panel").classList.toggle("firing", list.length > 0);
  const items = list.map((a) => ({
    key: a.key, cls: "alert" + (a.warn ? " warn" : ""), attrs: { "data-alert": a.kind },
    sig: [a.kind, a.subject, a.where, a.since, a.warn, a.link || ""].join("|"),
    html: `<span class="icon">${a.icon}</span>` +
      `<div><div class="what">${esc(a.title)} — ${esc(a.subject)}</div><div class="where">${esc(a.where)}` +
      (a.link ? ` · <a class="alert-chart" href="${esc(a.link)}">${esc(I.t("alert_chart"))}</a>` : "") + `</div></div>` +
      `<span class="age tick" data-at="${Number.isFinite(a.since) ? a.since : ""}"></span>`,
  }));
  keyed($("alerts-list"), items.length ? items : [{ key: "empty", sig: I.lang, cls: "empty", html: `✓ ${esc(I.t("noAlerts"))}` }], "div");
  paginate($("alerts"), $("alerts-page"));
}

function renderIncidents(list, teamList) {
  const names = Object.fromEntries(teamList.map((x) => [x.id, x.name]));
  setText($("incidents-count"), I.num(list.length));
  const cols = [["colPriority"], ["colCategory", "name"], ["colAge"], ["colTeams"], ["colPlace"]];
  const body = header($("incidents-table"), cols);
  const items = list.map((i) => {
    const hot = i.unassigned && (i.priority === "urgent" || (i.priority === "high" && i.age > URGENT_UNASSIGNED_S));
    // The team sent, in full on a wall; on a laptop (≤ 1500 px, style.css) a short mark: ⚠ with
    // «بدون گروه» when none was sent, else ✓ and how many (the names in the cell's title).
    const sent = i.unassigned ? "" : I.list(i.teams.map((id) => names[id] || id.slice(0, 6)));
    const who = i.unassigned
      ? `<b class="who-full">${esc(I.t("unassigned"))}</b><b class="who-short" aria-label="${esc(I.t("unassigned"))}">⚠</b>`
      : `<span class="who-full">${esc(sent)}</span><span class="who-short">✓${I.lang === "fa" ? "" : " "}${esc(I.num(i.teams.length))}</span>`;
    return {
      key: i.id, cls: hot ? "hot pin" : "", attrs: { "data-incident-id": i.id },
      sig: [i.priority, i.category, who, place(i), i.opened_at].join("|"),
      html: `<td>${chip("p", i.priority)}</td><td class="name">${esc(I.word(i.category))}</td>` +
        `<td class="age tick num" data-at="${ms(i.opened_at)}"></td><td class="who" title="${esc(sent || I.t("unassigned"))}">${who}</td><td>${esc(place(i))}</td>`,
    };
  });
  keyed(body, items.length ? items : emptyItem(I.t("noIncidents"), cols.length), "tr");
  paginate($("incidents"), $("incidents-page"));
}

function renderOccupancy(list) {
  const res = list.filter((c) => RESIDENTIAL.has(c.kind) || c.capacity > 0);
  const cap = res.filter((c) => c.open).reduce((s, c) => s + c.capacity, 0);
  const occ = res.filter((c) => c.open).reduce((s, c) => s + c.occupied, 0);
  setText($("occupancy-count"), cap ? I.t("ofPlaces", { occ: I.num(occ), cap: I.num(cap) }) : "");
  const items = res.map((c) => {
    const share = c.capacity ? Math.min(1, c.occupied / c.capacity) : 0;
    const level = share >= FULL_SHARE ? "bad" : share >= 0.75 ? "warn" : "";
    const stays = c.holding.map((h) => `<span class="stay${h.due ? " due" : ""}">${esc(I.t("daysLeft", { n: I.num(Math.max(0, h.days), 1) }))}</span>`).join("");
    const html = `<div class="top"><span class="cname">${esc(centreLabel(c))}${c.secret && c.location ? ` <span class="lock">${esc(I.t("secretPlace"))}</span>` : ""}</span>` +
      `<span class="kind">${esc(I.word(c.kind))}${c.county ? " · " + esc(I.county(c.county, c.province)) : ""}${c.open ? "" : " · " + esc(I.t("closed"))}</span></div>` +
      `<div class="bar ${level}"><div style="width:${(share * 100).toFixed(1)}%"></div></div>` +
      `<div class="facts"><span><b class="occ">${I.digits(`${c.occupied}/${c.capacity}`)}</b> ${esc(I.t("unitPeople"))}</span>` +
      `<span>${esc(I.t("free"))}: <b class="free">${I.num(c.free)}</b></span>` +
      (c.holding.length ? `<span>${esc(I.t("holding"))}: <b>${I.num(c.holding.length)}</b> ${stays}</span>` : "") +
      (c.due ? `<span class="due">${esc(I.t("transfersDue"))}: <b>${I.num(c.due)}</b></span>` : "") +
      (c.declined ? `<span class="declined">${esc(I.t("declined"))}: <b>${I.num(c.declined)}</b></span>` : "") + `</div>`;
    return { key: c.id, cls: "centre-row", attrs: { "data-centre-id": c.id }, html,
             sig: html.replace(/\d+(\.\d+)?%/, "") + Math.round(share * 100) };
  });
  // Safe and health houses, for those who see them only as counts per province (the nation, auditors).
  for (const g of rowsOf("secret_places/").sort((a, b) => I.province(a.province).localeCompare(I.province(b.province), I.lang))) {
    const share = g.capacity ? Math.min(1, g.occupied / g.capacity) : 0;
    const level = share >= FULL_SHARE ? "bad" : share >= 0.75 ? "warn" : "";
    const html = `<div class="top"><span class="cname">${esc(I.t("secretPlaces"))} · ${esc(I.province(g.province))} <span class="lock">${esc(I.t("secretPlace"))}</span></span></div>` +
      (g.suppressed ? `<div class="facts"><span>${esc(I.t("secretSuppressed"))}</span></div>`
        : `<div class="bar ${level}"><div style="width:${(share * 100).toFixed(1)}%"></div></div>` +
          `<div class="facts"><span>${esc(I.t("placesCount", { n: I.num(g.places) }))}</span>` +
          `<span><b class="occ">${I.digits(`${g.occupied}/${g.capacity}`)}</b> ${esc(I.t("unitPeople"))}</span></div>`);
    items.push({ key: "secret/" + g.province, cls: "centre-row secret-count", attrs: { "data-secret-province": g.province }, html, sig: html });
  }
  keyed($("occupancy-list"), items.length ? items : [{ key: "empty", sig: I.lang, cls: "empty", html: esc(I.t("noCentres")) }], "div");
  paginate($("occupancy"), $("occupancy-page"));
}

/* The national EOC's table: one row per province (31), as the terminal board has it. */
function renderProvinces(teamList, incidentList, centreList, alertList, t) {
  const panel = $("provinces-panel");
  const nation = state.province === "IR";
  panel.hidden = !nation;
  if (!nation) return;
  const day = localDay(t);
  const by = {};
  for (const code of Object.keys(G.PROVINCES)) {
    by[code] = { calls: 0, open: 0, unassigned: 0, ready: 0, out: 0, occ: 0, cap: 0, alerts: 0 };
  }
  for (const r of rowsOf("figures/")) if (r.day === day && by[r.province]) by[r.province].calls += r.calls || 0;
  for (const i of incidentList) if (by[i.province]) { by[i.province].open += 1; if (i.unassigned) by[i.province].unassigned += 1; }
  for (const x of teamList) {
    if (!by[x.province]) continue;
    if (x.status === "available") by[x.province].ready += 1;
    else if (ENGAGED.has(x.status)) by[x.province].out += 1;
  }
  for (const c of centreList) {
    if (by[c.province] && RESIDENTIAL.has(c.kind) && c.open) { by[c.province].occ += c.occupied; by[c.province].cap += c.capacity; }
  }
  for (const a of alertList) if (by[a.province]) by[a.province].alerts += 1;
  const codes = Object.keys(by).sort((a, b) => by[b].alerts - by[a].alerts || by[b].unassigned - by[a].unassigned
    || by[b].open - by[a].open || I.province(a).localeCompare(I.province(b), I.lang));
  const cols = [["colProvince", "name"], ["colCalls"], ["colOpen"], ["colUnassigned"], ["colReady"], ["colOut"], ["colOccupancy"], ["colAlerts"]];
  const body = header($("provinces-table"), cols);
  keyed(body, codes.map((code) => {
    const p = by[code];
    const share = p.cap ? Math.round((p.occ / p.cap) * 100) : null;
    const cell = (n, bad) => `<td class="num${n && bad ? " " + bad : ""}">${I.num(n)}</td>`;
    return {
      key: code, attrs: { "data-province": code }, cls: p.alerts ? "has-alerts" : "",
      sig: JSON.stringify(p),
      html: `<td class="name">${esc(I.province(code))}</td>` + cell(p.calls) + cell(p.open) + cell(p.unassigned, "warnc") +
        cell(p.ready) + cell(p.out) +
        `<td class="num${share !== null && share >= 90 ? " badc" : ""}">${share === null ? "—" : I.digits(`${share}%`)}</td>` + cell(p.alerts, "badc"),
    };
  }), "tr");
  setText($("provinces-count"), I.num(codes.length));
  paginate($("provinces"), $("provinces-page"));
}

/* A chart is drawn in its own pixels (its viewBox is its size on the screen), so its axis
 * text has the page's type size at every screen size instead of being squeezed with the
 * drawing; the spacing of the labels follows that size. */
function chartBox(svg) {
  const W = Math.max(160, Math.round(svg.clientWidth || 480));
  const H = Math.max(48, Math.round(svg.clientHeight || 120));
  const box = `0 0 ${W} ${H}`;
  if (svg.getAttribute("viewBox") !== box) svg.setAttribute("viewBox", box);
  const fs = parseFloat(getComputedStyle(svg).fontSize) * 0.82 || 12;
  return { W, H, fs };
}

function renderCallsChart(t) {
  const { W, H, fs } = chartBox($("calls-chart"));
  const top = Math.ceil(fs * 0.7), bottom = Math.ceil(fs * 1.5), left = Math.ceil(fs * 2.2);
  const hours = lastDayByHour(t);
  const total = (cats) => Object.values(cats).reduce((a, n) => a + n, 0);
  const max = Math.max(4, ...hours.map((h) => total(h.cats)));
  const bw = (W - left) / 24;
  const y = (v) => H - bottom - (v / max) * (H - top - bottom);
  let out = "";
  const plot = H - top - bottom;
  for (const g of plot >= fs * 3.2 ? [0, 0.5, 1] : [0, 1]) {  // a half-way label only where it has room
    out += `<line class="grid" x1="${left}" x2="${W}" y1="${y(max * g)}" y2="${y(max * g)}"/>` +
      `<text x="${left - 4}" y="${y(max * g) + fs * 0.35}" text-anchor="end">${I.num(Math.round(max * g))}</text>`;
  }
  const every = [1, 2, 3, 4, 6, 8, 12].find((k) => k * bw >= fs * 2.4) || 12;  // hour labels that do not touch
  const used = new Set();
  hours.forEach((hour, i) => {
    let base = 0;
    for (const [cat, n] of Object.entries(hour.cats).sort()) {
      used.add(cat);
      out += `<rect x="${left + i * bw + 1}" y="${y(base + n)}" width="${bw - 2}" height="${y(base) - y(base + n)}" fill="${CATEGORY_COLOURS[cat] || "#888"}"/>`;
      base += n;
    }
    if ((23 - i) % every === 0) out += `<text x="${left + i * bw + bw / 2}" y="${H - fs * 0.6}" text-anchor="middle">${I.digits(hour.hh)}</text>`;
  });
  setHTML($("calls-chart"), out);
  setHTML($("calls-legend"), [...used].sort().map((c) =>
    `<span><i style="background:${CATEGORY_COLOURS[c] || "#888"}"></i>${esc(c === "unclassified" ? "—" : I.word(c))}</span>`).join(""));
}

function renderOccupancyChart(t) {
  const { W, H, fs } = chartBox($("occ-chart"));
  const top = Math.ceil(fs * 0.7), bottom = Math.ceil(fs * 1.5), left = Math.ceil(fs * 2.9);
  t = Math.floor(t / 60000) * 60000;  // drawn once a minute
  const points = state.history[state.mode];
  const estimated = state.estimated[state.mode].filter((p) => !points.length || p.t < points[0].t);
  const x = (at) => left + ((at - (t - DAY_MS)) / DAY_MS) * (W - left);
  const y = (share) => H - bottom - Math.min(1, share) * (H - top - bottom);
  const share = (p) => (p.cap ? p.occ / p.cap : 0);
  let out = "";
  for (const g of H - top - bottom >= fs * 3.2 ? [0, 0.5, 1] : [0, 1]) {
    out += `<line class="grid" x1="${left}" x2="${W}" y1="${y(g)}" y2="${y(g)}"/><text x="${left - 4}" y="${y(g) + fs * 0.35}" text-anchor="end">${I.digits(Math.round(g * 100) + "%")}</text>`;
  }
  const step = (W - left) / 4 >= fs * 3.6 ? 6 : 12;  // time labels that do not touch
  out += `<line class="limit" x1="${left}" x2="${W}" y1="${y(FULL_SHARE)}" y2="${y(FULL_SHARE)}"/>`;
  for (let h = step; h <= 24; h += step) {
    const at = t - DAY_MS + h * 3600000;
    out += `<text x="${x(at)}" y="${H - fs * 0.6}" text-anchor="${h === 24 ? "end" : "middle"}">${I.time(at)}</text>`;
  }
  const path = (list) => list.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(share(p)).toFixed(1)}`).join("");
  if (estimated.length > 1) out += `<path class="line estimated" d="${path(estimated)}"/>`;
  const live = points.concat(points.length ? [{ ...points[points.length - 1], t }] : []);
  if (live.length > 1) {
    out += `<path class="area" d="${path(live)}L${x(t)},${y(0)}L${x(live[0].t)},${y(0)}Z"/><path class="line" d="${path(live)}"/>`;
  }
  setHTML($("occ-chart"), out);
  setText($("occ-note"), estimated.length > 1 ? `(- - ${I.t("estimated")})` : "");
}

// ---------------------------------------------------------------- sound

/* A short two-tone beep for each new urgent alert (missed check-in, urgent incident waiting),
 * only when the operator turned sound on (browsers allow sound after a click anyway). */
let audio = null;
function sound(list) {
  const urgent = list.filter((a) => a.kind === "check_in_missed" || a.kind === "urgent_unassigned").map((a) => a.key);
  if (state.knownAlerts === null || state.conn !== "live") { if (state.conn === "live") state.knownAlerts = new Set(urgent); return; }
  const fresh = urgent.filter((k) => !state.knownAlerts.has(k));
  state.knownAlerts = new Set(urgent);
  if (!fresh.length || !state.sound) return;
  state.beeps += 1;
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    for (const [i, f] of [[0, 880], [1, 660]]) {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = f; g.gain.value = 0.15;
      o.connect(g).connect(audio.destination);
      o.start(audio.currentTime + i * 0.18); o.stop(audio.currentTime + i * 0.18 + 0.15);
    }
  } catch (e) { /* no audio device: the screen still shows the alert */ }
}

// ---------------------------------------------------------------- controls

function setLanguage(lang) {
  I.choose(lang);
  map.relabel();
  render();
}

$("lang").addEventListener("click", () => setLanguage(I.lang === "fa" ? "en" : "fa"));
$("mode-live").addEventListener("click", () => { state.mode = "live"; render(); });
$("mode-drill").addEventListener("click", () => { state.mode = "drill"; render(); });
$("sound").addEventListener("click", () => {
  state.sound = !state.sound;
  try { localStorage.setItem("eoc.sound", state.sound ? "on" : "off"); } catch (e) { /* no storage */ }
  render();
});
$("unfollow").addEventListener("click", () => { map.setFollow(null); render(); });
// A map popup's "follow" button. A live board may redraw the popup between the press and the
// release (a frame changed what it shows), and the browser then gives no click: the two fell on
// two drawings of the button. So the release decides; a click with no press before it (detail 0:
// the keyboard, a screen reader) decides too.
function followButton(e) {
  const b = e.target.closest && e.target.closest("button.follow");
  if (!b) return;
  map.setFollow(map.state.follow === b.dataset.follow ? null : b.dataset.follow);
  render();
}
document.addEventListener("pointerup", (e) => { if (e.button === 0) followButton(e); });
document.addEventListener("click", (e) => { if (e.detail === 0) followButton(e); });
// The charts are drawn in the screen's pixels: drawn again when the window changes size.
let resizing = null;
window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(render, 150); });
// A new token in the address (developers' tools): load again, so that the session takes it.
window.addEventListener("hashchange", () => { if (/token=/.test(location.hash)) location.reload(); });

try {
  I.lang = localStorage.getItem("eoc.lang") || "fa";
  state.sound = localStorage.getItem("eoc.sound") === "on";
} catch (e) { I.lang = "fa"; }
setInterval(() => { render(); }, 1000);              // clocks, ages, time-based alerts, liveness
setInterval(() => { if (state.seq >= 0) sampleHistory(); }, 60000);
setInterval(turnPages, PAGE_MS);
EOC.app = { state, render, onFrame, rows: () => state.rows, now, turnPages, STALE_MS, socket: () => ws };
render();
connect();
