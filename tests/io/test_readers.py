"""read_table: sources, formats, file-level checks (FEATURES.md A1-A3, ALGORITHM.md §2.1-§2.2)."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganglioside_nb.core.validate import UncachedFormula, validate_input
from ganglioside_nb.errors import InputFormatError
from ganglioside_nb.io.readers import RawTable, read_table
from ganglioside_nb.testing.strategies import MessyCsv, csv_bytes
from tests.conftest import DATA, SAMPLE
from tests.conftest import SAMPLE_5 as SMALL

BAD = DATA / "bad_inputs"
CANONICAL = ["Name", "RT", "Volume", "Log P", "Anchor"]
HEADER = "Name,RT,Volume,Log P,Anchor\n"


def _frame_text(raw: RawTable) -> pd.DataFrame:
    """The raw cells as plain object text, for comparing reads of one file."""
    return raw.frame.astype(object)


# -- one file, four sources ---------------------------------------------------------------------
@pytest.mark.parametrize("path", [SAMPLE, SMALL], ids=["sample", "bom5"])
def test_path_bytes_file_object_and_dataframe_read_the_same(path: Path) -> None:
    data = path.read_bytes()
    from_path = read_table(path)
    from_str = read_table(str(path))
    from_bytes = read_table(data, filename=path.name)
    from_view = read_table(memoryview(data))
    from_file = read_table(io.BytesIO(data))
    with path.open("rb") as handle:
        from_handle = read_table(handle)
    # numbers as numbers, as the CSV reader gives them (every cell a finite number)
    df = pd.read_csv(path, dtype={"Name": str, "Anchor": str}, keep_default_na=False,
                     encoding="utf-8-sig")
    from_frame = read_table(df)
    expected = _frame_text(from_path)
    for other in (from_str, from_bytes, from_view, from_file, from_handle, from_frame):
        pd.testing.assert_frame_equal(_frame_text(other), expected)
        np.testing.assert_array_equal(other.lines, from_path.lines)
        assert other.column_mapping == {c: c for c in CANONICAL}
    digest = hashlib.sha256(data).hexdigest()
    for same in (from_path, from_str, from_bytes, from_view, from_file, from_handle):
        assert same.sha256 == digest
        assert same.size_bytes == len(data)
        assert same.format == "csv"
    names = (from_path.filename, from_handle.filename, from_file.filename)
    assert names == (path.name, path.name, None)
    assert from_frame.format == "dataframe"
    assert from_frame.sha256 == hashlib.sha256(
        df.to_csv(index=False, lineterminator="\n").encode("utf-8")).hexdigest()


def test_sample_shape_and_lines() -> None:
    raw = read_table(SAMPLE)
    assert len(raw) == 323
    assert raw.lines.dtype == np.int64
    np.testing.assert_array_equal(raw.lines, np.arange(2, 325))
    assert raw.frame.iloc[0].tolist() == ["GD1(34:1;O2)", 7.588, 530172.0, 0.44, "T"]
    assert raw.column_text is not None and raw.column_text("RT")[0] == "7.588"
    assert raw.extras.shape == (323, 0)


def test_bom_is_stripped_from_the_first_header() -> None:
    assert SMALL.read_bytes().startswith(b"\xef\xbb\xbf")
    raw = read_table(SMALL)
    assert list(raw.frame.columns) == CANONICAL
    assert raw.column_mapping["Name"] == "Name"
    assert raw.frame["Log P"].tolist()[-1] == -0.94
    assert raw.column_text("Log P").tolist()[-1] == "-0.94"  # as written


# -- headers ------------------------------------------------------------------------------------
def test_aliases_case_and_separators_map_to_canonical_columns() -> None:
    data = (b" compound_Name ;RETENTION-TIME;Peak Area;c_log_p;Is Anchor;Notes\n"
            b'"GM3(36:1;O2)";10.6;2e6;-0.5;yes;x\n')
    raw = read_table(data)
    assert raw.column_mapping == {"Name": " compound_Name ", "RT": "RETENTION-TIME",
                                  "Volume": "Peak Area", "Log P": "c_log_p",
                                  "Anchor": "Is Anchor"}
    assert raw.frame.iloc[0].tolist() == ["GM3(36:1;O2)", 10.6, 2e6, -0.5, "yes"]
    assert raw.extras["Notes"].tolist() == ["x"]
    assert "';' as its delimiter" in raw.notes[0]


def test_extra_columns_are_carried_through_and_renamed_on_clash() -> None:
    data = (HEADER.strip() + ",status,_private,prefix,Notes,\n"
            "GM3(36:1;O2),10.6,2e6,7.74,T,done,=SUM(A1),p,-5,\n").encode()
    raw = read_table(data, filename="x.csv")
    assert list(raw.extras.columns) == ["status_input", "_private", "prefix_input", "Notes"]
    assert raw.extras.iloc[0].tolist() == ["done", "=SUM(A1)", "p", "-5"]
    assert any("'status_input'" in n for n in raw.notes)


def test_unnamed_column_with_values_is_kept() -> None:
    raw = read_table((HEADER.strip() + ",\nGM3(36:1;O2),10.6,2e6,7.74,T,v\n").encode())
    assert raw.extras["column_6"].tolist() == ["v"]


# -- CSV dialect --------------------------------------------------------------------------------
def test_crlf_semicolon_blank_lines_and_line_numbers() -> None:
    data = ("\r\n"                                # line 1 blank
            "Name;RT;Volume;Log P;Anchor\r\n"      # line 2 header
            '"GM3(36:1;O2)";10.6;2e6;7.74;T\r\n'   # line 3
            "\r\n  \r\n\t\r\n"                     # lines 4-6 blank
            '"GD3(36:1;O2)";10.1;8e5;5.27;F\r\n'   # line 7
            ';;"";;\r\n'                           # line 8: every cell empty
            '"GT1b(36:1;O2)";8.7;1.2e6;-0.94;T')   # line 9, no final line break
    raw = read_table(data.encode())
    assert raw.frame["Name"].tolist() == ["GM3(36:1;O2)", "GD3(36:1;O2)", "GT1b(36:1;O2)"]
    assert raw.lines.tolist() == [3, 7, 9]
    assert any("1 empty row skipped (line 8)" in n for n in raw.notes)


def test_quoted_fields_with_line_breaks_keep_line_numbers() -> None:
    data = (HEADER.strip() + ",Notes\n"
            'GM3(36:1;O2),10.6,2e6,7.74,T,"one\n\ntwo ""quoted"""\n'
            "GD3(36:1;O2),10.1,8e5,5.27,F,plain\n"
            '"GT1b(36:1;O2)",8.7,1.2e6,-0.94,T,"a,b"\n')
    raw = read_table(data.encode())
    assert raw.lines.tolist() == [2, 5, 6]
    assert raw.extras["Notes"].tolist() == ['one\n\ntwo "quoted"', "plain", "a,b"]


