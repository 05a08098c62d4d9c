"""The two apps, composed from the views (no logic of their own).

``AnalyzeApp``: upload -> parameters -> run on Dask with live progress -> results. ``HistoryApp``:
the stored sessions. A Voila notebook (or ``%ganglioside app``) builds one, displays it, and
calls ``start()`` so the cluster comes up after the page has rendered.
"""

from __future__ import annotations

import asyncio
import html
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import ipywidgets as W
from IPython.display import display

from .. import __version__, settings
from ..errors import InvalidParameterError
from ..execution import ProgressState, Runner
from ..persistence import Repository
from .backend import Backend
from .common import Alert, tag
from .errors import catch_errors
from .params_form import ParamsForm
from .progress import RunView, spawn
from .results import ResultsView
from .state import AppState
from .upload import UploadView

__all__ = ["AnalyzeApp", "Header", "HistoryApp"]


_DOT = {"checking": ("#bbbbbb", "checking the database and the scheduler..."),
        "healthy": ("#1b9e77", "healthy"), "degraded": ("#e6ab02", "degraded"),
        "unhealthy": ("#cc3311", "unhealthy")}


class Header(W.HBox):
    """Title, version, owner, links between the apps and a health dot (FEATURES.md D1).

    The dot is grey until :meth:`check` has asked the backend (database and scheduler, without
    changing anything); then green (healthy), amber (degraded) or red (unhealthy), with the
    reason as its tooltip.
    """

    def __init__(self, title: str, backend: Backend, links: dict[str, str]) -> None:
        self.backend = backend
        nav = " · ".join(f'<a href="{html.escape(href)}" class="gnb-nav">{html.escape(text)}</a>'
                         for text, href in links.items())
        owner = html.escape(backend.repository.owner if backend.has_repository
                            else settings.current_owner())
        self.title = W.HTML(
            f'<div style="display:flex;align-items:baseline;gap:1em;"><h2 style="margin:0.2em 0;">'
            f'{html.escape(title)}</h2><span style="color:#666;">ganglioside_nb {__version__} · '
            f'{owner}</span><span>{nav}</span></div>')
        self.dot = tag(W.HTML(), "health-dot")
        self.state = "checking"
        self._draw("checking", _DOT["checking"][1])
        super().__init__([self.title, self.dot], layout=W.Layout(
            justify_content="space-between", align_items="center", border_bottom="1px solid #ddd",
            margin="0 0 0.5em 0"))
        tag(self, "header")

    def _draw(self, state: str, why: str) -> None:
        colour, _ = _DOT.get(state, _DOT["unhealthy"])
        self.state = state
        self.dot.value = (f'<span class="gnb-health-{html.escape(state)}" title="{html.escape(why)}" '
                          f'style="display:inline-block;width:0.8em;height:0.8em;border-radius:50%;'
                          f'background:{colour};margin-right:0.5em;"></span>')

    async def check(self) -> dict[str, Any] | None:
        """Ask the backend's health (never raises); draw and return the report."""
        try:
            report = await self.backend.health()
        except Exception as exc:  # a dot must not break the page: red, with the reason
            self._draw("unhealthy", f"health check failed: {exc}")
            return None
        problems = [str(part.get("error")) for part in (report["database"], report["scheduler"] or {})
                    if part.get("error")]
        self._draw(report["state"], "; ".join([report["state"], *problems]))
        return report


def _backend(backend: Backend | None, database: str | Repository | None, scheduler: str | None,
             runner: Runner | None) -> Backend:
    return backend if backend is not None else Backend(database, runner, address=scheduler)


