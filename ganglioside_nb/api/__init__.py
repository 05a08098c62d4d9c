"""Analysis sessions: the background jobs that tie execution (where) to persistence (what).

Example (a database and a cluster are needed, so this is not a doctest)::

    from ganglioside_nb.api import AnalysisService
    service = AnalysisService()                      # DATABASE_URL or SQLite; local cluster
    job = service.submit(gnb.datasets.sample_path(), name="porcine brain")
    for event in job:                                # live: one line per rule, then the end
        print(event.describe())
    print(service.result(job).summary())

``submit_analysis`` and ``submit_batch`` do the same on one default service per process, and
so do the plain functions of :mod:`.facade` (``create_session``, ``run``, ``wait``,
``get_compounds``, ``cancel``, ``cleanup``, ...; FEATURES.md F1); :func:`use` replaces that
service.
"""

from __future__ import annotations

from typing import Any

from ..execution import Batch, Job
from .facade import (
    audit_log,
    cancel,
    cleanup,
    create_session,
    default_service,
    delete,
    export,
    get_compounds,
    get_models,
    get_result,
    get_session,
    list_sessions,
    purge,
    rename,
    rerun,
    restore,
    run,
    run_many,
    status,
    use,
    verify,
    wait,
)
from .health import health
from .jobs import run_analysis_job, run_session_job
from .sessions import AnalysisService, failed_job
from .verify import Verification, verify_session

__all__ = ["AnalysisService", "Verification", "audit_log", "cancel", "cleanup", "create_session",
           "default_service", "delete", "export", "failed_job", "get_compounds", "get_models",
           "get_result", "get_session", "health", "list_sessions", "purge", "rename", "rerun",
           "restore", "run", "run_analysis_job", "run_many", "run_session_job", "status",
           "submit_analysis", "submit_batch", "use", "verify", "verify_session", "wait"]


def submit_analysis(target: Any, params: Any = None, **kwargs: Any) -> Job:
    """``default_service().submit(target, params, ...)``: a stored session id or a source."""
    return default_service().submit(target, params, **kwargs)


def submit_batch(targets: Any, params: Any = None, **kwargs: Any) -> Batch:
    """``default_service().submit_batch(targets, params, ...)``."""
    return default_service().submit_batch(targets, params, **kwargs)
