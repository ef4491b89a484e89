"""Benchmark: forward+backward time of the regularisers against embedding dimension D.

    python tests/bench_losses.py [--batch 256] [--dims 64 144 256 512 1024 2048] [--out FILE.json]

Prints a table (milliseconds, median of --repeats after one warm-up) and, with --out,
writes the rows as JSON for the paper's cost figure.  Not a test: timings depend on the
machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch

from jepa_torus.losses import SIGRegLoss, ToroidalCovarianceLoss, VICRegLoss

LOSSES = {
    "VICReg": lambda d: VICRegLoss(),
    "SIGReg M=256": lambda d: SIGRegLoss(num_slices=256),
    "SIGReg M=1024": lambda d: SIGRegLoss(num_slices=1024),
    "Toroidal N=12": lambda d: ToroidalCovarianceLoss(grid_size=12),
}


def time_loss(loss: torch.nn.Module, batch: int, dim: int, repeats: int) -> float:
    z_a = torch.randn(batch, dim, requires_grad=True)
    z_b = torch.randn(batch, dim, requires_grad=True)
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        loss(z_a, z_b)["loss"].backward()
        if i:  # the first call builds cached weights: warm-up
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--dims", type=int, nargs="+", default=[64, 144, 256, 512, 1024, 2048])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    print(f"forward+backward ms, B={args.batch}, {args.threads} threads, torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'D':>6} " + " ".join(f"{name:>14}" for name in LOSSES))
    for dim in args.dims:
        row = {"dim": dim}
        for name, make in LOSSES.items():
            row[name] = time_loss(make(dim), args.batch, dim, args.repeats)
        rows.append(row)
        print(f"{dim:>6} " + " ".join(f"{row[name]:>14.2f}" for name in LOSSES), flush=True)
    if args.out:
        meta = {"batch": args.batch, "threads": args.threads, "torch": torch.__version__, "cpus": os.cpu_count()}
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
        os.replace(tmp, args.out)
    return rows


if __name__ == "__main__":
    main()
