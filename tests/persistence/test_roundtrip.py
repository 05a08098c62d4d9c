"""load_result(save_result(r)) equals r, on SQLite and Postgres (STYLE.md practice 12)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import ganglioside_nb as gnb
from ganglioside_nb.core.results import AnalysisResult
from ganglioside_nb.persistence import Repository

from .conftest import SAMPLE, SAMPLE_5, count_rows


def _differences(a: AnalysisResult, b: AnalysisResult) -> list[str]:
    """What differs, for a readable assertion message."""
    return [*a.differences(b), *(["provenance"] if a.provenance != b.provenance else [])]


@pytest.mark.parametrize("mode", ["structural", "reference"])
def test_sample_round_trip_is_exact(repo: Repository, engine, mode: str,
                                    structural_result, reference_result) -> None:
    result = structural_result if mode == "structural" else reference_result
    session_id = repo.create_session(SAMPLE, name=f"sample {mode}", params=result.params)
    info = repo.save_result(session_id, result)
    loaded = repo.load_result(session_id)

    assert info.status == "completed" and info.finished_at is not None
    assert count_rows(engine, "compound", session_id) == 323
    assert count_rows(engine, "analysis_model", session_id) == len(result.models)
    assert loaded.equals(result), _differences(loaded, result)
    # column order and dtypes, and the mapping key order of statistics and coefficients
    assert list(loaded.compounds.columns) == list(result.compounds.columns)
    assert loaded.compounds.dtypes.equals(result.compounds.dtypes)
    assert list(loaded.statistics) == list(result.statistics)
    assert [list(c) for c in loaded.models["coefficients"].dropna()] == [
        list(c) for c in result.models["coefficients"].dropna()]
    # hence the exports of the stored result are byte for byte those of the original
    assert loaded.to_json() == result.to_json()
    assert loaded.to_csv() == result.to_csv()
    assert loaded.to_xlsx() == result.to_xlsx()


def test_session_records_the_result_provenance(repo: Repository, reference_result) -> None:
    session_id = repo.create_session(SAMPLE)  # created with the default (structural) params
    info = repo.save_result(session_id, reference_result)
    assert info.params == reference_result.params.to_dict()
    assert info.mode == "reference"
    assert info.package_version == gnb.__version__
    assert info.input_sha256 == reference_result.input_sha256
    assert info.environment["libraries"] == reference_result.provenance["libraries"]


def test_awkward_values_and_carried_through_columns_round_trip(repo: Repository) -> None:
    """Text with tabs, newlines, backslashes, a literal \\N, '' vs missing, unicode; floats with
    NaN, inf, -0.0, 1e22; a rejected row; extra input columns (stored in the JSON column)."""
    table = pd.read_csv(SAMPLE).head(40)
    table["Sample ID"] = ["a\tb", "c\nd", "back\\slash", "\\N", "", None, "ünï ✓", "=1+2"] * 5
    table["batch"] = np.arange(40)
    table["weight"] = [0.1, np.nan, np.inf, -0.0, 1e22, -1e-300, 2.5, -np.inf] * 5
    table.loc[3, "Name"] = "not\ta name\\"
    result = gnb.analyze(table)
    assert {"Sample ID", "batch", "weight"} <= set(result.compounds.columns)
    assert result.compounds.loc[3, "status"] == "rejected"

    session_id = repo.create_session(table, name="awkward")
    repo.save_result(session_id, result)
    loaded = repo.load_result(session_id)

    assert loaded.equals(result), _differences(loaded, result)
    got = loaded.compounds
    assert got["Sample ID"].iloc[:8].tolist()[:5] == ["a\tb", "c\nd", "back\\slash", "\\N", ""]
    assert pd.isna(got["Sample ID"].iloc[5])
    assert np.signbit(got["weight"].iloc[3]) and got["weight"].iloc[4] == 1e22
    assert loaded.to_csv() == result.to_csv()


def test_odd_dtypes_round_trip(repo: Repository, small_result) -> None:
    """Columns the schema has no typed column for, and typed names with another dtype."""
    compounds = small_result.compounds.copy()
    n = len(compounds)
    compounds["maybe_int"] = pd.array([1, None, 3, None, 2**40][:n], dtype="Int64")
    compounds["maybe_bool"] = pd.array([True, None, False, True, None][:n], dtype="boolean")
    compounds["when"] = pd.to_datetime(["2026-01-02", None, "2026-03-04", "2026-05-06", None][:n])
    compounds["payload"] = pd.Series([{"b": 1, "a": [1, 2]}, None, (1, 2), [], {"z": {"y": 1.5}}][:n],
                                     dtype=object)
    compounds["big"] = np.array([2**40, -(2**40), 0, 1, 2][:n], dtype=np.int64)
    compounds["sugar_count"] = compounds["sugar_count"].astype("float64")  # not the typed int column
    result = dataclasses.replace(small_result, compounds=compounds)

    session_id = repo.create_session(SAMPLE_5)
    repo.save_result(session_id, result)
    loaded = repo.load_result(session_id)

    assert loaded.equals(result), _differences(loaded, result)
    assert loaded.compounds.dtypes.equals(result.compounds.dtypes)
    assert list(loaded.compounds["payload"].iloc[0]) == ["b", "a"]  # key order kept
    assert loaded.compounds["payload"].iloc[2] == (1, 2)


def test_rows_out_of_input_order_come_back_in_the_saved_order(repo: Repository, small_result) -> None:
    shuffled = small_result.compounds.iloc[[3, 0, 4, 1, 2]].reset_index(drop=True)
    result = dataclasses.replace(small_result, compounds=shuffled)
    session_id = repo.create_session(SAMPLE_5)
    repo.save_result(session_id, result)
    assert repo.load_result(session_id).compounds["row"].tolist() == shuffled["row"].tolist()


def test_input_bytes_are_stored_exactly(repo: Repository) -> None:
    raw = SAMPLE_5.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM is kept on purpose
    session_id = repo.create_session(raw, filename="testwork.csv")
    assert repo.load_input(session_id) == raw
