"""Iran's 31 provinces (استان) with their capitals, and whether a coordinate lies in Iran."""

from __future__ import annotations

from dataclasses import dataclass

from events.reference import inside_iran

# The box around Iran's land and its Persian Gulf islands: where a map starts and where the
# simulator keeps its points. Whether a point is in Iran is decided by the boundary polygon.
IRAN_LAT = (25.0, 39.8)
IRAN_LON = (44.0, 63.4)


def in_iran(lat: float, lon: float) -> bool:
    """Inside Iran's boundary (polygon of events/data/iran_boundary.json), not a box."""
    return inside_iran(lat, lon)


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name: str
    name_fa: str
    capital: str
    lat: float
    lon: float


PROVINCES: dict[str, Province] = {
    p.code: p
    for p in (
        Province("THR", "Tehran", "تهران", "Tehran", 35.69, 51.39),
        Province("ALB", "Alborz", "البرز", "Karaj", 35.84, 50.94),
        Province("QZV", "Qazvin", "قزوین", "Qazvin", 36.27, 50.00),
        Province("KSH", "Kermanshah", "کرمانشاه", "Kermanshah", 34.31, 47.07),
        Province("MZN", "Mazandaran", "مازندران", "Sari", 36.56, 53.06),
        Province("ESF", "Isfahan", "اصفهان", "Isfahan", 32.65, 51.67),
        Province("FRS", "Fars", "فارس", "Shiraz", 29.59, 52.58),
        Province("KHR", "Razavi Khorasan", "خراسان رضوی", "Mashhad", 36.30, 59.60),
        Province("EAZ", "East Azerbaijan", "آذربایجان شرقی", "Tabriz", 38.08, 46.29),
        Province("WAZ", "West Azerbaijan", "آذربایجان غربی", "Urmia", 37.55, 45.07),
        Province("ARD", "Ardabil", "اردبیل", "Ardabil", 38.25, 48.29),
        Province("GIL", "Gilan", "گیلان", "Rasht", 37.28, 49.58),
        Province("GLS", "Golestan", "گلستان", "Gorgan", 36.84, 54.44),
        Province("SMN", "Semnan", "سمنان", "Semnan", 35.58, 53.39),
        Province("QOM", "Qom", "قم", "Qom", 34.64, 50.88),
        Province("MKZ", "Markazi", "مرکزی", "Arak", 34.09, 49.69),
        Province("HMD", "Hamadan", "همدان", "Hamadan", 34.80, 48.51),
        Province("ZNJ", "Zanjan", "زنجان", "Zanjan", 36.68, 48.49),
        Province("KRD", "Kurdistan", "کردستان", "Sanandaj", 35.31, 47.00),
        Province("ILM", "Ilam", "ایلام", "Ilam", 33.64, 46.42),
        Province("LRS", "Lorestan", "لرستان", "Khorramabad", 33.49, 48.36),
        Province("KHZ", "Khuzestan", "خوزستان", "Ahvaz", 31.32, 48.67),
        Province("CHB", "Chaharmahal and Bakhtiari", "چهارمحال و بختیاری", "Shahrekord", 32.33, 50.86),
        Province("KBA", "Kohgiluyeh and Boyer-Ahmad", "کهگیلویه و بویراحمد", "Yasuj", 30.67, 51.59),
        Province("BSH", "Bushehr", "بوشهر", "Bushehr", 28.92, 50.84),
        Province("HRZ", "Hormozgan", "هرمزگان", "Bandar Abbas", 27.18, 56.27),
        Province("KRN", "Kerman", "کرمان", "Kerman", 30.28, 57.08),
        Province("YZD", "Yazd", "یزد", "Yazd", 31.90, 54.36),
        Province("SBL", "Sistan and Baluchestan", "سیستان و بلوچستان", "Zahedan", 29.50, 60.86),
        Province("KHS", "South Khorasan", "خراسان جنوبی", "Birjand", 32.87, 59.22),
        Province("KHN", "North Khorasan", "خراسان شمالی", "Bojnurd", 37.47, 57.33),
    )
}

assert len(PROVINCES) == 31
