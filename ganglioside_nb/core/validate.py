"""Lazy validation of the input cells (ALGORITHM.md §2.3-§2.4; core layer, pure).

:func:`validate_input` parses every cell of a :class:`~ganglioside_nb.io.readers.RawTable`
explicitly (text, native XLSX values or DataFrame values alike, whatever the pandas dtype),
runs every check and collects *every* problem into the
:class:`~ganglioside_nb.core.results.InputReport`, one entry per problem. Bad rows are data: they
stay in the returned table with ``rejected = True``. Only a table that cannot be analysed at all
raises (too many rows: :class:`~ganglioside_nb.errors.InputFormatError`; no usable row:
:class:`~ganglioside_nb.errors.EmptyAnalysisError`, carrying the report).

Everything is vectorised: each column is factorised and its distinct values parsed once
(numbers by ``float`` on strictly number-shaped text, then finiteness and bound masks; names by
``name_fields``, cached per text); a column whose cells are all plain numbers in bounds takes
one pass, and reason texts are built only for failing cells, so 1,000,000 rows validate in
well under a second.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import EmptyAnalysisError, InputFormatError
from ..params import AnalysisParams
from .names import NAME_COLUMNS, name_fields, parse_names
from .results import InputReport
from .schema import (
    ANCHOR_FALSE,
    ANCHOR_TRUE,
    BOUNDS,
    INPUT_COLUMNS,
    INPUT_REPORT_COLUMNS,
    NUMBER_COLUMNS,
    TEXT_DTYPE,
)

if TYPE_CHECKING:
    from ..io.readers import RawTable

__all__ = [
    "NAME_INT_COLUMNS",
    "NAME_TEXT_COLUMNS",
    "UncachedFormula",
    "validate_input",
    "working_table",
]

#: Name fields holding counts (nullable ``Int64`` in the validated table, missing where the
#: name did not parse; ``int64`` in :func:`working_table`).
NAME_INT_COLUMNS: tuple[str, ...] = (
    "sialic_acids", "neutral_sugars", "sugar_count", "core_sugar_count",
    "n_OAc", "n_dHex", "n_Hex", "n_HexNAc", "n_NeuAc", "n_NeuGc", "a", "b")
#: Name fields holding text (pandas' text dtype; missing where the name did not parse).
NAME_TEXT_COLUMNS: tuple[str, ...] = tuple(
    c for c in NAME_COLUMNS if c not in NAME_INT_COLUMNS and c != "oxygen")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_to_text = np.frompyfunc(str, 1, 1)
_strip = np.frompyfunc(str.strip, 1, 1)
_casefold = np.frompyfunc(str.casefold, 1, 1)
#: Text made only of these characters cannot hold what float() accepts but the contract
#: rejects (underscores, non-ASCII digits, 'nan', 'inf'), so float() may parse it directly.
_PLAIN_NUMBER_TEXT = re.compile(r"[0-9eE+\-.]*")
_PLAIN_NUMBER_BYTES = b"0123456789eE+-."  # the same characters, for bytes.translate


@dataclass(frozen=True)
class UncachedFormula:
    """An XLSX formula cell whose value was never calculated (saved by a program that does not
    compute formulas). It reads as empty with ``data_only=True``; the reader puts this marker in
    its place so that validation can say what is wrong.

    >>> str(UncachedFormula("=A2*60"))
    '=A2*60'
    """

    formula: str

    def __str__(self) -> str:
        return self.formula


# --------------------------------------------------------------------------------------------
# cells as text
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Cells:
    """One column's cells.

    ``raw`` holds the cell objects and ``missing`` marks None / NaN / NA; ``uniques`` are the
    distinct trimmed texts and ``codes`` map each row to one of them (a missing cell to ''),
    so that parsing runs once per distinct value.
    """

    raw: np.ndarray
    missing: np.ndarray
    codes: np.ndarray
    uniques: np.ndarray

    @property
    def trimmed(self) -> np.ndarray:
        out: np.ndarray = self.uniques[self.codes]
        return out

    def text(self, i: int | np.integer[Any]) -> str:
        """The raw text of cell ``i`` ('' when missing), as the report shows it."""
        return "" if self.missing[i] else str(self.raw[i])


def _cells(column: pd.Series, distinct: bool = True) -> _Cells:
    """Text of every cell, identical whatever the dtype (str, object or StringDtype).

    ``distinct=False`` skips the factorisation for columns whose values rarely repeat.
    """
    raw = column.to_numpy(dtype=object)
    # A string dtype holds only text and missing values; other columns are looked at.
    all_text = isinstance(column.dtype, pd.StringDtype) or pd.api.types.infer_dtype(
        raw, skipna=True) in ("string", "empty")
    if distinct and all_text:
        # Only text and missing cells: factorise the raw objects directly (missing -> -1).
        # (Not for mixed objects: factorize would merge True with 1 and 1.0.)
        codes, uniques = pd.factorize(raw)
        missing = codes < 0
        texts = np.append(np.asarray(uniques, dtype=object), "")
        codes = np.where(missing, texts.size - 1, codes)
    else:
        missing = np.asarray(pd.isna(raw), dtype=bool)
        texts = raw.copy() if all_text else _to_text(raw).astype(object)
        texts[missing] = ""
        if distinct:
            codes, texts = pd.factorize(texts)
            texts = np.asarray(texts, dtype=object)
        else:
            codes = np.arange(texts.size, dtype=np.intp)
    trimmed: np.ndarray = _strip(texts).astype(object) if texts.size else texts.copy()
    if not distinct:
        return _Cells(raw, missing, codes, trimmed)
    merged, uniques = pd.factorize(trimmed)  # ' x' and 'x' are one value
    return _Cells(raw, missing, merged[codes], np.asarray(uniques, dtype=object))


def _plain_numbers(column: pd.Series, distinct: bool) -> np.ndarray | None:
    """float64 of every cell of a string column whose cells are all number-shaped text, or of
    a float64 column; None otherwise (the cells then take :func:`_check_numeric`'s look).

    The values are those :func:`_parse_numbers` gives: without spaces there is nothing to trim,
    and ``astype`` calls ``float()`` on each text (once per distinct text with ``distinct``).
    """
    if column.dtype == np.float64:
        # str() of a float64 reads back as the same float, so the text round trip is void.
        values: np.ndarray = column.to_numpy(dtype=np.float64) + 0.0
        return values if np.isfinite(values).all() else None
    if not isinstance(column.dtype, pd.StringDtype):
        return None
    texts = column.to_numpy(dtype=object)
    codes = None
    if distinct:
        codes, uniques = pd.factorize(texts)
        if codes.size and codes.min() < 0:  # a missing cell
            return None
        texts = np.asarray(uniques, dtype=object)
    try:
        joined = "".join(texts)
    except TypeError:  # a missing cell
        return None
    if not joined.isascii() or joined.encode("ascii").translate(None, _PLAIN_NUMBER_BYTES):
        return None
    try:
        parsed = texts.astype(np.float64)  # ValueError on '', '1e' and the like
    except ValueError:
        return None
    return (parsed if codes is None else parsed[codes]) + 0.0


def _number_or_nan(text: str) -> float:
    if _PLAIN_NUMBER_TEXT.fullmatch(text) is None:
        return np.nan
    try:
        return float(text)
    except ValueError:
        return np.nan


def _parse_numbers(texts: np.ndarray) -> np.ndarray:
    """float64 of each trimmed text, NaN where it is not a number.

    A number is an optional sign, digits with an optional decimal point and an optional
    exponent: exactly what float() accepts once text is restricted to the characters
    ``0-9 + - . e E`` (so no underscores, non-ASCII digits, 'nan' or 'inf'). float() rounds
    correctly, so every written number survives exactly. (pandas.to_numeric does not:
    '+3E26' comes back one ulp off.) Clean columns take one C-speed pass.
    """
    if texts.size == 0:
        return np.zeros(0, dtype=np.float64)
    if _PLAIN_NUMBER_TEXT.fullmatch("".join(texts)):
        try:
            return np.fromiter(map(float, texts), dtype=np.float64, count=texts.size) + 0.0
        except ValueError:
            pass  # an empty or malformed text: decide cell by cell
    return np.fromiter(map(_number_or_nan, texts), dtype=np.float64, count=texts.size) + 0.0


# --------------------------------------------------------------------------------------------
# problems
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Problems:
    """Failing cells of one column: positions, raw texts, reasons and a generic summary each."""

    column: str
    positions: np.ndarray
    values: list[str]
    reasons: list[str]
    kinds: list[str]


def _fmt_bound(x: float) -> str:
    return f"{x:g}"


def _bound_text(column: str) -> str:
    low, high, low_inclusive, unit = BOUNDS[column]
    interval = f"{'[' if low_inclusive else '('}{_fmt_bound(low)}, {_fmt_bound(high)}]"
    return f"{interval} {unit}".rstrip()


def _decimal_comma(text: str) -> bool:
    if text.count(",") != 1:
        return False
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return "." not in text


def _uncached_formula(subject: str, formula: str) -> str:
    return (f"{subject} must hold a value. Got the formula {formula!r} with no cached value "
            "instead (recalculate and save it in Excel).")


def _usable(column: str, values: np.ndarray) -> np.ndarray:
    """Finite and within the column's bounds."""
    low, high, low_inclusive, _ = BOUNDS[column]
    with np.errstate(invalid="ignore"):
        above_low = values >= low if low_inclusive else values > low
        out: np.ndarray = np.isfinite(values) & above_low & (values <= high)
    return out


def _numeric_column(column: str, series: pd.Series,
                    as_written: Callable[[str], pd.Series] | None = None,
                    ) -> tuple[np.ndarray, _Problems]:
    """Values of a numeric column (NaN where rejected) and its problems. ``as_written`` gives
    the column's cells as text when the reader parsed them as numbers (a CSV), so that a
    rejected cell is reported as written ('-1', not '-1.0')."""
    distinct = column != "Volume"  # peak areas rarely repeat
    values = _plain_numbers(series, distinct)
    if values is not None and _usable(column, values).all():
        return values, _Problems(column, np.zeros(0, dtype=np.intp), [], [], [])
    if as_written is not None and series.dtype == np.float64:
        series = as_written(column)
    return _check_numeric(column, _cells(series, distinct=distinct))


def _check_numeric(column: str, cells: _Cells) -> tuple[np.ndarray, _Problems]:
    values = _parse_numbers(cells.uniques)[cells.codes]
    trimmed = cells.trimmed
    empty = trimmed == ""
    finite = np.isfinite(values)
    positions = np.flatnonzero(~_usable(column, values))
    reasons: list[str] = []
    kinds: list[str] = []
    value_texts: list[str] = []
    bounds = _bound_text(column)
    for i in positions:
        value_texts.append(cells.text(i))
        value = str(trimmed[i])
        subject = f"Column {column!r} in row {i}"
        if isinstance(cells.raw[i], UncachedFormula):
            reasons.append(_uncached_formula(subject, value))
            kinds.append(f"{column} is a formula with no cached value")
        elif empty[i]:
            reasons.append(f"{subject} must be a number. Got an empty cell instead.")
            kinds.append(f"{column} is empty")
        elif np.isnan(values[i]):
            if _decimal_comma(value):
                reasons.append(f"{subject} must be a number with a decimal point. "
                               f"Got {value!r} (a decimal comma) instead.")
                kinds.append(f"{column} uses a decimal comma")
            elif value.lower().lstrip("+-") in ("nan", "inf", "infinity"):
                reasons.append(f"{subject} must be a finite number. Got {value!r} instead.")
                kinds.append(f"{column} is not finite")
            else:
                reasons.append(f"{subject} must be a number. Got {value!r} instead.")
                kinds.append(f"{column} is not a number")
        elif not finite[i]:
            reasons.append(f"{subject} must be a finite number. Got {value!r} instead.")
            kinds.append(f"{column} is not finite")
        else:
            reasons.append(f"{column} must be within {bounds}. Got {float(values[i])!r} instead.")
            kinds.append(f"{column} outside {bounds}")
    values = values.copy()
    values[positions] = np.nan
    return values, _Problems(column, positions, value_texts, reasons, kinds)


def _check_anchor(cells: _Cells) -> tuple[np.ndarray, _Problems]:
    keys = pd.Series(_casefold(cells.uniques) if cells.uniques.size else cells.uniques,
                     dtype=object)
    is_true = keys.isin(ANCHOR_TRUE).to_numpy(dtype=bool)[cells.codes]
    is_false = keys.isin(ANCHOR_FALSE).to_numpy(dtype=bool)[cells.codes]
    for i in np.flatnonzero(~(is_true | is_false) & ~cells.missing):
        value = cells.raw[i]
        # Native numbers 1 / 0 (e.g. 1.0 from a float column); bools already matched as text.
        if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_ | str):
            is_true[i] = value == 1
            is_false[i] = value == 0
    positions = np.flatnonzero(~(is_true | is_false))
    reasons: list[str] = []
    kinds: list[str] = []
    value_texts: list[str] = []
    for i in positions:
        value_texts.append(cells.text(i))
        trimmed = cells.uniques[cells.codes[i]]
        value = str(trimmed)
        subject = f"Column 'Anchor' in row {i}"
        if isinstance(cells.raw[i], UncachedFormula):
            reasons.append(_uncached_formula(subject, value))
            kinds.append("Anchor is a formula with no cached value")
        else:
            got = "an empty cell" if trimmed == "" else repr(value)
            reasons.append(f"{subject} must be true or false (t, true, 1, yes / f, false, 0, "
                           f"no). Got {got} instead.")
            empty = got == "an empty cell"
            kinds.append("Anchor is empty" if empty else "Anchor is not true/false")
    return is_true, _Problems("Anchor", positions, value_texts, reasons, kinds)


