"""validate_input: lazy cell validation and the input report (ALGORITHM.md §2.3-§2.4, §9)."""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from ganglioside_nb.core.names import NAME_COLUMNS
from ganglioside_nb.core.results import InputReport
from ganglioside_nb.core.validate import NAME_INT_COLUMNS, validate_input, working_table
from ganglioside_nb.errors import EmptyAnalysisError, InputFormatError
from ganglioside_nb.io.readers import read_table
from ganglioside_nb.params import AnalysisParams
from ganglioside_nb.testing.strategies import MessyCsv, csv_bytes
from tests.conftest import DATA, SAMPLE
from tests.conftest import SAMPLE_5 as SMALL

BAD = DATA / "bad_inputs"
CANONICAL = ["Name", "RT", "Volume", "Log P", "Anchor"]
HEADER = "Name,RT,Volume,Log P,Anchor\n"
GOOD = "GM3(36:1;O2),10.606,2000000,7.74,T\n"
PARAMS = AnalysisParams()


def _validate(source: object, **kwargs: object) -> tuple[pd.DataFrame, InputReport]:
    return validate_input(read_table(source, **kwargs), PARAMS)  # type: ignore[arg-type]


def _one_row(cells: dict[str, str]) -> tuple[pd.DataFrame, InputReport]:
    """A 2-row file: a good row, then ``cells`` over a good row (as CSV text)."""
    row = dict(zip(CANONICAL, GOOD.strip().split(","), strict=True)) | cells
    line = ",".join(f'"{row[c]}"' if "," in row[c] or '"' in row[c] else row[c]
                    for c in CANONICAL)
    return _validate((HEADER + GOOD + line + "\n").encode(), filename="cells.csv")


# -- the sample ---------------------------------------------------------------------------------
def test_sample_validates_completely() -> None:
    table, report = _validate(SAMPLE)
    assert len(table) == 323 and report.total_rows == 323
    assert len(report) == 0 and not table["rejected"].any()
    assert table["row"].tolist() == list(range(323))
    assert list(table.columns) == ["row", *CANONICAL, "rejected", *NAME_COLUMNS, "name_id"]
    # name_id: one id per distinct Name, in order of first appearance
    assert table["name_id"].tolist() == pd.factorize(table["Name"])[0].tolist()
    assert int(table["Anchor"].sum()) == 49
    assert table["prefix"].nunique() == 29
    assert (table["prefix"] == table["written_prefix"]).all()
    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    for column in ("RT", "Volume", "Log P"):
        assert table[column].tolist() == [float(s) for s in raw[column]]
    assert (table["Log P"] < 0).sum() == (raw["Log P"].str.startswith("-")).sum() > 0
    assert report.notes == ("79 names repeat over 208 rows (129 extra rows); isomer peaks are "
                            "kept and keyed by row.",)
    assert report.column_mapping == {c: c for c in CANONICAL}
    assert report.filename == "testwork_user.csv"


def test_five_row_bom_file() -> None:
    table, report = _validate(SMALL)
    assert table["Name"].tolist()[0] == "GD1a(36:1;O2)"
    assert table["Anchor"].tolist() == [True, False, False, True, True]
    assert table["Log P"].tolist()[-1] == -0.94
    assert len(report) == 0


@pytest.mark.parametrize("path", [SAMPLE, SMALL], ids=["sample", "bom5"])
def test_same_table_from_every_source(path: Path) -> None:
    expected, _ = _validate(path)
    data = path.read_bytes()
    frame_str = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame_obj = frame_str.astype(object)
    frame_native = pd.read_csv(path, encoding="utf-8-sig")  # inferred floats, 'T'/'F' text
    for source in (data, io.BytesIO(data), frame_str, frame_obj, frame_native):
        got, report = _validate(source)
        pd.testing.assert_frame_equal(got, expected)
        assert len(report) == 0


def test_object_and_string_dtype_columns_give_identical_results() -> None:
    text = (HEADER + GOOD + "GD1+Ac(36:1;O2), 7.5 ,1e3,-0.5,yes\n"
            "GD3(36:1;O2),n/a,,25,maybe\n")
    base = pd.read_csv(io.StringIO(text), dtype=object, keep_default_na=False)
    as_string = base.astype(pd.StringDtype())
    as_str = base.astype("str")
    results = [_validate(f) for f in (base, as_string, as_str)]
    for table, report in results[1:]:
        pd.testing.assert_frame_equal(table, results[0][0])
        pd.testing.assert_frame_equal(report.entries, results[0][1].entries)


