"""Dask runner: each task runs on a distributed worker; its events come back as worker events.

The worker wraps the task with :func:`~ganglioside_nb.execution.base.execute` and publishes
its events with ``Worker.log_event`` under one topic per client (step events in batches of at
most 0.25 s, each event keeping its own time stamp and task key). The client subscribes to its
topic once, *before* its first submission (both messages travel on the same ordered stream to
the scheduler), so no event is missed, and hands each event to the job of its key: one
subscription per client instead of a subscribe and an unsubscribe message per task. When a
future finishes, any event of it still missing is looked for once with ``get_events`` and, if
the worker could not report the end (it died, the task was cancelled), the client adds the
terminal event itself. Nothing polls.

Fault handling is the scheduler's: a task whose worker dies is re-run on another worker, at
most ``allowed-failures`` times (2 on the local cluster), then it fails with ``KilledWorker``,
which :meth:`DaskJob.result` reports as :class:`~ganglioside_nb.errors.TaskFailedError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from distributed import Client, Future, fire_and_forget, get_worker
from distributed.scheduler import KilledWorker

from ..errors import SchedulerUnavailableError, TaskCancelledError, TaskFailedError
from .base import Job, Raised, describe_error, execute, new_key
from .cluster import cluster_info, get_client, scheduler_rpc
from .events import TaskEvent

__all__ = ["DaskJob", "DaskRunner", "chunk_sizes", "topic_for"]

logger = logging.getLogger(__name__)

#: task states in which the scheduler will still run (or has run) the task
ALIVE_STATES = frozenset({"released", "waiting", "queued", "no-worker", "processing", "memory"})


def topic_for(client: Client) -> str:
    """The worker-event topic carrying the events of one client's tasks."""
    return f"ganglioside-nb/{client.id}"


class _Dispatcher:
    """Client side: the one subscription to a client's topic, routing events to jobs by key."""

    _lock = threading.Lock()
    #: one per live client (the client's handler keeps its dispatcher, not the other way round)
    _of_client: weakref.WeakKeyDictionary[Client, _Dispatcher] = weakref.WeakKeyDictionary()

    def __init__(self, client: Client) -> None:
        self.topic = topic_for(client)
        self.jobs: dict[str, DaskJob] = {}

    @classmethod
    def of(cls, client: Client) -> _Dispatcher:
        with cls._lock:
            dispatcher = cls._of_client.get(client)
            if dispatcher is None:
                dispatcher = cls._of_client[client] = cls(client)
                client.subscribe_topic(dispatcher.topic, dispatcher.on_event)
            return dispatcher

    def add(self, job: DaskJob) -> None:
        self.jobs[job.key] = job

    def remove(self, job: DaskJob) -> None:
        self.jobs.pop(job.key, None)

    def on_event(self, event: tuple[float, Any]) -> None:
        _, message = event
        try:
            items = list(message["events"])
        except Exception:
            logger.warning("ignoring malformed event on %s: %r", self.topic, message)
            return
        for item in items:
            job = self.jobs.get(str(item.get("key"))) if isinstance(item, dict) else None
            if job is not None:
                job._on_items([item])


#: step events are sent in batches at most this often (``started`` and the end go at once);
#: each batch is one scheduler message: a 12-step analysis of 0.15 s costs 2 messages, not 15,
#: and a long one still updates 4 times a second
FLUSH_INTERVAL_S = 0.25


class _Publisher:
    """Worker side: buffers events and publishes them as ``{"events": [...]}`` worker events.

    A buffered event waits at most ``FLUSH_INTERVAL_S``: the next event flushes it, or a flush
    scheduled on the worker's event loop does. Events other than steps flush at once unless
    ``batch_all`` (the calls of a chunk task: its end flushes what is left).
    """

    def __init__(self, worker: Any, topic: str, interval: float = FLUSH_INTERVAL_S,
                 batch_all: bool = False) -> None:
        self.worker, self.topic, self.interval, self.batch_all = worker, topic, interval, batch_all
        self.lock = threading.Lock()
        self.buffer: list[dict[str, Any]] = []
        self.last = 0.0
        self.pending = False

    def __call__(self, data: dict[str, Any]) -> None:
        now = time.monotonic()
        with self.lock:
            self.buffer.append(data)
            urgent = (data["kind"] != "step" and not self.batch_all) or now - self.last >= self.interval
            if not urgent and not self.pending:
                self.pending = True
                self.worker.loop.add_callback(self._later)
        if urgent:
            self.flush()

    async def _later(self) -> None:
        await asyncio.sleep(self.interval)
        self.flush()

    def flush(self) -> None:
        with self.lock:
            batch, self.buffer = self.buffer, []
            self.pending = False
            self.last = time.monotonic()
        if batch:
            self.worker.log_event(self.topic, {"events": batch})


