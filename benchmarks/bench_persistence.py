"""Persistence speed: ``Repository.save_result`` of a 1,000,000-row result (issue 3 target).

Target: on Postgres, ``save_result`` reaches at least half the rate of a raw psycopg2 ``COPY``
of the same rows into a plain table (no key, no index) on the same machine.

What is measured (one fresh Postgres database ``gnb_bench_<random>``, dropped at the end, and
one SQLite file in a temporary directory):

* the result: ``ganglioside_nb.testing.large_table(rows, seed=1)`` analysed once (a real
  analysis, ~40 s at 1M rows), so the compound rows are the pipeline's own (50 columns);
* ``save_result`` on Postgres (best of ``--repeat`` runs, each into a new session) and on
  SQLite (one run): the whole call (one transaction: compound rows, models, JSON documents,
  status, audit event, commit), after ``create_session`` (timed apart);
* raw COPY baselines with psycopg2 ``copy_expert`` into ``compound_plain`` (``CREATE TABLE ...
  (LIKE compound)``: same columns and types, no primary key, no index), committed:
  binary COPY of the rows already encoded (COPY time only, best of ``--repeat``: the server's
  ingest rate), and
  text COPY of ``DataFrame.to_csv`` output (COPY time only, and with ``to_csv``: the usual
  pandas recipe);
* ``load_result`` on both databases, and that it equals the saved result.

Run: ``python benchmarks/bench_persistence.py [--rows 1000000] [--no-text-baseline]``.
The Postgres server is ``BENCH_DATABASE_URL``, else ``TEST_DATABASE_URL``, else
``postgresql+psycopg2://postgres@127.0.0.1:5432/test``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

import ganglioside_nb as gnb
from ganglioside_nb.persistence import Repository, _codec, make_engine, upgrade
from ganglioside_nb.persistence.repository import COMPOUND, COMPOUND_FIELDS, _pg_type, _TablePlan
from ganglioside_nb.testing import large_table

DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _save_and_load(url: Any, table: pd.DataFrame, result: Any, repeat: int) -> dict[str, float | bool]:
    """Best of ``repeat`` saves (each into a new session), then one load."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        repo = Repository(engine, owner="bench")
        saves, creates = [], []
        for _ in range(repeat):
            session_id, create_s = _timed(repo.create_session, table)
            _, save_s = _timed(repo.save_result, session_id, result)
            creates.append(create_s)
            saves.append(save_s)
        loaded, load_s = _timed(repo.load_result, session_id)
        return {"create_s": min(creates), "save_s": min(saves), "save_runs_s": saves,
                "load_s": load_s, "equal": bool(loaded.equals(result))}
    finally:
        engine.dispose()


def _raw_copy(url: Any, compounds: pd.DataFrame, text_baseline: bool, repeat: int) -> dict[str, float]:
    """COPY the same rows with psycopg2 into a plain table (same columns, no key, no index)."""
    plan = _TablePlan.build(compounds, COMPOUND, COMPOUND_FIELDS)
    names = [c.name for c in COMPOUND.columns]
    n = len(compounds)
    values = {**plan.typed, "session_id": pd.Series(np.full(n, 1, np.int64)), "extra": None}
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    encoder = _codec.PgBinaryCopy([(_pg_type(COMPOUND.c[c]), values.get(c)) for c in names], n)
    binary = b"".join(encoder.chunks())
    out["binary_encode_s"] = time.perf_counter() - t0
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("DROP TABLE IF EXISTS compound_plain")
        cursor.execute("CREATE TABLE compound_plain (LIKE compound)")
        raw.commit()

        def copy(data: bytes, options: str) -> float:
            cursor.execute("TRUNCATE compound_plain")
            raw.commit()
            t = time.perf_counter()
            cursor.copy_expert(f"COPY compound_plain ({', '.join(names)}) FROM STDIN {options}",
                               io.BytesIO(data), size=1 << 20)
            raw.commit()
            return time.perf_counter() - t

        runs = [copy(binary, "WITH (FORMAT binary)") for _ in range(repeat)]
        out["binary_copy_s"], out["binary_copy_runs_s"] = min(runs), runs  # type: ignore[assignment]
        del binary
        if text_baseline:
            frame = pd.DataFrame({c: (values[c] if values.get(c) is not None else None) for c in names})
            frame["is_anchor"] = frame["is_anchor"].map({True: "t", False: "f"})
            t = time.perf_counter()
            text = frame.to_csv(sep="\t", header=False, index=False, na_rep="\\N",
                                quoting=csv.QUOTE_NONE, lineterminator="\n")
            data = text.encode("utf-8")
            out["text_to_csv_s"] = time.perf_counter() - t
            out["text_copy_s"] = copy(data, "")
        cursor.execute("DROP TABLE compound_plain")
        raw.commit()
        cursor.close()
    finally:
        raw.close()
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2,
                        help="Postgres save_result and raw COPY runs; the best counts (default 2)")
    parser.add_argument("--no-text-baseline", action="store_true",
                        help="skip the DataFrame.to_csv + text COPY baseline (slow: ~1 min at 1M)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()

    server = sa.engine.make_url(os.environ.get("BENCH_DATABASE_URL")
                                or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)
    figures: dict[str, Any] = {"rows": args.rows}
    table = large_table(args.rows, seed=1)
    result, figures["analyze_s"] = _timed(gnb.analyze, table)
    compounds = result.compounds
    figures["columns"] = compounds.shape[1]

    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"gnb_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    pg_url = server.set(database=name)
    try:
        figures["postgres"] = _save_and_load(pg_url, table, result, args.repeat)
        figures["raw_copy"] = _raw_copy(pg_url, compounds, not args.no_text_baseline, args.repeat)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = _save_and_load(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", table, result, 1)

    n = args.rows
    rate = {
        "postgres save_result": n / figures["postgres"]["save_s"],
        "raw binary COPY (COPY only)": n / figures["raw_copy"]["binary_copy_s"],
        "sqlite save_result": n / figures["sqlite"]["save_s"],
    }
    if "text_copy_s" in figures["raw_copy"]:
        rate["raw text COPY (COPY only)"] = n / figures["raw_copy"]["text_copy_s"]
        rate["raw text COPY incl. to_csv"] = n / (figures["raw_copy"]["text_copy_s"]
                                                  + figures["raw_copy"]["text_to_csv_s"])
    figures["rows_per_s"] = rate
    figures["ratio_save_to_raw_binary_copy"] = rate["postgres save_result"] / rate[
        "raw binary COPY (COPY only)"]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{n:,} compound rows x {figures['columns']} columns "
          f"(large_table(seed=1), analysed in {figures['analyze_s']:.1f} s)")
    for label, value in rate.items():
        print(f"  {label:<32} {value:>10,.0f} rows/s")
    print(f"  save_result / raw binary COPY    {figures['ratio_save_to_raw_binary_copy']:>10.2f}"
          "   (target >= 0.5)")
    for db in ("postgres", "sqlite"):
        f = figures[db]
        runs = ", ".join(f"{x:.2f}" for x in f["save_runs_s"])
        print(f"  {db:<8} create_session {f['create_s']:.2f} s, save_result {f['save_s']:.2f} s "
              f"(runs {runs}), load_result {f['load_s']:.2f} s, round trip equal: {f['equal']}")
    raw = figures["raw_copy"]
    print(f"  raw: binary encode {raw['binary_encode_s']:.2f} s + COPY {raw['binary_copy_s']:.2f} s"
          + (f"; text to_csv {raw['text_to_csv_s']:.2f} s + COPY {raw['text_copy_s']:.2f} s"
             if "text_copy_s" in raw else ""))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
