"""Throughput of batched two-view augmentation on this CPU.

    .venv/bin/python tests/bench_augment.py [--reps 20] [--batch 256]

For each recipe (Fashion-MNIST 1x28x28, CIFAR 3x32x32, torus_world 1x32x32) and 1 and 2
threads: a uint8 batch of ``--batch`` images -> two normalised float views, timed over
``--reps`` calls after 3 warm-up calls.  Prints the median and the spread (min-max) of the
milliseconds per call, images/s (source images; each yields two views), and CPU time per
call (less sensitive than wall time when other processes share the cores).
Budget: under 15% of a training step; a small ConvNet step on 256 images takes 1-2 s here.
Not collected by pytest (no test_ prefix).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from jepa_torus.augment import augment_for

CASES = (("fashion_mnist", (1, 28, 28)), ("cifar10", (3, 32, 32)), ("torus_world", (1, 32, 32)))


def time_case(name: str, shape: tuple[int, int, int], batch: int, reps: int) -> dict:
    aug = augment_for(name)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (batch, *shape), dtype=torch.uint8, generator=gen)
    for _ in range(3):
        aug.two_views(x, gen)
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        aug.two_views(x, gen)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(wall)
    return {"ms": 1e3 * med, "min": 1e3 * min(wall), "max": 1e3 * max(wall),
            "cpu_ms": 1e3 * statistics.median(cpu), "img_s": batch / med}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args(argv)
    print(f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"# batch {args.batch} -> 2 views, {args.reps} timed calls, wall-clock median [min-max]")
    print(f"{'recipe':<14} {'shape':<9} {'threads':>7} {'ms/call':>8} {'[min-max]':>15} {'cpu ms':>7} {'img/s':>7}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, shape in CASES:
            r = time_case(name, shape, args.batch, args.reps)
            spread = f"[{r['min']:.1f}-{r['max']:.1f}]"
            print(f"{name:<14} {'x'.join(map(str, shape)):<9} {threads:>7} {r['ms']:>8.1f} {spread:>15} "
                  f"{r['cpu_ms']:>7.1f} {r['img_s']:>7.0f}")
    print(f"# load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
