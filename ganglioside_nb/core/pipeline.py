"""The analysis pipeline: read -> validate -> rules in declared order -> one result.

``analyze`` is pure: no database, no cluster, no widgets. An optional ``progress`` callback gets a
:class:`~ganglioside_nb.core.events.ProgressEvent` after every step so that later layers can
stream progress.
"""

from __future__ import annotations

import datetime as _dt
import functools
import platform
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InvalidParameterError
from ..io.readers import RawTable, read_table
from ..params import AnalysisParams
from .events import ProgressEvent
from .names import factorize_by_name, format_name, parse_name, species_formula
from .results import AnalysisResult, InputReport
from .rules import DEFAULT_RULES, FLAG_PREFIX, Rule
from .rules._base import shared_answers
from .schema import COMPOUND_COLUMNS, EXTRA_COLUMNS, TEXT_COLUMNS, TEXT_DTYPE
from .validate import validate_input, working_table

__all__ = ["analyze", "library_versions", "prepare"]

ProgressCallback = Callable[[ProgressEvent], None]


def prepare(data: Any, params: AnalysisParams, *, filename: str | None = None,
            sheet: str | int | None = None, emit: Callable[[str, str], None] | None = None,
            ) -> tuple[RawTable, pd.DataFrame, InputReport]:
    """Read and validate: the raw table, all rows (with ``rejected``) and the input report."""
    raw = data if isinstance(data, RawTable) else read_table(
        data, filename=filename, sheet=sheet, max_file_bytes=params.max_file_bytes)
    if emit:
        emit("read", f"read {len(raw)} rows ({raw.format})")
    table, report = validate_input(raw, params)
    if emit:
        emit("validate", f"{report.n_rejected} of {len(table)} rows rejected")
    return raw, table, report


