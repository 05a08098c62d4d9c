"""Engines, transactions and schema migrations (FEATURES.md F5).

* :func:`make_engine` builds an engine for the resolved URL (``settings.database_url``):
  SQLite with foreign keys on, WAL journaling, a 30 s busy timeout and real transactions
  (pysqlite's implicit ``BEGIN`` handling is replaced by an explicit ``BEGIN``, so reads, DDL
  and writes share one transaction); Postgres via psycopg2 with ``pool_pre_ping``.
* :func:`begin` opens one transaction and turns "cannot connect" into
  :class:`~ganglioside_nb.errors.DatabaseUnavailableError`, whose message names the URL with
  its password hidden.
* :func:`upgrade` runs the Alembic migrations shipped in ``persistence/migrations`` (configured
  in code; no ``alembic.ini`` at run time) up to head; :func:`current_revision` and
  :func:`head_revision` report where a database and the package stand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from .. import settings
from ..errors import DatabaseUnavailableError, InvalidParameterError

__all__ = [
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "begin",
    "connect",
    "current_revision",
    "head_revision",
    "make_engine",
    "redacted_url",
    "resolve_engine",
    "unavailable_error",
    "upgrade",
]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Alembic's version table, named for this package so a shared database cannot mix it up.
VERSION_TABLE = "ganglioside_nb_alembic_version"
_DIALECTS = ("sqlite", "postgresql")
_WRITE_OPTION = "ganglioside_nb_write"
SQLITE_BUSY_TIMEOUT_S = 30.0


def redacted_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def make_engine(url: str | URL | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (default: ``settings.database_url()``).

    Parameters
    ----------
    url : str or sqlalchemy URL, optional
        ``sqlite:///path`` or ``postgresql+psycopg2://user@host/db``.
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.

    Raises
    ------
    InvalidParameterError
        If the URL cannot be parsed or names a database other than SQLite or Postgres.

    Examples
    --------
    >>> engine = make_engine("sqlite://")          # in memory
    >>> engine.dialect.name
    'sqlite'
    """
    try:
        parsed = url if isinstance(url, URL) else make_url(settings.database_url(url))
    except ArgumentError:
        raise InvalidParameterError(
            "The database URL must look like sqlite:///path or postgresql+psycopg2://user@host/db. "
            f"Got {redacted_url(str(url))!r} instead.", parameter="url", value="") from None
    backend = parsed.get_backend_name()
    if backend not in _DIALECTS:
        raise InvalidParameterError(
            f"The database must be SQLite or PostgreSQL. Got {backend!r} "
            f"({redacted_url(parsed)}) instead.", parameter="url", value=backend)
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, **kwargs.pop("connect_args", {})}
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        _sqlite_transactions(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    connect_args = {"connect_timeout": 10, **kwargs.pop("connect_args", {})}
    return create_engine(parsed, connect_args=connect_args, **kwargs)


def _sqlite_transactions(engine: Engine) -> None:
    """Foreign keys, WAL, and explicit BEGIN (SQLAlchemy's documented pysqlite recipe)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite: stop emitting its own BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # a write transaction takes the write lock at once (waiting up to the busy timeout),
        # so it never fails later on upgrading a stale read snapshot
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def shareable_url(engine: Engine) -> str:
    """The engine's URL as text another process can open (password included, so pass it only
    to your own workers). SQLite paths are made absolute; an in-memory database is refused."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or "mode=memory" in database:
            raise InvalidParameterError(
                "The database must be shared with the worker processes (a file or a server). "
                "Got an in-memory SQLite database instead.", parameter="url", value=str(url))
        if not database.startswith("file:"):
            url = url.set(database=str(Path(database).expanduser().resolve()))
    return url.render_as_string(hide_password=False)


def resolve_engine(engine_or_url: Engine | str | URL | None) -> tuple[Engine, bool]:
    """(engine, created_here): reuse an engine, or make one from a URL."""
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(engine_or_url), True


def unavailable_error(url: str | URL, exc: BaseException) -> DatabaseUnavailableError:
    """The one-line "cannot reach the database" error (password hidden)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    shown = redacted_url(url)
    return DatabaseUnavailableError(
        f"The database {shown} must be reachable. Got {reason!r} instead.", url=shown, reason=reason)


def _unavailable(engine: Engine, exc: DBAPIError) -> DatabaseUnavailableError:
    return unavailable_error(engine.url, exc)


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection (no transaction started); a failed connect raises DatabaseUnavailableError."""
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        raise _unavailable(engine, exc) from exc
    try:
        with connection:
            yield connection
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise _unavailable(engine, exc) from exc
        if _missing_table(exc):
            shown = redacted_url(engine.url)
            raise DatabaseUnavailableError(
                f"The database {shown} must hold the ganglioside_nb schema. Got no analysis tables "
                "instead: run 'ganglioside-nb db upgrade' (or Repository(..., migrate=True)).",
                url=shown, reason="schema missing") from exc
        raise


def _missing_table(exc: DBAPIError) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


@contextmanager
def begin(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """One transaction: committed on success, rolled back on any exception.

    ``write=True`` starts SQLite transactions with ``BEGIN IMMEDIATE`` (no effect on Postgres,
    where writers lock rows with ``SELECT ... FOR UPDATE``).

    Raises
    ------
    DatabaseUnavailableError
        If no connection can be made, or the connection is lost mid-transaction.
    """
    with connect(engine) as connection:
        if write:
            connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection


# -- Alembic ---------------------------------------------------------------------------------
def _alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration shipped with the package."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError(f"No Alembic migration found in {MIGRATIONS_DIR}.")
    return head


def current_revision(engine_or_url: Engine | str | URL | None = None) -> str | None:
    """The schema revision of the database (``None`` for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    engine, owned = resolve_engine(engine_or_url)
    try:
        with connect(engine) as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        if owned:
            engine.dispose()


def upgrade(engine_or_url: Engine | str | URL | None = None, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: head) in one transaction.

    Returns the revision the database is at afterwards. Safe to run again: an up-to-date
    database is left alone.
    """
    from alembic import command

    engine, owned = resolve_engine(engine_or_url)
    try:
        with begin(engine) as connection:
            command.upgrade(_alembic_config(connection), revision)
        return current_revision(engine)
    finally:
        if owned:
            engine.dispose()
