"""``python -m ganglioside_nb``: the command line of :mod:`ganglioside_nb.cli`."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
