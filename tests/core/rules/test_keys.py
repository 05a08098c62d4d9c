"""The composite-key helpers the rules sort and group with (rules/_keys.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganglioside_nb.core.rules._keys import (
    combine_codes,
    dense_rank,
    int_column,
    lex_order,
    row_rank,
    text_codes,
)


@pytest.mark.parametrize("values", [
    np.array([3.5, np.nan, -0.0, 0.0, 3.5, np.nan, -1.0, 7.25]),
    np.array([np.nan, np.nan]),
    np.array([5, 2, 2, 9, 5, 0], dtype=np.int64),            # short range: counted
    np.array([10**12, -3, 10**12, 7], dtype=np.int64),        # wide range: sorted
    np.round(np.random.default_rng(0).uniform(0, 3, 500), 2),
])
def test_dense_rank_is_np_unique(values: np.ndarray) -> None:
    rank, distinct = dense_rank(values)
    expected_values, expected_rank = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(rank, expected_rank.reshape(-1))
    np.testing.assert_array_equal(distinct, expected_values)
    assert rank.dtype == np.int64


def test_dense_rank_empty() -> None:
    rank, distinct = dense_rank(np.zeros(0))
    assert len(rank) == len(distinct) == 0


@pytest.mark.parametrize("huge", [False, True])
def test_lex_order_is_a_stable_lexsort(huge: bool) -> None:
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 40, 300)  # duplicated rows: ties are kept in position order
    a, b = rng.integers(0, 4, 300), rng.integers(0, 9, 300)
    keys = [(a, 2**40 if huge else 4), (b, 2**40 if huge else 9), (row_rank(rows), 300)]
    np.testing.assert_array_equal(lex_order(keys), np.lexsort((rows, b, a)))


def test_row_rank_orders_by_row_then_position() -> None:
    np.testing.assert_array_equal(row_rank(np.array([4, 1, 4, 0])), [2, 1, 3, 0])
    np.testing.assert_array_equal(row_rank(np.array([0, 5, 9])), [0, 1, 2])


def test_codes_of_columns() -> None:
    table = pd.DataFrame({
        "text": ["x", None, "y", "x", np.nan],
        "string": pd.array(["x", None, "y", "x", "z"], dtype="str"),
        "ints": [3, 1, 3, 2, 1],
        "nullable": pd.array([3, None, 3, 2, 1], dtype="Int64"),
        "floats": [1.0, np.nan, 2.0, 2.0, 0.0],
    })
    np.testing.assert_array_equal(text_codes(table, "text"), [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(text_codes(table, "string"), [0, 1, 2, 0, 3])
    np.testing.assert_array_equal(text_codes(table.iloc[[0, 2]], "text"), [0, 1])
    ints = int_column(table, "ints")
    ints[0] = 99  # a copy, never a view of the table
    assert table["ints"].iloc[0] == 3
    np.testing.assert_array_equal(int_column(table, "nullable"), [3, 0, 3, 2, 1])
    np.testing.assert_array_equal(int_column(table, "floats"), [1, 0, 2, 2, 0])
    code = combine_codes([int_column(table, "ints"), text_codes(table, "string")])
    assert len(set(code.tolist())) == len({(3, 0), (1, 1), (3, 2), (2, 0), (1, 3)})
