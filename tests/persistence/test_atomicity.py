"""save_result is all or nothing: an injected failure mid-save, and a process killed mid-save,
never leave a session completed without its rows (FEATURES.md B8, H11)."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ganglioside_nb.errors import DatabaseUnavailableError
from ganglioside_nb.persistence import Repository, make_engine, upgrade

from .conftest import SAMPLE, count_rows


class InjectedFailure(RuntimeError):
    pass


@pytest.fixture
def failing_engine(engine: Engine) -> Iterator[Engine]:
    """A second engine on the test database whose model insert fails, after the compound
    rows of the same transaction were written (COPY or executemany)."""
    eng = make_engine(engine.url)

    @sa.event.listens_for(eng, "before_cursor_execute")
    def _fail_on_models(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT INTO analysis_model"):
            raise InjectedFailure("injected failure while writing models")

    yield eng
    eng.dispose()


def test_failure_mid_save_leaves_no_rows_and_marks_failed(failing_engine: Engine, engine: Engine,
                                                          owner: str, structural_result) -> None:
    repo = Repository(failing_engine, owner=owner)
    session_id = repo.create_session(SAMPLE)
    repo.mark_running(session_id)
    with pytest.raises(InjectedFailure, match="injected failure while writing models"):
        repo.save_result(session_id, structural_result)

    for table in ("compound", "analysis_model", "analysis_result"):
        assert count_rows(engine, table, session_id) == 0, table
    info = repo.get_session(session_id)
    assert info.status == "failed" and info.finished_at is not None
    assert info.error_message == "InjectedFailure: injected failure while writing models"
    failed = repo.audit_log(session_id)[-1]
    assert (failed.action, failed.details["during"]) == ("failed", "save_result")

    # the in-memory result is kept, and saving can be retried (FEATURES.md F5)
    retry = Repository(engine, owner=owner)
    assert retry.save_result(session_id, structural_result).status == "completed"
    assert retry.load_result(session_id).equals(structural_result)
    assert count_rows(engine, "compound", session_id) == 323


_CHILD = textwrap.dedent("""
    import sys, time
    import sqlalchemy as sa
    import ganglioside_nb as gnb
    from ganglioside_nb.persistence import Repository, make_engine, upgrade
    from ganglioside_nb.testing import large_table

    url, owner, where = sys.argv[1], sys.argv[2], sys.argv[3]
    table = large_table(int(sys.argv[4]), seed=7)
    engine = make_engine(url)
    repo = Repository(engine, owner=owner)
    session_id = repo.create_session(table, name="killed mid-save")
    repo.mark_running(session_id)
    result = gnb.analyze(table)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _signal(conn, cursor, statement, parameters, context, executemany):
        if where == "claim" and statement.startswith("UPDATE analysis_session"):
            print("SAVING", session_id, flush=True)       # compounds are written next
        if where == "models" and statement.startswith("INSERT INTO analysis_model"):
            print("SAVING", session_id, flush=True)       # compounds written, not committed
            time.sleep(600)

    repo.save_result(session_id, result)
    print("DONE", session_id, flush=True)
""")


def test_killed_process_never_leaves_completed_without_rows(engine: Engine, owner: str) -> None:
    """SIGKILL real analysis processes while they save a 20,000-row result: one while its
    compound rows stream in ('claim': killed 0.05 s after its save transaction began), one after
    they were all written but before the commit ('models'). Both run at once; each is killed as
    soon as it reaches its save."""
    rows = 20_000
    url = engine.url.render_as_string(hide_password=False)
    children = {where: subprocess.Popen([sys.executable, "-c", _CHILD, url, owner, where, str(rows)],
                                        stdout=subprocess.PIPE, text=True)
                for where in ("claim", "models")}
    outcomes: dict[str, tuple[int, bool, int]] = {}
    waiting = selectors.DefaultSelector()  # kill whichever reaches its save first: on SQLite
    for where, child in children.items():  # the other one waits for the write lock meanwhile
        waiting.register(child.stdout, selectors.EVENT_READ, where)  # type: ignore[arg-type]
    try:
        while len(outcomes) < len(children):
            ready = waiting.select(timeout=120)
            assert ready, f"no child reached its save; done: {sorted(outcomes)}"
            for key, _ in ready:
                where, child = key.data, children[key.data]
                line = key.fileobj.readline()  # type: ignore[union-attr]
                assert line.startswith("SAVING"), f"{where}: child did not reach the save: {line!r}"
                waiting.unregister(key.fileobj)
                time.sleep(0.05 if where == "claim" else 0.0)
                os.kill(child.pid, signal.SIGKILL)
                child.wait(timeout=30)
                rest = child.stdout.read() if child.stdout else ""
                outcomes[where] = (int(line.split()[1]), "DONE" in rest, child.returncode)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()

    repo = Repository(engine, owner=owner)
    for where, (session_id, finished, returncode) in outcomes.items():
        assert returncode == -signal.SIGKILL, where
        status = repo.get_session(session_id).status
        stored = count_rows(engine, "compound", session_id)
        assert not (status == "completed" and stored != rows), (where, status, stored)
        if not finished:  # killed before the commit (always so for 'models')
            assert (status, stored) == ("running", 0), where
            assert count_rows(engine, "analysis_result", session_id) == 0, where
    assert not outcomes["models"][1]


@pytest.fixture()
def postgres_engine(postgres_url) -> Iterator[Engine]:
    upgrade(postgres_url)
    eng = make_engine(postgres_url)
    yield eng
    eng.dispose()


def test_connection_lost_mid_save_is_a_clear_error_and_retry_works(postgres_engine: Engine, owner: str,
                                                                   structural_result) -> None:
    """Postgres only (the server ends one connection with pg_terminate_backend): the server ends
    the saving connection after the compound rows were sent; the transaction is gone, the
    caller gets DatabaseUnavailableError, and saving again succeeds."""
    engine = postgres_engine
    doomed = make_engine(engine.url)

    @sa.event.listens_for(doomed, "before_cursor_execute")
    def _terminate(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT INTO analysis_model"):
            pid = conn.connection.dbapi_connection.get_backend_pid()
            with engine.connect() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})

    try:
        repo = Repository(doomed, owner=owner)
        session_id = repo.create_session(SAMPLE)
        with pytest.raises(DatabaseUnavailableError,
                           match=r"must be reachable\. Got 'server closed the connection"):
            repo.save_result(session_id, structural_result)
    finally:
        doomed.dispose()
    assert count_rows(engine, "compound", session_id) == 0
    retry = Repository(engine, owner=owner)
    assert retry.get_session(session_id).status == "pending"
    assert retry.save_result(session_id, structural_result).status == "completed"
