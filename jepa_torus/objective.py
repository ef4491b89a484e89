"""The whole training objective of a run, in one module: the regulariser (losses.py), the
JEPA prediction step, the torus-head term, the HamJEPA phase-space floors, and the
schedules of all of them.

    objective = Objective(cfg.objective, model, steps_per_epoch)
    objective.set_progress(step, total)            # once per step, before forward
    parts = objective(net, target, v1, v2)         # {"loss": total, every named part}

The loop knows nothing of what is inside: every scheduled module (a loss with a weight
schedule, the Hamiltonian predictor's potential warm-up) has ``set_progress(step, total)``
with integer steps, and ``Objective.set_progress`` calls each of them.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ConfigError, need_choice, need_float
from .dist import gather_batch, unwrap
from .losses import TorusHeadLoss, VICRegLoss, build_loss, validate_loss

__all__ = ["Objective", "AngleRegression", "SUPERVISED", "hamiltonian_floor_loss", "validate_objective"]


def hamiltonian_floor_loss(q, p, std_floor: float = 0.2, energy_weight: float = 1.0,
                           std_weight: float = 1.0, mean_weight: float = 1.0, eps: float = 1e-4) -> dict:
    """Anti-collapse floors on a phase-space batch (q, p), each (B, d); simplified HamJEPA.

    energy  (E|q|^2/d - 1)^2 + (E|p|^2/d - 1)^2: a total-scale budget that, unlike VICReg's
            per-dimension variance target, lets the scale be spread non-isotropically.
    std     mean over dims of relu(std_floor - std): a floor, not a target, per dimension.
    mean    mean over dims of the squared batch mean: keeps the cloud centred, so the energy
            budget is spent on spread, not on an offset.
    HamJEPA also hinges log-det, participation ratio and top-eigenvalue fraction on a random
    128-d projection; those spectral floors are left out here.
    """
    x = torch.cat([q, p], dim=1)                                            # (B, 2d)
    energy = (q.pow(2).mean() - 1).pow(2) + (p.pow(2).mean() - 1).pow(2)  # mean over B and d = E|.|^2/d
    std = torch.sqrt(x.var(dim=0) + eps)                                    # (2d,)
    std_loss = F.relu(std_floor - std).mean()
    mean_loss = x.mean(dim=0).pow(2).mean()
    loss = energy_weight * energy + std_weight * std_loss + mean_weight * mean_loss
    return {"loss": loss, "energy": energy, "std": std_loss, "mean": mean_loss}


SUPERVISED = "supervised_angles"   # objective.loss.type of the supervised upper reference (not a JEPA loss)
PREDICTIONS = ("symmetric", "one_way")   # objective.prediction (config.ObjectiveConfig)
ONE_WAY_LOSSES = ("vicreg", "toroidal")  # losses whose invariance and regulariser one_way can take apart


class AngleRegression(nn.Module):
    """The supervised upper reference's loss: a linear head on the embedding z regresses
    (cos a1, sin a1, cos a2, sin a2) of each view, mean squared error over both views, i.e.
    each view is a single labelled image.  Trained with the same encoder, data and budget as
    the self-supervised runs, so it says how much of the torus an encoder of this size can
    carry at all.  The head is this module's parameter (the optimiser includes it)."""

    def __init__(self, in_dim: int):
        super().__init__()
        self.head = nn.Linear(in_dim, 4)

    def forward(self, h1, h2, angles) -> dict:
        a = angles.to(h1.dtype)
        y = torch.cat([a[:, :1].cos(), a[:, :1].sin(), a[:, 1:].cos(), a[:, 1:].sin()], 1)   # (B, 4)
        mse = ((self.head(h1) - y).pow(2).mean() + (self.head(h2) - y).pow(2).mean()) / 2
        return {"loss": mse, "mse": mse}


