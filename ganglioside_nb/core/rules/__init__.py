"""The rules of the analysis, as small pure functions in one declared order.

``DEFAULT_RULES`` is the explicit order the pipeline runs (ALGORITHM.md §5-6). It is not the
numbering of the rules: Rule 5 needs Rule 1's verdicts ("its own Rule 1 fit is poor"), and the
rules that compare rows (4, 6-9) must not see the fragments Rule 5 consolidates. Rule 10 reads
every flag, so it is last. ``tests/core/rules/test_order.py`` guards these invariants.
"""

from __future__ import annotations

from ._base import FLAG_PREFIX, FLAG_WEIGHTS, Rule, RuleOutcome, flag_weight
from .check_category_order import check_category_order
from .check_cross_prefix import check_cross_prefix
from .check_modifications import check_modifications
from .check_oacetylation import check_oacetylation
from .check_sugar_rt import check_sugar_rt
from .derive_confidence import derive_confidence
from .derive_sugar_composition import derive_sugar_composition
from .flag_fragments import flag_fragments
from .flag_rt_outliers import flag_rt_outliers

__all__ = [
    "DEFAULT_RULES",
    "FLAG_PREFIX",
    "FLAG_WEIGHTS",
    "RULE_NUMBERS",
    "Rule",
    "RuleOutcome",
    "check_category_order",
    "check_cross_prefix",
    "check_modifications",
    "check_oacetylation",
    "check_sugar_rt",
    "derive_confidence",
    "derive_sugar_composition",
    "flag_fragments",
    "flag_rt_outliers",
    "flag_weight",
]

DEFAULT_RULES: tuple[Rule, ...] = (
    derive_sugar_composition,  # rules 2-3
    flag_rt_outliers,  # rule 1
    flag_fragments,  # rule 5
    check_oacetylation,  # rule 4
    check_sugar_rt,  # rule 6
    check_category_order,  # rule 7
    check_modifications,  # rule 8
    check_cross_prefix,  # rule 9
    derive_confidence,  # rule 10
)

#: Rule numbers of ALGORITHM.md, for labels and progress messages.
RULE_NUMBERS: dict[str, str] = {
    "derive_sugar_composition": "2-3", "flag_rt_outliers": "1", "flag_fragments": "5",
    "check_oacetylation": "4", "check_sugar_rt": "6", "check_category_order": "7",
    "check_modifications": "8", "check_cross_prefix": "9", "derive_confidence": "10",
}
