"""What a profile's plan costs before it starts: runs, epochs, images and device-hours.

    python -m jepa_torus.plan estimate --profile gpu [--gpus 1 8] [--no-measure]
        [--images-per-s 1054] [--confirm-above 8 [--confirmed]] [--remeasure] [--json]

Every run of the plan (``plan.runs_for``) is resolved to its config: epochs, batch, the
images it trains on (drop_last, as train.py does) and the images its evaluation encodes.
A run's time is

    trained images / rate  +  evaluated images / (6 rate)  +  a fixed allowance per run

(an evaluated image is one view, forward only: about a sixth of a trained image's two views
forward and backward).  The rate, in source images per second (each gives two views):

  * measured on this machine's accelerator when one is present: a short warm-up of the real
    training step (``train.Run._train_step``: augmentation, bf16 autocast and torch.compile as
    the profile configures them, the objective, the optimiser) on synthetic images of each
    data set's shape at the profile's batch, after the compile; cached per GPU model in
    runs/<profile>/throughput.json (``--remeasure`` measures again);
  * otherwise assumed, ``ASSUMED`` below, whose source is stated with it, and scaled to a data
    set's image size by its pixel count (the convolutions' cost); and the same training step
    is measured on this CPU (a small batch, a few steps) to print what the plan would cost here.

On N GPUs the runs are independent jobs (make -jN with one GPU per job, or a Slurm array):
the wall time is the longest-processing-time-first schedule of the run times on N GPUs.
``--confirm-above H`` exits with status 3 when the runs still to do need more than H
device-hours on the device that would run them and ``--confirmed`` is not given: what
``make paper PROFILE=gpu`` asks ``CONFIRM=1`` for.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from . import plan, runs
from .config import CONFIGS, PROFILE_NAMES, Config, ConfigError, config_hash, resolve

# The assumed GPU throughput, where no GPU was measured: source images per second (two views
# each) of a CIFAR-stem ResNet-18 at 32x32, one GPU.  Source: lightly's CIFAR-10 benchmark
# (github.com/lightly-ai/lightly, docs/source/getting_started/benchmarks/cifar10_benchmark.py,
# "Updated: 18.02.2022"): SimCLR, ResNet-18 with the CIFAR stem, batch 512, 200 epochs of the
# 50 000 images in 158.2 min on a single NVIDIA RTX A6000, fp32, augmentations in 8 CPU
# workers, a kNN evaluation after every epoch included: 200 * 50 000 / (158.2 * 60) = 1054.
# Conservative for this code (bf16, channels_last, torch.compile, augmentation on the GPU,
# evaluation once at the end), but it is the published figure, not our measurement.
ASSUMED = {"images_per_s": 1054.0, "pixels": 32 * 32,
           "source": "lightly CIFAR-10 benchmark, SimCLR ResNet-18 (CIFAR stem), batch 512, 200 epochs in 158.2 min "
                     "on one RTX A6000, fp32 (lightly-ai/lightly docs/source/getting_started/benchmarks/"
                     "cifar10_benchmark.py, 2022-02-18)"}
# Fixed time per run, not measured on a GPU (assumptions): the probes and the topology on
# the CPU (the cpu profile measured about 25 s for 10k probe images and 1000 points; the gpu
# profile probes all 50-60k training images and analyses 2000 points).  A run renders no
# notebook (its report is made on demand: `make run-reports`).
FIXED_S = {"probes_and_topology": 120.0}
# torch.compile's one-off cost per run where it was not measured (no GPU): an assumption.
ASSUMED_COMPILE_S = 60.0
EVAL_COST = 1 / 6   # an evaluated image relative to a trained one (1 view forward vs 2 views forward+backward)


@dataclasses.dataclass
class RunCost:
    run: plan.Run
    cfg: Config
    done: bool
    train_images: int      # epochs * steps * batch (source images; two views each)
    eval_images: int       # images encoded for the probes (0 for raw pixels)

    @property
    def dataset(self) -> str:
        return self.run.dataset


def run_costs(profile: str) -> list[RunCost]:
    """Every run of the profile's plan with its resolved config and its image counts."""
    from .data import split_size

    out = []
    for r in plan.runs_for(profile):
        cfg = resolve(CONFIGS / f"{r.config}.yaml", profile, r.override_dict())
        n_train = cfg.data.train_subset or split_size(cfg.data.dataset, "train")
        steps = n_train // cfg.optim.batch_size
        ev = cfg.eval
        encoded = 0 if ev.features == "pixels" else \
            (ev.probe_train or split_size(cfg.data.dataset, "train")) + (ev.probe_test or split_size(cfg.data.dataset, "test"))
        out.append(RunCost(r, cfg, (r.dir(profile) / runs.FINAL).exists(), cfg.optim.epochs * steps * cfg.optim.batch_size,
                           encoded))
    return out


