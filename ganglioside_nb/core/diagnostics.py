"""Diagnostics per model group (FEATURES.md C11): can a group's retention-time fit be trusted?

:func:`group_diagnostics` reads a finished :class:`~ganglioside_nb.core.results.AnalysisResult`
(its held-out anchor predictions, ``result.validation``, and its compounds) and returns one row
per model group that has held-out anchors: the ``model`` of the compounds table
(``structural:GD1``, or ``GD1`` in reference mode). Nothing is refitted except the ordinary
least-squares fit that leverage and Cook's distance are defined on.

Columns (``DIAGNOSTIC_COLUMNS``):

``n_anchors`` and ``sample_size``
    Anchors with a held-out prediction; ``unreliable`` below 5, ``low`` below 10, ``moderate``
    below 20, else ``high``.
``heldout_r2``, ``heldout_mae``
    Of the held-out predictions of the group's anchors (min).
``recommended_r2``
    The R² a linear fit on this many anchors with the group's features must exceed to differ
    from no relationship at the 5 % level (F test: ``F·p / (F·p + n − p − 1)``); a held-out R²
    below it says the group's anchors cannot support its model. NaN when ``n ≤ p + 1``.
``extrapolated_rows``
    Rows of the group flagged ``extrapolated_logp`` (outside the anchors' Log P range ± 10 %).
``durbin_watson``
    Of the held-out residuals ordered by Log P: about 2 when they do not follow Log P; below
    1.5 they run in streaks (curvature the linear model misses). Needs 6 anchors.
``heteroscedasticity_rho``, ``heteroscedasticity_p``
    Spearman correlation of |held-out residual| with the prediction, and its p-value: a small p
    means the scatter grows (or shrinks) along the RT range. Needs 5 anchors.
``max_vif``, ``vif_feature``
    Largest variance inflation factor among the group's features (reference mode: the model's
    selected features; structural mode: Log P only, the only feature varying within a prefix,
    so NaN). Above 5 the features are collinear and their coefficients unstable.
``max_leverage``, ``high_leverage_anchors``
    Hat values of an ordinary least-squares fit of RT on the group's features over its anchors;
    high means above ``2p/n``.
``max_cooks_distance``, ``influential_row``
    Largest Cook's distance of that fit and the anchor's input row when it exceeds ``4/n``
    (else ``-1``): one anchor that moves the fit on its own.
``notes``
    The findings above in words, ``;``-separated ('' when none).

Pure ring: numpy, pandas and SciPy's distributions (a scikit-learn dependency).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from .results import AnalysisResult

__all__ = ["DIAGNOSTIC_COLUMNS", "SAMPLE_SIZE_LEVELS", "group_diagnostics", "sample_size_level"]

#: (anchors below which, level); at or above the last bound: ``high``.
SAMPLE_SIZE_LEVELS: tuple[tuple[int, str], ...] = ((5, "unreliable"), (10, "low"), (20, "moderate"))
DIAGNOSTIC_COLUMNS: tuple[str, ...] = (
    "model", "n_anchors", "sample_size", "features", "heldout_r2", "heldout_mae", "recommended_r2",
    "extrapolated_rows", "durbin_watson", "heteroscedasticity_rho", "heteroscedasticity_p",
    "max_vif", "vif_feature", "max_leverage", "high_leverage_anchors", "max_cooks_distance",
    "influential_row", "notes")
_DW_LOW = 1.5
_DW_MIN_ANCHORS = 6
_VIF_HIGH = 5.0
_ALPHA = 0.05


def sample_size_level(n_anchors: int) -> str:
    """``unreliable`` (< 5 anchors), ``low`` (< 10), ``moderate`` (< 20) or ``high``.

    >>> [sample_size_level(n) for n in (4, 5, 19, 20)]
    ['unreliable', 'low', 'moderate', 'high']
    """
    return next((level for bound, level in SAMPLE_SIZE_LEVELS if n_anchors < bound), "high")


def group_diagnostics(result: AnalysisResult) -> pd.DataFrame:
    """One row of diagnostics per model group with held-out anchors (see the module docstring).

    Examples
    --------
    >>> import ganglioside_nb as gnb
    >>> table = group_diagnostics(gnb.analyze(gnb.datasets.sample_path(), mode="reference"))
    >>> gd1 = table.set_index("model").loc["GD1"]
    >>> int(gd1.n_anchors), gd1.sample_size, gd1.features
    (23, 'high', 'Log P, b')
    """
    validation = result.validation
    if validation.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DIAGNOSTIC_COLUMNS})
    compounds = result.compounds.set_index("row")
    features_of = _features_of(result)
    flagged = compounds["flags"].fillna("").str.contains("extrapolated_logp", regex=False)
    extrapolated = flagged.groupby(compounds["model"]).sum()
    rows = []
    for model, part in validation.groupby("model", sort=False):
        anchors = compounds.loc[part["row"].to_numpy()]
        features = [f for f in features_of(str(model)) if f in anchors.columns]
        rows.append(_one_group(str(model), part, anchors, features,
                               int(extrapolated.get(model, 0))))
    return pd.DataFrame(rows, columns=list(DIAGNOSTIC_COLUMNS))


def _features_of(result: AnalysisResult) -> Any:
    """model -> the features varying within its group: reference mode, the model's selected
    features; structural mode, Log P (the other features are constant within a prefix)."""
    listed: dict[str, list[str]] = {}
    if result.mode == "reference" and "features" in result.models:
        for model, text in zip(result.models["model"], result.models["features"], strict=True):
            if isinstance(text, str) and text.strip():
                listed[str(model)] = [f.strip() for f in text.split(",") if f.strip()]
    return lambda model: listed.get(model, ["Log P"])


def _one_group(model: str, part: pd.DataFrame, anchors: pd.DataFrame, features: list[str],
               extrapolated: int) -> dict[str, Any]:
    n = len(part)
    rt = part["RT"].to_numpy(dtype=float)
    predicted = part["predicted_rt"].to_numpy(dtype=float)
    residual = rt - predicted
    logp = anchors["Log P"].to_numpy(dtype=float)
    sst = float(np.sum((rt - rt.mean()) ** 2))
    out: dict[str, Any] = {
        "model": model, "n_anchors": n, "sample_size": sample_size_level(n),
        "features": ", ".join(features),
        "heldout_r2": 1.0 - float(np.sum(residual**2)) / sst if n >= 2 and sst > 0 else np.nan,
        "heldout_mae": float(np.mean(np.abs(residual))),
        "recommended_r2": _r2_bar(n, len(features)), "extrapolated_rows": extrapolated,
        "durbin_watson": _durbin_watson(residual, logp, part["row"].to_numpy()),
        "heteroscedasticity_rho": np.nan, "heteroscedasticity_p": np.nan,
        "max_vif": np.nan, "vif_feature": "", "max_leverage": np.nan, "high_leverage_anchors": 0,
        "max_cooks_distance": np.nan, "influential_row": -1,
    }
    if n >= 5 and np.ptp(predicted) > 0 and np.ptp(np.abs(residual)) > 0:
        rho, p_value = stats.spearmanr(np.abs(residual), predicted)
        out["heteroscedasticity_rho"], out["heteroscedasticity_p"] = float(rho), float(p_value)
    design = anchors[features].to_numpy(dtype=float) if features else np.empty((n, 0))
    out.update(_vif(design, features))
    out.update(_influence(design, anchors["RT"].to_numpy(dtype=float), part["row"].to_numpy()))
    out["notes"] = "; ".join(_notes(out))
    return out


def _r2_bar(n: int, p: int) -> float:
    if p < 1 or n <= p + 1:
        return np.nan
    f = float(stats.f.ppf(1 - _ALPHA, p, n - p - 1))
    return f * p / (f * p + n - p - 1)


def _durbin_watson(residual: np.ndarray, logp: np.ndarray, rows: np.ndarray) -> float:
    if len(residual) < _DW_MIN_ANCHORS:
        return np.nan
    ordered = residual[np.lexsort((rows, logp))]
    denominator = float(np.sum(ordered**2))
    return float(np.sum(np.diff(ordered) ** 2)) / denominator if denominator > 0 else np.nan


def _vif(design: np.ndarray, features: list[str]) -> dict[str, Any]:
    """Largest VIF: each feature regressed on the others (with an intercept)."""
    n, k = design.shape
    if k < 2 or n <= k + 1:
        return {}
    vifs = []
    for j in range(k):
        y = design[:, j]
        others = np.column_stack([np.ones(n), np.delete(design, j, axis=1)])
        fitted = others @ np.linalg.lstsq(others, y, rcond=None)[0]
        sst = float(np.sum((y - y.mean()) ** 2))
        r2 = 1.0 - float(np.sum((y - fitted) ** 2)) / sst if sst > 0 else 1.0
        vifs.append(np.inf if r2 >= 1.0 else 1.0 / (1.0 - r2))
    j = int(np.argmax(vifs))
    return {"max_vif": float(vifs[j]), "vif_feature": features[j]}


def _influence(design: np.ndarray, rt: np.ndarray, rows: np.ndarray) -> dict[str, Any]:
    """Leverage and Cook's distance of the OLS fit of RT on [1, features]."""
    n = len(rt)
    x = np.column_stack([np.ones(n), design])
    p = x.shape[1]
    if n <= p + 1 or np.linalg.matrix_rank(x) < p:
        return {}
    q, _ = np.linalg.qr(x)
    leverage = np.sum(q**2, axis=1)  # diagonal of the hat matrix Q Q'
    residual = rt - q @ (q.T @ rt)
    s2 = float(np.sum(residual**2)) / (n - p)
    out: dict[str, Any] = {"max_leverage": float(leverage.max()),
                           "high_leverage_anchors": int(np.sum(leverage > 2 * p / n))}
    if s2 > 0 and np.all(leverage < 1):
        cooks = residual**2 * leverage / (p * s2 * (1 - leverage) ** 2)
        worst = int(np.argmax(cooks))
        out["max_cooks_distance"] = float(cooks[worst])
        out["influential_row"] = int(rows[worst]) if cooks[worst] > 4 / n else -1
    return out


