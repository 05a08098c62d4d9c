"""ganglioside_nb: judge ganglioside annotations against retention-time models and chemistry rules."""

from __future__ import annotations

__version__ = "0.1.0"