def _check_names(cells: _Cells) -> tuple[dict[str, Any], np.ndarray, _Problems]:
    codes, uniques = cells.codes, cells.uniques
    parsed = [name_fields(u) for u in uniques]  # each distinct name once
    failed = np.array([fields is None for fields, _ in parsed], dtype=bool)
    reason_of = [reason for _, reason in parsed]
    fields = _typed_name_fields([fields for fields, _ in parsed], uniques)
    per_row = {c: _take(values, codes) for c, values in fields.items()}
    positions = np.flatnonzero(failed[codes])
    reasons: list[str] = []
    kinds: list[str] = []
    value_texts: list[str] = []
    for i in positions:
        value = cells.text(i)
        value_texts.append(value)
        if isinstance(cells.raw[i], UncachedFormula):
            reasons.append(f"Column 'Name' in row {i} must hold a value. Got the formula "
                           f"{value!r} with no cached value instead (recalculate and save it "
                           "in Excel).")
            kinds.append("Name is a formula with no cached value")
        else:
            reason = reason_of[codes[i]]
            reasons.append(reason)
            kinds.append(_name_kind(reason))
    return per_row, codes, _Problems("Name", positions, value_texts, reasons, kinds)


def _name_kind(reason: str) -> str:
    if "unknown modification" in reason:
        return "Name has an " + reason[reason.index("unknown modification"):].split(" (")[0]
    if "must not be empty" in reason:
        return "Name is empty"
    if "at most" in reason:
        return "Name is too long"
    return "Name does not follow the ganglioside grammar"


