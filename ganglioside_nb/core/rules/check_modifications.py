"""Rule 8: does each modification move RT the expected way? (ALGORITHM.md §6.5)

For every row and every non-OAc modification X it carries (``dHex``, ``Hex``, ``HexNAc``,
``NeuAc``, ``NeuGc``; OAc is Rule 4's), the *comparison peaks* are the rows of the same ceramide
whose composition is the row's minus one X: same ``base_class``, the same count of every other
modification and one X fewer. With shift = RT(row) − RT(peak):

* **direction** (warning ``mod_direction_<X>``): dHex is expected to elute later, the others
  earlier. A row is flagged only when it contradicts the expected direction by more than
  ``rt_tolerance`` against *every* comparison peak (so an isomer peak cannot raise a false
  alarm): for dHex, RT(row) − min(peaks) < −tol; for the others, RT(row) − max(peaks) > tol.
* **size** (note ``mod_shift_unusual_<X>``): the shift to the nearest peak lies outside the note
  range of :data:`SHIFT_RANGES`.

"More than" is taken with a 1e-9 min guard, because a difference of exactly the tolerance is not
exact in binary. Rows with ``status == 'fragment'`` are neither checked nor used as peaks.

Implementation: each composition (ceramide, base class, six counts) gets an integer code; the
queries (a row's composition minus one X, for every X it carries) are coded jointly with the
rows. Peaks and queries are sorted on one exact (composition, RT-rank) int64 key;
``searchsorted`` gives each query's block (count, earliest, latest peak) and its nearest peak.
No pairs are enumerated: O((N + Q) log N) for N rows and Q (row, X) checks. The per-check table
``modification_shifts`` has Q rows (at most five per row).

Pure ring: numpy and pandas only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..names import MODIFICATIONS, factorize_by_name
from ._base import RuleOutcome, comparable_rows
from ._keys import combine_codes, int_column

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["CHECKED_MODIFICATIONS", "EXPECTED_DIRECTION", "SHIFT_RANGES", "check_modifications"]

#: Modifications checked here, in canonical order (OAc is Rule 4's).
CHECKED_MODIFICATIONS: tuple[str, ...] = ("NeuAc", "NeuGc", "Hex", "HexNAc", "dHex")
#: +1 = the modified species should elute later, −1 = earlier.
EXPECTED_DIRECTION: dict[str, int] = {"NeuAc": -1, "NeuGc": -1, "Hex": -1, "HexNAc": -1, "dHex": +1}
#: Note range (min) of the RT shift to the nearest comparison peak.
SHIFT_RANGES: dict[str, tuple[float, float]] = {
    "dHex": (0.03, 0.4),
    "Hex": (-0.4, -0.03),
    "HexNAc": (-0.5, -0.03),
    "NeuAc": (-0.5, -0.05),
    "NeuGc": (-0.5, -0.05),
}
_COUNT_MODS: tuple[str, ...] = ("OAc", "dHex", "Hex", "HexNAc", "NeuAc", "NeuGc")
_EPS = 1e-9


def _codes_at(table: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """Integer codes of a name field at ``rows`` (a missing value is one more code) and 0 at
    the other rows, which take no part."""
    codes, uniques = factorize_by_name(table, column, rows)
    out = np.zeros(len(table), dtype=np.int64)
    out[rows] = np.where(codes < 0, len(uniques), codes)
    return out


def check_modifications(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    """Direction and size of the RT shift of each non-OAc modification (Rule 8).

    Parameters
    ----------
    table : DataFrame
        Working table with ``ceramide``, ``base_class``, ``prefix``, ``n_<mod>`` and ``RT``;
        ``status`` optional.
    params : AnalysisParams
        ``rt_tolerance`` (min).

    Returns
    -------
    RuleOutcome
        Flags ``mod_direction_<X>`` (warning) and ``mod_shift_unusual_<X>`` (note) for the five
        checked modifications; table ``modification_shifts`` (one row per checked (row, X):
        ``row``, ``modification``, ``n_comparisons``, ``nearest_shift``, ``min_shift``,
        ``max_shift``, ``direction_violation``, ``unusual_shift``); statistics ``per_modification``
        (rows carrying X, checked, without comparison peak, direction violations, unusual shifts),
        ``modification_frequencies`` (rows carrying each modification, OAc included),
        ``stack_frequencies`` (rows per modification combination, for rows with two or more
        modification units) and ``expected``; one warning per modification with violations.
    """
    n = len(table)
    tol = params.rt_tolerance
    active = comparable_rows(table)
    rt = table["RT"].to_numpy(dtype=float)
    rows = table["row"].to_numpy(dtype=np.int64)
    counts = {m: int_column(table, f"n_{m}") for m in _COUNT_MODS}
    taking_part = np.flatnonzero(active)
    cer = _codes_at(table, "ceramide", taking_part)
    base = _codes_at(table, "base_class", taking_part)

    # Queries: (position, modification index) for every active row carrying the modification.
    q_pos_parts, q_mod_parts = [], []
    for k, mod in enumerate(CHECKED_MODIFICATIONS):
        pos = np.flatnonzero(active & (counts[mod] >= 1))
        q_pos_parts.append(pos)
        q_mod_parts.append(np.full(len(pos), k, dtype=np.int64))
    q_pos = np.concatenate(q_pos_parts)
    q_mod = np.concatenate(q_mod_parts)

    # Code the rows' compositions and the queries' (one X fewer) jointly.
    columns = [np.concatenate([cer, cer[q_pos]]), np.concatenate([base, base[q_pos]])]
    for mod in _COUNT_MODS:
        k = CHECKED_MODIFICATIONS.index(mod) if mod in CHECKED_MODIFICATIONS else -1
        columns.append(np.concatenate([counts[mod], counts[mod][q_pos] - (q_mod == k)]))
    code_all = combine_codes(columns) if n else np.zeros(0, dtype=np.int64)
    row_code, q_code = code_all[:n], code_all[n:]

    # Comparison peaks: active rows whose composition some query asks for, sorted by
    # (composition, RT). Compositions are re-coded densely and RT replaced by its rank among the
    # RTs involved, so (composition, RT) is one exact int64 key. The order among exact ties is
    # irrelevant: tied peaks have the same RT, so counts, extremes and nearest shifts agree.
    ref = taking_part[np.isin(row_code[taking_part], q_code)]
    dense = pd.factorize(np.concatenate([row_code[ref], q_code]))[0].astype(np.int64)
    q_rt = rt[q_pos]
    uniq_rt, rt_rank = np.unique(np.concatenate([rt[ref], q_rt]), return_inverse=True)
    span = np.int64(len(uniq_rt) + 1)
    n_ref = len(ref)
    ref_key = dense[:n_ref] * span + rt_rank[:n_ref]
    by_key = np.argsort(ref_key)
    ref, ref_key = ref[by_key], ref_key[by_key]
    ref_code = dense[:n_ref][by_key]
    # Queries in key order too: binary searches with sorted needles are cache-friendly.
    q_key = dense[n_ref:] * span + rt_rank[n_ref:]
    by_query = np.argsort(q_key)  # equal keys: equal queries, so no stable sort is needed
    q_key, q_pos, q_mod = q_key[by_query], q_pos[by_query], q_mod[by_query]
    q_code = dense[n_ref:][by_query]
    q_rt = rt[q_pos]
    ref_rt = np.append(rt[ref], np.nan)  # a NaN sentinel past the end keeps indexing simple
    lo = np.searchsorted(ref_code, q_code, side="left")
    hi = np.searchsorted(ref_code, q_code, side="right")
    n_cmp = hi - lo
    has = n_cmp > 0
    min_ref = np.where(has, ref_rt[lo], np.nan)
    max_ref = np.where(has, ref_rt[hi - 1], np.nan)
    ins = np.searchsorted(ref_key, q_key, side="left")
    d_left = np.where(has & (ins - 1 >= lo), q_rt - ref_rt[ins - 1], np.nan)
    d_right = np.where(has & (ins < hi), q_rt - ref_rt[ins], np.nan)
    # Nearest peak; on a tie the earlier one (left), deterministically.
    take_right = np.isnan(d_left) | (np.abs(d_right) < np.abs(d_left))
    nearest = np.where(take_right, d_right, d_left)

    direction = np.array([EXPECTED_DIRECTION[m] for m in CHECKED_MODIFICATIONS])[q_mod]
    lows = np.array([SHIFT_RANGES[m][0] for m in CHECKED_MODIFICATIONS])[q_mod]
    highs = np.array([SHIFT_RANGES[m][1] for m in CHECKED_MODIFICATIONS])[q_mod]
    min_shift = q_rt - max_ref
    max_shift = q_rt - min_ref
    later_wrong = max_shift < -(tol + _EPS)   # earlier than every peak (dHex expects later)
    earlier_wrong = min_shift > tol + _EPS    # later than every peak (the others expect earlier)
    violation = has & np.where(direction > 0, later_wrong, earlier_wrong)
    unusual = has & ((nearest < lows - _EPS) | (nearest > highs + _EPS))

    flags: dict[str, np.ndarray] = {}
    per_mod: dict[str, Any] = {}
    warnings: list[str] = []
    for k, mod in enumerate(CHECKED_MODIFICATIONS):
        sel = q_mod == k
        flag_dir = np.zeros(n, dtype=bool)
        flag_dir[q_pos[sel & violation]] = True
        flag_size = np.zeros(n, dtype=bool)
        flag_size[q_pos[sel & unusual]] = True
        flags[f"mod_direction_{mod}"] = flag_dir
        flags[f"mod_shift_unusual_{mod}"] = flag_size
        n_viol = int((sel & violation).sum())
        per_mod[mod] = {
            "rows_with": int(sel.sum()),
            "checked": int((sel & has).sum()),
            "no_comparison": int((sel & ~has).sum()),
            "direction_violations": n_viol,
            "unusual_shifts": int((sel & unusual).sum()),
        }
        if n_viol:
            side = "earlier" if EXPECTED_DIRECTION[mod] > 0 else "later"
            warnings.append(
                f"Rule 8: {n_viol} row(s) carrying +{mod} elute {side} than every same-ceramide "
                f"peak without it by more than {tol:g} min; +{mod} should move RT "
                f"{'later' if EXPECTED_DIRECTION[mod] > 0 else 'earlier'}.")

    # By row, then canonical modification order (row ids are unique non-negative integers).
    by_row = np.argsort(rows[q_pos] * len(CHECKED_MODIFICATIONS) + q_mod, kind="stable")
    shifts = pd.DataFrame({
        "row": rows[q_pos][by_row],
        "modification": np.array(CHECKED_MODIFICATIONS, dtype=object)[q_mod][by_row],
        "n_comparisons": n_cmp.astype(np.int64)[by_row],
        "nearest_shift": nearest[by_row],
        "min_shift": min_shift[by_row],
        "max_shift": max_shift[by_row],
        "direction_violation": violation[by_row],
        "unusual_shift": unusual[by_row],
    })

    statistics = {
        "per_modification": per_mod,
        "modification_frequencies": {m: int((active & (counts[m] >= 1)).sum())
                                     for m in _COUNT_MODS},
        "stack_frequencies": _stack_frequencies(active, counts),
        "expected": {m: {"direction": "later" if EXPECTED_DIRECTION[m] > 0 else "earlier",
                         "note_range": list(SHIFT_RANGES[m])} for m in CHECKED_MODIFICATIONS},
    }
    return RuleOutcome(flags=flags, tables={"modification_shifts": shifts},
                       statistics=statistics, warnings=tuple(warnings))


def _stack_frequencies(active: np.ndarray, counts: dict[str, np.ndarray]) -> dict[str, int]:
    """Rows per modification combination (``+dHex+OAc``), for rows with >= 2 modification units."""
    units = sum(counts[m] for m in _COUNT_MODS)
    keep = np.flatnonzero(active & (units >= 2))
    columns = [counts[m][keep] for m in MODIFICATIONS]
    if not len(keep):
        return {}
    _, first, size = np.unique(combine_codes(columns), return_index=True, return_counts=True)
    out: dict[str, int] = {}
    for i, k in zip(first, size, strict=True):  # one step per distinct combination, not per row
        stack = "".join(f"+{c[i] if c[i] > 1 else ''}{m}"
                        for m, c in zip(MODIFICATIONS, columns, strict=True) if c[i] > 0)
        out[stack] = int(k)
    return dict(sorted(out.items()))
