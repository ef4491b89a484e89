"""Choose nuisance_torus's training length in the cpu profile on TRAINING images, by a rule
fixed before the runs and the same for every method (not a test; run by hand, once).

    OMP_NUM_THREADS=1 .venv/bin/python tests/select_nuisance_schedule.py [--epochs 16] [--work /tmp/nt_sched]

Trains VICReg, SIGReg, toroidal N=12 and the supervised reference at seed 0 for ``--epochs``
epochs (cosine schedule over that length), two runs side by side, one thread each, and reads
the monitor's circular R^2 at every epoch's end (``monitor_circular_r2``: the embedding z of
1500 fixed training images with one fixed nuisance draw, a ridge regression scored out of
fold; never the test split).  The rule: the profile's epochs are the first epoch at which the mean over the three
self-supervised methods comes within ``--tolerance`` (0.02) of that mean's best value.
Writes the curves and the choice to paper/data/nuisance_schedule.json (the paper cites it).
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

from jepa_torus import runs

SSL = ["baseline_vicreg", "baseline_sigreg", "toroidal_N12"]
CONFIGS = SSL + ["supervised_angles"]


def curve(folder: Path) -> list[float]:
    return [r["monitor_circular_r2"] for r in runs.read_metrics(folder) if r.get("epoch_end")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--tolerance", type=float, default=0.02)
    p.add_argument("--work", default="/tmp/nt_sched")
    p.add_argument("--out", default=str(runs.REPO / "paper" / "data" / "nuisance_schedule.json"))
    a = p.parse_args()
    work = Path(a.work)
    procs = []
    for name in CONFIGS:  # two at a time, as make -j2 runs the profile
        cmd = [sys.executable, "-m", "jepa_torus.train", "--config", f"configs/{name}.yaml", "--profile", "cpu",
               "--dataset", "nuisance_torus", "--epochs", str(a.epochs), "--eval.analysis", "false",
               "--progress", "false", "--output-dir", str(work / name)]
        procs.append(subprocess.Popen(cmd, cwd=runs.REPO, stdout=open(work.mkdir(parents=True, exist_ok=True) or
                                                                        work / f"{name}.log", "w"),
                                      stderr=subprocess.STDOUT))
        if len([q for q in procs if q.poll() is None]) >= 2:
            procs[-2].wait() if procs[-2].poll() is None else None
            while len([q for q in procs if q.poll() is None]) >= 2:
                next(q for q in procs if q.poll() is None).wait()
    for q in procs:
        if q.wait():
            raise SystemExit(f"a run failed: see {work}/*.log")
    curves = {name: curve(work / name) for name in CONFIGS}
    mean = [sum(curves[m][e] for m in SSL) / len(SSL) for e in range(a.epochs)]
    best = max(mean)
    chosen = next(e + 1 for e, v in enumerate(mean) if v >= best - a.tolerance)
    out = {"rule": f"first epoch where the mean over {SSL} of monitor_circular_r2 is within {a.tolerance} of its best",
           "epochs_trained": a.epochs, "curves": curves, "ssl_mean": mean, "chosen_epochs": chosen}
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    for name, c in curves.items():
        print(f"{name:20s} " + " ".join(f"{v:.2f}" for v in c))
    print(f"{'SSL mean':20s} " + " ".join(f"{v:.2f}" for v in mean))
    print(f"chosen: {chosen} epochs")


if __name__ == "__main__":
    main()
