"""Rules 2-3: sugar composition and positional-isomer candidates (ALGORITHM.md §6.1).

The sugar fields themselves (``sugar_count``, ``core_sugar_count``, ``sialic_acids`` ...) come
from the name grammar (``core.names.parse_names``); this rule adds what depends on the set:

* ``isomer_type`` (text): the positional isomers a row's name may stand for, e.g. ``GD1a/b/c/α``
  (structural table) or ``GD1a/b`` (the original's table in reference mode); ``''`` when the row
  is not a candidate. Flag ``isomer_candidate`` (note) marks the candidates.
* flag ``repeated_name`` (note): the row's name occurs more than once among the analysed rows.
  Reference mode compares ``Name`` as written, as the original did; structural mode compares the
  species (canonical ``prefix`` + ``ceramide``), so ``GM3(d18:1/18:0)`` and ``GM3(36:1;O2)`` are
  recognised as one species.

Pure ring: numpy and pandas only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..names import factorize_by_name
from ._base import RuleOutcome

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["ISOMER_TABLE", "REFERENCE_ISOMER_TABLE", "derive_sugar_composition"]

#: Core class -> positional isomer letters (structural mode).
ISOMER_TABLE: dict[str, tuple[str, ...]] = {
    "GM1": ("a", "b"),
    "GD1": ("a", "b", "c", "α"),
    "GT1": ("a", "b", "c"),
    "GQ1": ("b", "c"),
    "GP1": ("c",),
}

#: The original platform's table (reference mode): GD1, GT1 and GQ1, each "a/b".
REFERENCE_ISOMER_TABLE: dict[str, tuple[str, ...]] = {
    "GD1": ("a", "b"),
    "GT1": ("a", "b"),
    "GQ1": ("a", "b"),
}


def _codes(table: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for missing) and the distinct values of a text column."""
    codes, uniques = factorize_by_name(table, column)
    return codes.astype(np.int64), [str(u) for u in uniques]


def _frequencies(column: pd.Series) -> dict[str, int]:
    """Rows per distinct count, ascending, keyed by the count as text (missing not counted)."""
    if column.dtype == np.int64 and len(column):
        values = column.to_numpy()
        if 0 <= values.min() and values.max() < 1 << 20:  # small counts: one bincount
            per_value = np.bincount(values)
            return {str(k): int(per_value[k]) for k in np.flatnonzero(per_value)}
    sugar = pd.Series(pd.to_numeric(column).to_numpy(dtype=float, na_value=np.nan))
    freq = sugar.value_counts(sort=False, dropna=True).sort_index()
    return {str(int(k)): int(v) for k, v in freq.items()}


def derive_sugar_composition(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    """Isomer candidates and repeated names (Rules 2-3).

    Parameters
    ----------
    table : DataFrame
        The working table (name fields of ``core.names.NAME_COLUMNS`` and ``Name``).
    params : AnalysisParams
        ``mode`` selects the isomer table and how names are compared.

    Returns
    -------
    RuleOutcome
        Column ``isomer_type``; flags ``isomer_candidate`` and ``repeated_name``; statistics
        ``isomer_candidates``, ``isomer_types`` (count per type), ``repeated_name_rows``,
        ``repeated_names`` (distinct names occurring more than once), ``sugar_count_frequencies``.
    """
    reference = params.mode == "reference"
    iso_table = REFERENCE_ISOMER_TABLE if reference else ISOMER_TABLE
    # Work on the distinct values, then broadcast through the codes.
    core, core_values = _codes(table, "core_class")
    type_of = np.array([cls + "/".join(iso_table[cls]) if cls in iso_table else ""
                        for cls in core_values] + [""], dtype=object)
    isomer, isomer_values = _codes(table, "isomer")
    lettered = np.array([v != "" for v in isomer_values] + [False])[isomer]
    # A lettered isomer, or a missing core class, has no type: the '' after the core classes.
    type_code = np.where(lettered | (core < 0), len(core_values), core)
    isomer_type = type_of[type_code]
    has_type = type_of != ""
    candidate = has_type[type_code]

    if reference:
        key = _codes(table, "Name")[0]
    else:
        prefix, prefix_values = _codes(table, "prefix")
        ceramide, ceramide_values = _codes(table, "ceramide")
        key = (prefix + 1) * (len(ceramide_values) + 1) + ceramide + 1
        if (len(prefix_values) + 1) * (len(ceramide_values) + 1) > 4 * len(key) + 1024:
            key = pd.factorize(key)[0]  # too many combinations to count directly
    counts = np.bincount(key + 1)  # +1: a missing name (code -1) is its own bin
    repeated = (key >= 0) & (counts[key + 1] > 1)

    count_col = "core_sugar_count" if reference else "sugar_count"
    # Candidates per core class: the rows of each type code that has a type.
    per_core = (np.bincount(type_code, minlength=len(type_of)) * has_type)[:len(core_values)]
    type_counts: dict[str, int] = {}
    for code in np.flatnonzero(per_core):  # one step per distinct core class
        name = str(type_of[code])
        type_counts[name] = type_counts.get(name, 0) + int(per_core[code])
    statistics = {
        "isomer_candidates": int(candidate.sum()),
        "isomer_types": dict(sorted(type_counts.items())),
        "repeated_name_rows": int(repeated.sum()),
        "repeated_names": int((counts[1:] > 1).sum()),
        "sugar_count_column": count_col,
        "sugar_count_frequencies": _frequencies(table[count_col]),
    }
    return RuleOutcome(
        columns={"isomer_type": isomer_type},
        flags={"isomer_candidate": candidate, "repeated_name": repeated},
        statistics=statistics,
    )
