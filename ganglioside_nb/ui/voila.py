"""What ``ganglioside-nb app`` serves: the two app notebooks and Voila's configuration.

The notebooks are two cells each (an import, a display; the app draws its own header);
:func:`write_apps` writes them with ``voila.json`` into a folder. ``voila_apps/`` in the
repository holds the same files (a test keeps them identical), so ``voila voila_apps/`` and
Binder's ``urlpath=voila/render/...`` serve exactly what the command serves.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["APPS", "VOILA_CONFIG", "app_notebook", "server_config", "wait_until_serving", "write_apps",
           "write_server_config"]

#: app name -> (title, class in ganglioside_nb.ui.apps)
APPS = {"analyze": ("Analyze gangliosides", "AnalyzeApp"),
        "history": ("Analysis history", "HistoryApp")}

#: Voila settings: websocket messages up to 200 MB (50 MB uploads arrive; tornado's default of
#: 10 MB drops them without a word), tracebacks hidden (errors are shown in the app), idle
#: kernels culled after 30 min (their analyses go on: the workers store the results), cells
#: bounded to 2 min (an app cell only builds widgets), kernels started within 60 s.
VOILA_CONFIG: dict[str, Any] = {
    "Voila": {"tornado_settings": {"websocket_max_message_size": 209_715_200}},
    "VoilaConfiguration": {"show_tracebacks": False},
    "VoilaExecutor": {"timeout": 120, "startup_timeout": 60},
    "MappingKernelManager": {"cull_idle_timeout": 1800, "cull_interval": 60,
                             "cull_connected": False},
}


def app_notebook(name: str) -> dict[str, Any]:
    """The notebook (nbformat 4 JSON) of one app."""
    _, cls = APPS[name]
    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": [f"from ganglioside_nb.ui.apps import {cls}"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": [f"{cls}.from_environment().show()"]},
    ]
    return {"cells": cells, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def _dump(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def write_apps(folder: Path) -> list[Path]:
    """Write ``analyze.ipynb``, ``history.ipynb`` and ``voila.json`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in APPS:
        nb = app_notebook(name)
        for i, cell in enumerate(nb["cells"]):
            cell["id"] = f"{name}-{i}"
        path = folder / f"{name}.ipynb"
        path.write_text(_dump(nb), encoding="utf-8")
        written.append(path)
    config = folder / "voila.json"
    config.write_text(_dump(VOILA_CONFIG), encoding="utf-8")
    return [*written, config]


def server_config() -> dict[str, Any]:
    """The same settings for Voila running as a Jupyter server extension (Binder, JupyterHub):
    there ``voila.json`` is not read, and the websocket limit belongs to the server."""
    return {"ServerApp": {"tornado_settings": dict(VOILA_CONFIG["Voila"]["tornado_settings"])},
            "VoilaConfiguration": dict(VOILA_CONFIG["VoilaConfiguration"]),
            "VoilaExecutor": dict(VOILA_CONFIG["VoilaExecutor"]),
            "MappingKernelManager": dict(VOILA_CONFIG["MappingKernelManager"])}


def write_server_config(folder: Path | None = None) -> Path:
    """Write ``jupyter_server_config.json`` into ``folder`` (default ``~/.jupyter``), merged
    into what is there already."""
    folder = folder if folder is not None else Path.home() / ".jupyter"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "jupyter_server_config.json"
    current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for section, values in server_config().items():
        current.setdefault(section, {}).update(values)
    path.write_text(_dump(current), encoding="utf-8")
    return path


def wait_until_serving(url: str, process: subprocess.Popen[Any] | None = None, *,
                       timeout: float = 120.0) -> bool:
    """Wait until ``url`` answers HTTP (any status counts). Returns False as soon as
    ``process`` has exited; raises TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            return False
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:g} s") from None
            time.sleep(0.2)
