/* The sign-in page (ورود): password and, for roles that see secrets or personal data, the
 * six-digit code of an authenticator app; or a one-time link (#link=…) that signs in once.
 * The tokens go to this tab's sessionStorage (session.js), then the dashboard opens. */
import { $, languageButton, showError, showWords } from "./account.js";
import { i18n } from "./i18n.js";
import { session } from "./session.js";

const fail = (message) => showError("si-error", message);

function enter(answer) {
  session.save(answer);
  location.replace("work.html");  // each role lands in its own workspace
}

languageButton("si-lang", showWords);

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

showWords();
const link = new URLSearchParams(location.hash.replace(/^#/, "")).get("link");
if (link) {
  // The code leaves the address at once: it is spent by this request anyway.
  history.replaceState(null, "", location.pathname);
  fail(i18n.t("signin_linking"));
  session.post("api/v1/auth/link", { code: link }).then(enter, (e) => fail(e.message));
}
