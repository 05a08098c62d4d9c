"""Small helpers shared by the rules that group rows by composite keys (Rules 4, 5, 8)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..names import factorize_by_name
from ._base import remembered

__all__ = ["combine_codes", "dense_rank", "int_column", "lex_order", "row_rank", "rt_ranks",
           "text_codes"]


def int_column(table: pd.DataFrame, column: str) -> np.ndarray:
    """An integer column as int64 (missing values count as 0)."""
    series = table[column]
    if isinstance(series.dtype, np.dtype) and series.dtype.kind == "i":  # nothing missing
        return series.to_numpy(dtype=np.int64, copy=True)
    values = pd.to_numeric(series).to_numpy(dtype=float, na_value=np.nan)
    return np.nan_to_num(values, nan=0.0).astype(np.int64)


def text_codes(table: pd.DataFrame, column: str) -> np.ndarray:
    """Integer codes of a text column that is a function of ``Name``; a missing value is one
    more code."""
    codes = factorize_by_name(table, column)[0]
    if len(codes) and codes.min() < 0:
        codes = factorize_by_name(table, column, use_na_sentinel=False)[0]
    return codes.astype(np.int64)


def combine_codes(columns: list[np.ndarray]) -> np.ndarray:
    """One integer key per distinct tuple of non-negative integer columns (order-free).

    A mixed-radix number when it fits in int64 (the usual case); otherwise the code is
    re-factorised after each column, which keeps intermediate values below the row count.
    """
    radices = [int(c.max()) + 1 if len(c) else 1 for c in columns]
    if float(np.prod(np.array(radices, dtype=float))) < 2.0**62:
        code = np.zeros(len(columns[0]), dtype=np.int64)
        for col, radix in zip(columns, radices, strict=True):
            code = code * radix + col
        return code
    code = pd.factorize(columns[0])[0].astype(np.int64)
    for col, radix in zip(columns[1:], radices[1:], strict=True):
        code = pd.factorize(code * radix + col)[0].astype(np.int64)
    return code


def dense_rank(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each value among the sorted distinct values (equal values, NaNs too, share a
    rank) and those values. Integers over a short range are counted, anything else sorted."""
    n = len(values)
    if not n:
        return np.zeros(0, dtype=np.int64), values[:0]
    if values.dtype.kind in "iu":
        low = int(values.min())
        span = int(values.max()) - low + 1
        if span <= n:
            present = np.bincount(values - low, minlength=span) > 0
            return (np.cumsum(present) - 1)[values - low], np.flatnonzero(present) + low
    order = np.argsort(values)  # equal values get equal ranks, so any order of ties will do
    ordered = values[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    if ordered.dtype.kind == "f":  # NaNs (sorted last) are one value, as in np.unique
        nan = np.isnan(ordered)
        new[1:] &= ~(nan[1:] & nan[:-1])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.cumsum(new) - 1
    return rank, ordered[new]


def rt_ranks(rt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dense_rank` of a table's RT column, computed once per analysis (Rules 4 and 5
    both rank the same RTs); the arrays are read-only, as they are shared."""
    def compute() -> tuple[np.ndarray, np.ndarray]:
        rank, values = dense_rank(rt)
        rank.setflags(write=False)
        values.setflags(write=False)
        return rank, values
    return remembered(rt, "dense_rank", compute)


def lex_order(keys: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """Order by ``keys`` (most significant first), each an integer array in [0, size).

    The last key must be unique (a tie-breaker), so the order is total and one argsort of the
    mixed-radix key needs no stable sort; ``np.lexsort`` when that key would not fit in int64.
    """
    sizes = [max(int(size), 1) for _, size in keys]
    if float(np.prod(np.array(sizes, dtype=float))) >= 2.0**62:
        return np.lexsort([column for column, _ in reversed(keys)])
    code = np.zeros(len(keys[0][0]), dtype=np.int64)
    for (column, _), size in zip(keys, sizes, strict=True):
        code = code * size + column
    return np.argsort(code)


def row_rank(rows: np.ndarray) -> np.ndarray:
    """Rank of each position by (row, position): a unique last key for :func:`lex_order` that
    orders ties as a stable sort by ``row`` would."""
    n = len(rows)
    if n < 2 or bool(np.all(rows[1:] > rows[:-1])):
        return np.arange(n, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(rows, kind="stable")] = np.arange(n, dtype=np.int64)
    return rank
