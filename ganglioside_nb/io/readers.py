"""Read a peak table from a path, bytes, a binary file object or a DataFrame (io layer).

:func:`read_table` runs the file-level checks of FEATURES.md A2 in order (extension, size,
emptiness, encoding, quoting, header, required columns, data rows) and returns a
:class:`RawTable`: the five canonical columns holding the *raw* cells (text for CSV, numbers
too where a whole column is finite numbers, native openpyxl values for XLSX, the given values for
a DataFrame), the carried-through columns, the 1-based file line of every data row and the
SHA-256 of the exact input bytes. Cells are checked by
:func:`ganglioside_nb.core.validate.validate_input`, cell by cell; the reader only lets pandas'
C parser turn a CSV's RT, Volume and Log P columns into float64 when every cell of the column is
a finite number (the common case; keeping them as text cost a third of the reading time), and
keeps the written text one call away (:attr:`RawTable.column_text`) for the report of a rejected
cell.

A file that cannot be analysed at all raises one :class:`~ganglioside_nb.errors.InputFormatError`
whose one-line message names the file, the check and what was found
("X must be Y. Got Z instead."); ``details`` carries ``filename`` and ``check``.

CSV is parsed by pandas' C engine (every other cell kept as text); the file line of each row is
computed from the bytes with numpy (quote parity over the line breaks; in the common plain
layout, without quotes or blank lines, the lines are simply counted), so a 1,000,000-row file
reads in well under a second. openpyxl is imported only when an XLSX workbook is read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from ..core.names import NAME_COLUMNS
from ..core.schema import (
    COLUMN_ALIASES,
    COMPOUND_COLUMNS,
    EXTRA_COLUMNS,
    INPUT_COLUMNS,
    NUMBER_COLUMNS,
    normalise_header,
)
from ..core.validate import UncachedFormula
from ..errors import InputFormatError

__all__ = ["DEFAULT_MAX_FILE_BYTES", "RawTable", "read_table"]

DEFAULT_MAX_FILE_BYTES = 52_428_800
_FORMATS = ("csv", "xlsx")
_BOM = b"\xef\xbb\xbf"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Names an input column may not keep: the output columns (it becomes ``<name>_input``).
_RESERVED = frozenset(COMPOUND_COLUMNS) | frozenset(EXTRA_COLUMNS) | frozenset(NAME_COLUMNS) | {
    "rejected", "noise_sd", "model_r2", "logp_slope", "line"}
_PANDAS_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_PANDAS_EOF_RE = re.compile(r"EOF inside string starting at row (\d+)")


@dataclass(frozen=True, eq=False)
class RawTable:
    """A peak table as read, before any cell is parsed.

    Attributes
    ----------
    frame : the canonical columns ``Name, RT, Volume, Log P, Anchor`` holding the raw cells
        (a CSV's number columns as float64 where every cell is a finite number).
    extras : the other columns, carried through (renamed ``<name>_input`` on a clash with an
        output column), aligned with ``frame``.
    lines : 1-based file or sheet line of each data row (header = 1), int64.
    column_mapping : canonical column -> header as found.
    sha256 : hex SHA-256 of the exact input bytes (canonical CSV rendering for a DataFrame).
    filename, size_bytes, format : where it came from (``format`` is csv, xlsx or dataframe).
    notes : file-level findings that are not errors (delimiter, skipped empty rows, renames).
    column_text : for a CSV whose number columns the reader parsed as float64, a callable giving
        a canonical column's cells as written (text), so that a rejected cell is reported as
        it stands in the file; None otherwise (the cells in ``frame`` are as written).
    """

    frame: pd.DataFrame
    extras: pd.DataFrame
    lines: np.ndarray
    column_mapping: dict[str, str]
    sha256: str
    filename: str | None
    size_bytes: int
    format: str
    notes: tuple[str, ...] = field(default=())
    column_text: Callable[[str], pd.Series] | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return (f"RawTable({self.filename or '<input>'!s}, {self.format}, {len(self.frame)} rows, "
                f"{self.extras.shape[1]} extra columns)")


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------
def read_table(source: str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO
               | pd.DataFrame, *, filename: str | None = None, format: str | None = None,
               sheet: str | int | None = None,
               max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> RawTable:
    """Read a peak table and run the file-level checks.

    Parameters
    ----------
    source : path to a ``.csv`` / ``.xlsx`` file, raw bytes (``bytes``, ``bytearray``,
        ``memoryview``), a binary file object, or a pandas DataFrame.
    filename : str, optional
        Name used in messages and to pick the format from its extension (default: the path's
        or file object's name).
    format : {'csv', 'xlsx'}, optional
        Declared format; wins over the extension. Without both, bytes starting with ``PK``
        are read as XLSX, anything else as CSV.
    sheet : str or int, optional
        XLSX worksheet name or 0-based index (default: the first sheet).
    max_file_bytes : int, default=52_428_800
        Larger inputs are refused before parsing.

    Returns
    -------
    RawTable

    Raises
    ------
    InputFormatError
        One line naming the file, the check (``details['check']``) and what was found.

    Examples
    --------
    >>> raw = read_table(b"Name,RT,Volume,Log P,Anchor\\nGM3(36:1;O2),10.6,2e6,7.74,T\\n")
    >>> raw.frame.to_dict("records"), raw.lines.tolist()
    ([{'Name': 'GM3(36:1;O2)', 'RT': 10.6, 'Volume': 2000000.0, 'Log P': 7.74, 'Anchor': 'T'}], [2])
    """
    if isinstance(source, pd.DataFrame):
        return _read_dataframe(source, filename)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        filename = filename if filename is not None else path.name
        kind = _resolve_format(format, filename)
        data = _read_path(path, filename, max_file_bytes)
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        kind = _resolve_format(format, filename)
        _check_size(len(data), max_file_bytes, filename)
    elif hasattr(source, "read"):
        if filename is None:
            name = getattr(source, "name", None)
            filename = Path(name).name if isinstance(name, str) and name else None
        kind = _resolve_format(format, filename)
        _check_size(_remaining_size(source), max_file_bytes, filename)
        chunk = source.read(max_file_bytes + 1)
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise _error(filename, "source", "must be opened in binary mode",
                         f"a text stream ({type(chunk).__name__})")
        data = bytes(chunk)
        _check_size(len(data), max_file_bytes, filename)
    else:
        raise _error(filename, "source",
                     "must be a path, bytes, a binary file object or a pandas DataFrame",
                     f"a {type(source).__name__}")
    if kind is None:
        kind = "xlsx" if data.startswith(b"PK") else "csv"
    if not data:
        raise _error(filename, "empty", "must not be empty", "0 bytes")
    if kind == "xlsx":
        return _read_xlsx(data, filename, sheet)
    return _read_csv(data, filename)


# --------------------------------------------------------------------------------------------
# messages
# --------------------------------------------------------------------------------------------
def _subject(filename: str | None) -> str:
    return f"File {filename!r}" if filename else "The input"


def _error(filename: str | None, check: str, must: str, got: str,
           **details: Any) -> InputFormatError:
    """One-line InputFormatError: '<File 'x'> <must ...>. Got <got> instead.'"""
    message = f"{_subject(filename)} {must}. Got {got} instead."
    return InputFormatError(" ".join(message.split()) if "\n" in message or "\r" in message
                            else message, filename=filename, check=check, **details)


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB ({n:,} bytes)"


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


# --------------------------------------------------------------------------------------------
# extension and size
# --------------------------------------------------------------------------------------------
def _resolve_format(declared: str | None, filename: str | None) -> str | None:
    """'csv' / 'xlsx' from the declared format or the extension; None means 'sniff'."""
    if declared is not None:
        kind = str(declared).lower().lstrip(".")
        if kind not in _FORMATS:
            raise _error(filename, "extension", "must be declared as format 'csv' or 'xlsx'",
                         repr(declared))
        return kind
    if filename:
        suffix = Path(filename).suffix.lower()
        if suffix in (".csv", ".xlsx"):
            return suffix[1:]
        if suffix:
            hint = " (save legacy .xls workbooks as .xlsx)" if suffix == ".xls" else ""
            raise _error(filename, "extension", f"must have the extension .csv or .xlsx{hint}",
                         repr(suffix))
    return None


def _check_size(size: int, limit: int, filename: str | None) -> None:
    if size > limit:
        raise _error(filename, "size", f"must be at most {_mb(limit)}", _mb(size), size_bytes=size)


def _remaining_size(handle: Any) -> int:
    """Bytes left in a seekable file object (0 when it cannot tell; the read then caps)."""
    seekable = getattr(handle, "seekable", None)
    if not (callable(seekable) and seekable()):
        return 0
    here = handle.tell()
    end = handle.seek(0, io.SEEK_END)
    handle.seek(here)
    return int(end - here)


def _read_path(path: Path, filename: str | None, limit: int) -> bytes:
    if path.is_dir():
        raise _error(filename, "readable", "must be a readable file", "a directory")
    try:
        size = path.stat().st_size
        _check_size(size, limit, filename)
        with path.open("rb") as handle:
            # Reading the known size first avoids allocating a limit-sized buffer; a file that
            # grew meanwhile is read on, up to the limit.
            data = handle.read(size + 1)
            if len(data) > size:
                data += handle.read(limit + 1 - len(data))
    except FileNotFoundError:
        raise _error(filename, "readable", "must be an existing file", "no such file") from None
    except OSError as exc:
        raise _error(filename, "readable", "must be a readable file",
                     f"{type(exc).__name__}: {exc.strerror or exc}") from None
    _check_size(len(data), limit, filename)
    return data


# --------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------
def _check_text(data: bytes, filename: str | None) -> None:
    """Refuse UTF-16/32, binary, HTML and non-UTF-8 bytes, each with its own message."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        raise _error(filename, "encoding", "must be UTF-8 text (save it as 'CSV UTF-8')",
                     "UTF-16 or UTF-32 text (byte-order mark " + data[:2].hex(" ") + ")")
    if b"\x00" in data:
        head = data[:4096]
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if max(even, odd) > 0.4 * len(head) and min(even, odd) < 0.05 * len(head):
            raise _error(filename, "encoding", "must be UTF-8 text (save it as 'CSV UTF-8')",
                         "UTF-16 text without a byte-order mark")
        if data.startswith(_ZIP_MAGIC):
            got = "a zip archive (an XLSX workbook? name it .xlsx)"
        elif data.startswith(_OLE_MAGIC):
            got = "a legacy Office file (.xls; save it as .xlsx or CSV UTF-8)"
        else:
            got = f"binary data (NUL bytes, the first at byte {data.index(0):,})"
        raise _error(filename, "binary", "must be a text CSV file", got)
    lead = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lead.startswith((b"<!doctype", b"<html", b"<?xml")):
        raise _error(filename, "html", "must be a CSV or XLSX table",
                     "an HTML or XML page (a download error page?)")
    try:
        if not data.isascii():  # ASCII is UTF-8
            data.decode("utf-8")
    except UnicodeDecodeError as exc:
        head = data[:8192]
        controls = sum(head.count(bytes([c])) for c in (*range(1, 9), 11, *range(14, 32), 127))
        if controls > 0.05 * len(head):
            raise _error(filename, "binary", "must be a text CSV file",
                         "binary data (control bytes)") from None
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start:exc.start + 1].hex()
        raise _error(filename, "encoding", "must be UTF-8 text (save it as 'CSV UTF-8')",
                     f"byte 0x{byte} on line {line}, which is not UTF-8 "
                     "(Latin-1 or Windows-1252 text?)") from None


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------
#: Bytes of a blank line (pandas skips lines made only of these).
_BLANK = b" \t\r"
#: Bytes a plain layout's lines never start with: a line break or a blank byte.
_BLANK_START = np.isin(np.arange(256), list(_BLANK + b"\n"))
#: Bytes :func:`_only` reads from the start of each span before scanning the rest whole.
_LEADING_BYTES = 16


