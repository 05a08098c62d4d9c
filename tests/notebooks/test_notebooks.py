"""Every notebook of ``notebooks/`` and ``voila_apps/`` runs top to bottom in a real kernel
(nbclient), on the bundled data and a fresh SQLite database; teaching notebooks start the
kernel's own local Dask cluster, the app notebooks connect to the test session's cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
APPS = sorted((ROOT / "voila_apps").glob("*.ipynb"))


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr" \
                    and "error:" in out.get("text", ""):
                found.append(f"cell {i}: {out['text'].strip()}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'notebook.sqlite3'}")
    monkeypatch.setenv("GANGLIOSIDE_NB_OWNER", "notebook-test")
    monkeypatch.delenv("GANGLIOSIDE_DASK_ADDRESS", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(cwd=str(path.parent), env=dict(os.environ))
    assert _errors(nb) == []
    assert all(cell.get("execution_count") for cell in nb.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", APPS, ids=[p.stem for p in APPS])
def test_app_notebook_runs_and_renders_the_app(path: Path, tmp_path: Path, dask_client: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.sqlite3'}")
    monkeypatch.setenv("GANGLIOSIDE_NB_OWNER", "notebook-test")
    monkeypatch.setenv("GANGLIOSIDE_DASK_ADDRESS", dask_client.scheduler.address)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(cwd=str(path.parent), env=dict(os.environ))
    assert _errors(nb) == []
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    values = [str(w.get("state", {}).get("value", "")) for w in state.values()]
    assert any("gnb-ready-marker" in v for v in values)  # the app's last step ran
    classes = {c for w in state.values() for c in w.get("state", {}).get("_dom_classes", [])}
    assert f"gnb-{path.stem}-app" in classes


def test_notebooks_are_stored_without_outputs() -> None:
    for path in [*NOTEBOOKS, *APPS]:
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in nb.cells if c.cell_type == "code"), path.name
