"""ParamsForm without a browser: widgets generated from AnalysisParams.describe(), two-way
binding with ``state.params``, invalid combinations kept out of the state."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import pytest

from ganglioside_nb.params import AnalysisParams, Choice, Interval, PairInterval
from ganglioside_nb.ui.params_form import MAIN_FIELDS, PairInput, ParamsForm
from ganglioside_nb.ui.state import AppState

FIELDS = {row["name"]: row for row in AnalysisParams.describe()}


def descendants(widget: W.Widget) -> list[W.Widget]:
    out = [widget]
    for child in getattr(widget, "children", ()):
        out += descendants(child)
    return out


def params_events(state: AppState) -> list[Any]:
    events: list[Any] = []
    state.observe(lambda change: events.append(change["new"]), names="params")
    return events


@pytest.mark.parametrize("name", list(FIELDS))
def test_one_widget_per_field_with_its_constraint(name: str) -> None:
    row = FIELDS[name]
    form = ParamsForm(AppState())
    widget = form.widget_for(name)
    constraint = row["constraint"]
    assert f"gnb-param-{name}" in widget._dom_classes
    assert widget.value == row["default"]
    if isinstance(constraint, Choice):
        assert isinstance(widget, W.Dropdown) and widget.options == constraint.options
    elif isinstance(constraint, PairInterval):
        assert isinstance(widget, PairInput)
        for number in (widget.lo, widget.hi):
            assert (number.min, number.max) == (constraint.low, constraint.high)
            assert 0 < number.step <= min(row["default"])
    else:
        assert isinstance(constraint, Interval)
        kind = W.BoundedIntText if constraint.integer else W.BoundedFloatText
        assert isinstance(widget, kind)
        assert widget.min == constraint.low
        assert widget.max == constraint.high if constraint.high is not None else widget.max >= 2**31
        assert 0 < widget.step <= max(row["default"], 1)
        assert widget.tooltip == row["help"]
        if row["unit"]:
            assert widget.description.endswith(f"({row['unit']})")
    # the help text and the allowed range are shown next to the input
    help_texts = [w.value for w in descendants(form) if isinstance(w, W.HTML)]
    assert any(html.escape(row["allowed"]) in text for text in help_texts)


def test_layout_main_fields_advanced_and_tags() -> None:
    form = ParamsForm(AppState())
    assert "gnb-params" in form._dom_classes
    assert "gnb-session-name" in form.session_name._dom_classes
    assert "gnb-reset-params" in form.reset_button._dom_classes
    in_advanced = {id(w) for w in descendants(form.advanced)}
    for name in FIELDS:
        assert (id(form.widget_for(name)) in in_advanced) == (name not in MAIN_FIELDS), name
    assert id(form.widget_for("mode")) in {id(w) for w in descendants(form)}
    assert form.advanced.titles == ("Advanced",) and form.advanced.selected_index is None
    with pytest.raises(KeyError, match="Got 'nope' instead"):
        form.widget_for("nope")


@pytest.mark.parametrize(("name", "value"), [
    ("r2_threshold", 0.85), ("outlier_threshold", 3.0), ("rt_tolerance", 0.2), ("mode", "reference"),
    ("data_type", "human"), ("min_anchors", 5), ("fragment_policy", "annotate"), ("seed", 7),
    ("max_file_bytes", 2_000_000)])
def test_a_change_updates_the_params(name: str, value: Any) -> None:
    state = AppState()
    form = ParamsForm(state)
    events = params_events(state)
    form.widget_for(name).value = value
    assert getattr(state.params, name) == value
    assert state.params == AnalysisParams().replace(**{name: value})
    assert len(events) == 1 and state.error == ""


def test_pair_changes_update_the_params() -> None:
    state = AppState()
    pair = ParamsForm(state).widget_for("oac_shift_note_range")
    pair.hi.value = 4.5
    pair.lo.value = 0.5
    assert state.params.oac_shift_note_range == (0.5, 4.5) and pair.value == (0.5, 4.5)


def test_bounded_inputs_cannot_leave_their_range() -> None:
    state = AppState()
    form = ParamsForm(state)
    form.widget_for("rt_tolerance").value = 7.0  # typed above the maximum: clamped by the widget
    assert state.params.rt_tolerance == FIELDS["rt_tolerance"]["constraint"].high
    form.widget_for("min_anchors").value = 0
    assert state.params.min_anchors == FIELDS["min_anchors"]["constraint"].low


def test_invalid_combination_shows_error_and_keeps_params() -> None:
    state = AppState()
    form = ParamsForm(state)
    before = state.params
    form.widget_for("fragment_tight_rt").value = 0.3  # above rt_tolerance (0.1)
    assert state.params is before
    assert state.error.startswith("The 'fragment_tight_rt' parameter of AnalysisParams must be at most")
    assert form.widget_for("fragment_tight_rt").value == 0.3  # left on screen to be corrected
    # raising rt_tolerance makes the typed value valid: both land and the error goes
    form.widget_for("rt_tolerance").value = 0.4
    assert (state.params.rt_tolerance, state.params.fragment_tight_rt) == (0.4, 0.3)
    assert state.error == ""


def test_pair_with_lo_not_below_hi_is_refused() -> None:
    state = AppState()
    pair = ParamsForm(state).widget_for("oac_shift_note_range")
    pair.lo.value = 5.0  # above hi (3.0)
    assert state.params.oac_shift_note_range == AnalysisParams().oac_shift_note_range
    assert "'oac_shift_note_range'" in state.error and "Got (5.0, 3.0) instead." in state.error
    pair.hi.value = 6.0
    assert state.params.oac_shift_note_range == (5.0, 6.0) and state.error == ""


def test_valid_change_keeps_an_error_from_elsewhere() -> None:
    state = AppState()
    form = ParamsForm(state)
    state.error = "File 'x.csv' must not be empty. Got 0 bytes instead."
    form.widget_for("rt_tolerance").value = 0.2
    assert state.params.rt_tolerance == 0.2
    assert state.error == "File 'x.csv' must not be empty. Got 0 bytes instead."


def test_restore_defaults() -> None:
    state = AppState(params=AnalysisParams(mode="reference", r2_threshold=0.9))
    form = ParamsForm(state)
    assert form.widget_for("mode").value == "reference"
    form.widget_for("fragment_tight_rt").value = 0.4  # invalid, shown with its error
    assert state.error
    form.reset_button.click()
    assert state.params == AnalysisParams() and state.error == ""
    assert form.values() == {name: row["default"] for name, row in FIELDS.items()}
    # already the defaults (no params event), yet an invalid value on screen is put back
    form.widget_for("fragment_tight_rt").value = 0.4
    form.reset_button.click()
    assert form.widget_for("fragment_tight_rt").value == AnalysisParams().fragment_tight_rt
    assert state.error == ""


def test_setting_state_params_updates_the_widgets_without_loops() -> None:
    state = AppState()
    form = ParamsForm(state)
    events = params_events(state)
    new = AnalysisParams(mode="reference", rt_tolerance=0.25, min_anchors=4, data_type="mouse",
                         oac_shift_note_range=(0.2, 2.0))
    state.params = new
    assert len(events) == 1 and state.params is new and state.error == ""
    assert form.values() == {name: getattr(new, name) for name in FIELDS}
    assert form.widget_for("oac_shift_note_range").hi.value == 2.0


def test_session_name_is_linked_both_ways() -> None:
    state = AppState(session_name="first")
    form = ParamsForm(state)
    assert form.session_name.value == "first"
    form.session_name.value = "brain run 3"
    assert state.session_name == "brain run 3"
    state.session_name = "renamed"
    assert form.session_name.value == "renamed"


def test_two_forms_on_one_state_agree() -> None:
    state = AppState()
    first, second = ParamsForm(state), ParamsForm(state)
    first.widget_for("outlier_threshold").value = 3.5
    assert second.widget_for("outlier_threshold").value == 3.5
