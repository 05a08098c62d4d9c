"""The analyze app as a user drives it, without a browser (issue 5 acceptance): bytes into the
FileUpload, a parameter changed, Analyze clicked, the run on a real LocalCluster awaited on the
test's event loop (as in a kernel), then the widgets and the database read back."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from distributed import Client

from ganglioside_nb.core.rules import DEFAULT_RULES
from ganglioside_nb.execution import LocalRunner
from ganglioside_nb.persistence import Repository
from ganglioside_nb.ui.apps import AnalyzeApp, HistoryApp
from ganglioside_nb.ui.backend import Backend
from tests.conftest import SAMPLE
from tests.databases import count_rows


def _upload(app: AnalyzeApp, data: bytes, name: str) -> None:
    app.upload.upload.value = ({"name": name, "type": "text/csv", "size": len(data),
                                "content": memoryview(data), "last_modified": dt.datetime.now(dt.UTC)},)


def _alert(app: AnalyzeApp) -> str:
    return str(app.children[1].value)


def test_upload_parameters_run_results_and_storage(dask_client: Client, engine: Any) -> None:
    owner = f"app-{uuid.uuid4().hex[:8]}"
    backend = Backend(Repository(engine, owner=owner), address=dask_client.scheduler.address)

    async def main() -> AnalyzeApp:
        app = AnalyzeApp(backend)
        app.start()  # the cluster connection starts in the background, as after a page render
        _upload(app, SAMPLE.read_bytes(), "porcine.csv")
        assert app.state.status == "ready" and "323" in app.upload.preview.value
        app.params.widget_for("outlier_threshold").value = 3.0
        app.params.session_name.value = "porcine, widget run"
        assert app.state.params.outlier_threshold == 3.0
        app.run.run_button.click()  # returns at once; the run is a task on this loop
        assert app.run.task is not None and not app.run.task.done()
        await app.run.task
        await backend.close()
        return app

    app = asyncio.run(main())
    state = app.state
    assert state.status == "completed", state.error
    assert app.run.progress.bar.value == 100
    log = app.run.progress.log_view.value
    assert all(log.count(f"step      {rule.__name__}") == 1 for rule in DEFAULT_RULES)
    assert app.tabs.selected_index == 2  # switched to the results
    table = app.results.table
    assert table is not None and table.n_rows == 323 and "of 323" in table.count.value
    assert "323" in app.results.stats.value
    assert state.result.params.outlier_threshold == 3.0
    info = Repository(engine, owner=owner).get_session(state.session_id)
    assert (info.status, info.name) == ("completed", "porcine, widget run")
    assert info.params["outlier_threshold"] == 3.0
    assert count_rows(engine, "compound", state.session_id) == 323
    assert "Saved as session" in _alert(app)


def test_oversized_and_broken_uploads_show_their_error(tmp_path: Any) -> None:
    app = AnalyzeApp(Backend(f"sqlite:///{tmp_path / 'a.sqlite3'}", LocalRunner(), owner="app"),
                     max_upload_bytes=4096)
    _upload(app, SAMPLE.read_bytes(), "big.csv")
    assert "big.csv" in _alert(app) and "must be at most" in _alert(app)
    assert app.state.source is None and app.run.run_button.disabled
    _upload(app, b"\x00\x01binary\xff" * 10, "broken.csv")
    assert "broken.csv" in _alert(app) and "binary" in _alert(app)
    assert app.state.source is None and app.run.run_button.disabled


def test_reopen_a_stored_session(tmp_path: Any) -> None:
    backend = Backend(f"sqlite:///{tmp_path / 'r.sqlite3'}", LocalRunner(), owner="app")

    async def main() -> AnalyzeApp:
        service = await backend.service()
        done = service.submit(SAMPLE, name="stored").result()
        app = AnalyzeApp(backend, session_id=done.id)
        app.start()
        while app.state.result is None and not app.state.error:
            await asyncio.sleep(0.02)
        return app

    app = asyncio.run(main())
    assert app.state.error == "" and app.tabs.selected_index == 2
    assert app.results.table is not None and app.results.table.n_rows == 323
    assert "gnb-ready-marker" in app.ready.value


def test_history_app_lists_the_sessions(tmp_path: Any) -> None:
    backend = Backend(f"sqlite:///{tmp_path / 'h.sqlite3'}", LocalRunner(), owner="app")
    sid = backend.repository.create_session(SAMPLE, name="listed")
    app = HistoryApp(backend)
    assert any(s.id == sid for s in app.view.sessions)


def test_the_served_app_takes_its_upload_limits_from_the_environment(monkeypatch: Any, tmp_path: Any) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.sqlite3'}")  # nothing starts yet
    monkeypatch.setenv("GANGLIOSIDE_NB_MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("GANGLIOSIDE_NB_MAX_ROWS", "1000")
    app = AnalyzeApp.from_environment()
    assert app.upload.max_bytes == 2_097_152 and "at most 2 MB and 1,000 rows" in app.upload.hint.value
    assert app.state.error == ""
    monkeypatch.setenv("GANGLIOSIDE_NB_MAX_ROWS", "many")
    app = AnalyzeApp.from_environment()  # the page still opens, saying what is wrong
    assert app.state.error == ("The environment variable GANGLIOSIDE_NB_MAX_ROWS must be an integer "
                               ">= 1. Got 'many' instead.")
    assert app.upload.max_bytes == 2_097_152 and "rows" not in app.upload.hint.value


def test_the_header_dot_shows_the_health_of_database_and_scheduler(repo: Repository, dask_client: Client,
                                                                   monkeypatch: Any) -> None:
    from ganglioside_nb.ui.apps import Header

    async def check(backend: Backend) -> tuple[Header, Any]:
        header = Header("t", backend, {"History": "history.ipynb"})
        assert header.state == "checking" and "gnb-health-checking" in header.dot.value
        try:
            return header, await header.check()
        finally:
            await backend.close()

    header, report = asyncio.run(check(Backend(repo, address=dask_client.scheduler.address)))
    assert report["state"] == "healthy" == header.state and "#1b9e77" in header.dot.value
    assert "gnb-header" in header._dom_classes and "gnb-health-dot" in header.dot._dom_classes
    assert "reconciled" not in report  # the dot only looks: stale sessions are left to Health
    monkeypatch.setattr("ganglioside_nb.execution.cluster.CONNECT_TIMEOUT_S", 0.5)
    header, report = asyncio.run(check(Backend(repo, address="tcp://127.0.0.1:9")))
    assert report["state"] == "degraded" == header.state and "#e6ab02" in header.dot.value
    assert "cannot be reached" in header.dot.value  # the reason, as the tooltip
    for app in (AnalyzeApp(Backend(repo, LocalRunner())), HistoryApp(Backend(repo, LocalRunner()))):
        assert isinstance(app.children[0], Header) and app.header.state == "checking"
