"""Diagnostics per model group (FEATURES.md C11), checked against independent computations on
the real sample in both modes, and with an anchor planted to be influential."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import ganglioside_nb as gnb
from ganglioside_nb.core.diagnostics import DIAGNOSTIC_COLUMNS, group_diagnostics, sample_size_level
from ganglioside_nb.core.results import AnalysisResult

SAMPLE = gnb.datasets.sample_path("testwork_user")


@pytest.fixture(scope="module")
def reference() -> AnalysisResult:
    return gnb.analyze(SAMPLE, mode="reference")


@pytest.fixture(scope="module")
def structural() -> AnalysisResult:
    return gnb.analyze(SAMPLE)


def test_sample_size_levels() -> None:
    assert [sample_size_level(n) for n in (0, 4, 5, 9, 10, 19, 20, 500)] == [
        "unreliable", "unreliable", "low", "low", "moderate", "moderate", "high", "high"]


def _group(result: AnalysisResult, model: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    part = result.validation[result.validation["model"] == model]
    anchors = result.compounds.set_index("row").loc[part["row"].to_numpy()]
    return part, anchors


def test_reference_gd1_against_independent_formulas(reference: AnalysisResult) -> None:
    table = group_diagnostics(reference)
    assert list(table.columns) == list(DIAGNOSTIC_COLUMNS)
    assert set(table["model"]) == set(reference.validation["model"])
    row = table.set_index("model").loc["GD1"]
    part, anchors = _group(reference, "GD1")
    n = len(part)
    residual = (part["RT"] - part["predicted_rt"]).to_numpy()
    assert row.n_anchors == n == 23 and row.sample_size == "high" and row.features == "Log P, b"
    assert row.heldout_mae == pytest.approx(np.abs(residual).mean())
    assert row.heldout_r2 == pytest.approx(reference.models.set_index("model").loc["GD1", "r2"])
    ordered = residual[np.argsort(anchors["Log P"].to_numpy(), kind="stable")]
    assert row.durbin_watson == pytest.approx(np.sum(np.diff(ordered) ** 2) / np.sum(ordered**2))
    rho, p_value = stats.spearmanr(np.abs(residual), part["predicted_rt"])
    assert (row.heteroscedasticity_rho, row.heteroscedasticity_p) == pytest.approx((rho, p_value))
    logp, b = anchors["Log P"].to_numpy(), anchors["b"].to_numpy(dtype=float)
    assert row.max_vif == pytest.approx(1 / (1 - np.corrcoef(logp, b)[0, 1] ** 2))
    x = np.column_stack([np.ones(n), logp, b])
    hat = x @ np.linalg.inv(x.T @ x) @ x.T
    leverage = np.diag(hat)
    assert leverage.sum() == pytest.approx(3)  # the trace of a hat matrix is its rank
    assert row.max_leverage == pytest.approx(leverage.max())
    assert row.high_leverage_anchors == int(np.sum(leverage > 2 * 3 / n))
    rt = anchors["RT"].to_numpy()
    e = rt - hat @ rt
    s2 = e @ e / (n - 3)
    cooks = e**2 * leverage / (3 * s2 * (1 - leverage) ** 2)
    assert row.max_cooks_distance == pytest.approx(cooks.max())
    expected_row = int(anchors.index[np.argmax(cooks)]) if cooks.max() > 4 / n else -1
    assert row.influential_row == expected_row
    f = stats.f.ppf(0.95, 2, n - 3)
    assert row.recommended_r2 == pytest.approx(2 * f / (2 * f + n - 3))


def test_structural_groups_use_log_p_and_count_extrapolated_rows(structural: AnalysisResult) -> None:
    table = group_diagnostics(structural).set_index("model")
    assert set(table.index) == set(structural.validation["model"])
    assert set(table["features"]) == {"Log P"} and table["max_vif"].isna().all()
    flagged = structural.compounds["flags"].str.contains("extrapolated_logp", regex=False)
    counts = flagged.groupby(structural.compounds["model"]).sum()
    for model, row in table.iterrows():
        assert row.extrapolated_rows == counts.get(model, 0)
        assert row.sample_size == sample_size_level(row.n_anchors)
        small = row.n_anchors < 6
        assert np.isnan(row.durbin_watson) == small
        assert ("unreliable sample size" in row.notes) == (row.n_anchors < 5)
    assert table.loc["structural:GM3", "extrapolated_rows"] > 0
    assert "extrapolated in Log P" in table.loc["structural:GM3", "notes"]


def test_a_planted_outlying_anchor_is_found_influential(reference: AnalysisResult) -> None:
    part, anchors = _group(reference, "GD1")
    target = int(anchors["Log P"].idxmax())  # high leverage: the largest Log P
    compounds = reference.compounds.copy()
    compounds.loc[compounds["row"] == target, "RT"] += 3.0
    validation = reference.validation.copy()
    validation.loc[validation["row"] == target, "RT"] += 3.0
    changed = dataclasses.replace(reference, compounds=compounds, validation=validation)
    row = group_diagnostics(changed).set_index("model").loc["GD1"]
    assert row.influential_row == target and row.max_cooks_distance > 1
    assert f"anchor row {target} influential" in row.notes


def test_no_held_out_anchors_gives_an_empty_table(reference: AnalysisResult) -> None:
    empty = dataclasses.replace(reference, validation=reference.validation.iloc[:0])
    table = group_diagnostics(empty)
    assert table.empty and list(table.columns) == list(DIAGNOSTIC_COLUMNS)
