"""Rule 9: cross-category RT order within a ceramide, and model slope consistency (§6.5).

**Rows.** Within a ceramide, a category with more sialic acids (earlier in
``core.names.CATEGORY_ORDER``: GP first, GA last) should elute earlier. For each row, every row
of *another* category in the same ceramide is a comparison: it *contradicts* when it is expected
earlier but elutes more than ``rt_tolerance`` later, or expected later but elutes more than
``rt_tolerance`` earlier; otherwise (right order, or closer than the tolerance) it *agrees*.
"More than" carries a 1e-9 min guard (a difference of exactly the tolerance is not exact in
binary). With at least 2 comparisons and more contradictions than agreements the row gets the
warning flag ``cross_category_order``. Counting uses one array sorted by (ceramide, category, RT)
and ``searchsorted`` per category (six passes over the queries); no pair is enumerated. Rows
with ``status == 'fragment'`` are ignored on both sides. In reference mode GA rows, like Rule 7,
take no part.

**Models.** The per-model Log P slope (column ``logp_slope``, the RT slope per unit Log P of the
model that judged the row) is taken once per distinct non-empty ``model`` (its first finite
value). With at least 3 such models, a slope more than 2 SD from the mean of the *other* models
(leave-one-out mean and sample SD), and more than 0.01 min per unit Log P from it (smaller
differences are immaterial), raises a model warning. Without ``model``/``logp_slope``
columns (Rule 1 not run) the model check is skipped and reported as such.

Pure ring: numpy and pandas only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..names import CATEGORY_ORDER, factorize_by_name
from ._base import RuleOutcome, comparable_rows

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["check_cross_prefix", "outlying_slopes"]

_EPS = 1e-9
#: A model slope further than this many leave-one-out SDs from the others is reported.
SLOPE_SD_LIMIT = 2.0
#: ... and further than this from their mean (min per unit Log P): smaller differences are not
#: material. Without it, structural mode's strongly shrunk slope shifts (all within ~1e-6 of the
#: pooled slope, so SD ~1e-7) would be reported for differences of 1e-7.
SLOPE_MIN_GAP = 0.01


def outlying_slopes(slopes: np.ndarray, limit: float = SLOPE_SD_LIMIT, min_gap: float = 0.0,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leave-one-out mean, SD and outlier mask of a vector of model slopes.

    Each slope is compared with the mean and sample SD (ddof 1) of the *other* slopes; it is an
    outlier when it lies more than ``limit`` such SDs away and more than ``min_gap`` away.
    Fewer than 3 slopes give NaN statistics and no outlier.

    >>> outlying_slopes(np.array([1.0, 1.1, 0.9, 1.0, 3.0]))[2].tolist()
    [False, False, False, False, True]
    """
    x = np.asarray(slopes, dtype=float)
    m = len(x)
    if m < 3:
        nan = np.full(m, np.nan)
        return nan, nan.copy(), np.zeros(m, dtype=bool)
    d = x - x.mean()
    ss = float(np.sum(d * d))
    loo_mean = x.mean() - d / (m - 1)
    # Sum of squares of the others about their own mean: ss − d² − d²/(m − 1).
    loo_ss = np.maximum(ss - d * d - d * d / (m - 1), 0.0)
    loo_sd = np.sqrt(loo_ss / (m - 2))
    gap = np.abs(x - loo_mean)
    outlier = (gap > limit * loo_sd + 1e-12 * np.maximum(1.0, np.abs(loo_mean))) & (gap > min_gap)
    return loo_mean, loo_sd, outlier


def _model_check(table: pd.DataFrame) -> tuple[dict[str, Any], tuple[str, ...]]:
    if "model" not in table or "logp_slope" not in table:
        return {"checked": False, "model_slopes": {}, "outlying_models": []}, ()
    codes, names_all = pd.factorize(table["model"].to_numpy(dtype=object), sort=True,
                                    use_na_sentinel=True)
    slope = pd.to_numeric(table["logp_slope"]).to_numpy(dtype=float, na_value=np.nan)
    named = np.array([str(v) != "" for v in names_all] + [False])[codes]
    keep = np.flatnonzero(named & np.isfinite(slope))
    # First finite slope of each model (in table order), models sorted by name.
    first = np.full(len(names_all), len(slope), dtype=np.int64)
    np.minimum.at(first, codes[keep], keep)
    present = np.flatnonzero(first < len(slope))
    names = [str(names_all[c]) for c in present]
    values = slope[first[present]]
    loo_mean, loo_sd, outlier = outlying_slopes(values, min_gap=SLOPE_MIN_GAP)
    warnings = tuple(
        f"Rule 9: model {names[i]} has a Log P slope of {values[i]:.4f} min per unit, more than "
        f"{SLOPE_SD_LIMIT:g} SD from the other models (mean {loo_mean[i]:.4f}, SD {loo_sd[i]:.4f})."
        for i in np.flatnonzero(outlier))
    stats = {
        "checked": len(values) >= 3,
        "model_slopes": dict(zip(names, values.tolist(), strict=True)),
        "outlying_models": [names[i] for i in np.flatnonzero(outlier)],
    }
    return stats, warnings


