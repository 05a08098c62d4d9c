"""Retention-time models (ALGORITHM.md §5).

Two models live here:

* :func:`fit_reference_group` reproduces the original V2 per-prefix model exactly: feature
  selection on Log P / a / b, standardisation before CV, scikit-learn ``BayesianRidge`` with its
  defaults, LOO / 3-fold / 5-fold CV in the given row order (§5.1).
* :class:`StructuralRTModel` is the project's own model (§5.3): one Bayesian linear model over all
  anchors with block-wise Gaussian priors. Structural effects (Log P, sialic acids, neutral
  sugars, modification counts, the isomer-series offset) have a weak zero-centred prior; the
  per-``base_class`` and per-``prefix`` intercept shifts and the per-prefix Log P slope shifts
  are random effects whose variances, and the pooled noise variance, are estimated by type-II
  maximum likelihood (evidence maximisation). It is a scikit-learn estimator (``clone`` works);
  its inputs are DataFrames because grouping columns are part of the design.

Isomer series (R4): within a prefix, the anchors of one name that elute as several peaks are
ranked by RT; peaks after the first belong to the second series, which gets one learned offset.
A row of a prefix that has second-series anchors is assigned to the series whose prediction is
nearer its RT (the held-out anchor in validation makes the same choice).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize, stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import BayesianRidge
from sklearn.model_selection import KFold, LeaveOneOut
from threadpoolctl import ThreadpoolController

from ..errors import NotFittedError
from .names import factorize_by_name

__all__ = [
    "REFERENCE_CANDIDATES",
    "STRUCTURAL_FEATURES",
    "ReferenceFit",
    "StructuralRTModel",
    "canonical_order",
    "fit_reference_group",
    "regression_metrics",
]

REFERENCE_CANDIDATES: tuple[str, ...] = ("Log P", "a", "b")
_VARIANCE_FLOOR = 0.01
_COLLINEAR_R = 0.95

STRUCTURAL_FEATURES: tuple[str, ...] = (
    "Log P", "sialic_acids", "neutral_sugars",
    "n_OAc", "n_dHex", "n_HexNAc", "n_Hex", "n_NeuAc", "n_NeuGc",
)
CANONICAL_KEYS: tuple[str, ...] = ("prefix", "ceramide", "RT", "Log P", "Volume", "row")


def canonical_order(table: pd.DataFrame) -> np.ndarray:
    """Positions of ``table`` sorted by (prefix, ceramide, RT, Log P, Volume, row) (R9)."""
    keys = [table[k].to_numpy() for k in reversed(CANONICAL_KEYS)]
    # Text keys (name fields) as codes in sorted order: lexsort on Python strings compares
    # object by object. The distinct values come through the names (factorize_by_name) and are
    # ranked among themselves: the codes of pd.factorize(sort=True).
    return np.lexsort([_sorted_codes(table, k) if v.dtype == object else v
                       for k, v in zip(reversed(CANONICAL_KEYS), keys, strict=True)])


def _sorted_codes(table: pd.DataFrame, column: str) -> np.ndarray:
    """``pd.factorize(table[column], sort=True)[0]`` for a name field."""
    codes, uniques = factorize_by_name(table, column)
    if len(codes) and codes.min() < 0:  # a missing value (code -1): pandas' own way
        return pd.factorize(table[column].to_numpy(), sort=True)[0]
    rank = np.empty(len(uniques), dtype=np.intp)
    rank[np.argsort(np.asarray(uniques, dtype=object), kind="stable")] = np.arange(len(uniques))
    out: np.ndarray = rank[codes]
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Out-of-sample R², RMSE, MAE and max error (NaN when undefined)."""
    y = np.asarray(y, dtype=float)
    pred = np.asarray(pred, dtype=float)
    if y.size == 0:
        return {"r2": math.nan, "rmse": math.nan, "mae": math.nan, "max_error": math.nan}
    err = y - pred
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else math.nan
    return {"r2": r2, "rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err))),
            "max_error": float(np.max(np.abs(err)))}


