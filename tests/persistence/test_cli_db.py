"""The database commands of the CLI on SQLite and Postgres: --save, db list/show/export/
delete/restore/cleanup/health, owner isolation, failed sessions keep their error."""

from __future__ import annotations

import json
import re

import openpyxl
import pytest
import sqlalchemy as sa

from ganglioside_nb.cli import main


@pytest.fixture()
def cli(database_url, owner, monkeypatch, capsys):
    url = database_url if isinstance(database_url, str) else database_url.render_as_string(False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("GANGLIOSIDE_NB_OWNER", owner)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    return run


def _saved_id(out: str) -> str:
    return re.search(r"saved session (\d+)", out).group(1)


def test_save_list_show_export_and_trash(cli, tmp_path):
    code, out, _ = cli("analyze", "sample", "--save", "--name", "porcine run")
    assert code == 0
    sid = _saved_id(out)
    code, out, _ = cli("db", "list")
    assert code == 0 and "porcine run" in out and "completed" in out
    code, out, _ = cli("db", "show", sid)
    assert "sha256 e84f6e12c5f3" in out and "valid 167" in out
    target = tmp_path / "run.xlsx"
    assert cli("db", "export", sid, "-o", str(target))[0] == 0
    sheets = openpyxl.load_workbook(target, read_only=True).sheetnames
    assert {"compounds", "models", "parameters"} <= set(sheets)
    report = tmp_path / "run.html"
    assert cli("db", "export", sid, "-o", str(report))[0] == 0
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "e84f6e12c5f3" in page
    assert cli("db", "delete", sid)[0] == 0
    assert "0 session(s)" in cli("db", "list")[1]
    assert "porcine run" in cli("db", "list", "--deleted")[1]
    assert cli("db", "restore", sid)[0] == 0
    assert "porcine run" in cli("db", "list", "--status", "completed")[1]


def test_other_owner_sees_not_found(cli, monkeypatch):
    sid = _saved_id(cli("analyze", "sample", "--save")[1])
    monkeypatch.setenv("GANGLIOSIDE_NB_OWNER", "someone-else-entirely")
    code, _, err = cli("db", "show", sid)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error:") and "Traceback" not in err
    assert cli("db", "delete", sid)[0] == 2


def test_cleanup_is_a_dry_run_unless_applied(cli):
    cli("analyze", "sample", "--save")
    code, out, _ = cli("db", "cleanup", "--days", "0")
    assert code == 0 and "would be moved" in out
    assert "completed" in cli("db", "list")[1]
    cli("db", "cleanup", "--days", "0", "--apply")
    assert "0 session(s)" in cli("db", "list")[1]
    code, out, _ = cli("db", "cleanup", "--purge", "--days", "0")
    assert code == 0 and "1 session(s) in the trash for over 0 days would be purged" in out
    assert "1 session(s)" in cli("db", "list", "--deleted")[1]
    code, out, _ = cli("db", "cleanup", "--purge", "--days", "0", "--apply")
    assert code == 0 and "1 session(s) in the trash for over 0 days purged" in out
    assert "0 session(s)" in cli("db", "list", "--deleted")[1]


def test_bad_input_ends_as_a_failed_session_with_its_error(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    code, _, err = cli("analyze", str(bad), "--save")
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1
    listed = cli("db", "list", "--status", "failed")[1]
    sid = listed.split("\n")[1].split()[0]
    assert "headers found: 'foo', 'bar'" in cli("db", "show", sid)[1]  # the input bytes are kept too
    health = json.loads(cli("db", "health")[1])
    assert health["state"] == "healthy" and health["up_to_date"]
    assert "--name only applies" in cli("analyze", "sample", "--name", "x")[2]


def test_verify_reports_identical_or_what_changed(cli, engine):
    sid = _saved_id(cli("analyze", "sample", "--save")[1])
    code, out, err = cli("db", "verify", sid)
    assert code == 0 and err == "" and out.startswith(f"session {sid}: identical")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE compound SET status = 'outlier' "
                             "WHERE session_id = :s AND status = 'valid'"), {"s": int(sid)})
    code, out, err = cli("db", "verify", sid)
    assert code == 1 and err == "" and "NOT identical" in out
    assert "- compounds.status: 167 of 323 values differ" in out
    pending = re.search(r"saved session (\d+)", cli("analyze", "sample", "--save")[1]).group(1)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE analysis_session SET status = 'failed' WHERE id = :s"),
                     {"s": int(pending)})
    code, _, err = cli("db", "verify", pending)
    assert code == 2 and err.count("\n") == 1 and "must be completed to be verified" in err


