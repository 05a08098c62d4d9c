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


# -- 6. distributions ----------------------------------------------------------------------------
JUDGED = ("valid", "outlier", "fragment")


def judged(result) -> pd.DataFrame:
    c = result.compounds
    return c[c["status"].isin(JUDGED)]


def bars(ax: Axes, gid: str) -> list[tuple[float, float, float, float]]:
    """(left, right, bottom, top) of every bar of the histogram layer ``gid`` (one collection)."""
    boxes = []
    for coll in ax.collections:
        if coll.get_gid() == gid:
            assert isinstance(coll, PolyCollection)
            for path in coll.get_paths():
                (x0, y0), (x1, y1) = path.vertices.min(axis=0), path.vertices.max(axis=0)
                boxes.append((float(x0), float(x1), float(y0), float(y1)))
    return boxes


def total(ax: Axes, prefix: str) -> float:
    """Summed bar heights of the histogram layers whose gid starts with ``prefix``."""
    return sum(top - bottom for coll in by_gid(ax, prefix, PolyCollection)
               for _, _, bottom, top in bars(ax, coll.get_gid()))


def message(ax: Axes) -> str:
    texts = by_gid(ax, "message")
    return texts[0].get_text() if texts else ""


@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_distributions_stack_the_judged_rows_by_status(mode, request):
    result = request.getfixturevalue(mode)
    fig = request.getfixturevalue(f"{mode}_figures")["distributions"]
    save(fig, f"{mode}_distributions")
    axes = fig.axes
    assert len(axes) == 3
    rows = judged(result)
    for ax, column in zip(axes, ("RT", "Log P", "confidence"), strict=True):
        values = rows[column].astype(float)
        shown = rows[np.isfinite(values)]
        assert len(shown) == len(rows) > 300  # the sample has every value
        if column == "confidence":
            edges = np.linspace(0.0, 1.0, 31)
        else:
            edges = np.histogram_bin_edges(shown[column].astype(float), bins=30)
        top = np.zeros(30)
        for status in [s for s in STATUSES if s in set(shown["status"])]:  # stacked in this order
            part = shown[shown["status"] == status]
            expected = np.histogram(part[column].astype(float), bins=edges)[0]
            filled = np.flatnonzero(expected)  # empty bins draw no bar
            drawn = bars(ax, f"status:{status}")
            assert [round(t - b) for _, _, b, t in drawn] == expected[filled].tolist(), (column, status)
            np.testing.assert_allclose([(x0, x1) for x0, x1, _, _ in drawn],
                                       np.column_stack([edges[:-1], edges[1:]])[filled])
            np.testing.assert_allclose([b for _, _, b, _ in drawn], top[filled])  # on the earlier layers
            top += expected
        assert top.sum() == len(shown) == total(ax, "status:")
        assert {c.get_gid() for c in ax.collections} == {f"status:{s}" for s in set(shown["status"])}
        assert f": {len(shown)} judged rows" in ax.get_title()
        assert_labelled(ax)
    assert fig.legends and [t.get_text() for t in fig.legends[0].get_texts()] == [
        f"{s} ({n})" for s in STATUSES if (n := int((rows["status"] == s).sum()))]


def test_distributions_mark_the_confidence_levels(structural):
    ax = plots.distributions(structural).axes[2]
    lines = {line.get_gid(): line.get_xdata()[0] for line in by_gid(ax, "level:", Line2D)}
    assert lines == {"level:high": 0.8, "level:medium": 0.6, "level:low": 0.4}  # FEATURES.md C10
    assert [t.get_text() for t in by_gid(ax, "level_label")] == ["high", "medium", "low", "very low"]
    assert ax.get_xlim() == (0.0, 1.0)


def test_distributions_bins_and_their_check(small):
    fig = plots.distributions(small, bins=4)
    rows = judged(small)
    for ax, column in zip(fig.axes, ("RT", "Log P", "confidence"), strict=True):
        values = rows[column].astype(float)
        lo, hi = (0.0, 1.0) if column == "confidence" else (values.min(), values.max())
        boxes = [box for status in set(rows["status"]) for box in bars(ax, f"status:{status}")]
        assert {x0 for x0, _, _, _ in boxes} <= set(np.linspace(lo, hi, 5)[:-1])
        assert [x1 - x0 for x0, x1, _, _ in boxes] == pytest.approx([(hi - lo) / 4] * len(boxes))
        assert total(ax, "status:") == len(rows)
    with pytest.raises(InvalidParameterError, match=r"bins must be an integer >= 1. Got 0 instead"):
        plots.distributions(small, bins=0)


