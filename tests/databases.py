"""Database fixtures (a pytest plugin, see tests/conftest.py): tests that use ``database_url``,
``engine`` or ``repo`` run on SQLite and on the real Postgres.

* SQLite: one file per test session under pytest's tmp directory.
* Postgres: the server of ``TEST_DATABASE_URL`` (default
  ``postgresql+psycopg2://postgres@127.0.0.1:5432/test``); a fresh database
  ``gnb_test_<random>`` is created for the test session and dropped at the end. When the server
  is unreachable the Postgres half is skipped with the reason, except under ``CI=true``, where
  it fails (FEATURES.md F10).

Each test gets its own owner (a random name), so tests sharing one database never see each
other's sessions: owner scoping is the isolation.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from ganglioside_nb.persistence import Repository, make_engine, upgrade
from ganglioside_nb.persistence.engine import redacted_url

PG_DEFAULT = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[Engine, URL]]:
    """An AUTOCOMMIT engine on the Postgres server (to create and drop databases)."""
    url = make_url(os.environ.get("TEST_DATABASE_URL", PG_DEFAULT))
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as exc:
        admin.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        message = f"PostgreSQL at {redacted_url(url)} is unreachable: {reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: Postgres tests must run)", pytrace=False)
        pytest.skip(message)
    yield admin, url
    admin.dispose()


def fresh_postgres_database(admin: Engine, base: URL, prefix: str = "gnb_test") -> URL:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    return base.set(database=name)


def drop_postgres_database(admin: Engine, url: URL) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url(postgres_server: tuple[Engine, URL]) -> Iterator[URL]:
    admin, base = postgres_server
    url = fresh_postgres_database(admin, base)
    yield url
    drop_postgres_database(admin, url)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'gnb.sqlite3'}"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> URL | str:
    """The URL of the test session's database, migrated to head (one per backend)."""
    url = request.getfixturevalue(f"{request.param}_url")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: URL | str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def owner() -> str:
    return f"owner-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def repo(engine: Engine, owner: str) -> Repository:
    return Repository(engine, owner=owner)


@pytest.fixture
def other_repo(engine: Engine) -> Repository:
    return Repository(engine, owner=f"other-{uuid.uuid4().hex[:10]}")


def count_rows(engine: Engine, table: str, session_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE session_id = :i"),
                                {"i": session_id}).scalar_one())