def test_a_stray_quote_inside_an_unquoted_field_keeps_line_numbers() -> None:
    data = (HEADER.strip() + ",Notes\n"
            'GM3(36:1;O2),10.6,2e6,7.74,T,5" tube\n'
            "\n"
            "GD3(36:1;O2),10.1,8e5,5.27,F,x\n")
    raw = read_table(data.encode())
    assert raw.extras["Notes"].tolist() == ['5" tube', "x"]
    assert raw.lines.tolist() == [2, 4]


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_plain_layout_reads_as_the_general_one(line_end: str) -> None:
    # Without quotes the lines are counted; one quoted name sends the file through the byte scan.
    rows = ["GM3(36:1;O2),10.6,2e6,7.74,T", ",,,,", "GD3(36:1;O2),10.1,8e5,5.27,F",
            "GM1(36:1;O2),9.5,1e5,3.1,T"]
    plain = (line_end.join([HEADER.strip(), *rows]) + line_end).encode()
    quoted = plain.replace(b"GD3(36:1;O2)", b'"GD3(36:1;O2)"')
    a, b = read_table(plain), read_table(quoted)
    pd.testing.assert_frame_equal(_frame_text(a), _frame_text(b))
    assert a.lines.tolist() == b.lines.tolist() == [2, 4, 5]
    assert a.notes == b.notes == ("1 empty row skipped (line 3).",)


def test_lone_cr_line_ends() -> None:
    raw = read_table((HEADER + "GM3(36:1;O2),10.6,2e6,7.74,T\n\nGD3(36:1;O2),10.1,8e5,5.27,F\n")
                     .replace("\n", "\r").encode())
    assert raw.lines.tolist() == [2, 4]


