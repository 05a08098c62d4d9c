"""Bundled sample tables (package data, so nothing depends on the repository's folders).

* ``testwork_user``: the original platform's real porcine sample, 323 rows, 49 anchors, 29 prefixes.
* ``testwork``: its 5-row file, with the UTF-8 byte-order mark kept on purpose.

Synthetic tables with planted errors come from :class:`ganglioside_nb.testing.TableBuilder`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["list_samples", "load_sample", "sample_bytes", "sample_path"]

_SAMPLES = {
    "testwork_user": "Real porcine sample: 323 rows, 49 anchors, 29 prefixes (the main sample).",
    "testwork": "5 rows, one per prefix, UTF-8 byte-order mark.",
}


def list_samples() -> dict[str, str]:
    """Sample name -> description."""
    return dict(_SAMPLES)


def sample_path(name: str = "testwork_user") -> Path:
    """Path of a bundled sample CSV."""
    if name not in _SAMPLES:
        raise KeyError(f"Sample name must be one of {', '.join(_SAMPLES)}. Got {name!r} instead.")
    return Path(str(resources.files(__package__).joinpath(f"{name}.csv")))


def sample_bytes(name: str = "testwork_user") -> bytes:
    """The exact bytes of a bundled sample (what its sha256 is computed on)."""
    return sample_path(name).read_bytes()


def load_sample(name: str = "testwork_user") -> pd.DataFrame:
    """A bundled sample as a DataFrame of text cells, exactly as written in the file."""
    return pd.read_csv(sample_path(name), dtype=str, keep_default_na=False, encoding="utf-8-sig")
