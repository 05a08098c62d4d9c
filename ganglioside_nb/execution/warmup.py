"""Dask worker preload: make a worker's first analysis as fast as its later ones.

A fresh worker process pays ~0.4-0.5 s on its first analysis: importing the analysis core
(scikit-learn, SciPy's optimisers, pygoslin and its grammars) and filling the per-name caches.
With this module as a preload, every worker does that in a background thread as soon as it
starts, while the user is still choosing a file; the worker accepts tasks at once (a task that
arrives during the warm-up waits only for what is still loading).

The local cluster (:func:`~ganglioside_nb.execution.local_cluster`) preloads it. Workers of a
scheduler you run yourself take it on the command line::

    dask worker tcp://10.0.0.5:8786 --preload ganglioside_nb.execution.warmup
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["MODULE", "dask_setup", "warm", "wait"]

#: The name to give Dask's ``preload`` option.
MODULE = __name__

logger = logging.getLogger(__name__)
_done = threading.Event()


def warm() -> None:
    """Import the analysis core and analyse the bundled 5-row sample once (in this thread)."""
    try:
        from .. import datasets
        from ..core.pipeline import analyze

        analyze(datasets.sample_path("testwork"))
    except Exception:  # a warm-up never breaks a worker: the first task then pays, as without it
        logger.warning("ganglioside_nb warm-up failed; the first analysis will load the core",
                       exc_info=True)
    finally:
        _done.set()


def wait(timeout: float | None = None) -> bool:
    """Whether this process's warm-up has finished (waiting up to ``timeout`` seconds)."""
    return _done.wait(timeout)


def dask_setup(worker: Any) -> None:
    """Dask's preload hook: start :func:`warm` in a daemon thread and return at once."""
    threading.Thread(target=warm, name="ganglioside-nb-warmup", daemon=True).start()
