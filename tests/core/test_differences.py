"""``AnalysisResult.differences``: what differs between two results of one input, one line each
(the comparison behind ``db verify``, FEATURES.md H1)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import ganglioside_nb as gnb
from ganglioside_nb.core.results import AnalysisResult

SAMPLE = gnb.datasets.sample_path("testwork_user")


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return gnb.analyze(SAMPLE)


def test_two_runs_of_one_input_have_no_difference(result: AnalysisResult) -> None:
    again = gnb.analyze(SAMPLE)
    assert again.provenance["created_at"] and result.differences(again) == ()
    assert result.differences(result) == ()


def test_each_changed_part_is_named_with_where_and_how_much(result: AnalysisResult) -> None:
    compounds = result.compounds.copy()
    compounds.loc[10, "predicted_rt"] += 0.25
    compounds.loc[[3, 4], "status"] = "outlier" if compounds.loc[3, "status"] != "outlier" else "valid"
    parent = compounds["parent_row"].copy()
    parent.iloc[0] = 999 if pd.isna(parent.iloc[0]) else pd.NA
    compounds["parent_row"] = parent
    events = result.fragment_events.copy()
    events.at[0, "member_rows"] = [*events.at[0, "member_rows"], 999]
    stats = {**result.statistics, "valid": result.statistics["valid"] + 1}
    changed = dataclasses.replace(result, compounds=compounds, fragment_events=events,
                                  statistics=stats, warnings=result.warnings[1:],
                                  params=dataclasses.replace(result.params, rt_tolerance=0.2))
    lines = result.differences(changed)
    assert lines[:3] == ("parameters: rt_tolerance differs", "statistics: valid differs",
                         f"warnings: {len(result.warnings)} vs {len(result.warnings) - 1}, 1 not in both")
    by_column = {line.split(":")[0]: line for line in lines[3:]}
    assert set(by_column) == {"compounds.status", "compounds.predicted_rt", "compounds.parent_row",
                              "fragment_events.member_rows"}
    rt = by_column["compounds.predicted_rt"]
    assert rt.startswith("compounds.predicted_rt: 1 of 323 values differ (largest difference 0.25); "
                         "first at position 10: ")
    assert by_column["compounds.status"].startswith("compounds.status: 2 of 323 values differ; "
                                                    "first at position 3")
    assert "1 of 323" in by_column["compounds.parent_row"]
    assert by_column["fragment_events.member_rows"].startswith(
        f"fragment_events.member_rows: 1 of {len(events)} values differ; first at position 0")
    assert "np." not in " ".join(lines)  # plain values, as a user reads them


def test_shape_columns_and_dtypes(result: AnalysisResult) -> None:
    fewer = dataclasses.replace(result, compounds=result.compounds.iloc[:-1])
    assert result.differences(fewer) == ("compounds: 323 rows vs 322",)
    other = result.compounds.drop(columns=["z"]).assign(extra=1)
    other["confidence"] = other["confidence"].astype("float32")
    lines = result.differences(dataclasses.replace(result, compounds=other))
    assert lines[0] == "compounds: columns z only in the first, extra only in the second"
    assert lines[1] == "compounds.confidence: dtype float64 vs float32"


def test_missing_values_equal_each_other_and_nothing_else() -> None:
    from ganglioside_nb.core.results import _frame_differences
    a = pd.DataFrame({"x": [1.0, np.nan, 3.0], "t": ["a", None, "c"],
                      "o": pd.Series([[1], None, pd.NA], dtype=object)})
    assert _frame_differences("t", a, a.copy()) == []
    b = pd.DataFrame({"x": [1.0, 2.0, 3.0], "t": ["a", "b", "c"],
                      "o": pd.Series([[1], np.nan, [2]], dtype=object)})
    assert _frame_differences("t", a, b) == [
        "t.x: 1 of 3 values differ; first at position 1: nan vs 2.0",
        "t.t: 1 of 3 values differ; first at position 1: nan vs 'b'",
        "t.o: 1 of 3 values differ; first at position 2: <NA> vs [2]"]


def test_nullable_columns_compare_with_their_missing_values() -> None:
    from ganglioside_nb.core.results import _frame_differences
    a = pd.DataFrame({"i": pd.array([1, None, 3], dtype="Int64"),
                      "b": pd.array([True, None, False], dtype="boolean"),
                      "s": pd.array(["x", None, "z"], dtype="string")})
    b = pd.DataFrame({"i": pd.array([1, 2, 4], dtype="Int64"),
                      "b": pd.array([True, True, None], dtype="boolean"),
                      "s": pd.array(["x", "y", None], dtype="string")})
    assert _frame_differences("t", a, a.copy()) == []
    assert _frame_differences("t", a, b) == [
        "t.i: 2 of 3 values differ (largest difference 1); first at position 1: <NA> vs 2",
        "t.b: 2 of 3 values differ; first at position 1: <NA> vs True",
        "t.s: 2 of 3 values differ; first at position 1: <NA> vs 'y'"]


def test_only_results_compare(result: AnalysisResult) -> None:
    with pytest.raises(TypeError, match="must be an AnalysisResult"):
        result.differences(result.compounds)  # type: ignore[arg-type]
