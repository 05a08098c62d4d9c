"""AnalysisParams: frozen, validated, one message shape, dict round trip."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from ganglioside_nb import AnalysisParams, InvalidParameterError


def test_defaults_match_the_specification():
    p = AnalysisParams()
    assert (p.mode, p.r2_threshold, p.outlier_threshold, p.rt_tolerance, p.min_anchors) == (
        "structural", 0.70, 2.5, 0.1, 3)
    assert p.effective_fragment_policy == "consolidate" and p.effective_cv_order == "canonical"
    ref = p.replace(mode="reference")
    assert ref.effective_fragment_policy == "annotate" and ref.effective_cv_order == "input"


def test_frozen_hashable_picklable():
    p = AnalysisParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.mode = "reference"  # type: ignore[misc]
    assert hash(p) == hash(AnalysisParams())
    assert pickle.loads(pickle.dumps(p)) == p


@pytest.mark.parametrize(("key", "value", "match"), [
    ("rt_tolerance", -0.5, r"'rt_tolerance' parameter of AnalysisParams must be a number in the "
                           r"range \[0.01, 0.5\]. Got -0.5 instead."),
    ("mode", "fast", r"must be one of 'structural', 'reference'. Got 'fast' instead."),
    ("min_anchors", 2.5, r"must be an integer in the range \[3, 50\]"),
    ("r2_threshold", True, r"Got True instead"),
    ("r2_threshold", float("nan"), r"Got nan instead"),
    ("oac_shift_note_range", (3.0, 1.0), r"lo < hi"),
    ("fragment_tight_rt", 0.2, r"at most rt_tolerance"),
])
def test_out_of_range_values_name_parameter_value_and_range(key, value, match):
    with pytest.raises(InvalidParameterError, match=match):
        AnalysisParams(**{key: value})


def test_unknown_key_is_an_error():
    with pytest.raises(InvalidParameterError, match="unknown key.*'r2'"):
        AnalysisParams.from_dict({"r2": 0.9})


def test_dict_round_trip_and_json_types():
    import json
    p = AnalysisParams(mode="reference", oac_shift_note_range=(0.05, 2.0), seed=7)
    d = p.to_dict()
    assert AnalysisParams.from_dict(json.loads(json.dumps(d))) == p
    assert set(d) == {f.name for f in dataclasses.fields(AnalysisParams)}


def test_describe_feeds_forms():
    rows = AnalysisParams.describe()
    assert [r["name"] for r in rows][:2] == ["mode", "r2_threshold"]
    assert all(r["help"] for r in rows)


def test_a_hilic_run_is_recorded_and_warned_about() -> None:
    import ganglioside_nb as gnb
    from ganglioside_nb.core.pipeline import HILIC_WARNING
    from tests.conftest import SAMPLE

    usual = gnb.analyze(SAMPLE)
    hilic = gnb.analyze(SAMPLE, chromatography="hilic")
    assert usual.statistics["chromatography"] == "reversed_phase" and HILIC_WARNING not in usual.warnings
    assert hilic.statistics["chromatography"] == "hilic" and hilic.warnings[0] == HILIC_WARNING
    assert hilic.params.to_dict()["chromatography"] == "hilic"
    assert (hilic.compounds["status"] == usual.compounds["status"]).all()  # recorded, judged as usual
    with pytest.raises(gnb.InvalidParameterError, match="chromatography"):
        gnb.AnalysisParams(chromatography="normal")
