"""The session API as plain functions on one default service (FEATURES.md F1).

Each function calls :func:`default_service` (``DATABASE_URL`` or the SQLite file, owner from
``JUPYTERHUB_USER`` / ``GANGLIOSIDE_NB_OWNER`` / the OS user, the Dask scheduler of
``GANGLIOSIDE_DASK_ADDRESS`` or a local cluster), so a notebook needs no set-up::

    from ganglioside_nb import api
    sid = api.create_session("peaks.csv", name="brain, run 3")
    api.run(sid)
    api.wait(sid)
    api.get_compounds(sid, status="outlier")

:func:`use` replaces the default service (another database, owner or runner). Every call is
scoped by the service's owner; the CLI equivalents are listed in ``notebooks/04_api_tour.ipynb``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from ..core.results import AnalysisResult
from ..core.schema import STATUSES as COMPOUND_STATUSES
from ..errors import InvalidParameterError
from ..execution import Batch, Job
from ..params import AnalysisParams
from ..persistence import AuditEntry, SessionInfo
from ..persistence.repository import FINISHED
from .sessions import AnalysisService, Source
from .verify import Verification

__all__ = ["audit_log", "cancel", "cleanup", "create_session", "default_service", "delete", "export",
           "get_compounds", "get_models", "get_result", "get_session", "list_sessions", "purge",
           "rename", "rerun", "restore", "run", "run_many", "status", "use", "verify", "wait"]

_lock = threading.Lock()
_default: list[AnalysisService] = []
_jobs: dict[int, Job] = {}  # jobs this process started, by session id (for cancel)


def default_service() -> AnalysisService:
    """This process's service (see the module docstring), opened on first use."""
    with _lock:
        if not _default:
            _default.append(AnalysisService())
        return _default[0]


def use(service: AnalysisService | None) -> None:
    """Make ``service`` the default of every function here (None: back to the environment's)."""
    with _lock:
        _default.clear()
        _jobs.clear()
        if service is not None:
            _default.append(service)


def _track(job: Job) -> Job:
    session_id = job.meta.get("session_id")
    if session_id is not None:
        _jobs[int(session_id)] = job
    return job


# -- sessions -----------------------------------------------------------------------------------
def create_session(source: Source, *, name: str | None = None,
                   params: AnalysisParams | dict[str, Any] | None = None, data_type: str | None = None,
                   filename: str | None = None) -> int:
    """Store a ``pending`` session with its input (a path, bytes or DataFrame); its id.
    CLI: ``ganglioside-nb analyze FILE --save`` (which also runs it)."""
    return default_service().repository.create_session(source, name=name, params=params,
                                                       data_type=data_type, filename=filename)


def run(session_id: int, *, on_done: Callable[[Job], Any] | None = None) -> Job:
    """Analyse a stored session in the background (the service's runner: Dask by default);
    the worker stores the result. ``on_done(job)`` is called once it has ended."""
    job = _track(default_service().submit(session_id))
    if on_done is not None:
        job.subscribe(lambda event: on_done(job) if event.terminal else None)
    return job


def run_many(session_ids: Iterable[int]) -> Batch:
    """Analyse several stored sessions in the background; one job each.
    CLI: ``ganglioside-nb batch FILES --save``."""
    batch = default_service().submit_batch(list(session_ids))
    for job in batch.jobs:
        _track(job)
    return batch


def status(session_id: int) -> str:
    """``pending``, ``running``, ``completed``, ``failed`` or ``cancelled``."""
    return get_session(session_id).status


def wait(session_id: int, timeout: float | None = None, *, poll_s: float = 0.2) -> SessionInfo:
    """Block until the session has ended (``completed``, ``failed`` or ``cancelled``), whoever
    runs it: the database is asked every ``poll_s`` seconds. Raises TimeoutError after
    ``timeout`` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        info = get_session(session_id)
        if info.status in FINISHED:
            return info
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"Analysis session {session_id} must end within {timeout:g} s. "
                               f"Got status {info.status!r} at the deadline instead.")
        time.sleep(poll_s)


def cancel(session_id: int) -> bool:
    """Cancel a session, whoever started it (:meth:`AnalysisService.cancel_session`): a pending
    one is marked ``cancelled``; a running one stops at its next step and ends ``cancelled``.
    False when it has ended, or runs where this service's runner cannot reach it (another
    process's local cluster)."""
    job = _jobs.get(session_id)
    if job is not None and not job.done() and default_service().cancel(job):
        return True
    return default_service().cancel_session(session_id)