def _line_breaks(buf: np.ndarray) -> np.ndarray:
    """Positions of line breaks: every LF and every CR not followed by LF (pandas' rule)."""
    lf = np.flatnonzero(buf == 10)
    cr = np.flatnonzero(buf == 13)
    if cr.size:
        nxt = np.minimum(cr + 1, buf.size - 1)
        lone = cr[(cr + 1 >= buf.size) | (buf[nxt] != 10)]
        if lone.size:
            lf = np.sort(np.concatenate([lf, lone]), kind="stable")
    return lf


@dataclass(frozen=True)
class _Records:
    """Physical records of a CSV (blank ones included): byte spans and first lines."""

    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray
    blank: np.ndarray


def _span_any(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each span [start, end) of ``mask`` holds a True byte (spans ordered, disjoint)."""
    out = np.zeros(starts.size, dtype=bool)
    nonempty = ends > starts
    if nonempty.any():
        k = int(nonempty.sum())
        bounds = np.empty(2 * k, dtype=np.int64)
        bounds[0::2], bounds[1::2] = starts[nonempty], ends[nonempty]
        if bounds[-1] >= mask.size:  # the last span runs to the end of the data anyway
            bounds = bounds[:-1]
        out[nonempty] = np.logical_or.reduceat(mask, bounds)[0::2]
    return out


def _byte_table(chars: bytes) -> np.ndarray:
    """256 booleans, True at the bytes of ``chars``."""
    table = np.zeros(256, dtype=bool)
    table[list(chars)] = True
    return table


def _only(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, chars: bytes) -> np.ndarray:
    """Whether each span [start, end) of ``buf`` holds only bytes of ``chars`` (spans ordered,
    disjoint; an empty span does).

    All spans are walked a byte at a time together: nearly every span is decided by its first
    byte or two. Spans still undecided after a few bytes are scanned whole.
    """
    allowed = _byte_table(chars)
    only = ends <= starts
    undecided = np.flatnonzero(~only)
    pos = starts[undecided]
    for _ in range(_LEADING_BYTES):
        ok = allowed[buf[pos]]  # a span with another byte is decided: False
        undecided, pos = undecided[ok], pos[ok] + 1
        ended = pos >= ends[undecided]  # a span read to its end: True
        only[undecided[ended]] = True
        undecided, pos = undecided[~ended], pos[~ended]
        if undecided.size == 0:
            return only
    only[undecided] = ~_span_any(~allowed[buf], pos, ends[undecided])
    return only


def _records(body: bytes, buf: np.ndarray) -> _Records:
    """The records of ``body`` (``buf`` is its bytes as uint8)."""
    plain = _plain_records(body, buf)
    if plain is not None:
        return plain
    breaks = _line_breaks(buf)
    kept = breaks
    if breaks.size:
        # A break inside a quoted field has an odd number of quote characters before it
        # (escaped quotes come in pairs), so quote parity splits records without a Python loop.
        quotes = np.flatnonzero(buf == 34)
        if quotes.size:
            kept = breaks[np.searchsorted(quotes, breaks) % 2 == 0]
    starts = np.concatenate([[0], kept + 1]).astype(np.int64)
    ends = np.concatenate([kept, [buf.size]]).astype(np.int64)
    if starts[-1] >= buf.size:  # the text ends with a line break: no record after it
        starts, ends = starts[:-1], ends[:-1]
    lines = np.searchsorted(breaks, starts, side="left").astype(np.int64) + 1
    blank = _only(buf, starts, ends, _BLANK)
    return _Records(starts, ends, lines, blank)


def _plain_records(body: bytes, buf: np.ndarray) -> _Records | None:
    """The records of the common plain layout, from the LF positions alone; None otherwise.

    Plain: no quote character, every CR part of a CRLF and no line starting with a line break,
    space, tab or CR. Each line is then one record, none of them blank, and record k is on
    line k + 1.
    """
    if not body or b'"' in body:
        return None
    if b"\r" in body:
        cr = np.flatnonzero(buf == 13)
        if cr[-1] + 1 >= buf.size or (buf[cr + 1] != 10).any():
            return None
    lf = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], lf + 1]).astype(np.int64)
    ends = np.append(lf, buf.size).astype(np.int64)
    if starts[-1] >= buf.size:
        starts, ends = starts[:-1], ends[:-1]
    if _BLANK_START[buf[starts]].any():
        return None
    lines = np.arange(1, starts.size + 1, dtype=np.int64)
    return _Records(starts, ends, lines, np.zeros(starts.size, dtype=bool))


def _csv_module_lines(text: str, delimiter: str) -> np.ndarray:
    """Start line of every non-blank record, via the csv module (fallback for stray quotes)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                        doublequote=True, strict=False)
    out: list[int] = []
    previous = 0
    for row in reader:
        if row and not (len(row) == 1 and not row[0].strip(" \t\r")):
            out.append(previous + 1)
        previous = reader.line_num
    return np.asarray(out, dtype=np.int64)


