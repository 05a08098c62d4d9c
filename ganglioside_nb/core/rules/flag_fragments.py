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

**Complexity.** One stable sort by (ceramide rank, RT, row); window bounds by a vectorised
per-group binary search (exact, evaluating the same |ΔRT| ≤ tol as the original); O(N log N)
plus the total window size, never a scan of the table per group.

* The annotate walk is a chain: after the event (or single row) at sorted position i, the next
  unplaced row is exactly the window end ``hi(i)``. The visited rows are therefore the nodes
  reachable from 0 along ``i -> hi(i)``, found by pointer doubling (log N vectorised rounds).
  Left parts of successive windows are disjoint and so are right parts, so the members of all
  events number at most 2N and a row belongs to at most two events.
* The consolidate greedy is resolved level by level (one sugar count at a time, largest first):
  a row can only be claimed by a parent with a larger sugar count, all of which come before it,
  so within a level every parent is unassigned and the only competition is between parents of
  the same level: each candidate goes to the first parent, in processing order, that has decisive
  evidence for it. Candidates are searched in the unassigned non-anchor rows of lower levels only
  (marks over assigned rows), so assigned rows are never enumerated again.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._base import RuleOutcome
from ._keys import combine_codes, int_column

if TYPE_CHECKING:
    from ...params import AnalysisParams

__all__ = ["DRT_EDGES", "FRAGMENT_EVENT_COLUMNS", "flag_fragments"]

#: Bin edges (min) of the |ΔRT| histogram reported in the statistics.
DRT_EDGES: tuple[float, ...] = (0.0, 0.01, 0.02, 0.03, 0.05, 0.10, 0.20)
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




