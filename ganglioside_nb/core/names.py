"""Ganglioside names: the grammar of ALGORITHM.md §3 as a parse / is_valid pair.

``parse_name`` turns ``GD1a+dHex+2OAc(36:1;O2)`` (or the LIPID MAPS space form
``GD1a+dHex+2OAc 36:1;O2``, or chain notation ``GM3(d18:1/18:0)``) into a frozen
:class:`GangliosideName`; ``format_name`` writes it back canonically, and
``parse_name(format_name(n)) == n`` for every parsed name. ``parse_names`` is the vectorised
form used by the pipeline: it parses each distinct name once and reports failures as data.

pygoslin (the reference lipid-name library) cannot read this project's names (parenthesised
sum composition, modifications, most isomer letters), so the grammar is ours; pygoslin is used
only, behind a per-name cache, for the sum formula and monoisotopic mass of the unmodified
species (:func:`species_formula`), to which the residues of the modifications are added.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import NameParseError

__all__ = [
    "CATEGORY_ORDER",
    "MODIFICATIONS",
    "GangliosideName",
    "factorize_by_name",
    "format_name",
    "is_valid_name",
    "parse_name",
    "parse_names",
    "species_formula",
]

#: Modification names in canonical order (ALGORITHM.md §3).
MODIFICATIONS: tuple[str, ...] = ("NeuAc", "NeuGc", "Hex", "HexNAc", "dHex", "OAc")
_SIALIC = {"A": 0, "M": 1, "D": 2, "T": 3, "Q": 4, "P": 5}
#: Categories from most to least sialylated, i.e. expected elution order on C18 (earliest first).
CATEGORY_ORDER: tuple[str, ...] = ("GP", "GQ", "GT", "GD", "GM", "GA")
MAX_NAME_LENGTH = 200

_PREFIX_RE = re.compile(r"G(?P<sialic>[AMDTQP])(?P<digit>[1-4])(?P<isomer>[abc]α?|α)?(?P<mods>(?:\+[^+]*)*)")
_MOD_RE = re.compile(r"\+(?P<count>[1-9][0-9]*)?(?P<name>[A-Za-z]+)")
_SUM_RE = re.compile(r"(?P<a>[0-9]+):(?P<b>[0-9]+)(?:;O(?P<ox>[0-9])?)?")
_CHAIN_RE = re.compile(r"(?P<lcb>[mdt])?(?P<a>[0-9]+):(?P<b>[0-9]+)(?:;(?P<o>O)(?P<ox>[0-9])?)?")
_LCB_OXYGEN = {"m": 1, "d": 2, "t": 3}


@dataclass(frozen=True)
class GangliosideName:
    """A parsed ganglioside species name. All derived fields are properties."""

    sialic_code: str
    digit: int
    isomer: str
    modifications: tuple[tuple[str, int], ...]  # canonical order, counts >= 1
    a: int
    b: int
    oxygen: int | None
    chains: tuple[str, ...] = ()

    # -- head group ---------------------------------------------------------------------------
    @property
    def core_class(self) -> str:
        return f"G{self.sialic_code}{self.digit}"

    @property
    def base_class(self) -> str:
        return self.core_class + self.isomer

    @property
    def category(self) -> str:
        return "G" + self.sialic_code

    def count(self, modification: str) -> int:
        return dict(self.modifications).get(modification, 0)

    @property
    def prefix(self) -> str:
        return self.base_class + "".join(
            f"+{n if n > 1 else ''}{m}" for m, n in self.modifications)

    @property
    def sialic_acids(self) -> int:
        return _SIALIC[self.sialic_code] + self.count("NeuAc") + self.count("NeuGc")

    @property
    def neutral_sugars(self) -> int:
        return 5 - self.digit

    @property
    def core_sugar_count(self) -> int:
        """The original platform's sugar count: sialic code value + neutral core sugars."""
        return _SIALIC[self.sialic_code] + self.neutral_sugars

    @property
    def sugar_count(self) -> int:
        return (self.sialic_acids + self.neutral_sugars + self.count("dHex") + self.count("Hex")
                + self.count("HexNAc"))

    # -- ceramide -----------------------------------------------------------------------------
    @property
    def ceramide(self) -> str:
        return _format_sum(self.a, self.b, self.oxygen)

    def __str__(self) -> str:
        return format_name(self)


