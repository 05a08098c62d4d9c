"""``%load_ext ganglioside_nb`` in a real IPython shell (in process): the line and cell magics,
their errors (one line, no traceback) and ``--save``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import ganglioside_nb as gnb
from ganglioside_nb.persistence import Repository


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "ganglioside_nb")
    yield ip


def test_line_magic_analyses_the_sample_and_stores_the_result(shell: InteractiveShell) -> None:
    result = shell.run_line_magic("ganglioside", "analyze sample -o r1")
    assert isinstance(result, gnb.AnalysisResult) and shell.user_ns["r1"] is result
    assert result.statistics["valid"] == 167


def test_analyze_may_be_left_out(shell: InteractiveShell) -> None:
    result = shell.run_line_magic("ganglioside", "sample --mode reference -o r2")
    assert result.mode == "reference" and shell.user_ns["r2"] is result
    assert result.statistics["valid"] == 149  # the golden reference verdicts


def test_line_magic_takes_a_dataframe_name_and_options(shell: InteractiveShell) -> None:
    shell.user_ns["peaks"] = gnb.datasets.load_sample()
    result = shell.run_line_magic("ganglioside", "analyze peaks --mode reference --r2-threshold 0.8")
    assert result.mode == "reference" and result.params.r2_threshold == 0.8


def test_cell_magic_reads_csv_text_or_a_dataframe_name(shell: InteractiveShell) -> None:
    text = gnb.datasets.sample_path("testwork").read_text(encoding="utf-8-sig")
    result = shell.run_cell_magic("ganglioside", "--mode reference -o small", text)
    assert len(result.compounds) == 5 and shell.user_ns["small"] is result
    shell.user_ns["frame"] = gnb.datasets.load_sample("testwork")
    assert len(shell.run_cell_magic("ganglioside", "", "frame\n").compounds) == 5


@pytest.mark.parametrize("line, expected", [
    ("analyze /no/such/file.csv", "error: "),
    ("analyze sample --name x", "error: %ganglioside: --name only applies with --save"),
    ("analyze sample --mode fancy", "error: %ganglioside: argument --mode: invalid choice"),
    ("frobnicate", "error: File 'frobnicate' must be an existing file"),  # read as a SOURCE
    ("--frobnicate", "error: %ganglioside: the following arguments are required: command"),
    ("analyze sample --rt-tolerance 9", "error: The 'rt_tolerance' parameter of AnalysisParams must be"),
])
def test_errors_are_one_line(shell: InteractiveShell, capsys: pytest.CaptureFixture[str], line: str,
                             expected: str) -> None:
    assert shell.run_line_magic("ganglioside", line) is None
    err = capsys.readouterr().err
    assert err.startswith(expected) and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_save_stores_a_session(shell: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'magic.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("GANGLIOSIDE_NB_OWNER", "magic")
    result = shell.run_line_magic("ganglioside", 'analyze sample --save --name "from a magic"')
    out = capsys.readouterr().out
    sessions = Repository(url, owner="magic").list_sessions()
    assert [(s.name, s.status) for s in sessions] == [("from a magic", "completed")]
    assert f"saved session {sessions[0].id}" in out
    assert len(result.compounds) == 323
