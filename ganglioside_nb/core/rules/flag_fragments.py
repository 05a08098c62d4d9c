"""Rule 5: in-source fragments co-eluting with a larger species of one ceramide (ALGORITHM.md §6.3).

Rows are grouped per identical ``ceramide``; two rows share a window when |ΔRT| ≤ ``rt_tolerance``.
Reference mode compares exactly, as the original did (|rt_j − rt_i| ≤ tol evaluated in floating
point, so 9.65 − 9.55 is *outside* 0.1); structural mode adds 1e-9 min so boundary cases are
inclusive. Reference mode ranks rows by the core sugar count (``core_sugar_count``), structural
mode by ``sugar_count``. ``params.effective_fragment_policy`` chooses the policy:

``annotate`` (reference default; the original V2, reproduced exactly)
    Per ceramide, rows sorted stably by (RT, row). Walk the sorted rows skipping placed rows; the
    current row's window is every row of the group within tolerance of *its* RT (centred, may
    re-include placed rows); a window of ≥ 2 members is an event whose parent is the member with
    the highest sugar count (ties: earliest in sort order) and whose consolidated volume is the
    members' Volume sum; all members become placed. Event ids follow creation order (ceramides by
    first appearance in the input, i.e. smallest ``row``, then RT). No status changes and
    ``consolidated_volume`` = Volume; flags ``rule5_parent`` / ``rule5_fragment`` (notes).

``consolidate`` (structural default)
    Rows are taken in the order sugar count desc, anchors first, Volume desc, RT asc, row asc.
    Each unassigned row is a candidate parent; its candidates are the unassigned non-anchor rows
    of the same ceramide within tolerance of the *parent's* RT with a strictly smaller sugar count
    that are a sub-composition of it (sialic acids, neutral sugars and every modification count
    ≤ the parent's). A candidate becomes a ``fragment`` only on decisive evidence: |ΔRT| ≤
    ``fragment_tight_rt`` (+1e-9) or a poor own Rule 1 fit (``status == 'outlier'`` with finite
    |z| ≥ ``outlier_threshold``). Otherwise it keeps its Rule 1 verdict, gets the warning
    ``possible_fragment`` and ``parent_row`` (the first parent, in processing order, that listed
    it). A parent with ≥ 1 fragment forms an event; fragments are assigned and cannot become
    parents. Fragments get ``consolidated_volume`` 0, parents their own Volume plus their
    fragments', so the column sums to the total Volume. Rows that are neither fragments nor
    possible fragments but have a row with a larger sugar count of the same ceramide inside their
    own window get the note ``coelutes_with_larger``. Anchors are never fragments.

**Complexity.** RT values are replaced by their rank among the distinct RTs, so every sort is one
argsort of a unique integer key (group, RT rank, row) and every window is exact: per distinct RT
value the first value beyond the width is found once (the literal floating-point test
``rt_j − rt_i > width``), and one linear merge of sorted integer keys gives each row's window
end. |ΔRT| ≤ width is symmetric, so window starts follow from the ends by counting (row i starts
after every row whose window ends at or before i). O(N log N) in all, never a scan of the table
per group, and no (row, row) pairs are materialised.

* The annotate walk is a chain: after the event (or single row) at sorted position i, the next
  unplaced row is exactly the window end ``hi(i)``. The visited rows are therefore the nodes
  reachable from 0 along ``i -> hi(i)``, found by pointer doubling (log N vectorised rounds).
  Left parts of successive windows are disjoint and so are right parts, so the members of all
  events number at most 2N and a row belongs to at most two events.
* The consolidate greedy is resolved level by level (one sugar count at a time, largest first):
  a row can only be claimed by a parent with a larger sugar count, all of which come before it,
  so within a level every parent is unassigned and the only competition is between parents of
  the same level: each candidate goes to the first parent, in processing order, that has decisive
  evidence for it. Per level and parent composition (there are few), the parents a candidate
  may go to form a contiguous run of that composition's parents in (ceramide, RT) order, so
  "first in processing order" is a range minimum of their processing ranks (a sparse table):
  the run within ``rt_tolerance`` for ``possible_fragment``, within ``fragment_tight_rt`` (or
  all of it for a poor fit) for decisive evidence.

``member_rows`` of ``fragment_events`` lists the parent and its members in (RT, row) order (the
golden order of the original); ``parent_row`` names the parent. In ``annotate``, ``parent_row`` of
the compounds table stays NA (no row changes status; a row can be a member of two events).

Under ``consolidate`` the statistics also carry the |ΔRT| histogram behind ``fragment_tight_rt``:
pairs of a row and a same-ceramide, same-modification row with more sugars, counted in the bins
(lo, hi] of :data:`DRT_EDGES` (the first bin includes 0), edges compared exactly in floating point
as for the figures of ALGORITHM.md §6.3 (73, 24, 14, 18, 11, 19 on the sample).

Pure ring: numpy and pandas only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..names import factorize_by_name
from ._base import RuleOutcome
from ._keys import combine_codes, dense_rank, int_column, lex_order, row_rank, rt_ranks

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["DRT_EDGES", "FRAGMENT_EVENT_COLUMNS", "flag_fragments"]

#: Bin edges (min) of the |ΔRT| histogram reported in the statistics.
DRT_EDGES: tuple[float, ...] = (0.0, 0.01, 0.02, 0.03, 0.05, 0.10, 0.20)
#: Bound on the (candidate, parent composition) range queries the consolidate policy materialises
#: at once (no (row, row) pairs are ever materialised).
_MAX_PAIRS_PER_CHUNK = 2_000_000
#: Cells of the per-level prefix counts the |ΔRT| histogram holds at once (memory bound).
_PREFIX_CELLS = 1 << 23
#: Columns of the ``fragment_events`` table (ALGORITHM.md §7).
FRAGMENT_EVENT_COLUMNS: tuple[str, ...] = (
    "event", "ceramide", "parent_row", "member_rows", "rt_min", "rt_max", "consolidated_volume")
_EPS = 1e-9
_MODS: tuple[str, ...] = ("OAc", "dHex", "Hex", "HexNAc", "NeuAc", "NeuGc")
_FLAGS: tuple[str, ...] = ("rule5_parent", "rule5_fragment", "possible_fragment",
                           "coelutes_with_larger")


# --------------------------------------------------------------------------------------------
# sorted-array helpers
# --------------------------------------------------------------------------------------------
def _in_row_order(rows: np.ndarray) -> bool:
    """Are the rows listed by increasing ``row`` (the usual case)?"""
    return len(rows) < 2 or bool(np.all(rows[1:] > rows[:-1]))


def _value_upper(values: np.ndarray, width: float) -> np.ndarray:
    """Per sorted distinct value u, the first index v with ``values[v] − values[u] > width``.

    A ``searchsorted`` of ``values + width`` is off by at most a rounding step; the literal test
    then moves each bound to the exact one (a monotone predicate, so a few vectorised steps).
    """
    upper = np.searchsorted(values, values + width, side="right")
    last = len(values) - 1
    while True:
        back = values[np.maximum(upper - 1, 0)] - values > width
        forth = (upper <= last) & (values[np.minimum(upper, last)] - values <= width)
        if not (back.any() or forth.any()):
            return upper
        upper = upper - back + forth


class _Windows:
    """Rows sorted by (group code, RT rank), with exact |ΔRT| ≤ width windows per group.

    ``codes`` and ``ranks`` are in sorted order; ``values`` are the sorted distinct RTs that the
    ranks index. The window end of row i is the first row of its group whose RT rank reaches
    the first distinct value beyond the width: the first of the sorted distinct (group, rank)
    keys at or after the wanted one. Both key sequences are sorted, so this is a linear merge
    (``Index.get_indexer(method="backfill")``) rather than a binary search per row.
    """

    def __init__(self, codes: np.ndarray, ranks: np.ndarray, values: np.ndarray) -> None:
        radix = np.int64(len(values) + 1)
        self.ranks, self.values = ranks, values
        self.base = codes.astype(np.int64) * radix
        key = self.base + ranks
        first = np.flatnonzero(np.diff(key, prepend=-1))  # where each distinct key starts
        self.keys = pd.Index(key[first])
        self.starts = np.append(first, len(key))  # a wanted key past the last one: -1 -> n

    def upper(self, width: float) -> np.ndarray:
        """End (exclusive) of each row's window: rows j ≥ i of the group with rt_j − rt_i ≤ width."""
        wanted = self.base + _value_upper(self.values, width)[self.ranks]
        return self.starts[self.keys.get_indexer(wanted, method="backfill")]

    def bounds(self, width: float) -> tuple[np.ndarray, np.ndarray]:
        """[lo, hi) per row. The test is symmetric, so j < i is in i's window exactly when i is in
        j's, and the ends never decrease: lo(i) is the number of rows whose window ends by i."""
        hi = self.upper(width)
        lo = np.cumsum(np.bincount(hi, minlength=len(hi) + 1))[:len(hi)]
        return lo, hi


