"""Re-run the geometry of finished runs on the points they saved (issue 12, 2026-12-02).

    OMP_NUM_THREADS=1 python tests/reanalyse_runs.py runs/cpu/torus_world/*/seed*/ [--jobs 2]

For runs evaluated by the Euclidean instrument before it became intrinsic: the topology
(resampled, graded torus score), intrinsic dimension, spectral gap ratio and label-free angles
are recomputed from features.npz by ``jepa_torus.eval.reanalyse``; probes and circular
decoding stay as the run measured them.  No retraining.  One line per run: its new signature.
"""
import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def one(folder: str) -> str:
    from threadpoolctl import threadpool_limits

    from jepa_torus.eval import reanalyse

    t = time.perf_counter()
    with threadpool_limits(1):
        res = reanalyse(folder)
    angles = res.get("label_free_angles", {}).get("min_correlation")
    return (f"{folder}: betti {res['betti']} torus fraction {res['torus_fraction']:.1f} score {res['torus_score']:.2f}"
            + (f" angles {angles:.2f}" if angles is not None else "") + f" ({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    folders = [str(Path(r)) for r in a.runs if (Path(r) / "features.npz").exists()]
    with ProcessPoolExecutor(a.jobs) as pool:
        for line in pool.map(one, folders):
            print(line, flush=True)
    sys.exit(0)
