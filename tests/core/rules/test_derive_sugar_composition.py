"""Rules 2-3: isomer candidates (golden per row in reference mode) and repeated names."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

import tests.conftest as _conftest
from ganglioside_nb.core.names import parse_names
from ganglioside_nb.core.rules.derive_sugar_composition import derive_sugar_composition
from ganglioside_nb.params import AnalysisParams

SAMPLE = str(_conftest.SAMPLE)
GOLDEN = str(_conftest.REFERENCE / "v2_testwork_user_compounds.csv")
REFERENCE = AnalysisParams(mode="reference")
STRUCTURAL = AnalysisParams()


@functools.lru_cache(maxsize=1)
def _sample() -> pd.DataFrame:
    raw = pd.read_csv(SAMPLE, dtype=str)
    return _working(raw["Name"], raw["RT"].astype(float))


def _working(names: pd.Series | list[str],
             rt: pd.Series | list[float] | None = None) -> pd.DataFrame:
    names = pd.Series(list(names), dtype=object)
    fields, failures = parse_names(names)
    assert not failures, failures
    rt_values = np.linspace(5, 12, len(names)) if rt is None else np.asarray(rt, dtype=float)
    base = pd.DataFrame({"row": np.arange(len(names), dtype=np.int64), "Name": names,
                         "RT": rt_values})
    return pd.concat([base, fields], axis=1)


def test_reference_isomer_columns_equal_golden_per_row() -> None:
    table = _sample()
    golden = pd.read_csv(GOLDEN, dtype=str, keep_default_na=False).set_index("input_row")
    out = derive_sugar_composition(table, REFERENCE)
    got = pd.DataFrame({
        "can_have_isomers": np.where(out.flags["isomer_candidate"], "True", "False"),
        "isomer_type": out.columns["isomer_type"],
    }, index=table["row"].astype(str))
    expected = golden.loc[got.index, ["can_have_isomers", "isomer_type"]]
    pd.testing.assert_frame_equal(got, expected, check_names=False, check_dtype=False)
    assert out.statistics["isomer_candidates"] == 179
    assert out.statistics["isomer_types"] == {"GD1a/b": 67, "GQ1a/b": 41, "GT1a/b": 71}


def test_structural_isomer_table() -> None:
    names = ["GM1(36:1;O2)", "GD1(36:1;O2)", "GT1(36:1;O2)", "GQ1+OAc(36:1;O2)", "GP1(36:1;O2)",
             "GM3(36:1;O2)", "GD3(36:1;O2)", "GD1a(36:1;O2)", "GT1bα(36:1;O2)", "GA1(36:1;O2)"]
    out = derive_sugar_composition(_working(names), STRUCTURAL)
    assert list(out.columns["isomer_type"]) == [
        "GM1a/b", "GD1a/b/c/α", "GT1a/b/c", "GQ1b/c", "GP1c", "", "", "", "", ""]
    assert out.flags["isomer_candidate"].tolist() == [True] * 5 + [False] * 5
    reference = derive_sugar_composition(_working(names), REFERENCE)
    assert list(reference.columns["isomer_type"]) == [
        "", "GD1a/b", "GT1a/b", "GQ1a/b", "", "", "", "", "", ""]


def test_structural_counts_on_sample() -> None:
    out = derive_sugar_composition(_sample(), STRUCTURAL)
    assert out.statistics["isomer_types"] == {
        "GD1a/b/c/α": 67, "GM1a/b": 44, "GP1c": 8, "GQ1b/c": 41, "GT1a/b/c": 71}
    # Modification sugars count in structural mode only (GD1+HexNAc: 7 + 1).
    assert out.statistics["sugar_count_column"] == "sugar_count"
    assert out.statistics["sugar_count_frequencies"]["8"] == 49
    ref = derive_sugar_composition(_sample(), REFERENCE)
    assert ref.statistics["sugar_count_frequencies"]["8"] == 41


def test_repeated_names_on_sample() -> None:
    table = _sample()
    for params in (REFERENCE, STRUCTURAL):
        out = derive_sugar_composition(table, params)
        flag = out.flags["repeated_name"]
        # 79 names repeat, giving 129 extra rows (ALGORITHM.md §1).
        assert out.statistics["repeated_names"] == 79
        assert flag.sum() == out.statistics["repeated_name_rows"] == 79 + 129
        expected = table["Name"].duplicated(keep=False).to_numpy()
        np.testing.assert_array_equal(flag, expected)


def test_repeated_species_written_two_ways() -> None:
    table = _working(["GM3(d18:1/18:0)", "GM3(36:1;O2)", "GM3(36:2;O2)"])
    structural = derive_sugar_composition(table, STRUCTURAL).flags["repeated_name"]
    reference = derive_sugar_composition(table, REFERENCE).flags["repeated_name"]
    assert structural.tolist() == [True, True, False]
    assert reference.tolist() == [False, False, False]


def test_outcome_follows_rows_when_shuffled() -> None:
    table = _sample()
    perm = np.random.default_rng(3).permutation(len(table))
    shuffled = table.iloc[perm].reset_index(drop=True)
    a = derive_sugar_composition(table, STRUCTURAL)
    b = derive_sugar_composition(shuffled, STRUCTURAL)
    np.testing.assert_array_equal(a.columns["isomer_type"][perm], b.columns["isomer_type"])
    for flag in ("isomer_candidate", "repeated_name"):
        np.testing.assert_array_equal(a.flags[flag][perm], b.flags[flag])
    assert a.statistics == b.statistics


def test_applies_to_table_and_handles_empty() -> None:
    table = _sample()
    out = derive_sugar_composition(table, STRUCTURAL)
    applied = out.apply(table)
    assert applied["flag__isomer_candidate"].dtype == bool
    assert (applied["isomer_type"] != "").sum() == out.statistics["isomer_candidates"]
    empty = derive_sugar_composition(table.iloc[:0].reset_index(drop=True), STRUCTURAL)
    assert len(empty.columns["isomer_type"]) == 0
    assert empty.statistics["repeated_name_rows"] == 0


@pytest.mark.parametrize("params", [REFERENCE, STRUCTURAL], ids=["reference", "structural"])
def test_string_dtype_columns_give_the_same_result(params: AnalysisParams) -> None:
    table = _sample()
    text = table.copy()
    for column in ("Name", "prefix", "core_class", "isomer", "ceramide"):
        text[column] = text[column].astype("string")
    a, b = derive_sugar_composition(table, params), derive_sugar_composition(text, params)
    np.testing.assert_array_equal(a.columns["isomer_type"], b.columns["isomer_type"])
    np.testing.assert_array_equal(a.flags["repeated_name"], b.flags["repeated_name"])
