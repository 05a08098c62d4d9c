"""Rule 6: more sugars should elute earlier within a ceramide (ALGORITHM.md §6.4).

Per ceramide group with at least 3 rows and at least 2 distinct sugar counts (reference mode:
``core_sugar_count``, the original's count; structural mode: ``sugar_count``), Pearson r and the
two-sided p between the sugar count and RT are computed for all groups at once from grouped,
centred sums (no per-group loop). p follows ``scipy.stats.pearsonr``: with t = r·√((n−2)/(1−r²))
on n − 2 degrees of freedom, p = 2·P(T > |t|) = I_{1−r²}((n−2)/2, 1/2), the regularised incomplete
beta function, which is also finite at |r| = 1 (p = 0). Groups that fail the size conditions, or
whose RT is constant (r undefined), are "insufficient". A positive correlation with
r > ``sugar_rt_min_r`` and p < ``sugar_rt_max_p`` is a violation: every row of the group gets
the warning flag ``sugar_rt_violation``. Rows with ``status == 'fragment'`` are ignored.

Pure ring: numpy, pandas, scipy.special.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special

from ..names import factorize_by_name
from ._base import RuleOutcome, comparable_rows

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["check_sugar_rt", "pearson_p_value"]


def pearson_p_value(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p of Pearson r on n pairs (t distribution, n − 2 degrees of freedom).

    >>> float(pearson_p_value(np.array([1.0]), np.array([5]))[0])
    0.0
    """
    r = np.clip(np.asarray(r, dtype=float), -1.0, 1.0)
    df = np.asarray(n, dtype=float) - 2.0
    return special.betainc(df / 2.0, 0.5, (1.0 - r) * (1.0 + r))


def _sorted_codes(table: pd.DataFrame, column: str, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes of a name field at ``rows``, numbered in sorted order of the text (missing as
    ``'nan'``)."""
    codes, uniques = factorize_by_name(table, column, rows)  # the sentinel variant is the fast one
    if len(codes) and codes.min() < 0:
        codes, uniques = factorize_by_name(table, column, rows, use_na_sentinel=False)
    names = [str(u) for u in uniques]
    order = sorted(range(len(names)), key=names.__getitem__)
    remap = np.empty(len(names), dtype=np.int64)
    remap[order] = np.arange(len(names))
    return remap[codes], [names[i] for i in order]


def _varies(codes: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Whether each of the k groups holds at least two distinct values (exact, min < max;
    missing values are skipped)."""
    low, high = np.full(k, np.inf), np.full(k, -np.inf)
    np.fmin.at(low, codes, values)
    np.fmax.at(high, codes, values)
    out: np.ndarray = low < high
    return out


def check_sugar_rt(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    """Correlation of sugar count with RT per ceramide (Rule 6).

    Parameters
    ----------
    table : DataFrame
        Working table with ``ceramide``, ``RT`` and the sugar counts; ``status`` optional.
    params : AnalysisParams
        ``mode``, ``sugar_rt_min_r``, ``sugar_rt_max_p``.

    Returns
    -------
    RuleOutcome
        Flag ``sugar_rt_violation``; statistics ``total_groups``, ``checked``, ``violations``,
        ``insufficient``, ``sugar_count_column`` and ``correlations``
        (``{ceramide: {"r", "p", "n"}}`` for the checked groups, ceramides sorted); one warning
        per violating group.
    """
    count_col = "core_sugar_count" if params.mode == "reference" else "sugar_count"
    idx = np.flatnonzero(comparable_rows(table))
    # Group codes follow the sorted ceramide text, so statistics come out sorted.
    codes, names = _sorted_codes(table, "ceramide", idx)
    x = pd.to_numeric(table[count_col]).to_numpy(dtype=float, na_value=np.nan)[idx]
    y = table["RT"].to_numpy(dtype=float)[idx]
    k = len(names)
    n = np.bincount(codes, minlength=k)
    mx = np.bincount(codes, x, minlength=k) / np.maximum(n, 1)
    my = np.bincount(codes, y, minlength=k) / np.maximum(n, 1)
    several_counts = _varies(codes, x, k)
    # Constant RT is detected exactly (centred sums of equal values can be 1e-32, not 0).
    varying_rt = _varies(codes, y, k)
    # Centre on the group means before multiplying: this keeps r within ~1e-15 of scipy's.
    dx = x - mx[codes]
    dy = y - my[codes]
    sxx = np.bincount(codes, dx * dx, minlength=k)
    syy = np.bincount(codes, dy * dy, minlength=k)
    sxy = np.bincount(codes, dx * dy, minlength=k)

    eligible = (n >= 3) & several_counts
    denom = np.sqrt(sxx) * np.sqrt(syy)
    defined = eligible & varying_rt & (denom > 0)
    r = np.full(len(n), np.nan)
    np.divide(sxy, denom, out=r, where=defined)
    r = np.where(defined, np.clip(r, -1.0, 1.0), np.nan)
    p = np.full(len(n), np.nan)
    p[defined] = pearson_p_value(r[defined], n[defined])
    violating = defined & (r > params.sugar_rt_min_r) & (p < params.sugar_rt_max_p)

    flag = np.zeros(len(table), dtype=bool)
    flag[idx] = violating[codes] if len(codes) else False
    warnings = tuple(
        f"Rule 6: in ceramide {names[g]}, sugar count ({count_col}) and RT correlate positively "
        f"(r = {r[g]:.3f}, p = {p[g]:.3g}, n = {n[g]}); more sugars should elute earlier."
        for g in np.flatnonzero(violating))
    checked = np.flatnonzero(defined)
    correlations: dict[str, Any] = {
        names[g]: {"r": rg, "p": pg, "n": ng}
        for g, rg, pg, ng in zip(checked.tolist(), r[checked].tolist(), p[checked].tolist(),
                                 n[checked].tolist(), strict=True)}
    statistics = {
        "sugar_count_column": count_col,
        "total_groups": int(len(n)),
        "checked": int(defined.sum()),
        "violations": int(violating.sum()),
        "insufficient": int(len(n) - defined.sum()),
        "correlations": correlations,
    }
    return RuleOutcome(flags={"sugar_rt_violation": flag}, statistics=statistics, warnings=warnings)