def test_ctrl_c_during_a_saved_analysis_ends_the_session_cancelled(database_url, owner, tmp_path):
    """A real ``ganglioside-nb analyze --save`` process, interrupted (SIGINT) once its session is
    running: exit 130, one error line, the session ``cancelled`` with no compound rows."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from ganglioside_nb.persistence import Repository
    from ganglioside_nb.testing import large_table

    path = tmp_path / "big.csv"
    large_table(200_000, seed=3).to_csv(path, index=False)
    url = database_url if isinstance(database_url, str) else database_url.render_as_string(False)
    env = {**os.environ, "DATABASE_URL": url, "GANGLIOSIDE_NB_OWNER": owner}
    process = subprocess.Popen([sys.executable, "-m", "ganglioside_nb", "analyze", str(path), "--save"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    repo = Repository(url, owner)
    deadline = time.monotonic() + 120
    while not repo.list_sessions(status="running"):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err == "error: interrupted\n", (out, err)
    (session,) = repo.list_sessions()
    assert session.status == "cancelled" and session.finished_at is not None
    assert [e.action for e in repo.audit_log(session.id)] == ["created", "started", "cancelled"]
    with repo.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM compound WHERE session_id = :s"),
                            {"s": session.id}).scalar_one() == 0


def test_export_status_and_the_spelled_out_cleanup_options(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sid = _saved_id(cli("analyze", "sample", "--save", "--data-type", "human")[1])
    assert "human" in cli("db", "list")[1]
    code, out, _ = cli("export", sid, "--format", "json")
    assert code == 0 and out == f"wrote session-{sid}.json\n"
    document = json.loads((tmp_path / f"session-{sid}.json").read_text(encoding="utf-8"))
    assert len(document["compounds"]) == 323 and document["parameters"]["data_type"] == "human"
    code, _, err = cli("export", sid, "--format", "csv", "--out", str(tmp_path / "x.xlsx"))
    assert code == 2 and err.startswith("error: --out must end in .csv")
    code, out, _ = cli("db", "status")
    assert code == 0 and "schema revision 0002_chromatography;" in out and "completed 1" in out
    code, out, _ = cli("db", "cleanup", "--older-than-days", "0", "--apply", "--dry-run")
    assert code == 0 and "would be moved" in out and "completed" in cli("db", "list")[1]


def test_rerun_a_stored_session_in_place_or_as_a_child(cli, engine, owner):
    from ganglioside_nb.datasets import sample_path
    from ganglioside_nb.persistence import Repository

    repo = Repository(engine, owner=owner)
    sid = str(repo.create_session(sample_path("testwork_user"), name="first"))
    repo.mark_running(int(sid))
    repo.mark_failed(int(sid), "worker lost")  # nothing stored, as after a lost worker
    code, out, _ = cli("analyze", "--rerun", sid, "--mode", "reference")  # new parameters: a child
    child = _saved_id(out)
    assert code == 0 and child != sid and "valid 149" in out  # the golden reference verdicts
    assert repo.get_session(int(child)).parent_id == int(sid)
    assert repo.get_session(int(sid)).status == "failed"
    code, out, _ = cli("analyze", "--rerun", sid)  # failed, nothing changed: in place
    assert code == 0 and _saved_id(out) == sid and "valid 167" in out
    info = repo.get_session(int(sid))
    assert info.status == "completed" and info.error_message is None
    code, out, _ = cli("analyze", "--rerun", sid, "--name", "again")  # completed: a child
    assert code == 0 and _saved_id(out) not in (sid, child)
    code, _, err = cli("analyze", "sample", "--rerun", sid)
    assert code == 2 and err.startswith("error: --rerun ID analyses the stored input")