def _sniff_delimiter(header: str) -> str:
    unquoted = re.sub(r'"[^"]*"', "", header)
    return ";" if unquoted.count(";") > unquoted.count(",") else ","


def _read_csv(data: bytes, filename: str | None) -> RawTable:
    digest = hashlib.sha256(data).hexdigest()
    _check_text(data, filename)
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    buf = np.frombuffer(body, dtype=np.uint8)
    records = _records(body, buf)
    solid = np.flatnonzero(~records.blank)
    if solid.size == 0:
        raise _error(filename, "empty", "must contain a header line and data rows",
                     "only blank lines")
    header_text = body[records.starts[solid[0]]:records.ends[solid[0]]].decode("utf-8")
    delimiter = _sniff_delimiter(header_text)
    notes: list[str] = ["The file uses ';' as its delimiter."] if delimiter == ";" else []
    if solid[0] == 0 and records.starts[0] == 0 and '"' not in header_text:
        typed = _read_csv_typed(body, buf, records, solid[1:],
                                header_text.rstrip("\r").split(delimiter), delimiter, filename)
        if typed is not None:
            header, columns, lines, mapping, column_text = typed
            return _assemble(header, columns, lines, filename, digest, len(data), "csv", notes,
                             mapping, column_text)
    try:
        parsed = pd.read_csv(io.BytesIO(body), sep=delimiter, header=None, dtype=str,
                             keep_default_na=False, na_filter=False, quotechar='"',
                             doublequote=True, skip_blank_lines=True, engine="c",
                             encoding="utf-8", low_memory=False)
    except pd.errors.ParserError as exc:
        raise _parser_error(exc, records, filename, delimiter) from None
    except pd.errors.EmptyDataError:
        raise _error(filename, "empty", "must contain a header line and data rows",
                     "no header line") from None
    header = [str(h) for h in parsed.iloc[0].tolist()]
    columns = [parsed.iloc[1:, j].reset_index(drop=True) for j in range(parsed.shape[1])]
    n = len(parsed) - 1
    data_records = solid[1:]
    if data_records.size == n:
        lines = records.lines[data_records]
        # Rows of spaces, delimiters and quotes only (',,,,' lines written by spreadsheets)
        # count as blank lines; the bytes find candidates, the parsed cells confirm them.
        candidates = np.flatnonzero(_blank_like(buf, records, data_records, delimiter))
    else:
        # A literal quote inside an unquoted field fooled quote parity; ask the csv module.
        lines = _csv_module_lines(body.decode("utf-8"), delimiter)[1:]
        if lines.size != n:
            lines = records.lines[solid[0]] + 1 + np.arange(n, dtype=np.int64)
            notes.append("Line numbers are approximate (unusual quoting).")
        candidates = np.arange(n)
    if candidates.size:
        empty = np.ones(candidates.size, dtype=bool)
        for col in columns:
            empty &= col.iloc[candidates].str.strip().eq("").to_numpy(dtype=bool)
        if empty.any():
            keep = np.ones(n, dtype=bool)
            keep[candidates[empty]] = False
            dropped = int(empty.sum())
            notes.append(f"{dropped} empty row{'s' if dropped != 1 else ''} skipped "
                         f"(line{'s' if dropped != 1 else ''} {_list_lines(lines[~keep])}).")
            columns = [c[keep].reset_index(drop=True) for c in columns]
            lines = lines[keep]
    return _assemble(header, columns, np.asarray(lines, dtype=np.int64), filename, digest,
                     len(data), "csv", notes)


