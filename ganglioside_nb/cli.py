"""The ``ganglioside-nb`` command line (also ``python -m ganglioside_nb``); FEATURES.md F2.

An edge of the package: it parses arguments, calls :func:`ganglioside_nb.analyze` or
:func:`ganglioside_nb.validate_model`, prints the summary and writes the export. No analysis
logic lives here.

Exit codes: 0 on success; 2 for bad input (an unusable file, a missing path, an unwritable
output, a bad argument or parameter), with exactly one ``error: ...`` line on stderr; 1 for an
unexpected failure (``error: internal error: ...``). ``--debug`` logs the traceback.

Examples
--------
::

    ganglioside-nb analyze peaks.csv -o peaks.xlsx --mode reference
    ganglioside-nb analyze --sample -o sample.json
    ganglioside-nb validate peaks.csv --cv 5
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .errors import GangliosideError
from .params import AnalysisParams

__all__ = ["main"]

PROG = "ganglioside-nb"
SAMPLE_WORD = "sample"
SAMPLE_NAME = "testwork_user"
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2

log = logging.getLogger("ganglioside_nb.cli")


class UsageError(Exception):
    """Bad command-line input detected by the CLI itself (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one ``error:`` line (no usage block) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def _cv(text: str) -> str | int:
    if text.strip().lower() == "loo":
        return "loo"
    try:
        folds = int(text)
    except ValueError:
        folds = 0
    if folds < 2:
        raise argparse.ArgumentTypeError(
            f"must be 'loo' or a whole number of folds >= 2, got {text!r}")
    return folds


def _build_parser() -> _Parser:
    # The shared flags are accepted before and after the command; SUPPRESS keeps the
    # sub-command's copy from resetting a value given before it.
    shared = _Parser(add_help=False)
    shared.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                        help="log progress (-vv: debug messages)")
    shared.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and debug messages")

    params = _Parser(add_help=False)
    params.add_argument("input", nargs="?", metavar="INPUT",
                        help=f"a .csv or .xlsx peak table; the word '{SAMPLE_WORD}' means the "
                             f"bundled 323-row sample (write ./{SAMPLE_WORD} for a file of that "
                             "name)")
    params.add_argument("--sample", action="store_true", help="analyse the bundled sample")
    params.add_argument("--mode", choices=("reference", "structural"),
                        help="Rule 1 algorithm (default: structural)")
    params.add_argument("--r2-threshold", type=float, metavar="X",
                        help="minimum out-of-sample R² of an accepted model (0.5-0.999)")
    params.add_argument("--outlier-threshold", type=float, metavar="X",
                        help="|z| at or above which a row is an outlier (1-5)")
    params.add_argument("--rt-tolerance", type=float, metavar="X",
                        help="co-elution window in minutes (0.01-0.5)")
    params.add_argument("--params", type=Path, metavar="FILE",
                        help="a JSON object of parameters, or a JSON export (its 'parameters'); "
                             "the options above override it")

    parser = _Parser(prog=PROG, parents=[shared],
                     description="Judge LC-MS/MS ganglioside annotations against retention-time "
                                 "models and chemistry rules.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    analyze = commands.add_parser("analyze", parents=[shared, params],
                                  help="analyse one peak table and optionally export it",
                                  description="Analyse one peak table, print a summary and "
                                              "optionally export the result.")
    analyze.add_argument("-o", "--output", type=Path, metavar="OUT",
                         help="write the result: .csv (with a .meta.json sidecar), .xlsx or .json")
    validate = commands.add_parser("validate", parents=[shared, params],
                                   help="out-of-sample validation of the retention-time models",
                                   description="Cross-validate the retention-time models and "
                                               "print R², RMSE, MAE and max error.")
    validate.add_argument("--cv", type=_cv, default="loo", metavar="loo|K",
                          help="leave-one-out (default) or K-fold")
    return parser


# -- composition ---------------------------------------------------------------------------------
def _source(args: argparse.Namespace) -> Path:
    """The input path: a file the user named, or the bundled sample."""
    if args.sample and args.input is not None:
        raise UsageError(f"give either INPUT or --sample, not both (got INPUT {args.input!r})")
    if args.sample or args.input == SAMPLE_WORD:
        from .datasets import sample_path
        return Path(sample_path(SAMPLE_NAME))
    if args.input is None:
        raise UsageError(f"INPUT is required: a .csv or .xlsx file, or '{SAMPLE_WORD}'")
    path = Path(args.input)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UsageError(f"the input file must exist. Got {str(path)!r} instead ({what})")
    return path


