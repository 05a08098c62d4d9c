"""The ``ganglioside-nb`` command line (also ``python -m ganglioside_nb``); FEATURES.md F2.

An edge of the package: it parses arguments, calls :func:`ganglioside_nb.analyze` or
:func:`ganglioside_nb.validate_model`, prints the summary and writes the export. No analysis
logic lives here.

Exit codes: 0 on success; 2 for bad input (an unusable file, a missing path, an unwritable
output, a bad argument or parameter), with exactly one ``error: ...`` line on stderr; 1 for an
unexpected failure (``error: internal error: ...``), an unhealthy ``health`` / ``db health``
and a ``db verify`` whose re-run is not identical. ``--debug`` logs the traceback.

Examples
--------
::

    ganglioside-nb analyze peaks.csv -o peaks.xlsx --mode reference
    ganglioside-nb analyze --sample -o sample.json
    ganglioside-nb analyze peaks.csv --save --name "porcine brain, run 3"
    ganglioside-nb validate peaks.csv --cv 5
    ganglioside-nb batch runs/*.csv --save --scheduler tcp://10.0.0.5:8786
    ganglioside-nb health
    ganglioside-nb db verify 42
    ganglioside-nb app --port 8866 --database postgresql+psycopg2://lab@db/gangliosides
    ganglioside-nb db list --status completed
    ganglioside-nb db export 12 -o run12.xlsx

The database is ``--database URL``, else ``DATABASE_URL``, else a SQLite file in the user's
data directory (created and migrated on first use); other databases are migrated explicitly
with ``ganglioside-nb db upgrade``. Sessions belong to the current owner (``JUPYTERHUB_USER``,
``GANGLIOSIDE_NB_OWNER`` or the OS user). ``batch`` runs on the Dask scheduler of
``--scheduler`` / ``GANGLIOSIDE_DASK_ADDRESS``, else on a local cluster it starts and stops.
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
    shared.add_argument("--database", metavar="URL", default=argparse.SUPPRESS,
                        help="SQLAlchemy URL of the database (default: DATABASE_URL, else a "
                             "SQLite file in the user's data directory)")

    options = _Parser(add_help=False)
    options.add_argument("--mode", choices=("reference", "structural"),
                        help="Rule 1 algorithm (default: structural)")
    options.add_argument("--r2-threshold", type=float, metavar="X",
                        help="minimum out-of-sample R² of an accepted model (0.5-0.999)")
    options.add_argument("--outlier-threshold", type=float, metavar="X",
                        help="|z| at or above which a row is an outlier (1-5)")
    options.add_argument("--rt-tolerance", type=float, metavar="X",
                        help="co-elution window in minutes (0.01-0.5)")
    options.add_argument("--data-type", choices=("porcine", "human", "bovine", "mouse", "other"),
                         help="sample type recorded with the analysis (default: porcine)")
    options.add_argument("--chromatography", choices=("reversed_phase", "hilic"),
                         help="column chemistry of the run (default: reversed_phase; a HILIC run "
                              "is recorded and warned about)")
    options.add_argument("--params", type=Path, metavar="FILE",
                         help="a JSON object of parameters, or a JSON export (its 'parameters'); "
                              "the options above override it")
    params = _Parser(add_help=False, parents=[options])
    params.add_argument("input", nargs="?", metavar="INPUT",
                        help=f"a .csv or .xlsx peak table; the word '{SAMPLE_WORD}' means the "
                             f"bundled 323-row sample (write ./{SAMPLE_WORD} for a file of that "
                             "name)")
    params.add_argument("--sample", action="store_true", help="analyse the bundled sample")
    scheduler = _Parser(add_help=False)
    scheduler.add_argument("--scheduler", metavar="ADDRESS",
                           help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: "
                                "GANGLIOSIDE_DASK_ADDRESS, else a local cluster of 2 workers)")

    parser = _Parser(prog=PROG, parents=[shared],
                     description="Judge LC-MS/MS ganglioside annotations against retention-time "
                                 "models and chemistry rules.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    analyze = commands.add_parser("analyze", parents=[shared, params],
                                  help="analyse one peak table and optionally export it",
                                  description="Analyse one peak table, print a summary and "
                                              "optionally export the result.")
    analyze.add_argument("-o", "--output", "--out", type=Path, metavar="OUT",
                         help="write the result: .csv (with a .meta.json sidecar), .xlsx, .json, "
                              "or .html (a self-contained report with the figures)")
    analyze.add_argument("--save", action="store_true",
                         help="store the input and the result as an analysis session; prints its id")
    analyze.add_argument("--name", help="name of the stored session (with --save or --rerun)")
    analyze.add_argument("--rerun", type=int, metavar="ID",
                         help="analyse stored session ID again (a failed or cancelled one in place "
                              "when nothing is changed; else a new session, with the options given)")
    validate = commands.add_parser("validate", parents=[shared, params],
                                   help="out-of-sample validation of the retention-time models",
                                   description="Cross-validate the retention-time models and "
                                               "print R², RMSE, MAE and max error.")
    validate.add_argument("--cv", type=_cv, default="loo", metavar="loo|K",
                          help="leave-one-out (default) or K-fold")

    batch = commands.add_parser("batch", parents=[shared, options, scheduler],
                                help="analyse many peak tables on a Dask cluster",
                                description="Analyse many peak tables in parallel on Dask, with a "
                                            "live progress bar and a summary table. Exit 2 if any "
                                            "input failed.")
    batch.add_argument("inputs", nargs="+", metavar="FILE",
                       help=f"peak tables (.csv, .xlsx); '{SAMPLE_WORD}' means the bundled sample")
    batch.add_argument("--save", action="store_true",
                       help="store each input and result as an analysis session (the workers write)")
    batch.add_argument("-o", "--output-dir", type=Path, metavar="DIR",
                       help="write each result to DIR/<file stem>.<format> (without --save)")
    batch.add_argument("--format", choices=("csv", "xlsx", "json"), default="xlsx",
                       help="export format for --output-dir (default: xlsx)")
    batch.add_argument("--in-process", action="store_true",
                       help="run one after another in this process instead of on Dask")
    batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    health = commands.add_parser("health", parents=[shared, scheduler],
                                 help="database, Dask scheduler, workers and dashboard link",
                                 description="Check the database and the Dask scheduler (a local "
                                             "cluster is started for the check when no address "
                                             "is given).")
    health.add_argument("--json", action="store_true", help="print the report as JSON")

    app = commands.add_parser("app", parents=[shared, scheduler],
                              help="serve the analyze and history apps with Voila",
                              description="Serve the no-code apps (analyze, history) with Voila on "
                                          "127.0.0.1. Without --scheduler a local Dask cluster is "
                                          "started and shared by every page. Stop with Ctrl-C.")
    app.add_argument("--port", type=int, default=8866, metavar="N", help="port (default: 8866; 0: any free)")
    app.add_argument("which", nargs="?", choices=("analyze", "history"),
                     help="open this app in a web browser (same as --open)")
    app.add_argument("--open", choices=("analyze", "history"), help="open this app in a web browser")
    app.add_argument("--no-browser", action="store_true", help="open no browser (overrides the above)")

    export_cmd = commands.add_parser("export", parents=[shared], help="export a stored result",
                                     description="Write a stored session's result as CSV (with a "
                                                 "sidecar), XLSX or JSON (the same as 'db export').")
    export_cmd.add_argument("id", type=int, metavar="ID")
    export_cmd.add_argument("--format", choices=("csv", "xlsx", "json"), default="xlsx")
    export_cmd.add_argument("--out", type=Path, metavar="PATH",
                            help="file to write (default: session-ID.FORMAT here)")
    demo = commands.add_parser("demo", parents=[shared],
                               help="analyse the bundled sample, print the summary, write an XLSX",
                               description="Analyse the bundled 323-row sample in this process, print "
                                           "the summary and write the result as XLSX; --open also "
                                           "starts the apps on it.")
    demo.add_argument("--out", type=Path, default=Path("ganglioside-demo.xlsx"), metavar="PATH",
                      help="the XLSX to write (default: ganglioside-demo.xlsx here)")
    demo.add_argument("--open", action="store_true", help="then serve the apps and open the analyze app")
    db = commands.add_parser("db", parents=[shared], help="stored analysis sessions",
                             description="Manage the database of analysis sessions.")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("upgrade", parents=[shared], help="create or migrate the schema (Alembic)")
    listing = actions.add_parser("list", parents=[shared], help="list this owner's sessions")
    listing.add_argument("--status", choices=("pending", "running", "completed", "failed", "cancelled"))
    listing.add_argument("--data-type", choices=("porcine", "human", "bovine", "mouse", "other"))
    listing.add_argument("--search", metavar="TEXT", help="text in the name or file name")
    listing.add_argument("--deleted", action="store_true", help="list the trash instead")
    for action, text in (("show", "one session and its result summary"),
                         ("delete", "move a session to the trash (soft delete)"),
                         ("restore", "bring a session back from the trash"),
                         ("purge", "delete a session for good (its audit events remain)")):
        actions.add_parser(action, parents=[shared], help=text).add_argument("id", type=int, metavar="ID")
    export = actions.add_parser("export", parents=[shared], help="export a stored result")
    export.add_argument("id", type=int, metavar="ID")
    export.add_argument("-o", "--output", type=Path, metavar="OUT", required=True,
                        help="a .csv, .xlsx or .json file, or .html for a self-contained report")
    cleanup = actions.add_parser("cleanup", parents=[shared],
                                 help="trash finished sessions older than N days, or with --purge "
                                      "purge what has been in the trash N days (dry run unless --apply)")
    cleanup.add_argument("--days", "--older-than-days", type=float, default=30.0, metavar="N")
    cleanup.add_argument("--apply", action="store_true", help="really do it (default: a dry run)")
    cleanup.add_argument("--dry-run", action="store_true", help="only list (the default; wins over --apply)")
    cleanup.add_argument("--purge", action="store_true",
                         help="instead, purge the sessions in the trash for over N days (a hard "
                              "delete; their audit events remain)")
    actions.add_parser("health", parents=[shared], help="database reachability and schema revision")
    actions.add_parser("status", parents=[shared],
                       help="schema revision against the package's (exit 1 when behind)")
    actions.add_parser("verify", parents=[shared],
                       help="re-run a stored input and report whether the result is identical "
                            "(exit 1 when it is not)").add_argument("id", type=int, metavar="ID")
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
    base, overrides = _given_params(args)
    return AnalysisParams.coerce(base, **overrides)


def _given_params(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the command line sets: the ``--params`` file's values and the single options."""
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
                 ("mode", "r2_threshold", "outlier_threshold", "rt_tolerance", "chromatography",
                  "data_type")
                 if getattr(args, name) is not None}
    return base, overrides


