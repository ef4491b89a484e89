"""The configuration of a run: one typed object, its defaults, and how it is resolved.

    cfg = resolve("configs/toroidal_N12.yaml", profile="cpu", overrides={"seed": 1})
    cfg.optim.lr, cfg.objective.loss["torus_weight"], cfg.run.seed, cfg.to_dict()

Sections (dataclasses below, defaults and units in the comments): ``data`` (which images,
how views are drawn), ``model``, ``objective`` (loss, predictor floors, torus head, EMA
target), ``optim``, ``eval``, ``run`` (name, seed, device and other execution details).
Dataclasses rather than plain dicts: attribute access catches a misspelt key where it is
read, and the defaults are readable top to bottom in one place.

Resolution, later wins:
    the defaults below < configs/profiles.yaml[profile]["all"] < profiles.yaml[profile][dataset]
    < the experiment YAML < its own ``profiles: {profile: ...}`` block < command-line overrides.
Every layer is a nested mapping in the same sections (``{optim: {lr: 0.01}}``).  An override
key is dotted (``optim.lr``, ``objective.loss.grid_size``); a key whose first part is a field
of exactly one section may drop the section (``lr``, ``epochs``, ``loss.grid_size``,
``augment.crop_scale``).  Every value is type-checked once, here; an unknown key or a value
of the wrong type is a ``ConfigError`` naming the key and listing the valid ones.

``validate`` then checks every value against its allowed range, before anything is built or
written: sizes and counts (>= 1, batch >= 2 and at most the training images), learning rate
and weights (finite, > 0 or >= 0), probabilities, names against their registries, and the
pairs that must agree (projector and embed_dim, the predictor and an even embedding, k and
the probe bank...).  The model, the loss and the objective check their own sections
(``models.validate_model``, ``losses.validate_loss``, ``objective.validate_objective``); the
message of every failure names the key, its value and the allowed range.
``config_hash`` is the sha256 a checkpoint records: resuming under another config is refused.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .runs import SOURCE, _is_checkout

# The experiment configs: configs/ of the source checkout, else the copy shipped as package
# data (jepa_torus/configs, pyproject.toml) when the package was installed without -e.
CONFIGS = SOURCE / "configs" if _is_checkout(SOURCE) else Path(__file__).resolve().parent / "configs"
PROFILES_FILE = CONFIGS / "profiles.yaml"
PROFILE_NAMES = ("smoke", "cpu", "gpu")   # configs/profiles.yaml has one section each (tested)

# Short names for the keys used most on the command line.  ``lambda_torus`` is the original
# repository's flag for the toroidal weight, kept for its users; the quantity is ``torus_weight``.
ALIASES = {"torus_weight": "objective.loss.torus_weight", "lambda_torus": "objective.loss.torus_weight",
           "grid_size": "objective.loss.grid_size", "data_root": "data.root"}


class ConfigError(ValueError):
    """A config key or value that cannot be used; the message names the key."""


# --------------------------------------------------------------------------- sections
@dataclass
class DataConfig:
    dataset: str = "fashion_mnist"   # fashion_mnist | cifar10 | cifar100 | torus_world | nuisance_torus
    root: str | None = None          # folder with the data files (else $JEPA_TORUS_DATA, system paths)
    download: bool = False           # fetch a missing Fashion-MNIST/CIFAR file (checksummed)
    train_subset: int = 0            # >0: train on a fixed random subset of this many images
    augment: dict = field(default_factory=dict)  # fields of augment.AugmentConfig replacing the data set's recipe
    nuisance: dict = field(default_factory=dict)  # nuisance_torus only: fields of nuisance_torus.Nuisance replacing
                                     # HARD, e.g. {polarity: false, contrast: [1, 1], background: 0, occluders: 0,
                                     # noise: 0} gives torus_world's images (nuisance_torus.CLEAN)


@dataclass
class ModelConfig:                   # see jepa_torus.models.build_model
    encoder: str = "convnet"         # convnet | resnet18
    encoder_kwargs: dict = field(default_factory=dict)   # e.g. {widths: [32, 64, 128], blocks: 1}
    in_channels: int = 1             # set from the data set
    projector: list | None = field(default_factory=lambda: [512, 512])  # hidden widths; None: z = h
    embed_dim: int | None = 256      # width of z
    predictor: str = "none"          # none | mlp | mlp_matched | hamiltonian
    predictor_kwargs: dict = field(default_factory=dict)  # e.g. {hidden: 256, depth: 2} (MLPPredictor, HamiltonianPredictor)
    torus_head: bool | dict = False  # True or {hidden: 128}: a head mapping h to two angles
    channels_last: bool = False      # NHWC memory layout (faster convolutions on CPU and GPU)


@dataclass
class ObjectiveConfig:               # see jepa_torus.objective.Objective
    loss: dict = field(default_factory=lambda: {"type": "vicreg"})  # {type, **kwargs}: losses.build_loss
    torus_head_weight: float = 1.0   # weight of TorusHeadLoss on the head's angles (if model.torus_head)
    floor_weight: float = 0.0        # >0: add the HamJEPA phase-space floors on z = (q, p)
    potential_warmup_epochs: float = 0.0  # HamJEPA: potential scale ramps 0 -> its value over these epochs
    ema_momentum: float = 0.0        # 0: the target is the online network; >0: EMA target, base momentum
    prediction: str = "symmetric"    # symmetric: each view predicts the other's target, two directions averaged;
                                     # one_way: online view 1 predicts the EMA target's view 2, regulariser on
                                     # the online z only (the original's setup; needs ema_momentum > 0, a predictor)


@dataclass
class OptimConfig:                   # AdamW, linear warm-up then cosine decay
    epochs: int = 10
    batch_size: int = 256            # the global batch (all processes together)
    lr: float = 2e-3                 # peak learning rate, after the warm-up
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0       # linear warm-up from lr / steps to lr
    min_lr_ratio: float = 0.01       # the cosine ends at lr * min_lr_ratio


@dataclass
class EvalConfig:                    # see jepa_torus.eval.evaluate_run
    probe_train: int = 10000         # training images for the linear probe / kNN bank (0 = all)
    probe_test: int = 10000          # test images scored (0 = all)
    knn_k: int = 20
    topology_points: int = 1000      # test features subsampled for PH, ID, spectral gap ratio
    landmarks: int = 300             # maxmin landmarks for persistent homology
    analysis: bool = True            # False: probes and effective rank only
    features: str = "encoder"        # "encoder": h of the trained model; "pixels": the raw-pixel baseline


@dataclass
class RunConfig:
    name: str | None = None          # run name; default: the config file's stem
    profile: str = "cpu"             # smoke | cpu | gpu (configs/profiles.yaml)
    seed: int = 0
    device: str = "auto"             # auto | cpu | cuda | cuda:1 ...
    threads: int = 0                 # torch and BLAS CPU threads; 0 = their default
    checkpoint_minutes: float = 5.0  # also checkpoint mid-epoch this often
    log_every: int = 25              # steps between metrics.jsonl lines
    progress: bool = True            # tqdm bar, where a terminal or a notebook shows it (train.attached)
    amp: str = "bf16"                # bf16 | off: bf16 autocast of the networks on CUDA (losses, leapfrog
                                     # and the probes stay fp32); never on CPU, where bf16 is 9x slower
    compile: bool = False            # torch.compile the networks' forward, on CUDA only (gpu profile)
    monitor_images: int = 1500       # a kNN probe and RankMe at epoch ends on this many training images
                                     # (a fixed part of the training set, never the test set); 0 = off
    monitor_every: int = 1           # epochs between those probes (the last epoch always has one)
    tensorboard: bool = False        # also write the logged values to <run>/tensorboard (pip install tensorboard)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict:
        """The nested mapping written to config.yaml and checkpoints."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, doc: dict) -> "Config":
        """The inverse of ``to_dict``, with every value checked (a config.yaml, a checkpoint)."""
        unknown = sorted(set(doc) - set(_SECTIONS))
        if unknown:
            legacy = " (the flat layout of jepa-torus <= 0.1: convert it with tests/migrate_run_configs.py)" \
                if "optim" not in doc else ""
            raise ConfigError(f"config keys {unknown} are not sections{legacy}; valid sections: {', '.join(_SECTIONS)}")
        return cls(**{name: kind(**_checked(name, kind, doc.get(name) or {})) for name, kind in _SECTIONS.items()})


