"""Progress as a pure reducer: ``state = state.apply(event)``.

Nothing here draws or waits. The widgets, the CLI bar and the tests all fold the same
:class:`~ganglioside_nb.execution.events.TaskEvent` stream through :class:`ProgressState` (one
task) or :class:`BatchState` (many), so what they show cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from .events import TaskEvent

__all__ = ["BatchState", "ProgressState"]

#: status after each event kind (``started`` and ``step`` mean the task is running).
_STATUS = {"submitted": "queued", "started": "running", "step": "running", "completed": "completed",
           "failed": "failed", "cancelled": "cancelled"}
STATUSES = ("pending", "queued", "running", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class ProgressState:
    """Where one task stands, built only from its events.

    ``attempt`` counts ``started`` events: 2 means the task was retried after its worker was
    lost. Step events of an earlier attempt arriving late are ignored; once the task is
    finished (completed, failed or cancelled) later events change nothing.
    """

    key: str | None = None
    status: str = "pending"
    fraction: float = 0.0
    step: str | None = None
    message: str = ""
    attempt: int = 0
    run: str = ""
    worker: str | None = None
    submitted_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    error_type: str | None = None
    error: str | None = None
    steps: tuple[str, ...] = ()
    log: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    @property
    def percent(self) -> int:
        return int(round(100 * self.fraction))

    @property
    def elapsed_s(self) -> float | None:
        """Seconds from the first start to the end (or to the latest event while running)."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else self._last_time
        return max(0.0, end - self.started_at)

    _last_time: float = field(default=0.0, repr=False, compare=False)

    def apply(self, event: TaskEvent) -> ProgressState:
        """The state after ``event``."""
        if self.finished or (self.key is not None and event.key != self.key):
            return self
        if event.kind == "step" and self.run and event.run != self.run:
            return self  # a late event from an attempt that was replaced by a retry
        changes: dict[str, object] = {
            "key": event.key, "status": _STATUS[event.kind], "log": (*self.log, event.describe()),
            "_last_time": max(self._last_time, event.time)}
        if event.kind == "submitted":
            changes["submitted_at"] = event.time
        elif event.kind == "started":
            retry = self.attempt > 0
            changes.update(attempt=self.attempt + 1, run=event.run, worker=event.worker,
                           fraction=0.0, steps=(), step=None,
                           message=f"retrying on {event.worker} (attempt {self.attempt + 1})" if retry
                           else event.message or f"started on {event.worker}")
            if self.started_at is None:
                changes["started_at"] = event.time
        elif event.kind == "step":
            changes.update(step=event.step, message=event.message or event.step or "",
                           steps=(*self.steps, event.step or ""),
                           fraction=min(1.0, max(self.fraction, event.fraction or 0.0)))
        else:
            changes.update(finished_at=event.time, message=event.message or event.kind,
                           error_type=event.error_type, error=event.error)
            if event.kind == "completed":
                changes["fraction"] = 1.0
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def fold(cls, events: Iterable[TaskEvent]) -> ProgressState:
        state = cls()
        for event in events:
            state = state.apply(event)
        return state


@dataclass(frozen=True)
class BatchState:
    """Many tasks at once: one :class:`ProgressState` per key, in submission order."""

    tasks: Mapping[str, ProgressState] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, keys: Iterable[str]) -> BatchState:
        return cls(MappingProxyType({k: ProgressState(key=k) for k in keys}))

    def apply(self, event: TaskEvent) -> BatchState:
        current = self.tasks.get(event.key, ProgressState(key=event.key))
        new = current.apply(event)
        if new is current:
            return self
        return BatchState(MappingProxyType({**self.tasks, event.key: new}))

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for state in self.tasks.values():
            out[state.status] += 1
        return out

    @property
    def total(self) -> int:
        return len(self.tasks)

    @property
    def n_finished(self) -> int:
        return sum(s.finished for s in self.tasks.values())

    @property
    def finished(self) -> bool:
        return self.n_finished == self.total

    @property
    def fraction(self) -> float:
        """Mean progress over the tasks (a finished task counts as 1)."""
        if not self.tasks:
            return 1.0
        return sum(1.0 if s.finished else s.fraction for s in self.tasks.values()) / self.total
