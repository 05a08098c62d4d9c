"""Binder: repo2docker (``--no-build``: no Docker engine needed) must honour ``binder/`` -
Python 3.11, the requirements, and the executable ``postBuild`` that installs the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _repo2docker() -> str:
    exe = Path(sys.executable).with_name("repo2docker")
    if exe.exists():
        return str(exe)
    found = shutil.which("repo2docker")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("repo2docker is missing (pip install jupyter-repo2docker)", pytrace=False)
        pytest.skip("repo2docker is missing (pip install jupyter-repo2docker)")
    return found


def test_repo2docker_uses_the_binder_folder() -> None:
    done = subprocess.run([_repo2docker(), "--no-run", "--no-build", "--debug", str(ROOT)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    dockerfile = done.stdout
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    assert "./binder/postBuild" in dockerfile
    assert "python=3.11" in done.stderr or "python3.11" in dockerfile or "3.11" in dockerfile


def test_binder_files() -> None:
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert "pip install --no-cache-dir ." in post_build.read_text()
    assert "write_server_config()" in post_build.read_text()  # voila.json is not read on Binder
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    assert "voila" in requirements and "jupyterlab" in requirements
    for app in ("analyze", "history"):
        assert (ROOT / "voila_apps" / f"{app}.ipynb").exists()
