"""Tests of ganglioside_nb.io.export: CSV, XLSX and JSON (ALGORITHM.md §7, FEATURES.md E1-E5).

The result is built by hand (:func:`_result`) so the exports are tested without the pipeline:
text cells that begin with every formula trigger, negative numbers, NaN, pandas NA, inf, numpy
integers, booleans, list cells (``member_rows``) and mapping cells (``coefficients``).
"""

from __future__ import annotations

import copy
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from ganglioside_nb.core.results import AnalysisResult, InputReport
from ganglioside_nb.errors import InputFormatError, InvalidParameterError
from ganglioside_nb.io import export as ex
from ganglioside_nb.params import AnalysisParams

SHA = "ab" * 32
TRIGGER_TEXTS = ["=SUM(A1:A2)", "+1 cmd", "-OAc shift", "@import", "\tTAB", "\rCR", "|calc"]
SHEETS = ["compounds", "models", "statistics", "parameters", "input_report", "oac_pairs",
          "fragment_events", "validation"]


def _result(*, with_cr: bool = True) -> AnalysisResult:
    """A small, realistic result; ``with_cr=False`` leaves out the carriage-return cell."""
    reasons = [""] + TRIGGER_TEXTS + ["''=already quoted"]
    if not with_cr:
        reasons = [r.replace("\r", "") for r in reasons]
    n = len(reasons)  # 9 rows
    compounds = pd.DataFrame({
        "row": np.arange(n, dtype=np.int64),
        "Name": pd.array(["GD1(34:1;O2)", "GD1(36:1;O2)", "GM3(34:1;O2)", "GM3(36:1;O2)",
                          "GT1(36:1;O2)", "GD3(34:1;O2)", "GD1+OAc(36:1;O2)", "GM1(36:1;O2)",
                          "=HYPERLINK(\"x\")"], dtype="str"),
        "RT": [7.588, 9.1, 10.25, 0.1 + 0.2, 8.0, 6.5, 9.3, 8.8, np.nan],
        "Volume": [530172.0, 1e15, 0.0, 12.5, 3.0, 4.0, 5.0, 6.0, np.nan],
        "Log P": [0.44, -1.25, -0.5, 2.0, -9.75, 1.0, 1.5, 0.75, np.nan],
        "Anchor": [True, False, True, False, True, False, False, True, False],
        "prefix": pd.array(["GD1", "GD1", "GM3", "GM3", "GT1", "GD3", "GD1+OAc", "GM1", None],
                           dtype="str"),
        "sialic_acids": np.array([2, 2, 1, 1, 3, 2, 2, 1, 0], dtype=np.int64),
        "status": pd.array(["valid", "outlier", "valid", "fragment", "valid", "outlier",
                            "valid", "valid", "rejected"], dtype="str"),
        "predicted_rt": [7.9, 9.0, 10.3, 8.1, np.inf, 6.2, 9.25, 8.7, np.nan],
        "z": [-0.57, 3.2, -2.5, np.nan, 0.0, -3.75, 0.1, -0.2, np.nan],
        "model": pd.array(["structural:GD1", "-GD1", "structural:GM3", "", "+x", "@y", "=z",
                           "structural:GM1", ""], dtype="str"),
        "n_anchors_model": np.array([5, 5, 4, 0, 3, 3, 5, 4, 0], dtype=np.int64),
        "reason": pd.array(reasons, dtype="str"),
        "flags": pd.array(["", "possible_fragment", "", "", "-note", "", "", "", ""], dtype="str"),
        "parent_row": pd.array([pd.NA, pd.NA, pd.NA, 0, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA],
                               dtype="Int64"),
        "confidence": [0.95, 0.4, 1.0, 0.0, 0.8, 0.3, 0.9, 1.0, np.nan],
        "=carried": pd.Series([np.int64(3), "=1+2", None, "'-x", pd.NA, 2.5, "plain", "-7",
                               True], dtype=object),
    })
    models = pd.DataFrame({
        "model": ["structural:GD1", "GM3", "-GT1"],
        "mode": ["structural"] * 3,
        "scope": ["prefix", "prefix", "prefix"],
        "features": [["Log P", "a"], ["Log P"], []],
        "coefficients": [{"Log P": np.float64(1.25), "a": np.float64(-0.03)},
                         {"Log P": np.float64(np.nan)}, {}],
        "intercept": [5.5, -2.0, np.nan],
        "n_anchors": np.array([5, 4, 1], dtype=np.int64),
        "r2": [0.98, 0.71, np.nan],
        "accepted": [True, True, False],
        "reason": ["", "", "=fewer than 3 anchors"],
    })
    entries = pd.DataFrame({"row": np.array([8, 8], dtype=np.int64),
                            "line": np.array([10, 10], dtype=np.int64),
                            "column": ["RT", "Log P"], "value": ["-5", "+inf"],
                            "reason": ["RT must be in (0, 120]. Got -5 instead.",
                                       "Log P must be finite. Got '+inf' instead."]})
    report = InputReport(entries, total_rows=n, column_mapping={"Retention Time": "RT"},
                         filename="peaks.csv", notes=("1 blank line skipped",))
    oac_pairs = pd.DataFrame({"oac_row": np.array([6], dtype=np.int64),
                              "base_row": np.array([1], dtype=np.int64), "kind": ["full"],
                              "rt_shift": [-0.25], "increase": [False]})
    fragment_events = pd.DataFrame({
        "event": np.array([0], dtype=np.int64), "ceramide": ["34:1;O2"],
        "parent_row": np.array([0], dtype=np.int64),
        "member_rows": pd.Series([[np.int64(0), np.int64(3)]], dtype=object),
        "rt_min": [7.588], "rt_max": [7.59], "consolidated_volume": [530184.5]})
    validation = pd.DataFrame({"row": np.array([0, 2, 4], dtype=np.int64),
                               "model": ["structural:GD1", "structural:GM3", "structural:GT1"],
                               "observed": [7.588, 10.25, 8.0],
                               "predicted": [7.6, np.nan, 7.9],
                               "residual": [-0.012, np.nan, 0.1]})
    statistics = {"total_rows": n, "rejected_rows": np.int64(1), "analysed_rows": np.int64(8),
                  "anchors": 4, "valid": 5, "outliers": 2, "fragments": 1,
                  "success_rate": np.float64(62.5), "coverage": 100.0, "oos_r2": np.float64(0.97),
                  "oos_mae": 0.08, "oos_max_error": np.float64(np.nan), "mode": "structural",
                  "flag_counts": {"possible_fragment": np.int64(1)},
                  "rules": {"check_sugar_rt": {"GD1": {"r": np.float64(0.5), "p": math.nan}}},
                  "per_prefix": [np.int64(1), 2]}
    provenance = {"version": "0.1.0", "input_sha256": SHA, "timestamp": "2026-01-02T03:04:05Z",
                  "source": "peaks.csv", "libraries": {"numpy": np.__version__},
                  "elapsed_seconds": 1.25}
    return AnalysisResult(compounds=compounds, models=models, input_report=report,
                          oac_pairs=oac_pairs, fragment_events=fragment_events,
                          validation=validation, statistics=statistics,
                          params=AnalysisParams(mode="structural", rt_tolerance=0.05,
                                                fragment_tight_rt=0.02),
                          warnings=("=HYPERLINK warning", "GT1 has fewer than 3 anchors"),
                          provenance=provenance)


