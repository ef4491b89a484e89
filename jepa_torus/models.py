"""Networks for the JEPA experiments: encoders, projector, predictors, torus head, EMA.

Contract with the training loop (everything else here is a building block):

    model = build_model(cfg)        # cfg: a mapping; missing keys take DEFAULTS below
    out = model(x)                  # x (B, C, H, W) -> {"h": (B, F), "z": (B, D)[, "angles": (B, 2)]}
    zp = model.predict(out["z"])    # predictor: (B, D) -> (B, D); identity when predictor="none"
    target = ema_copy(model.encoder) ... ema_update(target, model.encoder, ema_momentum(step, total))

    h       representation (encoder output after global average pooling): what probes read.
    z       embedding (projector output): what the losses see; z = h when projector is None.
    angles  TorusProjectionHead(h), in [0, 2 pi), only when cfg["torus_head"] is set.

Config keys (unknown keys are an error that lists these):

    encoder           "convnet" | "resnet18"
    encoder_kwargs    passed on, e.g. {"widths": [32, 64, 128, 256]} or {"width": 32}
    in_channels       1 (Fashion-MNIST) | 3 (CIFAR)
    projector         hidden widths of Linear-BN-ReLU blocks before the last Linear;
                      [] = a single Linear; None = identity (z = h, headless as in HamJEPA)
    embed_dim         dimension D of z (None: keep the encoder's width); even for "hamiltonian"
    predictor         "none" | "mlp" | "mlp_matched" | "hamiltonian"; "mlp_matched" takes the
                      Hamiltonian predictor's kwargs and builds an MLPPredictor with the same
                      number of parameters as its potential MLP (the HamJEPA ablation)
    predictor_kwargs  passed to MLPPredictor / HamiltonianPredictor
    torus_head        False | True | {"hidden": 128}: a TorusProjectionHead on h
    channels_last     store weights and inputs NHWC (faster convolutions on CPU, see
                      tests/bench_models.py)

Sources: ResNet, He et al. 2016 (CIFAR stem as in EB-JEPA, arXiv 2602.03604); projector and
VICReg, Bardes et al. 2022; HamJEPA leapfrog predictor and floors, arXiv 2605.20107; EMA
target and its cosine momentum, BYOL (Grill et al. 2020).
"""
from __future__ import annotations

import copy
import inspect
import math
from dataclasses import asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ConfigError, ModelConfig, need_bool, need_choice, need_float, need_int, need_mapping

__all__ = [
    "DEFAULTS",
    "ResNet", "resnet18", "ConvNet", "build_encoder",
    "Projector", "MLPPredictor", "HamiltonianPredictor",
    "mlp_param_count", "matched_mlp_hidden",
    "TorusProjectionHead", "torus_embed",
    "ema_copy", "ema_update", "ema_momentum",
    "JEPA", "build_model", "count_params", "validate_model",
]

TWO_PI = 2 * math.pi


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------------------
# Encoders


