"""Rule 1: the retention-time model and the valid/outlier verdict (ALGORITHM.md §5).

``reference`` mode reproduces the original V2 per-prefix models (§5.1) row for row;
``structural`` mode (default) judges every row with the partially pooled
:class:`~ganglioside_nb.core.regression.StructuralRTModel` (§5.3): non-anchors against the fit on
all anchors, anchors against the leave-one-out fit without themselves.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from ..names import factorize_by_name
from ..regression import (
    StructuralRTModel,
    canonical_order,
    first_rows,
    fit_reference_group,
    normal_quantile,
    regression_metrics,
)
from ..schema import TEXT_DTYPE
from ._base import RuleOutcome

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["flag_rt_outliers", "structural_out_of_sample"]

_MOD_COLUMNS = ("n_OAc", "n_dHex", "n_HexNAc", "n_Hex", "n_NeuAc", "n_NeuGc")


def flag_rt_outliers(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    """Rule 1 in the mode ``params.mode``."""
    if params.mode == "reference":
        return _reference(table, params)
    return _structural(table, params)


def _empty_columns(n: int) -> dict[str, Any]:
    nan = np.full(n, np.nan)
    return {
        "status": np.full(n, "outlier", dtype=object), "reason": np.full(n, "", dtype=object),
        "predicted_rt": nan.copy(), "pi_low": nan.copy(), "pi_high": nan.copy(),
        "residual": nan.copy(), "z": nan.copy(), "predictive_sd": nan.copy(),
        "noise_sd": nan.copy(), "model_r2": nan.copy(), "logp_slope": nan.copy(),
        "model": np.full(n, "", dtype=object), "n_anchors_model": np.zeros(n, dtype=np.int64),
        "n_anchors_prefix": np.zeros(n, dtype=np.int64), "isomer_series": np.full(n, "", dtype=object),
    }


def _prefixed(head: str, values: np.ndarray) -> np.ndarray:
    """``head + value`` for every value, built once per distinct value."""
    codes, uniques = pd.factorize(values)
    return np.array([head + str(u) for u in uniques], dtype=object)[codes]


def _validation_frame(table: pd.DataFrame, pos: np.ndarray, pred: np.ndarray, model: Any,
                      method: Any) -> pd.DataFrame:
    rt = table["RT"].to_numpy()[pos]
    text: dict[str, Any] = {c: table[c].to_numpy()[pos] for c in ("Name", "prefix")}
    if len(pos):  # text per row: made text directly, not inferred from every object
        text = {c: pd.array(v, dtype=TEXT_DTYPE) for c, v in text.items()}
        if not isinstance(model, str):
            model = pd.array(np.asarray(model, dtype=object), dtype=TEXT_DTYPE)
    return pd.DataFrame({"row": table["row"].to_numpy()[pos], **text, "model": model, "RT": rt,
                         "predicted_rt": pred, "residual": rt - pred, "method": method})


# ============================================================================================
# reference (§5.1)
# ============================================================================================
def _reference(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    n = len(table)
    cols = _empty_columns(n)
    rt = table["RT"].to_numpy(dtype=float)
    anchor = table["Anchor"].to_numpy(dtype=bool)
    q = normal_quantile(params.interval_level)
    T = params.outlier_threshold
    groups = table.groupby("written_prefix", sort=False, dropna=False).indices  # first appearance
    model_rows: list[dict[str, Any]] = []
    validations: list[pd.DataFrame] = []
    notes: list[str] = []
    for prefix, pos in groups.items():
        pos = np.sort(pos)
        is_anchor = anchor[pos]
        n_anchor = int(is_anchor.sum())
        cols["n_anchors_prefix"][pos] = n_anchor
        if n_anchor < params.min_anchors:
            a_pos, o_pos = pos[is_anchor], pos[~is_anchor]
            cols["status"][a_pos] = "valid"
            cols["predicted_rt"][a_pos] = rt[a_pos]
            cols["residual"][a_pos] = 0.0
            cols["z"][a_pos] = 0.0
            cols["model"][a_pos] = f"{prefix}_trusted"
            cols["n_anchors_model"][a_pos] = n_anchor
            cols["reason"][o_pos] = (f"Rule 1: Insufficient anchor compounds ({n_anchor} < "
                                     f"{params.min_anchors}) for regression")
            note = f"{prefix}: Only {n_anchor} anchors, skipped regression"
            notes.append(note)
            model_rows.append({"model": prefix, "mode": "reference", "scope": "prefix",
                               "n_anchors": n_anchor, "n_rows": len(pos), "accepted": "no",
                               "reason": f"Only {n_anchor} anchors, skipped regression",
                               "warnings": note})
            continue
        train_pos = pos[is_anchor]
        if params.effective_cv_order == "canonical":
            train_pos = train_pos[canonical_order(table.iloc[train_pos])]
        train = table.iloc[train_pos]
        fit = fit_reference_group(train, max_features_ratio=params.max_features_ratio,
                                  seed=params.seed, prefix=str(prefix))
        notes.extend(fit.warnings)
        accepted = fit.metrics["r2"] >= params.r2_threshold
        group = table.iloc[pos]
        pred, std = fit.predict(group, return_std=True)
        residual = rt[pos] - pred
        sigma = float(np.std(residual, ddof=0))
        z = residual / sigma if sigma > 0 else np.zeros_like(residual)
        cols["predicted_rt"][pos] = pred
        cols["residual"][pos] = residual
        cols["z"][pos] = z
        cols["predictive_sd"][pos] = std
        cols["pi_low"][pos] = pred - q * std
        cols["pi_high"][pos] = pred + q * std
        cols["noise_sd"][pos] = fit.estimator.alpha_ ** -0.5
        cols["model_r2"][pos] = fit.metrics["r2"]
        cols["logp_slope"][pos] = fit.coef_original.get("Log P", math.nan)
        cols["model"][pos] = prefix
        cols["n_anchors_model"][pos] = n_anchor
        if accepted:
            bad = np.abs(z) >= T
            cols["status"][pos] = np.where(bad, "outlier", "valid")
            cols["reason"][pos[bad]] = [f"Rule 1: Standardized residual = {v:.3f} exceeds threshold {T:g}"
                                        for v in z[bad]]
        else:
            cols["reason"][pos] = (f"Rule 1: Model CV R² = {fit.metrics['r2']:.3f} is below the "
                                   f"threshold {params.r2_threshold:g}")
        validations.append(_validation_frame(table, train_pos, fit.cv_pred, prefix, fit.validation))
        est = fit.estimator
        model_rows.append({
            "model": prefix, "mode": "reference", "scope": "prefix", "features": ", ".join(fit.features),
            "coefficients": fit.coef_original, "intercept": fit.intercept_original,
            "coefficients_standardized": dict(zip(fit.features, map(float, est.coef_), strict=True)),
            "intercept_standardized": float(est.intercept_),
            "scaler_mean": dict(zip(fit.features, map(float, fit.mean), strict=True)),
            "scaler_scale": dict(zip(fit.features, map(float, fit.scale), strict=True)),
            "n_anchors": n_anchor, "n_rows": len(pos), "validation": fit.validation,
            **fit.metrics, "train_r2": fit.train_r2, "adjusted_r2": fit.adjusted_r2,
            "alpha_noise_precision": float(est.alpha_), "lambda_weight_precision": float(est.lambda_),
            "ridge_penalty": float(est.lambda_ / est.alpha_), "sigma_all_rows": sigma,
            "accepted": "yes" if accepted else "no",
            "reason": "" if accepted else f"CV R² {fit.metrics['r2']:.4f} < {params.r2_threshold:g}",
            "warnings": "; ".join(fit.warnings),
        })
    models = pd.DataFrame(model_rows)
    validation = pd.concat(validations, ignore_index=True) if validations else \
        _validation_frame(table, np.array([], dtype=int), np.array([]), "", "")
    accepted_models = set(models.loc[models["accepted"] == "yes", "model"]) if len(models) else set()
    oos = validation[validation["model"].isin(accepted_models)]
    stats = {"n_models": len(validations), "n_groups": len(models),
             "n_models_accepted": len(accepted_models),
             "validation_method": "per-prefix CV (LOO / 3-fold / 5-fold)",
             **{f"oos_{k}": v for k, v in regression_metrics(oos["RT"], oos["predicted_rt"]).items()},
             "oos_n_anchors": len(oos)}
    return RuleOutcome(columns=cols, tables={"models": models, "validation": validation},
                       statistics=stats, warnings=tuple(notes),
                       flags={"trusted_anchor": np.char.endswith(cols["model"].astype(str), "_trusted")})


# ============================================================================================
# structural (§5.3)
# ============================================================================================
def structural_out_of_sample(anchors: pd.DataFrame, params: AnalysisParams, full: StructuralRTModel,
                             folds: int | None = None, refit: bool = False,
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Out-of-sample mean, SD and series of each anchor (rows of ``anchors``, canonical order).

    Leave-one-out by default: in closed form, conditional on the full fit's hyperparameters
    (``refit=False``), or by refitting everything without each anchor (``refit=True``).
    K-fold (shuffled with ``params.seed``) when ``folds`` is given or when there are more anchors
    than ``params.loo_max_anchors`` (then 10-fold): each fold is downdated out of the full
    posterior exactly (``refit=False``), or everything is refitted without it (``refit=True``).
    """
    n = len(anchors)
    rt = anchors["RT"].to_numpy(dtype=float)
    if folds is None and n <= params.loo_max_anchors:
        if not refit:
            mean, sd, second = full.loo_dist(anchors, rt)
            return mean, sd, second, "LOO"
        splits = [(np.delete(np.arange(n), i), np.array([i])) for i in range(n)]
        method = "LOO (refit)"
    else:
        k = min(folds or 10, n)
        splits = list(KFold(k, shuffle=True, random_state=params.seed).split(np.arange(n)))
        method = f"{k}-fold"
    if not refit:
        mean, sd, second = full.fold_dist(anchors, rt, [test for _, test in splits])
        return mean, sd, second, method
    mean, sd = np.empty(n), np.empty(n)
    second = np.zeros(n, dtype=bool)
    for train, test in splits:
        model = StructuralRTModel(min_anchors_slope=params.min_anchors).fit(
            anchors.iloc[train], rt[train], theta0=full.theta_, weights0=full.weights_[train])
        mean[test], sd[test], second[test] = model.predict_dist(anchors.iloc[test], rt=rt[test])
    return mean, sd, second, method