def representative(costs: list[RunCost], dataset: str) -> RunCost:
    """The run whose training step is measured for a data set: its first run that trains."""
    training = [c for c in costs if c.dataset == dataset and c.train_images]
    return (training or [c for c in costs if c.dataset == dataset])[0]


# --------------------------------------------------------------------------- measuring
def measure(cfg: Config, device, steps: int = 10, warmup: int = 3, batch: int | None = None) -> dict:
    """Source images per second of the real training step of ``cfg`` on ``device`` (synthetic
    uint8 images of the data set's shape; nothing is written), after ``warmup`` steps (the
    first compiles when run.compile is on, on CUDA); also the compile's seconds and, on CUDA,
    the peak memory."""
    import torch

    from . import train
    from .data import dataset_info

    cfg = Config.from_dict(cfg.to_dict())  # a copy: the batch may change
    if batch:
        cfg.optim.batch_size = batch
    device = torch.device(device)
    b = cfg.optim.batch_size
    info = dataset_info(cfg.data.dataset)
    images = torch.randint(0, 256, (b, info.channels, info.size, info.size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory() as tmp:  # Run writes nothing until fit(); a folder for form's sake
        # angles for the data sets that draw views from them (nuisance_torus) or regress them
        angles = torch.rand(b, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 6.283185307179586
        run = train.Run(cfg, Path(tmp), device, SimpleNamespace(images=images, angles=angles, info=info))
        net, run.target_net = train.compiled(run.model, cfg, device), train.compiled(run.target, cfg, device)
        run.model.train()
        index = torch.arange(b, device=device)

        def sync():
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        t0 = time.perf_counter()
        run._train_step(net, index, None)
        sync()
        first = time.perf_counter() - t0
        for _ in range(max(0, warmup - 1)):
            run._train_step(net, index, None)
        times = []
        for _ in range(steps):  # every step ends in a host sync (the loss values): timed one by one
            sync()
            t0 = time.perf_counter()
            run._train_step(net, index, None)
            sync()
            times.append(time.perf_counter() - t0)
        per_step = statistics.median(times)
    out = {"images_per_s": b / per_step, "batch": b, "steps": steps, "step_s": per_step,
           "device": str(device), "amp": str(run.amp).replace("torch.", "") if run.amp else "fp32",
           "compiled": bool(cfg.run.compile and device.type == "cuda"),
           "compile_s": max(0.0, first - per_step) if cfg.run.compile and device.type == "cuda" else 0.0}
    if device.type == "cuda":
        out.update(device_name=torch.cuda.get_device_name(device),
                   memory_gb=torch.cuda.max_memory_allocated(device) / 2**30)
    else:
        out.update(device_name=platform.processor() or platform.machine(), threads=torch.get_num_threads())
    return out


def _cache_key(cfg: Config, device_name: str) -> str:
    import torch

    return f"{device_name}|torch {torch.__version__}|{cfg.data.dataset}|{cfg.run.amp}|compile={cfg.run.compile}|" \
           f"{config_hash(cfg.to_dict())[:16]}"


def gpu_rates(profile: str, costs: list[RunCost], remeasure: bool = False, steps: int = 20) -> dict:
    """dataset -> measured rate on cuda:0 (cached in runs/<profile>/throughput.json)."""
    import torch

    from .files import atomic_write_json

    cache_path = runs.RUNS / profile / "throughput.json"
    try:
        cache = json.loads(cache_path.read_text()) if cache_path.exists() and not remeasure else {}
    except (ValueError, OSError):
        cache = {}
    name = torch.cuda.get_device_name(0)
    rates = {}
    for dataset in dict.fromkeys(c.dataset for c in costs):
        cfg = representative(costs, dataset).cfg
        key = _cache_key(cfg, name)
        if key not in cache:
            print(f"[estimate] measuring the training step of {cfg.run.name} on {dataset} ({name}, batch "
                  f"{cfg.optim.batch_size}{', compiling first' if cfg.run.compile else ''})", file=sys.stderr)
            cache[key] = {**measure(cfg, "cuda:0", steps=steps), "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
            atomic_write_json(cache_path, cache)
        rates[dataset] = {**cache[key], "source": "measured", "cached_in": str(cache_path.relative_to(runs.REPO))}
    return rates


def assumed_rates(costs: list[RunCost], images_per_s: float | None = None) -> dict:
    """dataset -> the assumed GPU rate, scaled by the images' pixel count."""
    from .data import dataset_info

    base = images_per_s or ASSUMED["images_per_s"]
    source = "given with --images-per-s" if images_per_s else ASSUMED["source"]
    out = {}
    for dataset in dict.fromkeys(c.dataset for c in costs):
        size = dataset_info(dataset).size
        out[dataset] = {"images_per_s": base * ASSUMED["pixels"] / size**2, "source": "assumed",
                        "assumption": source, "compile_s": ASSUMED_COMPILE_S, "device_name": "GPU (assumed)"}
    return out


def cpu_rates(costs: list[RunCost], batch: int = 16, steps: int = 3) -> dict:
    """dataset -> the rate on this CPU (fp32, no compile: what the code does on a CPU), measured
    on the data set with the most training images (a few seconds) and scaled to the others by
    their pixel count, as the assumed GPU rate is."""
    from .data import dataset_info

    totals = {}
    for c in costs:
        totals[c.dataset] = totals.get(c.dataset, 0) + c.train_images
    main = max(totals, key=totals.get)
    cfg = representative(costs, main).cfg
    got = measure(cfg, "cpu", steps=steps, warmup=1, batch=min(batch, cfg.optim.batch_size))
    pixels = dataset_info(main).size ** 2
    return {d: {**got, "images_per_s": got["images_per_s"] * pixels / dataset_info(d).size ** 2,
                "source": "measured" if d == main else f"measured on {main}, scaled by pixel count"}
            for d in totals}


# --------------------------------------------------------------------------- adding up
def run_seconds(c: RunCost, rate: dict) -> float:
    """One run's estimated seconds at ``rate`` (a dict of ``*_rates``)."""
    r = rate["images_per_s"]
    compile_s = rate.get("compile_s", 0.0) if c.train_images else 0.0
    return c.train_images / r + c.eval_images * EVAL_COST / r + sum(FIXED_S.values()) + compile_s


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of independent jobs on ``workers`` devices, longest first to the least loaded."""
    loads = [0.0] * max(1, workers)
    for s in sorted(seconds, reverse=True):
        loads[loads.index(min(loads))] += s
    return max(loads)


def estimate(profile: str, gpus=(1, 8), measure_here: bool = True, images_per_s: float | None = None,
             remeasure: bool = False) -> dict:
    """The plan's size and its estimated device-hours (see the module docstring)."""
    import torch

    costs = run_costs(profile)
    has_gpu = torch.cuda.is_available()
    if has_gpu and measure_here:
        rates, kind = gpu_rates(profile, costs, remeasure), "measured on this machine's GPU"
    else:
        rates, kind = assumed_rates(costs, images_per_s), "assumed (no GPU measured)"
    here = cpu_rates(costs) if measure_here and not has_gpu else None
    datasets = []
    for dataset in rates:
        cs = [c for c in costs if c.dataset == dataset]
        epochs = sorted({c.cfg.optim.epochs for c in cs if c.train_images})
        datasets.append({"dataset": dataset, "runs": len(cs), "todo": sum(not c.done for c in cs),
                         "training_runs": sum(bool(c.train_images) for c in cs), "epochs": epochs,
                         "images_per_epoch": max((c.train_images // max(1, c.cfg.optim.epochs) for c in cs), default=0),
                         "train_images": sum(c.train_images for c in cs), "eval_images": sum(c.eval_images for c in cs),
                         "rate": rates[dataset], "hours": sum(run_seconds(c, rates[dataset]) for c in cs) / 3600,
                         **({"cpu_rate": here[dataset],
                             "cpu_hours": sum(run_seconds(c, {**here[dataset], "compile_s": 0.0}) for c in cs) / 3600}
                            if here else {})})
    todo = [run_seconds(c, rates[c.dataset]) for c in costs if not c.done]
    every = [run_seconds(c, rates[c.dataset]) for c in costs]
    out = {"profile": profile, "runs": len(costs), "done": sum(c.done for c in costs), "todo": len(todo),
           "train_images": sum(c.train_images for c in costs), "eval_images": sum(c.eval_images for c in costs),
           "rates": kind, "gpu_present": has_gpu, "datasets": datasets,
           "device_hours": sum(every) / 3600, "device_hours_todo": sum(todo) / 3600,
           "longest_run_hours": max(every, default=0.0) / 3600,
           "wall_hours": {str(g): makespan(every, g) / 3600 for g in gpus},
           "wall_hours_todo": {str(g): makespan(todo, g) / 3600 for g in gpus},
           "fixed_seconds_per_run": FIXED_S, "assumption": ASSUMED["source"] if not has_gpu or not measure_here else None}
    if here:
        cpu_todo = [run_seconds(c, {**here[c.dataset], "compile_s": 0.0}) for c in costs if not c.done]
        out["cpu_hours_todo"] = sum(cpu_todo) / 3600
    return out


def hours_needed(est: dict) -> float:
    """Device-hours of the runs still to do on the device that would run them here: the GPU
    (measured, or assumed when not measured), or this CPU when there is no GPU."""
    if not est["gpu_present"] and "cpu_hours_todo" in est:
        return est["cpu_hours_todo"]
    return est["device_hours_todo"]


def _h(hours: float) -> str:
    return f"{hours:.1f} h" if hours < 100 else f"{hours:,.0f} h"


def format_estimate(est: dict) -> str:
    lines = [f"plan {est['profile']}: {est['runs']} runs ({est['done']} done, {est['todo']} to do), "
             f"{est['train_images'] / 1e6:,.1f} M training images (two views each), "
             f"{est['eval_images'] / 1e6:,.1f} M images encoded for the probes",
             "", f"{'dataset':<14}{'runs':>5}{'train':>6}{'epochs':>8}{'img/epoch':>10}{'M images':>10}"
             f"{'img/s':>8}  {'rate':<9}{'device-h':>10}"]
    for d in est["datasets"]:
        epochs = "/".join(map(str, d["epochs"])) or "0"
        lines.append(f"{d['dataset']:<14}{d['runs']:>5}{d['training_runs']:>6}{epochs:>8}{d['images_per_epoch']:>10}"
                     f"{d['train_images'] / 1e6:>10.1f}{d['rate']['images_per_s']:>8.0f}  {d['rate']['source']:<9}"
                     f"{d['hours']:>10.1f}")
    g = list(est["wall_hours"])
    lines += ["", f"Estimate, rates {est['rates']}: {_h(est['device_hours'])} of one GPU for the whole plan, "
              f"{_h(est['device_hours_todo'])} for the {est['todo']} runs to do; the longest run "
              f"{_h(est['longest_run_hours'])}."]
    lines += [f"  on {n} GPU{'s' if n != '1' else ''} (one run per GPU: make -j{n}, or a Slurm array): "
              f"{_h(est['wall_hours_todo'][n])} of wall time for the runs to do" for n in g]
    fixed = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in est["fixed_seconds_per_run"].items())
    lines.append(f"  per run also: evaluation images at 6x the training rate; {fixed} (assumed)"
                 + (f"; torch.compile {ASSUMED_COMPILE_S:.0f} s (assumed)" if est["assumption"] else ""))
    if est["assumption"]:
        lines.append(f"  assumed rate at 32x32: {ASSUMED['images_per_s']:.0f} images/s per GPU, scaled by pixel count "
                     f"({est['assumption']})")
    for d in est["datasets"]:
        r = d["rate"]
        if r["source"] == "measured":
            lines.append(f"  measured on {r['device_name']} ({d['dataset']}): {r['images_per_s']:.0f} images/s at batch "
                         f"{r['batch']}, {r['amp']}, {'compiled' if r['compiled'] else 'not compiled'} (compile "
                         f"{r['compile_s']:.0f} s), peak memory {r.get('memory_gb', 0):.1f} GiB; one epoch "
                         f"{d['images_per_epoch'] / r['images_per_s']:.0f} s")
    if "cpu_hours_todo" in est:
        lines.append("")
        for d in est["datasets"]:
            r = d["cpu_rate"]
            lines.append(f"  on this CPU ({r['device_name']}, {r['threads']} threads, batch {r['batch']}, fp32), "
                         f"{d['dataset']}: {r['images_per_s']:.1f} images/s ({r['source']}); one epoch "
                         f"{d['images_per_epoch'] / r['images_per_s'] / 3600:.1f} h")
        lines.append(f"  the runs to do on this CPU: {_h(est['cpu_hours_todo'])} ({est['cpu_hours_todo'] / 24 / 365:.1f} "
                     f"years): no GPU is visible here")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jepa_torus.plan estimate", description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="gpu", choices=PROFILE_NAMES)
    p.add_argument("--gpus", type=int, nargs="+", default=[1, 8], help="GPU counts to give the wall time for")
    p.add_argument("--no-measure", action="store_true", help="no warm-up here: the assumed GPU rate only")
    p.add_argument("--remeasure", action="store_true", help="measure the GPU again instead of reading the cache")
    p.add_argument("--images-per-s", type=float, help="replace the assumed GPU rate (images/s at 32x32)")
    p.add_argument("--confirm-above", type=float, help="exit 3 if the runs to do need more device-hours than this")
    p.add_argument("--confirmed", action="store_true", help="the user confirmed (CONFIRM=1)")
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    a = p.parse_args(argv)
    if any(g < 1 for g in a.gpus) or (a.images_per_s is not None and not a.images_per_s > 0):
        p.error("--gpus and --images-per-s must be positive")
    try:
        est = estimate(a.profile, a.gpus, measure_here=not a.no_measure, images_per_s=a.images_per_s,
                       remeasure=a.remeasure)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(est, indent=1, default=str) if a.json else format_estimate(est))
    need = hours_needed(est)
    if a.confirm_above is not None and need > a.confirm_above and not a.confirmed:
        where = "this machine's GPU" if est["gpu_present"] else ("this CPU" if "cpu_hours_todo" in est else "one GPU")
        print(f"\nThe runs to do need about {_h(need)} of {where}, more than the {a.confirm_above:g} h that start "
              f"without asking. To start them: make paper PROFILE={a.profile} CONFIRM=1 (or make runs ... CONFIRM=1); "
              f"to spread them: README, 'The gpu profile'.", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