_SECTIONS = {f.name: f.default_factory for f in dataclasses.fields(Config)}
# Keys that change how a run is executed or shown, not what it computes: a run may be
# resumed with other values for them.
# run.amp and run.compile are CUDA-only choices: on CPU they change nothing.
OPERATIONAL_KEYS = {"run.threads", "run.progress", "run.log_every", "run.checkpoint_minutes", "run.device",
                    "data.root", "data.download", "run.amp", "run.compile",
                    "run.monitor_images", "run.monitor_every", "run.tensorboard"}  # monitoring: log lines only


# --------------------------------------------------------------------------- checking
def _type_ok(hint, value) -> tuple[bool, object]:
    """Does value fit the annotation? Ints are accepted (and converted) where floats are."""
    if hint is typing.Any:
        return True, value
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType")) else (hint,)
    for t in options:
        if t is type(None) and value is None:
            return True, value
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        if t is float and isinstance(value, str):  # YAML 1.1 reads 4e-3 (no dot) as a string
            try:
                return True, float(value)
            except ValueError:
                pass
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return True, value
        if t in (bool, str, dict, list) and isinstance(value, t):
            return True, value
    return False, value


def _type_name(hint) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in (typing.get_args(hint) or (hint,)))


def _checked(section: str, kind: type, values: dict) -> dict:
    """Type-check one section's values against its dataclass; unknown keys are errors."""
    if not isinstance(values, dict):
        raise ConfigError(f"config section {section!r} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(kind)
    out = {}
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(f"unknown config key '{section}.{key}'{_suggest(f'{section}.{key}')}; "
                              f"valid keys in '{section}': {', '.join(hints)}")
        ok, value = _type_ok(hints[key], value)
        if not ok:
            raise ConfigError(f"config key '{section}.{key}' expects {_type_name(hints[key])}, got {value!r}")
        out[key] = value
    return out


def _all_keys() -> list[str]:
    return [f"{s}.{f.name}" for s, kind in _SECTIONS.items() for f in dataclasses.fields(kind)]


def _suggest(key: str) -> str:
    """" (did you mean 'optim.lr'?)" for a misspelt key, dotted or a bare field name."""
    full = _all_keys()
    by_leaf = {**{k.split(".", 1)[1]: k for k in full}, **{a: f"--{a.replace('_', '-')}" for a in ALIASES}}
    close = difflib.get_close_matches(key, full, n=2, cutoff=0.6) or \
        [by_leaf[m] for m in difflib.get_close_matches(key.split(".")[-1], list(by_leaf), n=2, cutoff=0.6)]
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def _owner(first: str) -> str | None:
    """The section holding field ``first``, when exactly one does."""
    owners = [s for s, kind in _SECTIONS.items() if first in {f.name for f in dataclasses.fields(kind)}]
    return owners[0] if len(owners) == 1 else None


def full_key(key: str) -> str:
    """"lr" -> "optim.lr", "loss.grid_size" -> "objective.loss.grid_size", aliases resolved."""
    key = key.replace("-", "_")   # --batch-size and --batch_size alike (no field has a dash)
    key = ALIASES.get(key, key)
    first = key.split(".")[0]
    if first in _SECTIONS:
        return key
    owner = _owner(first)
    if owner is None:
        raise ConfigError(f"unknown config key {key!r}{_suggest(key)}; "
                          f"keys are section.field with sections {', '.join(_SECTIONS)} "
                          f"(`--print-config` shows them all)")
    return f"{owner}.{key}"


def nest(overrides: dict) -> dict:
    """{"lr": 0.1, "loss.grid_size": 16} -> {"optim": {"lr": 0.1}, "objective": {"loss": {"grid_size": 16}}}."""
    nested: dict = {}
    for key, value in overrides.items():
        node = nested
        *parents, leaf = full_key(key).split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return nested


# --------------------------------------------------------------------------- merging
def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out[key] = _deep_merge(old, value)
        elif old is None or value is None or isinstance(old, (dict, list)):
            out[key] = copy.deepcopy(value)
        else:  # a value over one of the same kind: a loss weight stays a float when given as 1
            ok, out[key] = _type_ok(float if type(old) is float else type(old), value)
            if not ok:
                raise ConfigError(f"config key {key!r} of the loss expects {type(old).__name__}, got {value!r}")
    return out


def merge(cfg: dict, layer: dict) -> dict:
    """``layer`` (nested, section-first) over ``cfg`` (a full ``to_dict``); types checked.
    A field's value is replaced, mappings included (``encoder_kwargs``, ``augment``), except
    ``objective.loss``, which is merged key by key unless the layer names another loss type
    (its keys depend on the type)."""
    out = copy.deepcopy(cfg)
    if not isinstance(layer, dict):
        raise ConfigError(f"a config layer must be a mapping of sections ({', '.join(_SECTIONS)}), got {layer!r}")
    for section, values in layer.items():
        if section not in _SECTIONS:
            owner = _owner(section)
            hint = f" ({section} is a field of {owner!r}: write {owner}: {{{section}: ...}})" if owner else _suggest(section)
            raise ConfigError(f"unknown config section {section!r}{hint}; valid sections: {', '.join(_SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"config section {section!r} must be a mapping, got {values!r}")
        for key, value in values.items():
            old = out[section].get(key)
            same_loss = (section, key) == ("objective", "loss") and isinstance(value, dict) \
                and isinstance(old, dict) and value.get("type", old.get("type")) == old.get("type")
            merged = _deep_merge(old, value) if same_loss else copy.deepcopy(value)
            out[section].update(_checked(section, _SECTIONS[section], {key: merged}))
    return out


def config_file(path) -> Path:
    """An experiment config as given (a path from the working directory), else the shipped one
    of that name: ``toroidal_N12``, ``toroidal_N12.yaml`` or ``configs/toroidal_N12.yaml``
    from any working directory; a name that is neither stays as given (read_yaml says so)."""
    path = Path(path)
    if path.exists() or path.is_absolute() or path.parent not in (Path("."), Path("configs")):
        return path
    shipped = CONFIGS / (path.name if path.suffix else path.name + ".yaml")
    return shipped if shipped.is_file() else path


def read_yaml(path) -> dict:
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder, not a YAML file (configs/ lists the experiments)")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist (configs/ lists the experiments)")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read ({e.strerror or e})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"config file {path} must hold a mapping at top level")
    return doc


