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
    last.pt          checkpoint (model, EMA target, optimiser, loss buffers, position);
                     written to a temporary name and renamed; the previous one is kept as prev.pt
    final.json       the evaluation (``metrics.evaluate``): its presence means "done"
Restarting a run resumes from last.pt at the exact step; a finished run is not redone.
Same seed and machine give the same numbers: every batch's permutation and augmentation
come from generators seeded by (seed, epoch, step), so a resumed run replays exactly.
"""
from __future__ import annotations

import argparse
import copy
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
from tqdm.auto import tqdm

from . import data as D
from . import models as M
from .losses import TorusHeadLoss, build_loss

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
        elif isinstance(default, dict) and key not in ("encoder_kwargs", "predictor_kwargs"):
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
    for layer in ((profiles.get(profile) or {}).get("all"), (profiles.get(profile) or {}).get(dataset),
                  experiment, exp_profiles.get(profile), overrides):
        cfg = _merge(cfg, layer or {})
    info = D.dataset_info(cfg["dataset"])  # validates the name
    try:
        build_loss(cfg["loss"])  # validates the loss type and its keys before any file is written
    except ValueError as e:
        raise ConfigError(f"config section 'loss': {e}") from None
    cfg["model"]["in_channels"] = info.channels
    cfg["profile"] = profile
    return cfg


def default_output_dir(cfg: dict) -> Path:
    return REPO / "runs" / cfg["profile"] / cfg["dataset"] / cfg["name"] / f"seed{cfg['seed']}"


# --------------------------------------------------------------------------- files
def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temporary name in the same folder, fsync, rename: a reader sees the old
    file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def save_checkpoint(path: Path, state: dict) -> None:
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    path = Path(path)
    if path.exists():
        os.replace(path, path.with_name("prev.pt"))  # keep the last good one
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    """torch.load with weights_only=True (no code execution); a damaged file is a clear error."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated zip, bad pickle, wrong magic...
        prev = path.with_name("prev.pt")
        hint = f" The previous checkpoint {prev} may be intact: rename it to {path.name} to resume from it." if prev.exists() and prev != path else ""
        raise RuntimeError(f"checkpoint {path} is damaged or not a jepa_torus checkpoint ({type(e).__name__}: {e}).{hint} "
                           f"Delete it to restart the run from scratch.") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise RuntimeError(f"checkpoint {path} is not a jepa_torus checkpoint (no 'model'/'config' entries)")
    return state


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
        o1, o2 = model(v1), model(v2)
        if target is None and self.cfg["model"]["predictor"] == "none":
            parts = dict(self.loss(o1["z"], o2["z"]))  # symmetric already: no prediction step
        else:
            # JEPA: each view's embedding predicts the other's (target: online or EMA copy).
            if target is not None:
                with torch.no_grad():
                    t1, t2 = target(v1)["z"], target(v2)["z"]
            else:
                t1, t2 = o1["z"], o2["z"]
            a = self.loss(model.predict(o1["z"]), t2)
            b = self.loss(model.predict(o2["z"]), t1)
            parts = {k: (a[k] + b[k]) / 2 for k in a}
        if self.head is not None:
            h = self.head(o1["angles"], o2["angles"])
            parts["loss"] = parts["loss"] + self.cfg["torus_head_weight"] * h["loss"]
            parts.update({f"head_{k}": v for k, v in h.items() if k != "loss"})
        if self.floors:
            d = o1["z"].shape[1] // 2
            f = [M.hamiltonian_floor_loss(z[:, :d], z[:, d:]) for z in (o1["z"], o2["z"])]
            floor = (f[0]["loss"] + f[1]["loss"]) / 2
            parts["loss"] = parts["loss"] + self.cfg["floor_weight"] * floor
            parts["floor"] = floor
        return parts


# --------------------------------------------------------------------------- run
def load_split(cfg: dict, split: str) -> D.Split:
    kw = {} if cfg["dataset"] == "torus_world" else {"download": cfg["download"]}
    return D.load_dataset(cfg["dataset"], split, root=cfg["data_root"], **kw)


