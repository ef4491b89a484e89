"""Validation of the topology instrument on known shapes, and its cost (a benchmark, not a test).

    OMP_NUM_THREADS=1 python tests/bench_topology.py [--profile cpu] [--out runs/cpu/bench_topology.json]

For every shape of ``jepa_torus.shapes.BANK`` (2-tori embedded in several ways, and shapes a
loose rule could call a torus): ``metrics.topology`` with the intrinsic metric (the default)
and with the Euclidean one, on n points with a little noise, its resamples and null draws
included.  Prints and writes, per shape: expected signature, the modal signature found, the
fraction of resamples giving the expected one, the graded torus score and the seconds.  Then
the cost of the default instrument on 1000 points in R^256 and 2000 in R^512 (a flat torus,
one thread).  ``make paper`` runs it (the paper's validation table is written from its JSON
by ``jepa_torus.report``); ``tests/test_topology_bank.py`` asserts a cheap subset.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

from threadpoolctl import threadpool_limits

from jepa_torus import metrics, shapes

SETTINGS = {   # profile -> points per shape, landmarks, resamples, shapes (None = all)
    "smoke": dict(n=400, n_landmarks=80, n_resamples=3,
                  names=["clifford_torus", "ring_torus", "circle", "sphere", "figure_eight", "gaussian_blob"]),
    "cpu": dict(n=1000, n_landmarks=200, n_resamples=5, names=None),
    "gpu": dict(n=1000, n_landmarks=200, n_resamples=5, names=None),
}
NOISE = 0.05   # per-coordinate noise std, in units of the shape's smallest loop radius (shapes.py);
# not on torus_world's pixels, which are the instrument's control as the runs see it


def validate(name: str, n: int, n_landmarks: int, n_resamples: int, seed: int = 0) -> dict:
    shape = shapes.BANK[name]
    x = shape.sample(n, seed=seed, noise=0.0 if name == "torus_world_pixels" else NOISE)  # pixels: the data as is
    row = {"shape": name, "description": shape.description, "expected": list(shape.expected),
           "positive": shape.positive, "n": n, "dim": int(x.shape[1])}
    for metric in metrics.METRICS:
        t0 = time.perf_counter()
        top = metrics.topology(x, n_resamples=n_resamples, n_landmarks=n_landmarks, metric=metric, seed=seed)
        sig = [tuple(s[:3]) for s in top.signatures]
        row[metric] = {"modal": list(top.modal), "right": sig.count(tuple(shape.expected)) / len(sig),
                       "torus_fraction": top.torus_fraction, "score": top.score,
                       "seconds": round(time.perf_counter() - t0, 1)}
    return row


def cost(n: int, dim: int, n_landmarks: int = 200) -> dict:
    """Seconds of the default instrument (resamples and null draws included), one thread."""
    x = metrics.clifford_torus(n, seed=1, dim=dim, noise=0.03)
    t0, c0 = time.perf_counter(), time.process_time()
    top = metrics.topology(x, n_landmarks=n_landmarks)
    return {"n": n, "dim": dim, "modal": list(top.modal), "seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(time.process_time() - c0, 1)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="cpu", choices=sorted(SETTINGS))
    p.add_argument("--out", help="JSON file to write (runs/<profile>/bench_topology.json under make)")
    a = p.parse_args(argv)
    s = SETTINGS[a.profile]
    names = s["names"] or list(shapes.BANK)
    rows = []
    with threadpool_limits(1):
        print(f"{'shape':24s} {'expected':10s} {'intrinsic':18s} {'euclidean':18s}")
        for name in names:
            r = validate(name, s["n"], s["n_landmarks"], s["n_resamples"])
            rows.append(r)
            cells = [f"{tuple(r[m]['modal'])} {r[m]['right']:.1f} {r[m]['seconds']:4.0f}s" for m in metrics.METRICS]
            print(f"{name:24s} {str(tuple(r['expected'])):10s} {cells[0]:18s} {cells[1]:18s}", flush=True)
        costs = [cost(400, 64, 80)] if a.profile == "smoke" else [cost(1000, 256), cost(2000, 512)]
    for c in costs:
        print(f"cost: {c['n']} points in R^{c['dim']}: {c['seconds']} s wall, {c['cpu_seconds']} s CPU, "
              f"signature {tuple(c['modal'])}")
    right = {m: sum(r[m]["modal"] == r["expected"] for r in rows) for m in metrics.METRICS}
    print(f"modal signature right: intrinsic {right['intrinsic']}/{len(rows)}, euclidean {right['euclidean']}/{len(rows)}")
    result = {"profile": a.profile, "noise": NOISE, "settings": {k: v for k, v in s.items() if k != "names"},
              "rows": rows, "cost": costs, "machine": platform.machine(), "load": os.getloadavg()[0]}
    if a.out:
        from jepa_torus.files import atomic_write_json

        atomic_write_json(a.out, result)


if __name__ == "__main__":
    main()