def resolve(config_path=None, profile: str = "cpu", overrides: dict | None = None) -> Config:
    """The full config of a run (see the module docstring for the order), validated."""
    if profile not in PROFILE_NAMES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    if config_path:
        config_path = config_file(config_path)
    experiment = read_yaml(config_path) if config_path else {}
    exp_profiles = experiment.pop("profiles", {}) or {}
    if not isinstance(exp_profiles, dict):
        raise ConfigError(f"{config_path}: 'profiles' must map profile names ({', '.join(PROFILE_NAMES)}) to "
                          f"sections, got {exp_profiles!r}")
    unknown = sorted(str(k) for k in set(exp_profiles) - set(PROFILE_NAMES))
    if unknown:
        raise ConfigError(f"{config_path}: unknown profile(s) {unknown} under 'profiles'; valid profiles: "
                          f"{', '.join(PROFILE_NAMES)}")
    try:
        overrides = nest(overrides or {})
    except ConfigError as e:
        raise ConfigError(f"the command line: {e}") from None
    dataset = (_dig(overrides, "data", "dataset") or _dig(exp_profiles, profile, "data", "dataset")
               or _dig(experiment, "data", "dataset") or DataConfig.dataset)
    if not PROFILES_FILE.is_file():  # never a silent fallback to the defaults (10 epochs, every image)
        raise ConfigError(f"the profiles file {PROFILES_FILE} is missing, so profile {profile!r} cannot be "
                          f"applied; reinstall the package (it ships configs/) or run from the repository")
    profiles = read_yaml(PROFILES_FILE)
    cfg = Config().to_dict()
    cfg["run"].update(name=Path(config_path).stem if config_path else "default", profile=profile)
    if not isinstance(dataset, str):
        dataset = DataConfig.dataset  # not a name: validate names the key
    layers = ((f"{PROFILES_FILE.name} [{profile}][all]", _dig(profiles, profile, "all")),
              (f"{PROFILES_FILE.name} [{profile}][{dataset}]", _dig(profiles, profile, dataset)),
              (str(config_path), experiment), (f"{config_path} [profiles][{profile}]", exp_profiles.get(profile)),
              ("the command line", overrides))
    for source, layer in layers:
        try:
            cfg = merge(cfg, layer or {})
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}") from None
        channels = _dig(layer, "model", "in_channels")
        if channels is not None:
            _check_in_channels(source, channels, cfg["data"]["dataset"])
    cfg["run"]["profile"] = profile
    return validate(Config.from_dict(cfg))


