"""Rule 10: the confidence score F·S·Q·P·C and its levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganglioside_nb.core.rules._base import flag_weight
from ganglioside_nb.core.rules.derive_confidence import (
    confidence_factors,
    confidence_level,
    derive_confidence,
)
from ganglioside_nb.params import AnalysisParams

PARAMS = AnalysisParams()

#: A realistic well-supported row: GD1-like prefix with 23 anchors, a good model.
GOOD = {"z": 0.3, "predicted_rt": 10.0, "n_anchors_prefix": 23, "model_r2": 0.985,
        "noise_sd": 0.12, "predictive_sd": 0.125, "Anchor": False}


def _table(rows: list[dict]) -> pd.DataFrame:
    """Rule-1 columns (and any flag__* columns) from records; missing keys take GOOD's value."""
    records = [{**GOOD, **r} for r in rows]
    table = pd.DataFrame(records)
    for column in table.columns:
        if column.startswith("flag__"):
            table[column] = table[column].fillna(False).astype(bool)
    return table


def _score(rows: list[dict], params: AnalysisParams = PARAMS) -> np.ndarray:
    return np.asarray(derive_confidence(_table(rows), params).columns["confidence"], dtype=float)


def test_realistic_rows_exceed_0_9() -> None:
    score = _score([GOOD, {"z": 0.0}, {"z": 1.0}])
    assert score[0] > 0.9 and score[1] > 0.9
    assert score[2] < score[0]
    out = derive_confidence(_table([GOOD]), PARAMS)
    assert out.columns["confidence_level"].tolist() == ["high"]
    assert out.statistics["above_0_9"] == 1


def test_formula() -> None:
    row = {"z": 2.5, "n_anchors_prefix": 3, "model_r2": 0.6, "noise_sd": 0.1, "predictive_sd": 0.2,
           "flag__possible_fragment": True, "flag__isomer_candidate": True}
    f = 0.5                       # |z| = T
    s = 0.5 + 0.5 * 3 / 5         # 0.8
    q = 0.5 + 0.5 * 0.6
    p = 0.5 + 0.5 * 0.5
    c = 1 - flag_weight("possible_fragment")  # notes weigh 0
    assert _score([row])[0] == pytest.approx(f * s * q * p * c, rel=1e-12)
    factors = confidence_factors(_table([row]), PARAMS)
    assert factors.loc[0, ["F", "S", "Q", "P", "C"]].tolist() == pytest.approx([f, s, q, p, c])


@given(z=st.lists(st.floats(0, 50, allow_nan=False), min_size=2, max_size=30),
       threshold=st.sampled_from([1.0, 2.5, 5.0]),
       negate=st.booleans())
@settings(max_examples=40, deadline=None)
def test_non_increasing_in_abs_z(z: list[float], threshold: float, negate: bool) -> None:
    z_sorted = np.sort(np.asarray(z))
    signed = -z_sorted if negate else z_sorted
    score = _score([{"z": v} for v in signed], PARAMS.replace(outlier_threshold=threshold))
    assert np.all(np.diff(score) <= 1e-15)
    assert np.all((score >= 0) & (score <= 1))


def test_residual_factor_is_half_at_threshold_and_symmetric() -> None:
    f = confidence_factors(_table([{"z": 0.0}, {"z": 2.5}, {"z": -2.5}, {"z": 1e300}]), PARAMS)["F"]
    assert f.tolist()[:3] == pytest.approx([1.0, 0.5, 0.5])
    assert 0.0 <= f[3] < 1e-100


@pytest.mark.parametrize("change", [
    {"z": 2.0},
    {"n_anchors_prefix": 0},
    {"model_r2": 0.5},
    {"noise_sd": 0.05},
    {"predictive_sd": 0.5},
    {"flag__extrapolated_logp": True},
    {"flag__mod_direction_dHex": True},
    {"flag__cross_category_order": True},
], ids=lambda c: next(iter(c)))
def test_every_factor_changes_the_score(change: dict) -> None:
    base, changed = _score([GOOD, change])
    assert changed < base