def _check_output(path: Path) -> None:
    """Fail before the analysis if the output cannot be written."""
    from .io.export import FORMATS
    if path.suffix.lower() not in (*FORMATS, ".html"):
        raise UsageError(f"the output must end in {', '.join(FORMATS)} or .html (a report). "
                         f"Got {str(path)!r} instead")
    if not path.parent.is_dir():
        raise UsageError(f"the output folder must exist. Got {str(path.parent)!r} instead")
    if path.is_dir():
        raise UsageError(f"the output must be a file. Got the folder {str(path)!r} instead")


def _run_analyze(args: argparse.Namespace) -> int:
    if args.output is not None:
        _check_output(args.output)
    from . import analyze
    from .io.export import export

    if args.rerun is not None:
        if args.input is not None or args.sample:
            raise UsageError("--rerun ID analyses the stored input of session ID: give no INPUT")
        from .api.sessions import rerun_target
        base, overrides = _given_params(args)
        repo = _repository(args)
        session_id = rerun_target(repo, args.rerun, AnalysisParams.coerce(
            repo.get_session(args.rerun).params, **base) if base else None, name=args.name, **overrides)
        result = _run_stored(repo, session_id)
    elif args.save:
        source, params = _source(args), _params(args)
        repo = _repository(args)
        session_id = repo.create_session(source, name=args.name, params=params.to_dict())
        result = _run_stored(repo, session_id)
    else:
        if args.name is not None:
            raise UsageError("--name only applies with --save or --rerun")
        source, params = _source(args), _params(args)
        log.info("analysing %s (mode %s)", source, params.mode)
        result = analyze(source, params)
    print(result.summary())
    if args.save or args.rerun is not None:
        print(f"saved session {session_id}")
    if args.output is not None and args.output.suffix.lower() == ".html":
        from .report import write_report
        print(f"wrote {write_report(result, args.output)}")
    elif args.output is not None:
        written = export(result, args.output, sidecar=True)
        print("wrote " + ", ".join(str(p) for p in written))
    return EXIT_OK


