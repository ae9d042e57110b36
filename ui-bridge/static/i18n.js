/* Words, digits and dates as the operators read them: Persian (default) or English.
 * Dates are Solar Hijri (Jalali) in Iran Standard Time (UTC+03:30, no daylight saving
 * since 1401), whatever the time zone of the screen's computer. */
import { geo } from "./geo.js";

const IRST_MS = 3.5 * 3600 * 1000;
const FA_DIGITS = "۰۱۲۳۴۵۶۷۸۹";

/* Gregorian -> Jalali, by day counts (the arithmetic algorithm of jdf / jalaali-js,
 * exact for 1800-2200). Months are 1-based. 2024-08-28 -> 1403-06-07 (7 Shahrivar). */
function toJalali(gy, gm, gd) {
  const before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
  const gy2 = gm > 2 ? gy + 1 : gy;
  let days = 355666 + 365 * gy + Math.floor((gy2 + 3) / 4) - Math.floor((gy2 + 99) / 100)
    + Math.floor((gy2 + 399) / 400) + gd + before[gm - 1];
  let jy = -1595 + 33 * Math.floor(days / 12053);
  days %= 12053;
  jy += 4 * Math.floor(days / 1461);
  days %= 1461;
  if (days > 365) {
    jy += Math.floor((days - 1) / 365);
    days = (days - 1) % 365;
  }
  const jm = days < 186 ? 1 + Math.floor(days / 31) : 7 + Math.floor((days - 186) / 30);
  const jd = 1 + (days < 186 ? days % 31 : (days - 186) % 30);
  return [jy, jm, jd];
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

const WORDS = {
  title: ["مرکز عملیات اضطراری اورژانس اجتماعی", "Social Emergency EOC"],
  subtitle: ["بهزیستی · خط ۱۲۳ · گروه‌های سیار · مراکز مداخله در بحران", "Welfare · Line 123 · mobile teams · crisis centres"],
  nation: ["کل کشور", "Whole country"],
  live: ["عملیات واقعی", "Live"],
  drill: ["مانور", "Drill"],
  simulated: ["شبیه‌سازی", "simulated"],
  drillBanner: ["مانور — داده‌های تمرینی؛ این‌ها عملیات واقعی نیستند", "DRILL — exercise data, not real operations"],
  drillRunning: ["مانور در جریان است", "a drill is running"],
  connected: ["متصل", "Live"],
  connecting: ["در حال اتصال…", "Connecting…"],
  reconnecting: ["اتصال قطع شد — اتصال دوباره", "Disconnected — reconnecting"],
  stale: ["اطلاعات به‌روز نمی‌رسد — اتصال دوباره", "No updates arriving — reconnecting"],
  lastUpdated: ["این صفحه به‌روز نیست. آخرین به‌روزرسانی: ساعت {time} ({ago} پیش)", "This board is not up to date. Last updated at {time} ({ago} ago)"],
  page: ["صفحه {n} از {of}", "page {n} of {of}"],
  soundOn: ["صدای هشدار روشن است", "Alert sound on"],
  soundOff: ["صدای هشدار خاموش است", "Alert sound off"],
  follow: ["دنبال کردن روی نقشه", "Follow on the map"],
  unfollow: ["دنبال نکردن", "Stop following"],
  following: ["دنبال کردن: {name}", "Following: {name}"],
  legendAlarm: ["گزارش ایمنی نرسیده / خطر", "Missed check-in / duress"],
  legendIncident: ["مورد", "Case"],
  lastCheckIn: ["آخرین گزارش ایمنی", "Last check-in"],
  position: ["موقعیت", "Position"],
  crew: ["{n} نفر", "{n} staff"],
  provinces: ["وضعیت استان‌ها", "Provinces"],
  colTeam: ["گروه", "Team"], colStatus: ["وضعیت", "Status"], colSince: ["مدت در این وضعیت", "For"],
  colCase: ["مأموریت", "Case"], colShift: ["نوبت کاری", "Shift"], colCounty: ["شهرستان", "County"],
  colProvince: ["استان", "Province"], colPriority: ["اولویت", "Priority"], colCategory: ["موضوع", "Category"],
  colAge: ["زمان انتظار", "Waiting"], colTeams: ["گروه اعزامی", "Team sent"], colPlace: ["محل", "Place"],
  colCalls: ["تماس امروز", "Calls today"], colOpen: ["مورد باز", "Open"], colUnassigned: ["بدون گروه", "Unassigned"],
  colReady: ["گروه آماده", "Teams ready"], colOut: ["گروه در مأموریت", "Teams out"], colOccupancy: ["اشغال مراکز", "Occupancy"],
  colAlerts: ["هشدار", "Alerts"], colOccupied: ["پذیرفته‌شده", "Occupied"],
  unitCalls: ["تماس", "calls"], unitCases: ["مورد", "cases"], unitTimes: ["بار", "times"], unitPeople: ["نفر", "people"],
  unitTeams: ["گروه", "teams"], ofPlaces: ["{occ} از {cap} نفر", "{occ} of {cap} places"],
  unauthorized: ["توکن پذیرفته نشد", "Token refused"],
  noToken: ["توکن ندارید: نشانی را با ‎#token=…‎ باز کنید (eoc token)", "No token: open the address with #token=… (eoc token)"],
  inSeconds: ["تا {n} ثانیه دیگر", "in {n} s"],
  tiles_calls: ["تماس‌های امروز", "Calls today"],
  tiles_interventions: ["مداخله", "Interventions"],
  tiles_dispatches: ["اعزام", "Dispatches"],
  tiles_admissions: ["پذیرش", "Admissions"],
  tiles_declined: ["پذیرش ناموفق", "Declined"],
  tiles_incidents: ["مورد باز", "Open cases"],
  tiles_urgent: ["فوری بدون گروه", "Urgent unassigned"],
  tiles_teams: ["گروه آماده / در مأموریت", "Teams ready / engaged"],
  tiles_occupancy: ["اشغال مراکز", "Centre occupancy"],
  tiles_c2d: ["تماس تا اعزام (میانه)", "Call→dispatch (median)"],
  map: ["نقشه گروه‌ها و مراکز", "Teams and centres"],
  alerts: ["هشدارها", "Alerts"],
  noAlerts: ["هشداری نیست", "No alerts"],
  incidents: ["صف موارد", "Incident queue"],
  noIncidents: ["مورد بازی نیست", "No open cases"],
  occupancy: ["ظرفیت مراکز و خانه‌ها", "Occupancy board"],
  noCentres: ["مرکزی ثبت نشده", "No centres"],
  teams: ["گروه‌های سیار", "Mobile teams"],
  figures: ["آمار امروز", "Today's figures"],
  noTeams: ["گروهی ثبت نشده", "No teams"],
  callsChart: ["تماس‌ها در هر ساعت به تفکیک موضوع (۲۴ ساعت گذشته)", "Calls per hour by category (last 24 hours)"],
  occChart: ["اشغال مراکز در ۲۴ ساعت گذشته", "Occupancy over the last 24 hours"],
  free: ["خالی", "free"],
  holding: ["در قرنطینه", "in holding"],
  daysLeft: ["{n} روز مانده", "{n} days left"],
  transfersDue: ["انتقال نزدیک", "transfers due"],
  declined: ["ناموفق", "declined"],
  closed: ["بسته", "closed"],
  unassigned: ["بدون گروه", "unassigned"],
  secretPlace: ["مکان محرمانه", "secret place"],
  secretPlaces: ["خانه‌های امن و سلامت", "Safe and health houses"],
  secretSuppressed: ["کمتر از ۳ مکان: شمار آن‌ها نشان داده نمی‌شود", "fewer than 3 places: not shown"],
  placesCount: ["{n} مکان", "{n} places"],
  alert_check_in_missed: ["گزارش ایمنی گروه نرسید", "Missed safety check-in"],
  alert_centre_full: ["مرکز پر است", "Centre full"],
  alert_centre_nearly_full: ["مرکز نزدیک به پر", "Centre nearly full"],
  alert_urgent_unassigned: ["مورد فوری بدون گروه", "Urgent case without a team"],
  alert_emerging_harm: ["آسیب اجتماعی نوپدید", "Emerging social harm"],
  alert_chart: ["نمودار", "Chart"],
  alert_transfer_overdue: ["پایان قرنطینه، انتقال انجام نشده", "Holding over, transfer not done"],
  alert_dead_letter: ["رویداد پردازش‌نشده", "Event not folded"],
  ago: ["{t} پیش", "{t} ago"],
  min: ["دقیقه", "min"],
  hour: ["ساعت", "h"],
  sec: ["ثانیه", "s"],
  day: ["روز", "d"],
  language: ["English", "فارسی"],
  role_call_taker: ["کارشناس خط ۱۲۳", "Call-taker"],
  role_dispatcher: ["اعزام‌کننده", "Dispatcher"],
  role_team: ["گروه سیار", "Mobile team"],
  role_centre_staff: ["کارکنان مرکز", "Centre staff"],
  role_provincial_supervisor: ["ناظر استانی", "Provincial supervisor"],
  role_national_eoc: ["مرکز عملیات کشور", "National EOC"],
  role_auditor: ["حسابرس", "Auditor"],
  role_watchdog: ["نگهبان ایمنی (خودکار)", "Safety watchdog (automatic)"],
  estimated: ["برآورد از پذیرش‌های فعلی", "estimated from current stays"],
};

/* Refusals in the operator's words, by error code (eoc/errors.py) or by the bridge's close
 * reason; an unknown one is shown as it came. */
const REFUSALS = {
  refused: ["درخواست پذیرفته نشد", "Refused"],
  invalid_command: ["درخواست نادرست است", "The request is not valid"],
  unauthorized: ["توکن پذیرفته نشد", "Token refused"],
  forbidden: ["این نقش اجازه این کار را ندارد", "This role may not do that"],
  wrong_province: ["این کار در استان دیگری است", "That belongs to another province"],
  not_found: ["پیدا نشد", "Not found"],
  conflict: ["با وضعیت فعلی نمی‌خواند؛ دوباره تلاش کنید", "It conflicts with the current state; try again"],
  too_many_requests: ["درخواست‌ها بیش از حد است؛ کمی بعد دوباره تلاش کنید", "Too many requests; try again shortly"],
  already_exists: ["این شناسه پیش‌تر ثبت شده است", "That id is already registered"],
  illegal_transition: ["این تغییر وضعیت مجاز نیست", "That status change is not allowed"],
  team_busy: ["گروه در مأموریت دیگری است", "The team is on another case"],
  team_off_duty: ["گروه در نوبت کاری نیست", "The team is off duty"],
  incident_not_open: ["این مورد باز نیست", "The case is not open"],
  call_state: ["تماس در این مرحله نیست", "The call is not at that stage"],
  over_capacity: ["ظرفیت مرکز پر است", "The centre is full"],
  centre_not_open: ["مرکز باز نیست", "The centre is not open"],
  not_resident: ["این مددجو در این مرکز نیست", "The client is not in this centre"],
  already_resident: ["این مددجو همین حالا پذیرفته شده است", "The client is already admitted"],
  occurred_in_future: ["زمان رخداد در آینده است", "The time it happened is in the future"],
  late_entry_too_old: ["ثبت دیرهنگام بیش از مهلت است؛ ناظر استانی باید ثبت کند", "Entered too late; a provincial supervisor must enter it"],
  occurred_out_of_order: ["زمان رخداد پیش از آخرین رخداد ثبت‌شده است", "It happened before the last recorded fact"],
  not_residential: ["این مرکز شبانه‌روزی نیست", "This centre does not keep people overnight"],
  holding_not_served: ["دوره قرنطینه هنوز تمام نشده است", "The holding period is not over yet"],
  team_in_drill: ["گروه در مانور است", "The team is in a drill"],
  outside_roster: ["خارج از برنامه نوبت کاری", "Outside the duty roster"],
  malformed_json: ["متن درخواست JSON درستی نیست", "The request is not valid JSON"],
  malformed_request: ["درخواست ناقص یا نادرست است", "The request is malformed"],
  method_not_allowed: ["این کار با این روش درخواست انجام نمی‌شود", "That method is not allowed here"],
  body_too_large: ["درخواست بیش از اندازه بزرگ است", "The request is too large"],
  unsupported_media_type: ["درخواست باید JSON باشد", "The request must be JSON"],
  headers_too_large: ["سرآیندهای درخواست بیش از اندازه است", "The request's headers are too large"],
  idempotency_key_reused: ["این شناسه درخواست پیش‌تر برای درخواست دیگری به کار رفته است", "That request key was already used for another request"],
  idempotency_in_progress: ["همین درخواست هنوز در حال انجام است", "The same request is still being carried out"],
  internal_error: ["خطای سامانه؛ چیزی ثبت نشد، دوباره تلاش کنید", "A fault in the system; nothing was stored, try again"],
  dependency_unavailable: ["بخشی از سامانه (مانند کافکا) در دسترس نیست؛ کمی بعد دوباره تلاش کنید", "A part of the system (such as Kafka) is out of reach; try again shortly"],
  "no token": ["توکنی فرستاده نشد: نشانی را با ‎#token=…‎ باز کنید", "No token sent: open the address with #token=…"],
  "malformed token": ["توکن نامعتبر است", "The token is malformed"],
  "bad token signature": ["امضای توکن درست نیست", "The token's signature is wrong"],
  "malformed token claims": ["محتوای توکن نامعتبر است", "The token's claims are malformed"],
  "the session has ended; sign in again": ["نشست پایان یافته است؛ دوباره وارد شوید", "The session has ended; sign in again"],
  "token expired": ["اعتبار توکن تمام شده است؛ توکن تازه بگیرید", "The token has expired; get a new one"],
};

/* The service's closed vocabularies (events/vocabulary.py PERSIAN), and English labels. */
const VOCAB = {
  spouse_abuse: ["همسرآزاری", "Spouse abuse"], child_abuse: ["کودک‌آزاری", "Child abuse"],
  child_maltreatment: ["فرزندآزاری", "Child maltreatment"], elder_abuse: ["سالمندآزاری", "Elder abuse"],
  disabled_abuse: ["معلول‌آزاری", "Disabled abuse"], family_dispute: ["اختلافات خانوادگی", "Family dispute"],
  spouse_addiction: ["اعتیاد همسر", "Spouse addiction"], suicide: ["خودکشی", "Suicide"],
  runaway: ["فرار از خانه", "Runaway"], street_children: ["کودکان کار و خیابان", "Street children"],
  divorce: ["متقاضی طلاق", "Divorce"], other: ["سایر", "Other"],
  urgent: ["فوری", "Urgent"], high: ["بالا", "High"], normal: ["عادی", "Normal"], low: ["کم", "Low"],
  available: ["آماده", "Available"], in_drill: ["در مانور", "In drill"], dispatched: ["اعزام شده", "Dispatched"], en_route: ["در مسیر", "En route"],
  on_scene: ["در محل", "On scene"], transporting: ["در حال انتقال", "Transporting"],
  at_centre: ["در مرکز", "At centre"], off_duty: ["خارج از نوبت", "Off duty"],
  residential_level_1: ["مرکز شبانه‌روزی سطح ۱", "Residential centre L1"],
  residential_level_2: ["مرکز شبانه‌روزی سطح ۲", "Residential centre L2"],
  outpatient: ["مرکز سرپایی", "Outpatient centre"], safe_house: ["خانه امن", "Safe house"],
  health_house: ["خانه سلامت", "Health house"], social_service_base: ["پایگاه خدمات اجتماعی", "Social service base"],
  mobile_base: ["پایگاه اورژانس سیار", "Mobile base"],
  morning: ["صبح", "Morning"], evening: ["عصر", "Evening"], night: ["شب", "Night"],
  emerging_harm: ["آسیب اجتماعی نوپدید", "Emerging social harm"],
  /* the workspaces' words (risk flags, routes, outcomes, skills, danger flags, follow-ups) */
  suicide_risk: ["خطر خودکشی", "Suicide risk"],
  child_in_danger: ["کودک در خطر", "Child in danger"],
  violence_ongoing: ["خشونت در جریان", "Violence ongoing"],
  weapon: ["سلاح", "Weapon"],
  staff_safety: ["خطر برای کارکنان", "Staff safety"],
  line_1480: ["ارجاع به ۱۴۸۰", "Line 1480"],
  centre: ["مرکز مداخله در بحران", "Centre"],
  outside_agency: ["دستگاه بیرونی", "Outside agency"],
  "123": ["خط ۱۲۳", "Line 123"],
  "1480": ["خط ۱۴۸۰", "Line 1480"],
  self: ["خودمعرف", "Self"],
  line_123: ["ارجاع از خط ۱۲۳", "Line 123"],
  mobile_team: ["ارجاع از اورژانس سیار", "Mobile team"],
  other_centre: ["ارجاع از سایر مراکز", "Other centre"],
  police: ["مراجع انتظامی", "Police"],
  judiciary: ["مراجع قضایی", "Judiciary"],
  other_organization: ["سایر سازمان‌ها", "Other organization"],
  resolved_on_scene: ["حل در محل", "Resolved on scene"],
  admitted: ["پذیرش در مرکز", "Admitted"],
  referred: ["ارجاع", "Referred"],
  no_contact: ["عدم دسترسی", "No contact"],
  false_report: ["گزارش نادرست", "False report"],
  cancelled: ["لغو", "Cancelled"],
  returned_home: ["بازگشت به خانواده", "Returned home"],
  independent: ["زندگی مستقل", "Independent"],
  left: ["ترک مرکز", "Left"],
  counselling: ["مشاوره", "Counselling"],
  social_work: ["مددکاری", "Social work"],
  medical: ["بهداشتی و درمانی", "Medical"],
  psychological: ["روانشناختی", "Psychological"],
  legal: ["حقوقی", "Legal"],
  financial: ["مالی", "Financial"],
  educational: ["فرهنگی و آموزشی", "Educational"],
  social_worker: ["مددکار اجتماعی", "Social worker"],
  woman_social_worker: ["مددکار زن", "Woman social worker"],
  psychologist: ["روانشناس", "Psychologist"],
  lawyer: ["مشاور حقوقی", "Lawyer"],
  violent_relative: ["بستگان خشن", "Violent relative"],
  dog: ["سگ", "Dog"],
  assault_on_staff: ["سابقه ضرب و جرح کارکنان", "Assault on staff"],
  in_force: ["معتبر", "In force"],
  review_due: ["نیازمند بازبینی", "Review due"],
  expired: ["منقضی", "Expired"],
  scheduled: ["زمان‌بندی شده", "Scheduled"],
  due: ["موعد رسیده", "Due"],
  overdue: ["دیرکرد", "Overdue"],
  busy: ["مشغول", "Busy"],
  conflict: ["تعارض با خانواده", "Conflict"],
  crew_too_small: ["قاعده دو نفره", "Crew too small"],
  duress: ["هشدار اضطرار", "Duress"],
  has_skill: ["دارای", "Has skill"],
  missing_skill: ["فاقد", "Missing skill"],
  on_shift: ["در نوبت", "On shift"],
  distance: ["فاصله", "Distance"],
  received: ["دریافت شده", "Received"],
  classified: ["طبقه‌بندی شده", "Classified"],
  counselled: ["مشاوره داده شد", "Counselled"],
  escalated: ["ارجاع به مورد", "Escalated"],
  linked: ["پیوند به مورد باز", "Linked"],
};

const fold = (s) => String(s).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z]/g, "");

export const i18n = {
  fold,
  lang: (() => { try { return localStorage.getItem("eoc.lang") === "en" ? "en" : "fa"; } catch (e) { return "fa"; } })(),
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
  /* "۷ شهریور ۱۴۰۳" / "7 Shahrivar 1403" for an instant, in Tehran. */
  date(ms, withWeekday = false) {
    const t = tehran(ms);
    const [jy, jm, jd] = toJalali(t.y, t.m, t.d);
    const l = this.lang === "fa" ? "fa" : "en";
    const text = `${jd} ${MONTHS[l][jm - 1]} ${jy}`;
    return this.digits((withWeekday ? WEEKDAYS[l][t.wd] + (l === "fa" ? "، " : ", ") : "") + text);
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
