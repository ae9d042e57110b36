"""Reports that can be published: figures, small cells, CSV / XLSX / PDF, and the browser page."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.harm_history import case, tick
from eoc.publish import exports
from eoc.publish.figures import SUPPRESSED, Span, directors_report
from eoc.publish.prevention import prevention_view, week_of
from tests.support.browser import ARTIFACTS, QAZVIN, QZV, Clock, Embedded
from tests.support.offline_page import offline_page

DAY = date(2024, 4, 10)  # 22 Farvardin 1403


def _moment(d: date, hour: int = 10) -> str:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC).isoformat().replace("+00:00", "Z")


def history() -> list[Any]:
    """Suicide calls in Qazvin: 5 in the period, 4 in the period before, 2 a year before; 1 in Avaj."""
    events, pos = [], 1
    for d, n, county in [(DAY, 5, "Qazvin"), (DAY - timedelta(days=7), 4, "Qazvin"), (DAY, 1, "Avaj"),
                         (date(2023, 4, 11), 2, "Qazvin")]:
        for _ in range(n):
            e = case("QZV", county, "suicide", _moment(d), pos)
            events += [tick("QZV", county, _moment(d), pos + 100_000), e]  # the call, then its classification
            pos += 1
    events.sort(key=lambda e: e.occurred_at)
    return events


def _same_call(events: list[Any]) -> list[Any]:
    """Give each classification the id of the call received just before it (one call each)."""
    from dataclasses import replace
    out = []
    for i, e in enumerate(events):
        out.append(replace(e, aggregate_id=events[i - 1].aggregate_id) if e.type == "CallClassified" else e)
    return out


def test_report_figures_compare_and_suppress_small_cells() -> None:
    events = _same_call(history())
    span = Span(DAY - timedelta(days=2), DAY + timedelta(days=2))
    rep = directors_report(events, span, province="QZV")
    assert rep["totals"]["calls"] == 6
    by_county = {r["county"]: r for r in rep["by_county"]}
    assert by_county["Qazvin"]["calls"] == 5 and by_county["Avaj"]["calls"] == SUPPRESSED
    assert {r["category"]: r["calls"] for r in rep["by_category"]} == {"suicide": 6}
    assert rep["compare"]["previous"]["totals"]["calls"] == 4
    assert rep["compare"]["previous"]["change"]["calls"] == 0.5
    assert rep["compare"]["last_year"]["period"]["first_day"] == "2023-04-09"  # 20 Farvardin 1402
    assert rep["compare"]["last_year"]["totals"]["calls"] == SUPPRESSED
    assert rep["compare"]["last_year"]["change"]["calls"] is None  # would reveal the small cell
    raw = directors_report(events, span, province="QZV", publish=False)
    assert {r["county"]: r["calls"] for r in raw["by_county"]} == {"Avaj": 1, "Qazvin": 5}
    # No "1" or "2" anywhere in the published CSV's figures.
    rows = list(csv.reader(io.StringIO(exports.to_csv(rep).decode("utf-8-sig"))))[2:]
    assert all(v not in ("1", "2") for row in rows for v in row[4:])


@pytest.mark.skipif(shutil.which("pdftoppm") is None and __import__("os").environ.get("CI") != "true",
                    reason="poppler-utils is missing (scripts/install installs it)")
def test_report_pdf_is_persian_right_to_left(tmp_path: Path) -> None:
    rep = directors_report(_same_call(history()), Span(DAY - timedelta(days=2), DAY + timedelta(days=2)),
                           province="QZV")
    pdf = exports.to_pdf(rep)
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "خودکشی" in text and "تماس" in text  # shaped Persian comes back out as the same words
    png = render_png(path, ARTIFACTS / "report-unit")
    assert png.stat().st_size > 10_000


def render_png(pdf: Path, stem: Path) -> Path:
    stem.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", str(pdf), str(stem)], check=True)
    return Path(f"{stem}-1.png")


def test_report_prevention_view_puts_bases_beside_call_outs() -> None:
    from dataclasses import replace

    events = _same_call(history())
    base = replace(events[0], type="CentreRegistered", aggregate_id="base-1", county="Qazvin", position=None,
                   occurred_at=_moment(DAY - timedelta(days=1)),
                   payload={"name": "Qazvin base", "kind": "social_service_base", "capacity": 0, "secret": False})
    view = prevention_view([*events, base], Span(DAY - timedelta(days=14), DAY + timedelta(days=3)), province="QZV")
    counties = {c["county"]: c for c in view["counties"]}
    qazvin = counties["Qazvin"]
    assert qazvin["calls"] == 9 and counties["Avaj"]["calls"] == SUPPRESSED
    assert [b["name"] for b in qazvin["bases"]] == ["Qazvin base"]
    weeks = {w["week"]: w for w in qazvin["weeks"]}
    assert weeks[week_of(DAY).isoformat()]["bases_open"] == 1
    assert weeks[week_of(DAY - timedelta(days=7)).isoformat()]["bases_open"] == 0
    assert weeks[week_of(DAY).isoformat()]["calls"] == 5


def test_report_no_secret_place_leaves_through_any_published_file(api) -> None:
    """A safe house in Abyek admits three people directly and declines one: the reports count
    them in Qazvin province, but no file names Abyek, the house, its place or its clients."""
    from eoc.audit.sources import StoreSource

    house_at = {"lat": 36.412345, "lon": 50.512345}
    house = api.ok("/centres", {"province": "QZV", "county": "Abyek", "name": "Khaneh-Amn-ABYEK-9", "kind": "safe_house",
                                "capacity": 3, "location": house_at})["centre_id"]
    for client in ("CL-ABYEK-1", "CL-ABYEK-2", "CL-ABYEK-3", "CL-ABYEK-4"):
        api.post(f"/centres/{house}/admissions", {"route": "police", "client_id": client}, role="centre_staff")
    api.ok("/calls", {**QZV, "caller": {"phone": "0912"}})
    today = datetime.now(UTC).date()
    span = Span(today - timedelta(days=2), today + timedelta(days=1))
    rep = directors_report(StoreSource(api.system.app).envelopes(), span, province="QZV")
    assert rep["totals"]["admissions"] == 3 and rep["totals"]["declined"] == SUPPRESSED  # counted, in the province
    view = prevention_view(StoreSource(api.system.app).envelopes(), span, province="QZV")
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(exports.to_xlsx(rep)))
    xlsx_text = " ".join(str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row if c is not None)
    texts = {"json": str(rep), "prevention": str(view), "csv": exports.to_csv(rep).decode("utf-8-sig"),
             "xlsx": xlsx_text, "html (the PDF's source)": exports.to_html(rep)}
    for where, text in texts.items():
        for secret in ("Abyek", "Khaneh-Amn", house, str(house_at["lat"]), "CL-ABYEK"):
            assert secret not in text, (where, secret)


# ---------------------------------------------------------------------- the page, in Chromium


@pytest.fixture
def store() -> str:
    return "sqlite"


@pytest.fixture
def embedded(make_system, monkeypatch: pytest.MonkeyPatch) -> Iterator[Embedded]:
    e = Embedded(make_system(clock=Clock()), monkeypatch)
    yield e
    e.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    with offline_page(browser, viewport={"width": 1400, "height": 1000}, accept_downloads=True) as pg:
        yield pg


def seed(embedded: Embedded) -> None:
    """Today in Qazvin: 4 spouse-abuse calls (3 escalated, dispatched, on scene), 1 divorce call;
    a social-service base in Takestan."""
    embedded.post("/centres", {"province": "QZV", "county": "Takestan", "name": "Takestan base",
                               "kind": "social_service_base", "capacity": 0, "location": {"lat": 36.07, "lon": 49.7}})
    centre = embedded.post("/centres", {**QZV, "name": "Qazvin centre", "kind": "residential_level_1",
                                        "capacity": 5, "location": QAZVIN})["centre_id"]
    for i in range(5):
        call = embedded.post("/calls", {**QZV, "caller": {"phone": f"0912{i}"}})["call_id"]
        embedded.post(f"/calls/{call}/classify", {"category": "divorce" if i == 4 else "spouse_abuse",
                                                  "priority": "urgent"})
        if i < 3:
            incident = embedded.post(f"/calls/{call}/escalate", {"location": QAZVIN})["incident_id"]
            team = embedded.post("/teams", {**QZV, "name": f"QZV-{i}", "home": QAZVIN})["team_id"]
            embedded.post(f"/teams/{team}/shift/start", {"shift": "morning", "members": ["a", "b"]})
            embedded.post(f"/teams/{team}/dispatch", {"incident_id": incident}, role="dispatcher")
            embedded.post(f"/teams/{team}/status", {"status": "en_route"}, role="dispatcher")
            embedded.post(f"/teams/{team}/status", {"status": "on_scene"}, role="dispatcher")
            embedded.post(f"/centres/{centre}/admissions", {"route": "mobile_team", "incident_id": incident},
                          role="centre_staff")


@pytest.mark.browser
def test_report_page_and_each_export_in_chromium(embedded: Embedded, page: Any, tmp_path: Path) -> None:
    seed(embedded)
    # A safe house in Abyek admits three people: counted in the province's figures, but no
    # export and no page names the county, the house, its place or its clients.
    house_at = {"lat": 36.412345, "lon": 50.512345}
    house = embedded.post("/centres", {"province": "QZV", "county": "Abyek", "name": "Khaneh-Amn-ABYEK-9",
                                       "kind": "safe_house", "capacity": 3, "location": house_at})["centre_id"]
    for client in ("CL-ABYEK-1", "CL-ABYEK-2", "CL-ABYEK-3"):
        embedded.post(f"/centres/{house}/admissions", {"route": "police", "client_id": client}, role="centre_staff")
    secrets = ("Abyek", "Khaneh-Amn", house, str(house_at["lat"]), str(house_at["lon"]), "CL-ABYEK")
    today = datetime.now(UTC).astimezone().date()
    token = embedded.token("provincial_supervisor", "QZV")
    start = (today - timedelta(days=3)).isoformat()
    end = (today + timedelta(days=1)).isoformat()
    page.goto(f"{embedded.base}/reports.html#token={token}&from={start}&to={end}")
    page.click("#show")
    page.wait_for_selector("body[data-state='shown']", timeout=15_000)
    assert page.get_attribute("html", "dir") == "rtl"
    spouse = page.inner_text("#by-category tr[data-key='spouse_abuse']")
    assert "همسرآزاری" in spouse and "۴" in spouse
    divorce = page.inner_text("#by-category tr[data-key='divorce']")
    assert "<۳" in divorce  # one call: a small cell
    assert page.locator("#chart rect").count() == 3  # spouse abuse, divorce, and the house's admissions (no call)
    compare = page.inner_text("#compare")
    assert "۵" in compare  # five calls in the period
    # The prevention view: Qazvin's calls and call-outs; Takestan's base beside its (no) calls.
    qazvin = page.inner_text("#prevention tr[data-county='Qazvin']")
    assert "۵" in qazvin and "۳" in qazvin
    takestan = page.inner_text("#prevention tr[data-county='Takestan']")
    assert "Takestan base" in takestan
    assert page.locator("#prevention tr[data-county='Takestan'] rect.base-open").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "reports-page.png"), full_page=True)
    shown = page.inner_text("body")
    for secret in secrets:
        assert secret not in shown, ("page", secret)

    files: dict[str, Path] = {}
    for fmt in ("csv", "xlsx", "pdf"):
        with page.expect_download(timeout=30_000) as dl:
            page.click(f"#exports button[data-format='{fmt}']")
        files[fmt] = tmp_path / dl.value.suggested_filename
        dl.value.save_as(files[fmt])
        assert files[fmt].suffix == f".{fmt}"

    rows = list(csv.reader(io.StringIO(files["csv"].read_text("utf-8-sig"))))
    by_cat = {r[3]: r for r in rows[2:] if r[0] == "by_category"}
    assert by_cat["spouse_abuse"][4] == "4" and by_cat["divorce"][4] == SUPPRESSED
    assert by_cat["spouse_abuse"][5] == "3"  # interventions

    from openpyxl import load_workbook
    wb = load_workbook(files["xlsx"])
    sheet = wb["بر پایه رده"]
    assert sheet.sheet_view.rightToLeft
    values = {r[0]: r[1] for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert values["همسرآزاری"] == 4 and values["متقاضی طلاق"] == SUPPRESSED

    assert files["pdf"].read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm") or __import__("os").environ.get("CI") == "true":
        png = render_png(files["pdf"], ARTIFACTS / "report-export")
        assert png.stat().st_size > 10_000
        text = subprocess.run(["pdftotext", str(files["pdf"]), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "همسرآزاری" in text
        for secret in secrets:
            assert secret not in text, ("pdf", secret)
    xlsx_text = " ".join(str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row if c is not None)
    for where, text in (("csv", files["csv"].read_text("utf-8-sig")), ("xlsx", xlsx_text),
                        ("pdf bytes", files["pdf"].read_bytes().decode("latin-1"))):
        for secret in secrets:
            assert secret not in text, (where, secret)
    totals = next(r for r in rows[2:] if r[0] == "totals")
    assert totals[rows[1].index("admissions")] == "6"  # the house's three are counted, in the province


@pytest.mark.browser
def test_report_page_refuses_roles_without_reports(embedded: Embedded, page: Any) -> None:
    token = embedded.token("call_taker", "QZV")
    page.goto(f"{embedded.base}/reports.html#token={token}")
    page.click("#show")
    page.wait_for_selector("body[data-state='error']", timeout=15_000)
    # The refusal from its code, in the page's Persian (i18n.js's one catalogue).
    assert "این نقش اجازه این کار را ندارد" in page.inner_text("#error")


@pytest.mark.browser
def test_report_page_draws_the_chart_an_emerging_harm_alert_links_to(embedded: Embedded, page: Any) -> None:
    from bench.harm_history import envelopes as harm_envelopes
    from projections import fold
    from projections.emerging import alert_key, series_key

    counts = [4] * 200 + [20, 22]
    rows = fold(harm_envelopes("QZV", date(2024, 3, 23), {("Qazvin", "suicide"): counts})).rows
    alert = rows[alert_key("QZV", "suicide", "Qazvin")]
    with embedded.system.follower._lock:  # as the fold would have put it
        embedded.system.follower.board.put(series_key("QZV", "suicide", "Qazvin"),
                                           rows[series_key("QZV", "suicide", "Qazvin")])
    token = embedded.token("national_eoc", "IR")
    page.goto(f"{embedded.base}{alert['chart'].replace('#', '#token=' + token + '&')}")
    page.wait_for_selector("#harm:not([hidden]) polyline", timeout=15_000)
    assert "خودکشی" in page.inner_text("#harm-title")
    verdict = page.inner_text("#harm-verdict")
    assert "۲۲" in verdict or "۴۲" in verdict  # the last day's count, or the last two days'
    r = embedded.http.get("/api/v1/publish/harm/QZV/suicide/Qazvin",
                          headers={"Authorization": "Bearer " + embedded.token("dispatcher", "QZV")})
    assert r.status_code == 403


@pytest.mark.browser
def test_emerging_alert_chart_link_opens_with_the_signed_in_session(embedded: Embedded, page: Any,
                                                                     browser: Any) -> None:  # noqa: F811
    """A supervisor signed in on the sign-in page sees the emerging-harm alert on the dashboard,
    follows its chart link (no token in it) and the reports page draws the series with the
    tab's signed-in session; the same link without a session asks to sign in."""
    from bench.harm_history import envelopes as harm_envelopes
    from projections import fold
    from projections.emerging import alert_key, series_key
    from tests.support.browser import sign_in_on_the_page

    _, totp = embedded.system.directory.add("sup.qzv.reports", "correct horse battery staple",
                                            "provincial_supervisor", "QZV")
    sign_in_on_the_page(page, embedded.base, "sup.qzv.reports", totp)
    assert "token" not in page.url

    counts = [4] * 200 + [20, 22]
    rows = fold(harm_envelopes("QZV", date(2024, 3, 23), {("Qazvin", "suicide"): counts})).rows
    akey, skey = alert_key("QZV", "suicide", "Qazvin"), series_key("QZV", "suicide", "Qazvin")
    follower = embedded.system.follower
    with follower._lock:  # as the fold would have put them, and handed to the dashboards
        follower.board.put(skey, rows[skey])
        follower.board.put(akey, rows[akey])
        follower._publish()

    # The dashboard of the same tab (same session) shows the alert with the same link.
    page.goto(f"{embedded.base}/")
    board_link = page.locator("#alerts-list [data-alert='emerging_harm'] a.alert-chart")
    board_link.wait_for(timeout=15_000)
    assert board_link.get_attribute("href") == "reports.html#harm=QZV/suicide/Qazvin"
    # The supervisor's workspace (where the sign-in landed) lists it with its chart link.
    page.goto(f"{embedded.base}/work.html")
    link = page.locator("#eo-emerging li[data-harm='QZV/suicide/Qazvin'] a.alert-chart")
    link.wait_for(timeout=15_000)
    href = link.get_attribute("href")
    assert href == "reports.html#harm=QZV/suicide/Qazvin" and "token" not in href
    link.click()
    page.wait_for_url("**/reports.html#harm=QZV/suicide/Qazvin", timeout=10_000)
    page.wait_for_selector("#harm:not([hidden]) polyline", timeout=15_000)
    assert "خودکشی" in page.inner_text("#harm-title")
    assert "۲۲" in page.inner_text("#harm-verdict") or "۴۲" in page.inner_text("#harm-verdict")
    assert "token" not in page.url
    page.screenshot(path=str(ARTIFACTS / "reports-emerging-chart.png"), full_page=True)

    # Another tab with no session: the link asks its holder to sign in, and shows nothing.
    other = browser.new_context()
    try:
        stranger = other.new_page()
        stranger.goto(f"{embedded.base}/{href}")
        stranger.wait_for_selector("body[data-state='signed-out']", timeout=10_000)
        assert stranger.locator("#error a[href='signin.html']").count() == 1
        assert stranger.locator("#harm:not([hidden])").count() == 0
    finally:
        other.close()
