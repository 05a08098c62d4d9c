"""The one frozen, validated parameter object of an analysis (ALGORITHM.md §4).

``AnalysisParams`` is a keyword-only frozen dataclass. Each field carries a small constraint
(an interval or a set of choices) and a help text in its metadata; the constraints validate in
``__post_init__``, produce the error messages ("The 'x' parameter of AnalysisParams must be ...
Got ... instead.") and will generate the widgets of the parameter form.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import InvalidParameterError

__all__ = ["AnalysisParams", "Choice", "Interval", "PairInterval"]


@dataclass(frozen=True)
class Interval:
    """A closed numeric interval; ``integer`` restricts to whole numbers."""

    low: float
    high: float | None
    integer: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if self.high is None:
            return f"{kind} >= {_fmt(self.low)}"
        return f"{kind} in the range [{_fmt(self.low)}, {_fmt(self.high)}]"

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError
        if self.integer:
            if not float(value).is_integer():
                raise ValueError
            value = int(float(value))
        else:
            value = float(value)
        if not math.isfinite(value) or value < self.low or (self.high is not None and value > self.high):
            raise ValueError
        return value


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)

    def check(self, value: Any) -> Any:
        if value not in self.options:
            raise ValueError
        return value


@dataclass(frozen=True)
class PairInterval:
    """An ordered pair (lo, hi) with low <= lo < hi <= high."""

    low: float
    high: float

    def describe(self) -> str:
        return f"a pair (lo, hi) with {_fmt(self.low)} <= lo < hi <= {_fmt(self.high)}"

    def check(self, value: Any) -> Any:
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError from None
        if not (math.isfinite(lo) and math.isfinite(hi) and self.low <= lo < hi <= self.high):
            raise ValueError
        return (lo, hi)


def _fmt(x: float) -> str:
    return f"{x:,}".replace(",", "_") if isinstance(x, int) and abs(x) >= 10000 else f"{x:g}"


def _p(default: Any, constraint: Interval | Choice | PairInterval, help: str, unit: str = "") -> Any:
    return field(default=default, metadata={"constraint": constraint, "help": help, "unit": unit})


Mode = Literal["structural", "reference"]


@dataclass(frozen=True, kw_only=True)
class AnalysisParams:
    """Every setting of an analysis; defaults and ranges from ALGORITHM.md §4.

    >>> AnalysisParams().mode
    'structural'
    >>> AnalysisParams(rt_tolerance=0.05).replace(mode="reference").rt_tolerance
    0.05
    """

    mode: str = _p("structural", Choice(("structural", "reference")),
                   "Rule 1 algorithm: 'structural' (partial pooling, every row judged) or "
                   "'reference' (the original platform's per-prefix models, reproduced).")
    r2_threshold: float = _p(0.70, Interval(0.5, 0.999),
                             "Minimum out-of-sample R² for a model to be accepted.")
    outlier_threshold: float = _p(2.5, Interval(1.0, 5.0),
                                  "A row is an outlier when |z| is at least this.", "σ")
    rt_tolerance: float = _p(0.1, Interval(0.01, 0.5),
                             "Co-elution window (Rule 5) and direction tolerance (Rules 8, 9).", "min")
    min_anchors: int = _p(3, Interval(3, 50, integer=True),
                          "Reference: anchors needed per prefix. Structural: anchors needed overall, "
                          "and per prefix for a slope shift.")
    data_type: str = _p("porcine", Choice(("porcine", "human", "bovine", "mouse", "other")),
                        "Species of the sample (metadata only).")
    chromatography: str = _p("reversed_phase", Choice(("reversed_phase", "hilic")),
                             "Column chemistry of the run. The RT models assume reversed phase "
                             "(later elution with higher Log P); a HILIC run is recorded and "
                             "warned about.")
    interval_level: float = _p(0.95, Interval(0.5, 0.999),
                               "Coverage of the prediction interval pi_low..pi_high.")
    min_predictive_sd: float = _p(0.02, Interval(0.0, 1.0),
                                  "Floor on the predictive SD used in z (structural).", "min")
    max_features_ratio: float = _p(0.3, Interval(0.1, 1.0),
                                   "Reference mode: at most max(1, floor(ratio·n)) features per model.")
    fragment_policy: str = _p("auto", Choice(("auto", "annotate", "consolidate")),
                              "Rule 5: 'consolidate' assigns fragments to parents, 'annotate' only "
                              "lists co-elution events; 'auto' = consolidate (structural) / "
                              "annotate (reference).")
    fragment_tight_rt: float = _p(0.03, Interval(0.001, 0.5),
                                  "Rule 5 consolidate: co-elution at least this tight is decisive "
                                  "evidence of an in-source fragment (must not exceed rt_tolerance).",
                                  "min")
    cv_order: str = _p("auto", Choice(("auto", "input", "canonical")),
                       "Row order before shuffled K-fold: 'auto' = input (reference) / canonical.")
    seed: int = _p(42, Interval(0, None, integer=True), "Seed of K-fold shuffling.")
    loo_max_anchors: int = _p(1000, Interval(10, 100_000, integer=True),
                              "Above this many anchors structural validation uses 10-fold CV.")
    oac_shift_note_range: tuple[float, float] = _p((0.01, 3.0), PairInterval(0.0, 10.0),
                                                   "Rule 4: an O-acetylation RT shift outside this "
                                                   "range gets a note.", "min")
    sugar_rt_min_r: float = _p(0.3, Interval(0.0, 1.0),
                               "Rule 6: Pearson r above this (with p below sugar_rt_max_p) is a violation.")
    sugar_rt_max_p: float = _p(0.1, Interval(0.001, 0.5), "Rule 6: significance level.")
    max_rows: int = _p(1_000_000, Interval(1, 10_000_000, integer=True), "Input row cap.")
    max_file_bytes: int = _p(52_428_800, Interval(1_048_576, 524_288_000, integer=True),
                             "Input size cap in bytes.", "bytes")
    max_pairs: int = _p(1_000_000, Interval(1000, None, integer=True),
                        "Cap on the materialised Rule 4 pair table (per-row verdicts stay exact).")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            constraint = f.metadata["constraint"]
            value = getattr(self, f.name)
            try:
                checked = constraint.check(value)
            except ValueError:
                raise InvalidParameterError(
                    f"The {f.name!r} parameter of AnalysisParams must be {constraint.describe()}. "
                    f"Got {value!r} instead.", parameter=f.name, value=repr(value)) from None
            object.__setattr__(self, f.name, checked)
        if self.fragment_tight_rt > self.rt_tolerance:
            raise InvalidParameterError(
                "The 'fragment_tight_rt' parameter of AnalysisParams must be at most rt_tolerance "
                f"({self.rt_tolerance:g}). Got {self.fragment_tight_rt!r} instead.",
                parameter="fragment_tight_rt", value=repr(self.fragment_tight_rt))

    # -- resolved policies -------------------------------------------------------------------
    @property
    def effective_fragment_policy(self) -> str:
        if self.fragment_policy != "auto":
            return self.fragment_policy
        return "consolidate" if self.mode == "structural" else "annotate"

    @property
    def effective_cv_order(self) -> str:
        if self.cv_order != "auto":
            return self.cv_order
        return "input" if self.mode == "reference" else "canonical"

    # -- construction and serialisation ------------------------------------------------------
    def replace(self, **changes: Any) -> AnalysisParams:
        """A copy with some values changed (validated like the constructor)."""
        return AnalysisParams.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Every parameter, defaults included, as plain JSON-able values."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["oac_shift_note_range"] = list(out["oac_shift_note_range"])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None = None, **overrides: Any) -> AnalysisParams:
        """Build from a mapping (e.g. a stored or exported dict); unknown keys are errors."""
        merged = {**(data or {}), **overrides}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(merged) - known)
        if unknown:
            raise InvalidParameterError(
                f"AnalysisParams keys must be among {', '.join(sorted(known))}. "
                f"Got unknown key(s) {', '.join(map(repr, unknown))} instead.",
                parameter=unknown[0], value="")
        if "oac_shift_note_range" in merged and isinstance(merged["oac_shift_note_range"], list):
            merged["oac_shift_note_range"] = tuple(merged["oac_shift_note_range"])
        return cls(**merged)

    @classmethod
    def coerce(cls, params: AnalysisParams | dict[str, Any] | None = None,
               **overrides: Any) -> AnalysisParams:
        """Accept an AnalysisParams, a dict or None, plus keyword overrides."""
        if isinstance(params, AnalysisParams):
            return params.replace(**overrides) if overrides else params
        if params is not None and not isinstance(params, dict):
            raise InvalidParameterError(
                "params must be an AnalysisParams, a dict or None. "
                f"Got {type(params).__name__} instead.", parameter="params", value="")
        return cls.from_dict(params, **overrides)

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """Metadata of every field (name, default, constraint, help, unit) for forms and docs."""
        rows = []
        for f in dataclasses.fields(cls):
            c = f.metadata["constraint"]
            rows.append({"name": f.name, "default": f.default, "allowed": c.describe(),
                         "constraint": c, "help": f.metadata["help"], "unit": f.metadata["unit"]})
        return rows
