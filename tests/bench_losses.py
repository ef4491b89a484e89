"""Benchmark: forward+backward time of the regularisers against embedding dimension D.

    python tests/bench_losses.py [--batch 256] [--dims 64 144 256 512 1024 2048] [--repeats 5]
                                 [--processes 3] [--warmup 2] [--threads N] [--out FILE.json]

Prints a table (milliseconds) and, with --out, writes the rows as JSON for the paper's cost
figure (``rows``: one dict per D with "dim" and one key per loss name, as before; the extra
keys beside ``rows`` are not plotted).  Not a test: timings depend on the machine and on
what else runs on it.  How each number is made, so that it is the loss's cost and not the
order it ran in (issue 14):

* Fresh processes: every D is measured in ``--processes`` fresh processes (this script
  re-executing itself with ``--worker``); each process times all the losses, interleaved
  call by call after ``--warmup`` untimed calls of each, and takes the median of
  ``--repeats`` timed calls per loss; the figure reported is the median over the processes.
* glibc malloc: by default glibc returns big freed blocks to the kernel and raises its mmap
  threshold only as big blocks get freed, so a loss's time depended on what the process
  had allocated before (the first, smallest D paid page faults the later ones did not:
  SIGReg at D=64 came out slower than at D=512).  The measuring processes get MALLOC_ENV
  below (a fixed mmap threshold of 32 MiB, the largest glibc accepts on 64-bit, and no
  trimming), and the dimensions run largest first.  Blocks above 32 MiB are still mapped
  fresh on every call (with the defaults, none is: SIGReg M=1024 at B=256 makes 17 MiB).
* Fused vs plain SIGReg: beside each SIGReg loss (the fused Epps-Pulley, the default) the
  same loss with the plain autograd formula (``SIGRegLoss.fused = False``) runs in the same
  processes, interleaved with it; ``fused/plain`` is the ratio of their medians in each
  process, median over the processes.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from jepa_torus.losses import SIGRegLoss, ToroidalCovarianceLoss, VICRegLoss

LOSSES = {
    "VICReg": lambda d: VICRegLoss(),
    "SIGReg M=256": lambda d: SIGRegLoss(num_slices=256),
    "SIGReg M=1024": lambda d: SIGRegLoss(num_slices=1024),
    "Toroidal N=12": lambda d: ToroidalCovarianceLoss(grid_size=12),
}
SIGREG = [name for name in LOSSES if name.startswith("SIGReg")]  # also timed with the plain formula
PLAIN = " plain"  # suffix of the plain-formula twins inside a worker
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**40)}


def plain(make):
    def build(d):
        loss = make(d)
        loss.fused = False
        return loss
    return build


def time_losses(makers: dict, batch: int, dim: int, repeats: int, warmup: int) -> dict[str, float]:
    """Median ms of ``repeats`` forward+backward calls of every loss, after ``warmup`` calls of
    each (the first builds cached weights); the calls are interleaved, so drifts of the
    machine hit every loss alike."""
    torch.manual_seed(0)
    z_a = torch.randn(batch, dim, requires_grad=True)
    z_b = torch.randn(batch, dim, requires_grad=True)
    losses = {name: make(dim) for name, make in makers.items()}
    times: dict[str, list[float]] = {name: [] for name in losses}
    gc.collect()
    gc.disable()  # as timeit: no collection pauses inside a timed call
    try:
        for i in range(warmup + repeats):
            for name, loss in losses.items():
                z_a.grad = z_b.grad = None
                t0 = time.perf_counter()
                loss(z_a, z_b)["loss"].backward()
                if i >= warmup:
                    times[name].append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return {name: 1000 * statistics.median(ts) for name, ts in times.items()}


def worker(args) -> None:
    """One fresh process: time every loss (and the plain SIGReg twins) at one D, print JSON."""
    torch.set_num_threads(args.threads)
    makers = dict(LOSSES)
    makers.update({name + PLAIN: plain(LOSSES[name]) for name in SIGREG})
    ms = time_losses(makers, args.batch, args.worker, args.repeats, args.warmup)
    env = {k: os.environ.get(k) for k in MALLOC_ENV}
    print(json.dumps({"dim": args.worker, "ms": ms, "malloc_env": env}))


def run_worker(args, dim: int) -> dict:
    """Re-execute this script in a fresh process with MALLOC_ENV; its measurements."""
    env = dict(os.environ, **MALLOC_ENV)
    root = str(Path(__import__("jepa_torus").__file__).resolve().parent.parent)  # the same package
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(dim), "--batch", str(args.batch),
           "--repeats", str(args.repeats), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench_losses: the worker for D={dim} failed (exit {proc.returncode})")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["malloc_env"] != MALLOC_ENV:
        raise SystemExit(f"bench_losses: the worker did not get {MALLOC_ENV}: {out['malloc_env']}")
    return out


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--dims", type=int, nargs="+", default=[64, 144, 256, 512, 1024, 2048])
    p.add_argument("--repeats", type=int, default=5, help="timed calls per loss in each process (median)")
    p.add_argument("--processes", type=int, default=3, help="fresh processes per D (median over them)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls per loss before the timed ones")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--out", default=None)
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)  # internal: measure this D
    args = p.parse_args(argv)
    if min(args.repeats, args.processes, args.threads, args.batch) < 1 or args.warmup < 0:
        p.error("--repeats, --processes, --threads and --batch must be >= 1, --warmup >= 0")
    if args.worker is not None:
        worker(args)
        return []
    malloc = " ".join(f"{k}={v}" for k, v in MALLOC_ENV.items())
    print(f"forward+backward ms, B={args.batch}, {args.threads} threads, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}\n"
          f"median over {args.processes} fresh processes of the median of {args.repeats} calls "
          f"(after {args.warmup} warm-up calls), D largest first; {malloc}")
    names = list(LOSSES)
    cols = names + [f"{n.split()[1]} f/p" for n in SIGREG]
    print(f"{'D':>6} " + " ".join(f"{c:>14}" for c in cols), flush=True)
    rows, plains, ratios, cells = [], [], [], []
    for dim in sorted(set(args.dims), reverse=True):
        outs = [run_worker(args, dim) for _ in range(args.processes)]
        cells += [{"dim": dim, "process": i, "ms": o["ms"]} for i, o in enumerate(outs)]
        row = {"dim": dim, **{n: statistics.median(o["ms"][n] for o in outs) for n in names}}
        plain_row = {"dim": dim, **{n: statistics.median(o["ms"][n + PLAIN] for o in outs) for n in SIGREG}}
        ratio = {"dim": dim, **{n: statistics.median(o["ms"][n] / o["ms"][n + PLAIN] for o in outs) for n in SIGREG}}
        rows.append(row)
        plains.append(plain_row)
        ratios.append(ratio)
        print(f"{dim:>6} " + " ".join(f"{row[n]:>14.2f}" for n in names)
              + " " + " ".join(f"{ratio[n]:>14.2f}" for n in SIGREG), flush=True)
    rows, plains, ratios = (sorted(x, key=lambda r: r["dim"]) for x in (rows, plains, ratios))
    print("\nplain (unfused) Epps-Pulley SIGReg, ms, and fused/plain (same processes):")
    print(f"{'D':>6} " + " ".join(f"{n + ' plain':>20} {'fused/plain':>11}" for n in SIGREG))
    for pr, ra in zip(plains, ratios):
        print(f"{pr['dim']:>6} " + " ".join(f"{pr[n]:>20.2f} {ra[n]:>11.2f}" for n in SIGREG))
    if args.out:
        meta = {"batch": args.batch, "threads": args.threads, "torch": torch.__version__, "cpus": os.cpu_count(),
                "repeats": args.repeats, "processes": args.processes, "warmup": args.warmup,
                "order": "descending D, each D in fresh processes", "malloc_env": MALLOC_ENV,
                "statistic": "median over processes of each process's median over repeats (ms)"}
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"meta": meta, "rows": rows, "plain": plains, "fused_over_plain": ratios, "processes": cells},
                      f, indent=1)
        os.replace(tmp, args.out)
    return rows


if __name__ == "__main__":
    main()
