"""Shared test resources.

The original platform's golden outputs are copied under ``tests/data/reference`` (from
``../shared/data/reference``) so that the suite runs from any clone; the sample tables come from
the package's own data (``ganglioside_nb.datasets``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ganglioside_nb.datasets import sample_path

#: shared fixtures: databases (SQLite + Postgres) and Dask clusters
pytest_plugins = ["tests.databases", "tests.clusters"]

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = DATA / "reference"
SAMPLE = sample_path("testwork_user")
SAMPLE_5 = sample_path("testwork")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE
