"""Task events: what a running task reports, in a form every transport can carry.

A :class:`TaskEvent` is a frozen record whose ``to_dict`` is msgpack-safe (plain str, int,
float, None), so the Dask runner can publish it as a worker event and the local runner can hand
it over directly. Nothing here knows how events travel.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Final

__all__ = ["KINDS", "TERMINAL_KINDS", "TaskEvent"]

#: ``submitted`` (client side, before the task runs), ``started`` (a worker took it; a second
#: one means a retry after a lost worker), ``step`` (a finished step, with its fraction),
#: then exactly one terminal kind.
KINDS: Final = ("submitted", "started", "step", "completed", "failed", "cancelled")
TERMINAL_KINDS: Final = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class TaskEvent:
    """One thing that happened to a task.

    Attributes
    ----------
    key : the task key (one event channel per key).
    kind : one of :data:`KINDS`.
    seq : order within one run of the task (``run``); restarts at 0 on a retry.
    time : Unix time at which it happened, on the machine that emitted it.
    step, index, total : the pipeline step, for ``step`` events.
    fraction : share of the work done (0-1), when known.
    message : one human-readable line.
    worker : address of the worker that ran it (None for client-side events).
    run : identifies one attempt; events of a retried attempt carry a new ``run``.
    error_type, error : the exception class name and one-line message, for ``failed``.
    """

    key: str
    kind: str
    seq: int = 0
    time: float = 0.0
    step: str | None = None
    index: int | None = None
    total: int | None = None
    fraction: float | None = None
    message: str = ""
    worker: str | None = None
    run: str = ""
    error_type: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}. Got {self.kind!r} instead.")

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS

    @property
    def ident(self) -> tuple[str, int, str]:
        """Identity used to drop duplicates when a stream is replayed and then followed."""
        return (self.run, self.seq, self.kind)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskEvent:
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})

    @classmethod
    def now(cls, key: str, kind: str, **values: Any) -> TaskEvent:
        return cls(key=key, kind=kind, time=time.time(), **values)

    def describe(self) -> str:
        """One log line: ``HH:MM:SS  kind  message``."""
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time)) if self.time else "--:--:--"
        text = self.message or self.step or ""
        if self.kind == "failed" and self.error:
            text = f"{self.error_type}: {self.error}" if self.error_type else self.error
        return f"{stamp}  {self.kind:<9} {' '.join(text.split())}".rstrip()


_FIELDS: Final = frozenset(f.name for f in fields(TaskEvent))
