"""Rule 9: cross-category RT order within a ceramide, and model slope consistency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tests.conftest as _conftest
from ganglioside_nb.core.names import CATEGORY_ORDER
from ganglioside_nb.core.rules.check_cross_prefix import check_cross_prefix, outlying_slopes
from ganglioside_nb.params import AnalysisParams
from tests.core.rules.conftest import names_table as _working
from tests.core.rules.conftest import sample_names_table as _sample

SAMPLE = str(_conftest.SAMPLE)
STRUCTURAL = AnalysisParams()
REFERENCE = AnalysisParams(mode="reference")






def _naive(table: pd.DataFrame, tol: float, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise reference: comparisons and contradictions per row."""
    order = [c for c in CATEGORY_ORDER if mode != "reference" or c != "GA"]
    rank = table["category"].map({c: i for i, c in enumerate(order)})
    active = rank.notna().to_numpy()
    if "status" in table:
        active = active & (table["status"] != "fragment").to_numpy()
    rt, cer = table["RT"].to_numpy(), table["ceramide"].to_numpy()
    rank = rank.fillna(-1).to_numpy()
    comparisons = np.zeros(len(table), dtype=int)
    contradictions = np.zeros(len(table), dtype=int)
    for i in np.flatnonzero(active):
        for j in np.flatnonzero(active):
            if cer[j] != cer[i] or rank[j] == rank[i]:
                continue
            comparisons[i] += 1
            if rank[j] < rank[i] and rt[j] - rt[i] > tol + 1e-9:
                contradictions[i] += 1
            if rank[j] > rank[i] and rt[i] - rt[j] > tol + 1e-9:
                contradictions[i] += 1
    return comparisons, contradictions


def test_contradicting_row_is_flagged() -> None:
    # In 36:1;O2 the GD row elutes after three GM rows (GD should be earlier).
    names = ["GM1(36:1;O2)", "GM1(36:1;O2)", "GM3(36:1;O2)", "GD1(36:1;O2)", "GT1(36:1;O2)"]
    out = check_cross_prefix(_working(names, [10.0, 10.1, 10.2, 10.8, 9.0]), STRUCTURAL)
    assert out.columns["cross_comparisons"].tolist() == [2, 2, 2, 4, 4]
    assert out.columns["cross_contradictions"].tolist() == [1, 1, 1, 3, 0]
    assert out.flags["cross_category_order"].tolist() == [False, False, False, True, False]
    assert out.statistics["rows_flagged"] == 1
    assert out.warnings and "Rule 9" in out.warnings[0]


def test_pairs_within_tolerance_are_consistent_and_ties_are_exact() -> None:
    names = ["GM1(36:1;O2)", "GM1(36:1;O2)", "GD1(36:1;O2)"]
    # GD 0.1 min after both GM rows: not "more than" the tolerance despite binary rounding.
    out = check_cross_prefix(_working(names, [10.0, 10.0, 10.1]), STRUCTURAL)
    assert out.columns["cross_contradictions"].tolist() == [0, 0, 0]
    out = check_cross_prefix(_working(names, [10.0, 10.0, 10.11]), STRUCTURAL)
    assert out.columns["cross_contradictions"].tolist() == [1, 1, 2]
    assert out.flags["cross_category_order"].tolist() == [False, False, True]
    wide = check_cross_prefix(_working(names, [10.0, 10.0, 10.11]),
                              STRUCTURAL.replace(rt_tolerance=0.2))
    assert not wide.flags["cross_category_order"].any()


def test_one_comparison_is_not_enough_and_other_ceramides_do_not_count() -> None:
    names = ["GM1(36:1;O2)", "GD1(36:1;O2)", "GM1(38:1;O2)", "GM3(38:1;O2)"]
    out = check_cross_prefix(_working(names, [9.0, 11.0, 5.0, 5.5]), STRUCTURAL)
    assert out.columns["cross_comparisons"].tolist() == [1, 1, 0, 0]  # same category: no compare
    assert not out.flags["cross_category_order"].any()


def test_matches_pairwise_reference_on_random_tables() -> None:
    rng = np.random.default_rng(8)
    prefixes = ["GM3", "GM1", "GD1", "GD3", "GT1", "GQ1", "GP1", "GA1", "GM1+dHex"]
    names = [f"{rng.choice(prefixes)}({rng.choice([34, 36, 38])}:1;O2)" for _ in range(400)]
    rts = np.round(rng.uniform(8, 11, 400), 2).tolist()  # 0.01 grid: ties and exact 0.1 gaps
    status = rng.choice(["valid", "outlier", "fragment"], 400, p=[0.6, 0.3, 0.1]).tolist()
    table = _working(names, rts, status)
    for params in (STRUCTURAL, REFERENCE, STRUCTURAL.replace(rt_tolerance=0.37)):
        out = check_cross_prefix(table, params)
        comparisons, contradictions = _naive(table, params.rt_tolerance, params.mode)
        np.testing.assert_array_equal(out.columns["cross_comparisons"], comparisons)
        np.testing.assert_array_equal(out.columns["cross_contradictions"], contradictions)
        expected = (comparisons >= 2) & (contradictions > comparisons - contradictions)
        np.testing.assert_array_equal(out.flags["cross_category_order"], expected)
        assert expected.any() and not expected.all()


