"""One error boundary for every widget handler (STYLE.md §9).

``@catch_errors(state)`` turns a :class:`~ganglioside_nb.errors.GangliosideError` into the
state's one-line ``error`` (shown by the views as an alert); anything else is logged with its
traceback and shown as one "internal error" line. Works on plain handlers and on coroutines
(the run coroutines scheduled on the kernel's loop).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import GangliosideError

__all__ = ["catch_errors", "error_message"]

logger = logging.getLogger("ganglioside_nb.ui")
F = TypeVar("F", bound=Callable[..., Any])


def error_message(exc: BaseException) -> str:
    """The one line a user sees for ``exc``."""
    text = " ".join(str(exc).split())
    if isinstance(exc, GangliosideError):
        return text or type(exc).__name__
    name = type(exc).__name__
    return f"internal error: {name}: {text}" if text else f"internal error: {name}"


def catch_errors(state: Any) -> Callable[[F], F]:
    """Decorator: failures of the wrapped handler end up in ``state.error``, never raised."""

    def report(exc: BaseException) -> None:
        if not isinstance(exc, GangliosideError):
            logger.error("unexpected error in a widget handler", exc_info=exc)
        state.error = error_message(exc)

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except Exception as exc:
                    report(exc)
                    return None
            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                report(exc)
                return None
        return run  # type: ignore[return-value]

    return decorate
