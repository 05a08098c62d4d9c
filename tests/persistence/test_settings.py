"""settings: database URL, owner and admins from the environment (FEATURES.md Configuration)."""

from __future__ import annotations

import getpass
import subprocess
import sys
from pathlib import Path

import pytest

from ganglioside_nb import settings


def test_database_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    default = f"sqlite:///{tmp_path / 'ganglioside_nb' / 'ganglioside_nb.sqlite3'}"
    assert settings.database_url() == settings.default_database_url() == default
    monkeypatch.setenv("DATABASE_URL", "  ")
    assert settings.database_url() == default  # blank counts as unset
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://u@h/db")
    assert settings.database_url() == "postgresql+psycopg2://u@h/db"
    assert settings.database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_owner_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.delenv("GANGLIOSIDE_NB_OWNER", raising=False)
    assert settings.current_owner() == getpass.getuser()
    monkeypatch.setenv("GANGLIOSIDE_NB_OWNER", " lab-pc ")
    assert settings.current_owner() == "lab-pc"
    monkeypatch.setenv("JUPYTERHUB_USER", "ana")
    assert settings.current_owner() == "ana"


def test_admins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANGLIOSIDE_NB_ADMINS", "ana, bo\tcy,,")
    assert settings.admins() == frozenset({"ana", "bo", "cy"})
    assert settings.is_admin("bo") and not settings.is_admin("dee")
    monkeypatch.delenv("GANGLIOSIDE_NB_ADMINS")
    assert settings.admins() == frozenset()


def test_upload_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganglioside_nb.errors import InvalidParameterError

    monkeypatch.delenv("GANGLIOSIDE_NB_MAX_UPLOAD_MB", raising=False)
    monkeypatch.delenv("GANGLIOSIDE_NB_MAX_ROWS", raising=False)
    assert settings.max_upload_bytes() is None and settings.max_upload_rows() is None
    monkeypatch.setenv("GANGLIOSIDE_NB_MAX_UPLOAD_MB", " 2.5 ")
    monkeypatch.setenv("GANGLIOSIDE_NB_MAX_ROWS", "10000")
    assert settings.max_upload_bytes() == 2_621_440 and settings.max_upload_rows() == 10_000
    for name, bad, kind in (("GANGLIOSIDE_NB_MAX_UPLOAD_MB", "lots", "a number >= 1"),
                            ("GANGLIOSIDE_NB_MAX_UPLOAD_MB", "0.5", "a number >= 1"),
                            ("GANGLIOSIDE_NB_MAX_UPLOAD_MB", "nan", "a number >= 1"),
                            ("GANGLIOSIDE_NB_MAX_ROWS", "1e4", "an integer >= 1"),
                            ("GANGLIOSIDE_NB_MAX_ROWS", "0", "an integer >= 1")):
        monkeypatch.setenv(name, bad)
        read = settings.max_upload_bytes if name.endswith("MB") else settings.max_upload_rows
        with pytest.raises(InvalidParameterError, match=f"{name} must be {kind}. Got '{bad}' instead"):
            read()
        monkeypatch.setenv(name, "3")


def test_settings_imports_only_the_standard_library() -> None:
    code = ("import sys; import ganglioside_nb.settings; "
            "print(','.join(m for m in ('platformdirs', 'sqlalchemy', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