@dataclass(frozen=True)
class _CsvColumnText:
    """A canonical column of a headed CSV as written: the file parsed again with every cell as
    text (picklable, so a RawTable can travel to a worker)."""

    body: bytes
    delimiter: str
    width: int
    mapping: dict[str, int]

    def __call__(self, column: str) -> pd.Series:
        # The options that read the file, all columns as text (``usecols`` would check the
        # width of every row differently).
        frame = pd.read_csv(io.BytesIO(self.body), **_csv_options(self.delimiter, self.width),
                            dtype=str)
        return frame[self.mapping[column]]


def _csv_options(delimiter: str, width: int) -> dict[str, Any]:
    """read_csv options of the typed path: the header line skipped and its width imposed (a row
    with more fields is an error, as with the header read as data)."""
    return {"sep": delimiter, "header": None, "skiprows": 1, "names": list(range(width)),
            "index_col": False, "keep_default_na": False, "na_filter": False, "quotechar": '"',
            "doublequote": True, "skip_blank_lines": True, "engine": "c", "encoding": "utf-8",
            "low_memory": False}


def _blank_like(buf: np.ndarray, records: _Records, rows: np.ndarray, delimiter: str) -> np.ndarray:
    """Which of the records ``rows`` hold only blanks, quotes and delimiters (',,,,' lines that
    spreadsheets write): candidates for empty rows, which the parsed cells then confirm."""
    return _only(buf, records.starts[rows], records.ends[rows], _BLANK + b'"' + delimiter.encode())


