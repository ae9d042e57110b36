/* The publishable reports page (گزارش‌های قابل انتشار): the directors' figures for any period
 * and place from /api/v1/publish/report, with the comparison to the period before and the same
 * period last year, a chart, and the CSV / XLSX / PDF exports. A link from an emerging-harm
 * alert (#harm=PROVINCE/CATEGORY/COUNTY) also draws that series' weekly counts. */
import { i18n } from "./i18n.js";
import { session } from "./session.js";

// session.js has taken a #token= of the address into this tab's session (and out of the
// address); the page reads the signed-in session, so a link from an alert needs no token.
i18n.lang = "fa";  // this page is in Persian only
const params = new URLSearchParams(location.hash.replace(/^#/, ""));
const token = () => session.accessToken();
const $ = (id) => document.getElementById(id);
const COLS = [
  ["calls", "تماس‌ها"], ["interventions", "مداخله‌ها"], ["intervention_share", "سهم مداخله"],
  ["dispatches", "اعزام‌ها"], ["admissions", "پذیرش‌ها"], ["declined", "پذیرش ردشده"],
  ["call_to_dispatch_median_s", "میانه تماس تا اعزام"], ["dispatch_to_scene_median_s", "میانه اعزام تا محل"],
];
const EXTRA = { unclassified: "رده‌بندی‌نشده", "—": "بدون مورد", "*": "کل استان" };

function cell(key, v) {
  if (v === null || v === undefined) return "—";
  if (v === "<3") return "<۳";
  if (key === "intervention_share") return i18n.num(v * 100, 1) + "٪";
  if (key.endsWith("_median_s")) return i18n.duration(v);
  return i18n.num(v);
}
function word(v) { return EXTRA[v] || i18n.word(v); }
function el(tag, text) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }

function fill(table, rows, keys) {
  table.replaceChildren();
  const head = el("tr");
  for (const [, label] of keys) head.appendChild(el("th", label));
  for (const [, label] of COLS) head.appendChild(el("th", label));
  table.appendChild(head);
  for (const r of rows) {
    const tr = el("tr");
    for (const [k] of keys) tr.appendChild(el("td", k === "category" ? word(r[k]) : (r[k] ?? "")));
    for (const [k] of COLS) tr.appendChild(el("td", cell(k, r[k])));
    tr.dataset.key = keys.map(([k]) => r[k]).join("/");
    table.appendChild(tr);
  }
}

function bars(svg, rows) {
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  // A suppressed cell ("<3") is drawn as no bar and labelled <۳, never as a zero.
  const data = rows.map((r) => [word(r.category), typeof r.calls === "number" ? r.calls : 0, r.calls === "<3"]);
  const max = Math.max(1, ...data.map((d) => d[1]));
  const w = 720, h = 260, bw = Math.max(8, Math.floor((w - 20) / Math.max(1, data.length)) - 8);
  data.forEach(([label, v, small], i) => {
    const x = w - 10 - (i + 1) * (bw + 8), bh = Math.round((h - 60) * v / max);
    const rect = document.createElementNS(ns, "rect");
    Object.entries({ x, y: h - 40 - bh, width: bw, height: bh, fill: "#3b6ea5" }).forEach(([k, val]) => rect.setAttribute(k, val));
    rect.dataset.value = v;
    svg.appendChild(rect);
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", x + bw / 2); t.setAttribute("y", h - 24); t.setAttribute("text-anchor", "middle");
    t.textContent = label.length > 10 ? label.slice(0, 10) + "…" : label;
    svg.appendChild(t);
    const n = document.createElementNS(ns, "text");
    n.setAttribute("x", x + bw / 2); n.setAttribute("y", h - 44 - bh); n.setAttribute("text-anchor", "middle");
    n.textContent = small ? "<۳" : i18n.num(v);
    svg.appendChild(n);
  });
}

function query(format) {
  const q = new URLSearchParams({ from: $("from").value, to: $("to").value, format });
  if ($("province").value.trim()) q.set("province", $("province").value.trim().toUpperCase());
  if ($("county").value.trim()) q.set("county", $("county").value.trim());
  return "/api/v1/publish/report?" + q.toString();
}

async function get(url, again) {
  const r = await fetch(url, { headers: { Authorization: "Bearer " + token() }, cache: "no-store" });
  if (r.status === 401 && !again && session.canRefresh()) {
    await session.refresh();  // an access token older than its minutes: renewed, asked again
    return get(url, true);
  }
  if (!r.ok) {
    let answer = {};
    try { answer = await r.json(); } catch (_) { /* not JSON */ }
    throw i18n.refusalError(answer, r.status);
  }
  return r;
}

async function show(ev) {
  if (ev) ev.preventDefault();
  $("error").textContent = "";
  document.body.dataset.state = "loading";
  try {
    const rep = await (await get(query("json"))).json();
    $("title").textContent = `${rep.period.label_fa} — ${rep.place.province}${rep.place.county ? " / " + rep.place.county : ""}`;
    $("small").textContent = rep.small_cells ? "اعداد کمتر از ۳ نشان داده نمی‌شوند (<۳) تا کسی شناخته نشود." : "";
    fill($("compare"), [
      { period: rep.period.label_fa, ...rep.totals },
      { period: rep.compare.previous.period.label_fa, ...rep.compare.previous.totals },
      { period: rep.compare.last_year.period.label_fa, ...rep.compare.last_year.totals },
    ], [["period", "دوره"]]);
    fill($("by-category"), rep.by_category, [["category", "رده"]]);
    fill($("by-county"), rep.by_county, [["province", "استان"], ["county", "شهرستان"]]);
    bars($("chart"), rep.by_category);
    const pq = new URLSearchParams({ from: $("from").value, to: $("to").value });
    if ($("province").value.trim()) pq.set("province", $("province").value.trim().toUpperCase());
    prevention(await (await get("/api/v1/publish/prevention?" + pq.toString())).json());
    $("report").hidden = false;
    document.body.dataset.state = "shown";
  } catch (e) {
    $("error").textContent = "گزارش ساخته نشد: " + e.message;
    document.body.dataset.state = "error";
  }
}

/* One row per county: its bases, totals, and a weekly line of call-outs (bars: weeks with a base open). */
function prevention(view) {
  const table = $("prevention");
  table.replaceChildren();
  const head = el("tr");
  for (const h of ["استان", "شهرستان", "پایگاه‌ها", "تماس‌ها", "اعزام‌ها", "اعزام در هر ۱۰۰ تماس", "روند هفتگی اعزام‌ها"]) head.appendChild(el("th", h));
  table.appendChild(head);
  const ns = "http://www.w3.org/2000/svg";
  for (const c of view.counties) {
    const tr = el("tr");
    tr.dataset.county = c.county;
    tr.appendChild(el("td", c.province));
    tr.appendChild(el("td", c.county));
    tr.appendChild(el("td", c.bases.length ? i18n.list(c.bases.map((b) => `${b.name} (${i18n.digits(b.opened)})`)) : "—"));
    tr.appendChild(el("td", cell("calls", c.calls)));
    tr.appendChild(el("td", cell("callouts", c.callouts)));
    tr.appendChild(el("td", c.callouts_per_100_calls === null ? "—" : i18n.num(c.callouts_per_100_calls, 1)));
    const td = el("td"), svg = document.createElementNS(ns, "svg"), w = 160, h = 30;
    svg.setAttribute("width", w); svg.setAttribute("height", h);
    const vals = c.weeks.map((x) => (typeof x.callouts === "number" ? x.callouts : 1));
    const max = Math.max(1, ...vals), n = Math.max(1, vals.length - 1);
    c.weeks.forEach((x, i) => {
      if (!x.bases_open) return;
      const r = document.createElementNS(ns, "rect");
      Object.entries({ x: w - (i + 0.5) * w / (n + 1), y: 0, width: w / (n + 1), height: h, fill: "#d7ecd9" })
        .forEach(([k, v]) => r.setAttribute(k, v));
      r.classList.add("base-open");
      svg.appendChild(r);
    });
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", vals.map((v, i) => `${w - i * w / n},${h - 2 - (h - 4) * v / max}`).join(" "));
    line.setAttribute("fill", "none"); line.setAttribute("stroke", "#3b6ea5"); line.setAttribute("stroke-width", "1.5");
    svg.appendChild(line);
    td.appendChild(svg);
    tr.appendChild(td);
    table.appendChild(tr);
  }
}

async function download(format) {
  try {
    const r = await get(query(format));
    const blob = await r.blob();
    const name = (r.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = name ? name[1] : `report.${format}`;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  } catch (e) {
    $("error").textContent = "خروجی ساخته نشد: " + e.message;
  }
}

async function harm(spec) {
  const [province, category, county] = spec.split("/");
  const series = await (await get(`/api/v1/publish/harm/${province}/${category}/${encodeURIComponent(county)}`)).json();
  $("harm-title").textContent = `روند هفتگی ${word(category)} — ${word(county) === county ? county : word(county)}، ${province}`;
  const svg = $("harm-chart"), ns = "http://www.w3.org/2000/svg", w = 720, h = 220;
  const weeks = [...series.weeks, series.week];
  const max = Math.max(1, ...weeks);
  const pts = weeks.map((v, i) => `${w - 10 - i * (w - 20) / Math.max(1, weeks.length - 1)},${h - 20 - (h - 40) * v / max}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.join(" ")); line.setAttribute("fill", "none"); line.setAttribute("stroke", "#b5452b");
  line.setAttribute("stroke-width", "2");
  svg.replaceChildren(line);
  const v = series.verdict;
  $("harm-verdict").textContent = v ? i18n.digits(`روز ${v.day}: ${v.observed} مورد در ${v.window_days} روز؛ انتظار ${v.expected}؛ p = ${v.p_value}`) : "";
  $("harm").hidden = false;
}

function init() {
  if (!token()) {
    document.body.dataset.state = "signed-out";
    $("error").replaceChildren("برای دیدن گزارش‌ها نخست وارد شوید: ", Object.assign(el("a", "ورود"), { href: "signin.html" }));
    return;
  }
  const today = new Date(), monthAgo = new Date(today.getTime() - 29 * 86400000);
  $("from").value = params.get("from") || monthAgo.toISOString().slice(0, 10);
  $("to").value = params.get("to") || today.toISOString().slice(0, 10);
  $("province").value = params.get("province") || "";
  $("query").addEventListener("submit", show);
  for (const b of document.querySelectorAll("#exports button")) b.addEventListener("click", () => download(b.dataset.format));
  if (params.get("harm")) harm(params.get("harm")).catch((e) => { $("error").textContent = e.message; });
}
init();
