"""A/B timing of ``analyze`` between two checkouts of this repository, per step.

This machine's speed drifts by 10-20 % within minutes, so two versions are only compared in one
sitting, alternating: each round runs one fresh process per checkout (A, then B), and each
process analyses the file once to warm up and then ``--calls`` times, keeping its fastest run of
every step (the ``progress`` events). The table shows the median over the rounds.

    git worktree add /tmp/base HEAD~3          # the version to compare with
    .venv/bin/python benchmarks/ab_analyze.py /tmp/base . --rounds 5

The file defaults to the 100k-row table of ``bench_analyze.py`` (written on first use).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench_analyze import table

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])           # this checkout's package, ahead of the installed one
import ganglioside_nb as g
path, calls = sys.argv[2], int(sys.argv[3])
assert g.__file__.startswith(sys.argv[1]), g.__file__
g.analyze(path)
best = {}
for _ in range(calls):
    events = []
    t0 = time.perf_counter()
    g.analyze(path, progress=events.append)
    total = time.perf_counter() - t0
    ends = [e.elapsed_s for e in events]
    for e, start, end in zip(events, [0.0, *ends], ends):
        best[e.step] = min(best.get(e.step, total), end - start)
    best["total"] = min(best.get("total", total), total)
print(json.dumps(best))
"""


def run(checkout: Path, path: Path, calls: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(checkout), str(path), str(calls)],
                         capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path, help="checkout A (the reference)")
    ap.add_argument("b", type=Path, help="checkout B")
    ap.add_argument("--file", type=Path, help="table to analyse (default: 100k synthetic rows)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--calls", type=int, default=5, help="analyses per process after warm-up")
    args = ap.parse_args()
    path = (args.file or table(100_000)).resolve()
    checkouts = [args.a.resolve(), args.b.resolve()]
    runs: dict[Path, list[dict[str, float]]] = {c: [] for c in checkouts}
    for _ in range(args.rounds):
        for checkout in checkouts:
            runs[checkout].append(run(checkout, path, args.calls))
    print(f"{path.name}, {args.rounds} rounds, ms (median of each process's fastest run)")
    print(f"{'step':28s} {'A':>8s} {'B':>8s} {'B - A':>8s}")
    for step in runs[checkouts[0]][0]:
        a, b = (1e3 * statistics.median(r[step] for r in runs[c]) for c in checkouts)
        print(f"{step:28s} {a:8.1f} {b:8.1f} {b - a:+8.1f}")


if __name__ == "__main__":
    main()