def _format_sum(a: int, b: int, oxygen: int | None) -> str:
    if oxygen is None:
        return f"{a}:{b}"
    return f"{a}:{b};O" + ("" if oxygen == 1 else str(oxygen))


def _fail(name: str, why: str) -> NameParseError:
    return NameParseError(f"Name {name!r} must follow the ganglioside grammar: {why}.", name=name)


def _parse_ceramide(name: str, text: str) -> tuple[int, int, int | None, tuple[str, ...]]:
    m = _SUM_RE.fullmatch(text)
    if m:
        ox = m.group("ox")
        return int(m.group("a")), int(m.group("b")), (None if ";O" not in text else int(ox or 1)), ()
    parts = re.split(r"[/_]", text)
    if len(parts) == 2:
        a = b = 0
        oxygen: int | None = None
        for part in parts:
            c = _CHAIN_RE.fullmatch(part)
            if not c:
                break
            if c.group("lcb") and c.group("o"):
                raise _fail(name, f"chain {part!r} gives its oxygen count twice")
            a += int(c.group("a"))
            b += int(c.group("b"))
            extra = (_LCB_OXYGEN[c.group("lcb")] if c.group("lcb")
                     else (int(c.group("ox") or 1) if c.group("o") else None))
            if extra is not None:
                oxygen = (oxygen or 0) + extra
        else:
            return a, b, oxygen, tuple(parts)
    raise _fail(name, f"ceramide {text!r} is not 'a:b;O2' or 'chain/chain' (e.g. d18:1/18:0)")


@functools.lru_cache(maxsize=65536)
def parse_name(name: str) -> GangliosideName:
    """Parse one name; raise :class:`NameParseError` naming it and the problem.

    >>> n = parse_name("GD1a+dHex+2OAc(36:1;O2)")
    >>> n.prefix, n.sugar_count, n.ceramide
    ('GD1a+dHex+2OAc', 7, '36:1;O2')
    >>> parse_name("GM3 d18:1/18:0").ceramide
    '36:1;O2'
    """
    if not isinstance(name, str):
        raise NameParseError(f"Name must be text. Got {name!r} instead.", name=repr(name))
    text = name.strip()
    if not text:
        raise NameParseError("Name must not be empty. Got '' instead.", name=name)
    if len(text) > MAX_NAME_LENGTH:
        raise NameParseError(f"Name must be at most {MAX_NAME_LENGTH} characters. "
                             f"Got {len(text)} instead.", name=text[:40])
    if text.endswith(")") and "(" in text:
        head, _, cer = text[:-1].partition("(")
    elif " " in text:
        head, _, cer = text.partition(" ")
    else:
        raise _fail(text, "expected 'PREFIX(a:b;O2)' or 'PREFIX a:b;O2'")
    m = _PREFIX_RE.fullmatch(head)
    if not m:
        raise _fail(text, f"prefix {head!r} is not G + sialic code (A M D T Q P) + digit 1-4, "
                          "an optional isomer (a b c α) and +modifications")
    counts: dict[str, int] = {}
    mods = m.group("mods")
    if mods:
        for token in mods.split("+")[1:]:
            mm = _MOD_RE.fullmatch("+" + token)
            if not mm or mm.group("name") not in MODIFICATIONS:
                bad = mm.group("name") if mm else token
                raise _fail(text, f"unknown modification {bad!r} (known: {', '.join(MODIFICATIONS)})")
            counts[mm.group("name")] = counts.get(mm.group("name"), 0) + int(mm.group("count") or 1)
    a, b, oxygen, chains = _parse_ceramide(text, cer)
    return GangliosideName(
        sialic_code=m.group("sialic"), digit=int(m.group("digit")), isomer=m.group("isomer") or "",
        modifications=tuple((k, counts[k]) for k in MODIFICATIONS if k in counts),
        a=a, b=b, oxygen=oxygen, chains=chains)


def is_valid_name(name: object) -> bool:
    """True when ``name`` parses under the grammar.

    >>> is_valid_name("GD1+Ac(36:1;O2)"), is_valid_name("GM1 36:1;O2")
    (False, True)
    """
    try:
        parse_name(name)
    except NameParseError:
        return False
    return True


