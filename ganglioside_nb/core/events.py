"""Progress events emitted by the pipeline (plain, picklable dataclasses).

The pipeline calls ``progress(event)`` once per step: reading, validating, each rule, assembling.
Later layers (Dask runner, widgets, CLI bar) forward or fold these events; they carry no logic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ProgressEvent"]


@dataclass(frozen=True)
class ProgressEvent:
    """One finished step: ``fraction`` of the whole analysis done after it (0-1)."""

    step: str
    index: int
    total: int
    fraction: float
    message: str
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
