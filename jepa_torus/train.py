"""Train one JEPA run: resumable, deterministic, every result written atomically.

    python -m jepa_torus.train --config configs/toroidal_N12.yaml [--profile cpu]
        [--torus-weight 0.1] [--grid-size 16] [--seed 123] [--output-dir runs/x]
        [--epochs 3] [--loss.num_slices=512] [--model.embed_dim 128] ...

The config (jepa_torus.config) is resolved from the defaults, the profile, the experiment
YAML and the command line; ``--key value`` and ``--key=value`` both work, values are YAML.
The run folder's layout is jepa_torus.runs.  Restarting a run resumes from last.pt at the
exact step (from prev.pt, with a warning, if last.pt is damaged); a finished run is not
redone; a folder or a checkpoint holding a run of another config is refused (checkpoints
record the sha256 of the config they were trained under).  Same seed and machine give
the same numbers: every batch's permutation and augmentation come from generators seeded
by (seed, epoch, step), so a resumed run replays exactly, logs included.

Everything that can be wrong with the input is found before the first file is written:
the config (every value against its range), the device, the output folder, both data
splits (parsed and checksummed) and the checkpoint to resume from.  So a refused command,
corrected, runs in the same folder.  Ctrl-C stops with a one-line note of what was kept.

Multi-process: ``torchrun --nproc_per_node=K -m jepa_torus.train ...`` trains the same
global batch on K processes (jepa_torus.dist); only rank 0 writes files.
"""
from __future__ import annotations

import argparse
import errno
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from . import dist, runs
from . import models as M
from .augment import augment_for
from .config import PROFILE_NAMES, Config, ConfigError, changed_keys, config_hash, differences, resolve, validate
from .data import PAIRED_VIEWS, DataError, epoch_batches, verify_split
from .eval import evaluate_run, pick_device
from .files import (CheckpointError, OutputError, append_line, atomic_write_bytes, atomic_write_json, ensure_dir,
                    load_latest, open_append, read_jsonl, remove_stale_tmp, save_checkpoint)
from .nuisance_torus import PairedViews
from .objective import Objective


class TrainingDiverged(RuntimeError):
    pass


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what was kept and how to resume."""


def seeded_generator(device: torch.device, *keys: int) -> torch.Generator:
    """A generator whose stream depends only on the keys (e.g. seed, epoch, step)."""
    seed = int(np.random.SeedSequence([int(k) + 2**31 for k in keys]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator(device=device).manual_seed(seed)


def learning_rate(optim, step: int, total: int, steps_per_epoch: int) -> float:
    """Linear warm-up to optim.lr, then cosine decay to lr * min_lr_ratio (optim: OptimConfig)."""
    warm = int(optim.warmup_epochs * steps_per_epoch)
    if step < warm:
        return optim.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    lo = optim.lr * optim.min_lr_ratio
    return lo + (optim.lr - lo) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def amp_dtype(cfg: Config, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the networks' forward: bf16 on a CUDA device that has it, when
    run.amp is "bf16"; None (fp32) on CPU and MPS, where this is never a default (on the
    build machine's CPU, without avx512_bf16, bf16 autocast made a step 9x slower)."""
    if cfg.run.amp != "bf16" or device.type != "cuda":
        return None
    if not torch.cuda.is_bf16_supported(including_emulation=False):
        if dist.is_main():
            print(f"[jepa_torus] {torch.cuda.get_device_name(device)} has no bf16: training in fp32")
        return None
    return torch.bfloat16


def compiled(module, cfg: Config, device: torch.device):
    """``torch.compile(module)`` when run.compile is set and the device is CUDA (on the build
    machine's CPU the ConvNet compiled in 196 s and then ran 1.4x slower); else module.  The
    compiled wrapper shares the module's parameters: checkpoints keep saving the bare module."""
    if module is None or not (cfg.run.compile and device.type == "cuda"):
        return module
    return torch.compile(module)


def provenance(cfg: Config, device: torch.device) -> dict:
    """Where and with what a run was started: provenance.json."""
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=runs.REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return ""

    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "numpy", "scikit-learn", "ripser", "scikit-dimension", "jepa-torus"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "versions": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "processes": dist.world_size(),
        "seed": cfg.run.seed,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# --------------------------------------------------------------------------- monitoring
