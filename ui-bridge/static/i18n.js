/* Words, digits and dates as the operators read them: Persian (default) or English.
 * Dates are Solar Hijri (Jalali) in Iran Standard Time (UTC+03:30, no daylight saving
 * since 1401), whatever the time zone of the screen's computer. */
import { geo } from "./geo.js";
import catalogue from "./words.js";

const IRST_MS = 3.5 * 3600 * 1000;
const FA_DIGITS = "۰۱۲۳۴۵۶۷۸۹";

/* Gregorian -> Jalali by the browser's own Persian calendar (ICU, as Python's jdatetime is
 * the server's: the tests hold the two to the same day over a century). Months are 1-based.
 * 2024-08-28 -> 1403-06-07 (7 Shahrivar). Noon UTC: the date itself, whatever the zone. */
const PERSIAN = new Intl.DateTimeFormat("en-US-u-ca-persian-nu-latn",
  { timeZone: "UTC", year: "numeric", month: "numeric", day: "numeric" });
function toJalali(gy, gm, gd) {
  const parts = PERSIAN.formatToParts(Date.UTC(gy, gm - 1, gd, 12));
  const part = (type) => Number(parts.find((p) => p.type === type).value);
  return [part("year"), part("month"), part("day")];
}

const MONTHS = {
  fa: ["فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند"],
  en: ["Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar", "Mehr", "Aban", "Azar", "Dey",
       "Bahman", "Esfand"],
};
const WEEKDAYS = {
  fa: ["یکشنبه", "دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه", "جمعه", "شنبه"],
  en: ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
};

/* The Tehran wall-clock fields of an instant (ms since the epoch). */
function tehran(ms) {
  const d = new Date(ms + IRST_MS);
  return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate(), hh: d.getUTCHours(),
           mm: d.getUTCMinutes(), ss: d.getUTCSeconds(), wd: d.getUTCDay() };
}

/* The one catalogue of every page (words.js), each word [Persian, English]: the pages' words;
 * refusals in the operator's words, by error code (eoc/errors.py) or by the bridge's close
 * reason (an unknown one is shown as it came); the service's closed vocabularies
 * (events/vocabulary.py PERSIAN) with English labels, and the workspaces' words for them. */
const { words: WORDS, refusals: REFUSALS, vocabulary: VOCAB } = catalogue;

const fold = (s) => String(s).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z]/g, "");

