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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["FLAG_PREFIX", "FLAG_WEIGHTS", "Rule", "RuleOutcome", "comparable_rows", "flag_weight",
           "remembered", "shared_answers"]

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
    # Five rules ask in turn about the same status column (~1 ms per 100k objects each).
    out: np.ndarray = remembered(status, "comparable", lambda: status != "fragment").copy()
    return out  # a missing status is not "fragment"


# --------------------------------------------------------------------------------------------
# answers shared by the rules of one analysis
# --------------------------------------------------------------------------------------------
_T = TypeVar("_T")
#: (what, array view) -> (weak reference to the array's owner, answer); None outside an analysis.
_SHARED: ContextVar[dict[tuple[Any, ...], tuple[weakref.ref[Any], Any]] | None] = ContextVar(
    "ganglioside_nb_shared_answers", default=None)


@contextmanager
def shared_answers() -> Iterator[None]:
    """Within this block (one analysis: the pipeline runs its rules inside it), answers that
    several rules compute from the same column are computed once (:func:`remembered`).

    The rules never change their table in place (the contract above), so an answer about a
    column's array holds while that array lives. The scope is a context variable: concurrent
    analyses in threads or tasks each have their own, and a rule called on its own computes.
    """
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def remembered(values: np.ndarray, what: str, compute: Callable[[], _T]) -> _T:
    """``compute()``, an answer about ``values`` (a column's array), computed once per array
    inside :func:`shared_answers`. The key is the exact view (data address, shape, strides and
    dtype: two columns of one pandas block share their owner) with a weak reference to the
    owner, so a freed array's address never answers for a new one."""
    memo = _SHARED.get()
    if memo is None:
        return compute()
    owner = values if values.base is None else values.base
    key = (what, values.__array_interface__["data"][0], values.shape, values.strides,
           values.dtype.str)
    entry = memo.get(key)
    if entry is not None and entry[0]() is owner:
        answer: _T = entry[1]
        return answer
    answer = compute()
    try:
        memo[key] = (weakref.ref(owner), answer)
    except TypeError:  # an owner that takes no weak reference: not remembered
        pass
    return answer


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
