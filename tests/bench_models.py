"""Training throughput of the encoders and predictors on this CPU (a script, not a test).

    .venv/bin/python tests/bench_models.py [--threads 2] [--batch 256] [--steps 4] [--only convnet]

On a machine shared with other jobs use --threads 1 and read the img/cpu-s column: a 2-thread
OpenMP team spins at every barrier while a core is taken, so both of its columns inflate.

Images/s of one SGD step (forward + backward + zero_grad, model in train mode) at batch 256,
after one warm-up step that is not timed; the median step time over --steps steps (capped at
--budget seconds per row).  A JEPA step encodes two views, so pairs/s = images/s / 2 and
one Fashion-MNIST epoch of pairs (60k) takes 120k / (images/s) seconds.

Two rates per row: wall-clock images/s, and images per CPU-second (process time, all threads).
The second is the one to compare rows by on a shared machine: other jobs stretch the wall
clock (and stall OpenMP barriers) but barely change the CPU time a step needs.  The load
average before and after is printed so a reader can judge the wall-clock column.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from jepa_torus.models import ConvNet, HamiltonianPredictor, MLPPredictor, count_params, resnet18


def step_times(model, x, steps, budget):
    """Seconds per forward+backward step: one warm-up step, then up to `steps` timed ones."""
    model.train()
    wall, cpu = [], []
    for i in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        model(x).square().mean().backward()
        model.zero_grad(set_to_none=True)
        if i > 0:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        if sum(wall) > budget:
            break
    return statistics.median(wall), statistics.median(cpu)


def bench_encoder(name, make, shape, batch, steps, budget, channels_last):
    torch.manual_seed(0)
    model = make()
    x = torch.randn(batch, *shape)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    wall, cpu = step_times(model, x, steps, budget)
    ips = batch / wall
    epoch_min = 2 * 60_000 / ips / 60
    fmt = "NHWC" if channels_last else "NCHW"
    print(f"| {name:<34} | {'x'.join(map(str, shape)):<7} | {fmt} | {count_params(model) / 1e6:6.2f} M | "
          f"{ips:7.0f} | {batch / cpu:7.0f} | {epoch_min:6.1f} |", flush=True)
    return ips


def bench_predictor(name, model, dim, batch, steps, budget):
    torch.manual_seed(0)
    z = torch.randn(batch, dim, requires_grad=True)  # gradient flows back to the encoder too
    wall, cpu = step_times(model, z, steps, budget)
    print(f"| {name:<44} | {count_params(model):8d} | {1e3 * wall:7.2f} ms | {1e3 * cpu:7.2f} ms |", flush=True)


HEADER = ("\n| encoder | input | fmt | params | img/s | img/cpu-s | min/epoch (2 views, wall) |"
          "\n|---|---|---|---|---|---|---|")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--budget", type=float, default=30.0, help="max timed seconds per row")
    ap.add_argument("--only", choices=["convnet", "resnet", "predictor"], default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{args.threads} threads, batch {args.batch}, median of <= {args.steps} steps after 1 warm-up, "
          f"load average {os.getloadavg()[0]:.2f}")
    b, s, bud = args.batch, args.steps, args.budget

    if args.only in (None, "convnet"):
        print(HEADER)
        convnets = [  # (widths, conv layers per stage)
            ((32, 64, 128), 2),          # the 6-conv net of the first CPU profile
            ((32, 64, 128), 1),
            ((32, 64, 128), (1, 1, 2)),
            ((32, 64, 128, 256), 1),
            ((32, 64, 128, 256), 2),
            ((64, 128, 256, 512), 1),
            ((64, 128, 256, 512), 2),
            ((16, 32, 64, 128), 2),      # half width at full resolution, one more stage
        ]
        for widths, blocks in convnets:
            for cl in (False, True):
                name = f"convnet {'-'.join(map(str, widths))} x{str(blocks).replace(' ', '')}"
                bench_encoder(name, lambda: ConvNet(1, widths, blocks), (1, 28, 28), b, s, bud, cl)

    if args.only in (None, "resnet"):
        print(HEADER)
        for width in (16, 32, 64):
            for cl in (False, True):
                bench_encoder(f"resnet18 width {width}", lambda: resnet18(3, width), (3, 32, 32), b, s, bud, cl)
        bench_encoder("resnet18 width 16", lambda: resnet18(1, 16), (1, 28, 28), b, s, bud, True)

    if args.only in (None, "predictor"):
        print("\n| predictor (fwd+bwd, batch %d) | params | wall/step | cpu/step |\n|---|---|---|---|" % b)
        for dim in (256, 512):
            ham = HamiltonianPredictor(dim)
            n = count_params(ham)
            bench_predictor(f"hamiltonian D={dim} hidden 256 depth 2 steps 2", ham, dim, b, 20, bud)
            bench_predictor(f"hamiltonian D={dim} hidden 256 depth 2 steps 4", HamiltonianPredictor(dim, steps=4),
                            dim, b, 20, bud)
            bench_predictor(f"mlp D={dim} matched (residual)", MLPPredictor(dim, depth=2, residual=True,
                                                                          param_count=n), dim, b, 20, bud)
            bench_predictor(f"mlp D={dim} hidden 1024 depth 1", MLPPredictor(dim, 1024, 1), dim, b, 20, bud)
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
