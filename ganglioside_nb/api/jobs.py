"""The functions workers execute. Module level with picklable arguments, so any runner (Dask
or in process) can ship them; they take the ``progress`` callback every runner passes.

``run_session_job`` is why analyses survive a closed browser tab or kernel: the worker loads
the stored input, runs the core, and saves the result and the ``completed`` status in one
transaction, or records ``failed`` with the one-line reason. Nothing is written half.
"""

from __future__ import annotations

import functools
import time
from dataclasses import replace
from typing import Any

from ..core.events import ProgressEvent
from ..core.pipeline import analyze
from ..core.results import AnalysisResult
from ..errors import InvalidTransitionError, TaskCancelledError
from ..params import AnalysisParams
from ..persistence import Repository, SessionInfo

__all__ = ["run_analysis_job", "run_session_job"]

ProgressCallback = Any
#: share of the progress bar the analysis takes; saving is the last step
_ANALYSIS_SHARE = 0.95


@functools.lru_cache(maxsize=8)
def _repository(database_url: str, owner: str) -> Repository:
    """One repository (and connection pool) per database and owner in each worker process."""
    return Repository(database_url, owner)


def run_session_job(database_url: str, owner: str, session_id: int, task_key: str, *,
                    progress: ProgressCallback) -> SessionInfo:
    """Analyse a stored session and store its result; returns the completed session.

    The session must be ``running`` under ``task_key`` (the submitter claims it) or still
    ``pending``. A retry after a lost worker finds it ``running`` under the same key and goes on.
    """
    repo = _repository(database_url, owner)
    info = repo.get_session(session_id)
    if info.status == "pending":
        info = repo.mark_running(session_id, task_key=task_key)
    elif info.status != "running" or info.task_key != task_key:
        raise InvalidTransitionError(
            f"Analysis session {session_id} must be running as task {task_key} to be analysed. "
            f"Got status {info.status!r} (task {info.task_key}) instead.",
            session_id=session_id, status=info.status)
    steps = _Scaled(progress)
    try:
        result = analyze(repo.load_input(session_id), AnalysisParams.from_dict(info.params),
                         filename=info.input_filename, progress=steps)
        started = time.perf_counter()
        saved = repo.save_result(session_id, result)
        progress(ProgressEvent(step="save", index=steps.total, total=steps.total, fraction=1.0,
                               message=f"saved {len(result.compounds)} compounds",
                               elapsed_s=time.perf_counter() - started))
        return saved
    except BaseException as exc:
        # A task stopped by its cancellation ends the session 'cancelled', as the client records
        # it too: whichever of the two writes first, the session says the same.
        status = "cancelled" if isinstance(exc, TaskCancelledError) else "failed"
        try:  # no-op when save_result already recorded it, or the client already did
            repo.end_task(session_id, task_key, status, exc)
        except Exception:
            pass
        raise


def run_analysis_job(source: Any, filename: str | None, params: dict[str, Any], *,
                     progress: ProgressCallback) -> AnalysisResult:
    """Analyse without storing anything; returns the result."""
    return analyze(source, AnalysisParams.from_dict(params), filename=filename, progress=progress)


class _Scaled:
    """Forwards the analysis steps with room for one more step (saving) at the end."""

    def __init__(self, progress: ProgressCallback) -> None:
        self.progress = progress
        self.total = 1

    def __call__(self, event: ProgressEvent) -> None:
        self.total = event.total + 1
        self.progress(replace(event, total=self.total, fraction=event.fraction * _ANALYSIS_SHARE))
