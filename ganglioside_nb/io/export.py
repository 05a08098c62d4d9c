"""Exports of an :class:`~ganglioside_nb.core.results.AnalysisResult`: CSV, XLSX and JSON as bytes.

Pure ring (``io/``): stdlib, numpy and pandas; openpyxl is imported inside :func:`to_xlsx`.
ALGORITHM.md §7 "Exports" and "Formula-injection escape", FEATURES.md E1-E5.

* :func:`to_csv` writes the compounds table after ``#`` metadata lines (version, input hash,
  parameters); :func:`read_csv_export` reads it back.
* :func:`to_xlsx` writes one sheet per table plus ``statistics`` and ``parameters``.
* :func:`to_json` writes one strict JSON object (``null`` for missing values).
* :func:`export` picks the format from a path's extension and writes the file.

Every export embeds the parameters, the package version and ``input_sha256`` and no timestamp
(provenance entries about time are left out), so exporting one result twice gives identical
bytes, XLSX included (fixed zip entry times, no created/modified document properties).

**Formula-injection escape.** In CSV and XLSX a *text* cell whose first character is one of
``= + - @ |``, tab or CR gets a leading apostrophe (``|`` from FEATURES.md E5), which is what
spreadsheets expect: the cell is shown as text and never evaluated. A text cell that already
starts with apostrophes followed by such a character gets one more, so
:func:`read_csv_export` can strip exactly one and return the original text. Numeric and boolean
cells are written as numbers and never escaped (a negative number starts with ``-``); JSON is
never escaped; the result in memory is never altered.

The column converters take a fast path for numpy numeric and string columns and a per-cell path
for everything else (object columns of mappings, lists, mixed values; nullable extension
types). Both paths give the same cell values; the split is for speed only, not for meaning.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import zipfile
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InputFormatError, InvalidParameterError

if TYPE_CHECKING:
    from ..core.results import AnalysisResult

__all__ = [
    "FORMATS",
    "JSON_SCHEMA_VERSION",
    "escape_text",
    "export",
    "read_csv_export",
    "sidecar_path",
    "to_csv",
    "to_csv_sidecar",
    "to_json",
    "to_xlsx",
]

PACKAGE = "ganglioside_nb"
JSON_SCHEMA_VERSION = 1
#: Extension -> format name understood by :func:`export`.
FORMATS: dict[str, str] = {".csv": "csv", ".xlsx": "xlsx", ".json": "json"}

#: Characters that make a spreadsheet evaluate a text cell (ALGORITHM.md §7, FEATURES.md E5).
FORMULA_TRIGGERS = "=+-@|\t\r"
_TRIGGER_CLASS = "[" + re.escape(FORMULA_TRIGGERS) + "]"
#: Needs escaping: optional apostrophes, then a trigger character.
_NEEDS_ESCAPE = re.compile("'*" + _TRIGGER_CLASS)
#: Was escaped: one apostrophe, then the same shape.
_ESCAPED = re.compile("''*" + _TRIGGER_CLASS)

#: Provenance entries about time are left out of exports, so exports are reproducible.
_TIME_KEY = re.compile(r"time|date|elapsed|duration|seconds|_at$", re.IGNORECASE)

#: Excel's sheet limit, header included.
_XLSX_MAX_ROWS = 1_048_576
_XLSX_SHEETS = ("compounds", "models", "statistics", "parameters", "input_report", "oac_pairs",
                "fragment_events", "validation")
#: Zip entry time of every XLSX member (the zip format's epoch), for byte-identical files.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CORE_DATES = re.compile(rb"<dcterms:(created|modified)\b[^>]*>[^<]*</dcterms:\1>")
_JSON_CHUNK_ROWS = 50_000


# -- cell conversion ---------------------------------------------------------------------------
def escape_text(text: str) -> str:
    """The text with a leading apostrophe if a spreadsheet would treat it as a formula.

    >>> escape_text("=SUM(A1)"), escape_text("-OAc"), escape_text("GD1"), escape_text("'=x")
    ("'=SUM(A1)", "'-OAc", 'GD1', "''=x")
    """
    return "'" + text if _NEEDS_ESCAPE.match(text) else text


def _unescape_text(text: str) -> str:
    return text[1:] if _ESCAPED.match(text) else text


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return not math.isfinite(float(value))
    return False


def _plain(value: Any) -> Any:
    """A JSON-able Python value: None for missing or non-finite, no numpy scalars.

    Mappings stay mappings (keys as text) and sequences become lists, recursively.
    """
    if _is_missing(value):
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, Decimal):
        return _plain(float(value))
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray | pd.Series | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_plain(v) for v in items]
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return str(value)
    raise TypeError(f"Export cells must be text, numbers, booleans, mappings or lists. "
                    f"Got {type(value).__name__} ({value!r}) instead.")


def _cell_text(value: Any) -> str:
    """JSON text of a mapping or list cell (for CSV and XLSX)."""
    return json.dumps(_plain(value), allow_nan=False, ensure_ascii=False)


def _column_values(series: pd.Series) -> list[Any]:
    """The column as plain Python values (see :func:`_plain`)."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return list(series.to_numpy().tolist())
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = series.to_numpy(dtype=np.float64)
        out = values.astype(object)
        out[~np.isfinite(values)] = None
        return list(out.tolist())
    if isinstance(dtype, pd.StringDtype):
        return list(series.to_numpy(dtype=object, na_value=None).tolist())
    return [_plain(v) for v in series.to_numpy(dtype=object)]


