"""The RT models: scikit-learn contract, closed-form references, LOO identities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import BayesianRidge

from ganglioside_nb.core.names import parse_names
from ganglioside_nb.core.regression import (
    StructuralRTModel,
    canonical_order,
    fit_reference_group,
    regression_metrics,
)
from ganglioside_nb.errors import NotFittedError
from ganglioside_nb.testing import TableBuilder


def _working(df: pd.DataFrame) -> pd.DataFrame:
    t = df[["Name", "RT", "Volume", "Log P"]].copy().reset_index(drop=True)
    t["Anchor"] = (df["Anchor"] == "T").to_numpy()
    t["row"] = np.arange(len(t))
    return pd.concat([t, parse_names(t["Name"])[0]], axis=1)


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    b = TableBuilder(seed=3, noise_sd=0.03)
    for prefix, n in (("GD1", 10), ("GM1", 8), ("GT1", 6), ("GD3", 5), ("GD1+OAc", 4), ("GM3", 3)):
        b.with_group(prefix, anchors=n, rows=n, pairs=(prefix == "GD1"))
    return _working(b.build())


def test_clone_and_unfitted_error(synthetic):
    model = StructuralRTModel(fixed_prior_sd=3.0)
    assert clone(model).get_params() == model.get_params()
    with pytest.raises(NotFittedError, match="must be fitted"):
        model.predict(synthetic)


def test_recovers_the_generating_structure(synthetic):
    a = synthetic[synthetic["Anchor"]]
    m = StructuralRTModel().fit(a, a["RT"].to_numpy())
    coef = m.coefficients()
    assert coef["Log P"] == pytest.approx(1.35, abs=0.08)
    assert coef["second_series_offset"] == pytest.approx(0.43, abs=0.05)
    mean, sd, second = m.predict_dist(a, rt=a["RT"].to_numpy())
    assert regression_metrics(a["RT"], mean)["mae"] < 0.06
    assert (sd > 0).all()
    assert second.sum() >= 8  # the GD1 pairs are found


def test_weak_priors_match_least_squares():
    """With negligible shrinkage and Gaussian noise the posterior mean is the OLS solution."""
    rng = np.random.default_rng(0)
    n = 60
    x = pd.DataFrame({"Log P": rng.normal(2, 2, n), "sialic_acids": rng.integers(1, 4, n).astype(float),
                      "neutral_sugars": rng.integers(2, 5, n).astype(float)})
    y = 1.0 + 1.3 * x["Log P"] + 2.8 * x["sialic_acids"] + 2.2 * x["neutral_sugars"] + rng.normal(0, 0.1, n)
    x = x.assign(prefix="GD1", base_class="GD1", Name=[f"n{i}" for i in range(n)])
    m = StructuralRTModel(features=("Log P", "sialic_acids", "neutral_sugars"), fixed_prior_sd=1e4,
                          robust_df=None, series=False, min_anchors_slope=10**6).fit(x, y.to_numpy())
    design = np.column_stack([np.ones(n), x[["Log P", "sialic_acids", "neutral_sugars"]].to_numpy()])
    ols = np.linalg.lstsq(design, y.to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(list(m.coefficients().values())[:3], ols[1:], atol=2e-3)
    assert m.intercept_ == pytest.approx(ols[0], abs=5e-3)


def test_closed_form_loo_equals_refit_at_fixed_hyperparameters(synthetic):
    a = synthetic[synthetic["Anchor"]].reset_index(drop=True)
    a = a.iloc[canonical_order(a)].reset_index(drop=True)
    y = a["RT"].to_numpy()
    m = StructuralRTModel(robust_df=None, series=False).fit(a, y)
    mean, sd, _ = m.loo_dist(a, y)
    for i in (0, 7, len(a) - 1):
        keep = np.arange(len(a)) != i
        r = StructuralRTModel(robust_df=None, series=False).fit(a[keep], y[keep], theta0=m.theta_,
                                                                  optimise=False)
        mu, s, _ = r.predict_dist(a[~keep])
        # the only difference is the centring constant (y mean) under a 1000-min intercept prior
        assert mu[0] == pytest.approx(mean[i], abs=2e-3)
        assert s[0] == pytest.approx(sd[i], rel=2e-2)


def test_reference_group_fit_matches_bayesian_ridge_by_hand(synthetic):
    g = synthetic[synthetic["prefix"] == "GM1"]
    fit = fit_reference_group(g, max_features_ratio=0.3, seed=42, prefix="GM1")
    assert fit.features == ["Log P", "b"][: len(fit.features)]
    x = g[fit.features].to_numpy(float)
    xs = (x - x.mean(0)) / x.std(0)
    ref = BayesianRidge().fit(xs, g["RT"].to_numpy())
    np.testing.assert_allclose(fit.estimator.coef_, ref.coef_, rtol=1e-10)
    slope = fit.coef_original["Log P"]
    assert slope == pytest.approx(ref.coef_[0] / x[:, 0].std(), rel=1e-10)


def test_fold_downdate_matches_closed_form_loo(synthetic):
    a = synthetic[synthetic["Anchor"]].reset_index(drop=True)
    y = a["RT"].to_numpy()
    m = StructuralRTModel().fit(a, y)
    loo = m.loo_dist(a, y)
    folds = m.fold_dist(a, y, [np.array([i]) for i in range(len(a))])
    for ours, theirs in zip(folds, loo, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-9)