def _run_stored(repo: Any, session_id: int) -> Any:
    """Analyse a stored session here and store its result; Ctrl-C cancels the session and any
    other failure fails it (nothing partial is stored either way)."""
    from . import analyze

    try:
        repo.mark_running(session_id)
        info = repo.get_session(session_id)
        log.info("analysing session %s (mode %s)", session_id, info.mode)
        result = analyze(repo.load_input(session_id), AnalysisParams.from_dict(info.params),
                         filename=info.input_filename)
        repo.save_result(session_id, result)
    except BaseException as exc:
        status = repo.get_session(session_id).status
        if isinstance(exc, KeyboardInterrupt) and status in ("pending", "running"):
            repo.mark_cancelled(session_id)
        elif status == "running":
            repo.mark_failed(session_id, exc)
        raise
    return result


def _repository(args: argparse.Namespace) -> Any:
    """An owner-scoped repository on --database / DATABASE_URL / the default SQLite file.

    SQLite files are migrated on first use; any other database must be at the schema head
    (``ganglioside-nb db upgrade``)."""
    from .persistence.engine import current_revision, head_revision, make_engine
    from .persistence.repository import Repository

    engine = make_engine(getattr(args, "database", None))
    if engine.dialect.name == "sqlite":
        return Repository(engine, migrate=True)
    revision, head = current_revision(engine), head_revision()
    if revision != head:
        raise UsageError(f"the database schema must be at revision {head}. Got {revision or 'no schema'} "
                         "instead: run 'ganglioside-nb db upgrade'")
    return Repository(engine)


