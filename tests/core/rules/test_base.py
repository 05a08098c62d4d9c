"""Rule helpers shared by every rule (core.rules._base)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganglioside_nb.core.rules._base import comparable_rows


def test_comparable_rows_answers_for_each_table_even_when_asked_in_turn() -> None:
    one = pd.DataFrame({"status": np.array(["valid", "fragment", "outlier"], dtype=object)})
    two = pd.DataFrame({"status": np.array(["fragment", "valid", "fragment"], dtype=object)})
    for _ in range(2):  # the second round is answered from the memo where it applies
        assert comparable_rows(one).tolist() == [True, False, True]
        assert comparable_rows(one).tolist() == [True, False, True]
        assert comparable_rows(two).tolist() == [False, True, False]
    later = one.assign(status=np.array(["fragment", "valid", "valid"], dtype=object))
    assert comparable_rows(later).tolist() == [False, True, True]
    mask = comparable_rows(later)
    mask[:] = False  # the caller's copy: the next answer is unchanged
    assert comparable_rows(later).tolist() == [False, True, True]
    assert comparable_rows(pd.DataFrame({"x": [1, 2]})).tolist() == [True, True]