def test_unquoted_semicolon_in_a_semicolon_file_gets_a_hint() -> None:
    with pytest.raises(InputFormatError, match=r"Got 6 fields on line 2 \(in a ';'-delimited "
                                               r"file, a name such as GM3\(36:1;O2\) must be "
                                               r"quoted\) instead\.$"):
        read_table(b"Name;RT;Volume;Log P;Anchor\nGM3(36:1;O2);10.6;2e6;7.74;T\n")


def test_missing_trailing_fields_read_as_empty_text() -> None:
    raw = read_table((HEADER + "GM3(36:1;O2),10.6\n").encode())
    assert raw.frame.iloc[0].tolist() == ["GM3(36:1;O2)", 10.6, "", "", ""]


# -- the bad-input corpus: one InputFormatError, one line, naming the file ------------------------
FILE_ERRORS = [
    ("empty.csv", "empty", r"^File 'empty\.csv' must not be empty\. Got 0 bytes instead\.$"),
    ("blank_only.csv", "empty", r"^File 'blank_only\.csv' must contain a header line and data "
                                r"rows\. Got only blank lines instead\.$"),
    ("binary.csv", "binary", r"^File 'binary\.csv' must be a text CSV file\. Got binary data"),
    ("page.csv", "html", r"^File 'page\.csv' must be a CSV or XLSX table\. Got an HTML"),
    ("utf16.csv", "encoding", r"^File 'utf16\.csv' must be UTF-8 text.*Got UTF-16"),
    ("latin1.csv", "encoding", r"^File 'latin1\.csv' must be UTF-8 text.*Got byte 0xf6 on line 2"
                               r".*Latin-1"),
    ("tab.csv", "columns", r"^File 'tab\.csv' must have the columns Name, RT, Volume, Log P, "
                           r"Anchor.*headers found: 'Name\\tRT\\tVolume\\tLog P\\tAnchor'"),
    ("missing_columns.csv", "columns", r"^File 'missing_columns\.csv' must have the columns .*"
                                       r"Got no column for 'Log P', 'Anchor' \(headers found: "
                                       r"'Compound', 'Retention Time', 'Area'\) instead\.$"),
    ("duplicate_alias.csv", "duplicate_columns", r"^File 'duplicate_alias\.csv' must have one "
                                                 r"column for 'RT'\. Got 2: 'RT', "
                                                 r"'Retention_Time' instead\.$"),
    ("header_only.csv", "rows", r"^File 'header_only\.csv' must have at least one data row"),
    ("ragged.csv", "fields", r"^File 'ragged\.csv' must have at most 5 fields per line.*"
                             r"Got 6 fields on line 3 instead\.$"),
    ("unterminated_quote.csv", "quoting", r"^File 'unterminated_quote\.csv' must use standard "
                                          r"double-quote quoting\. Got a quoted field opened on "
                                          r"line 3"),
    ("notes.txt", "extension", r"^File 'notes\.txt' must have the extension \.csv or \.xlsx\. "
                               r"Got '\.txt' instead\.$"),
    ("not_really.xlsx", "xlsx", r"^File 'not_really\.xlsx' must be an XLSX workbook\. Got plain "
                                r"text"),
]


@pytest.mark.parametrize(("name", "check", "match"), FILE_ERRORS, ids=[f[0] for f in FILE_ERRORS])
def test_bad_file_raises_one_line_error(name: str, check: str, match: str) -> None:
    path = BAD / name
    for source in (path, path.read_bytes()):
        with pytest.raises(InputFormatError, match=match) as info:
            read_table(source, filename=name)
        assert "\n" not in str(info.value)
        assert info.value.details["check"] == check
        assert info.value.details["filename"] == name


def test_corpus_is_complete() -> None:
    listed = {f[0] for f in FILE_ERRORS} | {"bad_numbers.csv", "bad_names.csv",
                                            "bad_anchors.csv", "all_bad.csv", "README.md"}
    assert {p.name for p in BAD.iterdir()} == listed


def test_messages_without_a_filename_say_the_input() -> None:
    with pytest.raises(InputFormatError, match=r"^The input must not be empty\. Got 0 bytes"):
        read_table(b"")


