"""Run an analysis and watch it live.

:class:`JobProgress` draws a :class:`~ganglioside_nb.execution.ProgressState` (bar, step,
elapsed time, status badge, timestamped log); it never computes anything. :class:`RunView`
is the "Analyze" button: it submits through the api, then iterates the job's asynchronous
event stream on the kernel's loop and assigns the folded state to ``AppState.progress``, so
widgets change only on the kernel loop (STYLE.md §11). When the session is saved, the result
is loaded from the database and assigned to ``AppState.result``.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from typing import Any

import ipywidgets as W

from ..errors import InputFormatError
from ..execution import Job, ProgressState
from .backend import Backend
from .common import badge_html, tag
from .errors import catch_errors
from .state import AppState

__all__ = ["JobProgress", "RunView", "spawn"]

_TASKS: set[asyncio.Task[Any]] = set()


def spawn(coro: Awaitable[Any]) -> asyncio.Task[Any]:
    """Schedule ``coro`` on the running loop and keep a reference until it ends."""
    task = asyncio.ensure_future(coro)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return task


class JobProgress(W.VBox):
    """Bar, step, elapsed time, badge and log of one task (``compact``: one line, no log)."""

    def __init__(self, *, label: str = "", compact: bool = False, **kwargs: Any) -> None:
        self.bar = tag(W.IntProgress(value=0, min=0, max=100, description=label,
                                     layout=W.Layout(width="auto" if compact else "60%")), "progress")
        self.badge = tag(W.HTML(badge_html("pending")), "status")
        self.step = tag(W.HTML(""), "progress-step")
        self.log_view = tag(W.HTML(""), "progress-log")
        line = W.HBox([self.bar, self.badge, self.step], layout=W.Layout(align_items="center"))
        super().__init__([line] if compact else [line, self.log_view], **kwargs)
        tag(self, "job-progress")

    def show(self, state: ProgressState) -> None:
        """Draw ``state`` (pure mapping; call on the kernel loop)."""
        self.bar.value = state.percent
        self.bar.bar_style = {"completed": "success", "failed": "danger", "cancelled": "warning"}.get(
            state.status, "info")
        self.badge.value = badge_html(state.status)
        elapsed = f" ({state.elapsed_s:.1f} s)" if state.elapsed_s is not None else ""
        attempt = f", attempt {state.attempt}" if state.attempt > 1 else ""
        self.step.value = (f'<span class="gnb-step">{html.escape(state.message or state.status)}'
                           f"{elapsed}{attempt}</span>")
        lines = "\n".join(html.escape(line) for line in state.log)
        self.log_view.value = (f'<pre class="gnb-log" style="max-height:16em;overflow:auto;font-size:85%;'
                          f'margin:0.3em 0;">{lines}</pre>' if lines else "")

    async def follow(self, job: Job) -> ProgressState:
        """Draw every event of ``job`` as it arrives; returns the final state."""
        async for _ in job:
            self.show(job.state)
        self.show(job.state)
        return job.state


class RunView(W.VBox):
    """Analyze button, live progress, Cancel and the Dask dashboard link.

    ``on_done`` (optional) is called with the final :class:`ProgressState` after the state has
    been updated (the apps use it to switch to the results).
    """

    def __init__(self, state: AppState, backend: Backend, *,
                 on_done: Callable[[ProgressState], Any] | None = None, **kwargs: Any) -> None:
        self.state, self.backend, self.on_done = state, backend, on_done
        self.run_button = tag(W.Button(description="Analyze", button_style="primary", icon="play",
                                       disabled=True), "run")
        self.cancel_button = tag(W.Button(description="Cancel", icon="stop", disabled=True), "cancel")
        self.dashboard = tag(W.HTML(""), "dashboard")
        self.progress = JobProgress()
        self.job: Job | None = None
        self.task: asyncio.Task[Any] | None = None
        super().__init__([W.HBox([self.run_button, self.cancel_button, self.dashboard]), self.progress],
                         **kwargs)
        tag(self, "run-view")
        self.run_button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.cancel())
        state.observe(self._on_status, names="status")
        state.observe(lambda change: self.progress.show(change["new"]), names="progress")
        self._on_status()

    def _on_status(self, _change: Any = None) -> None:
        status = self.state.status
        running = status in ("queued", "running")
        self.run_button.disabled = running or status == "idle"
        self.cancel_button.disabled = not running
        self.progress.layout.display = "none" if status in ("idle", "ready") else ""

    def start(self) -> asyncio.Task[Any] | None:
        """Button handler: returns at once; the run goes on as a task on the kernel loop."""
        if self.state.status in ("queued", "running"):
            return None
        self.task = spawn(self.run())
        return self.task

    def cancel(self) -> None:
        if self.job is not None and not self.job.stream.done:
            self.job.cancel()

    async def run(self) -> ProgressState | None:
        """Submit ``state.source`` with ``state.params`` and follow it to the end."""
        return await catch_errors(self.state)(self._run)()

    async def _run(self) -> ProgressState:
        state = self.state
        if state.source is None:
            raise InputFormatError("A peak table must be loaded before analysing. Got no file instead.")
        state.clear_run()
        state.status = "queued"
        try:
            service = await self.backend.service()
            self.dashboard.value = _dashboard_html(self.backend.dashboard_link)
            job = service.submit(state.source, state.params, name=state.session_name or None,
                                 filename=state.filename)
        except BaseException:
            state.status = "failed"
            raise
        self.job = job
        state.session_id = job.meta.get("session_id")
        async for _ in job:  # the kernel loop draws each event as it arrives
            state.progress = job.state
            if job.state.status in ("running", "queued"):
                state.status = job.state.status
        final = job.state
        state.progress = final
        if final.status == "completed":
            result = await asyncio.to_thread(service.result, job)
            with state.hold_trait_notifications():
                state.result = result
                state.status = "completed"
                state.notice = f"Saved as session {state.session_id}." if state.session_id else ""
        else:
            state.status = final.status
            state.error = final.error or ("The analysis was cancelled." if final.status == "cancelled"
                                          else "The analysis failed.")
        if self.on_done is not None:
            self.on_done(final)
        return final


def _dashboard_html(link: str) -> str:
    if not link:
        return ""
    return (f'<a class="gnb-dashboard-link" href="{html.escape(link)}" target="_blank" '
            f'rel="noopener">Dask dashboard</a>')


