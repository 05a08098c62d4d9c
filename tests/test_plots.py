"""ganglioside_nb.plots: every figure on the bundled samples, in both modes.

Each figure is checked through its artists (points per status, fit lines and bands per model
group, threshold lines, spans per event) against the result tables, and saved as PNG under
``tests/_artifacts/plots/`` (git-ignored) for a look by eye.
"""

from __future__ import annotations

import ast
import dataclasses
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import ganglioside_nb as gnb
from ganglioside_nb import plots
from ganglioside_nb.errors import InvalidParameterError

pytestmark = pytest.mark.filterwarnings("error")

ARTIFACTS = Path(__file__).resolve().parent / "_artifacts" / "plots"
STATUSES = ("valid", "outlier", "fragment", "rejected")


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def structural() -> gnb.AnalysisResult:
    return gnb.analyze(gnb.datasets.load_sample())


@pytest.fixture(scope="module")
def reference() -> gnb.AnalysisResult:
    return gnb.analyze(gnb.datasets.load_sample(), mode="reference")


@pytest.fixture(scope="module")
def small() -> gnb.AnalysisResult:
    return gnb.analyze(gnb.datasets.load_sample("testwork"))


@pytest.fixture(scope="module")
def structural_figures(structural) -> dict[str, Figure]:
    return plots.plot_all(structural)


@pytest.fixture(scope="module")
def reference_figures(reference) -> dict[str, Figure]:
    return plots.plot_all(reference)


@pytest.fixture(scope="module")
def no_model(small) -> gnb.AnalysisResult:
    """A result whose model predicted nothing (every prediction column empty)."""
    c = small.compounds.copy()
    for col in ("predicted_rt", "pi_low", "pi_high", "residual", "z"):
        c[col] = np.nan
    c["model"] = ""
    stats = {**small.statistics, "oos_r2": None, "oos_mae": None}
    return dataclasses.replace(small, compounds=c, statistics=stats,
                               fragment_events=small.fragment_events.iloc[0:0])


