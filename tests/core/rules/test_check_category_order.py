"""Rule 7: mean RT per category in the expected order (golden means, synthetic violations)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tests.conftest as _conftest
from ganglioside_nb.core.rules.check_category_order import check_category_order
from ganglioside_nb.params import AnalysisParams
from tests.core.rules.conftest import names_table as _working
from tests.core.rules.conftest import sample_names_table as _sample

SAMPLE = str(_conftest.SAMPLE)
SUMMARY = str(_conftest.REFERENCE / "v2_testwork_user_summary.json")
REFERENCE = AnalysisParams(mode="reference")
STRUCTURAL = AnalysisParams()






@pytest.mark.parametrize("params", [REFERENCE, STRUCTURAL], ids=["reference", "structural"])
def test_sample_means_equal_golden(params: AnalysisParams) -> None:
    with open(SUMMARY, encoding="utf-8") as fh:
        golden = json.load(fh)["rule6_rule7"]["category_ordering"]["statistics"]
    out = check_category_order(_sample(), params)
    means = out.statistics["category_mean_rt"]
    assert means == pytest.approx({"GD": 10.6544607843, "GM": 10.9610434783, "GP": 8.786875,
                                   "GQ": 9.5507317073, "GT": 10.027975}, abs=1e-9)
    assert means == pytest.approx(golden["category_avg_rt"], abs=1e-12)
    assert out.statistics["actual_order"] == golden["actual_order"]
    assert out.statistics["violations"] == golden["order_violations"] == []
    assert out.warnings == ()
    assert not out.flags["category_order"].any()
    expected = golden["expected_order"] + ([] if params.mode == "reference" else ["GA"])
    assert out.statistics["expected_order"] == expected


def test_inverted_pair_is_a_warning_naming_both_means() -> None:
    names = ["GQ1(36:1;O2)", "GT1(36:1;O2)", "GT1(38:1;O2)", "GD1(36:1;O2)", "GM1(36:1;O2)"]
    rts = [8.0, 11.0, 11.5, 10.0, 12.0]  # GT (11.25) after GD (10.0)
    out = check_category_order(_working(names, rts), STRUCTURAL)
    assert out.statistics["violations"] == [{"earlier": "GT", "later": "GD",
                                             "earlier_mean_rt": 11.25, "later_mean_rt": 10.0}]
    assert len(out.warnings) == 1
    assert "GT" in out.warnings[0] and "GD" in out.warnings[0]
    assert "11.250" in out.warnings[0] and "10.000" in out.warnings[0]
    assert out.flags["category_order"].tolist() == [False, True, True, True, False]
    assert out.statistics["actual_order"] == ["GQ", "GD", "GT", "GM"]


def test_only_consecutive_present_categories_are_compared() -> None:
    # GT is absent, so GQ is compared with GD directly; GP > GQ is a second violation.
    names = ["GP1(36:1;O2)", "GQ1(36:1;O2)", "GD1(36:1;O2)", "GM1(36:1;O2)"]
    out = check_category_order(_working(names, [9.5, 9.0, 8.0, 12.0]), STRUCTURAL)
    pairs = [(v["earlier"], v["later"]) for v in out.statistics["violations"]]
    assert pairs == [("GP", "GQ"), ("GQ", "GD")]
    assert out.flags["category_order"].tolist() == [True, True, True, False]


def test_equal_means_are_not_inverted() -> None:
    out = check_category_order(_working(["GD1(36:1;O2)", "GM1(36:1;O2)"], [10.0, 10.0]), STRUCTURAL)
    assert out.statistics["violations"] == []


def test_ga_is_last_in_structural_mode_and_ignored_in_reference() -> None:
    names = ["GD1(36:1;O2)", "GM1(36:1;O2)", "GA1(36:1;O2)"]
    rts = [9.0, 10.0, 9.5]  # GA should elute after GM
    structural = check_category_order(_working(names, rts), STRUCTURAL)
    pairs = [(v["earlier"], v["later"]) for v in structural.statistics["violations"]]
    assert pairs == [("GM", "GA")]
    assert structural.flags["category_order"].tolist() == [False, True, True]
    reference = check_category_order(_working(names, rts), REFERENCE)
    assert reference.statistics["violations"] == []
    assert "GA" not in reference.statistics["category_mean_rt"]
    assert not reference.flags["category_order"].any()


def test_fragment_rows_are_ignored() -> None:
    names = ["GD1(36:1;O2)", "GM1(36:1;O2)", "GM1(38:1;O2)"]
    rts = [10.0, 11.0, 5.0]
    all_rows = check_category_order(_working(names, rts), STRUCTURAL)
    assert all_rows.statistics["violations"] != []
    out = check_category_order(_working(names, rts, ["valid", "valid", "fragment"]), STRUCTURAL)
    assert out.statistics["violations"] == []
    assert out.statistics["category_mean_rt"] == {"GD": 10.0, "GM": 11.0}


def test_permutation_and_empty() -> None:
    table = _sample()
    perm = np.random.default_rng(2).permutation(len(table))
    a = check_category_order(table, STRUCTURAL)
    b = check_category_order(table.iloc[perm].reset_index(drop=True), STRUCTURAL)
    means = b.statistics["category_mean_rt"]
    assert a.statistics["category_mean_rt"] == pytest.approx(means, abs=1e-12)
    empty = check_category_order(table.iloc[:0].reset_index(drop=True), STRUCTURAL)
    assert empty.statistics["category_mean_rt"] == {} and empty.statistics["violations"] == []
