"""Small module-level task functions for runner tests (importable by Dask workers)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..core.events import ProgressEvent

__all__ = ["nap"]


def nap(seconds: float, steps: int = 4, *, progress: Callable[[ProgressEvent], Any]) -> float:
    """Sleep ``seconds`` in ``steps`` equal steps, reporting each; returns ``seconds``."""
    start = time.perf_counter()
    for i in range(1, steps + 1):
        time.sleep(seconds / steps)
        progress(ProgressEvent(step=f"nap {i}", index=i, total=steps, fraction=i / steps,
                               message=f"slept {i}/{steps}", elapsed_s=time.perf_counter() - start))
    return seconds
