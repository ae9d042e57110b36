/* The sign-in page (ورود): password and, for roles that see secrets or personal data, the
 * six-digit code of an authenticator app; or a one-time link (#link=…) that signs in once.
 * The tokens go to this tab's sessionStorage (session.js), then the dashboard opens. */
import { session } from "./session.js";

const WORDS = {
  title: ["ورود به مرکز عملیات اضطراری", "Sign in to the EOC"],
  user: ["نام کاربری", "Username"],
  pass: ["گذرواژه", "Password"],
  code: ["کد شش‌رقمی (برای نقش‌های دارای دسترسی محرمانه)", "6-digit code (roles that see secrets)"],
  submit: ["ورود", "Sign in"],
  lang: ["English", "فارسی"],
  linking: ["در حال ورود با پیوند…", "Signing in with the link…"],
};
let lang = localStorage.getItem("eoc.lang") === "en" ? 1 : 0;
const $ = (id) => document.getElementById(id);

function render() {
  document.documentElement.lang = lang ? "en" : "fa";
  document.documentElement.dir = lang ? "ltr" : "rtl";
  $("si-title").textContent = WORDS.title[lang];
  $("si-user-l").textContent = WORDS.user[lang];
  $("si-pass-l").textContent = WORDS.pass[lang];
  $("si-code-l").textContent = WORDS.code[lang];
  $("si-submit").textContent = WORDS.submit[lang];
  $("si-lang").textContent = WORDS.lang[lang];
}

function fail(message) {
  $("si-error").hidden = false;
  $("si-error").textContent = message;
}

function enter(answer) {
  session.save(answer);
  location.replace("work.html");  // each role lands in its own workspace
}

$("si-lang").addEventListener("click", () => {
  lang = 1 - lang;
  localStorage.setItem("eoc.lang", lang ? "en" : "fa");
  render();
});

$("si-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("si-error").hidden = true;
  const body = { username: $("si-user").value.trim(), password: $("si-pass").value };
  const code = $("si-code").value.trim();
  if (code) body.code = code;
  try {
    enter(await session.post("api/v1/auth/sign-in", body));
  } catch (e) {
    fail(e.message);
  }
});

render();
const link = new URLSearchParams(location.hash.replace(/^#/, "")).get("link");
if (link) {
  // The code leaves the address at once: it is spent by this request anyway.
  history.replaceState(null, "", location.pathname);
  fail(WORDS.linking[lang]);
  session.post("api/v1/auth/link", { code: link }).then(enter, (e) => fail(e.message));
}
