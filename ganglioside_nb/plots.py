"""Figures of an analysis: one function per figure, each taking an :class:`AnalysisResult` and
returning a :class:`matplotlib.figure.Figure`.

Layer: ``plots`` sits in the pure ring next to the core and imports only the pure modules plus
matplotlib; the core never imports it. Figures are built from :class:`~matplotlib.figure.Figure`
directly, never through ``pyplot``, so no global state is touched, nothing opens a window and
the functions are safe in threads, Voila apps and Dask workers. Every single-panel function also
accepts an existing ``ax`` to draw into (the figure of that axes is returned).

Figures (FEATURES.md D6): :func:`rt_vs_logp`, :func:`residual_plot`,
:func:`predicted_vs_observed`, :func:`category_summary`, :func:`fragment_map`,
:func:`distributions` (RT, Log P and confidence histograms), :func:`pass_rate_by_prefix`,
:func:`oac_shift_histogram` (Rule 4 RT shifts), all of them at once with :func:`plot_all`,
and :func:`session_trends` across stored sessions.

Colours and markers: the status colours of the result tables (Dark2 greens, orange, purple
and grey, distinguishable with the common colour-vision deficiencies) always come with a
distinct marker (or hatch) per status, so colour is never the only cue. Anchors get an open
black diamond around their status marker. :data:`PALETTE` holds the category colours shared
with the UI (FEATURES.md C12).

Every function is deterministic (no jitter, no random sampling): the same result gives the
same figure.

>>> import ganglioside_nb as gnb
>>> from ganglioside_nb.plots import plot_all
>>> figures = plot_all(gnb.analyze(gnb.datasets.sample_path("testwork")))
>>> sorted(figures)  # doctest: +NORMALIZE_WHITESPACE
['category_summary', 'distributions', 'fragment_map', 'oac_shift', 'pass_rate_by_prefix',
 'predicted_vs_observed', 'residuals', 'rt_vs_logp']
>>> type(figures["rt_vs_logp"]).__name__
'Figure'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .core.results import _STATUS_COLOURS
from .core.rules.derive_confidence import CONFIDENCE_LEVELS
from .errors import InvalidParameterError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .core.results import AnalysisResult

__all__ = [
    "PALETTE",
    "STATUS_COLOURS",
    "STATUS_MARKERS",
    "category_summary",
    "distributions",
    "fragment_map",
    "oac_shift_histogram",
    "pass_rate_by_prefix",
    "plot_all",
    "predicted_vs_observed",
    "residual_plot",
    "rt_vs_logp",
    "session_trends",
]

#: Category colours shared by every view (FEATURES.md C12).
PALETTE: dict[str, str] = {"GM": "#1f77b4", "GD": "#ff7f0e", "GT": "#2ca02c", "GQ": "#d62728",
                           "GP": "#9467bd", "other": "#888888"}
#: Status colours, the same as in the result's HTML summary.
STATUS_COLOURS: dict[str, str] = dict(_STATUS_COLOURS)
#: One marker per status, so that colour is never the only cue.
STATUS_MARKERS: dict[str, str] = {"valid": "o", "outlier": "^", "fragment": "s", "rejected": "X"}
_STATUS_HATCHES = {"valid": "", "outlier": "///", "fragment": "...", "rejected": "xx"}
_STATUS_ORDER = ("valid", "outlier", "fragment", "rejected")
#: The statuses of the rows the rules judged (every analysed row: rejected rows are left out).
_JUDGED = ("valid", "outlier", "fragment")
_OTHER_COLOUR = "#999999"
_ANCHOR_STYLE: dict[str, Any] = {"marker": "D", "facecolors": "none", "edgecolors": "black",
                                 "linewidths": 0.9, "s": 62, "zorder": 4}
_BAND_COLOUR = "#4d4d4d"
_SERIES_STYLES: tuple[Literal["-", "--", ":", "-."], ...] = ("-", "--", ":", "-.")
_NUMERIC = ("RT", "Log P", "predicted_rt", "pi_low", "pi_high", "z", "residual", "Volume", "confidence")
_FONT = {"title": 10, "label": 9, "tick": 8, "note": 8, "point_label": 6.5}


# -- shared helpers ------------------------------------------------------------------------------
def _frame(result: AnalysisResult) -> pd.DataFrame:
    """The compounds table with the columns the plots read, in plain dtypes (missing -> NaN/"")."""
    c = result.compounds
    out = pd.DataFrame(index=c.index)
    for col in _NUMERIC:
        out[col] = (pd.to_numeric(c[col], errors="coerce").astype(float) if col in c
                    else np.full(len(c), np.nan))
    for col in ("Name", "status", "model", "prefix", "category", "isomer_series"):
        out[col] = (c[col].astype(object).where(c[col].notna(), "").astype(str) if col in c
                    else np.full(len(c), "", dtype=object))
    out["Anchor"] = c["Anchor"].fillna(False).astype(bool) if "Anchor" in c else False
    out["row"] = c["row"].to_numpy() if "row" in c else np.arange(len(c))
    return out


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _style_axes(ax: Axes, *, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=_FONT["title"])
    ax.set_xlabel(xlabel, fontsize=_FONT["label"])
    ax.set_ylabel(ylabel, fontsize=_FONT["label"])
    ax.tick_params(labelsize=_FONT["tick"])
    ax.grid(True, color="#e5e5e5", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)


def _message(ax: Axes, text: str) -> None:
    """A centred note in place of the data (empty selections, no model ...)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", wrap=True,
            fontsize=_FONT["label"], color="#444444", gid="message")
    ax.set_xticks([])
    ax.set_yticks([])


def _statuses(frame: pd.DataFrame) -> list[str]:
    present = set(frame["status"])
    return [s for s in _STATUS_ORDER if s in present] + sorted(present - set(_STATUS_ORDER))


def _scatter_by_status(ax: Axes, frame: pd.DataFrame, x: str, y: str, *, size: float = 26,
                       counts_in_label: bool = True) -> None:
    """One scatter collection per status (gid ``status:<status>``), then the anchor rings."""
    ok = np.isfinite(frame[x].to_numpy()) & np.isfinite(frame[y].to_numpy())
    shown = frame[ok]
    for status in _statuses(shown):
        part = shown[shown["status"] == status]
        label = f"{status or 'no status'} ({len(part)})" if counts_in_label else (status or "no status")
        ax.scatter(part[x], part[y], s=size, marker=STATUS_MARKERS.get(status, "o"),
                   color=STATUS_COLOURS.get(status, _OTHER_COLOUR), edgecolors="white",
                   linewidths=0.4, alpha=0.9, zorder=3, label=label, gid=f"status:{status}")
    anchors = shown[shown["Anchor"]]
    if len(anchors):
        ax.scatter(anchors[x], anchors[y], label=f"anchor ({len(anchors)})", gid="anchors",
                   **_ANCHOR_STYLE)


def _legend(ax: Axes, **kwargs: Any) -> None:
    kwargs.setdefault("loc", "best")
    ax.legend(fontsize=_FONT["note"], framealpha=0.9, **kwargs)


