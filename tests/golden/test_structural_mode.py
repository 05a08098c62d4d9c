"""Structural mode on the real sample: the accuracy targets of ALGORITHM.md §5.3 R8 (regression guard)."""

from __future__ import annotations

import numpy as np
import pytest

import ganglioside_nb as gnb

SIX = ("GD1", "GD1+HexNAc", "GD1+dHex", "GD3", "GM1", "GT1")
ORIGINAL_MAE = {"GD1": 0.238, "GD1+HexNAc": 0.053, "GD1+dHex": 0.069, "GD3": 0.089, "GM1": 0.161,
                "GT1": 0.015}


@pytest.fixture(scope="module")
def result():
    return gnb.analyze(gnb.datasets.sample_path())


def test_every_row_is_judged(result):
    c = result.compounds
    assert result.statistics["coverage"] == 100.0
    assert c["predicted_rt"].notna().all() and c["pi_low"].notna().all() and c["z"].notna().all()
    assert (c["pi_low"] < c["predicted_rt"]).all() and (c["predicted_rt"] < c["pi_high"]).all()
    assert c["model"].str.startswith("structural:").all()
    assert set(c["status"]) <= {"valid", "outlier", "fragment"}


def test_loo_targets_over_all_anchors(result):
    s = result.statistics
    assert s["validation_method"] == "LOO"
    assert s["oos_r2"] >= 0.985
    assert s["oos_mae"] <= 0.15
    assert s["oos_max_error"] < 1.0


def test_per_prefix_targets(result):
    v = result.validation
    mae = {p: float(np.mean(np.abs(v.loc[v["prefix"] == p, "residual"]))) for p in SIX}
    assert np.mean(list(mae.values())) <= 0.12, mae
    for p in SIX:
        assert mae[p] <= ORIGINAL_MAE[p] + 0.10, (p, mae[p])


def test_refit_loo_also_meets_targets():
    """validate_model refits everything (hyperparameters included) without each anchor."""
    v = gnb.validate_model(gnb.datasets.sample_path(), cv="loo")
    assert v.overall["method"] == "LOO (refit)"
    assert v.overall["r2"] >= 0.985 and v.overall["mae"] <= 0.15
    per = v.per_model.set_index("model")
    assert np.mean([per.loc[f"structural:{p}", "mae"] for p in SIX]) <= 0.12


def test_unseen_modification_keeps_a_prediction_with_a_wide_interval(result):
    c = result.compounds
    row = c[c["Name"].str.startswith("GD1+Hex+HexNAc+OAc")].iloc[0]
    assert "unseen_feature" in row["flags"]
    width = row["pi_high"] - row["pi_low"]
    assert width > 3 * np.median(c["pi_high"] - c["pi_low"])


def test_isomer_series_assigned_within_gd1(result):
    c = result.compounds
    gd1 = c[(c["prefix"] == "GD1") & c["Anchor"]]
    assert (gd1["isomer_series"] == "second").sum() >= 11
    coef = result.models.set_index("model").loc["structural", "coefficients"]
    assert 0.3 < coef["second_series_offset"] < 0.6


def test_reference_residual_outliers_are_flagged_or_fragments(result):
    """Each of the 9 reference residual outliers gets |z| > 2 or the fragment status (§8, SHOULD)."""
    ref = gnb.analyze(gnb.datasets.sample_path(), mode="reference").compounds
    rows = ref.index[ref["reason"].str.startswith("Rule 1: Standardized")]
    assert len(rows) == 9
    c = result.compounds.loc[rows]
    ok = (c["z"].abs() > 2) | (c["status"] == "fragment")
    assert ok.sum() >= 8, c[["Name", "RT", "z", "status"]]


def test_row_order_does_not_change_verdicts(result):
    df = gnb.datasets.load_sample()
    perm = np.random.default_rng(7).permutation(len(df))
    shuffled = gnb.analyze(df.iloc[perm].reset_index(drop=True)).compounds
    shuffled["orig_row"] = perm
    shuffled = shuffled.sort_values("orig_row").reset_index(drop=True)
    base = result.compounds
    # Rows identical in every input field may swap roles (R9); the sample has none with equal RT.
    for col in ("status", "flags", "model", "isomer_series"):
        assert (shuffled[col].to_numpy() == base[col].to_numpy()).all(), col
    np.testing.assert_allclose(shuffled["predicted_rt"], base["predicted_rt"], atol=1e-9)
    np.testing.assert_allclose(shuffled["z"], base["z"], atol=1e-7)