# ============================================================================================
# reference mode
# ============================================================================================
@dataclass
class ReferenceFit:
    """One fitted reference-mode group model (§5.1 B)."""

    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    estimator: BayesianRidge
    validation: str
    cv_pred: np.ndarray
    n: int
    metrics: dict[str, float]
    train_r2: float
    adjusted_r2: float
    warnings: list[str] = field(default_factory=list)

    @property
    def coef_original(self) -> dict[str, float]:
        coef = self.estimator.coef_
        return {f: float(c / s) for f, c, s in zip(self.features, coef, self.scale, strict=True)}

    @property
    def intercept_original(self) -> float:
        return float(self.estimator.intercept_ - np.sum(self.estimator.coef_ * self.mean / self.scale))

    def predict(self, frame: pd.DataFrame, return_std: bool = False) -> Any:
        x = (frame[self.features].to_numpy(dtype=float) - self.mean) / self.scale
        return self.estimator.predict(x, return_std=return_std)


def _bayesian_ridge() -> BayesianRidge:
    # Constructor names pinned: scikit-learn renamed the iteration limit (n_iter -> max_iter).
    return BayesianRidge(max_iter=300, tol=1e-3, alpha_1=1e-6, alpha_2=1e-6, lambda_1=1e-6,
                         lambda_2=1e-6, fit_intercept=True, compute_score=False)


def _select_features(train: pd.DataFrame, max_features_ratio: float) -> list[str]:
    kept: list[str] = []
    for cand in REFERENCE_CANDIDATES:
        values = train[cand].to_numpy(dtype=float)
        if np.isnan(values).any() or values.size < 2 or np.var(values, ddof=1) <= _VARIANCE_FLOOR:
            continue
        if any(abs(np.corrcoef(values, train[k].to_numpy(dtype=float))[0, 1]) > _COLLINEAR_R
               for k in kept):
            continue
        kept.append(cand)
    kept = kept[: max(1, int(math.floor(max_features_ratio * len(train))))]
    return kept or ["Log P"]


def fit_reference_group(train: pd.DataFrame, *, max_features_ratio: float, seed: int,
                        prefix: str) -> ReferenceFit:
    """Fit one prefix group on its anchors, in the given row order, exactly as the original."""
    n = len(train)
    features = _select_features(train, max_features_ratio)
    raw = train[features].to_numpy(dtype=float)
    mean = raw.mean(axis=0)
    scale = raw.std(axis=0, ddof=0)
    scale = np.where(scale == 0, 1.0, scale)  # as StandardScaler
    x = (raw - mean) / scale
    y = train["RT"].to_numpy(dtype=float)

    if n < 5:
        splitter, validation = LeaveOneOut(), "LOO"
    elif n < 10:
        splitter, validation = KFold(3, shuffle=True, random_state=seed), "3-fold"
    else:
        splitter, validation = KFold(5, shuffle=True, random_state=seed), "5-fold"
    cv_pred = np.empty(n)
    for tr, te in splitter.split(x):
        cv_pred[te] = _bayesian_ridge().fit(x[tr], y[tr]).predict(x[te])
    estimator = _bayesian_ridge().fit(x, y)
    metrics = regression_metrics(y, cv_pred)
    fitted = estimator.predict(x)
    train_r2 = regression_metrics(y, fitted)["r2"]
    p = len(features)
    adjusted = 1 - (1 - metrics["r2"]) * (n - 1) / (n - p - 1) if n > p + 1 else math.nan

    notes: list[str] = []
    if n == p:
        notes.append(f"{prefix}: {n} anchors for {p} features, exactly determined")
    if metrics["r2"] > 0.98 and n < 10:
        notes.append(f"{prefix}: R²={metrics['r2']:.3f} with only {n} samples suggests overfitting")
    expected = {"Log P": 1, "a": 1, "b": -1}
    for f, c in zip(features, estimator.coef_, strict=True):
        if np.sign(c) not in (0, expected[f]):
            notes.append(f"{prefix}: {f} coefficient is {'positive' if c > 0 else 'negative'} "
                         f"({c:.4f}), chromatography expects {'positive' if expected[f] > 0 else 'negative'}")
    return ReferenceFit(features, mean, scale, estimator, validation, cv_pred, n, metrics,
                        train_r2, adjusted, notes)