def _padded(values: Iterable[float], *, frac: float = 0.06, minimum: float = 0.1) -> tuple[float, float]:
    arr = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if arr.size == 0:
        return (0.0, 1.0)
    lo, hi = float(arr.min()), float(arr.max())
    pad = max((hi - lo) * frac, minimum)
    return lo - pad, hi + pad


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidParameterError(f"{name} must be an integer >= 1. Got {value!r} instead.",
                                    parameter=name, value=repr(value))
    return int(value)


def _place_labels(ax: Axes, items: Sequence[tuple[float, float, str]], *, fontsize: float, colour: str,
                  gid: str, limit: int | None = None,
                  offsets: Sequence[tuple[float, float]] | None = None) -> int:
    """Write each text next to its point where it overlaps no earlier label; returns how many.

    Greedy and deterministic: items are tried in the given order (most important first), each
    at a few offsets around its point; a label that fits nowhere inside the axes is left out.
    Text extents are estimated from the font size, so no renderer is needed; call this after
    the axis limits are final.
    """
    if not items:
        return 0
    scale = ax.figure.dpi / 72.0
    box = ax.get_window_extent()
    taken: list[tuple[float, float, float, float]] = []
    candidates = offsets or ((4.0, 3.0), (4.0, -9.0), (-4.0, 3.0), (-4.0, -9.0))
    placed = 0
    for x, y, text in items:
        if limit is not None and placed >= limit:
            break
        px, py = ax.transData.transform((x, y))
        # DejaVu Sans averages ~0.6 em per character, capitals and digits ~0.7 em; keep a margin.
        width, height = (0.7 * fontsize * len(text) + 2.0) * scale, 1.2 * fontsize * scale
        for dx, dy in candidates:
            left = px + dx * scale - (width if dx < 0 else 0.0)
            if dx == 0:
                left = px - width / 2
            bottom = py + dy * scale
            rect = (left, bottom, left + width, bottom + height)
            inside = box.x0 <= rect[0] and rect[2] <= box.x1 and box.y0 <= rect[1] and rect[3] <= box.y1
            clash = any(rect[0] < t[2] and t[0] < rect[2] and rect[1] < t[3] and t[1] < rect[3]
                        for t in taken)
            if inside and not clash:
                taken.append(rect)
                ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                            color=colour, ha="right" if dx < 0 else "center" if dx == 0 else "left",
                            va="bottom", gid=gid, annotation_clip=True)
                placed += 1
                break
    return placed


# -- 1. RT vs Log P per model group --------------------------------------------------------------
def _group_key(frame: pd.DataFrame) -> pd.Series:
    """The model group of each row: its prefix (one model per prefix in both modes)."""
    key = frame["prefix"].where(frame["prefix"] != "", frame["model"])
    return key.where(key != "", "(no prefix)")


def _fit_rows(part: pd.DataFrame) -> pd.DataFrame:
    """Rows with a model prediction (trusted anchors of reference mode have no fitted line)."""
    ok = (np.isfinite(part["predicted_rt"].to_numpy()) & np.isfinite(part["Log P"].to_numpy())
          & (part["model"] != "").to_numpy() & ~part["model"].str.endswith("_trusted").to_numpy())
    return part[ok]


def _series_of(fit: pd.DataFrame) -> list[str]:
    values = sorted(set(fit["isomer_series"]), key=lambda s: ({"first": 0, "second": 1}.get(s, 2), s))
    return values or [""]


def _model_info(result: AnalysisResult, part: pd.DataFrame) -> str:
    models = sorted(m for m in set(part["model"]) if m)
    if not models:
        return "no model"
    fitted = [m for m in models if not m.endswith("_trusted")]
    if not fitted:
        return "trusted anchors, no fit"
    table = result.models
    r2 = np.nan
    if "model" in table and "r2" in table:
        match = table[table["model"] == fitted[0]]
        if len(match):
            r2 = float(pd.to_numeric(match["r2"], errors="coerce").iloc[0])
    n_anchor = int(part["Anchor"].sum())
    return f"{n_anchor} anchor{'' if n_anchor == 1 else 's'}" + (f", R² {r2:.3f}" if np.isfinite(r2) else "")


def _select_groups(frame: pd.DataFrame, groups: str | Sequence[str] | None, max_panels: int,
                   single: bool) -> list[str]:
    key = _group_key(frame)
    plottable = np.isfinite(frame["RT"].to_numpy()) & np.isfinite(frame["Log P"].to_numpy())
    sizes = key[plottable].value_counts()
    ranked = sorted(sizes.index, key=lambda g: (-int(sizes[g]), g))
    if groups is None:
        return ranked[: 1 if single else max_panels]
    wanted = [groups] if isinstance(groups, str) else list(groups)
    if not wanted:
        raise InvalidParameterError("groups must name at least one model group. Got [] instead.",
                                    parameter="groups")
    aliases: dict[str, str] = {}
    for g, m in zip(key, frame["model"], strict=True):
        aliases.setdefault(g, g)
        if m:
            aliases.setdefault(m, g)
    chosen: list[str] = []
    for name in wanted:
        if name not in aliases:
            known = ", ".join(repr(g) for g in ranked[:8]) + (", ..." if len(ranked) > 8 else "")
            raise InvalidParameterError(
                f"groups must name model groups of this result (a prefix or a model id, e.g. {known}). "
                f"Got {name!r} instead.", parameter="groups", value=repr(name))
        if aliases[name] not in chosen:
            chosen.append(aliases[name])
    if single and len(chosen) > 1:
        raise InvalidParameterError(
            f"groups must name one model group when ax is given. Got {len(chosen)} groups instead.",
            parameter="groups")
    return chosen


