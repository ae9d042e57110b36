/* Words, digits and dates as the operators read them: Persian (default) or English.
 * Dates are Solar Hijri (Jalali) in Iran Standard Time (UTC+03:30, no daylight saving
 * since 1401), whatever the time zone of the screen's computer. */
"use strict";
window.EOC = window.EOC || {};

(function () {
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
    drillBanner: ["مانور — داده‌های تمرینی؛ این‌ها عملیات واقعی نیستند", "DRILL — exercise data, not real operations"],
    drillRunning: ["مانور در جریان است", "a drill is running"],
    connected: ["متصل", "Live"],
    connecting: ["در حال اتصال…", "Connecting…"],
    reconnecting: ["اتصال قطع شد — اتصال دوباره", "Disconnected — reconnecting"],
    stale: ["بدون ضربان", "No heartbeat"],
    unauthorized: ["توکن پذیرفته نشد", "Token refused"],
    noToken: ["توکن ندارید: نشانی را با ‎#token=…‎ باز کنید (eoc token)", "No token: open the address with #token=… (eoc token)"],
    inSeconds: ["تا {n} ثانیه دیگر", "in {n} s"],
    tiles_calls: ["تماس‌های امروز", "Calls today"],
    tiles_interventions: ["مداخله", "Interventions"],
    tiles_dispatches: ["اعزام", "Dispatches"],
    tiles_admissions: ["پذیرش", "Admissions"],
    tiles_declined: ["پذیرش ناموفق", "Declined"],
    tiles_incidents: ["حادثه باز", "Open incidents"],
    tiles_urgent: ["فوری بی‌گروه", "Urgent unassigned"],
    tiles_teams: ["گروه آماده / در مأموریت", "Teams ready / engaged"],
    tiles_occupancy: ["اشغال مراکز", "Centre occupancy"],
    tiles_c2d: ["تماس تا اعزام (میانه)", "Call→dispatch (median)"],
    map: ["نقشه گروه‌ها و مراکز", "Teams and centres"],
    alerts: ["هشدارها", "Alerts"],
    noAlerts: ["هشداری نیست", "No alerts"],
    incidents: ["صف حوادث", "Incident queue"],
    noIncidents: ["حادثه بازی نیست", "No open incidents"],
    occupancy: ["ظرفیت مراکز و خانه‌ها", "Occupancy board"],
    noCentres: ["مرکزی ثبت نشده", "No centres"],
    teams: ["گروه‌های سیار", "Mobile teams"],
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
    alert_check_in_missed: ["گزارش ایمنی گروه نرسید", "Missed safety check-in"],
    alert_centre_full: ["ظرفیت مرکز ۹۰٪ پر", "Centre 90% full"],
    alert_emerging_harm: ["آسیب اجتماعی نوپدید", "Emerging social harm"],
    alert_urgent_unassigned: ["حادثه فوری بی‌گروه", "Urgent incident unassigned"],
    alert_transfer_overdue: ["پایان قرنطینه، انتقال انجام نشده", "Holding over, transfer not done"],
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
    estimated: ["برآورد از پذیرش‌های فعلی", "estimated from current stays"],
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
  };

  const i18n = {
    lang: "fa",
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
    province(code) {
      if (code === "IR") return this.t("nation");
      const p = EOC.geo.PROVINCES[code];
      return p ? (this.lang === "fa" ? p.fa : p.en) : code;
    },
  };
  EOC.i18n = i18n;
})();
