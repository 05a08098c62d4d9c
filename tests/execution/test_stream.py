"""EventStream: de-duplication, replay then follow (sync, async, callbacks), thread safety."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable

from ganglioside_nb.execution import EventStream, ProgressState, TaskEvent

KEY = "analysis-7"
TIMEOUT = 5.0  # safety net only: every wait below normally returns in milliseconds


def started(run: str = "r1") -> TaskEvent:
    return TaskEvent(key=KEY, kind="started", seq=0, run=run, time=10.0, worker="w1")


def step(seq: int, run: str = "r1") -> TaskEvent:
    return TaskEvent(key=KEY, kind="step", seq=seq, run=run, time=10.0 + seq, step=f"s{seq}",
                     fraction=min(1.0, seq / 10))


def completed(seq: int = 99, run: str = "r1") -> TaskEvent:
    return TaskEvent(key=KEY, kind="completed", seq=seq, run=run, time=50.0)


def run_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def push_all(stream: EventStream, events: Iterable[TaskEvent]) -> Callable[[], None]:
    return lambda: [stream.push(e) for e in events]  # type: ignore[func-returns-value]


# -- producer side ------------------------------------------------------------------------------
def test_push_records_events_and_folds_state():
    stream = EventStream(KEY)
    events = [started(), step(1), step(2)]
    assert [stream.push(e) for e in events] == [True, True, True]
    assert stream.events == tuple(events)
    assert stream.state == ProgressState.fold(events) and stream.state.status == "running"
    assert not stream.done
    assert repr(stream) == "EventStream('analysis-7', 3 events, running)"


def test_duplicate_run_seq_kind_is_dropped():
    stream = EventStream(KEY)
    assert stream.push(step(1))
    assert not stream.push(step(1))
    # same identity, different payload: still a duplicate
    assert not stream.push(TaskEvent(key=KEY, kind="step", seq=1, run="r1", fraction=0.9, message="again"))
    assert stream.push(step(1, run="r2"))  # another run
    assert stream.push(TaskEvent(key=KEY, kind="failed", seq=1, run="r1"))  # another kind
    assert stream.events == (step(1), step(1, run="r2"), TaskEvent(key=KEY, kind="failed", seq=1, run="r1"))


def test_nothing_is_accepted_after_the_terminal_event():
    stream = EventStream(KEY)
    stream.push(started())
    assert stream.push(completed())
    assert stream.done and stream.state.status == "completed"
    assert not stream.push(step(5))
    assert not stream.push(TaskEvent(key=KEY, kind="failed", seq=100, run="r1", error="late"))
    assert stream.events == (started(), completed())
    assert stream.state.status == "completed"


def test_wait_times_out_then_returns_when_terminal_arrives():
    stream = EventStream(KEY)
    stream.push(started())
    assert stream.wait(0.01) is False
    timer = threading.Timer(0.05, stream.push, args=(completed(),))
    timer.start()
    try:
        assert stream.wait(TIMEOUT) is True
    finally:
        timer.join()
    assert stream.done and stream.wait(0) is True


# -- sync iteration -----------------------------------------------------------------------------
def test_sync_iteration_replays_then_follows_live_events_and_stops_after_terminal():
    stream = EventStream(KEY)
    past = [started(), step(1)]
    live = [step(2), step(3), completed(), step(4)]  # step(4) comes after the end: never seen
    for e in past:
        stream.push(e)
    got: list[TaskEvent] = []
    caught_up = threading.Event()

    def consume() -> None:
        for event in stream:
            got.append(event)
            if len(got) == len(past):
                caught_up.set()

    consumer = run_thread(consume)
    assert caught_up.wait(TIMEOUT)
    producer = run_thread(push_all(stream, live))
    producer.join(TIMEOUT)
    consumer.join(TIMEOUT)
    assert not consumer.is_alive(), "the iterator did not stop after the terminal event"
    assert got == past + live[:3]


def test_iterating_a_finished_stream_replays_everything_and_stops():
    stream = EventStream(KEY)
    events = [started(), step(1), completed()]
    for e in events:
        stream.push(e)
    assert list(stream) == events
    assert list(stream) == events  # again: replay is not consumed


def test_abandoned_iterators_detach():
    stream = EventStream(KEY)
    stream.push(started())
    iterator = iter(stream)
    assert next(iterator) == started()
    assert len(stream._sinks) == 1
    iterator.close()  # type: ignore[attr-defined]
    assert stream._sinks == []

    async def first() -> TaskEvent:
        async for event in stream:
            return event
        raise AssertionError("no event")

    assert asyncio.run(first()) == started()
    assert stream._sinks == []
    assert stream.push(step(1))  # pushing to no consumer is fine


# -- async iteration ----------------------------------------------------------------------------
def test_async_iteration_replays_then_follows_events_pushed_from_a_thread():
    stream = EventStream(KEY)
    past = [started(), step(1)]
    live = [step(2), step(3), completed()]
    for e in past:
        stream.push(e)
    threads: list[threading.Thread] = []

    async def consume() -> list[TaskEvent]:
        got = []
        async for event in stream:
            got.append(event)
            if len(got) == len(past):
                threads.append(run_thread(push_all(stream, live)))
        return got

    got = asyncio.run(asyncio.wait_for(consume(), TIMEOUT))
    for thread in threads:
        thread.join(TIMEOUT)
    assert got == past + live
    assert stream._sinks == []


def test_async_iteration_of_a_finished_stream():
    stream = EventStream(KEY)
    for e in [started(), completed()]:
        stream.push(e)

    async def consume() -> list[TaskEvent]:
        return [event async for event in stream]

    assert asyncio.run(asyncio.wait_for(consume(), TIMEOUT)) == [started(), completed()]


# -- callbacks ----------------------------------------------------------------------------------
def test_subscribe_with_replay_gets_past_then_live_events():
    stream = EventStream(KEY)
    stream.push(started())
    stream.push(step(1))
    got: list[TaskEvent] = []
    stream.subscribe(got.append)
    assert got == [started(), step(1)]
    stream.push(step(2))
    stream.push(step(2))  # duplicate: not delivered
    stream.push(completed())
    stream.push(step(3))  # after the end: not delivered
    assert got == [started(), step(1), step(2), completed()]
    assert stream._sinks == []  # consumers are released at the end


def test_subscribe_without_replay_gets_only_live_events():
    stream = EventStream(KEY)
    stream.push(started())
    got: list[TaskEvent] = []
    stream.subscribe(got.append, replay=False)
    assert got == []
    stream.push(step(1))
    assert got == [step(1)]


def test_unsubscribe_stops_delivery_and_is_idempotent():
    stream = EventStream(KEY)
    got: list[TaskEvent] = []
    other: list[TaskEvent] = []
    stop = stream.subscribe(got.append)
    stream.subscribe(other.append)
    stream.push(started())
    stop()
    stop()
    stream.push(step(1))
    assert got == [started()]
    assert other == [started(), step(1)]


def test_subscribing_to_a_finished_stream_replays_and_registers_nothing():
    stream = EventStream(KEY)
    for e in [started(), completed()]:
        stream.push(e)
    got: list[TaskEvent] = []
    stop = stream.subscribe(got.append)
    assert got == [started(), completed()] and stream._sinks == []
    stop()
    nothing: list[TaskEvent] = []
    stream.subscribe(nothing.append, replay=False)
    assert nothing == []


def test_a_failing_callback_does_not_stop_delivery_to_others(caplog):
    stream = EventStream(KEY)
    before: list[TaskEvent] = []
    after: list[TaskEvent] = []

    def broken(event: TaskEvent) -> None:
        raise RuntimeError("widget gone")

    stream.subscribe(before.append)
    stream.subscribe(broken)
    stream.subscribe(after.append)
    with caplog.at_level(logging.ERROR, logger="ganglioside_nb.execution.stream"):
        assert stream.push(started())
        assert stream.push(completed())
    assert before == after == [started(), completed()]
    assert stream.done and stream.events == (started(), completed())
    failures = [r for r in caplog.records if "event consumer failed" in r.getMessage()]
    assert len(failures) == 2 and all(r.exc_info and r.exc_info[0] is RuntimeError for r in failures)


def test_subscribe_with_replay_keeps_order_when_a_push_happens_during_the_replay():
    stream = EventStream(KEY)
    for e in [started(), step(1), step(2)]:
        stream.push(e)
    got: list[TaskEvent] = []
    producer = threading.Thread(target=stream.push, args=(step(3),), daemon=True)
    fired = threading.Event()

    def callback(event: TaskEvent) -> None:
        got.append(event)
        if not fired.is_set():  # while the first past event is replayed, a producer pushes a new one
            fired.set()
            producer.start()
            producer.join(0.5)  # returns at once unless the push has to wait for the replay

    stream.subscribe(callback)
    producer.join(TIMEOUT)
    assert got == list(stream.events) == [started(), step(1), step(2), step(3)]


# -- concurrency --------------------------------------------------------------------------------
def test_concurrent_pushes_reach_every_consumer_in_one_order_without_duplicates():
    n_threads, n_events = 4, 200
    stream = EventStream(KEY)
    stream.push(started("r0"))
    callback_a: list[TaskEvent] = []
    callback_b: list[TaskEvent] = []
    stream.subscribe(callback_a.append)
    stream.subscribe(callback_b.append)

    iterated: list[TaskEvent] = []
    consumer = run_thread(lambda: iterated.extend(stream))

    async def consume_async() -> list[TaskEvent]:
        return [event async for event in stream]

    awaited: list[TaskEvent] = []
    async_consumer = run_thread(
        lambda: awaited.extend(asyncio.run(asyncio.wait_for(consume_async(), TIMEOUT))))

    barrier = threading.Barrier(n_threads)
    accepted = [0] * n_threads
    late_iterated: list[TaskEvent] = []
    late = []

    def produce(i: int) -> None:
        barrier.wait()
        # threads 0/2 and 1/3 push the same events: each identity must be accepted once
        for seq in range(n_events):
            accepted[i] += stream.push(step(seq, run=f"r{i % 2}"))
            if i == 0 and seq == n_events // 2:
                late.append(run_thread(lambda: late_iterated.extend(stream)))

    producers = [threading.Thread(target=produce, args=(i,)) for i in range(n_threads)]
    for p in producers:
        p.start()
    for p in producers:
        p.join(TIMEOUT)
    assert sum(accepted) == 2 * n_events
    assert stream.push(completed())

    for thread in [consumer, async_consumer, *late]:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    expected = list(stream.events)
    assert len(expected) == 2 * n_events + 2
    assert len({e.ident for e in expected}) == len(expected)
    for seen in (callback_a, callback_b, iterated, awaited, late_iterated):
        assert seen == expected
    assert stream.state.status == "completed"
