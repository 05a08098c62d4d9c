"""ganglioside_nb: judge LC-MS/MS ganglioside annotations against retention-time models and
chemistry rules, with the reasons shown and a traceable record.

>>> import ganglioside_nb as gnb
>>> result = gnb.analyze(gnb.datasets.sample_path())          # doctest: +SKIP
>>> result.compounds.head()                                      # doctest: +SKIP

``import ganglioside_nb`` is cheap: the public names below are loaded on first use (PEP 562),
and only ever from the pure core (numpy, pandas, scipy, scikit-learn); the persistence,
execution and widget layers are separate subpackages imported on demand.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "AnalysisParams": "ganglioside_nb.params",
    "AnalysisResult": "ganglioside_nb.core.results",
    "EmptyAnalysisError": "ganglioside_nb.errors",
    "GangliosideError": "ganglioside_nb.errors",
    "GangliosideName": "ganglioside_nb.core.names",
    "InputFormatError": "ganglioside_nb.errors",
    "InputReport": "ganglioside_nb.core.results",
    "InvalidParameterError": "ganglioside_nb.errors",
    "ModelValidation": "ganglioside_nb.core.validation",
    "NameParseError": "ganglioside_nb.errors",
    "ProgressEvent": "ganglioside_nb.core.events",
    "analyze": "ganglioside_nb.core.pipeline",
    "datasets": "ganglioside_nb.datasets",
    "format_name": "ganglioside_nb.core.names",
    "group_diagnostics": "ganglioside_nb.core.diagnostics",
    "is_valid_name": "ganglioside_nb.core.names",
    "parse_name": "ganglioside_nb.core.names",
    "read_table": "ganglioside_nb.io.readers",
    "validate_model": "ganglioside_nb.core.validation",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'ganglioside_nb' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if name == "datasets" else getattr(module, name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ganglioside_nb``: registers ``%ganglioside`` / ``%%ganglioside``."""
    from .magics import load_ipython_extension as load

    load(ipython)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs ("X as X": re-exported)
    from . import datasets as datasets
    from .core.diagnostics import group_diagnostics as group_diagnostics
    from .core.events import ProgressEvent as ProgressEvent
    from .core.names import GangliosideName as GangliosideName
    from .core.names import format_name as format_name
    from .core.names import is_valid_name as is_valid_name
    from .core.names import parse_name as parse_name
    from .core.pipeline import analyze as analyze
    from .core.results import AnalysisResult as AnalysisResult
    from .core.results import InputReport as InputReport
    from .core.validation import ModelValidation as ModelValidation
    from .core.validation import validate_model as validate_model
    from .errors import EmptyAnalysisError as EmptyAnalysisError
    from .errors import GangliosideError as GangliosideError
    from .errors import InputFormatError as InputFormatError
    from .errors import InvalidParameterError as InvalidParameterError
    from .errors import NameParseError as NameParseError
    from .io.readers import read_table as read_table
    from .params import AnalysisParams as AnalysisParams