def test_xlsx_round_trip_gives_the_same_table(tmp_path: Path) -> None:
    from openpyxl import Workbook

    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    wb = Workbook()
    ws = wb.active
    ws.append(CANONICAL)
    for i, (name, rt, volume, logp, anchor) in enumerate(raw.itertuples(index=False)):
        # native numbers and booleans, with some cells left as text
        ws.append([name, float(rt), float(volume) if i % 2 else volume, float(logp),
                   anchor == "T" if i % 3 else anchor])
    path = tmp_path / "sample.xlsx"
    wb.save(path)
    from_csv, _ = _validate(SAMPLE)
    from_xlsx, report = _validate(path)
    pd.testing.assert_frame_equal(from_xlsx, from_csv)
    assert len(report) == 0 and report.filename == "sample.xlsx"


# -- cell rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("column", "text", "expected"), [
    ("RT", "7.5", 7.5), ("RT", " 7.5 ", 7.5), ("RT", "7.5e0", 7.5), ("RT", "1E+2", 100.0),
    ("RT", "+8", 8.0), ("RT", ".5", 0.5), ("RT", "120", 120.0), ("RT", "1e-9", 1e-9),
    ("Volume", "0", 0.0), ("Volume", "1e15", 1e15), ("Volume", "530172", 530172.0),
    ("Log P", "-10", -10.0), ("Log P", "20", 20.0), ("Log P", "-0.94", -0.94),
    ("Log P", "+3E-1", 0.3),
])
def test_numbers_accepted(column: str, text: str, expected: float) -> None:
    table, report = _one_row({column: text})
    assert len(report) == 0
    assert table[column].iloc[1] == expected


def test_plain_number_columns_match_the_cell_by_cell_parse() -> None:
    # A column of plain number text is parsed in one pass; one padded cell sends the column
    # through the cell-by-cell path. Both must give the same floats ('-0' reads as 0.0).
    rt = ["7.5", "1E+2", "+8", ".5", "1e-9", "10.606", "10.606", "119.99999999999999"]
    volume = ["0", "-0", "2e6", "+3E14", "530172", "1e15", "0.1", "7"]
    lines = "".join(f"GM3(36:1;O2),{r},{v},1,T\n" for r, v in zip(rt, volume, strict=True))
    plain, _ = _validate((HEADER + lines).encode())
    padded, _ = _validate((HEADER + lines + "GM3(36:1;O2), 7.5 , 7 ,1,T\n").encode())
    for column, texts in (("RT", rt), ("Volume", volume)):
        values = plain[column].to_numpy()
        np.testing.assert_array_equal(values, padded[column].to_numpy()[:-1])
        assert values.tolist() == [float(t) + 0.0 for t in texts]
    assert not np.signbit(plain["Volume"].to_numpy()).any()


