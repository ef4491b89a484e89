"""Benchmark: time and counts of ``betti_numbers`` (maxdim 2) with the default settings.

    python tests/bench_topology.py [--sizes 1000 2000] [--noise 0.03] [--out FILE.json]

Two tables: (1) a flat torus in R^4 and the same torus randomly rotated into R^512 with
N(0, noise^2) per coordinate, at each size; (2) every known manifold of
tests/test_metrics.py (expected counts, counts found, seconds).  Not a test: timings
depend on the machine and on what else runs on it (the load average is printed; cpu s is
the process CPU time, which load does not inflate as much as the wall clock).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_metrics import MANIFOLDS  # noqa: E402  (one definition of the test manifolds)

from jepa_torus.metrics import clifford_torus, persistence, torus_score  # noqa: E402


def run(name: str, x: np.ndarray, expected=None) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    res = persistence(x)  # the defaults: what betti_numbers runs
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    row = dict(name=name, n=len(x), dim=x.shape[1], betti=list(res.betti), seconds=round(seconds, 2),
               cpu_seconds=round(cpu, 2), torus_score=round(torus_score(res), 3))
    if expected is not None:
        row["expected"] = list(expected)
    return row


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    p.add_argument("--noise", type=float, default=0.03, help="per-coordinate noise of the R^512 torus")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    print(f"ripser maxdim 2, default persistence(); {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")

    rows = []
    persistence(clifford_torus(100, seed=0), n_landmarks=20, n_null=1)  # warm-up: imports are not timed
    print(f"\n{'data':<24} {'n':>5} {'betti':>10} {'seconds':>8} {'cpu s':>6} {'torus score':>12}")
    for n in args.sizes:
        for name, x in (("torus R^4", clifford_torus(n, seed=0)),
                        (f"torus R^512 noise {args.noise}", clifford_torus(n, seed=0, dim=512, noise=args.noise))):
            r = run(name, x)
            rows.append(r)
            print(f"{name:<24} {n:>5} {str(tuple(r['betti'])):>10} {r['seconds']:>8.1f} {r['cpu_seconds']:>6.1f} "
                  f"{r['torus_score']:>12.3f}", flush=True)

    print(f"\n{'known manifold':<24} {'n':>5} {'expected':>10} {'found':>10} {'seconds':>8} {'cpu s':>6} {'torus score':>12}")
    for name, (make, expected) in MANIFOLDS.items():
        x = make()
        r = run(name, x, expected)
        rows.append(r)
        ok = "" if tuple(r["betti"]) == tuple(expected) else "  MISMATCH"
        print(f"{name:<24} {len(x):>5} {str(tuple(expected)):>10} {str(tuple(r['betti'])):>10} "
              f"{r['seconds']:>8.1f} {r['cpu_seconds']:>6.1f} {r['torus_score']:>12.3f}{ok}", flush=True)

    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