def test_utf16_without_bom_and_legacy_xls_are_named() -> None:
    with pytest.raises(InputFormatError, match="UTF-16 text without a byte-order mark"):
        read_table(HEADER.encode("utf-16-le"), filename="x.csv")
    with pytest.raises(InputFormatError, match=r"legacy Office file \(\.xls"):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), format="csv")
    with pytest.raises(InputFormatError, match=r"extension \.csv or \.xlsx \(save legacy \.xls"):
        read_table(b"x", filename="old.xls")


# -- limits and sources -------------------------------------------------------------------------
def test_size_cap_is_checked_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"\x00" * 2_000_000)  # binary too: the size check must come first
    with pytest.raises(InputFormatError, match=r"^File 'big\.csv' must be at most 1\.0 MB "
                                               r"\(1,048,576 bytes\)\. Got 1\.9 MB") as info:
        read_table(big, max_file_bytes=1_048_576)
    assert info.value.details["check"] == "size"
    with pytest.raises(InputFormatError, match="must be at most"):
        read_table(big.read_bytes(), max_file_bytes=1_048_576)
    with big.open("rb") as handle, pytest.raises(InputFormatError, match="Got 1.9 MB"):
        read_table(handle, max_file_bytes=1_048_576)
    assert len(read_table(SAMPLE, max_file_bytes=SAMPLE.stat().st_size)) == 323


def test_declared_format_and_sniffing() -> None:
    data = SAMPLE.read_bytes()
    assert read_table(data, filename="upload", format="CSV").format == "csv"
    assert read_table(data, filename="no_extension").format == "csv"
    with pytest.raises(InputFormatError, match=r"must be declared as format 'csv' or 'xlsx'\. "
                                               r"Got 'tsv' instead"):
        read_table(data, format="tsv")


def test_bad_sources() -> None:
    with pytest.raises(InputFormatError, match=r"^File 'nope\.csv' must be an existing file\."):
        read_table(DATA / "nope.csv")
    with pytest.raises(InputFormatError, match="must be opened in binary mode"):
        read_table(io.StringIO(HEADER), filename="x.csv")
    with pytest.raises(InputFormatError, match="Got a int instead"):
        read_table(5)  # type: ignore[arg-type]
    with pytest.raises(InputFormatError, match="must be a readable file"):
        read_table(DATA)


def test_dataframe_checks_columns_and_rows() -> None:
    with pytest.raises(InputFormatError, match=r"^The input must have the columns .*no column "
                                               r"for 'Anchor'"):
        read_table(pd.DataFrame({"Name": ["x"], "RT": [1.0], "Volume": [1.0], "Log P": [1.0]}))
    with pytest.raises(InputFormatError, match="at least one data row"):
        read_table(pd.DataFrame(columns=CANONICAL))
    with pytest.raises(InputFormatError, match="one column for 'RT'"):
        read_table(pd.DataFrame([["x", 1, 1, 1, 1, 2]], columns=[*CANONICAL, "rt"]))


def test_dataframe_keeps_given_values_and_positions() -> None:
    df = pd.DataFrame({"name": ["GM3(36:1;O2)", "GD3(36:1;O2)"], "RT": [10.6, 10.1],
                       "Volume": [2e6, 8e5], "logP": [-0.5, 5.27], "Anchor": [True, False],
                       "Notes": ["a", "b"]}, index=[10, 3])
    raw = read_table(df, filename="table")
    assert raw.frame["RT"].tolist() == [10.6, 10.1]
    assert raw.frame["Anchor"].tolist() == [True, False]
    assert raw.lines.tolist() == [2, 3]
    assert raw.column_mapping["Log P"] == "logP"
    assert raw.extras["Notes"].tolist() == ["a", "b"]
    assert raw.filename == "table"


# -- XLSX ---------------------------------------------------------------------------------------
def _write_xlsx(path: Path, rows: list[list[object]], title: str = "Sheet1",
                more: dict[str, list[list[object]]] | None = None) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    for name, extra_rows in (more or {}).items():
        other = wb.create_sheet(name)
        for row in extra_rows:
            other.append(row)
    wb.save(path)
    return path


