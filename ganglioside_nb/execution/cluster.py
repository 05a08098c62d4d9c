"""Where analyses run: an existing Dask scheduler, or a private ``LocalCluster``.

``get_client()`` connects to the address given, else to ``GANGLIOSIDE_DASK_ADDRESS``, else it
starts one ``LocalCluster`` per process (2 worker processes, 1 thread each, dashboard on a free
port) and reuses it; the cluster is closed when the program or kernel exits. An address that
cannot be reached raises one :class:`~ganglioside_nb.errors.SchedulerUnavailableError` naming it.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from typing import Any

import dask
from distributed import Client, LocalCluster

from ..errors import InvalidParameterError, SchedulerUnavailableError
from .warmup import MODULE as WARMUP_MODULE

__all__ = ["ADDRESS_ENV", "close_client", "close_local_cluster", "cluster_info", "get_async_client",
           "get_client", "local_cluster", "resolve_address"]

logger = logging.getLogger(__name__)

ADDRESS_ENV = "GANGLIOSIDE_DASK_ADDRESS"
#: Dask's own variable (read when ``ADDRESS_ENV`` is unset)
DASK_ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
#: how often the scheduler re-runs a task whose worker died before it gives up (KilledWorker)
ALLOWED_FAILURES = 2
CONNECT_TIMEOUT_S = 10.0
#: tasks handed to each worker thread ahead of time: with 2 the next analysis is already on the
#: worker when one ends (no scheduler round trip between short analyses); 1.1 is Dask's default
WORKER_SATURATION = 2.0

#: Dask settings of the local cluster (the scheduler, the nannies and, through them, the workers).
#: Each server's event loop otherwise wakes every 20 ms to time itself (the "event loop was
#: unresponsive" check) and the nannies read their worker's memory every 100 ms: an idle
#: cluster used ~12 % of a core, taken from the analyses on a two-core machine; with these,
#: ~3 %. A blocked loop is still reported, within half a second instead of 20 ms; memory limits
#: are still enforced, checked twice a second.
LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
    "distributed.scheduler.worker-saturation": WORKER_SATURATION,
    # the workers' stack sampler (every 10 ms) slows analyses ~10 %
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.admin.system-monitor.interval": "1s",
}

_lock = threading.Lock()
_local: dict[str, Any] = {}  # "cluster": LocalCluster, "client": Client (sync, shared)
_remote: dict[str, Client] = {}  # address -> sync Client


def resolve_address(address: str | None = None) -> str | None:
    """The scheduler address to use: the argument, else ``$GANGLIOSIDE_DASK_ADDRESS``, else
    Dask's own setting (``$DASK_SCHEDULER_ADDRESS`` or ``scheduler-address`` in a Dask config
    file, as JupyterHub and Dask deployments set it), else None (meaning: a local cluster).
    ``host:port`` gets the ``tcp://`` scheme."""
    candidates = ([address] if address is not None else
                  [os.environ.get(ADDRESS_ENV), os.environ.get(DASK_ADDRESS_ENV),
                   dask.config.get("scheduler-address", None)])
    value = next((c for c in candidates if c is not None and str(c).strip()), None)
    if value is None:
        return None
    value = str(value).strip()
    if "://" not in value:
        value = f"tcp://{value}"
    scheme, _, rest = value.partition("://")
    if not rest or ":" not in rest.rsplit("]", 1)[-1]:
        raise InvalidParameterError(
            f"The Dask scheduler address must look like tcp://host:port. Got {value!r} instead.",
            parameter="address", value=value)
    return value


def local_cluster(*, n_workers: int = 2, threads_per_worker: int = 1) -> LocalCluster:
    """This process's LocalCluster, started on first use (processes, dashboard on a free port)."""
    with _lock:
        cluster = _local.get("cluster")
        if cluster is None or cluster.status.name in ("closing", "closed", "failed"):
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                       processes=True, dashboard_address=":0", host="127.0.0.1",
                                       preload=[WARMUP_MODULE])  # first analyses as fast as later ones
            _local.clear()
            _local["cluster"] = cluster
            atexit.register(close_local_cluster)
        return cluster


