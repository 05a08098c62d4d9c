"""ResultsView and CompoundTable without a browser: build the view, set widget values, click
buttons and read the widgets' values (HTML text, labels, links, images)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile
from dataclasses import replace

import ipywidgets as W
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import ganglioside_nb as gnb
from ganglioside_nb.core.results import _STATUS_COLOURS, AnalysisResult
from ganglioside_nb.errors import InvalidParameterError
from ganglioside_nb.io.export import read_csv_export
from ganglioside_nb.persistence import Repository
from ganglioside_nb.plots import plot_all
from ganglioside_nb.testing import TableBuilder
from ganglioside_nb.ui.results import TAB_TITLES, CompoundTable, ResultsView, model_equation
from ganglioside_nb.ui.state import AppState
from tests.conftest import SAMPLE

HOSTILE = "GM1(36:1;O2)<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x")'


@pytest.fixture(scope="module")
def structural() -> AnalysisResult:
    return gnb.analyze(SAMPLE)


@pytest.fixture(scope="module")
def reference() -> AnalysisResult:
    return gnb.analyze(SAMPLE, mode="reference")


@pytest.fixture(scope="module", params=["structural", "reference"])
def result(request: pytest.FixtureRequest) -> AnalysisResult:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def hostile() -> AnalysisResult:
    table = TableBuilder(seed=3).with_group("GD1", anchors=5, rows=10).build().drop(columns="truth")
    extra = pd.DataFrame({"Name": [HOSTILE, FORMULA], "RT": [10.0, 11.0], "Volume": [1e5, 2e5],
                          "Log P": [4.0, 4.1], "Anchor": ["F", "F"]})
    return gnb.analyze(pd.concat([table, extra], ignore_index=True))


@pytest.fixture(scope="module")
def plotted(structural: AnalysisResult) -> ResultsView:
    """A view whose Plots tab was opened (figures drawn once for the module)."""
    view = ResultsView(result=structural)
    assert view.images == {}  # lazy: nothing drawn before the tab is opened
    view.tabs.selected_index = TAB_TITLES.index("Plots")
    return view


def _cards(view: ResultsView) -> dict[str, str]:
    pattern = r"data-stat='(\w+)'.*?<div class='gnb-card-value'[^>]*>([^<]*)</div>"
    found = re.findall(pattern, view.stats.value)
    return {k: html.unescape(v) for k, v in found}


def _page_rows(table: CompoundTable) -> list[list[str]]:
    body = table.html.value.split("<tbody>", 1)[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", body)]


def _link(widget: W.HTML) -> tuple[str, bytes]:
    match = re.search(r'download="([^"]+)" href="data:[^;]+;base64,([^"]+)"', widget.value)
    assert match is not None, widget.value[:200]
    return html.unescape(match.group(1)), base64.b64decode(match.group(2))


# -- statistics cards ----------------------------------------------------------------------------
def test_stats_cards_show_the_statistics(result: AnalysisResult) -> None:
    s = result.statistics
    view = ResultsView(result=result)
    cards = _cards(view)
    for key in ("total_rows", "analysed_rows", "rejected_rows", "anchors", "valid", "outliers", "fragments"):
        assert int(cards[key]) == s[key], key
    assert float(cards["pass_rate"].removesuffix(" %")) == pytest.approx(s["success_rate"], abs=0.05)
    assert float(cards["coverage"].removesuffix(" %")) == pytest.approx(s["coverage"], abs=0.05)
    assert cards["mode"] == result.mode
    assert cards["models_accepted"] == f"{s['n_models_accepted']}/{s['n_models']}"
    assert float(cards["oos_r2"]) == pytest.approx(s["oos_r2"], abs=5e-4)
    assert float(cards["oos_mae"].removesuffix(" min")) == pytest.approx(s["oos_mae"], abs=5e-4)
    assert float(cards["mean_confidence"]) == pytest.approx(s["mean_confidence"], abs=5e-3)
    assert "pass rate" in view.stats.value and "accuracy" not in view.stats.value.lower()


def test_tabs_and_tags(structural: AnalysisResult) -> None:
    view = ResultsView(result=structural)
    assert view.tabs.titles == TAB_TITLES
    assert "gnb-results" in view._dom_classes and "gnb-stats" in view.stats._dom_classes
    compounds = view.tabs.children[TAB_TITLES.index("Compounds")]
    assert "gnb-compound-table" in compounds._dom_classes and compounds is view.table
    assert "gnb-overview" in view.tabs.children[0]._dom_classes


# -- compound table ------------------------------------------------------------------------------
def test_first_page(result: AnalysisResult) -> None:
    table = CompoundTable(result)
    n = len(result.compounds)
    assert table.count.value == f"rows 1-50 of {n}"
    rows = _page_rows(table)
    assert len(rows) == 50 and len(rows[0]) == len(CompoundTable.COLUMNS)
    assert table.prev_button.disabled and not table.next_button.disabled
    first = result.compounds.iloc[0]
    assert rows[0][:5] == [str(first["row"]), html.escape(first["Name"]), f"{first['RT']:.3f}",
                           f"{first['Volume']:,.0f}", f"{first['Log P']:.2f}"]
    header = re.findall(r"<th>(.*?)</th>", table.html.value)
    assert header == [html.escape(c) for c in CompoundTable.COLUMNS]


def test_numbers_and_status_cells_are_formatted(structural: AnalysisResult) -> None:
    table = CompoundTable(structural)
    table.status_filter.value = "outlier"
    row = _page_rows(table)[0]
    cells = dict(zip(CompoundTable.COLUMNS, row, strict=True))
    first = table.filtered().iloc[0]
    for column, digits in (("RT", 3), ("predicted_rt", 3), ("residual", 2), ("z", 2), ("confidence", 2)):
        assert cells[column] == f"{first[column]:.{digits}f}", column
    assert f"background:{_STATUS_COLOURS['outlier']}" in cells["status"]
    assert re.sub("<[^>]+>", "", cells["status"]) == "outlier"


def test_status_filter_matches_status_counts(result: AnalysisResult) -> None:
    table = CompoundTable(result)
    counts = result.compounds["status"].value_counts()
    assert {v for _, v in table.status_filter.options} == {"", *counts.index}
    for status, n in counts.items():
        table.status_filter.value = status
        assert len(table.filtered()) == n
        assert (table.filtered()["status"] == status).all()
        assert table.count.value == f"rows 1-{min(n, 50)} of {n} (filtered from {len(result.compounds)})"
    table.status_filter.value = ""
    assert table.count.value == f"rows 1-50 of {len(result.compounds)}"


def test_anchor_text_category_and_prefix_filters(structural: AnalysisResult) -> None:
    compounds = structural.compounds
    table = CompoundTable(structural)
    table.anchors_only.value = True
    assert len(table.filtered()) == structural.statistics["anchors"] == int(compounds["Anchor"].sum())
    table.anchors_only.value = False

    table.search.value = "gd1"  # case-insensitive substring of Name
    expected = compounds["Name"].str.contains("GD1", regex=False)
    assert len(table.filtered()) == int(expected.sum()) > 0
    assert table.filtered()["Name"].str.contains("GD1").all()
    table.search.value = "("  # a regex metacharacter is plain text
    assert len(table.filtered()) == len(compounds)
    table.search.value = ""

    category = compounds["category"].value_counts().index[-1]
    table.category_filter.value = category
    assert len(table.filtered()) == int((compounds["category"] == category).sum())
    prefix = table.filtered()["prefix"].iloc[0]
    table.prefix_filter.value = prefix
    both = (compounds["category"] == category) & (compounds["prefix"] == prefix)
    assert table.filtered()["row"].tolist() == compounds.loc[both, "row"].tolist()

    table.search.value = "no such compound"
    assert table.filtered().empty
    assert table.count.value == f"rows 0-0 of 0 (filtered from {len(compounds)})"
    assert "No compound matches" in table.html.value and table.next_button.disabled


def test_sort_by_rt_descending(structural: AnalysisResult) -> None:
    table = CompoundTable(structural)
    assert table.filtered()["row"].tolist() == structural.compounds["row"].tolist()
    table.sort_by.value = "RT"
    table.ascending.value = False
    rts = table.filtered()["RT"].to_numpy()
    assert rts[0] == structural.compounds["RT"].max()
    assert (np.diff(rts) <= 0).all()
    assert _page_rows(table)[0][2] == f"{rts[0]:.3f}"
    assert table.ascending.description == "descending"
    table.ascending.value = True
    assert table.filtered()["RT"].iloc[0] == structural.compounds["RT"].min()
    assert set(table.sort_by.options) == set(CompoundTable.COLUMNS)


def test_paging(structural: AnalysisResult) -> None:
    table = CompoundTable(structural)
    n = len(structural.compounds)
    table.next_button.click()
    assert table.page == 1 and table.count.value == f"rows 51-100 of {n}"
    assert _page_rows(table)[0][0] == str(structural.compounds["row"].iloc[50])
    assert not table.prev_button.disabled
    for _ in range(20):
        table.next_button.click()
    last = (n - 1) // 50
    assert table.page == last and table.count.value == f"rows {last * 50 + 1}-{n} of {n}"
    assert len(_page_rows(table)) == n - last * 50 and table.next_button.disabled
    table.prev_button.click()
    assert table.page == last - 1
    table.status_filter.value = "valid"  # a filter change goes back to page 1
    assert table.page == 0


def test_filtered_csv_download(structural: AnalysisResult) -> None:
    table = CompoundTable(structural, filename="x-compounds-filtered.csv")
    table.status_filter.value = "fragment"
    table.sort_by.value = "RT"
    name, data = _link(table.download)
    assert name == "x-compounds-filtered.csv"
    frame, meta = read_csv_export(data)
    assert frame["row"].tolist() == table.filtered()["row"].tolist()
    assert list(frame.columns) == list(structural.compounds.columns)
    assert meta["input_sha256"] == structural.input_sha256


def test_large_tables_build_the_csv_on_request(structural: AnalysisResult) -> None:
    table = CompoundTable(structural, eager_csv_rows=100)
    assert table.download.value == "" and table.prepare_button.layout.display == ""
    table.prepare_button.click()
    assert len(read_csv_export(_link(table.download)[1])[0]) == len(structural.compounds)
    table.status_filter.value = "fragment"  # 71 rows: eager again
    assert table.prepare_button.layout.display == "none"
    assert len(read_csv_export(_link(table.download)[1])[0]) == len(table.filtered())


def test_hostile_text_is_escaped(hostile: AnalysisResult) -> None:
    view = ResultsView(result=hostile)
    table = view.table
    assert table is not None
    table.status_filter.value = "rejected"
    page = table.html.value
    assert "<script>" not in page and html.escape(HOSTILE) in page
    assert html.escape(FORMULA) in page
    report = view.tabs.children[TAB_TITLES.index("Input report")].value
    assert "<script>" not in report and "&lt;script&gt;" in report
    raw = _link(table.download)[1].decode()
    assert "\"'=HYPERLINK" in raw  # formula escaped in the CSV, as io.export does
    frame, _ = read_csv_export(raw.encode())
    assert set(frame["Name"]) == {HOSTILE, FORMULA}


# -- models --------------------------------------------------------------------------------------
def test_models_tab_equations_and_r2_colours(result: AnalysisResult) -> None:
    view = ResultsView(result=result)
    text = view.tabs.children[TAB_TITLES.index("Models")].value
    fitted = result.models[result.models["intercept"].notna()]
    assert len(fitted) > 0
    for record in fitted.to_dict("records"):
        terms = {k: v for k, v in record["coefficients"].items() if v != 0}
        equation = model_equation(record)
        assert equation.startswith(f"RT = {record['intercept']:.3f}")
        for name, value in terms.items():
            assert f"{'-' if value < 0 else '+'} {abs(value):.3f}·{name.replace('Log P', 'LogP')}" in equation
        assert html.escape(equation) in text
    r2 = result.models["r2"].dropna()
    assert text.count('data-r2-level="good"') == int((r2 >= 0.8).sum())
    assert text.count('data-r2-level="fair"') == int(((r2 >= 0.7) & (r2 < 0.8)).sum())
    assert text.count('data-r2-level="poor"') == int((r2 < 0.7).sum())
    assert html.escape(str(result.statistics["validation_method"])) in text
    assert text.count("<tr>") == len(result.models) + 1


def test_structural_equation_and_shifts(structural: AnalysisResult) -> None:
    pooled = structural.models[structural.models["scope"] == "pooled"].iloc[0]
    coefficients = pooled["coefficients"]
    text = model_equation(pooled.to_dict())
    assert text.startswith(f"RT = {pooled['intercept']:.3f} + {coefficients['Log P']:.3f}·LogP + "
                           f"{coefficients['sialic_acids']:.3f}·sialic_acids")
    assert "n_Hex·" not in text.replace("n_HexNAc", "")  # zero coefficients are left out
    shift = structural.models[structural.models["scope"] == "prefix-shift"].iloc[0].to_dict()
    shown = model_equation(shift)
    assert shown.startswith("shifts vs pooled:")
    base = shift["coefficients"]["base_class_shift"]
    assert f"base class {'-' if base < 0 else '+'}{abs(base):.3f}" in shown
    assert model_equation({"coefficients": float("nan"), "intercept": float("nan")}) == ""


# -- checks, input report, provenance -------------------------------------------------------------
def test_checks_tab(result: AnalysisResult) -> None:
    text = ResultsView(result=result).tabs.children[TAB_TITLES.index("Checks")].value
    for title in ("Rule 4: O-acetylation", "Rule 6: sugar count against RT", "Rule 7: category order",
                  "Rule 8: modifications", "Rule 9: cross-prefix consistency", "Rule 10: confidence"):
        assert title in text
    levels = result.statistics["rules"]["derive_confidence"]["levels"]
    for level, n in levels.items():
        assert f"<td class='txt'>{level}</td><td class='txt'>{n}</td>" in text
    assert f"O-acetylation pairs ({len(result.oac_pairs)})" in text
    assert f"Fragment events ({len(result.fragment_events)})" in text
    for warning in result.warnings:
        assert html.escape(warning) in text


def test_checks_show_the_diagnostics_per_model_group(structural: AnalysisResult) -> None:
    from ganglioside_nb.core.diagnostics import group_diagnostics

    text = ResultsView(result=structural).tabs.children[TAB_TITLES.index("Checks")].value
    section = text.split("gnb-diagnostics", 1)[1].split("</details>", 1)[0]
    table = group_diagnostics(structural)
    findings = int((table["notes"] != "").sum())
    assert f"({len(table)} groups, {findings} with findings)" in section
    assert section.count("<tr>") == len(table) + 1 and "durbin_watson" in section
    assert "residuals follow Log P" in section and "structural:GM3" in section


def test_checks_show_at_most_200_pairs(structural: AnalysisResult) -> None:
    pairs = pd.concat([structural.oac_pairs] * 3, ignore_index=True)
    view = ResultsView(result=replace(structural, oac_pairs=pairs))
    text = view.tabs.children[TAB_TITLES.index("Checks")].value
    section = text.split("O-acetylation pairs", 1)[1].split("</details>", 1)[0]
    assert section.count("<tr>") == 201  # header + 200
    assert f"first 200 of {len(pairs)} rows" in section


def test_provenance_tab(structural: AnalysisResult) -> None:
    text = ResultsView(result=structural).tabs.children[TAB_TITLES.index("Provenance")].value
    assert structural.input_sha256 in text and structural.version in text
    for name in structural.params.to_dict():
        assert f"<td class='txt'>{name}</td>" in text
    for library, version in structural.provenance["libraries"].items():
        assert f"<td class='txt'>{library}</td><td class='txt'>{version}</td>" in text


def test_provenance_shows_the_stored_session_audit_trail(structural: AnalysisResult,
                                                         repo: Repository) -> None:
    session_id = repo.create_session(SAMPLE, name="audited")
    repo.save_result(session_id, structural)
    view = ResultsView(result=structural, repository=repo, session_id=session_id)
    page = view.tabs.children[TAB_TITLES.index("Provenance")]
    trail = page.value.split("<b>Audit trail</b>", 1)[1]
    assert f"session #{session_id}" in trail and trail.count("<tr>") == 3  # header, created, completed
    assert "<td class='txt'>created</td>" in trail and "<td class='txt'>completed</td>" in trail
    assert f"<td class='txt'>{repo.owner}</td>" in trail
    view.build_downloads()  # three exports, recorded: the trail follows
    assert page.value.count("<td class='txt'>exported</td>") == 3
    assert "Audit trail" not in ResultsView(result=structural).tabs.children[
        TAB_TITLES.index("Provenance")].value  # a result in memory has no stored trail


# -- plots ---------------------------------------------------------------------------------------
def test_plots_render_as_png_images(plotted: ResultsView) -> None:
    assert len(plotted.images) >= 5
    for image in plotted.images.values():
        assert image.format == "png" and bytes(image.value).startswith(b"\x89PNG\r\n\x1a\n")
    box = plotted.tabs.children[TAB_TITLES.index("Plots")]
    links = [w for item in box.children for w in item.children if "gnb-download-png" in w._dom_classes]
    assert len(links) == len(plotted.images)
    name, data = _link(links[0])
    assert name.endswith(".png") and data.startswith(b"\x89PNG")


# -- downloads -----------------------------------------------------------------------------------
def test_downloads_are_built_when_the_export_tab_opens(structural: AnalysisResult) -> None:
    state = AppState(filename="testwork_user.csv")
    view = ResultsView(state)
    state.result = structural
    assert view.downloads == {}
    view.tabs.selected_index = TAB_TITLES.index("Export")
    assert set(view.downloads) == {"csv", "xlsx", "json"}
    for fmt, widget in view.downloads.items():
        assert f"gnb-download-{fmt}" in widget._dom_classes

    name, data = _link(view.downloads["xlsx"])
    assert name == "testwork_user-results.xlsx"
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    assert {"compounds", "models", "parameters", "statistics"} <= set(workbook.sheetnames)
    rows = list(workbook["compounds"].iter_rows(values_only=True))
    assert len(rows) == len(structural.compounds) + 1 == 324
    assert list(rows[0]) == list(structural.compounds.columns)

    name, data = _link(view.downloads["json"])
    assert name == "testwork_user-results.json"
    payload = json.loads(data)
    assert len(payload["compounds"]) == 323 and payload["input_sha256"] == structural.input_sha256

    name, data = _link(view.downloads["csv"])
    assert name == "testwork_user-results.csv"
    assert len(read_csv_export(data)[0]) == 323


def _press(box: W.Box) -> None:
    """Click the on-demand button inside ``box``."""
    (button,) = [w for w in box.children if isinstance(w, W.Button)]
    button.click()


def test_html_report_is_built_on_demand(structural: AnalysisResult, repo: Repository) -> None:
    session_id = repo.create_session(SAMPLE)
    view = ResultsView(AppState(filename="testwork_user.csv", result=structural),
                       repository=repo, session_id=session_id)
    view.build_downloads()
    (box,) = [w for w in view._export_box.children if not isinstance(w, W.HTML)]  # type: ignore[union-attr]
    assert "html" not in view.downloads
    _press(box)
    name, data = _link(view.downloads["html"])
    assert name == f"testwork_user-{session_id}-report.html"
    assert "gnb-download-html" in view.downloads["html"]._dom_classes
    page = data.decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and structural.input_sha256 in page
    assert page.count("data:image/png;base64,") == len(plot_all(structural))
    formats = [e.details["format"] for e in repo.audit_log(session_id) if e.action == "exported"]
    assert sorted(formats) == ["csv", "html", "json", "xlsx"]


def test_all_figures_as_zip_files(plotted: ResultsView) -> None:
    box = plotted.tabs.children[TAB_TITLES.index("Plots")]
    row = box.children[-1]
    (png_link,) = [w for w in row.children if "gnb-download-png-zip" in w._dom_classes]
    name, data = _link(png_link)
    assert name == "testwork_user-figures-png.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [f"testwork_user-{n}.png" for n in plotted.images]
        assert [archive.read(f"testwork_user-{n}.png") for n in plotted.images] == [
            bytes(image.value) for image in plotted.images.values()]
    (svg_box,) = [w for w in row.children if isinstance(w, W.Box)]
    _press(svg_box)
    name, data = _link(plotted.downloads["svg-zip"])
    assert name == "testwork_user-figures-svg.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert [n.removesuffix(".svg") for n in archive.namelist()] == list(plotted.images)


def test_file_names_use_the_session(structural: AnalysisResult, hostile: AnalysisResult) -> None:
    state = AppState(session_name="Pig brain / run 2", filename="testwork_user.csv", session_id=7)
    state.result = structural
    view = ResultsView(state)
    assert view.file_stem() == "pig-brain-run-2-7"
    assert view.table is not None and view.table.filename == "pig-brain-run-2-7-compounds-filtered.csv"
    assert ResultsView(result=structural).file_stem() == "testwork_user"  # the analysed file's name
    assert ResultsView(result=hostile).file_stem() == "ganglioside_nb"  # analysed from a DataFrame


def test_export_links_record_audit_events(structural: AnalysisResult, repo: Repository) -> None:
    session_id = repo.create_session(SAMPLE)
    view = ResultsView(result=structural, repository=repo, session_id=session_id)
    view.build_downloads()
    events = [e for e in repo.audit_log(session_id) if e.action == "exported"]
    assert sorted(e.details["format"] for e in events) == ["csv", "json", "xlsx"]
    sizes = {fmt: len(_link(w)[1]) for fmt, w in view.downloads.items()}
    assert {e.details["format"]: e.details["bytes"] for e in events} == sizes
    assert all(e.details["via"] == "ui" for e in events)


# -- state ---------------------------------------------------------------------------------------
def test_placeholder_and_redraw_on_state_changes(structural: AnalysisResult,
                                                  reference: AnalysisResult) -> None:
    state = AppState()
    view = ResultsView(state)
    assert view.children == (view.placeholder,) and "No results yet" in view.placeholder.value
    state.result = structural
    assert view.children == (view.stats, view.tabs) and _cards(view)["mode"] == "structural"
    old_table = view.table
    view.tabs.selected_index = TAB_TITLES.index("Export")
    assert view.downloads
    state.result = reference  # a new result redraws; the open lazy tab is filled again
    assert _cards(view)["mode"] == "reference" and view.table is not old_table
    assert old_table is not None and old_table.comm is None  # the old widgets were closed
    assert set(view.downloads) == {"csv", "xlsx", "json"}
    assert json.loads(_link(view.downloads["json"])[1])["parameters"]["mode"] == "reference"
    state.result = None
    assert view.children == (view.placeholder,) and view.tabs.children == ()
    assert state.error == ""


def test_fixed_result_view_has_its_own_alert(structural: AnalysisResult) -> None:
    view = ResultsView(result=structural)
    assert "gnb-alert" in view.children[0]._dom_classes
    view.state.error = "boom"
    assert "boom" in view.children[0].value
    shared = AppState(result=structural)
    assert not any("gnb-alert" in w._dom_classes for w in ResultsView(shared).children)


def test_state_or_result_not_both(structural: AnalysisResult) -> None:
    with pytest.raises(InvalidParameterError, match="either a state or a result"):
        ResultsView(AppState(), structural)


def test_overview_counts_categories_and_names_each_rule(structural: AnalysisResult) -> None:
    import re

    text = ResultsView(result=structural).tabs.children[TAB_TITLES.index("Overview")].value
    body = re.sub(r"<[^>]+>", " ", text)
    counts = structural.compounds.groupby("category").size()
    for category, n in counts.items():
        assert re.search(rf"\b{category}\s+{n}\b", body), category
    assert sum(int(n) for n in counts) == len(structural.compounds)
    for rule in ("Rule 1", "Rules 2-3", "Rule 4", "Rule 5", "Rule 6", "Rule 7", "Rule 8", "Rule 9",
                 "Rule 10"):
        assert rule in body
    stats = structural.statistics["rules"]
    assert f"{stats['flag_fragments']['n_events']} co-elution events" in body
