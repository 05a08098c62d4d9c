"""Speed and memory of ``analyze`` on large synthetic tables (issue 2 targets).

Targets: a 100k-row table in at most 5x the time ``pandas.read_csv`` needs for the same file;
a 1M-row table under 1.5 GB peak RSS. Each measurement runs in a fresh subprocess so that
peak RSS is that of one analysis. Run: ``python benchmarks/bench_analyze.py [--rows 100000 1000000]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

CHILD = r"""
import json, resource, sys, time
import pandas as pd
path, what = sys.argv[1], sys.argv[2]
peak_mb = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
if what == "read_csv":
    pd.read_csv(path)
    out = {"seconds": time.perf_counter() - t0, "peak_rss_mb": peak_mb()}
else:
    import ganglioside_nb as g
    import ganglioside_nb.core.pipeline         # module imports (scikit-learn: ~0.2 s) are setup,
    from ganglioside_nb.core.names import species_formula  # as `import pandas` is for read_csv
    species_formula("GD1(36:1;O2)")            # pygoslin grammar load, once per process
    t1 = time.perf_counter()
    r = g.analyze(path)
    cold = time.perf_counter() - t1
    peak = peak_mb()                            # one analysis, its result still alive
    stats = r.statistics
    del r
    events = []
    t2 = time.perf_counter()
    g.analyze(path, progress=events.append)
    ends = [e.elapsed_s for e in events]
    steps = {e.step: round(1e3 * (end - start), 1)   # warm, ms per step (read ... done)
             for e, start, end in zip(events, [0.0, *ends], ends)}
    warm = time.perf_counter() - t2
    # The least any analysis must do: read, validate, name fields, the Rule 1 verdict, the
    # confidence score and the result (Rules 4-9 left out), warm, best of three.
    from ganglioside_nb.core.rules import DEFAULT_RULES
    from ganglioside_nb.core.pipeline import analyze
    needed = {"derive_sugar_composition", "flag_rt_outliers", "derive_confidence"}
    minimal = tuple(rule for rule in DEFAULT_RULES if rule.__name__ in needed)
    analyze(path, rules=minimal)
    least = []
    for _ in range(3):
        t3 = time.perf_counter()
        analyze(path, rules=minimal)
        least.append(time.perf_counter() - t3)
    out = {"seconds": cold, "warm_seconds": warm, "minimal_seconds": min(least),
           "import_and_setup": t1 - t0,
           "peak_rss_mb": peak, "rows": stats["total_rows"], "anchors": stats["anchors"],
           "oos_r2": stats["oos_r2"], "method": stats["validation_method"], "steps_ms": steps}
print(json.dumps(out))
"""


def table(rows: int) -> Path:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"synthetic_{rows}.csv"
    if not path.exists():
        from ganglioside_nb.testing import large_table
        large_table(rows, seed=1).to_csv(path, index=False)
    return path


def run(path: Path, what: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), what], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", action="store_true", help="also print the warm run's ms per step")
    args = ap.parse_args()
    for rows in args.rows:
        path = table(rows)
        reads = sorted(run(path, "read_csv")["seconds"] for _ in range(args.repeat))
        res = run(path, "analyze")
        read = reads[len(reads) // 2]
        print(json.dumps({"rows": rows, "file_mb": round(path.stat().st_size / 2**20, 1),
                          "read_csv_s": round(read, 3), "analyze_cold_s": round(res["seconds"], 2),
                          "analyze_warm_s": round(res["warm_seconds"], 2),
                          "ratio_cold": round(res["seconds"] / read, 1),
                          "ratio_warm": round(res["warm_seconds"] / read, 1),
                          "minimal_warm_s": round(res["minimal_seconds"], 3),
                          "ratio_minimal": round(res["minimal_seconds"] / read, 1),
                          "import_setup_s": round(res["import_and_setup"], 2),
                          "peak_rss_mb": round(res["peak_rss_mb"]), "anchors": res["anchors"],
                          "oos_r2": res["oos_r2"], "validation": res["method"]}))
        if args.steps:
            print(json.dumps({"rows": rows, "warm_steps_ms": res["steps_ms"]}))


if __name__ == "__main__":
    main()
