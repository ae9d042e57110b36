"""The directors' report as files: CSV (UTF-8 with BOM, for spreadsheet programs), XLSX (openpyxl,
sheets right to left) and PDF (WeasyPrint: Pango and HarfBuzz shape the Persian text, laid out
right to left, in the Vazirmatn font the dashboard ships)."""

from __future__ import annotations

import csv
import html
import io
from importlib import resources
from pathlib import Path
from typing import Any

from events.jalali import _FA_DIGITS
from events.vocabulary import PERSIAN

# The dashboard's font (SIL OFL, ui-bridge/static/fonts/OFL.txt), found where the package is installed.
FONT = Path(str(resources.files("ui_bridge") / "static" / "fonts" / "Vazirmatn-wght.woff2"))

# Column: (Persian header, English header)
COLUMNS = {
    "calls": ("تماس‌ها", "calls"),
    "interventions": ("مداخله‌ها", "interventions"),
    "intervention_share": ("سهم مداخله", "intervention share"),
    "dispatches": ("اعزام‌ها", "dispatches"),
    "admissions": ("پذیرش‌ها", "admissions"),
    "declined": ("پذیرش‌های ردشده", "declined admissions"),
    "call_to_dispatch_median_s": ("میانه زمان تماس تا اعزام (دقیقه)", "median call to dispatch (min)"),
    "dispatch_to_scene_median_s": ("میانه زمان اعزام تا محل (دقیقه)", "median dispatch to scene (min)"),
}
KEYS = {"period": ("دوره", "period"), "category": ("رده", "category"), "province": ("استان", "province"), "county": ("شهرستان", "county")}
SECTIONS = {"totals": "جمع", "by_category": "بر پایه رده", "by_county": "بر پایه شهرستان",
            "previous": "دوره پیش", "last_year": "همین دوره در سال پیش"}


def _cell(key: str, value: Any) -> Any:
    if value is None:
        return ""
    if key.endswith("_median_s") and isinstance(value, (int, float)):
        return round(value / 60, 1)
    if key == "intervention_share" and isinstance(value, float):
        return f"{value * 100:.1f}%"
    return value


EXTRA_FA = {"unclassified": "رده‌بندی‌نشده", "—": "بدون مورد"}


def _label(key: str, value: Any) -> str:
    return (PERSIAN.get(value) or EXTRA_FA.get(value, value)) if key == "category" else value


def flat_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every line of the report: section, keys, figures (the CSV's and the sheet's rows)."""
    rows = [{"section": "totals", **report["totals"]}]
    rows += [{"section": "by_category", **r} for r in report["by_category"]]
    rows += [{"section": "by_county", **r} for r in report["by_county"]]
    rows += [{"section": name, **report["compare"][name]["totals"]} for name in ("previous", "last_year")]
    return rows


def to_csv(report: dict[str, Any]) -> bytes:
    out = io.StringIO()
    header = ["section", "province", "county", "category", *COLUMNS]
    w = csv.writer(out)
    w.writerow([f"# {report['period']['label']} · {report['period']['label_fa']} · {report['place']['province']}"
                f"{' / ' + report['place']['county'] if report['place']['county'] else ''}"
                f" · {report.get('small_cells') or ''}"])
    w.writerow(header)
    for row in flat_rows(report):
        w.writerow([row.get(h, "") if h in ("section", "province", "county", "category") else _cell(h, row.get(h))
                    for h in header])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    first = True
    for section in ("totals", "by_category", "by_county", "previous", "last_year"):
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = SECTIONS[section][:31]
        ws.sheet_view.rightToLeft = True
        ws.append([f"{report['period']['label_fa']} — {report['place']['province']}"
                   f"{' / ' + report['place']['county'] if report['place']['county'] else ''}"])
        keys = [k for k in KEYS if section in ("by_category", "by_county") and any(k in r for r in report[section])] \
            if section in ("by_category", "by_county") else []
        ws.append([KEYS[k][0] for k in keys] + [v[0] for v in COLUMNS.values()])
        for cell in ws[2]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="right", wrap_text=True)
        rows = report[section] if section in ("by_category", "by_county") else \
            [report["totals"] if section == "totals" else report["compare"][section]["totals"]]
        for r in rows:
            ws.append([_label(k, r.get(k)) for k in keys] + [_cell(c, r.get(c)) for c in COLUMNS])
    if report.get("small_cells"):
        wb.active["A1"].value = f"{wb.active['A1'].value} · اعداد کمتر از ۳ نشان داده نمی‌شوند (<3)"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _fa(value: Any) -> str:
    text = str(value)
    if text.endswith("%"):
        text = text[:-1].replace(".", "٫") + "٪"
    return html.escape(text).translate(_FA_DIGITS)


def to_html(report: dict[str, Any]) -> str:
    """The printable page (Persian, right to left) that the PDF is made from."""
    def table(rows: list[dict[str, Any]], keys: list[str]) -> str:
        head = "".join(f"<th>{KEYS[k][0]}</th>" for k in keys) + "".join(f"<th>{v[0]}</th>" for v in COLUMNS.values())
        body = "".join("<tr>" + "".join(f"<td>{_fa(_label(k, r.get(k)))}</td>" for k in keys)
                       + "".join(f"<td>{_fa(_cell(c, r.get(c)))}</td>" for c in COLUMNS) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    place = report["place"]["province"] + (f" / {report['place']['county']}" if report["place"]["county"] else "")
    compare = [{"period": report["period"]["label_fa"], **report["totals"]},
               {"period": report["compare"]["previous"]["period"]["label_fa"], **report["compare"]["previous"]["totals"]},
               {"period": report["compare"]["last_year"]["period"]["label_fa"], **report["compare"]["last_year"]["totals"]}]
    return f"""<!doctype html><html lang="fa" dir="rtl"><head><meta charset="utf-8">
<style>
@font-face {{ font-family: Vazirmatn; src: url("{FONT.as_uri()}") format("woff2"); font-weight: 100 900; }}
@page {{ size: A4 landscape; margin: 14mm; }}
body {{ font-family: Vazirmatn, sans-serif; direction: rtl; font-size: 10pt; }}
h1 {{ font-size: 16pt; margin: 0 0 4mm; }} h2 {{ font-size: 12pt; margin: 6mm 0 2mm; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 0.3pt solid #888; padding: 1.2mm 2mm; text-align: right; }}
th {{ background: #e8eef5; font-weight: 700; }}
.note {{ color: #555; font-size: 9pt; }}
</style></head><body>
<h1>گزارش اورژانس اجتماعی — {_fa(report["period"]["label_fa"])}</h1>
<p>استان/شهرستان: {_fa(place)} · <span dir="ltr">{html.escape(report["period"]["label"])}</span></p>
<p class="note">{"اعداد کمتر از ۳ برای حفظ حریم افراد نشان داده نمی‌شوند (&lt;3)." if report.get("small_cells") else ""}
مانورها در این آمار نیستند.</p>
<h2>مقایسه با دوره پیش و همین دوره در سال پیش</h2>{table(compare, ["period"])}
<h2>{SECTIONS["by_category"]}</h2>{table(report["by_category"], ["category"])}
<h2>{SECTIONS["by_county"]}</h2>{table(report["by_county"], ["province", "county"])}
</body></html>"""


def to_pdf(report: dict[str, Any]) -> bytes:
    from weasyprint import HTML

    return HTML(string=to_html(report), base_url=str(FONT.parent)).write_pdf()
