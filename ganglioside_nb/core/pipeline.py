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
from .names import format_name, parse_name, species_formula
from .results import AnalysisResult, InputReport
from .rules import DEFAULT_RULES, FLAG_PREFIX, Rule
from .schema import COMPOUND_COLUMNS, EXTRA_COLUMNS
from .validate import validate_input, working_table

__all__ = ["analyze", "prepare"]

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
    warnings: list[str] = []
    for rule in rules:
        outcome = rule(work, params)
        work = outcome.apply(work)
        tables.update(outcome.tables)
        rule_stats[rule.__name__] = dict(outcome.statistics)
        warnings.extend(outcome.warnings)
        emit(rule.__name__, _rule_message(rule.__name__, outcome.statistics))

    compounds = _assemble(inputs, work, report, extras)
    del work
    statistics = _statistics(compounds, tables.get("models"), params, rule_stats)
    empty = pd.DataFrame()
    result = AnalysisResult(
        compounds=compounds, models=tables.get("models", empty), input_report=report,
        oac_pairs=tables.get("oac_pairs", empty), fragment_events=tables.get("fragment_events", empty),
        validation=tables.get("validation", empty), statistics=statistics, params=params,
        warnings=tuple(warnings), provenance=provenance)
    emit("done", f"{statistics['valid']} valid, {statistics['outliers']} outliers, "
                 f"{statistics['fragments']} fragments")
    return result


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
    if not names or n == 0:
        return np.full(n, "", dtype=object)
    codes = np.zeros(n, dtype=object if len(names) > 62 else np.int64)
    for bit, f in enumerate(names):
        codes += work[FLAG_PREFIX + f].to_numpy(dtype=bool).astype(codes.dtype) * (1 << bit)
    combos, inverse = np.unique(codes, return_inverse=True)
    texts = np.array([";".join(f for bit, f in enumerate(names) if int(c) >> bit & 1) for c in combos],
                     dtype=object)
    return texts[inverse.reshape(-1)]


@functools.lru_cache(maxsize=65536)
def _lipid_maps(name: str) -> str:
    return format_name(parse_name(name), style="lipidmaps")


def _assemble(table: pd.DataFrame, work: pd.DataFrame, report: InputReport,
              extras: pd.DataFrame) -> pd.DataFrame:
    """The compounds table: every input row, contract columns first, then extras."""
    n = len(table)
    pos = work["row"].to_numpy(dtype=np.int64)
    complete = len(pos) == n  # nothing rejected: work's arrays are used as they are
    out: dict[str, Any] = {"row": table["row"].to_numpy(dtype=np.int64)}
    for column in ("Name", "RT", "Volume", "Log P", "Anchor"):
        out[column] = table[column].to_numpy()
    skip = set(out) | {"flags"}
    for column in work.columns:
        if column in skip or column.startswith(FLAG_PREFIX):
            continue
        values = work[column].to_numpy()
        if complete and column not in _FILLED_IN_PLACE:
            out[column] = values
            continue
        if values.dtype.kind in "fc":
            full = np.full(n, np.nan)
        elif values.dtype.kind in "iub":
            full = np.zeros(n, dtype=values.dtype)
        else:
            full = np.full(n, "" if values.dtype.kind in "OUS" else None, dtype=object)
        full[pos] = values
        out[column] = full
    flags = np.full(n, "", dtype=object)
    flags[pos] = _flags_text(work)
    out["flags"] = flags
    status = np.full(n, "rejected", dtype=object)
    status[pos] = work["status"].to_numpy()
    out["status"] = status
    reasons = out.get("reason", np.full(n, "", dtype=object))
    for row, why in report.reasons_by_row().items():
        reasons[row] = "Rejected: " + why
    out["reason"] = reasons
    parent = pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    if "parent_row" in work:
        parent[pos] = work["parent_row"].astype("Int64").array
    out["parent_row"] = parent
    ok = np.zeros(n, dtype=bool)
    ok[pos] = True
    if "confidence" in out:
        out["confidence"][~ok] = np.nan
    # names: LIPID MAPS shorthand, formula and mass (each distinct name once)
    codes, uniq = pd.factorize(pd.Series(out["Name"], dtype=object).where(ok))
    looked_up = [(_lipid_maps(u), *species_formula(u)) for u in uniq]
    lm = np.array([x[0] for x in looked_up] + [""], dtype=object)
    formula = np.array([x[1] or "" for x in looked_up] + [""], dtype=object)
    mass = np.array([np.nan if x[2] is None else x[2] for x in looked_up] + [np.nan], dtype=float)
    out["lipid_maps_name"], out["formula"], out["mass"] = lm[codes], formula[codes], mass[codes]
    frame = pd.DataFrame(out, copy=False)
    frame["Anchor"] = frame["Anchor"].astype(bool)
    ordered = [c for c in COMPOUND_COLUMNS if c in frame] + [c for c in EXTRA_COLUMNS if c in frame]
    rest = [c for c in frame.columns if c not in ordered and c not in _INTERNAL]
    frame = frame[ordered + rest]
    if extras.shape[1]:
        frame = pd.concat([frame, extras.reset_index(drop=True)], axis=1)
    return frame


