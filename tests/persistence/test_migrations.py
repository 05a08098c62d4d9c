"""Alembic: an empty database is migrated to head; the migration matches the models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import URL

from ganglioside_nb.persistence import Repository, current_revision, head_revision, make_engine, upgrade
from ganglioside_nb.persistence.engine import VERSION_TABLE
from ganglioside_nb.persistence.tables import metadata

from .conftest import BACKENDS, SAMPLE_5, drop_postgres_database, fresh_postgres_database

TABLES = {"analysis_session", "analysis_input", "compound", "analysis_model", "analysis_result",
          "audit_event", VERSION_TABLE}


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[URL | str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    admin, base = request.getfixturevalue("postgres_server")
    url = fresh_postgres_database(admin, base, prefix="gnb_empty")
    yield url
    drop_postgres_database(admin, url)


def test_upgrade_creates_the_schema_of_the_models(empty_url: URL | str) -> None:
    engine = make_engine(empty_url)
    try:
        assert current_revision(engine) is None
        assert Repository(engine, owner="ana").health()["state"] == "degraded"
        assert upgrade(engine) == head_revision() == "0002_chromatography"
        assert current_revision(engine) == head_revision()
        assert set(sa.inspect(engine).get_table_names()) == TABLES
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE})
            assert compare_metadata(context, metadata) == []
        assert upgrade(engine) == head_revision()  # again: nothing to do
        repo = Repository(engine, owner="ana")
        assert repo.get_session(repo.create_session(SAMPLE_5)).status == "pending"
    finally:
        engine.dispose()


def test_repository_can_migrate_on_construction(tmp_path) -> None:
    repo = Repository(f"sqlite:///{tmp_path / 'auto' / 'db.sqlite3'}", owner="ana", migrate=True)
    try:
        assert repo.health()["state"] == "healthy"
    finally:
        repo.close()


def test_upgrade_from_0001_records_reversed_phase_for_existing_sessions(empty_url: URL | str) -> None:
    engine = make_engine(empty_url)
    try:
        assert upgrade(engine, "0001_initial") == "0001_initial"
        with engine.begin() as conn:  # a session stored before the column existed
            conn.execute(sa.text(
                "INSERT INTO analysis_session (owner, data_type, status, params, mode, package_version, "
                "environment, input_format, input_size, input_sha256, created_at, updated_at) VALUES "
                "('ana', 'human', 'pending', '{}', 'structural', '0', '{}', 'csv', 1, 'x', :t, :t)"),
                {"t": "2026-11-01T00:00:00+00:00"})
        assert upgrade(engine) == head_revision() == "0002_chromatography"
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT chromatography FROM analysis_session")).scalars().all() \
                == ["reversed_phase"]
        repo = Repository(engine, owner="ana")
        hilic = repo.create_session(SAMPLE_5, params={"chromatography": "hilic"})
        assert repo.get_session(hilic).chromatography == "hilic"
    finally:
        engine.dispose()