def _matching(series: pd.Series, pattern: re.Pattern[str]) -> np.ndarray:
    """Mask of the text cells ``pattern`` matches at their start.

    Text columns repeat a few values (status, model, flags), so the pattern runs on the
    distinct values only and ``isin`` (a hash lookup) spreads the verdict.
    """
    hits = [v for v in series.dropna().unique() if pattern.match(v)]
    return np.asarray(series.isin(hits), dtype=bool) if hits else np.zeros(len(series), dtype=bool)


def _text_cells(series: pd.Series) -> pd.Series:
    """The column as spreadsheet cells: text escaped, mappings and lists as JSON text.

    Numeric and boolean cells are returned unchanged. A new Series; ``series`` is untouched.
    """
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        return series
    if isinstance(dtype, pd.StringDtype):
        mask = _matching(series, _NEEDS_ESCAPE)
        return series.where(~mask, "'" + series[mask]) if mask.any() else series
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return series  # nullable Int64 / Float64 / boolean
    cells = [
        escape_text(str(v)) if isinstance(v, str)
        else _cell_text(v) if isinstance(v, Mapping | list | tuple | np.ndarray | set | frozenset)
        else v
        for v in series.to_numpy(dtype=object)
    ]
    return pd.Series(cells, index=series.index, dtype=object, name=series.name)


def _escaped_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A new frame with escaped headers and cells; ``frame`` is untouched."""
    return pd.DataFrame(
        {i: _text_cells(frame.iloc[:, i]) for i in range(frame.shape[1])}, index=frame.index,
    ).set_axis([escape_text(str(c)) for c in frame.columns], axis=1)


# -- shared pieces -----------------------------------------------------------------------------
def _provenance(result: AnalysisResult) -> dict[str, Any]:
    """Provenance without time-dependent entries, version or hash (exported separately)."""
    return {k: _plain(v) for k, v in result.provenance.items()
            if k not in ("version", "input_sha256") and not _TIME_KEY.search(k)}


def _params_json(result: AnalysisResult) -> str:
    return json.dumps(result.params.to_dict(), sort_keys=True, separators=(",", ":"),
                      allow_nan=False, ensure_ascii=False)


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, name + ".")
        elif isinstance(value, list | tuple | np.ndarray):
            yield name, _cell_text(value)
        else:
            yield name, _plain(value)


# -- CSV ---------------------------------------------------------------------------------------
def _csv_kind(series: pd.Series) -> str:
    """How a column is restored on reading: int, float, bool, Int64, boolean, text or object."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return {"b": "bool", "i": "int", "u": "int", "f": "float"}[dtype.kind]
    if isinstance(dtype, pd.StringDtype):
        return "text"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "Int64"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    values = series.dropna().to_numpy(dtype=object)
    if all(isinstance(v, str) for v in values):
        return "text"
    return "object"


