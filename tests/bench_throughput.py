"""Training throughput of a profile's model on whatever device this machine has (a script, not a test).

    .venv/bin/python tests/bench_throughput.py [--profile gpu] [--config baseline_vicreg] [--dataset cifar10]
        [--steps 20] [--batch 256] [--compare] [--train-epochs 3 --run-dir /tmp/bench-run] [--out x.json]

Times the real training step (``train.Run._train_step`` through ``estimate.measure``: the
augmentation on the device, the networks under bf16 autocast and torch.compile as the profile
sets them on CUDA, the objective, AdamW) on synthetic images of the data set's shape, after
warm-up steps (the first one compiles), and prints source images per second (two views
each), milliseconds per step, the time of one epoch of the data set, the peak device memory
and the compile time.  ``--compare`` (CUDA) measures fp32, bf16 and bf16 + compile one after
the other.  On a CPU the step is fp32 and uncompiled, as a CPU run is; the default batch there is
16 (a ResNet-18 step of 256 images takes a minute on two cores).

``--train-epochs K`` then trains one real run for K epochs on CIFAR-10 files in the real
format (synthetic images, full size: 50 000 + 10 000, written to a temporary folder; no
download), through ``jepa_torus.train`` with the profile's config, and prints each epoch's
seconds and the peak memory from its metrics.jsonl: the run as a researcher starts it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/cifar_format.py
import cifar_format  # noqa: E402

from jepa_torus import estimate as E  # noqa: E402
from jepa_torus.config import resolve  # noqa: E402
from jepa_torus.data import split_size  # noqa: E402
from jepa_torus.runs import REPO  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="gpu")
    p.add_argument("--config", default="baseline_vicreg")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, help="default: the profile's on CUDA, 16 on a CPU")
    p.add_argument("--compare", action="store_true", help="CUDA: fp32, bf16 and bf16 + torch.compile")
    p.add_argument("--train-epochs", type=int, default=0, help="then train one CIFAR-format run this many epochs")
    p.add_argument("--run-dir", help="the run folder of --train-epochs (default: a temporary folder)")
    p.add_argument("--train-images", type=int, nargs=2, default=[50_000, 10_000], metavar=("TRAIN", "TEST"),
                   help="sizes of the CIFAR-format splits of --train-epochs (a quick check: smaller ones)")
    p.add_argument("--out", help="write the figures as JSON")
    a = p.parse_args(argv)
    device = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if a.device == "auto" else a.device))
    cfg = resolve(REPO / "configs" / f"{a.config}.yaml", a.profile, {"dataset": a.dataset, "device": str(device)})
    batch = a.batch or (cfg.optim.batch_size if device.type == "cuda" else 16)
    n_train = cfg.data.train_subset or split_size(a.dataset, "train")
    variants = {"as configured": {}}
    if a.compare and device.type == "cuda":
        variants = {"fp32": {"amp": "off", "compile": False}, "bf16": {"amp": "bf16", "compile": False},
                    "bf16 + compile": {"amp": "bf16", "compile": True}}
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"# {a.config} on {a.dataset}, profile {a.profile} ({cfg.model.encoder} {cfg.model.encoder_kwargs}, "
          f"projector {cfg.model.projector}), {name}, torch {torch.__version__}, batch {batch}, "
          f"median of {a.steps} steps after {a.warmup} warm-up, load average {os.getloadavg()[0]:.1f}")
    print(f"{'variant':<16}{'images/s':>10}{'ms/step':>10}{'epoch s':>10}{'memory GiB':>12}{'compile s':>11}")
    rows = {}
    for label, run in variants.items():
        c = resolve(REPO / "configs" / f"{a.config}.yaml", a.profile,
                    {"dataset": a.dataset, "device": str(device), **{f"run.{k}": v for k, v in run.items()}})
        got = E.measure(c, device, steps=a.steps, warmup=a.warmup, batch=batch)
        got["epoch_s"] = (n_train // batch) * got["step_s"]
        rows[label] = got
        print(f"{label:<16}{got['images_per_s']:>10.0f}{1e3 * got['step_s']:>10.1f}{got['epoch_s']:>10.0f}"
              f"{got.get('memory_gb', float('nan')):>12.2f}{got['compile_s']:>11.0f}  ({got['amp']}"
              f"{', compiled' if got['compiled'] else ''})", flush=True)
    out = {"device": name, "config": a.config, "dataset": a.dataset, "profile": a.profile, "batch": batch,
           "torch": torch.__version__, "variants": rows}
    if a.train_epochs:
        out["run"] = train_cifar_format(a, device)
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=1))
    return 0


def train_cifar_format(a, device) -> dict:
    """One run of the profile's config for ``--train-epochs`` epochs on full-size CIFAR-format files."""
    from jepa_torus.runs import read_metrics
    from jepa_torus.train import train

    n_train, n_test = a.train_images
    with tempfile.TemporaryDirectory() as data:
        t0 = time.time()
        md5 = cifar_format.write_cifar10(data, n_train, n_test)
        restore = cifar_format.accept(md5, n_train, n_test)
        print(f"# wrote CIFAR-format files ({n_train} + {n_test} synthetic images) in {time.time() - t0:.0f} s")
        try:
            run_dir = Path(a.run_dir or tempfile.mkdtemp(prefix="bench-run-"))
            cfg = resolve(REPO / "configs" / f"{a.config}.yaml", a.profile,
                          {"dataset": "cifar10", "data_root": data, "device": str(device), "epochs": a.train_epochs,
                           "progress": False})
            t0 = time.time()
            result = train(cfg, run_dir)
            total = time.time() - t0
        finally:
            restore()
    epochs = [r for r in read_metrics(run_dir) if r.get("epoch_end")]
    for r in epochs:
        print(f"epoch {r['epoch']}: {r['seconds']:.1f} s" + (f", peak memory {r['gpu_memory_gb']:.2f} GiB"
                                                            if "gpu_memory_gb" in r else ""))
    print(f"run {run_dir}: {total:.0f} s in all (training, evaluation, files); linear probe "
          f"{result['linear_probe']:.3f} on synthetic images (meaningless as accuracy)")
    return {"dir": str(run_dir), "epoch_seconds": [r["seconds"] for r in epochs], "total_s": total,
            "gpu_memory_gb": max((r.get("gpu_memory_gb", 0.0) for r in epochs), default=None)}


if __name__ == "__main__":
    sys.exit(main())