def validate_objective(cfg, dim: int, model: dict, key: str = "objective") -> None:
    """Check an objective config (config.ObjectiveConfig) against the model it trains before
    anything is built: the loss (``losses.validate_loss`` on the embedding width ``dim``),
    finite non-negative weights, an even embedding for the phase-space floors, a warm-up
    only where there is a potential to warm up, an EMA momentum in [0, 1), and for
    ``prediction: one_way`` an EMA target, a predictor, a VICReg-family loss and no two-view term."""
    if isinstance(cfg.loss, dict) and cfg.loss.get("type") == SUPERVISED:
        extra = sorted(set(cfg.loss) - {"type"})
        if extra:
            raise ConfigError(f"config key '{key}.loss': loss {SUPERVISED!r} takes no keys, got {extra}")
        if model.get("predictor", "none") != "none" or cfg.ema_momentum > 0 or cfg.floor_weight > 0 \
                or model.get("torus_head"):
            raise ConfigError(f"config key '{key}.loss' is {SUPERVISED!r} (the supervised reference: a linear head "
                              "on z, single views): it takes no predictor, EMA target, floors or torus head")
    else:
        validate_loss(cfg.loss, f"{key}.loss", dim)
    need_float(f"{key}.torus_head_weight", cfg.torus_head_weight, 0.0)
    need_float(f"{key}.floor_weight", cfg.floor_weight, 0.0)
    need_float(f"{key}.potential_warmup_epochs", cfg.potential_warmup_epochs, 0.0)
    need_float(f"{key}.ema_momentum", cfg.ema_momentum, 0.0, 1.0, hi_open=True,
               why=" (0: no EMA target; the target moves by 1 - momentum per step)")
    if cfg.floor_weight > 0 and dim % 2:
        raise ConfigError(f"config key '{key}.floor_weight' is {cfg.floor_weight:g}: the phase-space floors split the "
                          f"embedding into halves (q, p), so it needs an even width, got {dim} (model.embed_dim)")
    need_choice(f"{key}.prediction", cfg.prediction, PREDICTIONS)
    if cfg.prediction == "one_way":
        one_way = f"config key '{key}.prediction' is 'one_way' (online view 1 predicts the EMA target's view 2)"
        if cfg.ema_momentum <= 0:
            raise ConfigError(f"{one_way}: it needs an EMA target, but '{key}.ema_momentum' is {cfg.ema_momentum:g}; "
                              "set it > 0 (the original used 0.996), or use prediction 'symmetric'")
        if model.get("predictor", "none") == "none":
            raise ConfigError(f"{one_way}: it needs a predictor, but 'model.predictor' is 'none'; set it to mlp "
                              "(the original's 512-1024-512 MLP), mlp_matched or hamiltonian")
        kind = cfg.loss.get("type") if isinstance(cfg.loss, dict) else None
        if kind not in ONE_WAY_LOSSES:
            raise ConfigError(f"{one_way}: its loss splits into the invariance (prediction vs target) and the "
                              f"variance/covariance of the online embedding, which only '{key}.loss' types "
                              f"{', '.join(repr(k) for k in ONE_WAY_LOSSES)} define; got {kind!r}")
        two_view = ([f"'model.torus_head' ({model.get('torus_head')!r})"] if model.get("torus_head") else []) + \
            ([f"'{key}.floor_weight' ({cfg.floor_weight:g})"] if cfg.floor_weight > 0 else [])
        if two_view:
            raise ConfigError(f"{one_way}: it encodes only view 1 with the online network, but {' and '.join(two_view)} "
                              "asks for a term on both views' online outputs; turn it off or use prediction 'symmetric'")
    if cfg.potential_warmup_epochs > 0 and model.get("predictor") != "hamiltonian":
        raise ConfigError(f"config key '{key}.potential_warmup_epochs' is {cfg.potential_warmup_epochs:g}, but only "
                          f"model.predictor 'hamiltonian' has a potential to warm up (predictor is "
                          f"{model.get('predictor')!r}); set it to 0")


