"""Small helpers shared by the rules that group rows by composite keys (Rules 4, 5, 8)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["combine_codes", "int_column", "text_codes"]


def int_column(table: pd.DataFrame, column: str) -> np.ndarray:
    """An integer column as int64 (missing values count as 0)."""
    values = pd.to_numeric(table[column]).to_numpy(dtype=float, na_value=np.nan)
    return np.nan_to_num(values, nan=0.0).astype(np.int64)


def text_codes(table: pd.DataFrame, column: str) -> np.ndarray:
    """Integer codes of a text column; a missing value is one more code."""
    return pd.factorize(table[column].to_numpy(dtype=object), use_na_sentinel=False)[0].astype(np.int64)


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