# -- helpers -------------------------------------------------------------------------------------
def save(fig: Figure, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    fig.savefig(path, dpi=100)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def data_axes(fig: Figure) -> list[Axes]:
    """Axes that show something (the grid's unused cells are switched off)."""
    return [a for a in fig.axes if a.axison]


def by_gid(ax: Axes, prefix: str, kind: type = object) -> list:
    artists = [*ax.collections, *ax.lines, *ax.patches, *ax.texts]
    return [a for a in artists if isinstance(a, kind) and (a.get_gid() or "").startswith(prefix)]


def status_points(axes: list[Axes]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ax in axes:
        for coll in by_gid(ax, "status:", PathCollection):
            status = coll.get_gid().split(":", 1)[1]
            counts[status] = counts.get(status, 0) + len(coll.get_offsets())
    return counts


def expected_status(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame["status"].value_counts().items()}


def plottable(result) -> pd.DataFrame:
    c = result.compounds
    return c[np.isfinite(c["RT"].astype(float)) & np.isfinite(c["Log P"].astype(float))]


def fit_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows a fitted line goes through: a prediction from a model other than a trusted anchor."""
    model = frame["model"].fillna("").astype(str)
    ok = frame["predicted_rt"].notna() & (model != "") & ~model.str.endswith("_trusted")
    return frame[ok]


def panel_group(ax: Axes) -> str:
    return ax.get_title().split(":", 1)[0]


def assert_labelled(ax: Axes) -> None:
    assert ax.get_xlabel().strip() and ax.get_ylabel().strip() and ax.get_title().strip()


# -- 1. RT vs Log P ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_rt_vs_logp_shows_the_largest_groups_with_every_point(mode, request):
    result = request.getfixturevalue(mode)
    fig = request.getfixturevalue(f"{mode}_figures")["rt_vs_logp"]
    save(fig, f"{mode}_rt_vs_logp")
    axes = data_axes(fig)
    rows = plottable(result)
    sizes = rows.groupby("prefix").size()
    largest = sorted(sizes.index, key=lambda g: (-sizes[g], g))[:12]
    assert [panel_group(a) for a in axes] == largest
    shown = rows[rows["prefix"].isin(largest)]
    assert status_points(axes) == expected_status(shown)
    anchors = sum(len(c.get_offsets()) for a in axes for c in by_gid(a, "anchors", PathCollection))
    assert anchors == int(shown["Anchor"].sum())
    assert fig.legends and len(fig.legends[0].get_texts()) >= 4
    for ax in axes:
        assert_labelled(ax)


@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_rt_vs_logp_draws_a_line_and_band_per_model_group_and_series(mode, request):
    result = request.getfixturevalue(mode)
    axes = data_axes(request.getfixturevalue(f"{mode}_figures")["rt_vs_logp"])
    rows = plottable(result)
    n_lines = 0
    for ax in axes:
        group = rows[rows["prefix"] == panel_group(ax)]
        fits = fit_rows(group)
        series = fits["isomer_series"].nunique() if len(fits) else 0
        banded = fits.dropna(subset=["pi_low", "pi_high"])["isomer_series"].nunique() if len(fits) else 0
        assert len(by_gid(ax, "fit:", Line2D)) == series, panel_group(ax)
        assert len(by_gid(ax, "band:", PolyCollection)) == banded, panel_group(ax)
        n_lines += series
    if mode == "structural":  # every prefix is judged; GD1 has the two isomer series
        gd1 = next(a for a in axes if panel_group(a) == "GD1")
        assert len(by_gid(gd1, "fit:", Line2D)) == 2
        assert n_lines == len(axes) + 1
    else:  # reference: prefixes without a model, or with trusted anchors only, have no line
        assert 0 < n_lines < len(axes)


def test_rt_vs_logp_fit_line_follows_the_predictions(structural):
    fig = plots.rt_vs_logp(structural, groups="GD3")
    (line,) = by_gid(fig.axes[0], "fit:", Line2D)
    rows = fit_rows(plottable(structural))
    rows = rows[rows["prefix"] == "GD3"]
    expected = rows.groupby("Log P")["predicted_rt"].mean().sort_index()
    np.testing.assert_allclose(line.get_xdata(), expected.index.to_numpy(dtype=float))
    np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())


def test_rt_vs_logp_labels_only_judged_outliers_and_caps_them(structural, reference):
    for result in (structural, reference):
        fig = plots.rt_vs_logp(result, groups=["GT1", "GM2"], max_labels=3)
        for ax in data_axes(fig):
            group = plottable(result)
            group = group[group["prefix"] == panel_group(ax)]
            judged = set(group.loc[(group["status"] == "outlier") & group["z"].notna(), "Name"])
            labels = [t.get_text() for t in by_gid(ax, "outlier_label")]
            assert len(labels) <= 3 and set(labels) <= judged
            assert bool(labels) == bool(judged)  # some room is always left for the first label
    fig = plots.rt_vs_logp(structural, groups="GT1", label_outliers=False)
    assert not by_gid(fig.axes[0], "outlier_label")


def test_rt_vs_logp_groups_by_prefix_or_model_id_and_draws_into_a_given_axes(structural, reference):
    fig = plots.rt_vs_logp(structural, groups=["structural:GD1", "GM1", "GD1"])
    assert [panel_group(a) for a in data_axes(fig)] == ["GD1", "GM1"]
    save(fig, "structural_rt_vs_logp_two_groups")

    host = Figure()
    ax = host.add_subplot()
    assert plots.rt_vs_logp(reference, groups="GM3_trusted", ax=ax) is host
    assert panel_group(ax) == "GM3" and ax.get_legend() is not None
    assert status_points([ax]) == expected_status(plottable(reference).query("prefix == 'GM3'"))

    single = plots.rt_vs_logp(structural, groups="GD1")
    assert len(single.axes) == 1 and single.axes[0].get_legend() is not None
    save(single, "structural_rt_vs_logp_GD1")


def test_rt_vs_logp_rejects_unknown_or_empty_group_selections(structural):
    with pytest.raises(InvalidParameterError, match=r"groups must name model groups.*Got 'GX9' instead"):
        plots.rt_vs_logp(structural, groups=["GD1", "GX9"])
    with pytest.raises(InvalidParameterError, match=r"groups must name at least one model group"):
        plots.rt_vs_logp(structural, groups=[])
    with pytest.raises(InvalidParameterError, match=r"max_panels must be an integer >= 1. Got 0 instead"):
        plots.rt_vs_logp(structural, max_panels=0)
    ax = Figure().add_subplot()
    with pytest.raises(InvalidParameterError, match=r"one model group when ax is given. Got 2"):
        plots.rt_vs_logp(structural, groups=["GD1", "GM1"], ax=ax)


def test_rt_vs_logp_max_panels(structural):
    fig = plots.rt_vs_logp(structural, max_panels=3)
    assert len(data_axes(fig)) == 3
    assert "the 3 largest of 29 groups" in fig.get_suptitle()


# -- 2. residuals --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_residual_plot_points_and_threshold_lines(mode, request):
    result = request.getfixturevalue(mode)
    fig = request.getfixturevalue(f"{mode}_figures")["residuals"]
    save(fig, f"{mode}_residuals")
    (ax,) = fig.axes
    c = result.compounds
    judged = c[c["predicted_rt"].notna() & c["z"].notna()]
    assert status_points([ax]) == expected_status(judged)
    limit = result.params.outlier_threshold
    assert sorted(line.get_ydata()[0] for line in by_gid(ax, "threshold", Line2D)) == [-limit, limit]
    assert [line.get_ydata()[0] for line in by_gid(ax, "zero", Line2D)] == [0]
    assert ax.get_legend() is not None
    assert_labelled(ax)
    # structural z reaches ~38 sigma: the axis goes symlog there, linear in reference mode
    assert ax.get_yscale() == ("symlog" if judged["z"].abs().max() > 4 * limit else "linear")


def test_residual_threshold_follows_the_parameter(reference):
    result = dataclasses.replace(reference, params=reference.params.replace(outlier_threshold=3.25))
    ax = plots.residual_plot(result).axes[0]
    assert sorted(line.get_ydata()[0] for line in by_gid(ax, "threshold", Line2D)) == [-3.25, 3.25]


# -- 3. predicted vs observed --------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_predicted_vs_observed(mode, request):
    result = request.getfixturevalue(mode)
    fig = request.getfixturevalue(f"{mode}_figures")["predicted_vs_observed"]
    save(fig, f"{mode}_predicted_vs_observed")
    (ax,) = fig.axes
    c = result.compounds
    predicted = c[c["predicted_rt"].notna()]
    assert status_points([ax]) == expected_status(predicted)
    (identity,) = by_gid(ax, "identity", Line2D)
    np.testing.assert_array_equal(identity.get_xdata(), identity.get_ydata())
    bars = [b for b in ax.containers if isinstance(b, ErrorbarContainer)]
    with_interval = predicted[predicted["Anchor"] & predicted[["pi_low", "pi_high"]].notna().all(axis=1)]
    assert len(bars) == 1 and len(bars[0].lines[2][0].get_segments()) == len(with_interval)
    (box,) = by_gid(ax, "statistics")
    assert f"R² = {result.statistics['oos_r2']:.3f}" in box.get_text()
    assert f"MAE = {result.statistics['oos_mae']:.3f} min" in box.get_text()
    assert ax.get_legend() is not None
    assert_labelled(ax)


# -- 4. categories -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_category_summary_stacks_status_counts_in_rule7_order(mode, request):
    result = request.getfixturevalue(mode)
    fig = request.getfixturevalue(f"{mode}_figures")["category_summary"]
    save(fig, f"{mode}_category_summary")
    ax, twin = fig.axes
    rule7 = result.statistics["rules"]["check_category_order"]
    c = result.compounds
    order = [k for k in rule7["expected_order"] if k in set(c["category"])]
    assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == order
    counts = pd.crosstab(c["category"], c["status"]).reindex(order, fill_value=0)
    for status in counts.columns:
        bars = [p for p in ax.patches if p.get_gid() == f"status:{status}"]
        assert [round(p.get_height()) for p in bars] == counts[status].tolist()
    (means,) = by_gid(twin, "mean_rt", PathCollection)
    # the same mean RT as Rule 7 (all rows but fragments) computed
    np.testing.assert_allclose(means.get_offsets()[:, 1], [rule7["category_mean_rt"][k] for k in order])
    assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == counts.shape[1] + 1
    assert_labelled(ax) and twin.get_ylabel() == "Mean RT (min)"


# -- 5. fragment map -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_fragment_map_one_span_per_event(mode, request):
    result = request.getfixturevalue(mode)
    fig = request.getfixturevalue(f"{mode}_figures")["fragment_map"]
    save(fig, f"{mode}_fragment_map")
    (ax,) = fig.axes
    events = result.fragment_events
    assert len(events) > 40  # both samples exceed the default cap
    (spans,) = by_gid(ax, "spans", LineCollection)
    assert len(spans.get_segments()) == 40
    assert len(by_gid(ax, "parents", PathCollection)[0].get_offsets()) == 40
    assert ax.get_legend() is not None
    assert_labelled(ax)


def test_fragment_map_keeps_the_largest_events(structural):
    fig = plots.fragment_map(structural, max_events=5)
    save(fig, "structural_fragment_map_top5")
    ax = fig.axes[0]
    top = structural.fragment_events.nlargest(5, "consolidated_volume")
    spans = sorted((s[0][0], s[1][0]) for s in by_gid(ax, "spans", LineCollection)[0].get_segments())
    assert spans == sorted(zip(top["rt_min"], top["rt_max"], strict=True))
    members = sum(len(m) - 1 for m in top["member_rows"])
    assert len(by_gid(ax, "members", PathCollection)[0].get_offsets()) == members
    parent_rt = structural.compounds.set_index("row").loc[top["parent_row"], "RT"]
    assert sorted(by_gid(ax, "parents", PathCollection)[0].get_offsets()[:, 0]) == sorted(parent_rt)
    with pytest.raises(InvalidParameterError, match="max_events must be an integer >= 1"):
        plots.fragment_map(structural, max_events=0)


def test_fragment_map_without_events(small):
    assert small.fragment_events.empty
    fig = plots.fragment_map(small)
    save(fig, "small_fragment_map")
    assert isinstance(fig, Figure)
    assert "no co-eluting groups" in by_gid(fig.axes[0], "message")[0].get_text().lower()


# -- edge cases and contract ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_five_row_sample(mode, small):
    result = small if mode == "structural" else gnb.analyze(gnb.datasets.load_sample("testwork"), mode=mode)
    figures = plots.plot_all(result)
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        save(fig, f"small_{mode}_{name}")
    axes = data_axes(figures["rt_vs_logp"])
    assert len(axes) == 5
    assert status_points(axes) == expected_status(result.compounds)


def test_result_without_any_model_prediction(no_model):
    figures = plots.plot_all(no_model)
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        save(fig, f"no_model_{name}")
    assert not any(by_gid(a, "fit:") or by_gid(a, "band:") for a in figures["rt_vs_logp"].axes)
    assert status_points(data_axes(figures["rt_vs_logp"])) == expected_status(no_model.compounds)
    for name in ("residuals", "predicted_vs_observed"):
        (ax,) = figures[name].axes
        assert by_gid(ax, "message") and not by_gid(ax, "status:")


def test_rejected_rows_are_drawn_where_they_can_be(small):
    table = gnb.datasets.load_sample("testwork")
    table.loc[1, "RT"] = "n/a"  # rejected, nothing to place on an RT axis
    table.loc[2, "Name"] = "XYZ"  # rejected, but RT and Log P are known
    result = gnb.analyze(table)
    assert (result.compounds["status"] == "rejected").sum() == 2
    figures = plots.plot_all(result)
    save(figures["rt_vs_logp"], "rejected_rt_vs_logp")
    save(figures["category_summary"], "rejected_category_summary")
    assert status_points(data_axes(figures["rt_vs_logp"])) == expected_status(plottable(result))
    ax = figures["category_summary"].axes[0]
    assert sum(p.get_height() for p in ax.patches if p.get_gid() == "status:rejected") == 2


def test_figures_are_deterministic(small):
    def png(fig: Figure) -> bytes:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=50)
        return buffer.getvalue()

    for draw in (lambda r: plots.rt_vs_logp(r, groups="GD3"), plots.residual_plot):
        assert png(draw(small)) == png(draw(small))


def test_plots_never_use_pyplot():
    """plots.py builds Figure objects itself: no pyplot import, hence no global figure state."""
    tree = ast.parse(Path(plots.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                 for a in n.names}
    assert imported and not any("pyplot" in name for name in imported)
    assert not any(isinstance(n, ast.Attribute) and n.attr == "pyplot" for n in ast.walk(tree))


def test_public_names():
    assert sorted(plots.__all__) == plots.__all__
    assert {"rt_vs_logp", "residual_plot", "predicted_vs_observed", "category_summary", "fragment_map",
            "plot_all"} <= set(plots.__all__)
    assert set(plots.STATUS_MARKERS) >= set(STATUSES)
    assert len(set(plots.STATUS_MARKERS.values())) == len(plots.STATUS_MARKERS)  # not colour alone


def test_session_trends_draw_one_bar_line_and_box_per_session() -> None:
    from ganglioside_nb.persistence import SessionTrends
    from ganglioside_nb.plots import session_trends

    sessions = pd.DataFrame({"session_id": [3, 7], "label": ["#3 run 1", "#7"],
                             "created_at": pd.to_datetime(["2026-11-01", "2026-11-02"], utc=True),
                             "mode": ["structural", "reference"], "chromatography": ["reversed_phase"] * 2})
    categories = pd.DataFrame({"session_id": [3, 3, 7], "category": ["GM", "GD", "GM"], "n": [5, 2, 4]})
    models = pd.DataFrame({"session_id": [3, 3, 7], "model": ["structural", "structural:GD1", "GD1"],
                           "scope": ["pooled", "prefix-shift", "prefix"], "r2": [0.99, 0.97, 0.8],
                           "n_anchors": [10, 4, 4]})
    z = pd.DataFrame({"session_id": [3, 3, 3, 7, 7], "z": [0.1, -0.5, 3.0, 0.2, np.nan]})
    figures = session_trends(SessionTrends(sessions, categories, models, z))
    assert list(figures) == ["category_counts", "r2_by_model", "z_by_session"]
    ax = figures["category_counts"].axes[0]
    bars = {gid: [p.get_height() for p in ax.patches if p.get_gid() == gid]
            for gid in ("category:GM", "category:GD")}
    assert bars == {"category:GM": [5, 4], "category:GD": [2, 0]}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["#3 run 1", "#7"]
    lines = {line.get_gid(): line.get_ydata().tolist() for line in figures["r2_by_model"].axes[0].lines}
    assert lines == {"model:structural": [0.99], "model:structural:GD1": [0.97], "model:GD1": [0.8]}
    assert list(lines)[0] == "model:structural"  # the pooled model first
    z_ax = figures["z_by_session"].axes[0]
    assert len([line for line in z_ax.lines if line.get_gid() == "threshold"]) == 2
    empty = session_trends(SessionTrends(sessions.iloc[:0], categories.iloc[:0], models.iloc[:0], z.iloc[:0]))
    assert all(any(t.get_gid() == "message" for t in f.axes[0].texts) for f in empty.values())