@pytest.mark.parametrize(("column", "text", "reason"), [
    ("RT", "", r"^Column 'RT' in row 1 must be a number\. Got an empty cell instead\.$"),
    ("RT", "  ", r"^Column 'RT' in row 1 must be a number\. Got an empty cell instead\.$"),
    ("RT", "n/a", r"^Column 'RT' in row 1 must be a number\. Got 'n/a' instead\.$"),
    ("RT", "nan", r"must be a finite number\. Got 'nan' instead"),
    ("RT", "NaN", r"must be a finite number\. Got 'NaN' instead"),
    ("RT", "inf", r"must be a finite number\. Got 'inf' instead"),
    ("RT", "-Infinity", r"must be a finite number\. Got '-Infinity' instead"),
    ("RT", "1e999", r"must be a finite number\. Got '1e999' instead"),
    ("RT", "7,5", r"must be a number with a decimal point\. Got '7,5' \(a decimal comma\)"),
    ("RT", "1_000", r"must be a number\. Got '1_000' instead"),
    ("RT", "٣", r"must be a number\. Got '٣' instead"),
    ("RT", "0x10", r"must be a number\. Got '0x10' instead"),
    ("RT", "True", r"must be a number\. Got 'True' instead"),
    ("RT", "0", r"^RT must be within \(0, 120\] min\. Got 0\.0 instead\.$"),
    ("RT", "-1.5", r"^RT must be within \(0, 120\] min\. Got -1\.5 instead\.$"),
    ("RT", "120.001", r"^RT must be within \(0, 120\] min\. Got 120\.001 instead\.$"),
    ("Volume", "-1", r"^Volume must be within \[0, 1e\+15\]\. Got -1\.0 instead\.$"),
    ("Volume", "1.1e15", r"^Volume must be within \[0, 1e\+15\]\. Got 1100000000000000\.0"),
    ("Log P", "25", r"^Log P must be within \[-10, 20\]\. Got 25\.0 instead\.$"),
    ("Log P", "-10.01", r"^Log P must be within \[-10, 20\]\. Got -10\.01 instead\.$"),
    ("Anchor", "maybe", r"^Column 'Anchor' in row 1 must be true or false \(t, true, 1, yes / "
                        r"f, false, 0, no\)\. Got 'maybe' instead\.$"),
    ("Anchor", "", r"Got an empty cell instead"),
    ("Anchor", "2", r"Got '2' instead"),
    ("Anchor", "1.0", r"Got '1\.0' instead"),  # text: only 1 and 0 are numbers-as-text
    ("Anchor", "y", r"Got 'y' instead"),
    ("Name", "GD1+Ac(36:1;O2)", r"unknown modification 'Ac'"),
    ("Name", "=SUM(A1)", r"Name '=SUM\(A1\)' must follow the ganglioside grammar"),
    ("Name", "+GD1(36:1;O2)", r"Name '\+GD1\(36:1;O2\)' must follow"),
    ("Name", "@x", r"Name '@x' must follow"),
    ("Name", "-1", r"Name '-1' must follow"),
    ("Name", "", r"^Name must not be empty\. Got '' instead\.$"),
    ("Name", "GM3" + "+OAc" * 50 + "(36:1;O2)", r"must be at most 200 characters"),
])
def test_cells_rejected_with_reason(column: str, text: str, reason: str) -> None:
    table, report = _one_row({column: text})
    entries = report.entries
    assert len(entries) == 1
    entry = entries.iloc[0]
    assert (entry["row"], entry["line"], entry["column"], entry["value"]) == (1, 3, column, text)
    assert re.search(reason, entry["reason"]), entry["reason"]
    assert table["rejected"].tolist() == [False, True]
    if column in ("RT", "Volume", "Log P"):
        assert np.isnan(table[column].iloc[1])
    if column == "Anchor":
        assert not table["Anchor"].iloc[1]
    if column == "Name":
        assert table.loc[1, NAME_COLUMNS].isna().all()
    else:
        assert table["prefix"].iloc[1] == "GM3"  # a parsed name keeps its fields


@pytest.mark.parametrize(("text", "expected"), [
    ("T", True), ("t", True), ("TRUE", True), ("true", True), ("1", True), ("yes", True),
    (" Yes ", True), ("F", False), ("f", False), ("False", False), ("0", False), ("no", False),
    ("NO", False),
])
def test_anchor_spellings(text: str, expected: bool) -> None:
    table, report = _one_row({"Anchor": text})
    assert len(report) == 0
    assert bool(table["Anchor"].iloc[1]) is expected


def test_native_values() -> None:
    df = pd.DataFrame({
        "Name": ["GM3(36:1;O2)", " GD3(36:1;O2) ", "GM1(36:1;O2)", "GM2(36:1;O2)", None,
                 "GT1(36:1;O2)", "GQ1(36:1;O2)"],
        "RT": [10.6, np.float32(8.5), 7, True, 5.0, np.nan, np.inf],
        "Volume": [2e6, 1, 0, 5, 5, 5, 5],
        "Log P": [-0.5, 1, 2, 3, 4, 5, 6],
        "Anchor": [True, np.bool_(False), 1, 0.0, 1.0, 2, "T"],
    }, dtype=object)
    table, report = validate_input(read_table(df))
    assert table["RT"].tolist()[:3] == [10.6, 8.5, 7.0]
    assert table["Anchor"].tolist()[:5] == [True, False, True, False, True]
    assert table["Name"].tolist()[1] == "GD3(36:1;O2)"
    by_row = {(r, c): reason for r, c, reason in
              report.entries[["row", "column", "reason"]].itertuples(index=False)}
    assert by_row[(3, "RT")] == "Column 'RT' in row 3 must be a number. Got 'True' instead."
    assert by_row[(4, "Name")] == "Name must not be empty. Got '' instead."
    assert by_row[(5, "RT")] == "Column 'RT' in row 5 must be a number. Got an empty cell instead."
    assert by_row[(5, "Anchor")].endswith("Got '2' instead.")
    assert by_row[(6, "RT")] == "Column 'RT' in row 6 must be a finite number. Got 'inf' instead."
    assert table["rejected"].tolist() == [False, False, False, True, True, True, True]