def _dig(doc, *keys):
    """doc[k1][k2]..., or None where a level is missing or not a mapping."""
    for k in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(k)
    return doc


def _check_in_channels(source: str, channels, dataset: str) -> None:
    """model.in_channels follows the data set; a layer may only restate it."""
    from . import data

    try:
        want = data.dataset_info(dataset).channels
    except ValueError:
        return  # validate names the data set
    if channels != want:
        raise ConfigError(f"{source}: config key 'model.in_channels' is {channels!r}, but it is set from the data set "
                          f"({dataset} has {want} channel{'s' if want > 1 else ''}); remove the key")


# --------------------------------------------------------------------------- value checks
# Shared by the validators here and in models.py, losses.py and objective.py: each raises a
# ConfigError naming the key, the value and what is allowed.
def _range(lo, hi, lo_open: bool = False, hi_open: bool = False) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}" if isinstance(lo, float) else f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}" if isinstance(hi, float) else f"{'<' if hi_open else '<='} {hi}")
    return " and ".join(parts)


def need_int(key: str, value, lo: int | None = None, hi: int | None = None, why: str = "") -> int:
    """An integer in [lo, hi]; ``why`` follows the range in the message."""
    rng = _range(lo, hi)
    text = f"an integer{' ' + rng if rng else ''}{why}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"config key '{key}' must be {text}, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"config key '{key}' must be {text}, got {value}")
    return value