def format_name(name: GangliosideName, style: str = "parenthesised") -> str:
    """Write a parsed name canonically: ``parenthesised`` (``GD1a+OAc(36:1;O2)``) or ``lipidmaps``
    (``GD1a+OAc 36:1;O2``). Chain notation is kept when the name was written with chains."""
    ceramide = "/".join(name.chains) if name.chains else name.ceramide
    if style == "lipidmaps":
        return f"{name.prefix} {ceramide}"
    if style != "parenthesised":
        raise ValueError(f"style must be 'parenthesised' or 'lipidmaps'. Got {style!r} instead.")
    return f"{name.prefix}({ceramide})"


# --------------------------------------------------------------------------------------------
# formula and mass
# --------------------------------------------------------------------------------------------
#: Elemental change when a residue is added by a glycosidic or ester bond (sugar minus water).
_RESIDUES: dict[str, dict[str, int]] = {
    "Hex": {"C": 6, "H": 10, "O": 5},
    "dHex": {"C": 6, "H": 10, "O": 4},
    "HexNAc": {"C": 8, "H": 13, "N": 1, "O": 5},
    "NeuAc": {"C": 11, "H": 17, "N": 1, "O": 8},
    "NeuGc": {"C": 11, "H": 17, "N": 1, "O": 9},
    "OAc": {"C": 2, "H": 2, "O": 1},
}
_MONO = {"C": 12.0, "H": 1.00782503207, "N": 14.0030740048, "O": 15.99491461956,
         "P": 30.97376163, "S": 31.97207100}
_ELEMENT_RE = re.compile(r"([A-Z][a-z]?)([0-9]*)")


@functools.lru_cache(maxsize=1)
def _goslin_parser() -> object | None:
    try:
        from pygoslin.parser.Parser import LipidParser
    except ImportError:  # optional: formula and mass stay empty
        return None
    return LipidParser()


@functools.lru_cache(maxsize=64)
def _core_elements(core_class: str) -> tuple[tuple[str, int], ...] | None:
    """Elements of ``<core_class> 36:1;O2`` from pygoslin (None when it cannot read it)."""
    parser = _goslin_parser()
    if parser is None:
        return None
    try:
        formula = parser.parse(f"{core_class} 36:1;O2").get_sum_formula()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - pygoslin raises bare exceptions for names it cannot read
        return None
    elements: dict[str, int] = {}
    for symbol, n in _ELEMENT_RE.findall(formula):
        elements[symbol] = elements.get(symbol, 0) + int(n or 1)
    return tuple(elements.items())


@functools.lru_cache(maxsize=65536)
def species_formula(name: str) -> tuple[str | None, float | None]:
    """Sum formula and neutral monoisotopic mass of the named species, or (None, None).

    pygoslin gives the unmodified core class at ceramide 36:1;O2 (parsed once per class); the
    sum composition then follows exactly: each extra carbon adds CH2, each double bond removes
    H2, each extra oxygen adds O; the modification residues are added last. Names pygoslin
    cannot read, or without an oxygen count, give (None, None).

    >>> species_formula("GM3(36:1;O2)")
    ('C59H108N2O21', 1180.744458)
    """
    try:
        parsed = parse_name(name)
    except NameParseError:
        return None, None
    core = _core_elements(parsed.core_class)
    if parsed.oxygen is None or core is None:
        return None, None
    elements = dict(core)
    elements["C"] += parsed.a - 36
    elements["H"] += 2 * (parsed.a - 36) - 2 * (parsed.b - 1)
    elements["O"] += parsed.oxygen - 2
    for mod, n in parsed.modifications:
        for symbol, k in _RESIDUES[mod].items():
            elements[symbol] = elements.get(symbol, 0) + n * k
    if any(symbol not in _MONO for symbol in elements) or min(elements.values()) < 0:
        return None, None
    order = ["C", "H"] + sorted(s for s in elements if s not in ("C", "H"))
    formula = "".join(f"{s}{elements[s] if elements[s] != 1 else ''}" for s in order if elements.get(s))
    mass = sum(_MONO[s] * n for s, n in elements.items())
    return formula, round(mass, 6)


# --------------------------------------------------------------------------------------------
# vectorised form
# --------------------------------------------------------------------------------------------
#: Columns produced by :func:`parse_names`, in order.
NAME_COLUMNS: tuple[str, ...] = (
    "prefix", "written_prefix", "core_class", "isomer", "base_class", "category", "sialic_acids",
    "neutral_sugars", "sugar_count", "core_sugar_count",
    *(f"n_{m}" for m in ("OAc", "dHex", "Hex", "HexNAc", "NeuAc", "NeuGc")),
    "a", "b", "oxygen", "ceramide", "chains",
)


