"""The input and output contracts as data (ALGORITHM.md §2 and §7).

One table of column aliases, one of physical bounds, the Anchor spellings, and the ordered list
of contract columns of the compounds table. Readers, validation, exports and views all read these
constants; nothing else spells a column name twice.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = [
    "ANCHOR_FALSE",
    "ANCHOR_TRUE",
    "BOUNDS",
    "COLUMN_ALIASES",
    "COMPOUND_COLUMNS",
    "EXTRA_COLUMNS",
    "INPUT_COLUMNS",
    "INPUT_REPORT_COLUMNS",
    "NUMBER_COLUMNS",
    "TEXT_COLUMNS",
    "TEXT_DTYPE",
    "normalise_header",
]

#: Canonical input columns, in order.
INPUT_COLUMNS: tuple[str, ...] = ("Name", "RT", "Volume", "Log P", "Anchor")

#: Normalised header -> canonical column (ALGORITHM.md §2.2).
COLUMN_ALIASES: dict[str, str] = {
    **dict.fromkeys(("name", "compound", "compoundname", "species", "lipid"), "Name"),
    **dict.fromkeys(("rt", "retentiontime", "rtmin"), "RT"),
    **dict.fromkeys(("volume", "area", "peakarea", "intensity"), "Volume"),
    **dict.fromkeys(("logp", "clogp"), "Log P"),
    **dict.fromkeys(("anchor", "isanchor", "training"), "Anchor"),
}

#: Closed physical bounds (low, high, low_inclusive) of numeric input columns and their units.
BOUNDS: dict[str, tuple[float, float, bool, str]] = {
    "RT": (0.0, 120.0, False, "min"),
    "Volume": (0.0, 1e15, True, ""),
    "Log P": (-10.0, 20.0, True, ""),
}

#: Input columns holding numbers (those with bounds), in input order.
NUMBER_COLUMNS: tuple[str, ...] = tuple(c for c in INPUT_COLUMNS if c in BOUNDS)
ANCHOR_TRUE = frozenset({"t", "true", "1", "yes"})
ANCHOR_FALSE = frozenset({"f", "false", "0", "no"})

_HEADER_DROP = re.compile(r"[\s_\-]+")


def normalise_header(header: object) -> str:
    """Strip a BOM, trim, case-fold and delete spaces, underscores and hyphens.

    >>> normalise_header("\\ufeff Retention_Time ")
    'retentiontime'
    """
    return _HEADER_DROP.sub("", str(header).lstrip("\ufeff").strip().casefold())


#: The input report: one entry per problem of a rejected row.
INPUT_REPORT_COLUMNS: tuple[str, ...] = ("row", "line", "column", "value", "reason")

#: Contract columns of the compounds table, in order (ALGORITHM.md §7).
COMPOUND_COLUMNS: tuple[str, ...] = (
    "row", "Name", "RT", "Volume", "Log P", "Anchor",
    "prefix", "base_class", "category", "sialic_acids", "sugar_count",
    "status", "predicted_rt", "pi_low", "pi_high", "residual", "z",
    "model", "n_anchors_model", "reason", "flags", "parent_row", "consolidated_volume",
    "confidence",
)

#: Recommended extra columns, after the contract ones (then carried-through input columns).
EXTRA_COLUMNS: tuple[str, ...] = (
    "confidence_level", "core_class", "isomer", "neutral_sugars",
    "n_OAc", "n_dHex", "n_Hex", "n_HexNAc", "n_NeuAc", "n_NeuGc",
    "a", "b", "oxygen", "ceramide", "n_anchors_prefix", "isomer_series", "isomer_type",
    "rule4_status", "predictive_sd", "lipid_maps_name", "formula", "mass",
)

#: pandas' text dtype: what a DataFrame infers for a column of text objects. Text columns are
#: made with it directly (``pd.array(values, dtype=TEXT_DTYPE)``, or a take of the distinct
#: values), which costs far less than letting a frame infer it from 100k objects.
TEXT_DTYPE = pd.StringDtype(na_value=np.nan)
#: Columns of the compounds table that hold text (:data:`TEXT_DTYPE`), whatever rule set them.
TEXT_COLUMNS: frozenset[str] = frozenset({
    "Name", "prefix", "base_class", "category", "status", "model", "reason", "flags",
    "confidence_level", "core_class", "isomer", "ceramide", "isomer_series", "isomer_type",
    "rule4_status", "lipid_maps_name", "formula"})
STATUSES: tuple[str, ...] = ("valid", "outlier", "fragment", "rejected")