def _session_line(info: Any) -> str:
    created = info.created_at.strftime("%Y-%m-%d %H:%M")
    name = info.display_name if len(info.display_name) <= 32 else info.display_name[:31] + "…"
    return (f"{info.id:>6}  {info.status:<9}  {created}  {info.mode:<10}  {info.data_type:<7}  "
            f"{name:<32}  {info.input_filename or '-'}")


def _run_db(args: argparse.Namespace) -> int:
    if args.action == "upgrade":
        from .persistence.engine import make_engine, upgrade
        print(f"schema at revision {upgrade(make_engine(getattr(args, 'database', None)))}")
        return EXIT_OK
    repo = _repository(args)
    if args.action == "health":
        health = repo.health()
        print(json.dumps(health, indent=2, default=str))
        return EXIT_OK if health["state"] == "healthy" else EXIT_INTERNAL
    if args.action == "status":
        health = repo.health()
        behind = ("" if health["up_to_date"]
                  else f" (behind: run 'ganglioside-nb db upgrade' to {health['head']})")
        print(f"{health['dialect']} {health['url']}: schema revision {health['revision']}{behind}; "
              f"sessions: {', '.join(f'{k} {v}' for k, v in health['counts'].items())}")
        return EXIT_OK if health["up_to_date"] else EXIT_INTERNAL
    if args.action == "verify":
        from .api.verify import verify_session
        verification = verify_session(repo, args.id)
        print(verification.summary())
        return EXIT_OK if verification.identical else EXIT_INTERNAL
    if args.action == "list":
        sessions = repo.list_sessions(status=args.status, data_type=args.data_type, search=args.search,
                                      only_deleted=args.deleted)
        print(f"{'id':>6}  {'status':<9}  {'created (UTC)':<16}  {'mode':<10}  {'type':<7}  "
              f"{'name':<32}  file")
        for info in sessions:
            print(_session_line(info))
        print(f"{len(sessions)} session(s) of {repo.owner}")
    elif args.action == "show":
        info = repo.get_session(args.id, include_deleted=True)
        print(_session_line(info))
        print(f"input {info.input_filename or '-'} ({info.input_size} bytes, sha256 {info.input_sha256})")
        if info.error_message:
            print(f"error: {info.error_message}")
        if info.status == "completed":
            print(repo.load_result(args.id).summary())
    elif args.action == "export":
        _check_output(args.output)
        if args.output.suffix.lower() == ".html":  # the report draws figures: above persistence
            from .report import html_report
            data = html_report(repo.load_result(args.id)).encode("utf-8")
            repo.record_export(args.id, "html", data, via="cli")
        else:
            data = repo.export(args.id, args.output.suffix.lower().lstrip("."))
        args.output.write_bytes(data)
        print(f"wrote {args.output}")
    elif args.action in ("delete", "restore", "purge"):
        method = {"delete": repo.soft_delete, "restore": repo.restore, "purge": repo.purge}[args.action]
        info = method(args.id)
        done = {"delete": "moved to the trash", "restore": "restored", "purge": "purged"}[args.action]
        print(f"session {info.id} ({info.display_name}) {done}")
    elif args.action == "cleanup":
        method = repo.purge_trash_older_than if args.purge else repo.cleanup_older_than
        sessions = method(args.days, dry_run=args.dry_run or not args.apply)
        args.apply = args.apply and not args.dry_run
        for info in sessions:
            print(_session_line(info))
        if args.purge:
            verb = "purged" if args.apply else "would be purged (dry run; --apply)"
            print(f"{len(sessions)} session(s) in the trash for over {args.days:g} days {verb}")
        else:
            verb = "moved to the trash" if args.apply else "would be moved to the trash (dry run; --apply)"
            print(f"{len(sessions)} session(s) older than {args.days:g} days {verb}")
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