def test_support_and_precision_values() -> None:
    s = confidence_factors(_table([{"n_anchors_prefix": n} for n in (0, 3, 23)]), PARAMS)["S"]
    assert s.tolist() == pytest.approx([0.5, 0.8, 0.5 + 0.5 * 23 / 25])
    p = confidence_factors(_table([{"noise_sd": 0.3, "predictive_sd": 0.1},
                                   {"noise_sd": 0.0, "predictive_sd": 0.1}]), PARAMS)["P"]
    assert p.tolist() == [1.0, 0.5]
    q = confidence_factors(_table([{"model_r2": -3.0}, {"model_r2": 1.0}]), PARAMS)["Q"]
    assert q.tolist() == [0.5, 1.0]


def test_notes_do_not_lower_the_score() -> None:
    base, noted = _score([GOOD, {"flag__isomer_candidate": True, "flag__repeated_name": True,
                                 "flag__mod_shift_unusual_dHex": True}])
    assert noted == base


def test_flag_weights_multiply() -> None:
    one, two = _score([{"flag__sugar_rt_violation": True},
                       {"flag__sugar_rt_violation": True, "flag__oac_no_rt_increase": True}])
    assert two == pytest.approx(one * (1 - flag_weight("oac_no_rt_increase")))


def test_without_prediction() -> None:
    rows = [{"predicted_rt": np.nan, "z": np.nan, "Anchor": False},
            {"predicted_rt": np.nan, "z": np.nan, "Anchor": True},
            {"predicted_rt": np.nan, "z": np.nan, "Anchor": True, "flag__category_order": True}]
    expected = [0.0, 0.5, 0.5 * (1 - flag_weight("category_order"))]
    assert _score(rows).tolist() == pytest.approx(expected)


def test_missing_model_quality_scores_at_the_floor() -> None:
    row = {"z": 0.0, "model_r2": np.nan, "noise_sd": np.nan, "n_anchors_prefix": 2}
    factors = confidence_factors(_table([row]), PARAMS)
    assert factors.loc[0, ["F", "S", "Q", "P"]].tolist() == [1.0, 0.75, 0.5, 0.5]
    assert _score([row])[0] == pytest.approx(1.0 * 0.75 * 0.5 * 0.5)


def test_reference_trusted_anchor_counts_as_unchecked() -> None:
    # Prediction = its own RT, z = 0, but no model judged it: scored like an anchor without
    # a prediction (0.5 · C), not as a perfect fit.
    trusted = {"z": 0.0, "predicted_rt": 9.0, "model_r2": np.nan, "noise_sd": np.nan,
               "predictive_sd": np.nan, "n_anchors_prefix": 2, "Anchor": True,
               "flag__trusted_anchor": True}
    assert _score([trusted]).tolist() == [0.5]


def test_values_in_unit_interval_on_random_inputs() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    rows = pd.DataFrame({
        "z": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 3, n)),
        "predicted_rt": np.where(rng.random(n) < 0.1, np.nan, 10.0),
        "n_anchors_prefix": rng.integers(0, 50, n),
        "model_r2": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(-2, 1, n)),
        "noise_sd": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 0.5, n)),
        "predictive_sd": np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 0.5, n)),
        "Anchor": rng.random(n) < 0.2,
        "flag__possible_fragment": rng.random(n) < 0.2,
        "flag__mod_direction_Hex": rng.random(n) < 0.2,
    })
    out = derive_confidence(rows, PARAMS)
    score = np.asarray(out.columns["confidence"], dtype=float)
    assert np.all(np.isfinite(score)) and np.all((score >= 0) & (score <= 1))
    levels = out.columns["confidence_level"]
    assert set(levels) <= {"high", "medium", "low", "very_low"}
    assert sum(out.statistics["levels"].values()) == n


def test_levels() -> None:
    got = confidence_level(np.array([1.0, 0.8, 0.7999, 0.6, 0.5999, 0.4, 0.3999, 0.0]))
    assert got.tolist() == ["high", "high", "medium", "medium", "low", "low",
                            "very_low", "very_low"]
