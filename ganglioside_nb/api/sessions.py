"""Analysis sessions run in the background: submit, batch, re-run, cancel, reconcile.

:class:`AnalysisService` composes a :class:`~ganglioside_nb.persistence.Repository` (where
sessions live) with a runner (where they run: Dask by default, or in process). Submitting a
session claims it (``running`` under a fresh task key) in the database first, so a second
submission is refused while the first runs; the worker then loads, analyses and saves
(``api.jobs.run_session_job``). If the worker cannot report its own end (it died beyond the
bounded retries, or the task was cancelled), the client records it; sessions whose task the
scheduler no longer knows are failed by :meth:`AnalysisService.reconcile`. A session is never
left ``running`` with nothing running it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from ..errors import GangliosideError, InputFormatError, InvalidParameterError, InvalidTransitionError
from ..execution import Batch, DaskRunner, Job, LocalJob, Runner, TaskEvent, describe_error, new_key
from ..params import AnalysisParams
from ..persistence import Repository, SessionInfo
from ..persistence.engine import shareable_url
from .jobs import run_analysis_job, run_session_job
from .verify import Verification, verify_session

__all__ = ["AnalysisService", "Source", "failed_job", "rerun_target"]

Source: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | pd.DataFrame | int
LOST_MESSAGE = ("The task running this analysis was lost (its worker or scheduler stopped) "
                "before it could finish; run it again.")


def failed_job(label: str, error: BaseException) -> Job:
    """A job that failed before it could be submitted (e.g. a file that cannot be read), so a
    batch reports it like any other failure."""
    job = LocalJob(new_key("rejected"), label=label)
    job.future.set_exception(error)
    error_type, message = describe_error(error)
    job._push("failed", error_type=error_type, error=message, message=message)
    return job


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _check_batch_error(exc: BaseException) -> None:
    """Re-raise what is wrong with the batch's own arguments (nothing should start); any other
    error concerns one target, which becomes a failed job."""
    if isinstance(exc, InvalidParameterError) and not isinstance(exc, InputFormatError):
        raise exc


def _label(source: Any, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    if isinstance(source, int):
        return f"Session #{source}"
    return type(source).__name__


def _portable(source: Any) -> tuple[Any, str | None]:
    """(what a worker on another machine can read, file name): files travel as their bytes."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            raise InputFormatError(f"The input file {str(path)!r} must be readable. Got "
                                   f"{exc.strerror or exc} instead.", filename=path.name) from None
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), None
    if isinstance(source, io.IOBase):
        return source.read(), getattr(source, "name", None)
    return source, None


def rerun_target(repository: Repository, session_id: int,
                 params: AnalysisParams | dict[str, Any] | None = None, *, name: str | None = None,
                 **overrides: Any) -> int:
    """The session a re-run of ``session_id`` runs (FEATURES.md B10).

    A ``failed`` or ``cancelled`` session asked again as it was (no ``params``, overrides or
    ``name``) re-runs in place: its own id (its error is cleared when it starts). Otherwise (a
    completed session, or new parameters) a new ``pending`` session is made from the same stored
    input, with ``parent_id`` = ``session_id``; ``params`` default to the stored ones and
    ``overrides`` change single values.
    """
    old = repository.get_session(session_id)
    if old.status in ("failed", "cancelled") and params is None and not overrides and name is None:
        return session_id
    checked = AnalysisParams.coerce(old.params if params is None else params, **overrides)
    return repository.create_session(repository.load_input(session_id), name=name or old.name,
                                     params=checked, filename=old.input_filename, parent_id=session_id)


