"""Persistence layer: analysis sessions, results and the audit trail in SQLite or Postgres.

The only layer that imports SQLAlchemy (STYLE.md §1, practice 12). Everything above it goes
through :class:`Repository`, whose every query is scoped by owner:

>>> from ganglioside_nb.persistence import Repository
>>> repo = Repository("sqlite://", owner="ana", migrate=True)    # in-memory database
>>> repo.health()["state"]
'healthy'

* :mod:`.tables`: the typed declarative schema (FEATURES.md "Data model").
* :mod:`.engine`: ``make_engine``, transactions, Alembic ``upgrade`` / ``current_revision``.
* :mod:`.repository`: ``Repository``, ``SessionInfo``, ``AuditEntry``.
"""

from __future__ import annotations

from .engine import current_revision, head_revision, make_engine, upgrade
from .repository import AuditEntry, Repository, SessionInfo, SessionTrends
from .tables import ACTIONS, STATUSES

__all__ = [
    "ACTIONS",
    "STATUSES",
    "AuditEntry",
    "Repository",
    "SessionInfo",
    "SessionTrends",
    "current_revision",
    "head_revision",
    "make_engine",
    "upgrade",
]
