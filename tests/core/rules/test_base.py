"""Rule helpers shared by every rule (core.rules._base)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from ganglioside_nb.core.rules._base import comparable_rows, remembered, shared_answers
from tests.conftest import SAMPLE


def _frame(*statuses: list[str]) -> pd.DataFrame:
    """Object columns (as the rules' text columns are), consolidated into one pandas block."""
    frame = pd.DataFrame({f"s{i}": s for i, s in enumerate(statuses)}, dtype=object)
    return frame._consolidate()


def test_comparable_rows_answers_for_each_table_inside_and_outside_an_analysis() -> None:
    one = _frame(["valid", "fragment", "outlier"]).rename(columns={"s0": "status"})
    two = _frame(["fragment", "valid", "fragment"]).rename(columns={"s0": "status"})
    for scope in (shared_answers, _no_scope):
        with scope():
            for _ in range(2):  # the second round is answered from the memo inside the scope
                assert comparable_rows(one).tolist() == [True, False, True]
                assert comparable_rows(two).tolist() == [False, True, False]
            mask = comparable_rows(one)
            mask[:] = False  # the caller's copy: the next answer is unchanged
            assert comparable_rows(one).tolist() == [True, False, True]
            assert comparable_rows(pd.DataFrame({"x": [1, 2]})).tolist() == [True, True]


def test_columns_of_one_block_are_told_apart() -> None:
    # Two object columns consolidated into one pandas block share the array that owns them;
    # renaming makes the other one 'status'. Each must get its own answer.
    both = _frame(["valid", "fragment"], ["fragment", "valid"])
    assert both._mgr.nblocks == 1
    first = both.rename(columns={"s0": "status"})
    second = both.rename(columns={"s1": "status"})
    with shared_answers():
        assert comparable_rows(first).tolist() == [True, False]
        assert comparable_rows(second).tolist() == [False, True]


def test_remembered_computes_once_per_array_and_only_in_scope() -> None:
    calls: list[int] = []
    values = np.arange(5.0)

    def compute() -> float:
        calls.append(1)
        return float(values.sum())

    assert remembered(values, "sum", compute) == 10.0
    assert remembered(values, "sum", compute) == 10.0
    assert len(calls) == 2  # outside an analysis nothing is kept
    with shared_answers():
        for _ in range(3):
            assert remembered(values, "sum", compute) == 10.0
        assert remembered(values[1:], "sum", compute) == 10.0  # another view: computed again
        seen_in_thread: list[object] = []
        worker = threading.Thread(target=lambda: seen_in_thread.append(
            remembered(values, "sum", compute)))
        worker.start()
        worker.join()
    assert len(calls) == 2 + 2 + 1  # a thread has its own (empty) context


class _no_scope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("mode", ["structural", "reference"])
@pytest.mark.parametrize("source", ["sample", "synthetic"])
def test_no_rule_changes_the_table_it_is_given(mode: str, source: str) -> None:
    # The contract the shared answers rely on. Text columns of pandas' text dtype hand out
    # writable views of their data (to_numpy), so a rule writing into one would change the
    # working table of every later rule; each rule's table is compared before and after.
    from ganglioside_nb.core.pipeline import prepare
    from ganglioside_nb.core.rules import DEFAULT_RULES
    from ganglioside_nb.core.validate import working_table
    from ganglioside_nb.params import AnalysisParams
    from ganglioside_nb.testing import large_table

    params = AnalysisParams(mode=mode)
    data = SAMPLE if source == "sample" else large_table(3000, seed=4)
    _, table, _ = prepare(data, params)
    work = working_table(table)
    with shared_answers():
        for rule in DEFAULT_RULES:
            before = work.copy(deep=True)
            outcome = rule(work, params)
            pd.testing.assert_frame_equal(work, before, obj=rule.__name__)
            work = outcome.apply(work)
