"""Rule 6: sugar count vs RT per ceramide (golden statistics, scipy agreement, violations)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

import tests.conftest as _conftest
from ganglioside_nb.core.rules.check_sugar_rt import check_sugar_rt, pearson_p_value
from ganglioside_nb.params import AnalysisParams
from tests.core.rules.conftest import names_table as _working
from tests.core.rules.conftest import sample_names_table as _sample

SAMPLE = str(_conftest.SAMPLE)
SUMMARY = str(_conftest.REFERENCE / "v2_testwork_user_summary.json")
REFERENCE = AnalysisParams(mode="reference")
STRUCTURAL = AnalysisParams()






def test_reference_statistics_equal_golden() -> None:
    with open(SUMMARY, encoding="utf-8") as fh:
        golden = json.load(fh)["rule6_rule7"]["sugar_rt_validation"]["statistics"]
    out = check_sugar_rt(_sample(), REFERENCE)
    s = out.statistics
    assert (s["total_groups"], s["checked"], s["violations"], s["insufficient"]) == (30, 21, 0, 9)
    assert (s["total_groups"], s["checked"], s["violations"], s["insufficient"]) == (
        golden["total_lipid_groups"], golden["valid_groups"], golden["violation_groups"],
        golden["insufficient_data_groups"])
    assert set(s["correlations"]) == set(golden["correlations"])
    for ceramide, g in golden["correlations"].items():
        got = s["correlations"][ceramide]
        assert got["n"] == g["n_compounds"], ceramide
        assert got["r"] == pytest.approx(g["correlation"], abs=1e-9), ceramide
        assert got["p"] == pytest.approx(g["p_value"], abs=1e-9), ceramide
    assert not out.flags["sugar_rt_violation"].any()
    assert out.warnings == ()
    assert list(s["correlations"]) == sorted(s["correlations"])


def test_structural_uses_full_sugar_count() -> None:
    table = _sample()
    out = check_sugar_rt(table, STRUCTURAL)
    assert out.statistics["sugar_count_column"] == "sugar_count"
    group = table[table["ceramide"] == "36:1;O2"]
    r, p = stats.pearsonr(group["sugar_count"].astype(float), group["RT"])
    assert out.statistics["correlations"]["36:1;O2"]["r"] == pytest.approx(r, abs=1e-12)
    assert out.statistics["correlations"]["36:1;O2"]["p"] == pytest.approx(p, rel=1e-9, abs=1e-15)
    ref_r = check_sugar_rt(table, REFERENCE).statistics["correlations"]["36:1;O2"]["r"]
    assert ref_r != pytest.approx(r, abs=1e-6)  # HexNAc/dHex rows count differently


def test_r_and_p_match_scipy_on_random_groups() -> None:
    rng = np.random.default_rng(11)
    names, rts = [], []
    for g in range(40):
        size = int(rng.integers(3, 30))
        prefixes = rng.choice(["GM3", "GM2", "GM1", "GD3", "GD1", "GT1", "GQ1", "GP1"], size)
        for prefix in prefixes:
            names.append(f"{prefix}({30 + g}:1;O2)")
            rts.append(float(np.round(rng.uniform(5, 12), 3)))
    table = _working(names, rts)
    out = check_sugar_rt(table, STRUCTURAL)
    for ceramide, got in out.statistics["correlations"].items():
        group = table[table["ceramide"] == ceramide]
        r, p = stats.pearsonr(group["sugar_count"].astype(float), group["RT"])
        assert got["r"] == pytest.approx(r, abs=1e-12)
        assert got["p"] == pytest.approx(p, rel=1e-9, abs=1e-15)
        assert got["n"] == len(group)
    assert out.statistics["checked"] == len(out.statistics["correlations"]) > 30


def test_p_value_edges() -> None:
    assert pearson_p_value(np.array([1.0, -1.0]), np.array([3, 10])).tolist() == [0.0, 0.0]
    assert pearson_p_value(np.array([0.0]), np.array([10]))[0] == pytest.approx(1.0)
    r, p = stats.pearsonr([1, 2, 3, 4], [1.0, 3.0, 2.0, 5.0])
    assert pearson_p_value(np.array([r]), np.array([4]))[0] == pytest.approx(p, rel=1e-12)


def test_positive_correlation_is_a_violation_of_the_whole_group() -> None:
    # Ceramide 36:1;O2: more sugars elute LATER (wrong); 38:1;O2: earlier (right).
    names = ["GM3(36:1;O2)", "GM2(36:1;O2)", "GM1(36:1;O2)", "GD1(36:1;O2)", "GT1(36:1;O2)",
             "GM3(38:1;O2)", "GM2(38:1;O2)", "GM1(38:1;O2)", "GD1(38:1;O2)"]
    rts = [8.0, 8.5, 9.0, 9.6, 10.1, 12.0, 11.5, 11.0, 10.4]
    out = check_sugar_rt(_working(names, rts), STRUCTURAL)
    assert out.flags["sugar_rt_violation"].tolist() == [True] * 5 + [False] * 4
    assert out.statistics["violations"] == 1
    assert len(out.warnings) == 1 and "36:1;O2" in out.warnings[0]
    assert out.statistics["correlations"]["36:1;O2"]["r"] > 0.99
    # A stricter r threshold turns it off.
    relaxed = check_sugar_rt(_working(names, rts), STRUCTURAL.replace(sugar_rt_min_r=1.0))
    assert not relaxed.flags["sugar_rt_violation"].any()


def test_insufficient_groups() -> None:
    names = ["GM3(34:1;O2)", "GM1(34:1;O2)",                        # 2 rows
             "GM3(35:1;O2)", "GM3(35:1;O2)", "GM3(35:1;O2)",        # one sugar count
             "GM3(36:1;O2)", "GM1(36:1;O2)", "GD1(36:1;O2)",        # constant RT
             "GM3(37:1;O2)", "GM1(37:1;O2)", "GD1(37:1;O2)"]        # checked
    rts = [8.0, 7.0, 8.0, 8.1, 8.2, 9.0, 9.0, 9.0, 10.0, 9.0, 8.5]  # sugars 3, 5, 6
    out = check_sugar_rt(_working(names, rts), STRUCTURAL)
    s = out.statistics
    assert (s["total_groups"], s["checked"], s["insufficient"]) == (4, 1, 3)
    assert list(s["correlations"]) == ["37:1;O2"]
    assert s["correlations"]["37:1;O2"]["r"] == pytest.approx(-1.0)


def test_fragment_rows_are_ignored() -> None:
    names = ["GM3(36:1;O2)", "GM1(36:1;O2)", "GD1(36:1;O2)", "GT1(36:1;O2)", "GQ1(36:1;O2)"]
    rts = [10.0, 9.0, 8.5, 12.0, 13.0]  # sugars 3, 5, 6, 7, 8
    without = check_sugar_rt(_working(names, rts, ["valid", "valid", "valid", "fragment",
                                                   "fragment"]), STRUCTURAL)
    with_all = check_sugar_rt(_working(names, rts, ["valid"] * 5), STRUCTURAL)
    assert without.statistics["correlations"]["36:1;O2"]["n"] == 3
    assert without.statistics["correlations"]["36:1;O2"]["r"] == pytest.approx(-1.0)
    assert with_all.statistics["correlations"]["36:1;O2"]["n"] == 5
    assert not without.flags["sugar_rt_violation"].any()


def test_permutation_invariance() -> None:
    table = _sample()
    perm = np.random.default_rng(5).permutation(len(table))
    a = check_sugar_rt(table, REFERENCE)
    b = check_sugar_rt(table.iloc[perm].reset_index(drop=True), REFERENCE)
    for ceramide, got in a.statistics["correlations"].items():
        assert b.statistics["correlations"][ceramide]["r"] == pytest.approx(got["r"], abs=1e-12)
    np.testing.assert_array_equal(a.flags["sugar_rt_violation"][perm],
                                  b.flags["sugar_rt_violation"])


def test_empty_table() -> None:
    out = check_sugar_rt(_sample().iloc[:0].reset_index(drop=True), STRUCTURAL)
    assert out.statistics["total_groups"] == 0 and out.flags["sugar_rt_violation"].shape == (0,)