def test_xlsx_native_values_blank_rows_and_lines(tmp_path: Path) -> None:
    path = _write_xlsx(tmp_path / "peaks.xlsx", [
        [None], ["Name", "RT", "Volume", "Log P", "Anchor", "Notes"],
        ["GM3(36:1;O2)", 10.6, 2000000, -0.5, True, "x"],
        [None, None, None],
        ["GD3(36:1;O2)", "10.1", 8e5, 5.27, "F", None],
    ])
    raw = read_table(path)
    assert raw.format == "xlsx"
    assert raw.lines.tolist() == [3, 5]
    assert raw.frame.iloc[0].tolist() == ["GM3(36:1;O2)", 10.6, 2000000, -0.5, True]
    assert raw.frame.iloc[1].tolist() == ["GD3(36:1;O2)", "10.1", 800000.0, 5.27, "F"]
    assert raw.extras["Notes"].tolist() == ["x", None]
    assert raw.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    sniffed = read_table(path.read_bytes())
    assert sniffed.format == "xlsx"
    pd.testing.assert_frame_equal(sniffed.frame, raw.frame)


def test_xlsx_sheet_choice(tmp_path: Path) -> None:
    header = ["Name", "RT", "Volume", "Log P", "Anchor"]
    path = _write_xlsx(tmp_path / "two.xlsx", [["notes only"]], title="About",
                       more={"Peaks": [header, ["GM3(36:1;O2)", 10.6, 2e6, 7.74, "T"]]})
    with pytest.raises(InputFormatError, match=r"^File 'two\.xlsx' must have the columns"):
        read_table(path)  # the first sheet is not a peak table
    assert read_table(path, sheet="Peaks").frame["RT"].tolist() == [10.6]
    assert read_table(path, sheet=1).notes == ("Read worksheet 'Peaks'.",)
    with pytest.raises(InputFormatError, match=r"must contain the worksheet 'Data'\. Got only "
                                               r"'About', 'Peaks' instead"):
        read_table(path, sheet="Data")


def test_xlsx_formula_without_cached_value_is_marked(tmp_path: Path) -> None:
    # openpyxl never computes formulas, so the saved cell has no cached value.
    path = _write_xlsx(tmp_path / "f.xlsx", [["Name", "RT", "Volume", "Log P", "Anchor"],
                                            ["GM3(36:1;O2)", "=5+5.6", 2e6, 7.74, "T"],
                                            ["GD3(36:1;O2)", None, 8e5, 5.27, "F"]])
    raw = read_table(path)
    assert raw.frame["RT"].tolist()[0] == UncachedFormula("=5+5.6")
    assert raw.frame["RT"].tolist()[1] is None


def test_xlsx_cached_formula_value_is_read(tmp_path: Path) -> None:
    path = _write_xlsx(tmp_path / "f.xlsx", [["Name", "RT", "Volume", "Log P", "Anchor"],
                                            ["GM3(36:1;O2)", "=5+5.6", 2e6, 7.74, "T"]])
    cached = tmp_path / "cached.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(cached, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb"<f>5\+5.6</f><v\s*/>|<f>5\+5.6</f>(<v></v>)?",
                                  b"<f>5+5.6</f><v>10.6</v>", data)
                assert n == 1
            dst.writestr(item, data)
    assert read_table(cached).frame["RT"].tolist() == [10.6]


def test_xlsx_that_is_not_a_workbook(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"must be a readable XLSX workbook\. Got "
                                               r"BadZipFile"):
        read_table(b"PK\x03\x04" + bytes(100), filename="broken.xlsx")
    path = tmp_path / "page.xlsx"
    path.write_bytes(b"<html><body>error</body></html>")
    with pytest.raises(InputFormatError, match="Got an HTML page"):
        read_table(path)


def test_xlsx_empty_sheet(tmp_path: Path) -> None:
    path = _write_xlsx(tmp_path / "empty.xlsx", [])
    with pytest.raises(InputFormatError, match=r"must contain a header row and data rows\. Got "
                                               r"an empty worksheet 'Sheet1'"):
        read_table(path)


# -- messy CSV, property -------------------------------------------------------------------------
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_bytes())
def test_messy_csv_reads_back_exactly(messy: MessyCsv) -> None:
    raw = read_table(messy.data)
    assert raw.lines.tolist() == messy.lines
    assert raw.column_mapping == messy.column_mapping
    assert [s.strip() for s in raw.frame["Name"].tolist()] == messy.names
    assert [float(s) for s in raw.frame["RT"].tolist()] == messy.rt
    assert list(raw.extras.columns) == list(messy.extras)
    for name, values in messy.extras.items():
        assert raw.extras[name].tolist() == values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_bytes(max_rows=4), st.integers(0, 10_000), st.integers(0, 4),
       st.binary(max_size=3) | st.sampled_from((b'"', b"\n", b"\x00", b"\xe9", b";", b",")))