def list_sessions(status: str | None = None, data_type: str | None = None,
                  name_contains: str | None = None, include_deleted: bool = False) -> list[SessionInfo]:
    """This owner's sessions, newest first; ``name_contains`` is found in the name or the file
    name (case-insensitive). CLI: ``ganglioside-nb db list [--status S] [--search TEXT]``."""
    return default_service().repository.list_sessions(status=status, data_type=data_type,
                                                      search=name_contains, include_deleted=include_deleted)


def get_session(session_id: int) -> SessionInfo:
    """One session (status, times, parameters, input file and SHA-256, error)."""
    return default_service().repository.get_session(session_id)


# -- results ------------------------------------------------------------------------------------
def get_result(session_id: int) -> AnalysisResult:
    """The stored result of a completed session. CLI: ``ganglioside-nb db show ID``."""
    return default_service().repository.load_result(session_id)


def get_compounds(session_id: int, *, category: str | None = None, status: str | None = None,
                  is_anchor: bool | None = None) -> pd.DataFrame:
    """The compounds table of a completed session, optionally only one ``category`` (GM, GD,
    ...), one ``status`` (valid, outlier, fragment, rejected) and anchors or non-anchors."""
    if status is not None and status not in COMPOUND_STATUSES:
        raise InvalidParameterError(f"status must be one of {', '.join(COMPOUND_STATUSES)}. "
                                    f"Got {status!r} instead.", parameter="status", value=status)
    if is_anchor is not None and not isinstance(is_anchor, bool):
        raise InvalidParameterError(f"is_anchor must be True, False or None. Got {is_anchor!r} instead.",
                                    parameter="is_anchor", value=repr(is_anchor))
    compounds = get_result(session_id).compounds
    keep = pd.Series(True, index=compounds.index)
    if category is not None:
        keep &= compounds["category"] == category
    if status is not None:
        keep &= compounds["status"] == status
    if is_anchor is not None:
        keep &= compounds["Anchor"].fillna(False).astype(bool) == is_anchor
    return compounds[keep.to_numpy(dtype=bool)]


def get_models(session_id: int) -> pd.DataFrame:
    """The models table of a completed session (one row per RT model)."""
    return get_result(session_id).models


def verify(session_id: int) -> Verification:
    """Re-run a completed session's stored input and compare. CLI: ``ganglioside-nb db verify ID``."""
    return default_service().verify(session_id)


def export(session_id: int, fmt: str) -> bytes:
    """The stored result as ``csv``, ``xlsx`` or ``json`` bytes (recorded in the audit trail).
    CLI: ``ganglioside-nb db export ID -o FILE``."""
    return default_service().repository.export(session_id, fmt)


# -- changes ------------------------------------------------------------------------------------
def rename(session_id: int, name: str | None) -> SessionInfo:
    """Rename (blank: unnamed)."""
    return default_service().repository.rename(session_id, name)


def delete(session_id: int) -> SessionInfo:
    """Move to the Trash (a soft delete). CLI: ``ganglioside-nb db delete ID``."""
    return default_service().repository.soft_delete(session_id)


def restore(session_id: int) -> SessionInfo:
    """Bring back from the Trash. CLI: ``ganglioside-nb db restore ID``."""
    return default_service().repository.restore(session_id)


def purge(session_id: int) -> SessionInfo:
    """Delete for good (the audit events stay). CLI: ``ganglioside-nb db purge ID``."""
    return default_service().repository.purge(session_id)


def rerun(session_id: int, params: AnalysisParams | dict[str, Any] | None = None, *,
          name: str | None = None, **overrides: Any) -> Job:
    """Run a session again in the background: a failed or cancelled one in place (when asked
    with nothing changed), else a new session from the same stored input (``parent_id``)."""
    return _track(default_service().rerun(session_id, params, name=name, **overrides))


def cleanup(older_than_days: float = 30, dry_run: bool = True, *,
            purge_trash: bool = False) -> list[SessionInfo]:
    """Finished sessions older than the days given to the Trash, or with ``purge_trash`` the
    sessions in the Trash that long purged; a dry run unless ``dry_run=False``.
    CLI: ``ganglioside-nb db cleanup --days N [--purge] [--apply]``."""
    repo = default_service().repository
    method = repo.purge_trash_older_than if purge_trash else repo.cleanup_older_than
    return method(older_than_days, dry_run=dry_run)


def audit_log(session_id: int | None = None) -> list[AuditEntry]:
    """Audit events of one session (also after a purge) or of the owner, oldest first."""
    return default_service().repository.audit_log(session_id)