def _snapshot(result: AnalysisResult) -> dict[str, Any]:
    return {"frames": {k: v.copy(deep=True) for k, v in result.to_frames().items()},
            "cells": copy.deepcopy([result.models["coefficients"].tolist(),
                                    result.models["features"].tolist(),
                                    result.fragment_events["member_rows"].tolist()]),
            "statistics": copy.deepcopy(result.statistics),
            "provenance": copy.deepcopy(result.provenance)}


def _strict_loads(data: bytes) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON constant {token}")
    return json.loads(data, parse_constant=refuse)


def _all_xlsx_values(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    workbook = load_workbook(io.BytesIO(data))  # not read_only: it drops trailing empty cells
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)]
            for ws in workbook.worksheets}


# -- escaping --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [*TRIGGER_TEXTS, "'=x", "''+y"])
def test_escape_text_prefixes_one_apostrophe(text: str) -> None:
    assert ex.escape_text(text) == "'" + text
    assert ex._unescape_text(ex.escape_text(text)) == text


@pytest.mark.parametrize("text", ["GD1(34:1;O2)", "", "'quoted'", "a=b", " =lead space", "1-2"])
def test_escape_text_leaves_harmless_text(text: str) -> None:
    assert ex.escape_text(text) == text
    assert ex._unescape_text(text) == text