def test_damaged_csv_raises_only_input_format_errors(messy: MessyCsv, at: int, cut: int,
                                                      junk: bytes) -> None:
    at %= len(messy.data) + 1
    damaged = messy.data[:at] + junk + messy.data[at + cut:]
    try:
        raw = read_table(damaged, filename="damaged.csv")
        if raw.column_text is not None:  # numbers read as floats: their text is at hand too
            for column in ("RT", "Volume", "Log P"):
                assert len(raw.column_text(column)) == len(raw)
        validate_input(raw)
    except InputFormatError as error:  # EmptyAnalysisError included
        assert "\n" not in str(error) and "'damaged.csv'" in str(error)


# -- numbers parsed by the C parser (the typed CSV path) --------------------------------------
def _number_texts(seed: int = 0, k: int = 400) -> list[str]:
    """Many notations of in-bounds RTs: repr, fixed, exponent, 17-30 digits, signs, blanks."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(1e-6, 120.0, k) * 10.0 ** -rng.integers(0, 6, k)
    forms = [repr, "{:e}".format, "{:.17E}".format, "{:.25g}".format, "{:.30f}".format,
             lambda v: "00" + repr(v), lambda v: f"{v:.17f}0000000000000001",
             lambda v: "+" + repr(v), lambda v: " " + repr(v) + " ",
             lambda v: " +" + repr(v), lambda v: "+" + repr(v) + " "]
    return [form(float(v)) for form in forms for v in values]


def test_numbers_read_as_floats_equal_float_of_their_text() -> None:
    texts = _number_texts()
    rows = "".join(f"GM3(36:1;O2),{t},{t},1.5,T\n" for t in texts)
    plain = read_table((HEADER + rows).encode())  # a cell '+1.5 ' sends it to the text path
    assert plain.column_text is None and plain.frame["RT"].dtype != np.float64
    table, report = validate_input(plain)
    assert len(report) == 0 and table["RT"].tolist() == [float(t) for t in texts]
    for start in range(0, len(texts), 400):  # one notation per file: the typed path
        part = texts[start:start + 400]
        raw = read_table((HEADER + "".join(f"GM3(36:1;O2),{t},{t},1.5,T\n" for t in part)).encode())
        expected = [float(t) for t in part]
        assert (raw.frame["RT"].dtype == np.float64) == ("+" not in part[0].split("e")[0])
        table, report = validate_input(raw)
        assert len(report) == 0
        assert table["RT"].tolist() == expected and table["Volume"].tolist() == expected


def test_a_rejected_number_is_reported_as_written() -> None:
    raw = read_table((HEADER + "GM3(36:1;O2),10.6,2e6,7.74,T\n"
                      "GD1(36:1;O2),-1.50,2.0E6,1,T\n").encode(), filename="neg.csv")
    assert raw.frame["RT"].dtype == np.float64 and raw.frame["Volume"].dtype == np.float64
    _, report = validate_input(raw)
    assert report.entries[["row", "line", "column", "value"]].to_dict("records") == [
        {"row": 1, "line": 3, "column": "RT", "value": "-1.50"}]


@pytest.mark.parametrize("cell", ["inf", "nan", "NaN", "", "n/a", "1.5.1", "True"])
def test_numbers_that_are_not_finite_numbers_stay_text(cell: str) -> None:
    raw = read_table((HEADER + f"GM3(36:1;O2),10.6,2e6,7.74,T\nGD1(36:1;O2),{cell},1,1,T\n"
                      ).encode())
    assert raw.frame["RT"].tolist() == ["10.6", cell]
    _, report = validate_input(raw)
    assert report.entries["value"].tolist() == [cell]


def test_a_short_only_row_with_a_rejected_number_is_reported() -> None:
    # The only data row is shorter than the header: re-reading one column with ``usecols``
    # raised ParserError ('Too many columns specified'); the text comes from a whole re-read.
    raw = read_table((HEADER + "GM3(36:1;O2),-1,2e6,7.74\n").encode(), filename="short.csv")
    assert raw.frame["RT"].dtype == np.float64 and raw.column_text("RT").tolist() == ["-1"]
    with pytest.raises(InputFormatError, match="RT outside"):
        validate_input(raw)
