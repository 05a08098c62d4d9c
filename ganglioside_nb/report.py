"""Reports and figure files of one analysis (FEATURES.md H10 and E6).

* :func:`html_report` renders one self-contained HTML page: the summary, the warnings, every
  figure (PNG embedded as ``data:`` URIs), the models, the compounds, the chemistry checks, the
  input report, the parameters and the provenance. Nothing is fetched from elsewhere: no
  script, stylesheet, font or image leaves the file, so it can be mailed or archived as is.
* :func:`figure_bytes` and :func:`figures_zip` give the :mod:`~ganglioside_nb.plots` figures as
  PNG or SVG files, singly or together in one zip.

It sits beside ``plots`` above the pure ring: it imports ``plots`` (and so matplotlib, inside
the functions that draw) and the pure ring, nothing else. Every text cell is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import InvalidParameterError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .core.results import AnalysisResult

__all__ = ["FIGURE_FORMATS", "figure_bytes", "figures_zip", "html_report", "write_report", "zip_files"]

FIGURE_FORMATS = ("png", "svg")
#: Rows of one table shown in a report; longer tables say how many were left out.
DEFAULT_MAX_ROWS = 5_000
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:78em;
padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.meta{color:#555}.cards{display:flex;flex-wrap:wrap;gap:.6em}
.card{border:1px solid #ccc;border-radius:6px;padding:.5em .8em;min-width:8em}
.card b{display:block;font-size:1.4em}.note{color:#555;font-style:italic}
.scroll{overflow-x:auto;max-height:40em;overflow-y:auto;border:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em}th,td{border:1px solid #ddd;padding:.2em .5em;text-align:left}
th{background:#f4f4f4;position:sticky;top:0}tr:nth-child(even) td{background:#fafafa}
figure{display:inline-block;margin:.5em;vertical-align:top}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-weight:bold;text-align:center}ul.warn li{color:#8a4b00}
"""


# -- figures -------------------------------------------------------------------------------------
def _check_format(fmt: str) -> str:
    if fmt not in FIGURE_FORMATS:
        raise InvalidParameterError(f"figure format must be one of {', '.join(FIGURE_FORMATS)}. "
                                    f"Got {fmt!r} instead.", parameter="format", value=fmt)
    return fmt


def figure_bytes(figure: Figure, fmt: str = "png", *, dpi: int = 90) -> bytes:
    """One figure as PNG or SVG bytes, drawn on an Agg canvas (no pyplot); SVG carries no
    creation date, so the same figure gives the same bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    svg = _check_format(fmt) == "svg"
    # SVG element ids are random unless salted
    with matplotlib.rc_context({"svg.hashsalt": "ganglioside_nb"} if svg else {}):
        figure.savefig(buffer, format=fmt, dpi=dpi, metadata={"Date": None} if svg else {})
    return buffer.getvalue()


def _figures(result: AnalysisResult, fmt: str, dpi: int) -> dict[str, bytes]:
    from .plots import plot_all

    return {name: figure_bytes(figure, fmt, dpi=dpi) for name, figure in plot_all(result).items()}


def zip_files(files: Mapping[str, bytes]) -> bytes:
    """``{name: bytes}`` as one deflated zip with fixed entry times (same files, same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), data)
    return buffer.getvalue()


def figures_zip(result: AnalysisResult, fmt: str = "png", *, dpi: int = 90) -> bytes:
    """Every figure of :func:`~ganglioside_nb.plots.plot_all` as ``<name>.<fmt>`` in one zip."""
    figures = _figures(result, _check_format(fmt), dpi)
    return zip_files({f"{name}.{fmt}": data for name, data in figures.items()})


# -- the report ----------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(frame: pd.DataFrame, max_rows: int, what: str) -> str:
    if frame is None or not len(frame):
        return f"<p class='note'>No {_e(what)}.</p>"
    shown = frame.head(max_rows)
    body = shown.to_html(index=False, escape=True, na_rep="", border=0,
                         float_format=lambda v: f"{v:.4g}")
    note = (f"<p class='note'>The first {len(shown):,} of {len(frame):,} {_e(what)}; every row is in "
            f"the CSV, XLSX and JSON exports.</p>" if len(shown) < len(frame) else "")
    return f"{note}<div class='scroll'>{body}</div>"


