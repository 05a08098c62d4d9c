"""Analysis sessions: the background jobs that tie execution (where) to persistence (what).

Example (a database and a cluster are needed, so this is not a doctest)::

    from ganglioside_nb.api import AnalysisService
    service = AnalysisService()                      # DATABASE_URL or SQLite; local cluster
    job = service.submit(gnb.datasets.sample_path(), name="porcine brain")
    for event in job:                                # live: one line per rule, then the end
        print(event.describe())
    print(service.result(job).summary())

``submit_analysis`` and ``submit_batch`` do the same on one default service per process.
"""

from __future__ import annotations

import threading
from typing import Any

from ..execution import Batch, Job
from .health import health
from .jobs import run_analysis_job, run_session_job
from .sessions import AnalysisService, failed_job
from .verify import Verification, verify_session

__all__ = ["AnalysisService", "Verification", "default_service", "failed_job", "health",
           "run_analysis_job", "run_session_job", "submit_analysis", "submit_batch", "verify_session"]

_default: list[AnalysisService] = []
_lock = threading.Lock()


def default_service() -> AnalysisService:
    """This process's service: ``DATABASE_URL`` (or the SQLite file) and the Dask scheduler of
    ``GANGLIOSIDE_DASK_ADDRESS`` (or the local cluster), both opened on first use."""
    with _lock:
        if not _default:
            _default.append(AnalysisService())
        return _default[0]


def submit_analysis(target: Any, params: Any = None, **kwargs: Any) -> Job:
    """``default_service().submit(target, params, ...)``: a stored session id or a source."""
    return default_service().submit(target, params, **kwargs)


def submit_batch(targets: Any, params: Any = None, **kwargs: Any) -> Batch:
    """``default_service().submit_batch(targets, params, ...)``."""
    return default_service().submit_batch(targets, params, **kwargs)
