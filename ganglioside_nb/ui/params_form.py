"""The parameter form, generated from :meth:`AnalysisParams.describe` (FEATURES.md "Voila apps").

One input per field: a bounded number for an :class:`~ganglioside_nb.params.Interval` (its range
and a step scaled to it), a dropdown for a :class:`~ganglioside_nb.params.Choice`, two bounded
numbers for a :class:`~ganglioside_nb.params.PairInterval`. Each input carries the field's help
text (tooltip and a small line under it) and its unit. Mode, data type and the three main
thresholds are visible; everything else sits in an "Advanced" accordion.

The form and ``state.params`` are kept in step both ways. A change builds a new
:class:`AnalysisParams` from the values on screen; when that fails validation (say
``fragment_tight_rt`` above ``rt_tolerance``, or an O-acetylation range with lo >= hi) the error
line goes to ``state.error``, the previous valid parameters stay, and the typed value stays on
screen so that it can be corrected. Assigning ``state.params`` from elsewhere redraws the form.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping
from typing import Any

import ipywidgets as W
import traitlets as t

from ..errors import GangliosideError
from ..params import AnalysisParams, Choice, Interval, PairInterval
from .common import tag
from .errors import catch_errors, error_message
from .state import AppState

__all__ = ["MAIN_FIELDS", "PairInput", "ParamsForm", "field_label"]

#: fields shown outside the "Advanced" accordion, in this order
MAIN_FIELDS = ("mode", "data_type", "chromatography", "r2_threshold", "outlier_threshold", "rt_tolerance")
#: labels that capitalising the field name would get wrong
_LABELS = {"r2_threshold": "R² threshold", "rt_tolerance": "RT tolerance", "cv_order": "CV order",
           "loo_max_anchors": "LOO max anchors", "oac_shift_note_range": "OAc shift note range",
           "sugar_rt_min_r": "Sugar–RT min r", "sugar_rt_max_p": "Sugar–RT max p",
           "fragment_tight_rt": "Fragment tight RT", "min_predictive_sd": "Min predictive SD",
           "max_file_bytes": "Max file size"}
#: the upper bound of an open interval (largest integer a browser number keeps exactly)
_UNBOUNDED = 2**53 - 1
_DESCRIPTION_WIDTH = "13em"
_STYLE = {"description_width": _DESCRIPTION_WIDTH}


def field_label(name: str, unit: str = "") -> str:
    """The label of a parameter field, with its unit.

    >>> field_label("rt_tolerance", "min"), field_label("min_anchors")
    ('RT tolerance (min)', 'Min anchors')
    """
    label = _LABELS.get(name, name.replace("_", " ").capitalize())
    return f"{label} ({unit})" if unit else label


def _magnitude(x: float) -> float:
    return float(10 ** math.floor(math.log10(abs(x))))


def _float_step(low: float, high: float | None, *examples: float) -> float:
    """A tenth of the range's order of magnitude, finer if the defaults need it."""
    span = (high if high is not None else max(abs(low), 1.0) * 100) - low
    step = _magnitude(span) / 10
    for x in examples:
        if x:
            step = min(step, _magnitude(x))
    return step


class PairInput(W.HBox):
    """Two bounded numbers ``lo`` and ``hi`` read as one ``value`` tuple ``(lo, hi)``.

    The children are not ordered by the widget: ``lo >= hi`` is left for
    :class:`AnalysisParams` to reject, so the message names the parameter.
    """

    value = t.Tuple(t.Float(), t.Float())

    def __init__(self, value: tuple[float, float], *, low: float, high: float, step: float,
                 description: str = "", tooltip: str = "", **kwargs: Any) -> None:
        number = {"min": low, "max": high, "step": step, "tooltip": tooltip,
                  "layout": W.Layout(width="8em")}
        self.lo = W.BoundedFloatText(value=value[0], **number)
        self.hi = W.BoundedFloatText(value=value[1], **number)
        label = W.HTML(html.escape(description), tooltip=tooltip,
                       layout=W.Layout(width=_DESCRIPTION_WIDTH, justify_content="flex-end"))
        super().__init__([label, self.lo, W.HTML("&nbsp;to&nbsp;"), self.hi], **kwargs)
        self._updating = False
        self.value = (float(value[0]), float(value[1]))
        self.lo.observe(self._from_children, names="value")
        self.hi.observe(self._from_children, names="value")
        self.observe(self._to_children, names="value")

    def _from_children(self, _change: Any) -> None:
        if not self._updating:
            self.value = (self.lo.value, self.hi.value)

    def _to_children(self, change: Mapping[str, Any]) -> None:
        self._updating = True
        try:
            self.lo.value, self.hi.value = change["new"]
        finally:
            self._updating = False