def need_float(key: str, value, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
               hi_open: bool = False, why: str = "") -> float:
    """A finite number in the range (ints are numbers too)."""
    rng = _range(lo, hi, lo_open, hi_open)
    text = f"a finite number{' ' + rng if rng else ''}{why}"
    if isinstance(value, str):
        hint = ""
        if re.fullmatch(r"[+-]?\d+[eE][+-]?\d+", value.strip()):  # YAML 1.1 reads 4e-3 (no dot) as a string
            mantissa, exponent = re.split("[eE]", value.strip())
            hint = f" (YAML reads a number with an exponent but no dot as a string: write {mantissa}.0e{exponent})"
        raise ConfigError(f"config key '{key}' must be {text}, got the string {value!r}{hint}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"config key '{key}' must be {text}, got {value!r}")
    if not math.isfinite(value) or (lo is not None and (value <= lo if lo_open else value < lo)) \
            or (hi is not None and (value >= hi if hi_open else value > hi)):
        raise ConfigError(f"config key '{key}' must be {text}, got {value!r}")
    return float(value)


def need_bool(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"config key '{key}' must be true or false, got {value!r}")
    return value


def need_choice(key: str, value, options) -> object:
    if value not in options:
        raise ConfigError(f"config key '{key}' must be one of {', '.join(repr(o) for o in options)}, got {value!r}")
    return value


def need_mapping(key: str, value, valid) -> dict:
    """A mapping whose keys are all in ``valid``."""
    if not isinstance(value, dict):
        raise ConfigError(f"config key '{key}' must be a mapping, got {value!r}")
    unknown = sorted(str(k) for k in set(value) - set(valid))
    if unknown:
        raise ConfigError(f"config key '{key}': unknown key(s) {', '.join(unknown)}{_suggest_in(unknown[0], valid)}; "
                          f"valid keys: {', '.join(valid) or 'none'}")
    return value


def _suggest_in(name: str, valid) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _non_finite(value, key: str) -> tuple[str, float] | None:
    """(dotted key, value) of the first NaN or infinity under ``value``, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return key, value
    items = value.items() if isinstance(value, dict) else \
        ((f"[{i}]", v) for i, v in enumerate(value)) if isinstance(value, (list, tuple)) else ()
    for k, v in items:
        bad = _non_finite(v, f"{key}{k}" if str(k).startswith("[") else f"{key}.{k}")
        if bad:
            return bad
    return None


DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
AMP_MODES = ("bf16", "off")
RUN_NAME = re.compile(r"^[^/\\\x00]+$")


def _check_augment(key: str, dataset: str, channels: int, values) -> None:
    """data.augment: fields of augment.AugmentConfig over the data set's recipe, each in range."""
    from .augment import RECIPES, AugmentConfig

    fields = [f.name for f in dataclasses.fields(AugmentConfig)]
    need_mapping(key, values, fields)
    recipe = {**dataclasses.asdict(RECIPES[dataset]), **values}
    for name in ("crop_scale", "crop_ratio"):
        pair = recipe[name]
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ConfigError(f"config key '{key}.{name}' must be a pair [low, high], got {pair!r}")
        lo, hi = (need_float(f"{key}.{name}[{i}]", v, 0.0, lo_open=True) for i, v in enumerate(pair))
        if lo > hi or (name == "crop_scale" and hi > 1):
            limit = "0 < low <= high <= 1 (fractions of the image area)" if name == "crop_scale" \
                else "0 < low <= high (aspect ratios w/h)"
            raise ConfigError(f"config key '{key}.{name}' must be a pair with {limit}, got {list(pair)}")
    for name in ("flip_p", "jitter_p", "grayscale_p", "solarize_p"):
        need_float(f"{key}.{name}", recipe[name], 0.0, 1.0, why=" (a probability)")
    for name in ("brightness", "contrast", "saturation", "noise_std"):
        need_float(f"{key}.{name}", recipe[name], 0.0)
    need_float(f"{key}.hue", recipe["hue"], 0.0, 0.5, why=" (turns of the colour wheel)")
    if channels != 3:
        rgb = [n for n in ("saturation", "hue", "grayscale_p") if recipe[n]]
        if rgb:
            raise ConfigError(f"config key(s) {', '.join(f'{key}.{n}' for n in rgb)} need RGB images, but {dataset} "
                              f"has {channels} channel; set them to 0")


def _check_nuisance(key: str, dataset: str, values, augment) -> None:
    """data.nuisance: fields of nuisance_torus.Nuisance over HARD, each in range; only for
    nuisance_torus, which takes no data.augment (its views are the data set's)."""
    from .nuisance_torus import HARD

    fields = list(dataclasses.asdict(HARD))
    need_mapping(key, values, fields)
    if dataset != "nuisance_torus":
        if values:
            raise ConfigError(f"config key '{key}' is set, but only data set nuisance_torus draws nuisance "
                              f"(data.dataset is {dataset}); remove it")
        return
    if augment:
        raise ConfigError(f"config key 'data.augment' is set, but nuisance_torus draws its two views itself (two "
                          f"nuisance draws of the same angles, config key '{key}'); remove data.augment")
    n = {**dataclasses.asdict(HARD), **values}
    need_bool(f"{key}.polarity", n["polarity"])
    pair = n["contrast"]
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise ConfigError(f"config key '{key}.contrast' must be a pair [low, high], got {pair!r}")
    lo, hi = (need_float(f"{key}.contrast[{i}]", v, 0.0, lo_open=True) for i, v in enumerate(pair))
    if lo > hi:
        raise ConfigError(f"config key '{key}.contrast' must have 0 < low <= high, got {list(pair)}")
    need_float(f"{key}.background", n["background"], 0.0, why=" (in units of the texture's pixel std)")
    need_int(f"{key}.occluders", n["occluders"], 0, 8, " (grey rectangles per view)")
    need_float(f"{key}.noise", n["noise"], 0.0, why=" (pixel noise std, [0, 1] pixel units)")


def validate(cfg: Config) -> Config:
    """Check every value against its range and every pair that must agree, before anything
    is built or written; set what follows from others (in_channels).  Every failure is a
    ConfigError naming the key, its value and what is allowed."""
    from . import data, models, objective

    bad = next(filter(None, (_non_finite(v, s) for s, v in cfg.to_dict().items())), None)
    if bad:
        raise ConfigError(f"config key '{bad[0]}' is {bad[1]}; every number of a config must be finite")
    d, m, o, op, ev, r = cfg.data, cfg.model, cfg.objective, cfg.optim, cfg.eval, cfg.run

    # data
    try:
        info = data.dataset_info(d.dataset)
    except ValueError as e:
        raise ConfigError(f"config key 'data.dataset': {e}") from None
    n_train, n_test = data.split_size(d.dataset, "train"), data.split_size(d.dataset, "test")
    if d.root is not None and not d.root.strip():
        raise ConfigError("config key 'data.root' is empty; give a folder, or null to search the usual places")
    need_bool("data.download", d.download)
    need_int("data.train_subset", d.train_subset, 0, n_train, f" (0 = all; {d.dataset} has {n_train} training images)")
    if d.train_subset == 1:
        raise ConfigError("config key 'data.train_subset' is 1: a batch needs at least 2 images; use 0 (all) or >= 2")
    _check_augment("data.augment", d.dataset, info.channels, d.augment)
    _check_nuisance("data.nuisance", d.dataset, d.nuisance, d.augment)

    # model, then the objective on its embedding
    cfg.model.in_channels = info.channels
    dim = models.validate_model(dataclasses.asdict(m), image_size=info.size, key="model")
    objective.validate_objective(o, dim=dim, model=dataclasses.asdict(m), key="objective")
    if o.loss.get("type") == objective.SUPERVISED and d.dataset not in ("torus_world", "nuisance_torus"):
        raise ConfigError(f"config key 'objective.loss' is {objective.SUPERVISED!r}, which regresses known angles, "
                          f"but data set {d.dataset} has none; use torus_world or nuisance_torus")

    # optim
    used = d.train_subset or n_train
    need_int("optim.epochs", op.epochs, 0, why=" (0: evaluate the untrained encoder)")
    need_int("optim.batch_size", op.batch_size, 2, why=" (the losses and BatchNorm use batch statistics)")
    if op.batch_size > used:
        subset = f" (data.train_subset {d.train_subset})" if d.train_subset else f" ({d.dataset})"
        raise ConfigError(f"config key 'optim.batch_size' is {op.batch_size}, more than the {used} training "
                          f"images{subset}; use at most {used}")
    need_float("optim.lr", op.lr, 0.0, lo_open=True, why=" (the peak learning rate)")
    need_float("optim.weight_decay", op.weight_decay, 0.0)
    need_float("optim.warmup_epochs", op.warmup_epochs, 0.0)
    need_float("optim.min_lr_ratio", op.min_lr_ratio, 0.0, 1.0, why=" (the cosine ends at lr * min_lr_ratio)")

    # eval
    need_choice("eval.features", ev.features, ("encoder", "pixels"))
    need_bool("eval.analysis", ev.analysis)
    need_int("eval.probe_train", ev.probe_train, 0, n_train, f" (0 = all {n_train} training images of {d.dataset})")
    need_int("eval.probe_test", ev.probe_test, 0, n_test, f" (0 = all {n_test} test images of {d.dataset})")
    bank, scored = ev.probe_train or n_train, ev.probe_test or n_test
    floor = 2 * info.num_classes
    if bank < floor:
        raise ConfigError(f"config key 'eval.probe_train' is {ev.probe_train}: the linear probe needs at least "
                          f"{floor} training images (2 per class of {d.dataset}), or 0 for all")
    need_int("eval.knn_k", ev.knn_k, 1, bank, f" (at most eval.probe_train = {bank}, the kNN bank)")
    need_int("eval.topology_points", ev.topology_points, 1)
    need_int("eval.landmarks", ev.landmarks, 4, why=" (persistent homology needs 4 landmarks)")
    if ev.analysis:
        points = min(ev.topology_points, scored)  # metrics.evaluate subsamples the scored test features
        if points < 22:
            raise ConfigError(f"eval.analysis needs at least 22 points for the intrinsic dimension (20 neighbours), "
                              f"but config keys 'eval.topology_points' {ev.topology_points} and 'eval.probe_test' "
                              f"{ev.probe_test} leave {points}")
        if ev.landmarks > points:
            raise ConfigError(f"config key 'eval.landmarks' is {ev.landmarks}, more than the {points} points the "
                              f"topology is computed on (eval.topology_points {ev.topology_points}, eval.probe_test "
                              f"{ev.probe_test}); use at most {points}")

    # run
    if r.name is not None and (not RUN_NAME.match(r.name) or r.name.strip() != r.name or r.name in (".", "..")):
        raise ConfigError(f"config key 'run.name' must be a folder name (no '/', not '.' or '..', no leading or "
                          f"trailing space), got {r.name!r}")
    need_choice("run.profile", r.profile, PROFILE_NAMES)
    need_int("run.seed", r.seed, 0, 2**31 - 1)
    if not DEVICE.match(r.device):
        raise ConfigError(f"config key 'run.device' must be auto, cpu, cuda, cuda:<index> or mps, got {r.device!r}")
    need_int("run.threads", r.threads, 0, why=" (0 = the libraries' default)")
    need_float("run.checkpoint_minutes", r.checkpoint_minutes, 0.0, why=" (0 = after every step)")
    need_int("run.log_every", r.log_every, 1, why=" (steps between metrics.jsonl lines)")
    need_bool("run.progress", r.progress)
    need_choice("run.amp", r.amp, AMP_MODES)
    need_bool("run.compile", r.compile)
    need_int("run.monitor_images", r.monitor_images, 0, why=" (training images of the epoch-end kNN/RankMe probe; 0 = off)")
    need_int("run.monitor_every", r.monitor_every, 1, why=" (epochs between kNN/RankMe probes)")
    if 0 < r.monitor_images < 8:
        raise ConfigError(f"config key 'run.monitor_images' is {r.monitor_images}; allowed: 0 (off) or >= 8 "
                          "(a quarter of them are the kNN probe's queries, the rest its bank)")
    need_bool("run.tensorboard", r.tensorboard)
    return cfg


def config_hash(cfg_dict: dict) -> str:
    """sha256 of the config's canonical JSON, operational keys aside: what a checkpoint
    records, so that a run is never resumed under another config."""
    keep = {k: v for k, v in sorted(flat(cfg_dict).items()) if k not in OPERATIONAL_KEYS}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def differences(old: dict, new: dict, limit: int = 4) -> str:
    """"optim.lr 0.002 -> 0.008, ..." for the fields that differ (operational keys aside).
    ``old`` may be the flat layout of jepa-torus <= 0.1: then its keys are matched by name."""
    if "optim" not in old:  # legacy flat layout: compare what can be matched
        a = {}
        for k, v in old.items():
            if k in _SECTIONS and isinstance(v, dict):
                a.update({f"{k}.{f}": x for f, x in v.items()})
                continue
            try:
                a[full_key(k)] = v
            except ConfigError:
                continue
        b = flat(new)
        keys = sorted(k for k in a if k in b and k not in OPERATIONAL_KEYS and a[k] != b[k])
    else:
        a, b = flat(old), flat(new)
        keys = changed_keys(old, new)
    shown = [f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in keys[:limit]]
    return ", ".join(shown) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def flat(cfg_dict: dict) -> dict:
    """{"optim": {"lr": 1}} -> {"optim.lr": 1}, down to the section fields."""
    return {f"{s}.{k}": v for s, values in cfg_dict.items() if isinstance(values, dict) for k, v in values.items()}


def changed_keys(old: dict, new: dict) -> list[str]:
    """Fields (section.key) whose values differ, operational ones aside.  A key absent from
    ``old`` (a config.yaml written before the key existed) and at its default in ``new`` is
    unchanged: a key is added with a default that computes what was computed before."""
    a, b, default = flat(old), flat(new), flat(Config().to_dict())
    return sorted(k for k in set(a) | set(b) if k not in OPERATIONAL_KEYS and a.get(k) != b.get(k)
                  and not (k not in a and k in default and b.get(k) == default[k]))
