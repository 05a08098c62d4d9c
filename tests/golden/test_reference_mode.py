"""Reference mode reproduces the original V2 Rule 1 on both samples (ALGORITHM.md §8)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ganglioside_nb as gnb


@pytest.fixture(scope="module")
def result():
    return gnb.analyze(gnb.datasets.sample_path(), mode="reference")


@pytest.fixture(scope="module")
def golden(reference_dir):
    return pd.read_csv(reference_dir / "v2_testwork_user_compounds.csv", keep_default_na=False)


@pytest.fixture(scope="module")
def summary(reference_dir):
    return json.loads((reference_dir / "v2_testwork_user_summary.json").read_text())


def test_rule1_status_model_and_reason_match_all_rows(result, golden):
    c = result.compounds
    assert len(c) == 323
    assert c["row"].tolist() == golden["input_row"].tolist()
    pd.testing.assert_series_equal(c["status"], golden["rule1_status"], check_names=False)
    pd.testing.assert_series_equal(c["model"], golden["regression_group"], check_names=False)
    pd.testing.assert_series_equal(c["reason"], golden["rule1_reason"], check_names=False)


def test_statistics_match(result):
    s = result.statistics
    assert (s["valid"], s["outliers"]) == (149, 174)
    assert s["success_rate"] == pytest.approx(46.13, abs=0.005)
    assert s["coverage"] == pytest.approx(45.82, abs=0.005)


def test_predictions_residuals_and_z_match_within_1e6(result, golden):
    fitted = golden["regression_group"].isin(["GD1", "GD1+dHex", "GD1+HexNAc", "GD3", "GM1", "GT1"])
    assert fitted.sum() == 148
    c = result.compounds[fitted.to_numpy()]
    g = golden[fitted]
    for ours, theirs in (("predicted_rt", "predicted_rt"), ("residual", "residual"), ("z", "std_residual")):
        np.testing.assert_allclose(c[ours].to_numpy(float), g[theirs].astype(float).to_numpy(),
                                   rtol=1e-6, atol=1e-9, err_msg=ours)


def test_models_match_summary(result, summary):
    models = result.models.set_index("model")
    for prefix, ref in summary["regression_summary"].items():
        m = models.loc[prefix]
        assert m["accepted"] == "yes"
        assert m["r2"] == pytest.approx(ref["r2_cv"], abs=1e-4)
        assert m["rmse"] == pytest.approx(ref["rmse_cv"], abs=1e-4)
        assert m["train_r2"] == pytest.approx(ref["train_r2"], rel=1e-6)
        assert m["validation"] == {"leave-one-out": "LOO"}.get(ref["cv_method"], ref["cv_method"])
        derived = ref["derived_original_units"]
        assert m["intercept"] == pytest.approx(derived["intercept"], rel=1e-6)
        features = [f.replace("_component", "") for f in ref["features"]]
        assert m["features"] == ", ".join(features)
        for f, v in derived["coefficients"].items():
            assert m["coefficients"][f.replace("_component", "")] == pytest.approx(v, rel=1e-6)
        assert m["sigma_all_rows"] == pytest.approx(derived["residual_std_all_group_members"], rel=1e-6)
        assert m["alpha_noise_precision"] == pytest.approx(ref["bayes_alpha_noise_precision"], rel=1e-4)


def test_skipped_prefixes_have_a_model_row_and_warning(result, summary):
    skipped = result.models[result.models["accepted"] == "no"]
    assert len(skipped) == 23
    for w in summary["model_warnings"]:
        if "skipped regression" in w:
            assert w in result.warnings


def test_five_row_file(reference_dir):
    r = gnb.analyze(gnb.datasets.sample_path("testwork"), mode="reference")
    golden = pd.read_csv(reference_dir / "v2_testwork_compounds.csv", keep_default_na=False)
    assert r.compounds["status"].tolist() == golden["rule1_status"].tolist()
    assert r.compounds["model"].tolist() == golden["regression_group"].tolist()
    assert r.compounds["reason"].tolist() == golden["rule1_reason"].tolist()
    assert r.statistics["success_rate"] == pytest.approx(60.0)


def _gt1(anchor_rule):
    table = gnb.datasets.load_sample()
    table = table[table["Name"].str.startswith("GT1(")].reset_index(drop=True)
    return anchor_rule(table)


def test_edge_all_gt1_rows_as_anchors_rejects_the_model():
    t = _gt1(lambda t: t.assign(Anchor="T"))
    assert len(t) == 43
    r = gnb.analyze(t, mode="reference")
    m = r.models.set_index("model").loc["GT1"]
    assert m["r2"] == pytest.approx(0.691, abs=5e-4)
    assert (r.compounds["status"] == "outlier").all()
    assert r.compounds["reason"].str.contains("0.691").all()


def test_edge_identical_logp_anchors_use_a_alone():
    t = _gt1(lambda t: t)
    anchors = t.index[t["Anchor"] == "T"]
    t.loc[anchors, "Log P"] = "3.0"
    r = gnb.analyze(t, mode="reference")
    assert r.models.set_index("model").loc["GT1", "features"] == "a"


def test_edge_suffix_without_oxygen_gives_same_result():
    t = _gt1(lambda t: t)
    r1 = gnb.analyze(t, mode="reference").compounds
    r2 = gnb.analyze(t.assign(Name=t["Name"].str.replace(";O2", "", regex=False)), mode="reference").compounds
    for col in ("status", "predicted_rt", "z"):
        pd.testing.assert_series_equal(r1[col], r2[col])
