"""Tests of the ``ganglioside-nb`` command line (FEATURES.md F2, STYLE.md §4).

The real CLI runs in-process through :func:`ganglioside_nb.cli.main` and, a few times, as
``python -m ganglioside_nb`` in a subprocess, on the bundled sample and on broken files.
Bad input: exit 2 and exactly one ``error:`` line on stderr, never a traceback.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from ganglioside_nb import __version__, cli
from ganglioside_nb.datasets import sample_path
from ganglioside_nb.io.export import read_csv_export

SAMPLE_SHA = hashlib.sha256(sample_path("testwork_user").read_bytes()).hexdigest()
GOOD_HEADER = "Name,RT,Volume,Log P,Anchor\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def _strict_json(path: Path) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON constant {token}")
    return json.loads(path.read_bytes(), parse_constant=refuse)


# -- broken input ----------------------------------------------------------------------------------
def _broken_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty": (tmp_path / "empty.csv", b""),
        "binary": (tmp_path / "binary.csv", bytes(range(256)) * 40),
        "not_xlsx": (tmp_path / "fake.xlsx", b"PK\x03\x04 not really a zip" * 10),
        "missing_column": (tmp_path / "no_logp.csv",
                           b"Name,RT,Volume,Anchor\nGD1(34:1;O2),7.588,530172,T\n"),
        "header_only": (tmp_path / "header.csv", GOOD_HEADER.encode()),
        "all_rows_bad": (tmp_path / "bad_rows.csv",
                         (GOOD_HEADER + "=GD1(34:1;O2),n/a,1,0.4,T\nXX,-1,1,0.4,maybe\n").encode()),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {name: path for name, (path, _) in files.items()}


@pytest.mark.parametrize("case", ["empty", "binary", "not_xlsx", "missing_column", "header_only",
                                  "all_rows_bad"])
def test_broken_files_give_one_error_line_and_exit_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    path = _broken_files(tmp_path)[case]
    code, out, err = _run(capsys, "analyze", str(path))
    line = _assert_one_error_line(err)
    assert code == 2, line
    assert "internal error" not in line
    assert out == ""


def test_missing_column_error_names_the_column(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    path = _broken_files(tmp_path)["missing_column"]
    code, _, err = _run(capsys, "analyze", str(path))
    assert code == 2
    assert "Log P" in _assert_one_error_line(err)


@pytest.mark.parametrize(("argv", "expected"), [
    (["analyze", "{missing}"], "the input file must exist. Got '.*missing.csv' instead"),
    (["analyze", "{folder}"], "is a folder"),
    (["analyze", "--sample", "--r2-threshold", "7"],
     r"'r2_threshold' parameter of AnalysisParams must be a number in the range \[0.5, 0.999\]"),
    (["analyze", "--sample", "--outlier-threshold", "-1"], "'outlier_threshold' parameter"),
    (["analyze", "--sample", "--rt-tolerance", "abc"], "argument --rt-tolerance: invalid float"),
    (["analyze", "--sample", "--mode", "fast"], "argument --mode: invalid choice: 'fast'"),
    (["analyze", "--sample", "-o", "{folder}/out.txt"], r"must end in \.csv, \.xlsx, \.json"),
    (["analyze", "--sample", "-o", "{folder}/no/such/dir/out.csv"], "output folder must exist"),
    (["analyze", "--sample", "-o", "{folder}"], "must end in"),
    (["analyze", "--sample", "--params", "{missing}"], "--params must name a readable JSON file"),
    (["analyze", "--sample", "--params", "{bad_json}"], "--params must name a readable JSON file"),
    (["analyze", "--sample", "--params", "{list_json}"], "must hold a JSON object"),
    (["analyze", "--sample", "--params", "{unknown_key}"], "unknown key.*'speed'"),
    (["analyze", "x.csv", "--sample"], "either INPUT or --sample, not both"),
    (["analyze"], "INPUT is required"),
    ([], "the following arguments are required: COMMAND"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["validate", "--sample", "--cv", "1"], "must be 'loo' or a whole number of folds >= 2"),
    (["validate", "--sample", "--cv", "many"], "must be 'loo' or a whole number"),
])
def test_bad_arguments_give_one_error_line_and_exit_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], expected: str) -> None:
    (tmp_path / "bad.json").write_text("{oops", encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "unknown.json").write_text('{"speed": 3}', encoding="utf-8")
    names = {"missing": str(tmp_path / "missing.csv"), "folder": str(tmp_path),
             "bad_json": str(tmp_path / "bad.json"), "list_json": str(tmp_path / "list.json"),
             "unknown_key": str(tmp_path / "unknown.json")}
    code, out, err = _run(capsys, *[a.format(**names) for a in argv])
    line = _assert_one_error_line(err)
    assert code == 2, line
    assert out == ""
    assert re.search(expected, line), line


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    code, _, err = _run(capsys, "--debug", "analyze", str(missing))
    assert code == 2
    assert "Traceback" in err
    assert err.splitlines()[-1].startswith("error: the input file must exist")


def test_unexpected_errors_exit_1_with_one_line(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Fault injection: an unexpected exception inside a command (not a stub of the analysis).
    def explode(args: Any) -> Any:
        raise RuntimeError("boom\nsecond line")
    monkeypatch.setattr(cli, "_params", explode)
    code, out, err = _run(capsys, "analyze", "--sample")
    assert code == 1
    assert _assert_one_error_line(err) == ("error: internal error: RuntimeError: boom second line "
                                           "(run with --debug for the traceback)")
    code, _, err = _run(capsys, "analyze", "--sample", "--debug")
    assert code == 1
    assert "Traceback" in err and "RuntimeError: boom" in err
    assert err.splitlines()[-1] == "error: internal error: RuntimeError: boom second line"

    def explode_long(args: Any) -> Any:  # e.g. a driver error quoting a whole SQL statement
        raise RuntimeError("INSERT INTO compound " + "(?, ?, ?) " * 200)
    monkeypatch.setattr(cli, "_params", explode_long)
    code, _, err = _run(capsys, "analyze", "--sample")
    line = _assert_one_error_line(err)
    assert code == 1 and line.startswith("error: internal error: RuntimeError: INSERT INTO compound (")
    assert "…" in line and len(line) < 400


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--version") == (0, f"ganglioside-nb {__version__}\n", "")
    code, out, err = _run(capsys, "analyze", "--help")
    assert code == 0 and err == ""
    assert "--r2-threshold" in out and "--sample" in out and "-o OUT" in out


# -- analyses --------------------------------------------------------------------------------------
def test_analyze_sample_prints_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "analyze", "--sample")
    assert (code, err) == (0, "")
    assert out.startswith(f"ganglioside_nb {__version__} - mode structural - input sha256 "
                          f"{SAMPLE_SHA[:12]}")
    assert "rows 323" in out
    assert "wrote" not in out


def test_analyze_writes_each_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    csv_path, xlsx_path, json_path = (tmp_path / "out.csv", tmp_path / "out.xlsx",
                                      tmp_path / "out.json")
    for path in (csv_path, xlsx_path, json_path):
        code, out, err = _run(capsys, "analyze", "sample", "-o", str(path), "--mode", "reference")
        assert (code, err) == (0, ""), err
        assert f"wrote {path}" in out

    frame, metadata = read_csv_export(csv_path)
    assert len(frame) == 323 and list(frame.columns[:6]) == ["row", "Name", "RT", "Volume",
                                                              "Log P", "Anchor"]
    assert frame["row"].tolist() == list(range(323))
    assert metadata["input_sha256"] == SAMPLE_SHA and metadata["version"] == __version__
    assert metadata["params"]["mode"] == "reference"
    sidecar = _strict_json(tmp_path / "out.meta.json")
    assert sidecar["input_sha256"] == SAMPLE_SHA
    assert sidecar["parameters"] == metadata["params"]

    document = _strict_json(json_path)
    assert document["input_sha256"] == SAMPLE_SHA
    assert document["parameters"]["mode"] == "reference"
    assert len(document["compounds"]) == 323
    assert [c["status"] for c in document["compounds"]] == frame["status"].tolist()
    # ALGORITHM.md §8: reference mode on the sample gives 149 valid, 174 outliers, 46.13 %.
    assert (document["statistics"]["valid"], document["statistics"]["outliers"]) == (149, 174)

    workbook = load_workbook(io.BytesIO(xlsx_path.read_bytes()))
    assert workbook.sheetnames[:5] == ["compounds", "models", "statistics", "parameters",
                                       "input_report"]
    assert workbook["compounds"].max_row == 324
    parameters = {r[0]: r[1] for r in workbook["parameters"].iter_rows(values_only=True)}
    assert parameters["input_sha256"] == SAMPLE_SHA and parameters["mode"] == "reference"


def test_analyze_options_reach_the_parameters(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps({"mode": "reference", "r2_threshold": 0.75,
                                       "rt_tolerance": 0.2}), encoding="utf-8")
    out_path = tmp_path / "run.json"
    code, _, err = _run(capsys, "analyze", "--sample", "--params", str(params_file),
                        "--r2-threshold", "0.8", "--outlier-threshold", "3", "--chromatography", "hilic",
                        "-o", str(out_path))
    assert (code, err) == (0, "")
    parameters = _strict_json(out_path)["parameters"]
    assert (parameters["mode"], parameters["r2_threshold"], parameters["outlier_threshold"],
            parameters["rt_tolerance"], parameters["chromatography"]) == ("reference", 0.8, 3.0, 0.2, "hilic")
    assert _strict_json(out_path)["warnings"][0].startswith("Chromatography is HILIC")
    # A JSON export is itself a valid --params file: the same parameters again.
    again = tmp_path / "again.json"
    assert _run(capsys, "analyze", "--sample", "--params", str(out_path), "-o", str(again))[0] == 0
    assert _strict_json(again)["parameters"] == parameters


def test_the_same_analysis_exports_identical_bytes(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv", "a.json", "b.json"):
        assert _run(capsys, "analyze", "--sample", "-o", str(tmp_path / name))[0] == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_validate_prints_per_model_and_overall_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "validate", "--sample", "--mode", "reference")
    assert (code, err) == (0, "")
    header, *rest = out.splitlines()
    assert header.split() == ["model", "n_anchors", "r2", "rmse", "mae", "max_error"]
    assert any(line.split()[0] == "GD1" for line in rest[:-1])
    assert rest[-1].startswith("overall (") and "R² " in rest[-1] and "MAE " in rest[-1]
    assert "max error " in rest[-1]
    code, out, err = _run(capsys, "validate", "sample", "--cv", "5")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].startswith("overall (")


# -- as a program ----------------------------------------------------------------------------------
def _program(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ganglioside_nb", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def test_program_analyzes_the_sample(tmp_path: Path) -> None:
    done = _program("analyze", "sample", "-o", "out.json", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert "rows 323" in done.stdout and "wrote out.json" in done.stdout
    assert len(_strict_json(tmp_path / "out.json")["compounds"]) == 323


def test_program_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    done = _program("analyze", str(_broken_files(tmp_path)["binary"]), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    _assert_one_error_line(done.stderr)
    assert done.stdout == ""


def test_demo_analyses_the_sample_and_writes_an_xlsx(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "demo")
    assert code == 0 and "valid 167" in out and out.rstrip().endswith("wrote ganglioside-demo.xlsx")
    assert load_workbook(tmp_path / "ganglioside-demo.xlsx")["compounds"].max_row == 324
    code, _, err = _run(capsys, "demo", "--out", "demo.csv")
    line = _assert_one_error_line(err)
    assert code == 2 and line == "error: --out must end in .xlsx. Got 'demo.csv' instead"


def test_app_takes_the_app_to_open_and_no_browser() -> None:
    parser = cli._build_parser()
    args = parser.parse_args(["app", "history", "--no-browser", "--port", "0"])
    assert (args.which, args.no_browser, args.open, args.port) == ("history", True, None, 0)
    assert parser.parse_args(["app"]).which is None