def analyze(data: Any, params: AnalysisParams | dict[str, Any] | None = None, *,
            filename: str | None = None, sheet: str | int | None = None,
            progress: ProgressCallback | None = None, rules: tuple[Rule, ...] = DEFAULT_RULES,
            **overrides: Any) -> AnalysisResult:
    """Judge every row of a peak table; return an :class:`AnalysisResult`.

    Parameters
    ----------
    data : path to a CSV/XLSX file, bytes, a binary file object or a pandas DataFrame.
    params : AnalysisParams, dict or None; ``overrides`` change single values
        (``analyze(df, mode="reference")``).
    filename : name used in messages and provenance (and to pick the format of bytes).
    progress : called with a ProgressEvent after each step.

    Raises
    ------
    InputFormatError
        The file cannot be analysed at all (one line says why); EmptyAnalysisError when every
        row was rejected (its ``input_report`` lists why).
    InvalidParameterError
        A parameter is unknown or out of range.

    Examples
    --------
    >>> from ganglioside_nb import analyze, datasets
    >>> result = analyze(datasets.sample_path(), mode="reference")
    >>> result.statistics["valid"], result.statistics["outliers"]
    (149, 174)
    """
    params = AnalysisParams.coerce(params, **overrides)
    _check_rules(rules)
    start = time.perf_counter()
    total = len(rules) + 3
    step = 0

    def emit(name: str, message: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(ProgressEvent(step=name, index=step, total=total, fraction=step / total,
                                   message=message, elapsed_s=time.perf_counter() - start))

    raw, table, report = prepare(data, params, filename=filename, sheet=sheet, emit=emit)
    work = working_table(table)
    # Keep only what assembling needs, so large inputs do not stay in memory three times over.
    inputs = table[["row", "Name", "RT", "Volume", "Log P", "Anchor"]]
    extras, provenance = raw.extras, _provenance(raw, params)
    del raw, table
    tables: dict[str, pd.DataFrame] = {}
    rule_stats: dict[str, Any] = {}
    warnings: list[str] = [HILIC_WARNING] if params.chromatography == "hilic" else []
    with shared_answers():  # answers several rules compute from one column, computed once
        for rule in rules:
            outcome = rule(work, params)
            work = outcome.apply(work)
            tables.update(outcome.tables)
            rule_stats[rule.__name__] = dict(outcome.statistics)
            warnings.extend(outcome.warnings)
            emit(rule.__name__, _rule_message(rule.__name__, outcome.statistics))

    compounds = _assemble(inputs, work, report, extras)
    flag_counts = _flag_counts(work)
    del work
    statistics = _statistics(compounds, tables.get("models"), params, rule_stats, flag_counts)
    empty = pd.DataFrame()
    result = AnalysisResult(
        compounds=compounds, models=tables.get("models", empty), input_report=report,
        oac_pairs=tables.get("oac_pairs", empty), fragment_events=tables.get("fragment_events", empty),
        validation=tables.get("validation", empty), statistics=statistics, params=params,
        warnings=tuple(warnings), provenance=provenance)
    emit("done", f"{statistics['valid']} valid, {statistics['outliers']} outliers, "
                 f"{statistics['fragments']} fragments")
    return result


#: FEATURES.md H9: the run is recorded as HILIC, judged as usual, and this says what that means.
HILIC_WARNING = ("Chromatography is HILIC: the RT model and the RT-order checks (Rules 1, 4, 6-9) "
                 "assume reversed phase, where species with a higher Log P elute later. On a HILIC "
                 "column their verdicts are not meaningful; read the statuses as unjudged.")

#: rules whose columns the result contract needs: the verdict (status, prediction) and the
#: confidence score; any other rule may be left out or replaced.
REQUIRED_RULES = ("flag_rt_outliers", "derive_confidence")


def _check_rules(rules: tuple[Rule, ...]) -> None:
    names = [getattr(rule, "__name__", repr(rule)) for rule in rules]
    missing = [name for name in REQUIRED_RULES if name not in names]
    if missing or not all(callable(rule) for rule in rules):
        raise InvalidParameterError(
            f"rules must be callables including {' and '.join(REQUIRED_RULES)} (they produce the "
            f"status, prediction and confidence columns of the result). Got "
            f"{', '.join(names) or 'no rules'} instead.", parameter="rules", value=names)


def _rule_message(name: str, stats: Any) -> str:
    keys = [k for k, v in stats.items() if isinstance(v, int | float) and not isinstance(v, bool)][:3]
    return name + (": " + ", ".join(f"{k} {stats[k]:g}" for k in keys) if keys else "")


# --------------------------------------------------------------------------------------------
def _flags_text(work: pd.DataFrame) -> np.ndarray:
    """Alphabetical ';'-joined flag names per row, built once per distinct flag combination."""
    names = sorted(c[len(FLAG_PREFIX):] for c in work.columns if c.startswith(FLAG_PREFIX))
    n = len(work)
    masks = [(f, work[FLAG_PREFIX + f].to_numpy(dtype=bool)) for f in names]
    masks = [(f, m) for f, m in masks if m.any()]  # a flag set on no row adds nothing
    if not masks:
        return np.full(n, "", dtype=object)
    # Each row's combination as a number (bit k: the k-th flag), factorised.
    if len(masks) <= 62:
        codes = np.zeros(n, dtype=np.int64)
        for bit, (_, m) in enumerate(masks):
            codes |= m.astype(np.int64) << bit
    else:  # Python integers
        codes = np.zeros(n, dtype=object)
        for bit, (_, m) in enumerate(masks):
            codes[m] += 1 << bit
    inverse, combos = pd.factorize(codes)
    texts = np.array([";".join(f for bit, (f, _) in enumerate(masks) if int(c) >> bit & 1)
                      for c in combos], dtype=object)
    out: np.ndarray = texts[inverse]
    return out


@functools.lru_cache(maxsize=65536)
def _lipid_maps(name: str) -> str:
    return format_name(parse_name(name), style="lipidmaps")




def _work_values(work: pd.DataFrame, column: str) -> Any:
    """A work column's values for the compounds frame. A text column is passed as it is when
    the frame would infer that same column from its objects (pandas' text dtype, not all
    missing); anything else as a numpy array."""
    series = work[column]
    if series.dtype == TEXT_DTYPE and not pd.isna(series.iat[0]):
        return series.array
    return series.to_numpy()


def _assemble(table: pd.DataFrame, work: pd.DataFrame, report: InputReport,
              extras: pd.DataFrame) -> pd.DataFrame:
    """The compounds table: every input row, contract columns first, then extras."""
    n = len(table)
    pos = work["row"].to_numpy(dtype=np.int64)
    complete = len(pos) == n  # nothing rejected: work's columns are used as they are
    out: dict[str, Any] = {"row": table["row"].to_numpy(dtype=np.int64)}
    for column in ("Name", "RT", "Volume", "Log P", "Anchor"):
        out[column] = table[column].to_numpy()
    out["Anchor"] = out["Anchor"].astype(bool)
    skip = set(out) | {"flags"} | _INTERNAL
    for column in work.columns:
        if column in skip or column.startswith(FLAG_PREFIX):
            continue
        if complete:
            out[column] = _work_values(work, column)
            continue
        values = work[column].to_numpy()
        if values.dtype.kind in "fc":
            full = np.full(n, np.nan)
        elif values.dtype.kind in "iub":
            full = np.zeros(n, dtype=values.dtype)
        else:
            full = np.full(n, "" if values.dtype.kind in "OUS" else None, dtype=object)
        full[pos] = values
        out[column] = full
    flags = _flags_text(work)
    if not complete:
        flags = _placed(flags, pos, n, "")
    out["flags"] = pd.array(flags, dtype=TEXT_DTYPE)  # text only: no need to infer
    out["status"] = (out["status"] if complete and "status" in out
                     else _placed(work["status"].to_numpy(), pos, n, "rejected"))
    if "reason" not in out:
        out["reason"] = np.full(n, "", dtype=object)
    for row, why in report.reasons_by_row().items():  # rejected rows: never complete
        out["reason"][row] = "Rejected: " + why
    if complete and "parent_row" in work:
        out["parent_row"] = work["parent_row"].astype("Int64").array
    else:
        parent = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
        if "parent_row" in work:
            parent[pos] = work["parent_row"].astype("Int64").array
        out["parent_row"] = parent
    names = out["Name"]
    if not complete:
        names = _placed(names[pos], pos, n, np.nan)
        if "confidence" in out:
            analysed = _placed(np.ones(len(pos), dtype=bool), pos, n, False, dtype=bool)
            out["confidence"][~analysed] = np.nan
    # names: LIPID MAPS shorthand, formula and mass (each distinct analysed name once)
    # a rejected row: -1, the last entry of each array below
    codes, uniq = factorize_by_name(work, "Name") if complete else pd.factorize(names)
    if complete and codes.min() >= 0 and all(isinstance(u, str) for u in uniq):
        out["Name"] = pd.array(np.asarray(uniq, dtype=object), dtype=TEXT_DTYPE).take(codes)
    looked_up = [(_lipid_maps(u), *species_formula(u)) for u in uniq]
    lm = np.array([x[0] for x in looked_up] + [""], dtype=object)
    formula = np.array([x[1] or "" for x in looked_up] + [""], dtype=object)
    mass = np.array([np.nan if x[2] is None else x[2] for x in looked_up] + [np.nan], dtype=float)
    # Text built per distinct name is made a text column directly (the frame would infer it).
    out["lipid_maps_name"] = pd.array(lm, dtype=TEXT_DTYPE).take(codes)
    out["formula"] = pd.array(formula, dtype=TEXT_DTYPE).take(codes)
    out["mass"] = mass[codes]
    for column in TEXT_COLUMNS.intersection(out):  # text by contract: no need to infer it
        values = out[column]
        if isinstance(values, np.ndarray) and values.dtype == object:
            out[column] = pd.array(values, dtype=TEXT_DTYPE)
    frame = pd.DataFrame(out, copy=False)
    ordered = [c for c in COMPOUND_COLUMNS if c in frame] + [c for c in EXTRA_COLUMNS if c in frame]
    rest = [c for c in frame.columns if c not in ordered]
    frame = frame[ordered + rest]
    if extras.shape[1]:
        frame = pd.concat([frame, extras.reset_index(drop=True)], axis=1)
    return frame


def _placed(values: np.ndarray, pos: np.ndarray, n: int, fill: Any,
            dtype: type = object) -> np.ndarray:
    """An array of ``n`` holding ``values`` at ``pos`` and ``fill`` elsewhere."""
    out: np.ndarray = np.full(n, fill, dtype=dtype)
    out[pos] = values
    return out


#: Working columns kept out of the compounds table.
_INTERNAL = frozenset({"written_prefix", "core_sugar_count", "chains", "noise_sd", "model_r2",
                       "logp_slope", "name_id"})


def _flag_counts(work: pd.DataFrame) -> dict[str, int]:
    """Rows per flag (rejected rows have none), alphabetical; flags set on no row left out."""
    counts = {c[len(FLAG_PREFIX):]: int(np.count_nonzero(work[c].to_numpy(dtype=bool)))
              for c in work.columns if c.startswith(FLAG_PREFIX)}
    return {f: k for f, k in sorted(counts.items()) if k}


def _statistics(compounds: pd.DataFrame, models: pd.DataFrame | None, params: AnalysisParams,
                rule_stats: dict[str, Any], flag_counts: dict[str, int]) -> dict[str, Any]:
    # Statuses and flag combinations are compared once each, through their codes.
    codes, labels = pd.factorize(compounds["status"].to_numpy())  # a missing status: -1
    labels = np.asarray(labels, dtype=object)
    count = dict(zip(labels.tolist(), np.bincount(codes[codes >= 0], minlength=len(labels)).tolist(),
                     strict=True))
    not_rejected = ~np.append(labels == "rejected", False)[codes]
    analysed = int(not_rejected.sum())
    valid = count.get("valid", 0)
    accepted: set[str] = set()
    if models is not None and len(models):
        accepted = set(models.loc[models["accepted"] == "yes", "model"])
    if params.mode == "reference":
        judged = compounds["model"].isin(accepted).to_numpy()
    else:
        judged = (np.isfinite(compounds["predicted_rt"].to_numpy(dtype=float))
                  & bool(accepted) & not_rejected)
    r1 = rule_stats.get("flag_rt_outliers", {})
    return {
        "total_rows": len(compounds), "rejected_rows": len(compounds) - analysed,
        "analysed_rows": analysed,
        "anchors": int(compounds["Anchor"].to_numpy()[not_rejected].sum()),
        "valid": valid, "outliers": count.get("outlier", 0),
        "fragments": count.get("fragment", 0),
        "success_rate": 100.0 * valid / analysed if analysed else 0.0,
        "coverage": 100.0 * int(judged.sum()) / analysed if analysed else 0.0,
        "n_models": int(r1.get("n_models", 0)), "n_models_accepted": int(r1.get("n_models_accepted", 0)),
        "oos_r2": _num(r1.get("oos_r2")), "oos_rmse": _num(r1.get("oos_rmse")),
        "oos_mae": _num(r1.get("oos_mae")), "oos_max_error": _num(r1.get("oos_max_error")),
        "validation_method": r1.get("validation_method", ""),
        "mean_confidence": _num(float(np.nanmean(compounds["confidence"])) if analysed else None),
        "mode": params.mode, "chromatography": params.chromatography,
        "flag_counts": flag_counts,
        "rules": rule_stats,
    }


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


@functools.lru_cache(maxsize=1)
def library_versions() -> tuple[tuple[str, str | None], ...]:
    """Versions of the libraries behind a result (looked up once per process)."""
    versions: list[tuple[str, str | None]] = []
    for pkg in ("numpy", "pandas", "scikit-learn", "scipy", "pygoslin"):
        try:
            versions.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            versions.append((pkg, None))
    return tuple(versions)


def _provenance(raw: RawTable, params: AnalysisParams) -> dict[str, Any]:
    versions = dict(library_versions())
    return {
        "package": "ganglioside_nb", "version": __version__, "input_sha256": raw.sha256,
        "input_filename": raw.filename, "input_size_bytes": raw.size_bytes, "input_format": raw.format,
        "mode": params.mode, "python": platform.python_version(), "libraries": versions,
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
