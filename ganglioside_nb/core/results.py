"""The result objects of an analysis: :class:`AnalysisResult` and :class:`InputReport`.

Both render themselves (``__repr__`` and ``_repr_html_``), expose their tables as public
attributes and offer ``to_frames()``; exports are one call away (``result.to_xlsx()``), with
the writing itself in ``ganglioside_nb.io.export``.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .schema import INPUT_REPORT_COLUMNS

if TYPE_CHECKING:
    from ..params import AnalysisParams

__all__ = ["AnalysisResult", "InputReport"]

_STATUS_COLOURS = {"valid": "#1b9e77", "outlier": "#d95f02", "fragment": "#7570b3",
                   "rejected": "#666666"}


def _table_html(frame: pd.DataFrame, max_rows: int = 10) -> str:
    return frame.head(max_rows).to_html(index=False, border=0, na_rep="", float_format="{:.4g}".format,
                                        classes="gnb-table", escape=True)


@dataclass(frozen=True, eq=False)
class InputReport:
    """Rejected-row problems (one entry per problem) plus file-level facts.

    ``entries`` has the columns ``row`` (0-based data row), ``line`` (1-based file line,
    header = 1), ``column``, ``value`` (raw text) and ``reason``.
    """

    entries: pd.DataFrame
    total_rows: int
    column_mapping: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def empty(cls, total_rows: int = 0) -> InputReport:
        return cls(pd.DataFrame({c: pd.Series(dtype="int64" if c in ("row", "line") else object)
                                 for c in INPUT_REPORT_COLUMNS}), total_rows)

    @property
    def rejected_rows(self) -> np.ndarray:
        return np.unique(self.entries["row"].to_numpy(dtype=np.int64))

    @property
    def n_rejected(self) -> int:
        return int(self.rejected_rows.size)

    def reasons_by_row(self) -> dict[int, str]:
        """One summary text per rejected row (its problems joined by '; ')."""
        if self.entries.empty:
            return {}
        grouped = self.entries.groupby("row", sort=True)["reason"].agg("; ".join)
        return {int(k): str(v) for k, v in grouped.items()}

    def to_frame(self) -> pd.DataFrame:
        return self.entries.copy()

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return (f"InputReport({self.total_rows} rows, {self.n_rejected} rejected, "
                f"{len(self.entries)} problems)")

    def _repr_html_(self) -> str:
        head = (f"<b>Input report</b>{' for ' + html.escape(self.filename) if self.filename else ''}: "
                f"{self.total_rows} rows, {self.n_rejected} rejected")
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        body = _table_html(self.entries, 20) if len(self.entries) else "<p>No problems found.</p>"
        return f"<div class='gnb-input-report'>{head}<ul>{notes}</ul>{body}</div>"


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Everything one analysis produced (ALGORITHM.md §7). Treat it as immutable.

    Attributes
    ----------
    compounds : one row per input data row, in input order; contract columns first.
    models : one row per model or prefix group (incl. groups skipped for lack of anchors).
    input_report : the rejected-row problems (:class:`InputReport`).
    oac_pairs, fragment_events : Rule 4 pairs and Rule 5 events.
    validation : per-anchor out-of-sample predictions of the judging model(s).
    statistics : counts, rates, overall out-of-sample figures, per-rule statistics.
    params : the :class:`~ganglioside_nb.AnalysisParams` used, defaults included.
    warnings : set-level findings as text.
    provenance : package version, input sha256, timestamp, source name, library versions.
    """

    compounds: pd.DataFrame
    models: pd.DataFrame
    input_report: InputReport
    oac_pairs: pd.DataFrame
    fragment_events: pd.DataFrame
    validation: pd.DataFrame
    statistics: dict[str, Any]
    params: AnalysisParams
    warnings: tuple[str, ...]
    provenance: dict[str, Any]

    # -- convenience --------------------------------------------------------------------------
    @property
    def version(self) -> str:
        return str(self.provenance["version"])

    @property
    def input_sha256(self) -> str:
        return str(self.provenance["input_sha256"])

    @property
    def mode(self) -> str:
        return self.params.mode

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Every table of the result, plus statistics and parameters as two-column frames."""
        stats = {k: v for k, v in self.statistics.items() if not isinstance(v, dict | list)}
        return {
            "compounds": self.compounds,
            "models": self.models,
            "statistics": pd.DataFrame({"statistic": list(stats), "value": list(stats.values())}),
            "parameters": pd.DataFrame({"parameter": list(self.params.to_dict()),
                                        "value": [json.dumps(v) if isinstance(v, list) else v
                                                  for v in self.params.to_dict().values()]}),
            "input_report": self.input_report.entries,
            "oac_pairs": self.oac_pairs,
            "fragment_events": self.fragment_events,
            "validation": self.validation,
        }

    def equals(self, other: AnalysisResult) -> bool:
        """Same tables, statistics, parameters, warnings and provenance."""
        if not isinstance(other, AnalysisResult):
            return False
        mine, theirs = self.to_frames(), other.to_frames()
        return (all(mine[k].equals(theirs[k]) for k in mine)
                and self.params == other.params and self.warnings == other.warnings
                and json.dumps(self.statistics, sort_keys=True, default=str)
                == json.dumps(other.statistics, sort_keys=True, default=str)
                and self.provenance == other.provenance)

    def differences(self, other: AnalysisResult) -> tuple[str, ...]:
        """What differs from ``other`` (a result of the same input), one line per table column,
        table, statistic group, parameter set or warning list; empty when tables, statistics,
        parameters and warnings are identical. Provenance (when, where, which versions) is not
        compared: it says how a result was made, not what it is.

        Examples
        --------
        >>> import ganglioside_nb as gnb
        >>> a = gnb.analyze(gnb.datasets.sample_path("testwork"))
        >>> a.differences(gnb.analyze(gnb.datasets.sample_path("testwork")))
        ()
        >>> a.differences(gnb.analyze(gnb.datasets.sample_path("testwork"), rt_tolerance=0.2))[0]
        'parameters: rt_tolerance differs'
        """
        if not isinstance(other, AnalysisResult):
            raise TypeError(f"other must be an AnalysisResult. Got {type(other).__name__} instead.")
        lines: list[str] = []
        if self.params != other.params:
            mine, theirs = self.params.to_dict(), other.params.to_dict()
            changed = [k for k in mine if mine.get(k) != theirs.get(k)]
            lines.append(f"parameters: {', '.join(changed)} differ{'s' if len(changed) == 1 else ''}")
        stats = [k for k in sorted(set(self.statistics) | set(other.statistics))
                 if json.dumps(self.statistics.get(k), sort_keys=True, default=str)
                 != json.dumps(other.statistics.get(k), sort_keys=True, default=str)]
        if stats:
            lines.append(f"statistics: {', '.join(stats)} differ{'s' if len(stats) == 1 else ''}")
        if self.warnings != other.warnings:
            lines.append(f"warnings: {len(self.warnings)} vs {len(other.warnings)}, "
                         f"{len(set(self.warnings) ^ set(other.warnings))} not in both")
        theirs_frames = other.to_frames()
        for name, frame in self.to_frames().items():
            if name not in ("statistics", "parameters"):  # compared above, value by value
                lines.extend(_frame_differences(name, frame, theirs_frames[name]))
        return tuple(lines)

    # -- exports (written by ganglioside_nb.io.export) ------------------------------------------
    def to_csv(self, path: str | Path | None = None) -> bytes:
        from ..io.export import to_csv
        return _maybe_write(to_csv(self), path)

    def to_xlsx(self, path: str | Path | None = None) -> bytes:
        from ..io.export import to_xlsx
        return _maybe_write(to_xlsx(self), path)

    def to_json(self, path: str | Path | None = None) -> bytes:
        from ..io.export import to_json
        return _maybe_write(to_json(self), path)

    # -- rendering ----------------------------------------------------------------------------
    def summary(self) -> str:
        """A few lines for terminals and logs."""
        s = self.statistics
        lines = [
            f"ganglioside_nb {self.version} - mode {self.mode} - input sha256 {self.input_sha256[:12]}",
            f"rows {s['total_rows']} (rejected {s['rejected_rows']}, analysed {s['analysed_rows']}, "
            f"anchors {s['anchors']})",
            f"valid {s['valid']}, outliers {s['outliers']}, fragments {s['fragments']} - "
            f"success rate {s['success_rate']:.2f} %, coverage {s['coverage']:.2f} %",
        ]
        if s.get("oos_r2") is not None:
            lines.append(f"out-of-sample ({s.get('validation_method', '')}) R² {s['oos_r2']:.4f}, "
                         f"MAE {s['oos_mae']:.3f} min, max error {s['oos_max_error']:.3f} min; "
                         f"models {s['n_models_accepted']}/{s['n_models']} accepted")
        lines += [f"warning: {w}" for w in self.warnings[:5]]
        if len(self.warnings) > 5:
            lines.append(f"... and {len(self.warnings) - 5} more warnings")
        return "\n".join(lines)

    def __repr__(self) -> str:
        s = self.statistics
        return (f"<AnalysisResult mode={self.mode} rows={s['total_rows']} valid={s['valid']} "
                f"outliers={s['outliers']} fragments={s['fragments']} rejected={s['rejected_rows']}>")

    def _repr_html_(self) -> str:
        s = self.statistics
        cards = "".join(
            f"<div style='display:inline-block;margin:0 12px 6px 0'><div style='font-size:1.4em;"
            f"color:{colour}'>{value}</div><div style='font-size:0.8em;color:#555'>{label}</div></div>"
            for label, value, colour in [
                ("rows", s["total_rows"], "#222"), ("anchors", s["anchors"], "#222"),
                ("valid", s["valid"], _STATUS_COLOURS["valid"]),
                ("outliers", s["outliers"], _STATUS_COLOURS["outlier"]),
                ("fragments", s["fragments"], _STATUS_COLOURS["fragment"]),
                ("rejected", s["rejected_rows"], _STATUS_COLOURS["rejected"]),
                ("coverage", f"{s['coverage']:.1f} %", "#222"),
                ("out-of-sample R²", "—" if s.get("oos_r2") is None else f"{s['oos_r2']:.3f}", "#222"),
            ])
        cols = ["row", "Name", "RT", "Anchor", "status", "predicted_rt", "z", "model", "reason",
                "flags", "confidence"]
        worst = self.compounds[self.compounds["status"] != "valid"][cols]
        models = self.models[[c for c in ("model", "scope", "n_anchors", "n_rows", "validation", "r2",
                                          "mae", "accepted") if c in self.models]]
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings[:10])
        return (
            f"<div class='gnb-result'><b>ganglioside_nb analysis</b> "
            f"<span style='color:#555'>mode {self.mode}, version {html.escape(self.version)}, "
            f"input sha256 {self.input_sha256[:12]}…</span><div style='margin:8px 0'>{cards}</div>"
            f"<details><summary>Rows not valid ({len(worst)})</summary>{_table_html(worst, 25)}</details>"
            f"<details><summary>Models ({len(self.models)})</summary>{_table_html(models, 50)}</details>"
            f"<details><summary>Warnings ({len(self.warnings)})</summary><ul>{warn}</ul></details>"
            f"<details><summary>Input report ({self.input_report.n_rejected} rejected rows)</summary>"
            f"{self.input_report._repr_html_()}</details></div>"
        )


def _frame_differences(name: str, mine: pd.DataFrame, theirs: pd.DataFrame) -> list[str]:
    """One line per difference between two versions of one result table."""
    if mine.equals(theirs) and list(mine.columns) == list(theirs.columns):
        return []
    lines = []
    gone = [c for c in mine.columns if c not in theirs.columns]
    new = [c for c in theirs.columns if c not in mine.columns]
    if gone or new:
        lines.append(f"{name}: columns {', '.join(map(str, gone)) or '-'} only in the first, "
                     f"{', '.join(map(str, new)) or '-'} only in the second")
    if len(mine) != len(theirs):
        return [*lines, f"{name}: {len(mine)} rows vs {len(theirs)}"]
    for column in (c for c in mine.columns if c in theirs.columns):
        a, b = mine[column], theirs[column]
        if a.equals(b):
            continue
        if a.dtype != b.dtype:
            lines.append(f"{name}.{column}: dtype {a.dtype} vs {b.dtype}")
            continue
        if a.dtype == object:  # lists, texts, mixed: cell by cell
            differ = ~np.array([_same(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)],
                               dtype=bool)
        else:  # pandas' comparison: NA (nullable dtypes) where a side is missing
            a, b = a.reset_index(drop=True), b.reset_index(drop=True)
            equal = (a == b).fillna(False).to_numpy(dtype=bool)
            differ = ~(equal | (a.isna().to_numpy() & b.isna().to_numpy()))
        if not differ.any():  # equal values under another index
            continue
        text = f"{name}.{column}: {int(differ.sum())} of {len(a)} values differ"
        if pd.api.types.is_numeric_dtype(a.dtype) and not pd.api.types.is_bool_dtype(a.dtype):
            gap = np.abs(a.to_numpy(dtype=float, na_value=np.nan) - b.to_numpy(dtype=float, na_value=np.nan))
            if np.isfinite(gap[differ]).any():
                text += f" (largest difference {np.nanmax(gap[differ]):.3g})"
        first = int(np.flatnonzero(differ)[0])
        (x,), (y,) = a.iloc[first:first + 1].tolist(), b.iloc[first:first + 1].tolist()  # plain values
        lines.append(f"{text}; first at position {first}: {_short(x)} vs {_short(y)}")
    return lines


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def _same(x: Any, y: Any) -> bool:
    """Equal cells, missing values (None, NaN, NA) equal to each other."""
    x_missing = x is None or (np.ndim(x) == 0 and bool(pd.isna(x)))
    y_missing = y is None or (np.ndim(y) == 0 and bool(pd.isna(y)))
    if x_missing or y_missing:
        return x_missing and y_missing
    try:
        return bool(np.all(x == y)) and np.shape(x) == np.shape(y)
    except (TypeError, ValueError):
        return False


def _maybe_write(data: bytes, path: str | Path | None) -> bytes:
    if path is not None:
        Path(path).write_bytes(data)
    return data