def _pairs(items: Mapping[str, Any] | list[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                   for k, v in (items.items() if isinstance(items, Mapping) else items))
    return f"<table>{rows}</table>"


def _flat(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(_flat(value, f"{name}."))
        else:
            out.append((name, value))
    return out


def _number(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _cards(stats: Mapping[str, Any]) -> str:
    cards = [("rows", f"{stats['total_rows']:,}"), ("analysed", f"{stats['analysed_rows']:,}"),
             ("rejected", f"{stats['rejected_rows']:,}"), ("anchors", f"{stats['anchors']:,}"),
             ("valid", f"{stats['valid']:,}"), ("outliers", f"{stats['outliers']:,}"),
             ("fragments", f"{stats['fragments']:,}"), ("success rate", f"{stats['success_rate']:.1f} %"),
             ("coverage", f"{stats['coverage']:.1f} %"),
             ("held-out R²", _number(stats.get("oos_r2"), ".3f")),
             ("held-out MAE", _number(stats.get("oos_mae"), ".3f") + " min"),
             ("mean confidence", _number(stats.get("mean_confidence"), ".2f"))]
    return "<div class='cards'>" + "".join(
        f"<div class='card' data-stat='{_e(label)}'><b>{_e(value)}</b>{_e(label)}</div>"
        for label, value in cards) + "</div>"


def html_report(result: AnalysisResult, *, title: str | None = None,
                max_rows: int = DEFAULT_MAX_ROWS, figures: Mapping[str, bytes] | None = None,
                dpi: int = 90) -> str:
    """The whole analysis as one self-contained HTML page (UTF-8 text).

    Parameters
    ----------
    title : page title (default: "Ganglioside analysis: <input file name>").
    max_rows : rows shown of each table (compounds, checks, input report); the page says how
        many were left out.
    figures : PNG bytes by figure name, when they were drawn already (the results view has
        them); else every figure of :func:`~ganglioside_nb.plots.plot_all` is drawn at ``dpi``.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise InvalidParameterError(f"max_rows must be a positive integer. Got {max_rows!r} instead.",
                                    parameter="max_rows", value=max_rows)
    prov, stats = result.provenance, result.statistics
    source = prov.get("input_filename") or "input"
    title = title or f"Ganglioside analysis: {source}"
    gallery = "".join(
        f"<figure><img alt='{_e(name)}' src='data:image/png;base64,"
        f"{base64.b64encode(data).decode('ascii')}'><figcaption>{_e(name.replace('_', ' '))}"
        f"</figcaption></figure>"
        for name, data in (figures if figures is not None else _figures(result, "png", dpi)).items())
    warnings = ("<ul class='warn'>" + "".join(f"<li>{_e(w)}</li>" for w in result.warnings) + "</ul>"
                if result.warnings else "<p class='note'>None.</p>")
    report = result.input_report
    sections = [
        ("Summary", _cards(stats) + f"<p>Mode <b>{_e(stats['mode'])}</b>; validation "
                                    f"{_e(stats.get('validation_method') or '–')}; "
                                    f"{stats['n_models_accepted']} of {stats['n_models']} model(s) "
                                    f"accepted.</p>"),
        ("Warnings", warnings),
        ("Figures", gallery or "<p class='note'>No figures.</p>"),
        ("Models", _table(result.models, max_rows, "models")),
        ("Compounds", _table(result.compounds, max_rows, "compounds")),
        ("Held-out predictions of the anchors", _table(result.validation, max_rows, "anchors")),
        ("O-acetylation pairs (Rule 4)", _table(result.oac_pairs, max_rows, "pairs")),
        ("Fragment events (Rule 5)", _table(result.fragment_events, max_rows, "events")),
        ("Input report", f"<p>{report.n_rejected:,} of {report.total_rows:,} rows rejected.</p>"
                         + _table(report.entries, max_rows, "rejected cells")),
        ("Parameters", _pairs(result.params.to_dict())),
        ("Provenance", _pairs(_flat(prov))),
    ]
    made = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    body = "".join(f"<section id='{_e(name.split()[0].lower())}'><h2>{_e(name)}</h2>{content}</section>"
                   for name, content in sections)
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1><p class='meta'>{_e(prov.get('package', 'ganglioside_nb'))} "
            f"{_e(prov.get('version', ''))}; input SHA-256 <code>{_e(prov.get('input_sha256', ''))}</code>; "
            f"analysed {_e(prov.get('created_at', ''))}; report made {_e(made)}.</p>"
            f"{body}</body></html>\n")


def write_report(result: AnalysisResult, path: str | os.PathLike[str], **options: Any) -> Path:
    """Write :func:`html_report` to ``path`` (UTF-8); returns the path."""
    target = Path(path)
    target.write_text(html_report(result, **options), encoding="utf-8")
    return target
