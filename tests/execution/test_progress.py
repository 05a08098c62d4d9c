"""ProgressState and BatchState: pure reducers over TaskEvents."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganglioside_nb.execution import BatchState, ProgressState, TaskEvent
from ganglioside_nb.execution.events import KINDS
from ganglioside_nb.execution.progress import STATUSES

KEY = "analysis-1"


def ev(kind: str, time: float, *, key: str = KEY, run: str = "r1", seq: int = 0,
       **values: object) -> TaskEvent:
    return TaskEvent(key=key, kind=kind, time=time, run=run, seq=seq, **values)  # type: ignore[arg-type]


def normal_run(key: str = KEY) -> list[TaskEvent]:
    return [
        ev("submitted", 100.0, key=key, run="client-submitted", seq=-1, message="queued"),
        ev("started", 101.0, key=key, worker="w1"),
        ev("step", 102.0, key=key, seq=1, step="read", index=1, total=3, fraction=0.25,
           message="read 323 rows"),
        ev("step", 104.0, key=key, seq=2, step="validate", index=2, total=3, fraction=0.5),
        ev("step", 105.5, key=key, seq=3, step="fit", index=3, total=3, fraction=0.75, message="fitted"),
        ev("completed", 110.0, key=key, seq=4, fraction=1.0, message="completed in 9.00 s"),
    ]


def states_of(events: list[TaskEvent], start: ProgressState | None = None) -> list[ProgressState]:
    state = start if start is not None else ProgressState(key=KEY)
    out = []
    for event in events:
        state = state.apply(event)
        out.append(state)
    return out


# -- ProgressState ------------------------------------------------------------------------------
def test_initial_state():
    state = ProgressState(key=KEY)
    assert (state.status, state.fraction, state.percent, state.attempt) == ("pending", 0.0, 0, 0)
    assert not state.finished and state.elapsed_s is None and state.log == () and state.steps == ()


def test_normal_sequence_statuses_and_fields():
    events = normal_run()
    states = states_of(events)
    assert [s.status for s in states] == ["queued", "running", "running", "running", "running", "completed"]
    submitted, started, read, validate, fit, completed = states

    assert submitted.submitted_at == 100.0 and submitted.started_at is None and submitted.elapsed_s is None
    assert started.attempt == 1 and started.run == "r1" and started.worker == "w1"
    assert started.message == "started on w1" and started.started_at == 101.0

    assert read.step == "read" and read.message == "read 323 rows"
    assert validate.step == "validate" and validate.message == "validate"  # falls back to the step
    assert fit.steps == ("read", "validate", "fit")
    assert [s.percent for s in (read, validate, fit)] == [25, 50, 75]

    assert completed.finished and completed.fraction == 1.0 and completed.percent == 100
    assert completed.finished_at == 110.0 and completed.elapsed_s == pytest.approx(9.0)
    assert completed.message == "completed in 9.00 s"
    assert completed.error is None and completed.error_type is None
    assert completed.steps == ("read", "validate", "fit") and completed.step == "fit"


def test_fraction_is_monotone_and_log_has_one_line_per_event():
    events = normal_run()
    # a step reporting less than what is already done does not move the bar back
    events.insert(4, ev("step", 104.5, seq=9, step="recheck", fraction=0.1))
    states = states_of(events)
    fractions = [s.fraction for s in states]
    assert fractions == sorted(fractions)
    assert fractions == [0.0, 0.0, 0.25, 0.5, 0.5, 0.75, 1.0]
    for n, state in enumerate(states, start=1):
        assert state.log == tuple(e.describe() for e in events[:n])


def test_elapsed_runs_from_start_to_latest_event_then_to_the_end():
    states = states_of(normal_run())
    assert states[1].elapsed_s == 0.0
    assert states[2].elapsed_s == pytest.approx(1.0)
    assert states[4].elapsed_s == pytest.approx(4.5)
    assert states[5].elapsed_s == pytest.approx(9.0)


def test_failure_keeps_progress_and_records_the_error():
    events = normal_run()[:4] + [ev("failed", 106.0, seq=3, error_type="InputFormatError",
                                     error="The table must have a Name column. Got none instead.",
                                     message="The table must have a Name column. Got none instead.")]
    state = ProgressState.fold(events)
    assert state.status == "failed" and state.finished
    assert state.error_type == "InputFormatError"
    assert state.error == "The table must have a Name column. Got none instead."
    assert state.message == state.error
    assert state.fraction == 0.5 and state.finished_at == 106.0 and state.elapsed_s == pytest.approx(5.0)


def test_cancelled_before_start():
    state = ProgressState.fold([normal_run()[0], ev("cancelled", 100.5, run="client-cancelled", seq=-1)])
    assert state.status == "cancelled" and state.finished and state.attempt == 0
    assert state.message == "cancelled" and state.elapsed_s is None and state.fraction == 0.0


@pytest.mark.parametrize("terminal", ["completed", "failed", "cancelled"])
@pytest.mark.parametrize("late", KINDS)
def test_events_after_terminal_are_ignored(terminal, late):
    state = ProgressState.fold(normal_run()[:3] + [ev(terminal, 103.0, seq=5, error="x")])
    assert state.finished
    after = state.apply(ev(late, 120.0, run="r9", seq=7, fraction=0.9, step="late", error="late"))
    assert after is state


def test_retry_resets_progress_and_ignores_late_steps_of_the_first_run():
    first = normal_run()[:4]  # submitted, started r1, two steps (fraction 0.5)
    state = ProgressState.fold(first)
    assert (state.attempt, state.fraction) == (1, 0.5)

    retried = state.apply(ev("started", 107.0, run="r2", worker="w2"))
    assert retried.status == "running" and retried.attempt == 2 and retried.run == "r2"
    assert retried.worker == "w2" and retried.message == "retrying on w2 (attempt 2)"
    assert retried.fraction == 0.0 and retried.steps == () and retried.step is None
    assert retried.started_at == 101.0  # elapsed counts from the first start

    late = retried.apply(ev("step", 107.5, run="r1", seq=3, step="fit", fraction=0.75))
    assert late is retried

    own = retried.apply(ev("step", 108.0, run="r2", seq=1, step="read", fraction=0.25))
    assert own.fraction == 0.25 and own.steps == ("read",) and own.attempt == 2
    done = own.apply(ev("completed", 111.0, run="r2", seq=2))
    assert done.status == "completed" and done.elapsed_s == pytest.approx(10.0) and done.attempt == 2
    assert len(done.log) == 7  # the ignored late step left no line


def test_events_of_another_key_are_ignored():
    state = ProgressState.fold(normal_run()[:3])
    for kind in KINDS:
        assert state.apply(ev(kind, 200.0, key="other", run="r1", seq=8)) is state
    assert ProgressState(key=KEY).apply(ev("completed", 1.0, key="other")) == ProgressState(key=KEY)


def test_fold_equals_applying_one_by_one_and_takes_the_first_key():
    events = normal_run()
    assert ProgressState.fold(events) == states_of(events)[-1]
    assert ProgressState.fold(iter(events)) == states_of(events)[-1]
    assert ProgressState.fold([]) == ProgressState()
    mixed = ProgressState.fold([normal_run("b")[0], *normal_run("a")])
    assert mixed.key == "b" and mixed.status == "queued"


def test_apply_does_not_mutate_the_previous_state():
    before = ProgressState.fold(normal_run()[:2])
    copy = ProgressState.fold(normal_run()[:2])
    before.apply(normal_run()[2])
    assert before == copy and before.steps == () and before.fraction == 0.0


# -- BatchState ---------------------------------------------------------------------------------
def test_batch_of_keys_starts_pending_in_order():
    batch = BatchState.of(["a", "b", "c"])
    assert list(batch.tasks) == ["a", "b", "c"]
    assert isinstance(batch.tasks, MappingProxyType)
    assert all(s == ProgressState(key=k) for k, s in batch.tasks.items())
    assert batch.total == 3 and batch.n_finished == 0 and not batch.finished and batch.fraction == 0.0
    assert batch.counts() == {"pending": 3, "queued": 0, "running": 0, "completed": 0, "failed": 0,
                              "cancelled": 0}
    assert tuple(batch.counts()) == STATUSES


def test_batch_apply_counts_fraction_and_finished():
    b0 = BatchState.of(["a", "b", "c"])
    b1 = b0.apply(ev("submitted", 1.0, key="a", run="client-submitted", seq=-1))
    b2 = b1.apply(ev("started", 2.0, key="a"))
    b3 = b2.apply(ev("step", 3.0, key="a", seq=1, step="read", fraction=0.5))
    b4 = b3.apply(ev("completed", 4.0, key="b"))
    assert b0.counts()["pending"] == 3  # earlier states are untouched
    assert b1.counts()["queued"] == 1 and b2.counts()["running"] == 1
    assert b3.fraction == pytest.approx(0.5 / 3)
    assert b4.fraction == pytest.approx(1.5 / 3)
    assert b4.counts() == {"pending": 1, "queued": 0, "running": 1, "completed": 1, "failed": 0,
                           "cancelled": 0}
    assert b4.n_finished == 1 and not b4.finished
    b5 = b4.apply(ev("failed", 5.0, key="a", seq=2, error="boom")).apply(ev("cancelled", 6.0, key="c"))
    assert b5.finished and b5.n_finished == 3 and b5.fraction == 1.0  # a failed task counts as done
    assert b5.counts() == {"pending": 0, "queued": 0, "running": 0, "completed": 1, "failed": 1,
                           "cancelled": 1}
    assert b5.tasks["a"].error == "boom" and list(b5.tasks) == ["a", "b", "c"]


def test_batch_apply_returns_itself_when_nothing_changes():
    batch = BatchState.of(["a", "b"]).apply(ev("completed", 1.0, key="a"))
    assert batch.apply(ev("step", 2.0, key="a", seq=3, fraction=0.4)) is batch  # after terminal
    running = batch.apply(ev("started", 2.0, key="b", run="r2"))
    assert running.apply(ev("step", 3.0, key="b", run="r1", seq=1, fraction=0.9)) is running  # stale run


def test_batch_adds_a_key_it_did_not_know():
    batch = BatchState.of(["a"]).apply(ev("started", 1.0, key="z"))
    assert list(batch.tasks) == ["a", "z"] and batch.tasks["z"].status == "running" and batch.total == 2


def test_empty_batch_is_finished():
    assert BatchState().finished and BatchState().fraction == 1.0 and BatchState().total == 0


# -- properties ---------------------------------------------------------------------------------
events = st.builds(
    TaskEvent,
    key=st.sampled_from(["a", "b"]),
    kind=st.sampled_from(KINDS),
    seq=st.integers(-1, 4),
    time=st.floats(0, 1000, allow_nan=False),
    step=st.none() | st.sampled_from(["read", "fit"]),
    fraction=st.none() | st.floats(0, 1),
    run=st.sampled_from(["", "r1", "r2", "client-submitted"]),
    worker=st.none() | st.sampled_from(["w1", "w2"]),
)


@settings(max_examples=150, deadline=None)
@given(seq=st.lists(events, max_size=25), keyed=st.booleans())
def test_fraction_in_unit_interval_and_finished_state_is_final(seq, keyed):
    state = ProgressState(key="a") if keyed else ProgressState()
    batch = BatchState.of(["a", "b"])
    for event in seq:
        new = state.apply(event)
        if state.finished:
            assert new is state
        assert 0.0 <= new.fraction <= 1.0 and 0 <= new.percent <= 100
        assert len(new.log) - len(state.log) in (0, 1)
        state = new

        was = {k: s for k, s in batch.tasks.items() if s.finished}
        batch = batch.apply(event)
        assert 0.0 <= batch.fraction <= 1.0
        assert all(batch.tasks[k] is s for k, s in was.items())
    if not keyed:
        assert ProgressState.fold(seq) == state
