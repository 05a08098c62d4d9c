"""Exports of a stored session carry params, version and sha256, and are audited (FEATURES.md E4)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

import ganglioside_nb as gnb
from ganglioside_nb.errors import InvalidParameterError, InvalidTransitionError
from ganglioside_nb.io.export import read_csv_export
from ganglioside_nb.persistence import Repository

from .conftest import SAMPLE_5


def test_exports_carry_provenance_and_are_audited(repo: Repository, completed: int,
                                                  small_result) -> None:
    info = repo.get_session(completed)
    params = small_result.params.to_dict()

    csv_bytes = repo.export(completed, "csv")
    frame, meta = read_csv_export(csv_bytes)
    assert meta["version"] == gnb.__version__ and meta["input_sha256"] == info.input_sha256
    assert meta["params"] == params
    assert frame["row"].tolist() == list(range(5))

    sheets = pd.read_excel(io.BytesIO(repo.export(completed, "XLSX")), sheet_name=None)
    parameters = sheets["parameters"].astype(str)
    text = " ".join(parameters.to_numpy().ravel())
    assert info.input_sha256 in text and gnb.__version__ in text and "rt_tolerance" in text
    assert len(sheets["compounds"]) == 5

    document = json.loads(repo.export(completed, ".json"))
    assert (document["version"], document["input_sha256"]) == (gnb.__version__, info.input_sha256)
    assert document["parameters"] == params and len(document["compounds"]) == 5

    exported = [e for e in repo.audit_log(completed) if e.action == "exported"]
    assert [e.details["format"] for e in exported] == ["csv", "xlsx", "json"]
    assert all(e.actor == repo.owner and e.details["bytes"] > 0 for e in exported)
    assert csv_bytes == small_result.to_csv()  # the stored result exports like the original


def test_record_export_and_bad_exports(repo: Repository, completed: int) -> None:
    repo.record_export(completed, "png", figure="rt_vs_logp")
    assert repo.audit_log(completed)[-1].details == {"format": "png", "figure": "rt_vs_logp"}
    with pytest.raises(InvalidParameterError, match="export format must be one of csv, xlsx, json"):
        repo.export(completed, "pdf")
    pending = repo.create_session(SAMPLE_5)
    with pytest.raises(InvalidTransitionError, match="must be completed to load its result"):
        repo.export(pending, "json")
    assert [e.action for e in repo.audit_log(pending)] == ["created"]
