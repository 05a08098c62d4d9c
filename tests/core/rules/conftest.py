"""Fixtures for the rule tests: the working table of ALGORITHM.md built from the sample.

Until the pipeline exists, the working table is assembled here as the pipeline will: the
sample read as text, ``row`` = 0..n-1, RT/Volume/Log P as floats, ``Anchor`` = (value == 'T'),
then the name fields of :func:`ganglioside_nb.core.names.parse_names`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ganglioside_nb.core.names import parse_names
from tests.conftest import REFERENCE
from tests.conftest import SAMPLE as SAMPLE

GOLDEN_COMPOUNDS = REFERENCE / "v2_testwork_user_compounds.csv"
GOLDEN_SUMMARY = REFERENCE / "v2_testwork_user_summary.json"


def working_table(raw: pd.DataFrame) -> pd.DataFrame:
    """The working table of a text frame with the five input columns (all rows accepted)."""
    raw = raw.reset_index(drop=True)
    fields, failures = parse_names(raw["Name"])
    if failures:
        raise ValueError(f"test table names must parse. Got {failures[:3]} instead.")
    base = pd.DataFrame({
        "row": np.arange(len(raw), dtype=np.int64),
        "Name": raw["Name"].astype(str).to_numpy(dtype=object),
        "RT": raw["RT"].astype(float).to_numpy(),
        "Volume": raw["Volume"].astype(float).to_numpy(),
        "Log P": raw["Log P"].astype(float).to_numpy(),
        "Anchor": (raw["Anchor"].astype(str).str.strip() == "T").to_numpy(dtype=bool),
    })
    return pd.concat([base, fields], axis=1)


def synthetic_table(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A working table with Rule 1 columns from records with keys Name, RT and optionally
    Volume (1000), Anchor (False), status ('valid'), z (0.0), row (position)."""
    frame = pd.DataFrame({
        "Name": [r["Name"] for r in records],
        "RT": [str(r["RT"]) for r in records],
        "Volume": [str(r.get("Volume", 1000.0)) for r in records],
        "Log P": ["1.0"] * len(records),
        "Anchor": ["T" if r.get("Anchor", False) else "F" for r in records],
    }, dtype=str)
    table = working_table(frame)
    table["row"] = np.array([r.get("row", i) for i, r in enumerate(records)], dtype=np.int64)
    return with_rule1(table,
                      status=[r.get("status", "valid") for r in records],
                      z=[r.get("z", 0.0) for r in records])


def with_rule1(table: pd.DataFrame, status: Sequence[str] | None = None,
               z: Sequence[float] | None = None) -> pd.DataFrame:
    """Add synthetic Rule 1 columns (status, reason, z, ...) to a working table."""
    n = len(table)
    status_arr = np.array(["valid"] * n if status is None else list(status), dtype=object)
    z_arr = np.zeros(n) if z is None else np.asarray(z, dtype=float)
    reason = np.where(status_arr == "outlier", "Rule 1: synthetic outlier", "")
    return table.assign(status=status_arr, reason=reason.astype(object), z=z_arr,
                        predicted_rt=table["RT"].to_numpy() - z_arr * 0.05,
                        residual=z_arr * 0.05, model="synthetic")


def shuffled(table: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """The same rows (same ``row`` ids) in another order, with a fresh RangeIndex."""
    perm = np.random.default_rng(seed).permutation(len(table))
    return table.iloc[perm].reset_index(drop=True)


@pytest.fixture(scope="session")
def sample_raw() -> pd.DataFrame:
    return pd.read_csv(SAMPLE, dtype=str)


@pytest.fixture()
def sample_table(sample_raw: pd.DataFrame) -> pd.DataFrame:
    """The 323-row working table of the sample (name fields, no Rule 1 columns)."""
    return working_table(sample_raw)


@pytest.fixture(scope="session")
def golden_compounds() -> pd.DataFrame:
    return pd.read_csv(GOLDEN_COMPOUNDS, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def golden_summary() -> dict[str, Any]:
    with open(GOLDEN_SUMMARY, encoding="utf-8") as fh:
        return json.load(fh)


def names_table(names: list[str], rt: list[float], status: list[str] | None = None) -> pd.DataFrame:
    """A minimal working table: row, Name, RT, the name fields and optionally ``status``."""
    fields, failures = parse_names(pd.Series(names, dtype=object))
    assert not failures, failures
    base = pd.DataFrame({"row": np.arange(len(names), dtype=np.int64),
                         "Name": pd.Series(names, dtype=object), "RT": np.asarray(rt, float)})
    table = pd.concat([base, fields], axis=1)
    if status is not None:
        table["status"] = pd.Series(status, dtype=object)
    return table


@functools.lru_cache(maxsize=1)
def sample_names_table() -> pd.DataFrame:
    """``names_table`` of the 323-row sample."""
    raw = pd.read_csv(SAMPLE, dtype=str)
    return names_table(raw["Name"].tolist(), raw["RT"].astype(float).tolist())
