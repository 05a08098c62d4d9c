"""One task's event stream: replayable, thread-safe, consumed by iterators and callbacks.

Events are pushed by whichever thread receives them (the Dask client's event loop, a
future's done-callback thread, a local worker thread) and handed to every consumer:

* ``for event in stream`` blocks on a queue until the next event (no sleeping loops);
* ``async for event in stream`` is fed through ``loop.call_soon_threadsafe`` of the consumer's
  own event loop, so widget code iterating it runs on the kernel loop;
* ``stream.subscribe(callback)`` calls ``callback(event)`` in the pushing thread (keep it quick).

Every consumer first receives the events already seen, then the new ones, and stops after the
terminal event. Duplicates (a replay from the scheduler overlapping the live feed) are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator

from .events import TaskEvent
from .progress import ProgressState

__all__ = ["EventStream"]

logger = logging.getLogger(__name__)

EventCallback = Callable[[TaskEvent], object]


class EventStream:
    """Ordered, de-duplicated events of one task key."""

    def __init__(self, key: str) -> None:
        self.key = key
        # re-entrant, and held while delivering, so every consumer sees pushes in one order
        # even when two threads push at once (callbacks must therefore be quick)
        self._lock = threading.RLock()
        self._events: list[TaskEvent] = []
        self._seen: set[tuple[str, int, str]] = set()
        self._sinks: list[EventCallback] = []
        self._state = ProgressState(key=key)
        self._folded = 0  # events already folded into _state (folded when asked, not per push)
        self._ended = False  # the terminal event was pushed (no more pushes accepted)
        self._terminal = threading.Event()  # ... and every consumer has been handed it

    def __repr__(self) -> str:
        return f"EventStream({self.key!r}, {len(self._events)} events, {self.state.status})"

    # -- producer side -------------------------------------------------------------------------
    def push(self, event: TaskEvent) -> bool:
        """Record and deliver ``event``; False if it was a duplicate or came after the end."""
        with self._lock:
            if self._ended or event.ident in self._seen:
                return False
            self._seen.add(event.ident)
            self._events.append(event)
            sinks = list(self._sinks)
            if event.terminal:
                self._ended = True
                self._sinks.clear()
            for sink in sinks:
                try:
                    sink(event)
                except Exception:  # one broken consumer must not starve the others
                    logger.exception("event consumer failed on %s", event)
            if event.terminal:
                self._terminal.set()
        return True

    # -- consumer side -------------------------------------------------------------------------
    @property
    def events(self) -> tuple[TaskEvent, ...]:
        with self._lock:
            return tuple(self._events)

    @property
    def state(self) -> ProgressState:
        """The events folded into a :class:`ProgressState` (only those new since the last ask
        are folded: most jobs of a batch are never asked)."""
        with self._lock:
            for event in self._events[self._folded:]:
                self._state = self._state.apply(event)
            self._folded = len(self._events)
            return self._state

    @property
    def done(self) -> bool:
        return self._ended

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every consumer was handed the terminal event (True), or the timeout
        (False); callbacks subscribed before it (such as the one storing a session's end)
        have returned by then."""
        return self._terminal.wait(timeout)

    def _attach(self, sink: EventCallback) -> list[TaskEvent]:
        """Register ``sink`` for future events; return the past ones (atomically)."""
        with self._lock:
            if not self._ended:
                self._sinks.append(sink)
            return list(self._events)

    def _detach(self, sink: EventCallback) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    def subscribe(self, callback: EventCallback, *, replay: bool = True) -> Callable[[], None]:
        """Call ``callback(event)`` for each event (past ones first if ``replay``).

        The callback runs in the thread that pushes the event; return value is ignored. Returns a
        function that unsubscribes.
        """
        with self._lock:  # replay under the lock: a concurrent push waits until it is done
            past = self._attach(callback)
            if replay:
                for event in past:
                    callback(event)
        return lambda: self._detach(callback)

    def __iter__(self) -> Iterator[TaskEvent]:
        inbox: queue.SimpleQueue[TaskEvent] = queue.SimpleQueue()
        past = self._attach(inbox.put)
        try:
            for event in past:
                yield event
                if event.terminal:
                    return
            while True:
                event = inbox.get()
                yield event
                if event.terminal:
                    return
        finally:
            self._detach(inbox.put)

    async def __aiter__(self) -> AsyncIterator[TaskEvent]:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[TaskEvent] = asyncio.Queue()

        def sink(event: TaskEvent) -> None:
            try:
                loop.call_soon_threadsafe(inbox.put_nowait, event)
            except RuntimeError:  # the consumer's loop is closed: it no longer listens
                self._detach(sink)

        past = self._attach(sink)
        try:
            for event in past:
                yield event
                if event.terminal:
                    return
            while True:
                event = await inbox.get()
                yield event
                if event.terminal:
                    return
        finally:
            self._detach(sink)
