"""The Voila apps in headless Chromium, served by ``ganglioside-nb app`` on a fresh Postgres
database (issue 6 acceptance): the whole analysis flow, a broken file, a 20 MB upload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from ganglioside_nb.testing import large_table
from tests.conftest import SAMPLE
from tests.e2e.conftest import ARTIFACTS

BAR = ".gnb-run-view .gnb-progress .progress-bar"


def _open_app(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".gnb-ready-marker", state="attached")


def _upload(page: Any, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.click(".gnb-upload")
    chooser.value.set_files(str(path))


def _tab(page: Any, container: str, title: str) -> None:
    page.click(f"{container} .lm-TabBar-tab:has-text('{title}')")


def test_upload_run_results_download_and_history(page: Any, app_url: str, tmp_path: Path) -> None:
    _open_app(page, f"{app_url}voila/render/analyze.ipynb")
    # the header's dot: green once the page kernel reached the database and the scheduler
    page.wait_for_selector(".gnb-health-dot .gnb-health-healthy", state="attached", timeout=60_000)
    _upload(page, SAMPLE)
    page.wait_for_function("document.querySelector('.gnb-preview').innerText.includes('323')")
    _tab(page, ".gnb-tabs", "Parameters")
    page.fill(".gnb-session-name input", "porcine e2e")
    page.keyboard.press("Tab")
    page.click(".gnb-run")
    page.wait_for_function(f"document.querySelector('{BAR}').style.width === '100%'")
    page.wait_for_function("document.querySelector('.gnb-stats') && "
                           "document.querySelector('.gnb-stats').innerText.includes('323')")
    assert "completed" in page.inner_text(".gnb-run-view .gnb-status")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analyze.png"), full_page=True)

    _tab(page, ".gnb-results-tabs", "Plots")
    page.wait_for_selector("img.gnb-plot-image")
    assert page.locator("img.gnb-plot-image").count() >= 5
    page.screenshot(path=str(ARTIFACTS / "analyze_plots.png"), full_page=True)

    _tab(page, ".gnb-results-tabs", "Export")
    page.wait_for_selector(".gnb-download-xlsx a")
    with page.expect_download() as download:
        page.click(".gnb-download-xlsx a")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(str(saved))
    book = load_workbook(saved)
    assert book["compounds"].max_row == 324
    page.click(".gnb-build-html")  # the report reuses the figures the Plots tab drew
    page.wait_for_selector(".gnb-download-html a", timeout=60_000)
    with page.expect_download() as download:
        page.click(".gnb-download-html a")
    report = tmp_path / download.value.suggested_filename
    download.value.save_as(str(report))
    text = report.read_text(encoding="utf-8")
    assert report.name.endswith("-report.html") and text.startswith("<!DOCTYPE html>")
    assert text.count("data:image/png;base64,") >= 5 and f"<title>Ganglioside analysis: {SAMPLE.name}" in text

    _open_app(page, f"{app_url}voila/render/history.ipynb")
    page.wait_for_function("document.querySelector('.gnb-history-table').innerText.includes('porcine e2e')")
    row = page.inner_text(".gnb-history-table")
    assert "completed" in row
    page.click(".gnb-history-panels >> text=Dashboard")
    page.click(".gnb-history-dashboard-draw")
    page.wait_for_function("document.querySelectorAll('img.gnb-dashboard-image').length === 3")
    page.screenshot(path=str(ARTIFACTS / "history_dashboard.png"), full_page=True)

    # Verify: the stored input analysed again on the page's kernel, compared with what is stored
    values = page.locator(".gnb-history-select option").evaluate_all("options => options.map(o => o.value)")
    page.locator(".gnb-history-select select").select_option(
        value=next(v for v in values if v.endswith("porcine e2e")))  # the label's spaces are &nbsp;
    page.wait_for_function("!document.querySelector('.gnb-history-verify').disabled")
    page.click(".gnb-history-verify")
    page.wait_for_selector(".gnb-history-verification", timeout=60_000)
    verdict = page.inner_text(".gnb-history-verification")
    assert "identical" in verdict and "NOT identical" not in verdict and "intact" in verdict
    assert page.errors.messages == []


def test_a_broken_file_shows_its_error_in_the_page(page: Any, app_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"Name;Retention\nGM1(36:1;O2);10.1\n")
    _open_app(page, f"{app_url}voila/render/analyze.ipynb")
    _upload(page, broken)
    page.wait_for_selector(".gnb-alert .gnb-error")
    message = page.inner_text(".gnb-alert .gnb-error")
    assert "broken.csv" in message and "Traceback" not in page.content()
    assert page.is_disabled(".gnb-run")
    assert page.errors.messages == []


def test_a_20_mb_upload_arrives(page: Any, app_url: str, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    rows = 540_000
    large_table(rows, seed=5).to_csv(big, index=False)
    assert big.stat().st_size > 20 * 1024 * 1024
    _open_app(page, f"{app_url}voila/render/analyze.ipynb")
    _upload(page, big)
    page.wait_for_function(
        f"document.querySelector('.gnb-preview').innerText.replace(/,/g, '').includes('{rows}')")
    assert "big.csv" in page.inner_text(".gnb-preview")
    page.wait_for_function("!document.querySelector('.gnb-run').disabled")
    assert page.errors.messages == []


def test_the_landing_page_links_both_apps(page: Any, app_url: str) -> None:
    page.goto(app_url)
    page.wait_for_selector("text=history.ipynb")
    listing = page.inner_text("body")
    assert "analyze.ipynb" in listing and "history.ipynb" in listing and "voila.json" not in listing
    with page.context.expect_page() as opened:  # Voila's file list opens an app in a new tab
        page.click("text=history.ipynb")
    opened.value.wait_for_selector(".gnb-ready-marker", state="attached")
    assert opened.value.url.startswith(f"{app_url}voila/render/history.ipynb")
