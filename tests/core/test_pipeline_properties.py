"""Property tests of the whole pipeline: valid tables never raise, every row gets one status."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ganglioside_nb as gnb
from ganglioside_nb.testing import TableBuilder
from ganglioside_nb.testing.strategies import csv_bytes

STATUSES = {"valid", "outlier", "fragment", "rejected"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy=csv_bytes(min_rows=1, max_rows=15), mode=st.sampled_from(["structural", "reference"]))
def test_messy_valid_csv_analyses_with_one_status_per_row(messy, mode):
    r = gnb.analyze(messy.data, filename="messy.csv", mode=mode)
    c = r.compounds
    assert len(c) == messy.n_rows
    assert c["row"].tolist() == list(range(messy.n_rows))
    assert set(c["status"]) <= STATUSES
    assert (c["status"] != "rejected").all()
    np.testing.assert_array_equal(c["RT"].to_numpy(), np.array(messy.rt))
    np.testing.assert_array_equal(c["Log P"].to_numpy(), np.array(messy.log_p))
    for column, values in messy.extras.items():
        assert c[column].tolist() == values


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), anchors=st.integers(0, 8), rows=st.integers(1, 20),
       prefix=st.sampled_from(["GD1", "GM1", "GT1", "GD3", "GQ1+OAc", "GD1+dHex"]))
def test_synthetic_tables_never_raise(seed, anchors, rows, prefix):
    df = TableBuilder(seed=seed).with_group(prefix, anchors=min(anchors, rows), rows=rows).build()
    for mode in ("structural", "reference"):
        c = gnb.analyze(df.drop(columns="truth"), mode=mode).compounds
        assert len(c) == rows and set(c["status"]) <= STATUSES
        assert c["confidence"].between(0, 1).all()
