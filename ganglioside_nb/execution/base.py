"""The runner interface: a :class:`Job` per submitted task, a :class:`Batch` of jobs, and the
wrapper every runner puts around the task function.

A task function is any module-level callable taking picklable arguments plus a keyword
``progress`` (called with :class:`~ganglioside_nb.core.events.ProgressEvent` objects, the
same callback ``analyze`` takes). :func:`execute` turns its run into ``started``, ``step`` and
``completed``/``failed`` :class:`TaskEvent` records and hands each to a ``publish`` function the
runner chooses (a worker event on Dask, a direct push in process).
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from types import MappingProxyType
from typing import Any, Protocol

import pandas as pd

from ..core.events import ProgressEvent
from ..errors import GangliosideError, TaskCancelledError
from .events import TaskEvent
from .progress import BatchState, ProgressState
from .stream import EventCallback, EventStream

__all__ = ["Batch", "Job", "Raised", "Runner", "describe_error", "execute", "new_key"]


def new_key(prefix: str) -> str:
    """A unique task key, readable in the dashboard: ``<prefix>-<12 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def describe_error(exc: BaseException) -> tuple[str, str]:
    """``(type name, one line)`` of an exception, as a user should read it."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, GangliosideError):
        text = f"internal error: {type(exc).__name__}: {text}"
    return type(exc).__name__, text[:2000]


class Raised:
    """The outcome of a task that failed on purpose (a :class:`GangliosideError`, e.g. bad
    input): returned instead of raised, so workers do not log it as a crash;
    :meth:`Job.result` raises ``error`` again on the caller's side."""

    __slots__ = ("error",)

    def __init__(self, error: GangliosideError) -> None:
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        return (Raised, (self.error,))


def execute(fn: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any], *, key: str,
            publish: Callable[[dict[str, Any]], None], worker: str | None,
            cancelled: Callable[[], bool] | None = None) -> Any:
    """Run ``fn(*args, progress=..., **kwargs)`` and publish its events.

    Publishing never raises. A :class:`GangliosideError` from ``fn`` is published as ``failed``
    and returned wrapped in :class:`Raised`; any other exception is published and re-raised.
    ``cancelled`` is asked at every progress step: once it says True, the step raises
    :class:`TaskCancelledError` (a TaskFailedError), so a cancelled task stops at its next step
    instead of running to its end (an analysis reports a step after every rule).
    """
    run = uuid.uuid4().hex[:12]
    seq = itertools.count()
    started = time.perf_counter()

    def emit(kind: str, **values: Any) -> None:
        event = TaskEvent.now(key, kind, seq=next(seq), run=run, worker=worker, **values)
        try:
            publish(event.to_dict())
        except Exception:  # progress is best effort; the task's own outcome matters
            pass

    def progress(event: ProgressEvent) -> None:
        if cancelled is not None and cancelled():
            raise TaskCancelledError(f"Task {key} was cancelled; it stopped before "
                                     f"{event.step!r}.", key=key)
        emit("step", step=event.step, index=event.index, total=event.total,
             fraction=float(event.fraction), message=event.message)

    emit("started", message=f"started on {worker}" if worker else "started")
    try:
        value = fn(*args, progress=progress, **kwargs)
    except BaseException as exc:
        error_type, error = describe_error(exc)
        emit("failed", error_type=error_type, error=error, message=error)
        if isinstance(exc, GangliosideError):
            return Raised(exc)
        raise
    emit("completed", fraction=1.0, message=f"completed in {time.perf_counter() - started:.2f} s")
    return value


class Job:
    """A submitted task: its key, its event stream and (through the runner) its outcome.

    Iterate it (``for event in job`` / ``async for event in job``) or ``subscribe`` to follow
    its events; ``result()`` blocks for the return value, ``await job.wait()`` does the same
    on an event loop. ``meta`` holds what the submitter attached (e.g. ``session_id``).
    """

    def __init__(self, key: str, *, label: str | None = None, meta: dict[str, Any] | None = None) -> None:
        self.key = key
        self.label = label or key
        self.meta: dict[str, Any] = dict(meta or {})
        self.stream = EventStream(key)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r} {self.status}>"

    # -- events --------------------------------------------------------------------------------
    @property
    def state(self) -> ProgressState:
        return self.stream.state

    @property
    def status(self) -> str:
        return self.stream.state.status

    @property
    def events(self) -> tuple[TaskEvent, ...]:
        return self.stream.events

    def __iter__(self) -> Iterator[TaskEvent]:
        return iter(self.stream)

    def __aiter__(self) -> AsyncIterator[TaskEvent]:
        return self.stream.__aiter__()

    def subscribe(self, callback: EventCallback, *, replay: bool = True) -> Callable[[], None]:
        """``callback(event)`` for every event; see :meth:`EventStream.subscribe`."""
        return self.stream.subscribe(callback, replay=replay)

    def finished(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` s) for the terminal event; True once it has arrived."""
        return self.stream.wait(timeout)

    # -- outcome (runner specific) -------------------------------------------------------------
    def done(self) -> bool:
        raise NotImplementedError

    def result(self, timeout: float | None = None) -> Any:
        """The task's return value; raises what the task raised (TaskFailedError if its
        workers kept dying or it was cancelled)."""
        raise NotImplementedError

    def exception(self, timeout: float | None = None) -> BaseException | None:
        try:
            self.result(timeout)
        except TimeoutError:
            raise  # still running: not the task's exception
        except Exception as exc:
            return exc
        return None

    async def wait(self) -> Any:
        """``result()`` without blocking the running event loop."""
        raise NotImplementedError

    def cancel(self) -> bool:
        """Cancel the task if it has not finished; True if a cancellation was requested."""
        raise NotImplementedError

    # -- used by runners -----------------------------------------------------------------------
    def _unwrap(self, value: Any, *, settle: bool = True) -> Any:
        """The task's value. ``settle`` first lets the stream's consumers see the end (so the
        session's stored state already agrees when ``result()`` returns); async callers use
        :meth:`_settled` instead, which does not block the loop."""
        if settle:
            self.stream.wait(10.0)
        if isinstance(value, Raised):
            raise value.error
        return value

    def _push(self, kind: str, **values: Any) -> None:
        """A client-side event (no worker): ``submitted``, or the end of a task whose worker
        could not say it (lost, cancelled)."""
        self.stream.push(TaskEvent.now(self.key, kind, seq=-1, run=f"client-{kind}", **values))

    async def _settled(self) -> None:
        async for _ in self.stream:
            pass

    def _finish_from_exception(self, exc: BaseException | None, cancelled: bool) -> None:
        if self.stream.done:
            return
        if cancelled:
            self._push("cancelled", message="cancelled")
        elif exc is None:
            self._push("completed", fraction=1.0, message="completed")
        else:
            error_type, error = describe_error(exc)
            self._push("failed", error_type=error_type, error=error, message=error)


class Batch:
    """Jobs submitted together: completion order, per-item status, summary, cancellation."""

    def __init__(self, jobs: Iterable[Job]) -> None:
        self.jobs: list[Job] = list(jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs)

    def __repr__(self) -> str:
        counts = {k: v for k, v in self.state.counts().items() if v}
        return f"<Batch {len(self.jobs)} jobs {counts}>"

    @property
    def state(self) -> BatchState:
        """Every job's state (each stream keeps its own fold): linear in the number of jobs."""
        return BatchState(MappingProxyType({j.key: j.state for j in self.jobs}))

    def subscribe(self, callback: EventCallback, *, replay: bool = True) -> Callable[[], None]:
        """``callback(event)`` for the events of every job (in the pushing thread)."""
        stops = [j.subscribe(callback, replay=replay) for j in self.jobs]

        def stop_all() -> None:
            for stop in stops:
                stop()
        return stop_all

    def as_completed(self, timeout: float | None = None) -> Iterator[Job]:
        """Each job once its terminal event arrived, in that order (blocks between jobs)."""
        inbox: queue.SimpleQueue[Job] = queue.SimpleQueue()
        stops = []
        for job in self.jobs:
            def on_event(event: TaskEvent, job: Job = job) -> None:
                if event.terminal:
                    inbox.put(job)
            stops.append(job.subscribe(on_event))
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            for _ in self.jobs:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    yield inbox.get(timeout=remaining)
                except queue.Empty:
                    raise TimeoutError(f"{sum(not j.stream.done for j in self.jobs)} of {len(self.jobs)} "
                                       f"jobs were still unfinished after {timeout} s") from None
        finally:
            for stop in stops:
                stop()

    async def as_completed_async(self) -> AsyncIterator[Job]:
        """Async variant of :meth:`as_completed`, consumed on the running loop."""
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Job] = asyncio.Queue()
        stops = []
        for job in self.jobs:
            def on_event(event: TaskEvent, job: Job = job) -> None:
                if event.terminal:
                    loop.call_soon_threadsafe(inbox.put_nowait, job)
            stops.append(job.subscribe(on_event))
        try:
            for _ in self.jobs:
                yield await inbox.get()
        finally:
            for stop in stops:
                stop()

    def wait(self, timeout: float | None = None) -> Batch:
        for _ in self.as_completed(timeout):
            pass
        return self

    def cancel(self) -> list[Job]:
        """Cancel the jobs no worker has started yet; running ones finish. Returns those cancelled."""
        chosen = [j for j in self.jobs if j.status in ("pending", "queued")]
        return [j for j in chosen if j.cancel()]

    def summary(self) -> pd.DataFrame:
        """One row per job: label, key, status, attempts, seconds, error, plus its ``meta``."""
        rows = []
        for job in self.jobs:
            s = job.state
            rows.append({"label": job.label, "key": job.key, "status": s.status, "attempts": s.attempt,
                         "elapsed_s": s.elapsed_s, "error": s.error, **job.meta})
        return pd.DataFrame(rows)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.state.counts().items() if v}


class Runner(Protocol):
    """Something that runs task functions and streams their events (see module doc)."""

    name: str

    def key_prefix(self, prefix: str) -> str:
        """The start of this runner's task keys for tasks named ``prefix``."""
        ...

    def submit(self, fn: Callable[..., Any], *args: Any, key: str | None = None,
               label: str | None = None, meta: dict[str, Any] | None = None,
               detach: bool = False, **kwargs: Any) -> Job: ...

    def task_states(self, keys: Sequence[str]) -> dict[str, str | None]:
        """Scheduler-side state of each key; None for a key this runner cannot find (lost)."""
        ...

    def cancel_task(self, key: str) -> bool:
        """Cancel the task ``key``, whoever submitted it, if this runner can reach it."""
        ...

    def info(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