def test_xlsx_formula_without_cached_value_is_rejected_with_reason(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(CANONICAL)
    ws.append(["GM3(36:1;O2)", 10.6, 2e6, 7.74, True])
    ws.append(["GD3(36:1;O2)", "=B2-0.5", 8e5, 5.27, "=TRUE()"])
    ws.append(["=A2", 10.1, None, 5.27, False])
    path = tmp_path / "formulas.xlsx"
    wb.save(path)
    table, report = _validate(path)
    entries = report.entries
    assert entries[["row", "line", "column", "value"]].values.tolist() == [
        [1, 3, "RT", "=B2-0.5"], [1, 3, "Anchor", "=TRUE()"], [2, 4, "Name", "=A2"],
        [2, 4, "Volume", ""]]
    assert entries["reason"].iloc[0] == (
        "Column 'RT' in row 1 must hold a value. Got the formula '=B2-0.5' with no cached value "
        "instead (recalculate and save it in Excel).")
    assert entries["reason"].iloc[3] == (
        "Column 'Volume' in row 2 must be a number. Got an empty cell instead.")


# -- the bad-input corpus (row level) --------------------------------------------------------------
def _entries(name: str) -> list[tuple[int, int, str, str]]:
    _, report = _validate(BAD / name)
    return [tuple(e) for e in report.entries[["row", "line", "column", "value"]].itertuples(
        index=False)]


def test_bad_numbers_file() -> None:
    table, report = _validate(BAD / "bad_numbers.csv")
    assert _entries("bad_numbers.csv") == [
        (1, 3, "RT", "nan"), (2, 4, "RT", "inf"), (3, 5, "RT", "-1.5"), (4, 6, "RT", "0"),
        (5, 7, "RT", "121"), (6, 8, "Volume", "-1"), (7, 9, "Volume", "2e15"),
        (8, 10, "Log P", "25"), (9, 11, "Log P", "-10.5"), (10, 12, "RT", "10,1"),
        (11, 13, "RT", "n/a"), (12, 14, "RT", "")]
    assert report.entries["reason"].iloc[9] == (
        "Column 'RT' in row 10 must be a number with a decimal point. Got '10,1' (a decimal "
        "comma) instead.")
    assert table["rejected"].sum() == 12 and not table["rejected"].iloc[0]
    assert table["Log P"].iloc[12] == -5.27  # the other cells of a rejected row are kept


def test_bad_names_file() -> None:
    table, report = _validate(BAD / "bad_names.csv")
    assert _entries("bad_names.csv") == [
        (1, 3, "Name", "GD1+Ac(36:1;O2)"), (2, 4, "Name", "=SUM(A1:A3)"),
        (3, 5, "Name", "+GD1(36:1;O2)"), (4, 6, "Name", "@GD1(36:1;O2)"), (5, 7, "Name", "-1"),
        (6, 8, "Name", ""), (7, 9, "Name", "GX1(36:1;O2)")]
    assert "unknown modification 'Ac'" in report.entries["reason"].iloc[0]
    assert table["Name"].tolist()[2] == "=SUM(A1:A3)"  # kept as written, never stripped
    assert table["RT"].tolist()[1:] == [8.1] * 7


def test_bad_anchors_file() -> None:
    assert _entries("bad_anchors.csv") == [
        (1, 3, "Anchor", "maybe"), (2, 4, "Anchor", ""), (3, 5, "Anchor", "2"),
        (4, 6, "Anchor", "anchor")]


def test_every_row_rejected_raises_with_the_report() -> None:
    with pytest.raises(EmptyAnalysisError, match=r"^File 'all_bad\.csv' must have at least one "
                                                 r"usable row\. Got none of its 4 rows usable "
                                                 r"instead \(most common problem, in 2 cells: RT "
                                                 r"is not a number\)\.$") as info:
        _validate(BAD / "all_bad.csv")
    error = info.value
    assert isinstance(error, InputFormatError)
    assert [e["row"] for e in error.input_report] == [0, 1, 2, 3]
    assert error.input_report[0]["column"] == "Name"
    assert error.details["check"] == "all_rejected"
    clone = pickle.loads(pickle.dumps(error))
    assert clone.input_report == error.input_report and str(clone) == str(error)


def test_corpus_never_raises_anything_else() -> None:
    for path in sorted(BAD.iterdir()):
        if path.suffix == ".md":
            continue
        try:
            _validate(path)
        except InputFormatError as error:
            assert "\n" not in str(error) and repr(path.name) in str(error)


# -- set-level behaviour ---------------------------------------------------------------------------
def test_duplicates_kept_and_fewer_than_three_anchors_allowed() -> None:
    table, report = _validate((HEADER + GOOD + GOOD.replace(",T", ",F") + GOOD).encode())
    assert table["row"].tolist() == [0, 1, 2]
    assert table["Name"].nunique() == 1
    assert report.notes == ("1 name repeat over 3 rows (2 extra rows); isomer peaks are kept "
                            "and keyed by row.",)


def test_formula_looking_text_in_extra_columns_is_noted_not_changed() -> None:
    text = (HEADER.strip() + ",Notes,Delta\n" + GOOD.strip() + ",=SUM(A1),-5\n"
            + GOOD.strip() + ",@x,+3\n" + GOOD.strip() + ",plain,-\n")
    raw = read_table(text.encode())
    table, report = validate_input(raw, PARAMS)
    assert raw.extras["Notes"].tolist() == ["=SUM(A1)", "@x", "plain"]
    assert report.notes[-1].startswith("3 text cells in columns 'Notes', 'Delta' start with '='")
    assert len(report) == 0


def test_row_cap_refuses_without_truncating() -> None:
    data = (HEADER + GOOD * 11).encode()
    with pytest.raises(InputFormatError, match=r"^File 'cap\.csv' must have at most 10 data rows "
                                               r"\(max_rows\)\. Got 11 rows instead\.$") as info:
        validate_input(read_table(data, filename="cap.csv"), PARAMS.replace(max_rows=10))
    assert info.value.details["check"] == "row_cap"
    table, _ = validate_input(read_table(data), {"max_rows": 11})
    assert len(table) == 11


def test_dtypes_and_working_table() -> None:
    table, _ = _one_row({"RT": "n/a"})
    assert table["row"].dtype == np.int64
    assert table["Anchor"].dtype == bool and table["rejected"].dtype == bool
    assert all(table[c].dtype == np.float64 for c in ("RT", "Volume", "Log P", "oxygen"))
    assert all(str(table[c].dtype) == "Int64" for c in NAME_INT_COLUMNS)
    work = working_table(table)
    assert len(work) == 1 and work.index.tolist() == [0] and "rejected" not in work
    assert all(work[c].dtype == np.int64 for c in NAME_INT_COLUMNS)
    assert work["sugar_count"].tolist() == [3]


def test_validate_accepts_a_dataframe_directly() -> None:
    df = pd.read_csv(SMALL, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    table, report = validate_input(df)
    assert len(table) == 5 and len(report) == 0


# -- messy CSV, property ---------------------------------------------------------------------------
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_bytes())
def test_messy_csv_validates_and_numbers_survive_exactly(messy: MessyCsv) -> None:
    table, report = validate_input(read_table(messy.data), PARAMS)
    assert len(report) == 0, report.entries["reason"].tolist()
    assert table["Name"].tolist() == messy.names
    assert table["RT"].tolist() == messy.rt
    assert table["Volume"].tolist() == messy.volume
    assert table["Log P"].tolist() == messy.log_p
    assert table["Anchor"].tolist() == messy.anchor
    assert report.column_mapping == messy.column_mapping
    # only text cells that a spreadsheet would run are flagged; numbers such as -5 never are
    flagged = sum(v.startswith(("=", "+", "-", "@", "\t", "\r"))
                  and re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", v) is None
                  for values in messy.extras.values() for v in values)
    notes = [n for n in report.notes if "start with '='" in n or "starts with '='" in n]
    assert [int(n.split()[0]) for n in notes] == ([flagged] if flagged else [])
