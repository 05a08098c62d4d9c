"""The first analysis on a fresh Dask worker, with and without the warm-up preload.

A new worker process pays for loading the analysis core (scikit-learn, SciPy, pygoslin, the
per-name caches) on its first analysis. ``ganglioside_nb.execution.warmup`` does that in the
background as the worker starts. Each variant runs in a fresh process: a 2-worker LocalCluster
(the library's settings), ``--idle`` seconds of nothing (the user choosing a file), then one
analysis of the bundled sample on each worker in turn, then a third one (warm).

Run: ``python benchmarks/bench_first_analysis.py [--idle 3] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import dask
from distributed import Client, LocalCluster
from ganglioside_nb import datasets
from ganglioside_nb.execution.cluster import LOCAL_CLUSTER_CONFIG
from ganglioside_nb.execution.warmup import MODULE

def analyse(path):
    from ganglioside_nb.core.pipeline import analyze
    return len(analyze(path).compounds)

if __name__ == "__main__":
    preload, idle = sys.argv[1] == "preload", float(sys.argv[2])
    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0", host="127.0.0.1",
                               preload=[MODULE] if preload else [])
    client = Client(cluster)
    client.wait_for_workers(2)
    time.sleep(idle)
    path = str(datasets.sample_path())
    workers = sorted(client.scheduler_info()["workers"])
    times = []
    for address in [*workers, workers[0]]:
        start = time.perf_counter()
        client.submit(analyse, path, workers=[address], pure=False).result()
        times.append(time.perf_counter() - start)
    print(json.dumps(times))
    client.close()
    cluster.close()
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    runs: dict[str, list[list[float]]] = {"none": [], "preload": []}
    for _ in range(args.rounds):
        for variant in runs:  # alternating, each in a fresh process
            out = subprocess.run([sys.executable, "-c", CHILD, variant, str(args.idle)],
                                 capture_output=True, text=True, check=True)
            runs[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for variant, times in runs.items():
        firsts = [t for run in times for t in run[:2]]
        warm = [run[2] for run in times]
        print(json.dumps({"preload": variant, "idle_s": args.idle,
                          "first_analysis_per_worker_s": [round(t, 3) for t in firsts],
                          "median_first_s": round(statistics.median(firsts), 3),
                          "median_warm_s": round(statistics.median(warm), 3)}))


if __name__ == "__main__":
    main()
