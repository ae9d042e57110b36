/* The live EOC dashboard: connects to the bridge, keeps the boards it may see, draws them.
 *
 * Protocol (ui_bridge/protocol.py): a snapshot, then deltas whose "prev" must equal the seq
 * of the previous frame (else: ask {"type":"resync"}), heartbeats. Everything that depends
 * on the passing of time (ages, days left, urgent-unassigned alerts) is computed here from
 * the rows and the bridge's clock, as projections/views.py does on the server. */
"use strict";

(function () {
  const I = EOC.i18n;
  const G = EOC.geo;
  const $ = (id) => document.getElementById(id);

  const URGENT_UNASSIGNED_S = 5 * 60;
  const FULL_SHARE = 0.9;
  const DAY_MS = 86400 * 1000;
  const STALE_MS = 15000;
  const RESIDENTIAL = new Set(["residential_level_1", "residential_level_2", "safe_house", "health_house"]);
  const STATUSES = ["available", "dispatched", "en_route", "on_scene", "transporting", "at_centre", "in_drill", "off_duty"];
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
  };
  let ws = null;
  let config = null;
  let renderQueued = false;

  const now = () => Date.now() + state.offset;
  const ns = () => (state.mode === "drill" ? "drill/" : "");
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const ms = (iso) => (iso ? Date.parse(iso) : NaN);

  // ---------------------------------------------------------------- the connection

  function tokenFromAddress() {
    // The signed-in session (session.js) keeps the token out of the address bar.
    return EOC.session ? EOC.session.accessToken() : null;
  }

  async function connect() {
    state.token = tokenFromAddress();
    if (!state.token) {
      setConn("unauthorized", I.t("noToken"));
      return;
    }
    if (!config) {
      try {
        config = await (await fetch("dashboard/config.json", { cache: "no-store" })).json();
      } catch (e) {
        return retry();
      }
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    setConn(state.attempts ? "reconnecting" : "connecting");
    ws = new WebSocket(`${scheme}://${location.hostname}:${config.bridge_port}${config.bridge_path || "/"}`);
    // The token goes in the first message, not the address: addresses end up in logs.
    ws.onopen = () => ws.send(JSON.stringify({ token: state.token }));
    ws.onmessage = (event) => onFrame(JSON.parse(event.data));
    ws.onclose = (event) => {
      ws = null;
      if (event.code === 4401 && event.reason === "token expired" && EOC.session && EOC.session.canRefresh()) {
        EOC.session.refresh().then(connect, () => setConn("unauthorized", event.reason));
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

  function setConn(conn, reason) {
    state.conn = conn;
    if (reason !== undefined) state.closeReason = reason;
    renderConn();  // the state and its words change together, at once
    schedule();
  }

  function onFrame(frame) {
    state.frames += 1;
    state.lastFrame = Date.now();
    if (frame.now) state.offset = Date.parse(frame.now) - Date.now();
    if (frame.type === "snapshot") {
      state.snapshots += 1;
      state.rows = frame.rows;
      state.seq = frame.seq;
      state.role = frame.role;
      state.province = frame.province;
      state.awaitingSnapshot = false;
      state.attempts = 0;
      document.body.dataset.seq = frame.seq;
      setConn("live");
      mapBounds = null;
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
      state.seq = frame.seq;
      document.body.dataset.seq = frame.seq;
      if (Object.keys(frame.changes).some((k) => k.includes("centre/"))) sampleHistory();
    } else if (frame.type === "heartbeat") {
      if (state.conn === "stale") setConn("live");
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
    const out = [];
    for (const a of rowsOf("alert/")) {
      if (a.kind === "check_in_missed") {
        out.push({ kind: a.kind, rank: 0, icon: "⚠", subject: teamName[a.team_id] || a.team_id.slice(0, 8),
                   where: place(a), since: ms(a.due_at || a.since) });
      } else if (a.kind === "centre_full") {
        out.push({ kind: a.kind, rank: 2, icon: "▮", warn: a.occupied < a.capacity,
                   subject: `${centreName[a.centre_id] || I.t("secretPlace")} · ${I.num(a.occupied)}/${I.num(a.capacity)}`,
                   where: place(a), since: ms(a.since) });
      } else if (a.kind === "emerging_harm") {  // projections/emerging.py: observed vs expected
        out.push({ kind: a.kind, rank: 4, icon: "↗", warn: true,
                   subject: `${I.word(a.category)} · ${I.num(a.observed)} / ${I.num(a.expected, 1)}`,
                   where: place({ ...a, county: a.county === "*" ? null : a.county }), since: ms(a.since) });
      }
    }
    for (const inc of incidentList) {
      if (inc.priority === "urgent" && inc.unassigned && inc.age > URGENT_UNASSIGNED_S) {
        out.push({ kind: "urgent_unassigned", rank: 1, icon: "⏱", subject: I.word(inc.category), where: place(inc),
                   since: ms(inc.opened_at) });
      }
    }
    for (const c of centreList) {
      for (const h of c.holding) {
        if (h.days < 0) {
          out.push({ kind: "transfer_overdue", rank: 3, icon: "⇄", warn: true, subject: centreLabel(c), where: place(c),
                     since: t + h.days * DAY_MS });
        }
      }
    }
    return out.sort((a, b) => a.rank - b.rank || a.since - b.since);
  }

  function place(r) {
    const p = I.province(r.province);
    return r.county ? `${r.county} · ${p}` : p;
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

  // ---------------------------------------------------------------- drawing

  function schedule() {
    if (renderQueued) return;
    renderQueued = true;
    setTimeout(() => { renderQueued = false; render(); }, 16);
  }

  function render() {
    const t = now();
    document.documentElement.lang = I.lang;
    document.documentElement.dir = I.lang === "fa" ? "rtl" : "ltr";
    document.body.dataset.mode = state.mode;
    for (const el of document.querySelectorAll("[data-t]")) el.textContent = I.t(el.dataset.t);
    $("title").textContent = I.t("title");
    document.title = I.t("title");
    $("subtitle").textContent = I.t("subtitle");
    $("lang").textContent = I.t("language");
    $("mode-live").textContent = I.t("live");
    $("mode-drill").textContent = I.t("drill");
    $("mode-live").classList.toggle("on", state.mode === "live");
    $("mode-drill").classList.toggle("on", state.mode === "drill");
    $("clock-time").textContent = I.time(t, true);
    $("clock-date").textContent = I.date(t, true);
    $("clock-date").dataset.gregorian = new Date(t).toISOString().slice(0, 10);
    renderConn();
    if (state.province) {
      $("scope-place").textContent = I.province(state.province);
      $("scope-role").textContent = I.t("role_" + state.role);
    }
    const drillBanner = $("drill-banner");
    drillBanner.hidden = state.mode !== "drill";
    drillBanner.textContent = I.t("drillBanner");
    const drillRows = Object.keys(state.rows).some((k) => k.startsWith("drill/") && !k.startsWith("drill/applied"));
    $("drill-note").hidden = !(state.mode === "live" && drillRows);
    $("drill-note").textContent = "● " + I.t("drillRunning");

    const teamList = teams();
    const incidentList = incidents(t);
    const centreList = centres(t);
    const fig = figures(t);
    const alertList = alerts(t, teamList, incidentList, centreList);
    renderTiles(teamList, incidentList, centreList, fig);
    renderMap(teamList, incidentList, centreList);
    renderTeams(teamList, incidentList, t);
    renderAlerts(alertList, t);
    renderIncidents(incidentList, teamList);
    renderOccupancy(centreList);
    renderCallsChart(t);
    renderOccupancyChart(t);
  }

  function renderConn() {
    let conn = state.conn;
    if (conn === "live" && Date.now() - state.lastFrame > STALE_MS) conn = "stale";
    document.body.dataset.conn = conn;
    let text = I.t(conn === "live" ? "connected" : conn);
    if (conn === "reconnecting") {
      const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      if (s > 0) text += " " + I.t("inSeconds", { n: s });
    }
    $("conn").textContent = text;
    const overlay = $("overlay");
    overlay.hidden = conn !== "unauthorized";
    if (conn === "unauthorized") $("overlay-text").textContent = `${I.t("unauthorized")} — ${state.closeReason || ""}`;
  }

  function tile(key, value, cls = "") {
    return `<div class="tile ${cls}" data-tile="${key}"><div class="v">${value}</div><div class="k">${esc(I.t("tiles_" + key))}</div></div>`;
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
    $("tiles").innerHTML = [
      tile("calls", I.num(fig.calls)),
      tile("interventions", I.num(fig.interventions)),
      tile("dispatches", I.num(fig.dispatches)),
      tile("admissions", I.num(fig.admissions)),
      tile("declined", I.num(fig.declined), fig.declined ? "warn" : ""),
      tile("incidents", I.num(incidentList.length)),
      tile("urgent", I.num(urgent), urgent ? "bad" : ""),
      tile("teams", `${I.num(ready)} / ${I.num(engaged)}`),
      tile("occupancy", cap ? I.digits(`${Math.round(share * 100)}%`) : "—", share >= FULL_SHARE ? "bad" : share >= 0.75 ? "warn" : ""),
      tile("c2d", median ? "≤ " + I.duration(median) : "—"),
    ].join("");
  }

  // The map: equirectangular, shrunk east-west by cos(latitude) so that shapes look right.
  let mapBounds = null;
  const K = 100;
  const COS = Math.cos((32.5 * Math.PI) / 180);
  const project = (lon, lat) => [(lon - 44) * K * COS, (40 - lat) * K];

  function boundsFor(teamList, centreList, incidentList) {
    if (state.province === "IR" || !G.PROVINCES[state.province]) return { lon: [43.6, 63.6], lat: [24.8, 40.0] };
    const cap = G.PROVINCES[state.province];
    const b = { lon: [cap.lon - 1.0, cap.lon + 1.0], lat: [cap.lat - 0.7, cap.lat + 0.7] };
    const points = [...teamList.map((x) => x.position).filter(Boolean), ...centreList.map((c) => c.location).filter(Boolean),
                    ...incidentList.map((i) => i.location).filter(Boolean)];
    for (const p of points) {
      b.lon = [Math.min(b.lon[0], p.lon - 0.2), Math.max(b.lon[1], p.lon + 0.2)];
      b.lat = [Math.min(b.lat[0], p.lat - 0.2), Math.max(b.lat[1], p.lat + 0.2)];
    }
    return b;
  }

  function renderMap(teamList, incidentList, centreList) {
    const svg = $("map");
    const wanted = boundsFor(teamList, centreList, incidentList);
    const key = JSON.stringify(wanted) + svg.clientWidth + "x" + svg.clientHeight;
    if (!mapBounds || mapBounds.key !== key || !svg.querySelector(".land")) {
      const [x0, y0] = project(wanted.lon[0], wanted.lat[1]);
      const [x1, y1] = project(wanted.lon[1], wanted.lat[0]);
      // Map units per screen pixel: markers and labels keep their size at any zoom.
      const px = Math.max((x1 - x0) / (svg.clientWidth || 600), (y1 - y0) / (svg.clientHeight || 500));
      mapBounds = { key, px };
      svg.setAttribute("viewBox", `${x0} ${y0} ${x1 - x0} ${y1 - y0}`);
      const land = "M" + G.IRAN_OUTLINE.map(([lon, lat]) => project(lon, lat).join(",")).join("L") + "Z";
      const capitals = Object.entries(G.PROVINCES).map(([code, p]) => {
        const [x, y] = project(p.lon, p.lat);
        const home = code === state.province ? " home" : "";
        return `<g class="capital${home}" data-province="${code}"><circle cx="${x}" cy="${y}" r="${px * 2.5}"/>` +
          `<text x="${x}" y="${y - px * 6}" font-size="${px * (home ? 15 : 10.5)}" text-anchor="middle">${esc(I.province(code))}</text></g>`;
      }).join("");
      svg.innerHTML = `<path class="land" d="${land}"/><g id="m-capitals">${capitals}</g>` +
        `<g id="m-centres"></g><g id="m-incidents"></g><g id="m-teams"></g>`;
      svg.dataset.lang = I.lang;
    } else if (svg.dataset.lang !== I.lang) {
      for (const g of svg.querySelectorAll(".capital")) g.querySelector("text").textContent = I.province(g.dataset.province);
      svg.dataset.lang = I.lang;
    }
    const px = mapBounds.px;

    $("m-centres").innerHTML = centreList.filter((c) => c.location).map((c) => {
      const [x, y] = project(c.location.lon, c.location.lat);
      const share = c.capacity ? c.occupied / c.capacity : 0;
      const colour = share >= FULL_SHARE ? "var(--bad)" : share >= 0.75 ? "var(--warn)" : "var(--ok)";
      const s = px * 13;
      return `<g class="centre${c.secret ? " secret" : ""}" data-centre-id="${esc(c.id)}"><rect x="${x - s / 2}" y="${y - s / 2}" width="${s}" height="${s}" fill="${colour}"/>` +
        `<title>${esc(centreLabel(c))} ${c.occupied}/${c.capacity}</title></g>`;
    }).join("");

    $("m-incidents").innerHTML = incidentList.filter((i) => i.location).map((i) => {
      const [x, y] = project(i.location.lon, i.location.lat);
      const s = px * 8;
      return `<g class="incident ${esc(i.priority)}${i.unassigned ? " unassigned" : ""}"><path d="M${x},${y - s}L${x + s},${y + s * 0.8}L${x - s},${y + s * 0.8}Z"/></g>`;
    }).join("");

    // Teams keep their element so that a new position slides there (CSS transition).
    const layer = $("m-teams");
    const seen = new Set();
    const labels = state.province !== "IR" && teamList.length <= 60;  // the country view would be a blur
    for (const team of teamList) {
      if (!team.position) continue;
      seen.add(team.id);
      let g = layer.querySelector(`[data-team-id="${CSS.escape(team.id)}"]`);
      if (!g) {
        g = document.createElementNS("http://www.w3.org/2000/svg", "g");
        g.setAttribute("class", "team");
        g.dataset.teamId = team.id;
        g.innerHTML = `<circle r="${px * 7}"/><text y="${-px * 11}" font-size="${px * 13}" stroke-width="${px * 3}" text-anchor="middle"></text>`;
        layer.appendChild(g);
      }
      const [x, y] = project(team.position.lon, team.position.lat);
      g.style.transform = `translate(${x}px, ${y}px)`;
      g.dataset.status = team.status;
      g.classList.toggle("missed", !!team.check_in_missed);
      g.querySelector("circle").setAttribute("fill", `var(--s-${team.status})`);
      g.querySelector("text").textContent = labels ? team.name : "";
    }
    for (const g of [...layer.children]) if (!seen.has(g.dataset.teamId)) g.remove();

    $("map-legend").innerHTML = STATUSES.map((s) => {
      const n = teamList.filter((x) => x.status === s).length;
      return `<span><i style="background:var(--s-${s})"></i>${esc(I.word(s))} ${I.num(n)}</span>`;
    }).join("");
  }

  function renderTeams(teamList, incidentList, t) {
    const incidentsById = Object.fromEntries(incidentList.map((i) => [i.id, i]));
    const order = (x) => (x.check_in_missed ? -1 : ENGAGED.has(x.status) ? 0 : x.status === "available" ? 1 : 2);
    const sorted = [...teamList].sort((a, b) => order(a) - order(b) || String(a.name).localeCompare(b.name));
    $("teams-count").textContent = I.num(teamList.length);
    if (!sorted.length) { $("teams").innerHTML = `<div class="empty">${esc(I.t("noTeams"))}</div>`; return; }
    $("teams").innerHTML = `<table><tbody>` + sorted.map((x) => {
      const inc = x.incident_id && incidentsById[x.incident_id];
      return `<tr class="${x.check_in_missed ? "missed" : ""}" data-team-id="${esc(x.id)}" data-status="${esc(x.status)}">` +
        `<td class="name">${esc(x.name)}</td>` +
        `<td><span class="chip s-${esc(x.status)}">${esc(I.word(x.status))}</span></td>` +
        `<td class="muted">${I.duration((t - ms(x.since)) / 1000)}</td>` +
        `<td class="muted">${inc ? esc(I.word(inc.category)) : x.shift ? esc(I.word(x.shift)) : ""}</td>` +
        `<td class="muted">${esc(x.county || "")}</td></tr>`;
    }).join("") + `</tbody></table>`;
  }

  function renderAlerts(list, t) {
    $("alerts-count").textContent = I.num(list.length);
    $("alerts-panel").classList.toggle("firing", list.length > 0);
    if (!list.length) { $("alerts").innerHTML = `<div class="empty">✓ ${esc(I.t("noAlerts"))}</div>`; return; }
    $("alerts").innerHTML = list.map((a) =>
      `<div class="alert${a.warn ? " warn" : ""}" data-alert="${a.kind}"><span class="icon">${a.icon}</span>` +
      `<div><div class="what">${esc(I.t("alert_" + a.kind))} — ${esc(a.subject)}</div><div class="where">${esc(a.where)}</div></div>` +
      `<span class="age">${Number.isFinite(a.since) ? I.duration((t - a.since) / 1000) : ""}</span></div>`).join("");
  }

  function renderIncidents(list, teamList) {
    const names = Object.fromEntries(teamList.map((x) => [x.id, x.name]));
    $("incidents-count").textContent = I.num(list.length);
    if (!list.length) { $("incidents").innerHTML = `<div class="empty">${esc(I.t("noIncidents"))}</div>`; return; }
    $("incidents").innerHTML = `<table><tbody>` + list.map((i) => {
      const hot = i.unassigned && (i.priority === "urgent" || (i.priority === "high" && i.age > URGENT_UNASSIGNED_S));
      const who = i.unassigned ? `<b>${esc(I.t("unassigned"))}</b>` : esc(i.teams.map((id) => names[id] || id.slice(0, 6)).join("، "));
      return `<tr class="${hot ? "hot" : ""}" data-incident-id="${esc(i.id)}">` +
        `<td><span class="chip p-${esc(i.priority)}">${esc(I.word(i.priority))}</span></td>` +
        `<td class="name">${esc(I.word(i.category))}</td>` +
        `<td class="age">${I.duration(i.age)}</td>` +
        `<td>${who}</td>` +
        `<td class="muted">${esc(place(i))}</td></tr>`;
    }).join("") + `</tbody></table>`;
  }

  function renderOccupancy(list) {
    const res = list.filter((c) => RESIDENTIAL.has(c.kind) || c.capacity > 0);
    const cap = res.filter((c) => c.open).reduce((s, c) => s + c.capacity, 0);
    const occ = res.filter((c) => c.open).reduce((s, c) => s + c.occupied, 0);
    $("occupancy-total").textContent = cap ? I.digits(`${occ}/${cap}`) : "";
    if (!res.length) { $("occupancy").innerHTML = `<div class="empty">${esc(I.t("noCentres"))}</div>`; return; }
    $("occupancy").innerHTML = res.map((c) => {
      const share = c.capacity ? Math.min(1, c.occupied / c.capacity) : 0;
      const level = share >= FULL_SHARE ? "bad" : share >= 0.75 ? "warn" : "";
      const stays = c.holding.map((h) => `<span class="stay${h.due ? " due" : ""}">${I.num(Math.max(0, h.days), 1)}</span>`).join("");
      return `<div class="centre-row" data-centre-id="${esc(c.id)}">` +
        `<div class="top"><span class="cname">${esc(centreLabel(c))}${c.secret && c.location ? ` <span class="lock">${esc(I.t("secretPlace"))}</span>` : ""}</span>` +
        `<span class="kind">${esc(I.word(c.kind))}${c.county ? " · " + esc(c.county) : ""}${c.open ? "" : " · " + esc(I.t("closed"))}</span></div>` +
        `<div class="bar ${level}"><div style="width:${(share * 100).toFixed(1)}%"></div></div>` +
        `<div class="facts"><span><b class="occ">${I.digits(`${c.occupied}/${c.capacity}`)}</b></span>` +
        `<span>${esc(I.t("free"))}: <b class="free">${I.num(c.free)}</b></span>` +
        (c.holding.length ? `<span>${esc(I.t("holding"))}: <b>${I.num(c.holding.length)}</b> ${stays}</span>` : "") +
        (c.due ? `<span class="due">${esc(I.t("transfersDue"))}: <b>${I.num(c.due)}</b></span>` : "") +
        (c.declined ? `<span class="declined">${esc(I.t("declined"))}: <b>${I.num(c.declined)}</b></span>` : "") +
        `</div></div>`;
    }).join("");
  }

  function renderCallsChart(t) {
    const W = 480, H = 130, top = 6, bottom = 14, left = 18;
    const hours = lastDayByHour(t);
    const total = (cats) => Object.values(cats).reduce((a, n) => a + n, 0);
    const max = Math.max(4, ...hours.map((h) => total(h.cats)));
    const bw = (W - left) / 24;
    const y = (v) => H - bottom - (v / max) * (H - top - bottom);
    let out = "";
    for (const g of [0, 0.5, 1]) {
      out += `<line class="grid" x1="${left}" x2="${W}" y1="${y(max * g)}" y2="${y(max * g)}"/>` +
        `<text x="${left - 3}" y="${y(max * g) + 3}" text-anchor="end">${I.num(Math.round(max * g))}</text>`;
    }
    const used = new Set();
    hours.forEach((hour, i) => {
      let base = 0;
      for (const [cat, n] of Object.entries(hour.cats).sort()) {
        used.add(cat);
        out += `<rect x="${left + i * bw + 1}" y="${y(base + n)}" width="${bw - 2}" height="${y(base) - y(base + n)}" fill="${CATEGORY_COLOURS[cat] || "#888"}"/>`;
        base += n;
      }
      if (i % 3 === 2) out += `<text x="${left + i * bw + bw / 2}" y="${H - 3}" text-anchor="middle">${I.digits(hour.hh)}</text>`;
    });
    $("calls-chart").innerHTML = out;
    $("calls-legend").innerHTML = [...used].sort().map((c) =>
      `<span><i style="background:${CATEGORY_COLOURS[c] || "#888"}"></i>${esc(c === "unclassified" ? "—" : I.word(c))}</span>`).join("");
  }

  function renderOccupancyChart(t) {
    const W = 480, H = 110, top = 6, bottom = 14, left = 26;
    const points = state.history[state.mode];
    const estimated = state.estimated[state.mode].filter((p) => !points.length || p.t < points[0].t);
    const x = (at) => left + ((at - (t - DAY_MS)) / DAY_MS) * (W - left);
    const y = (share) => H - bottom - Math.min(1, share) * (H - top - bottom);
    const share = (p) => (p.cap ? p.occ / p.cap : 0);
    let out = "";
    for (const g of [0, 0.5, 1]) {
      out += `<line class="grid" x1="${left}" x2="${W}" y1="${y(g)}" y2="${y(g)}"/><text x="${left - 3}" y="${y(g) + 3}" text-anchor="end">${I.digits(Math.round(g * 100) + "%")}</text>`;
    }
    out += `<line class="limit" x1="${left}" x2="${W}" y1="${y(FULL_SHARE)}" y2="${y(FULL_SHARE)}"/>`;
    for (let h = 0; h <= 24; h += 6) {
      const at = t - DAY_MS + h * 3600000;
      out += `<text x="${x(at)}" y="${H - 3}" text-anchor="middle">${I.time(at)}</text>`;
    }
    const path = (list) => list.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(share(p)).toFixed(1)}`).join("");
    if (estimated.length > 1) out += `<path class="line estimated" d="${path(estimated)}"/>`;
    const live = points.concat(points.length ? [{ ...points[points.length - 1], t }] : []);
    if (live.length > 1) {
      out += `<path class="area" d="${path(live)}L${x(t)},${y(0)}L${x(live[0].t)},${y(0)}Z"/><path class="line" d="${path(live)}"/>`;
    }
    $("occ-chart").innerHTML = out;
    $("occ-note").textContent = estimated.length > 1 ? `(- - ${I.t("estimated")})` : "";
  }

  // ---------------------------------------------------------------- controls

  function setLanguage(lang) {
    I.lang = lang;
    try { localStorage.setItem("eoc.lang", lang); } catch (e) { /* no storage */ }
    mapBounds = null;
    render();
  }

  $("lang").addEventListener("click", () => setLanguage(I.lang === "fa" ? "en" : "fa"));
  $("mode-live").addEventListener("click", () => { state.mode = "live"; render(); });
  $("mode-drill").addEventListener("click", () => { state.mode = "drill"; render(); });
  window.addEventListener("hashchange", () => { if (ws) ws.close(); else connect(); });

  try { I.lang = localStorage.getItem("eoc.lang") || "fa"; } catch (e) { I.lang = "fa"; }
  setInterval(() => { render(); }, 1000);              // clocks, ages, time-based alerts
  setInterval(() => { if (state.seq >= 0) sampleHistory(); }, 60000);
  EOC.app = { state, render, onFrame, rows: () => state.rows, now };
  render();
  connect();
})();
