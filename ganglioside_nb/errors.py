"""Typed errors of ganglioside_nb.

Every error subclasses :class:`GangliosideError` and the standard-library type callers already
catch (``ValueError``, ``LookupError``). Messages follow one shape: "X must be Y. Got Z instead.",
naming the file, row and column whenever they are known.

Every class pickles (Dask ships worker exceptions back to the client): all state is passed to
``BaseException.__init__`` through ``__reduce__``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DatabaseUnavailableError",
    "EmptyAnalysisError",
    "GangliosideError",
    "InputFormatError",
    "InvalidParameterError",
    "InvalidTransitionError",
    "NameParseError",
    "NotFittedError",
    "SchedulerUnavailableError",
    "SessionNotFoundError",
    "TaskCancelledError",
    "TaskFailedError",
]


class GangliosideError(Exception):
    """Base class of every error raised on purpose by ganglioside_nb."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[GangliosideError], message: str, details: dict[str, Any]) -> GangliosideError:
    obj = cls.__new__(cls)
    GangliosideError.__init__(obj, message, **details)
    return obj


class InvalidParameterError(GangliosideError, ValueError, TypeError):
    """A parameter is unknown, of the wrong type or outside its allowed range."""


class InputFormatError(GangliosideError, ValueError):
    """The input file or table cannot be analysed at all (one line says why).

    ``details`` may hold ``filename``, ``check`` and, when every row was rejected,
    ``input_report`` (a list of records).
    """

    @property
    def input_report(self) -> list[dict[str, Any]]:
        return list(self.details.get("input_report", []))


class EmptyAnalysisError(InputFormatError):
    """Every data row was rejected; ``input_report`` says why for each."""


class NameParseError(GangliosideError, ValueError):
    """A ganglioside name does not follow the grammar of ALGORITHM.md §3."""


class NotFittedError(GangliosideError, ValueError, AttributeError):
    """An estimator was used before ``fit``."""


class SessionNotFoundError(GangliosideError, LookupError):
    """No analysis session with that id exists for this owner."""


class InvalidTransitionError(GangliosideError, ValueError):
    """An analysis session cannot move to the requested state."""


class DatabaseUnavailableError(GangliosideError, ConnectionError):
    """The database cannot be reached."""


class SchedulerUnavailableError(GangliosideError, ConnectionError):
    """The Dask scheduler cannot be reached."""


class TaskFailedError(GangliosideError, RuntimeError):
    """A background task ended without a result: its worker was lost (after the bounded
    retries), it was cancelled, or the scheduler forgot it."""


class TaskCancelledError(TaskFailedError):
    """A running task noticed at a progress step that it was cancelled and stopped there."""
