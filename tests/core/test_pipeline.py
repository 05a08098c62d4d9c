"""The pipeline: result contract, progress events, rule order, bad input, builders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ganglioside_nb as gnb
from ganglioside_nb.core.rules import DEFAULT_RULES
from ganglioside_nb.core.schema import COMPOUND_COLUMNS
from ganglioside_nb.testing import TableBuilder


@pytest.fixture(scope="module")
def result():
    events = []
    r = gnb.analyze(gnb.datasets.sample_path(), progress=events.append)
    return r, events


def test_contract_columns_first_in_order_one_row_per_input_row(result):
    r, _ = result
    assert list(r.compounds.columns[: len(COMPOUND_COLUMNS)]) == list(COMPOUND_COLUMNS)
    assert r.compounds["row"].tolist() == list(range(323))
    assert r.compounds["Anchor"].dtype == bool
    assert r.compounds["parent_row"].dtype == "Int64"


def test_progress_event_per_step_ending_at_one(result):
    _, events = result
    steps = [e.step for e in events]
    assert steps == ["read", "validate", *[f.__name__ for f in DEFAULT_RULES], "done"]
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_rule_order_invariants():
    names = [f.__name__ for f in DEFAULT_RULES]
    assert names.index("flag_rt_outliers") < names.index("flag_fragments")
    for later in ("check_oacetylation", "check_sugar_rt", "check_category_order",
                  "check_modifications", "check_cross_prefix"):
        assert names.index("flag_fragments") < names.index(later)
    assert names[-1] == "derive_confidence"


def test_provenance_and_repr(result):
    r, _ = result
    import hashlib
    assert r.input_sha256 == hashlib.sha256(gnb.datasets.sample_bytes()).hexdigest()
    assert r.provenance["version"] == gnb.__version__
    html = r._repr_html_()
    assert "valid" in html and "structural" in html
    assert "AnalysisResult" in repr(r)


def test_confidence_exceeds_0_9_somewhere_and_stays_in_unit_interval(result):
    r, _ = result
    conf = r.compounds["confidence"]
    assert conf.between(0, 1).all()
    assert (conf > 0.9).any()


def test_rejected_rows_stay_in_place_with_reason():
    df = gnb.datasets.load_sample().head(20).copy()
    df.loc[3, "RT"] = "n/a"
    df.loc[5, "Name"] = "GD1+Ac(36:1;O2)"
    r = gnb.analyze(df)
    c = r.compounds
    assert len(c) == 20 and c.loc[[3, 5], "status"].tolist() == ["rejected", "rejected"]
    assert "Ac" in c.loc[5, "reason"] and c.loc[3, "reason"].startswith("Rejected:")
    assert r.statistics["rejected_rows"] == 2 and r.statistics["analysed_rows"] == 18
    assert set(r.input_report.entries["row"]) == {3, 5}


def test_fewer_than_three_anchors_is_not_an_error_and_nothing_is_skipped():
    df = TableBuilder(seed=2).with_group("GD1", anchors=2, rows=6).build()
    r = gnb.analyze(df)
    c = r.compounds
    assert (c.loc[c["Anchor"], "status"] == "valid").all()
    assert (c.loc[~c["Anchor"], "status"] != "valid").all()
    assert c["flags"].str.contains("not_assessed").all()
    assert c.loc[~c["Anchor"], "reason"].str.contains("not assessed").all()


def test_planted_errors_are_found():
    b = TableBuilder(seed=5, noise_sd=0.04)
    for prefix, n in (("GD1", 8), ("GM1", 6), ("GT1", 6), ("GD3", 5)):
        b.with_group(prefix, anchors=n, rows=n + 6)
    b.with_outlier("GM1", shift=1.5, n=3).with_fragment("GD1", "GM1", delta_rt=0.004, n=3)
    df = b.build()
    c = gnb.analyze(df.drop(columns="truth")).compounds
    truth = df["truth"].to_numpy()
    assert (c["status"].to_numpy()[truth == "outlier"] == "outlier").all()
    assert (c["status"].to_numpy()[truth == "fragment"] == "fragment").all()
    ok = truth == "ok"
    assert (c["status"].to_numpy()[ok] == "valid").mean() > 0.9


def test_bad_file_raises_one_clear_error(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    with pytest.raises(gnb.InputFormatError, match="empty.csv"):
        gnb.analyze(p)


def test_overrides_and_params_object_agree():
    a = gnb.analyze(gnb.datasets.sample_path("testwork"), mode="reference")
    b = gnb.analyze(gnb.datasets.sample_path("testwork"), gnb.AnalysisParams(mode="reference"))
    pd.testing.assert_frame_equal(a.compounds, b.compounds)
    assert np.array_equal(a.compounds["status"], ["valid", "outlier", "outlier", "valid", "valid"])


def test_rules_may_leave_out_a_check_but_not_the_verdict_or_the_confidence():
    from ganglioside_nb.errors import InvalidParameterError

    sample = gnb.datasets.sample_path()
    without_sugar_rt = tuple(r for r in DEFAULT_RULES if r.__name__ != "check_sugar_rt")
    partial = gnb.analyze(sample, rules=without_sugar_rt)
    assert "check_sugar_rt" not in partial.statistics["rules"] and len(partial.compounds) == 323
    for left_out in ("flag_rt_outliers", "derive_confidence"):
        with pytest.raises(InvalidParameterError, match="rules must be callables including .*Got .*"):
            gnb.analyze(sample, rules=tuple(r for r in DEFAULT_RULES if r.__name__ != left_out))
