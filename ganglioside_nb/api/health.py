"""One health report: database and scheduler (never raises for an unreachable service)."""

from __future__ import annotations

from typing import Any

from ..errors import GangliosideError
from ..execution import Runner
from ..persistence import Repository

__all__ = ["health"]


def health(repository: Repository | None = None, runner: Runner | None = None) -> dict[str, Any]:
    """``{"ok", "database", "scheduler"}``; ``scheduler`` lists workers and the dashboard link."""
    database = (repository if repository is not None else Repository()).health()
    report: dict[str, Any] = {"database": database}
    if runner is None:
        report["scheduler"] = None
    else:
        try:
            report["scheduler"] = {"ok": True, **runner.info()}
        except GangliosideError as exc:
            report["scheduler"] = {"ok": False, "error": str(exc)}
    db_ok = bool(database.get("reachable"))
    sched_ok = report["scheduler"] is None or bool(report["scheduler"].get("ok"))
    report["ok"] = db_ok and sched_ok
    return report
