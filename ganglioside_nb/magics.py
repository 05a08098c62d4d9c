"""IPython extension: ``%load_ext ganglioside_nb``.

Line magic ``%ganglioside``::

    %ganglioside analyze SOURCE [--mode reference] [--r2-threshold X] [--outlier-threshold X]
                                [--rt-tolerance X] [--save [--name NAME]] [--dask] [--widget] [-o VAR]
    %ganglioside SOURCE [options]   # the same ("analyze" may be left out)
    %ganglioside app        # the analyze app inside JupyterLab
    %ganglioside history    # stored sessions

SOURCE is a file path, ``sample`` (the bundled 323-row table) or the name of a DataFrame in
the notebook (a source literally named ``app``, ``history`` or ``analyze`` needs ``analyze``).
Cell magic ``%%ganglioside [options]``: the cell body is CSV text (e.g. pasted from a
spreadsheet) or the name of a DataFrame. Both display the result (its HTML, or the results
widget with ``--widget``), store it in ``VAR`` with ``-o`` and return it. ``--save`` stores an
analysis session; ``--dask`` runs on the cluster (``GANGLIOSIDE_DASK_ADDRESS`` or a local one)
with a live progress bar. Errors print one line, never a traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

import pandas as pd
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from .errors import GangliosideError
from .params import AnalysisParams

__all__ = ["GangliosideMagics", "load_ipython_extension"]

SAMPLE_WORD = "sample"
_COMMANDS = ("analyze", "app", "history")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise GangliosideError(f"%ganglioside: {message}")


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=("structural", "reference"))
    parser.add_argument("--r2-threshold", type=float)
    parser.add_argument("--outlier-threshold", type=float)
    parser.add_argument("--rt-tolerance", type=float)
    parser.add_argument("--save", action="store_true", help="store an analysis session")
    parser.add_argument("--name", help="session name (with --save)")
    parser.add_argument("--dask", action="store_true", help="run on the Dask cluster")
    parser.add_argument("--widget", action="store_true", help="show the results widget")
    parser.add_argument("-o", "--output", metavar="VAR", help="store the result in this variable")


def _parser() -> _Parser:
    parser = _Parser(prog="%ganglioside", add_help=False)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    analyze = commands.add_parser("analyze", add_help=False)
    analyze.add_argument("source")
    _options(analyze)
    commands.add_parser("app", add_help=False)
    commands.add_parser("history", add_help=False)
    return parser


def _cell_parser() -> _Parser:
    parser = _Parser(prog="%%ganglioside", add_help=False)
    _options(parser)
    return parser


@magics_class
class GangliosideMagics(Magics):
    """``%ganglioside`` and ``%%ganglioside`` (see the module documentation)."""

    @line_magic
    def ganglioside(self, line: str) -> Any:
        try:
            words = shlex.split(line)
            if words and words[0] not in _COMMANDS and not words[0].startswith("-"):
                words.insert(0, "analyze")  # %ganglioside SOURCE [options]
            args = _parser().parse_args(words)
            if args.command in ("app", "history"):
                from .ui.apps import AnalyzeApp, HistoryApp
                (AnalyzeApp if args.command == "app" else HistoryApp)().show()
                return None
            return self._analyze(self._source(args.source), args, filename=None)
        except GangliosideError as exc:
            return _fail(exc)

    @cell_magic("ganglioside")  # type: ignore[arg-type]  # IPython types a named marker as Never
    def ganglioside_cell(self, line: str, cell: str) -> Any:
        try:
            args = _cell_parser().parse_args(shlex.split(line))
            body = cell.strip()
            if body.isidentifier() and isinstance(self._namespace.get(body), pd.DataFrame):
                return self._analyze(self._namespace[body], args, filename=None)
            return self._analyze(cell.lstrip("\n").encode("utf-8"), args, filename="cell.csv")
        except GangliosideError as exc:
            return _fail(exc)

    # -- helpers -------------------------------------------------------------------------------
    @property
    def _namespace(self) -> dict[str, Any]:
        """The user's namespace (none for magics made outside an IPython shell)."""
        return self.shell.user_ns if self.shell is not None else {}

    def _source(self, text: str) -> Any:
        if text == SAMPLE_WORD:
            from .datasets import sample_path
            return sample_path("testwork_user")
        value = self._namespace.get(text) if text.isidentifier() else None
        return value if isinstance(value, pd.DataFrame) else text

    def _analyze(self, source: Any, args: argparse.Namespace, *, filename: str | None) -> Any:
        overrides = {k: getattr(args, k) for k in ("mode", "r2_threshold", "outlier_threshold",
                                                    "rt_tolerance") if getattr(args, k) is not None}
        params = AnalysisParams.coerce(None, **overrides)
        if args.name and not args.save:
            raise GangliosideError("%ganglioside: --name only applies with --save")
        if args.save or args.dask:
            result = _run_in_background(source, params, args, filename)
        else:
            from .core.pipeline import analyze
            result = analyze(source, params, filename=filename)
        if args.output:
            self._namespace[args.output] = result
        if args.widget:
            from .ui.results import ResultsView
            display(ResultsView(result=result))
            return None
        return result


def _run_in_background(source: Any, params: AnalysisParams, args: argparse.Namespace,
                       filename: str | None) -> Any:
    """Through the api: on Dask with ``--dask`` (else in process), stored with ``--save``;
    a live bar while it runs (widget values are sent even while the cell executes)."""
    from .api import AnalysisService
    from .execution import LocalRunner
    from .ui.progress import JobProgress

    service = AnalysisService(None, None if args.dask else LocalRunner())
    job = service.submit(source, params, name=args.name, filename=filename, save=args.save)
    bar = JobProgress()
    display(bar)
    for _ in job:
        bar.show(job.state)
    bar.show(job.state)
    result = service.result(job)
    if args.save:
        print(f"saved session {job.meta['session_id']}")
    return result


def _fail(exc: BaseException) -> None:
    print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
    return None


def load_ipython_extension(ipython: Any) -> None:
    ipython.register_magics(GangliosideMagics)