export const i18n = {
  fold,
  lang: (() => { try { return localStorage.getItem("eoc.lang") === "en" ? "en" : "fa"; } catch (e) { return "fa"; } })(),
  /* The language chosen on a page, kept for the next pages of this browser. */
  choose(lang) {
    this.lang = lang;
    try { localStorage.setItem("eoc.lang", lang); } catch (e) { /* no storage */ }
  },
  /* The page's <html lang dir> in its language. */
  showLanguage() {
    document.documentElement.lang = this.lang;
    document.documentElement.dir = this.lang === "fa" ? "rtl" : "ltr";
  },
  toJalali,
  tehran,
  t(key, vars) {
    const pair = WORDS[key] || VOCAB[key];
    let text = pair ? pair[this.lang === "fa" ? 0 : 1] : key;
    if (vars) for (const [k, v] of Object.entries(vars)) text = text.replace(`{${k}}`, v);
    return this.digits(text);
  },
  word(value) {  /* a vocabulary value (category, status...) */
    const pair = VOCAB[value];
    return pair ? pair[this.lang === "fa" ? 0 : 1] : String(value);
  },
  digits(text) {
    if (this.lang !== "fa") return String(text);
    return String(text).replace(/[0-9]/g, (d) => FA_DIGITS[+d]).replace(/%/g, "٪");
  },
  num(n, fractionDigits = 0) {
    if (n === null || n === undefined || Number.isNaN(n)) return "—";
    const text = Number(n).toFixed(fractionDigits).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return this.lang === "fa" ? this.digits(text).replace(/,/g, "٬").replace(/\./g, "٫") : text;
  },
  pad2(n) { return String(n).padStart(2, "0"); },
  /* Items of a list in the page's language: "مددکار زن، روانشناس" / "Woman social worker, Psychologist". */
  list(items) { return items.join(this.lang === "fa" ? "، " : ", "); },
  /* "۷ شهریور ۱۴۰۳" / "7 Shahrivar 1403" for an instant, in Tehran. */
  date(ms, withWeekday = false) {
    const t = tehran(ms);
    const [jy, jm, jd] = toJalali(t.y, t.m, t.d);
    const l = this.lang === "fa" ? "fa" : "en";
    const text = `${jd} ${MONTHS[l][jm - 1]} ${jy}`;
    return this.digits((withWeekday ? this.list([WEEKDAYS[l][t.wd], ""]) : "") + text);
  },
  time(ms, seconds = false) {
    const t = tehran(ms);
    return this.digits(`${this.pad2(t.hh)}:${this.pad2(t.mm)}` + (seconds ? `:${this.pad2(t.ss)}` : ""));
  },
  /* A duration as an operator reads it: "۱۲ دقیقه", "۳ ساعت ۵ دقیقه". */
  duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return this.digits(`${seconds} ${this.t("sec")}`);
    const m = Math.floor(seconds / 60);
    if (m < 60) return this.digits(`${m} ${this.t("min")}`);
    const h = Math.floor(m / 60);
    if (h < 24) return this.digits(`${h} ${this.t("hour")} ${m % 60} ${this.t("min")}`);
    const d = Math.floor(h / 24);
    return this.digits(d < 3 ? `${d} ${this.t("day")} ${h % 24} ${this.t("hour")}` : `${d} ${this.t("day")}`);
  },
  /* A refusal (error code or close reason) in the page's language. */
  refusal(codeOrReason) {
    const key = String(codeOrReason || "").trim();
    const pair = REFUSALS[key] || REFUSALS[key.split(":")[0]];
    return pair ? pair[this.lang === "fa" ? 0 : 1] : key;
  },
  /* The words of a refused request from its answer ``{"error": code, "reason": ...}``: the
   * catalogue's text for the code in the page's language (the one catalogue of every page:
   * dashboard, workspaces, users, reports). In English the server's own sentence follows as
   * the detail; an unknown code shows the server's sentence. */
  refusalOf(answer, status) {
    const a = answer || {};
    const code = a.error || (status ? "http_" + status : "refused");
    const pair = REFUSALS[code];
    if (!pair) return a.reason || this.refusal("refused");
    const text = pair[this.lang === "fa" ? 0 : 1];
    return this.lang !== "fa" && a.reason && a.reason !== text ? `${text} (${a.reason})` : text;
  },
  /* An Error for a refused request, its message in the page's language; code, status and
   * the answer kept on it. */
  refusalError(answer, status) {
    const err = new Error(this.refusalOf(answer, status));
    err.code = (answer && answer.error) || "";
    err.status = status;
    err.data = answer || {};
    return err;
  },
  /* A county's name in Persian: from the reference table of counties (events/data, served at
   * dashboard/counties.json), else from the place names shipped with the map (a county is
   * named after its seat), else as registered. */
  county(name, province) {
    if (!name) return "";
    if (this.lang !== "fa" || /[\u0600-\u06ff]/.test(name)) return name;
    const key = province + "/" + fold(name);
    const fa = (EOC.countyNames && EOC.countyNames[key])
      || (EOC.placeNames && (EOC.placeNames[key] || EOC.placeNames["*/" + fold(name)]));
    return fa || name;
  },
  province(code) {
    if (code === "IR") return this.t("nation");
    const p = geo.PROVINCES[code];
    return p ? (this.lang === "fa" ? p.fa : p.en) : code;
  },
};
window.EOC = window.EOC || {};  // the page's handles (console, tests) and its county and place names
EOC.i18n = i18n;
