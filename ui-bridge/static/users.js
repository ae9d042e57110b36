/* Accounts of this province (کاربران): a provincial supervisor (or the national EOC, for
 * national accounts) lists, adds, disables, enables, unlocks users and ends their sessions.
 * Everything goes through /api/v1/users with the signed-in session's token. */
import { i18n } from "./i18n.js";
import { session } from "./session.js";

const W = {
  title: ["کاربران", "Users"], back: ["بازگشت به داشبورد", "Back to the dashboard"], lang: ["English", "فارسی"],
  head: [["نام کاربری", "نقش", "استان", "وضعیت", ""], ["Username", "Role", "Province", "State", ""]],
  add: ["افزودن", "Add"], newUser: ["کاربر تازه", "New user"],
  disable: ["غیرفعال", "Disable"], enable: ["فعال", "Enable"], unlock: ["بازگشایی", "Unlock"],
  end: ["پایان نشست‌ها", "End sessions"], disabled: ["غیرفعال", "disabled"], locked: ["قفل", "locked"],
  active: ["فعال", "active"],
};
const ROLES = ["call_taker", "dispatcher", "team", "centre_staff", "provincial_supervisor", "national_eoc", "auditor"];
let lang = localStorage.getItem("eoc.lang") === "en" ? 1 : 0;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

async function api(method, path, body) {
  const token = session.accessToken();
  const r = await fetch("api/v1/" + path, {
    method, cache: "no-store",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await r.json().catch(() => ({}));
  if (r.status === 401 && session.canRefresh()) { await session.refresh(); return api(method, path, body); }
  if (!r.ok) { i18n.lang = lang ? "en" : "fa"; throw i18n.refusalError(data, r.status); }
  return data;
}

function fail(e) { $("u-error").hidden = false; $("u-error").textContent = e.message || String(e); }

async function load() {
  $("u-error").hidden = true;
  let users;
  try { users = (await api("GET", "users")).users; } catch (e) { return fail(e); }
  $("u-rows").innerHTML = users.map((u) => {
    const state = u.disabled ? W.disabled[lang] : u.locked ? W.locked[lang] : W.active[lang];
    const acts = [u.disabled ? "enable" : "disable", "unlock", "end-sessions"];
    return `<tr data-user="${esc(u.username)}"><td>${esc(u.username)}</td><td>${esc(u.role)}</td>` +
      `<td>${esc(u.province)}</td><td class="state">${esc(state)}</td><td>` +
      acts.map((a) => `<button type="button" data-act="${a}" data-id="${esc(u.id)}">${esc((W[a === "end-sessions" ? "end" : a] || [a, a])[lang])}</button>`).join(" ") +
      "</td></tr>";
  }).join("");
}

function render() {
  document.documentElement.lang = lang ? "en" : "fa";
  document.documentElement.dir = lang ? "ltr" : "rtl";
  $("u-title").textContent = W.title[lang];
  $("u-back").textContent = W.back[lang];
  $("u-lang").textContent = W.lang[lang];
  $("u-new").textContent = W.newUser[lang];
  $("u-add").textContent = W.add[lang];
  $("u-head").innerHTML = W.head[lang].map((h) => `<th>${esc(h)}</th>`).join("");
  $("u-role").innerHTML = ROLES.map((r) => `<option value="${r}">${r}</option>`).join("");
}

$("u-rows").addEventListener("click", async (event) => {
  const b = event.target.closest("button[data-act]");
  if (!b) return;
  try { await api("POST", `users/${encodeURIComponent(b.dataset.id)}/${b.dataset.act}`); } catch (e) { return fail(e); }
  load();
});

$("u-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const role = $("u-role").value;
  const body = { username: $("u-name").value.trim(), password: $("u-pass").value, role,
                 province: $("u-province").value.trim().toUpperCase() };
  const bound = $("u-bound").value.trim();
  if (bound && role === "team") body.team = bound;
  if (bound && role === "centre_staff") body.centre = bound;
  try {
    const made = await api("POST", "users", body);
    // The second factor's secret is shown once, to be put in the person's authenticator app.
    $("u-out").textContent = made.totp_uri ? made.totp_uri : "";
  } catch (e) { return fail(e); }
  load();
});

$("u-lang").addEventListener("click", () => { lang = 1 - lang; localStorage.setItem("eoc.lang", lang ? "en" : "fa"); render(); load(); });

if (!session.accessToken()) location.replace("signin.html");
render();
load();
