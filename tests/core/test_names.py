"""The name grammar (ALGORITHM.md §3): tables of real and messy names, properties, the sample."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from ganglioside_nb.core.names import (
    NAME_COLUMNS,
    factorize_by_name,
    format_name,
    is_valid_name,
    parse_name,
    parse_names,
)
from ganglioside_nb.errors import NameParseError
from ganglioside_nb.testing.strategies import bad_names, names

SAMPLE = Path(__file__).resolve().parents[2] / "ganglioside_nb" / "datasets" / "testwork_user.csv"


def _fields(name: str) -> dict[str, object]:
    table, failures = parse_names([name])
    assert failures == []
    return table.iloc[0].to_dict()


# -- the example row of the §3 table, field by field ----------------------------------------------
EXAMPLE = "GD1a+dHex+2OAc(36:1;O2)"
EXAMPLE_FIELDS = {
    "core_class": "GD1", "isomer": "a", "base_class": "GD1a", "prefix": "GD1a+dHex+2OAc",
    "category": "GD", "sialic_acids": 2, "neutral_sugars": 4, "sugar_count": 7,
    "n_OAc": 2, "n_dHex": 1, "n_Hex": 0, "n_HexNAc": 0, "n_NeuAc": 0, "n_NeuGc": 0,
    "a": 36, "b": 1, "oxygen": 2, "ceramide": "36:1;O2",
}


@pytest.mark.parametrize("field", sorted(EXAMPLE_FIELDS))
def test_algorithm_table_example(field: str) -> None:
    assert _fields(EXAMPLE)[field] == EXAMPLE_FIELDS[field]


def test_example_object_and_written_prefix() -> None:
    parsed = parse_name(EXAMPLE)
    assert parsed.core_sugar_count == 6  # the original's count: sialic code 2 + 4 neutral
    assert _fields(EXAMPLE)["written_prefix"] == "GD1a+dHex+2OAc"
    assert format_name(parsed) == EXAMPLE
    assert format_name(parsed, "lipidmaps") == "GD1a+dHex+2OAc 36:1;O2"


# -- real and messy names -> fields -------------------------------------------------------------
CASES = [
    # name, {field: expected}
    ("GD1(34:1;O2)", dict(prefix="GD1", base_class="GD1", isomer="", category="GD",
                          sialic_acids=2, sugar_count=6, a=34, b=1, oxygen=2)),
    ("GM3 36:1;O2", dict(prefix="GM3", sialic_acids=1, neutral_sugars=2, sugar_count=3,
                         ceramide="36:1;O2", written_prefix="GM3")),
    ("  GM3(36:1;O2)\t", dict(prefix="GM3", written_prefix="GM3", ceramide="36:1;O2")),
    ("GM3(d18:1/18:0)", dict(a=36, b=1, oxygen=2, ceramide="36:1;O2", chains="d18:1/18:0")),
    ("GM3(d18:1_18:0)", dict(a=36, b=1, oxygen=2, chains="d18:1/18:0")),
    ("GM3 d18:1/18:0", dict(a=36, b=1, oxygen=2, ceramide="36:1;O2")),
    ("GM1(t18:0/24:0)", dict(a=42, b=0, oxygen=3, ceramide="42:0;O3")),
    ("GM1(m18:1/18:0;O)", dict(a=36, b=1, oxygen=2)),
    ("GM1(18:1;O2/18:0)", dict(a=36, b=1, oxygen=2, ceramide="36:1;O2")),
    ("GM1(18:1/18:0)", dict(a=36, b=1, ceramide="36:1")),
    ("GM3(36:1)", dict(a=36, b=1, ceramide="36:1")),
    ("GM3(36:0;O3)", dict(oxygen=3, ceramide="36:0;O3")),
    ("GM3(36:1;O)", dict(oxygen=1, ceramide="36:1;O")),
    ("GD1+HexNAc(36:1;O2)", dict(n_HexNAc=1, n_Hex=0, sugar_count=7, prefix="GD1+HexNAc")),
    ("GD1+Hex+HexNAc(36:1;O2)", dict(n_HexNAc=1, n_Hex=1, sugar_count=8)),
    ("GD1+OAc+dHex(36:1;O2)", dict(prefix="GD1+dHex+OAc", written_prefix="GD1+OAc+dHex",
                                   n_OAc=1, n_dHex=1, sugar_count=7)),
    ("GD1+2OAc(36:1;O2)", dict(n_OAc=2, sugar_count=6, prefix="GD1+2OAc")),
    ("GM3+NeuAc(36:1;O2)", dict(sialic_acids=2, sugar_count=4, core_sugar_count=3, n_NeuAc=1)),
    ("GM1+NeuGc+Hex(36:1;O2)", dict(sialic_acids=2, n_NeuGc=1, n_Hex=1, sugar_count=7,
                                    prefix="GM1+NeuGc+Hex")),
    ("GQ1bα(36:1;O2)", dict(isomer="bα", base_class="GQ1bα", category="GQ", sialic_acids=4)),
    ("GD1α(36:1;O2)", dict(isomer="α", base_class="GD1α")),
    ("GT1b(36:1;O2)", dict(isomer="b", category="GT", sialic_acids=3, sugar_count=7)),
    ("GA1(36:1;O2)", dict(category="GA", sialic_acids=0, sugar_count=4)),
    ("GP1c(36:1;O2)", dict(category="GP", sialic_acids=5, isomer="c")),
    ("GM4(18:1;O2)", dict(neutral_sugars=1, sugar_count=2)),
    ("GD1+12OAc(036:01;O2)", dict(n_OAc=12, a=36, b=1, prefix="GD1+12OAc")),
]


@pytest.mark.parametrize(("name", "expected"), CASES, ids=[c[0].strip() for c in CASES])
def test_real_and_messy_names(name: str, expected: dict[str, object]) -> None:
    fields = _fields(name)
    got = {k: fields[k] for k in expected}
    assert got == expected


def test_oxygen_is_missing_without_an_oxygen_part() -> None:
    assert np.isnan(_fields("GM3(36:1)")["oxygen"])


@pytest.mark.parametrize(("a", "b"), [
    ("GD1+OAc+OAc(36:1;O2)", "GD1+2OAc(36:1;O2)"),
    ("GD1+1OAc(36:1;O2)", "GD1+OAc(36:1;O2)"),
    ("GD1+OAc+dHex(36:1;O2)", "GD1+dHex+OAc(36:1;O2)"),
    ("GD1+OAc+dHex+OAc(36:1;O2)", "GD1+dHex+2OAc(36:1;O2)"),
    ("GM3 36:1;O2", "GM3(36:1;O2)"),
    ("GM3(36:1;O1)", "GM3(36:1;O)"),
])
def test_equivalent_spellings(a: str, b: str) -> None:
    assert parse_name(a) == parse_name(b)


def test_hexnac_is_not_read_as_hex() -> None:
    parsed = parse_name("GM2+HexNAc(36:1;O2)")
    assert (parsed.count("HexNAc"), parsed.count("Hex")) == (1, 0)
    assert parse_name("GM2+Hex(36:1;O2)").count("HexNAc") == 0


def test_chain_notation_sums_carbons_bonds_and_oxygens() -> None:
    parsed = parse_name("GM3(d18:1/18:0)")
    assert (parsed.a, parsed.b, parsed.oxygen, parsed.chains) == (36, 1, 2, ("d18:1", "18:0"))
    assert format_name(parsed) == "GM3(d18:1/18:0)"
    t = parse_name("GM1(t18:0_24:1)")
    assert (t.a, t.b, t.oxygen) == (42, 1, 3)


@pytest.mark.parametrize(("name", "match"), [
    ("GD1+Ac(36:1;O2)", r"unknown modification 'Ac'"),
    ("GD1+oac(36:1;O2)", r"unknown modification 'oac'"),
    ("GD1+0OAc(36:1;O2)", r"unknown modification '0OAc'"),
    ("=SUM(A1:A3)", r"Name '=SUM\(A1:A3\)' must follow the ganglioside grammar"),
    ("+GD1(36:1;O2)", r"prefix '\+GD1' is not G"),
    ("-1", r"Name '-1' must follow the ganglioside grammar"),
    ("GD5(36:1;O2)", r"prefix 'GD5' is not G"),
    ("gd1(36:1;O2)", r"prefix 'gd1' is not G"),
    ("GD1(36:1;X2)", r"ceramide '36:1;X2' is not"),
    ("GM3(d18:1;O2/18:0)", r"gives its oxygen count twice"),
    ("GD1", r"expected 'PREFIX\(a:b;O2\)'"),
    ("", r"Name must not be empty"),
    ("   ", r"Name must not be empty"),
    ("GD1" + "+OAc" * 60 + "(36:1;O2)", r"at most 200 characters. Got 252 instead"),
])
def test_unparseable_names_say_why(name: str, match: str) -> None:
    with pytest.raises(NameParseError, match=match):
        parse_name(name)
    assert not is_valid_name(name)


def test_non_text_is_not_a_name() -> None:
    with pytest.raises(NameParseError, match="Name must be text. Got 5 instead"):
        parse_name(5)  # type: ignore[arg-type]
    assert not is_valid_name(None)


def test_parse_names_reports_failures_by_position() -> None:
    table, failures = parse_names(["GM3(36:1;O2)", "GD1+Ac(36:1;O2)", "GM3(36:1;O2)", ""])
    assert list(table.columns) == list(NAME_COLUMNS)
    assert table["prefix"].tolist()[0::2] == ["GM3", "GM3"]
    assert [(p, n) for p, n, _ in failures] == [(1, "GD1+Ac(36:1;O2)"), (3, "")]
    assert "unknown modification 'Ac'" in failures[0][2]
    assert table.iloc[1].isna().all()


# -- properties ---------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(names())
def test_format_round_trips_and_counts_add_up(name: str) -> None:
    parsed = parse_name(name)
    assert parse_name(format_name(parsed)) == parsed
    assert parse_name(format_name(parsed, "lipidmaps")) == parsed
    assert is_valid_name(name)
    mods = dict(parsed.modifications)
    assert parsed.sugar_count == (parsed.sialic_acids + parsed.neutral_sugars + mods.get("dHex", 0)
                                  + mods.get("Hex", 0) + mods.get("HexNAc", 0))


@settings(max_examples=150, deadline=None)
@given(bad_names())
def test_bad_names_are_invalid(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(NameParseError, match="Name"):
        parse_name(name)


# -- the 323-row sample -------------------------------------------------------------------------
def test_sample_names_all_parse_and_prefix_is_as_written() -> None:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as handle:
        written = [row["Name"] for row in csv.DictReader(handle)]
    assert len(written) == 323
    table, failures = parse_names(written)
    assert failures == []
    assert (table["prefix"] == table["written_prefix"]).all()
    assert table["prefix"].nunique() == 29
    assert table["ceramide"].nunique() == 30


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("use_na_sentinel", [True, False])
def test_factorize_by_name_equals_pandas_factorize(seed: int, use_na_sentinel: bool) -> None:
    rng = np.random.default_rng(seed)
    names = np.array([f"GM{k}(36:1;O2)" for k in range(30)], dtype=object)
    field = np.array([None if k % 7 == 0 else f"class{k % 4}" for k in range(30)], dtype=object)
    ids = rng.integers(0, 30, 400) + 100 * (seed % 2)  # ids need not be dense
    table = pd.DataFrame({"Name": names[ids % 100], "field": field[ids % 100], "name_id": ids})
    for rows in (None, np.flatnonzero(rng.random(400) < 0.3), rng.permutation(400)[:50],
                 np.zeros(0, dtype=np.int64)):
        for column in ("Name", "field"):
            values = table[column].to_numpy(dtype=object)
            expected = pd.factorize(values if rows is None else values[rows],
                                    use_na_sentinel=use_na_sentinel)
            got = factorize_by_name(table, column, rows, use_na_sentinel=use_na_sentinel)
            np.testing.assert_array_equal(got[0], expected[0])
            assert pd.Index(got[1]).equals(pd.Index(expected[1]))  # NaN equals NaN here
