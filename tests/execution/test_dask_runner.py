"""The Dask runner on a real LocalCluster (worker processes): ordered event streams, results
identical to the in-process runner, the asynchronous client, and the connection errors."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest
from distributed import Client

import ganglioside_nb as gnb
from ganglioside_nb.api.jobs import run_analysis_job
from ganglioside_nb.core.rules import DEFAULT_RULES
from ganglioside_nb.errors import InputFormatError, InvalidParameterError, SchedulerUnavailableError
from ganglioside_nb.execution import DaskRunner, LocalRunner, cluster, get_async_client, get_client
from ganglioside_nb.execution.cluster import resolve_address
from ganglioside_nb.execution.dask_runner import chunk_sizes
from tests.conftest import SAMPLE

PIPELINE_STEPS = ["read", "validate", *(r.__name__ for r in DEFAULT_RULES), "done"]


def same_analysis(a: gnb.AnalysisResult, b: gnb.AnalysisResult) -> bool:
    """Equal in everything but the moment each was made."""
    stamp = {"created_at": a.provenance["created_at"]}
    return a.equals(dataclasses.replace(b, provenance={**b.provenance, **stamp}))


def _run(runner, source=SAMPLE, **params):  # type: ignore[no-untyped-def]
    return runner.submit(run_analysis_job, source.read_bytes(), source.name,
                         gnb.AnalysisParams(**params).to_dict(), label=source.name)


def test_events_arrive_in_order_and_end_completed(dask_runner: DaskRunner) -> None:
    job = _run(dask_runner)
    events = list(job)  # blocks on the live stream until the terminal event
    kinds = [e.kind for e in events]
    assert kinds == ["submitted", "started", *["step"] * len(PIPELINE_STEPS), "completed"]
    assert [e.step for e in events if e.kind == "step"] == PIPELINE_STEPS
    fractions = [e.fraction for e in events if e.kind == "step"]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert events[1].worker in dask_runner.client.scheduler_info()["workers"]
    assert len({e.run for e in events[1:]}) == 1
    assert job.state.status == "completed" and job.state.percent == 100 and job.state.attempt == 1
    assert isinstance(job.result(), gnb.AnalysisResult)


def test_concurrent_jobs_share_one_topic_and_keep_their_own_events(dask_runner: DaskRunner) -> None:
    jobs = [_run(dask_runner) for _ in range(4)]
    for job in jobs:
        assert isinstance(job.result(), gnb.AnalysisResult)
        assert {e.key for e in job.events} == {job.key}
        assert [e.kind for e in job.events].count("step") == len(PIPELINE_STEPS)
    topics = [t for t in dask_runner.client.get_events() if t.startswith("ganglioside-nb/")]
    assert f"ganglioside-nb/{dask_runner.client.id}" in topics
    assert not any(job.key in topic for job in jobs for topic in topics)  # no topic per task


@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_results_identical_to_the_in_process_runner(dask_runner: DaskRunner, mode: str) -> None:
    with LocalRunner() as local:
        here = _run(local, mode=mode).result()
    there = _run(dask_runner, mode=mode).result()
    assert same_analysis(there, here)
    assert there.compounds.equals(here.compounds)
    assert there.statistics == here.statistics


def test_bad_input_fails_with_its_own_error(dask_runner: DaskRunner) -> None:
    job = dask_runner.submit(run_analysis_job, b"Name;RT\nGM1(36:1;O2);1\n", "bad.csv", {})
    with pytest.raises(InputFormatError, match="bad.csv"):
        job.result()
    assert job.status == "failed"
    assert job.state.error_type == "InputFormatError" and "bad.csv" in job.state.error
    assert job.events[-1].worker is not None  # the worker said so itself


def test_async_client_streams_on_the_running_loop(dask_client: Client) -> None:
    async def main() -> tuple[list[str], object]:
        client = await get_async_client(dask_client.scheduler.address)
        try:
            job = _run(DaskRunner(client))
            kinds = [event.kind async for event in job]
            return kinds, await job.wait()
        finally:
            await client.close()

    kinds, result = asyncio.run(main())
    assert kinds[0] == "submitted" and kinds[-1] == "completed" and kinds.count("step") == len(PIPELINE_STEPS)
    assert isinstance(result, gnb.AnalysisResult)


def test_info_names_the_workers_and_the_dashboard(dask_runner: DaskRunner) -> None:
    info = dask_runner.info()
    assert info["runner"] == "dask" and info["local_cluster"] is True
    assert info["n_workers"] == 2 and info["nthreads"] == 2
    assert all(w["nthreads"] == 1 for w in info["workers"])
    assert info["dashboard"].startswith("http://127.0.0.1:") and info["dashboard"].endswith("/status")


def test_the_shared_client_is_reused(dask_client: Client) -> None:
    assert get_client() is dask_client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_scheduler_gives_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(SchedulerUnavailableError) as info:
        get_client(address)
    message = str(info.value)
    assert address in message and "\n" not in message
    assert info.value.details["address"] == address


def test_address_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    import dask

    monkeypatch.delenv(cluster.ADDRESS_ENV, raising=False)
    monkeypatch.delenv(cluster.DASK_ADDRESS_ENV, raising=False)
    assert resolve_address() is None
    with dask.config.set({"scheduler-address": "10.0.0.9:8786"}):  # a Dask config file's setting
        assert resolve_address() == "tcp://10.0.0.9:8786"
        monkeypatch.setenv(cluster.DASK_ADDRESS_ENV, "tcp://hub-dask:8786")  # Dask's variable
        assert resolve_address() == "tcp://hub-dask:8786"
        monkeypatch.setenv(cluster.ADDRESS_ENV, "tcp://ours:8786")  # ours comes first
        assert resolve_address() == "tcp://ours:8786"
    monkeypatch.delenv(cluster.DASK_ADDRESS_ENV)
    assert resolve_address("10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    monkeypatch.setenv(cluster.ADDRESS_ENV, "tls://sched.lab:8786")
    assert resolve_address() == "tls://sched.lab:8786"
    assert resolve_address("127.0.0.1:1") == "tcp://127.0.0.1:1"  # the argument wins
    monkeypatch.setenv(cluster.ADDRESS_ENV, "  ")
    assert resolve_address() is None
    for bad in ("tcp://", "nohostport", "tcp://host"):
        with pytest.raises(InvalidParameterError, match="tcp://host:port"):
            resolve_address(bad)


def test_cancel_from_an_async_client_does_not_block_its_loop(dask_client: Client) -> None:
    from ganglioside_nb.errors import TaskFailedError
    from ganglioside_nb.testing.tasks import nap

    async def main() -> tuple[list[str], str]:
        client = await get_async_client(dask_client.scheduler.address)
        try:
            runner = DaskRunner(client)
            busy = [runner.submit(nap, 1.5) for _ in range(2)]  # both workers busy
            queued = runner.submit(nap, 1.5)
            await asyncio.sleep(0.3)
            assert queued.status in ("queued", "pending")
            assert queued.cancel() is True  # called on the loop: must not block it
            kinds = [event.kind async for event in queued]
            with pytest.raises(TaskFailedError, match="cancelled"):
                await queued.wait()
            assert [await job.wait() for job in busy] == [1.5, 1.5]
            return kinds, queued.status
        finally:
            await client.close()

    kinds, status = asyncio.run(main())
    assert kinds[0] == "submitted" and kinds[-1] == "cancelled" and status == "cancelled"


def test_a_running_task_cancelled_stops_at_its_next_step(dask_runner: DaskRunner) -> None:
    import time

    from ganglioside_nb.errors import TaskFailedError
    from ganglioside_nb.testing.tasks import nap

    job = dask_runner.submit(nap, 30.0, steps=300)  # 0.1 s per step
    for event in job:
        if event.kind == "step":  # running on a worker
            break
    assert job.cancel() is True
    with pytest.raises(TaskFailedError, match="cancelled"):
        job.result(10)
    client = dask_runner.client
    deadline = time.monotonic() + 5.0  # without the stop, the worker would sleep ~30 s more
    while sum(client.run(lambda dask_worker: dask_worker.state.executing_count).values()):
        assert time.monotonic() < deadline, "the cancelled task is still executing"
        time.sleep(0.1)
    assert job.status == "cancelled"


def test_many_calls_share_tasks_and_keep_their_own_jobs(dask_runner: DaskRunner) -> None:
    good, params = SAMPLE.read_bytes(), gnb.AnalysisParams().to_dict()
    bad = b"Name;RT\nGM1(36:1;O2);1\n"
    calls = [((good if i != 4 else bad, f"in{i}.csv", params), f"in{i}") for i in range(7)]
    jobs = dask_runner.submit_many(run_analysis_job, calls, prefix="many", per_task=3)
    assert [j.label for j in jobs] == [f"in{i}" for i in range(7)]
    assert len({id(j.future) for j in jobs}) == 3  # 3 + 3 + 1 calls
    here = gnb.analyze(SAMPLE)
    for i, job in enumerate(jobs):
        if i == 4:
            with pytest.raises(InputFormatError, match="in4.csv"):
                job.result(120)
            assert job.status == "failed"
            continue
        result = job.result(120)
        assert result.compounds.equals(here.compounds) and result.statistics == here.statistics
        assert result.provenance["input_filename"] == f"in{i}.csv"
        kinds = [e.kind for e in job.events]
        assert kinds == ["submitted", "started", *["step"] * len(PIPELINE_STEPS), "completed"]
        assert {e.key for e in job.events} == {job.key}


def test_a_call_cancelled_in_a_shared_task_is_dropped(dask_runner: DaskRunner) -> None:
    from ganglioside_nb.errors import TaskFailedError
    from ganglioside_nb.testing.tasks import nap

    busy = [dask_runner.submit(nap, 1.5) for _ in range(2)]  # both workers busy
    first, second, alone = dask_runner.submit_many(nap, [((0.2,), "a"), ((0.2,), "b"), ((0.2,), "c")],
                                                   per_task=2)
    assert first.cancel() is True and first.cancel() is False
    assert alone.cancel() is True  # the only call of its task: the task is cancelled
    for job in (first, alone):
        with pytest.raises(TaskFailedError, match="cancelled"):
            job.result(30)
        assert job.status == "cancelled"
    assert alone.future is not None and alone.future.status == "cancelled"
    assert second.result(30) == 0.2  # the task of first and second went on for second
    assert [j.result(30) for j in busy] == [1.5, 1.5]


@pytest.mark.parametrize("n", [1, 2, 7, 10, 50, 200, 1000])
@pytest.mark.parametrize("workers", [1, 2, 8])
def test_chunk_sizes_cover_every_call_and_shrink_towards_the_end(n: int, workers: int) -> None:
    sizes = chunk_sizes(n, workers)
    assert sum(sizes) == n and all(1 <= s <= 8 for s in sizes)
    assert sizes == sorted(sizes, reverse=True)  # the big chunks first, the single calls last
    assert sizes[-min(n, 2 * workers):] == [1] * min(n, 2 * workers)  # the workers end together
    assert len(sizes) <= n // 8 + 8 * workers + 8  # still few tasks for large batches


def test_the_local_cluster_settings_reach_the_workers(dask_client: Client) -> None:
    """The worker processes (started by nannies) run with LOCAL_CLUSTER_CONFIG: no stack
    sampler, event loops timed every 500 ms, memory read every 500 ms."""
    def settings() -> tuple[object, ...]:
        import dask
        return tuple(dask.config.get(k) for k in cluster.LOCAL_CLUSTER_CONFIG)
    expected = tuple(cluster.LOCAL_CLUSTER_CONFIG.values())
    assert set(dask_client.run(settings).values()) == {expected}
    assert len(dask_client.run(settings)) == 2


def _warm_state() -> tuple[bool, int, bool]:
    """On a worker: warm-up finished, pygoslin parser built, the core imported."""
    import sys

    from ganglioside_nb.core.names import _goslin_parser
    from ganglioside_nb.execution import warmup
    return (warmup.wait(60), _goslin_parser.cache_info().currsize,
            "ganglioside_nb.core.pipeline" in sys.modules)


def test_local_cluster_workers_warm_up_when_they_start(dask_client: Client) -> None:
    """The preload analyses the 5-row sample in each new worker, so a first analysis does not
    load the core (benchmarks/README.md: ~0.5 s -> ~0.13 s)."""
    from ganglioside_nb.execution import warmup

    states = dask_client.run(_warm_state)
    assert len(states) == 2 and all(state == (True, 1, True) for state in states.values()), states
    assert dask_client.cluster is not None  # the shared local cluster
    assert all(spec["options"].get("preload") == [warmup.MODULE]
               for spec in dask_client.cluster.worker_spec.values())


def test_a_failed_warm_up_leaves_the_worker_usable(monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    from ganglioside_nb.core import pipeline
    from ganglioside_nb.execution import warmup

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("no disk")

    monkeypatch.setattr(pipeline, "analyze", broken)
    monkeypatch.setattr(warmup, "_done", warmup.threading.Event())
    warmup.dask_setup(worker=None)
    assert warmup.wait(30)
    assert "warm-up failed" in caplog.text
