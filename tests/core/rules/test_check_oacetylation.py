"""Rule 4 (O-acetylation): golden reproduction on the sample, pairing, verdicts and scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganglioside_nb.core.rules.check_oacetylation import check_oacetylation
from ganglioside_nb.params import AnalysisParams

from .conftest import shuffled, synthetic_table

REFERENCE = AnalysisParams(mode="reference")
STRUCTURAL = AnalysisParams()


def _status(outcome, table: pd.DataFrame) -> dict[int, str]:
    return dict(zip(table["row"].tolist(), list(outcome.columns["rule4_status"]), strict=True))


# --------------------------------------------------------------------------------------------
# golden data (ALGORITHM.md §6.2, §8)
# --------------------------------------------------------------------------------------------
def test_golden_counts_single_oac(sample_table: pd.DataFrame) -> None:
    out = check_oacetylation(sample_table, REFERENCE)
    single = out.statistics["by_acetyl_count"]["1"]
    assert single["pairs_with_increase"] == 70
    assert single["pairs_without_increase"] == 24
    assert single["rows_per_status"] == {"valid": 32, "mixed": 14, "invalid": 3, "no_base": 9}
    # The pair table agrees with the counts (70 + 24 full pairs of single-OAc rows).
    pairs = out.tables["oac_pairs"]
    n_oac = dict(zip(sample_table["row"], sample_table["n_OAc"], strict=True))
    full_single = pairs[(pairs["kind"] == "full") & (pairs["oac_row"].map(n_oac) == 1)]
    assert len(full_single) == 94
    assert int(full_single["increase"].sum()) == 70


def test_golden_per_row_status(sample_table: pd.DataFrame, golden_compounds: pd.DataFrame) -> None:
    out = check_oacetylation(sample_table, REFERENCE)
    ours = np.asarray(out.columns["rule4_status"], dtype=object)
    golden = golden_compounds["rule4_status"].to_numpy(dtype=object)  # same spellings
    assert set(golden) - {""} == {"valid", "mixed", "invalid", "no_base"}
    single = sample_table["n_OAc"].to_numpy() == 1
    assert single.sum() == 58
    mismatch = np.flatnonzero(single & (ours != golden))
    assert mismatch.size == 0, golden_compounds.loc[mismatch, ["Name", "rule4_status"]]
    # Rows without OAc get ''; +2OAc rows (never matched by the original) are checked too.
    assert (ours[sample_table["n_OAc"].to_numpy() == 0] == "").all()
    assert (ours[sample_table["n_OAc"].to_numpy() == 2] != "").all()
    assert (golden[~single] == "").all()


def test_golden_shifts_against_each_base(sample_table: pd.DataFrame,
                                         golden_compounds: pd.DataFrame) -> None:
    """Per single-OAc row, the full-pair RT shifts equal the original's list (as multisets)."""
    pairs = check_oacetylation(sample_table, REFERENCE).tables["oac_pairs"]
    full = pairs[pairs["kind"] == "full"]
    ours = full.groupby("oac_row", sort=True)["rt_shift"].agg(
        lambda s: sorted(round(v, 3) for v in s))
    checked = 0
    for row, text in zip(golden_compounds["input_row"].astype(int),
                         golden_compounds["rule4_rt_shift_vs_each_base"], strict=True):
        if text == "":
            continue
        golden = sorted(round(float(v), 3) for v in text.split(";"))
        assert ours[row] == golden, row
        checked += 1
    assert checked == 49  # the 58 single-OAc rows minus the 9 without a base


def test_modes_agree(sample_table: pd.DataFrame) -> None:
    a = check_oacetylation(sample_table, REFERENCE)
    b = check_oacetylation(sample_table, STRUCTURAL)
    assert list(a.columns["rule4_status"]) == list(b.columns["rule4_status"])
    pd.testing.assert_frame_equal(a.tables["oac_pairs"], b.tables["oac_pairs"])