#: Counts of names that parsed are small; larger ones (absurd names) take parse_names' path.
_COUNT_LIMIT = 2**31


def _typed_name_fields(records: list[tuple[object, ...] | None],
                       names: np.ndarray) -> dict[str, Any]:
    """Name fields of each distinct name as columns: text (object, NaN where the name failed),
    nullable Int64 counts and float oxygen. ``records`` holds ``name_fields`` of ``names``."""
    missing = np.array([r is None for r in records], dtype=bool)
    empty = (None,) * len(NAME_COLUMNS)
    columns = list(zip(*(empty if r is None else r for r in records), strict=True)) or [
        () for _ in NAME_COLUMNS]
    out: dict[str, Any] = {}
    for c, values in zip(NAME_COLUMNS, columns, strict=True):
        if c in NAME_INT_COLUMNS:
            try:
                ints = np.array([0 if v is None else v for v in values], dtype=np.int64)
            except OverflowError:
                return _typed_name_fields_of_frame(names)
            if ints.size and np.abs(ints).max() >= _COUNT_LIMIT:
                return _typed_name_fields_of_frame(names)
            out[c] = pd.arrays.IntegerArray(ints, missing.copy())
        elif c == "oxygen":
            out[c] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            out[c] = np.array([np.nan if v is None else v for v in values], dtype=object)
    return out


