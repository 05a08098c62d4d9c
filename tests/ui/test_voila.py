"""The served app notebooks and Voila settings: ``voila_apps/`` is exactly what
``ganglioside-nb app`` writes, and the settings carry what the apps need."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from ganglioside_nb.ui.voila import APPS, VOILA_CONFIG, write_apps

ROOT = Path(__file__).resolve().parents[2]


def test_voila_apps_folder_is_what_the_command_serves(tmp_path: Path) -> None:
    for written in write_apps(tmp_path):
        committed = ROOT / "voila_apps" / written.name
        assert committed.read_text(encoding="utf-8") == written.read_text(encoding="utf-8"), (
            f"voila_apps/{written.name} differs: run "
            "python -c 'from pathlib import Path; from ganglioside_nb.ui.voila import write_apps; "
            "write_apps(Path(\"voila_apps\"))'")


def test_app_notebooks_are_two_cells_an_import_and_a_display() -> None:
    for name, (_, cls) in APPS.items():
        nb = nbformat.read(ROOT / "voila_apps" / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        assert [c.source for c in nb.cells] == [f"from ganglioside_nb.ui.apps import {cls}",
                                                f"{cls}.from_environment().show()"]


def test_voila_settings_allow_50_mb_uploads_hide_tracebacks_and_cull() -> None:
    config = json.loads((ROOT / "voila_apps" / "voila.json").read_text())
    assert config == VOILA_CONFIG
    assert config["Voila"]["tornado_settings"]["websocket_max_message_size"] > 50 * 2**20 * 4 / 3  # base64
    assert config["VoilaConfiguration"]["show_tracebacks"] is False
    assert config["MappingKernelManager"]["cull_idle_timeout"] > 0


def test_server_extension_config_carries_the_same_settings(tmp_path: Path) -> None:
    from ganglioside_nb.ui.voila import write_server_config

    (tmp_path / "jupyter_server_config.json").write_text('{"ServerApp": {"port": 9999}}')
    written = json.loads(write_server_config(tmp_path).read_text())
    assert written["ServerApp"]["port"] == 9999  # merged, not replaced
    assert written["ServerApp"]["tornado_settings"] == VOILA_CONFIG["Voila"]["tornado_settings"]
    assert written["VoilaConfiguration"]["show_tracebacks"] is False
    assert written["MappingKernelManager"] == VOILA_CONFIG["MappingKernelManager"]