def _draw_group(ax: Axes, result: AnalysisResult, part: pd.DataFrame, name: str, *,
                label_outliers: bool, max_labels: int) -> None:
    _scatter_by_status(ax, part, "Log P", "RT", counts_in_label=False)
    fit = _fit_rows(part)
    series = _series_of(fit)
    y_values = [*part["RT"], *fit["predicted_rt"]]
    band_values: list[float] = []
    for i, s in enumerate(series):
        rows = fit[fit["isomer_series"] == s] if s else fit
        if rows.empty:
            continue
        # One point per Log P: anchors are predicted out-of-sample, so their predictions differ
        # from the fitted line by a few hundredths of a minute.
        line = rows.groupby("Log P", sort=True)[["predicted_rt", "pi_low", "pi_high"]].mean()
        x = line.index.to_numpy(dtype=float)
        label = "fit" + (f" ({s} series)" if len(series) > 1 else "")
        ax.plot(x, line["predicted_rt"], color="black", linewidth=1.2, zorder=2,
                linestyle=_SERIES_STYLES[i % len(_SERIES_STYLES)], marker="_" if len(x) == 1 else None,
                markersize=14, label=label, gid=f"fit:{name}:{s}")
        band = line.dropna(subset=["pi_low", "pi_high"])
        if len(band):
            bx = band.index.to_numpy(dtype=float)
            lo, hi = band["pi_low"].to_numpy(), band["pi_high"].to_numpy()
            if len(bx) == 1:  # a single Log P: give the band a visible width
                bx, lo, hi = np.array([bx[0] - 0.08, bx[0] + 0.08]), np.repeat(lo, 2), np.repeat(hi, 2)
            ax.fill_between(bx, lo, hi, color=_BAND_COLOUR, alpha=0.13 if i == 0 else 0.09, linewidth=0,
                            zorder=1, label=f"{result.params.interval_level:.0%} prediction band",
                            gid=f"band:{name}:{s}")
            band_values += [*lo, *hi]
    lo, hi = _padded(y_values, frac=0.08, minimum=0.15)
    span = hi - lo
    blo, bhi = _padded(band_values, frac=0.0, minimum=0.0) if band_values else (lo, hi)
    ax.set_ylim(max(min(lo, blo), lo - 0.5 * span), min(max(hi, bhi), hi + 0.5 * span))
    ax.set_xlim(*_padded(part["Log P"], frac=0.08, minimum=0.2))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    if label_outliers:
        # Only outliers a model judged (finite z): in reference mode the rows of prefixes
        # without a model are outliers by default and naming them all would say nothing.
        out = part[(part["status"] == "outlier") & np.isfinite(part["z"])]
        top = out.assign(_score=out["z"].abs()).sort_values(["_score", "row"], ascending=[False, True])
        items = [(float(a), float(b), str(n)) for a, b, n in zip(top["Log P"], top["RT"], top["Name"],
                                                                  strict=True)]
        _place_labels(ax, items, fontsize=_FONT["point_label"], colour="#7a3300", gid="outlier_label",
                      limit=max_labels)
    title = f"{name}: n={len(part)}, {_model_info(result, part)}"
    _style_axes(ax, title=title, xlabel="Log P", ylabel="RT (min)")
    ax.title.set_fontsize(_FONT["label"])


def _legend_handles(frame: pd.DataFrame, level: float) -> list[Any]:
    """Proxy handles for the statuses, anchors, fit series and band of the rows shown."""
    fit = _fit_rows(frame)
    series = _series_of(fit) if len(fit) else []
    band = bool(np.isfinite(fit[["pi_low", "pi_high"]].to_numpy()).all(axis=1).any())
    handles: list[Any] = []
    for status in _statuses(frame):
        n = int((frame["status"] == status).sum())
        handles.append(Line2D([], [], linestyle="none", marker=STATUS_MARKERS.get(status, "o"),
                              color=STATUS_COLOURS.get(status, _OTHER_COLOUR), markersize=6,
                              label=f"{status or 'no status'} ({n})"))
    if frame["Anchor"].any():
        handles.append(Line2D([], [], linestyle="none", marker="D", markerfacecolor="none",
                              markeredgecolor="black", markersize=7,
                              label=f"anchor ({int(frame['Anchor'].sum())})"))
    for i, s in enumerate(series):
        handles.append(Line2D([], [], color="black", linewidth=1.2,
                              linestyle=_SERIES_STYLES[i % len(_SERIES_STYLES)],
                              label="fit" + (f" ({s} series)" if len(series) > 1 else "")))
    if band:
        handles.append(Patch(color=_BAND_COLOUR, alpha=0.15, label=f"{level:.0%} prediction band"))
    return handles


def rt_vs_logp(result: AnalysisResult, *, groups: str | Sequence[str] | None = None, max_panels: int = 12,
               ax: Axes | None = None, label_outliers: bool = True, max_labels: int = 8) -> Figure:
    """Retention time against Log P, one panel per model group, with the fit and its band.

    A model group is a prefix: in reference mode each prefix has its own model (``GD1``,
    ``GD1_trusted`` for anchors kept without a fit, or none), in structural mode every prefix
    is judged through ``structural:<prefix>``. Points are coloured and shaped by status;
    anchors are ringed with a black diamond. The fitted line joins the predictions (one line
    per isomer series in structural mode, the second series being offset) and the band spans
    the prediction interval ``pi_low``..``pi_high``.

    Parameters
    ----------
    result : AnalysisResult
        The analysis to draw.
    groups : str or sequence of str, optional
        Groups to show, by prefix (``"GD1"``) or model id (``"structural:GD1"``,
        ``"GD1_trusted"``). Default: the ``max_panels`` largest groups.
    max_panels : int, default=12
        Most panels drawn when ``groups`` is not given.
    ax : matplotlib Axes, optional
        Draw one group into this axes (the largest, or the one named in ``groups``).
    label_outliers : bool, default=True
        Write the name next to the outliers with the largest ``|z|`` in each panel.
    max_labels : int, default=8
        Most outlier names per panel.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidParameterError
        A name in ``groups`` is not a group of this result, ``groups`` is empty, it names
        several groups while ``ax`` is given, or ``max_panels`` is not a positive integer.
    """
    max_panels = _check_count("max_panels", max_panels)
    max_labels = _check_count("max_labels", max_labels)
    frame = _frame(result)
    chosen = _select_groups(frame, groups, max_panels, single=ax is not None)
    key = _group_key(frame)
    plottable = np.isfinite(frame["RT"].to_numpy()) & np.isfinite(frame["Log P"].to_numpy())
    n_groups = key[plottable].nunique()
    if not chosen:
        fig, ax0 = _new_axes(ax, (6.0, 4.0))
        _style_axes(ax0, title="RT vs Log P", xlabel="Log P", ylabel="RT (min)")
        _message(ax0, "No rows with both RT and Log P to plot.")
        return fig
    if ax is not None or len(chosen) == 1:
        fig, ax0 = _new_axes(ax, (6.4, 4.6))
        part = frame[(key == chosen[0]).to_numpy() & plottable]
        _draw_group(ax0, result, part, chosen[0], label_outliers=label_outliers, max_labels=max_labels)
        ax0.title.set_fontsize(_FONT["title"])
        ax0.legend(handles=_legend_handles(part, result.params.interval_level), fontsize=_FONT["note"],
                   loc="upper left", framealpha=0.9)
        return fig

    n = len(chosen)
    ncols = 2 if n <= 4 else 3 if n <= 9 else 4
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(3.5 * ncols + 0.3, 2.9 * nrows + 1.1), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, name in enumerate(chosen):
        part = frame[(key == name).to_numpy() & plottable]
        _draw_group(axes.flat[i], result, part, name, label_outliers=label_outliers, max_labels=max_labels)
    for extra in axes.flat[n:]:
        extra.set_axis_off()
    handles = _legend_handles(frame[key.isin(chosen).to_numpy() & plottable], result.params.interval_level)
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 8),
               fontsize=_FONT["note"], frameon=False)
    more = f", the {n} largest of {n_groups} groups" if n < n_groups else ""
    fig.suptitle(f"Retention time vs Log P per model group ({result.mode} mode{more})",
                 fontsize=_FONT["title"] + 1)
    return fig