@pytest.mark.parametrize("series", [
    pd.Series([1.5, -2.0, np.nan, np.inf]),
    pd.Series([-3, 4], dtype=np.int64),
    pd.Series([True, False]),
    pd.Series(["=a", None, "b", "-c"], dtype="str"),
    pd.array([1, pd.NA], dtype="Int64"),
    pd.array([True, pd.NA], dtype="boolean"),
])
def test_fast_column_paths_match_the_per_cell_path(series: Any) -> None:
    series = pd.Series(series)
    generic = [ex._plain(v) for v in series.to_numpy(dtype=object)]
    assert ex._column_values(series) == generic
    cells = ex._text_cells(series).to_numpy(dtype=object).tolist()
    per_cell = [ex.escape_text(v) if isinstance(v, str) else v
                for v in series.to_numpy(dtype=object)]
    assert [ex._plain(c) for c in cells] == [ex._plain(c) for c in per_cell]


# -- CSV -------------------------------------------------------------------------------------------
def test_csv_starts_with_metadata_lines() -> None:
    result = _result()
    lines = ex.to_csv(result).decode("utf-8").split("\n")
    assert lines[0] == "# ganglioside_nb 0.1.0"
    assert lines[1] == f"# input_sha256 {SHA}"
    assert lines[2].startswith("# params {")
    assert json.loads(lines[2][len("# params "):]) == result.params.to_dict()
    assert ", " not in lines[2] and lines[2].index('"fragment_policy"') < lines[2].index('"mode"')
    kinds = json.loads(lines[3][len("# columns "):])
    assert kinds == {"row": "int", "Name": "text", "RT": "float", "Volume": "float",
                     "Log P": "float", "Anchor": "bool", "prefix": "text", "sialic_acids": "int",
                     "status": "text", "predicted_rt": "float", "z": "float", "model": "text",
                     "n_anchors_model": "int", "reason": "text", "flags": "text",
                     "parent_row": "Int64", "confidence": "float", "=carried": "object"}
    assert lines[4].startswith('"row","Name","RT"')
    assert lines[-1] == ""  # ends with one '\n'


def test_csv_escapes_text_cells_but_never_numbers() -> None:
    text = ex.to_csv(_result()).decode("utf-8")
    for trigger_text in TRIGGER_TEXTS:
        assert f"\"'{trigger_text}\"" in text
    assert "\"'''=already quoted\"" in text
    assert '"\'=carried"' in text  # header cell
    assert '"\'=HYPERLINK(""x"")"' in text
    assert ",-1.25," in text and ",-9.75," in text and ",-0.57," in text  # bare negative numbers
    assert "'-1.25" not in text and "'-0.57" not in text
    assert "\"'-7\"" in text and "\"'-x\"" not in text and "\"''-x\"" in text


def test_csv_round_trips_through_read_csv_export() -> None:
    result = _result()
    frame, metadata = ex.read_csv_export(ex.to_csv(result))
    assert metadata == {"version": "0.1.0", "input_sha256": SHA,
                        "params": result.params.to_dict()}
    # Exact for every typed column, text included (a missing text cell comes back as "").
    expected = result.compounds.drop(columns="=carried")
    expected = expected.assign(prefix=expected["prefix"].fillna(""))
    pd.testing.assert_frame_equal(frame.drop(columns="=carried"), expected, check_exact=True)
    # A column of mixed values comes back as text (CSV has no per-cell types), unescaped.
    assert frame["=carried"].tolist() == ["3", "=1+2", np.nan, "'-x", np.nan, "2.5", "plain",
                                          "-7", "True"]