def _leading_plus(buf: np.ndarray, delimiter: str) -> bool:
    """Does any cell start with '+' (after blanks or a quote)? pandas 3.1's C parser rounds
    '+1.5 ' (a plus sign and a blank in one cell) less exactly than ``float()``, so such files
    take the text path. A '+' inside a name (GD1+OAc) or an exponent (1e+5) follows a letter
    or digit and does not count."""
    plus = np.flatnonzero(buf == 43)
    if plus.size == 0:
        return False
    if plus[0] == 0:
        return True
    return bool(_byte_table(b' \t\r\n"' + delimiter.encode())[buf[plus - 1]].any())


def _read_csv_typed(body: bytes, buf: np.ndarray, records: _Records, data_records: np.ndarray,
                    header: list[str], delimiter: str, filename: str | None,
                    ) -> tuple[list[str], list[pd.Series], np.ndarray, dict[str, int],
                               _CsvColumnText] | None:
    """The common CSV (header on line 1, no quote in it, no blank-looking rows) with its number
    columns parsed by the C parser: float64 where every cell of the column is a finite number,
    text otherwise. None when anything is unusual; the text path then reads the file and
    reports what it finds, exactly as before.

    The C parser rounds decimal text to the nearest float64, as ``float()`` does, so the values
    are those the text path would give (measured on ~500,000 texts of 1 to 30 significant digits
    in every notation; tests/io/test_readers.py keeps eleven notations under test), except for a
    cell with a plus sign and a blank, which :func:`_leading_plus` keeps off this path.
    """
    if _leading_plus(buf, delimiter):
        return None
    try:
        mapping = _map_header(header, filename)
    except InputFormatError:
        return None
    numeric = {mapping[c] for c in NUMBER_COLUMNS}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # rows wider than the header
            parsed = pd.read_csv(io.BytesIO(body), **_csv_options(delimiter, len(header)),
                                 dtype={j: str for j in range(len(header)) if j not in numeric})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, pd.errors.ParserWarning):
        return None
    n = len(parsed)
    if n == 0 or data_records.size != n:
        return None
    if _blank_like(buf, records, data_records, delimiter).any():
        return None  # rows of delimiters only: the text path skips them with a note
    columns = []
    for j in range(len(header)):
        col = parsed[j]
        if j in numeric and not isinstance(col.dtype, pd.StringDtype):
            if col.dtype.kind in "iu":
                col = col.astype(np.float64)
            if col.dtype != np.float64 or not np.isfinite(col.to_numpy()).all():
                return None  # booleans, inf or nan: the text path says what they were
        columns.append(col)
    lines = records.lines[data_records].astype(np.int64)
    return header, columns, lines, mapping, _CsvColumnText(body, delimiter, len(header), mapping)