def test_flags_follow_status(sample_table: pd.DataFrame) -> None:
    out = check_oacetylation(sample_table, REFERENCE)
    status = np.asarray(out.columns["rule4_status"], dtype=object)
    assert (out.flags["oac_no_base"] == (status == "no_base")).all()
    assert (out.flags["oac_rt_ambiguous"] == (status == "mixed")).all()
    assert (out.flags["oac_no_rt_increase"] == (status == "invalid")).all()
    shift = np.asarray(out.columns["oac_shift"], dtype=float)
    assert np.isfinite(shift[np.isin(status, ["valid", "mixed"])]).all()
    assert np.isnan(shift[np.isin(status, ["invalid", "no_base", ""])]).all()
    # On the sample every nearest earlier shift lies in the default note range (0.01, 3.0).
    assert out.flags["oac_shift_unusual"].sum() == 0
    assert out.statistics["pairs_with_increase"] == 93  # single + double acetyls


def test_outcome_applies(sample_table: pd.DataFrame) -> None:
    applied = check_oacetylation(sample_table, REFERENCE).apply(sample_table)
    assert {"rule4_status", "oac_shift", "flag__oac_no_base", "flag__oac_rt_ambiguous",
            "flag__oac_no_rt_increase", "flag__oac_shift_unusual"} <= set(applied.columns)
    assert len(applied) == len(sample_table)


# --------------------------------------------------------------------------------------------
# pairing rules on synthetic tables
# --------------------------------------------------------------------------------------------
def test_verdicts_and_shift_notes() -> None:
    table = synthetic_table([
        {"Name": "GD1(36:1;O2)", "RT": 9.0},
        {"Name": "GD1(36:1;O2)", "RT": 9.5},
        {"Name": "GD1+OAc(36:1;O2)", "RT": 9.7},     # after both -> valid, shift 0.2
        {"Name": "GD1+OAc(36:1;O2)", "RT": 9.2},     # between -> mixed
        {"Name": "GD1+OAc(36:1;O2)", "RT": 8.5},     # before both -> invalid
        {"Name": "GD1+OAc(36:1;O2)", "RT": 9.0},     # an equal RT is not earlier -> invalid
        {"Name": "GD1+OAc(38:1;O2)", "RT": 11.0},    # other ceramide, no base
        {"Name": "GM1(36:1;O2)", "RT": 10.0},
        {"Name": "GM1+OAc(36:1;O2)", "RT": 10.004},  # shift below 0.01 -> note
        {"Name": "GM3(36:1;O2)", "RT": 6.0},
        {"Name": "GM3+OAc(36:1;O2)", "RT": 9.5},     # shift above 3.0 -> note
    ])
    out = check_oacetylation(table, STRUCTURAL)
    status = list(out.columns["rule4_status"])
    assert status == ["", "", "valid", "mixed", "invalid", "invalid", "no_base", "", "valid", "",
                      "valid"]
    shift = np.asarray(out.columns["oac_shift"])
    assert shift[2] == pytest.approx(0.2) and shift[3] == pytest.approx(0.2)
    assert np.flatnonzero(out.flags["oac_shift_unusual"]).tolist() == [8, 10]
    assert out.statistics["rows_per_status"] == {"valid": 3, "mixed": 1, "invalid": 2,
                                                 "no_base": 1}
    assert "2 O-acetylated row(s) do not elute after" in out.warnings[0]
    narrow = check_oacetylation(table, STRUCTURAL.replace(oac_shift_note_range=(0.0, 10.0)))
    assert not narrow.flags["oac_shift_unusual"].any()