def test_csv_round_trips_text_that_looks_like_numbers() -> None:
    result = _result()
    compounds = result.compounds.assign(
        flags=pd.array(["3.10", "-5", "nan", "", "True", "1e3", "NA", "0", "+1"], dtype="str"),
        prefix=pd.array([""] * 9, dtype="str"), parent_row=pd.array([None] * 9, dtype="Int64"))
    changed = AnalysisResult(**{**result.__dict__, "compounds": compounds})
    frame, _ = ex.read_csv_export(ex.to_csv(changed))
    pd.testing.assert_frame_equal(frame.drop(columns="=carried"),
                                  compounds.drop(columns="=carried"), check_exact=True)


def test_csv_round_trip_without_carriage_return_and_from_a_path(tmp_path: Path) -> None:
    result = _result(with_cr=False)
    path = tmp_path / "out.csv"
    path.write_bytes(ex.to_csv(result))
    frame, metadata = ex.read_csv_export(path)
    assert metadata["input_sha256"] == SHA
    assert frame["reason"].tolist() == result.compounds["reason"].tolist()
    with path.open("rb") as handle:
        again, _ = ex.read_csv_export(handle)
    pd.testing.assert_frame_equal(frame, again)
    with path.open(encoding="utf-8", newline="") as handle:
        text_mode, _ = ex.read_csv_export(handle)
    pd.testing.assert_frame_equal(frame, text_mode)


def test_csv_without_the_columns_line_is_inferred() -> None:
    lines = ex.to_csv(_result()).split(b"\n")
    frame, metadata = ex.read_csv_export(b"\n".join(lines[:3] + lines[4:]))
    assert metadata["input_sha256"] == SHA
    assert frame["reason"].tolist()[:3] == [np.nan, "=SUM(A1:A2)", "+1 cmd"]
    assert frame["parent_row"].dtype == np.float64


def test_csv_reads_with_plain_pandas() -> None:
    frame = pd.read_csv(io.BytesIO(ex.to_csv(_result())), comment="#")
    assert frame.shape == _result().compounds.shape
    assert frame["Log P"].tolist()[:2] == [0.44, -1.25]
    assert frame["reason"].tolist()[3] == "'-OAc shift"  # plain pandas keeps the apostrophe


def test_read_csv_export_refuses_other_text() -> None:
    with pytest.raises(InputFormatError, match="must begin with the lines '# ganglioside_nb"):
        ex.read_csv_export(b"Name,RT\nGD1(34:1;O2),7.5\n")
    with pytest.raises(InputFormatError, match="'# params' line of a CSV export must hold"):
        ex.read_csv_export(b"# ganglioside_nb 0.1.0\n# input_sha256 ab\n# params {oops\nrow\n0\n")
    with pytest.raises(InputFormatError, match="must have a header line"):
        ex.read_csv_export(b"# ganglioside_nb 0.1.0\n# input_sha256 ab\n# params {}\n")


# -- JSON ------------------------------------------------------------------------------------------
def test_json_is_strict_and_complete() -> None:
    result = _result()
    data = ex.to_json(result)
    document = _strict_loads(data)
    json.dumps(document, allow_nan=False)  # proves no NaN / Infinity survived
    assert b"NaN" not in data and b"Infinity" not in data
    assert list(document) == ["schema_version", "package", "version", "input_sha256",
                              "parameters", "provenance", "statistics", "warnings", "models",
                              "compounds", "input_report", "oac_pairs", "fragment_events",
                              "validation"]
    assert document["schema_version"] == 1
    assert document["package"] == "ganglioside_nb"
    assert document["version"] == "0.1.0"
    assert document["input_sha256"] == SHA
    assert document["parameters"] == result.params.to_dict()
    assert document["provenance"] == {"source": "peaks.csv",
                                      "libraries": {"numpy": np.__version__}}
    assert document["warnings"] == list(result.warnings)