def _typed_name_fields_of_frame(names: np.ndarray) -> dict[str, Any]:
    """As :func:`_typed_name_fields`, through parse_names' frame (whatever pandas makes of
    huge counts)."""
    fields = parse_names(pd.Series(names, dtype=object))[0]
    out: dict[str, Any] = {}
    for c in NAME_COLUMNS:
        column = fields[c]
        if c in NAME_INT_COLUMNS:
            out[c] = pd.to_numeric(column.astype(object), errors="coerce").astype("Int64").array
        elif c == "oxygen":
            out[c] = pd.to_numeric(column.astype(object), errors="coerce").to_numpy(np.float64)
        else:
            values = column.to_numpy(dtype=object, copy=True)
            values[np.asarray(pd.isna(values), dtype=bool)] = np.nan
            out[c] = values
    return out


def _take(values: Any, codes: np.ndarray) -> Any:
    """Per-row values from per-value ones; text becomes pandas' text dtype per distinct value
    (the frame would otherwise infer it from every row's object)."""
    if not isinstance(values, np.ndarray):
        return values.take(codes)
    if values.dtype == object:
        return pd.array(values, dtype=TEXT_DTYPE).take(codes)
    return values[codes]


# --------------------------------------------------------------------------------------------
# public
# --------------------------------------------------------------------------------------------
def validate_input(raw: RawTable | pd.DataFrame,
                   params: AnalysisParams | dict[str, Any] | None = None,
                   ) -> tuple[pd.DataFrame, InputReport]:
    """Parse and check every cell; return all rows and the report of every problem.

    Parameters
    ----------
    raw : RawTable
        From :func:`ganglioside_nb.io.readers.read_table` (a DataFrame is read with it first).
    params : AnalysisParams, dict or None
        Only ``max_rows`` is used.

    Returns
    -------
    table : pandas.DataFrame
        Every input row in input order: ``row`` (int64, 0..n-1), ``Name`` (trimmed text),
        ``RT``, ``Volume``, ``Log P`` (float64, NaN where the cell is rejected), ``Anchor``
        (bool, False where rejected), ``rejected`` (bool), then the name fields of
        ``core.names.NAME_COLUMNS`` (missing where the name did not parse; counts as nullable
        ``Int64``, ``oxygen`` float64, text as pandas' text dtype).
    report : InputReport
        One entry per problem (``row``, ``line``, ``column``, ``value`` as raw text, ``reason``),
        ordered by row then column; ``notes`` holds file-level findings.

    Raises
    ------
    InputFormatError
        More than ``params.max_rows`` data rows (the table is never truncated).
    EmptyAnalysisError
        No row is usable; ``details['input_report']`` holds the entries as records.

    Examples
    --------
    >>> from ganglioside_nb.io.readers import read_table
    >>> raw = read_table(b"Name,RT,Volume,Log P,Anchor\\nGM3(36:1;O2),10.6,2e6,-0.5,T\\n"
    ...                  b"GD1+Ac(36:1;O2),n/a,1,0,maybe\\n")
    >>> table, report = validate_input(raw)
    >>> table[["RT", "Anchor", "rejected", "prefix"]].to_dict("list")
    {'RT': [10.6, nan], 'Anchor': [True, False], 'rejected': [False, True], 'prefix': ['GM3', nan]}
    >>> report.entries["column"].tolist()
    ['Name', 'RT', 'Anchor']
    """
    if isinstance(raw, pd.DataFrame):
        from ..io.readers import read_table

        raw = read_table(raw)
    params = AnalysisParams.coerce(params)
    frame = raw.frame
    n = len(frame)
    subject = f"File {raw.filename!r}" if raw.filename else "The input"
    if n > params.max_rows:
        raise InputFormatError(
            f"{subject} must have at most {params.max_rows:,} data rows (max_rows). "
            f"Got {n:,} rows instead.", filename=raw.filename, check="row_cap", rows=n,
            limit=params.max_rows)

    name_cells = _cells(frame["Name"])
    fields, name_codes, name_problems = _check_names(name_cells)
    numeric: dict[str, np.ndarray] = {}
    problems = [name_problems]
    for column in NUMBER_COLUMNS:
        numeric[column], found = _numeric_column(column, frame[column],
                                                 getattr(raw, "column_text", None))
        problems.append(found)
    anchor, anchor_problems = _check_anchor(_cells(frame["Anchor"]))
    problems.append(anchor_problems)

    entries, kinds = _entries(problems, np.asarray(raw.lines, dtype=np.int64))
    rejected = np.zeros(n, dtype=bool)
    rejected[entries["row"].to_numpy(dtype=np.int64)] = True

    table = pd.DataFrame({
        "row": np.arange(n, dtype=np.int64),
        "Name": pd.Series(name_cells.trimmed, dtype=object, copy=False),
        **{c: numeric[c] for c in NUMBER_COLUMNS},
        "Anchor": anchor,
        "rejected": rejected,
        **fields,
        "name_id": name_codes.astype(np.int64, copy=False),  # one id per distinct Name
    }, copy=False)

    notes = list(getattr(raw, "notes", ()))
    notes += _duplicate_note(name_codes, name_cells.uniques, rejected)
    notes += _formula_note(raw.extras)
    report = InputReport(entries=entries, total_rows=n, column_mapping=dict(raw.column_mapping),
                         filename=raw.filename, notes=tuple(notes))
    if n and rejected.all():
        # In order of first appearance, so that a tie names the problem seen first.
        tally = pd.Series(kinds, dtype=object).value_counts(sort=False)
        top = int(np.argmax(tally.to_numpy()))
        common, count = str(tally.index[top]), int(tally.iloc[top])
        raise EmptyAnalysisError(
            f"{subject} must have at least one usable row. Got none of its {n:,} rows usable "
            f"instead (most common problem, in {count:,} cells: {common}).",
            filename=raw.filename, check="all_rejected",
            input_report=entries.to_dict(orient="records"))
    return table, report


