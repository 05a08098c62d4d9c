"""Dask execution: 200 analyses of the 323-row sample on 2 workers vs serially in one process.

Target (issue 4): the Dask run is at least 1.6x faster than the serial run.

What is measured:

* serial: ``ganglioside_nb.api.jobs.run_analysis_job`` called 200 times in this process (the
  same function the workers run, with a no-op progress callback), after one warm-up call;
* dask: ``AnalysisService(runner=DaskRunner(client)).submit_batch([...] * 200, save=False)`` on the
  library's ``LocalCluster`` (``get_client()``: 2 worker processes x 1 thread, results fetched
  straight from the workers), started and warmed up before timing (one analysis per worker),
  timed from submission until every job's result is back on the client;
  every job streams its ~14 progress events through the scheduler, as in the app;
* per-task overhead: 200 no-op tasks through the same runner (events included) on the same
  cluster, and 200 plain ``client.submit`` no-ops for comparison;
* optionally (``--save``) the same 200 analyses stored in a fresh Postgres database, where the
  workers also write 323 compound rows each.

Serial and Dask runs alternate (``--rounds`` pairs, default 3) and the median speed-up is
reported: this 2-core machine's speed drifts by +-15 % over minutes, as much as the margin measured.

Run: ``python benchmarks/bench_dask.py [--n 200] [--rounds 3] [--save]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from typing import Any

from distributed import Client

from ganglioside_nb.api import AnalysisService
from ganglioside_nb.api.jobs import run_analysis_job
from ganglioside_nb.datasets import sample_path
from ganglioside_nb.execution import DaskRunner, close_local_cluster, get_client
from ganglioside_nb.params import AnalysisParams

SAMPLE = sample_path("testwork_user")
DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def noop(*, progress: Any) -> None:
    return None


def plain_noop(i: int) -> int:
    return i


def _serial(n: int) -> float:
    data, params = SAMPLE.read_bytes(), AnalysisParams().to_dict()
    run_analysis_job(data, SAMPLE.name, params, progress=lambda e: None)  # warm-up
    t0 = time.perf_counter()
    for _ in range(n):
        run_analysis_job(data, SAMPLE.name, params, progress=lambda e: None)
    return time.perf_counter() - t0


def _dask(client: Client, n: int, repository: Any = None) -> float:
    service = AnalysisService(repository, DaskRunner(client))
    warm = service.submit_batch([SAMPLE, SAMPLE], save=False)  # imports on both workers
    warm.wait(120)
    t0 = time.perf_counter()
    batch = service.submit_batch([SAMPLE] * n, save=repository is not None)
    for job in batch.as_completed(timeout=1800):
        job.result()
    elapsed = time.perf_counter() - t0
    assert batch.counts() == {"completed": n}, batch.counts()
    return elapsed


def _overhead(client: Client, n: int) -> tuple[float, float]:
    runner = DaskRunner(client)
    t0 = time.perf_counter()
    jobs = [runner.submit(noop) for _ in range(n)]
    for job in jobs:
        job.result()
    ours = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    futures = [client.submit(plain_noop, i, pure=False) for i in range(n)]
    client.gather(futures)
    plain = (time.perf_counter() - t0) / n
    return ours, plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="serial/Dask pairs to run")
    parser.add_argument("--save", action="store_true", help="also run the batch stored in Postgres")
    args = parser.parse_args()

    ratios = []
    for round_ in range(1, args.rounds + 1):  # alternating, so slow spells hit both sides
        close_local_cluster()  # the serial run has the machine to itself (an idle cluster costs
        serial = _serial(args.n)  # ~10 % of a core: scheduler, nannies, monitors)
        client = get_client()  # the library's own local cluster, as the app and the CLI use it
        client.wait_for_workers(2)
        on_dask = _dask(client, args.n)
        ratios.append(serial / on_dask)
        print(f"round {round_}: serial {serial:6.2f} s ({serial / args.n * 1000:.0f} ms each), "
              f"dask 2x1 {on_dask:6.2f} s -> speed-up {serial / on_dask:.2f}x", flush=True)
    print(f"median speed-up over {args.rounds} rounds: {statistics.median(ratios):.2f}x "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}x; target >= 1.6x)")
    try:
        ours, plain = _overhead(client, args.n)
        print(f"overhead per task: {ours * 1000:.1f} ms through DaskRunner (events included), "
              f"{plain * 1000:.1f} ms for a plain client.submit (sequential submit+wait of {args.n})")
        if args.save:
            import sqlalchemy as sa
            from sqlalchemy.engine import make_url

            from ganglioside_nb.persistence import Repository, upgrade

            base = make_url(os.environ.get("BENCH_DATABASE_URL", os.environ.get("TEST_DATABASE_URL",
                                                                                 DEFAULT_PG)))
            name = f"gnb_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            try:
                url = base.set(database=name)
                upgrade(url)
                repo = Repository(url, owner="bench")
                stored = _dask(client, args.n, repo)
                print(f"dask 2x1    {args.n} analyses saved to Postgres: {stored:6.2f} s "
                      f"({stored / args.n * 1000:.0f} ms each)")
                repo.close()
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.dispose()
    finally:
        close_local_cluster()


if __name__ == "__main__":
    main()
