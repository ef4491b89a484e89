"""Train one JEPA run: resumable, deterministic, every result written atomically.

    python -m jepa_torus.train --config configs/toroidal_N12.yaml [--profile cpu]
        [--lambda-torus 0.1] [--grid-size 16] [--seed 123] [--output-dir runs/x]
        [--epochs 3] [--loss.num_slices 512] [--model.embed_dim 128] ...

Configuration is resolved in this order, later wins (``resolve_config``):
    DEFAULTS below < configs/profiles.yaml[profile]["all"] < profiles.yaml[profile][dataset]
    < the experiment YAML < its own ``profiles: {profile: ...}`` block < command-line overrides.
Any key can be overridden with ``--key value`` or ``--section.key value``; values are
parsed as YAML.  An unknown key, or a value of the wrong type, is an error naming the key.

A run directory holds:
    config.yaml      the resolved config (a restart with a different config is refused)
    provenance.json  git commit, package versions, device, seed, start time
    metrics.jsonl    one JSON line per logged step and per epoch
    last.pt          checkpoint (model, EMA target, optimiser, loss buffers, position, the
                     epoch's running sums), sha256-checksummed; the previous one is prev.pt
    final.json       the evaluation (``metrics.evaluate``): its presence means "done"
Every file is written to a temporary name and renamed (jepa_torus.files).  Restarting a
run resumes from last.pt at the exact step (from prev.pt, with a warning, if last.pt is
damaged); a finished run is not redone.  Same seed and machine give the same numbers:
every batch's permutation and augmentation come from generators seeded by
(seed, epoch, step), so a resumed run replays exactly, logs included.

Multi-process: ``torchrun --nproc_per_node=K -m jepa_torus.train ...`` trains the same
global batch on K processes (jepa_torus.dist); only rank 0 writes files.
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from . import data as D
from . import dist
from . import models as M
from .files import (CheckpointError, OutputError, append_line, atomic_write_bytes, atomic_write_json,  # noqa: F401
                    load_checkpoint, load_latest, read_jsonl, remove_stale_tmp, save_checkpoint)
from .losses import NonFiniteError, TorusHeadLoss, build_loss, gather_batch

REPO = Path(__file__).resolve().parent.parent
PROFILES_FILE = REPO / "configs" / "profiles.yaml"

DEFAULTS: dict = {
    "name": None,                 # run name; default: the config file's stem
    "dataset": "fashion_mnist",   # fashion_mnist | cifar10 | cifar100 | torus_world
    "data_root": None,            # folder with the data files (else $JEPA_TORUS_DATA, system paths)
    "download": False,            # fetch a missing Fashion-MNIST/CIFAR file (checksummed); Colab sets it
    "train_subset": 0,            # >0: train on a fixed random subset of this many images
    "model": dict(M.DEFAULTS),    # see jepa_torus.models (in_channels follows the data set)
    "loss": {"type": "vicreg"},   # see jepa_torus.losses.build_loss
    "torus_head_weight": 1.0,     # weight of TorusHeadLoss on the head's angles (if model.torus_head)
    "floor_weight": 0.0,          # >0: add the HamJEPA phase-space floors on z = (q, p) with this weight
    "potential_warmup_epochs": 0.0,  # HamJEPA: potential scale ramps 0 -> its value over these epochs
    "augment": {},                # fields of data.AugmentConfig replacing the data set's recipe
    "ema_momentum": 0.0,          # 0: the target is the online network (VICReg, LeJEPA); >0: EMA target
    "epochs": 10,
    "batch_size": 256,
    "lr": 2e-3,                   # AdamW peak learning rate, after linear warm-up
    "weight_decay": 0.05,
    "warmup_epochs": 1.0,
    "min_lr_ratio": 0.01,         # cosine decay ends at lr * min_lr_ratio
    "seed": 0,
    "device": "auto",             # auto | cpu | cuda | cuda:1 ...
    "threads": 0,                 # torch CPU threads; 0 = torch's default
    "checkpoint_minutes": 5.0,    # also checkpoint mid-epoch this often
    "log_every": 25,              # steps between metrics.jsonl lines
    "progress": True,             # tqdm bar
    "eval": {
        "probe_train": 10000,     # training images for the linear probe / kNN bank (0 = all)
        "probe_test": 10000,      # test images scored (0 = all)
        "knn_k": 20,
        "topology_points": 1000,  # test features subsampled for PH, ID, spectral gap ratio
        "landmarks": 300,         # maxmin landmarks for persistent homology
        "analysis": True,         # False: probes and effective rank only
        "features": "encoder",    # "encoder": h of the trained model; "pixels": the raw-pixel baseline
    },
}
PROFILE_NAMES = ("smoke", "cpu", "gpu")
# Keys that change how a run is executed or shown, not what it computes: a run may be
# resumed with other values for them.
OPERATIONAL_KEYS = {"threads", "progress", "log_every", "checkpoint_minutes", "data_root", "download", "device"}


class ConfigError(ValueError):
    pass


class TrainingDiverged(RuntimeError):
    pass


# --------------------------------------------------------------------------- config
def _merge(base: dict, over: dict, path: str = "") -> dict:
    """Recursive merge of ``over`` into ``base`` with key and type checks.

    A new ``loss.type`` replaces the whole loss section (its keys depend on the type)."""
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        where = f"{path}{key}"
        if key not in base:
            if path.startswith("loss.") or path == "loss.":
                out[key] = value  # checked by build_loss, which knows each type's keys
                continue
            raise ConfigError(f"unknown config key {where!r}; valid keys here: {', '.join(sorted(base))}")
        default = base[key]
        if key == "loss" and isinstance(value, dict) and value.get("type", default.get("type")) != default.get("type"):
            out[key] = copy.deepcopy(value)
        elif isinstance(default, dict) and key not in ("encoder_kwargs", "predictor_kwargs", "augment"):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {where!r} must be a mapping, got {value!r}")
            out[key] = _merge(default, value, where + ".")
        else:
            out[key] = _check_type(where, default, value)
    return out


def _check_type(where: str, default, value):
    if default is None or value is None or isinstance(default, (dict, list)) and isinstance(value, (dict, list, bool)):
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"config key {where!r} expects {type(default).__name__}, got {value!r}")
    return value


def _read_yaml(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist (configs/ lists the experiments)")
    with open(path) as f:
        try:
            doc = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"config file {path} must hold a mapping at top level")
    return doc


def _dotted(overrides: dict) -> dict:
    """{"loss.grid_size": 16} -> {"loss": {"grid_size": 16}}."""
    nested: dict = {}
    for key, value in overrides.items():
        node = nested
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return nested


def resolve_config(config_path=None, profile: str = "cpu", overrides: dict | None = None) -> dict:
    """The full config of a run (see the module docstring for the order)."""
    if profile not in PROFILE_NAMES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    experiment = _read_yaml(config_path) if config_path else {}
    exp_profiles = experiment.pop("profiles", {}) or {}
    overrides = _dotted(overrides or {})
    dataset = overrides.get("dataset") or (exp_profiles.get(profile) or {}).get("dataset") \
        or experiment.get("dataset") or DEFAULTS["dataset"]
    profiles = _read_yaml(PROFILES_FILE) if PROFILES_FILE.exists() else {}
    cfg = _merge(DEFAULTS, {"name": Path(config_path).stem if config_path else "default"})
    layers = ((f"{PROFILES_FILE.name} [{profile}][all]", (profiles.get(profile) or {}).get("all")),
              (f"{PROFILES_FILE.name} [{profile}][{dataset}]", (profiles.get(profile) or {}).get(dataset)),
              (str(config_path), experiment), (f"{config_path} [profiles][{profile}]", exp_profiles.get(profile)),
              ("the command line", overrides))
    for source, layer in layers:
        try:
            cfg = _merge(cfg, layer or {})
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None
    info = D.dataset_info(cfg["dataset"])  # validates the name
    try:
        build_loss(cfg["loss"])  # validates the loss type and its keys before any file is written
    except ValueError as e:
        raise ConfigError(f"config section 'loss': {e}") from None
    try:
        D.augment_for(cfg["dataset"], **cfg["augment"])
    except (TypeError, ValueError) as e:
        raise ConfigError(f"config section 'augment': {e}") from None
    cfg["model"]["in_channels"] = info.channels
    cfg["profile"] = profile
    return cfg


def default_output_dir(cfg: dict) -> Path:
    return REPO / "runs" / cfg["profile"] / cfg["dataset"] / cfg["name"] / f"seed{cfg['seed']}"


# --------------------------------------------------------------------------- files
def provenance(cfg: dict, device: torch.device) -> dict:
    def _git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
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
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "versions": versions,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "processes": dist.world_size(),
        "seed": cfg["seed"],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# --------------------------------------------------------------------------- pieces
def seeded_generator(device: torch.device, *keys: int) -> torch.Generator:
    """A generator whose stream depends only on the keys (e.g. seed, epoch, step)."""
    seed = int(np.random.SeedSequence([int(k) + 2**31 for k in keys]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator(device=device).manual_seed(seed)


def learning_rate(cfg: dict, step: int, total: int, steps_per_epoch: int) -> float:
    """Linear warm-up then cosine decay to lr * min_lr_ratio."""
    warm = int(cfg["warmup_epochs"] * steps_per_epoch)
    if step < warm:
        return cfg["lr"] * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    lo = cfg["lr"] * cfg["min_lr_ratio"]
    return lo + (cfg["lr"] - lo) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but CUDA is not available here; use --device cpu")
    return device


def normalize(images: torch.Tensor, info: D.DatasetInfo) -> torch.Tensor:
    """uint8 or [0, 1] images -> the network's input scale, without augmentation."""
    x = D.to_float(images)
    mean = torch.tensor(info.mean, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(info.std, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def extract_features(model: M.JEPA, images: torch.Tensor, info: D.DatasetInfo, batch_size: int = 512,
                     key: str = "h") -> np.ndarray:
    """Representations (key "h") or embeddings ("z") of un-augmented images, in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(images), batch_size):
        out.append(model(normalize(images[i:i + batch_size], info))[key].float().cpu())
    model.train(was_training)
    return torch.cat(out).numpy()


class Objective(torch.nn.Module):
    """The whole training objective of a config: regulariser + optional torus head loss +
    optional HamJEPA floors.  ``forward(model, target, v1, v2) -> dict`` of named parts."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = cfg
        self.loss = build_loss(cfg["loss"])
        self.head = TorusHeadLoss() if cfg["model"]["torus_head"] else None
        self.floors = cfg["floor_weight"] > 0

    def forward(self, model, target, v1, v2):
        o1, o2 = model(v1), model(v2)   # model may be DDP-wrapped; predict() lives on the bare net
        net = dist.unwrap(model)
        if target is None and self.cfg["model"]["predictor"] == "none":
            parts = dict(self.loss(o1["z"], o2["z"]))  # symmetric already: no prediction step
        else:
            # JEPA: each view's embedding predicts the other's (target: online or EMA copy).
            if target is not None:
                with torch.no_grad():
                    t1, t2 = target(v1)["z"], target(v2)["z"]
            else:
                t1, t2 = o1["z"], o2["z"]
            a = self.loss(net.predict(o1["z"]), t2)
            b = self.loss(net.predict(o2["z"]), t1)
            parts = {k: (a[k] + b[k]) / 2 for k in a}
        if self.head is not None:
            h = self.head(o1["angles"], o2["angles"])
            parts["loss"] = parts["loss"] + self.cfg["torus_head_weight"] * h["loss"]
            parts.update({f"head_{k}": v for k, v in h.items() if k != "loss"})
        if self.floors:
            d = o1["z"].shape[1] // 2
            # batch statistics: the global batch under DDP (identity in one process)
            f = [M.hamiltonian_floor_loss(z[:, :d], z[:, d:]) for z in (gather_batch(o1["z"]), gather_batch(o2["z"]))]
            floor = (f[0]["loss"] + f[1]["loss"]) / 2
            parts["loss"] = parts["loss"] + self.cfg["floor_weight"] * floor
            parts["floor"] = floor
        return parts


# --------------------------------------------------------------------------- run
def load_split(cfg: dict, split: str) -> D.Split:
    kw = {} if cfg["dataset"] == "torus_world" else {"download": cfg["download"]}
    return D.load_dataset(cfg["dataset"], split, root=cfg["data_root"], **kw)


def _read_run_config(path: Path) -> dict:
    try:
        old = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        old = e
    if not isinstance(old, dict):
        raise ConfigError(f"{path} is damaged (not a YAML mapping: {old}); it is written atomically, so it was "
                          f"edited by hand: restore it or delete {path.parent} to redo the run")
    return old


def train(cfg: dict, output_dir=None) -> dict | None:
    """Train (or resume, or skip if finished) the run of ``cfg``; returns final.json's dict
    (None on the ranks > 0 of a multi-process run: rank 0 alone evaluates and writes)."""
    device = dist.init(cfg["device"]) if dist.launched() else None
    world, main_rank = dist.world_size(), dist.is_main()
    out = Path(output_dir or default_output_dir(cfg))
    final_path = out / "final.json"
    cfg_text = yaml.safe_dump(cfg, sort_keys=True)
    if (out / "config.yaml").exists():
        old = _read_run_config(out / "config.yaml")
        changed = sorted(k for k in set(old) | set(cfg) if k not in OPERATIONAL_KEYS and old.get(k) != cfg.get(k))
        if changed:
            raise ConfigError(f"{out} holds a run with a different config (keys {changed} differ from "
                              f"{out / 'config.yaml'}); choose another --output-dir or delete that folder")
    if final_path.exists():
        if main_rank:
            print(f"[jepa_torus] {out} is finished (final.json exists); nothing to do")
        return json.loads(final_path.read_text())
    if cfg["batch_size"] % world:
        raise ConfigError(f"batch_size {cfg['batch_size']} is not a multiple of the {world} processes")
    if main_rank:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_tmp(out)
        atomic_write_bytes(out / "config.yaml", cfg_text.encode())

    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    device = device or pick_device(cfg["device"])
    torch.use_deterministic_algorithms(True, warn_only=True)
    train_split = load_split(cfg, "train")
    if cfg["train_subset"]:
        keep = torch.randperm(len(train_split), generator=torch.Generator().manual_seed(12345))[:cfg["train_subset"]]
        train_split = D.Split(train_split.images[keep], train_split.labels[keep], train_split.info,
                              None if train_split.angles is None else train_split.angles[keep])
    info = train_split.info
    images = train_split.images.to(device)  # the whole training set lives on the device (on every rank)
    augment = D.augment_for(cfg["dataset"], **cfg["augment"])

    torch.manual_seed(cfg["seed"])
    model = M.build_model(cfg["model"]).to(device)
    if world > 1:
        model = dist.global_batchnorm(model, device)  # before the EMA copy: the target normalises globally too
    objective = Objective(cfg).to(device)
    target = M.ema_copy(model) if cfg["ema_momentum"] > 0 else None
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    steps_per_epoch = len(images) // cfg["batch_size"]
    if steps_per_epoch < 1:
        raise ConfigError(f"batch_size {cfg['batch_size']} exceeds the {len(images)} training images")
    total = cfg["epochs"] * steps_per_epoch
    epoch, step, gstep = 0, 0, 0
    partial: dict = {}  # running sums of the epoch a mid-epoch checkpoint was taken in

    ckpt = out / "last.pt"
    state = load_latest(ckpt, device, rename_damaged=main_rank)
    if state is not None:
        model.load_state_dict(state["model"])
        objective.load_state_dict(state["objective"])
        opt.load_state_dict(state["optimizer"])
        if target is not None:
            target.load_state_dict(state["target"])
        epoch, step, gstep = state["epoch"], state["step"], state["global_step"]
        partial = state.get("epoch_log", {})
        if main_rank:
            print(f"[jepa_torus] resuming {out} at epoch {epoch} step {step}")
    elif main_rank:
        atomic_write_json(out / "provenance.json", provenance(cfg, device))
    if main_rank:
        _trim_log(out / "metrics.jsonl", gstep, epoch)
    net = dist.wrap(model, device)  # DDP with K processes; `model` stays the bare network
    rows = dist.local_rows(cfg["batch_size"]) if world > 1 else None

    def checkpoint(e, s, epoch_log=None):
        if not main_rank:
            return
        # A step can leave NaN weights with a finite loss (inf gradient): never save those.
        bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise TrainingDiverged(f"weights {bad[:3]} are not finite after global step {gstep} (epoch {e}) of {out}: "
                                   f"the run diverged. The last good checkpoint ({ckpt}) is kept; lower --lr (now {cfg['lr']}).")
        state = {"model": model.state_dict(), "objective": objective.state_dict(), "optimizer": opt.state_dict(),
                 "epoch": e, "step": s, "global_step": gstep, "config": cfg}
        if target is not None:
            state["target"] = target.state_dict()
        if epoch_log:
            state["epoch_log"] = epoch_log
        save_checkpoint(ckpt, state)

    def diverged(what):
        return TrainingDiverged(f"{what} at epoch {epoch} step {step} (global step {gstep}) of {out}: the run diverged. "
                                f"The last good checkpoint ({ckpt}) is kept; lower --lr (now {cfg['lr']}) or change the loss weights.")

    ham = model.predictor if isinstance(model.predictor, M.HamiltonianPredictor) else None
    ham_scale = cfg["model"]["predictor_kwargs"].get("potential_scale", 0.02) if ham is not None else 0.0
    model.train()
    log_path = out / "metrics.jsonl"
    log = open(log_path, "a") if main_rank else None
    last_ckpt = time.time()
    try:
        while epoch < cfg["epochs"]:
            batches = list(D.epoch_batches(len(images), cfg["batch_size"], seeded_generator(device, cfg["seed"], epoch, -1)))
            bar = tqdm(range(step, steps_per_epoch), initial=step, total=steps_per_epoch,
                       disable=not (cfg["progress"] and main_rank),
                       desc=f"{cfg['name']} s{cfg['seed']} ep {epoch + 1}/{cfg['epochs']}", leave=False, mininterval=2)
            # after a mid-epoch resume the epoch's means still cover all of its steps
            sums, seen = dict(partial.get("sums", {})), partial.get("seen", 0)
            t0 = time.time() - partial.get("seconds", 0.0)
            partial = {}
            for step in bar:
                lr = learning_rate(cfg, gstep, total, steps_per_epoch)
                for group in opt.param_groups:
                    group["lr"] = lr
                objective.loss.set_progress(gstep / total)
                if ham is not None and cfg["potential_warmup_epochs"] > 0:
                    ham.set_potential_scale(ham_scale * min(1.0, gstep / (cfg["potential_warmup_epochs"] * steps_per_epoch)))
                v1, v2 = augment.two_views(images[batches[step]], seeded_generator(device, cfg["seed"], epoch, step))
                if rows is not None:  # every rank drew the global batch's views; each keeps its rows
                    v1, v2 = v1[rows], v2[rows]
                try:
                    parts = objective(net, target, v1, v2)
                except NonFiniteError as e:
                    raise diverged(f"the embeddings are NaN or inf ({e.args[0].split(':')[0]})") from None
                vals = dist.mean_over_ranks(parts)  # the global batch's values, the same on every rank
                if not math.isfinite(vals["loss"]):
                    raise diverged(f"loss is {vals['loss']}")
                opt.zero_grad(set_to_none=True)
                parts["loss"].backward()
                opt.step()
                gstep += 1
                if target is not None:
                    M.ema_update(target, model, M.ema_momentum(gstep, total, cfg["ema_momentum"]))
                seen += len(v1) * world
                for k, v in vals.items():
                    sums[k] = sums.get(k, 0.0) + v
                if gstep % cfg["log_every"] == 0 and main_rank:
                    rate = seen / (time.time() - t0)
                    append_line(log, log_path, json.dumps({"epoch": epoch, "step": step, "global_step": gstep, "lr": lr,
                                                           "images_per_s": rate, **vals}))
                    bar.set_postfix({k: f"{v:.3g}" for k, v in list(vals.items())[:3]} | {"img/s": f"{rate:.0f}"})
                if time.time() - last_ckpt > 60 * cfg["checkpoint_minutes"]:
                    checkpoint(epoch, step + 1, {"sums": dict(sums), "seen": seen, "seconds": time.time() - t0})
                    last_ckpt = time.time()
            ran = max(1, seen // cfg["batch_size"])  # steps of this epoch
            epoch_line = {"epoch": epoch, "global_step": gstep, "epoch_end": True, "seconds": time.time() - t0,
                          **{f"mean_{k}": v / ran for k, v in sums.items()}}
            if main_rank:
                append_line(log, log_path, json.dumps(epoch_line))
            epoch, step = epoch + 1, 0
            checkpoint(epoch, 0)
            last_ckpt = time.time()
    finally:
        if log is not None:
            log.close()
    if not main_rank:
        return None

    result = evaluate_run(model, cfg, device, out)
    result["train_seconds_logged"] = _logged_seconds(out / "metrics.jsonl")
    atomic_write_json(final_path, result)
    print(f"[jepa_torus] {out}: " + ", ".join(f"{k}={result[k]:.4f}" for k in ("linear_probe", "knn_accuracy") if k in result))
    return result


def _trim_log(path: Path, global_step: int, epoch: int) -> None:
    """Drop log lines written after the checkpoint we resume from (a killed run's tail),
    including the end line of the epoch we resume in (killed before its last checkpoint)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if rec.get("global_step", 0) <= global_step and not (rec.get("epoch_end") and rec.get("epoch", -1) >= epoch):
            keep.append(line)
    atomic_write_bytes(path, ("\n".join(keep) + "\n" if keep else "").encode())


def _logged_seconds(path: Path) -> float:
    return sum(rec.get("seconds", 0.0) for rec in read_jsonl(path) if rec.get("epoch_end"))


def evaluate_run(model: M.JEPA, cfg: dict, device, out_dir: Path | None = None) -> dict:
    """Probes and geometry of the final encoder (no epoch selection: the test set is scored
    once).  With ``out_dir`` the topology subsample of test features is saved as
    features.npz for the analysis notebook."""
    ev = cfg["eval"]
    train_split, test_split = load_split(cfg, "train"), load_split(cfg, "test")
    g = torch.Generator().manual_seed(0)  # the same probe subsets for every run
    tr = torch.randperm(len(train_split), generator=g)[: ev["probe_train"] or None]
    te = torch.randperm(len(test_split), generator=g)[: ev["probe_test"] or None]
    info = train_split.info
    if ev["features"] == "pixels":  # the baseline every SSL number must beat
        f_tr, f_te = (normalize(s.images[i], info).flatten(1).numpy() for s, i in ((train_split, tr), (test_split, te)))
    elif ev["features"] == "encoder":
        f_tr = extract_features(model, train_split.images[tr].to(device), info)
        f_te = extract_features(model, test_split.images[te].to(device), info)
    else:
        raise ConfigError(f"eval.features must be 'encoder' or 'pixels', got {ev['features']!r}")
    y_tr, y_te = train_split.labels[tr].numpy(), test_split.labels[te].numpy()
    angles = None if test_split.angles is None else test_split.angles[te].numpy()
    # cfg["threads"] holds for numpy/scipy/sklearn's BLAS as well as for torch: left at its
    # default, OpenBLAS spun up one thread per core beside the other run of `make -j2` and a
    # probe of 5 s took 70-380 s (measured in the 2026-12-01 CPU-profile runs).
    with threadpool_limits(limits=cfg["threads"] or None):
        res = _probe_and_analyse(ev, f_tr, y_tr, f_te, y_te, angles)
    if out_dir is not None:
        keep = np.random.default_rng(0).permutation(len(f_te))[: ev["topology_points"]]
        buf = io.BytesIO()  # atomic like every result: the analysis notebook never reads half a file
        np.savez_compressed(buf, features=f_te[keep], labels=y_te[keep],
                            **({} if angles is None else {"angles": angles[keep]}))
        atomic_write_bytes(Path(out_dir) / "features.npz", buf.getvalue())
    res.update({"config": cfg["name"], "profile": cfg["profile"], "dataset": cfg["dataset"], "seed": cfg["seed"]})
    return res


def _probe_and_analyse(ev: dict, f_tr, y_tr, f_te, y_te, angles) -> dict:
    from . import metrics

    if ev["analysis"]:
        return metrics.evaluate(f_tr, y_tr, f_te, y_te, test_angles=angles, n_topology=ev["topology_points"],
                                knn_k=ev["knn_k"], persistence_kwargs={"n_landmarks": ev["landmarks"]})
    return {"linear_probe": metrics.linear_probe(f_tr, y_tr, f_te, y_te),
            "knn_accuracy": metrics.knn_accuracy(f_tr, y_tr, f_te, y_te, k=ev["knn_k"]),
            "effective_rank": metrics.effective_rank(f_te)}


# --------------------------------------------------------------------------- CLI
ALIASES = {"--lambda-torus": "loss.torus_weight", "--grid-size": "loss.grid_size", "--seed": "seed",
           "--epochs": "epochs", "--lr": "lr", "--batch-size": "batch_size", "--device": "device",
           "--dataset": "dataset"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m jepa_torus.train", description="Train one JEPA run (resumable).",
                                epilog="Any config key: --key value or --section.key value (YAML values). "
                                       "Aliases: " + ", ".join(f"{a} = {k}" for a, k in ALIASES.items()))
    p.add_argument("--config", help="experiment YAML (configs/*.yaml)")
    p.add_argument("--profile", default=os.environ.get("PROFILE", "cpu"), choices=PROFILE_NAMES)
    p.add_argument("--output-dir", help="run folder (default runs/<profile>/<dataset>/<name>/seed<seed>)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    args, rest = p.parse_known_args(argv)
    overrides = {}
    i = 0
    while i < len(rest):
        flag = rest[i]
        if not flag.startswith("--") or i + 1 >= len(rest):
            p.error(f"expected '--key value' pairs, got {' '.join(rest[i:])!r}")
        key = ALIASES.get(flag, flag[2:].replace("-", "_") if "." not in flag else flag[2:])
        overrides[key] = yaml.safe_load(rest[i + 1])
        i += 2
    return args, overrides


def main(argv=None) -> int:
    args, overrides = parse_args(argv)
    try:
        cfg = resolve_config(args.config, args.profile, overrides)
        if args.print_config:
            print(yaml.safe_dump(cfg, sort_keys=True))
            return 0
        train(cfg, args.output_dir)
    except (ConfigError, TrainingDiverged, D.DataError, CheckpointError, OutputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        dist.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