def _bisect(lo: np.ndarray, hi: np.ndarray,
            pred: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Per query, the first index in [lo, hi) where the monotone predicate is true (else hi).

    ``pred(active, mid)`` evaluates the predicate of queries ``active`` at indices ``mid``; it
    must be False then True along each range. Vectorised: one pass per halving.
    """
    lo = lo.astype(np.int64, copy=True)
    hi = hi.astype(np.int64, copy=True)
    active = np.flatnonzero(lo < hi)
    while active.size:
        mid = (lo[active] + hi[active]) // 2
        ok = pred(active, mid)
        hi[active[ok]] = mid[ok]
        lo[active[~ok]] = mid[~ok] + 1
        active = active[lo[active] < hi[active]]
    return lo


class _Sorted:
    """Values sorted by (group code, value), searchable per group.

    ``window`` is a per-group ``searchsorted``: a float key ``code·C + (value − min)`` with C a
    power of two wider than the value span keeps the groups apart, one global ``searchsorted``
    with a small safety margin brackets each bound, and a binary search inside the (nearly
    always empty) bracket applies the exact test. Query centres are clipped into
    [min − reach − 1, max + reach + 1] for the key only (so a far-away centre cannot land in
    another group's band); ``reach`` is the largest width ever asked for.
    """

    def __init__(self, codes: np.ndarray, values: np.ndarray, reach: float) -> None:
        self.codes, self.values, self.reach = codes, values, reach
        self.low = float(values.min()) if len(values) else 0.0
        self.high = float(values.max()) if len(values) else 0.0
        span = self.high - self.low
        self.spacing = float(2.0 ** np.ceil(np.log2(span + 2.0 * reach + 4.0)))
        self.key = self._key(codes, values)
        top = float(np.abs(self.key).max()) if len(values) else 1.0
        self.margin = 64.0 * float(np.spacing(max(top, self.spacing)))

    def _key(self, codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        return codes.astype(float) * self.spacing + (values - self.low)

    def window(self, codes: np.ndarray, centre: np.ndarray,
               width: float) -> tuple[np.ndarray, np.ndarray]:
        """Bounds [lo, hi) of the indices j of group ``codes`` with |values[j] − centre| ≤ width.

        The exact test is the literal floating-point ``centre − values[j] ≤ width`` on the left
        and ``values[j] − centre ≤ width`` on the right (IEEE subtraction is sign-symmetric, so
        this is ``abs(values[j] − centre) ≤ width``, the original's comparison).
        """
        values = self.values
        if width > self.reach:
            raise ValueError(f"width must be at most reach ({self.reach}). Got {width} instead.")
        if not len(values):
            return np.zeros(len(codes), dtype=np.int64), np.zeros(len(codes), dtype=np.int64)
        q = self._key(codes, np.clip(centre, self.low - self.reach - 1.0,
                                     self.high + self.reach + 1.0))
        lo = self._first_true(np.searchsorted(self.key, q - width - self.margin, side="left"),
                              q - width + self.margin, codes,
                              lambda j, a: centre[a] - values[j] <= width)
        hi = self._first_true(np.searchsorted(self.key, q + width - self.margin, side="left"),
                              q + width + self.margin, codes,
                              lambda j, a: values[j] - centre[a] > width)
        return lo, hi

    def _first_true(self, start: np.ndarray, upper_key: np.ndarray, codes: np.ndarray,
                    pred: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """First index j ≥ start where ``pred(j, query)`` holds; an index past the query's group
        counts as true. The predicate is false before ``start`` and true from the key
        ``upper_key`` on, so only the few queries with a value inside the safety margin are
        searched further (by bisection)."""
        n = len(self.values)
        j = np.minimum(start, n - 1)
        inside = (start < n) & (self.codes[j] == codes)
        need = np.flatnonzero(inside)
        need = need[~pred(j[need], need)]
        if not need.size:
            return start
        start = start.copy()
        upper = np.searchsorted(self.key, upper_key[need], side="right")
        start[need] = _bisect(start[need] + 1, upper, lambda a, mid: pred(mid, need[a]))
        return start


def _range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """max(values[lo:hi]) per query (hi > lo), by a sparse table: O(N log W) build, O(1) query."""
    length = hi - lo
    longest = int(length.max()) if len(length) else 1
    levels = [values]
    while (1 << len(levels)) <= longest:
        prev, half = levels[-1], 1 << (len(levels) - 1)
        levels.append(np.maximum(prev[:-half], prev[half:]) if len(prev) > half else prev[:0])
    k = np.floor(np.log2(np.maximum(length, 1))).astype(np.int64)
    out = np.empty(len(lo), dtype=values.dtype)
    for j in np.unique(k):
        sel = k == j
        level = levels[j]
        out[sel] = np.maximum(level[lo[sel]], level[hi[sel] - (1 << int(j))])
    return out


def _ceramide_rank(table: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Rank of each row's ceramide by first appearance (smallest ``row``); order-independent."""
    codes, _ = pd.factorize(table["ceramide"].to_numpy(dtype=object, na_value=""))
    first = np.full(codes.max() + 1 if len(codes) else 0, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, codes, rows)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first), dtype=np.int64)
    return np.asarray(rank[codes], dtype=np.int64)


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
        columns, flags, events, statistics, warnings = _consolidate(table, ctx, params, reference)
        statistics["drt_histogram"] = _drt_histogram(table, ctx)
    statistics = {"policy": policy, "rt_tolerance": float(params.rt_tolerance),
                  "exact_window": reference, **statistics}
    return RuleOutcome(columns=columns, flags=flags, tables={"fragment_events": events},
                       statistics=statistics, warnings=tuple(warnings))


@dataclass(frozen=True)
class _Context:
    """The table sorted by (ceramide rank, RT, row) with each row's window in that order.

    Arrays without ``_s`` are in table order; ``order`` maps sorted positions to table positions
    and ``lo``/``hi`` bound each sorted position's window (same ceramide, |ΔRT| ≤ ``width``).
    """

    n: int
    rows: np.ndarray
    rt: np.ndarray
    cer: np.ndarray
    sugar: np.ndarray
    volume: np.ndarray
    width: float
    order: np.ndarray
    rt_s: np.ndarray
    cer_s: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def build(cls, table: pd.DataFrame, sugar: np.ndarray, width: float) -> _Context:
        n = len(table)
        rows = table["row"].to_numpy(dtype=np.int64)
        rt = table["RT"].to_numpy(dtype=float)
        cer = _ceramide_rank(table, rows)
        # Sorted stably, with row last, so ties give the same parent on every numpy version.
        order = np.lexsort((rows, rt, cer))
        rt_s, cer_s = rt[order], cer[order]
        lo, hi = _Sorted(cer_s, rt_s, width).window(cer_s, rt_s, width)
        return cls(n=n, rows=rows, rt=rt, cer=cer, sugar=sugar,
                   volume=table["Volume"].to_numpy(dtype=float), width=width, order=order,
                   rt_s=rt_s, cer_s=cer_s, lo=lo, hi=hi)


_Parts = tuple[dict[str, Any], dict[str, np.ndarray], pd.DataFrame, dict[str, Any], list[str]]


def _base_columns(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    n = len(table)
    status = (table["status"].to_numpy(dtype=object, na_value="") if "status" in table
              else np.full(n, "", dtype=object)).copy()
    reason = (table["reason"].to_numpy(dtype=object, na_value="") if "reason" in table
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
                 reference: bool) -> _Parts:
    n = ctx.n
    order = ctx.order
    anchor = table["Anchor"].to_numpy(dtype=bool)
    composition = np.stack([int_column(table, "sialic_acids"),
                            int_column(table, "neutral_sugars"),
                            *(int_column(table, f"n_{m}") for m in _MODS)], axis=1)
    status, reason = _base_columns(table)
    z = table["z"].to_numpy(dtype=float) if "z" in table else np.full(n, np.nan)
    poor_fit = (status == "outlier") & np.isfinite(z) & (np.abs(z) >= params.outlier_threshold)
    tight = params.fragment_tight_rt + (0.0 if reference else _EPS)

    # Processing rank: sugar desc, anchors first, Volume desc, RT asc, row asc.
    proc = np.lexsort((ctx.rows, ctx.rt, -ctx.volume, ~anchor, -ctx.sugar))
    rank = np.empty(n, dtype=np.int64)
    rank[proc] = np.arange(n, dtype=np.int64)

    sugar_s = ctx.sugar[order]
    anchor_s = anchor[order]
    assigned_s = np.zeros(n, dtype=bool)          # claimed as fragment (sorted positions)
    parent_of_s = np.full(n, -1, dtype=np.int64)  # claiming parent (sorted position)
    possible_s = np.full(n, -1, dtype=np.int64)   # first non-decisive parent (sorted position)
    pos_of = np.empty(n, dtype=np.int64)
    pos_of[order] = np.arange(n, dtype=np.int64)
    rank_s = rank[order]
    poor_s = poor_fit[order]
    comp_s = _SubComposition(composition[order])
    no_rank = np.iinfo(np.int64).max
    best = np.empty(n, dtype=np.int64)

    best_any = np.empty(n, dtype=np.int64)
    for level in np.unique(sugar_s)[::-1]:
        parents = np.flatnonzero((sugar_s == level) & ~assigned_s)
        pool = np.flatnonzero((sugar_s < level) & ~assigned_s & ~anchor_s)  # sorted order kept
        if not len(parents) or not len(pool):
            continue
        w_lo, w_hi = _Sorted(ctx.cer_s[pool], ctx.rt_s[pool], ctx.width).window(
            ctx.cer_s[parents], ctx.rt_s[parents], ctx.width)
        sizes = w_hi - w_lo
        if not sizes.any():
            continue
        # Parents of one level cannot claim each other, so their competition for a candidate is
        # a minimum over processing ranks, accumulated chunk by chunk to bound the pair arrays.
        best.fill(no_rank)
        best_any.fill(no_rank)
        for chunk in _chunks_by_size(sizes, _MAX_PAIRS_PER_CHUNK):
            _claim_pairs(parents[chunk], w_lo[chunk], sizes[chunk], pool, comp_s, ctx.rt_s,
                         poor_s, rank_s, tight, best, best_any)
        claimed = np.flatnonzero(best < no_rank)
        assigned_s[claimed] = True
        parent_of_s[claimed] = pos_of[proc[best[claimed]]]
        fresh = np.flatnonzero((best_any < no_rank) & (possible_s < 0))
        possible_s[fresh] = pos_of[proc[best_any[fresh]]]

    fragment_s = assigned_s
    possible_only_s = (possible_s >= 0) & ~fragment_s
    # Events: parents with >= 1 fragment, numbered in processing order.
    frag_pos = np.flatnonzero(fragment_s)
    ev_parent_pos = np.unique(parent_of_s[frag_pos])
    ev_parent_pos = ev_parent_pos[np.argsort(rank_s[ev_parent_pos], kind="stable")]
    n_ev = len(ev_parent_pos)
    event_of_s = np.full(n, -1, dtype=np.int64)
    event_of_s[ev_parent_pos] = np.arange(n_ev, dtype=np.int64)
    mem_event = np.concatenate([event_of_s[ev_parent_pos], event_of_s[parent_of_s[frag_pos]]])
    mem_pos = np.concatenate([ev_parent_pos, frag_pos])
    by = np.lexsort((mem_pos, mem_event))
    mem_event, mem_pos = mem_event[by], mem_pos[by]
    events = _events_table(table, ctx, ev_parent_pos, mem_event, mem_pos)

    # Per-row outputs, back in table order.
    is_fragment = fragment_s[pos_of]
    parent_pos = np.where(is_fragment, parent_of_s[pos_of],
                          np.where(possible_only_s[pos_of], possible_s[pos_of], -1))
    parent_row = np.where(parent_pos >= 0, ctx.rows[order[np.maximum(parent_pos, 0)]], 0)
    consolidated = ctx.volume.copy()
    consolidated[is_fragment] = 0.0
    np.add.at(consolidated, order[parent_of_s[frag_pos]], ctx.volume[order[frag_pos]])
    rule5_event = event_of_s[pos_of]

    frag_idx = np.flatnonzero(is_fragment)
    if len(frag_idx):
        par = order[parent_of_s[pos_of[frag_idx]]]
        drt = np.abs(ctx.rt[frag_idx] - ctx.rt[par])
        names = table["Name"].to_numpy(dtype=object)[par]
        # Text is built per fragment; a comprehension is the fastest way to format it.
        text = [f"Rule 5: in-source fragment of row {r} ({nm}), co-elutes within {d:.3f} min"
                for r, nm, d in zip(ctx.rows[par].tolist(), names.tolist(), drt.tolist(),
                                    strict=True)]
        reason[frag_idx] = [f"{t}; {old}" if old else t
                            for t, old in zip(text, reason[frag_idx].tolist(), strict=True)]
        status[frag_idx] = "fragment"

    # Co-eluting rows left unassigned next to a row with a larger sugar count.
    larger_in_window = _range_max(sugar_s, ctx.lo, ctx.hi) > sugar_s
    coelutes = (larger_in_window & ~fragment_s & ~possible_only_s)[pos_of]

    flags = {name: np.zeros(n, dtype=bool) for name in _FLAGS}
    flags["possible_fragment"] = possible_only_s[pos_of]
    flags["coelutes_with_larger"] = coelutes
    n_tight = int((is_fragment & (np.abs(ctx.rt - np.where(parent_pos >= 0, ctx.rt[
        order[np.maximum(parent_pos, 0)]], np.inf)) <= tight)).sum())
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


class _SubComposition:
    """``is_sub(i, j)``: is row i's composition (sialic acids, neutral sugars, every modification
    count) <= row j's, element-wise? Answered from a table over the distinct compositions, which
    are few, so a pair costs two small gathers instead of comparing every count."""

    _MAX_TABLE = 4096

    def __init__(self, composition: np.ndarray) -> None:
        codes = pd.factorize(combine_codes(list(composition.T)))[0]
        first = np.unique(codes, return_index=True)[1]  # codes number distinct rows 0..k-1
        uniq = composition[first]
        self.codes = codes.astype(np.int32)
        self.composition = composition
        self.table = (np.all(uniq[:, None, :] <= uniq[None, :, :], axis=2)
                      if len(uniq) <= self._MAX_TABLE else None)

    def is_sub(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        if self.table is None:
            return np.all(self.composition[i] <= self.composition[j], axis=1)
        return self.table[self.codes[i], self.codes[j]]


#: Bound on the (parent, candidate) pairs materialised at once by the consolidate policy.
_MAX_PAIRS_PER_CHUNK = 2_000_000


def _chunks_by_size(sizes: np.ndarray, budget: int) -> list[slice]:
    """Consecutive slices of ``sizes`` whose sums stay near ``budget`` (at least one item each)."""
    cum = np.cumsum(sizes)
    cuts = np.searchsorted(cum, np.arange(budget, int(cum[-1]), budget), side="left") + 1
    edges = np.unique(np.concatenate([[0], cuts, [len(sizes)]]).clip(0, len(sizes)))
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _claim_pairs(parents: np.ndarray, w_lo: np.ndarray, sizes: np.ndarray, pool: np.ndarray,
                 comp_s: _SubComposition, rt_s: np.ndarray, poor_s: np.ndarray, rank_s: np.ndarray,
                 tight: float, best: np.ndarray, best_any: np.ndarray) -> None:
    """Fold one chunk of parents' windows into the per-candidate minimum parent ranks:
    ``best`` over decisive pairs, ``best_any`` over all sub-composition pairs."""
    total = int(sizes.sum())
    if total == 0:
        return
    offsets = np.cumsum(sizes) - sizes
    pair_parent = np.repeat(parents, sizes)
    pair_cand = pool[np.repeat(w_lo, sizes) + (np.arange(total, dtype=np.int64)
                                               - np.repeat(offsets, sizes))]
    sub = comp_s.is_sub(pair_cand, pair_parent)
    pair_parent, pair_cand = pair_parent[sub], pair_cand[sub]
    if not len(pair_cand):
        return
    decisive = (np.abs(rt_s[pair_cand] - rt_s[pair_parent]) <= tight) | poor_s[pair_cand]
    pair_rank = rank_s[pair_parent]
    np.minimum.at(best, pair_cand[decisive], pair_rank[decisive])
    np.minimum.at(best_any, pair_cand, pair_rank)


def _first_per_key(keys: np.ndarray) -> np.ndarray:
    """Indices of the first element of each run in a sorted key array."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))


def _drt_histogram(table: pd.DataFrame, ctx: _Context) -> dict[str, Any]:
    """|ΔRT| between each row and the same-ceramide, same-modification rows with more sugars.

    Counted, not enumerated: rows sorted by (group, RT); per bin edge the window bounds come
    from the binary search, and the rows with a larger sugar count inside a window are counted
    with one prefix sum per sugar level.
    """
    n = ctx.n
    edges = np.asarray(DRT_EDGES)
    if n == 0:
        return {"edges": edges.tolist(), "counts": [0] * (len(edges) - 1)}
    group = combine_codes([ctx.cer, *(int_column(table, f"n_{m}") for m in _MODS)])
    order = np.lexsort((ctx.rows, ctx.rt, group))
    g_s, rt_s = group[order], ctx.rt[order]
    level_s = np.unique(ctx.sugar, return_inverse=True)[1].ravel()[order]
    cumulative = np.zeros(len(edges) - 1, dtype=np.int64)
    searchable = _Sorted(g_s, rt_s, float(edges[-1]))
    bounds = [searchable.window(g_s, rt_s, float(e)) for e in edges[1:]]
    for level in np.unique(level_s):
        here = np.flatnonzero(level_s == level)
        prefix = np.concatenate([[0], np.cumsum(level_s > level)])
        for j, (lo, hi) in enumerate(bounds):
            cumulative[j] += int((prefix[hi[here]] - prefix[lo[here]]).sum())
    counts = np.diff(np.concatenate([[0], cumulative]))
    return {"edges": edges.tolist(), "counts": counts.astype(int).tolist(),
            "pairs_within_max_edge": int(cumulative[-1])}
