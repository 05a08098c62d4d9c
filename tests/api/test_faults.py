"""A worker process killed in the middle of an analysis: the scheduler re-runs the task on
another worker (bounded); the session ends ``completed`` or ``failed``, never ``running``, and
no compound row of a half-finished run is ever stored."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from distributed import Client, LocalCluster
from sqlalchemy.engine import Engine

from ganglioside_nb.api import AnalysisService
from ganglioside_nb.errors import TaskFailedError
from ganglioside_nb.execution import DaskRunner
from ganglioside_nb.execution.cluster import ALLOWED_FAILURES
from ganglioside_nb.persistence import Repository
from ganglioside_nb.testing import large_table
from tests.databases import count_rows

ROWS = 40_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """A private cluster (its workers get killed), configured like the library's own."""
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                         host="127.0.0.1") as cl:
        yield cl


@pytest.fixture
def client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("big") / "big.csv"
    large_table(ROWS, seed=3).to_csv(path, index=False)
    return path


def _kill_worker_during_a_step(client: Client, job) -> str:  # type: ignore[no-untyped-def]
    """Wait until the worker has started the rules, then SIGKILL its process."""
    worker = None
    for event in job:
        if event.kind == "started":
            worker = event.worker
        if event.kind == "step" and event.step == "validate":
            break
    assert worker is not None
    pid = client.run(os.getpid, workers=[worker])[worker]
    os.kill(pid, signal.SIGKILL)
    return str(worker)


def test_killed_worker_is_retried_and_the_session_completes(client: Client, repo: Repository,
                                                            engine: Engine, big_csv) -> None:  # type: ignore[no-untyped-def]
    service = AnalysisService(repo, DaskRunner(client))
    job = service.submit(big_csv, name="killed once")
    session_id = job.meta["session_id"]
    killed = _kill_worker_during_a_step(client, job)
    assert job.finished(timeout=180)
    info = repo.get_session(session_id)
    assert info.status in ("completed", "failed")  # never running
    if info.status == "completed":
        assert job.state.attempt == 2 and job.state.worker != killed
        assert count_rows(engine, "compound", session_id) == ROWS
        assert job.result().status == "completed"
    else:
        assert count_rows(engine, "compound", session_id) == 0
    assert job.state.status == info.status


def test_worker_lost_beyond_the_retries_fails_the_session(cluster: LocalCluster, client: Client,
                                                          repo: Repository, engine: Engine,
                                                          big_csv) -> None:  # type: ignore[no-untyped-def]
    cluster.scheduler.allowed_failures = 0  # type: ignore[union-attr]
    try:
        service = AnalysisService(repo, DaskRunner(client))
        job = service.submit(big_csv, name="killed for good")
        session_id = job.meta["session_id"]
        _kill_worker_during_a_step(client, job)
        assert job.finished(timeout=180)
        with pytest.raises(TaskFailedError, match="worker running it died 1 times"):
            job.result()
        info = repo.get_session(session_id)
        assert info.status == "failed" and "worker running it died" in info.error_message
        assert count_rows(engine, "compound", session_id) == 0
        assert job.status == "failed" and job.events[-1].worker is None  # told by the client
        assert [a.action for a in repo.audit_log(session_id)][-1] == "failed"
    finally:
        cluster.scheduler.allowed_failures = ALLOWED_FAILURES  # type: ignore[union-attr]
