"""Hypothesis strategies for names and messy CSV files (shipped for tests and notebooks).

* :func:`names` draws valid ganglioside names across the whole grammar of ALGORITHM.md §3
  (isomers including α, stacked and counted modifications in any order, sum and chain
  ceramides with m/d/t bases, parenthesised and LIPID MAPS space forms, stray outer spaces).
* :func:`bad_names` draws names the grammar must reject (unknown modifications,
  formula-looking text, bad cores, broken ceramides, empty and over-long names).
* :func:`csv_bytes` draws messy but valid CSV files (BOM, CRLF, aliases in random case,
  comma or semicolon, blank lines, negative Log P, numbers in several notations, extra columns
  with formula-looking text, quotes and line breaks) together with everything a test needs to
  check what the reader and the validation return (:class:`MessyCsv`).

hypothesis is a test dependency; import this module only where it is installed.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field

from hypothesis import strategies as st

from ..core.names import MODIFICATIONS
from ..core.schema import BOUNDS, COLUMN_ALIASES, INPUT_COLUMNS

__all__ = ["MessyCsv", "bad_names", "csv_bytes", "names"]

_SIALIC_CODES = "AMDTQP"
_ISOMERS = ("", "a", "b", "c", "aα", "bα", "cα", "α")
_ANCHOR_TRUE_SPELLINGS = ("T", "t", "true", "TRUE", "True", "1", "yes", "YES", "Yes")
_ANCHOR_FALSE_SPELLINGS = ("F", "f", "false", "FALSE", "False", "0", "no", "NO", "No")
#: Extra column names: none is an alias of a contract column; 'status' and 'prefix' clash with
#: output columns (read back as 'status_input' / 'prefix_input').
_EXTRA_NAMES = ("Notes", "Sample ID", "_comment", "status", "prefix", "Intensity ratio", "Batch")
_FORMULA_LIKE = ("=SUM(A1:A3)", "+1", "-", "@cmd", '=HYPERLINK("http://x")', "-GD1",
                 "+GM3(36:1;O2)")


# --------------------------------------------------------------------------------------------
# names (strategies are built once: hypothesis validates each new strategy object, which is
# slow when done inside every draw)
# --------------------------------------------------------------------------------------------
_MODIFICATION = st.builds(lambda name, count: f"+{count}{name}", st.sampled_from(MODIFICATIONS),
                          st.sampled_from(("", "", "1", "2", "3", "12")))
_MODIFICATIONS = st.lists(_MODIFICATION, max_size=4).map("".join)
_PREFIX = st.builds(lambda code, digit, isomer, mods: f"G{code}{digit}{isomer}{mods}",
                    st.sampled_from(_SIALIC_CODES), st.integers(1, 4),
                    st.sampled_from(_ISOMERS), _MODIFICATIONS)
_OXYGEN = st.sampled_from(("", ";O", ";O1", ";O2", ";O3", ";O4"))
_SUM_CERAMIDE = st.builds(lambda lead, a, b, ox: f"{lead}{a}:{b}{ox}",
                          st.sampled_from(("", "", "0")),  # leading zeros are allowed
                          st.integers(0, 60), st.integers(0, 8), _OXYGEN)
_CHAIN = st.one_of(
    # an m/d/t base gives the oxygens, so the chain may not give them again
    st.builds(lambda base, a, b: f"{base}{a}:{b}", st.sampled_from("mdt"), st.integers(0, 30),
              st.integers(0, 6)),
    st.builds(lambda a, b, ox: f"{a}:{b}{ox}", st.integers(0, 30), st.integers(0, 6), _OXYGEN),
)
_CERAMIDE = st.one_of(_SUM_CERAMIDE, st.builds(lambda x, sep, y: f"{x}{sep}{y}", _CHAIN,
                                                st.sampled_from("/_"), _CHAIN))
_PAD_LEFT = st.sampled_from(("", "", " ", "  "))
_PAD_RIGHT = st.sampled_from(("", "", " ", "\t"))
_NAME = st.builds(lambda prefix, cer, parens: f"{prefix}({cer})" if parens else f"{prefix} {cer}",
                  _PREFIX, _CERAMIDE, st.booleans())
_PADDED_NAME = st.builds(lambda left, name, right: left + name + right, _PAD_LEFT, _NAME,
                         _PAD_RIGHT)


def names(padded: bool = True) -> st.SearchStrategy[str]:
    """Valid names: parenthesised or space form, any prefix and ceramide of the grammar.

    ``padded`` allows outer spaces and tabs (names are trimmed before parsing).
    """
    return _PADDED_NAME if padded else _NAME


_BAD_NAMES = st.one_of(
    # an unknown modification (case matters: 'oac' is not 'OAc'; counts start at 1)
    st.builds(lambda p, bad, c: f"{p}+{bad}({c})", _PREFIX,
              st.sampled_from(("Ac", "Fuc", "oac", "NeuAcX", "0OAc", "02OAc", "Sulf", "")),
              _SUM_CERAMIDE),
    # looks like a spreadsheet formula
    st.builds(lambda mark, name: mark + name, st.sampled_from("=+-@"), _NAME),
    # a core outside G + AMDTQP + 1-4
    st.builds(lambda code, d, c: f"G{code}{d}({c})", st.sampled_from("BCXmd"), st.integers(1, 4),
              _SUM_CERAMIDE),
    st.builds(lambda code, d, c: f"G{code}{d}({c})", st.sampled_from(_SIALIC_CODES),
              st.sampled_from("0567"), _SUM_CERAMIDE),
    # a broken ceramide
    st.builds(lambda p, c: f"{p}({c})", _PREFIX, st.sampled_from((
        "", "36", "36:", ":1", "36:1;X2", "36:1;O22", "a:b", "d18:1;O2/18:0", "18:1/18:0/2:0",
        "36.1", "36:1 ;O2"))),
    # no ceramide, or an unclosed parenthesis
    _PREFIX,
    st.builds(lambda p, c: f"{p}({c}", _PREFIX, _SUM_CERAMIDE),
    # empty or blank
    st.sampled_from(("", " ", "\t", "  ")),
    # over 200 characters
    st.builds(lambda p, c: p + "+OAc" * 60 + f"({c})", _PREFIX, _SUM_CERAMIDE),
    # an unknown isomer letter
    st.builds(lambda code, letter, c: f"G{code}1{letter}({c})", st.sampled_from(_SIALIC_CODES),
              st.sampled_from(("d", "e", "x", "αa", "ab")), _SUM_CERAMIDE),
    # trailing junk
    st.builds(lambda name, junk: name + junk, _NAME, st.sampled_from(("x", ")", "()", " extra"))),
)


def bad_names() -> st.SearchStrategy[str]:
    """Names the grammar must reject, one kind of mistake each."""
    return _BAD_NAMES


# --------------------------------------------------------------------------------------------
# messy CSV files
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MessyCsv:
    """A drawn CSV file and what reading and validating it must give.

    ``names`` are trimmed; ``rt``, ``volume``, ``log_p`` are ``float(text)`` of the written
    numbers; ``extras`` maps the *output* column name (``<name>_input`` on a clash) to the
    exact texts written; ``lines`` is the 1-based line of each data row; ``column_mapping``
    maps each canonical column to the header written.
    """

    data: bytes
    delimiter: str
    line_end: str
    bom: bool
    names: list[str]
    rt: list[float]
    volume: list[float]
    log_p: list[float]
    anchor: list[bool]
    extras: dict[str, list[str]] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)
    column_mapping: dict[str, str] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.names)


_ALIASES_BY_COLUMN: dict[str, tuple[str, ...]] = {
    c: tuple(k for k, v in COLUMN_ALIASES.items() if v == c) for c in INPUT_COLUMNS}


def _render_header(alias: str, rnd: random.Random) -> str:
    out = []
    for i, ch in enumerate(alias):
        if i and rnd.random() < 0.15:
            out.append(rnd.choice((" ", "_", "-")))
        out.append(ch.upper() if rnd.random() < 0.5 else ch)
    return rnd.choice(("", "", " ")) + "".join(out) + rnd.choice(("", "", " "))


#: Per canonical column: an alias in random case with spaces, underscores or hyphens inside.
_HEADERS = {c: st.builds(_render_header, st.sampled_from(aliases),
                         st.randoms(use_true_random=False))
            for c, aliases in _ALIASES_BY_COLUMN.items()}


def _in_bounds(column: str, value: float) -> bool:
    low, high, low_inclusive, _ = BOUNDS[column]
    return (value >= low if low_inclusive else value > low) and value <= high


def _write_number(column: str, value: float, style: str, left: str, right: str) -> str:
    if style == "fixed":
        text = f"{value:.3f}"
    elif style == "g":
        text = f"{value:.6g}"
    elif style == "e":
        text = f"{value:e}"
    elif style == "E":
        text = f"{value:.10E}"
    elif style == "plus":
        text = f"{value:+.17g}"
    elif style == "int" and value.is_integer() and abs(value) < 1e15:
        text = str(int(value))
    else:
        text = repr(value)
    if not _in_bounds(column, float(text)):
        text = repr(value)
    return left + text + right


_VALUES = {
    "Volume": st.one_of(st.integers(0, 10**12).map(float),
                        st.floats(0.0, BOUNDS["Volume"][1], allow_nan=False, allow_infinity=False)),
    "RT": st.one_of(st.integers(1, 120_000).map(lambda k: k / 1000),
                    st.floats(1e-6, BOUNDS["RT"][1], allow_nan=False, allow_infinity=False)),
    "Log P": st.one_of(st.integers(-1000, 2000).map(lambda k: k / 100),
                       st.floats(BOUNDS["Log P"][0], BOUNDS["Log P"][1], allow_nan=False,
                                 allow_infinity=False)),
}
_NUMBER_PAD = st.sampled_from(("", "", "", " "))
#: Per numeric column: a number inside its bounds, in one of several notations, maybe padded.
_NUMBER_TEXTS = {
    c: st.builds(lambda v, style, left, right, c=c: _write_number(c, v, style, left, right),
                 values, st.sampled_from(("repr", "fixed", "g", "e", "E", "plus", "int")),
                 _NUMBER_PAD, _NUMBER_PAD)
    for c, values in _VALUES.items()}
_ANCHOR_TEXT = st.booleans().flatmap(lambda a: st.tuples(st.just(a), st.builds(
    lambda pad, word: pad + word, st.sampled_from(("", " ")),
    st.sampled_from(_ANCHOR_TRUE_SPELLINGS if a else _ANCHOR_FALSE_SPELLINGS))))
_EXTRA_TEXT = st.one_of(
    st.sampled_from(_FORMULA_LIKE),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"),
                                   include_characters="\n\"',;"), max_size=12),
    st.sampled_from(("", "NA", "nan", "-5", "1,5", 'a "quoted" word', "x;y", "x,y",
                     "two\nlines")),
)
_BLANK_LINES: st.SearchStrategy[list[str]] = st.one_of(
    st.just([]), st.lists(st.sampled_from(("", " ", "\t", "  ")), min_size=1, max_size=2))
_ROW = st.tuples(_PADDED_NAME, _NUMBER_TEXTS["RT"], _NUMBER_TEXTS["Volume"],
                 _NUMBER_TEXTS["Log P"], _ANCHOR_TEXT, st.lists(_EXTRA_TEXT, min_size=3,
                                                                max_size=3), _BLANK_LINES)


@st.composite
def _messy_csv(draw: st.DrawFn, min_rows: int, max_rows: int) -> MessyCsv:
    delimiter = draw(st.sampled_from((",", ";")))
    line_end = draw(st.sampled_from(("\n", "\r\n")))
    bom = draw(st.booleans())
    extra_names = draw(st.lists(st.sampled_from(_EXTRA_NAMES), max_size=3, unique=True))
    headers = {c: draw(_HEADERS[c]) for c in INPUT_COLUMNS}
    order = draw(st.permutations([*INPUT_COLUMNS, *(f"extra:{e}" for e in extra_names)]))
    rows = draw(st.lists(_ROW, min_size=min_rows, max_size=max_rows))

    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quotechar='"', doublequote=True,
                        quoting=csv.QUOTE_MINIMAL, lineterminator=line_end)
    for blank in draw(_BLANK_LINES):
        out.write(blank + line_end)
    writer.writerow([headers[k] if not k.startswith("extra:") else k[6:] for k in order])
    lines: list[int] = []
    for name, rt, volume, logp, (_, anchor), extra_texts, blanks in rows:
        for blank in blanks:
            out.write(blank + line_end)
        lines.append(out.getvalue().count("\n") + 1)
        cells = {"Name": name, "RT": rt, "Volume": volume, "Log P": logp, "Anchor": anchor,
                 **{f"extra:{e}": extra_texts[j] for j, e in enumerate(extra_names)}}
        writer.writerow([cells[k] for k in order])
    text = out.getvalue()
    if draw(st.booleans()):
        text = text[: -len(line_end)]  # no final line break
    reserved = {"status", "prefix"}
    extra_order = [k[6:] for k in order if k.startswith("extra:")]
    return MessyCsv(
        data=(b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"),
        delimiter=delimiter, line_end=line_end, bom=bom,
        names=[r[0].strip() for r in rows],
        rt=[float(r[1]) for r in rows], volume=[float(r[2]) for r in rows],
        log_p=[float(r[3]) for r in rows], anchor=[r[4][0] for r in rows],
        extras={(e + "_input" if e in reserved else e):
                [r[5][extra_names.index(e)] for r in rows] for e in extra_order},
        lines=lines, column_mapping=dict(headers))


def csv_bytes(min_rows: int = 1, max_rows: int = 12) -> st.SearchStrategy[MessyCsv]:
    """Messy but valid CSV files with the values reading them must give back exactly."""
    return _messy_csv(min_rows, max_rows)
