"""Background analysis sessions on a real LocalCluster, stored in SQLite and in Postgres."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

import ganglioside_nb as gnb
from ganglioside_nb.api import AnalysisService
from ganglioside_nb.api.jobs import run_session_job
from ganglioside_nb.api.sessions import LOST_MESSAGE
from ganglioside_nb.errors import (
    InvalidParameterError,
    InvalidTransitionError,
    TaskCancelledError,
    TaskFailedError,
)
from ganglioside_nb.execution import DaskRunner, LocalRunner
from ganglioside_nb.execution.dask_runner import chunk_sizes
from ganglioside_nb.persistence import Repository
from ganglioside_nb.persistence.engine import shareable_url
from tests.conftest import SAMPLE, SAMPLE_5
from tests.databases import count_rows
from tests.execution.test_dask_runner import PIPELINE_STEPS, same_analysis


@pytest.fixture
def service(repo: Repository, dask_runner: DaskRunner) -> AnalysisService:
    return AnalysisService(repo, dask_runner, lost_after_s=0)


def test_a_session_runs_on_a_worker_and_is_stored(service: AnalysisService, engine: Engine) -> None:
    job = service.submit(SAMPLE, name="porcine brain")
    session_id = job.meta["session_id"]
    events = list(job)
    assert [e.kind for e in events] == ["submitted", "started", *["step"] * (len(PIPELINE_STEPS) + 1),
                                        "completed"]
    assert [e.step for e in events if e.kind == "step"] == [*PIPELINE_STEPS, "save"]
    assert events[-2].fraction == 1.0 and "saved 323 compounds" in events[-2].message
    info = job.result()
    assert info.id == session_id and info.status == "completed" and info.task_key == job.key
    assert info.name == "porcine brain" and info.started_at <= info.finished_at
    assert count_rows(engine, "compound", session_id) == 323
    stored = service.result(job)
    assert same_analysis(stored, gnb.analyze(SAMPLE))
    actions = [a.action for a in service.repository.audit_log(session_id)]
    assert actions == ["created", "started", "completed"]


def test_dask_and_in_process_runners_store_identical_results(repo: Repository,
                                                             dask_runner: DaskRunner) -> None:
    with LocalRunner() as local:
        here = AnalysisService(repo, local)
        in_process = here.result(here.submit(SAMPLE, mode="reference").result().id)
    there = AnalysisService(repo, dask_runner)
    on_dask = there.result(there.submit(SAMPLE, mode="reference").result().id)
    assert same_analysis(on_dask, in_process)


def test_a_running_session_cannot_be_submitted_twice(service: AnalysisService) -> None:
    session_id = service.repository.create_session(SAMPLE)
    job = service.submit(session_id)
    with pytest.raises(InvalidTransitionError, match=f"session {session_id} must not be running"):
        service.submit(session_id)
    job.result()
    with pytest.raises(InvalidTransitionError, match="completed"):  # finished: use rerun
        service.submit(session_id)
    with pytest.raises(InvalidParameterError, match="rerun"):
        service.submit(session_id, {"mode": "reference"})


def test_batch_of_good_and_bad_inputs(service: AnalysisService, tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\x00\x01\x02 binary \xff\xfe")
    missing = tmp_path / "missing.csv"
    columns = tmp_path / "columns.csv"
    columns.write_text("Name,RT\nGM1(36:1;O2),10.1\n")
    batch = service.submit_batch([SAMPLE, broken, missing, SAMPLE_5, columns])
    finished = [job.label for job in batch.as_completed(timeout=120)]
    assert sorted(finished) == sorted(["testwork_user.csv", "broken.csv", "missing.csv", "testwork.csv",
                                       "columns.csv"])
    summary = batch.summary().set_index("label")
    assert summary.loc["testwork_user.csv", "status"] == "completed"
    assert summary.loc["testwork.csv", "status"] == "completed"
    for label, why in (("broken.csv", "binary"), ("missing.csv", "readable"), ("columns.csv", "Volume")):
        assert summary.loc[label, "status"] == "failed"
        assert why in summary.loc[label, "error"]
    assert batch.counts() == {"completed": 2, "failed": 3}
    # what was stored agrees: the two bad files are failed sessions with the same one-line error
    for job in batch:
        if "session_id" in job.meta:
            info = service.repository.get_session(job.meta["session_id"])
            assert info.status == job.status
            if info.status == "failed":
                assert info.error_message.endswith(job.state.error) and "\n" not in info.error_message
    assert "session_id" not in next(j for j in batch if j.label == "missing.csv").meta


def test_a_task_stopped_by_its_cancellation_ends_its_session_cancelled(repo: Repository) -> None:
    # The worker's own end (at the progress step where it notices the cancellation) and the
    # client's record race; both must say 'cancelled', or the session would end 'failed'.
    session_id = repo.create_session(SAMPLE)
    repo.mark_running(session_id, task_key="task-1")

    def progress(event: object) -> None:
        raise TaskCancelledError("Task task-1 was cancelled; it stopped before 'read'.", key="task-1")

    with pytest.raises(TaskCancelledError):
        run_session_job(shareable_url(repo.engine), repo.owner, session_id, "task-1",
                        progress=progress)
    info = repo.get_session(session_id)
    assert info.status == "cancelled" and "stopped before 'read'" in info.error_message
    assert not repo.end_task(session_id, "task-1", "cancelled")  # the client's write: a no-op


def test_cancelling_a_batch_stops_what_has_not_started(service: AnalysisService) -> None:
    batch = service.submit_batch([SAMPLE] * 6)
    cancelled = batch.cancel()
    batch.wait(timeout=120)
    statuses = {job.key: job.status for job in batch}
    assert set(statuses.values()) <= {"completed", "cancelled"}
    assert sum(s == "cancelled" for s in statuses.values()) == len(cancelled) >= 1
    for job in batch:
        info = service.repository.get_session(job.meta["session_id"])
        assert info.status == job.status  # never left running
    with pytest.raises(TaskFailedError, match="cancelled"):
        cancelled[0].result()


def test_reconcile_fails_sessions_whose_task_is_gone(service: AnalysisService) -> None:
    repo = service.repository
    orphan = repo.create_session(SAMPLE_5)
    repo.mark_running(orphan, task_key="session-0-lost0000")
    live = service.submit(SAMPLE_5)
    lost = service.reconcile()
    assert [s.id for s in lost] == [orphan]
    assert repo.get_session(orphan).status == "failed"
    assert repo.get_session(orphan).error_message == LOST_MESSAGE
    live.result()
    assert repo.get_session(live.meta["session_id"]).status == "completed"
    # a stale running session no longer blocks a new submission of it
    stale = repo.create_session(SAMPLE_5)
    repo.mark_running(stale, task_key="session-0-lost0001")
    assert service.submit(stale).result().status == "completed"


def test_rerun_makes_a_child_session_with_new_parameters(service: AnalysisService) -> None:
    first = service.submit(SAMPLE_5, name="five").result()
    child = service.rerun(first.id, mode="reference").result()
    assert child.parent_id == first.id and child.mode == "reference" and child.name == "five"
    assert child.input_sha256 == first.input_sha256
    assert service.result(child.id).mode == "reference"


def test_a_failed_or_cancelled_session_reruns_in_place(service: AnalysisService) -> None:
    repo = service.repository
    failed = repo.create_session(SAMPLE_5, name="five")
    repo.mark_failed(failed, "worker lost")
    cancelled = repo.create_session(SAMPLE_5)
    repo.mark_cancelled(cancelled)
    for session_id in (failed, cancelled):
        info = service.rerun(session_id).result()
        assert info.id == session_id and info.status == "completed" and info.error_message is None
        assert service.result(session_id).differences(gnb.analyze(SAMPLE_5)) == ()
    assert [s.id for s in repo.list_sessions()] == [cancelled, failed]  # no new session
    assert repo.audit_log(failed)[-2].details["from"] == "failed"  # started again, from failed
    child = service.rerun(failed, mode="reference").result()  # new parameters: a new session
    assert child.parent_id == failed and child.id not in (failed, cancelled)


def test_unsaved_analysis_returns_the_result(service: AnalysisService) -> None:
    before = len(service.repository.list_sessions())
    result = service.submit(SAMPLE_5, save=False).result()
    assert isinstance(result, gnb.AnalysisResult) and len(result.compounds) == 5
    assert len(service.repository.list_sessions()) == before


def test_an_unsaved_batch_shares_tasks_and_reports_each_input(service: AnalysisService, tmp_path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"Name;RT\nGM1(36:1;O2);1\n")
    targets = [SAMPLE_5] * 16 + [broken, tmp_path / "missing.csv"]
    batch = service.submit_batch(targets, save=False)
    jobs = list(batch)
    assert len(jobs) == 18 and batch.wait(180).counts() == {"completed": 16, "failed": 2}
    # 17 submitted inputs on 2 workers share 12 Dask tasks (3, 2, 2, 2, then single inputs);
    # the missing file failed before
    assert chunk_sizes(17, 2) == [3, 2, 2, 2] + [1] * 8
    assert len({id(j.future) for j in jobs[:17]}) == 12 and jobs[17].status == "failed"
    assert all(len(j.result().compounds) == 5 for j in jobs[:16])
    assert "broken.csv" in batch.summary()["error"].iloc[16]
    assert len(service.repository.list_sessions()) == 0  # nothing stored


def test_health_reports_database_and_scheduler(service: AnalysisService) -> None:
    stale = service.repository.create_session(SAMPLE_5)
    service.repository.mark_running(stale, task_key="session-0-lost0002")
    report = service.health()
    assert report["ok"] is True and report["state"] == "healthy" and report["version"] == gnb.__version__
    assert report["reconciled"] == [stale]  # a health call reconciles stale sessions (FEATURES B8)
    assert service.repository.get_session(stale).status == "failed"
    assert report["database"]["reachable"] is True
    assert report["scheduler"]["n_workers"] == 2 and report["scheduler"]["dashboard"]


def test_in_memory_sqlite_cannot_be_shared_with_workers(dask_runner: DaskRunner) -> None:
    service = AnalysisService(Repository("sqlite://", owner="x", migrate=True), dask_runner)
    with pytest.raises(InvalidParameterError, match="in-memory"):
        service.submit(SAMPLE_5)


def test_module_level_submit_uses_one_default_service(tmp_path, monkeypatch, dask_client) -> None:  # type: ignore[no-untyped-def]
    from ganglioside_nb import api

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'default.sqlite3'}")
    monkeypatch.setenv("GANGLIOSIDE_DASK_ADDRESS", dask_client.scheduler.address)
    api.use(None)  # the default service is opened from the environment on first use
    try:
        job = api.submit_analysis(SAMPLE_5, name="module level")
        batch = api.submit_batch([SAMPLE_5, SAMPLE_5], save=False)
        assert job.result().status == "completed" and batch.wait(120).counts() == {"completed": 2}
        assert api.default_service() is api.default_service()
        assert api.get_session(job.meta["session_id"]).name == "module level"
    finally:
        api.use(None)
