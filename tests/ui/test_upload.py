"""UploadView without a browser: uploads are simulated by setting ``FileUpload.value`` (or by the
frontend's JSON message through ``set_state``), then the state and the preview HTML are checked."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from pathlib import Path

import pandas as pd
import pytest

from ganglioside_nb.core.pipeline import prepare
from ganglioside_nb.datasets import list_samples, sample_bytes
from ganglioside_nb.errors import GangliosideError
from ganglioside_nb.params import AnalysisParams
from ganglioside_nb.ui import upload as upload_module
from ganglioside_nb.ui.state import AppState
from ganglioside_nb.ui.upload import MAX_REPORT_ENTRIES, UploadView, size_text

BAD = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"


@pytest.fixture(scope="module")
def sample() -> bytes:
    return sample_bytes("testwork_user")


@pytest.fixture(scope="module")
def sample_frame(sample: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(sample), dtype=str, keep_default_na=False)


def simulate_upload(view: UploadView, name: str, data: bytes) -> None:
    """What a kernel-side assignment looks like in ipywidgets 8 (``last_modified`` a datetime)."""
    view.upload.value = ({"name": name, "type": "text/csv", "size": len(data), "content": memoryview(data),
                          "last_modified": dt.datetime.now(dt.UTC)},)


def browser_upload(view: UploadView, name: str, data: bytes) -> None:
    """The frontend's message: a list of JSON dicts, ``last_modified`` in ms, content a buffer."""
    view.upload.set_state({"value": [{"name": name, "type": "text/csv", "size": len(data),
                                      "content": memoryview(data), "last_modified": 1_700_000_000_000}]})


def table_rows(markup: str, css_class: str) -> list[list[str]]:
    """The body cells of the table with ``css_class`` (still HTML-escaped)."""
    match = re.search(rf'<table class="{css_class}">.*?<tbody>(.*?)</tbody></table>', markup, re.S)
    assert match, f"no {css_class} table in the preview"
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", match.group(1))]


def core_error(data: bytes, name: str) -> str:
    """The one line the pure core gives for an unusable file (what the view must show)."""
    with pytest.raises(GangliosideError) as info:
        prepare(data, AnalysisParams(), filename=name)
    return " ".join(str(info.value).split())


# ---------------------------------------------------------------------------------------------
def test_sample_upload_fills_state_and_preview(sample: bytes, sample_frame: pd.DataFrame) -> None:
    state = AppState()
    view = UploadView(state)
    simulate_upload(view, "porcine.csv", sample)

    assert state.error == ""
    assert state.source == sample and state.filename == "porcine.csv" and state.status == "ready"
    assert len(state.preview) == len(sample_frame) == 323
    assert state.input_report is not None and state.input_report.n_rejected == 0
    markup = view.preview.value
    rt, logp = sample_frame["RT"].astype(float), sample_frame["Log P"].astype(float)
    n_anchors = int((sample_frame["Anchor"] == "T").sum())
    assert n_anchors == 49
    assert "porcine.csv" in markup and size_text(len(sample)) in markup
    assert "<b>Rows:</b> 323 (323 usable, 0 rejected)" in markup
    assert f"<b>Anchors:</b> {n_anchors}" in markup
    assert "<b>Prefixes:</b> 29" in markup  # the sample's documented 29 prefixes
    assert f"{rt.min():.3f} – {rt.max():.3f} min" in markup
    assert f"{logp.min():.2f} – {logp.max():.2f}" in markup
    assert "<b>Columns:</b> Name, RT, Volume, Log P, Anchor" in markup
    rows = table_rows(markup, "gnb-preview-table")
    assert len(rows) == 10
    assert [r[1] for r in rows] == sample_frame["Name"].head(10).tolist()
    assert [r[2] for r in rows] == [f"{float(x):.3f}" for x in sample_frame["RT"].head(10)]
    assert "No problems found" in markup
    # the widget is emptied: no second copy of the bytes, and the same file can come again
    assert view.upload.value == ()


def test_browser_message_is_loaded_and_same_file_again(sample: bytes) -> None:
    state = AppState()
    view = UploadView(state)
    browser_upload(view, "a.csv", sample)
    assert state.filename == "a.csv" and state.status == "ready"
    state.clear_input()
    browser_upload(view, "a.csv", sample)
    assert state.source == sample and state.status == "ready"


def test_load_sample_button(sample: bytes) -> None:
    state = AppState()
    view = UploadView(state)
    assert "gnb-load-sample" in view.sample_button._dom_classes
    assert view.sample_button.tooltip == list_samples()["testwork_user"]
    view.sample_button.click()
    assert state.source == sample and state.filename == "testwork_user.csv"
    assert len(state.preview) == 323 and state.status == "ready"
    assert "Loaded testwork_user.csv" in state.notice


def test_clear_button_forgets_the_input(sample: bytes) -> None:
    state = AppState()
    view = UploadView(state)
    view.sample_button.click()
    view.clear_button.click()
    assert state.source is None and state.preview is None and state.input_report is None
    assert state.status == "idle" and state.notice == "" and view.preview.value == ""


