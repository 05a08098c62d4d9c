"""Alembic environment of ganglioside_nb, configured in code by ``persistence.engine``.

``engine.upgrade`` passes an open connection in ``config.attributes["connection"]``; without one
(e.g. ``alembic`` run by hand with ``-x url=...`` or ``sqlalchemy.url``), an engine is made from
the URL with ``persistence.engine.make_engine`` (same SQLite pragmas and transactions).
"""

from __future__ import annotations

from typing import Any

from alembic import context

from ganglioside_nb.persistence.engine import VERSION_TABLE, make_engine
from ganglioside_nb.persistence.tables import metadata

config = context.config
_OPTIONS: dict[str, Any] = {
    "target_metadata": metadata,
    "version_table": config.get_main_option("version_table") or VERSION_TABLE,
    "compare_type": True,
}


def _url() -> str | None:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")


def run_offline() -> None:
    context.configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"}, **_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **_OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as own:
            context.configure(connection=own, **_OPTIONS)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
