"""The library pointed at a scheduler it did not start: ``dask scheduler`` and ``dask worker``
run as separate processes on 127.0.0.1, the address comes from GANGLIOSIDE_DASK_ADDRESS."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganglioside_nb.api import AnalysisService
from ganglioside_nb.execution import DaskRunner, cluster
from ganglioside_nb.persistence import Repository
from tests.conftest import SAMPLE, SAMPLE_5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dask_cli() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("dask")
    if found is None:
        pytest.fail("the `dask` command (installed with dask[distributed]) is missing")
    return [found]


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _start([*_dask_cli(), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                        "--dashboard-address", ":0"], logs / "scheduler.log")
    worker = _start([*_dask_cli(), "worker", address, "--nworkers", "2", "--nthreads", "1",
                     "--host", "127.0.0.1", "--no-dashboard"], logs / "worker.log")
    try:
        yield address
    finally:
        cluster.close_client(address)
        _stop(worker)
        _stop(scheduler)


def test_batch_on_an_external_scheduler(scheduler_address: str, database_url,  # type: ignore[no-untyped-def]
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cluster.ADDRESS_ENV, scheduler_address)
    runner = DaskRunner()  # no client given: resolved from the environment
    runner.client.wait_for_workers(2, timeout=60)
    info = runner.info()
    assert info["scheduler"] == scheduler_address and info["local_cluster"] is False
    assert info["n_workers"] == 2
    service = AnalysisService(Repository(database_url, owner="external"), runner)
    batch = service.submit_batch([SAMPLE, SAMPLE_5, SAMPLE_5], names=["a", "b", "c"])
    batch.wait(timeout=180)
    assert batch.counts() == {"completed": 3}
    workers = {job.state.worker for job in batch}
    assert workers <= {w["address"] for w in info["workers"]}
    for job in batch:
        assert service.repository.get_session(job.meta["session_id"]).status == "completed"
    assert len(service.result(batch.jobs[0]).compounds) == 323
