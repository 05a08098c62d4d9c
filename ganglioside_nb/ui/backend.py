"""The services behind the apps, started lazily on the kernel's event loop.

A Voila page must render before the Dask cluster is up (RECIPES.md §5): the app builds a
:class:`Backend`, displays itself, and calls :meth:`Backend.start` last; the first run awaits
the same start-up instead of starting a second cluster.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..api import AnalysisService
from ..errors import SchedulerUnavailableError
from ..execution import DaskRunner, LocalRunner, Runner, get_async_client
from ..persistence import Repository
from .errors import error_message

__all__ = ["Backend"]


class Backend:
    """A repository and a runner for the widgets.

    Parameters
    ----------
    repository : Repository, database URL or None (``DATABASE_URL`` / the default SQLite file).
    runner : a runner to use as is (e.g. ``LocalRunner()`` in tests); None: a Dask runner on an
        asynchronous client living on the running loop, connected to ``address`` /
        ``GANGLIOSIDE_DASK_ADDRESS`` or to this process's local cluster.
    address : Dask scheduler address (only when ``runner`` is None).
    """

    def __init__(self, repository: Repository | str | None = None, runner: Runner | None = None, *,
                 address: str | None = None, owner: str | None = None) -> None:
        self._repository_arg = repository
        self._owner = owner
        self._repository: Repository | None = repository if isinstance(repository, Repository) else None
        self._runner = runner
        self._address = address
        self._service: AnalysisService | None = None
        self._starting: asyncio.Future[AnalysisService] | None = None
        self._client: Any = None

    def __repr__(self) -> str:
        return f"Backend({self._repository_arg!r}, {self._runner!r})"

    @property
    def repository(self) -> Repository:
        if self._repository is None:  # the argument was a URL or None (a Repository is kept as is)
            url = self._repository_arg if not isinstance(self._repository_arg, Repository) else None
            self._repository = Repository(url, self._owner, migrate=True)
        return self._repository

    @property
    def has_repository(self) -> bool:
        """Whether the repository can be named without connecting (it is one, or was opened)."""
        return self._repository is not None

    @property
    def dashboard_link(self) -> str:
        try:
            return str(self._client.dashboard_link) if self._client is not None else ""
        except Exception:  # the scheduler has no dashboard
            return ""

    def start(self) -> asyncio.Future[AnalysisService]:
        """Begin starting the services in the background (idempotent); returns the future."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        return self._starting

    async def service(self) -> AnalysisService:
        """The analysis service, once its runner is connected."""
        if self._service is not None:
            return self._service
        return await self.start()

    async def _start(self) -> AnalysisService:
        try:
            repository = await asyncio.to_thread(lambda: self.repository)
            runner = self._runner
            if runner is None:
                self._client = await get_async_client(self._address)
                runner = DaskRunner(self._client)
            self._service = AnalysisService(repository, runner)
            return self._service
        except BaseException:
            self._starting = None  # let the next run try again (e.g. the scheduler came back)
            raise

    async def health(self, *, reconcile: bool = False) -> dict[str, Any]:
        """:func:`ganglioside_nb.api.health` of this backend (blocking calls in a thread). A
        scheduler that cannot be reached is reported with its one-line error and the state
        ``degraded`` (the database still answers); ``reconcile`` also fails stale ``running``
        sessions (:meth:`AnalysisService.health`)."""
        from ..api import health

        try:
            service = await self.service()
        except SchedulerUnavailableError as exc:
            report = await asyncio.to_thread(health, self.repository, None)
            report["scheduler"] = {"ok": False, "error": error_message(exc)}
            report["ok"] = False
            if report["state"] == "healthy":
                report["state"] = "degraded"
            return report
        if reconcile:
            return await asyncio.to_thread(service.health)
        return await asyncio.to_thread(health, service.repository, service.runner)

    @property
    def is_local(self) -> bool:
        return isinstance(self._runner, LocalRunner)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        self._service = None
        self._starting = None