def test_distributions_leave_out_rejected_rows():
    table = gnb.datasets.load_sample("testwork")
    table.loc[2, "Name"] = "XYZ"  # rejected, but RT and Log P are known
    result = gnb.analyze(table)
    assert (result.compounds["status"] == "rejected").sum() == 1
    fig = plots.distributions(result)
    save(fig, "rejected_distributions")
    for ax in fig.axes:
        assert not bars(ax, "status:rejected")
        assert total(ax, "status:") == 4


# -- 7. pass rate per prefix ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_pass_rate_by_prefix_draws_the_valid_share_of_each_prefix(mode, request):
    result = request.getfixturevalue(mode)
    fig = request.getfixturevalue(f"{mode}_figures")["pass_rate_by_prefix"]
    save(fig, f"{mode}_pass_rate_by_prefix")
    (ax,) = fig.axes
    rows = judged(result)
    share = rows.groupby("prefix")["status"].agg(lambda s: 100.0 * (s == "valid").mean())
    sizes = rows.groupby("prefix").size()
    assert len(share) == 29  # below the default cap: every prefix has its bar
    widths = {p.get_gid().removeprefix("prefix:"): p.get_width() for p in ax.patches
              if (p.get_gid() or "").startswith("prefix:")}
    assert widths == pytest.approx(share.to_dict())
    assert len({round(w) for w in widths.values()}) > 5  # shares that differ
    # ordered like category_summary orders the categories (Rule 7), then by prefix; first on top
    rule7 = result.statistics["rules"]["check_category_order"]["expected_order"]
    category = rows.groupby("prefix")["category"].first()
    order = sorted(share.index, key=lambda p: (rule7.index(category[p]), p))
    assert [t.get_text() for t in ax.get_yticklabels()] == order
    assert ax.get_ylim()[0] > ax.get_ylim()[1]
    # "n=<judged rows>" written at the end of each bar
    labels = by_gid(ax, "n")
    assert len(labels) == len(order)
    for text in labels:
        x, y = text.get_position()
        prefix = order[round(y)]
        assert text.get_text().endswith(f"(n={sizes[prefix]})")
        assert x == pytest.approx(widths[prefix] + 1.0)
    (overall,) = by_gid(ax, "overall", Line2D)
    assert overall.get_xdata()[0] == pytest.approx(result.statistics["success_rate"])
    assert ax.get_legend() is not None
    assert_labelled(ax)


def test_pass_rate_by_prefix_keeps_the_prefixes_with_most_rows(structural):
    sizes = judged(structural).groupby("prefix").size().sort_values(ascending=False)
    assert sizes.iloc[4] > sizes.iloc[5]  # no tie at the cut
    host = Figure()
    ax = host.add_subplot()
    assert plots.pass_rate_by_prefix(structural, ax, max_prefixes=5) is host
    shown = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(shown) == sorted(sizes.index[:5])
    assert "the 5 with most rows of 29 prefixes" in ax.get_title()
    # the overall line still covers every judged row
    assert by_gid(ax, "overall", Line2D)[0].get_xdata()[0] == pytest.approx(
        structural.statistics["success_rate"])
    with pytest.raises(InvalidParameterError, match=r"max_prefixes must be an integer >= 1"):
        plots.pass_rate_by_prefix(structural, max_prefixes=0)


# -- 8. O-acetylation shifts ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_oac_shift_histogram_counts_every_pair(mode, request):
    result = request.getfixturevalue(mode)
    fig = request.getfixturevalue(f"{mode}_figures")["oac_shift"]
    save(fig, f"{mode}_oac_shift")
    (ax,) = fig.axes
    pairs = result.oac_pairs
    shift = pairs["rt_shift"].astype(float)
    finite = pairs[np.isfinite(shift)]
    assert len(finite) > 100
    assert total(ax, "kind:") == len(finite)
    for kind, n in finite["kind"].value_counts().items():
        assert total(ax, f"kind:{kind}") == n
    # one bin edge at 0: the bars left of it hold exactly the pairs without an RT increase
    drawn = [box for kind in set(finite["kind"]) for box in bars(ax, f"kind:{kind}")]
    left = sum(top - bottom for _, x1, bottom, top in drawn if x1 <= 1e-9)
    assert left == int((finite["rt_shift"] <= 0).sum()) > 0
    (span,) = by_gid(ax, "note_range")
    note_range = result.params.oac_shift_note_range
    assert (span.get_x(), span.get_x() + span.get_width()) == pytest.approx(note_range)
    later = int((finite["rt_shift"] > 0).sum())
    assert f"{len(finite)} pairs, {later} with a later OAc peak" in ax.get_title()
    assert ax.get_legend() is not None
    assert_labelled(ax)


