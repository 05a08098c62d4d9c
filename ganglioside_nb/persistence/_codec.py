"""Exact encodings of result values for the database (numpy, pandas and json only).

Three jobs, all lossless, so that ``load_result(save_result(r))`` equals ``r``:

* **Documents** (:func:`to_doc` / :func:`from_doc`): statistics, provenance and table cells as
  plain JSON. Non-finite floats, tuples, numpy arrays and timestamps are tagged
  (``{"$float": "nan"}`` ...). JSONB on Postgres re-orders object keys and JSON turns keys
  into text, so :func:`key_shape` records the key order (and the original keys) of every
  mapping, and :func:`apply_key_shape` puts them back.
* **Columns** (:func:`column_values` / :func:`column_from_values`, :func:`frame_to_doc` /
  :func:`frame_from_doc`): a pandas column as a list of JSON values plus a dtype text
  (:func:`dtype_spec`), restored with the same dtype (``str`` columns keep missing vs ``''``);
  long tables pack their plain columns (base64 bytes, or codes plus distinct texts).
* **Bulk rows for Postgres** (:class:`PgBinaryCopy`): the binary ``COPY`` format built with
  vectorised numpy, chunk by chunk (floats go over as IEEE bytes: no text formatting, no
  precision loss). Text columns are factorised first, so each distinct value is encoded once.

Columns are converted by their dtype: this is the one place where branching on the pandas
dtype is the job (STYLE.md asks core code not to).
"""

from __future__ import annotations

import base64
import json
import math
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PgBinaryCopy",
    "apply_key_shape",
    "column_from_values",
    "column_kind",
    "column_values",
    "dtype_from_spec",
    "dtype_spec",
    "frame_from_doc",
    "frame_to_doc",
    "from_doc",
    "json_cells",
    "key_shape",
    "to_doc",
]

_STRING_SPEC = re.compile(r"string\[(\w+)\|(nan|NA)\]")


# -- dtypes ----------------------------------------------------------------------------------
def dtype_spec(dtype: Any) -> str:
    """A text that :func:`dtype_from_spec` turns back into the same dtype.

    >>> dtype_spec(pd.Series(["a"]).dtype), dtype_spec(np.dtype("int64"))
    ('string[python|nan]', 'int64')
    """
    if isinstance(dtype, pd.StringDtype):
        na = "nan" if isinstance(dtype.na_value, float) else "NA"
        return f"string[{dtype.storage}|{na}]"
    return str(dtype)


def dtype_from_spec(spec: str) -> Any:
    """Inverse of :func:`dtype_spec`."""
    found = _STRING_SPEC.fullmatch(spec)
    if found:
        return pd.StringDtype(found[1], na_value=np.nan if found[2] == "nan" else pd.NA)
    return pd.api.types.pandas_dtype(spec)


def column_kind(dtype: Any) -> str:
    """How a column is stored: ``bool``, ``int``, ``float``, ``text`` or ``other``."""
    if isinstance(dtype, pd.StringDtype):
        return "text"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return "other"


# -- documents -------------------------------------------------------------------------------
def _float_doc(value: float) -> Any:
    """Tag what JSON(B) cannot keep as a float: non-finite values, -0.0, and values whose repr has
    a positive exponent (JSONB prints ``1e+22`` back as the integer ``10000000000000000000000``)."""
    text = repr(value)
    if math.isfinite(value) and "e+" not in text and not (value == 0 and math.copysign(1.0, value) < 0):
        return value
    return {"$float": text}