def test_other_modifications_must_match() -> None:
    table = synthetic_table([
        {"Name": "GD1(36:1;O2)", "RT": 9.0},
        {"Name": "GD1+dHex(36:1;O2)", "RT": 9.3},
        {"Name": "GD1+Hex(36:1;O2)", "RT": 8.8},
        {"Name": "GD1+HexNAc(36:1;O2)", "RT": 8.6},
        {"Name": "GD1a(36:1;O2)", "RT": 8.0},
        {"Name": "GD1+dHex+OAc(36:1;O2)", "RT": 9.4},   # base GD1+dHex only
        {"Name": "GD1+HexNAc+OAc(36:1;O2)", "RT": 8.7},  # base GD1+HexNAc, never GD1+Hex
        {"Name": "GD1a+OAc(36:1;O2)", "RT": 8.2},        # base GD1a (isomer is part of base_class)
    ])
    pairs = check_oacetylation(table, STRUCTURAL).tables["oac_pairs"]
    assert pairs[["oac_row", "base_row", "kind"]].values.tolist() == [
        [5, 1, "full"], [6, 3, "full"], [7, 4, "full"]]


def test_double_acetyl_full_and_step_pairs() -> None:
    table = synthetic_table([
        {"Name": "GD1(36:1;O2)", "RT": 9.0},
        {"Name": "GD1(36:1;O2)", "RT": 9.4},
        {"Name": "GD1+OAc(36:1;O2)", "RT": 9.6},
        {"Name": "GD1+2OAc(36:1;O2)", "RT": 9.5},
        {"Name": "GD1+OAc+OAc(36:1;O2)", "RT": 9.9},  # the same species written differently
    ])
    out = check_oacetylation(table, STRUCTURAL)
    pairs = out.tables["oac_pairs"]
    assert pairs[["oac_row", "base_row", "kind", "increase"]].values.tolist() == [
        [2, 0, "full", True], [2, 1, "full", True],
        [3, 0, "full", True], [3, 1, "full", True], [3, 2, "step", False],
        [4, 0, "full", True], [4, 1, "full", True], [4, 2, "step", True]]
    # The verdict uses full pairs only: row 3 is valid although it elutes before GD1+OAc.
    assert list(out.columns["rule4_status"]) == ["", "", "valid", "valid", "valid"]
    assert out.statistics["n_step_pairs"] == 2
    assert out.statistics["step_pairs_with_increase"] == 1
    assert out.statistics["by_acetyl_count"]["2"]["n_full_pairs"] == 4
    assert pairs["rt_shift"].tolist() == pytest.approx([0.6, 0.2, 0.5, 0.1, -0.1, 0.9, 0.5, 0.3])


def test_fragments_take_no_part() -> None:
    table = synthetic_table([
        {"Name": "GD1(36:1;O2)", "RT": 9.0, "status": "fragment"},
        {"Name": "GD1(36:1;O2)", "RT": 9.8},
        {"Name": "GD1+OAc(36:1;O2)", "RT": 9.5},
        {"Name": "GD1+OAc(36:1;O2)", "RT": 9.9, "status": "fragment"},
    ])
    out = check_oacetylation(table, STRUCTURAL)
    assert list(out.columns["rule4_status"]) == ["", "", "invalid", ""]
    assert out.tables["oac_pairs"][["oac_row", "base_row"]].values.tolist() == [[2, 1]]
    # Without a status column every row takes part.
    plain = check_oacetylation(table.drop(columns=["status"]), STRUCTURAL)
    assert list(plain.columns["rule4_status"]) == ["", "", "mixed", "valid"]


def test_empty_and_oac_free_tables(sample_table: pd.DataFrame) -> None:
    for table in (sample_table.iloc[:0], sample_table[sample_table["n_OAc"] == 0]):
        table = table.reset_index(drop=True)
        out = check_oacetylation(table, STRUCTURAL)
        assert len(out.columns["rule4_status"]) == len(table)
        assert (np.asarray(out.columns["rule4_status"], dtype=object) == "").all()
        assert list(out.tables["oac_pairs"].columns) == ["oac_row", "base_row", "kind",
                                                         "rt_shift", "increase"]
        assert len(out.tables["oac_pairs"]) == 0
        assert out.statistics["rows_per_status"] == dict.fromkeys(
            ("valid", "mixed", "invalid", "no_base"), 0)