def _batch_sources(inputs: Sequence[str]) -> list[Path]:
    from .datasets import sample_path
    paths = [Path(sample_path(SAMPLE_NAME)) if text == SAMPLE_WORD else Path(text) for text in inputs]
    folders = [str(p) for p in paths if p.is_dir()]
    if folders:
        raise UsageError(f"each FILE must be a peak table. Got the folder {folders[0]!r} instead")
    return paths  # a missing file fails as one item of the batch, not the whole batch


def _runner(args: argparse.Namespace) -> Any:
    from .execution import DaskRunner, LocalRunner
    if getattr(args, "in_process", False):
        return LocalRunner()
    return DaskRunner(address=args.scheduler)


def _follow(batch: Any, show: bool) -> None:
    """Fold the batch's events on this thread and draw them as one tqdm bar."""
    import queue

    from tqdm import tqdm

    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    stop = batch.subscribe(inbox.put)
    state = batch.state
    # disable=None: drawn on a terminal only (logs and pipes get the summary table alone)
    bar = tqdm(total=len(batch), unit="file", disable=None if show else True, file=sys.stderr,
               dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n:.1f}/{total} files [{elapsed}<{remaining}]{postfix}")
    try:
        while not state.finished:
            inbox.get()  # wait for news, then take the whole burst: one look per burst
            while not inbox.empty():
                inbox.get()
            state = batch.state  # each job's stream has folded its events already
            counts = state.counts()
            bar.set_postfix_str(f"{counts['completed']} ok, {counts['failed']} failed, "
                                f"{counts['running']} running", refresh=False)
            bar.update(round(state.fraction * len(batch), 2) - bar.n)  # redraws at most 10x/s
    finally:
        stop()
        bar.close()


