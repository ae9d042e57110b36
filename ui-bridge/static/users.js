/* Accounts of this province (کاربران): a provincial supervisor (or the national EOC, for
 * national accounts) lists, adds, disables, enables, unlocks users and ends their sessions.
 * Everything goes through /api/v1/users with the signed-in session's token. */
import { $, languageButton, showError, showWords } from "./account.js";
import { i18n } from "./i18n.js";
import { session } from "./session.js";

const ROLES = ["call_taker", "dispatcher", "team", "centre_staff", "provincial_supervisor", "national_eoc", "auditor"];
const HEAD = ["username", "users_role", "users_province", "users_state", ""];  // the last: the buttons
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
  if (!r.ok) throw i18n.refusalError(data, r.status);
  return data;
}

function fail(e) { showError("u-error", e.message || String(e)); }

async function load() {
  $("u-error").hidden = true;
  let users;
  try { users = (await api("GET", "users")).users; } catch (e) { return fail(e); }
  $("u-rows").innerHTML = users.map((u) => {
    const state = i18n.t(u.disabled ? "users_disabled" : u.locked ? "users_locked" : "users_active");
    const acts = [u.disabled ? "enable" : "disable", "unlock", "end-sessions"];
    return `<tr data-user="${esc(u.username)}"><td>${esc(u.username)}</td><td>${esc(u.role)}</td>` +
      `<td>${esc(u.province)}</td><td class="state">${esc(state)}</td><td>` +
      acts.map((a) => `<button type="button" data-act="${a}" data-id="${esc(u.id)}">${esc(i18n.t("users_" + (a === "end-sessions" ? "end" : a)))}</button>`).join(" ") +
      "</td></tr>";
  }).join("");
}

function render() {
  showWords();
  $("u-head").innerHTML = HEAD.map((h) => `<th>${esc(h && i18n.t(h))}</th>`).join("");
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

languageButton("u-lang", () => { render(); load(); });

if (!session.accessToken()) location.replace("signin.html");
render();
load();
