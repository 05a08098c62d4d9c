"""The results of one analysis as widgets: summary cards and tabs (FEATURES.md D3-D5).

:class:`ResultsView` renders an :class:`~ganglioside_nb.core.results.AnalysisResult`, either the
``result`` of a shared :class:`~ganglioside_nb.ui.state.AppState` (observed: a new result
redraws the view, ``None`` shows a short placeholder) or one fixed result (notebooks). It shows
statistics cards, then the tabs Compounds, Models, Plots, Checks, Input report, Provenance and
Export. :class:`CompoundTable` is the Compounds tab on its own: filters, sorting and pages
rendered as one HTML table per page (no widget per row), plus a CSV of the filtered rows.

Layer: ``ui``. Everything shown is read from the result's public attributes; nothing is
computed here beyond formatting, filtering and sorting for display.

Costly parts are lazy: the figures are drawn when the Plots tab is first opened
(:meth:`ResultsView.render_plots`) and the three export files are built when the Export tab is
first opened (:meth:`ResultsView.build_downloads`). Downloads are ``<a download>`` links with
the bytes inline, so no file is left on the server.

**Export audit.** With a ``repository`` and a session id, :meth:`ResultsView.build_downloads`
appends one ``exported`` audit event per format (``via="ui"``, with size and SHA-256) once the
links exist, because building them is when the bytes are handed to the browser; a browser
offers no event for the click itself. The filtered-rows CSV and the PNG links are not recorded.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import ipywidgets as W
import numpy as np
import pandas as pd

from ..core.diagnostics import group_diagnostics
from ..core.results import _STATUS_COLOURS, AnalysisResult
from ..errors import GangliosideError, InvalidParameterError
from ..io.export import to_csv
from .common import Alert, close_tree, download_link, tag
from .errors import catch_errors, error_message
from .state import AppState

__all__ = ["CompoundTable", "ResultsView", "file_slug", "model_equation"]

PLACEHOLDER = "No results yet: load a table and press Analyze, or open a saved analysis session."
TAB_TITLES = ("Overview", "Compounds", "Models", "Plots", "Checks", "Input report", "Provenance", "Export")
_PLOTS_TAB, _EXPORT_TAB = TAB_TITLES.index("Plots"), TAB_TITLES.index("Export")

#: R² colours of the Models tab (FEATURES.md D5): green at 0.80 or above, orange at 0.70, red below.
R2_COLOURS = (("good", 0.80, "#228833"), ("fair", 0.70, "#ee7733"), ("poor", -math.inf, "#cc3311"))

#: The rule blocks of ``statistics["rules"]``, in rule order, with their titles.
RULE_TITLES = {
    "flag_rt_outliers": "Rule 1: RT outliers",
    "derive_sugar_composition": "Rules 2-3: sugar composition and isomers",
    "check_oacetylation": "Rule 4: O-acetylation",
    "flag_fragments": "Rule 5: in-source fragments",
    "check_sugar_rt": "Rule 6: sugar count against RT",
    "check_category_order": "Rule 7: category order",
    "check_modifications": "Rule 8: modifications",
    "check_cross_prefix": "Rule 9: cross-prefix consistency",
    "derive_confidence": "Rule 10: confidence",
}

_STATUS_ORDER = ("valid", "outlier", "fragment", "rejected")
_CHECK_ROWS = 200
_LIVE_SEARCH_ROWS = 20_000
_TABLE_CSS = (
    "<style>.gnb-t{border-collapse:collapse;font-size:12px;margin:2px 0 8px 0}"
    ".gnb-t th{background:#f0f0f0;text-align:left;padding:2px 6px;border-bottom:1px solid #bbb;"
    "white-space:nowrap}.gnb-t td{padding:2px 6px;border-bottom:1px solid #e5e5e5;vertical-align:top}"
    ".gnb-t td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".gnb-t tr:nth-child(even) td{background:#fafafa}.gnb-wrap{overflow-x:auto;max-width:100%}"
    # break-word (not anywhere): a name or a flag list is never squeezed below its longest word
    ".gnb-t td.txt{max-width:28em;overflow-wrap:break-word}</style>"
)


# -- formatting --------------------------------------------------------------------------------
def _esc(value: Any) -> str:
    return html.escape(str(value))


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and not math.isfinite(float(value))


def _num(value: Any, digits: int = 3, tiny: bool = False) -> str:
    """A number for tables: fixed decimals (``tiny``: values that would show as 0 in scientific notation)."""
    if _missing(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        if tiny and x != 0 and abs(x) < 0.5 * 10 ** -digits:
            return f"{x:.2e}"
        return f"{x:.{digits}f}"
    return str(value)


def _cell(value: Any) -> str:
    """Any statistics value as escaped text (lists joined, mappings as JSON)."""
    if _missing(value):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return _esc(f"{float(value):.4g}")
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            return _esc(", ".join(_cell_plain(v) for v in value))
        return _esc(json.dumps(value, default=str))
    if isinstance(value, Mapping):
        return _esc(json.dumps(value, default=str))
    return _esc(value)


def _cell_plain(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    return str(value)


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], *, numeric: Iterable[int] = (),
           cls: str = "") -> str:
    """An HTML table from already escaped cells (``numeric``: indexes of right-aligned columns)."""
    right = set(numeric)
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td class='n'>{c}</td>" if i in right else f"<td class='txt'>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return (f"<div class='gnb-wrap'><table class='gnb-t {cls}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _kv_table(items: Iterable[tuple[str, Any]]) -> str:
    return _table(("name", "value"), ([_esc(k), _cell(v)] for k, v in items))


def _flat(mapping: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _mapping_html(mapping: Mapping[str, Any]) -> str:
    """Scalars as one name/value table; each nested mapping as its own titled table.

    A mapping whose values are all mappings (per ceramide, per modification, per acetyl count)
    becomes one table with a row per key and a column per (flattened) inner key.
    """
    scalars = [(k, v) for k, v in mapping.items() if not isinstance(v, Mapping)]
    parts = [_kv_table(scalars)] if scalars else []
    for key, value in mapping.items():
        if not isinstance(value, Mapping):
            continue
        if value and all(isinstance(v, Mapping) for v in value.values()):
            rows = {str(k): dict(_flat(v)) for k, v in value.items()}
            columns = list(dict.fromkeys(c for row in rows.values() for c in row))
            body = _table([_esc(key), *map(_esc, columns)],
                          ([_esc(k), *(_cell(row.get(c)) for c in columns)] for k, row in rows.items()),
                          numeric=range(1, len(columns) + 1))
        elif not value:
            body = "<div>none</div>"
        else:
            body = _mapping_html(value)
        parts.append(f"<div style='margin-left:1em'><b>{_esc(key)}</b>{body}</div>")
    return "".join(parts)


def _frame_html(frame: pd.DataFrame, total: int | None = None) -> str:
    """The rows of ``frame`` as an escaped table, noting 'first n of total' when cut."""
    if frame.empty:
        return "<div>none</div>"
    head, total = frame, len(frame) if total is None else total
    numeric = [i for i in range(head.shape[1]) if pd.api.types.is_numeric_dtype(head.iloc[:, i])]
    rows = ([_esc(_num(v)) if isinstance(v, float | np.floating) else _cell(v) if isinstance(v, list)
             else _esc("" if _missing(v) else v) for v in rec]
            for rec in head.itertuples(index=False, name=None))
    note = (f"<div style='color:#555'>first {len(head)} of {total} rows (the exports hold all)</div>"
            if total > len(head) else "")
    return _table(map(_esc, head.columns), rows, numeric=numeric) + note


def file_slug(text: str) -> str:
    """A file-name-safe stem: letters, digits, ``_`` and ``-`` (extension dropped)."""
    stem = re.sub(r"\.(csv|tsv|txt|xlsx|xls|json)$", "", text.strip(), flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9_]+", "-", stem).strip("-_").lower()[:60]


def _signed(value: float) -> str:
    return f"{'-' if value < 0 else '+'} {_num(abs(value), tiny=True)}"


def model_equation(model: Mapping[str, Any]) -> str:
    """The model of one models-table row as text, in original units.

    ``RT = -7.129 + 1.361·LogP + 2.836·sialic_acids …`` with zero coefficients left out; a
    prefix-shift row (structural mode) lists its non-zero shifts against the pooled model;
    '' when nothing was fitted.

    >>> model_equation({"coefficients": {"Log P": 1.3519, "b": 0.0, "a": -0.25}, "intercept": 7.2894})
    'RT = 7.289 + 1.352·LogP - 0.250·a'
    >>> model_equation({"scope": "prefix-shift", "coefficients": {"prefix_shift": -3.3e-05,
    ...                 "base_class_shift": -0.1512, "logp_slope_shift": 0.0}, "intercept": None})
    'shifts vs pooled: prefix -3.30e-05, base class -0.151'
    """
    coefficients = model.get("coefficients")
    if isinstance(coefficients, str):
        coefficients = json.loads(coefficients)
    if not isinstance(coefficients, Mapping):
        return ""
    terms = [(str(k), float(v)) for k, v in coefficients.items() if not _missing(v) and float(v) != 0.0]
    intercept = model.get("intercept")
    if _missing(intercept) and (model.get("scope") == "prefix-shift"
                                or any(str(k).endswith("_shift") for k in coefficients)):
        labels = {k: k.removesuffix("_shift").replace("logp", "Log P").replace("_", " ") for k, _ in terms}
        shown = ", ".join(f"{labels[k]} {'-' if v < 0 else '+'}{_num(abs(v), tiny=True)}" for k, v in terms)
        return f"shifts vs pooled: {shown}" if shown else "no shift (pooled model)"
    parts = [] if _missing(intercept) else [_num(intercept)]
    for name, value in terms:
        term = f"{_num(abs(value), tiny=True)}·{name.replace('Log P', 'LogP')}"
        parts.append(f"{_signed(value)}·{name.replace('Log P', 'LogP')}" if parts
                     else f"-{term}" if value < 0 else term)
    return "RT = " + (" ".join(parts) if parts else "0")


def _r2_level(value: Any) -> tuple[str, str]:
    x = float(value)
    return next((level, colour) for level, bound, colour in R2_COLOURS if x >= bound)


def _chip(text: str, colour: str, **data: str) -> str:
    attrs = "".join(f' data-{k.replace("_", "-")}="{_esc(v)}"' for k, v in data.items())
    return (f"<span{attrs} style='background:{colour};color:white;border-radius:0.6em;"
            f"padding:0 0.5em;white-space:nowrap'>{_esc(text)}</span>")


# -- overview ----------------------------------------------------------------------------------
_CATEGORY_ORDER = ("GP", "GQ", "GT", "GD", "GM", "GA")


def _overview_html(result: AnalysisResult) -> str:
    """Rows per category and status (with Rule 7's mean RT), and one headline per rule."""
    compounds = result.compounds
    rules = result.statistics.get("rules", {})
    means = rules.get("check_category_order", {}).get("category_mean_rt", {})
    present = [str(c) for c in pd.unique(compounds["category"].astype(object)) if isinstance(c, str) and c]
    order = [c for c in _CATEGORY_ORDER if c in present] + sorted(set(present) - set(_CATEGORY_ORDER))
    statuses = ("valid", "outlier", "fragment", "rejected")
    rows = []
    for category in order:
        part = compounds[compounds["category"] == category]
        counts = part["status"].value_counts()
        rows.append([_esc(category), str(len(part)), str(int(part["Anchor"].sum())),
                     *(str(int(counts.get(st, 0))) for st in statuses),
                     _num(means.get(category), 2) if category in means else ""])
    categories = _table(["category", "rows", "anchors", *statuses, "mean RT (min)"], rows,
                        numeric=range(1, 8))
    return ("<b>Rows per category</b> (mean RT without fragments, the basis of Rule 7)" + categories
            + "<b>What each rule found</b>"
            + _table(("rule", "finding"), ([_esc(k), _esc(v)] for k, v in _rule_headlines(result))))


def _rule_headlines(result: AnalysisResult) -> list[tuple[str, str]]:
    r = result.statistics.get("rules", {})
    s = result.statistics

    def get(rule: str, key: str, default: Any = 0) -> Any:
        return r.get(rule, {}).get(key, default)

    per_mod = (get("check_modifications", "per_modification", {}) or {}).values()
    direction = sum(int(v.get("direction_violations", 0)) for v in per_mod)
    unusual = sum(int(v.get("unusual_shifts", 0)) for v in per_mod)
    confidence = "—" if _missing(s.get("mean_confidence")) else f"{s['mean_confidence']:.2f}"
    levels = ", ".join(f"{k} {v}" for k, v in (get("derive_confidence", "levels", {}) or {}).items())
    inversions = len(get("check_category_order", "violations", []) or [])
    return [
        ("Rule 1 · RT model", f"{s.get('n_models_accepted', 0)} of {s.get('n_models', 0)} models "
                              f"accepted; {s.get('outliers', 0)} outliers; coverage "
                              f"{s.get('coverage', 0):.1f} %"),
        ("Rules 2-3 · sugars, isomers", f"{get('derive_sugar_composition', 'isomer_candidates')} isomer "
                                        f"candidates; {get('derive_sugar_composition', 'repeated_names')} "
                                        "names repeated"),
        ("Rule 4 · O-acetylation", f"{get('check_oacetylation', 'pairs_with_increase')} pairs with the "
                                   "expected RT increase, "
                                   f"{get('check_oacetylation', 'pairs_without_increase')} without"),
        ("Rule 5 · in-source fragments", f"{get('flag_fragments', 'n_events')} co-elution events, "
                                         f"{get('flag_fragments', 'n_fragments')} fragments"),
        ("Rule 6 · sugars vs RT", f"{get('check_sugar_rt', 'checked')} ceramide groups checked, "
                                  f"{get('check_sugar_rt', 'violations')} violations"),
        ("Rule 7 · category order", f"{inversions} inversions of GP < GQ < GT < GD < GM"),
        ("Rule 8 · modifications", f"{direction} direction violations, {unusual} unusual shifts"),
        ("Rule 9 · cross-category", f"{get('check_cross_prefix', 'rows_flagged')} of "
                                    f"{get('check_cross_prefix', 'rows_compared')} compared rows flagged"),
        ("Rule 10 · confidence", f"mean {confidence}; {levels}"),
    ]


# -- compounds ---------------------------------------------------------------------------------
class CompoundTable(W.VBox):
    """The compound table: filters, sort, pages of one HTML table each, filtered CSV download.

    Parameters
    ----------
    result : AnalysisResult
    page_size : int, default=50
        Rows per page.
    filename : str, default="compounds-filtered.csv"
        Download name of the filtered CSV.
    eager_csv_rows : int, default=5000
        Up to this many filtered rows the CSV link is rebuilt on every change; above it a
        button builds it on request (20,000 rows are ~9 MB of CSV and ~0.5 s per change).

    Attributes
    ----------
    search, status_filter, category_filter, prefix_filter, anchors_only, sort_by, ascending
        The filter and sort widgets (set their ``value``).
    prev_button, next_button, count, html, download
        Paging buttons, the "rows a-b of n" label, the page and the CSV link.
    page : int
        The page shown (0-based).
    """

    COLUMNS = ("row", "Name", "RT", "Volume", "Log P", "Anchor", "category", "prefix", "status", "reason",
               "model", "predicted_rt", "pi_low", "pi_high", "residual", "z", "sugar_count", "confidence",
               "confidence_level", "flags")
    DIGITS = {"RT": 3, "predicted_rt": 3, "pi_low": 3, "pi_high": 3, "Log P": 2, "residual": 2, "z": 2,
              "confidence": 2}

    def __init__(self, result: AnalysisResult, *, page_size: int = 50,
                 filename: str = "compounds-filtered.csv", eager_csv_rows: int = 5_000,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        tag(self, "compound-table")
        self.result = result
        self.frame = result.compounds
        self.columns = [c for c in self.COLUMNS if c in self.frame.columns]
        self.page_size = int(page_size)
        self.filename = filename
        self.eager_csv_rows = int(eager_csv_rows)
        self.page = 0
        self._names = self.frame["Name"].astype(str).str.lower()
        self._rows = np.arange(len(self.frame))  # positions of the filtered rows, in display order

        # filter while typing unless a keystroke would cost more than a few tens of ms
        self.search = tag(W.Text(placeholder="Name contains…", description="Name",
                                 continuous_update=len(self.frame) <= _LIVE_SEARCH_ROWS,
                                 layout=W.Layout(width="16em")), "table-search")
        self.status_filter = tag(self._choice("status", _STATUS_ORDER), "table-status")
        self.category_filter = tag(self._choice("category"), "table-category")
        self.prefix_filter = tag(self._choice("prefix"), "table-prefix")
        self.anchors_only = tag(W.Checkbox(value=False, description="anchors only", indent=False,
                                           layout=W.Layout(width="9em")), "table-anchors")
        self.sort_by = tag(W.Dropdown(options=self.columns, value="row", description="Sort",
                                      layout=W.Layout(width="14em")), "table-sort")
        self.ascending = tag(W.ToggleButton(value=True, description="ascending", icon="arrow-up",
                                            tooltip="Sort ascending / descending",
                                            layout=W.Layout(width="8em")), "table-ascending")
        self.prev_button = tag(W.Button(description="Prev", icon="chevron-left",
                                        layout=W.Layout(width="6em")), "table-prev")
        self.next_button = tag(W.Button(description="Next", icon="chevron-right",
                                        layout=W.Layout(width="6em")), "table-next")
        self.count = tag(W.Label(), "table-count")
        self.html = tag(W.HTML(), "table-page")
        self.download = tag(W.HTML(), "download-filtered")
        self.prepare_button = tag(W.Button(description="Prepare CSV of the filtered rows", icon="download",
                                           layout=W.Layout(width="auto", display="none")), "table-prepare")

        for widget in (self.search, self.status_filter, self.category_filter, self.prefix_filter,
                       self.anchors_only, self.sort_by, self.ascending):
            widget.observe(self._on_filter, names="value")
        self.prev_button.on_click(lambda _: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _: self.show_page(self.page + 1))
        self.prepare_button.on_click(lambda _: self._set_download(force=True))

        self.children = [
            W.HBox([self.search, self.status_filter, self.category_filter, self.prefix_filter,
                    self.anchors_only], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.sort_by, self.ascending, self.prev_button, self.next_button, self.count],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            self.html,
            W.HBox([self.download, self.prepare_button]),
        ]
        self._apply()

    def _choice(self, column: str, order: Iterable[str] = ()) -> W.Dropdown:
        counts = self.frame[column].value_counts() if column in self.frame else pd.Series(dtype="int64")
        known = [v for v in order if v in counts.index]
        values = known + sorted(str(v) for v in counts.index if v not in known and str(v) != "")
        return W.Dropdown(options=[("all", ""), *((f"{v} ({counts[v]})", v) for v in values)], value="",
                          description=column, layout=W.Layout(width="14em"))

    # -- state ---------------------------------------------------------------------------------
    def filtered(self) -> pd.DataFrame:
        """The compounds (all columns) that pass the filters, in the chosen order."""
        return self.frame.iloc[self._rows]

    @property
    def n_rows(self) -> int:
        """How many rows pass the filters."""
        return len(self._rows)

    @property
    def n_pages(self) -> int:
        return max(1, math.ceil(self.n_rows / self.page_size))

    def _on_filter(self, _change: Any = None) -> None:
        self.ascending.icon = "arrow-up" if self.ascending.value else "arrow-down"
        self.ascending.description = "ascending" if self.ascending.value else "descending"
        self._apply()

    def _apply(self) -> None:
        frame = self.frame
        mask = np.ones(len(frame), dtype=bool)
        text = self.search.value.strip().lower()
        if text:
            mask &= self._names.str.contains(text, regex=False).to_numpy(dtype=bool)
        for column, widget in (("status", self.status_filter), ("category", self.category_filter),
                               ("prefix", self.prefix_filter)):
            if widget.value and column in frame:
                mask &= (frame[column] == widget.value).to_numpy(dtype=bool)
        if self.anchors_only.value:
            mask &= frame["Anchor"].to_numpy(dtype=bool)
        positions = np.flatnonzero(mask)
        # sort positions, not the frame (no copy of every column per keystroke); stable, so
        # ties keep the input order
        key = pd.Series(frame[self.sort_by.value].to_numpy()[positions])
        order = key.sort_values(ascending=self.ascending.value, kind="stable", na_position="last").index
        self._rows = positions[order.to_numpy()]
        self._set_download()
        self.show_page(0)

    def _set_download(self, force: bool = False) -> None:
        n = self.n_rows
        if n > self.eager_csv_rows and not force:
            self.download.value = ""
            self.prepare_button.description = f"Prepare CSV of the {n:,} filtered rows"
            self.prepare_button.layout.display = ""
            return
        self.prepare_button.layout.display = "none"
        data = to_csv(replace(self.result, compounds=self.filtered()))
        self.download.value = download_link(data, self.filename, f"Download filtered CSV ({n:,} rows)")

    def show_page(self, page: int) -> None:
        """Render page ``page`` (0-based, clipped to the pages there are)."""
        self.page = min(max(int(page), 0), self.n_pages - 1)
        n, total = self.n_rows, len(self.frame)
        start = self.page * self.page_size
        part = self.frame.iloc[self._rows[start:start + self.page_size]]
        label = f"rows {start + 1 if n else 0}-{start + len(part)} of {n}"
        self.count.value = label if n == total else f"{label} (filtered from {total})"
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.n_pages - 1
        self.html.value = self._page_html(part)

    def _page_html(self, part: pd.DataFrame) -> str:
        if part.empty:
            return "<div class='gnb-empty'>No compound matches the filters.</div>"
        cells = {c: self._format(c, part[c]) for c in self.columns}
        numeric = [i for i, c in enumerate(self.columns)
                   if c in self.DIGITS or c in ("row", "Volume", "sugar_count")]
        return _TABLE_CSS + _table(map(_esc, self.columns), zip(*cells.values(), strict=True),
                                   numeric=numeric, cls="gnb-compounds")

    def _format(self, column: str, values: pd.Series) -> list[str]:
        raw = values.to_numpy(dtype=object)
        if column in self.DIGITS:
            return [_num(v, self.DIGITS[column]) for v in raw]
        if column == "Volume":
            return ["" if _missing(v) else f"{float(v):,.0f}" if float(v).is_integer() else f"{float(v):,.2f}"
                    for v in raw]
        if column == "Anchor":
            return ["yes" if bool(v) else "" for v in raw]
        if column == "status":
            return [_chip(str(v), _STATUS_COLOURS.get(str(v), "#666666"), status=str(v)) for v in raw]
        return ["" if _missing(v) else _esc(v) for v in raw]


# -- the view ----------------------------------------------------------------------------------
class ResultsView(W.VBox):
    """Statistics cards and the result tabs of one analysis (FEATURES.md D3).

    Parameters
    ----------
    state : AppState, optional
        The shared state; its ``result`` is shown and observed. Its ``error`` receives the
        failures of lazy steps (plots, downloads).
    result : AnalysisResult, optional
        A fixed result to show instead (notebooks); the view then keeps its own state and
        shows its own alert line. Give ``state`` or ``result``, not both.
    repository : object with ``record_export(session_id, fmt, data, **details)``, optional
        Where the Export tab records ``exported`` audit events (see the module docstring).
    session_id : int, optional
        The analysis session shown (default: ``state.session_id``); used in file names and
        for the audit events.

    Attributes
    ----------
    stats : W.HTML
        The statistics cards.
    tabs : W.Tab
        The tabs named in :data:`TAB_TITLES`.
    table : CompoundTable or None
        The Compounds tab.
    images : dict of str to W.Image
        The figures, once :meth:`render_plots` ran.
    downloads : dict of str to W.HTML
        The CSV, XLSX and JSON links (empty until :meth:`build_downloads` ran); the HTML report
        (``html``) and the SVG figures (``svg-zip``) join them when their buttons are pressed.

    Raises
    ------
    InvalidParameterError
        If both ``state`` and ``result`` are given.
    """

    def __init__(self, state: AppState | None = None, result: AnalysisResult | None = None, *,
                 repository: Any = None, session_id: int | None = None, **kwargs: Any) -> None:
        if state is not None and result is not None:
            raise InvalidParameterError(
                "ResultsView must be given either a state or a result. Got both instead.",
                parameter="result")
        super().__init__(**kwargs)
        tag(self, "results")
        self.state = state if state is not None else AppState(result=result)
        self._alert = [Alert(self.state)] if state is None else []
        self.repository = repository
        self._session_id = session_id
        self.placeholder = tag(W.HTML(f"<div style='color:#555'>{_esc(PLACEHOLDER)}</div>"),
                               "results-placeholder")
        self.stats = tag(W.HTML(), "stats")
        self.tabs = tag(W.Tab(), "results-tabs")
        self.table: CompoundTable | None = None
        self.images: dict[str, W.Image] = {}
        self.downloads: dict[str, W.HTML] = {}
        self._plots_box: W.VBox | None = None
        self._export_box: W.VBox | None = None
        self._on_tab = catch_errors(self.state)(self._load_tab)
        self.tabs.observe(lambda change: self._on_tab(change["new"]), names="selected_index")
        self.state.observe(self._redraw, names="result")
        self._redraw()

    @property
    def result(self) -> AnalysisResult | None:
        return self.state.result

    @property
    def session_id(self) -> int | None:
        return self._session_id if self._session_id is not None else self.state.session_id

    # -- drawing -------------------------------------------------------------------------------
    def _redraw(self, _change: Any = None) -> None:
        for child in self.tabs.children:
            close_tree(child)
        self.images, self.downloads, self.table = {}, {}, None
        result = self.result
        if result is None:
            self.tabs.children = ()
            self.stats.value = ""
            self.children = [*self._alert, self.placeholder]
            return
        self.stats.value = self._stats_html(result)
        self.table = CompoundTable(result, filename=f"{self.file_stem()}-compounds-filtered.csv")
        self._plots_box = tag(W.VBox([W.HTML("The figures are drawn when this tab is opened.")]), "plots")
        self._export_box = tag(W.VBox([W.HTML("The files are prepared when this tab is opened.")]), "exports")
        pages = [self._html(_overview_html(result), "overview"), self.table,
                 self._html(self._models_html(result), "models"), self._plots_box,
                 self._html(self._checks_html(result), "checks"),
                 self._html(result.input_report._repr_html_(), "input-report"),
                 self._html(self._provenance_html(result) + self._audit_html(), "provenance"),
                 self._export_box]
        self.tabs.children = pages
        self.tabs.titles = TAB_TITLES
        self.children = [*self._alert, self.stats, self.tabs]
        self._on_tab(self.tabs.selected_index)

    @staticmethod
    def _html(value: str, role: str) -> W.HTML:
        return tag(W.HTML(_TABLE_CSS + value), role)

    def _load_tab(self, index: int | None) -> None:
        if self.result is None:
            return
        if index == _PLOTS_TAB and not self.images:
            self.render_plots()
        elif index == _EXPORT_TAB and not self.downloads:
            self.build_downloads()

    def file_stem(self) -> str:
        """Download name stem: slug of the session name or file name, then the session id."""
        result = self.result
        candidates = [self.state.session_name, self.state.filename]
        if result is not None:
            candidates += [result.provenance.get("input_filename"), result.input_report.filename]
        slug = next((s for s in (file_slug(str(c)) for c in candidates if c) if s), "ganglioside_nb")
        return f"{slug}-{self.session_id}" if self.session_id is not None else slug

    @staticmethod
    def _stats_html(result: AnalysisResult) -> str:
        s = result.statistics
        analysed = s.get("analysed_rows") or 0
        cards: list[tuple[str, str, Any, str]] = [
            ("total_rows", "rows", s["total_rows"], "#222"),
            ("analysed_rows", "analysed", analysed, "#222"),
            ("rejected_rows", "rejected", s["rejected_rows"], _STATUS_COLOURS["rejected"]),
            ("anchors", "anchors", s["anchors"], "#222"),
            ("valid", "valid", s["valid"], _STATUS_COLOURS["valid"]),
            ("outliers", "outliers", s["outliers"], _STATUS_COLOURS["outlier"]),
            ("fragments", "fragments", s["fragments"], _STATUS_COLOURS["fragment"]),
            ("pass_rate", "pass rate (valid / analysed)",
             f"{100 * s['valid'] / analysed:.1f} %" if analysed else "—", "#222"),
            ("coverage", "coverage (judged by a model)", f"{s['coverage']:.1f} %", "#222"),
            ("mode", "mode", s.get("mode", result.mode), "#222"),
            ("models_accepted", "models accepted", f"{s.get('n_models_accepted', 0)}/{s.get('n_models', 0)}",
             "#222"),
        ]
        if not _missing(s.get("oos_r2")):
            method = s.get("validation_method") or "out-of-sample"
            cards.append(("oos_r2", f"R² ({method})", f"{s['oos_r2']:.3f}", "#222"))
        if not _missing(s.get("oos_mae")):
            cards.append(("oos_mae", "MAE (out-of-sample)", f"{s['oos_mae']:.3f} min", "#222"))
        if not _missing(s.get("mean_confidence")):
            cards.append(("mean_confidence", "mean confidence", f"{s['mean_confidence']:.2f}", "#222"))
        body = "".join(
            f"<div class='gnb-card' data-stat='{key}' style='display:inline-block;margin:0 14px 6px 0;"
            f"vertical-align:top'><div class='gnb-card-value' style='font-size:1.4em;color:{colour}'>"
            f"{_esc(value)}</div><div class='gnb-card-label' style='font-size:0.8em;color:#555'>"
            f"{_esc(label)}</div></div>"
            for key, label, value, colour in cards)
        return f"<div class='gnb-cards'>{body}</div>"

    @staticmethod
    def _models_html(result: AnalysisResult) -> str:
        s = result.statistics
        head = (f"<div>Validation: {_esc(s.get('validation_method') or '—')}; out-of-sample R² "
                f"{_cell(s.get('oos_r2'))}, MAE {_cell(s.get('oos_mae'))} min, max error "
                f"{_cell(s.get('oos_max_error'))} min. R² is coloured green at 0.80 or above, orange at "
                f"0.70 or above, red below.</div>")
        models = result.models
        columns = ["model", "scope", "n_anchors", "n_rows", "validation", "r2", "rmse", "mae", "max_error",
                   "accepted", "equation", "reason", "warnings"]

        def cell(record: Mapping[str, Any], column: str) -> str:
            value = record.get(column)
            if column == "equation":
                return _esc(model_equation(record))
            if column == "r2":
                if _missing(value):
                    return "—"
                level, colour = _r2_level(value)
                return _chip(_num(value, 3), colour, r2_level=level)
            if column in ("rmse", "mae", "max_error"):
                return _num(value, 3)
            return "" if _missing(value) else _esc(value)

        rows = ([cell(record, c) for c in columns] for record in models.to_dict("records"))
        return head + _table(map(_esc, columns), rows, numeric=[2, 3, 5, 6, 7, 8], cls="gnb-models")

    @staticmethod
    def _checks_html(result: AnalysisResult) -> str:
        s = result.statistics
        parts = []
        if result.warnings:
            items = "".join(f"<li>{_esc(w)}</li>" for w in result.warnings)
            parts.append(f"<details open><summary><b>Warnings ({len(result.warnings)})</b></summary>"
                         f"<ul>{items}</ul></details>")
        if s.get("flag_counts"):
            parts.append(f"<details open><summary><b>Rows per flag</b></summary>"
                         f"{_kv_table(sorted(s['flag_counts'].items()))}</details>")
        rules = s.get("rules") or {}
        order = list(RULE_TITLES)
        for key in sorted(rules, key=lambda k: (order.index(k) if k in order else len(order), k)):
            block = rules[key]
            body = _mapping_html(block) if isinstance(block, Mapping) else _cell(block)
            title = _esc(RULE_TITLES.get(key, key))
            parts.append(f"<details><summary><b>{title}</b></summary>{body}</details>")
        names = pd.Series(result.compounds["Name"].to_numpy(), index=result.compounds["row"].to_numpy())
        pairs = result.oac_pairs.head(_CHECK_ROWS)
        if {"oac_row", "base_row"} <= set(pairs.columns):
            pairs = pairs.assign(oac_name=pairs["oac_row"].map(names), base_name=pairs["base_row"].map(names))
        events = result.fragment_events.head(_CHECK_ROWS)
        if "parent_row" in events.columns:
            events = events.assign(parent_name=events["parent_row"].map(names))
        for title, shown, total in (("O-acetylation pairs", pairs, len(result.oac_pairs)),
                                    ("Fragment events", events, len(result.fragment_events))):
            parts.append(f"<details><summary><b>{title} ({total})</b></summary>"
                         f"{_frame_html(shown, total)}</details>")
        diagnostics = group_diagnostics(result)
        flagged = int((diagnostics["notes"] != "").sum())
        parts.append(f"<details open class='gnb-diagnostics'><summary><b>Diagnostics per model group "
                     f"({len(diagnostics)} groups, {flagged} with findings)</b></summary>"
                     f"<div style='color:#555'>Held-out fit, sample size, extrapolation, residual "
                     f"pattern along Log P (Durbin–Watson), scatter along RT, collinearity (VIF) and "
                     f"influential anchors (Cook's distance) of each model group.</div>"
                     f"{_frame_html(diagnostics.round(3))}</details>")
        return "".join(parts)

    @staticmethod
    def _provenance_html(result: AnalysisResult) -> str:
        p = dict(result.provenance)
        filename = p.get("input_filename") or result.input_report.filename
        facts = [("package version", p.get("version")), ("input sha256", p.get("input_sha256")),
                 ("file name", filename or "—"), ("created at", p.get("created_at")),
                 ("mode", result.mode)]
        shown = {"version", "input_sha256", "input_filename", "created_at", "mode", "libraries"}
        facts += [(k, v) for k, v in p.items() if k not in shown and not isinstance(v, Mapping)]
        libraries = p.get("libraries") or {}
        return (f"<b>Analysis</b>{_kv_table(facts)}"
                f"<b>Libraries</b>{_kv_table(libraries.items()) if libraries else '<div>—</div>'}"
                f"<b>Parameters (defaults included)</b>{_kv_table(result.params.to_dict().items())}")

    def _audit_html(self) -> str:
        """The stored session's audit trail (FEATURES.md H1), when the view has a repository
        with ``audit_log`` and a session id; one line saying why when it cannot be read."""
        audit_log = getattr(self.repository, "audit_log", None)
        if audit_log is None or self.session_id is None:
            return ""
        try:
            events = audit_log(self.session_id)
        except GangliosideError as exc:
            return f"<b>Audit trail</b><div class='gnb-muted'>{_esc(error_message(exc))}</div>"
        rows = "".join(
            f"<tr><td class='txt'>{_esc(e.at.strftime('%Y-%m-%d %H:%M:%S'))}</td>"
            f"<td class='txt'>{_esc(e.actor)}</td><td class='txt'>{_esc(e.action)}</td>"
            f"<td class='txt'>{_esc(', '.join(f'{k} {v}' for k, v in e.details.items()))}</td></tr>"
            for e in events)
        return (f"<b>Audit trail</b> <span class='gnb-muted'>(session #{self.session_id}, append-only, "
                f"times in UTC)</span><table class='gnb-audit'><tr><th>at</th><th>by</th><th>action</th>"
                f"<th>details</th></tr>{rows}</table>")

    def _refresh_audit(self) -> None:
        pages = self.tabs.children
        if self.result is not None and len(pages) == len(TAB_TITLES):
            page = pages[TAB_TITLES.index("Provenance")]
            page.value = _TABLE_CSS + self._provenance_html(self.result) + self._audit_html()

    # -- lazy tabs -----------------------------------------------------------------------------
    def render_plots(self) -> None:
        """Draw every figure of :func:`ganglioside_nb.plots.plot_all` as a PNG image with a link,
        then one link to all of them as a ZIP of PNG files and a button for a ZIP of SVG files."""
        from ..plots import plot_all
        from ..report import figure_bytes, zip_files

        result = self.result
        if result is None or self._plots_box is None:
            return
        stem = self.file_stem()
        items: list[W.Widget] = []
        images: dict[str, W.Image] = {}
        for name, figure in plot_all(result).items():
            data = figure_bytes(figure, "png")
            images[name] = tag(W.Image(value=data, format="png", layout=W.Layout(max_width="100%")),
                               "plot-image")
            link = tag(W.HTML(download_link(data, f"{stem}-{name}.png", f"Download {name}.png")),
                       "download-png")
            items.append(W.VBox([W.HTML(f"<b>{_esc(name.replace('_', ' '))}</b>"), images[name], link]))
        every = zip_files({f"{stem}-{name}.png": image.value for name, image in images.items()})
        all_png = tag(W.HTML(download_link(every, f"{stem}-figures-png.zip", "Download all (ZIP of PNG)"),
                             layout=W.Layout(margin="0 1em 0 0")), "download-png-zip")
        svg = self._on_demand("Prepare all as SVG (ZIP)", "svg-zip", self._svg_zip, "download-svg-zip")
        items.append(W.HBox([all_png, svg], layout=W.Layout(align_items="center")))
        for child in self._plots_box.children:
            close_tree(child)
        self._plots_box.children = items
        self.images = images

    def _on_demand(self, label: str, key: str, build: Any, role: str) -> W.Box:
        """A button that builds a file when pressed, then gives way to its download link."""
        box = W.HBox([])
        button = tag(W.Button(description=label, layout=W.Layout(width="auto")), f"build-{key}")

        def pressed(_button: Any) -> None:
            button.disabled, button.description = True, "Preparing ..."
            try:
                link = tag(W.HTML(build()), role)
            finally:
                button.disabled, button.description = False, label
            self.downloads[key] = link
            box.children = [link]
            close_tree(button)

        button.on_click(catch_errors(self.state)(pressed))
        box.children = [button]
        return box

    def _svg_zip(self) -> str:
        from ..report import figures_zip

        assert self.result is not None
        data = figures_zip(self.result, "svg")
        return download_link(data, f"{self.file_stem()}-figures-svg.zip", "Download all (ZIP of SVG)")

    def _html_report(self) -> str:
        from ..report import html_report

        assert self.result is not None
        drawn = {name: image.value for name, image in self.images.items()} or None
        data = html_report(self.result, figures=drawn).encode("utf-8")
        self._record("html", data)
        return (f"{download_link(data, f'{self.file_stem()}-report.html', 'Download HTML report')} "
                f"<span style='color:#555'>({len(data) / 1024:,.0f} KiB: summary, figures, tables and "
                f"provenance in one self-contained page)</span>")

    def _record(self, fmt: str, data: bytes) -> None:
        if self.repository is not None and self.session_id is not None:
            self.repository.record_export(self.session_id, fmt, data, via="ui")
            self._refresh_audit()

    def build_downloads(self) -> None:
        """Build the CSV, XLSX and JSON downloads (and record them, see the module docstring)."""
        result = self.result
        if result is None or self._export_box is None:
            return
        stem = f"{self.file_stem()}-results"
        notes = {"csv": "compounds, after '#' lines with version, input SHA-256 and parameters",
                 "xlsx": "one sheet per table, statistics and parameters",
                 "json": "everything, strict JSON"}
        files = {"csv": result.to_csv(), "xlsx": result.to_xlsx(), "json": result.to_json()}
        links = {fmt: tag(W.HTML(f"{download_link(data, f'{stem}.{fmt}', f'Download {fmt.upper()}')} "
                                 f"<span style='color:#555'>({len(data) / 1024:,.0f} KiB: "
                                 f"{notes[fmt]})</span>"), f"download-{fmt}")
                 for fmt, data in files.items()}
        report = self._on_demand("Build HTML report", "html", self._html_report, "download-html")
        for child in self._export_box.children:
            close_tree(child)
        self._export_box.children = [*links.values(), report]
        self.downloads = links
        for fmt, data in files.items():
            self._record(fmt, data)

