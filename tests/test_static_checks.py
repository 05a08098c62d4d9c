"""Static checks as tests, so that CI guards them: mypy (strict, the whole package, as configured
in pyproject.toml) and ruff (the lint rules of pyproject.toml over code, tests, benchmarks and
notebooks). Outside CI a missing tool skips with the reason; under CI=true it fails."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module} must be installed under CI (pip install -e '.[test]')")
        pytest.skip(f"{module} is not installed here (pip install -e '.[test]')")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_mypy_strict_passes_on_the_whole_package() -> None:
    _require("mypy")
    done = _run("mypy")  # files, strictness and exclusions: [tool.mypy] of pyproject.toml
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_ruff_passes() -> None:
    _require("ruff")
    done = _run("ruff", "check", "ganglioside_nb", "tests", "benchmarks", "notebooks", "voila_apps")
    assert done.returncode == 0, done.stdout + done.stderr
