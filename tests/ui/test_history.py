"""The history view without a browser: real databases (SQLite and Postgres), sessions made
through the repository, buttons clicked and the coroutines they schedule awaited; re-runs on
the in-process runner and, for the batch, on a real LocalCluster."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from distributed import Client

import ganglioside_nb as gnb
from ganglioside_nb.core.results import AnalysisResult
from ganglioside_nb.errors import SessionNotFoundError
from ganglioside_nb.execution import LocalRunner
from ganglioside_nb.persistence import Repository
from ganglioside_nb.ui.backend import Backend
from ganglioside_nb.ui.history import HistoryView, format_duration, local_time
from ganglioside_nb.ui.progress import JobProgress
from ganglioside_nb.ui.state import AppState
from ganglioside_nb.ui.upload import size_text
from tests.conftest import SAMPLE, SAMPLE_5

FAILURE = "InputFormatError: the table has no RT column"


@pytest.fixture(scope="module")
def sample_result() -> AnalysisResult:
    return gnb.analyze(SAMPLE)


def _populate(repo: Repository, result: AnalysisResult) -> tuple[int, int, int]:
    """A completed, a failed and a pending session, created in this order."""
    done = repo.create_session(SAMPLE, name="alpha brain")
    repo.save_result(done, result)
    failed = repo.create_session(SAMPLE_5, name="beta")
    repo.mark_running(failed)
    repo.mark_failed(failed, FAILURE)
    pending = repo.create_session(SAMPLE, data_type="human")
    return done, failed, pending


def _row_ids(view: HistoryView) -> list[int]:
    return [int(i) for i in re.findall(r'data-session-id="(\d+)"', view.table.value)]


def _shown(widget: Any) -> bool:
    return widget.layout.display != "none"


def test_the_table_lists_sessions_newest_first_with_badges(repo: Repository,
                                                           sample_result: AnalysisResult) -> None:
    done, failed, pending = _populate(repo, sample_result)
    view = HistoryView(Backend(repo, LocalRunner()))
    assert [s.id for s in view.sessions] == [pending, failed, done] == _row_ids(view)
    table = view.table.value
    assert "gnb-history-table" in view.table._dom_classes and "gnb-history" in view._dom_classes
    for sid, status in ((done, "completed"), (failed, "failed"), (pending, "pending")):
        row = table.split(f'data-session-id="{sid}"')[1].split("</tr>")[0]
        assert f"gnb-badge-{status}" in row
        assert local_time(repo.get_session(sid).created_at) in row
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", local_time(repo.get_session(done).created_at))
    assert f"Session #{pending}" in table and "alpha brain" in table and "testwork.csv" in table
    assert "human" in table and "structural" in table
    # completed sessions show their compounds and pass rate, read from the stored statistics
    done_row = table.split(f'data-session-id="{done}"')[1].split("</tr>")[0]
    stats = sample_result.statistics
    assert f'<td class="n">{stats["total_rows"]}</td>' in done_row
    assert f'{stats["success_rate"]:.1f} %' in done_row
    assert view.summaries == {done: repo.summaries([done])[done]}
    assert repo.summaries([failed, pending]) == {}
    assert view.select.options == ((f"#{pending} Session #{pending}", pending), (f"#{failed} beta", failed),
                                   (f"#{done} alpha brain", done))
    assert view.page_label.value == "page 1 of 1 (3 sessions)"
    # no widget per row: the page is one HTML value
    assert all(not isinstance(c, JobProgress) for c in view.children)


def test_a_hilic_session_says_so(repo: Repository) -> None:
    hilic = repo.create_session(SAMPLE_5, params={"chromatography": "hilic"})
    usual = repo.create_session(SAMPLE_5)
    view = HistoryView(Backend(repo, LocalRunner()))
    table = view.table.value
    assert "HILIC" in table.split(f'data-session-id="{hilic}"')[1].split("</tr>")[0]
    assert "HILIC" not in table.split(f'data-session-id="{usual}"')[1].split("</tr>")[0]
    asyncio.run(view.open_session(hilic))
    assert "HILIC (RT verdicts not meaningful)" in view.detail.children[0].value


def test_dashboard_draws_the_matching_completed_sessions(repo: Repository,
                                                         sample_result: AnalysisResult) -> None:
    view = HistoryView(Backend(repo, LocalRunner()))
    view.dashboard_button.click()
    assert "No completed session" in view.dashboard_figures.children[0].value
    done, _, _ = _populate(repo, sample_result)
    view.refresh()
    view.dashboard_button.click()
    images = view.dashboard_figures.children
    assert len(images) == 3 and all(bytes(i.value).startswith(b"\x89PNG") for i in images)
    assert all("gnb-dashboard-image" in i._dom_classes for i in images)
    assert view.draw_dashboard().keys() == {"category_counts", "r2_by_model", "z_by_session"}
    view.search.value = "no such session"  # filters apply
    view.dashboard_button.click()
    assert "No completed session" in view.dashboard_figures.children[0].value and view.state.error == ""


def test_filters_dates_and_paging(repo: Repository, sample_result: AnalysisResult) -> None:
    done, failed, pending = _populate(repo, sample_result)
    view = HistoryView(Backend(repo, LocalRunner()), page_size=2)
    assert [s.id for s in view.sessions] == [pending, failed] and view.prev_button.disabled
    view.next_button.click()
    assert [s.id for s in view.sessions] == [done] and view.page_label.value == "page 2 of 2 (3 sessions)"
    assert view.next_button.disabled and not view.prev_button.disabled

    view.status_filter.value = "failed"  # a filter goes back to page 1
    assert view.page == 0 and [s.id for s in view.sessions] == [failed]
    view.status_filter.value = ""
    view.type_filter.value = "human"
    assert [s.id for s in view.sessions] == [pending]
    view.type_filter.value = ""
    view.search.value = "ALPHA"
    assert [s.id for s in view.sessions] == [done]
    view.search.value = "testwork.csv"  # the file name
    assert [s.id for s in view.sessions] == [failed]
    view.search.value = ""

    today = date.today()
    view.date_from.value = today + timedelta(days=1)
    assert view.sessions == [] and "No analysis sessions" in view.table.value
    view.date_from.value = today - timedelta(days=1)
    view.date_to.value = today
    assert len(view.matching) == 3
    view.date_to.value = today - timedelta(days=2)  # before 'From': one error line
    assert view.state.error.startswith("The 'From' date must be on or before the 'To' date")
    view.date_from.value = None
    assert view.matching == []


def test_rename_delete_confirm_trash_restore_purge(repo: Repository, sample_result: AnalysisResult) -> None:
    done, failed, pending = _populate(repo, sample_result)
    state = AppState()
    view = HistoryView(Backend(repo, LocalRunner()), state=state)
    assert view.alert in view.children

    view.select.value = (done,)
    assert view.rename_text.value == "alpha brain" and not view.open_button.disabled
    view.rename_text.value = "porcine, renamed"
    view.rename_button.click()
    assert repo.get_session(done).name == "porcine, renamed" and "porcine, renamed" in view.table.value
    assert "porcine, renamed" in state.notice

    view.select.value = (failed, done)
    assert view.open_button.disabled and not view.delete_button.disabled
    view.rename_button.click()
    assert state.error == "Exactly one analysis session must be selected to rename. Got 2 instead."
    view.delete_button.click()  # first step: nothing deleted yet
    assert state.error == "" and _shown(view.confirm_box) and _shown(view.confirm_delete_button)
    assert not _shown(view.confirm_purge_button) and f"#{failed}, #{done}" in view.confirm_text.value
    assert len(repo.list_sessions()) == 3
    view.confirm_delete_button.click()
    assert not _shown(view.confirm_box)
    assert [s.id for s in view.sessions] == [pending] and [s.id for s in repo.list_sessions()] == [pending]
    assert state.notice.startswith("Moved 2 sessions")

    view.trash.value = True
    assert [s.id for s in view.sessions] == [failed, done] and "deleted" in view.table.value
    assert _shown(view.restore_button) and _shown(view.purge_button)
    assert not _shown(view.open_button) and not _shown(view.delete_button) and not _shown(view.rerun_button)
    view.select.value = (done,)
    view.restore_button.click()
    assert [s.id for s in view.sessions] == [failed] and repo.get_session(done).deleted_at is None

    view.select.value = (failed,)
    view.purge_button.click()
    assert _shown(view.confirm_purge_button) and "cannot be undone" in view.confirm_text.value
    view.cancel_confirm_button.click()  # changed my mind
    assert not _shown(view.confirm_box) and repo.get_session(failed, include_deleted=True)
    view.purge_button.click()
    view.confirm_purge_button.click()
    assert view.sessions == [] and "The Trash is empty" in view.table.value
    with pytest.raises(SessionNotFoundError):
        repo.get_session(failed, include_deleted=True)
    assert [e.action for e in repo.audit_log(failed)][-1] == "purged"

    view.trash.value = False
    assert [s.id for s in view.sessions] == [pending, done]
    running = repo.create_session(SAMPLE_5, name="busy")
    repo.mark_running(running)
    view.refresh()
    view.select.value = (running, done)
    view.delete_button.click()
    view.confirm_delete_button.click()  # one refused, the other done
    assert "must not be running to be deleted" in state.error and "(1 of 2 failed)" in state.error
    assert [s.id for s in view.sessions] == [running, pending]


def test_open_shows_the_result_or_the_error(repo: Repository, sample_result: AnalysisResult) -> None:
    from ganglioside_nb.ui.results import ResultsView

    done, failed, pending = _populate(repo, sample_result)
    view = HistoryView(Backend(repo, LocalRunner()))

    async def main() -> tuple[Any, Any, Any]:
        view.select.value = (done,)
        view.open_button.click()  # scheduled on the loop
        shown = await view.task
        assert view.detail.children[1] is shown
        return shown, await view.open_session(failed), await view.open_session(pending)

    completed, error, waiting = asyncio.run(main())
    assert isinstance(completed, ResultsView) and completed.session_id == done
    assert completed.result is not None and completed.result.equals(sample_result)
    assert isinstance(error, type(view.table)) and FAILURE in error.value and "gnb-error" in error.value
    assert "pending" in waiting.value and "appears here when it ends" in waiting.value
    header = view.detail.children[0].value
    assert f'href="analyze.ipynb?session={pending}"' in header and f"#{pending} Session #{pending}" in header
    info = repo.get_session(pending)
    assert info.input_sha256 in header and f"testwork_user.csv ({size_text(info.input_size)})" in header
    assert "<th>parameters</th>" in header and "rt_tolerance 0.1" in header  # no result shows them
    asyncio.run(view.open_session(done))
    header = view.detail.children[0].value
    assert "<th>parameters</th>" not in header and "<th>started</th>" in header
    asyncio.run(view.open_session(10**9))
    assert view.state.error.startswith("The analysis session id must name an analysis session")


def test_an_opened_session_is_followed_until_it_ends(repo: Repository,
                                                     sample_result: AnalysisResult) -> None:
    from ganglioside_nb.ui.results import ResultsView

    done, failed, pending = _populate(repo, sample_result)
    view = HistoryView(Backend(repo, LocalRunner()), poll_s=0.05)

    async def main() -> tuple[Any, Any]:
        note = await view.open_session(pending)
        first = view.following
        assert "This session is pending" in note.value and first is not None and not first.done()
        await asyncio.sleep(0.2)
        repo.mark_running(pending)
        await asyncio.sleep(0.2)
        assert "This session is running for" in note.value  # counted while it runs
        await asyncio.to_thread(repo.save_result, pending, sample_result)  # it ends elsewhere
        shown = await asyncio.wait_for(first, 30)
        # a second pending session, left for another one: its following stops
        other = repo.create_session(SAMPLE_5)
        await view.open_session(other)
        second = view.following
        await view.open_session(done)
        left = await asyncio.wait_for(second, 30)
        return shown, left

    shown, left = asyncio.run(main())
    assert isinstance(shown, ResultsView) and shown.session_id == pending
    assert "This session is pending" in left.value and left not in view.detail.children
    assert isinstance(view.detail.children[1], ResultsView) and view.detail.children[1].session_id == done


def test_verify_shows_identical_or_what_changed(repo: Repository, engine,
                                                sample_result: AnalysisResult) -> None:
    import sqlalchemy as sa

    done, failed, pending = _populate(repo, sample_result)
    view = HistoryView(Backend(repo, LocalRunner()))
    view.select.value = (done, failed)
    assert view.verify_button.disabled and _shown(view.verify_button)  # one session at a time

    async def click() -> Any:
        view.verify_button.click()
        return await view.task

    view.select.value = (done,)
    assert not view.verify_button.disabled
    verification = asyncio.run(click())
    assert verification.identical and view.state.error == ""
    assert view.state.notice.startswith(f"Session #{done} verifies")
    shown = view.detail.children[1]
    assert "gnb-verification" in shown.value and "identical" in shown.value
    assert "gnb-history-verification" in shown._dom_classes
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE compound SET z = z + 1 WHERE session_id = :s AND input_row = 7"),
                     {"s": done})
    verification = asyncio.run(click())
    assert not verification.identical
    assert view.state.error == f"Session #{done} does not verify: 1 difference(s), shown below."
    assert "compounds.z: 1 of 323 values differ" in view.detail.children[1].value
    assert asyncio.run(view.verify(failed)) is None  # a failed session has no result to verify
    assert "must be completed to be verified" in view.state.error
    view.trash.value = True
    assert not _shown(view.verify_button)


def test_export_selected_gives_one_file_or_a_zip_and_is_audited(repo: Repository,
                                                                sample_result: AnalysisResult) -> None:
    import base64
    import io
    import zipfile

    from openpyxl import load_workbook

    done, failed, pending = _populate(repo, sample_result)
    second = repo.create_session(SAMPLE, name="second run")
    repo.save_result(second, sample_result)
    view = HistoryView(Backend(repo, LocalRunner()))

    def link() -> tuple[str, bytes]:
        value = view.export_link.value
        name = value.split('download="', 1)[1].split('"', 1)[0]
        return name, base64.b64decode(value.split("base64,", 1)[1].split('"', 1)[0])

    data = asyncio.run(view.export([done], "xlsx"))
    name, payload = link()
    assert name == f"alpha-brain-{done}.xlsx" and payload == data
    assert load_workbook(io.BytesIO(payload))["compounds"].max_row == 324
    assert view.state.notice == "Exported 1 session as XLSX."

    view.select.value = (second, done, failed)
    view.export_format.value = "csv"

    async def click() -> Any:
        view.export_button.click()
        return await view.task

    data = asyncio.run(click())
    name, payload = link()
    assert name == "ganglioside-sessions-csv.zip" and payload == data
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert archive.namelist() == [f"second-run-{second}.csv", f"alpha-brain-{done}.csv"]
        assert archive.read(f"alpha-brain-{done}.csv") == repo.export(done, "csv")
    assert view.state.error == (f"1 session (#{failed}) without a result (not completed) left out of "
                                "the export.")
    exports = [e.details["format"] for e in repo.audit_log(done) if e.action == "exported"]
    assert exports == ["xlsx", "csv", "csv"]  # the two exports here, and the comparison above
    assert asyncio.run(view.export([pending], "json")) is None and view.export_link.value == ""


def test_cancel_ends_pending_sessions_and_names_those_that_ended(repo: Repository,
                                                                 sample_result: AnalysisResult) -> None:
    done, failed, pending = _populate(repo, sample_result)
    view = HistoryView(Backend(repo, LocalRunner()))
    view.select.value = (pending, done)
    assert not view.cancel_button.disabled and _shown(view.cancel_button)

    async def click() -> Any:
        view.cancel_button.click()
        return await view.task

    assert asyncio.run(click()) == [pending]
    assert repo.get_session(pending).status == "cancelled" and repo.get_session(done).status == "completed"
    assert view.state.notice == f"Cancelled 1 session (#{pending})."
    assert view.state.error == (f"1 session (#{done}) could not be cancelled: ended already, or running "
                                "where this app's scheduler cannot reach it.")
    assert "cancelled" in view.table.value


def test_rerun_with_new_parameters_makes_child_sessions(repo: Repository, sample_result: AnalysisResult,
                                                        local_runner: LocalRunner) -> None:
    done, failed, _pending = _populate(repo, sample_result)
    view = HistoryView(Backend(repo, local_runner))
    view.select.value = (done,)
    view.new_params.value = True
    assert _shown(view.params_box) and view.params_form is not None
    assert view.rerun_state.params == sample_result.params  # from the first selected session
    view.params_form.widget_for("mode").value = "reference"
    view.params_form.widget_for("rt_tolerance").value = 0.2
    assert view.rerun_state.params.mode == "reference"

    async def main() -> Any:
        view.rerun_button.click()
        return await view.task

    batch = asyncio.run(main())
    (job,) = batch.jobs
    child = repo.get_session(job.meta["session_id"])
    assert child.parent_id == done and child.status == "completed"
    assert child.mode == "reference" and child.params["rt_tolerance"] == 0.2
    assert child.name == "alpha brain" and len(repo.load_result(child.id).compounds) == 323
    assert view.sessions[0].id == child.id and f"re-run of #{done}" in view.table.value
    (row,) = view.jobs.children
    assert row.bar.value == 100 and row.bar.bar_style == "success"
    assert row.bar.description == f"#{child.id} alpha brain"
    assert "1 completed" in view.jobs_summary.value and view.state.notice == "Re-ran 1 session."
    assert view.select.value == (done,) and view.rerun_state.params.mode == "reference"  # kept
    view.select.value = (failed,)  # another session: its parameters fill the form
    assert view.rerun_state.params.mode == "structural" and view.rerun_state.params.rt_tolerance == 0.1

    # without the form: a failed session re-runs in place (FEATURES B10); a missing id fails alone
    view.new_params.value = False
    batch = asyncio.run(view.rerun([failed, 10**9]))
    assert [j.status for j in batch.jobs] == ["completed", "failed"]
    assert batch.jobs[0].meta["session_id"] == failed
    again = repo.get_session(failed)
    assert again.status == "completed" and again.error_message is None and again.parent_id is None
    assert [e.action for e in repo.audit_log(failed)][-2:] == ["started", "completed"]
    assert view.state.error.startswith(f"#{10**9}: The analysis session id must name")
    assert [r.bar.bar_style for r in view.jobs.children] == ["success", "danger"]


def test_batch_rerun_on_the_cluster_and_its_health(dask_client: Client, repo: Repository,
                                                   sample_result: AnalysisResult) -> None:
    done, failed, _pending = _populate(repo, sample_result)
    address = dask_client.scheduler.address

    async def main() -> tuple[HistoryView, Any, Any]:
        backend = Backend(repo, address=address)
        try:
            view = HistoryView(backend)
            view.select.value = (done, failed)
            view.rerun_button.click()
            batch = await view.task
            view.health_button.click()
            report = await view.task
            return view, batch, report
        finally:
            await backend.close()

    view, batch, report = asyncio.run(main())
    rows = view.jobs.children
    assert len(rows) == 2 and [r.bar.value for r in rows] == [100, 100]
    assert all("completed" in r.badge.value for r in rows)
    child, again = (repo.get_session(j.meta["session_id"]) for j in batch.jobs)
    assert child.parent_id == done and again.id == failed  # the failed one re-ran in place
    assert child.status == again.status == "completed"
    assert view.sessions[0].id == child.id and failed in [s.id for s in view.sessions]
    assert report["ok"] and report["scheduler"]["n_workers"] == 2
    text = view.health_report.value
    assert address in text and "<th>workers</th><td>2</td>" in text and "GiB" in text
    assert "gnb-dashboard-link" in text and repo.engine.dialect.name in text and "up to date" in text


def test_health_in_process_and_with_an_unreachable_scheduler(repo: Repository,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    view = HistoryView(Backend(repo, LocalRunner()))
    report = asyncio.run(view.check_health())
    assert report is not None and report["ok"]
    text = view.health_report.value
    assert "in process (local, 1 thread)" in text and "<th>reachable</th><td>yes</td>" in text
    assert "pending 0" in text and "up to date" in text

    monkeypatch.setattr("ganglioside_nb.execution.cluster.CONNECT_TIMEOUT_S", 0.5)
    view = HistoryView(Backend(repo, address="tcp://127.0.0.1:9"))
    report = asyncio.run(view.check_health())
    assert report is not None and not report["ok"] and report["database"]["reachable"]
    assert report["state"] == "degraded" and "Overall: degraded" in view.health_report.value
    text = view.health_report.value
    assert "The Dask scheduler at tcp://127.0.0.1:9 cannot be reached" in text
    assert "Traceback" not in text and view.state.error == ""


def test_cleanup_previews_then_applies(repo: Repository, sample_result: AnalysisResult) -> None:
    done, failed, pending = _populate(repo, sample_result)
    view = HistoryView(Backend(repo, LocalRunner()))
    assert view.cleanup_days.value == 30 and view.cleanup_apply_button.disabled
    assert not _shown(view.cleanup_all)  # not an admin
    assert view.preview_cleanup() == [] and "0 sessions older than 30 days" in view.cleanup_report.value
    assert view.cleanup_apply_button.disabled

    view.cleanup_days.value = 0
    view.cleanup_preview_button.click()
    report = view.cleanup_report.value
    assert "2 sessions older than 0 days" in report and f"#{done} alpha brain" in report
    assert f"#{failed} beta" in report and f"#{pending}" not in report  # pending is not finished
    assert not view.cleanup_apply_button.disabled
    view.cleanup_days.value = 1  # another number: preview again first
    assert view.cleanup_apply_button.disabled
    assert view.apply_cleanup() is None and "must be previewed" in view.state.error
    view.cleanup_days.value = 0
    view.cleanup_preview_button.click()
    view.cleanup_apply_button.click()
    assert view.state.notice == "Clean-up: moved 2 sessions to the Trash."
    assert [s.id for s in view.sessions] == [pending]
    assert {s.id for s in repo.list_sessions(only_deleted=True)} == {done, failed}


def test_purging_the_old_trash_is_its_own_previewed_step(repo: Repository, engine,
                                                         sample_result: AnalysisResult) -> None:
    import sqlalchemy as sa

    done, failed, pending = _populate(repo, sample_result)
    repo.soft_delete(done)
    repo.soft_delete(failed)
    with engine.begin() as conn:  # ``done`` has been in the Trash for 40 days
        conn.execute(sa.text("UPDATE analysis_session SET deleted_at = :t WHERE id = :i"),
                     {"t": datetime.now(UTC) - timedelta(days=40), "i": done})
    view = HistoryView(Backend(repo, LocalRunner()))
    view.cleanup_preview_button.click()  # the default: old sessions to the Trash
    assert "0 sessions older than 30 days" in view.cleanup_report.value
    view.cleanup_kind.value = "purge"
    assert view.cleanup_days.description == "In the Trash (days)"
    assert view.cleanup_apply_button.button_style == "danger" and view.cleanup_apply_button.disabled
    view.cleanup_preview_button.click()
    report = view.cleanup_report.value
    assert "1 session in the Trash for more than 30 days would be purged for good" in report
    assert f"#{done} alpha brain" in report and f"#{failed}" not in report
    view.cleanup_kind.value = "trash"  # another choice: preview again first
    assert view.cleanup_apply_button.disabled
    view.cleanup_kind.value = "purge"
    assert view.apply_cleanup() is None and "must be previewed" in view.state.error
    view.cleanup_preview_button.click()
    view.cleanup_apply_button.click()
    assert view.state.notice == "Clean-up: purged 1 session."
    with pytest.raises(SessionNotFoundError):
        repo.get_session(done, include_deleted=True)
    assert [s.id for s in repo.list_sessions(only_deleted=True)] == [failed]
    assert repo.audit_log(done)[-1].action == "purged"


def test_admins_may_clean_up_across_owners(repo: Repository, other_repo: Repository,
                                           sample_result: AnalysisResult,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    mine = repo.create_session(SAMPLE, name="mine")
    repo.save_result(mine, sample_result)
    theirs = other_repo.create_session(SAMPLE, name="theirs")
    other_repo.save_result(theirs, sample_result)
    monkeypatch.setenv("GANGLIOSIDE_NB_ADMINS", repo.owner)
    view = HistoryView(Backend(repo, LocalRunner()))
    assert _shown(view.cleanup_all)
    view.cleanup_days.value = 0
    view.cleanup_all.value = True
    found = view.preview_cleanup()
    assert found is not None and {mine, theirs} <= {s.id for s in found}
    view.cleanup_all.value = False  # another scope: preview again first
    assert view.cleanup_apply_button.disabled
    view.cleanup_preview_button.click()
    view.cleanup_apply_button.click()
    assert other_repo.get_session(theirs).deleted_at is None and repo.list_sessions() == []


def test_format_duration() -> None:
    assert format_duration(timedelta(seconds=59.94)) == "59.9 s"
    assert format_duration(timedelta(seconds=3599)) == "59 min 59 s"
    assert format_duration(timedelta(hours=26, minutes=1)) == "26 h 01 min"