#: Columns _assemble writes into after copying them (rejected rows get their own values).
_FILLED_IN_PLACE = frozenset({"reason", "confidence"})

#: Working columns kept out of the compounds table.
_INTERNAL = frozenset({"written_prefix", "core_sugar_count", "chains", "noise_sd", "model_r2",
                       "logp_slope"})


def _statistics(compounds: pd.DataFrame, models: pd.DataFrame | None, params: AnalysisParams,
                rule_stats: dict[str, Any]) -> dict[str, Any]:
    status = compounds["status"].to_numpy()
    analysed = int((status != "rejected").sum())
    valid = int((status == "valid").sum())
    accepted: set[str] = set()
    if models is not None and len(models):
        accepted = set(models.loc[models["accepted"] == "yes", "model"])
    if params.mode == "reference":
        judged = compounds["model"].isin(accepted).to_numpy()
    else:
        judged = (np.isfinite(compounds["predicted_rt"].to_numpy(dtype=float))
                  & bool(accepted) & (status != "rejected"))
    flag_counts: dict[str, int] = {}
    for text, count in compounds["flags"].value_counts(sort=False).items():
        for f in filter(None, str(text).split(";")):
            flag_counts[f] = flag_counts.get(f, 0) + int(count)
    r1 = rule_stats.get("flag_rt_outliers", {})
    return {
        "total_rows": len(compounds), "rejected_rows": len(compounds) - analysed,
        "analysed_rows": analysed,
        "anchors": int(compounds["Anchor"].to_numpy()[status != "rejected"].sum()),
        "valid": valid, "outliers": int((status == "outlier").sum()),
        "fragments": int((status == "fragment").sum()),
        "success_rate": 100.0 * valid / analysed if analysed else 0.0,
        "coverage": 100.0 * int(judged.sum()) / analysed if analysed else 0.0,
        "n_models": int(r1.get("n_models", 0)), "n_models_accepted": int(r1.get("n_models_accepted", 0)),
        "oos_r2": _num(r1.get("oos_r2")), "oos_rmse": _num(r1.get("oos_rmse")),
        "oos_mae": _num(r1.get("oos_mae")), "oos_max_error": _num(r1.get("oos_max_error")),
        "validation_method": r1.get("validation_method", ""),
        "mean_confidence": _num(float(np.nanmean(compounds["confidence"])) if analysed else None),
        "mode": params.mode,
        "flag_counts": dict(sorted(flag_counts.items())),
        "rules": rule_stats,
    }


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _provenance(raw: RawTable, params: AnalysisParams) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for pkg in ("numpy", "pandas", "scikit-learn", "scipy", "pygoslin"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "package": "ganglioside_nb", "version": __version__, "input_sha256": raw.sha256,
        "input_filename": raw.filename, "input_size_bytes": raw.size_bytes, "input_format": raw.format,
        "mode": params.mode, "python": platform.python_version(), "libraries": versions,
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
