"""Settings read from the environment (FEATURES.md "Configuration"; pure ring, stdlib only).

Nothing is read at import time: every function looks at the environment when called, so a
notebook that sets ``os.environ[...]`` sees the change at once.

* :func:`database_url`: an explicit URL, else ``DATABASE_URL``, else a SQLite file
  ``ganglioside_nb.sqlite3`` in the user's data directory (:func:`default_database_path`).
* :func:`current_owner`: ``JUPYTERHUB_USER``, else ``GANGLIOSIDE_NB_OWNER``, else the
  operating-system user name.
* :func:`admins` / :func:`is_admin`: owners listed in ``GANGLIOSIDE_NB_ADMINS`` (comma or
  whitespace separated) may act across owners (purge, clean-up).

``platformdirs`` (a small pure-Python package) is imported inside
:func:`default_database_path` only, so importing this module costs nothing.
"""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path

__all__ = [
    "APP_NAME",
    "DEFAULT_DATABASE_FILE",
    "admins",
    "current_owner",
    "data_dir",
    "database_url",
    "default_database_path",
    "default_database_url",
    "is_admin",
]

APP_NAME = "ganglioside_nb"
DEFAULT_DATABASE_FILE = "ganglioside_nb.sqlite3"
#: Owner used when no user name can be found at all (e.g. a container without a passwd entry).
ANONYMOUS_OWNER = "anonymous"

_SEPARATORS = re.compile(r"[\s,]+")


def _env(name: str) -> str | None:
    """The stripped value of an environment variable; ``None`` when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def data_dir() -> Path:
    """The user's data directory for ganglioside_nb (platformdirs; not created here).

    >>> data_dir().name                                            # doctest: +SKIP
    'ganglioside_nb'
    """
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_database_path() -> Path:
    """Where the default SQLite database lives: ``<data_dir>/ganglioside_nb.sqlite3``."""
    return data_dir() / DEFAULT_DATABASE_FILE


def default_database_url() -> str:
    """The SQLAlchemy URL of :func:`default_database_path`."""
    return f"sqlite:///{default_database_path()}"


def database_url(url: str | None = None) -> str:
    """Resolve the database URL: ``url`` if given, else ``DATABASE_URL``, else the default file.

    >>> database_url("sqlite:///tmp.db")
    'sqlite:///tmp.db'
    """
    if url is not None and url.strip():
        return url.strip()
    return _env("DATABASE_URL") or default_database_url()


def current_owner() -> str:
    """The owner of everything done in this process.

    ``JUPYTERHUB_USER`` (set by JupyterHub), else ``GANGLIOSIDE_NB_OWNER``, else the
    operating-system user name (``getpass.getuser()``), else ``'anonymous'``.
    """
    found = _env("JUPYTERHUB_USER") or _env("GANGLIOSIDE_NB_OWNER")
    if found is not None:
        return found
    try:
        return getpass.getuser().strip() or ANONYMOUS_OWNER
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER variables
        return ANONYMOUS_OWNER


def admins() -> frozenset[str]:
    """Owners listed in ``GANGLIOSIDE_NB_ADMINS`` (comma or whitespace separated).

    >>> import os; os.environ["GANGLIOSIDE_NB_ADMINS"] = "ana, bo"; sorted(admins())
    ['ana', 'bo']
    >>> del os.environ["GANGLIOSIDE_NB_ADMINS"]
    """
    raw = _env("GANGLIOSIDE_NB_ADMINS") or ""
    return frozenset(name for name in _SEPARATORS.split(raw) if name)


def is_admin(owner: str) -> bool:
    """Whether ``owner`` may act across owners."""
    return owner in admins()
