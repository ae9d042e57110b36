/* The signed-in session of this tab (نشست): the access token lives in memory and in this
 * tab's sessionStorage, never in the address bar; it is renewed with the refresh token a
 * minute before it expires; "sign out" ends the session on the server and here.
 * No session: the page goes to the sign-in page (signin.html). */
const KEY = "eoc.session";
let timer = null;

function load() {
  try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { return null; }
}

function save(answer) {
  const s = {
    access: answer.access_token,
    refresh: answer.refresh_token,
    expiresAt: Date.now() + answer.expires_in * 1000,
    user: answer.user || null,
  };
  sessionStorage.setItem(KEY, JSON.stringify(s));
  schedule(s);
  return s;
}

function clear() {
  sessionStorage.removeItem(KEY);
  if (timer) clearTimeout(timer);
}

function schedule(s) {
  if (timer) clearTimeout(timer);
  if (!s || !s.refresh) return;
  timer = setTimeout(() => refresh().catch(() => {}), Math.max(1000, s.expiresAt - Date.now() - 60000));
}

async function post(path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}), cache: "no-store" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(data.reason || r.statusText);
    err.status = r.status;
    throw err;
  }
  return data;
}

/* A token given in the address (developers' tools) is taken once and removed from it. */
function fromAddress() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (!token) return;
  params.delete("token");  // the rest of the address (a report's #harm=, #from=) stays
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  sessionStorage.setItem(KEY, JSON.stringify({ access: token, refresh: null, expiresAt: Date.now() + 15 * 60000 }));
}

async function refresh() {
  const s = load();
  if (!s || !s.refresh) throw new Error("no session");
  try {
    return save(await post("api/v1/auth/refresh", { refresh_token: s.refresh }));
  } catch (e) {
    if (e.status === 401) { clear(); toSignIn(); }
    throw e;
  }
}

function toSignIn() {
  location.replace("signin.html");
}

async function signOut() {
  const s = load();
  clear();
  if (s && s.access) {
    try { await post("api/v1/auth/sign-out", {}, s.access); } catch (e) { /* signed out here anyway */ }
  }
  toSignIn();
}

function addSignOutButton() {
  const controls = document.querySelector("header .controls");
  if (!controls || document.getElementById("sign-out")) return;
  const b = document.createElement("button");
  b.id = "sign-out";
  b.type = "button";
  b.textContent = document.documentElement.lang === "en" ? "Sign out" : "خروج";
  b.addEventListener("click", signOut);
  controls.appendChild(b);
  const role = ((load() || {}).user || {}).role;
  if (role === "provincial_supervisor" || role === "national_eoc") {  // they manage accounts
    const a = document.createElement("a");
    a.id = "users-link";
    a.href = "users.html";
    a.textContent = document.documentElement.lang === "en" ? "Users" : "کاربران";
    controls.appendChild(a);
  }
}

fromAddress();
// Registered before the dashboard's own listener: a new #token= is taken before it reconnects.
window.addEventListener("hashchange", fromAddress);
const current = load();
schedule(current);
if (document.getElementById("top")) {  // the dashboard (not the sign-in page)
  if (!current) toSignIn();
  // After the page's own modules have run (they run before DOMContentLoaded): in the page's language.
  else if (document.readyState !== "complete") document.addEventListener("DOMContentLoaded", addSignOutButton);
  else addSignOutButton();
}

export const session = {
  accessToken: () => (load() || {}).access || null,
  canRefresh: () => !!(load() || {}).refresh,
  refresh,
  save,
  post,
  signOut,
  clear,
};