def _conv_bn(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    # no conv bias: the BatchNorm that follows has its own shift
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    """Two 3x3 convs plus an identity (or 1x1 projection) shortcut, He et al. 2016."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(cin, cout, stride), nn.ReLU(inplace=True), *_conv_bn(cout, cout))
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet with the CIFAR stem: one 3x3 stride-1 conv and no max-pool.

    The ImageNet stem (7x7 stride 2 + max-pool) that the original jepa-torus repository used
    shrinks a 32x32 image to 8x8 before the first block and costs accuracy.
    """

    def __init__(self, in_channels: int = 3, width: int = 64, blocks=(2, 2, 2, 2)):
        super().__init__()
        widths = [width * m for m in (1, 2, 4, 8)]
        self.stem = nn.Sequential(*_conv_bn(in_channels, width), nn.ReLU(inplace=True))
        layers, cin = [], width
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                # halve the resolution at the first block of every stage but the first
                layers.append(BasicBlock(cin, w, stride=2 if (i > 0 and j == 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.out_dim = widths[-1]
        _init_convs(self)

    @classmethod
    def check_config(cls, kw: dict, key: str, image_size: int) -> int:
        """encoder_kwargs of resnet18 (``width``); returns the representation's width."""
        width = need_int(f"{key}.width", kw["width"], 1) if "width" in kw else 64
        return 8 * width

    def forward(self, x):               # (B, C, H, W)
        x = self.layers(self.stem(x))   # (B, 8w, H/8, W/8)
        return x.mean(dim=(2, 3))       # (B, 8w) global average pool


def resnet18(in_channels: int = 3, width: int = 64) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2], widths width * (1, 2, 4, 8); 11,168,832 params at 64."""
    return ResNet(in_channels, width, (2, 2, 2, 2))


class ConvNet(nn.Module):
    """A plain VGG-style ConvNet for the CPU profile.

    Stage i = blocks[i] x (3x3 conv-BN-ReLU) at width widths[i] (an int: the same for every
    stage), then a 2x2 max-pool after every stage but the last; global average pool at the
    end.  On 28x28 inputs the stages run at 28, 14, 7 and 3 pixels.
    The default, 4 convs 32-64-128-256 (0.39 M params), is proposed for the CPU profile.  The
    cost of a conv net on 28x28 inputs is dominated by its full-resolution layers and this one
    has a single one: ~1300 images per CPU-second (NHWC, one thread, tests/bench_models.py)
    against ~480 for the 6-conv 32-64-128 x2 net (widths (32, 64, 128), 2 blocks; same benchmark).  In a one-epoch VICReg
    check on Fashion-MNIST (234 steps of 256 pairs, one thread, logistic probe on 20k
    train features) it reached 85.2% linear / 81.8% kNN@20 against 84.6 / 80.6 for the 6-conv
    net (83.3 / 80.9 at random init), and 86.4 / 82.4 after 3 epochs in 393 CPU-seconds.
    """

    def __init__(self, in_channels: int = 1, widths=(32, 64, 128, 256), blocks=1):
        super().__init__()
        blocks = [blocks] * len(widths) if isinstance(blocks, int) else list(blocks)
        if len(blocks) != len(widths):
            raise ValueError(f"blocks {blocks} needs one entry per stage of widths {list(widths)}")
        layers, cin = [], in_channels
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for _ in range(n):
                layers += [*_conv_bn(cin, w), nn.ReLU(inplace=True)]
                cin = w
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.out_dim = widths[-1]
        _init_convs(self)

    @classmethod
    def check_config(cls, kw: dict, key: str, image_size: int) -> int:
        """encoder_kwargs of the ConvNet (``widths``, ``blocks``) for images of ``image_size``
        pixels; returns the representation's width."""
        widths = kw.get("widths", (32, 64, 128, 256))
        if not isinstance(widths, (list, tuple)) or not widths:
            raise ConfigError(f"config key '{key}.widths' must be a non-empty list of stage widths, got {widths!r}")
        for i, w in enumerate(widths):
            need_int(f"{key}.widths[{i}]", w, 1)
        blocks = kw.get("blocks", 1)
        if isinstance(blocks, (list, tuple)):
            if len(blocks) != len(widths):
                raise ConfigError(f"config key '{key}.blocks' {list(blocks)} needs one entry per stage of "
                                  f"{key}.widths {list(widths)}")
            for i, b in enumerate(blocks):
                need_int(f"{key}.blocks[{i}]", b, 1)
        else:
            need_int(f"{key}.blocks", blocks, 1, why=" (convs per stage), or a list with one per stage")
        size = image_size
        for _ in range(len(widths) - 1):  # a 2x2 max-pool after every stage but the last
            size //= 2
        if size < 1:
            most = 1 + int(math.log2(image_size))
            raise ConfigError(f"config key '{key}.widths' has {len(widths)} stages, but the {len(widths) - 1} 2x2 "
                              f"max-pools between them shrink {image_size}-pixel images to nothing; use at most "
                              f"{most} stages")
        return widths[-1]

    def forward(self, x):               # (B, C, H, W)
        x = self.features(x)            # (B, widths[-1], H / 2^(S-1), W / 2^(S-1))
        return x.mean(dim=(2, 3))       # (B, widths[-1])


def _init_convs(module: nn.Module) -> None:
    # He (fan-out) init keeps activation variance stable through ReLU stacks
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


ENCODERS = {"resnet18": resnet18, "convnet": ConvNet}


def _call_checked(kind: str, name: str, fn, *args, **kw):
    """Call fn, turning an unknown keyword into an error that lists the valid ones."""
    valid = [p for p in inspect.signature(fn).parameters if p not in ("self",)]
    bad = sorted(set(kw) - set(valid))
    if bad:
        raise ValueError(f"{kind} {name!r}: unknown kwargs {bad}; valid kwargs are {valid}")
    return fn(*args, **kw)


def build_encoder(name: str, in_channels: int, **kw) -> nn.Module:
    """Encoder by name: "resnet18" (kwargs: width) or "convnet" (kwargs: widths, blocks)."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; valid encoders are {sorted(ENCODERS)}")
    return _call_checked("encoder", name, ENCODERS[name], in_channels=in_channels, **kw)


# ----------------------------------------------------------------------------------------
# Projector and MLP predictor


class Projector(nn.Module):
    """(Linear-BN-ReLU) x len(hidden_dims), then Linear to out_dim (VICReg / EB-JEPA)."""

    def __init__(self, in_dim: int, hidden_dims=(512, 512), out_dim: int = 256):
        super().__init__()
        layers, d = [], in_dim
        for h in hidden_dims:
            layers += [nn.Linear(d, h), nn.BatchNorm1d(h), nn.ReLU(inplace=True)]
            d = h
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)
        self.out_dim = out_dim

    def forward(self, h):               # (B, in_dim) -> (B, out_dim)
        return self.net(h)


def mlp_param_count(dim: int, hidden: int, depth: int, norm: bool = True) -> int:
    """Parameters of MLPPredictor(dim, hidden, depth): dim -> hidden (x depth) -> dim."""
    linear = (dim * hidden + hidden) + (depth - 1) * (hidden * hidden + hidden) + (hidden * dim + dim)
    return linear + (2 * hidden * depth if norm else 0)


def matched_mlp_hidden(dim: int, target_params: int, depth: int, norm: bool = True) -> int:
    """Hidden width whose MLPPredictor(dim, hidden, depth) has closest to target_params.

    params(h) = (depth-1) h^2 + (2 dim + depth + 2 depth [norm]) h + dim: solve the quadratic,
    then pick the better of the two neighbouring integers.
    """
    a, b, c = depth - 1, 2 * dim + depth + (2 * depth if norm else 0), dim - target_params
    h = -c / b if a == 0 else (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    cands = [max(1, math.floor(h)), max(1, math.ceil(h))]
    return min(cands, key=lambda k: abs(mlp_param_count(dim, k, depth, norm) - target_params))


class MLPPredictor(nn.Module):
    """Embedding -> embedding: (Linear-BN-ReLU) x depth, then Linear back to dim.

    residual=True predicts z + MLP(z), a near-identity map like a short leapfrog flow, which
    makes it the fair ablation of the Hamiltonian predictor.  param_count (optional) sets the
    hidden width so the predictor has about that many parameters (matched ablation).
    """

    def __init__(self, dim: int, hidden: int = 1024, depth: int = 1, residual: bool = False,
                 norm: bool = True, param_count: int | None = None):
        super().__init__()
        if param_count is not None:
            hidden = matched_mlp_hidden(dim, param_count, depth, norm)
        layers, d = [], dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), *([nn.BatchNorm1d(hidden)] if norm else []), nn.ReLU(inplace=True)]
            d = hidden
        layers.append(nn.Linear(d, dim))
        self.net = nn.Sequential(*layers)
        self.residual, self.hidden = residual, hidden

    @classmethod
    def check_config(cls, kw: dict, key: str) -> None:
        """predictor_kwargs of predictor 'mlp'."""
        for name in ("hidden", "depth"):
            if name in kw:
                need_int(f"{key}.{name}", kw[name], 1)
        for name in ("residual", "norm"):
            if name in kw:
                need_bool(f"{key}.{name}", kw[name])
        if kw.get("param_count") is not None:
            need_int(f"{key}.param_count", kw["param_count"], 1)

    def forward(self, z):               # (B, D) -> (B, D)
        return z + self.net(z) if self.residual else self.net(z)


# ----------------------------------------------------------------------------------------
# Hamiltonian (leapfrog) predictor, HamJEPA arXiv 2605.20107


class HamiltonianPredictor(nn.Module):
    """Predict the other view by flowing z = (q, p) under a learned separable Hamiltonian.

        H(q, p) = |p|^2 / 2 + V(q),   V(q) = quad |q|^2 + s * MLP(q)   (MLP: R^{D/2} -> R)

    integrated with `steps` leapfrog (velocity Verlet) steps of size dt:
        p <- p - dt/2 dV/dq(q);  q <- q + dt p;  p <- p - dt/2 dV/dq(q)
    Each step is symplectic and time-reversible (running it with -dt undoes it), so the
    predictor cannot shrink phase-space volume: it cannot collapse the embedding by itself.
    dV/dq of the MLP comes from autograd with create_graph=True, so the loss trains the
    potential through its gradient; the quadratic part is differentiated by hand (2 quad q).
    The MLP uses SiLU: it must be smooth, since its input-gradient is itself trained.
    s (`potential_scale`) is a buffer, saved in checkpoints; ``set_progress`` ramps it up over
    ``warmup_steps`` (HamJEPA: 0 -> 0.02 over 10 epochs).  Runs in fp32 even under autocast.
    """

    def __init__(self, dim: int, hidden: int = 256, depth: int = 2, steps: int = 2, dt: float = 0.05,
                 potential_scale: float = 0.02, quad: float = 0.05):
        super().__init__()
        if dim % 2:
            raise ValueError(f"HamiltonianPredictor needs an even embedding dim (q, p halves), got {dim}")
        layers, d = [], dim // 2
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.SiLU()]
            d = hidden
        layers.append(nn.Linear(d, 1, bias=False))  # a constant in V moves nothing: no bias
        self.potential = nn.Sequential(*layers)
        self.steps, self.dt, self.quad = steps, dt, quad
        self.register_buffer("potential_scale", torch.tensor(float(potential_scale)))
        self.full_scale = potential_scale   # what the warm-up ramps up to
        self.warmup_steps = 0.0             # steps of the warm-up (the objective sets it; 0: none)

    @classmethod
    def check_config(cls, kw: dict, key: str, dim: int, dim_key: str = "config key 'model.embed_dim'") -> None:
        """predictor_kwargs of predictor 'hamiltonian' (and 'mlp_matched', built from the same),
        for an embedding of width ``dim`` (``dim_key`` says where it comes from)."""
        for name in ("hidden", "depth", "steps"):
            if name in kw:
                need_int(f"{key}.{name}", kw[name], 1)
        if "dt" in kw:
            need_float(f"{key}.dt", kw["dt"], 0.0, lo_open=True, why=" (the leapfrog step)")
        for name in ("potential_scale", "quad"):
            if name in kw:
                need_float(f"{key}.{name}", kw[name], 0.0)
        if dim % 2:
            raise ConfigError(f"{dim_key} is {dim}, but the Hamiltonian predictor (model.predictor 'hamiltonian' or "
                              f"'mlp_matched') splits the embedding into halves (q, p) and needs an even width; "
                              f"use {dim - 1} or {dim + 1}")

    def set_potential_scale(self, s: float) -> None:
        self.potential_scale.fill_(float(s))

    def set_progress(self, step: int, total: int) -> None:
        """The schedule hook: s = full_scale * min(1, step / warmup_steps) during a warm-up."""
        if self.warmup_steps > 0:
            self.set_potential_scale(self.full_scale * min(1.0, step / self.warmup_steps))

    def V(self, q):                     # (B, D/2) -> (B,)
        return self.quad * q.pow(2).sum(1) + self.potential_scale * self.potential(q).squeeze(1)

    def hamiltonian(self, q, p):        # (B, D/2), (B, D/2) -> (B,)
        return 0.5 * p.pow(2).sum(1) + self.V(q)

    def grad_V(self, q, create_graph: bool):  # (B, D/2) -> (B, D/2)
        with torch.enable_grad():
            # the target branch arrives detached; autograd.grad still needs a leaf to differentiate
            qg = q if q.requires_grad else q.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.potential(qg).sum(), qg, create_graph=create_graph)
        return 2 * self.quad * q + self.potential_scale * g

    def forward(self, z, dt: float | None = None, steps: int | None = None):  # (B, D) -> (B, D)
        dt = self.dt if dt is None else dt
        steps = self.steps if steps is None else steps
        create_graph = torch.is_grad_enabled()  # no second-order graph when evaluating
        if z.dtype in (torch.float16, torch.bfloat16):
            z = z.float()
        with torch.autocast(z.device.type, enabled=False):
            q, p = z.chunk(2, dim=1)        # (B, D/2) each
            g = self.grad_V(q, create_graph)
            for _ in range(steps):
                p = p - 0.5 * dt * g
                q = q + dt * p
                g = self.grad_V(q, create_graph)  # reused by the next step's first half-kick
                p = p - 0.5 * dt * g
        return torch.cat([q, p], dim=1)     # (B, D)


# ----------------------------------------------------------------------------------------
# Torus head


class TorusProjectionHead(nn.Module):
    """h -> two angles on the 2-torus, (B, in_dim) -> (B, 2) in [0, 2 pi).

    Linear-BN-ReLU-Linear to two 2-vectors, each normalised onto the unit circle; the angle is
    atan2 of it.  The original repository used 2 pi sigmoid(x), which needs x -> +-infinity to
    reach the seam at 0 = 2 pi, so the seam is never crossed smoothly; a point on the circle
    has no seam.  `embed` returns the unit vectors directly (= torus_embed(angles)).
    """

    def __init__(self, in_dim: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, 4))

    @classmethod
    def check_config(cls, head, key: str) -> None:
        """model.torus_head: false, true, or {hidden: width}."""
        if isinstance(head, bool) or head is None:
            return
        need_mapping(key, head, ["hidden"])
        if "hidden" in head:
            need_int(f"{key}.hidden", head["hidden"], 1)

    def embed(self, h):                                 # (B, in_dim) -> (B, 4)
        u = self.net(h).view(-1, 2, 2)                  # (B, 2 circles, (x, y))
        u = F.normalize(u, dim=2, eps=1e-6)
        return u.flatten(1)                             # (cos t1, sin t1, cos t2, sin t2)

    def forward(self, h):                               # (B, in_dim) -> (B, 2)
        u = self.net(h).view(-1, 2, 2)
        a = torch.atan2(u[..., 1], u[..., 0])           # (B, 2) in (-pi, pi]
        a = torch.where(a < 0, a + TWO_PI, a)
        # -1e-9 + 2 pi rounds up to 2 pi in float32: fold it back to 0
        return torch.where(a >= TWO_PI, torch.zeros_like(a), a)


def torus_embed(angles):                                # (B, 2) -> (B, 4)
    """(t1, t2) -> (cos t1, sin t1, cos t2, sin t2): the flat torus in R^4."""
    t1, t2 = angles.unbind(1)
    return torch.stack([t1.cos(), t1.sin(), t2.cos(), t2.sin()], dim=1)


# ----------------------------------------------------------------------------------------
# EMA target (BYOL, Grill et al. 2020)


def ema_copy(model: nn.Module) -> nn.Module:
    """A frozen copy of model to serve as the EMA target (same train/eval mode)."""
    target = copy.deepcopy(model)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online; buffers (BN statistics) copied."""
    tp, op = list(target.parameters()), list(online.parameters())
    torch._foreach_lerp_(tp, op, 1.0 - momentum)   # t + (1-m)(o - t) = m t + (1-m) o
    for tb, ob in zip(target.buffers(), online.buffers()):
        tb.copy_(ob)


def ema_momentum(step: int, total: int, base: float = 0.996) -> float:
    """Cosine schedule from base at step 0 to 1 at step total (BYOL)."""
    t = min(max(step, 0), total) / max(total, 1)
    return 1 - (1 - base) * (math.cos(math.pi * t) + 1) / 2


# ----------------------------------------------------------------------------------------
# The JEPA wrapper and its factory

DEFAULTS = asdict(ModelConfig())   # the keys and defaults, commented, are config.ModelConfig
PREDICTORS = ("none", "mlp", "mlp_matched", "hamiltonian")


class JEPA(nn.Module):
    """encoder -> h -> projector -> z; predictor applied on demand; optional torus head on h."""

    def __init__(self, encoder: nn.Module, projector: nn.Module, predictor: nn.Module,
                 torus_head: nn.Module | None = None, channels_last: bool = False):
        super().__init__()
        self.encoder, self.projector, self.predictor, self.torus_head = encoder, projector, predictor, torus_head
        self.channels_last = channels_last

    def forward(self, x) -> dict:       # (B, C, H, W)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        h = self.encoder(x)             # (B, F)
        out = {"h": h, "z": self.projector(h)}  # z: (B, D)
        if self.torus_head is not None:
            if torch.is_autocast_enabled(h.device.type):  # bf16 would round the angles to ~0.01 rad: fp32
                with torch.autocast(h.device.type, enabled=False):
                    out["angles"] = self.torus_head(h.float())
            else:
                out["angles"] = self.torus_head(h)  # (B, 2)
        return out

    def predict(self, z):               # (B, D) -> (B, D)
        return self.predictor(z)


def validate_model(cfg: dict, image_size: int, key: str = "model") -> int:
    """Check a model config (config.ModelConfig as a mapping) before anything is built: every
    name, every width and count, and the pairs that must agree (projector and embed_dim, an
    even embedding for the Hamiltonian predictor, kwargs for the chosen parts).  Returns the
    embedding's width D (what the objective sees).  Raises ConfigError naming the key."""
    c = {**DEFAULTS, **cfg}
    need_choice(f"{key}.encoder", c["encoder"], sorted(ENCODERS))
    ekw = need_mapping(f"{key}.encoder_kwargs", c["encoder_kwargs"],
                       [p for p in inspect.signature(ENCODERS[c["encoder"]]).parameters if p != "in_channels"])
    width = (ResNet if c["encoder"] == "resnet18" else ConvNet).check_config(ekw, f"{key}.encoder_kwargs", image_size)
    need_int(f"{key}.in_channels", c["in_channels"], 1)
    if c["projector"] is not None:
        if not isinstance(c["projector"], list):
            raise ConfigError(f"config key '{key}.projector' must be a list of hidden widths ([] for one Linear) or "
                              f"null (z = h), got {c['projector']!r}")
        for i, w in enumerate(c["projector"]):
            need_int(f"{key}.projector[{i}]", w, 1)
    if c["embed_dim"] is not None:
        need_int(f"{key}.embed_dim", c["embed_dim"], 1, why=", or null for the encoder's width")
    if c["projector"] is None:
        if c["embed_dim"] not in (None, width):
            raise ConfigError(f"config key '{key}.projector' is null, which keeps z = h of the encoder's width {width}, "
                              f"but '{key}.embed_dim' is {c['embed_dim']}; set embed_dim to null (or {width}), or give "
                              "a projector")
        dim, dim_key = width, f"the encoder's width (config key '{key}.encoder_kwargs'; {key}.projector is null, so z = h)"
    else:
        dim = c["embed_dim"] or width
        dim_key = f"config key '{key}.embed_dim'" if c["embed_dim"] else f"the encoder's width (config key '{key}.encoder_kwargs')"
    kind = need_choice(f"{key}.predictor", c["predictor"], PREDICTORS)
    pkey = f"{key}.predictor_kwargs"
    if kind == "none":
        need_mapping(pkey, c["predictor_kwargs"], [])
    elif kind == "mlp":
        MLPPredictor.check_config(need_mapping(pkey, c["predictor_kwargs"],
                                               [p for p in inspect.signature(MLPPredictor).parameters if p != "dim"]), pkey)
    else:  # hamiltonian, and mlp_matched built from the Hamiltonian predictor's kwargs
        HamiltonianPredictor.check_config(need_mapping(pkey, c["predictor_kwargs"], [
            p for p in inspect.signature(HamiltonianPredictor).parameters if p != "dim"]), pkey, dim, dim_key)
    head = c["torus_head"]
    if not isinstance(head, (bool, dict)):
        raise ConfigError(f"config key '{key}.torus_head' must be true, false or {{hidden: width}}, got {head!r}")
    TorusProjectionHead.check_config(head, f"{key}.torus_head")
    need_bool(f"{key}.channels_last", c["channels_last"])
    return dim


def build_model(cfg: dict | None = None) -> JEPA:
    """JEPA from a config mapping; see the module docstring for the keys."""
    cfg = dict(cfg or {})
    bad = sorted(set(cfg) - set(DEFAULTS))
    if bad:
        raise ValueError(f"unknown model config keys {bad}; valid keys are {sorted(DEFAULTS)}")
    c = {**DEFAULTS, **cfg}

    encoder = build_encoder(c["encoder"], c["in_channels"], **c["encoder_kwargs"])
    if c["projector"] is None:
        if c["embed_dim"] not in (None, encoder.out_dim):
            raise ValueError(f"projector None keeps z = h of dim {encoder.out_dim}, but embed_dim={c['embed_dim']}")
        projector, dim = nn.Identity(), encoder.out_dim
    else:
        dim = c["embed_dim"] or encoder.out_dim
        projector = Projector(encoder.out_dim, tuple(c["projector"]), dim)

    kind, pkw = c["predictor"], dict(c["predictor_kwargs"])
    if kind == "none":
        if pkw:
            raise ValueError(f"predictor 'none' takes no predictor_kwargs, got {sorted(pkw)}")
        predictor = nn.Identity()
    elif kind == "mlp":
        predictor = _call_checked("predictor", kind, MLPPredictor, dim, **pkw)
    elif kind == "hamiltonian":
        predictor = _call_checked("predictor", kind, HamiltonianPredictor, dim, **pkw)
    elif kind == "mlp_matched":
        # same depth and parameter count as the Hamiltonian potential built from the same kwargs
        ham = _call_checked("predictor", kind, HamiltonianPredictor, dim, **pkw)
        depth = pkw.get("depth", inspect.signature(HamiltonianPredictor).parameters["depth"].default)
        predictor = MLPPredictor(dim, depth=depth, residual=True, param_count=count_params(ham))
    else:
        raise ValueError(f"unknown predictor {kind!r}; valid predictors are {list(PREDICTORS)}")

    head = c["torus_head"]
    if head is True:
        head = {}
    torus_head = None if head is False or head is None else _call_checked("torus_head", "TorusProjectionHead", TorusProjectionHead, encoder.out_dim, **head)

    model = JEPA(encoder, projector, predictor, torus_head, channels_last=c["channels_last"])
    if c["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    return model