def to_csv(result: AnalysisResult) -> bytes:
    """The compounds table as UTF-8 CSV, after four ``#`` metadata lines.

    The lines are ``# ganglioside_nb <version>``, ``# input_sha256 <hex>``,
    ``# params <compact JSON, sorted keys>`` and ``# columns <JSON: column -> kind>`` (what
    :func:`read_csv_export` needs to restore each column exactly); then the header and one
    line per input row, ``\\n`` line ends. Every text field is quoted and formula-escaped;
    numbers and booleans are bare; a missing number is an empty field.

    Read it back with :func:`read_csv_export`, or with ``pandas.read_csv(path, comment="#")``
    (safe because text is always quoted; escaped text then keeps its apostrophe).

    Examples
    --------
    >>> from ganglioside_nb import analyze, datasets
    >>> data = to_csv(analyze(datasets.sample_path("testwork"), mode="reference"))
    >>> data.splitlines()[0].decode()
    '# ganglioside_nb 0.1.0'
    >>> frame, metadata = read_csv_export(data)
    >>> frame["status"].tolist(), metadata["params"]["mode"]
    (['valid', 'outlier', 'outlier', 'valid', 'valid'], 'reference')
    """
    compounds = result.compounds
    kinds = {str(c): _csv_kind(compounds.iloc[:, i]) for i, c in enumerate(compounds.columns)}
    head = (f"# {PACKAGE} {result.version}\n"
            f"# input_sha256 {result.input_sha256}\n"
            f"# params {_params_json(result)}\n"
            f"# columns {json.dumps(kinds, separators=(',', ':'), ensure_ascii=False)}\n")
    # QUOTE_NONNUMERIC: the csv module leaves a bare CR unquoted when the line end is "\n",
    # which would split the row on reading; quoting every text field avoids that.
    body: str = _escaped_frame(compounds).to_csv(
        index=False, lineterminator="\n", na_rep="", quoting=csv.QUOTE_NONNUMERIC)
    return (head + body).encode("utf-8")


_CSV_META = (("version", f"# {PACKAGE} "), ("input_sha256", "# input_sha256 "),
             ("params", "# params "), ("columns", "# columns "))


def _restore(series: pd.Series, kind: str) -> pd.Series:
    if kind == "text":
        series = series.fillna("").astype("str")
        mask = _matching(series, _ESCAPED)
        return series.where(~mask, series[mask].str.slice(1)) if mask.any() else series
    if kind in ("int", "float", "bool", "Int64", "boolean"):
        return series.astype({"int": "int64", "float": "float64"}.get(kind, kind))
    if isinstance(series.dtype, pd.StringDtype) or series.dtype == object:
        return series.map(lambda v: _unescape_text(v) if isinstance(v, str) else v)
    return series