def check_cross_prefix(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    """Cross-category RT order per ceramide and consistency of model slopes (Rule 9).

    Parameters
    ----------
    table : DataFrame
        Working table with ``ceramide``, ``category``, ``RT``, ``row``; ``status``, ``model`` and
        ``logp_slope`` optional.
    params : AnalysisParams
        ``rt_tolerance`` (min), ``mode``.

    Returns
    -------
    RuleOutcome
        Columns ``cross_comparisons`` and ``cross_contradictions`` (int per row, 0 for ignored
        rows); flag ``cross_category_order``; statistics ``rows_compared`` (rows with >= 2
        comparisons), ``rows_flagged``, ``comparisons`` and ``contradictions`` (summed over rows,
        so each pair counts from both sides), ``model_check`` (``checked``, ``model_slopes``,
        ``outlying_models``); warnings for outlying models and a summary of flagged rows.
    """
    n = len(table)
    tol = params.rt_tolerance + _EPS
    categories = tuple(c for c in CATEGORY_ORDER if params.mode != "reference" or c != "GA")
    n_cat = len(categories)
    # Only rows that may take part are coded (a fragment never does).
    idx = np.flatnonzero(comparable_rows(table))
    cat_codes, cat_values = factorize_by_name(table, "category", idx)
    rank = np.array([categories.index(v) if v in categories else -1 for v in cat_values] + [-1],
                    dtype=np.int64)[cat_codes]
    taking_part = rank >= 0
    idx, rank = idx[taking_part], rank[taking_part]
    active = np.zeros(n, dtype=bool)
    active[idx] = True
    rt = table["RT"].to_numpy(dtype=float)[idx]
    # Ceramide codes; rows without a ceramide form one more group (-1).
    cer = factorize_by_name(table, "ceramide", idx)[0].astype(np.int64)

    # RT as its index among the distinct RTs (dense rank) makes (ceramide, RT) one exact integer
    # key. The thresholds RT ± tol are ranked the same way, searching with sorted needles.
    # Sorts need not be stable: nothing below depends on the order among equal keys.
    by_rt = np.argsort(rt)
    rt_sorted = rt[by_rt]
    new_value = np.empty(len(rt), dtype=bool)
    new_value[:1] = True
    new_value[1:] = rt_sorted[1:] != rt_sorted[:-1]
    uniq_rt = rt_sorted[new_value]
    rt_idx = np.empty(len(rt), dtype=np.int64)
    rt_idx[by_rt] = np.cumsum(new_value) - 1
    thr_hi = np.empty(len(rt), dtype=np.int64)   # distinct RTs <= RT + tol
    thr_hi[by_rt] = np.searchsorted(uniq_rt, rt_sorted + tol, side="right")
    thr_lo = np.empty(len(rt), dtype=np.int64)   # distinct RTs < RT − tol
    thr_lo[by_rt] = np.searchsorted(uniq_rt, rt_sorted - tol, side="left")
    span = np.int64(len(uniq_rt) + 1)

    # Sorted by (ceramide, RT). The order among exact ties does not matter: every count below is
    # taken at a block boundary or at a threshold position, and neither splits a run of ties.
    key = cer * span + rt_idx
    order = np.argsort(key)
    idx, cer, rank, key = idx[order], cer[order], rank[order], key[order]
    thr_hi, thr_lo = thr_hi[order], thr_lo[order]
    m = len(idx)
    new_block = np.ones(m, dtype=bool)  # each ceramide's rows are one block [start, stop)
    new_block[1:] = cer[1:] != cer[:-1]
    block_start = np.flatnonzero(new_block)
    block = np.cumsum(new_block) - 1
    start, stop = block_start[block], np.append(block_start[1:], m)[block]
    # First position with RT > RT + tol, and first with RT >= RT − tol, within the ceramide.
    p_hi = np.searchsorted(key, cer * span + thr_hi, side="left")
    p_lo = np.searchsorted(key, cer * span + thr_lo, side="left")

    # below[p, r] = rows among the first p (sorted) whose category rank is < r.
    below = np.zeros((m + 1, n_cat + 1), dtype=np.int32 if m < 2**31 - 1 else np.int64)
    below[1:] = np.arange(n_cat + 1) > rank[:, None]  # row p counts where r > its rank
    np.cumsum(below, axis=0, out=below)

    def count(lo: np.ndarray, hi: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Rows in sorted positions [lo, hi) with category rank < r."""
        return below[hi, r] - below[lo, r]

    same = count(start, stop, rank + 1) - count(start, stop, rank)
    # Expected earlier (rank < own) but later than RT + tol;
    # expected later (rank > own) but earlier than RT − tol.
    late = count(p_hi, stop, rank)
    early = (p_lo - start) - count(start, p_lo, rank + 1)
    comparisons = np.zeros(n, dtype=np.int64)
    contradictions = np.zeros(n, dtype=np.int64)
    comparisons[idx] = (stop - start) - same
    contradictions[idx] = late + early

    agreements = comparisons - contradictions
    flag = active & (comparisons >= 2) & (contradictions > agreements)
    model_stats, warnings = _model_check(table)
    if flag.any():
        warnings = (f"Rule 9: {int(flag.sum())} row(s) elute out of category order against most "
                    f"rows of other categories in their ceramide (tolerance "
                    f"{params.rt_tolerance:g} min).",) + warnings
    statistics = {
        "rows_compared": int((active & (comparisons >= 2)).sum()),
        "rows_flagged": int(flag.sum()),
        "comparisons": int(comparisons.sum()),
        "contradictions": int(contradictions.sum()),
        "model_check": model_stats,
    }
    return RuleOutcome(
        columns={"cross_comparisons": comparisons, "cross_contradictions": contradictions},
        flags={"cross_category_order": flag}, statistics=statistics, warnings=warnings)