def _entries(problems: list[_Problems], lines: np.ndarray) -> tuple[pd.DataFrame, list[str]]:
    order = {c: k for k, c in enumerate(INPUT_COLUMNS)}
    rows = np.concatenate([p.positions for p in problems]).astype(np.int64)
    column_rank = np.concatenate([np.full(p.positions.size, order[p.column], dtype=np.int64)
                                  for p in problems])
    columns = np.concatenate([np.full(p.positions.size, p.column, dtype=object) for p in problems])
    values = np.concatenate([np.asarray(p.values, dtype=object).reshape(-1) for p in problems])
    reasons = np.concatenate([np.asarray(p.reasons, dtype=object).reshape(-1) for p in problems])
    kinds = np.concatenate([np.asarray(p.kinds, dtype=object).reshape(-1) for p in problems])
    sort = np.lexsort((column_rank, rows))
    entries = pd.DataFrame({
        "row": rows[sort],
        "line": lines[rows[sort]] if rows.size else np.zeros(0, dtype=np.int64),
        "column": pd.Series(columns[sort], dtype=object),
        "value": pd.Series(values[sort], dtype=object),
        "reason": pd.Series(reasons[sort], dtype=object),
    }, columns=list(INPUT_REPORT_COLUMNS))
    return entries, list(kinds[sort])


