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

from .config import ConfigError, need_float
from .dist import gather_batch, unwrap
from .losses import TorusHeadLoss, build_loss, validate_loss

__all__ = ["Objective", "hamiltonian_floor_loss", "validate_objective"]


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


def validate_objective(cfg, dim: int, model: dict, key: str = "objective") -> None:
    """Check an objective config (config.ObjectiveConfig) against the model it trains before
    anything is built: the loss (``losses.validate_loss`` on the embedding width ``dim``),
    finite non-negative weights, an even embedding for the phase-space floors, a warm-up
    only where there is a potential to warm up, an EMA momentum in [0, 1)."""
    validate_loss(cfg.loss, f"{key}.loss", dim)
    need_float(f"{key}.torus_head_weight", cfg.torus_head_weight, 0.0)
    need_float(f"{key}.floor_weight", cfg.floor_weight, 0.0)
    need_float(f"{key}.potential_warmup_epochs", cfg.potential_warmup_epochs, 0.0)
    need_float(f"{key}.ema_momentum", cfg.ema_momentum, 0.0, 1.0, hi_open=True,
               why=" (0: no EMA target; the target moves by 1 - momentum per step)")
    if cfg.floor_weight > 0 and dim % 2:
        raise ConfigError(f"config key '{key}.floor_weight' is {cfg.floor_weight:g}: the phase-space floors split the "
                          f"embedding into halves (q, p), so it needs an even width, got {dim} (model.embed_dim)")
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
    EMA copy under no_grad), and the two directions are averaged.
    Its state_dict holds the loss's buffers (SIGReg's step, the hybrid's weights): they
    travel with the checkpoint."""

    def __init__(self, cfg, model: nn.Module, steps_per_epoch: int):
        super().__init__()
        self.loss = build_loss(cfg.loss)
        self.head = TorusHeadLoss() if model.torus_head is not None else None
        self.head_weight, self.floor_weight = cfg.torus_head_weight, cfg.floor_weight
        self.predicts = not isinstance(model.predictor, nn.Identity)
        if hasattr(model.predictor, "warmup_steps"):
            model.predictor.warmup_steps = cfg.potential_warmup_epochs * steps_per_epoch
        # a plain list: the model's modules must not become part of this module's state
        self._scheduled = [m for m in (self.loss, model.predictor) if hasattr(m, "set_progress")]

    def set_progress(self, step: int, total: int) -> None:
        for module in self._scheduled:
            module.set_progress(step, total)

    def forward(self, model, target, v1, v2) -> dict:
        o1, o2 = model(v1), model(v2)   # model may be DDP-wrapped; predict() lives on the bare net
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