class Objective(nn.Module):
    """regulariser(prediction, target) [+ torus_head_weight * TorusHeadLoss(angles)]
    [+ floor_weight * hamiltonian_floor_loss(z)], as named parts.

    Without a predictor and without an EMA target the regulariser sees the two views'
    embeddings directly (VICReg, LeJEPA).  Otherwise each view's embedding, passed through
    the predictor, predicts the other view's (the target: the online network itself, or its
    EMA copy under no_grad), and the two directions are averaged (``prediction: symmetric``).
    ``prediction: one_way`` is the original repository's setup instead (``_one_way``): only
    view 1's online embedding predicts the EMA target's embedding of view 2, and the
    regulariser's variance and covariance act on the online embedding alone.
    Its state_dict holds the loss's buffers (SIGReg's step, the hybrid's weights): they
    travel with the checkpoint."""

    def __init__(self, cfg, model: nn.Module, steps_per_epoch: int):
        super().__init__()
        # the supervised reference needs each batch's angles (forward's ``angles``)
        self.needs_angles = cfg.loss.get("type") == SUPERVISED
        # its head reads the embedding z (the projector's output; h itself without a projector)
        z_dim = getattr(model.projector, "out_dim", model.encoder.out_dim)
        self.loss = AngleRegression(z_dim) if self.needs_angles else build_loss(cfg.loss)
        self.head = TorusHeadLoss() if model.torus_head is not None else None
        self.head_weight, self.floor_weight = cfg.torus_head_weight, cfg.floor_weight
        self.predicts = not isinstance(model.predictor, nn.Identity)
        self.one_way = cfg.prediction == "one_way"
        if self.one_way and not (isinstance(self.loss, VICRegLoss) and self.predicts and self.head is None
                                 and self.floor_weight == 0):
            raise ValueError("prediction 'one_way' needs a predictor and a VICReg-family loss (vicreg, toroidal), "
                             "without torus head or floors (objective.validate_objective says which key)")
        if hasattr(model.predictor, "warmup_steps"):
            model.predictor.warmup_steps = cfg.potential_warmup_epochs * steps_per_epoch
        # a plain list: the model's modules must not become part of this module's state
        self._scheduled = [m for m in (self.loss, model.predictor) if hasattr(m, "set_progress")]

    def set_progress(self, step: int, total: int) -> None:
        for module in self._scheduled:
            module.set_progress(step, total)

    def forward(self, model, target, v1, v2, angles=None) -> dict:
        if self.one_way:
            return self._one_way(model, target, v1, v2)
        o1, o2 = model(v1), model(v2)   # model may be DDP-wrapped; predict() lives on the bare net
        if self.needs_angles:
            if angles is None:
                raise ValueError(f"objective {SUPERVISED!r} needs the batch's angles (a data set with angles)")
            return self.loss(o1["z"].float(), o2["z"].float(), angles)
        if target is not None:
            with torch.no_grad():
                t1, t2 = target(v1)["z"], target(v2)["z"]
        if not torch.is_autocast_enabled(v1.device.type):
            return self._parts(model, o1, o2, *((t1, t2) if target is not None else (None, None)))
        # Under bf16 autocast (train.py, CUDA) only the networks above ran in bf16: the
        # losses (covariances, SIGReg's characteristic functions, the torus Laplacian's
        # quadratic form), the predictor (the leapfrog integrator runs in fp32 anyway) and
        # the floors take fp32 copies of the outputs and run with autocast off.
        o1, o2 = ({k: v.float() for k, v in o.items()} for o in (o1, o2))
        targets = (t1.float(), t2.float()) if target is not None else (None, None)
        with torch.autocast(v1.device.type, enabled=False):
            return self._parts(model, o1, o2, *targets)

    def _one_way(self, model, target, v1, v2) -> dict:
        """``prediction: one_way``, the original repository's objective (Paraxiom/jepa-torus: its
        README is the project's seed seeds/000_7a581337d3f9002d.txt, its src/train.py and
        src/toroidal_loss.py are summarised in notes/anchors.md, section 1): ``EBJEPA.forward``
        encodes view 1 with the online network, predicts from it with the MLP predictor and
        encodes view 2 with the EMA target under no_grad; ``ToroidalJEPALoss`` / ``VICRegLoss``
        there return mse(prediction, target.detach()) + lambda_std * std(online) + lambda_cov *
        cov(online): the variance and covariance penalties act on the online embedding of view 1
        only, never on the prediction or the target.  Here, with this repository's loss:

            inv  = loss(predict(z1), sg(t2))["invariance"]          (VICReg: mse; one direction only)
            var  = loss(z1, z1)["variance"]                          = v(z1)       ((v + v) / 2)
            cov  = loss(z1, z1)[penalty] / 2                         = cov(z1)     (the loss sums both arguments')
            loss = inv_weight * inv + var_weight * var + covariance_weight * cov

        with z1 = online(v1)["z"], t2 = target(v2)["z"], and the loss's own weights (VICReg's 25 /
        25 / 1, or torus_weight times the Laplacian-weighted penalty): the same per-branch terms
        as in the symmetric objective, composed from the loss's public outputs (losses.py is not
        changed; both calls are exact: (x + x) / 2 == x in floating point).  Unlike the original,
        the invariance keeps the loss's inv_weight (the original weighed its MSE by 1) and the
        covariance is divided by D (the original divided by D(D - 1)).  Only one online forward
        (view 1) and one target forward (view 2) run, as in the original.  The EMA update and
        its cosine momentum 0.996 -> 1 are train.py's (models.ema_update / ema_momentum)."""
        if target is None:
            raise ValueError("prediction 'one_way' needs the EMA target (objective.ema_momentum > 0)")
        z1 = model(v1)["z"]   # model may be DDP-wrapped; predict() lives on the bare net
        with torch.no_grad():
            t2 = target(v2)["z"]
        if not torch.is_autocast_enabled(v1.device.type):
            return self._one_way_parts(model, z1, t2)
        with torch.autocast(v1.device.type, enabled=False):   # the losses in fp32, as in forward
            return self._one_way_parts(model, z1.float(), t2.float())

    def _one_way_parts(self, model, z1, t2) -> dict:
        """The one-way loss's parts from the online embedding z1 and the target's t2 (see _one_way)."""
        loss = self.loss
        inv = loss(unwrap(model).predict(z1), t2)["invariance"]   # only the invariance of this call is used
        reg = loss(z1, z1)                                        # its invariance is 0: only the regulariser
        var, cov = reg["variance"], reg[loss.penalty] / 2
        total = loss.inv_weight * inv + loss.var_weight * var + loss.covariance_weight() * cov
        return {"loss": total, "invariance": inv, "variance": var, loss.penalty: cov}

    def _parts(self, model, o1, o2, t1, t2) -> dict:
        """The loss's parts from the networks' outputs (and the target's embeddings, or None)."""
        if t1 is None and not self.predicts:
            parts = dict(self.loss(o1["z"], o2["z"]))  # symmetric already: no prediction step
        else:
            if t1 is None:
                t1, t2 = o1["z"], o2["z"]
            net = unwrap(model)
            a = self.loss(net.predict(o1["z"]), t2)
            b = self.loss(net.predict(o2["z"]), t1)
            parts = {k: (a[k] + b[k]) / 2 for k in a}
        if self.head is not None:
            h = self.head(o1["angles"], o2["angles"])
            parts["loss"] = parts["loss"] + self.head_weight * h["loss"]
            parts.update({f"head_{k}": v for k, v in h.items() if k != "loss"})
        if self.floor_weight > 0:
            d = o1["z"].shape[1] // 2
            # batch statistics: the global batch under DDP (identity in one process)
            f = [hamiltonian_floor_loss(z[:, :d], z[:, d:]) for z in (gather_batch(o1["z"]), gather_batch(o2["z"]))]
            floor = (f[0]["loss"] + f[1]["loss"]) / 2
            parts["loss"] = parts["loss"] + self.floor_weight * floor
            parts["floor"] = floor
        return parts
