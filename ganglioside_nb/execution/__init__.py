"""Execution layer: run task functions in process or on Dask and stream their events back.

Knows nothing of the database or widgets (``ganglioside_nb.api`` composes it with
persistence). ``LocalRunner`` and ``DaskRunner`` share one interface: ``submit`` returns a
:class:`Job` whose events can be iterated (sync or async) or subscribed to, and whose progress
is the pure reducer :class:`ProgressState`.
"""

from .base import Batch, Job, Runner, describe_error, execute, new_key
from .cluster import close_local_cluster, cluster_info, get_async_client, get_client, resolve_address
from .dask_runner import DaskJob, DaskRunner
from .events import TaskEvent
from .local import LocalJob, LocalRunner
from .progress import BatchState, ProgressState
from .stream import EventStream

__all__ = [
    "Batch",
    "BatchState",
    "DaskJob",
    "DaskRunner",
    "EventStream",
    "Job",
    "LocalJob",
    "LocalRunner",
    "ProgressState",
    "Runner",
    "TaskEvent",
    "cluster_info",
    "close_local_cluster",
    "describe_error",
    "execute",
    "get_async_client",
    "get_client",
    "new_key",
    "resolve_address",
]
