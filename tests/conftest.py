"""Shared test resources: paths of the shared golden data and of the bundled samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GANGLIOSIDE_SHARED", ROOT.parent / "shared"))
REFERENCE = SHARED / "data" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"golden data missing under CI: {REFERENCE}")
        pytest.skip(f"golden data not found at {REFERENCE} (set GANGLIOSIDE_SHARED)")
    return REFERENCE