# -- 2. residuals --------------------------------------------------------------------------------
def residual_plot(result: AnalysisResult, ax: Axes | None = None) -> Figure:
    """Standardised residual ``z`` against the predicted RT, with the ±threshold lines.

    Rows without a prediction are left out. When no row has a ``z`` the raw residual (min)
    is drawn instead, without threshold lines. The y axis switches to a symmetric log scale
    (linear within ±threshold) when some ``|z|`` exceeds four times the threshold.

    Parameters
    ----------
    result : AnalysisResult
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _new_axes(ax, (7.6, 4.6))
    frame = _frame(result)
    threshold = float(result.params.outlier_threshold)
    use_z = bool(np.isfinite(frame["z"]).any())
    y = "z" if use_z else "residual"
    x = "predicted_rt" if np.isfinite(frame["predicted_rt"]).any() else "RT"
    ok = np.isfinite(frame[x]) & np.isfinite(frame[y])
    ylabel = "Standardised residual z (σ)" if use_z else "Residual RT − predicted (min)"
    xlabel = "Predicted RT (min)" if x == "predicted_rt" else "RT (min)"
    if not ok.any():
        _style_axes(ax, title="Residuals", xlabel=xlabel, ylabel=ylabel)
        _message(ax, "No model predictions: nothing to show residuals for.")
        return fig
    shown = frame[ok]
    _scatter_by_status(ax, shown, x, y)
    ax.axhline(0.0, color="black", linewidth=0.8, zorder=2, gid="zero")
    if use_z:
        for sign in (1, -1):
            ax.axhline(sign * threshold, color="#333333", linestyle="--", linewidth=1.0, zorder=2,
                       gid="threshold", label=f"±{threshold:g} σ outlier threshold" if sign > 0 else None)
        zmax = float(shown["z"].abs().max())
        if zmax > 4 * threshold:
            ax.set_yscale("symlog", linthresh=threshold)
            # Plain ticks at 0, ±threshold and its doublings read better than 10^k.
            steps = threshold * 2.0 ** np.arange(0, math.ceil(math.log2(zmax / threshold)) + 1)
            ticks = np.concatenate([-steps[::-1], [0.0], steps])
            ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
            ylabel += " (symlog scale)"
    n_judged = len(shown)
    _style_axes(ax, title=f"Residuals of {n_judged} rows with a prediction ({result.mode} mode)",
                xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=_FONT["note"], loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              frameon=False)
    return fig


# -- 3. predicted vs observed --------------------------------------------------------------------
def predicted_vs_observed(result: AnalysisResult, ax: Axes | None = None) -> Figure:
    """Predicted against observed RT with the ``y = x`` line; anchors carry their interval.

    The out-of-sample R², MAE and validation method of ``result.statistics`` (when present)
    are written in a box in the corner.

    Parameters
    ----------
    result : AnalysisResult
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _new_axes(ax, (5.6, 5.2))
    frame = _frame(result)
    ok = np.isfinite(frame["RT"]) & np.isfinite(frame["predicted_rt"])
    title = f"Predicted vs observed RT ({result.mode} mode)"
    if not ok.any():
        _style_axes(ax, title=title, xlabel="Observed RT (min)", ylabel="Predicted RT (min)")
        _message(ax, "No model predictions to compare with the observed RT.")
        return fig
    shown = frame[ok]
    lo, hi = _padded([*shown["RT"], *shown["predicted_rt"]], frac=0.04, minimum=0.2)
    ax.plot([lo, hi], [lo, hi], color="black", linestyle="--", linewidth=0.9, zorder=2, label="y = x",
            gid="identity")
    anchors = shown[shown["Anchor"] & np.isfinite(shown["pi_low"]) & np.isfinite(shown["pi_high"])]
    if len(anchors):
        err = np.vstack([anchors["predicted_rt"] - anchors["pi_low"],
                         anchors["pi_high"] - anchors["predicted_rt"]])
        ax.errorbar(anchors["RT"], anchors["predicted_rt"], yerr=np.clip(err, 0, None), fmt="none",
                    ecolor="#555555", elinewidth=0.7, capsize=1.5, zorder=2,
                    label=f"anchor {result.params.interval_level:.0%} interval", gid="anchor_interval")
    _scatter_by_status(ax, shown, "RT", "predicted_rt")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    stats = result.statistics
    lines = []
    if stats.get("oos_r2") is not None:
        lines.append(f"out-of-sample R² = {float(stats['oos_r2']):.3f}")
    if stats.get("oos_mae") is not None:
        lines.append(f"MAE = {float(stats['oos_mae']):.3f} min")
    if stats.get("validation_method"):
        lines.append(f"({stats['validation_method']})")
    if lines:
        ax.text(0.97, 0.03, "\n".join(lines), transform=ax.transAxes, ha="right", va="bottom",
                fontsize=_FONT["note"], gid="statistics",
                bbox={"boxstyle": "round,pad=0.35", "facecolor": "white", "edgecolor": "#bbbbbb"})
    _style_axes(ax, title=title, xlabel="Observed RT (min)", ylabel="Predicted RT (min)")
    _legend(ax, loc="upper left")
    return fig


# -- 4. categories -------------------------------------------------------------------------------
def _category_order(result: AnalysisResult, present: Iterable[str]) -> list[str]:
    rules = result.statistics.get("rules", {})
    rule7 = rules.get("check_category_order", {}) if isinstance(rules, dict) else {}
    expected = [str(c) for c in rule7.get("expected_order", [])] or ["GM", "GD", "GT", "GQ", "GP", "GA"]
    present = set(present)
    return [c for c in expected if c in present] + sorted(present - set(expected))


def category_summary(result: AnalysisResult, ax: Axes | None = None) -> Figure:
    """Compounds per category stacked by status, with the mean RT per category on a twin axis.

    Categories follow Rule 7's expected elution order when the result records it. The mean RT
    is taken over the rows Rule 7 compares (every analysed row except fragments) and drawn
    with ±1 SD bars.

    Parameters
    ----------
    result : AnalysisResult
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _new_axes(ax, (6.8, 5.0))
    frame = _frame(result)
    frame["category"] = frame["category"].where(frame["category"] != "", "other")
    title = "Compounds per category and mean RT"
    if frame.empty:
        _style_axes(ax, title=title, xlabel="Category", ylabel="Compounds")
        _message(ax, "No compounds.")
        return fig
    order = _category_order(result, frame["category"])
    counts = pd.crosstab(frame["category"], frame["status"]).reindex(order, fill_value=0)
    x = np.arange(len(order), dtype=float)
    bottom = np.zeros(len(order))
    for status in _statuses(frame):
        height = counts[status].to_numpy(dtype=float)
        ax.bar(x, height, bottom=bottom, width=0.62, color=STATUS_COLOURS.get(status, _OTHER_COLOUR),
               hatch=_STATUS_HATCHES.get(status, ""), edgecolor="white", linewidth=0.6,
               label=f"{status or 'no status'} ({int(height.sum())})", gid=f"status:{status}", zorder=2)
        bottom += height
    ax.set_ylim(0, max(bottom.max(), 1) * 1.08)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.set_xticks(x, [f"{c}\nn={int(t)}" for c, t in zip(order, bottom, strict=True)])
    _style_axes(ax, title=title, xlabel="Ganglioside category", ylabel="Compounds (count)")
    ax.grid(False, axis="x")

    compared = frame[~frame["status"].isin(["fragment", "rejected"]) & np.isfinite(frame["RT"])]
    stats = compared.groupby("category")["RT"].agg(["mean", "std"]).reindex(order)
    twin = ax.twinx()
    have = stats["mean"].notna().to_numpy()
    if have.any():
        twin.errorbar(x[have], stats["mean"][have], yerr=stats["std"][have].fillna(0.0), fmt="none",
                      ecolor="black", elinewidth=0.9, capsize=3, zorder=4)
        twin.plot(x[have], stats["mean"][have], color="black", linewidth=0.8, linestyle=":", zorder=4)
        twin.scatter(x[have], stats["mean"][have], marker="D", s=46, edgecolors="black", linewidths=0.8,
                     c=[PALETTE.get(c, PALETTE["other"]) for c in np.asarray(order)[have]], zorder=5,
                     label="mean RT ± SD (non-fragments)", gid="mean_rt")
        twin.set_ylim(*_padded([*(stats["mean"] - stats["std"].fillna(0)), *(stats["mean"] + stats["std"]
                                                                           .fillna(0))], frac=0.1))
    twin.set_ylabel("Mean RT (min)", fontsize=_FONT["label"])
    twin.tick_params(labelsize=_FONT["tick"])
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, fontsize=_FONT["note"], loc="upper center", ncols=2,
              bbox_to_anchor=(0.5, -0.13), frameon=False)
    return fig


# -- 5. co-eluting groups ------------------------------------------------------------------------
_CERAMIDE = re.compile(r"(\d+):(\d+)(?:;O(\d*))?")


def _ceramide_key(text: str) -> tuple[int, int, int, str]:
    m = _CERAMIDE.match(text)
    if not m:
        return (10**6, 0, 0, text)
    oxygen = int(m.group(3)) if m.group(3) else (1 if m.group(3) == "" else 0)
    return (int(m.group(1)), int(m.group(2)), oxygen, text)


def _row_ids(value: Any) -> list[int]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [int(v) for v in value]


def _marker_area(volume: np.ndarray) -> np.ndarray:
    """Marker area from peak volume on a log scale (10³ -> 10, 10⁷ -> ~130 pt²)."""
    logv = np.log10(np.clip(np.nan_to_num(volume.astype(float), nan=1e3), 1.0, None))
    area: np.ndarray = np.clip(10.0 + 30.0 * (logv - 3.0), 8.0, 200.0)
    return area


def fragment_map(result: AnalysisResult, ax: Axes | None = None, max_events: int = 40) -> Figure:
    """Rule 5's co-eluting groups: each event as its RT span, one row per ceramide.

    Each event is a thick translucent bar from ``rt_min`` to ``rt_max`` in its ceramide's row.
    The parent (the peak kept, a black-edged diamond in its status colour) sits just above the
    bar and the in-source fragments (open circles) just below, joined to it by thin lines;
    marker areas grow with log10 of the volume (the parent's with the consolidated volume).

    Parameters
    ----------
    result : AnalysisResult
    ax : matplotlib Axes, optional
    max_events : int, default=40
        Most events drawn; the ones with the largest consolidated volume are kept.

    Returns
    -------
    matplotlib.figure.Figure
    """
    max_events = _check_count("max_events", max_events)
    events = result.fragment_events
    if events is None or events.empty:
        fig, ax = _new_axes(ax, (6.4, 2.6))
        _message(ax, "No co-eluting groups: Rule 5 found no fragment events.")
        ax.set_title("Co-eluting groups (Rule 5)", fontsize=_FONT["title"])
        ax.set_axis_off()
        return fig
    n_total = len(events)
    ev = events.assign(_vol=pd.to_numeric(events["consolidated_volume"], errors="coerce").fillna(0.0))
    ev = ev.sort_values(["_vol", "event"], ascending=[False, True], kind="stable").head(max_events)
    ceramides = sorted({str(c) for c in ev["ceramide"]}, key=_ceramide_key)
    fig, ax = _new_axes(ax, (8.0, max(3.2, 0.55 * len(ceramides) + 1.5)))
    ypos = {c: i for i, c in enumerate(ceramides)}
    y = np.array([ypos[str(c)] for c in ev["ceramide"]], dtype=float)
    # Within a ceramide row: parents just above the span bar, fragments just below, so that
    # peaks eluting within a few hundredths of a minute stay visible.
    up, down = y - 0.22, y + 0.22

    spans = ax.hlines(y, ev["rt_min"].astype(float), ev["rt_max"].astype(float), linewidth=6, alpha=0.45,
                      color=STATUS_COLOURS["fragment"], zorder=1, label="co-elution span (rt_min..rt_max)",
                      gid="spans")
    spans.set_capstyle("round")

    frame = _frame(result).set_index("row", drop=False)
    known = frame.index
    parents = ev["parent_row"].astype(int).to_numpy()
    p_ok = np.isin(parents, known)
    p_rows = frame.loc[parents[p_ok]]
    p_rt = dict(zip(parents[p_ok], p_rows["RT"], strict=True))
    members = [[r for r in _row_ids(m) if r != p and r in known]
               for m, p in zip(ev["member_rows"], parents, strict=True)]
    links = [[(p_rt[p], u), (float(frame.at[r, "RT"]), d)]
             for p, u, d, ms in zip(parents, up, down, members, strict=True) if p in p_rt for r in ms]
    if links:
        ax.add_collection(LineCollection(links, colors="#777777", linewidths=0.6, zorder=1, gid="links"),
                          autolim=False)
    ax.scatter(p_rows["RT"], up[p_ok], s=_marker_area(ev["_vol"].to_numpy()[p_ok]), marker="D",
               c=[STATUS_COLOURS.get(s, _OTHER_COLOUR) for s in p_rows["status"]], edgecolors="black",
               linewidths=0.8, zorder=3, label="parent (colour = its status)", gid="parents")
    m_rows = [r for ms in members for r in ms]
    m_y = [d for ms, d in zip(members, down, strict=True) for _ in ms]
    if m_rows:
        sub = frame.loc[m_rows]
        ax.scatter(sub["RT"], m_y, s=_marker_area(sub["Volume"].to_numpy()), marker="o",
                   facecolors="none", edgecolors=STATUS_COLOURS["fragment"], linewidths=1.1, zorder=2,
                   label="member fragment", gid="members")
    ax.set_yticks(np.arange(len(ceramides)), ceramides)
    ax.set_ylim(len(ceramides) - 0.45, -0.75)  # first ceramide on top
    rts = [*ev["rt_min"].astype(float), *ev["rt_max"].astype(float), *p_rows["RT"]]
    ax.set_xlim(*_padded(rts, frac=0.04, minimum=0.1))
    shown = f"the {len(ev)} largest of {n_total}" if len(ev) < n_total else f"{n_total}"
    _style_axes(ax, title=f"Co-eluting groups (Rule 5): {shown} events", xlabel="RT (min)",
                ylabel="Ceramide")
    ax.grid(False, axis="y")
    for k in range(1, len(ceramides)):
        ax.axhline(k - 0.5, color="#dddddd", linewidth=0.6, zorder=0)
    order = np.argsort(-ev["_vol"].to_numpy()[p_ok], kind="stable")
    names = p_rows["prefix"].where(p_rows["prefix"] != "", p_rows["Name"]).to_numpy()
    _place_labels(ax, [(float(p_rows["RT"].iloc[i]), float(up[p_ok][i]), str(names[i])) for i in order],
                  fontsize=_FONT["point_label"], colour="#333333", gid="parent_label",
                  offsets=((0.0, 5.0),))
    ax.text(0.995, 0.005, "marker area ~ log10 volume; parents labelled by prefix where room allows",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=_FONT["point_label"], color="#555555")
    ax.legend(fontsize=_FONT["note"], loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
              frameon=False, markerscale=0.7)
    return fig


# -- 6. distributions ----------------------------------------------------------------------------
_LEVEL_NAMES = {"very_low": "very low"}


def _judged(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows the rules judged (valid, outlier, fragment): rejected rows are left out."""
    return frame[frame["status"].isin(_JUDGED).to_numpy()]


def _hist_bars(ax: Axes, edges: np.ndarray, bottom: np.ndarray, height: np.ndarray, *, colour: str,
               hatch: str, gid: str, label: str | None = None) -> None:
    """One histogram layer as a single collection of rectangles (empty bins left out).

    One artist per layer, not one patch per bar as ``ax.bar`` makes: a few ms instead of
    ~50 ms per 100 bars.
    """
    keep = height > 0
    x0, x1 = edges[:-1][keep], edges[1:][keep]
    y0, y1 = bottom[keep], (bottom + height)[keep]
    corners = [np.column_stack(c) for c in ((x0, y0), (x0, y1), (x1, y1), (x1, y0))]
    ax.add_collection(PolyCollection(list(np.stack(corners, axis=1)), facecolors=colour, edgecolors="white",
                                     linewidths=0.5, hatch=hatch or None, zorder=2, gid=gid, label=label),
                      autolim=False)


def _status_hist(ax: Axes, rows: pd.DataFrame, column: str, edges: np.ndarray) -> None:
    """Counts of ``column`` per bin stacked by status, one layer per status (gid ``status:<s>``)."""
    bottom = np.zeros(len(edges) - 1)
    for status in _statuses(rows):
        values = rows.loc[rows["status"] == status, column].to_numpy(dtype=float)
        height = np.histogram(values, bins=edges)[0].astype(float)
        _hist_bars(ax, edges, bottom, height, colour=STATUS_COLOURS.get(status, _OTHER_COLOUR),
                   hatch=_STATUS_HATCHES.get(status, ""), gid=f"status:{status}")
        bottom += height
    ax.set_xlim(float(edges[0]), float(edges[-1]))
    ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def _confidence_levels(ax: Axes) -> None:
    """A dashed line at each level's lower bound (gid ``level:<level>``), its name above the range."""
    bounds = [(float(b), str(level)) for b, level in CONFIDENCE_LEVELS]  # highest first
    for i, (bound, level) in enumerate(bounds):
        upper = 1.0 if i == 0 else bounds[i - 1][0]
        if np.isfinite(bound):
            ax.axvline(bound, color="black", linestyle="--", linewidth=0.9, zorder=3, gid=f"level:{level}")
        ax.text((max(bound, 0.0) + upper) / 2, 0.985, _LEVEL_NAMES.get(level, level), ha="center", va="top",
                transform=ax.get_xaxis_transform(), fontsize=_FONT["point_label"], color="#333333",
                gid="level_label")


def distributions(result: AnalysisResult, *, bins: int = 30) -> Figure:
    """Histograms of RT, Log P and confidence over the judged rows, stacked by status.

    Three panels side by side: RT, Log P and the Rule 10 ``confidence`` score. Each bar is
    split by status (valid, outlier, fragment, in the status colours and hatches); rejected
    rows and missing values are left out. The confidence panel spans 0..1 and marks the level
    bounds of :data:`~ganglioside_nb.core.rules.derive_confidence.CONFIDENCE_LEVELS` (high,
    medium, low, below them very low) with vertical lines.

    Parameters
    ----------
    result : AnalysisResult
    bins : int, default=30
        Bins per histogram (RT and Log P between their smallest and largest value, the
        confidence between 0 and 1).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidParameterError
        ``bins`` is not a positive integer.
    """
    bins = _check_count("bins", bins)
    rows = _judged(_frame(result))
    fig = Figure(figsize=(12.0, 4.0), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = (("RT", "RT (min)", "retention time"), ("Log P", "Log P", "Log P"),
              ("confidence", "Confidence score (Rule 10)", "confidence"))
    for ax, (column, xlabel, what) in zip(axes, panels, strict=True):
        shown = rows[np.isfinite(rows[column].to_numpy())]
        _style_axes(ax, title=f"{what[0].upper()}{what[1:]}: {len(shown)} judged rows", xlabel=xlabel,
                    ylabel="Compounds (count)")
        ax.grid(False, axis="x")
        if shown.empty:
            _message(ax, f"No judged rows with a {what}.")
            continue
        if column == "confidence":
            _status_hist(ax, shown, column, np.linspace(0.0, 1.0, bins + 1))
            _confidence_levels(ax)
        else:
            _status_hist(ax, shown, column, np.histogram_bin_edges(shown[column].to_numpy(dtype=float),
                                                                    bins=bins))
    if len(rows):
        handles = [Patch(facecolor=STATUS_COLOURS.get(s, _OTHER_COLOUR), hatch=_STATUS_HATCHES.get(s, ""),
                         edgecolor="white", label=f"{s} ({int((rows['status'] == s).sum())})")
                   for s in _statuses(rows)]
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=_FONT["note"],
                   frameon=False)
    fig.suptitle(f"Distributions of the judged rows ({result.mode} mode; rejected rows left out)",
                 fontsize=_FONT["title"] + 1)
    return fig


# -- 7. pass rate per prefix ---------------------------------------------------------------------
def pass_rate_by_prefix(result: AnalysisResult, ax: Axes | None = None, *, max_prefixes: int = 30) -> Figure:
    """Share of the judged rows that are valid, one horizontal bar per prefix.

    The judged rows are the valid, outlier and fragment rows (rejected rows are left out), as
    in the result's success rate, which the dashed line shows over all prefixes. Bars are
    coloured by category (:data:`PALETTE`) and ordered like :func:`category_summary` orders
    the categories (Rule 7's expected elution order), then by prefix; the percentage and the
    number of judged rows are written at the end of each bar.

    Parameters
    ----------
    result : AnalysisResult
    ax : matplotlib Axes, optional
    max_prefixes : int, default=30
        Most bars drawn; the prefixes with the most judged rows are kept (the title says so).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidParameterError
        ``max_prefixes`` is not a positive integer.
    """
    max_prefixes = _check_count("max_prefixes", max_prefixes)
    rows = _judged(_frame(result))
    title = f"Pass rate per prefix ({result.mode} mode)"
    xlabel = "Valid rows (% of judged rows)"
    if rows.empty:
        fig, ax = _new_axes(ax, (6.4, 3.0))
        _style_axes(ax, title=title, xlabel=xlabel, ylabel="Prefix")
        _message(ax, "No judged rows: nothing to compute a pass rate for.")
        return fig
    table = pd.DataFrame({"prefix": rows["prefix"].where(rows["prefix"] != "", "(no prefix)"),
                          "category": rows["category"].where(rows["category"] != "", "other"),
                          "valid": (rows["status"] == "valid").astype(int)})
    per = table.groupby("prefix", sort=True).agg(n=("valid", "size"), n_valid=("valid", "sum"),
                                                 category=("category", "first"))
    rank = {c: i for i, c in enumerate(_category_order(result, per["category"]))}
    order = sorted(per.index, key=lambda p: (rank[per.at[p, "category"]], p))
    n_total = len(order)
    if n_total > max_prefixes:
        position = {p: i for i, p in enumerate(order)}
        kept = set(sorted(order, key=lambda p: (-int(per.at[p, "n"]), position[p]))[:max_prefixes])
        order = [p for p in order if p in kept]
    shown = per.loc[order]
    pct = 100.0 * shown["n_valid"].to_numpy(dtype=float) / shown["n"].to_numpy(dtype=float)
    fig, ax = _new_axes(ax, (7.4, max(3.0, 0.25 * len(order) + 1.6)))
    y = np.arange(len(order), dtype=float)
    colours = [PALETTE.get(c, _OTHER_COLOUR) for c in shown["category"]]
    bars = ax.barh(y, pct, height=0.7, color=colours, edgecolor="white", linewidth=0.5, zorder=2)
    for bar, prefix in zip(bars, order, strict=True):
        bar.set_gid(f"prefix:{prefix}")
    for yi, p, n in zip(y, pct, shown["n"], strict=True):
        ax.text(p + 1.0, yi, f"{p:.0f} % (n={int(n)})", va="center", ha="left", fontsize=_FONT["point_label"],
                color="#333333", gid="n")
    overall = 100.0 * float(table["valid"].sum()) / len(table)
    ax.axvline(overall, color="black", linestyle="--", linewidth=0.9, zorder=3, gid="overall")
    ax.set_yticks(y, order)
    ax.set_ylim(len(order) - 0.5, -0.5)  # first prefix on top
    ax.set_xlim(0.0, 122.0)
    ax.set_xticks(np.arange(0.0, 101.0, 20.0))
    more = f": the {len(order)} with most rows of {n_total} prefixes" if len(order) < n_total else ""
    _style_axes(ax, title=title + more, xlabel=xlabel, ylabel="Prefix")
    ax.grid(False, axis="y")
    handles: list[Any] = [Patch(color=PALETTE.get(c, _OTHER_COLOUR), label=c)
                          for c in dict.fromkeys(shown["category"])]
    handles.append(Line2D([], [], color="black", linestyle="--", linewidth=0.9,
                          label=f"all prefixes ({overall:.1f} %)"))
    ax.legend(handles=handles, fontsize=_FONT["note"], loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0, frameon=False, title="Category", title_fontsize=_FONT["note"])
    return fig


# -- 8. O-acetylation shifts ---------------------------------------------------------------------
_PAIR_KINDS = {"full": ("#4d4d4d", "", "full pair (base without OAc)"),
               "step": ("#a6a6a6", "///", "step pair (one acetyl fewer)")}


def oac_shift_histogram(result: AnalysisResult, ax: Axes | None = None, *, bins: int = 30) -> Figure:
    """RT shifts of Rule 4's O-acetylation pairs, with the usual shift range shaded.

    One histogram of ``oac_pairs["rt_shift"]`` (OAc row RT minus base RT, min) stacked by pair
    kind: *full* pairs (the base without any acetyl) and *step* pairs (one acetyl fewer). The
    shaded span is ``params.oac_shift_note_range``: Rule 4 adds the note ``oac_shift_unusual``
    to a row whose shift to its nearest earlier base lies outside it. Shifts ≤ 0 (the
    acetylated species does not elute later) are left of the line at 0.

    Parameters
    ----------
    result : AnalysisResult
    ax : matplotlib Axes, optional
    bins : int, default=30
        Equal bins between the smallest and largest shift, shifted so that one edge is at 0
        (hence one bin more at most).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidParameterError
        ``bins`` is not a positive integer.
    """
    bins = _check_count("bins", bins)
    fig, ax = _new_axes(ax, (6.6, 4.2))
    pairs = result.oac_pairs
    n_pairs = 0 if pairs is None else len(pairs)
    shift = (pd.to_numeric(pairs["rt_shift"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
             if n_pairs and "rt_shift" in pairs else np.zeros(0))
    kinds = (pairs["kind"].astype(object).where(pairs["kind"].notna(), "").astype(str).to_numpy()
             if n_pairs and "kind" in pairs else np.full(len(shift), "full", dtype=object))
    ok = np.isfinite(shift)
    title = "RT shift of the O-acetylation pairs (Rule 4)"
    xlabel, ylabel = "RT shift: OAc row − base (min)", "Pairs (count)"
    if not ok.any():
        _style_axes(ax, title=title, xlabel=xlabel, ylabel=ylabel)
        _message(ax, "No O-acetylation pairs: Rule 4 found no O-acetylated row with a base peak."
                 if not n_pairs else "No O-acetylation pair has an RT shift.")
        return fig
    lo, hi = (float(v) for v in result.params.oac_shift_note_range)
    shift, kinds = shift[ok], kinds[ok]
    # Equal bins (a, b] with an edge at 0, so that no bar mixes later OAc peaks with the
    # others: a shift of exactly 0 (no increase) falls left of 0.
    s_min, s_max = float(shift.min()), float(shift.max())
    step = (s_max - s_min) / bins or 0.1
    k_lo, k_hi = math.ceil(s_min / step) - 1, math.ceil(s_max / step)
    edges = np.arange(k_lo, max(k_hi, k_lo + 1) + 1) * step
    edges[0], edges[-1] = min(edges[0], s_min), max(edges[-1], s_max)  # against rounding
    ax.axvspan(lo, hi, color=_BAND_COLOUR, alpha=0.12, linewidth=0, zorder=1, gid="note_range",
               label=f"usual shift {lo:g}–{hi:g} min (oac_shift_note_range)")
    ax.axvline(0.0, color="black", linewidth=0.8, zorder=3, gid="zero")
    bottom = np.zeros(len(edges) - 1)
    for kind in [k for k in _PAIR_KINDS if k in set(kinds)] + sorted(set(kinds) - set(_PAIR_KINDS)):
        colour, hatch, label = _PAIR_KINDS.get(kind, (_OTHER_COLOUR, "xx", kind or "no kind"))
        # (a, b] bins: np.histogram's [a, b) ones, mirrored.
        height = np.histogram(-shift[kinds == kind], bins=-edges[::-1])[0][::-1].astype(float)
        _hist_bars(ax, edges, bottom, height, colour=colour, hatch=hatch, gid=f"kind:{kind}",
                   label=f"{label} ({int(height.sum())})")
        bottom += height
    ax.set_xlim(*_padded([*edges, lo, hi], frac=0.03, minimum=0.05))
    ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.12)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    later = int((shift > 0).sum())
    rules = result.statistics.get("rules", {})
    rule4 = rules.get("check_oacetylation", {}) if isinstance(rules, dict) else {}
    total = int(rule4.get("n_pairs_total", n_pairs)) if isinstance(rule4, dict) else n_pairs
    of = f" (the first {n_pairs} of {total})" if total > n_pairs else ""
    _style_axes(ax, title=f"{title}: {len(shift)} pairs{of}, {later} with a later OAc peak",
                xlabel=xlabel, ylabel=ylabel)
    ax.grid(False, axis="x")
    _legend(ax, loc="upper left")
    return fig


# -- across sessions (FEATURES.md H7) -------------------------------------------------------------
_CATEGORIES = ("GM", "GD", "GT", "GQ", "GP")
_TREND_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")


def session_trends(trends: Any, *, max_models: int = 8) -> dict[str, Figure]:
    """Three figures across stored sessions, from ``Repository.trends(...)``.

    ``trends`` has the frames ``sessions`` (session_id, label, oldest first), ``categories``
    (session_id, category, n), ``models`` (session_id, model, r2) and ``z`` (session_id, z).

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        ``category_counts`` (compounds per category, stacked, one bar per session),
        ``r2_by_model`` (held-out R² per model over the sessions; the ``max_models`` models seen
        in most sessions, the pooled model first) and ``z_by_session`` (box plot of the
        standardised residuals, with the ±2.5 default outlier threshold).
    """
    sessions = trends.sessions
    labels = sessions["label"].tolist()
    order = {sid: i for i, sid in enumerate(sessions["session_id"])}
    x = np.arange(len(labels), dtype=float)
    width = (max(6.0, 0.55 * len(labels) + 2.5), 4.6)

    def axes(title: str, ylabel: str) -> tuple[Figure, Axes]:
        fig, ax = _new_axes(None, width)
        _style_axes(ax, title=title, xlabel="Session (oldest first)", ylabel=ylabel)
        if labels:
            ax.set_xticks(x, labels, rotation=30, ha="right")
        return fig, ax

    counts_fig, ax = axes("Compounds per category across sessions", "Compounds (count)")
    counts = trends.categories.assign(category=trends.categories["category"].fillna("").replace("", "other"))
    table = counts.pivot_table(index="session_id", columns="category", values="n", aggfunc="sum",
                               fill_value=0).reindex(list(order), fill_value=0)
    if table.empty or not labels:
        _message(ax, "No completed sessions.")
    else:
        bottom = np.zeros(len(labels))
        for category in [c for c in (*_CATEGORIES, "other") if c in table] + \
                        sorted(c for c in table if c not in (*_CATEGORIES, "other")):
            height = table[category].to_numpy(dtype=float)
            ax.bar(x, height, bottom=bottom, width=0.62, color=PALETTE.get(category, _OTHER_COLOUR),
                   edgecolor="white", linewidth=0.6, label=category, gid=f"category:{category}", zorder=2)
            bottom += height
        ax.grid(False, axis="x")
        _legend(ax, title="Category", loc="upper left", bbox_to_anchor=(1.01, 1.0))

    r2_fig, ax = axes("Held-out R² per model across sessions", "Held-out R²")
    models = trends.models[trends.models["session_id"].isin(list(order))]
    if models.empty:
        _message(ax, "No model with a held-out R².")
    else:
        seen = models.groupby("model")["session_id"].nunique()
        pooled = [m for m in seen.index if ":" not in m and m.startswith("structural")]
        chosen = pooled + [m for m in seen.sort_values(ascending=False, kind="stable").index
                           if m not in pooled][:max(0, max_models - len(pooled))]
        for i, model in enumerate(chosen):
            part = models[models["model"] == model]
            xs = part["session_id"].map(order).to_numpy(dtype=float)
            ax.plot(xs, part["r2"].to_numpy(dtype=float), marker=_TREND_MARKERS[i % len(_TREND_MARKERS)],
                    linestyle=_SERIES_STYLES[i % len(_SERIES_STYLES)], linewidth=1.2, markersize=5,
                    label=model, gid=f"model:{model}", zorder=3)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        _legend(ax, title="Model", loc="upper left", bbox_to_anchor=(1.01, 1.0))

    z_fig, ax = axes("Standardised residuals across sessions", "z (residual / predictive SD)")
    values = [trends.z.loc[trends.z["session_id"] == sid, "z"].to_numpy(dtype=float) for sid in order]
    values = [v[np.isfinite(v)] for v in values]
    if not any(len(v) for v in values):
        _message(ax, "No judged rows.")
    else:
        ax.boxplot([v if len(v) else [np.nan] for v in values], positions=x, widths=0.5, showfliers=True,
                   flierprops={"marker": ".", "markersize": 3, "alpha": 0.5}, manage_ticks=False)
        for limit in (-2.5, 2.5):
            ax.axhline(limit, color=_BAND_COLOUR, linestyle="--", linewidth=0.8, gid="threshold")
        ax.set_xlim(-0.5, len(labels) - 0.5)
    return {"category_counts": counts_fig, "r2_by_model": r2_fig, "z_by_session": z_fig}


# -- all -----------------------------------------------------------------------------------------
def plot_all(result: AnalysisResult) -> dict[str, Figure]:
    """Every figure of this module with its default options, by name.

    Parameters
    ----------
    result : AnalysisResult

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Keys ``rt_vs_logp``, ``residuals``, ``predicted_vs_observed``, ``category_summary``,
        ``fragment_map``, ``distributions`` (RT, Log P and confidence histograms),
        ``pass_rate_by_prefix`` and ``oac_shift`` (:func:`oac_shift_histogram`).
    """
    return {
        "rt_vs_logp": rt_vs_logp(result),
        "residuals": residual_plot(result),
        "predicted_vs_observed": predicted_vs_observed(result),
        "category_summary": category_summary(result),
        "fragment_map": fragment_map(result),
        "distributions": distributions(result),
        "pass_rate_by_prefix": pass_rate_by_prefix(result),
        "oac_shift": oac_shift_histogram(result),
    }