def test_json_values_are_plain_and_unescaped() -> None:
    document = _strict_loads(ex.to_json(_result()))
    compounds = document["compounds"]
    assert len(compounds) == 9
    assert list(compounds[0]) == list(_result().compounds.columns)
    first = compounds[0]
    assert first["row"] == 0 and isinstance(first["row"], int)
    assert first["Anchor"] is True and first["parent_row"] is None
    assert first["Log P"] == 0.44 and compounds[1]["Log P"] == -1.25
    assert compounds[3]["parent_row"] == 0
    assert compounds[4]["predicted_rt"] is None  # inf
    assert compounds[8]["RT"] is None and compounds[8]["prefix"] is None
    assert [c["reason"] for c in compounds[1:8]] == TRIGGER_TEXTS  # never escaped
    assert compounds[8]["Name"] == '=HYPERLINK("x")'
    assert [c["=carried"] for c in compounds] == [3, "=1+2", None, "'-x", None, 2.5, "plain",
                                                  "-7", True]
    models = document["models"]
    assert models[0]["coefficients"] == {"Log P": 1.25, "a": -0.03}
    assert models[1]["coefficients"] == {"Log P": None}
    assert models[0]["features"] == ["Log P", "a"] and models[2]["features"] == []
    assert models[2]["accepted"] is False and models[2]["r2"] is None
    assert document["fragment_events"][0]["member_rows"] == [0, 3]
    assert document["oac_pairs"] == [{"oac_row": 6, "base_row": 1, "kind": "full",
                                      "rt_shift": -0.25, "increase": False}]
    assert document["validation"][1]["predicted"] is None
    statistics = document["statistics"]
    assert statistics["rejected_rows"] == 1 and statistics["oos_max_error"] is None
    assert statistics["rules"] == {"check_sugar_rt": {"GD1": {"r": 0.5, "p": None}}}
    assert statistics["per_prefix"] == [1, 2]
    report = document["input_report"]
    assert report["total_rows"] == 9 and report["n_rejected"] == 1
    assert report["filename"] == "peaks.csv"
    assert report["column_mapping"] == {"Retention Time": "RT"}
    assert report["entries"][0] == {"row": 8, "line": 10, "column": "RT", "value": "-5",
                                    "reason": "RT must be in (0, 120]. Got -5 instead."}


def test_json_of_large_table_is_chunked_correctly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ex, "_JSON_CHUNK_ROWS", 2)
    document = _strict_loads(ex.to_json(_result()))
    assert [c["row"] for c in document["compounds"]] == list(range(9))


def test_json_refuses_unknown_cell_types() -> None:
    with pytest.raises(TypeError, match="Export cells must be text, numbers"):
        ex._plain(object())


# -- XLSX ------------------------------------------------------------------------------------------
def test_xlsx_has_every_sheet_with_typed_cells() -> None:
    result = _result()
    sheets = _all_xlsx_values(ex.to_xlsx(result))
    assert list(sheets) == SHEETS
    header, *rows = sheets["compounds"]
    assert header == tuple(ex.escape_text(str(c)) for c in result.compounds.columns)
    assert header[-1] == "'=carried"
    assert len(rows) == 9
    col = {name: i for i, name in enumerate(header)}
    assert [r[col["Log P"]] for r in rows[:2]] == [0.44, -1.25]
    assert isinstance(rows[1][col["z"]], float) and rows[1][col["z"]] == 3.2
    assert rows[0][col["row"]] == 0 and isinstance(rows[0][col["row"]], int)
    assert rows[0][col["Anchor"]] is True and rows[1][col["Anchor"]] is False
    assert rows[3][col["z"]] is None and rows[4][col["predicted_rt"]] is None  # NaN, inf
    assert rows[0][col["parent_row"]] is None and rows[3][col["parent_row"]] == 0
    # XML parsers normalise a CR in cell text to LF; the apostrophe is what matters.
    assert [r[col["reason"]] for r in rows[1:8]] == ["'" + t.replace("\r", "\n")
                                                     for t in TRIGGER_TEXTS]
    assert rows[8][col["reason"]] == "'''=already quoted"
    assert [r[col["model"]] for r in rows[1:7]] == ["'-GD1", "structural:GM3", None, "'+x",
                                                    "'@y", "'=z"]
    assert [r[col["'=carried"]] for r in rows] == [3, "'=1+2", None, "''-x", None, 2.5, "plain",
                                                   "'-7", True]


def test_xlsx_reads_with_pandas() -> None:
    frames = pd.read_excel(io.BytesIO(ex.to_xlsx(_result())), sheet_name=None)
    assert list(frames) == SHEETS
    assert frames["compounds"].shape == _result().compounds.shape
    assert frames["compounds"]["Log P"].tolist()[:2] == [0.44, -1.25]


