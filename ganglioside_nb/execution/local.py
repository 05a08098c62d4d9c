"""In-process runner: the same task wrapper and event stream as on Dask, in one thread.

Jobs run one after the other on a background thread of this process, so ``submit`` returns at
once and the caller's loop keeps running. Use it where Dask is not wanted (tests, the CLI
without ``--scheduler``, a quick look); results are identical to the Dask runner's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import os
import socket
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import TaskFailedError
from .base import Job, execute, new_key
from .events import TaskEvent

__all__ = ["LocalJob", "LocalRunner"]

_HOST = socket.gethostname()
#: every live in-process job of this process, whichever runner made it
_LIVE: weakref.WeakValueDictionary[str, LocalJob] = weakref.WeakValueDictionary()


class LocalJob(Job):
    def __init__(self, key: str, future: cf.Future[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(key, **kwargs)
        self.future: cf.Future[Any] = future if future is not None else cf.Future()

    def done(self) -> bool:
        return self.future.done()

    def result(self, timeout: float | None = None) -> Any:
        try:
            return self._unwrap(self.future.result(timeout))
        except cf.CancelledError:
            raise TaskFailedError(f"Task {self.label} was cancelled before it started.",
                                  key=self.key) from None

    async def wait(self) -> Any:
        try:
            # shielded: a caller's timeout or cancelled task must not cancel the job itself
            value = await asyncio.shield(asyncio.wrap_future(self.future))
            await self._settled()
            return self._unwrap(value, settle=False)
        except (cf.CancelledError, asyncio.CancelledError):
            if self.future.cancelled():
                raise TaskFailedError(f"Task {self.label} was cancelled before it started.",
                                      key=self.key) from None
            raise

    def cancel(self) -> bool:
        return self.future.cancel()


class LocalRunner:
    """Runs tasks on ``max_workers`` threads of this process (1: strictly one after another)."""

    name = "local"

    def __init__(self, max_workers: int = 1) -> None:
        self._pool = cf.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ganglioside-job")
        self.max_workers = max_workers

    def __repr__(self) -> str:
        return f"LocalRunner(max_workers={self.max_workers})"

    def __enter__(self) -> LocalRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def key_prefix(self, prefix: str) -> str:
        """Keys name this host and process, so another process can tell a dead owner."""
        return f"{prefix}-local-{_HOST}-{os.getpid()}"

    def submit(self, fn: Callable[..., Any], *args: Any, key: str | None = None,
               label: str | None = None, meta: dict[str, Any] | None = None,
               detach: bool = False, **kwargs: Any) -> LocalJob:
        """Queue ``fn(*args, progress=..., **kwargs)``; ``detach`` has no meaning in process."""
        key = key or new_key(self.key_prefix(getattr(fn, "__name__", "task")))
        job = LocalJob(key, label=label, meta=meta)
        job._push("submitted", message="queued in process")

        def publish(data: dict[str, Any]) -> None:
            job.stream.push(TaskEvent.from_dict(data))

        future = self._pool.submit(execute, fn, args, kwargs, key=key, publish=publish, worker="local")
        job.future = future
        _LIVE[key] = job
        future.add_done_callback(lambda f: job._finish_from_exception(
            None if f.cancelled() else f.exception(), f.cancelled()))
        return job

    def cancel_task(self, key: str) -> bool:
        """Cancel this process's task ``key`` if it has not started (a running in-process task
        cannot be stopped); False otherwise."""
        job = _LIVE.get(key)
        return job is not None and job.cancel()

    def task_states(self, keys: Sequence[str]) -> dict[str, str | None]:
        """``processing``/``finished`` for this process's keys; for a key of another process on
        this host, ``processing`` while that process lives, else None (lost)."""
        out: dict[str, str | None] = {}
        for key in keys:
            job = _LIVE.get(key)
            if job is not None:
                out[key] = "finished" if job.done() else "processing"
            else:
                out[key] = "processing" if _owner_alive(key) else None
        return out

    def info(self) -> dict[str, Any]:
        return {"runner": self.name, "scheduler": None, "workers": [{"address": "local",
                "nthreads": self.max_workers}], "n_workers": 1, "nthreads": self.max_workers,
                "dashboard": None, "local_cluster": False}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _owner_alive(key: str) -> bool:
    """Whether the process that made a key still runs. Keys of other runners or other hosts
    are not ours to judge: they count as alive."""
    marker = f"-local-{_HOST}-"
    if marker not in key:
        return True
    try:
        pid = int(key.split(marker, 1)[1].split("-", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return False  # this process, but no live job holds it: its runner has gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
