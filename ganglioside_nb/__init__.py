"""ganglioside_nb: judge LC-MS/MS ganglioside annotations against retention-time models and
chemistry rules, with the reasons shown and a traceable record.

>>> import ganglioside_nb as gnb
>>> result = gnb.analyze(gnb.datasets.sample_path())          # doctest: +SKIP
>>> result.compounds.head()                                      # doctest: +SKIP

``import ganglioside_nb`` loads only the pure core (numpy, pandas, scikit-learn, scipy); the
persistence, execution and widget layers are imported on demand.
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import datasets
from .core.events import ProgressEvent
from .core.names import GangliosideName, format_name, is_valid_name, parse_name
from .core.pipeline import analyze
from .core.results import AnalysisResult, InputReport
from .core.validation import ModelValidation, validate_model
from .errors import (
    EmptyAnalysisError,
    GangliosideError,
    InputFormatError,
    InvalidParameterError,
    NameParseError,
)
from .io.readers import read_table
from .params import AnalysisParams

__all__ = [
    "AnalysisParams",
    "AnalysisResult",
    "EmptyAnalysisError",
    "GangliosideError",
    "GangliosideName",
    "InputFormatError",
    "InputReport",
    "InvalidParameterError",
    "ModelValidation",
    "NameParseError",
    "ProgressEvent",
    "__version__",
    "analyze",
    "datasets",
    "format_name",
    "is_valid_name",
    "parse_name",
    "read_table",
    "validate_model",
]