class Monitor:
    """A cheap look at the representation while a run trains: a kNN probe (k <= 20) and RankMe
    on ``run.monitor_images`` images of the *training* set (never the test set), a fixed subset
    drawn with a generator of its own (the training's random streams are untouched), a quarter
    of it as queries against the rest.  Eval mode, no gradient: BatchNorm statistics and the
    weights do not move, so no number of the run changes; the values go into the epoch's end
    line of metrics.jsonl (``monitor_knn``, ``monitor_rankme``, and where the data set has
    angles ``monitor_circular_r2``: metrics.circular_decoding of the embedding z, as the final
    geometry, 5-fold out of fold)."""

    def __init__(self, cfg: Config, train_split, images: torch.Tensor):
        n = min(cfg.run.monitor_images, len(images))
        g = torch.Generator().manual_seed(7_919 + cfg.run.seed)
        idx = torch.randperm(len(images), generator=g)[:n]
        self.images, self.labels = images[idx.to(images.device)], train_split.labels[idx].numpy()
        self.info, self.queries = train_split.info, max(1, n // 4)
        self.angles = None if train_split.angles is None else train_split.angles[idx].numpy()
        self.every, self.threads = cfg.run.monitor_every, cfg.run.threads

    def due(self, epoch: int, epochs: int) -> bool:
        return (epoch + 1) % self.every == 0 or epoch + 1 == epochs

    def __call__(self, model) -> dict:
        from threadpoolctl import threadpool_limits

        from . import metrics
        from .eval import extract_features

        z, y, q = extract_features(model, self.images, self.info), self.labels, self.queries  # h, as the probes
        with threadpool_limits(limits=self.threads or None):
            knn = metrics.knn_accuracy(z[q:], y[q:], z[:q], y[:q], k=min(20, len(z) - q))
            rankme = metrics.effective_rank(z)
            out = {"monitor_knn": float(knn), "monitor_rankme": float(rankme)}
            if self.angles is not None:  # known angles: how well the embedding z decodes them (out of fold)
                emb = extract_features(model, self.images, self.info, "z")
                out["monitor_circular_r2"] = float(metrics.circular_decoding(emb, self.angles))
        return out


def attached() -> bool:
    """Is someone watching: a terminal on stderr, or a notebook kernel (Jupyter, Colab, the
    per-run reports)?  Elsewhere (output to a file, a batch job) the bar is off; the line per
    finished epoch is always printed."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def tensorboard_writer(cfg: Config, out: Path):
    """A SummaryWriter on <out>/tensorboard when run.tensorboard is set (None otherwise)."""
    if not cfg.run.tensorboard:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(out / "tensorboard"))


# --------------------------------------------------------------------------- the run
class Run:
    """One training run's state: data, model, target, objective, optimiser, position
    (epoch, step within it, global step) and the open log.  ``fit`` is the loop."""

    def __init__(self, cfg: Config, out: Path, device: torch.device, train_split):
        self.cfg, self.out, self.device = cfg, out, device
        self.world, self.main_rank = dist.world_size(), dist.is_main()
        self.images = train_split.images.to(device)  # the training images (train_subset), on the device, every rank
        self.augment = augment_for(cfg.data.dataset, **cfg.data.augment)
        self.angles = train_split.angles  # ground truth (CPU), or None
        if cfg.data.dataset in PAIRED_VIEWS:  # the data set draws the two views (nuisance_torus), not augment
            self.augment = PairedViews(train_split.angles, cfg.data.nuisance, train_split.info.mean, train_split.info.std)
        self.steps_per_epoch = len(self.images) // cfg.optim.batch_size  # >= 1: checked before anything was written
        self.total = cfg.optim.epochs * self.steps_per_epoch
        torch.manual_seed(cfg.run.seed)
        self.model = M.build_model(asdict(cfg.model)).to(device)
        if self.world > 1:  # before the EMA copy: the target normalises globally too
            self.model = dist.global_batchnorm(self.model, device)
        self.objective = Objective(cfg.objective, self.model, self.steps_per_epoch).to(device)
        self.target = M.ema_copy(self.model) if cfg.objective.ema_momentum > 0 else None
        # the objective's own parameters (only the supervised reference's head) after the model's
        self.opt = torch.optim.AdamW([*self.model.parameters(), *self.objective.parameters()], lr=cfg.optim.lr,
                                     weight_decay=cfg.optim.weight_decay)
        self.epoch = self.step = self.global_step = 0
        self.partial: dict = {}  # running sums of the epoch a mid-epoch checkpoint was taken in
        self.ckpt = out / runs.CHECKPOINT
        self.saved: tuple | None = None  # (epoch, step) of the last checkpoint written or resumed from
        self.amp = amp_dtype(cfg, device)  # None: fp32 (always on CPU)
        self.target_net = self.target  # what computes the target's embeddings: fit() may compile it
        # (a split without labels: plan estimate's timing of the step, which never reaches an epoch's end)
        self.monitor = Monitor(cfg, train_split, self.images) \
            if cfg.run.monitor_images and self.main_rank and getattr(train_split, "labels", None) is not None else None
        if cfg.run.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise ConfigError("config key 'run.tensorboard' is true, but the tensorboard package is not installed "
                              "(pip install tensorboard), or set it to false")

    def restore(self, state: dict | None, path: Path | None = None) -> None:
        """Load a checkpoint's state (already checked against the config; writes nothing).
        One that does not fit this run's model is a CheckpointError naming it."""
        if state is None:
            return
        try:
            self.model.load_state_dict(state["model"])
            self.objective.load_state_dict(state["objective"])
            self.opt.load_state_dict(state["optimizer"])
            if self.target is not None:
                self.target.load_state_dict(state["target"])
            self.epoch, self.step, self.global_step = int(state["epoch"]), int(state["step"]), int(state["global_step"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            why = (str(e).strip().splitlines() or [""])[0][:300]
            raise CheckpointError(f"checkpoint {path or self.ckpt} does not fit this run ({type(e).__name__}: {why}); "
                                  f"move it (and prev.pt) out of {self.out} to train from scratch") from None
        self.partial = state.get("epoch_log", {})
        self.saved = (self.epoch, self.step)

    def resume(self, state: dict | None) -> None:
        """Start (provenance.json) or continue from the restored ``state``; the first writes."""
        if state is None:
            if self.main_rank:
                atomic_write_json(self.out / runs.PROVENANCE, provenance(self.cfg, self.device))
            return
        if self.main_rank:
            print(f"[jepa_torus] resuming {self.out} at epoch {self.epoch} step {self.step}")

    def checkpoint(self, epoch: int, step: int, epoch_log: dict | None = None) -> None:
        if not self.main_rank:
            return
        # A step can leave NaN weights with a finite loss (inf gradient): never save those.
        bad = [n for n, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise TrainingDiverged(f"weights {bad[:3]} are not finite after global step {self.global_step} (epoch {epoch}) "
                                   f"of {self.out}: the run diverged. {self._kept()}; lower --lr (now "
                                   f"{self.cfg.optim.lr}) or change the loss weights.")
        cfg = self.cfg.to_dict()
        state = {"model": self.model.state_dict(), "objective": self.objective.state_dict(),
                 "optimizer": self.opt.state_dict(), "epoch": epoch, "step": step, "global_step": self.global_step,
                 "config": cfg, "config_hash": config_hash(cfg)}
        if self.target is not None:
            state["target"] = self.target.state_dict()
        if epoch_log:
            state["epoch_log"] = epoch_log
        save_checkpoint(self.ckpt, state)
        self.saved = (epoch, step)

    def _kept(self) -> str:
        """What a stopped run leaves to resume from."""
        if self.saved is None:
            return (f"No checkpoint was written yet (the first comes at the end of epoch 0 or after "
                    f"{self.cfg.run.checkpoint_minutes:g} min), so the run will start again from step 0")
        return f"The last good checkpoint ({self.ckpt}, epoch {self.saved[0]} step {self.saved[1]}) is kept"

    def diverged(self, what: str) -> TrainingDiverged:
        return TrainingDiverged(f"{what} at epoch {self.epoch} step {self.step} (global step {self.global_step}) of "
                                f"{self.out}: the run diverged. {self._kept()}; lower --lr (now {self.cfg.optim.lr}) "
                                f"or change the loss weights.")

    def fit(self) -> None:
        """Train to the last epoch, logging every log_every steps and at each epoch's end,
        checkpointing at each epoch's end and every checkpoint_minutes."""
        cfg, log_path = self.cfg, self.out / runs.METRICS
        if self.main_rank:
            _trim_log(log_path, self.global_step, self.epoch)
        net = dist.wrap(self.model, self.device)  # DDP with K processes; self.model stays the bare network
        net, self.target_net = compiled(net, cfg, self.device), compiled(self.target, cfg, self.device)
        rows = dist.local_rows(cfg.optim.batch_size) if self.world > 1 else None
        self.model.train()
        log = open_append(log_path) if self.main_rank else None
        board = tensorboard_writer(cfg, self.out) if self.main_rank else None
        last_ckpt = run_t0 = time.time()
        run_step0 = self.global_step
        try:
            while self.epoch < cfg.optim.epochs:
                gen = seeded_generator(self.device, cfg.run.seed, self.epoch, -1)
                batches = list(epoch_batches(len(self.images), cfg.optim.batch_size, gen))
                bar = tqdm(range(self.step, self.steps_per_epoch), initial=self.step, total=self.steps_per_epoch,
                           disable=not (cfg.run.progress and self.main_rank and attached()), leave=True, mininterval=2,
                           desc=f"{cfg.run.name} s{cfg.run.seed} ep {self.epoch + 1}/{cfg.optim.epochs}")
                # after a mid-epoch resume the epoch's means still cover all of its steps
                sums, seen = dict(self.partial.get("sums", {})), self.partial.get("seen", 0)
                t0 = time.time() - self.partial.get("seconds", 0.0)
                self.partial = {}
                for self.step in bar:
                    vals, lr = self._train_step(net, batches[self.step], rows)
                    seen += cfg.optim.batch_size  # images of the global batch
                    for k, v in vals.items():
                        sums[k] = sums.get(k, 0.0) + v
                    if self.global_step % cfg.run.log_every == 0 and self.main_rank:
                        rate = seen / (time.time() - t0)
                        append_line(log, log_path, json.dumps({"epoch": self.epoch, "step": self.step,
                                                               "global_step": self.global_step, "lr": lr,
                                                               "images_per_s": rate, **vals}))
                        left = (self.total - self.global_step) * (time.time() - run_t0) / max(1, self.global_step - run_step0)
                        bar.set_postfix({k: f"{v:.3g}" for k, v in vals.items()} | {"img/s": f"{rate:.0f}",
                                        "run ETA": f"{left / 60:.0f} min" if left >= 90 else f"{left:.0f} s"})
                        if board is not None:
                            for k, v in {"lr": lr, "images_per_s": rate, **vals}.items():
                                board.add_scalar(f"train/{k}", v, self.global_step)
                    if time.time() - last_ckpt > 60 * cfg.run.checkpoint_minutes:
                        self.checkpoint(self.epoch, self.step + 1, {"sums": dict(sums), "seen": seen,
                                                                    "seconds": time.time() - t0})
                        last_ckpt = time.time()
                ran = max(1, seen // cfg.optim.batch_size)  # steps of this epoch
                if self.main_rank:
                    seconds = time.time() - t0  # the epoch's training time, without the probe below
                    memory = {"gpu_memory_gb": torch.cuda.max_memory_allocated(self.device) / 2**30} \
                        if self.device.type == "cuda" else {}  # peak since the start of the process
                    probe = self.monitor(self.model) if self.monitor and self.monitor.due(self.epoch, cfg.optim.epochs) else {}
                    means = {f"mean_{k}": v / ran for k, v in sums.items()}
                    append_line(log, log_path, json.dumps({"epoch": self.epoch, "global_step": self.global_step,
                                                           "epoch_end": True, "seconds": seconds, **memory,
                                                           **means, **probe}))
                    print(f"[jepa_torus] {cfg.run.name} s{cfg.run.seed} epoch {self.epoch + 1}/{cfg.optim.epochs}: "
                          f"{seconds:.0f} s, " + ", ".join(f"{k[5:]} {v:.4g}" for k, v in means.items())
                          + (f"; kNN {100 * probe['monitor_knn']:.1f} %, RankMe {probe['monitor_rankme']:.1f}"
                             + (f", circular R2 {probe['monitor_circular_r2']:.3f}" if "monitor_circular_r2" in probe
                                else "") + " (training images)" if probe else ""), flush=True)
                    if board is not None:
                        for k, v in {**means, **probe}.items():
                            board.add_scalar(f"epoch/{k}", v, self.epoch + 1)
                        board.flush()
                self.epoch, self.step = self.epoch + 1, 0
                self.checkpoint(self.epoch, 0)
                last_ckpt = time.time()
        finally:
            if log is not None:
                log.close()
            if board is not None:
                board.close()

    def _train_step(self, net, batch: torch.Tensor, rows) -> tuple[dict, float]:
        """One optimiser step on the global batch ``batch``; returns the loss parts (floats,
        the global batch's, one host sync) and the learning rate used."""
        cfg = self.cfg
        lr = learning_rate(cfg.optim, self.global_step, self.total, self.steps_per_epoch)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.objective.set_progress(self.global_step, self.total)
        gen = seeded_generator(self.device, cfg.run.seed, self.epoch, self.step)
        if isinstance(self.augment, PairedViews):  # two nuisance draws of the batch's angles
            v1, v2 = self.augment.two_views(batch, gen)
        else:
            v1, v2 = self.augment.two_views(self.images[batch], gen)
        angles = self.angles[batch.cpu()].to(self.device) if self.objective.needs_angles else None
        if rows is not None:  # every rank drew the global batch's views; each keeps its rows
            v1, v2 = v1[rows], v2[rows]
            angles = None if angles is None else angles[rows]
        if self.amp is None:
            parts = self.objective(net, self.target_net, v1, v2, angles)
        else:  # the networks in bf16, the losses in fp32 (Objective.forward)
            with torch.autocast(self.device.type, dtype=self.amp):
                parts = self.objective(net, self.target_net, v1, v2, angles)
        vals = dist.mean_over_ranks(parts)  # the global batch's values, the same on every rank
        bad = [k for k, v in vals.items() if not math.isfinite(v)]
        if bad:  # the one finiteness check of the step (the losses do not check their inputs)
            raise self.diverged(f"loss parts {bad} are NaN or inf (NaN or inf embeddings, or an overflow)")
        self.opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        self.opt.step()
        self.global_step += 1
        if self.target is not None:
            M.ema_update(self.target, self.model, M.ema_momentum(self.global_step, self.total, cfg.objective.ema_momentum))
        return vals, lr


def _trim_log(path: Path, global_step: int, epoch: int) -> None:
    """Drop log lines written after the checkpoint we resume from (a killed run's tail),
    including the end line of the epoch we resume in (killed before its last checkpoint)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():  # damaged bytes: a dropped line
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if rec.get("global_step", 0) <= global_step and not (rec.get("epoch_end") and rec.get("epoch", -1) >= epoch):
            keep.append(line)
    atomic_write_bytes(path, ("\n".join(keep) + "\n" if keep else "").encode())


def _check_folder(out: Path, cfg: Config) -> None:
    """The output folder must be a folder (or not exist yet); one that holds a run of
    another config is refused (operational keys aside).  A folder where nothing was trained
    (no checkpoint, no final.json: a run refused or stopped before its first checkpoint)
    takes the new config."""
    if out.exists() and not out.is_dir():
        raise OutputError(errno.ENOTDIR, f"--output-dir {out} is a file, not a folder; choose another output folder")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise OutputError(errno.ENOTDIR, f"--output-dir {out} cannot be created: {blocker} is a file, not a folder; "
                                         "choose another output folder")
    path = out / runs.CONFIG
    if not path.exists():
        return
    try:
        old = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        old = e
    except OSError as e:
        raise OutputError(e.errno, f"{path} cannot be read ({e.strerror or e})") from None
    trained = any((out / name).exists() for name in (runs.FINAL, runs.CHECKPOINT, "prev.pt"))
    if not isinstance(old, dict):
        if not trained:
            return
        raise ConfigError(f"{path} is damaged (not a YAML mapping: {old}); it is written atomically, so it was "
                          f"edited by hand: restore it or delete {path.parent} to redo the run")
    if "optim" not in old:
        raise ConfigError(f"{path} has the flat layout of jepa-torus <= 0.1; convert it with "
                          f"tests/migrate_run_configs.py (runs/<profile>/... folders) or delete {path.parent}")
    changed = changed_keys(old, cfg.to_dict())
    if changed and trained:
        raise ConfigError(f"{out} holds a run with a different config (keys {changed} differ from {path}: "
                          f"{differences(old, cfg.to_dict())}); choose another --output-dir or delete that folder")
    if changed and dist.is_main():
        print(f"[jepa_torus] {out} held no trained run (no checkpoint), only the config of an earlier attempt "
              f"({differences(old, cfg.to_dict())}); starting it under this config")


def _read_final(out: Path) -> dict:
    try:
        return runs.read_final(out)
    except (ValueError, UnicodeDecodeError, OSError) as e:  # JSONDecodeError is a ValueError
        raise OutputError(errno.EIO, f"{out / runs.FINAL} is damaged ({type(e).__name__}); it is written "
                                     f"atomically, so it was changed by hand: delete it to evaluate the run again "
                                     "(training is not redone)") from None


def _check_device(device: torch.device) -> None:
    """A device that exists here (pick_device checked that CUDA is there at all)."""
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"config key 'run.device' is {device}, but this machine has {torch.cuda.device_count()} "
                          f"CUDA device(s) (cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("config key 'run.device' is mps, but MPS is not available here; use --device cpu")


class _out_of_memory:
    """Out of memory while building or training: a ConfigError saying which keys to lower."""

    def __init__(self, cfg: Config, device, what: str, run: "Run | None" = None):
        self.cfg, self.device, self.what, self.run = cfg, device, what, run

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if e is None or not (isinstance(e, (MemoryError, torch.OutOfMemoryError))
                             or (isinstance(e, RuntimeError) and "can't allocate memory" in str(e))):
            return False
        kept = f" {self.run._kept()}." if self.run is not None else " Nothing was written."
        raise ConfigError(f"out of memory on {self.device} while {self.what}.{kept} Lower optim.batch_size "
                          f"(now {self.cfg.optim.batch_size}) or the model's widths (model.embed_dim, "
                          "model.projector, model.encoder_kwargs)") from None


def _check_checkpoint(cfg: Config, out: Path):
    """A ``load_latest`` check: the checkpoint must have been trained under ``cfg``."""
    want = cfg.to_dict()

    def check(state: dict, path: Path) -> None:
        stored = state.get("config")
        if not isinstance(stored, dict):
            raise CheckpointError(f"checkpoint {path} records no config; it cannot be resumed. Move it (and prev.pt) "
                                  f"out of {out} to train from scratch")
        if "config_hash" in state:
            if state["config_hash"] == config_hash(want):
                return
            diff = differences(stored, want) or "values that compare equal but hash differently"
            how = f"config hash {state['config_hash'][:12]}, this command's {config_hash(want)[:12]}"
        else:  # written before checkpoints recorded the hash: compare key by key
            diff = differences(stored, want)
            if not diff:
                return
            how = "compared key by key: an older checkpoint without a config hash"
        name, seed = (stored.get("run") or {}).get("name", stored.get("name")), (stored.get("run") or {}).get("seed", stored.get("seed"))
        raise CheckpointError(f"checkpoint {path} was trained under another config (run {name!r} seed {seed}) than this "
                              f"command's (run {cfg.run.name!r} seed {cfg.run.seed}): {diff} ({how}). It is left as it "
                              f"was. Resume it with its own config, or give this run another --output-dir, or move "
                              f"{path.name} and prev.pt out of {out} to train this config from scratch")
    return check


def train(cfg: Config, output_dir=None) -> dict | None:
    """Train (or resume, or skip if finished) the run of ``cfg``; returns final.json's dict
    (None on the ranks > 0 of a multi-process run: rank 0 alone evaluates and writes).

    Every check comes before the first write (config.yaml): a refused run leaves the folder
    as it was, and the corrected command runs in it."""
    cfg = validate(cfg)
    device = dist.init(cfg.run.device) if dist.launched() else None
    out = Path(output_dir or runs.run_dir(cfg.run.profile, cfg.data.dataset, cfg.run.name, cfg.run.seed))
    _check_folder(out, cfg)
    if (out / runs.FINAL).exists():
        if dist.is_main():
            print(f"[jepa_torus] {out} is finished (final.json exists); nothing to do")
        return _read_final(out)
    if cfg.optim.batch_size % dist.world_size():
        raise ConfigError(f"config key 'optim.batch_size' is {cfg.optim.batch_size}, not a multiple of the "
                          f"{dist.world_size()} processes")
    device = device or pick_device(cfg.run.device)
    _check_device(device)
    if device.type == "cuda":  # cuBLAS is deterministic (next lines) only with this set before its first call
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    train_split = verify_split(cfg.data, "train", subset=True)  # both splits parsed and checksummed now,
    verify_split(cfg.data, "test")                              # not after hours of training
    state = load_latest(out / runs.CHECKPOINT, device, rename_damaged=dist.is_main(), check=_check_checkpoint(cfg, out))
    with _out_of_memory(cfg, device, "building the model"):
        run = Run(cfg, out, device, train_split)
    run.restore(state)
    # ---- the first write: everything above only read and checked
    if dist.is_main():
        ensure_dir(out)
        remove_stale_tmp(out)
        atomic_write_bytes(out / runs.CONFIG, yaml.safe_dump(cfg.to_dict(), sort_keys=True).encode())
    try:
        run.resume(state)
        with _out_of_memory(cfg, device, "training", run):
            run.fit()
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: {run._kept()}; run the same command again to resume") from None
    if not dist.is_main():
        return None
    t_eval = time.time()
    print(f"[jepa_torus] evaluating {out}: features of {cfg.eval.probe_train or 'all'} training and "
          f"{cfg.eval.probe_test or 'all'} test images, linear and kNN probes, topology of "
          f"{cfg.eval.topology_points} points ...", flush=True)
    try:
        result = evaluate_run(run.model, cfg, device, out)
    except KeyboardInterrupt:
        kept = f" ({run.ckpt} is kept)" if run.saved else ""
        raise Interrupted(f"interrupted during the evaluation of {out}: training is complete{kept}; run the same "
                          "command again to evaluate (training is not redone)") from None
    result["train_seconds_logged"] = sum(r.get("seconds", 0.0) for r in read_jsonl(out / runs.METRICS) if r.get("epoch_end"))
    atomic_write_json(out / runs.FINAL, result)
    print(f"[jepa_torus] evaluated in {time.time() - t_eval:.0f} s")
    print(f"[jepa_torus] {out}: " + ", ".join(f"{k}={result[k]:.4f}" for k in ("linear_probe", "knn_accuracy") if k in result))
    return result


# --------------------------------------------------------------------------- CLI
def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m jepa_torus.train", description="Train one JEPA run (resumable).",
                                epilog="Any config key: --section.key value or --section.key=value (YAML values); "
                                       "a field of one section may drop the section (--lr, --epochs, --loss.grid_size). "
                                       "--lambda-torus (the original repository's flag) = --torus-weight.")
    p.add_argument("--config", help="experiment YAML (configs/*.yaml)")
    p.add_argument("--profile", default=os.environ.get("PROFILE", "cpu"), choices=PROFILE_NAMES)
    p.add_argument("--output-dir", help="run folder (default runs/<profile>/<dataset>/<name>/seed<seed>)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    args, rest = p.parse_known_args(argv)
    overrides, i = {}, 0
    while i < len(rest):
        flag = rest[i]
        if not flag.startswith("--"):
            p.error(f"expected '--key value' or '--key=value', got {' '.join(rest[i:])!r}")
        if "=" in flag:
            key, text = flag[2:].split("=", 1)
            i += 1
        elif i + 1 < len(rest):
            key, text = flag[2:], rest[i + 1]
            i += 2
        else:
            p.error(f"{flag} needs a value ('--key value' or '--key=value')")
        try:
            overrides[key if "." in key else key.replace("-", "_")] = yaml.safe_load(text)
        except yaml.YAMLError as e:
            p.error(f"--{key}: the value {text!r} is not valid YAML ({getattr(e, 'problem', None) or e})")
    return args, overrides


def main(argv=None) -> int:
    args, overrides = parse_args(argv)
    try:
        cfg = resolve(args.config, args.profile, overrides)
        if args.print_config:
            print(yaml.safe_dump(cfg.to_dict(), sort_keys=True))
            return 0
        train(cfg, args.output_dir)
    except (ConfigError, TrainingDiverged, DataError, CheckpointError, OutputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the system refuses (name too long, a loop of links...): still one line
        print(f"error: {e.strerror or e}: {e.filename}" if e.filename else f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C: what was kept, how to resume; no traceback
        print(str(e) if isinstance(e, Interrupted) else "interrupted before training started: nothing to resume yet; "
              "run the same command again", file=sys.stderr)
        return 130
    finally:
        dist.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