def _fields(text: str, n: GangliosideName) -> tuple[object, ...]:
    written = text.strip()
    written_prefix = written[:-1].partition("(")[0] if written.endswith(")") else written.partition(" ")[0]
    return (n.prefix, written_prefix, n.core_class, n.isomer, n.base_class, n.category,
            n.sialic_acids, n.neutral_sugars, n.sugar_count, n.core_sugar_count,
            *(n.count(m) for m in ("OAc", "dHex", "Hex", "HexNAc", "NeuAc", "NeuGc")),
            n.a, n.b, np.nan if n.oxygen is None else n.oxygen, n.ceramide, "/".join(n.chains))


def name_fields(name: object) -> tuple[tuple[object, ...] | None, str]:
    """The values of :data:`NAME_COLUMNS` for one name, or ``None`` and why it does not parse.

    Text is looked up in a cache, so that tables repeating a name pay for it once.

    >>> name_fields("GM3(36:1;O2)")[0][:3]
    ('GM3', 'GM3', 'GM3')
    >>> name_fields("GM3")[1]
    "Name 'GM3' must follow the ganglioside grammar: expected 'PREFIX(a:b;O2)' or 'PREFIX a:b;O2'."
    """
    if type(name) is str:
        return _text_fields(name)
    return _uncached_fields(name)


def _uncached_fields(name: object) -> tuple[tuple[object, ...] | None, str]:
    try:
        return _fields(name, parse_name(name)), ""  # type: ignore[arg-type]
    except NameParseError as exc:
        return None, str(exc)


_text_fields = functools.lru_cache(maxsize=65536)(_uncached_fields)


def parse_names(names: Iterable[str] | pd.Series) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    """Parse many names, each distinct name once.

    Returns the derived fields (one row per input position, columns :data:`NAME_COLUMNS`,
    missing where the name failed) and the failures as ``(position, name, reason)``.
    """
    series = pd.Series(names, dtype=object).reset_index(drop=True)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    records: list[tuple[object, ...]] = []
    ok = np.zeros(len(uniques), dtype=bool)
    reasons: dict[int, str] = {}
    empty = (None,) * len(NAME_COLUMNS)
    for i, text in enumerate(uniques):
        fields, reason = name_fields(text)
        if fields is None:
            records.append(empty)
            reasons[i] = reason
        else:
            records.append(fields)
            ok[i] = True
    table = pd.DataFrame.from_records(records, columns=list(NAME_COLUMNS)) if records else \
        pd.DataFrame(columns=list(NAME_COLUMNS))
    take = np.where(codes < 0, len(uniques), codes)
    table = pd.concat([table, pd.DataFrame([empty], columns=list(NAME_COLUMNS))], ignore_index=True)
    out = table.iloc[take].reset_index(drop=True)
    failures: list[tuple[int, str, str]] = []
    bad = np.flatnonzero((codes < 0) | ~np.append(ok, False)[take])
    for pos in bad:
        c = codes[pos]
        failures.append((int(pos), "" if c < 0 else str(uniques[c]),
                         "Name must not be empty. Got '' instead." if c < 0 else reasons[c]))
    return out, failures


def factorize_by_name(table: pd.DataFrame, column: str, rows: np.ndarray | None = None, *,
                      use_na_sentinel: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of a column that is a function of ``Name`` (``Name`` itself or a name
    field), at ``rows`` (positions; all rows by default): the same codes and uniques, but only
    the first row of each distinct name is looked at, through the working table's ``name_id``
    (a 100k-row table has ~1,000 distinct names: a take of integers instead of hashing 100k
    strings).
    """
    values = table[column].to_numpy(dtype=object)
    if rows is not None:
        values = values[rows]
    if "name_id" not in table or not len(values):
        return pd.factorize(values, use_na_sentinel=use_na_sentinel)
    ids = table["name_id"].to_numpy(dtype=np.int64)
    if rows is not None:
        ids = ids[rows]
    first = np.full(int(ids.max()) + 1, len(ids), dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)  # the last write is each id's first row
    firsts = np.sort(first[first < len(ids)])  # one row per distinct name, in row order
    codes, uniques = pd.factorize(values[firsts], use_na_sentinel=use_na_sentinel)
    code_of_id = np.empty(len(first), dtype=codes.dtype)
    code_of_id[ids[firsts]] = codes
    return code_of_id[ids], uniques