def to_doc(value: Any) -> Any:
    """A plain-JSON form of ``value`` (dict keys become text; see :func:`key_shape`).

    >>> to_doc({"a": (1, float("nan")), "b": np.int64(3)})
    {'a': {'$tuple': [1, {'$float': 'nan'}]}, 'b': 3}
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _float_doc(float(value))
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dict):
        return {_json_key(k): to_doc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # fast path: ints and texts need no conversion (e.g. the member rows of a fragment event)
        items = value if all(type(v) is int or type(v) is str for v in value) else [
            to_doc(v) for v in value]
        return list(items) if isinstance(value, list) else {"$tuple": list(items)}
    if isinstance(value, np.ndarray):
        return {"$ndarray": to_doc(value.tolist()), "dtype": str(value.dtype)}
    if value is pd.NA:
        return {"$na": True}
    if value is pd.NaT:
        return {"$nat": True}
    if isinstance(value, datetime | date):
        return {"$datetime": value.isoformat(), "type": type(value).__name__}
    raise TypeError(f"A value stored in the database must be JSON-able (None, bool, int, float, str, "
                    f"list, tuple, dict, numpy array or datetime). Got {type(value).__name__} instead.")


def from_doc(doc: Any) -> Any:
    """Inverse of :func:`to_doc` (mapping keys stay text; see :func:`apply_key_shape`)."""
    if isinstance(doc, list):
        return [from_doc(v) for v in doc]
    if not isinstance(doc, dict):
        return doc
    if len(doc) == 1 and "$float" in doc:
        return float(doc["$float"])
    if len(doc) == 1 and "$tuple" in doc:
        return tuple(from_doc(v) for v in doc["$tuple"])
    if len(doc) == 2 and "$ndarray" in doc:
        return np.array(from_doc(doc["$ndarray"]), dtype=doc["dtype"])
    if len(doc) == 1 and "$na" in doc:
        return pd.NA
    if len(doc) == 1 and "$nat" in doc:
        return pd.NaT
    if len(doc) == 2 and "$datetime" in doc:
        kind = {"Timestamp": pd.Timestamp, "datetime": datetime.fromisoformat,
                "date": date.fromisoformat}[doc["type"]]
        return kind(doc["$datetime"])
    return {k: from_doc(v) for k, v in doc.items()}


def _json_key(key: Any) -> str:
    """The text JSON writes for a mapping key."""
    if isinstance(key, str):
        return key
    return json.dumps(key) if isinstance(key, bool | int | float) or key is None else str(key)


def key_shape(value: Any) -> Any:
    """Key order and original keys of every mapping inside ``value``; ``None`` if there is none.

    >>> key_shape({"b": 1, "a": {2: "x", 1: "y"}})
    {'k': ['b', 'a'], 'c': {'a': {'k': [2, 1]}}}
    """
    if isinstance(value, dict):
        children = {_json_key(k): s for k, v in value.items() if (s := key_shape(v)) is not None}
        shape: dict[str, Any] = {"k": list(value)}
        if children:
            shape["c"] = children
        return shape
    if isinstance(value, list | tuple):
        if not any(isinstance(v, dict | list | tuple) for v in value):
            return None
        items = {str(i): s for i, v in enumerate(value) if (s := key_shape(v)) is not None}
        return {"i": items} if items else None
    return None


def apply_key_shape(value: Any, shape: Any) -> Any:
    """Put back the key order and keys recorded by :func:`key_shape`."""
    if shape is None:
        return value
    if isinstance(value, dict):
        children = shape.get("c", {})
        return {k: apply_key_shape(value[_json_key(k)], children.get(_json_key(k)))
                for k in shape["k"]}
    if isinstance(value, list | tuple):
        items = shape.get("i", {})
        out = [apply_key_shape(v, items.get(str(i))) for i, v in enumerate(value)]
        return tuple(out) if isinstance(value, tuple) else out
    return value


# -- columns ---------------------------------------------------------------------------------
def column_values(series: pd.Series) -> list[Any]:
    """The column as JSON values: ``None`` for missing, ``'inf'``/``'-inf'`` in float columns,
    :func:`to_doc` forms in other columns."""
    kind = column_kind(series.dtype)
    if kind == "float":
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        out = values.astype(object)
        out[np.isnan(values)] = None
        out[np.isposinf(values)] = "inf"
        out[np.isneginf(values)] = "-inf"
        out[(values == 0) & np.signbit(values)] = "-0.0"  # JSONB numbers have no negative zero
        return list(out.tolist())
    if kind in ("bool", "int", "text"):
        return list(series.to_numpy(dtype=object, na_value=None).tolist())
    return [to_doc(v) for v in series.to_numpy(dtype=object)]


def column_from_values(values: Sequence[Any] | np.ndarray | pd.Series, spec: str) -> pd.Series:
    """Inverse of :func:`column_values` (also takes database values: 0/1 for bool, None)."""
    dtype = dtype_from_spec(spec)
    kind = column_kind(dtype)
    if kind == "other":
        column = pd.Series([from_doc(v) for v in values], dtype=object)
        return column if dtype == np.dtype(object) else column.astype(dtype)
    if isinstance(values, pd.Series) and values.dtype != np.dtype(object):  # already typed
        return values.astype(dtype).reset_index(drop=True)
    raw = pd.Series(values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object),
                    dtype=object)
    if kind == "bool" and not isinstance(dtype, pd.BooleanDtype):
        return raw.astype(bool).astype(dtype)
    return raw.astype(dtype)


def json_cells(series: pd.Series) -> np.ndarray:
    """Every cell of the column as JSON text (``'null'`` for missing), vectorised per kind."""
    kind = column_kind(series.dtype)
    if kind in ("bool", "int", "float") and not isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
        values = series.to_numpy()
        if kind == "bool":
            return np.where(values, "true", "false").astype(object)
        text = values.astype(str).astype(object)
        if kind == "float":
            text[np.isnan(values)] = "null"
            text[np.isposinf(values)] = '"inf"'
            text[np.isneginf(values)] = '"-inf"'
            text[(values == 0) & np.signbit(values)] = '"-0.0"'
        return text
    if kind == "other":
        return np.array([json.dumps(v) for v in column_values(series)], dtype=object)
    codes, uniques = pd.factorize(pd.Series(column_values(series), dtype=object), use_na_sentinel=True)
    encoded = np.array([json.dumps(u) for u in uniques] + ["null"], dtype=object)
    return encoded[codes]  # code -1 picks the trailing 'null'


# -- frames ----------------------------------------------------------------------------------
def _is_default_index(index: pd.Index, n: int) -> bool:
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and len(index) == n


#: Tables longer than this store their plain columns packed (see :func:`frame_to_doc`).
PACK_ROWS = 10_000


def _pack_column(series: pd.Series) -> dict[str, Any] | None:
    """A long numpy bool/int/float column as base64 bytes, a text column as codes plus its
    distinct values; None for anything else (stored value by value)."""
    kind = column_kind(series.dtype)
    if kind in ("bool", "int", "float") and isinstance(series.dtype, np.dtype):
        values = series.to_numpy()
        little = values.dtype.newbyteorder("<")
        if kind == "int" and values.size:  # the narrowest integer type holding every value
            lo, hi = int(values.min()), int(values.max())
            little = next(np.dtype(t) for t in ("<i1", "<i2", "<i4", little.str)
                          if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max)
        return {"$packed": little.str, "b64": base64.b64encode(values.astype(little).tobytes()).decode()}
    if kind == "text":
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        return {"$packed": "codes", "b64": base64.b64encode(codes.astype("<i4").tobytes()).decode(),
                "values": [str(u) for u in uniques]}
    return None


def _unpack_column(doc: dict[str, Any], spec: str) -> pd.Series:
    raw = base64.b64decode(doc["b64"])
    if doc["$packed"] == "codes":
        codes = np.frombuffer(raw, dtype="<i4")
        values = np.array(list(doc["values"]) + [None], dtype=object)
        return column_from_values(values[codes], spec)  # code -1 picks the trailing None
    return pd.Series(np.frombuffer(raw, dtype=np.dtype(doc["$packed"])).astype(
        dtype_from_spec(spec)))


def frame_to_doc(frame: pd.DataFrame) -> dict[str, Any]:
    """A column-wise JSON document of the frame (names, dtypes, values, index, key shapes).

    Up to :data:`PACK_ROWS` rows every column is a plain JSON list. Longer tables (the pair and
    event tables of 10^5-10^6-row inputs) store numeric columns as base64 of their bytes and
    text columns as codes plus distinct values: exact, ~10x faster to write and to parse into
    JSONB, and the document stays small.
    """
    columns = [frame.iloc[:, j] for j in range(frame.shape[1])]
    pack = len(frame) > PACK_ROWS
    data: list[Any] = []
    for col in columns:
        packed = _pack_column(col) if pack else None
        data.append(packed if packed is not None else column_values(col))
    doc: dict[str, Any] = {
        "columns": [to_doc(c) for c in frame.columns],
        "dtypes": [dtype_spec(c.dtype) for c in columns],
        "n_rows": len(frame),
        "data": data,
        "index": None,
    }
    if not _is_default_index(frame.index, len(frame)):
        doc["index"] = {"dtype": dtype_spec(frame.index.dtype),
                        "values": column_values(frame.index.to_series())}
    shapes = {}
    for j, col in enumerate(columns):
        if column_kind(col.dtype) == "other":
            cells = [key_shape(v) for v in col.to_numpy(dtype=object)]
            if any(s is not None for s in cells):
                shapes[str(j)] = cells
    if shapes:
        doc["shapes"] = shapes
    return doc


def frame_from_doc(doc: dict[str, Any]) -> pd.DataFrame:
    """Inverse of :func:`frame_to_doc`."""
    n = int(doc["n_rows"])
    shapes = doc.get("shapes", {})
    series = []
    for j, (values, spec) in enumerate(zip(doc["data"], doc["dtypes"], strict=True)):
        col = _unpack_column(values, spec) if isinstance(values, dict) else column_from_values(values, spec)
        if str(j) in shapes:
            col = pd.Series([apply_key_shape(v, s) for v, s in zip(col, shapes[str(j)], strict=True)],
                            dtype=col.dtype)
        series.append(col)
    frame = pd.DataFrame(dict(enumerate(series)), index=pd.RangeIndex(n))
    frame.columns = pd.Index([from_doc(c) for c in doc["columns"]])
    if doc.get("index"):
        idx = doc["index"]
        frame.index = pd.Index(column_from_values(idx["values"], idx["dtype"]))
    return frame


# -- Postgres binary COPY --------------------------------------------------------------------
_PG_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_PG_TRAILER = b"\xff\xff"
#: Postgres binary COPY: column type -> (numpy big-endian dtype, byte width).
_PG_FIXED = {"int8": (">i8", 8), "int4": (">i4", 4), "float8": (">f8", 8), "bool": ("u1", 1)}


@dataclass
class _FixedColumn:
    data: np.ndarray  # big-endian values, one per row
    null: np.ndarray  # bool per row
    width: int


@dataclass
class _VarColumn:
    codes: np.ndarray  # index into ``table``; NULL rows pick its last row
    table: np.ndarray  # uint8 (distinct values + 1, width): each value's bytes, zero-padded
    lengths: np.ndarray  # int64 byte length per row of ``table`` (-1 for the NULL row)

    @property
    def width(self) -> int:
        return int(self.table.shape[1])


def _fixed(series: pd.Series | None, pg_type: str, n: int) -> _FixedColumn:
    dtype, width = _PG_FIXED[pg_type]
    if series is None:
        return _FixedColumn(np.zeros(n, dtype=dtype), np.ones(n, dtype=bool), width)
    null = series.isna().to_numpy(dtype=bool)
    if pg_type == "float8":
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    elif pg_type == "bool":
        values = series.to_numpy(dtype=bool, na_value=False)
    else:
        values = series.to_numpy(dtype=np.int64, na_value=0)
    return _FixedColumn(values.astype(dtype), null, width)


def _var(texts: pd.Series | None, prefix: bytes, n: int) -> _VarColumn:
    if texts is None:
        return _VarColumn(np.zeros(n, dtype=np.int64), np.zeros((1, 0), np.uint8),
                          np.array([-1], dtype=np.int64))
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    encoded = [prefix + u.encode("utf-8") for u in map(str, uniques.tolist())]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    width = int(lengths.max()) if lengths.size else 0
    table = np.zeros((len(encoded) + 1, width), dtype=np.uint8)
    if width:
        table[:-1] = np.array(encoded, dtype=f"S{width}").view(np.uint8).reshape(-1, width)
    codes = np.where(codes < 0, len(encoded), codes).astype(np.int64)
    return _VarColumn(codes, table, np.append(lengths, -1))


class PgBinaryCopy:
    """Rows in Postgres' binary ``COPY`` format, produced chunk by chunk.

    Each chunk is laid out as a padded byte matrix, one row per tuple (field count, then per
    field a 4-byte length and the value's bytes at the column's widest width in the chunk); a
    boolean mask drops the padding and the bytes of NULL fields, and ``matrix[mask]`` is the
    chunk, rows in order. Text is factorised per chunk (each distinct value encoded once). All
    the work happens in :meth:`chunk`, so :meth:`reader` can run it in a background thread.

    Parameters
    ----------
    columns : (pg_type, values) per table column, in the COPY column order. ``pg_type`` is
        ``int8``, ``int4``, ``float8``, ``bool``, ``text`` or ``jsonb``; values is a pandas
        Series (missing values become NULL), or ``None`` for an all-NULL column. ``text``
        and ``jsonb`` values are text (``jsonb``: JSON text).
    n_rows : number of rows.
    rows_per_chunk : rows encoded at once.
    max_chunk_bytes : bound on one chunk's padded matrix (a chunk with very wide text is split).
    """

    def __init__(self, columns: Sequence[tuple[str, pd.Series | np.ndarray | None]], n_rows: int,
                 rows_per_chunk: int = 32_768, max_chunk_bytes: int = 32 << 20) -> None:
        self.n_rows = n_rows
        self.rows_per_chunk = max(1, rows_per_chunk)
        self.max_chunk_bytes = max_chunk_bytes
        self._columns: list[tuple[str, pd.Series | None]] = []
        for pg_type, values in columns:
            if pg_type not in _PG_FIXED and pg_type not in ("text", "jsonb"):
                raise ValueError(f"pg_type must be one of int8, int4, float8, bool, text, jsonb. "
                                 f"Got {pg_type!r} instead.")
            if values is not None and len(values) != n_rows:
                raise ValueError(f"Every COPY column must have {n_rows} values. "
                                 f"Got {len(values)} instead.")
            series = pd.Series(values) if isinstance(values, np.ndarray) else values
            self._columns.append((pg_type, None if series is None else series.reset_index(drop=True)))

    def _encode(self, lo: int, hi: int) -> list[_FixedColumn | _VarColumn]:
        n = hi - lo
        out: list[_FixedColumn | _VarColumn] = []
        for pg_type, series in self._columns:
            part = None if series is None else series.iloc[lo:hi]
            if pg_type in _PG_FIXED:
                out.append(_fixed(part, pg_type, n))
            else:
                out.append(_var(part, b"\x01" if pg_type == "jsonb" else b"", n))
        return out

    def chunk(self, lo: int, hi: int) -> bytes:
        """The tuples of rows lo:hi (no file header or trailer)."""
        columns = self._encode(lo, hi)
        n = hi - lo
        row_width = 2 + sum(4 + c.width for c in columns)
        if n > 1 and n * row_width > self.max_chunk_bytes:  # very wide text: two halves
            mid = lo + n // 2
            return self.chunk(lo, mid) + self.chunk(mid, hi)
        matrix = np.empty((n, row_width), dtype=np.uint8)
        keep = np.ones((n, row_width), dtype=bool)
        matrix[:, :2] = np.array([len(columns)], dtype=">i2").view(np.uint8)
        at = 2
        for col in columns:
            data = at + 4
            if isinstance(col, _FixedColumn):
                length = np.where(col.null, -1, col.width).astype(">i4")
                matrix[:, data:data + col.width] = col.data.view(np.uint8).reshape(n, col.width)
                keep[col.null, data:data + col.width] = False
            else:
                length = col.lengths[col.codes].astype(">i4")
                matrix[:, data:data + col.width] = col.table[col.codes]
                keep[:, data:data + col.width] = np.arange(col.width) < length[:, None].astype(np.int64)
            matrix[:, at:data] = length.view(np.uint8).reshape(n, 4)
            at = data + col.width
        return matrix[keep].tobytes()

    def chunks(self) -> Iterator[bytes]:
        """The whole COPY stream: header, tuples in chunks, trailer."""
        yield _PG_HEADER
        for lo in range(0, self.n_rows, self.rows_per_chunk):
            yield self.chunk(lo, min(lo + self.rows_per_chunk, self.n_rows))
        yield _PG_TRAILER

    def reader(self) -> _ChunkReader:
        """A file-like object for ``cursor.copy_expert``; chunks are encoded in a background
        thread while the server ingests the previous ones."""
        return _ChunkReader(self.chunks())


class _ChunkReader:
    """``read(size)`` over byte chunks encoded by a background thread (what ``copy_expert``
    needs). numpy releases the GIL while encoding and psycopg2 while sending, so the next chunk
    is encoded while the server ingests the previous one. An encoding error is raised from
    ``read``, which makes ``copy_expert`` abort the COPY. Call :meth:`close` when done."""

    _END = object()

    def __init__(self, chunks: Iterator[bytes], prefetch: int = 2) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._buffer = memoryview(b"")
        self._done = False
        self._thread = threading.Thread(target=self._produce, args=(chunks,), daemon=True,
                                        name="ganglioside_nb-copy-encoder")
        self._thread.start()

    def _offer(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                if not self._offer(chunk):
                    return
            self._offer(self._END)
        except BaseException as exc:  # handed to the reading thread, which raises it
            self._offer(exc)

    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            if self._done:
                return b""
            item = self._queue.get()
            if item is self._END:
                self._done = True
                return b""
            if isinstance(item, BaseException):
                self._done = True
                raise item
            self._buffer = memoryview(item)
        if size is None or size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out.tobytes()

    def close(self) -> None:
        """Stop the encoder thread (also after a failed COPY) and wait for it."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> _ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
