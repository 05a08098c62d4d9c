"""The upload view: one peak table in, a preview and the input report out (FEATURES.md A1, A7, A8).

:class:`UploadView` holds a ``FileUpload`` (CSV or XLSX, one file), a "Load sample data" button
and a "Clear" button. A new file is checked against the size cap *before* its bytes are read,
then read and validated by the pure core (:func:`ganglioside_nb.core.pipeline.prepare`); the
outcome is assigned to the shared :class:`~ganglioside_nb.ui.state.AppState` (``source``,
``filename``, ``preview``, ``input_report``, ``status``). The preview panel observes the state,
so it also shows an input that other code put there.

A file that cannot be analysed leaves the state without a source and its one-line message in
``state.error``; when every row was rejected the report of why is still shown.

After each upload the widget's value is emptied again: the bytes are not kept twice, and
uploading the same file again (after editing it, say) is seen as a new upload.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as W
import pandas as pd

from ..core.pipeline import prepare
from ..core.results import InputReport
from ..core.schema import INPUT_REPORT_COLUMNS
from ..datasets import list_samples, sample_bytes, sample_path
from ..errors import EmptyAnalysisError, InputFormatError
from .common import tag
from .errors import catch_errors
from .state import AppState

__all__ = ["MAX_PREVIEW_ROWS", "MAX_REPORT_ENTRIES", "SAMPLE_NAME", "UploadView", "size_text"]

#: rows of the table shown in the preview
MAX_PREVIEW_ROWS = 10
#: input-report entries listed (the rest are counted)
MAX_REPORT_ENTRIES = 200
#: the bundled sample loaded by the "Load sample data" button
SAMPLE_NAME = "testwork_user"
_PREVIEW_COLUMNS = ("row", "Name", "RT", "Volume", "Log P", "Anchor", "rejected")
#: one style block per preview (not a style attribute per cell: the report may list 200 rows)
_STYLE = ("<style>.gnb-preview-table, .gnb-report-table {border-collapse:collapse;font-size:90%;}"
          ".gnb-preview-table th, .gnb-preview-table td, .gnb-report-table th, .gnb-report-table td"
          " {padding:0.1em 0.5em;text-align:left;border-bottom:1px solid #dddddd;}</style>")


def size_text(n_bytes: int) -> str:
    """A byte count for people: ``'812 bytes'``, ``'3.2 KB'``, ``'50 MB'`` (1 KB = 1024 bytes).

    >>> size_text(52_428_800), size_text(1536), size_text(12)
    ('50 MB', '1.5 KB', '12 bytes')
    """
    if n_bytes < 1024:
        return f"{n_bytes} bytes"
    value, unit = (n_bytes / 1024, "KB") if n_bytes < 1024**2 else (n_bytes / 1024**2, "MB")
    text = f"{value:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + f" {unit}"


def _sizes(size: int, limit: int) -> tuple[str, str]:
    """Both sizes for a message, exact when rounding would make them look equal."""
    got, cap = size_text(size), size_text(limit)
    if got == cap:
        got, cap = f"{got} ({size:,} bytes)", f"{cap} ({limit:,} bytes)"
    return got, cap


class UploadView(W.VBox):
    """Upload a peak table (or load the sample) and preview it.

    Parameters
    ----------
    state : AppState
        The shared application state; the view writes the input into it and redraws from it.
    max_bytes : int, optional
        Size cap of an upload in bytes. Default: ``state.params.max_file_bytes`` at the time of
        the upload (50 MB unless changed in the parameter form).
    max_rows : int, optional
        Row cap of an upload (``GANGLIOSIDE_NB_MAX_ROWS`` in the app), below the ``max_rows``
        parameter that caps every analysis; a larger table is refused with the count.

    Attributes
    ----------
    upload : ipywidgets.FileUpload
        The file chooser (CSS class ``gnb-upload``).
    sample_button, clear_button : ipywidgets.Button
        "Load sample data" (``gnb-load-sample``) and "Clear" (``gnb-clear-input``).
    preview : ipywidgets.HTML
        File facts, column mapping, the first rows and the input report (``gnb-preview``).
    """

    def __init__(self, state: AppState, *, max_bytes: int | None = None, max_rows: int | None = None,
                 **kwargs: Any) -> None:
        self._state = state
        self._max_bytes = max_bytes
        self._max_rows = max_rows
        self.upload = tag(W.FileUpload(accept=".csv,.xlsx", multiple=False, description="Upload table",
                                       icon="upload"), "upload")
        self.sample_button = tag(W.Button(description="Load sample data", icon="table",
                                          tooltip=list_samples()[SAMPLE_NAME],
                                          layout=W.Layout(width="auto")),
                                 "load-sample")
        self.clear_button = tag(W.Button(description="Clear", icon="times",
                                          layout=W.Layout(width="auto")), "clear-input")
        self.hint = tag(W.HTML(), "upload-hint")
        self.preview = tag(W.HTML(), "preview")
        super().__init__([W.HBox([self.upload, self.sample_button, self.clear_button]), self.hint,
                          self.preview], **kwargs)
        tag(self, "upload-view")

        self._load = catch_errors(state)(self._load_bytes)
        self.upload.observe(self._on_upload, names="value")
        self.sample_button.on_click(lambda _button: self.load_sample())
        self.clear_button.on_click(lambda _button: self.clear())
        state.observe(self._redraw, names=["preview", "input_report", "filename", "source"])
        state.observe(self._redraw_hint, names="params")
        self._redraw_hint()
        self._redraw()

    # -- public actions ------------------------------------------------------------------------
    @property
    def max_bytes(self) -> int:
        """The size cap applied to the next upload, in bytes."""
        return self._max_bytes if self._max_bytes is not None else self._state.params.max_file_bytes

    def load(self, data: bytes | bytearray | memoryview, filename: str) -> None:
        """Check, read and validate ``data`` as the input; failures end in ``state.error``."""
        self._load(data, filename)

    def load_sample(self) -> None:
        """Load the bundled sample table (what the "Load sample data" button does)."""
        self._load(sample_bytes(SAMPLE_NAME), sample_path(SAMPLE_NAME).name)

    def clear(self) -> None:
        """Forget the input (the parameters stay)."""
        self._state.clear_input()
        self._state.notice = ""

    # -- handlers ------------------------------------------------------------------------------
    def _on_upload(self, change: Mapping[str, Any]) -> None:
        files: Sequence[Mapping[str, Any]] = change["new"]
        if not files:  # emptied by this view after the previous upload, or by the frontend
            return
        upload = files[0]
        self._load(upload["content"], str(upload["name"]))
        # Keep no second copy of the bytes, and let the same file be uploaded again.
        self.upload.value = ()

    def _load_bytes(self, data: bytes | bytearray | memoryview, filename: str) -> None:
        state = self._state
        state.clear_input()
        state.notice = ""
        size, limit = memoryview(data).nbytes, self.max_bytes
        if size > limit:
            got, cap = _sizes(size, limit)
            raise InputFormatError(f"The uploaded file {filename!r} must be at most {cap}. "
                                   f"Got {got} instead.", filename=filename, check="size")
        payload = bytes(data)
        params = state.params
        if self._max_rows is not None and self._max_rows < params.max_rows:
            params = params.replace(max_rows=self._max_rows)  # refused by validation, with the count
        try:
            _raw, table, report = prepare(payload, params, filename=filename)
        except EmptyAnalysisError as exc:
            # Nothing to analyse, but the user must see why every row was rejected.
            state.input_report = _report_of(exc, filename)
            raise
        with state.hold_trait_notifications():
            state.source = payload
            state.filename = filename
            state.preview = table
            state.input_report = report
            state.status = "ready"
            state.error = ""
            state.notice = f"Loaded {filename}: {len(table)} rows, {report.n_rejected} rejected."

    # -- drawing -------------------------------------------------------------------------------
    def _redraw_hint(self, _change: Any = None) -> None:
        rows = f" and {self._max_rows:,} rows" if self._max_rows is not None else ""
        self.hint.value = (f'<span style="color:#555555;font-size:90%;">A CSV or XLSX table with the '
                           f"columns Name, RT, Volume, Log P and Anchor; at most "
                           f"{html.escape(size_text(self.max_bytes))}{rows}.</span>")

    def _redraw(self, _change: Any = None) -> None:
        state = self._state
        parts: list[str] = []
        if state.preview is not None:
            parts.append(_summary_html(state.filename, state.source, state.preview, state.input_report))
            parts.append(_rows_html(state.preview))
        if state.input_report is not None:
            parts.append(_report_html(state.input_report))
        value = _STYLE + "".join(parts) if parts else ""
        if value != self.preview.value:
            self.preview.value = value


# --------------------------------------------------------------------------------------------
# HTML pieces (everything user-supplied is escaped)
# --------------------------------------------------------------------------------------------
def _report_of(exc: EmptyAnalysisError, filename: str) -> InputReport:
    entries = pd.DataFrame(exc.input_report, columns=list(INPUT_REPORT_COLUMNS))
    # Every row was rejected, so every row has at least one entry.
    return InputReport(entries, total_rows=int(entries["row"].nunique()), filename=filename)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], css_class: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (f'<table class="{css_class}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _number(value: Any, digits: int) -> str:
    return "" if pd.isna(value) else f"{float(value):.{digits}f}"


def _flag(value: Any) -> str:
    return "" if pd.isna(value) else ("T" if bool(value) else "F")


def _range(values: pd.Series, digits: int) -> str:
    values = values.dropna()
    if values.empty:
        return "–"
    return f"{values.min():.{digits}f} – {values.max():.{digits}f}"


def _summary_html(filename: str | None, source: bytes | None, table: pd.DataFrame,
                  report: InputReport | None) -> str:
    usable = ~table["rejected"].to_numpy(dtype=bool)
    anchors = table["Anchor"].to_numpy(dtype=bool, na_value=False) & usable
    ok = table.loc[usable]
    size = f" ({size_text(len(source))})" if source is not None else ""
    facts = [("Rows", f"{len(table):,} ({int(usable.sum()):,} usable, {int((~usable).sum()):,} rejected)"),
             ("Anchors", f"{int(anchors.sum()):,}"),
             ("Prefixes", f"{ok['prefix'].nunique():,}"),
             ("RT range", f"{_range(ok['RT'], 3)} min"),
             ("Log P range", _range(ok["Log P"], 2))]
    if report is not None and report.column_mapping:
        facts.append(("Columns", ", ".join(
            canonical if found == canonical else f"{canonical} ← {found}"
            for canonical, found in report.column_mapping.items())))
    items = "".join(f"<li><b>{html.escape(k)}:</b> {html.escape(v)}</li>" for k, v in facts)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in (report.notes if report is not None else ()))
    notes_html = f'<ul class="gnb-preview-notes" style="color:#555555;">{notes}</ul>' if notes else ""
    return (f'<div class="gnb-preview-summary"><b>{html.escape(filename or "Input")}</b>'
            f"{html.escape(size)}<ul style='margin:0.2em 0;'>{items}</ul>{notes_html}</div>")


def _volume(value: Any) -> str:
    """Peak volumes as people read them: 32,661,372 (small ones keep their decimals)."""
    if pd.isna(value):
        return ""
    number = float(value)
    return f"{number:,.0f}" if abs(number) >= 100 else f"{number:g}"


def _rows_html(table: pd.DataFrame) -> str:
    head = table.head(MAX_PREVIEW_ROWS)
    rows = [[str(r["row"]), str(r["Name"]), _number(r["RT"], 3), _volume(r["Volume"]),
             _number(r["Log P"], 2),
             _flag(r["Anchor"]),
             "rejected" if r["rejected"] else ""]
            for r in head.to_dict("records")]
    caption = f"First {len(head)} of {len(table):,} rows"
    return (f'<div class="gnb-preview-rows"><i>{caption}</i>'
            f"{_table(_PREVIEW_COLUMNS, rows, 'gnb-preview-table')}</div>")


def _report_html(report: InputReport) -> str:
    entries = report.entries
    title = f"Input report{' for ' + report.filename if report.filename else ''}"
    head = (f"<b>{html.escape(title)}</b>: {report.n_rejected:,} of {report.total_rows:,} rows rejected"
            f" ({len(entries):,} problems)")
    if entries.empty:
        return f'<div class="gnb-input-report">{head}. No problems found.</div>'
    shown = entries.head(MAX_REPORT_ENTRIES)
    rows = [[str(int(e["row"])), str(int(e["line"])), str(e["column"]), str(e["value"]), str(e["reason"])]
            for e in shown.to_dict("records")]
    more = len(entries) - len(shown)
    more_html = f"<i>… and {more:,} more problems.</i>" if more else ""
    return (f'<div class="gnb-input-report">{head}'
            f"{_table(INPUT_REPORT_COLUMNS, rows, 'gnb-report-table')}{more_html}</div>")