def _connect(address: str, **kwargs: Any) -> Any:
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False, **kwargs)
    except (OSError, TimeoutError) as exc:
        raise _unreachable(address, exc) from None


def _unreachable(address: str, exc: BaseException) -> SchedulerUnavailableError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return SchedulerUnavailableError(
        f"The Dask scheduler at {address} cannot be reached ({reason}). Start it with "
        f"`dask scheduler`, or leave the address unset to use a local cluster.",
        address=address)


def get_client(address: str | None = None) -> Client:
    """A synchronous client: to ``address`` / ``$GANGLIOSIDE_DASK_ADDRESS``, else to the local
    cluster. Clients are shared per address within the process; do not close them yourself
    (``close_local_cluster`` and interpreter exit do)."""
    target = resolve_address(address)
    if target is None:
        cluster = local_cluster()
        with _lock:
            client = _local.get("client")
            if client is None or client.status in ("closing", "closed"):
                # results come straight from the worker, not relayed through the scheduler
                client = Client(cluster, set_as_default=False, direct_to_workers=True)
                _local["client"] = client
            return client
    with _lock:
        client = _remote.get(target)
        if client is None or client.status in ("closing", "closed"):
            client = _connect(target)
            _remote[target] = client
            atexit.register(client.close)
        return client


async def get_async_client(address: str | None = None) -> Client:
    """An asynchronous client living on the running event loop (the kernel's, in Jupyter).

    The local cluster is started in a thread, so the loop keeps serving the page meanwhile.
    The caller owns the client (``await client.close()``); the cluster stays shared.
    """
    target = resolve_address(address)
    if target is None:
        cluster = await asyncio.to_thread(local_cluster)
        return await Client(cluster.scheduler_address, asynchronous=True, set_as_default=False,
                            direct_to_workers=True)
    try:
        return await Client(target, asynchronous=True, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise _unreachable(target, exc) from None


def close_client(address: str) -> None:
    """Close the shared client to a scheduler address (a no-op if there is none)."""
    target = resolve_address(address)
    with _lock:
        client = _remote.pop(target, None) if target else None
    if client is not None:
        client.close()


def close_local_cluster() -> None:
    """Close this process's shared clients and local cluster (idempotent)."""
    with _lock:
        client, cluster = _local.pop("client", None), _local.pop("cluster", None)
        remote = list(_remote.values())
        _remote.clear()
    for c in (client, *remote):
        if c is not None:
            try:
                c.close()
            except Exception:  # closing at exit: the other side may be gone already
                logger.debug("closing client failed", exc_info=True)
    if cluster is not None:
        try:
            cluster.close()
        except Exception:
            logger.debug("closing local cluster failed", exc_info=True)


def scheduler_rpc(client: Client) -> Any:
    """The client's connection to its scheduler (absent only before connecting or once closed)."""
    if client.scheduler is None:
        raise SchedulerUnavailableError("The Dask client must be connected to a scheduler. "
                                        "Got a client without a scheduler connection instead.")
    return client.scheduler


def cluster_info(client: Client) -> dict[str, Any]:
    """Scheduler address, workers (address, threads, memory limit) and dashboard link.

    Call with a synchronous client, or from a thread other than an asynchronous client's loop.
    """
    identity = client.sync(scheduler_rpc(client).identity, asynchronous=False)
    workers = [{"address": addr, "name": str(w.get("name", addr)), "nthreads": int(w.get("nthreads", 0)),
                "memory_limit": int(w.get("memory_limit") or 0)}
               for addr, w in sorted(identity.get("workers", {}).items())]
    try:
        dashboard = client.dashboard_link
    except Exception:  # no dashboard service on that scheduler
        dashboard = None
    local = _local.get("cluster")
    return {"scheduler": identity.get("address"), "workers": workers, "n_workers": len(workers),
            "nthreads": sum(w["nthreads"] for w in workers), "dashboard": dashboard,
            "local_cluster": bool(local is not None and identity.get("address") == local.scheduler_address)}
