"""Rule 10: a per-row confidence score in [0, 1] (ALGORITHM.md §6.6).

confidence = F · S · Q · P · C, with

* F, residual: 1 / (1 + (|z| / T)⁴), T = ``outlier_threshold`` (1 at z = 0, 0.5 at |z| = T);
* S, support: 0.5 + 0.5 · n / (n + 2), n = ``n_anchors_prefix``;
* Q, model quality: 0.5 + 0.5 · max(0, ``model_r2``);
* P, precision: 0.5 + 0.5 · min(1, ``noise_sd`` / ``predictive_sd``);
* C, rules: Π (1 − w_f) over the row's warning flags (every ``flag__*`` column set on the row,
  weights from ``_base.flag_weight``; notes weigh 0).

A row has a model prediction when ``predicted_rt`` and ``z`` are finite and it is not a
reference-mode "trusted" anchor (flag ``trusted_anchor``: its "prediction" is its own RT, no
model checked it). Without one, a non-anchor scores 0 and an anchor 0.5 · C. **Missing evidence
is scored at its floor**: with a prediction but a missing ``model_r2``, or a missing /
non-finite noise-to-predictive SD ratio, that factor takes its lowest value 0.5, never a middle
value; a missing ``n_anchors_prefix`` counts as 0 anchors.
Levels: high ≥ 0.8, medium ≥ 0.6, low ≥ 0.4, else very_low. The score is a documented ranking
aid, not a calibrated probability.

Pure ring: numpy and pandas only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._base import FLAG_PREFIX, RuleOutcome, flag_weight

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["CONFIDENCE_LEVELS", "confidence_factors", "confidence_level", "derive_confidence"]

#: (lower bound, level), highest first.
CONFIDENCE_LEVELS: tuple[tuple[float, str], ...] = (
    (0.8, "high"), (0.6, "medium"), (0.4, "low"), (-np.inf, "very_low"))
#: Level labels from the lowest up, indexed by :func:`_level_index`.
_LEVEL_LABELS = np.array([lvl for _, lvl in CONFIDENCE_LEVELS][::-1], dtype=object)


def _float(table: pd.DataFrame, column: str) -> np.ndarray:
    if column not in table:
        return np.full(len(table), np.nan)
    series = table[column]
    if series.dtype == np.float64:
        values: np.ndarray = series.to_numpy()
        return values
    return pd.to_numeric(series).to_numpy(dtype=float, na_value=np.nan)


def confidence_factors(table: pd.DataFrame, params: AnalysisParams) -> pd.DataFrame:
    """The five factors F, S, Q, P, C of every row, plus ``has_prediction``.

    Parameters
    ----------
    table : DataFrame
        Working table after Rules 1-9 (``z``, ``predicted_rt``, ``n_anchors_prefix``,
        ``model_r2``, ``noise_sd``, ``predictive_sd``, ``Anchor``, ``flag__*`` columns).
    params : AnalysisParams
        ``outlier_threshold``.

    Returns
    -------
    DataFrame
        Columns ``F``, ``S``, ``Q``, ``P``, ``C`` (float) and ``has_prediction`` (bool), aligned
        with ``table``.
    """
    f, s, q, p, c, has_prediction = _factors(table, params)
    return pd.DataFrame({"F": f, "S": s, "Q": q, "P": p, "C": c, "has_prediction": has_prediction})


def _factors(table: pd.DataFrame, params: AnalysisParams) -> tuple[np.ndarray, ...]:
    """F, S, Q, P, C and has_prediction as arrays (see :func:`confidence_factors`)."""
    z = _float(table, "z")
    has_prediction = np.isfinite(_float(table, "predicted_rt")) & np.isfinite(z)
    trusted = FLAG_PREFIX + "trusted_anchor"
    if trusted in table:
        has_prediction &= ~table[trusted].to_numpy(dtype=bool)
    t = params.outlier_threshold
    # Clipped so that the fourth power cannot overflow; F is ~1e-200 there anyway.
    u = np.minimum(np.abs(np.nan_to_num(z)) / t, 1e50)
    f = np.where(has_prediction, 1.0 / (1.0 + u**4), 0.0)
    n_anchors = np.nan_to_num(_float(table, "n_anchors_prefix"), nan=0.0).clip(min=0.0)
    s = 0.5 + 0.5 * n_anchors / (n_anchors + 2.0)
    r2 = _float(table, "model_r2")
    q = 0.5 + 0.5 * np.clip(np.nan_to_num(r2, nan=0.0), 0.0, 1.0)
    noise, spread = _float(table, "noise_sd"), _float(table, "predictive_sd")
    ratio = np.full(len(table), np.nan)
    usable = np.isfinite(noise) & np.isfinite(spread) & (spread > 0)
    np.divide(noise, spread, out=ratio, where=usable)
    p = 0.5 + 0.5 * np.clip(np.nan_to_num(ratio, nan=0.0), 0.0, 1.0)
    c = np.ones(len(table))
    for column in table.columns:
        name = str(column)
        if name.startswith(FLAG_PREFIX):
            weight = flag_weight(name[len(FLAG_PREFIX):])
            if weight > 0:
                flagged = table[column].to_numpy(dtype=bool)
                if flagged.any():  # only flagged rows change (x * 1.0 is x)
                    c[flagged] *= 1.0 - weight
    return f, s, q, p, c, has_prediction


def confidence_level(score: np.ndarray) -> np.ndarray:
    """Level text of each score (high ≥ 0.8, medium ≥ 0.6, low ≥ 0.4, else very_low).

    >>> confidence_level(np.array([0.95, 0.6, 0.1])).tolist()
    ['high', 'medium', 'very_low']
    """
    out: np.ndarray = _LEVEL_LABELS[_level_index(score)]
    return out


def _level_index(score: np.ndarray) -> np.ndarray:
    """Index of each score's level in ``_LEVEL_LABELS`` (0 = very_low ... 3 = high)."""
    bounds = np.array([b for b, _ in CONFIDENCE_LEVELS[:-1]])[::-1]  # 0.4, 0.6, 0.8
    out: np.ndarray = np.searchsorted(bounds, np.asarray(score, dtype=float), side="right")
    return out