# ============================================================================================
# structural mode
# ============================================================================================
@functools.lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    """The process's BLAS libraries, found once: building a controller scans every loaded shared
    library, which cost ~8 % of a small analysis in a Dask worker (many libraries loaded)."""
    return ThreadpoolController()


def _single_blas_thread(method: Any) -> Any:
    """Run with one BLAS thread: the matrices are small (p < a few hundred), and on a busy
    machine multi-threaded BLAS was measured 30x slower on them (spinning threads)."""
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _blas_controller().limit(limits=1, user_api="blas"):
            return method(*args, **kwargs)
    return wrapper


_LOG_BOUNDS = {"beta": (math.log(1e-2), math.log(1e6)), "tau": (math.log(1e-4), math.log(20.0))}


class StructuralRTModel(RegressorMixin, BaseEstimator):
    """Partially pooled Bayesian linear RT model (ALGORITHM.md §5.3).

    Parameters
    ----------
    features : structural fixed effects (columns of X).
    fixed_prior_sd : prior SD (min per unit) of every fixed effect: weak and zero-centred, so an
        effect no anchor constrains stays near 0 with a wide interval.
    min_anchors_slope : a prefix with at least this many anchors gets a Log P slope shift.
    series : learn the isomer-series offset.

    ``X`` is a DataFrame with the feature columns and ``prefix``, ``base_class`` and ``Name``.
    """

    def __init__(self, *, features: tuple[str, ...] = STRUCTURAL_FEATURES, fixed_prior_sd: float = 5.0,
                 min_anchors_slope: int = 3, series: bool = True, robust_df: float | None = 4.0,
                 shift_prior_scale: float | None = 0.05) -> None:
        self.features = features
        self.fixed_prior_sd = fixed_prior_sd
        self.min_anchors_slope = min_anchors_slope
        self.series = series
        self.robust_df = robust_df
        self.shift_prior_scale = shift_prior_scale

    # -- design -------------------------------------------------------------------------------
    @property
    def _series_column(self) -> int:
        return 1 + len(self.features)

    def _design(self, X: pd.DataFrame, second: np.ndarray | None = None) -> np.ndarray:
        """Design matrix; the series column holds ``second`` (0 when omitted)."""
        n = len(X)
        fixed = X[list(self.features)].to_numpy(dtype=float) - self.x_mean_
        series = np.zeros((n, 1)) if second is None else second.reshape(-1, 1).astype(float)
        cols = [np.ones((n, 1)), fixed, series]
        cols.append(_indicators(X, "base_class", self.bases_))
        cols.append(_indicators(X, "prefix", self.prefixes_))
        logp = X["Log P"].to_numpy(dtype=float) - self.logp_mean_
        cols.append(_indicators(X, "prefix", self.slope_prefixes_) * logp[:, None])
        return np.hstack(cols)

    def _blocks(self) -> np.ndarray:
        """Block id of every coefficient: 0 intercept, 1 fixed, 2 base, 3 prefix, 4 slope."""
        return np.concatenate([[0], np.ones(len(self.features) + 1, dtype=int),
                               np.full(len(self.bases_), 2), np.full(len(self.prefixes_), 3),
                               np.full(len(self.slope_prefixes_), 4)])

    def _prior_precision(self, theta: np.ndarray) -> np.ndarray:
        tau_base, tau_prefix, tau_slope = np.exp(theta[1:4])
        sd = np.array([1e3, self.fixed_prior_sd, tau_base, tau_prefix, tau_slope])
        return 1.0 / sd[self.blocks_] ** 2

    def _posterior(self, theta: np.ndarray) -> tuple[float, np.ndarray, tuple[np.ndarray, bool]]:
        """Log evidence, posterior mean and Cholesky factor of the posterior precision."""
        beta = math.exp(theta[0])
        lam = self._prior_precision(theta)
        a = beta * self.gram_
        a[np.diag_indices_from(a)] += lam
        chol = _cholesky(a)
        m = beta * _cho_solve(chol, self.xty_)
        sse = self.yty_ - 2 * m @ self.xty_ + m @ self.gram_ @ m
        logdet = 2 * np.sum(np.log(np.diag(chol[0])))
        ev = 0.5 * (np.sum(np.log(lam)) + self.n_ * theta[0] + self.logw_ - logdet - beta * sse
                    - m @ (lam * m)
                    - self.n_ * math.log(2 * math.pi))
        return float(ev), m, chol

    def _objective(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log evidence plus hyperprior, and its exact gradient in ``theta``.

        At the posterior mean the data-fit term is stationary in m, so only explicit
        dependencies count: d ev / d log beta = (n - beta tr(A^-1 G) - beta sse) / 2 and
        d ev / d log tau_b = -sum over block b of (1 - lam_i (A^-1)_ii - lam_i m_i^2).
        """
        ev, m, chol = self._posterior(theta)
        beta = math.exp(theta[0])
        lam = self._prior_precision(theta)
        inv = _cho_solve(chol, np.eye(len(m)))
        sse = self.yty_ - 2 * m @ self.xty_ + m @ self.gram_ @ m
        grad = np.empty(4)
        grad[0] = 0.5 * (self.n_ - beta * np.sum(inv * self.gram_) - beta * sse)
        per_coef = 1.0 - lam * np.diag(inv) - lam * m**2
        grad[1:] = -np.bincount(self.blocks_, weights=per_coef, minlength=5)[2:5]
        value, hgrad = -ev, -grad
        if self.shift_prior_scale is not None:
            var = np.exp(2 * theta[1:4])
            value += float(np.sum(var)) / (2 * self.shift_prior_scale**2)
            hgrad[1:] += var / self.shift_prior_scale**2
        return value, hgrad

    # -- fit ----------------------------------------------------------------------------------
    @_single_blas_thread
    def fit(self, X: pd.DataFrame, y: Any, theta0: np.ndarray | None = None,
            weights0: np.ndarray | None = None, optimise: bool = True) -> StructuralRTModel:
        """Fit on anchors ``X`` / RT ``y``; ``theta0`` / ``weights0`` warm-start the
        hyperparameters and Student-t weights (used by cross-validation refits); with
        ``optimise=False`` the hyperparameters stay at ``theta0``."""
        y = np.asarray(y, dtype=float)
        if len(X) != y.size or y.size < 2:
            raise ValueError(f"X and y must have the same length >= 2. Got {len(X)} and {y.size} instead.")
        self.n_ = int(y.size)
        self.y_mean_ = float(y.mean())
        self.x_mean_ = X[list(self.features)].to_numpy(dtype=float).mean(axis=0)
        self.logp_mean_ = float(X["Log P"].mean())
        self.bases_ = np.array(sorted(pd.unique(X["base_class"].to_numpy(dtype=object))), dtype=object)
        self.prefixes_ = np.array(sorted(pd.unique(X["prefix"].to_numpy(dtype=object))), dtype=object)
        counts = X["prefix"].value_counts()
        self.slope_prefixes_ = np.array(sorted(counts.index[counts >= self.min_anchors_slope]), dtype=object)
        self.blocks_ = self._blocks()
        first, second = _series_labels(X, y) if self.series else (np.zeros(len(X), bool),) * 2
        self.series_prefixes_ = np.array(sorted(pd.unique(X["prefix"].to_numpy(dtype=object)[second])),
                                         dtype=object)
        theta = np.array([math.log(25.0), math.log(0.3), math.log(0.3), math.log(0.1)]) \
            if theta0 is None else np.asarray(theta0, dtype=float)
        # Alternate: hyperparameters (type-II ML) | series of unpaired anchors of a prefix with
        # series pairs (nearer prediction) | Student-t weights (scale-mixture EM), a few rounds.
        free = ~first & _member(X, "prefix", self.series_prefixes_)
        weights = np.ones(len(y)) if weights0 is None else np.asarray(weights0, dtype=float)
        # The design depends only on the species (Name, Log P) and the series label, so the
        # algebra runs on one design row per species; rows enter through per-species sums.
        first_rows, species = _species(X)
        phi = self._design(X.iloc[first_rows])
        yc = y - self.y_mean_
        k = self._series_column
        for _ in range(8 if weights0 is None else 3):
            theta = self._fit_hyper(self._sufficient(phi, species, second, yc, weights), theta, optimise)
            p1 = (phi @ self.coef_)[species] + self.y_mean_
            p2 = p1 + self.coef_[k]
            new = np.where(free, np.abs(y - p2) < np.abs(y - p1), second) if self.series else second
            new_w = weights
            if self.robust_df is not None:
                r2 = (y - np.where(new, p2, p1)) ** 2 * self.noise_precision_
                new_w = (self.robust_df + 1) / (self.robust_df + r2)
            done = np.array_equal(new, second) and np.allclose(new_w, weights, atol=1e-3)
            second, weights = new, new_w
            if done:
                break
        # final posterior consistent with the final weights and series labels
        self._fit_hyper(self._sufficient(phi, species, second, yc, weights), theta, optimise=False)
        self.weights_ = weights
        self.train_second_ = second
        return self

    def _sufficient(self, phi: np.ndarray, species: np.ndarray, second: np.ndarray,
                    yc: np.ndarray, weights: np.ndarray, rows: np.ndarray | None = None,
                    ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Weighted Gram matrix, X'Wy, y'Wy and sum(log w) of the training ``rows`` (default all).

        ``phi`` holds one design row per species (series column 0); a row's design is its
        species' row with the series column set to its label. Rows are summed per (species,
        series) first, so the cost is that of the distinct designs, not of the rows.
        """
        if rows is not None:
            species, second, yc, weights = species[rows], second[rows], yc[rows], weights[rows]
        u = len(phi)
        group = species * 2 + second
        w = np.bincount(group, weights=weights, minlength=2 * u).reshape(u, 2)
        wy = np.bincount(group, weights=weights * yc, minlength=2 * u).reshape(u, 2)
        # A second peak's design is its species' row plus a 1 in the series column k (0 in
        # phi), so both labels share one product: G = phi' (W0 + W1) phi, plus the cross terms
        # of column k with phi' W1 1 and, at (k, k), the total weight of second peaks.
        k = self._series_column
        gram = (phi * (w[:, 0] + w[:, 1])[:, None]).T @ phi
        cross = phi.T @ w[:, 1]
        gram[:, k] += cross
        gram[k, :] += cross
        gram[k, k] += w[:, 1].sum()
        xty = phi.T @ (wy[:, 0] + wy[:, 1])
        xty[k] += wy[:, 1].sum()
        return gram, xty, float(yc @ (weights * yc)), float(np.sum(np.log(weights)))

    def _fit_hyper(self, sufficient: tuple[np.ndarray, np.ndarray, float, float],
                   theta0: np.ndarray, optimise: bool = True) -> np.ndarray:
        self.gram_, self.xty_, self.yty_, self.logw_ = sufficient
        bounds = [_LOG_BOUNDS["beta"]] + [_LOG_BOUNDS["tau"]] * 3
        theta0 = np.clip(theta0, [b[0] for b in bounds], [b[1] for b in bounds])
        theta = theta0
        if optimise:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                theta = optimize.minimize(self._objective, theta0, jac=True, method="L-BFGS-B",
                                          bounds=bounds).x
        _, self.coef_, self.chol_ = self._posterior(theta)
        self.theta_ = theta
        return theta

    # -- predict ------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("StructuralRTModel must be fitted before predict. "
                                 "Got an unfitted model instead.")

    @_single_blas_thread
    def predict_dist(self, X: pd.DataFrame, rt: np.ndarray | None = None, chunk: int = 100_000,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predictive mean, predictive SD and series (True = second) of each row.

        With ``rt`` given, a row of a prefix with second-series anchors takes the series whose
        prediction is nearer its RT. The SD combines noise, parameter uncertainty and the
        random-effect variance of levels no anchor has seen. Everything but the series choice
        depends only on (Name, Log P), so the algebra runs once per distinct species, in
        chunks that bound memory.
        """
        self._check()
        n = len(X)
        first, species = _species(X)
        u = len(first)
        k = self._series_column
        tau_base, tau_prefix, _ = np.exp(self.theta_[1:4])
        m0, v0, v1 = np.empty(u), np.empty(u), np.empty(u)
        for lo in range(0, u, chunk):
            part = X.iloc[first[lo:lo + chunk]]
            phi = self._design(part)
            m0[lo:lo + chunk] = phi @ self.coef_ + self.y_mean_
            extra = (np.where(_member(part, "base_class", self.bases_), 0.0, tau_base**2)
                     + np.where(_member(part, "prefix", self.prefixes_), 0.0, tau_prefix**2)
                     + self.noise_variance_)
            for s, out in ((0.0, v0), (1.0, v1)):
                phi[:, k] = s
                out[lo:lo + chunk] = _quad_inv(self.chol_, phi) + extra
        mean0 = m0[species]
        second = np.zeros(n, dtype=bool)
        if self.series and rt is not None:
            r = np.asarray(rt, dtype=float)
            eligible = _member(X, "prefix", self.series_prefixes_)
            second = eligible & (np.abs(r - mean0 - self.coef_[k]) < np.abs(r - mean0))
        mean = mean0 + second * self.coef_[k]
        var = np.where(second, v1[species], v0[species])
        return mean, np.sqrt(var), second

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_dist(X)[0]

    @_single_blas_thread
    def fold_dist(self, X: pd.DataFrame, y: Any, folds: list[np.ndarray],
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Held-out predictive mean, SD and series of the training rows, fold by fold.

        Each fold is removed from the posterior exactly by downdating the p x p precision and
        the data vector (conditional on the fitted hyperparameters, Student-t weights and series
        labels), so K folds cost K small Cholesky factorisations instead of K refits.
        """
        self._check()
        yc = np.asarray(y, dtype=float) - self.y_mean_
        n = len(X)
        beta = self.noise_precision_
        first_rows, species = _species(X)
        phi = self._design(X.iloc[first_rows])
        train = self.train_second_.astype(np.int64)
        lam = self._prior_precision(self.theta_)
        gram, xty, _, _ = self._sufficient(phi, species, train, yc, self.weights_)
        a_full = np.diag(lam) + beta * gram
        b_full = beta * xty
        k = self._series_column
        eligible = (_member(X, "prefix", self.series_prefixes_) if self.series
                    else np.zeros(n, bool))
        mean, var = np.empty(n), np.empty(n)
        second = np.zeros(n, dtype=bool)
        for test in folds:
            g_test, x_test, _, _ = self._sufficient(phi, species, train, yc, self.weights_, rows=test)
            chol = _cholesky(a_full - beta * g_test)
            m = _cho_solve(chol, b_full - beta * x_test)
            alt = phi[species[test]]
            m0 = alt @ m
            s = eligible[test] & (np.abs(yc[test] - m0 - m[k]) < np.abs(yc[test] - m0))
            alt[:, k] = s
            mean[test] = m0 + s * m[k] + self.y_mean_
            var[test] = _quad_inv(chol, alt) + self.noise_variance_
            second[test] = s
        return mean, np.sqrt(var), second

    @_single_blas_thread
    def loo_dist(self, X: pd.DataFrame, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Leave-one-out predictive mean, SD and series of every training row, in closed form.

        Conditional on the fitted hyperparameters, Student-t weights and series labels of the
        other rows: removing row i is a rank-one downdate of the posterior (Sherman-Morrison),
        so all n held-out predictions cost one p x n solve. The held-out row takes the series
        nearer its RT, as in :meth:`predict_dist`.
        """
        self._check()
        y = np.asarray(y, dtype=float) - self.y_mean_
        n = len(X)
        beta = self.noise_precision_
        phi = self._design(X, self.train_second_)
        u = linalg.cho_solve(self.chol_, phi.T, check_finite=False)  # p x n
        bw = beta * self.weights_
        h = bw * np.einsum("ij,ji->i", phi, u)
        r = y - phi @ self.coef_
        k = 1 + len(self.features)  # column of the series indicator
        out_mean, out_var = [], []
        for s in (False, True):
            alt = phi.copy()
            alt[:, k] = float(s)
            at_u = np.einsum("ij,ji->i", alt, u)
            mean = alt @ self.coef_ - bw * at_u * r / (1 - h)
            var = (np.einsum("ij,ji->i", alt, linalg.cho_solve(self.chol_, alt.T, check_finite=False))
                   + bw * at_u**2 / (1 - h))
            out_mean.append(mean + self.y_mean_)
            out_var.append(var)
        eligible = (_member(X, "prefix", self.series_prefixes_) if self.series
                    else np.zeros(n, bool))
        yy = y + self.y_mean_
        second = eligible & (np.abs(yy - out_mean[1]) < np.abs(yy - out_mean[0]))
        mean = np.where(second, out_mean[1], out_mean[0])
        var = np.where(second, out_var[1], out_var[0]) + self.noise_variance_
        return mean, np.sqrt(var), second

    # -- reporting ----------------------------------------------------------------------------
    @property
    def noise_precision_(self) -> float:
        return float(math.exp(self.theta_[0]))

    @property
    def noise_variance_(self) -> float:
        """Variance of the noise distribution (Student-t: scale² · ν / (ν - 2))."""
        df = self.robust_df
        inflate = 1.0 if df is None or df <= 2 else df / (df - 2)
        return inflate / self.noise_precision_

    @property
    def variance_components_(self) -> dict[str, float]:
        tau = np.exp(self.theta_[1:4])
        return {"noise_sd": float(math.sqrt(self.noise_variance_)),
                "noise_scale": float(self.noise_precision_ ** -0.5), "base_class_sd": float(tau[0]),
                "prefix_sd": float(tau[1]), "logp_slope_sd": float(tau[2])}

    def coefficients(self) -> dict[str, float]:
        """Fixed effects in original units (min per unit) and the series offset."""
        self._check()
        k = len(self.features)
        out = {f: float(c) for f, c in zip(self.features, self.coef_[1:1 + k], strict=True)}
        out["second_series_offset"] = float(self.coef_[1 + k])
        return out

    @property
    def intercept_(self) -> float:
        """RT at zero for every structural feature (original units)."""
        k = len(self.features)
        return float(self.y_mean_ + self.coef_[0] - self.coef_[1:1 + k] @ self.x_mean_)

    def shifts(self) -> pd.DataFrame:
        """Per-prefix shifts: intercept shift (own + base class) and Log P slope shift."""
        self._check()
        k = len(self.features) + 2
        nb, npf = len(self.bases_), len(self.prefixes_)
        pref = dict(zip(self.prefixes_, self.coef_[k + nb:k + nb + npf], strict=True))
        slope = dict(zip(self.slope_prefixes_, self.coef_[k + nb + npf:], strict=True))
        return pd.DataFrame({"prefix": self.prefixes_,
                             "prefix_shift": [float(pref[p]) for p in self.prefixes_],
                             "logp_slope_shift": [float(slope.get(p, 0.0)) for p in self.prefixes_]})

    def base_shift(self, base_class: str) -> float:
        k = len(self.features) + 2
        idx = np.flatnonzero(self.bases_ == base_class)
        return float(self.coef_[k + idx[0]]) if idx.size else 0.0

    def logp_slope(self, prefix: np.ndarray) -> np.ndarray:
        """RT slope per unit Log P for rows of these prefixes (pooled slope + shift)."""
        k = len(self.features) + 2 + len(self.bases_) + len(self.prefixes_)
        shifts = np.append(self.coef_[k:], 0.0)  # unseen prefixes: no shift
        pos = pd.Index(self.slope_prefixes_).get_indexer(prefix) if self.slope_prefixes_.size \
            else np.full(len(prefix), -1)
        return float(self.coef_[1 + list(self.features).index("Log P")]) + shifts[pos]


# The type-II fit evaluates its objective ~80 times on a p x p matrix (p ~ 60): LAPACK is called
# directly, without scipy.linalg's per-call argument checks (about a third of each evaluation).
_POTRF, _POTRS = linalg.get_lapack_funcs(("potrf", "potrs"), (np.empty(1, dtype=np.float64),))


def _cholesky(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """``linalg.cho_factor(a, lower=True)`` of a symmetric positive definite float64 matrix."""
    c, info = _POTRF(a, lower=1, clean=0)
    if info != 0:
        raise linalg.LinAlgError(f"{info}-th leading minor not positive definite" if info > 0
                                 else f"illegal value in argument {-info} of potrf")
    return c, True


def _cho_solve(chol: tuple[np.ndarray, bool], b: np.ndarray) -> np.ndarray:
    """``linalg.cho_solve(chol, b)``."""
    x, info = _POTRS(chol[0], b, lower=int(chol[1]))
    if info != 0:
        raise ValueError(f"illegal value in argument {-info} of potrs")
    out: np.ndarray = x
    return out


def _quad_inv(chol: tuple[np.ndarray, bool], rows: np.ndarray) -> np.ndarray:
    """x' A^-1 x for every row x, with A = L L' given as ``cho_factor``: |L^-1 x|^2."""
    half = linalg.solve_triangular(chol[0], rows.T, lower=chol[1], check_finite=False)
    return np.einsum("ij,ij->j", half, half)


def _level_index(X: pd.DataFrame, column: str, levels: np.ndarray) -> np.ndarray:
    """Position of each row's ``column`` value (a name field) in ``levels``; -1 when absent.
    Each distinct value is looked up once."""
    codes, uniques = factorize_by_name(X, column)
    # A dict, not Index.get_indexer: an object index looked up with text uniques took ~0.8 ms
    # per call (dtype reconciliation), ~10 ms of Rule 1 at 100k rows.
    listed = levels.tolist()
    where = {value: i for i, value in reversed(list(enumerate(listed)))}  # first position wins
    missing = next((i for i, value in enumerate(listed) if pd.isna(value)), -1)
    at = np.array([where.get(u, -1) for u in uniques.tolist()] + [missing], dtype=np.int64)
    out: np.ndarray = at[codes]  # code -1 (a missing value): the last entry
    return out


def _indicators(X: pd.DataFrame, column: str, levels: np.ndarray) -> np.ndarray:
    out = np.zeros((len(X), levels.size))
    if levels.size:
        codes = _level_index(X, column, levels)
        hit = codes >= 0
        out[np.flatnonzero(hit), codes[hit]] = 1.0
    return out


def _member(X: pd.DataFrame, column: str, levels: np.ndarray) -> np.ndarray:
    return _level_index(X, column, levels) >= 0 if levels.size else np.zeros(len(X), bool)


def _species(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(first row of each distinct (Name, Log P), species code of every row), codes in order of
    first appearance."""
    name_codes = factorize_by_name(X, "Name")[0].astype(np.int64)
    logp = X["Log P"].to_numpy(dtype=float)
    if len(name_codes):
        first = np.empty(int(name_codes.max()) + 1, dtype=np.int64)
        first[name_codes[::-1]] = np.arange(len(name_codes) - 1, -1, -1)
        if (logp == logp[first][name_codes]).all():  # one Log P per name: the names are species
            return first, name_codes.astype(np.intp)
    logp_codes = pd.factorize(logp)[0].astype(np.int64)
    key = name_codes * (int(logp_codes.max(initial=0)) + 1) + logp_codes
    species = pd.factorize(key)[0].astype(np.intp)  # codes in order of first appearance
    return first_rows(species), species


def first_rows(codes: np.ndarray) -> np.ndarray:
    """Position of the first row of each code, for codes numbered by first appearance."""
    return np.flatnonzero(~pd.Index(codes).duplicated())


def _series_labels(X: pd.DataFrame, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(in_pair, second): peaks of one name (within its prefix) ranked by RT; rank >= 1 is second."""
    # a name determines its prefix, so the (prefix, Name) groups are the names
    group = factorize_by_name(X, "Name")[0]
    order = np.lexsort((np.arange(len(y)), y, group))  # by name, then RT, then position
    size = np.bincount(group)[group[order]]
    starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
    rank = np.arange(len(y)) - np.repeat(starts, np.diff(np.r_[starts, len(y)]))
    in_pair = np.zeros(len(y), bool)
    second = np.zeros(len(y), bool)
    in_pair[order] = size >= 2
    second[order] = (size >= 2) & (rank >= 1)
    return in_pair, second


def normal_quantile(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))