def train(cfg: dict, output_dir=None) -> dict:
    """Train (or resume, or skip if finished) the run of ``cfg``; returns final.json's dict."""
    out = Path(output_dir or default_output_dir(cfg))
    out.mkdir(parents=True, exist_ok=True)
    final_path = out / "final.json"
    cfg_text = yaml.safe_dump(cfg, sort_keys=True)
    if (out / "config.yaml").exists():
        old = yaml.safe_load((out / "config.yaml").read_text())
        changed = sorted(k for k in set(old) | set(cfg) if k not in OPERATIONAL_KEYS and old.get(k) != cfg.get(k))
        if changed:
            raise ConfigError(f"{out} holds a run with a different config (keys {changed} differ from "
                              f"{out / 'config.yaml'}); choose another --output-dir or delete that folder")
    if final_path.exists():
        print(f"[jepa_torus] {out} is finished (final.json exists); nothing to do")
        return json.loads(final_path.read_text())
    atomic_write_bytes(out / "config.yaml", cfg_text.encode())

    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    device = pick_device(cfg["device"])
    torch.use_deterministic_algorithms(True, warn_only=True)
    train_split = load_split(cfg, "train")
    if cfg["train_subset"]:
        keep = torch.randperm(len(train_split), generator=torch.Generator().manual_seed(12345))[:cfg["train_subset"]]
        train_split = D.Split(train_split.images[keep], train_split.labels[keep], train_split.info,
                              None if train_split.angles is None else train_split.angles[keep])
    info = train_split.info
    images = train_split.images.to(device)  # the whole training set lives on the device
    augment = D.augment_for(cfg["dataset"])

    torch.manual_seed(cfg["seed"])
    model = M.build_model(cfg["model"]).to(device)
    objective = Objective(cfg).to(device)
    target = M.ema_copy(model) if cfg["ema_momentum"] > 0 else None
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    steps_per_epoch = len(images) // cfg["batch_size"]
    if steps_per_epoch < 1:
        raise ConfigError(f"batch_size {cfg['batch_size']} exceeds the {len(images)} training images")
    total = cfg["epochs"] * steps_per_epoch
    epoch, step, gstep = 0, 0, 0

    ckpt = out / "last.pt"
    if ckpt.exists():
        state = load_checkpoint(ckpt, device)
        model.load_state_dict(state["model"])
        objective.load_state_dict(state["objective"])
        opt.load_state_dict(state["optimizer"])
        if target is not None:
            target.load_state_dict(state["target"])
        epoch, step, gstep = state["epoch"], state["step"], state["global_step"]
        print(f"[jepa_torus] resuming {out} at epoch {epoch} step {step}")
    else:
        atomic_write_json(out / "provenance.json", provenance(cfg, device))
    _trim_log(out / "metrics.jsonl", gstep)

    def checkpoint(e, s):
        state = {"model": model.state_dict(), "objective": objective.state_dict(), "optimizer": opt.state_dict(),
                 "epoch": e, "step": s, "global_step": gstep, "config": cfg}
        if target is not None:
            state["target"] = target.state_dict()
        save_checkpoint(ckpt, state)

    ham = model.predictor if isinstance(model.predictor, M.HamiltonianPredictor) else None
    ham_scale = cfg["model"]["predictor_kwargs"].get("potential_scale", 0.02) if ham is not None else 0.0
    model.train()
    log = open(out / "metrics.jsonl", "a")
    last_ckpt = time.time()
    try:
        while epoch < cfg["epochs"]:
            batches = list(D.epoch_batches(len(images), cfg["batch_size"], seeded_generator(device, cfg["seed"], epoch, -1)))
            bar = tqdm(range(step, steps_per_epoch), initial=step, total=steps_per_epoch, disable=not cfg["progress"],
                       desc=f"{cfg['name']} s{cfg['seed']} ep {epoch + 1}/{cfg['epochs']}", leave=False, mininterval=2)
            sums, t0, seen = {}, time.time(), 0
            for step in bar:
                lr = learning_rate(cfg, gstep, total, steps_per_epoch)
                for group in opt.param_groups:
                    group["lr"] = lr
                objective.loss.set_progress(gstep / total)
                if ham is not None and cfg["potential_warmup_epochs"] > 0:
                    ham.set_potential_scale(ham_scale * min(1.0, gstep / (cfg["potential_warmup_epochs"] * steps_per_epoch)))
                v1, v2 = augment.two_views(images[batches[step]], seeded_generator(device, cfg["seed"], epoch, step))
                parts = objective(model, target, v1, v2)
                if not torch.isfinite(parts["loss"]):
                    raise TrainingDiverged(
                        f"loss is {parts['loss'].item()} at epoch {epoch} step {step} of {out}: the run diverged. "
                        f"The last good checkpoint ({ckpt}) is kept; lower --lr (now {cfg['lr']}) or change the loss weights.")
                opt.zero_grad(set_to_none=True)
                parts["loss"].backward()
                opt.step()
                gstep += 1
                if target is not None:
                    M.ema_update(target, model, M.ema_momentum(gstep, total, cfg["ema_momentum"]))
                seen += len(v1)
                vals = {k: v.item() for k, v in parts.items()}
                for k, v in vals.items():
                    sums[k] = sums.get(k, 0.0) + v
                if gstep % cfg["log_every"] == 0:
                    rate = seen / (time.time() - t0)
                    log.write(json.dumps({"epoch": epoch, "step": step, "global_step": gstep, "lr": lr,
                                          "images_per_s": rate, **vals}) + "\n")
                    log.flush()
                    bar.set_postfix({k: f"{v:.3g}" for k, v in list(vals.items())[:3]} | {"img/s": f"{rate:.0f}"})
                if time.time() - last_ckpt > 60 * cfg["checkpoint_minutes"]:
                    checkpoint(epoch, step + 1)
                    last_ckpt = time.time()
            # means over the steps this process ran (after a resume: the epoch's remainder)
            ran = max(1, seen // cfg["batch_size"])
            epoch_line = {"epoch": epoch, "global_step": gstep, "epoch_end": True, "seconds": time.time() - t0,
                          **{f"mean_{k}": v / ran for k, v in sums.items()}}
            log.write(json.dumps(epoch_line) + "\n")
            log.flush()
            epoch, step = epoch + 1, 0
            checkpoint(epoch, 0)
            last_ckpt = time.time()
    finally:
        log.close()

    result = evaluate_run(model, cfg, device, out)
    result["train_seconds_logged"] = _logged_seconds(out / "metrics.jsonl")
    atomic_write_json(final_path, result)
    print(f"[jepa_torus] {out}: " + ", ".join(f"{k}={result[k]:.4f}" for k in ("linear_probe", "knn_accuracy") if k in result))
    return result


def _trim_log(path: Path, global_step: int) -> None:
    """Drop log lines written after the checkpoint we resume from (a killed run's tail)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if rec.get("global_step", 0) <= global_step:
            keep.append(line)
    atomic_write_bytes(path, ("\n".join(keep) + "\n" if keep else "").encode())


def _logged_seconds(path: Path) -> float:
    total = 0.0
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        total += rec.get("seconds", 0.0) if rec.get("epoch_end") else 0.0
    return total


def evaluate_run(model: M.JEPA, cfg: dict, device, out_dir: Path | None = None) -> dict:
    """Probes and geometry of the final encoder (no epoch selection: the test set is scored
    once).  With ``out_dir`` the topology subsample of test features is saved as
    features.npz for the analysis notebook."""
    from . import metrics

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
    if ev["analysis"]:
        res = metrics.evaluate(f_tr, y_tr, f_te, y_te, test_angles=angles, n_topology=ev["topology_points"],
                               knn_k=ev["knn_k"], persistence_kwargs={"n_landmarks": ev["landmarks"]})
    else:
        res = {"linear_probe": metrics.linear_probe(f_tr, y_tr, f_te, y_te),
               "knn_accuracy": metrics.knn_accuracy(f_tr, y_tr, f_te, y_te, k=ev["knn_k"]),
               "effective_rank": metrics.effective_rank(f_te)}
    if out_dir is not None:
        keep = np.random.default_rng(0).permutation(len(f_te))[: ev["topology_points"]]
        np.savez_compressed(Path(out_dir) / "features.npz", features=f_te[keep], labels=y_te[keep],
                            **({} if angles is None else {"angles": angles[keep]}))
    res.update({"config": cfg["name"], "profile": cfg["profile"], "dataset": cfg["dataset"], "seed": cfg["seed"]})
    return res


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
    except (ConfigError, TrainingDiverged, D.DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