def test_xlsx_never_leaves_a_formula_like_text_cell() -> None:
    sheets = _all_xlsx_values(ex.to_xlsx(_result()))
    texts = [v for rows in sheets.values() for row in rows for v in row if isinstance(v, str)]
    assert texts
    assert [t for t in texts if t[:1] in ex.FORMULA_TRIGGERS] == []
    numbers = [v for row in sheets["compounds"][1:] for v in row
               if isinstance(v, float) and v < 0]
    assert -1.25 in numbers and -9.75 in numbers


def test_xlsx_tables_metadata_and_mappings() -> None:
    result = _result()
    sheets = _all_xlsx_values(ex.to_xlsx(result))
    parameters = dict(sheets["parameters"][1:])
    assert sheets["parameters"][0] == ("parameter", "value")
    assert parameters["package"] == "ganglioside_nb"
    assert parameters["version"] == "0.1.0"
    assert parameters["input_sha256"] == SHA
    assert parameters["rt_tolerance"] == 0.05 and parameters["mode"] == "structural"
    assert json.loads(parameters["oac_shift_note_range"]) == [0.01, 3.0]
    assert parameters["provenance.source"] == "peaks.csv"
    assert not any("timestamp" in k or "elapsed" in k for k in parameters)
    statistics = sheets["statistics"][1:]
    stats = dict(statistics)
    assert stats["rejected_rows"] == 1 and stats["success_rate"] == 62.5
    assert stats["oos_max_error"] is None
    assert stats["rules.check_sugar_rt.GD1.r"] == 0.5
    assert stats["flag_counts.possible_fragment"] == 1
    assert json.loads(stats["per_prefix"]) == [1, 2]
    assert [v for k, v in statistics if k == "warning"] == ["'=HYPERLINK warning",
                                                           "GT1 has fewer than 3 anchors"]
    models = sheets["models"]
    mcol = {name: i for i, name in enumerate(models[0])}
    assert json.loads(models[1][mcol["coefficients"]]) == {"Log P": 1.25, "a": -0.03}
    assert json.loads(models[2][mcol["coefficients"]]) == {"Log P": None}
    assert models[1][mcol["features"]] == '["Log P", "a"]'
    assert models[3][mcol["model"]] == "'-GT1"
    events = sheets["fragment_events"]
    assert json.loads(events[1][events[0].index("member_rows")]) == [0, 3]
    report = sheets["input_report"]
    assert report[0] == ("row", "line", "column", "value", "reason")
    assert report[1][:4] == (8, 10, "RT", "'-5") and report[2][3] == "'+inf"
    assert sheets["oac_pairs"][1] == (6, 1, "full", -0.25, False)
    assert sheets["validation"][2][3] is None


def test_xlsx_replaces_characters_xml_cannot_hold() -> None:
    result = _result()
    compounds = result.compounds.assign(flags=result.compounds["flags"].str.cat(
        pd.Series(["\x01"] * 9, dtype="str")))
    broken = AnalysisResult(**{**result.__dict__, "compounds": compounds})
    sheets = _all_xlsx_values(ex.to_xlsx(broken))
    flags = sheets["compounds"][0].index("flags")
    assert sheets["compounds"][1][flags] == "\ufffd"


def test_xlsx_refuses_tables_above_the_sheet_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ex, "_XLSX_MAX_ROWS", 9)
    with pytest.raises(InvalidParameterError, match="compounds table must have at most 8 rows"):
        ex.to_xlsx(_result())


# -- determinism and immutability ------------------------------------------------------------------
def test_exports_are_byte_identical_when_repeated() -> None:
    result = _result()
    assert ex.to_csv(result) == ex.to_csv(result)
    assert ex.to_json(result) == ex.to_json(result)
    first, second = ex.to_xlsx(result), ex.to_xlsx(_result())
    assert first == second
    assert ex.to_csv_sidecar(result) == ex.to_csv_sidecar(_result())