def _list_lines(lines: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(x)) for x in lines[:limit])
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def _parser_error(exc: Exception, records: _Records, filename: str | None,
                  delimiter: str) -> InputFormatError:
    text = " ".join(str(exc).split())

    def physical(record_index: int) -> int:
        if 0 <= record_index < records.lines.size:
            return int(records.lines[record_index])
        return record_index + 1

    m = _PANDAS_FIELDS_RE.search(text)
    if m:
        expected, line, saw = (int(g) for g in m.groups())
        hint = (" (in a ';'-delimited file, a name such as GM3(36:1;O2) must be quoted)"
                if delimiter == ";" else "")
        return _error(filename, "fields",
                      f"must have at most {expected} fields per line, like its header",
                      f"{saw} fields on line {physical(line - 1)}{hint}")
    m = _PANDAS_EOF_RE.search(text)
    if m:
        return _error(filename, "quoting", "must use standard double-quote quoting",
                      f"a quoted field opened on line {physical(int(m.group(1)))} "
                      "that never closes")
    return _error(filename, "quoting", "must be a well-formed CSV table", repr(text))


# --------------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------------
def _read_xlsx(data: bytes, filename: str | None, sheet: str | int | None) -> RawTable:
    digest = hashlib.sha256(data).hexdigest()
    if not data.startswith(_ZIP_MAGIC):
        lead = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if lead.startswith((b"<!doctype", b"<html")):
            got = "an HTML page (a download error page?)"
        elif data.startswith(_OLE_MAGIC):
            got = "a legacy .xls workbook (save it as .xlsx)"
        elif b"\x00" not in data[:4096]:
            got = "plain text (a CSV file? name it .csv)"
        else:
            got = "binary data that is not a zip archive"
        raise _error(filename, "xlsx", "must be an XLSX workbook", got)
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    bad_workbook = (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError,
                    EOFError, OSError)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except bad_workbook as exc:
        raise _error(filename, "xlsx", "must be a readable XLSX workbook",
                     f"{type(exc).__name__}: {_short(str(exc), 80)}") from None
    try:
        worksheets = list(workbook.worksheets)
        names = [ws.title for ws in worksheets]
        index = _sheet_index(names, sheet, filename)
        try:
            worksheet = worksheets[index]
            worksheet.reset_dimensions()  # a wrong stored <dimension> would truncate the rows
            rows = [tuple(r) for r in worksheet.iter_rows(min_row=1, values_only=True)]
        except bad_workbook as exc:
            raise _error(filename, "xlsx", "must be a readable XLSX workbook",
                         f"{type(exc).__name__}: {_short(str(exc), 80)}") from None
    finally:
        workbook.close()
    notes: list[str] = []
    if sheet is not None or len(names) > 1:
        notes.append(f"Read worksheet {names[index]!r}.")
    solid = [i for i, r in enumerate(rows) if not _row_is_empty(r)]
    if not solid:
        raise _error(filename, "empty", "must contain a header row and data rows",
                     f"an empty worksheet {names[index]!r}")
    width = max(len(rows[i]) for i in solid)
    header = ["" if v is None else str(v) for v in rows[solid[0]]] + [""] * (
        width - len(rows[solid[0]]))
    data_rows = solid[1:]
    skipped = len(rows) - solid[0] - 1 - len(data_rows)
    lines = np.asarray(data_rows, dtype=np.int64) + 1
    grid = np.empty((len(data_rows), width), dtype=object)
    for k, i in enumerate(data_rows):
        grid[k, :len(rows[i])] = rows[i]
    canonical_at = _map_header(header, filename)
    holes = [(int(r), c) for c in canonical_at.values()
             for r in np.flatnonzero(pd.isna(grid[:, c]))]
    if holes:
        # With data_only=True a formula never calculated reads as None, like an empty cell;
        # a second pass finds such formulas so validation can say what is wrong.
        formulas = _uncached_formulas(data, index, {int(lines[r]) for r, _ in holes})
        for r, c in holes:
            formula = formulas.get((int(lines[r]), c + 1))
            if formula is not None:
                grid[r, c] = UncachedFormula(formula)
    if skipped:
        notes.append(f"{skipped} empty row{'s' if skipped != 1 else ''} skipped.")
    columns = [pd.Series(grid[:, j], dtype=object) for j in range(width)]
    return _assemble(header, columns, lines, filename, digest, len(data), "xlsx", notes,
                     mapping=canonical_at)