class AnalyzeApp(W.VBox):
    """Upload, parameters, run with live progress, results (saved to the database first).

    Parameters
    ----------
    backend : Backend, optional; else one is made from ``database``, ``scheduler``, ``runner``.
    session_id : reopen a stored session (``?session=ID`` in the app's URL).
    history_url : link to the history app in the header.
    max_upload_bytes : upload cap (default: the ``max_file_bytes`` parameter, 50 MB).
    max_upload_rows : upload row cap (default: the ``max_rows`` parameter).
    """

    def __init__(self, backend: Backend | None = None, *, database: str | Repository | None = None,
                 scheduler: str | None = None, runner: Runner | None = None,
                 session_id: int | None = None, history_url: str = "history.ipynb",
                 max_upload_bytes: int | None = None, max_upload_rows: int | None = None) -> None:
        self.backend = _backend(backend, database, scheduler, runner)
        self.state = AppState()
        self.upload = UploadView(self.state, max_bytes=max_upload_bytes, max_rows=max_upload_rows)
        self.params = ParamsForm(self.state)
        self.results = ResultsView(self.state, repository=None)
        self.run = RunView(self.state, self.backend, on_done=self._on_done)
        self.tabs = tag(W.Tab(children=[self.upload, self.params, self.results]), "tabs")
        for i, title in enumerate(("1 · Data", "2 · Parameters", "3 · Results")):
            self.tabs.set_title(i, title)
        self.ready = tag(W.HTML(""), "ready")  # set when the page is built (browser tests wait on it)
        self.header = Header("Analyze gangliosides", self.backend, {"History": history_url})
        super().__init__([self.header,
                          Alert(self.state), self.tabs, self.run, self.ready])
        tag(self, "analyze-app")
        self._reopen = session_id

    @classmethod
    def from_environment(cls) -> AnalyzeApp:
        """The app as Voila serves it: database from ``DATABASE_URL``, scheduler from
        ``GANGLIOSIDE_DASK_ADDRESS`` (else a local cluster), upload limits from
        ``GANGLIOSIDE_NB_MAX_UPLOAD_MB`` / ``GANGLIOSIDE_NB_MAX_ROWS``, ``?session=ID`` from the
        page URL (Voila passes the query string as ``QUERY_STRING``). A malformed setting is
        shown as the app's error line and its default applies."""
        query = parse_qs(os.environ.get("QUERY_STRING", ""))
        session = (query.get("session") or [""])[0]
        problems: list[str] = []

        def limit(read: Callable[[], int | None]) -> int | None:
            try:
                return read()
            except InvalidParameterError as exc:
                problems.append(str(exc))
                return None

        app = cls(session_id=int(session) if session.isdigit() else None,
                  max_upload_bytes=limit(settings.max_upload_bytes),
                  max_upload_rows=limit(settings.max_upload_rows))
        if session and not session.isdigit():
            problems.append(f"The session in the address must be a number. Got {session!r} instead.")
        if problems:
            app.state.error = " ".join(problems)
        return app

    def show(self) -> None:
        """Display the app, then start its services (the page renders first)."""
        display(self)
        self.start()

    def _on_done(self, final: ProgressState) -> None:
        if final.status == "completed":
            self.tabs.selected_index = 2

    def start(self) -> asyncio.Future[Any] | None:
        """Start the services in the background (call after display); reopen ``session_id``."""
        self.ready.value = '<span class="gnb-ready-marker"></span>'
        try:
            future = self.backend.start()
        except RuntimeError:  # no running loop (plain script): services start on the first run
            return None
        spawn(self.header.check())
        if self._reopen is not None:
            spawn(self.open_session(self._reopen))
        return future

    async def open_session(self, session_id: int) -> None:
        """Show a stored session's result (what ``?session=ID`` does)."""
        await catch_errors(self.state)(self._open)(session_id)

    async def _open(self, session_id: int) -> None:
        repo = self.backend.repository
        info = await asyncio.to_thread(repo.get_session, session_id)
        self.state.session_id = session_id
        self.state.session_name = info.name or ""
        if info.status != "completed":
            self.state.error = f"Session {session_id} is {info.status}" + (
                f": {info.error_message}" if info.error_message else ".")
            return
        self.state.result = await asyncio.to_thread(repo.load_result, session_id)
        self.state.status = "completed"
        self.tabs.selected_index = 2


class HistoryApp(W.VBox):
    """The stored analysis sessions (see :class:`~ganglioside_nb.ui.history.HistoryView`)."""

    def __init__(self, backend: Backend | None = None, *, database: str | Repository | None = None,
                 scheduler: str | None = None, runner: Runner | None = None,
                 analyze_url: str = "analyze.ipynb") -> None:
        from .history import HistoryView

        self.backend = _backend(backend, database, scheduler, runner)
        self.view = HistoryView(self.backend)
        self.ready = tag(W.HTML(""), "ready")
        self.header = Header("Analysis history", self.backend, {"New analysis": analyze_url})
        super().__init__([self.header,
                          self.view, self.ready])
        tag(self, "history-app")

    @classmethod
    def from_environment(cls) -> HistoryApp:
        """Database from ``DATABASE_URL``, scheduler from ``GANGLIOSIDE_DASK_ADDRESS``."""
        return cls()

    def show(self) -> None:
        display(self)
        self.start()

    def start(self) -> asyncio.Future[Any] | None:
        self.ready.value = '<span class="gnb-ready-marker"></span>'
        try:
            future = self.backend.start()
        except RuntimeError:
            return None
        spawn(self.header.check())
        return future