def _run_batch(args: argparse.Namespace) -> int:
    sources, params = _batch_sources(args.inputs), _params(args)
    if args.save and args.output_dir is not None:
        raise UsageError("--output-dir applies without --save (stored results are exported with "
                         "'ganglioside-nb db export')")
    if args.output_dir is not None and not args.output_dir.is_dir():
        raise UsageError(f"the output folder must exist. Got {str(args.output_dir)!r} instead")
    from .api import AnalysisService

    runner = _runner(args)
    service = AnalysisService(_repository(args) if args.save else None, runner)
    log.info("submitting %d input(s) to %r", len(sources), runner)
    batch = service.submit_batch(sources, params, save=args.save)
    try:
        _follow(batch, show=not args.no_progress)
    except KeyboardInterrupt:
        cancelled = batch.cancel()
        sys.stderr.write(f"interrupted: {len(cancelled)} input(s) not started were cancelled\n")
        raise
    rows = []
    for job in batch:
        state, outcome = job.state, ""
        if state.status == "completed":
            value = job.result()
            if args.save:
                outcome = f"session {value.id}"
            else:
                stats = value.statistics
                outcome = (f"{stats['valid']} valid, {stats['outliers']} outliers, "
                           f"{stats['fragments']} fragments")
                if args.output_dir is not None:
                    target = args.output_dir / f"{Path(job.label).stem}.{args.format}"
                    getattr(value, f"to_{args.format}")(target)
                    outcome += f" -> {target}"
        elif "session_id" in job.meta:
            outcome = f"session {job.meta['session_id']}: "
        rows.append((job.label, state.status, _fmt(state.elapsed_s, ".1f"),
                     outcome + (state.error or "") if state.status != "completed" else outcome))
    width = max([len(r[0]) for r in rows] + [4])
    print(f"{'file':<{width}}  {'status':<9}  {'s':>6}  result")
    for label, status, seconds, outcome in rows:
        print(f"{label:<{width}}  {status:<9}  {seconds:>6}  {outcome}")
    counts = batch.counts()
    print(", ".join(f"{n} {k}" for k, n in counts.items()) + f" ({runner.info().get('runner')})")
    failed = len(batch) - counts.get("completed", 0)
    if failed:
        sys.stderr.write(f"error: {failed} of {len(batch)} input(s) failed (see the table above)\n")
        return EXIT_USAGE
    return EXIT_OK


def _run_export(args: argparse.Namespace) -> int:
    """``export ID --format F [--out PATH]``: ``db export`` with the format named."""
    args.output = args.out if args.out is not None else Path(f"session-{args.id}.{args.format}")
    if args.output.suffix.lower().lstrip(".") != args.format:
        raise UsageError(f"--out must end in .{args.format} (the --format). Got {str(args.output)!r} instead")
    args.action = "export"
    return _run_db(args)


def _run_demo(args: argparse.Namespace) -> int:
    """The bundled sample analysed here: summary, XLSX, and with --open the apps."""
    from . import analyze
    from .datasets import sample_path
    from .io.export import export

    if args.out.suffix.lower() != ".xlsx":
        raise UsageError(f"--out must end in .xlsx. Got {str(args.out)!r} instead")
    _check_output(args.out)
    result = analyze(sample_path(SAMPLE_NAME))
    print(result.summary())
    print("wrote " + ", ".join(str(p) for p in export(result, args.out)))
    if not args.open:
        return EXIT_OK
    args.port, args.scheduler, args.which, args.no_browser = 8866, None, "analyze", False
    args.open = None
    return _run_app(args)


def _run_health(args: argparse.Namespace) -> int:
    from .api import health
    report = health(_repository(args), _runner(args))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return EXIT_OK if report["ok"] else EXIT_INTERNAL
    print(f"state      {report['state']} (ganglioside_nb {report['version']})")
    db = report["database"]
    print(f"database   {db['state']}: {db['url']} (revision {db['revision']}, owner {db['owner']})"
          + (f" - {db['error']}" if db.get("error") else ""))
    sched = report["scheduler"]
    if not sched.get("ok"):
        print(f"scheduler  unreachable: {sched.get('error')}")
    else:
        kind = "local cluster" if sched.get("local_cluster") else "external"
        print(f"scheduler  {sched['scheduler']} ({kind}), {sched['n_workers']} worker(s), "
              f"{sched['nthreads']} thread(s)")
        for worker in sched["workers"]:
            print(f"  worker   {worker['address']}  {worker['nthreads']} thread(s), "
                  f"{worker['memory_limit'] / 2**30:.1f} GiB")
        print(f"dashboard  {sched.get('dashboard') or '-'}")
    return EXIT_OK if report["ok"] else EXIT_INTERNAL


