"""LocalRunner, LocalJob and Batch: events, outcomes, cancellation, task states (no Dask)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ganglioside_nb.core.events import ProgressEvent
from ganglioside_nb.errors import InputFormatError, TaskFailedError
from ganglioside_nb.execution import Batch, LocalRunner, TaskEvent, describe_error, execute, new_key

TIMEOUT = 5.0  # safety net only: jobs below finish in milliseconds unless told to wait


# -- module-level task functions ----------------------------------------------------------------
def three_steps(x: int, *, progress: Any, scale: int = 2) -> int:
    for i, name in enumerate(["read", "validate", "fit"], start=1):
        progress(ProgressEvent(step=name, index=i, total=3, fraction=i / 3, message=f"{name} done",
                               elapsed_s=0.0))
    return x * scale


def bad_input(*, progress: Any) -> None:
    progress(ProgressEvent(step="read", index=1, total=3, fraction=1 / 3, message="", elapsed_s=0.0))
    raise InputFormatError("The input must have a Name column. Got none instead.", check="columns")


def crash(*, progress: Any) -> None:
    raise RuntimeError("boom\n   at line 3")


def wait_for(gate: threading.Event, *, progress: Any) -> str:
    if not gate.wait(TIMEOUT):
        raise RuntimeError("the test never opened the gate")
    return "released"


@pytest.fixture
def runner() -> Iterator[LocalRunner]:
    with LocalRunner() as r:
        yield r


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """A gate that blocking tasks wait on; always opened at the end so no thread hangs."""
    event = threading.Event()
    yield event
    event.set()


def wait_started(job: Any) -> None:
    for event in job:
        if event.kind == "started":
            return
        assert not event.terminal, f"{job} ended before it started"


# -- one job ------------------------------------------------------------------------------------
def test_events_in_order_and_result(runner):
    job = runner.submit(three_steps, 21, scale=3)
    assert job.result(TIMEOUT) == 63
    assert job.finished(TIMEOUT) and job.done()
    events = job.events
    assert [e.kind for e in events] == ["submitted", "started", "step", "step", "step", "completed"]
    assert all(e.key == job.key for e in events)
    submitted, started, *steps, completed = events
    assert submitted.seq == -1 and submitted.worker is None
    assert started.worker == "local" and started.message == "started on local"
    runs = {e.run for e in events[1:]}
    assert len(runs) == 1 and runs != {""}
    assert [e.seq for e in events[1:]] == [0, 1, 2, 3, 4]
    assert [(e.step, e.index, e.total, e.message) for e in steps] == [
        ("read", 1, 3, "read done"), ("validate", 2, 3, "validate done"), ("fit", 3, 3, "fit done")]
    assert [e.fraction for e in steps] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert completed.fraction == 1.0 and completed.message.startswith("completed in ")
    assert [e.time for e in events] == sorted(e.time for e in events)
    assert job.status == "completed" and job.state.steps == ("read", "validate", "fit")
    assert job.state.percent == 100 and job.state.attempt == 1
    assert list(job) == list(events)  # iteration replays and stops
    assert job.exception(TIMEOUT) is None


def test_default_key_label_and_meta(runner):
    job = runner.submit(three_steps, 1, meta={"session_id": 5})
    other = runner.submit(three_steps, 1, key="my-key", label="sample A")
    assert job.key.startswith(runner.key_prefix("three_steps") + "-")
    assert job.key != runner.submit(three_steps, 1).key
    assert job.label == job.key and job.meta == {"session_id": 5}
    assert (other.key, other.label) == ("my-key", "sample A")
    other.result(TIMEOUT)
    assert repr(other) == "<LocalJob 'sample A' completed>"
    assert runner.key_prefix("x") == f"x-local-{socket.gethostname()}-{os.getpid()}"


def test_input_error_fails_the_job_and_is_raised_unwrapped(runner):
    job = runner.submit(bad_input)
    with pytest.raises(InputFormatError, match="must have a Name column") as info:
        job.result(TIMEOUT)
    assert info.value.details == {"check": "columns"}
    assert [e.kind for e in job.events] == ["submitted", "started", "step", "failed"]
    failed = job.events[-1]
    assert failed.error_type == "InputFormatError"
    assert failed.error == "The input must have a Name column. Got none instead."
    assert job.status == "failed" and job.state.error == failed.error
    assert job.state.error_type == "InputFormatError" and job.state.fraction == pytest.approx(1 / 3)
    exc = job.exception(TIMEOUT)
    assert isinstance(exc, InputFormatError) and exc is info.value


def test_internal_error_is_reported_and_reraised(runner):
    job = runner.submit(crash)
    with pytest.raises(RuntimeError, match="boom"):
        job.result(TIMEOUT)
    assert [e.kind for e in job.events] == ["submitted", "started", "failed"]
    failed = job.events[-1]
    assert failed.error_type == "RuntimeError"
    assert failed.error == "internal error: RuntimeError: boom at line 3"
    assert failed.error.startswith("internal error: RuntimeError")
    assert job.status == "failed"
    assert isinstance(job.exception(TIMEOUT), RuntimeError)


def test_await_wait_returns_the_value_or_raises(runner):
    ok = runner.submit(three_steps, 4)
    bad = runner.submit(bad_input)
    assert asyncio.run(asyncio.wait_for(ok.wait(), TIMEOUT)) == 8
    with pytest.raises(InputFormatError):
        asyncio.run(asyncio.wait_for(bad.wait(), TIMEOUT))


def test_async_iteration_of_a_job(runner):
    job = runner.submit(three_steps, 1)

    async def kinds() -> list[str]:
        return [event.kind async for event in job]

    assert asyncio.run(asyncio.wait_for(kinds(), TIMEOUT)) == [
        "submitted", "started", "step", "step", "step", "completed"]


def test_subscribe_sees_every_event_of_a_running_job(runner, gate):
    blocker = runner.submit(wait_for, gate)
    job = runner.submit(three_steps, 2)
    seen: list[TaskEvent] = []
    job.subscribe(seen.append)
    assert [e.kind for e in seen] == ["submitted"]
    gate.set()
    assert job.result(TIMEOUT) == 4 and blocker.result(TIMEOUT) == "released"
    assert seen == list(job.events)


def test_cancel_a_queued_job(runner, gate):
    blocker = runner.submit(wait_for, gate)
    wait_started(blocker)
    queued = runner.submit(three_steps, 1)
    assert queued.status == "queued" and not queued.done()
    assert queued.cancel() is True
    assert queued.done() and queued.status == "cancelled" and queued.finished(0)
    assert [e.kind for e in queued.events] == ["submitted", "cancelled"]
    with pytest.raises(TaskFailedError, match="cancelled before it started") as info:
        queued.result(TIMEOUT)
    assert info.value.details == {"key": queued.key}
    assert isinstance(queued.exception(TIMEOUT), TaskFailedError)
    with pytest.raises(TaskFailedError, match="cancelled before it started"):
        asyncio.run(asyncio.wait_for(queued.wait(), TIMEOUT))

    assert blocker.cancel() is False  # running: not cancellable in process
    gate.set()
    assert blocker.result(TIMEOUT) == "released" and blocker.status == "completed"


def test_exception_with_timeout_raises_while_the_job_runs(runner, gate):
    job = runner.submit(wait_for, gate)
    with pytest.raises(TimeoutError):
        job.exception(timeout=0.05)


def test_timing_out_an_await_leaves_the_queued_job_alone(runner, gate):
    runner.submit(wait_for, gate)
    queued = runner.submit(three_steps, 3)
    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(queued.wait(), 0.05))
    assert queued.status == "queued"
    gate.set()
    assert queued.result(TIMEOUT) == 6


def test_close_cancels_queued_jobs_and_waits_for_the_running_one(gate):
    runner = LocalRunner()
    running = runner.submit(wait_for, gate)
    wait_started(running)
    queued = runner.submit(three_steps, 1)
    closer = threading.Thread(target=runner.close, daemon=True)
    closer.start()
    assert queued.finished(TIMEOUT) and queued.status == "cancelled"
    assert closer.is_alive()  # still waiting for the running job
    gate.set()
    closer.join(TIMEOUT)
    assert not closer.is_alive() and running.result(0) == "released"


def test_info_describes_the_in_process_runner():
    with LocalRunner(max_workers=3) as runner:
        info = runner.info()
        assert repr(runner) == "LocalRunner(max_workers=3)"
    assert info["runner"] == "local" and info["nthreads"] == 3 and info["n_workers"] == 1
    assert info["scheduler"] is None and info["local_cluster"] is False


# -- execute / describe_error -------------------------------------------------------------------
def test_execute_survives_a_broken_publisher():
    calls: list[dict[str, Any]] = []

    def publish(data: dict[str, Any]) -> None:
        calls.append(data)
        raise ConnectionError("scheduler gone")

    assert execute(three_steps, (5,), {}, key="k", publish=publish, worker=None) == 10
    assert [c["kind"] for c in calls] == ["started", "step", "step", "step", "completed"]
    assert calls[0]["message"] == "started" and calls[0]["worker"] is None
    assert all(type(v) in (str, int, float) or v is None for c in calls for v in c.values())


def test_describe_error_one_line_and_bounded():
    assert describe_error(InputFormatError("Bad\n\n  table.")) == ("InputFormatError", "Bad table.")
    assert describe_error(KeyError()) == ("KeyError", "internal error: KeyError: KeyError")
    name, text = describe_error(ValueError("x" * 5000))
    assert name == "ValueError" and len(text) == 2000 and text.startswith("internal error: ValueError: x")
    assert new_key("p").startswith("p-") and len(new_key("p")) == len("p-") + 12


# -- Batch --------------------------------------------------------------------------------------
def test_batch_as_completed_summary_and_counts():
    with LocalRunner(max_workers=2) as runner:
        jobs = [runner.submit(three_steps, i, label=f"item {i}", meta={"row": i}) for i in range(4)]
        jobs.append(runner.submit(bad_input, label="item bad", meta={"row": 4}))
        batch = Batch(jobs)
        assert len(batch) == 5 and list(batch) == jobs
        done = list(batch.as_completed(timeout=TIMEOUT))
    assert len(done) == 5 and {id(j) for j in done} == {id(j) for j in jobs}
    assert len(list(batch.as_completed(timeout=0.5))) == 5  # finished jobs: yielded again at once

    summary = batch.summary()
    assert list(summary.columns) == ["label", "key", "status", "attempts", "elapsed_s", "error", "row"]
    assert summary["label"].tolist() == [f"item {i}" for i in range(4)] + ["item bad"]
    assert summary["key"].tolist() == [j.key for j in jobs]
    assert summary["status"].tolist() == ["completed"] * 4 + ["failed"]
    assert summary["attempts"].tolist() == [1] * 5 and summary["row"].tolist() == list(range(5))
    assert (summary["elapsed_s"] >= 0).all()
    assert summary["error"].isna().tolist() == [True] * 4 + [False]
    assert "Name column" in summary.loc[4, "error"]

    assert batch.counts() == {"completed": 4, "failed": 1}
    assert batch.state.finished and batch.state.fraction == 1.0
    assert repr(batch) == "<Batch 5 jobs {'completed': 4, 'failed': 1}>"
    assert [j.result(0) for j in jobs[:4]] == [0, 2, 4, 6]


def test_batch_as_completed_async():
    with LocalRunner(max_workers=2) as runner:
        batch = Batch(runner.submit(three_steps, i) for i in range(5))

        async def collect() -> list[Any]:
            return [job async for job in batch.as_completed_async()]

        done = asyncio.run(asyncio.wait_for(collect(), TIMEOUT))
    assert sorted(j.result(0) for j in done) == [0, 2, 4, 6, 8]
    assert len({id(j) for j in done}) == 5


def test_batch_cancel_only_cancels_jobs_not_yet_started(runner, gate):
    jobs = [runner.submit(wait_for, gate)]
    wait_started(jobs[0])
    jobs += [runner.submit(three_steps, i) for i in range(4)]
    batch = Batch(jobs)
    assert batch.counts() == {"queued": 4, "running": 1}
    cancelled = batch.cancel()
    assert cancelled == jobs[1:]
    assert batch.counts() == {"cancelled": 4, "running": 1}
    gate.set()
    assert {j.key for j in batch.as_completed(timeout=TIMEOUT)} == {j.key for j in jobs}
    assert batch.summary()["status"].tolist() == ["completed"] + ["cancelled"] * 4
    assert batch.summary()["attempts"].tolist() == [1, 0, 0, 0, 0]
    assert batch.cancel() == []


def test_batch_as_completed_times_out_on_hanging_jobs(gate):
    with LocalRunner(max_workers=2) as runner:
        fast = runner.submit(three_steps, 1)
        fast.result(TIMEOUT)
        hanging = [runner.submit(wait_for, gate), runner.submit(wait_for, gate)]
        batch = Batch([fast, *hanging])
        iterator = batch.as_completed(timeout=0.2)
        assert next(iterator) is fast
        with pytest.raises(TimeoutError, match=r"2 of 3 jobs were still unfinished after 0.2 s"):
            next(iterator)
        with pytest.raises(TimeoutError, match="2 of 2 jobs"):
            Batch(hanging).wait(timeout=0.05)
        gate.set()
        assert Batch(hanging).wait(timeout=TIMEOUT).counts() == {"completed": 2}


def test_batch_subscribe_gets_events_of_every_job(runner):
    jobs = [runner.submit(three_steps, i) for i in range(3)]
    batch = Batch(jobs)
    seen: list[TaskEvent] = []
    stop = batch.subscribe(seen.append)
    batch.wait(TIMEOUT)
    stop()
    assert sorted(seen, key=lambda e: (e.key, e.seq)) == sorted(
        (e for j in jobs for e in j.events), key=lambda e: (e.key, e.seq))
    assert len(seen) == 18


# -- task_states --------------------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_task_states_of_own_keys(runner, gate):
    finished = runner.submit(three_steps, 1)
    finished.result(TIMEOUT)
    running = runner.submit(wait_for, gate)
    queued = runner.submit(three_steps, 2)
    states = runner.task_states([finished.key, running.key, queued.key])
    assert states == {finished.key: "finished", running.key: "processing", queued.key: "processing"}
    gate.set()
    queued.result(TIMEOUT)
    assert runner.task_states([running.key, queued.key]) == {running.key: "finished", queued.key: "finished"}
    # another runner of this process knows them too
    with LocalRunner() as other:
        assert other.task_states([queued.key]) == {queued.key: "finished"}


def test_task_states_of_keys_owned_by_other_processes(runner):
    host_pid = runner.key_prefix("analysis")  # analysis-local-<host>-<pid>
    dead = f"{host_pid.rsplit('-', 1)[0]}-{_dead_pid()}-0123456789ab"
    alive = f"{host_pid.rsplit('-', 1)[0]}-{os.getppid()}-0123456789ab"
    forgotten = new_key(host_pid)  # this process, but no job holds it: its runner is gone
    garbled = f"{host_pid.rsplit('-', 1)[0]}-notapid-0123456789ab"
    foreign = "session-1-abc"
    other_host = "analysis-local-some-other-host-1-0123456789ab"
    states = runner.task_states([dead, alive, forgotten, garbled, foreign, other_host])
    assert states == {dead: None, alive: "processing", forgotten: None, garbled: None,
                      foreign: "processing", other_host: "processing"}