class AnalysisService:
    """Run analyses in the background and keep their sessions consistent.

    Parameters
    ----------
    repository : Repository, database URL or None
        None: ``DATABASE_URL`` or the default SQLite file (opened and migrated to head on first
        use; analyses submitted with ``save=False`` never open it).
    runner : LocalRunner, DaskRunner or None
        None: a :class:`~ganglioside_nb.execution.DaskRunner` on ``get_client()`` (the
        scheduler at ``$GANGLIOSIDE_DASK_ADDRESS``, else a local cluster), connected on first use.
    owner : str, optional
        Whose sessions (only when ``repository`` is not a Repository).
    lost_after_s : float, default 30
        A running session whose task the runner cannot find counts as lost only once it has
        run this long (another client's submission may still be on its way to the scheduler).
    """

    def __init__(self, repository: Repository | str | None = None, runner: Runner | None = None, *,
                 owner: str | None = None, lost_after_s: float = 30.0) -> None:
        self.lost_after_s = lost_after_s
        self._repository = repository
        self._owner = owner
        self.runner: Runner = runner if runner is not None else DaskRunner()

    @property
    def repository(self) -> Repository:
        """Opened on first use (unsaved analyses never need it)."""
        if not isinstance(self._repository, Repository):
            self._repository = Repository(self._repository, self._owner, migrate=True)
        return self._repository

    def __repr__(self) -> str:
        return f"AnalysisService({self._repository!r}, {self.runner!r})"

    # -- submit --------------------------------------------------------------------------------
    def submit(self, target: Source, params: AnalysisParams | dict[str, Any] | None = None, *,
               name: str | None = None, data_type: str | None = None, filename: str | None = None,
               save: bool = True, **overrides: Any) -> Job:
        """Analyse a stored session (its id) or a new source in the background.

        With ``save`` (default) a source first becomes a stored ``pending`` session; the job's
        ``meta["session_id"]`` names it and the worker stores the result. Without ``save`` the
        job's result is the :class:`~ganglioside_nb.core.results.AnalysisResult` and nothing is
        stored. A session id runs with its stored parameters (use :meth:`rerun` to change them).
        ``overrides`` change single parameters (``submit(path, mode="reference")``).

        Raises
        ------
        InvalidTransitionError
            The session is running already, or finished (completed sessions are re-run with
            :meth:`rerun`).
        InputFormatError, InvalidParameterError, SessionNotFoundError, SchedulerUnavailableError
        """
        label = name
        if isinstance(target, bool) or not isinstance(target, int):
            label = _label(target, name or filename)
            if overrides:
                params = AnalysisParams.coerce(params, **overrides)
            if not save:
                return self._submit_unsaved(target, params, name=name, filename=filename,
                                            data_type=data_type)
            target = self.repository.create_session(target, name=name, params=params,
                                                    data_type=data_type, filename=filename)
        elif params is not None or data_type is not None or overrides:
            raise InvalidParameterError(
                "params must be None when submitting a stored session (it runs with its own). "
                "Got new parameters instead; use rerun(session_id, params).", parameter="params")
        return self._submit_session(target, label=label)

    def _submit_unsaved(self, source: Any, params: AnalysisParams | dict[str, Any] | None, *,
                        name: str | None, filename: str | None, data_type: str | None) -> Job:
        checked = AnalysisParams.coerce(params, **({} if data_type is None else {"data_type": data_type}))
        label = _label(source, name or filename)
        data, found = _portable(source)
        return self.runner.submit(run_analysis_job, data, filename or found, checked.to_dict(),
                                  key=new_key(self.runner.key_prefix("analysis")), label=label)

    def _submit_session(self, session_id: int, *, label: str | None = None) -> Job:
        repo = self.repository
        info = repo.get_session(session_id)
        if info.status == "running":
            self._fail_if_lost([info])
            info = repo.get_session(session_id)
            if info.status == "running":
                raise InvalidTransitionError(
                    f"Analysis session {session_id} must not be running to be submitted. "
                    f"Got a running task ({info.task_key}) instead.", session_id=session_id,
                    status="running")
        url = shareable_url(repo.engine)
        key = new_key(self.runner.key_prefix(f"session-{session_id}"))
        repo.mark_running(session_id, task_key=key)  # the claim: a concurrent second one fails
        try:
            job = self.runner.submit(run_session_job, url, info.owner, session_id, key, key=key,
                                     label=label or info.display_name,
                                     meta={"session_id": session_id}, detach=True)
        except BaseException as exc:
            repo.end_task(session_id, key, "failed", exc)
            raise
        job.subscribe(lambda event: self._record_client_end(session_id, key, event))
        return job

    def _record_client_end(self, session_id: int, key: str, event: TaskEvent) -> None:
        """A terminal event the client had to make up (no worker): store it in the session."""
        if event.terminal and event.worker is None and event.kind in ("failed", "cancelled"):
            try:
                why = event.error or (LOST_MESSAGE if event.kind == "failed" else "cancelled")
                self.repository.end_task(session_id, key, event.kind, why)
            except GangliosideError:
                pass  # database unreachable now: reconcile() fixes it later

    def submit_batch(self, targets: Iterable[Source], params: AnalysisParams | dict[str, Any] | None = None,
                     *, names: Sequence[str | None] | None = None, save: bool = True,
                     **overrides: Any) -> Batch:
        """Submit many; a target that cannot even be submitted (unreadable file, finished
        session) becomes a failed job of the batch instead of stopping it."""
        targets = list(targets)
        names = list(names) if names is not None else [None] * len(targets)
        if len(names) != len(targets):
            raise InvalidParameterError(f"names must have one entry per target ({len(targets)}). "
                                        f"Got {len(names)} instead.", parameter="names")
        stored = any(isinstance(t, int) and not isinstance(t, bool) for t in targets)
        if not save and not stored and hasattr(self.runner, "submit_many") and len(targets) > 1:
            return self._submit_unsaved_many(targets, names, params, **overrides)
        jobs = []
        for target, name in zip(targets, names, strict=True):
            try:
                jobs.append(self.submit(target, params, name=name, save=save, **overrides)
                            if not isinstance(target, int) else self.submit(target, name=name))
            except (GangliosideError, OSError) as exc:
                _check_batch_error(exc)
                jobs.append(failed_job(_label(target, name), exc))
        return Batch(jobs)

    def _submit_unsaved_many(self, targets: list[Source], names: list[str | None],
                             params: AnalysisParams | dict[str, Any] | None, **overrides: Any) -> Batch:
        """Unstored analyses share Dask tasks (``runner.submit_many``): an analysis of a small
        table takes about as long as the per-task cost of Dask on a busy two-core machine."""
        checked = AnalysisParams.coerce(params, **overrides).to_dict()
        slots: list[Job | None] = []
        calls: list[tuple[tuple[Any, ...], str | None]] = []
        for target, name in zip(targets, names, strict=True):
            try:
                data, found = _portable(target)
            except (GangliosideError, OSError) as exc:
                _check_batch_error(exc)
                slots.append(failed_job(_label(target, name), exc))
                continue
            slots.append(None)
            calls.append(((data, found, checked), _label(target, name)))
        submitted = iter(self.runner.submit_many(run_analysis_job, calls,  # type: ignore[attr-defined]
                                                 prefix=self.runner.key_prefix("analysis")))
        return Batch([slot if slot is not None else next(submitted) for slot in slots])

    def rerun(self, session_id: int, params: AnalysisParams | dict[str, Any] | None = None, *,
              name: str | None = None, **overrides: Any) -> Job:
        """Run a stored session again in the background (:func:`rerun_target` decides which
        session runs: a failed or cancelled one asked as it was in place, else a new child)."""
        target = rerun_target(self.repository, session_id, params, name=name, **overrides)
        return self._submit_session(target, label=name)

    # -- control -------------------------------------------------------------------------------
    def cancel(self, job: Job) -> bool:
        """Cancel a job; its session ends ``cancelled``. A task already running on a Dask worker
        stops at its next step (an analysis reports one after every rule); nothing is stored."""
        return job.cancel()

    def cancel_session(self, session_id: int) -> bool:
        """Cancel a stored session by id, whoever started it (FEATURES.md B7): a ``pending`` one
        is marked ``cancelled``; a ``running`` one has its task cancelled on this service's
        scheduler (it stops at its next step; nothing partial is stored) and is marked
        ``cancelled`` at once. Returns False when the session has ended already, or when its
        task is not on this scheduler (another process's local cluster): that process must
        cancel it."""
        repo = self.repository
        info = repo.get_session(session_id)
        if info.status == "pending":
            repo.mark_cancelled(session_id)
            return True
        if info.status != "running" or not info.task_key:
            return False
        if not self.runner.cancel_task(info.task_key):
            return False
        # The submitting client records the end too when it sees its task cancelled; whichever
        # writes first wins ("cancelled by <owner>" or "cancelled"), the status is the same.
        repo.end_task(session_id, info.task_key, "cancelled", f"cancelled by {repo.owner}")
        return True

    def reconcile(self) -> list[SessionInfo]:
        """Fail this owner's ``running`` sessions whose task will never finish; return them."""
        return self._fail_if_lost(self.repository.list_sessions(status="running"))

    def _fail_if_lost(self, sessions: Sequence[SessionInfo]) -> list[SessionInfo]:
        """Sessions run without a task key (in a foreground process) are not judged."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.lost_after_s)
        judged = [s for s in sessions if s.task_key and s.started_at is not None
                  and _aware(s.started_at) <= cutoff]
        states = self.runner.task_states([s.task_key for s in judged if s.task_key]) if judged else {}
        return [self.repository.get_session(s.id) for s in judged
                if s.task_key and states.get(s.task_key) is None
                and self.repository.end_task(s.id, s.task_key, "failed", LOST_MESSAGE)]

    # -- results -------------------------------------------------------------------------------
    def result(self, job_or_session: Job | int, timeout: float | None = None) -> Any:
        """The AnalysisResult of a finished job (loaded from the database for stored sessions)."""
        if isinstance(job_or_session, Job):
            value = job_or_session.result(timeout)
            if not isinstance(value, SessionInfo):
                return value
            job_or_session = value.id
        return self.repository.load_result(job_or_session)

    def verify(self, session_id: int) -> Verification:
        """Re-run a completed session's stored input here and compare with the stored result
        (:func:`~ganglioside_nb.api.verify.verify_session`); nothing is written."""
        return verify_session(self.repository, session_id)

    def health(self) -> dict[str, Any]:
        """Database and scheduler (see :func:`ganglioside_nb.api.health`); when both answer,
        stale ``running`` sessions are reconciled first and listed under ``reconciled``."""
        from .health import health
        report = health(self.repository, self.runner)
        report["reconciled"] = []
        if report["ok"]:
            try:
                report["reconciled"] = [s.id for s in self.reconcile()]
            except GangliosideError as exc:  # e.g. the scheduler went away meanwhile
                report["reconcile_error"] = str(exc)
        return report