def _sheet_index(names: Sequence[str], sheet: str | int | None, filename: str | None) -> int:
    if sheet is None:
        if not names:
            raise _error(filename, "sheet", "must contain a worksheet", "none")
        return 0
    if isinstance(sheet, bool) or not isinstance(sheet, str | int):
        raise _error(filename, "sheet", "must name its worksheet by name or 0-based index",
                     repr(sheet))
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return sheet
    elif sheet in names:
        return list(names).index(sheet)
    raise _error(filename, "sheet", f"must contain the worksheet {sheet!r}",
                 "only " + ", ".join(repr(n) for n in names))


def _row_is_empty(row: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _uncached_formulas(data: bytes, index: int,
                       wanted_lines: set[int]) -> dict[tuple[int, int], str]:
    """(sheet line, 1-based column) -> formula text, for formula cells read without a value."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        worksheet = list(workbook.worksheets)[index]
        worksheet.reset_dimensions()
        found: dict[tuple[int, int], str] = {}
        for line, row in enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1):
            if line not in wanted_lines:
                continue
            for col, value in enumerate(row, start=1):
                text = getattr(value, "text", value)  # ArrayFormula / DataTableFormula
                if isinstance(text, str) and text.startswith("="):
                    found[(line, col)] = text
        return found
    finally:
        workbook.close()


# --------------------------------------------------------------------------------------------
# DataFrame
# --------------------------------------------------------------------------------------------
def _read_dataframe(df: pd.DataFrame, filename: str | None) -> RawTable:
    rendered = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
    digest = hashlib.sha256(rendered).hexdigest()
    header = [str(c) for c in df.columns]
    columns = [df.iloc[:, j].reset_index(drop=True) for j in range(df.shape[1])]
    lines = np.arange(len(df), dtype=np.int64) + 2
    return _assemble(header, columns, lines, filename, digest, len(rendered), "dataframe", [])


# --------------------------------------------------------------------------------------------
# header mapping and assembly (all formats)
# --------------------------------------------------------------------------------------------
def _map_header(header: Sequence[str], filename: str | None) -> dict[str, int]:
    """canonical -> column position; raise on a missing or ambiguous column."""
    found: dict[str, list[int]] = {}
    for j, h in enumerate(header):
        canonical = COLUMN_ALIASES.get(normalise_header(h))
        if canonical is not None:
            found.setdefault(canonical, []).append(j)
    for canonical in INPUT_COLUMNS:
        positions = found.get(canonical, [])
        if len(positions) > 1:
            raise _error(filename, "duplicate_columns", f"must have one column for {canonical!r}",
                         f"{len(positions)}: " + ", ".join(repr(header[j]) for j in positions))
    missing = [c for c in INPUT_COLUMNS if c not in found]
    if missing:
        shown = [h.lstrip("\ufeff") for h in header if h.strip()]
        listed = ", ".join(_short(h, 40) for h in shown[:20]) or "none"
        if len(shown) > 20:
            listed += f" and {len(shown) - 20} more"
        if len(shown) == 1 and any(ch in shown[0] for ch in "\t|"):
            listed += "; a single header: is the file tab- or pipe-delimited?"
        raise _error(filename, "columns",
                     "must have the columns " + ", ".join(INPUT_COLUMNS)
                     + " (or their aliases), separated by commas or semicolons",
                     "no column for " + ", ".join(repr(c) for c in missing)
                     + f" (headers found: {listed})",
                     missing=missing, headers=shown)
    return {c: found[c][0] for c in INPUT_COLUMNS}


def _assemble(header: list[str], columns: list[pd.Series], lines: np.ndarray,
              filename: str | None, digest: str, size: int, kind: str, notes: list[str],
              mapping: dict[str, int] | None = None,
              column_text: Callable[[str], pd.Series] | None = None) -> RawTable:
    canonical_at = mapping if mapping is not None else _map_header(header, filename)
    n = len(lines)
    if n == 0:
        raise _error(filename, "rows", "must have at least one data row below the header",
                     "only the header")
    # copy=False: the columns are fresh (or, for a DataFrame, protected by copy-on-write).
    frame = pd.DataFrame({c: columns[j].reset_index(drop=True) for c, j in canonical_at.items()},
                         copy=False)
    used = set(canonical_at.values())
    extras: dict[str, pd.Series] = {}
    for j, h in enumerate(header):
        if j in used:
            continue
        col = columns[j].reset_index(drop=True)
        name = h.lstrip("\ufeff")
        if not name.strip():
            if _all_blank(col):
                continue
            name = f"column_{j + 1}"
        if name in _RESERVED or name.startswith("flag__"):
            notes.append(f"Column {name!r} is carried through as {name + '_input'!r} "
                         "(the output has a column of that name).")
            name = name + "_input"
        base, k = name, 2
        while name in extras:
            name, k = f"{base}_{k}", k + 1
        extras[name] = col
    extras_frame = (pd.DataFrame(extras, copy=False) if extras
                    else pd.DataFrame(index=pd.RangeIndex(n)))
    return RawTable(frame=frame, extras=extras_frame, lines=lines.astype(np.int64, copy=False),
                    column_mapping={c: header[j].lstrip("\ufeff") for c, j in canonical_at.items()},
                    sha256=digest, filename=filename, size_bytes=size, format=kind,
                    notes=tuple(notes), column_text=column_text)


def _all_blank(col: pd.Series) -> bool:
    values = col.to_numpy(dtype=object)
    return bool(np.all([v is None or (isinstance(v, float) and v != v)
                        or (isinstance(v, str) and not v.strip()) for v in values]))