def test_fragments_and_reference_ga_are_ignored() -> None:
    names = ["GM1(36:1;O2)", "GM1(36:1;O2)", "GD1(36:1;O2)", "GA1(36:1;O2)"]
    rts = [10.0, 10.0, 11.0, 9.0]
    structural = check_cross_prefix(_working(names, rts), STRUCTURAL)
    assert structural.columns["cross_comparisons"].tolist() == [2, 2, 3, 3]
    reference = check_cross_prefix(_working(names, rts), REFERENCE)
    assert reference.columns["cross_comparisons"].tolist() == [1, 1, 2, 0]
    frag = check_cross_prefix(_working(names, rts, ["valid", "fragment", "valid", "valid"]),
                              STRUCTURAL)
    assert frag.columns["cross_comparisons"].tolist() == [2, 0, 2, 2]
    assert not frag.flags["cross_category_order"][1]


def test_sample_statistics() -> None:
    table = _sample()
    out = check_cross_prefix(table, STRUCTURAL)
    comparisons, contradictions = _naive(table, 0.1, "structural")
    np.testing.assert_array_equal(out.columns["cross_comparisons"], comparisons)
    np.testing.assert_array_equal(out.columns["cross_contradictions"], contradictions)
    s = out.statistics
    assert s["comparisons"] == comparisons.sum() and s["contradictions"] == contradictions.sum()
    assert s["rows_flagged"] == out.flags["cross_category_order"].sum()
    assert s["model_check"] == {"checked": False, "model_slopes": {}, "outlying_models": []}


def test_permutation_invariance() -> None:
    table = _sample()
    perm = np.random.default_rng(9).permutation(len(table))
    a = check_cross_prefix(table, STRUCTURAL)
    b = check_cross_prefix(table.iloc[perm].reset_index(drop=True), STRUCTURAL)
    np.testing.assert_array_equal(a.columns["cross_contradictions"][perm],
                                  b.columns["cross_contradictions"])
    np.testing.assert_array_equal(a.flags["cross_category_order"][perm],
                                  b.flags["cross_category_order"])


def test_outlying_model_slope_warns() -> None:
    names = [f"G{c}1(36:1;O2)" for c in "MDTQP"] + ["GM3(36:1;O2)", "GM2(36:1;O2)"]
    table = _working(names, [11.0, 10.5, 10.0, 9.5, 9.0, 11.5, 11.2])
    table["model"] = ["GM1", "GD1", "GT1", "GQ1", "GP1", "GM3_trusted", ""]
    table["logp_slope"] = [1.30, 1.35, 1.42, 1.28, 3.0, np.nan, 7.0]
    out = check_cross_prefix(table, REFERENCE)
    check = out.statistics["model_check"]
    assert check["checked"] is True
    assert check["model_slopes"] == {"GD1": 1.35, "GM1": 1.30, "GP1": 3.0, "GQ1": 1.28, "GT1": 1.42}
    assert check["outlying_models"] == ["GP1"]
    assert any("GP1" in w and "3.0000" in w for w in out.warnings)
    # Differences far below 0.01 min per unit Log P are immaterial, however small the SD.
    table["model"] = ["A", "B", "C", "D", "E", "", ""]
    tiny = table.assign(logp_slope=[1.3612568, 1.3612568, 1.3612568, 1.3612568, 1.3612570,
                                    np.nan, np.nan])
    assert check_cross_prefix(tiny, STRUCTURAL).statistics["model_check"]["outlying_models"] == []
    # Two models are too few to judge.
    table["model"] = ["GM1", "GM1", "GT1", "GT1", "GT1", "", ""]
    out = check_cross_prefix(table.assign(logp_slope=[1.3, 1.3, 9.0, 9.0, 9.0, np.nan, np.nan]),
                             REFERENCE)
    assert out.statistics["model_check"]["checked"] is False
    assert out.statistics["model_check"]["outlying_models"] == []


def test_leave_one_out_slope_statistics() -> None:
    x = np.array([1.0, 1.2, 0.9, 1.1, 2.5])
    mean, sd, outlier = outlying_slopes(x)
    for i in range(len(x)):
        others = np.delete(x, i)
        assert mean[i] == pytest.approx(others.mean(), abs=1e-12)
        assert sd[i] == pytest.approx(others.std(ddof=1), abs=1e-12)
    assert outlier.tolist() == [False, False, False, False, True]
    assert outlying_slopes(np.array([1.0, 1.0, 1.0]))[2].tolist() == [False, False, False]
    assert outlying_slopes(np.array([1.0, 1.0, 1.5]))[2].tolist() == [False, False, True]
    assert outlying_slopes(np.array([1.0, 5.0]))[2].tolist() == [False, False]
    assert outlying_slopes(np.array([1.0, 1.0, 1.005]), min_gap=0.01)[2].tolist() == [False] * 3