def _input_for(row: Mapping[str, Any]) -> W.DOMWidget:
    """The input widget of one row of :meth:`AnalysisParams.describe`."""
    name, default, constraint = row["name"], row["default"], row["constraint"]
    common = {"description": field_label(name, row["unit"]), "tooltip": row["help"], "style": _STYLE,
              "layout": W.Layout(width="24em")}
    widget: W.DOMWidget
    if isinstance(constraint, Choice):
        widget = W.Dropdown(options=list(constraint.options), value=default, **common)
    elif isinstance(constraint, Interval) and constraint.integer:
        high = _UNBOUNDED if constraint.high is None else int(constraint.high)
        step = max(1, int(_magnitude(max(default, 1)) // 10))
        widget = W.BoundedIntText(value=default, min=int(constraint.low), max=high, step=step, **common)
    elif isinstance(constraint, Interval):
        high_f = float(_UNBOUNDED) if constraint.high is None else float(constraint.high)
        widget = W.BoundedFloatText(value=default, min=float(constraint.low), max=high_f,
                                    step=_float_step(constraint.low, constraint.high, default), **common)
    elif isinstance(constraint, PairInterval):
        widget = PairInput(default, low=constraint.low, high=constraint.high,
                           step=_float_step(constraint.low, constraint.high, *default),
                           description=common["description"], tooltip=row["help"])
    else:  # a new constraint type needs a widget here
        raise TypeError(f"The constraint of parameter {name!r} must be an Interval, Choice or "
                        f"PairInterval. Got {type(constraint).__name__} instead.")
    return tag(widget, f"param-{name}")


def _help_html(row: Mapping[str, Any]) -> W.HTML:
    text = f"{row['help']} Allowed: {row['allowed']}."
    return W.HTML(f'<div class="gnb-param-help" style="color:#666666;font-size:85%;line-height:1.3;'
                  f'margin:0 0 0.4em {_DESCRIPTION_WIDTH};">{html.escape(text)}</div>')


class ParamsForm(W.VBox):
    """Analysis parameters and session name, two-way bound to ``state.params``.

    Parameters
    ----------
    state : AppState
        The shared state: ``params`` (always valid) and ``session_name`` are read and written.

    Attributes
    ----------
    session_name : ipywidgets.Text
        Linked to ``state.session_name`` (CSS class ``gnb-session-name``).
    reset_button : ipywidgets.Button
        "Restore defaults" (``gnb-reset-params``).
    advanced : ipywidgets.Accordion
        The fields outside :data:`MAIN_FIELDS`, collapsed (``gnb-advanced-params``).

    Examples
    --------
    >>> from ganglioside_nb.ui.state import AppState
    >>> state = AppState()
    >>> form = ParamsForm(state)
    >>> form.widget_for("rt_tolerance").value = 0.2
    >>> state.params.rt_tolerance
    0.2
    """

    def __init__(self, state: AppState, **kwargs: Any) -> None:
        self._state = state
        self._syncing = False
        self._error = ""  # the error line this form put in state.error, if still shown
        rows = AnalysisParams.describe()
        self._inputs: dict[str, W.DOMWidget] = {row["name"]: _input_for(row) for row in rows}
        boxes = {row["name"]: W.VBox([self._inputs[row["name"]], _help_html(row)]) for row in rows}

        self.session_name = tag(W.Text(description="Session name", placeholder="optional",
                                       style=_STYLE, layout=W.Layout(width="24em")), "session-name")
        self._name_link = W.link((state, "session_name"), (self.session_name, "value"))
        self.reset_button = tag(W.Button(description="Restore defaults", icon="undo",
                                         tooltip="Set every parameter back to its default"),
                                "reset-params")
        self.advanced = tag(W.Accordion(children=[W.VBox([b for n, b in boxes.items()
                                                          if n not in MAIN_FIELDS])],
                                        titles=("Advanced",), selected_index=None), "advanced-params")
        main = [boxes[n] for n in MAIN_FIELDS]
        super().__init__([self.session_name, *main, self.advanced, self.reset_button], **kwargs)
        tag(self, "params")

        on_input = catch_errors(state)(self._on_input)
        for widget in self._inputs.values():
            widget.observe(on_input, names="value")
        self.reset_button.on_click(catch_errors(state)(lambda _button: self.reset()))
        state.observe(self._on_params, names="params")
        self._show(state.params)

    # -- public --------------------------------------------------------------------------------
    def widget_for(self, name: str) -> W.DOMWidget:
        """The input widget of parameter ``name`` (a :class:`PairInput` for a pair)."""
        try:
            return self._inputs[name]
        except KeyError:
            raise KeyError(f"Parameter name must be one of {', '.join(self._inputs)}. "
                           f"Got {name!r} instead.") from None

    def values(self) -> dict[str, Any]:
        """The values on screen, by field name (possibly not a valid combination)."""
        return {name: widget.value for name, widget in self._inputs.items()}

    def reset(self) -> None:
        """Restore every default (the session name stays)."""
        self._clear_error()
        self._state.params = AnalysisParams()
        self._show(self._state.params)  # also when the params were already the defaults

    # -- syncing -------------------------------------------------------------------------------
    def _on_input(self, _change: Any) -> None:
        if self._syncing:
            return
        state = self._state
        try:
            params = state.params.replace(**self.values())
        except GangliosideError as exc:
            self._error = state.error = error_message(exc)
            return
        self._clear_error()
        state.params = params

    def _on_params(self, change: Mapping[str, Any]) -> None:
        self._show(change["new"])

    def _show(self, params: AnalysisParams) -> None:
        self._syncing = True
        try:
            for f in dataclasses.fields(params):
                self._inputs[f.name].value = getattr(params, f.name)
        finally:
            self._syncing = False

    def _clear_error(self) -> None:
        if self._error and self._state.error == self._error:
            self._state.error = ""
        self._error = ""
