"""Rule 8: RT direction and size of each non-OAc modification."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import tests.conftest as _conftest
from ganglioside_nb.core.rules.check_modifications import (
    CHECKED_MODIFICATIONS,
    EXPECTED_DIRECTION,
    SHIFT_RANGES,
    check_modifications,
)
from ganglioside_nb.params import AnalysisParams
from tests.core.rules.conftest import names_table as _working
from tests.core.rules.conftest import sample_names_table as _sample

SAMPLE = str(_conftest.SAMPLE)
PARAMS = AnalysisParams()
_COUNTS = ["n_OAc", "n_dHex", "n_Hex", "n_HexNAc", "n_NeuAc", "n_NeuGc"]






Result = dict[tuple[int, str], tuple[int, float, bool, bool]]


def _naive(table: pd.DataFrame, tol: float) -> Result:
    """Pairwise reference: (row, X) -> (n peaks, nearest shift, violation, unusual)."""
    active = np.ones(len(table), dtype=bool)
    if "status" in table:
        active = (table["status"] != "fragment").to_numpy()
    records = table.to_dict("records")
    out = {}
    for i, rec in enumerate(records):
        if not active[i]:
            continue
        for mod in CHECKED_MODIFICATIONS:
            if int(rec[f"n_{mod}"]) < 1:
                continue
            want = {c: int(rec[c]) - (c == f"n_{mod}") for c in _COUNTS}
            peaks = [o["RT"] for j, o in enumerate(records) if active[j]
                     and o["ceramide"] == rec["ceramide"] and o["base_class"] == rec["base_class"]
                     and all(int(o[c]) == want[c] for c in _COUNTS)]
            if not peaks:
                out[(rec["row"], mod)] = (0, np.nan, False, False)
                continue
            shifts = [rec["RT"] - p for p in sorted(peaks)]
            nearest = min(shifts, key=abs)  # first of equals = the earlier peak (larger shift)
            if EXPECTED_DIRECTION[mod] > 0:
                violation = all(s < -(tol + 1e-9) for s in shifts)
            else:
                violation = all(s > tol + 1e-9 for s in shifts)
            lo, hi = SHIFT_RANGES[mod]
            out[(rec["row"], mod)] = (len(peaks), nearest, violation,
                                      nearest < lo - 1e-9 or nearest > hi + 1e-9)
    return out


def _as_dict(table: pd.DataFrame) -> Result:
    shifts = check_modifications(table, PARAMS).tables["modification_shifts"]
    return {(r.row, r.modification): (r.n_comparisons, r.nearest_shift, r.direction_violation,
                                      r.unusual_shift) for r in shifts.itertuples()}


def _assert_same(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for key, (n, nearest, violation, unusual) in expected.items():
        g = got[key]
        assert g[0] == n, key
        both_nan = np.isnan(g[1]) and np.isnan(nearest)
        assert both_nan or g[1] == pytest.approx(nearest, abs=1e-12), key
        assert (bool(g[2]), bool(g[3])) == (violation, unusual), key


def test_sample_counts() -> None:
    table = _sample()
    out = check_modifications(table, PARAMS)
    per = out.statistics["per_modification"]
    assert per["HexNAc"] == {"rows_with": 19, "checked": 18, "no_comparison": 1,
                             "direction_violations": 1, "unusual_shifts": 6}
    assert per["dHex"] == {"rows_with": 18, "checked": 17, "no_comparison": 1,
                           "direction_violations": 0, "unusual_shifts": 15}
    assert per["Hex"] == {"rows_with": 1, "checked": 0, "no_comparison": 1,
                          "direction_violations": 0, "unusual_shifts": 0}
    assert per["NeuAc"]["rows_with"] == per["NeuGc"]["rows_with"] == 0
    # The one HexNAc row later than its only base peak by more than 0.1 min.
    flagged = table.loc[out.flags["mod_direction_HexNAc"], ["row", "Name", "RT"]]
    assert flagged["row"].tolist() == [293]
    assert len(out.warnings) == 1 and "+HexNAc" in out.warnings[0]
    assert out.statistics["modification_frequencies"] == {
        "OAc": 77, "dHex": 18, "Hex": 1, "HexNAc": 19, "NeuAc": 0, "NeuGc": 0}
    assert out.statistics["stack_frequencies"] == {
        "+2OAc": 19, "+Hex+HexNAc+OAc": 1, "+HexNAc+OAc": 2, "+dHex+OAc": 3}
    _assert_same(_as_dict(table), _naive(table, PARAMS.rt_tolerance))


def test_matches_pairwise_reference_on_random_tables() -> None:
    rng = np.random.default_rng(21)
    bases = ["GM1", "GD1", "GT1", "GM3"]
    mods = ["", "+dHex", "+HexNAc", "+Hex", "+NeuAc", "+NeuGc", "+OAc", "+dHex+OAc", "+2dHex",
            "+Hex+HexNAc", "+HexNAc+NeuAc"]
    names = [f"{rng.choice(bases)}{rng.choice(mods)}({rng.choice([36, 38])}:1;O2)"
             for _ in range(300)]
    rts = np.round(rng.uniform(8.0, 10.0, 300), 2)  # coarse grid: many exact ties and 0.1 gaps
    status = rng.choice(["valid", "outlier", "fragment"], 300, p=[0.6, 0.3, 0.1]).tolist()
    table = _working(names, rts.tolist(), status)
    _assert_same(_as_dict(table), _naive(table, PARAMS.rt_tolerance))


def test_dhex_direction_needs_every_peak_contradicted() -> None:
    names = ["GM1(36:1;O2)", "GM1(36:1;O2)", "GM1+dHex(36:1;O2)", "GM1+dHex(36:1;O2)",
             "GM1+dHex(36:1;O2)"]
    # Base peaks (isomers) at 10.0 and 10.5. The first dHex peak is earlier than both by
    # > 0.1 (flag); the second lies between them (isomer; no flag); the third is later (fine).
    out = check_modifications(_working(names, [10.0, 10.5, 9.8, 10.25, 10.6]), PARAMS)
    assert out.flags["mod_direction_dHex"].tolist() == [False, False, True, False, False]
    shifts = out.tables["modification_shifts"].set_index("row")
    assert shifts.loc[2, "nearest_shift"] == pytest.approx(-0.2)
    assert shifts.loc[3, "nearest_shift"] == 0.25  # a tie (+0.25 / −0.25): the earlier peak
    assert shifts.loc[4, "nearest_shift"] == pytest.approx(0.1)
    assert out.flags["mod_shift_unusual_dHex"].tolist() == [False, False, True, False, False]


def test_tolerance_boundary_is_not_a_contradiction() -> None:
    # 10.1 − 10.0 is not exactly 0.1 in binary; a shift of the tolerance itself is tolerated.
    names = ["GD1(36:1;O2)", "GD1+HexNAc(36:1;O2)", "GD1(38:1;O2)", "GD1+HexNAc(38:1;O2)"]
    out = check_modifications(_working(names, [10.0, 10.1, 10.0, 10.11]), PARAMS)
    assert out.flags["mod_direction_HexNAc"].tolist() == [False, False, False, True]
    wider = check_modifications(_working(names, [10.0, 10.1, 10.0, 10.11]),
                                PARAMS.replace(rt_tolerance=0.2))
    assert not wider.flags["mod_direction_HexNAc"].any()


@pytest.mark.parametrize("mod", ["Hex", "HexNAc", "NeuAc", "NeuGc"])
def test_earlier_modifications(mod: str) -> None:
    names = ["GM3(36:1;O2)", f"GM3+{mod}(36:1;O2)", f"GM3+{mod}(36:1;O2)", f"GM3+{mod}(36:1;O2)"]
    out = check_modifications(_working(names, [10.0, 9.8, 10.3, 9.0]), PARAMS)
    assert out.flags[f"mod_direction_{mod}"].tolist() == [False, False, True, False]
    lo, hi = SHIFT_RANGES[mod]
    unusual = out.flags[f"mod_shift_unusual_{mod}"].tolist()
    assert unusual == [False, not (lo <= -0.2 <= hi), True, True]
    others = [m for m in CHECKED_MODIFICATIONS if m != mod]
    assert not any(out.flags[f"mod_direction_{m}"].any() for m in others)


def test_huge_counts_use_the_overflow_safe_coding() -> None:
    big = "+1000000Hex+1000000HexNAc+1000000dHex+1000NeuAc"
    names = [f"GM1{big}(36:1;O2)", f"GM1{big}+dHex(36:1;O2)",
             "GM1+1000000Hex+1000000HexNAc+1000001dHex+1000NeuAc(36:1;O2)", "GM1(36:1;O2)",
             "GM1+dHex(36:1;O2)"]
    table = _working(names, [10.0, 9.5, 9.7, 8.0, 8.3])
    _assert_same(_as_dict(table), _naive(table, PARAMS.rt_tolerance))
    out = check_modifications(table, PARAMS)
    assert out.flags["mod_direction_dHex"].tolist() == [False, True, True, False, False]


def test_comparison_requires_identical_other_counts_and_ceramide() -> None:
    names = ["GD1+OAc(36:1;O2)", "GD1(36:1;O2)", "GD1a(36:1;O2)", "GD1+HexNAc(38:1;O2)",
             "GD1+HexNAc+OAc(36:1;O2)", "GD1+2HexNAc(36:1;O2)"]
    out = check_modifications(_working(names, [9.0, 12.0, 12.0, 8.0, 10.0, 9.9]), PARAMS)
    shifts = out.tables["modification_shifts"].set_index("row")
    assert shifts.loc[3, "n_comparisons"] == 0  # 38:1;O2 has no GD1
    assert shifts.loc[4, "n_comparisons"] == 1  # GD1+OAc only (not GD1, not GD1a)
    assert shifts.loc[4, "nearest_shift"] == pytest.approx(1.0)
    assert shifts.loc[5, "n_comparisons"] == 0  # needs GD1+HexNAc(36:1;O2)
    assert out.flags["mod_direction_HexNAc"].tolist() == [False, False, False, False, True, False]


def test_fragments_are_neither_checked_nor_compared() -> None:
    names = ["GM1(36:1;O2)", "GM1(36:1;O2)", "GM1+dHex(36:1;O2)", "GM1+dHex(36:1;O2)"]
    rts = [9.5, 10.0, 9.7, 9.0]
    plain = check_modifications(_working(names, rts), PARAMS)
    assert plain.flags["mod_direction_dHex"].tolist() == [False, False, False, True]
    status = ["fragment", "valid", "valid", "fragment"]
    out = check_modifications(_working(names, rts, status), PARAMS)
    assert out.flags["mod_direction_dHex"].tolist() == [False, False, True, False]
    assert out.tables["modification_shifts"]["row"].tolist() == [2]


def test_permutation_invariance_and_empty() -> None:
    table = _sample()
    perm = np.random.default_rng(4).permutation(len(table))
    a = check_modifications(table, PARAMS)
    b = check_modifications(table.iloc[perm].reset_index(drop=True), PARAMS)
    pd.testing.assert_frame_equal(a.tables["modification_shifts"], b.tables["modification_shifts"])
    for flag, mask in a.flags.items():
        np.testing.assert_array_equal(mask[perm], b.flags[flag])
    empty = check_modifications(table.iloc[:0].reset_index(drop=True), PARAMS)
    assert len(empty.tables["modification_shifts"]) == 0
    assert set(empty.flags) == {f"mod_{kind}_{m}" for kind in ("direction", "shift_unusual")
                                for m in CHECKED_MODIFICATIONS}