class _RangeExtreme:
    """``op``-reduction (``np.maximum`` / ``np.minimum``) of ``values[lo:hi]`` per query (hi > lo)
    by a sparse table: O(N log W) build for queries no longer than ``longest``, O(1) query."""

    def __init__(self, values: np.ndarray, longest: int, op: np.ufunc) -> None:
        levels = [values]
        while (1 << len(levels)) <= longest:
            prev, half = levels[-1], 1 << (len(levels) - 1)
            levels.append(np.concatenate([op(prev[:-half], prev[half:]), prev[len(prev) - half:]])
                          if len(prev) > half else prev)
        self.table, self.width, self.op = np.concatenate(levels), len(values), op
        # Per query length: floor(log2(length)), as an offset into ``table`` and a span.
        log2 = np.zeros(longest + 1, dtype=np.int64)
        for k in range(1, len(levels)):
            log2[1 << k:] += 1
        self.offset, self.span = log2 * len(values), np.int64(1) << log2

    def query(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        length = hi - lo
        base = self.offset[length] + lo
        return self.op(self.table[base], self.table[base + length - self.span[length]])


def _ceramide_rank(table: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Rank of each row's ceramide by first appearance (smallest ``row``); order-independent.
    Also returns the number of ceramides."""
    codes, uniques = factorize_by_name(table, "ceramide")
    if len(codes) and codes.min() < 0:  # missing ceramides count as ''
        codes, uniques = pd.factorize(table["ceramide"].to_numpy(dtype=object, na_value=""))
    if _in_row_order(rows):  # codes number first appearances, which are the smallest rows
        return codes.astype(np.int64), len(uniques)
    first = np.full(len(uniques), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, codes, rows)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first), dtype=np.int64)
    return np.asarray(rank[codes], dtype=np.int64), len(first)


def _pointer_chain(nxt: np.ndarray) -> np.ndarray:
    """Nodes visited from 0 along ``i -> nxt[i]`` (nxt[i] > i; nxt[n] = n), by pointer doubling."""
    n = len(nxt) - 1
    visited = np.zeros(n + 1, dtype=bool)
    if n == 0:
        return visited[:0]
    visited[0] = True
    jump = nxt.copy()
    while True:
        visited[jump[np.flatnonzero(visited[:n])]] = True
        if jump[0] == n:  # the walk ends within the steps covered so far
            break
        jump = jump[jump]
    return visited[:n]


# --------------------------------------------------------------------------------------------
# the rule
# --------------------------------------------------------------------------------------------
def flag_fragments(table: pd.DataFrame, params: AnalysisParams) -> RuleOutcome:
    """Co-elution events within a ceramide: annotate (reference) or consolidate (Rule 5).

    Parameters
    ----------
    table : DataFrame
        Working table with ``row``, ``Name``, ``RT``, ``Volume``, ``Anchor``, ``ceramide``, the
        sugar fields and ``n_<mod>``; Rule 1's ``status``, ``reason`` and ``z`` when present
        (absent: status and reason '' and no poor fits).
    params : AnalysisParams
        ``mode``, ``effective_fragment_policy``, ``rt_tolerance``, ``fragment_tight_rt`` and
        ``outlier_threshold``.

    Returns
    -------
    RuleOutcome
        Columns ``status`` (consolidate: 'fragment' for fragments), ``reason``, ``parent_row``
        (Int64, NA when none), ``consolidated_volume`` (float) and ``rule5_event`` (id of the event
        the row is parent of, the first one if two, else -1); flags ``rule5_parent``,
        ``rule5_fragment`` (annotate roles), ``possible_fragment``, ``coelutes_with_larger``
        (consolidate); table ``fragment_events``; statistics (event and role counts, decisions,
        the |ΔRT| histogram).

    Examples
    --------
    >>> import pandas as pd
    >>> from ganglioside_nb.core.names import parse_names
    >>> from ganglioside_nb.params import AnalysisParams
    >>> names = ["GD1(36:1;O2)", "GM3(36:1;O2)"]
    >>> t = pd.concat([pd.DataFrame({"row": [0, 1], "Name": names, "RT": [9.500, 9.505],
    ...                              "Volume": [100.0, 10.0], "Anchor": [True, False]}),
    ...                parse_names(names)[0]], axis=1)
    >>> out = flag_fragments(t, AnalysisParams())
    >>> list(out.columns["status"]), out.columns["consolidated_volume"].tolist()
    (['', 'fragment'], [110.0, 0.0])
    >>> out.tables["fragment_events"]["member_rows"].tolist()
    [[0, 1]]
    """
    policy = params.effective_fragment_policy
    reference = params.mode == "reference"
    sugar = int_column(table, "core_sugar_count" if reference else "sugar_count")
    width = params.rt_tolerance + (0.0 if reference else _EPS)
    ctx = _Context.build(table, sugar, width)
    if policy == "annotate":
        columns, flags, events, statistics, warnings = _annotate(table, ctx)
    else:
        mods = [int_column(table, f"n_{m}") for m in _MODS]
        mods_code = combine_codes(mods)
        columns, flags, events, statistics, warnings = _consolidate(table, ctx, params, reference,
                                                                    mods, mods_code)
        statistics["drt_histogram"] = _drt_histogram(ctx, mods_code)
    statistics = {"policy": policy, "rt_tolerance": float(params.rt_tolerance),
                  "exact_window": reference, **statistics}
    return RuleOutcome(columns=columns, flags=flags, tables={"fragment_events": events},
                       statistics=statistics, warnings=tuple(warnings))


@dataclass(frozen=True)
class _Context:
    """The table sorted by (ceramide rank, RT, row) with each row's window in that order.

    Arrays without ``_s`` are in table order; ``order`` maps sorted positions to table positions
    and ``lo``/``hi`` bound each sorted position's window (same ceramide, |ΔRT| ≤ ``width``).
    ``level`` ranks the sugar counts (0 = smallest); ``rt_rank`` indexes the sorted distinct RTs
    ``rt_values``; ``tie`` ranks rows by (row, position), the last key of every sort;
    ``windows`` searches other widths in this order.
    """

    n: int
    rows: np.ndarray
    rt: np.ndarray
    cer: np.ndarray
    sugar: np.ndarray
    level: np.ndarray
    n_levels: int
    volume: np.ndarray
    width: float
    rt_values: np.ndarray
    rt_rank: np.ndarray
    tie: np.ndarray
    order: np.ndarray
    rt_s: np.ndarray
    cer_s: np.ndarray
    windows: _Windows
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def build(cls, table: pd.DataFrame, sugar: np.ndarray, width: float) -> _Context:
        n = len(table)
        rows = table["row"].to_numpy(dtype=np.int64)
        rt = table["RT"].to_numpy(dtype=float)
        cer, n_cer = _ceramide_rank(table, rows)
        rt_rank, rt_values = rt_ranks(rt)
        tie = row_rank(rows)
        # A total order with row last, so ties give the same parent on every numpy version.
        order = lex_order([(cer, n_cer), (rt_rank, len(rt_values)), (tie, n)])
        cer_s = cer[order]
        windows = _Windows(cer_s, rt_rank[order], rt_values)
        lo, hi = windows.bounds(width)
        level, sugar_values = dense_rank(sugar)
        return cls(n=n, rows=rows, rt=rt, cer=cer, sugar=sugar, level=level,
                   n_levels=len(sugar_values),
                   volume=table["Volume"].to_numpy(dtype=float), width=width,
                   rt_values=rt_values, rt_rank=rt_rank, tie=tie, order=order, rt_s=rt[order],
                   cer_s=cer_s, windows=windows, lo=lo, hi=hi)


_Parts = tuple[dict[str, Any], dict[str, np.ndarray], pd.DataFrame, dict[str, Any], list[str]]


def _base_columns(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    n = len(table)
    status = (table["status"].to_numpy(dtype=object) if "status" in table
              else np.full(n, "", dtype=object)).copy()
    reason = (table["reason"].to_numpy(dtype=object) if "reason" in table
              else np.full(n, "", dtype=object)).copy()
    return status, reason


def _events_table(table: pd.DataFrame, ctx: _Context, ev_parent: np.ndarray,
                  mem_event: np.ndarray, mem_pos: np.ndarray) -> pd.DataFrame:
    """``fragment_events`` from parents (sorted positions) and members sorted by (event, pos)."""
    n_ev = len(ev_parent)
    if n_ev == 0:
        return pd.DataFrame({
            "event": pd.Series(dtype=np.int64), "ceramide": pd.Series(dtype=object),
            "parent_row": pd.Series(dtype=np.int64), "member_rows": pd.Series(dtype=object),
            "rt_min": pd.Series(dtype=float), "rt_max": pd.Series(dtype=float),
            "consolidated_volume": pd.Series(dtype=float)})
    bounds = np.searchsorted(mem_event, np.arange(n_ev + 1))
    first = bounds[:-1]
    members = ctx.rows[ctx.order[mem_pos]].tolist()
    member_rows = [members[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(),
                                                strict=True)]
    rt_m = ctx.rt_s[mem_pos]
    ceramide = table["ceramide"].to_numpy(dtype=object)[ctx.order[ev_parent]]
    return pd.DataFrame({
        "event": np.arange(n_ev, dtype=np.int64),
        "ceramide": ceramide,
        "parent_row": ctx.rows[ctx.order[ev_parent]],
        "member_rows": pd.Series(member_rows, dtype=object),
        "rt_min": np.minimum.reduceat(rt_m, first),
        "rt_max": np.maximum.reduceat(rt_m, first),
        "consolidated_volume": np.add.reduceat(ctx.volume[ctx.order[mem_pos]], first),
    })


def _annotate(table: pd.DataFrame, ctx: _Context) -> _Parts:
    n, lo, hi = ctx.n, ctx.lo, ctx.hi
    visited = _pointer_chain(np.append(hi, n).astype(np.int64))
    ev_pos = np.flatnonzero(visited & (hi - lo >= 2))  # creation order = sorted order
    n_ev = len(ev_pos)
    sizes = hi[ev_pos] - lo[ev_pos]
    mem_event = np.repeat(np.arange(n_ev, dtype=np.int64), sizes)
    offsets = np.cumsum(sizes) - sizes
    mem_pos = np.repeat(lo[ev_pos], sizes) + (np.arange(int(sizes.sum()), dtype=np.int64)
                                              - np.repeat(offsets, sizes))
    # Parent: highest sugar count, ties to the earliest member (in sort order).
    sugar_s = ctx.sugar[ctx.order]
    key = sugar_s[mem_pos] * np.int64(n + 1) + (n - mem_pos)
    best = np.maximum.reduceat(key, offsets) if n_ev else key[:0]
    ev_parent = n - best % (n + 1)

    rule5_event = np.full(n, -1, dtype=np.int64)
    parent_orig = ctx.order[ev_parent]
    first_event = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_event, parent_orig, np.arange(n_ev, dtype=np.int64))
    is_parent = first_event < np.iinfo(np.int64).max
    rule5_event[is_parent] = first_event[is_parent]
    is_fragment = np.zeros(n, dtype=bool)
    is_fragment[ctx.order[mem_pos[mem_pos != ev_parent[mem_event]]]] = True

    status, reason = _base_columns(table)
    columns = {
        "status": status, "reason": reason,
        "parent_row": pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)),
        "consolidated_volume": ctx.volume.copy(),
        "rule5_event": rule5_event,
    }
    flags = {name: np.zeros(n, dtype=bool) for name in _FLAGS}
    flags["rule5_parent"] = is_parent
    flags["rule5_fragment"] = is_fragment
    events = _events_table(table, ctx, ev_parent, mem_event, mem_pos)
    statistics = {
        "n_events": int(n_ev),
        "event_size_min": int(sizes.min()) if n_ev else 0,
        "event_size_max": int(sizes.max()) if n_ev else 0,
        "n_parent_only": int((is_parent & ~is_fragment).sum()),
        "n_fragment_only": int((is_fragment & ~is_parent).sum()),
        "n_parent_and_fragment": int((is_parent & is_fragment).sum()),
        "n_neither": int((~is_parent & ~is_fragment).sum()),
    }
    return columns, flags, events, statistics, []


def _consolidate(table: pd.DataFrame, ctx: _Context, params: AnalysisParams,
                 reference: bool, mods: list[np.ndarray], mods_code: np.ndarray) -> _Parts:
    n = ctx.n
    order = ctx.order
    anchor = table["Anchor"].to_numpy(dtype=bool)
    status, reason = _base_columns(table)
    z = table["z"].to_numpy(dtype=float) if "z" in table else np.full(n, np.nan)
    poor_fit = (status == "outlier") & np.isfinite(z) & (np.abs(z) >= params.outlier_threshold)
    tight = params.fragment_tight_rt + (0.0 if reference else _EPS)

    # Processing rank: sugar desc, anchors first, Volume desc, RT asc, row asc.
    volume_rank, volume_values = dense_rank(-ctx.volume)
    proc = lex_order([(ctx.n_levels - 1 - ctx.level, ctx.n_levels),
                       ((~anchor).astype(np.int64), 2), (volume_rank, len(volume_values)),
                       (ctx.rt_rank, len(ctx.rt_values)), (ctx.tie, n)])
    rank = np.empty(n, dtype=np.int64)
    rank[proc] = np.arange(n, dtype=np.int64)
    pos_of = np.empty(n, dtype=np.int64)
    pos_of[order] = np.arange(n, dtype=np.int64)
    pos_by_rank = pos_of[proc]

    level_s = ctx.level[order]
    anchor_s = anchor[order]
    rank_s = rank[order]
    kind_s, kinds = _compositions(table, mods, mods_code)
    kind_s = kind_s[order]
    # Decisive evidence: within the tight window, or anywhere in the window for a poor fit.
    t_lo, t_hi = ctx.windows.bounds(tight)
    poor_s = poor_fit[order]
    d_lo = np.where(poor_s, ctx.lo, np.maximum(ctx.lo, t_lo))
    d_hi = np.where(poor_s, ctx.hi, np.minimum(ctx.hi, t_hi))

    assigned_s = np.zeros(n, dtype=bool)          # claimed as fragment (sorted positions)
    parent_of_s = np.full(n, -1, dtype=np.int64)  # claiming parent (sorted position)
    possible_s = np.full(n, -1, dtype=np.int64)   # first non-decisive parent (sorted position)
    before = np.zeros(n + 1, dtype=np.int64)
    for value in range(ctx.n_levels - 1, 0, -1):
        is_parent = (level_s == value) & ~assigned_s
        parents = np.flatnonzero(is_parent)
        pool = np.flatnonzero((level_s < value) & ~assigned_s & ~anchor_s)  # sorted order kept
        if not len(parents) or not len(pool):
            continue
        # A candidate's parents in its window are a run of ``parents``: [p_lo, p_hi).
        np.cumsum(is_parent, out=before[1:])
        p_lo, p_hi = before[ctx.lo[pool]], before[ctx.hi[pool]]
        near = p_lo < p_hi
        pool, p_lo, p_hi = pool[near], p_lo[near], p_hi[near]
        if not len(pool):
            continue
        q_lo, q_hi = before[d_lo[pool]], before[d_hi[pool]]
        best = np.full(len(pool), n, dtype=np.int64)      # first decisive parent (rank)
        best_any = np.full(len(pool), n, dtype=np.int64)  # first parent at all (rank)
        parent_kind = kind_s[parents]
        pool_kind = kind_s[pool]
        longest = int((p_hi - p_lo).max())
        for kind in np.flatnonzero(np.bincount(parent_kind)):
            # Parents of one composition; the candidates that are sub-compositions of it, whose
            # runs become runs of these parents (``within``): range minima of their ranks.
            mine = parent_kind == kind
            within = np.zeros(len(parents) + 1, dtype=np.int64)
            np.cumsum(mine, out=within[1:])
            first = _RangeExtreme(rank_s[parents[mine]], min(int(within[-1]), longest), np.minimum)
            fits = np.flatnonzero(np.all(kinds <= kinds[kind], axis=1)[pool_kind])
            for chunk in range(0, len(fits), _MAX_PAIRS_PER_CHUNK):  # bounded query arrays
                at = fits[chunk:chunk + _MAX_PAIRS_PER_CHUNK]
                for target, lo, hi in ((best_any, p_lo, p_hi), (best, q_lo, q_hi)):
                    lo, hi = within[lo[at]], within[hi[at]]
                    some = lo < hi
                    target[at[some]] = np.minimum(target[at[some]],
                                                  first.query(lo[some], hi[some]))
        claimed = best < n
        assigned_s[pool[claimed]] = True
        parent_of_s[pool[claimed]] = pos_by_rank[best[claimed]]
        fresh = (best_any < n) & (possible_s[pool] < 0)
        possible_s[pool[fresh]] = pos_by_rank[best_any[fresh]]

    fragment_s = assigned_s
    possible_only_s = (possible_s >= 0) & ~fragment_s
    # Events: parents with >= 1 fragment, numbered in processing order.
    frag_pos = np.flatnonzero(fragment_s)
    is_event_parent = np.zeros(n, dtype=bool)
    is_event_parent[parent_of_s[frag_pos]] = True
    ev_parent_pos = pos_by_rank[np.flatnonzero(is_event_parent[pos_by_rank])]
    n_ev = len(ev_parent_pos)
    event_of_s = np.full(n, -1, dtype=np.int64)
    event_of_s[ev_parent_pos] = np.arange(n_ev, dtype=np.int64)
    mem_event = np.concatenate([event_of_s[ev_parent_pos], event_of_s[parent_of_s[frag_pos]]])
    mem_pos = np.concatenate([ev_parent_pos, frag_pos])
    by = np.argsort(mem_event * np.int64(n) + mem_pos)  # (event, position): unique keys
    mem_event, mem_pos = mem_event[by], mem_pos[by]
    events = _events_table(table, ctx, ev_parent_pos, mem_event, mem_pos)

    # Per-row outputs, back in table order (fragments: the claiming parent; possible fragments:
    # the first parent that listed them).
    is_fragment = fragment_s[pos_of]
    parent_pos = np.where(fragment_s, parent_of_s, possible_s)[pos_of]
    parent_row = np.where(parent_pos >= 0, ctx.rows[order[parent_pos]], 0)
    frag_idx, par_idx = order[frag_pos], order[parent_of_s[frag_pos]]
    consolidated = ctx.volume.copy()
    consolidated[frag_idx] = 0.0
    np.add.at(consolidated, par_idx, ctx.volume[frag_idx])
    rule5_event = event_of_s[pos_of]
    drt = np.abs(ctx.rt[frag_idx] - ctx.rt[par_idx])
    if len(frag_idx):
        reason[frag_idx] = _fragment_reasons(table, ctx, drt, order[ev_parent_pos],
                                             event_of_s[parent_of_s[frag_pos]], reason[frag_idx])
        status[frag_idx] = "fragment"

    # Co-eluting rows left unassigned next to a row with a larger sugar count.
    small_s = level_s.astype(np.min_scalar_type(ctx.n_levels))
    larger = _RangeExtreme(small_s, int((ctx.hi - ctx.lo).max(initial=1)), np.maximum)
    larger_in_window = larger.query(ctx.lo, ctx.hi) > small_s
    coelutes = (larger_in_window & ~fragment_s & ~possible_only_s)[pos_of]

    flags = {name: np.zeros(n, dtype=bool) for name in _FLAGS}
    flags["possible_fragment"] = possible_only_s[pos_of]
    flags["coelutes_with_larger"] = coelutes
    n_tight = int((drt <= tight).sum())
    statistics = {
        "n_events": int(n_ev),
        "n_fragments": int(is_fragment.sum()),
        "n_fragments_tight": n_tight,
        "n_fragments_poor_fit": int(is_fragment.sum()) - n_tight,
        "n_possible_fragments": int(possible_only_s.sum()),
        "n_candidates": int(((possible_s >= 0) | fragment_s).sum()),
        "n_coelutes_with_larger": int(coelutes.sum()),
        "fragment_tight_rt": float(params.fragment_tight_rt),
    }
    columns = {
        "status": status, "reason": reason,
        "parent_row": pd.arrays.IntegerArray(parent_row.astype(np.int64), parent_pos < 0),
        "consolidated_volume": consolidated,
        "rule5_event": rule5_event,
    }
    warnings = []
    if statistics["n_possible_fragments"]:
        warnings.append(
            f"Rule 5: {statistics['n_possible_fragments']} row(s) co-elute with a larger "
            f"sub-composition of the same ceramide but neither within "
            f"{params.fragment_tight_rt:g} min nor with a poor Rule 1 fit; kept with their "
            "Rule 1 verdict and flagged possible_fragment.")
    return columns, flags, events, statistics, warnings


def _compositions(table: pd.DataFrame, mods: list[np.ndarray],
                  mods_code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Composition code per row and the distinct compositions (sialic acids, neutral sugars,
    every modification count; ``mods_code`` codes the ``mods`` columns), one row each: "is a
    sub-composition of" is then decided once per pair of codes (they are few) instead of once
    per pair of rows."""
    columns = [int_column(table, "sialic_acids"), int_column(table, "neutral_sugars"), *mods]
    codes, distinct = dense_rank(combine_codes([*columns[:2], mods_code]))
    some_row = np.empty(len(distinct), dtype=np.intp)
    some_row[codes] = np.arange(len(codes))  # any row of a code will do: they are all equal
    return codes, np.stack([column[some_row] for column in columns], axis=1)


def _fragment_reasons(table: pd.DataFrame, ctx: _Context, drt: np.ndarray, parents: np.ndarray,
                      event: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Reason texts of fragments whose parents are at table positions ``parents[event]`` (|ΔRT|
    ``drt``), each put before the fragment's previous reason ``old``. The parent part is
    formatted once per parent and |ΔRT| once per distinct value; per fragment the pieces are
    only joined."""
    drt_code, drt_values = pd.factorize(drt)
    names = table["Name"].to_numpy(dtype=object)[parents]
    heads = np.array([f"Rule 5: in-source fragment of row {r} ({nm}), co-elutes within "
                      for r, nm in zip(ctx.rows[parents].tolist(), names.tolist(), strict=True)],
                     dtype=object)
    tails = np.array([f"{d:.3f} min" for d in drt_values.tolist()], dtype=object)
    text = heads[event] + tails[drt_code]
    has_old = old.astype(bool)
    text[has_old] = text[has_old] + "; " + old[has_old]
    return text


def _drt_histogram(ctx: _Context, mods: np.ndarray) -> dict[str, Any]:
    """|ΔRT| between each row and the same-ceramide, same-modification rows with more sugars
    (``mods`` codes the modification counts).

    Counted, not enumerated. |ΔRT| ≤ e is symmetric, so these are the unordered pairs within e
    whose sugar counts differ: with rows sorted by (group, RT), all pairs of a row with the later
    rows of its window, less those of one sugar level (prefix counts per level).
    """
    n = ctx.n
    edges = np.asarray(DRT_EDGES)
    if n == 0:
        return {"edges": edges.tolist(), "counts": [0] * (len(edges) - 1)}
    group = pd.factorize(combine_codes([ctx.cer, mods]))[0]
    # The ceramide order refined by group (a group has one ceramide): (group, RT, row).
    by_group = np.argsort(group[ctx.order].astype(np.min_scalar_type(group.max())), kind="stable")
    order = ctx.order[by_group]
    windows = _Windows(group[order], ctx.rt_rank[order], ctx.rt_values)
    level_s = ctx.level[order]
    ends = [windows.upper(float(e)) for e in edges[1:]]
    # All pairs of a row with the later rows of its window ...
    cumulative = np.array([int(hi.sum()) for hi in ends]) - n * (n + 1) // 2
    # ... less those within one level: the level's rows before the window end, less those up to
    # the row itself (the k-th row of a level has k + 1 of them).
    sizes = np.bincount(level_s, minlength=ctx.n_levels)
    cumulative += int((sizes * (sizes + 1) // 2).sum())
    step = max(1, _PREFIX_CELLS // (n + 1))  # levels per block of prefix counts (memory bound)
    for first in range(0, ctx.n_levels, step):
        levels = np.arange(first, min(first + step, ctx.n_levels))
        # before[l, x]: rows of level first + l among the first x rows (a zero cell for others).
        before = np.zeros((len(levels), n + 1), dtype=np.int32)
        np.cumsum(level_s == levels[:, None], axis=1, dtype=np.int32, out=before[:, 1:])
        mine = (level_s >= first) & (level_s <= levels[-1])
        at = np.where(mine, (level_s - first) * (n + 1), 0)
        for j, hi in enumerate(ends):
            cumulative[j] -= int(before.ravel()[np.where(mine, at + hi, 0)].sum())
    counts = np.diff(np.concatenate([[0], cumulative]))
    return {"edges": edges.tolist(), "counts": counts.astype(int).tolist(),
            "pairs_within_max_edge": int(cumulative[-1])}