def _params(args: argparse.Namespace) -> AnalysisParams:
    base: dict[str, Any] = {}
    if args.params is not None:
        try:
            loaded = json.loads(args.params.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"--params must name a readable JSON file. Got {str(args.params)!r} "
                             f"instead ({exc})") from None
        if isinstance(loaded, dict) and isinstance(loaded.get("parameters"), dict):
            loaded = loaded["parameters"]
        if not isinstance(loaded, dict):
            raise UsageError(f"--params must hold a JSON object of parameters. Got "
                             f"{type(loaded).__name__} in {str(args.params)!r} instead")
        base = loaded
    overrides = {name: getattr(args, name) for name in
                 ("mode", "r2_threshold", "outlier_threshold", "rt_tolerance")
                 if getattr(args, name) is not None}
    return AnalysisParams.coerce(base, **overrides)


def _check_output(path: Path) -> None:
    """Fail before the analysis if the output cannot be written."""
    from .io.export import FORMATS
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"the output must end in {', '.join(FORMATS)}. Got {str(path)!r} instead")
    if not path.parent.is_dir():
        raise UsageError(f"the output folder must exist. Got {str(path.parent)!r} instead")
    if path.is_dir():
        raise UsageError(f"the output must be a file. Got the folder {str(path)!r} instead")


def _run_analyze(args: argparse.Namespace) -> int:
    source, params = _source(args), _params(args)
    if args.output is not None:
        _check_output(args.output)
    from . import analyze
    from .io.export import export

    log.info("analysing %s (mode %s)", source, params.mode)
    result = analyze(source, params)
    print(result.summary())
    if args.output is not None:
        written = export(result, args.output, sidecar=True)
        print("wrote " + ", ".join(str(p) for p in written))
    return EXIT_OK


def _fmt(value: Any, spec: str) -> str:
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return "-"


def _run_validate(args: argparse.Namespace) -> int:
    source, params = _source(args), _params(args)
    from . import validate_model

    log.info("validating %s (mode %s, cv %s)", source, params.mode, args.cv)
    validation = validate_model(source, params, cv=args.cv)
    per_model = validation.per_model
    wanted = ("model", "n_anchors", "r2", "rmse", "mae", "max_error")
    columns = [c for c in wanted if c in per_model]
    if len(per_model):
        print(per_model[columns].to_string(index=False, float_format=lambda x: f"{x:.4f}",
                                           na_rep="-"))
    else:
        print("no model could be validated")
    overall = validation.overall
    print(f"overall ({overall.get('method', args.cv)}, {overall.get('n_anchors', '-')} anchors): "
          f"R² {_fmt(overall.get('r2'), '.4f')}, RMSE {_fmt(overall.get('rmse'), '.4f')} min, "
          f"MAE {_fmt(overall.get('mae'), '.4f')} min, "
          f"max error {_fmt(overall.get('max_error'), '.4f')} min")
    return EXIT_OK


# -- entry point ---------------------------------------------------------------------------------
def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "(no message)"


_Saved = list[tuple[logging.Logger, int, bool]]


def _configure_logging(level: int) -> tuple[logging.Handler, _Saved]:
    """A stderr handler on the package and warnings loggers; returns what to restore."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
    saved = []
    for name in ("ganglioside_nb", "py.warnings"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(min(level, logging.WARNING))
        logger.propagate = False
    logging.captureWarnings(True)
    return handler, saved


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 internal error, 2 bad input)."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors (already printed)
        if isinstance(exc.code, int):
            return exc.code
        return EXIT_OK if exc.code is None else EXIT_USAGE
    debug = getattr(args, "debug", False)
    verbose = getattr(args, "verbose", 0) or 0
    # Default: only the final error line reaches stderr. -v: info and Python warnings.
    level = logging.DEBUG if debug or verbose >= 2 else logging.INFO if verbose else logging.ERROR
    handler, saved = _configure_logging(level)
    try:
        command = {"analyze": _run_analyze, "validate": _run_validate}[args.command]
        return command(args)
    except (GangliosideError, UsageError, OSError) as exc:
        log.debug("bad input", exc_info=True)
        if isinstance(exc, OSError) and not isinstance(exc, GangliosideError):
            name = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
            message = f"cannot read or write{name}: {exc.strerror or exc}"
        else:
            message = str(exc)
        sys.stderr.write(f"error: {_one_line(message)}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:  # the CLI is an edge: translate, after logging the traceback
        log.debug("internal error", exc_info=True)
        hint = "" if debug else " (run with --debug for the traceback)"
        sys.stderr.write(f"error: internal error: {type(exc).__name__}: {_one_line(str(exc))}"
                         f"{hint}\n")
        return EXIT_INTERNAL
    finally:
        logging.captureWarnings(False)
        for logger, old_level, old_propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            logger.propagate = old_propagate