def test_exports_contain_no_timestamp() -> None:
    result = _result()
    for data in (ex.to_csv(result), ex.to_json(result), ex.to_csv_sidecar(result)):
        assert b"2026-01-02" not in data and b"elapsed" not in data
    with zipfile.ZipFile(io.BytesIO(ex.to_xlsx(result))) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml")
        assert b"dcterms:created" not in core and b"dcterms:modified" not in core
        assert not any(b"2026-01-02" in archive.read(n) for n in archive.namelist())


def test_exports_do_not_alter_the_result() -> None:
    result = _result()
    before = _snapshot(result)
    ex.to_csv(result), ex.to_xlsx(result), ex.to_json(result), ex.to_csv_sidecar(result)
    after = _snapshot(result)
    for name, frame in before["frames"].items():
        pd.testing.assert_frame_equal(after["frames"][name], frame, check_exact=True)
    assert result.compounds["reason"].tolist()[1:8] == TRIGGER_TEXTS
    assert after["cells"][0][0] == {"Log P": np.float64(1.25), "a": np.float64(-0.03)}
    assert math.isnan(after["cells"][0][1]["Log P"])
    assert after["cells"][1:] == before["cells"][1:]
    assert after["provenance"] == before["provenance"]
    assert json.dumps(after["statistics"], default=str) == json.dumps(before["statistics"],
                                                                      default=str)


# -- export(path) ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["out.csv", "out.xlsx", "out.json", "OUT.JSON"])
def test_export_picks_the_format_from_the_extension(tmp_path: Path, name: str) -> None:
    result = _result()
    written = ex.export(result, tmp_path / name)
    assert written == [tmp_path / name]
    data = (tmp_path / name).read_bytes()
    expected = {".csv": ex.to_csv, ".xlsx": ex.to_xlsx, ".json": ex.to_json}
    assert data == expected[Path(name).suffix.lower()](result)


def test_export_writes_the_csv_sidecar_on_request(tmp_path: Path) -> None:
    result = _result()
    written = ex.export(result, tmp_path / "peaks.csv", sidecar=True)
    assert written == [tmp_path / "peaks.csv", tmp_path / "peaks.meta.json"]
    sidecar = _strict_loads((tmp_path / "peaks.meta.json").read_bytes())
    assert sidecar["parameters"] == result.params.to_dict()
    assert sidecar["input_sha256"] == SHA and sidecar["version"] == "0.1.0"
    assert sidecar["statistics"]["oos_max_error"] is None
    assert ex.export(result, tmp_path / "x.json", sidecar=True) == [tmp_path / "x.json"]


def test_export_refuses_an_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"must end in \.csv, \.xlsx, \.json\. Got"):
        ex.export(_result(), tmp_path / "out.txt")
    assert list(tmp_path.iterdir()) == []


def test_result_methods_delegate_to_the_exports(tmp_path: Path) -> None:
    result = _result()
    assert result.to_json() == ex.to_json(result)
    assert result.to_csv(tmp_path / "r.csv") == (tmp_path / "r.csv").read_bytes()
    assert result.to_xlsx() == ex.to_xlsx(result)


# -- a real analysis -------------------------------------------------------------------------------
def test_exports_of_the_sample_analysis() -> None:
    from ganglioside_nb import analyze, datasets

    result = analyze(datasets.sample_path("testwork_user"), mode="reference")
    frame, metadata = ex.read_csv_export(ex.to_csv(result))
    pd.testing.assert_frame_equal(frame, result.compounds, check_exact=True)
    assert metadata["input_sha256"] == result.input_sha256
    document = _strict_loads(ex.to_json(result))
    assert [c["status"] for c in document["compounds"]] == result.compounds["status"].tolist()
    assert document["statistics"]["valid"] == result.statistics["valid"]
    models = {m["model"]: m for m in document["models"]}
    coefficients = result.models.set_index("model").at["GD1", "coefficients"]
    assert models["GD1"]["coefficients"] == {k: float(v) for k, v in coefficients.items()}
    assert [e["member_rows"] for e in document["fragment_events"]] == [
        [int(v) for v in rows] for rows in result.fragment_events["member_rows"]]
    sheets = _all_xlsx_values(ex.to_xlsx(result))
    assert list(sheets) == SHEETS
    assert len(sheets["compounds"]) == len(result.compounds) + 1
    assert len(sheets["models"]) == len(result.models) + 1
