"""Result fixtures of the persistence tests; the database fixtures (SQLite and Postgres) come
from ``tests/databases.py``."""

from __future__ import annotations

import pytest

import ganglioside_nb as gnb
from ganglioside_nb.core.results import AnalysisResult
from ganglioside_nb.persistence import Repository
from tests.databases import (  # noqa: F401  (re-exported for the test modules)
    BACKENDS,
    count_rows,
    drop_postgres_database,
    fresh_postgres_database,
)

SAMPLE = gnb.datasets.sample_path("testwork_user")
SAMPLE_5 = gnb.datasets.sample_path("testwork")


@pytest.fixture(scope="session")
def structural_result() -> AnalysisResult:
    return gnb.analyze(SAMPLE)


@pytest.fixture(scope="session")
def reference_result() -> AnalysisResult:
    return gnb.analyze(SAMPLE, mode="reference")


@pytest.fixture(scope="session")
def small_result() -> AnalysisResult:
    return gnb.analyze(SAMPLE_5)


@pytest.fixture
def completed(repo: Repository, small_result: AnalysisResult) -> int:
    """A completed session of the 5-row sample."""
    session_id = repo.create_session(SAMPLE_5, name="five rows")
    repo.save_result(session_id, small_result)
    return session_id