def _cancelled_check(worker: Any, key: str) -> Callable[[], bool]:
    """Whether the client cancelled the Dask task ``key`` (the worker's own state says so)."""
    def cancelled() -> bool:
        task = worker.state.tasks.get(key)
        return task is None or task.state == "cancelled"
    return cancelled


def chunk_sizes(n: int, workers: int, *, largest: int = 8, spread: int = 4) -> list[int]:
    """How many of ``n`` calls each Dask task runs: what is left shared by ``spread`` tasks per
    worker, at most ``largest``, at least 1. The sizes fall towards the end (8, ..., 8, 7, 6,
    ..., 1, 1), so the workers finish together: the last tasks are single calls, not a chunk
    of 8 that keeps one worker busy while the others wait."""
    sizes: list[int] = []
    left = n
    while left > 0:
        size = max(1, min(largest, -(-left // (spread * max(1, workers)))))
        sizes.append(size)
        left -= size
    return sizes


def run_chunk_on_worker(fn: Callable[..., Any], calls: list[tuple[tuple[Any, ...], str]],
                        topic: str) -> list[Any]:
    """Several calls of ``fn`` in one Dask task, each with its own key, events and outcome (a
    failure of one, whatever it is, is returned as :class:`Raised` and the next one runs)."""
    worker = get_worker()
    cancelled = _cancelled_check(worker, str(worker.get_current_task()))
    publish = _Publisher(worker, topic, batch_all=True)  # one message per 0.25 s, not per call
    out: list[Any] = []
    try:
        for args, key in calls:
            if cancelled():
                out.append(Raised(TaskCancelledError(f"Task {key} was cancelled.", key=key)))
                continue
            try:
                out.append(execute(fn, args, {}, key=key, worker=worker.address, publish=publish,
                                   cancelled=cancelled))
            except Exception as exc:  # published as failed by execute; the chunk goes on
                out.append(Raised(TaskFailedError(f"Task {key} failed: {describe_error(exc)[1]}",
                                                  key=key)))
    finally:
        publish.flush()  # before the task's result: the client sees every end before it
    return out


def run_on_worker(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], key: str,
                  topic: str) -> Any:
    """What the worker executes: ``fn`` wrapped by ``execute``, events as worker events. A task
    the client cancels while it runs stops at its next progress step: the worker's own state
    of the key says so, with no message to ask."""
    worker = get_worker()
    return execute(fn, args, kwargs, key=key, worker=worker.address, publish=_Publisher(worker, topic),
                   cancelled=_cancelled_check(worker, key))


def _translate(exc: BaseException, job: DaskJob) -> BaseException:
    if isinstance(exc, KilledWorker):
        return TaskFailedError(
            f"Task {job.label} was stopped: the worker running it died {exc.allowed_failures + 1} "
            f"times (last {exc.last_worker.address}); it was not retried further.",
            key=job.key, attempts=exc.allowed_failures + 1)
    if isinstance(exc, asyncio.CancelledError | concurrent.futures.CancelledError):
        return TaskCancelledError(f"Task {job.label} was cancelled.", key=job.key)
    return exc


class _ChunkValue:
    """The list a chunk task returns, fetched once for all its jobs (each ``Future.result``
    would transfer and unpickle the whole list again)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fetched = False
        self.value: Any = None

    def get(self, future: Future[Any], timeout: float | None) -> Any:
        with self.lock:
            if not self.fetched:
                self.value, self.fetched = future.result(timeout), True
            return self.value

    async def get_async(self, future: Future[Any]) -> Any:
        if not self.fetched:
            value = await future
            self.value, self.fetched = value, True
        return self.value


class DaskJob(Job):
    """One task on Dask, or one call of a chunk task (``index`` into the chunk's list of
    outcomes; ``chunk`` holds the jobs sharing that task, ``shared`` its value once fetched)."""

    def __init__(self, key: str, client: Client, **kwargs: Any) -> None:
        super().__init__(key, **kwargs)
        self.client = client
        self.future: Future[Any] | None = None
        self.dispatcher = _Dispatcher.of(client)
        self.index: int | None = None
        self.chunk: list[DaskJob] = [self]
        self.shared: _ChunkValue | None = None
        self.dropped = False  # cancelled while its chunk task goes on

    def done(self) -> bool:
        return self.dropped or (self.future is not None and self.future.done())

    def _own(self, value: Any) -> Any:
        """This job's outcome out of its task's value."""
        if self.index is None:
            return value
        if self.dropped:
            return Raised(TaskCancelledError(f"Task {self.label} was cancelled.", key=self.key))
        return value[self.index]

    def result(self, timeout: float | None = None) -> Any:
        assert self.future is not None
        if self.dropped:
            return self._unwrap(self._own(None))
        try:
            value = (self.future.result(timeout) if self.shared is None
                     else self.shared.get(self.future, timeout))
        except Exception as exc:
            self.stream.wait(10.0)
            translated = _translate(exc, self)
            if translated is exc:
                raise
            raise translated from None
        return self._unwrap(self._own(value))

    async def wait(self) -> Any:
        assert self.future is not None
        if self.client.asynchronous:
            try:
                value = await (self.future if self.shared is None else self.shared.get_async(self.future))
            except Exception as exc:
                await self._settled()
                translated = _translate(exc, self)
                if translated is exc:
                    raise
                raise translated from None
            await self._settled()
            return self._unwrap(self._own(value), settle=False)
        return await asyncio.to_thread(self.result)

    def cancel(self) -> bool:
        if self.future is None or self.future.done() or self.dropped:
            return False
        if self.index is not None:  # one call of a chunk: the task goes on for the others
            self.dropped = True
            self.dispatcher.remove(self)
            self._push("cancelled", message="cancelled")
            if not all(job.dropped for job in self.chunk):
                return True
        # force: also when the task was handed to fire_and_forget
        if self.client.asynchronous:  # on the client's own loop (a kernel): do not block it
            asyncio.ensure_future(self.client.cancel([self.future], force=True))
        else:
            self.client.cancel([self.future], force=True)
        return True

    # -- event plumbing ------------------------------------------------------------------------
    def _on_items(self, items: list[Any]) -> None:
        try:
            for item in items:
                self.stream.push(TaskEvent.from_dict(item))
        except Exception:
            logger.warning("ignoring malformed event of %s: %r", self.key, items)

    def _on_done(self, future: Future[Any]) -> None:
        """Runs in distributed's callback thread once the future finished."""
        if self.dropped:
            return
        try:
            if not self.stream.done:  # replay what the live feed may not have delivered yet
                for _, message in self.client.get_events(self.dispatcher.topic):
                    self._on_items([item for item in message.get("events", ())
                                    if isinstance(item, dict) and item.get("key") == self.key])
            if not self.stream.done:
                cancelled = future.status == "cancelled"
                exc = None if cancelled or future.status == "finished" else future.exception()
                self._finish_from_exception(None if exc is None else _translate(exc, self), cancelled)
        except Exception as exc:  # the client may be closing: still end the stream
            logger.debug("finishing %s: %s", self.key, exc)
            self._finish_from_exception(exc, future.status == "cancelled")
        finally:
            self.dispatcher.remove(self)


class DaskRunner:
    """Runs tasks on a Dask cluster: a given client, else ``get_client(address)`` on first use."""

    name = "dask"

    def __init__(self, client: Client | None = None, *, address: str | None = None) -> None:
        self._client = client
        self._address = address

    def __repr__(self) -> str:
        where = (getattr(self._client.scheduler, "address", "closed") if self._client is not None
                 else (self._address or "local"))
        return f"DaskRunner({where})"

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = get_client(self._address)
        return self._client

    def key_prefix(self, prefix: str) -> str:
        return prefix

    def submit(self, fn: Callable[..., Any], *args: Any, key: str | None = None,
               label: str | None = None, meta: dict[str, Any] | None = None,
               detach: bool = False, **kwargs: Any) -> DaskJob:
        """Run ``fn(*args, progress=..., **kwargs)`` on a worker.

        ``detach=True`` keeps the task running even if this client goes away (for tasks whose
        effect is a side effect, such as saving to the database).
        """
        client = self.client
        key = key or new_key(getattr(fn, "__name__", "task"))
        job = DaskJob(key, client, label=label, meta=meta)
        job.dispatcher.add(job)
        job._push("submitted", message="submitted to the scheduler")
        try:
            job.future = client.submit(run_on_worker, fn, args, kwargs, key, job.dispatcher.topic,
                                       key=key, pure=False)
        except Exception as exc:
            job.dispatcher.remove(job)
            raise SchedulerUnavailableError(
                f"The task could not be submitted to the Dask scheduler ({exc}).",
                address=str(getattr(client.scheduler, "address", ""))) from exc
        if detach:
            fire_and_forget(job.future)
        job.future.add_done_callback(job._on_done)
        return job

    def submit_many(self, fn: Callable[..., Any], calls: Sequence[tuple[tuple[Any, ...], str | None]], *,
                    prefix: str = "task", per_task: int | None = None) -> list[DaskJob]:
        """Run ``fn(*args, progress=...)`` for each ``(args, label)``, several calls per Dask task.

        Each call is its own job (key, events, outcome, ``cancel``); a Dask task costs the
        scheduler and the client a few milliseconds whatever it does, so short calls share
        tasks: ``per_task`` calls each, or by default :func:`chunk_sizes`.
        A call cancelled while its task goes on is dropped; the task is cancelled once every
        call of it is. A lost worker re-runs the whole task (calls without side effects only).
        """
        client = self.client
        if per_task is None:
            workers = max(1, len(client.scheduler_info().get("workers", {})))
            sizes = chunk_sizes(len(calls), workers)
        else:
            sizes = [per_task] * -(-len(calls) // per_task)
        jobs: list[DaskJob] = []
        lo = 0
        for size in sizes:
            part, lo = calls[lo:lo + size], lo + size
            chunk = [DaskJob(new_key(prefix), client, label=label) for _, label in part]
            for job in chunk:
                job.dispatcher.add(job)
                job._push("submitted", message="submitted to the scheduler")
            try:
                future = client.submit(run_chunk_on_worker, fn,
                                       [(args, job.key) for (args, _), job in zip(part, chunk, strict=True)],
                                       chunk[0].dispatcher.topic, key=new_key(f"{prefix}-x{len(part)}"),
                                       pure=False)
            except Exception as exc:
                for job in chunk:
                    job.dispatcher.remove(job)
                raise SchedulerUnavailableError(
                    f"The task could not be submitted to the Dask scheduler ({exc}).",
                    address=str(getattr(client.scheduler, "address", ""))) from exc
            shared = _ChunkValue()
            for index, job in enumerate(chunk):
                job.future, job.index, job.chunk, job.shared = future, index, chunk, shared
                future.add_done_callback(job._on_done)
            jobs.extend(chunk)
        return jobs

    def cancel_task(self, key: str) -> bool:
        """Cancel the task ``key`` whichever client submitted it (this scheduler's task: another
        kernel's, the CLI's); the worker stops it at its next progress step. False when the
        scheduler does not know the key (it ended, or it was lost)."""
        if self.task_states([key]).get(key) is None:
            return False
        client = self.client
        held = client.futures.get(key)
        future = held if held is not None else Future(key, client)
        client.cancel([future], force=True)
        return True

    def task_states(self, keys: Sequence[str]) -> dict[str, str | None]:
        """The scheduler's state of each key (None: the scheduler does not know it, or it
        erred; either way it will not finish). Keys this client holds futures for count as
        ``processing`` (their submission may still be on its way to the scheduler). Call
        outside the client's event loop."""
        if not keys:
            return {}
        client = self.client
        ours = {k: "processing" for k in keys if k in client.futures}
        asked = [k for k in keys if k not in ours]
        states = (client.sync(scheduler_rpc(client).get_task_status, keys=asked, asynchronous=False)
                  if asked else {})
        return {k: ours.get(k) or (states.get(k) if states.get(k) in ALIVE_STATES else None) for k in keys}

    def info(self) -> dict[str, Any]:
        return {"runner": self.name, **cluster_info(self.client)}

    def close(self) -> None:
        """Forget the client (shared clients are closed by ``close_local_cluster``/exit)."""
        self._client = None
