"""The application state: one traitlets object, no widgets.

Views link their inputs one way into an :class:`AppState` and observe it to redraw; handlers
read the state, call one api or core function and assign the outcome. Every view of one app
shares the same state object, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import traitlets as t

from ..core.results import AnalysisResult, InputReport
from ..execution.progress import ProgressState
from ..params import AnalysisParams

__all__ = ["RUN_STATUSES", "AppState"]

#: ``idle`` (nothing loaded), ``ready`` (an input passed the file checks), then the run's
#: statuses: ``queued``, ``running``, ``completed``, ``failed``, ``cancelled``.
RUN_STATUSES = ("idle", "ready", "queued", "running", "completed", "failed", "cancelled")


class AppState(t.HasTraits):
    """Everything one analysis app shows.

    Input: ``source`` (the uploaded bytes), ``filename``, ``preview`` (the validated table,
    one row per input row, ``rejected`` marking dropped rows) and ``input_report``.
    Settings: ``params`` (always a valid :class:`AnalysisParams`) and ``session_name``.
    Run: ``status``, ``progress`` (the folded event stream), ``session_id``, ``result``.
    ``error`` holds the one-line message of the last failure ('' when none); ``notice`` a
    one-line success or information message.
    """

    source = t.Bytes(None, allow_none=True)
    filename = t.Unicode(None, allow_none=True)
    preview = t.Instance(pd.DataFrame, allow_none=True)
    input_report = t.Instance(InputReport, allow_none=True)

    params = t.Instance(AnalysisParams, kw={})
    session_name = t.Unicode("")

    status = t.Enum(RUN_STATUSES, default_value="idle")
    progress = t.Instance(ProgressState, kw={})
    session_id = t.Int(None, allow_none=True)
    result = t.Instance(AnalysisResult, allow_none=True)
    dashboard_link = t.Unicode("")

    error = t.Unicode("")
    notice = t.Unicode("")

    def clear_input(self) -> None:
        """Forget the input and everything derived from it (the parameters stay)."""
        with self.hold_trait_notifications():
            self.source = None  # type: ignore[assignment]  # traitlets types Bytes as never None
            self.filename = None
            self.preview = None
            self.input_report = None
            self.clear_run()

    def clear_run(self) -> None:
        """Forget the last run (back to ``ready`` if an input is loaded)."""
        with self.hold_trait_notifications():
            self.progress = ProgressState()
            self.session_id = None
            self.result = None
            self.error = ""
            self.status = "ready" if self.source is not None else "idle"

    def __repr__(self) -> str:
        parts: list[Any] = [self.status]
        if self.filename:
            parts.append(self.filename)
        if self.session_id is not None:
            parts.append(f"session {self.session_id}")
        return f"<AppState {' '.join(map(str, parts))}>"
