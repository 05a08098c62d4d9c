"""Settings read from the environment (FEATURES.md "Configuration"; pure ring, stdlib only).

Nothing is read at import time: every function looks at the environment when called, so a
notebook that sets ``os.environ[...]`` sees the change at once.

* :func:`database_url`: an explicit URL, else ``DATABASE_URL``, else a SQLite file
  ``ganglioside_nb.sqlite3`` in the user's data directory (:func:`default_database_path`).
* :func:`current_owner`: ``JUPYTERHUB_USER``, else ``GANGLIOSIDE_NB_OWNER``, else the
  operating-system user name.
* :func:`admins` / :func:`is_admin`: owners listed in ``GANGLIOSIDE_NB_ADMINS`` (comma or
  whitespace separated) may act across owners (purge, clean-up).
* :func:`max_upload_bytes` / :func:`max_upload_rows`: the analyze app's upload limits,
  ``GANGLIOSIDE_NB_MAX_UPLOAD_MB`` (default 50) and ``GANGLIOSIDE_NB_MAX_ROWS`` (default: the
  ``max_rows`` analysis parameter). Keep ``websocket_max_message_size`` of ``voila.json``
  above the upload cap.

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
    "max_upload_bytes",
    "max_upload_rows",
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


def _number(name: str, convert: type[int] | type[float], lowest: float) -> int | float | None:
    """A numeric variable (None when unset); one clear error naming it when it is not one."""
    raw = _env(name)
    if raw is None:
        return None
    try:
        value = convert(raw)
    except ValueError:
        value = None
    if value is None or not value >= lowest or value != value:
        from .errors import InvalidParameterError  # pure ring, stdlib only as well

        kind = "an integer" if convert is int else "a number"
        raise InvalidParameterError(f"The environment variable {name} must be {kind} >= {lowest:g}. "
                                    f"Got {raw!r} instead.", parameter=name, value=raw)
    return value


def max_upload_bytes() -> int | None:
    """The analyze app's upload cap from ``GANGLIOSIDE_NB_MAX_UPLOAD_MB`` (MiB, at least 1), in
    bytes; None when unset (the app then uses the ``max_file_bytes`` parameter, 50 MiB).

    >>> import os; os.environ["GANGLIOSIDE_NB_MAX_UPLOAD_MB"] = "20"; max_upload_bytes()
    20971520
    >>> del os.environ["GANGLIOSIDE_NB_MAX_UPLOAD_MB"]
    """
    mib = _number("GANGLIOSIDE_NB_MAX_UPLOAD_MB", float, 1)
    return None if mib is None else int(mib * 1_048_576)


def max_upload_rows() -> int | None:
    """The analyze app's row cap from ``GANGLIOSIDE_NB_MAX_ROWS`` (at least 1); None when unset
    (the ``max_rows`` parameter applies, as it does to every analysis)."""
    rows = _number("GANGLIOSIDE_NB_MAX_ROWS", int, 1)
    return None if rows is None else int(rows)
