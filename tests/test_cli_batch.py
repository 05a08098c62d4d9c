"""``ganglioside-nb batch`` and ``ganglioside-nb health`` as programs: a real local cluster in
the child process, an external scheduler address, the database written by the workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ganglioside_nb import __version__
from ganglioside_nb.persistence import Repository
from tests.conftest import SAMPLE_5


def _program(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **(env or {})}
    environ.pop("GANGLIOSIDE_DASK_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", "ganglioside_nb", *argv], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=240, check=False)


def _table(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines()[1:]:
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[1] in ("completed", "failed", "cancelled"):
            rows.setdefault(parts[0], []).append(line)
    return rows


def test_batch_on_a_local_cluster_exports_each_result(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "cols.csv").write_text("Name,RT\nGM1(36:1;O2),10\n")
    done = _program("batch", "sample", str(SAMPLE_5), "cols.csv", "gone.csv", "-o", "out",
                    "--format", "xlsx", "--mode", "reference", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    err = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert err == ["error: 2 of 4 input(s) failed (see the table above)"]
    assert "Traceback" not in done.stderr
    table = _table(done.stdout)
    sample_row = table["testwork_user.csv"][0]
    assert "completed" in sample_row and "149 valid, 174 outliers" in sample_row
    assert "completed" in table["testwork.csv"][0]
    assert "failed" in table["cols.csv"][0] and "Volume" in table["cols.csv"][0]
    assert "failed" in table["gone.csv"][0] and "readable" in table["gone.csv"][0]
    assert done.stdout.splitlines()[-1] == "2 completed, 2 failed (dask)"
    book = load_workbook(tmp_path / "out" / "testwork_user.xlsx")
    assert book["compounds"].max_row == 324
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["testwork.xlsx", "testwork_user.xlsx"]


def test_batch_save_stores_sessions_written_by_the_workers(tmp_path: Path, database_url) -> None:  # type: ignore[no-untyped-def]
    url = str(database_url) if isinstance(database_url, str) \
        else database_url.render_as_string(hide_password=False)
    owner = f"cli-{os.getpid()}-{tmp_path.name}"
    done = _program("batch", str(SAMPLE_5), str(SAMPLE_5), "--save", "--database", url, "--no-progress",
                    cwd=tmp_path, env={"GANGLIOSIDE_NB_OWNER": owner})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "2 completed (dask)"
    sessions = Repository(url, owner=owner).list_sessions()
    assert [s.status for s in sessions] == ["completed", "completed"]
    assert all(s.task_key and s.task_key.startswith(f"session-{s.id}-") for s in sessions)
    assert {f"session {s.id}" for s in sessions} <= {line.split("  ")[-1].strip()
                                                     for line in done.stdout.splitlines()}


def test_batch_in_process_gives_the_same_table(tmp_path: Path) -> None:
    done = _program("batch", "sample", "--in-process", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "167 valid, 85 outliers, 71 fragments" in done.stdout
    assert done.stdout.splitlines()[-1] == "1 completed (local)"


def test_unreachable_scheduler_is_one_error_line(tmp_path: Path) -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _program("batch", "sample", "--scheduler", f"127.0.0.1:{port}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"error: The Dask scheduler at tcp://127.0.0.1:{port} cannot be reached")


def test_health_reports_the_cluster_and_the_dashboard(tmp_path: Path) -> None:
    done = _program("health", "--database", f"sqlite:///{tmp_path / 'h.sqlite3'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"state      healthy (ganglioside_nb {__version__})"
    assert lines[1].startswith("database   healthy: sqlite:///")
    assert "(local cluster), 2 worker(s), 2 thread(s)" in lines[2]
    assert sum(line.startswith("  worker   tcp://127.0.0.1:") for line in lines) == 2
    assert lines[-1].startswith("dashboard  http://127.0.0.1:") and lines[-1].endswith("/status")


@pytest.mark.parametrize("argv", [["batch"], ["batch", "sample", "--save", "-o", "."],
                                  ["batch", "sample", "-o", "no-such-dir"], ["batch", "."]])
def test_batch_usage_errors(tmp_path: Path, argv: list[str]) -> None:
    done = _program(*argv, cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: ")


def test_app_on_a_busy_port_is_one_error_line(tmp_path: Path) -> None:
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _program("app", "--port", str(port), "--database", f"sqlite:///{tmp_path / 'a.sqlite3'}",
                        cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (f"error: port {port} on 127.0.0.1 is in use (Address already in use); "
                           f"choose another with --port, or --port 0 for a free one\n")


def test_app_port_out_of_range(tmp_path: Path) -> None:
    done = _program("app", "--port", "70000", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "error: --port must be between 0 and 65535. Got 70000 instead\n"
