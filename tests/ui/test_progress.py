"""The Analyze button end to end without a browser: a real LocalCluster (async client on the
test's event loop, as in a kernel), a real database, widgets read back after the run."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from distributed import Client

from ganglioside_nb.core.rules import DEFAULT_RULES
from ganglioside_nb.execution import LocalRunner, ProgressState
from ganglioside_nb.persistence import Repository
from ganglioside_nb.ui.backend import Backend
from ganglioside_nb.ui.progress import JobProgress, RunView
from ganglioside_nb.ui.state import AppState
from tests.conftest import SAMPLE
from tests.databases import count_rows

RULES = [rule.__name__ for rule in DEFAULT_RULES]


def _loaded(data: bytes, filename: str) -> AppState:
    state = AppState()
    state.source, state.filename, state.status = data, filename, "ready"
    return state


def _run(view: RunView, backend: Backend) -> ProgressState:
    async def main() -> ProgressState:
        try:
            task = view.start()
            assert task is not None
            await task
            return view.state.progress
        finally:
            await backend.close()
    return asyncio.run(main())


def test_run_on_the_local_cluster_reaches_100_percent(dask_client: Client, engine: Any,
                                                      database_url: Any) -> None:
    owner = f"ui-{uuid.uuid4().hex[:8]}"
    backend = Backend(Repository(engine, owner=owner), address=dask_client.scheduler.address)
    state = _loaded(SAMPLE.read_bytes(), SAMPLE.name)
    state.session_name = "from the widget"
    seen: list[int] = []
    view = RunView(state, backend, on_done=lambda final: seen.append(final.percent))
    assert view.run_button.disabled is False and view.cancel_button.disabled is True
    final = _run(view, backend)
    assert final.status == "completed" and seen == [100]
    assert view.progress.bar.value == 100 and view.progress.bar.bar_style == "success"
    assert "completed" in view.progress.badge.value
    log = view.progress.log_view.value
    for rule in RULES:  # one line per rule, in order
        assert log.count(f"step      {rule}") == 1, rule
    assert [log.index(f"step      {r}") for r in RULES] == sorted(log.index(f"step      {r}") for r in RULES)
    assert state.status == "completed" and len(state.result.compounds) == 323
    info = Repository(engine, owner=owner).get_session(state.session_id)
    assert info.status == "completed" and info.name == "from the widget"
    assert count_rows(engine, "compound", state.session_id) == 323
    assert "Dask dashboard" in view.dashboard.value and "http://127.0.0.1:" in view.dashboard.value
    assert view.run_button.disabled is False and view.cancel_button.disabled is True


def test_a_broken_file_fails_with_its_error_in_the_state(tmp_path: Any) -> None:
    backend = Backend(f"sqlite:///{tmp_path / 'ui.sqlite3'}", LocalRunner(), owner="ui")
    state = _loaded(b"Name,RT\nGM1(36:1;O2),10\n", "two_columns.csv")
    view = RunView(state, backend)
    final = _run(view, backend)
    assert final.status == "failed" and state.status == "failed"
    assert state.error.startswith("File 'two_columns.csv' must have the columns")
    assert view.progress.bar.bar_style == "danger" and "failed" in view.progress.badge.value
    assert state.result is None


def test_nothing_loaded_is_one_error_line() -> None:
    backend = Backend("sqlite://", LocalRunner(), owner="ui")
    state = AppState()
    view = RunView(state, backend)
    assert view.run_button.disabled is True  # idle: nothing to run
    asyncio.run(view.run())
    assert state.error == "A peak table must be loaded before analysing. Got no file instead."


def test_cancel_before_start_ends_cancelled(tmp_path: Any) -> None:
    gate_runner = LocalRunner()
    # occupy the runner's only thread so the analysis stays queued until cancelled
    import threading
    release = threading.Event()
    gate_runner._pool.submit(release.wait, 30)
    backend = Backend(f"sqlite:///{tmp_path / 'c.sqlite3'}", gate_runner, owner="ui")
    state = _loaded(SAMPLE.read_bytes(), SAMPLE.name)
    view = RunView(state, backend)

    async def main() -> None:
        task = view.start()
        while view.job is None:
            await asyncio.sleep(0.01)
        assert view.cancel_button.disabled is False
        view.cancel_button.click()
        await task
        release.set()

    asyncio.run(main())
    assert state.status == "cancelled" and view.progress.bar.bar_style == "warning"
    assert backend.repository.get_session(state.session_id).status == "cancelled"


def test_job_progress_draws_a_state() -> None:
    from ganglioside_nb.execution import TaskEvent
    view = JobProgress(compact=True)
    state = ProgressState.fold([TaskEvent("k", "submitted", time=1.0),
                                TaskEvent("k", "started", time=2.0, run="r", worker="w"),
                                TaskEvent("k", "step", seq=1, time=3.0, run="r", step="validate",
                                          fraction=0.42, message="0 of 5 rows rejected")])
    view.show(state)
    assert view.bar.value == 42 and "running" in view.badge.value
    assert "0 of 5 rows rejected (1.0 s)" in view.step.value
    assert view.children[0].children == (view.bar, view.badge, view.step)  # compact: no log


@pytest.mark.parametrize("status", ["idle", "ready", "queued", "running", "completed", "failed"])
def test_buttons_follow_the_status(status: str) -> None:
    state = AppState()
    view = RunView(state, Backend("sqlite://", LocalRunner(), owner="ui"))
    state.status = status
    assert view.run_button.disabled is (status in ("idle", "queued", "running"))
    assert view.cancel_button.disabled is (status not in ("queued", "running"))
