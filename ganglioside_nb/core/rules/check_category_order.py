"""Rule 7: mean RT per category should follow GP < GQ < GT < GD < GM (ALGORITHM.md §6.4).

The expected order is ``core.names.CATEGORY_ORDER`` (most sialylated first). Structural mode
keeps GA (asialo) last; reference mode ignores GA rows entirely, as the original did. Each
consecutive pair of *present* categories (in expected order) whose means are inverted is a
warning naming both means, and the rows of both categories get the warning flag
``category_order``. Equal means are not an inversion. Rows with ``status == 'fragment'`` are
ignored.

Pure ring: numpy and pandas only.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..names import CATEGORY_ORDER, factorize_by_name
from ._base import RuleOutcome, comparable_rows

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["check_category_order", "expected_category_order"]


def expected_category_order(mode: str) -> tuple[str, ...]:
    """Expected elution order of categories, earliest first, for a mode.

    >>> expected_category_order("reference")
    ('GP', 'GQ', 'GT', 'GD', 'GM')
    """
    return tuple(c for c in CATEGORY_ORDER if mode != "reference" or c != "GA")


def check_category_order(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    """Compare the mean RT of each category with the expected order (Rule 7).

    Parameters
    ----------
    table : DataFrame
        Working table with ``category`` and ``RT``; ``status`` optional.
    params : AnalysisParams
        ``mode`` decides whether GA takes part.

    Returns
    -------
    RuleOutcome
        Flag ``category_order``; statistics ``category_mean_rt`` (category -> mean RT, min),
        ``expected_order``, ``actual_order`` (present categories by increasing mean RT, ties in
        expected order) and ``violations`` (list of ``{"earlier", "later", "earlier_mean_rt",
        "later_mean_rt"}``, ``earlier`` being the category expected first); one warning per
        violation.
    """
    expected = expected_category_order(params.mode)
    codes, uniques = factorize_by_name(table, "category")
    # Position of each row's category in the expected order; -1 = not taking part.
    position = np.array([expected.index(u) if u in expected else -1 for u in uniques] + [-1],
                        dtype=np.int64)[codes]
    active = (position >= 0) & comparable_rows(table)
    k = len(expected)
    taking_part = np.flatnonzero(active)
    count = np.bincount(position[taking_part], minlength=k)
    total = np.bincount(position[taking_part], table["RT"].to_numpy(dtype=float)[taking_part],
                        minlength=k)
    present = [c for i, c in enumerate(expected) if count[i] > 0]
    mean = {c: float(total[expected.index(c)] / count[expected.index(c)]) for c in present}
    rank = {c: i for i, c in enumerate(expected)}
    actual = sorted(present, key=lambda c: (mean[c], rank[c]))

    violations = []
    bad_categories: set[str] = set()
    for earlier, later in itertools.pairwise(present):
        if mean[earlier] > mean[later]:
            violations.append({"earlier": earlier, "later": later,
                               "earlier_mean_rt": mean[earlier], "later_mean_rt": mean[later]})
            bad_categories.update((earlier, later))
    flag = active & np.isin(position, [rank[c] for c in sorted(bad_categories)])
    warnings = tuple(
        f"Rule 7: {v['earlier']} should elute before {v['later']}, but its mean RT "
        f"{v['earlier_mean_rt']:.3f} min is later than {v['later']}'s {v['later_mean_rt']:.3f} min."
        for v in violations)
    statistics = {
        "category_mean_rt": mean,
        "expected_order": list(expected),
        "actual_order": actual,
        "violations": violations,
    }
    return RuleOutcome(flags={"category_order": flag}, statistics=statistics, warnings=warnings)