def read_csv_export(source: str | os.PathLike[str] | bytes | IO[bytes] | IO[str],
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a CSV written by :func:`to_csv`: the compounds table and its metadata.

    Each column comes back with its kind from the ``# columns`` line: integers, floats
    (inf included), booleans, nullable integers, and text exactly as it was (escaped cells
    lose exactly the one apostrophe the export added; an empty text stays ``""``). Columns of
    mixed values come back as pandas infers them, escaped text restored. Without the
    ``# columns`` line every column is inferred and an empty field is missing.

    Returns
    -------
    (frame, metadata) with metadata keys ``version``, ``input_sha256`` and ``params`` (dict).

    Raises
    ------
    InputFormatError
        If the text does not begin with the metadata lines of :func:`to_csv`.
    """
    if isinstance(source, bytes):
        raw: bytes | str = source
    elif isinstance(source, str | os.PathLike):
        raw = Path(source).read_bytes()
    else:
        raw = source.read()
    text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw.lstrip("\ufeff")
    lines = text.split("\n", 4)
    found: dict[str, str] = {}
    for (key, prefix), line in zip(_CSV_META, lines, strict=False):
        if not line.startswith(prefix):
            break
        found[key] = line[len(prefix):].strip()
    if len(found) < 3:
        got = " | ".join(lines[:3])[:120]
        raise InputFormatError(
            f"A ganglioside_nb CSV export must begin with the lines '# {PACKAGE} <version>', "
            f"'# input_sha256 <hex>' and '# params <JSON>'. Got {got!r} instead.",
            check="csv_export_header")
    parsed = {}
    for key in ("params", "columns"):
        try:
            parsed[key] = json.loads(found[key]) if key in found else {}
        except json.JSONDecodeError as exc:
            raise InputFormatError(
                f"The '# {key}' line of a CSV export must hold a JSON object. Got "
                f"{found[key][:80]!r} instead ({exc.msg}).", check="csv_export_header") from None
    kinds: dict[str, str] = parsed["columns"]
    body = "\n".join(lines[len(found):]) if len(found) < len(lines) else ""
    if not body.strip():
        raise InputFormatError("A ganglioside_nb CSV export must have a header line after its "
                               "metadata lines. Got nothing instead.", check="csv_export_header")
    header = pd.read_csv(io.StringIO(body), nrows=0).columns
    names = {h: _unescape_text(str(h)) for h in header}
    text_columns = [h for h in header if kinds.get(names[h]) == "text"]
    frame = pd.read_csv(
        io.StringIO(body), low_memory=False, keep_default_na=False,
        na_values={h: [""] for h in header if h not in text_columns},
        dtype=dict.fromkeys(text_columns, str))
    columns = {i: _restore(frame.iloc[:, i], kinds.get(names[h], "")) for i, h in enumerate(header)}
    out = pd.DataFrame(columns, index=frame.index).set_axis([names[h] for h in header], axis=1)
    return out, {"version": found["version"], "input_sha256": found["input_sha256"],
                 "params": parsed["params"]}


def to_csv_sidecar(result: AnalysisResult) -> bytes:
    """The JSON sidecar of a CSV export: parameters, provenance, statistics and warnings.

    Strict JSON like :func:`to_json`, without the tables (FEATURES.md E2).
    """
    return _encode_object([
        ("schema_version", JSON_SCHEMA_VERSION), ("package", PACKAGE),
        ("version", result.version), ("input_sha256", result.input_sha256),
        ("parameters", _plain(result.params.to_dict())), ("provenance", _provenance(result)),
        ("statistics", _plain(result.statistics)), ("warnings", [str(w) for w in result.warnings]),
    ])


# -- JSON --------------------------------------------------------------------------------------
def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def _records(frame: pd.DataFrame) -> str:
    """The frame as a JSON array of row objects, encoded chunk by chunk to bound memory."""
    names = [str(c) for c in frame.columns]
    pieces = []
    for start in range(0, len(frame), _JSON_CHUNK_ROWS):
        chunk = frame.iloc[start:start + _JSON_CHUNK_ROWS]
        columns = [_column_values(chunk.iloc[:, i]) for i in range(chunk.shape[1])]
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        if not columns:
            rows = [{} for _ in range(len(chunk))]
        pieces.append(_dumps(rows)[1:-1])
    return "[" + ",".join(pieces) + "]"


class _Encoded(str):
    """Already-encoded JSON text, spliced verbatim by :func:`_encode_object`."""


def _encode_object(items: list[tuple[str, Any]]) -> bytes:
    parts = [f"{_dumps(key)}:{value if isinstance(value, _Encoded) else _dumps(value)}"
             for key, value in items]
    return ("{" + ",".join(parts) + "}\n").encode("utf-8")


def to_json(result: AnalysisResult) -> bytes:
    """Everything of the result as one strict JSON object (UTF-8).

    Keys: ``schema_version`` (1), ``package``, ``version``, ``input_sha256``, ``parameters``,
    ``provenance`` (without time entries), ``statistics``, ``warnings``, ``models``,
    ``compounds`` (records), ``input_report`` (an object: ``total_rows``, ``n_rejected``,
    ``filename``, ``column_mapping``, ``notes``, ``entries`` as records), ``oac_pairs``,
    ``fragment_events`` and ``validation`` (records). Missing and non-finite values are
    ``null``; mapping cells (model coefficients) stay objects; list cells are arrays. No
    escaping is applied.
    """
    report = result.input_report
    input_report = _Encoded(
        "{" + ",".join([
            f'"total_rows":{_dumps(int(report.total_rows))}',
            f'"n_rejected":{_dumps(report.n_rejected)}',
            f'"filename":{_dumps(report.filename)}',
            f'"column_mapping":{_dumps(_plain(dict(report.column_mapping)))}',
            f'"notes":{_dumps([str(n) for n in report.notes])}',
            f'"entries":{_records(report.entries)}',
        ]) + "}")
    return _encode_object([
        ("schema_version", JSON_SCHEMA_VERSION),
        ("package", PACKAGE),
        ("version", result.version),
        ("input_sha256", result.input_sha256),
        ("parameters", _plain(result.params.to_dict())),
        ("provenance", _provenance(result)),
        ("statistics", _plain(result.statistics)),
        ("warnings", [str(w) for w in result.warnings]),
        ("models", _Encoded(_records(result.models))),
        ("compounds", _Encoded(_records(result.compounds))),
        ("input_report", input_report),
        ("oac_pairs", _Encoded(_records(result.oac_pairs))),
        ("fragment_events", _Encoded(_records(result.fragment_events))),
        ("validation", _Encoded(_records(result.validation))),
    ])


# -- XLSX --------------------------------------------------------------------------------------
def _key_value_frame(items: list[tuple[str, Any]], key: str) -> pd.DataFrame:
    values = [_cell_text(v) if isinstance(v, list | tuple | Mapping) else v for _, v in items]
    return pd.DataFrame({key: [k for k, _ in items], "value": pd.Series(values, dtype=object)})


def _xlsx_tables(result: AnalysisResult) -> dict[str, pd.DataFrame]:
    statistics = list(_flatten(result.statistics))
    statistics += [("warning", str(w)) for w in result.warnings]
    parameters: list[tuple[str, Any]] = [
        ("package", PACKAGE), ("version", result.version), ("input_sha256", result.input_sha256)]
    parameters += list(result.params.to_dict().items())
    parameters += [(f"provenance.{k}", v) for k, v in _provenance(result).items()]
    return {
        "compounds": result.compounds,
        "models": result.models,
        "statistics": _key_value_frame(statistics, "statistic"),
        "parameters": _key_value_frame(parameters, "parameter"),
        "input_report": result.input_report.entries,
        "oac_pairs": result.oac_pairs,
        "fragment_events": result.fragment_events,
        "validation": result.validation,
    }


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry times and without document dates."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = _CORE_DATES.sub(b"", payload)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, payload)
    return buffer.getvalue()


def to_xlsx(result: AnalysisResult) -> bytes:
    """The result as an XLSX workbook (bytes).

    Sheets: ``compounds``, ``models``, ``statistics`` (flattened, then one ``warning`` row per
    warning), ``parameters`` (package, version, input_sha256, every parameter, then
    ``provenance.*`` entries without time), ``input_report``, ``oac_pairs``,
    ``fragment_events`` and ``validation``. Numbers and booleans are numeric cells; missing and
    non-finite values are empty cells; mappings and lists are JSON text; text is
    formula-escaped, and characters XML cannot hold become U+FFFD.

    Raises
    ------
    InvalidParameterError
        If a table has more rows than a worksheet holds (1,048,575 plus the header).
    """
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    tables = _xlsx_tables(result)
    for name, frame in tables.items():
        if len(frame) >= _XLSX_MAX_ROWS:
            raise InvalidParameterError(
                f"The {name} table must have at most {_XLSX_MAX_ROWS - 1:,} rows for an XLSX "
                f"export. Got {len(frame):,} instead; export CSV or JSON.",
                parameter="format", value="xlsx")

    def clean(values: list[Any]) -> list[Any]:
        return [ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v
                for v in values]

    workbook = Workbook(write_only=True)
    workbook.properties.creator = PACKAGE
    for name in _XLSX_SHEETS:
        frame = _escaped_frame(tables[name])
        sheet = workbook.create_sheet(title=name)
        sheet.append(clean([str(c) for c in frame.columns]))
        columns = [clean(_column_values(frame.iloc[:, i])) for i in range(frame.shape[1])]
        for row in zip(*columns, strict=True):
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _deterministic_zip(buffer.getvalue())


# -- files -------------------------------------------------------------------------------------
def _format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidParameterError(
            f"The export path must end in {', '.join(FORMATS)}. Got {str(path)!r} instead.",
            parameter="path", value=str(path))
    return fmt


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """Where :func:`export` writes the JSON sidecar of a CSV: ``<stem>.meta.json``."""
    path = Path(path)
    return path.with_name(path.stem + ".meta.json")


def export(result: AnalysisResult, path: str | os.PathLike[str], *,
           sidecar: bool = False) -> list[Path]:
    """Write the result to ``path``, in the format its extension names.

    Parameters
    ----------
    result : AnalysisResult
    path : str or path-like
        Ends in ``.csv``, ``.xlsx`` or ``.json`` (any case).
    sidecar : bool, default=False
        With CSV, also write :func:`to_csv_sidecar` to :func:`sidecar_path`.

    Returns
    -------
    list of Path
        The files written, the export first.

    Raises
    ------
    InvalidParameterError
        If the extension is not one of the three.
    OSError
        If the file cannot be written.
    """
    path = Path(path)
    fmt = _format_of(path)
    writer = {"csv": to_csv, "xlsx": to_xlsx, "json": to_json}[fmt]
    path.write_bytes(writer(result))
    written = [path]
    if sidecar and fmt == "csv":
        extra = sidecar_path(path)
        extra.write_bytes(to_csv_sidecar(result))
        written.append(extra)
    return written
