"""Test helpers shipped with the package: table builders and hypothesis strategies."""

from __future__ import annotations

from .builders import TableBuilder, large_table

__all__ = ["TableBuilder", "large_table"]