def test_oversized_upload_is_refused_unread(sample: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    state = AppState()
    view = UploadView(state, max_bytes=1000)
    small = sample_bytes("testwork")
    assert len(small) < 1000
    simulate_upload(view, "small.csv", small)  # an earlier good input must go too
    assert state.source == small

    def must_not_read(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an oversized file was read")

    monkeypatch.setattr(upload_module, "prepare", must_not_read)
    simulate_upload(view, "huge.csv", sample)
    assert state.error == (f"The uploaded file 'huge.csv' must be at most 1000 bytes. "
                           f"Got {size_text(len(sample))} instead.")
    assert state.source is None and state.filename is None and state.preview is None
    assert state.status == "idle" and view.preview.value == ""
    assert "1000 bytes" in view.hint.value


def test_row_cap_refuses_a_longer_table_with_its_count(sample: bytes) -> None:
    state = AppState()
    view = UploadView(state, max_rows=100)
    assert "at most 50 MB and 100 rows" in view.hint.value
    simulate_upload(view, "sample.csv", sample)  # 323 data rows
    assert "must have at most 100 data rows" in state.error and "323" in state.error
    assert state.source is None and state.params.max_rows == AnalysisParams().max_rows  # unchanged
    simulate_upload(view, "five.csv", sample_bytes("testwork"))
    assert state.error == "" and len(state.preview) == 5


def test_default_cap_follows_the_parameters() -> None:
    state = AppState()
    view = UploadView(state)
    assert view.max_bytes == AnalysisParams().max_file_bytes
    assert "at most 50 MB" in view.hint.value
    state.params = state.params.replace(max_file_bytes=1_048_576)
    assert view.max_bytes == 1_048_576 and "at most 1 MB" in view.hint.value
    simulate_upload(view, "big.csv", b"x" * 1_048_577)
    # equal-looking rounded sizes get their exact byte counts
    assert state.error == ("The uploaded file 'big.csv' must be at most 1 MB (1,048,576 bytes). "
                           "Got 1 MB (1,048,577 bytes) instead.")
    assert state.source is None


@pytest.mark.parametrize("name", ["binary.csv", "missing_columns.csv", "empty.csv", "utf16.csv",
                                  "notes.txt"])
def test_unusable_file_shows_one_line_and_loads_nothing(name: str, sample: bytes) -> None:
    data = (BAD / name).read_bytes()
    state = AppState()
    view = UploadView(state)
    view.sample_button.click()
    simulate_upload(view, name, data)
    assert state.error == core_error(data, name)
    assert name in state.error and "\n" not in state.error
    assert state.source is None and state.preview is None and state.input_report is None
    assert state.status == "idle" and state.notice == "" and view.preview.value == ""


def test_rejected_rows_are_listed(sample: bytes) -> None:
    data = (BAD / "bad_numbers.csv").read_bytes()
    state = AppState()
    view = UploadView(state)
    simulate_upload(view, "bad_numbers.csv", data)
    report = state.input_report
    assert state.error == "" and state.status == "ready" and state.source == data
    assert report is not None and report.n_rejected > 0
    markup = view.preview.value
    assert f"{report.n_rejected} of {report.total_rows} rows rejected" in markup
    rows = table_rows(markup, "gnb-report-table")
    expected = [[str(e.row), str(e.line), e.column, html.escape(e.value), html.escape(e.reason)]
                for e in report.entries.itertuples()]
    assert rows == expected
    n_usable = report.total_rows - report.n_rejected
    assert f"({n_usable} usable, {report.n_rejected} rejected)" in markup


def test_all_rows_rejected_still_shows_why() -> None:
    data = (BAD / "all_bad.csv").read_bytes()
    state = AppState()
    view = UploadView(state)
    simulate_upload(view, "all_bad.csv", data)
    assert state.error == core_error(data, "all_bad.csv")
    assert state.source is None and state.preview is None and state.status == "idle"
    report = state.input_report
    assert report is not None and report.n_rejected == report.total_rows > 0
    assert "Input report for all_bad.csv" in view.preview.value
    assert len(table_rows(view.preview.value, "gnb-report-table")) == len(report.entries)


def test_long_report_is_capped_and_cells_are_escaped(sample_frame: pd.DataFrame) -> None:
    frame = sample_frame.copy()
    frame.loc[:249, "RT"] = "n/a"
    frame.loc[260, "Name"] = "<script>alert(1)</script>"
    data = frame.to_csv(index=False).encode()
    state = AppState()
    view = UploadView(state)
    simulate_upload(view, "broken.csv", data)
    assert state.error == "" and state.input_report is not None
    n_entries = len(state.input_report.entries)
    assert n_entries == 251
    markup = view.preview.value
    assert len(table_rows(markup, "gnb-report-table")) == MAX_REPORT_ENTRIES
    assert f"and {n_entries - MAX_REPORT_ENTRIES} more problems" in markup
    assert "<script>" not in markup
    # the 200 listed entries are rows 0-199; the bad name (row 260) is among the unlisted ones,
    # so check escaping in a report that lists it
    simulate_upload(view, "name.csv", frame.iloc[255:].to_csv(index=False).encode())
    assert "<script>" not in view.preview.value
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in view.preview.value


def test_column_aliases_are_shown(sample: bytes) -> None:
    header, body = sample.split(b"\n", 1)
    data = b"compound,retention_time,area,logp,is_anchor\n" + body
    state = AppState()
    view = UploadView(state)
    simulate_upload(view, "aliases.csv", data)
    assert state.error == "" and len(state.preview) == 323
    assert html.escape("Name ← compound") in view.preview.value
    assert html.escape("Anchor ← is_anchor") in view.preview.value


def test_preview_follows_the_state(sample: bytes) -> None:
    state = AppState()
    view = UploadView(state)
    assert view.preview.value == ""
    _raw, table, report = prepare(sample, state.params, filename="other.csv")
    with state.hold_trait_notifications():
        state.source, state.filename, state.preview, state.input_report = sample, "other.csv", table, report
    assert "<b>other.csv</b>" in view.preview.value
    state.clear_input()
    assert view.preview.value == ""