def _structural(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    n = len(table)
    rt = table["RT"].to_numpy(dtype=float)
    anchor = table["Anchor"].to_numpy(dtype=bool)
    prefix = table["prefix"].to_numpy()
    pcode, levels = factorize_by_name(table, "prefix")  # prefix work runs on integer codes
    n_rows = np.bincount(pcode, minlength=len(levels))
    n_anchors = np.bincount(pcode[anchor], minlength=len(levels))
    a_pos = np.flatnonzero(anchor)
    n_logp = np.unique(table["Log P"].to_numpy()[a_pos]).size
    flags: dict[str, np.ndarray] = {}
    if a_pos.size < params.min_anchors or n_logp < 2:
        cols = _empty_columns(n)
        cols["n_anchors_prefix"] = n_anchors[pcode]
        why = (f"Rule 1: not assessed: fewer than {params.min_anchors} anchors / 2 Log P values "
               f"({a_pos.size} anchors, {n_logp} Log P values)")
        cols["status"] = np.where(anchor, "valid", "outlier").astype(object)
        cols["reason"] = np.where(anchor, "", why).astype(object)
        flags["not_assessed"] = np.ones(n, dtype=bool)
        models = pd.DataFrame([{"model": "structural", "mode": "structural", "scope": "pooled",
                                "n_anchors": int(a_pos.size), "n_rows": n, "accepted": "no",
                                "reason": why.removeprefix("Rule 1: ")}])
        return RuleOutcome(columns=cols, flags=flags, tables={"models": models},
                           statistics={"n_models": 0, "n_models_accepted": 0, "oos_r2": None},
                           warnings=(why.removeprefix("Rule 1: "),))

    model = StructuralRTModel(min_anchors_slope=params.min_anchors)
    needed = list(dict.fromkeys([*model.features, "prefix", "base_class", "Name", "ceramide", "RT",
                                 "Volume", "row", *(["name_id"] if "name_id" in table else [])]))
    narrow = table[needed]  # the model's rows are sliced from these columns only
    anchors = narrow.iloc[a_pos]
    order = canonical_order(anchors)
    a_pos, anchors = a_pos[order], anchors.iloc[order]
    full = model.fit(anchors, rt[a_pos])
    mean, sd, second = full.predict_dist(narrow, rt=rt)
    train_r2 = regression_metrics(rt[a_pos], mean[a_pos])["r2"]
    loo_mean, loo_sd, loo_second, method = structural_out_of_sample(anchors, params, full)
    mean[a_pos], sd[a_pos], second[a_pos] = loo_mean, loo_sd, loo_second
    metrics = regression_metrics(rt[a_pos], loo_mean)
    accepted = bool(metrics["r2"] >= params.r2_threshold)

    residual = rt - mean
    z = residual / np.maximum(sd, params.min_predictive_sd)
    q = normal_quantile(params.interval_level)
    T = params.outlier_threshold
    noise = full.variance_components_["noise_sd"]
    cols = {
        "predicted_rt": mean, "residual": residual, "z": z, "predictive_sd": sd,
        "pi_low": mean - q * sd, "pi_high": mean + q * sd, "noise_sd": np.full(n, noise),
        "model_r2": np.full(n, metrics["r2"]), "logp_slope": full.logp_slope(levels)[pcode],
        "n_anchors_prefix": n_anchors[pcode], "n_anchors_model": np.full(n, a_pos.size, dtype=np.int64),
        "model": np.array([f"structural:{p}" for p in levels], dtype=object)[pcode],
        "isomer_series": np.array(["first", "second"], dtype=object)[second.astype(np.intp)],
    }
    bad = np.abs(z) >= T
    status = np.array(["valid", "outlier"], dtype=object)[bad.astype(np.intp)]
    reason = np.full(n, "", dtype=object)
    idx = np.flatnonzero(bad)
    reason[idx] = [f"Rule 1: RT {rt[i]:.3f} is {abs(residual[i]):.3f} min "
                   f"{'later' if residual[i] > 0 else 'earlier'} than predicted {mean[i]:.3f} "
                   f"(z = {z[i]:.2f}, |z| >= {T:g}; {params.interval_level:.0%} interval "
                   f"{mean[i] - q * sd[i]:.3f}-{mean[i] + q * sd[i]:.3f})" for i in idx]
    if not accepted:
        why = (f"Rule 1: structural model rejected: {method} R² = {metrics['r2']:.3f} is below the "
               f"threshold {params.r2_threshold:g}")
        status[~anchor] = "outlier"
        reason[~anchor] = why
        flags["model_rejected"] = np.ones(n, dtype=bool)
    cols["status"], cols["reason"] = status, reason
    flags["anchor_outlier"] = anchor & bad

    logp = table["Log P"].to_numpy(dtype=float)
    lo, hi = logp[a_pos].min(), logp[a_pos].max()
    margin = 0.1 * (hi - lo)
    flags["extrapolated_logp"] = (logp < lo - margin) | (logp > hi + margin)
    unseen = np.zeros(n, dtype=bool)
    for column in _MOD_COLUMNS:
        values = table[column].to_numpy()
        if not (values[a_pos] > 0).any():
            unseen |= values > 0
    flags["unseen_feature"] = unseen

    # models table: the pooled model, then one row per prefix with its shifts and LOO figures
    val = _validation_frame(table, a_pos, loo_mean, _prefixed("structural:", prefix[a_pos]), method)
    shifts = full.shifts().set_index("prefix")
    pooled = {
        "model": "structural", "mode": "structural", "scope": "pooled",
        "features": ", ".join(full.features) + ", second_series_offset",
        "coefficients": full.coefficients(), "intercept": full.intercept_,
        "n_anchors": int(a_pos.size), "n_rows": n, "validation": method, **metrics,
        "train_r2": train_r2,
        "alpha_noise_precision": full.noise_precision_, **full.variance_components_,
        "accepted": "yes" if accepted else "no",
        "reason": "" if accepted else f"{method} R² {metrics['r2']:.4f} < {params.r2_threshold:g}",
        "warnings": "",
    }
    rows = [pooled]
    base_of = dict(zip(levels, table["base_class"].to_numpy()[first_rows(pcode)], strict=True))
    v_code = pcode[a_pos]
    v_rt, v_pred = val["RT"].to_numpy(), val["predicted_rt"].to_numpy()
    for j in sorted(range(len(levels)), key=lambda j: levels[j]):
        p, in_v = levels[j], v_code == j
        m = regression_metrics(v_rt[in_v], v_pred[in_v]) if in_v.any() else {}
        rows.append({
            "model": f"structural:{p}", "mode": "structural", "scope": "prefix-shift",
            "coefficients": {"prefix_shift": float(shifts["prefix_shift"].get(p, 0.0)),
                             "base_class_shift": full.base_shift(base_of[p]),
                             "logp_slope_shift": float(shifts["logp_slope_shift"].get(p, 0.0))},
            "n_anchors": int(n_anchors[j]), "n_rows": int(n_rows[j]),
            "validation": method if in_v.any() else "", **m,
            "accepted": "yes" if accepted else "no", "reason": "", "warnings": "",
        })
    stats = {"n_models": 1, "n_models_accepted": int(accepted), "validation_method": method,
             **{f"oos_{k}": v for k, v in metrics.items()}, "oos_n_anchors": int(a_pos.size),
             "variance_components": full.variance_components_}
    return RuleOutcome(columns=cols, flags=flags, tables={"models": pd.DataFrame(rows), "validation": val},
                       statistics=stats, warnings=() if accepted else (why.removeprefix("Rule 1: "),))
