"""The plain-function API (``ganglioside_nb.api``, FEATURES.md F1) on a real database (SQLite
and Postgres) with the in-process runner, and once on the real LocalCluster."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from distributed import Client

import ganglioside_nb as gnb
from ganglioside_nb import api
from ganglioside_nb.errors import InvalidParameterError, SessionNotFoundError, TaskFailedError
from ganglioside_nb.execution import DaskRunner, LocalRunner
from ganglioside_nb.persistence import Repository
from ganglioside_nb.testing import large_table
from tests.conftest import SAMPLE, SAMPLE_5


@pytest.fixture
def service(repo: Repository, local_runner: LocalRunner) -> Iterator[api.AnalysisService]:
    service = api.AnalysisService(repo, local_runner)
    api.use(service)
    yield service
    api.use(None)


def test_create_run_wait_and_read_back(service: api.AnalysisService) -> None:
    sid = api.create_session(SAMPLE, name="porcine brain, run 1", data_type="porcine")
    assert api.status(sid) == "pending"
    ended = []
    job = api.run(sid, on_done=ended.append)
    info = api.wait(sid, timeout=120)
    assert info.status == "completed" == api.status(sid)
    assert job.result(30).status == "completed" and ended == [job]
    result = api.get_result(sid)
    assert result.differences(gnb.analyze(SAMPLE)) == ()
    compounds = result.compounds
    assert api.get_compounds(sid).equals(compounds)
    outliers = api.get_compounds(sid, status="outlier")
    assert len(outliers) == result.statistics["outliers"] and set(outliers["status"]) == {"outlier"}
    gd_anchors = api.get_compounds(sid, category="GD", is_anchor=True)
    expected = compounds[(compounds["category"] == "GD") & compounds["Anchor"].astype(bool)]
    assert len(gd_anchors) == len(expected) > 0 and gd_anchors.index.equals(expected.index)
    assert len(api.get_compounds(sid, is_anchor=False)) == len(compounds) - result.statistics["anchors"]
    assert api.get_models(sid).equals(result.models)
    with pytest.raises(InvalidParameterError, match="status must be one of valid, outlier"):
        api.get_compounds(sid, status="bad")
    with pytest.raises(InvalidParameterError, match="is_anchor must be True, False or None"):
        api.get_compounds(sid, is_anchor="yes")  # type: ignore[arg-type]
    assert api.verify(sid).identical
    assert api.export(sid, "csv").startswith(b"#")


def test_lists_renames_trash_and_audit(service: api.AnalysisService) -> None:
    sid = api.create_session(SAMPLE_5, name="five rows")
    other = api.create_session(SAMPLE_5, name="another")
    assert [s.id for s in api.list_sessions(name_contains="FIVE")] == [sid]
    assert [s.id for s in api.list_sessions(status="pending")] == [other, sid]
    assert api.rename(sid, "five rows, renamed").name == "five rows, renamed"
    api.delete(sid)
    assert [s.id for s in api.list_sessions()] == [other]
    assert sid in [s.id for s in api.list_sessions(include_deleted=True)]
    api.restore(sid)
    assert api.cleanup(older_than_days=0) == []  # pending sessions are not finished
    assert api.cancel(sid) is True and api.status(sid) == "cancelled"
    assert api.cancel(sid) is False  # already ended
    assert [s.id for s in api.cleanup(older_than_days=0)] == [sid]  # a dry run
    assert [s.id for s in api.cleanup(older_than_days=0, dry_run=False)] == [sid]
    assert [s.id for s in api.cleanup(0, dry_run=False, purge_trash=True)] == [sid]
    with pytest.raises(SessionNotFoundError):
        api.get_session(sid)
    assert [e.action for e in api.audit_log(sid)] == ["created", "renamed", "deleted", "restored",
                                                      "cancelled", "deleted", "purged"]
    api.purge(other)
    assert api.list_sessions() == []


def test_wait_times_out_and_a_foreign_run_is_not_cancelled_here(service: api.AnalysisService) -> None:
    sid = api.create_session(SAMPLE_5)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=f"session {sid} must end within 0.3 s"):
        api.wait(sid, timeout=0.3, poll_s=0.05)
    assert time.monotonic() - started < 5
    service.repository.mark_running(sid, task_key="analysis-local-otherhost-1-0001")
    assert api.cancel(sid) is False and api.status(sid) == "running"  # not reachable from here


def test_cancel_stops_a_running_analysis_on_the_cluster(repo: Repository, dask_client: Client) -> None:
    api.use(api.AnalysisService(repo, DaskRunner(dask_client)))
    try:
        sid = api.create_session(large_table(150_000, seed=5), name="big")
        job = api.run(sid)
        for event in job:  # cancelled once the worker reports its first step
            if event.kind == "step":
                break
        assert api.cancel(sid) is True
        assert api.wait(sid, timeout=120).status == "cancelled"
        assert api.cancel(sid) is False
    finally:
        api.use(None)


def test_a_session_started_by_another_client_is_cancelled_by_id(repo: Repository,
                                                               dask_client: Client) -> None:
    """Two clients of one scheduler (two kernels, or a kernel and the CLI): the second cancels
    the first one's running session by its id; the worker stops and nothing is stored."""
    first = api.AnalysisService(repo, DaskRunner(dask_client))
    sid = first.repository.create_session(large_table(150_000, seed=6), name="theirs")
    job = first.submit(sid)
    for event in job:
        if event.kind == "step":
            break
    with Client(dask_client.scheduler.address, set_as_default=False) as other:
        api.use(api.AnalysisService(Repository(repo.engine, repo.owner), DaskRunner(other)))
        try:
            assert api.cancel(sid) is True
            assert api.wait(sid, timeout=60).status == "cancelled"
            with pytest.raises(TaskFailedError):
                job.result(120)
            assert api.cancel(sid) is False  # ended
        finally:
            api.use(None)
    # the cancelling client and the submitting one both record the end; the first write wins
    assert repo.get_session(sid).error_message in (f"cancelled by {repo.owner}", "cancelled")
    assert [e.action for e in repo.audit_log(sid)].count("cancelled") == 1
    with repo.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM compound WHERE session_id = :s"),
                            {"s": sid}).scalar_one() == 0


def test_run_many_and_rerun_on_the_cluster(repo: Repository, dask_client: Client) -> None:
    api.use(api.AnalysisService(repo, DaskRunner(dask_client)))
    try:
        ids = [api.create_session(SAMPLE_5, name=f"five {i}") for i in range(2)]
        batch = api.run_many(ids)
        assert batch.wait(120).counts() == {"completed": 2}
        assert [api.status(i) for i in ids] == ["completed", "completed"]
        job = api.rerun(ids[0], mode="reference", name="five, reference")
        child = job.result(120)
        assert child.parent_id == ids[0] and api.get_result(child.id).mode == "reference"
    finally:
        api.use(None)
