"""Engines: URL resolution, SQLite pragmas and transactions, unreachable databases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from ganglioside_nb.errors import DatabaseUnavailableError, InvalidParameterError
from ganglioside_nb.persistence import Repository, current_revision, make_engine, upgrade

UNREACHABLE = "postgresql+psycopg2://gnb:s3cret-pw@127.0.0.1:1/nowhere"


def test_unreachable_database_names_the_url_without_password() -> None:
    for action in (lambda: upgrade(UNREACHABLE), lambda: current_revision(UNREACHABLE),
                   lambda: Repository(UNREACHABLE, owner="ana").list_sessions()):
        with pytest.raises(DatabaseUnavailableError) as caught:
            action()
        message = str(caught.value)
        assert "postgresql+psycopg2://gnb:***@127.0.0.1:1/nowhere" in message
        assert "must be reachable" in message and "s3cret" not in message
        assert caught.value.details["url"] == "postgresql+psycopg2://gnb:***@127.0.0.1:1/nowhere"


def test_health_of_an_unreachable_database_does_not_raise() -> None:
    health = Repository(UNREACHABLE, owner="ana").health()
    assert (health["state"], health["reachable"]) == ("unhealthy", False)
    assert "s3cret" not in str(health) and "must be reachable" in health["error"]


def test_bad_urls_are_parameter_errors() -> None:
    with pytest.raises(InvalidParameterError, match="must be SQLite or PostgreSQL. Got 'mysql'"):
        make_engine("mysql://user:pw@host/db")
    with pytest.raises(InvalidParameterError, match="must look like sqlite:///path"):
        make_engine("not a url")


def test_url_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'from_env.sqlite3'}")
    assert make_engine().url.database == str(tmp_path / "from_env.sqlite3")
    assert make_engine(f"sqlite:///{tmp_path / 'explicit.db'}").url.database.endswith("explicit.db")
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    engine = make_engine()
    assert Path(engine.url.database) == tmp_path / "xdg" / "ganglioside_nb" / "ganglioside_nb.sqlite3"
    assert Path(engine.url.database).parent.is_dir()  # created for the file


def test_sqlite_has_foreign_keys_wal_and_real_transactions(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 't.sqlite3'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with pytest.raises(RuntimeError, match="roll back"), engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")  # DDL is transactional too
            raise RuntimeError("roll back")
        assert "t" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_database_without_the_schema_gives_one_clear_error(tmp_path):
    from ganglioside_nb.errors import DatabaseUnavailableError
    from ganglioside_nb.persistence import Repository

    repo = Repository(f"sqlite:///{tmp_path / 'bare.sqlite3'}", owner="x")
    with pytest.raises(DatabaseUnavailableError, match="must hold the ganglioside_nb schema.*db upgrade"):
        repo.list_sessions()