def _duplicate_note(codes: np.ndarray, names: np.ndarray, rejected: np.ndarray) -> list[str]:
    """The note on repeated names; ``names`` are the distinct names, ``codes`` index them."""
    usable = codes[(names != "")[codes] & ~rejected] if codes.size else codes
    if usable.size == 0:
        return []
    counts = np.bincount(usable)
    repeated = counts > 1
    if not repeated.any():
        return []
    n_names = int(repeated.sum())
    n_rows = int(counts[repeated].sum())
    return [f"{n_names} name{'s' if n_names != 1 else ''} repeat over {n_rows} rows "
            f"({n_rows - n_names} extra rows); isomer peaks are kept and keyed by row."]


def _formula_note(extras: pd.DataFrame) -> list[str]:
    """Text cells of carried-through columns that a spreadsheet would run as formulas."""
    flagged: list[str] = []
    total = 0
    for name in extras.columns:
        raw = extras[name].to_numpy(dtype=object)
        raw = raw[~np.asarray(pd.isna(raw), dtype=bool)]
        codes, uniques = pd.factorize(raw)
        # Text only; numbers (a negative value starts with '-') are never counted.
        suspect = np.array([isinstance(u, str) and u.startswith(_FORMULA_START)
                            and np.isnan(_number_or_nan(u.strip())) for u in uniques], dtype=bool)
        k = int(suspect[codes].sum()) if suspect.any() else 0
        if k:
            flagged.append(repr(str(name)))
            total += k
    if not total:
        return []
    cells = f"{total} text cell{'s' if total != 1 else ''}"
    columns = f"column{'s' if len(flagged) > 1 else ''} {', '.join(flagged)}"
    verb = "starts" if total == 1 else "start"
    return [f"{cells} in {columns} {verb} with '=', '+', '-', '@', tab or CR; kept as is here "
            "and escaped on export."]


def working_table(table: pd.DataFrame) -> pd.DataFrame:
    """The rules' working table: the non-rejected rows of a validated table, a fresh
    RangeIndex, counts as int64 and without the ``rejected`` column."""
    keep = ~table["rejected"].to_numpy(dtype=bool)
    kept = table if keep.all() else table.loc[keep]  # columns are shared, not copied, when whole
    columns = {c: kept[c].astype(np.int64) if c in NAME_INT_COLUMNS else kept[c]
               for c in kept.columns if c != "rejected"}
    return pd.DataFrame(columns, copy=False).reset_index(drop=True)
