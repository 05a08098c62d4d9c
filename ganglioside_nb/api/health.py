"""One health report: database and scheduler (never raises for an unreachable service)."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..errors import GangliosideError
from ..execution import Runner
from ..persistence import Repository

__all__ = ["health"]


def health(repository: Repository | None = None, runner: Runner | None = None) -> dict[str, Any]:
    """``{"ok", "state", "version", "database", "scheduler"}`` (FEATURES.md F7).

    ``scheduler`` lists workers and the dashboard link (None when no runner is given).
    ``state`` is ``unhealthy`` when the database cannot be reached (nothing can be stored or
    listed), ``degraded`` when it can but its schema is behind or the scheduler cannot be
    reached (stored sessions can be read, new ones not run), else ``healthy``; ``ok`` is
    ``state == "healthy"``. ``version`` is the package's.
    """
    database = (repository if repository is not None else Repository()).health()
    report: dict[str, Any] = {"database": database}
    if runner is None:
        report["scheduler"] = None
    else:
        try:
            report["scheduler"] = {"ok": True, **runner.info()}
        except GangliosideError as exc:
            report["scheduler"] = {"ok": False, "error": str(exc)}
    sched_ok = report["scheduler"] is None or bool(report["scheduler"].get("ok"))
    if not database.get("reachable"):
        report["state"] = "unhealthy"
    elif database.get("state") != "healthy" or not sched_ok:
        report["state"] = "degraded"
    else:
        report["state"] = "healthy"
    report["ok"] = report["state"] == "healthy"
    report["version"] = __version__
    return report
