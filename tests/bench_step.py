"""A full training step of a profile's model against its parts (a script, not a test).

    .venv/bin/python tests/bench_step.py [--profile cpu] [--config baseline_vicreg] [--steps 10] [--threads 1]

Times, on the real Fashion-MNIST training images and the profile's config, after 2 warm-up
steps: (a) the two-view augmentation of one batch, (b) forward + backward + optimiser step on
views made in advance, (c) the full step as train.py runs it (a + b).  Prints the median wall
time, images per second (source images; each gives two views) and the share of (c) spent in (a);
the budget is under 15 %.  CPU seconds per step are printed too: on a shared machine they move
less than the wall clock.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from dataclasses import asdict

from jepa_torus import models as M
from jepa_torus.augment import augment_for
from jepa_torus.config import resolve
from jepa_torus.data import load_split
from jepa_torus.objective import Objective
from jepa_torus.runs import REPO


def timed(fn, steps: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of fn() over ``steps`` calls after 2 warm-ups."""
    for _ in range(2):
        fn()
    wall, cpu = [], []
    for _ in range(steps):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="cpu")
    p.add_argument("--config", default="baseline_vicreg")
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = resolve(REPO / "configs" / f"{args.config}.yaml", args.profile, {"dataset": args.dataset})
    split = load_split(cfg.data, "train")
    augment = augment_for(cfg.data.dataset, **cfg.data.augment)
    torch.manual_seed(0)
    model = M.build_model(asdict(cfg.model))
    bs = cfg.optim.batch_size
    objective = Objective(cfg.objective, model, steps_per_epoch=len(split) // bs)
    target = M.ema_copy(model) if cfg.objective.ema_momentum > 0 else None
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    gen = torch.Generator().manual_seed(0)
    batch = split.images[torch.randperm(len(split), generator=gen)[:bs]]
    views = augment.two_views(batch, gen)

    def aug():
        augment.two_views(batch, gen)

    def learn(v=None):
        v1, v2 = v or views
        parts = objective(model, target, v1, v2)
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        opt.step()

    def full():
        learn(augment.two_views(batch, gen))

    load = os.getloadavg()[0]
    rows = {"augmentation": timed(aug, args.steps), "forward+backward+step": timed(learn, args.steps),
            "full step": timed(full, args.steps)}
    print(f"{args.config} on {args.dataset}, profile {args.profile}: batch {bs}, {args.threads} thread(s), "
          f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'part':<24}{'ms/step':>10}{'images/s':>10}{'CPU ms':>10}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:<24}{wall * 1e3:>10.1f}{bs / wall:>10.0f}{cpu * 1e3:>10.1f}")
    share = rows["augmentation"][1] / rows["full step"][1]
    epoch = len(split) // bs * rows["full step"][0]
    print(f"data pipeline share of a step (CPU time): {100 * share:.1f} % (budget 15 %); "
          f"one epoch of {len(split)} images at this rate: {epoch:.0f} s")


if __name__ == "__main__":
    main()
