"""Synthetic peak tables with known truth, for tests, tutorials and benchmarks.

RTs follow a structural model close to the one fitted on the real sample (Log P slope, sialic
acids, neutral sugars, modifications, a second isomer series), plus noise. Planted errors have a
known truth label (column ``truth``): ``outlier`` (RT moved away from its species) and
``fragment`` (a smaller sub-composition of a parent, at the parent's RT).

>>> from ganglioside_nb.testing import TableBuilder
>>> df = TableBuilder(seed=1).with_group("GD1", anchors=6, rows=12).with_outlier("GD1").build()
>>> sorted(df["truth"].unique())
['ok', 'outlier']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.names import parse_name

__all__ = ["TableBuilder", "large_table"]

# head-group Log P at ceramide 36:1 (from the sample) and the structural RT model
_BASE_LOGP = {"GM1": 4.0, "GM2": 5.3, "GM3": 7.74, "GM4": 8.5, "GD1": 1.53, "GD2": 3.12,
              "GD3": 5.27, "GT1": -0.94, "GT3": 2.6, "GQ1": -3.2, "GP1": -5.3}
_COEF = {"Log P": 1.35, "sialic_acids": 2.83, "neutral_sugars": 2.2, "n_OAc": -0.70,
         "n_dHex": 1.85, "n_HexNAc": 2.75, "n_Hex": 2.2, "n_NeuAc": 2.83, "n_NeuGc": 2.9}
_INTERCEPT = -3.1
_SERIES_OFFSET = 0.43
_MOD_LOGP = {"OAc": 0.55, "dHex": 0.35, "HexNAc": -0.6, "Hex": -0.8, "NeuAc": -2.3, "NeuGc": -2.5}


def _species(prefix: str, a: int, b: int) -> tuple[str, float, float]:
    """Name, Log P and noise-free first-series RT of a species."""
    name = f"{prefix}({a}:{b};O2)"
    n = parse_name(name)
    logp = _BASE_LOGP[n.core_class] + 0.54 * (a - 36) - 0.47 * (b - 1)
    logp += sum(_MOD_LOGP[m] * k for m, k in n.modifications)
    rt = _INTERCEPT + _COEF["Log P"] * logp + _COEF["sialic_acids"] * n.sialic_acids
    rt += _COEF["neutral_sugars"] * n.neutral_sugars
    rt += sum(_COEF[f"n_{m}"] * k for m, k in n.modifications)
    return name, round(logp, 2), rt


@dataclass
class TableBuilder:
    """Fluent builder of synthetic tables (``Name, RT, Volume, Log P, Anchor, truth``)."""

    seed: int = 0
    noise_sd: float = 0.05
    _rows: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def _row(self, name: str, rt: float, logp: float, anchor: bool, truth: str = "ok") -> dict[str, object]:
        row = {"Name": name, "RT": round(rt, 3), "Volume": float(self._rng.integers(10_000, 5_000_000)),
               "Log P": logp, "Anchor": "T" if anchor else "F", "truth": truth}
        self._rows.append(row)
        return row

    def with_group(self, prefix: str, *, anchors: int, rows: int, carbons: tuple[int, int] = (34, 42),
                   pairs: bool = False) -> TableBuilder:
        """``rows`` peaks of one prefix over a range of ceramides, the first ``anchors`` anchors.
        With ``pairs`` every species elutes as two isomer peaks (second series)."""
        for i in range(rows):
            a = int(self._rng.integers(carbons[0], carbons[1] + 1))
            b = int(self._rng.integers(0, 3))
            name, logp, rt = _species(prefix, a, b)
            rt += self._rng.normal(0, self.noise_sd)
            self._row(name, rt, logp, i < anchors)
            if pairs:
                self._row(name, rt + _SERIES_OFFSET + self._rng.normal(0, self.noise_sd), logp, i < anchors)
        return self

    def with_outlier(self, prefix: str, shift: float = 2.0, n: int = 1) -> TableBuilder:
        """``n`` non-anchor rows of ``prefix`` whose RT is ``shift`` min away from the truth."""
        for _ in range(n):
            a = int(self._rng.integers(34, 43))
            name, logp, rt = _species(prefix, a, 1)
            self._row(name, rt + shift, logp, False, "outlier")
        return self

    def with_fragment(self, parent: str, fragment: str, delta_rt: float = 0.004, n: int = 1) -> TableBuilder:
        """``n`` parent peaks plus an in-source fragment (``fragment`` prefix, same ceramide)
        ``delta_rt`` min from the parent."""
        for _ in range(n):
            a = int(self._rng.integers(34, 43))
            name, logp, rt = _species(parent, a, 1)
            rt += self._rng.normal(0, self.noise_sd)
            self._row(name, rt, logp, False)
            fname, flogp, _ = _species(fragment, a, 1)
            self._row(fname, rt + delta_rt, flogp, False, "fragment")
        return self

    def build(self) -> pd.DataFrame:
        """The table so far (rows in insertion order)."""
        return pd.DataFrame(self._rows, columns=["Name", "RT", "Volume", "Log P", "Anchor", "truth"])


def large_table(n_rows: int, seed: int = 0, anchor_fraction: float = 0.15) -> pd.DataFrame:
    """A realistic large table (vectorised): many prefixes and ceramides, repeated species,
    isomer pairs, ~1 % planted outliers; columns ``Name, RT, Volume, Log P, Anchor``."""
    rng = np.random.default_rng(seed)
    prefixes = ["GM1", "GM2", "GM3", "GD1", "GD2", "GD3", "GT1", "GQ1", "GP1", "GD1+OAc",
                "GT1+OAc", "GQ1+OAc", "GD1+dHex", "GM1+dHex", "GD1+HexNAc", "GT1+HexNAc",
                "GQ1+2OAc", "GT3", "GD3+OAc", "GM4"]
    species = [_species(p, a, b) for p in prefixes for a in range(32, 47) for b in range(0, 4)]
    names = np.array([s[0] for s in species], dtype=object)
    logp = np.array([s[1] for s in species])
    rt0 = np.array([s[2] for s in species])
    pick = rng.integers(0, len(species), n_rows)
    second = rng.random(n_rows) < 0.3
    rt = rt0[pick] + np.where(second, _SERIES_OFFSET, 0.0) + rng.normal(0, 0.05, n_rows)
    outlier = rng.random(n_rows) < 0.01
    rt = rt + np.where(outlier, rng.choice([-1.5, 1.5], n_rows), 0.0)
    rt = np.clip(rt, 0.5, 119.0)
    anchor = (rng.random(n_rows) < anchor_fraction) & ~outlier
    return pd.DataFrame({
        "Name": names[pick], "RT": np.round(rt, 3),
        "Volume": rng.integers(1_000, 50_000_000, n_rows).astype(float),
        "Log P": logp[pick], "Anchor": np.where(anchor, "T", "F"),
    })