def test_order_independent(sample_table: pd.DataFrame) -> None:
    a = check_oacetylation(sample_table, REFERENCE)
    mixed = shuffled(sample_table)
    b = check_oacetylation(mixed, REFERENCE)
    assert _status(a, sample_table) == _status(b, mixed)
    shift_a = dict(zip(sample_table["row"], a.columns["oac_shift"], strict=True))
    shift_b = dict(zip(mixed["row"], b.columns["oac_shift"], strict=True))
    assert all(shift_a[r] == shift_b[r] or (np.isnan(shift_a[r]) and np.isnan(shift_b[r]))
               for r in shift_a)
    pd.testing.assert_frame_equal(a.tables["oac_pairs"], b.tables["oac_pairs"])
    assert a.statistics == b.statistics


# --------------------------------------------------------------------------------------------
# scale: the many-to-many join is never materialised beyond max_pairs
# --------------------------------------------------------------------------------------------
def test_pair_table_capped_with_exact_verdicts() -> None:
    k_base, k_oac = 1500, 4
    records = ([{"Name": "GD1(36:1;O2)", "RT": 8.0 + 0.001 * i} for i in range(k_base)]
               + [{"Name": "GD1+OAc(36:1;O2)", "RT": rt} for rt in (7.0, 8.5, 9.6, 9.0)])
    table = synthetic_table(records)
    out = check_oacetylation(table, STRUCTURAL.replace(max_pairs=1000))
    pairs = out.tables["oac_pairs"]
    assert len(pairs) == 1000
    assert out.statistics["pair_table_truncated"] is True
    assert out.statistics["n_pairs_total"] == k_base * k_oac
    assert any("at most max_pairs = 1,000" in w for w in out.warnings)
    # The first OAc row's 1000 pairs come first, its bases by RT.
    assert (pairs["oac_row"] == k_base).all()
    assert pairs["base_row"].tolist() == list(range(1000))
    # Exact counts despite the cap: earlier bases are 0, 500, 1500, 1000.
    assert list(out.columns["rule4_status"])[k_base:] == ["invalid", "mixed", "valid", "mixed"]
    assert out.statistics["pairs_with_increase"] == 0 + 500 + 1500 + 1000
    assert out.statistics["pairs_without_increase"] == 4 * k_base - 3000
    shift = np.asarray(out.columns["oac_shift"])[k_base:]
    assert shift[1:] == pytest.approx([8.5 - 8.499, 9.6 - 9.499, 9.0 - 8.999])


def test_repeated_names_do_not_grow_quadratically() -> None:
    """20,000 OAc peaks x 20,000 base peaks of one species (4e8 pairs) stay cheap."""
    k = 20_000
    rng = np.random.default_rng(3)
    records = ([{"Name": "GT1(36:1;O2)", "RT": float(x)} for x in rng.uniform(8, 10, k)]
               + [{"Name": "GT1+OAc(36:1;O2)", "RT": float(x)} for x in rng.uniform(8, 10, k)])
    table = synthetic_table(records)
    out = check_oacetylation(table, STRUCTURAL.replace(max_pairs=1000))
    assert out.statistics["n_pairs_total"] == k * k
    assert len(out.tables["oac_pairs"]) == 1000
    base_rt = np.sort(table["RT"].to_numpy()[:k])
    earlier = np.searchsorted(base_rt, table["RT"].to_numpy()[k:], side="left")
    assert out.statistics["pairs_with_increase"] == int(earlier.sum())
    expected = np.where(earlier == 0, "invalid", np.where(earlier == k, "valid", "mixed"))
    assert (np.asarray(out.columns["rule4_status"][k:], dtype=object) == expected).all()
