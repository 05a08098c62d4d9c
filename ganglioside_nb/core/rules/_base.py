"""What a rule is: a small pure function ``rule(table, params) -> RuleOutcome``.

``table`` holds the analysed (non-rejected) rows only, with a fresh ``RangeIndex``; every array
a rule returns is aligned with it by position. A rule never mutates ``table`` and never drops
rows. Columns produced by earlier rules are visible to later ones, so the order of
``DEFAULT_RULES`` is part of the contract (tests guard it).

Working-table columns every rule may rely on:
``row`` (int, input row id), ``Name``, ``RT``, ``Volume``, ``Log P`` (float), ``Anchor`` (bool),
the name fields of ``core.names.NAME_COLUMNS`` (``prefix``, ``written_prefix``,
``base_class``, ``category``, ``sialic_acids``, ``neutral_sugars``, ``sugar_count``,
``core_sugar_count``, ``n_OAc`` ... ``n_NeuGc``, ``a``, ``b``, ``oxygen`` (float, NaN when
absent), ``ceramide``) and ``name_id`` (int, one per distinct ``Name``), with which
``core.names.factorize_by_name`` codes a name field from the distinct names only. A table
without ``name_id`` (a test's) works too, only slower.

Flags are boolean columns named ``flag__<name>``; the pipeline joins them into the ``flags``
text column at the end. ``FLAG_WEIGHTS`` (ALGORITHM.md §6.7) gives each flag's confidence weight
(0 for notes).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["FLAG_PREFIX", "FLAG_WEIGHTS", "Rule", "RuleOutcome", "comparable_rows", "flag_weight"]

FLAG_PREFIX = "flag__"

#: Confidence weights of warning flags; every other flag is a note (weight 0).
FLAG_WEIGHTS: dict[str, float] = {
    "extrapolated_logp": 0.10,
    "unseen_feature": 0.20,
    "oac_no_rt_increase": 0.30,
    "possible_fragment": 0.20,
    "sugar_rt_violation": 0.10,
    "category_order": 0.05,
    "cross_category_order": 0.20,
}
_MOD_DIRECTION_WEIGHT = 0.30


def flag_weight(flag: str) -> float:
    """Weight of a flag in the confidence score (ALGORITHM.md §6.7)."""
    if flag.startswith("mod_direction_"):
        return _MOD_DIRECTION_WEIGHT
    return FLAG_WEIGHTS.get(flag, 0.0)


def comparable_rows(table: pd.DataFrame) -> np.ndarray:
    """Rows that take part when rules compare rows: all but Rule 5's fragments (a fragment sits
    at its parent's RT by construction). Before Rule 5 there is no ``status``: all rows."""
    if "status" not in table:
        return np.ones(len(table), dtype=bool)
    status = table["status"].to_numpy(dtype=object)
    owner = status if status.base is None else status.base
    # Five rules ask in turn about the same status column (never changed in place: rules do
    # not mutate their table), and each comparison of 100k objects costs ~1 ms: the last
    # answer is kept while that array lives.
    memo = _COMPARABLE_MEMO[0]  # one read: another thread may replace the entry meanwhile
    if memo is not None and memo[0]() is owner and len(memo[1]) == len(status):
        return memo[1].copy()
    out: np.ndarray = status != "fragment"  # a missing status is not "fragment"
    try:
        _COMPARABLE_MEMO[0] = (weakref.ref(owner), out.copy())
    except TypeError:  # an object that takes no weak reference: no memo
        _COMPARABLE_MEMO[0] = None
    return out


#: (weak reference to a status array, its comparable mask): the last answer of comparable_rows.
_COMPARABLE_MEMO: list[tuple[weakref.ref[Any], np.ndarray] | None] = [None]


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule adds.

    columns:    new or replaced columns, each an array of ``len(table)`` (positional).
    flags:      flag name (without ``flag__``) -> boolean array of ``len(table)``.
    tables:     named result tables (``models``, ``oac_pairs``, ``fragment_events``, ...).
    statistics: JSON-able figures of this rule (counts, per-group r/p, ...).
    warnings:   human-readable set-level findings.
    """

    columns: Mapping[str, Any] = field(default_factory=dict)
    flags: Mapping[str, np.ndarray] = field(default_factory=dict)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    statistics: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def apply(self, table: pd.DataFrame) -> pd.DataFrame:
        """The table with this outcome's columns and flag columns added (a new frame)."""
        new = dict(self.columns)
        for name, mask in self.flags.items():
            column = FLAG_PREFIX + name
            mask = np.asarray(mask, dtype=bool)
            new[column] = mask | table[column].to_numpy(dtype=bool) if column in table else mask
        for name, values in new.items():  # text stays object: inferring pandas' str dtype costs
            if isinstance(values, np.ndarray) and values.dtype == object:
                new[name] = pd.Series(values, dtype=object, index=table.index, copy=False)
        return table.assign(**new) if new else table


Rule = Callable[[pd.DataFrame, "AnalysisParams"], RuleOutcome]