def _notes(d: dict[str, Any]) -> list[str]:
    notes = []
    if d["sample_size"] in ("unreliable", "low"):
        notes.append(f"{d['sample_size']} sample size ({d['n_anchors']} anchors)")
    if np.isfinite(d["recommended_r2"]) and np.isfinite(d["heldout_r2"]) \
            and d["heldout_r2"] < d["recommended_r2"]:
        notes.append(f"held-out R² {d['heldout_r2']:.2f} below the {d['recommended_r2']:.2f} "
                     "these anchors need")
    if d["extrapolated_rows"]:
        notes.append(f"{d['extrapolated_rows']} row(s) extrapolated in Log P")
    if np.isfinite(d["durbin_watson"]) and d["durbin_watson"] < _DW_LOW:
        notes.append(f"residuals follow Log P (Durbin–Watson {d['durbin_watson']:.2f})")
    if np.isfinite(d["heteroscedasticity_p"]) and d["heteroscedasticity_p"] < _ALPHA:
        notes.append(f"scatter changes along RT (Spearman p {d['heteroscedasticity_p']:.3f})")
    if np.isfinite(d["max_vif"]) and d["max_vif"] > _VIF_HIGH:
        notes.append(f"collinear features (VIF {d['max_vif']:.1f}, {d['vif_feature']})")
    if d["influential_row"] >= 0:
        notes.append(f"anchor row {d['influential_row']} influential (Cook's distance "
                     f"{d['max_cooks_distance']:.2f})")
    return notes