def test_oac_shift_note_range_follows_the_parameter(reference):
    result = dataclasses.replace(reference, params=reference.params.replace(oac_shift_note_range=(0.2, 1.5)))
    host = Figure()
    ax = host.add_subplot()
    assert plots.oac_shift_histogram(result, ax, bins=10) is host
    (span,) = by_gid(ax, "note_range")
    assert (span.get_x(), span.get_x() + span.get_width()) == pytest.approx((0.2, 1.5))
    assert total(ax, "kind:full") == int((reference.oac_pairs["kind"] == "full").sum())
    with pytest.raises(InvalidParameterError, match=r"bins must be an integer >= 1"):
        plots.oac_shift_histogram(reference, bins=-1)


def test_oac_shift_of_zero_counts_as_no_increase():
    """An OAc peak at its base's RT (shift 0) is not a later peak: its bar sits left of 0."""
    extra = pd.DataFrame({"Name": ["GD1a+OAc(36:1;O2)", "GD3+OAc(36:1;O2)"], "RT": ["9.572", "10.526"],
                          "Volume": ["300000"] * 2, "Log P": ["2.08", "5.82"], "Anchor": ["F"] * 2})
    table = pd.concat([gnb.datasets.load_sample("testwork").astype(str), extra], ignore_index=True)
    result = gnb.analyze(table)
    assert sorted(result.oac_pairs["rt_shift"]) == pytest.approx([0.0, 0.4])
    fig = plots.oac_shift_histogram(result)
    save(fig, "oac_shift_zero")
    ax = fig.axes[0]
    (zero, later) = sorted(bars(ax, "kind:full"))
    assert zero[1] == 0.0 and zero[3] - zero[2] == 1  # the bin (-w, 0]
    assert later[0] < 0.4 <= later[1] and later[3] - later[2] == 1
    assert "2 pairs, 1 with a later OAc peak" in ax.get_title()


def test_oac_shift_histogram_without_pairs(small):
    assert small.oac_pairs.empty
    fig = plots.oac_shift_histogram(small)
    assert "no o-acetylation pairs" in message(fig.axes[0]).lower()
    assert not fig.axes[0].collections


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
    for ax in figures["distributions"].axes:
        assert {s: total(ax, f"status:{s}") for s in STATUSES
                if bars(ax, f"status:{s}")} == expected_status(result.compounds)
    shares = result.compounds.groupby("prefix")["status"].agg(lambda s: 100.0 * (s == "valid").mean())
    widths = {p.get_gid().removeprefix("prefix:"): p.get_width()
              for p in figures["pass_rate_by_prefix"].axes[0].patches}
    assert widths == pytest.approx(shares.to_dict())
    assert "no o-acetylation pairs" in message(figures["oac_shift"].axes[0]).lower()


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
    # statuses and confidence stay: the histograms and pass rates are drawn as usual
    assert all(total(ax, "status:") == len(no_model.compounds)
               for ax in figures["distributions"].axes)
    assert len(figures["pass_rate_by_prefix"].axes[0].patches) == no_model.compounds["prefix"].nunique()
    assert message(figures["oac_shift"].axes[0])


def test_result_without_compounds_draws_messages(small):
    empty = dataclasses.replace(small, compounds=small.compounds.iloc[0:0])
    fig = plots.distributions(empty)
    assert [message(ax) for ax in fig.axes] == ["No judged rows with a retention time.",
                                                 "No judged rows with a Log P.",
                                                 "No judged rows with a confidence."]
    assert not fig.legends and not any(ax.collections for ax in fig.axes)
    ax = plots.pass_rate_by_prefix(empty).axes[0]
    assert message(ax).startswith("No judged rows") and not ax.patches


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

    for draw in (lambda r: plots.rt_vs_logp(r, groups="GD3"), plots.residual_plot, plots.distributions,
                 plots.pass_rate_by_prefix):
        assert png(draw(small)) == png(draw(small))


def test_plots_never_use_pyplot():
    """plots.py builds Figure objects itself: no pyplot import, hence no global figure state."""
    tree = ast.parse(Path(plots.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                 for a in n.names}
    assert imported and not any("pyplot" in name for name in imported)
    assert not any(isinstance(n, ast.Attribute) and n.attr == "pyplot" for n in ast.walk(tree))


def test_public_names(small):
    assert sorted(plots.__all__) == plots.__all__
    assert {"rt_vs_logp", "residual_plot", "predicted_vs_observed", "category_summary", "fragment_map",
            "distributions", "pass_rate_by_prefix", "oac_shift_histogram", "plot_all"} <= set(plots.__all__)
    assert list(plots.plot_all(small)) == ["rt_vs_logp", "residuals", "predicted_vs_observed",
                                           "category_summary", "fragment_map", "distributions",
                                           "pass_rate_by_prefix", "oac_shift"]
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