def _claim_port(port: int) -> int:
    """``port`` (0: a free one) if it can be bound on 127.0.0.1 now, else one clear UsageError.

    Checked before the Dask cluster starts, so a busy port costs nothing; Voila's own start-up
    check still catches a port taken in between."""
    import socket
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise UsageError(f"port {port} on 127.0.0.1 is in use ({exc.strerror or exc}); "
                             f"choose another with --port, or --port 0 for a free one") from None
        return int(sock.getsockname()[1])


def _run_app(args: argparse.Namespace) -> int:
    """Voila on the two app notebooks, with one shared Dask cluster and the chosen database."""
    import os
    import signal
    import subprocess
    import tempfile
    import webbrowser

    from .execution import close_local_cluster, cluster_info, get_client
    from .persistence.engine import shareable_url
    from .ui.voila import wait_until_serving, write_apps

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535. Got {args.port} instead")
    port = _claim_port(args.port)
    repo = _repository(args)  # migrates SQLite; checks any other database is at the schema head
    env = {**os.environ, "DATABASE_URL": shareable_url(repo.engine),
           "GANGLIOSIDE_NB_OWNER": repo.owner}
    client = get_client(args.scheduler)
    info = cluster_info(client)
    env["GANGLIOSIDE_DASK_ADDRESS"] = str(info["scheduler"])
    def stop(signum: int, _frame: Any) -> None:  # SIGTERM: clean up like Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with tempfile.TemporaryDirectory(prefix="ganglioside-nb-app-") as folder:
        # voila.json in Voila's working directory; the served folder (the landing page lists it)
        # holds just the two apps
        apps = Path(folder) / "apps"
        for path in write_apps(apps):
            if path.suffix == ".json":
                path.replace(Path(folder) / path.name)
        command = [sys.executable, "-m", "voila", "--no-browser", f"--port={port}",
                   "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", str(apps)]
        # Voila's own log goes to the terminal with -v, else to a file quoted if it fails to start
        log_path = Path(folder) / "voila.log"
        log = None if getattr(args, "verbose", 0) else log_path.open("wb")
        server = subprocess.Popen(command, cwd=folder, env=env, start_new_session=True,
                                  stdout=log, stderr=subprocess.STDOUT if log else None)
        url = f"http://127.0.0.1:{port}/"
        try:
            if not wait_until_serving(url, server):  # Voila answers after ~2 s
                last = [line for line in (log_path.read_text(errors="replace").splitlines()
                                          if log else []) if line.strip()][-1:]
                raise UsageError(f"Voila stopped at start-up (exit {server.returncode}): "
                                 f"{last[0].strip() if last else 'see its output above'}")
            print(f"ganglioside-nb apps: {url}", flush=True)
            print(f"  analyze   {url}voila/render/analyze.ipynb", flush=True)
            print(f"  history   {url}voila/render/history.ipynb", flush=True)
            print(f"  database  {_redacted(env['DATABASE_URL'])} (owner {repo.owner})", flush=True)
            print(f"  dask      {info['scheduler']}, {info['n_workers']} worker(s), dashboard "
                  f"{info.get('dashboard') or '-'}", flush=True)
            print("Ctrl-C stops the server.", flush=True)
            chosen = None if args.no_browser else (args.open or args.which)
            if chosen:
                webbrowser.open(f"{url}voila/render/{chosen}.ipynb")
            return server.wait() or EXIT_OK
        except KeyboardInterrupt:
            return EXIT_OK
        finally:
            if server.poll() is None:  # SIGTERM: Voila shuts its kernels down; SIGKILL only after
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()
            if log is not None:
                log.close()
            if args.scheduler is None:
                close_local_cluster()


def _redacted(url: str) -> str:
    from .persistence.engine import redacted_url
    return redacted_url(url)


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
        command = {"analyze": _run_analyze, "validate": _run_validate, "db": _run_db,
                   "batch": _run_batch, "health": _run_health, "app": _run_app,
                   "export": _run_export, "demo": _run_demo}[args.command]
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
        message = _one_line(str(exc))  # a driver's message can carry a whole SQL statement
        message = message if len(message) <= 300 else message[:299] + "…"
        sys.stderr.write(f"error: internal error: {type(exc).__name__}: {message}{hint}\n")
        return EXIT_INTERNAL
    finally:
        logging.captureWarnings(False)
        for logger, old_level, old_propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            logger.propagate = old_propagate

