"""Model validation: out-of-sample accuracy of the RT models on held-out anchors (FEATURES H2).

``validate_model`` refits the whole model-building procedure without the held-out anchors
(leave-one-out, or shuffled K-fold on canonical order) and reports per-model and overall R², RMSE,
MAE and maximum error. In reference mode every prefix group with enough anchors is refitted the
way the original built it (feature selection, scaling, BayesianRidge); in structural mode the
pooled model is refitted, hyperparameters included.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, LeaveOneOut

from ..params import AnalysisParams
from .pipeline import prepare
from .regression import StructuralRTModel, canonical_order, fit_reference_group, regression_metrics
from .rules.flag_rt_outliers import structural_out_of_sample
from .validate import working_table

__all__ = ["ModelValidation", "validate_model"]


@dataclass(frozen=True, eq=False)
class ModelValidation:
    """Held-out anchor predictions and their accuracy, per model and overall."""

    per_model: pd.DataFrame
    overall: dict[str, Any]
    per_anchor: pd.DataFrame
    params: AnalysisParams

    def summary(self) -> str:
        o = self.overall
        lines = [f"{self.params.mode} model validation ({o['method']}, {o['n_anchors']} anchors): "
                 f"R² {o['r2']:.4f}, RMSE {o['rmse']:.3f} min, MAE {o['mae']:.3f} min, "
                 f"max error {o['max_error']:.3f} min"]
        for rec in self.per_model.to_dict("records"):
            lines.append(f"  {rec['model']:<28} n={rec['n_anchors']:<4} R² {rec['r2']:>8.4f}  "
                         f"MAE {rec['mae']:.3f}  max {rec['max_error']:.3f}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        o = self.overall
        return f"<ModelValidation {self.params.mode} {o['method']} R²={o['r2']:.4f} MAE={o['mae']:.3f}>"

    def _repr_html_(self) -> str:
        table = self.per_model.to_html(index=False, border=0, float_format="{:.4f}".format, na_rep="")
        head = html.escape(self.summary().splitlines()[0])
        return f"<div><b>Model validation</b><pre>{head}</pre>{table}</div>"


def _splits(n: int, cv: str | int, seed: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    if cv == "loo":
        return list(LeaveOneOut().split(np.arange(n))), "LOO"
    k = min(int(cv), n)
    return list(KFold(k, shuffle=True, random_state=seed).split(np.arange(n))), f"{k}-fold"


def validate_model(data: Any, params: AnalysisParams | dict[str, Any] | None = None, *,
                   cv: str | int = "loo", filename: str | None = None, **overrides: Any) -> ModelValidation:
    """Out-of-sample accuracy of the mode's RT model on held-out anchors.

    ``cv`` is ``"loo"`` or a number of folds (>= 2).
    """
    params = AnalysisParams.coerce(params, **overrides)
    if not (cv == "loo" or (isinstance(cv, int) and not isinstance(cv, bool) and cv >= 2)):
        from ..errors import InvalidParameterError
        raise InvalidParameterError(f"cv must be 'loo' or an integer >= 2. Got {cv!r} instead.",
                                    parameter="cv", value=repr(cv))
    _, table, _ = prepare(data, params, filename=filename)
    work = working_table(table)
    anchors = work.loc[work["Anchor"].to_numpy(dtype=bool)]
    anchors = anchors.iloc[canonical_order(anchors)].reset_index(drop=True)
    frames = []
    if params.mode == "reference":
        for prefix, part in anchors.groupby("written_prefix", sort=True, dropna=False):
            if len(part) < params.min_anchors:
                continue
            part = part.reset_index(drop=True)
            pred = np.empty(len(part))
            splits, method = _splits(len(part), cv, params.seed)
            for train, test in splits:
                fit = fit_reference_group(part.iloc[train], max_features_ratio=params.max_features_ratio,
                                          seed=params.seed, prefix=str(prefix))
                pred[test] = fit.predict(part.iloc[test])
            frames.append(pd.DataFrame({"row": part["row"], "Name": part["Name"], "model": prefix,
                                        "RT": part["RT"], "predicted_rt": pred, "method": method}))
    elif len(anchors) >= params.min_anchors and anchors["Log P"].nunique() >= 2:
        full = StructuralRTModel(min_anchors_slope=params.min_anchors).fit(anchors, anchors["RT"].to_numpy())
        folds = None if cv == "loo" else int(cv)
        if cv == "loo":
            params = params.replace(loo_max_anchors=max(params.loo_max_anchors, min(len(anchors), 100_000)))
        mean, _, _, method = structural_out_of_sample(anchors, params, full, folds=folds, refit=True)
        frames.append(pd.DataFrame({"row": anchors["row"], "Name": anchors["Name"],
                                    "model": "structural:" + anchors["prefix"], "RT": anchors["RT"],
                                    "predicted_rt": mean, "method": method}))
    per_anchor = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["row", "Name", "model", "RT", "predicted_rt", "method"])
    per_anchor["residual"] = per_anchor["RT"] - per_anchor["predicted_rt"]
    rows = []
    for model, part in per_anchor.groupby("model", sort=True):
        rows.append({"model": model, "n_anchors": len(part),
                     **regression_metrics(part["RT"].to_numpy(), part["predicted_rt"].to_numpy())})
    per_model = pd.DataFrame(rows, columns=["model", "n_anchors", "r2", "rmse", "mae", "max_error"])
    method = str(per_anchor["method"].iloc[0]) if len(per_anchor) else "none"
    overall = {"method": method, "n_anchors": len(per_anchor),
               **regression_metrics(per_anchor["RT"].to_numpy(dtype=float),
                                    per_anchor["predicted_rt"].to_numpy(dtype=float))}
    per_anchor = per_anchor.sort_values("row", kind="stable").reset_index(drop=True)
    return ModelValidation(per_model=per_model, overall=overall, per_anchor=per_anchor, params=params)
