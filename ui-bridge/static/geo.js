/* Map data shipped with the page (no tiles, nothing fetched from outside).
 * IRAN_OUTLINE: a hand-simplified outline of Iran's land border and coast, [lon, lat]
 * pairs, clockwise from the Aras river in the north-west: good for orientation on a wall
 * screen, not for surveying. PROVINCES: the 31 provinces and their capitals, the same as
 * events/places.py (a test checks that they agree). */
"use strict";
window.EOC = window.EOC || {};
EOC.geo = {
  IRAN_OUTLINE: [
    [44.77, 39.71], [45.07, 39.35], [45.40, 39.12], [45.63, 38.96], [46.02, 38.88], [46.54, 38.87],
    [46.90, 39.15], [47.40, 39.44], [47.90, 39.65], [48.33, 39.38], [48.05, 38.95], [48.45, 38.60],
    [48.88, 38.44], [48.96, 37.90], [49.47, 37.47], [50.00, 37.42], [50.60, 36.96], [51.50, 36.65],
    [52.25, 36.63], [52.65, 36.72], [53.50, 36.85], [53.95, 36.88], [54.07, 36.95], [53.95, 37.30],
    [53.92, 37.35], [54.68, 37.44], [55.43, 38.08], [56.35, 38.10], [57.25, 38.25], [58.20, 37.70],
    [59.30, 37.50], [60.10, 36.95], [61.15, 36.60], [61.03, 35.62], [60.95, 34.60], [60.50, 33.70],
    [60.80, 33.10], [60.85, 32.20], [60.83, 31.50], [61.70, 31.40], [61.85, 31.05], [61.60, 30.85],
    [61.00, 30.40], [60.87, 29.86], [61.40, 29.30], [61.70, 28.70], [62.40, 28.40], [62.78, 28.25],
    [62.80, 27.50], [63.30, 27.15], [63.20, 26.65], [62.30, 26.45], [61.85, 26.20], [61.78, 25.70],
    [61.60, 25.20], [60.64, 25.29], [59.50, 25.45], [58.60, 25.60], [57.77, 25.64], [57.30, 26.30],
    [57.10, 27.00], [56.90, 27.15], [56.28, 27.12], [55.58, 26.95], [54.88, 26.56], [54.27, 26.73],
    [53.60, 26.95], [52.60, 27.45], [52.06, 27.84], [51.40, 27.95], [51.10, 28.50], [50.76, 28.92],
    [50.62, 29.49], [50.52, 29.58], [50.17, 30.05], [49.70, 30.25], [49.20, 30.35], [48.95, 30.00],
    [48.60, 29.93], [48.30, 30.30], [48.02, 30.48], [47.68, 31.00], [47.70, 31.40], [47.85, 31.80],
    [47.40, 32.40], [46.60, 32.90], [46.05, 33.10], [45.60, 33.60], [45.45, 34.00], [45.58, 34.52],
    [45.45, 34.90], [45.70, 35.20], [46.25, 35.15], [46.00, 35.60], [45.65, 36.00], [45.30, 36.40],
    [45.00, 36.70], [44.79, 37.15], [44.60, 37.45], [44.60, 37.75], [44.20, 38.00], [44.30, 38.40],
    [44.05, 38.65], [44.30, 39.00], [44.03, 39.38], [44.40, 39.45]
  ],
  PROVINCES: {
    THR: { fa: "تهران", en: "Tehran", capital: "Tehran", lat: 35.69, lon: 51.39 },
    ALB: { fa: "البرز", en: "Alborz", capital: "Karaj", lat: 35.84, lon: 50.94 },
    QZV: { fa: "قزوین", en: "Qazvin", capital: "Qazvin", lat: 36.27, lon: 50.0 },
    KSH: { fa: "کرمانشاه", en: "Kermanshah", capital: "Kermanshah", lat: 34.31, lon: 47.07 },
    MZN: { fa: "مازندران", en: "Mazandaran", capital: "Sari", lat: 36.56, lon: 53.06 },
    ESF: { fa: "اصفهان", en: "Isfahan", capital: "Isfahan", lat: 32.65, lon: 51.67 },
    FRS: { fa: "فارس", en: "Fars", capital: "Shiraz", lat: 29.59, lon: 52.58 },
    KHR: { fa: "خراسان رضوی", en: "Razavi Khorasan", capital: "Mashhad", lat: 36.3, lon: 59.6 },
    EAZ: { fa: "آذربایجان شرقی", en: "East Azerbaijan", capital: "Tabriz", lat: 38.08, lon: 46.29 },
    WAZ: { fa: "آذربایجان غربی", en: "West Azerbaijan", capital: "Urmia", lat: 37.55, lon: 45.07 },
    ARD: { fa: "اردبیل", en: "Ardabil", capital: "Ardabil", lat: 38.25, lon: 48.29 },
    GIL: { fa: "گیلان", en: "Gilan", capital: "Rasht", lat: 37.28, lon: 49.58 },
    GLS: { fa: "گلستان", en: "Golestan", capital: "Gorgan", lat: 36.84, lon: 54.44 },
    SMN: { fa: "سمنان", en: "Semnan", capital: "Semnan", lat: 35.58, lon: 53.39 },
    QOM: { fa: "قم", en: "Qom", capital: "Qom", lat: 34.64, lon: 50.88 },
    MKZ: { fa: "مرکزی", en: "Markazi", capital: "Arak", lat: 34.09, lon: 49.69 },
    HMD: { fa: "همدان", en: "Hamadan", capital: "Hamadan", lat: 34.8, lon: 48.51 },
    ZNJ: { fa: "زنجان", en: "Zanjan", capital: "Zanjan", lat: 36.68, lon: 48.49 },
    KRD: { fa: "کردستان", en: "Kurdistan", capital: "Sanandaj", lat: 35.31, lon: 47.0 },
    ILM: { fa: "ایلام", en: "Ilam", capital: "Ilam", lat: 33.64, lon: 46.42 },
    LRS: { fa: "لرستان", en: "Lorestan", capital: "Khorramabad", lat: 33.49, lon: 48.36 },
    KHZ: { fa: "خوزستان", en: "Khuzestan", capital: "Ahvaz", lat: 31.32, lon: 48.67 },
    CHB: { fa: "چهارمحال و بختیاری", en: "Chaharmahal and Bakhtiari", capital: "Shahrekord", lat: 32.33, lon: 50.86 },
    KBA: { fa: "کهگیلویه و بویراحمد", en: "Kohgiluyeh and Boyer-Ahmad", capital: "Yasuj", lat: 30.67, lon: 51.59 },
    BSH: { fa: "بوشهر", en: "Bushehr", capital: "Bushehr", lat: 28.92, lon: 50.84 },
    HRZ: { fa: "هرمزگان", en: "Hormozgan", capital: "Bandar Abbas", lat: 27.18, lon: 56.27 },
    KRN: { fa: "کرمان", en: "Kerman", capital: "Kerman", lat: 30.28, lon: 57.08 },
    YZD: { fa: "یزد", en: "Yazd", capital: "Yazd", lat: 31.9, lon: 54.36 },
    SBL: { fa: "سیستان و بلوچستان", en: "Sistan and Baluchestan", capital: "Zahedan", lat: 29.5, lon: 60.86 },
    KHS: { fa: "خراسان جنوبی", en: "South Khorasan", capital: "Birjand", lat: 32.87, lon: 59.22 },
    KHN: { fa: "خراسان شمالی", en: "North Khorasan", capital: "Bojnurd", lat: 37.47, lon: 57.33 },
  },
  BOUNDS: { lat: [25.0, 39.8], lon: [44.0, 63.4] },
};
