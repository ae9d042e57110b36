/* What the account pages share — the sign-in page (signin.html) and the users' page
 * (users.html): the page in the chosen language (<html lang dir>, and every element marked
 * data-t="word" in the words of the one catalogue), its language button, and a message in its
 * alert line. */
import { i18n } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

export function showWords() {
  i18n.showLanguage();
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = i18n.t(el.dataset.t);
}

/* The button of the other language: chosen for this page and the next ones, then ``redraw``. */
export function languageButton(id, redraw) {
  $(id).addEventListener("click", () => {
    i18n.choose(i18n.lang === "fa" ? "en" : "fa");
    redraw();
  });
}

export function showError(id, message) {
  $(id).hidden = false;
  $(id).textContent = message;
}
