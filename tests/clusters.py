"""Dask fixtures (a pytest plugin, see tests/conftest.py): a real LocalCluster with worker
processes, started once per test process through the library's own ``get_client()``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from distributed import Client

from ganglioside_nb.execution import DaskRunner, LocalRunner, close_local_cluster, get_client


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Client]:
    """The process's shared LocalCluster client (2 worker processes, 1 thread each)."""
    client = get_client()
    client.wait_for_workers(2, timeout=60)
    yield client
    close_local_cluster()


@pytest.fixture
def dask_runner(dask_client: Client) -> DaskRunner:
    return DaskRunner(dask_client)


@pytest.fixture
def local_runner() -> Iterator[LocalRunner]:
    with LocalRunner() as runner:
        yield runner


def wait_started(job) -> str:  # type: ignore[no-untyped-def]
    """Block until a worker reports ``started`` for ``job``; return that worker's address."""
    for event in job:
        if event.kind == "started":
            return str(event.worker)
        if event.terminal:
            raise AssertionError(f"{job} ended before it started: {event}")
    raise AssertionError(f"{job} produced no events")
