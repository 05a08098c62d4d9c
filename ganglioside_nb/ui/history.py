"""The history app's view: the owner's analysis sessions, their Trash, clean-up and health
(FEATURES.md "Voila apps" item 2, B9-B12, D8).

:class:`HistoryView` lists the sessions of the repository's owner, newest first, as one HTML
table per page (no widget per row), with filters (status, data type, text, creation dates,
Trash) and paging. A ``SelectMultiple`` below the table picks the sessions the actions apply
to: Open (the stored result in a :class:`~ganglioside_nb.ui.results.ResultsView`, the error of
a failed session, or a pending or running session followed until it ends), Rename, Delete
(soft, confirmed), Re-run (optionally with new parameters; several sessions run as a batch with
one progress row each; a failed or cancelled session asked again as it was re-runs in place,
anything else becomes a new session pointing to the old one),
Export (the selected completed sessions' results as one file or a ZIP, each export audited),
Cancel (pending or running sessions, whoever started them, on this app's scheduler), Verify
(the stored input analysed again and compared with the stored result, FEATURES.md H1), and in
the Trash Restore and Purge (confirmed). Panels follow: Clean-up (a dry-run list of the finished
sessions older than N days, then a soft delete; or, as a separate step, of the sessions in the
Trash for over N days, then a purge), Health (database and scheduler) and Dashboard.

Layer: ``ui``. Every handler reads the widgets, calls one repository or
:class:`~ganglioside_nb.api.AnalysisService` method and assigns what it returns; failures
become the one line of the :class:`~ganglioside_nb.ui.common.Alert` at the top. Quick database
calls (listing, rename, delete) run in the handler; slow ones (loading a result, submitting
re-runs, verifying, exporting, cancelling, the health check) run as coroutines on the kernel loop
with the blocking calls in a thread, so the page stays responsive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import io
import math
import zipfile
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ipywidgets as W

from .. import __version__
from ..api import Verification, failed_job, verify_session
from ..errors import GangliosideError, InvalidParameterError
from ..execution import Batch, Job
from ..params import AnalysisParams
from ..persistence import STATUSES, Repository, SessionInfo
from ..persistence.repository import EXPORT_FORMATS
from .backend import Backend
from .common import Alert, badge_html, close_tree, download_link, tag
from .errors import catch_errors, error_message
from .progress import JobProgress, spawn
from .results import file_slug
from .state import AppState
from .upload import size_text

__all__ = ["DATA_TYPES", "HistoryView", "format_duration", "local_time"]

#: the data types offered by the filter (the choices of ``AnalysisParams.data_type``)
DATA_TYPES: tuple[str, ...] = next(
    f.metadata["constraint"].options for f in dataclasses.fields(AnalysisParams) if f.name == "data_type")
#: sessions named one by one in the clean-up preview (the rest are counted)
_LISTED = 20
_TABLE_CSS = (
    "<style>.gnb-h{border-collapse:collapse;font-size:12px;margin:2px 0 6px 0}"
    ".gnb-h th{background:#f0f0f0;text-align:left;padding:2px 6px;border-bottom:1px solid #bbb;"
    "white-space:nowrap}.gnb-h td{padding:2px 6px;border-bottom:1px solid #e5e5e5;vertical-align:top}"
    ".gnb-h td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".gnb-h tr.gnb-selected td{background:#e8f0fb}.gnb-h td.txt{max-width:22em;overflow-wrap:break-word}"
    ".gnb-h .gnb-muted{color:#777;font-size:90%}</style>"
)


# -- formatting (pure) ---------------------------------------------------------------------------
def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_time(moment: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM`` in the kernel's local time zone ('' for None).

    >>> local_time(None)
    ''
    """
    if moment is None:
        return ""
    return _aware(moment).astimezone().strftime("%Y-%m-%d %H:%M")


def format_duration(duration: timedelta | None) -> str:
    """A short duration: seconds with one decimal below a minute, then minutes, then hours.

    >>> format_duration(timedelta(seconds=4.25)), format_duration(timedelta(seconds=125))
    ('4.2 s', '2 min 05 s')
    >>> format_duration(timedelta(hours=2, minutes=3)), format_duration(None)
    ('2 h 03 min', '')
    """
    if duration is None:
        return ""
    seconds = max(duration.total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(int(round(seconds)), 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(int(round(seconds)) // 60, 60)
    return f"{hours} h {rest:02d} min"


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _label(info: SessionInfo) -> str:
    return f"#{info.id} {info.display_name}"


def _plural(n: int, word: str = "session") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _ids_text(ids: Iterable[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def _table_html(sessions: Sequence[SessionInfo], selected: Iterable[int] = (), *,
                trash: bool = False, summaries: dict[int, dict[str, Any]] | None = None) -> str:
    """One HTML table of ``sessions`` (``selected`` ids highlighted; ``trash`` adds 'deleted';
    ``summaries`` gives compounds and pass rate of completed sessions)."""
    chosen = set(selected)
    figures = summaries or {}
    header = ["id", "name", "file", "data type", "mode", "status", "created", "duration",
              "compounds", "pass rate"]
    if trash:
        header.append("deleted")
    head = "".join(f"<th>{h}</th>" for h in header)
    if not sessions:
        what = "The Trash is empty" if trash else "No analysis sessions"
        body = f'<tr><td colspan="{len(header)}" class="gnb-empty">{what} (for these filters).</td></tr>'
    else:
        rows = []
        hilic = '<br><span class="gnb-muted">HILIC</span>'
        for s in sessions:
            parent = (f'<br><span class="gnb-muted">re-run of #{s.parent_id}</span>'
                      if s.parent_id is not None else "")
            cells = [f'<td class="n">{s.id}</td>', f'<td class="txt">{_esc(s.display_name)}{parent}</td>',
                     f'<td class="txt">{_esc(s.input_filename)}</td>', f"<td>{_esc(s.data_type)}</td>",
                     f"<td>{_esc(s.mode)}{hilic if s.chromatography == 'hilic' else ''}</td>",
                     f"<td>{badge_html(s.status)}</td>",
                     f'<td class="n">{local_time(s.created_at)}</td>',
                     f'<td class="n">{format_duration(s.duration)}</td>']
            summary = figures.get(s.id)
            cells += ([f'<td class="n">{summary["compounds"]}</td>',
                       f'<td class="n">{summary["pass_rate"]:.1f} %</td>'] if summary
                      else ['<td class="n"></td>', '<td class="n"></td>'])
            if trash:
                cells.append(f'<td class="n">{local_time(s.deleted_at)}</td>')
            css = ' class="gnb-selected"' if s.id in chosen else ""
            rows.append(f'<tr data-session-id="{s.id}"{css}>{"".join(cells)}</tr>')
        body = "".join(rows)
    return (f'{_TABLE_CSS}<div style="overflow-x:auto;max-width:100%"><table class="gnb-h gnb-history">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _memory(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes else "no limit"


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{_esc(k)}</th><td>{v}</td></tr>" for k, v in rows)


def _health_html(report: dict[str, Any]) -> str:
    """The health report of ``AnalysisService.health()`` as two small tables."""
    db = report.get("database") or {}
    counts = db.get("counts") or {}
    revision = db.get("revision")
    if revision is None:
        schema = f"none (head {_esc(db.get('head'))})"
    else:
        behind = "up to date" if db.get("up_to_date") else f"head {_esc(db.get('head'))}"
        schema = f"{_esc(revision)} ({behind})"
    db_rows = [("state", _esc(db.get("state"))), ("dialect", _esc(db.get("dialect"))),
               ("URL", _esc(db.get("url"))), ("reachable", "yes" if db.get("reachable") else "no"),
               ("schema revision", schema),
               ("sessions", _esc(", ".join(f"{k} {v}" for k, v in counts.items())) or "none")]
    if db.get("error"):
        db_rows.append(("error", f'<span class="gnb-error">{_esc(_error_line(db["error"]))}</span>'))
    sched = report.get("scheduler")
    if sched is None:
        sched_rows = [("scheduler", "none")]
    elif not sched.get("ok"):
        sched_rows = [("reachable", "no"),
                      ("error", f'<span class="gnb-error">{_esc(_error_line(sched.get("error")))}</span>')]
    elif sched.get("scheduler") is None:
        sched_rows = [("runner", f"in process ({_esc(sched.get('runner'))}, "
                                 f"{_plural(int(sched.get('nthreads') or 0), 'thread')})")]
    else:
        workers = sched.get("workers") or []
        dashboard = sched.get("dashboard")
        sched_rows = [("address", _esc(sched.get("scheduler"))), ("reachable", "yes"),
                      ("workers", str(sched.get("n_workers", len(workers)))),
                      ("threads", str(sched.get("nthreads", 0))),
                      ("memory", _memory(sum(int(w.get("memory_limit") or 0) for w in workers))),
                      ("dashboard", f'<a class="gnb-dashboard-link" href="{_esc(dashboard)}" target="_blank" '
                                    f'rel="noopener">{_esc(dashboard)}</a>' if dashboard else "none")]
    state = "ok" if report.get("ok") else "problem"
    overall = _esc(report.get("state", "healthy" if report.get("ok") else "degraded"))
    return (f'<div class="gnb-health-{state}"><div class="gnb-health-state"><b>Overall: {overall}</b></div>'
            f'<b>Database</b><table class="gnb-h">{_kv(db_rows)}</table>'
            f'<b>Dask scheduler</b><table class="gnb-h">{_kv(sched_rows)}</table>'
            f'<div class="gnb-muted">ganglioside_nb {_esc(__version__)}</div></div>')


def _error_line(text: Any) -> str:
    """The first line of an error text, whitespace folded (never a traceback)."""
    lines = str(text or "").strip().splitlines()
    return " ".join(lines[0].split()) if lines else ""


#: sessions the dashboard compares at most
DASHBOARD_SESSIONS = 30


def _button(description: str, role: str, *, icon: str = "", style: str = "", tooltip: str = "",
            hidden: bool = False) -> W.Button:
    button = W.Button(description=description, icon=icon, button_style=style, tooltip=tooltip,
                      layout=W.Layout(width="auto", display="none" if hidden else ""))
    return tag(button, role)


def _show(widget: W.Widget, visible: bool) -> None:
    widget.layout.display = "" if visible else "none"


# -- the view ------------------------------------------------------------------------------------
class HistoryView(W.VBox):
    """The owner's analysis sessions: list, filters, actions, Trash, clean-up and health.

    Parameters
    ----------
    backend : Backend
        Its ``repository`` lists and changes the sessions; ``await backend.service()`` re-runs
        them and reports health.
    state : AppState, optional
        Where errors and notices go (one line in the alert at the top); a private one if None.
    page_size : int, default 25
        Sessions per page of the table.
    poll_s : float, default 2
        How often an opened pending or running session is asked for its status (FEATURES.md
        D2): the detail area counts its running time and shows the result, or the error, as
        soon as it ends, wherever it runs.

    Attributes
    ----------
    sessions : list of SessionInfo
        The sessions on the current page, as shown (newest first).
    matching : list of SessionInfo
        Every session matching the filters (all pages).
    page : int
        The current page (0-based).
    table : W.HTML
        The page as one HTML table (``gnb-history-table``).
    select : W.SelectMultiple
        The page's sessions as ``"#id name"`` (values: ids), the target of the actions.
    detail : W.VBox
        What Open shows (``gnb-history-detail``).
    jobs : W.VBox
        One compact progress row per re-run job (``gnb-history-jobs``).
    task : asyncio.Task or None
        The last coroutine a button scheduled on the loop.
    rerun_state : AppState
        The private state of the "new parameters" form of Re-run.
    """

    def __init__(self, backend: Backend, *, state: AppState | None = None, page_size: int = 25,
                 poll_s: float = 2.0, **kwargs: Any) -> None:
        self.poll_s = poll_s
        self.following: asyncio.Task[Any] | None = None  # the opened session's status, while it runs
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise InvalidParameterError(f"page_size must be an integer >= 1. Got {page_size!r} instead.",
                                        parameter="page_size", value=repr(page_size))
        self.backend = backend
        self.state = state if state is not None else AppState()
        self.page_size = page_size
        self.page = 0
        self.sessions: list[SessionInfo] = []
        self.matching: list[SessionInfo] = []
        self.summaries: dict[int, dict[str, Any]] = {}
        self.task: asyncio.Task[Any] | None = None
        self.rerun_state = AppState()
        self.params_form: W.Widget | None = None
        self._confirm_ids: tuple[int, ...] = ()
        self._previewed: tuple[str, int, bool] | None = None  # (kind, days, all owners) previewed
        self._params_from: int | None = None  # the session whose parameters fill the form

        # filters
        self.status_filter = tag(W.Dropdown(options=[("all", ""), *[(s, s) for s in STATUSES]], value="",
                                            description="Status", layout=W.Layout(width="14em"),
                                            style={"description_width": "4em"}), "history-status")
        self.type_filter = tag(W.Dropdown(options=[("all", ""), *[(d, d) for d in DATA_TYPES]], value="",
                                          description="Data type", layout=W.Layout(width="15em"),
                                          style={"description_width": "5em"}), "history-data-type")
        self.search = tag(W.Text(placeholder="name or file", description="Search", continuous_update=False,
                                 layout=W.Layout(width="18em"), style={"description_width": "4em"}),
                          "history-search")
        self.date_from = tag(W.DatePicker(description="From", layout=W.Layout(width="14em"),
                                          style={"description_width": "3em"}), "history-from")
        self.date_to = tag(W.DatePicker(description="To", layout=W.Layout(width="14em"),
                                        style={"description_width": "3em"}), "history-to")
        self.trash = tag(W.ToggleButton(description="Trash", icon="trash", value=False,
                                        tooltip="Show only deleted sessions", layout=W.Layout(width="auto")),
                         "history-trash")
        self.refresh_button = _button("Refresh", "history-refresh", icon="refresh")

        # list and paging
        self.table = tag(W.HTML(), "history-table")
        self.prev_button = _button("Previous", "history-prev", icon="chevron-left")
        self.next_button = _button("Next", "history-next", icon="chevron-right")
        self.page_label = tag(W.HTML(), "history-page")
        self.select = tag(W.SelectMultiple(options=[], rows=min(page_size, 8), description="Selected",
                                           layout=W.Layout(width="32em"), style={"description_width": "5em"}),
                          "history-select")

        # actions
        self.open_button = _button("Open", "history-open", icon="folder-open", style="primary",
                                   tooltip="Show the session (one selected)")
        self.rename_text = tag(W.Text(placeholder="new name", layout=W.Layout(width="14em")),
                               "history-rename-name")
        self.rename_button = _button("Rename", "history-rename", icon="pencil")
        self.delete_button = _button("Delete", "history-delete", icon="trash",
                                     tooltip="Move the selected sessions to the Trash")
        self.rerun_button = _button("Re-run", "history-rerun", icon="repeat",
                                    tooltip="Run the selected sessions again (failed or cancelled ones in "
                                            "place, others as new sessions)")
        self.export_format = tag(W.Dropdown(options=list(EXPORT_FORMATS), value="xlsx",
                                            layout=W.Layout(width="6em")), "history-export-format")
        self.export_button = _button("Export", "history-export", icon="download",
                                     tooltip="The results of the selected completed sessions (one file, "
                                             "or a ZIP for several)")
        self.export_link = tag(W.HTML(), "history-export-link")
        self.cancel_button = _button("Cancel", "history-cancel", icon="stop",
                                     tooltip="Cancel the selected pending or running sessions")
        self.verify_button = _button("Verify", "history-verify", icon="check",
                                     tooltip="Analyse the stored input again and compare with the stored "
                                             "result (one completed session selected)")
        self.restore_button = _button("Restore", "history-restore", icon="undo", hidden=True)
        self.purge_button = _button("Purge", "history-purge", icon="times", style="danger", hidden=True,
                                    tooltip="Delete the selected sessions for good")
        self.confirm_text = tag(W.HTML(), "history-confirm-text")
        self.confirm_delete_button = _button("Confirm delete", "history-confirm-delete", style="warning")
        self.confirm_purge_button = _button("Confirm purge", "history-confirm-purge", style="danger")
        self.cancel_confirm_button = _button("Cancel", "history-cancel-confirm")
        self.confirm_box = tag(W.HBox([self.confirm_text, self.confirm_delete_button,
                                       self.confirm_purge_button, self.cancel_confirm_button],
                                      layout=W.Layout(display="none", align_items="center")),
                               "history-confirm")

        # re-run with new parameters
        self.new_params = tag(W.Checkbox(value=False, description="with new parameters", indent=False,
                                         layout=W.Layout(width="auto")), "history-rerun-new-params")
        self.params_box = tag(W.VBox(layout=W.Layout(display="none")), "history-rerun-params")
        self.jobs = tag(W.VBox(), "history-jobs")
        self.jobs_summary = tag(W.HTML(), "history-jobs-summary")
        self.detail = tag(W.VBox(), "history-detail")

        # clean-up
        self.cleanup_days = tag(W.BoundedIntText(value=30, min=0, max=36500, description="Older than (days)",
                                                 layout=W.Layout(width="14em"),
                                                 style={"description_width": "9em"}), "history-cleanup-days")
        self.cleanup_kind = tag(W.ToggleButtons(options=[("Old sessions to the Trash", "trash"),
                                                         ("Purge the old Trash", "purge")], value="trash",
                                                style={"button_width": "auto"}), "history-cleanup-kind")
        self.cleanup_all = tag(W.Checkbox(value=False, description="all owners (admin)", indent=False,
                                          layout=W.Layout(width="auto")), "history-cleanup-all-owners")
        self.cleanup_preview_button = _button("Preview", "history-cleanup-preview", icon="search")
        self.cleanup_apply_button = _button("Apply", "history-cleanup-apply", icon="trash", style="warning",
                                            tooltip="Move the previewed sessions to the Trash")
        self.cleanup_apply_button.disabled = True
        self.cleanup_report = tag(W.HTML(), "history-cleanup-report")
        self.cleanup = tag(W.VBox([
            W.HTML('<div class="gnb-muted">Finished sessions (completed, failed, cancelled) created more '
                   "than N days ago go to the Trash; as a separate step, sessions in the Trash for more "
                   "than N days are purged for good (their audit events stay). Preview first, then "
                   "apply.</div>"),
            self.cleanup_kind,
            W.HBox([self.cleanup_days, self.cleanup_all, self.cleanup_preview_button,
                    self.cleanup_apply_button], layout=W.Layout(align_items="center")),
            self.cleanup_report]), "history-cleanup")

        # health
        self.health_button = _button("Check", "history-health-check", icon="heartbeat")
        self.health_report = tag(W.HTML(), "history-health-report")
        self.health = tag(W.VBox([self.health_button, self.health_report]), "history-health")

        # dashboard across sessions (FEATURES.md H7)
        self.dashboard_button = _button("Draw", "history-dashboard-draw", icon="bar-chart",
                                        tooltip="Figures across the completed sessions matching the filters")
        wrap = W.Layout(flex_flow="row wrap", align_items="flex-start")
        self.dashboard_figures = tag(W.HBox([], layout=wrap), "history-dashboard-figures")
        self.dashboard = tag(W.VBox([
            W.HTML(f'<div class="gnb-muted">Category counts, held-out R² per model and residuals of the '
                   f"completed sessions that match the filters (the newest {DASHBOARD_SESSIONS}).</div>"),
            W.HBox([self.dashboard_button]), self.dashboard_figures]), "history-dashboard")
        self.panels = tag(W.Accordion(children=[self.cleanup, self.health, self.dashboard],
                                      titles=("Clean-up", "Health", "Dashboard"), selected_index=None),
                          "history-panels")

        self.alert = Alert(self.state)
        super().__init__([
            self.alert,
            W.HBox([self.status_filter, self.type_filter, self.search, self.trash, self.refresh_button],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            W.HBox([self.date_from, self.date_to], layout=W.Layout(flex_flow="row wrap")),
            self.table,
            W.HBox([self.prev_button, self.page_label, self.next_button],
                   layout=W.Layout(align_items="center")),
            self.select,
            W.HBox([self.open_button, self.rename_text, self.rename_button, self.delete_button,
                    self.rerun_button, self.new_params, self.cancel_button, self.verify_button,
                    self.export_format, self.export_button, self.restore_button, self.purge_button],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            self.export_link, self.confirm_box, self.params_box, self.jobs, self.jobs_summary, self.detail,
            self.panels,
        ], **kwargs)
        tag(self, "history")

        for widget in (self.status_filter, self.type_filter, self.search, self.date_from, self.date_to,
                       self.trash):
            widget.observe(catch_errors(self.state)(self._on_filter), names="value")
        self.select.observe(catch_errors(self.state)(self._on_select), names="value")
        self.new_params.observe(catch_errors(self.state)(self._on_new_params), names="value")
        self.cleanup_days.observe(self._on_cleanup_input, names="value")
        self.cleanup_all.observe(self._on_cleanup_input, names="value")
        self.cleanup_kind.observe(self._on_cleanup_input, names="value")
        clicks: list[tuple[W.Button, Callable[[], Any]]] = [
            (self.refresh_button, self.refresh),
            (self.prev_button, lambda: self.go_to(self.page - 1)),
            (self.next_button, lambda: self.go_to(self.page + 1)),
            (self.open_button, self._click_open),
            (self.rename_button, self._click_rename),
            (self.delete_button, lambda: self._ask("delete")),
            (self.purge_button, lambda: self._ask("purge")),
            (self.confirm_delete_button, self._confirmed_delete),
            (self.confirm_purge_button, self._confirmed_purge),
            (self.cancel_confirm_button, self._hide_confirm),
            (self.restore_button, self._click_restore),
            (self.rerun_button, self._click_rerun),
            (self.verify_button, self._click_verify),
            (self.export_button, lambda: self._spawn(self.export(self._selected(action="export"),
                                                                 self.export_format.value))),
            (self.cancel_button, lambda: self._spawn(self.cancel(self._selected(action="cancel")))),
            (self.cleanup_preview_button, lambda: self.preview_cleanup()),
            (self.cleanup_apply_button, lambda: self.apply_cleanup()),
            (self.health_button, lambda: self._spawn(self.check_health())),
            (self.dashboard_button, self.draw_dashboard),
        ]
        for button, action in clicks:
            button.on_click(self._click(action))
        _show(self.cleanup_all, self._is_admin())
        self.refresh()

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def repository(self) -> Repository:
        return self.backend.repository

    def _handler(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A button's action under the error boundary, the previous message cleared first."""
        guarded = catch_errors(self.state)(fn)

        def run(*args: Any) -> Any:
            self.state.error = ""
            self.state.notice = ""
            return guarded(*args)
        return run

    def _click(self, action: Callable[[], Any]) -> Callable[[W.Button], Any]:
        handler = self._handler(action)
        return lambda _button: handler()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        self.task = spawn(coro)
        return self.task

    def _is_admin(self) -> bool:
        try:
            return bool(self.repository.is_admin)
        except GangliosideError:
            return False

    @property
    def selected(self) -> tuple[int, ...]:
        """The ids chosen in :attr:`select`, in the table's order."""
        return tuple(self.select.value)

    def _selected(self, *, one: bool = False, action: str = "") -> tuple[int, ...]:
        ids = self.selected
        if one and len(ids) != 1:
            raise InvalidParameterError(
                f"Exactly one analysis session must be selected to {action}. Got {len(ids)} instead.",
                parameter="selection", value=repr(ids))
        if not ids:
            raise InvalidParameterError(
                f"At least one analysis session must be selected to {action}. Got none instead.",
                parameter="selection", value="()")
        return ids

    def _info(self, session_id: int) -> SessionInfo | None:
        return next((s for s in self.matching if s.id == session_id), None)

    # -- the list ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the sessions matching the filters again and redraw the current page."""
        catch_errors(self.state)(self._refresh)()

    def _refresh(self) -> None:
        start, end = self.date_from.value, self.date_to.value
        if start is not None and end is not None and start > end:
            raise InvalidParameterError(
                f"The 'From' date must be on or before the 'To' date ({end}). Got {start} instead.",
                parameter="date_from", value=str(start))
        found = self.repository.list_sessions(status=self.status_filter.value or None,
                                              data_type=self.type_filter.value or None,
                                              search=self.search.value.strip() or None,
                                              only_deleted=self.trash.value)
        if start is not None or end is not None:  # the repository has no date filter
            found = [s for s in found if _in_dates(s.created_at, start, end)]
        self.matching = found
        pages = max(1, math.ceil(len(found) / self.page_size))
        self.page = min(max(self.page, 0), pages - 1)
        lo = self.page * self.page_size
        self.sessions = found[lo:lo + self.page_size]
        self.summaries = self.repository.summaries([s.id for s in self.sessions if s.status == "completed"])
        self._draw(pages)

    def go_to(self, page: int) -> None:
        """Show page ``page`` (0-based, clipped to the pages there are)."""
        self.page = page
        self.refresh()

    def _on_filter(self, _change: Any = None) -> None:
        self.page = 0
        self._hide_confirm()
        self._draw_mode()
        self._refresh()

    def _draw(self, pages: int) -> None:
        kept = [i for i in self.selected if any(s.id == i for s in self.sessions)]
        self.select.options = [(_label(s), s.id) for s in self.sessions]
        self.select.value = tuple(kept)
        total = len(self.matching)
        self.page_label.value = (f"page {self.page + 1} of {pages} ({_plural(total)})" if total
                                 else "no sessions")
        self.prev_button.disabled = self.page <= 0
        self.next_button.disabled = self.page >= pages - 1
        self._draw_table()
        self._draw_mode()

    def _draw_table(self) -> None:
        self.table.value = _table_html(self.sessions, self.selected, trash=self.trash.value,
                                       summaries=self.summaries)

    def _draw_mode(self) -> None:
        """Trash: Restore and Purge; otherwise Open, Rename, Delete and Re-run."""
        trash = self.trash.value
        for widget in (self.open_button, self.rename_text, self.rename_button, self.delete_button,
                       self.rerun_button, self.new_params, self.cancel_button, self.verify_button,
                       self.export_format, self.export_button):
            _show(widget, not trash)
        _show(self.params_box, not trash and self.new_params.value)
        for widget in (self.restore_button, self.purge_button):
            _show(widget, trash)
        n = len(self.selected)
        self.open_button.disabled = self.rename_button.disabled = self.verify_button.disabled = n != 1
        for button in (self.delete_button, self.rerun_button, self.restore_button, self.purge_button,
                       self.cancel_button, self.export_button):
            button.disabled = n == 0

    def _on_select(self, _change: Any = None) -> None:
        self._hide_confirm()
        self._draw_table()
        self._draw_mode()
        ids = self.selected
        if len(ids) == 1 and (info := self._info(ids[0])) is not None:
            self.rename_text.value = info.name or ""
        if self.new_params.value and ids:
            self._load_params(ids[0])

    # -- rename, delete, restore, purge --------------------------------------------------------
    def rename(self, session_id: int, name: str) -> SessionInfo:
        """Rename one session (blank clears the name) and redraw."""
        info = self.repository.rename(session_id, name)
        self.state.notice = f"Session #{session_id} is now named {info.display_name!r}."
        self.refresh()
        return info

    def _click_rename(self) -> None:
        (session_id,) = self._selected(one=True, action="rename")
        self.rename(session_id, self.rename_text.value)

    def _ask(self, action: str) -> None:
        """First step of Delete or Purge: name the sessions and show the confirm button."""
        ids = self._selected(action=action)
        self._confirm_ids = ids
        if action == "delete":
            text = f"Move {_plural(len(ids))} ({_ids_text(ids)}) to the Trash?"
        else:
            text = (f"Delete {_plural(len(ids))} ({_ids_text(ids)}) for good, with their inputs and "
                    "results? This cannot be undone (the audit trail stays).")
        self.confirm_text.value = f'<span class="gnb-confirm">{_esc(text)}</span>'
        _show(self.confirm_delete_button, action == "delete")
        _show(self.confirm_purge_button, action == "purge")
        _show(self.confirm_box, True)

    def _hide_confirm(self) -> None:
        self._confirm_ids = ()
        self.confirm_text.value = ""
        _show(self.confirm_box, False)

    def _confirmed_delete(self) -> None:
        ids = self._confirm_ids
        self._hide_confirm()
        self.delete(ids)

    def _confirmed_purge(self) -> None:
        ids = self._confirm_ids
        self._hide_confirm()
        self.purge(ids)

    def delete(self, ids: Sequence[int]) -> list[int]:
        """Soft-delete the sessions (no confirmation: the buttons ask first); returns those done."""
        return self._each(ids, self.repository.soft_delete, "Moved {} to the Trash.")

    def restore(self, ids: Sequence[int]) -> list[int]:
        """Bring sessions back from the Trash; returns those done."""
        return self._each(ids, self.repository.restore, "Restored {}.")

    def purge(self, ids: Sequence[int]) -> list[int]:
        """Delete sessions for good (their audit events stay); returns those done."""
        return self._each(ids, self.repository.purge, "Purged {}.")

    def _click_restore(self) -> None:
        self.restore(self._selected(action="restore"))

    def _each(self, ids: Sequence[int], act: Callable[[int], Any], notice: str) -> list[int]:
        """``act`` on each id; one failure does not stop the others; the first is reported."""
        done: list[int] = []
        errors: list[str] = []
        for session_id in ids:
            try:
                act(session_id)
                done.append(session_id)
            except GangliosideError as exc:
                errors.append(error_message(exc))
        self.refresh()
        if done:
            self.state.notice = notice.format(f"{_plural(len(done))} ({_ids_text(done)})")
        if errors:
            more = f" ({len(errors)} of {len(ids)} failed)" if len(ids) > 1 else ""
            self.state.error = errors[0] + more
        return done

    # -- open ----------------------------------------------------------------------------------
    async def open_session(self, session_id: int) -> W.Widget | None:
        """Show a session in the detail area: its result (completed), its error (failed) or its
        status; returns the widget shown under the session's header (None after an error)."""
        return await catch_errors(self.state)(self._open)(session_id)

    async def _open(self, session_id: int) -> W.Widget:
        repo = self.repository
        info = await asyncio.to_thread(repo.get_session, session_id)
        header = tag(W.HTML(_detail_header(info)), "history-detail-header")
        if info.status == "completed":
            from .results import ResultsView

            self._set_detail([header, W.HTML('<span class="gnb-muted">Loading the result...</span>')])
            result = await asyncio.to_thread(repo.load_result, session_id)
            body: W.Widget = ResultsView(result=result, repository=repo, session_id=session_id)
        elif info.status == "failed":
            message = _esc(info.error_message or "The analysis failed.")
            body = tag(W.HTML(
                f'<div class="gnb-error" role="alert" style="color:#cc3311;border:1px solid #cc3311;'
                f'border-radius:4px;padding:0.3em 0.6em;">{message}</div>'), "history-error")
        else:
            body = tag(W.HTML(_waiting_html(info)), "history-status-note")
            self.following = spawn(catch_errors(self.state)(self._follow_session)(session_id, body))
        self._set_detail([header, body])
        return body

    async def _follow_session(self, session_id: int, note: W.HTML) -> W.Widget:
        """Ask a pending or running session for its status every ``poll_s`` seconds while its
        note is shown; once it ends, show it as :meth:`open_session` does (its result or its
        error) and return what is shown. Opening another session stops the following."""
        while True:
            await asyncio.sleep(self.poll_s)
            if note not in self.detail.children:  # another session was opened meanwhile
                return note
            info = await asyncio.to_thread(self.repository.get_session, session_id)
            if info.status in ("pending", "running"):
                note.value = _waiting_html(info)
                continue
            self.refresh()
            return await self._open(session_id)

    def _set_detail(self, children: list[W.Widget]) -> None:
        old = [c for c in self.detail.children if c not in children]
        self.detail.children = children
        for child in old:
            close_tree(child)

    def _click_open(self) -> None:
        (session_id,) = self._selected(one=True, action="open")
        self._spawn(self.open_session(session_id))

    # -- export --------------------------------------------------------------------------------
    async def export(self, ids: Sequence[int], fmt: str = "xlsx") -> bytes | None:
        """The stored results of the selected completed sessions as ``fmt`` (csv, xlsx, json;
        each export recorded in the session's audit trail), offered as one download: the file
        itself for one session, a ZIP for several. Sessions without a result are named in the
        message line. Returns the downloadable bytes (None when nothing could be exported)."""
        return await catch_errors(self.state)(self._export)(ids, fmt)

    async def _export(self, ids: Sequence[int], fmt: str) -> bytes | None:
        self.export_link.value = ""
        files: list[tuple[str, bytes]] = []
        skipped: list[int] = []
        for session_id in ids:
            info = await asyncio.to_thread(self.repository.get_session, session_id)
            if info.status != "completed":
                skipped.append(session_id)
                continue
            data = await asyncio.to_thread(self.repository.export, session_id, fmt)
            stem = file_slug(info.name or info.input_filename or "") or "session"
            files.append((f"{stem}-{session_id}.{fmt}", data))
        if skipped:
            self.state.error = (f"{_plural(len(skipped))} ({_ids_text(skipped)}) without a result (not "
                                "completed) left out of the export.")
        if not files:
            return None
        if len(files) == 1:
            (name, data), label = files[0], f"Download {files[0][0]}"
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for entry, payload in files:
                    archive.writestr(entry, payload)
            data = buffer.getvalue()
            name, label = f"ganglioside-sessions-{fmt}.zip", f"Download {len(files)} results (ZIP of {fmt})"
        self.export_link.value = download_link(data, name, label)
        self.state.notice = f"Exported {_plural(len(files))} as {fmt.upper()}."
        return data

    # -- cancel --------------------------------------------------------------------------------
    async def cancel(self, ids: Sequence[int]) -> list[int] | None:
        """Cancel sessions by id, whoever started them (:meth:`AnalysisService.cancel_session`,
        in a thread): pending ones at once, running ones at their next step. Returns the ids
        cancelled (None after an error); the others are named in the message line."""
        return await catch_errors(self.state)(self._cancel)(ids)

    async def _cancel(self, ids: Sequence[int]) -> list[int]:
        service = await self.backend.service()
        done: list[int] = []
        for session_id in ids:
            if await asyncio.to_thread(service.cancel_session, session_id):
                done.append(session_id)
        self.refresh()
        left = [i for i in ids if i not in done]
        if done:
            self.state.notice = f"Cancelled {_plural(len(done))} ({_ids_text(done)})."
        if left:
            self.state.error = (f"{_plural(len(left)).capitalize()} ({_ids_text(left)}) could not be "
                                "cancelled: ended already, or running where this app's scheduler cannot "
                                "reach it.")
        return done

    # -- verify --------------------------------------------------------------------------------
    async def verify(self, session_id: int) -> Verification | None:
        """Re-run a completed session's stored input (in a thread) and compare with its stored
        result (FEATURES.md H1); the verdict goes to the detail area and the message line.
        Returns the :class:`~ganglioside_nb.api.Verification` (None after an error)."""
        return await catch_errors(self.state)(self._verify)(session_id)

    async def _verify(self, session_id: int) -> Verification:
        self.verify_button.disabled = True
        try:
            info = await asyncio.to_thread(self.repository.get_session, session_id)
            header = tag(W.HTML(_detail_header(info)), "history-detail-header")
            self._set_detail([header, W.HTML('<span class="gnb-muted">Analysing the stored input '
                                             "again...</span>")])
            verification = await asyncio.to_thread(verify_session, self.repository, session_id)
        finally:
            self.verify_button.disabled = len(self.selected) != 1
        self._set_detail([header, tag(W.HTML(verification._repr_html_()), "history-verification")])
        if verification.identical:
            self.state.notice = (f"Session #{session_id} verifies: its stored input, analysed again, "
                                 "gives the stored result.")
        else:
            self.state.error = (f"Session #{session_id} does not verify: "
                                f"{len(verification.differences)} difference(s), shown below.")
        return verification

    def _click_verify(self) -> None:
        (session_id,) = self._selected(one=True, action="verify")
        self._spawn(self.verify(session_id))

    # -- re-run --------------------------------------------------------------------------------
    def _on_new_params(self, change: Any = None) -> None:
        checked = bool(self.new_params.value)
        if checked and self.params_form is None:
            from .params_form import ParamsForm

            self.params_form = ParamsForm(self.rerun_state)
            self.params_box.children = [Alert(self.rerun_state), self.params_form]
        if checked and self.selected:
            self._load_params(self.selected[0])
        _show(self.params_box, checked and not self.trash.value)

    def _load_params(self, session_id: int) -> None:
        """Fill the form from a session's stored parameters, once per newly chosen session (a
        redraw of the list keeps what was typed)."""
        info = self._info(session_id)
        if info is not None and session_id != self._params_from:
            self.rerun_state.error = ""
            self.rerun_state.params = AnalysisParams.from_dict(info.params)
            self._params_from = session_id

    def _form_params(self) -> AnalysisParams | None:
        return self.rerun_state.params if self.new_params.value else None

    def _click_rerun(self) -> None:
        ids = self._selected(action="re-run")
        name = self.rerun_state.session_name.strip() if self.new_params.value else ""
        self._spawn(self.rerun(ids, self._form_params(), name=name or None))

    async def rerun(self, ids: Sequence[int], params: AnalysisParams | dict[str, Any] | None = None, *,
                    name: str | None = None) -> Batch | None:
        """Re-run sessions as new sessions (``parent_id`` = the old one) with ``params`` (None:
        each its stored ones), one progress row each, followed concurrently; then redraw the
        list. Returns the batch of jobs once every one has ended (None after an error)."""
        return await catch_errors(self.state)(self._rerun)(ids, params, name)

    async def _rerun(self, ids: Sequence[int], params: AnalysisParams | dict[str, Any] | None,
                     name: str | None) -> Batch:
        ids = [int(i) for i in ids]
        if not ids:
            raise InvalidParameterError("At least one analysis session must be selected to re-run. "
                                        "Got none instead.", parameter="ids", value="[]")
        checked = None if params is None else AnalysisParams.coerce(params)
        self.rerun_button.disabled = True
        rows: list[JobProgress] = []
        follows: list[asyncio.Task[Any]] = []
        jobs: list[Job] = []
        for old in self.jobs.children:
            close_tree(old)
        self.jobs.children = []
        self.jobs_summary.value = ""
        try:
            service = await self.backend.service()
            for session_id in ids:
                try:
                    job = await asyncio.to_thread(service.rerun, session_id, checked, name=name)
                    new_id = job.meta.get("session_id")
                    label = f"#{new_id} {job.label}" if new_id is not None else job.label
                except GangliosideError as exc:  # this one cannot start: the others still run
                    label = f"#{session_id}"
                    job = failed_job(label, exc)
                row = tag(JobProgress(compact=True, label=label), "history-job")
                row.bar.style = {"description_width": "initial"}
                rows.append(row)
                jobs.append(job)
                self.jobs.children = tuple(rows)
                follows.append(asyncio.ensure_future(row.follow(job)))
            await asyncio.gather(*follows)
        finally:
            self.rerun_button.disabled = not self.selected or self.trash.value
        batch = Batch(jobs)
        counts = batch.counts()
        self.jobs_summary.value = (f'<span class="gnb-rerun-summary">Re-run of {_plural(len(jobs))}: '
                                   f"{_esc(', '.join(f'{n} {s}' for s, n in counts.items()))}.</span>")
        failed = [j for j in jobs if j.status != "completed"]
        if failed:
            self.state.error = f"{failed[0].label}: {failed[0].state.error or failed[0].status}"
        else:
            self.state.notice = f"Re-ran {_plural(len(jobs))}."
        self.refresh()
        return batch

    # -- clean-up ------------------------------------------------------------------------------
    def _on_cleanup_input(self, _change: Any = None) -> None:
        self._previewed = None
        self.cleanup_apply_button.disabled = True
        purge = self.cleanup_kind.value == "purge"
        self.cleanup_days.description = "In the Trash (days)" if purge else "Older than (days)"
        self.cleanup_apply_button.button_style = "danger" if purge else "warning"
        self.cleanup_apply_button.tooltip = ("Purge the previewed sessions for good" if purge
                                             else "Move the previewed sessions to the Trash")

    def _cleanup_choice(self) -> tuple[str, int, bool]:
        return str(self.cleanup_kind.value), int(self.cleanup_days.value), bool(self.cleanup_all.value)

    def _cleanup(self, dry_run: bool) -> list[SessionInfo]:
        kind, days, everyone = self._cleanup_choice()
        method = (self.repository.purge_trash_older_than if kind == "purge"
                  else self.repository.cleanup_older_than)
        return method(days, dry_run=dry_run, all_owners=everyone)

    def preview_cleanup(self) -> list[SessionInfo] | None:
        """The dry run: which finished sessions older than the days given would go to the Trash
        (or, with "Purge the old Trash", which sessions in the Trash that long would be purged)."""
        return catch_errors(self.state)(self._preview_cleanup)()

    def _preview_cleanup(self) -> list[SessionInfo]:
        found = self._cleanup(dry_run=True)
        kind, days, _ = choice = self._cleanup_choice()
        names = ", ".join(_esc(_label(s)) for s in found[:_LISTED])
        more = f" and {len(found) - _LISTED} more" if len(found) > _LISTED else ""
        what = (f"in the Trash for more than {days} days would be purged for good" if kind == "purge"
                else f"older than {days} days would move to the Trash")
        self.cleanup_report.value = (f'<span class="gnb-cleanup-count">{_plural(len(found))} {what}</span>'
                                     f"{': ' + names + more if found else '.'}")
        self._previewed = choice if found else None
        self.cleanup_apply_button.disabled = not found
        return found

    def apply_cleanup(self) -> list[SessionInfo] | None:
        """Do what the last preview listed (same choice and days); returns the sessions moved to
        the Trash or purged."""
        return catch_errors(self.state)(self._apply_cleanup)()

    def _apply_cleanup(self) -> list[SessionInfo]:
        kind, days, _ = choice = self._cleanup_choice()
        if self._previewed != choice:
            raise InvalidParameterError(
                f"The clean-up of sessions older than {days} days must be previewed before it is applied. "
                "Got no preview instead.", parameter="days", value=str(days))
        done = self._cleanup(dry_run=False)
        self._on_cleanup_input()
        verb = "Purged" if kind == "purge" else "Moved"
        where = "" if kind == "purge" else " to the Trash"
        count = f"{_plural(len(done))}{where}"
        self.cleanup_report.value = f'<span class="gnb-cleanup-count">{verb} {count}.</span>'
        self.state.notice = f"Clean-up: {verb.lower()} {count}."
        self.refresh()
        return done

    # -- dashboard -----------------------------------------------------------------------------
    def draw_dashboard(self) -> dict[str, W.Image]:
        """The :func:`~ganglioside_nb.plots.session_trends` figures of the completed sessions that
        match the filters (all pages, the newest ``DASHBOARD_SESSIONS``), as images."""
        from ..plots import session_trends
        from ..report import figure_bytes

        ids = [s.id for s in self.matching if s.status == "completed"][:DASHBOARD_SESSIONS]
        for child in self.dashboard_figures.children:
            close_tree(child)
        if not ids:
            self.dashboard_figures.children = [W.HTML('<span class="gnb-muted">No completed session '
                                                      "matches the filters.</span>")]
            return {}
        trends = self.repository.trends(ids, limit=DASHBOARD_SESSIONS)
        images = {name: tag(W.Image(value=figure_bytes(figure, "png"), format="png",  # natural size
                                    layout=W.Layout(width="auto", max_width="100%")), "dashboard-image")
                  for name, figure in session_trends(trends).items()}
        self.dashboard_figures.children = list(images.values())
        return images

    # -- health --------------------------------------------------------------------------------
    async def check_health(self) -> dict[str, Any] | None:
        """Database and scheduler state (``AnalysisService.health()``, in a thread), drawn in
        the Health panel; an unreachable scheduler shows its one-line error."""
        return await catch_errors(self.state)(self._check_health)()

    async def _check_health(self) -> dict[str, Any]:
        self.health_button.disabled = True
        self.health_report.value = '<span class="gnb-muted">Checking...</span>'
        try:
            report = await self.backend.health(reconcile=True)
            self.health_report.value = _health_html(report)
            return report
        finally:
            self.health_button.disabled = False


def _waiting_html(info: SessionInfo) -> str:
    """The note of a session without a result yet, with its running time."""
    since = (f" for {format_duration(datetime.now(UTC) - _aware(info.started_at))}"
             if info.status == "running" and info.started_at is not None else "")
    return (f'<div class="gnb-muted"><span class="gnb-waiting">This session is {_esc(info.status)}'
            f"{since}</span>: its result appears here when it ends.</div>")


def _in_dates(created: datetime, start: date | None, end: date | None) -> bool:
    day = _aware(created).astimezone().date()
    return (start is None or day >= start) and (end is None or day <= end)


def _detail_header(info: SessionInfo) -> str:
    """The session's facts (FEATURES.md D2): status, input file, size and SHA-256, data type,
    mode, times, parent; the stored parameters when there is no result to show them."""
    rows = [("status", badge_html(info.status)),
            ("file", f"{_esc(info.input_filename)} ({_esc(size_text(info.input_size))})"),
            ("input sha256", f'<code class="gnb-sha256">{_esc(info.input_sha256)}</code>'),
            ("data type", _esc(info.data_type)), ("mode", _esc(info.mode)),
            ("chromatography", "HILIC (RT verdicts not meaningful)" if info.chromatography == "hilic"
             else "reversed phase"),
            ("created", local_time(info.created_at)), ("started", local_time(info.started_at)),
            ("finished", local_time(info.finished_at)), ("duration", format_duration(info.duration))]
    if info.parent_id is not None:
        rows.append(("re-run of", f"#{info.parent_id}"))
    if info.status != "completed":  # a result shows them in its Provenance tab
        rows.append(("parameters", _esc(", ".join(f"{k} {v}" for k, v in (info.params or {}).items()))))
    link = (f'<a class="gnb-analyze-link" href="analyze.ipynb?session={info.id}" target="_blank" '
            'rel="noopener">open in the analyze app</a>')
    return (f'<div class="gnb-session-header"><h4 style="margin:0.4em 0">#{info.id} {_esc(info.display_name)}'
            f'</h4><table class="gnb-h">{_kv(rows)}</table>{link}</div>')
