"""TaskEvent: validation, transport form (msgpack-safe dicts), identity and log lines."""

from __future__ import annotations

import time

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganglioside_nb.execution import TaskEvent
from ganglioside_nb.execution.events import KINDS, TERMINAL_KINDS

FULL = TaskEvent(key="analysis-1", kind="step", seq=3, time=1_700_000_000.25, step="fit", index=4,
                 total=9, fraction=0.5, message="fitted 3 classes", worker="tcp://10.0.0.2:4001",
                 run="abc123", error_type=None, error=None)

optional_text = st.none() | st.text(max_size=20)
optional_int = st.none() | st.integers(-(2**31), 2**31)
events = st.builds(
    TaskEvent,
    key=st.text(min_size=1, max_size=20),
    kind=st.sampled_from(KINDS),
    seq=st.integers(-1, 10_000),
    time=st.floats(0, 4e9, allow_nan=False),
    step=optional_text,
    index=optional_int,
    total=optional_int,
    fraction=st.none() | st.floats(0, 1),
    message=st.text(max_size=40),
    worker=optional_text,
    run=st.text(max_size=12),
    error_type=optional_text,
    error=optional_text,
)


def _stamp(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["", "Started", "finished", "progress", "step "])
def test_unknown_kind_raises_value_error_naming_the_kinds(kind):
    with pytest.raises(ValueError, match=r"kind must be one of submitted, started, step, .*Got") as info:
        TaskEvent(key="k", kind=kind)
    assert repr(kind) in str(info.value)


@pytest.mark.parametrize("kind", KINDS)
def test_every_known_kind_is_accepted_with_defaults(kind):
    event = TaskEvent(key="k", kind=kind)
    assert (event.seq, event.time, event.message, event.run) == (0, 0.0, "", "")
    assert event.step is event.fraction is event.worker is event.error is None


def test_event_is_frozen():
    with pytest.raises(AttributeError):
        FULL.kind = "completed"  # type: ignore[misc]


# -- terminal / ident ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_terminal_exactly_for_completed_failed_cancelled(kind):
    assert TaskEvent(key="k", kind=kind).terminal is (kind in {"completed", "failed", "cancelled"})
    assert TERMINAL_KINDS == {"completed", "failed", "cancelled"}


def test_ident_is_run_seq_kind_and_ignores_payload():
    assert FULL.ident == ("abc123", 3, "step")
    same = TaskEvent(key="other", kind="step", seq=3, run="abc123", time=5.0, fraction=0.9)
    assert same.ident == FULL.ident
    assert TaskEvent(key="k", kind="step", seq=3, run="abc124").ident != FULL.ident
    assert TaskEvent(key="k", kind="step", seq=4, run="abc123").ident != FULL.ident
    assert TaskEvent(key="k", kind="failed", seq=3, run="abc123").ident != FULL.ident


# -- transport form -----------------------------------------------------------------------------
def test_to_dict_has_every_field_with_plain_types():
    data = FULL.to_dict()
    assert list(data) == ["key", "kind", "seq", "time", "step", "index", "total", "fraction", "message",
                          "worker", "run", "error_type", "error"]
    assert data["seq"] == 3 and data["fraction"] == 0.5 and data["worker"] == "tcp://10.0.0.2:4001"
    for name, value in data.items():
        assert value is None or type(value) in (str, int, float), (name, type(value))


def test_from_dict_round_trip_and_ignores_unknown_fields():
    assert TaskEvent.from_dict(FULL.to_dict()) == FULL
    assert TaskEvent.from_dict({**FULL.to_dict(), "added_in_a_later_version": [1, 2]}) == FULL
    assert TaskEvent.from_dict({"key": "k", "kind": "submitted"}) == TaskEvent(key="k", kind="submitted")


def test_from_dict_validates_the_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        TaskEvent.from_dict({**FULL.to_dict(), "kind": "bogus"})


@settings(max_examples=150, deadline=None)
@given(event=events)
def test_any_event_survives_msgpack_and_dict_round_trip(event):
    data = event.to_dict()
    for value in data.values():
        assert value is None or type(value) in (str, int, float)
    packed = msgpack.packb(data, use_bin_type=True)
    assert TaskEvent.from_dict(msgpack.unpackb(packed, raw=False)) == event
    assert TaskEvent.from_dict(data) == event


def test_now_stamps_the_current_time():
    before = time.time()
    event = TaskEvent.now("k", "started", seq=0, run="r", worker="w")
    after = time.time()
    assert before <= event.time <= after
    assert (event.key, event.kind, event.worker, event.run) == ("k", "started", "w", "r")
    with pytest.raises(ValueError, match="kind must be one of"):
        TaskEvent.now("k", "begun")


# -- describe -----------------------------------------------------------------------------------
def test_describe_step_shows_time_kind_and_message():
    assert FULL.describe() == f"{_stamp(FULL.time)}  step      fitted 3 classes"


def test_describe_falls_back_to_step_then_nothing():
    assert TaskEvent(key="k", kind="step", step="validate").describe() == "--:--:--  step      validate"
    # nothing to say: no trailing blanks
    assert TaskEvent(key="k", kind="submitted").describe() == "--:--:--  submitted"
    assert TaskEvent(key="k", kind="cancelled", time=0.0).describe() == "--:--:--  cancelled"


def test_describe_failed_shows_error_type_and_message():
    event = TaskEvent(key="k", kind="failed", time=1_700_000_100.0, message="ignored for failed",
                      error_type="InputFormatError", error="The file must be a CSV. Got x.txt instead.")
    line = event.describe()
    assert line == (f"{_stamp(event.time)}  failed    "
                    "InputFormatError: The file must be a CSV. Got x.txt instead.")
    assert "ignored for failed" not in line


def test_describe_failed_without_type_or_error():
    lost = TaskEvent(key="k", kind="failed", error="worker lost")
    assert lost.describe() == "--:--:--  failed    worker lost"
    assert TaskEvent(key="k", kind="failed", message="gave up").describe() == "--:--:--  failed    gave up"


@settings(max_examples=100, deadline=None)
@given(event=events)
def test_describe_starts_with_stamp_and_kind_without_trailing_blanks(event):
    line = event.describe()
    stamp = _stamp(event.time) if event.time else "--:--:--"
    assert line.startswith(f"{stamp}  {event.kind}")
    assert line == line.rstrip()