def derive_confidence(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    """Confidence score and level of every row (Rule 10).

    Returns
    -------
    RuleOutcome
        Columns ``confidence`` (float in [0, 1]) and ``confidence_level`` (text); statistics
        ``mean_confidence``, ``levels`` (row count per level), ``above_0_9`` and the mean of each
        factor over rows with a prediction.
    """
    f, s, q, p, c, predicted = _factors(table, params)
    anchor = (table["Anchor"].to_numpy(dtype=bool) if "Anchor" in table
              else np.zeros(len(table), dtype=bool))
    score = np.where(predicted, f * s * q * p * c, np.where(anchor, 0.5 * c, 0.0))
    score = np.clip(score, 0.0, 1.0)
    level = _level_index(score)
    per_level = np.bincount(level, minlength=len(_LEVEL_LABELS))
    with_prediction = np.flatnonzero(predicted)
    n_pred = len(with_prediction)
    statistics = {
        "mean_confidence": float(score.mean()) if len(score) else None,
        "levels": {str(lvl): int(k)  # highest first, as CONFIDENCE_LEVELS
                   for lvl, k in zip(_LEVEL_LABELS[::-1], per_level[::-1], strict=True)},
        "above_0_9": int((score > 0.9).sum()),
        "rows_with_prediction": n_pred,
        "mean_factors": {k: (float(v[with_prediction].mean()) if n_pred else None)
                         for k, v in zip("FSQPC", (f, s, q, p, c), strict=True)},
    }
    levels = _LEVEL_LABELS[level]
    return RuleOutcome(columns={"confidence": score, "confidence_level": levels},
                       statistics=statistics)
