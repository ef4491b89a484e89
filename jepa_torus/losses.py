"""Joint-embedding losses: VICReg, SIGReg (Epps-Pulley), their hybrid, the toroidal
covariance regulariser and the torus-head loss.

The contract (every class here): ``forward(z_a, z_b) -> dict`` of scalar tensors with the
total under ``"loss"`` and every named part beside it (no ``.item()``: logging decides
when to synchronise).  Inputs are (B, D) or (B, T, D); tokens are treated as samples,
(B, T, D) -> (B*T, D).  Bad shapes raise ``ValueError``.  Values are not checked here: a
check would synchronise the host with the device on every call; the training loop checks
all loss parts of a step at once.  This module is only mathematics: the collectives it
uses for global-batch statistics are in ``dist.py``.

Batch statistics (VICReg's covariance, SIGReg's characteristic function) are taken over
the *global* batch under ``torch.distributed``: per-rank statistics silently change the
method (a known bug in public SIGReg ports; tests/test_distributed.py checks ours against
one process).
"""
from __future__ import annotations

import inspect
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ConfigError, need_bool, need_choice, need_float, need_int, need_mapping
from .dist import all_reduce_sum, gather_batch
from .geometry import spectral_gap, toroidal_weights

__all__ = [
    "JEPALoss",
    "VICRegLoss",
    "SIGRegLoss",
    "HybridVICRegSIGRegLoss",
    "ToroidalCovarianceLoss",
    "TorusHeadLoss",
    "epps_pulley",
    "covariance_matrix",
    "weighted_offdiag_penalty",
    "participation_ratio",
    "diversity_lower_bound",
    "build_loss",
    "validate_loss",
    "LOSSES",
]


# --------------------------------------------------------------------------- helpers
def _as_samples(z: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(z, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(z).__name__}")
    if z.ndim == 3:
        z = z.reshape(-1, z.shape[-1])  # (B, T, D) -> (B*T, D)
    if z.ndim != 2:
        raise ValueError(f"{name} must have shape (B, D) or (B, T, D), got {tuple(z.shape)}")
    if z.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples for batch statistics, got {z.shape[0]}")
    return z


def _check_pair(z_a, z_b):
    if isinstance(z_a, torch.Tensor) and isinstance(z_b, torch.Tensor) and z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must have the same shape, got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    return _as_samples(z_a, "z_a"), _as_samples(z_b, "z_b")


def covariance_matrix(z: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance C = Z_c^T Z_c / (N - 1) of z (N, D), Z_c centred; (D, D)."""
    zc = z - z.mean(dim=0)
    return zc.T @ zc / (z.shape[0] - 1)


def weighted_offdiag_penalty(c: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """sum_{i != j} W_ij C_ij^2 / D  (W = 1 off the diagonal when weights is None: VICReg)."""
    d = c.shape[0]
    sq = c.pow(2)
    if weights is None:
        return (sq.sum() - sq.diagonal().sum()) / d
    return (weights * sq).sum() / d  # weights have a zero diagonal


def variance_hinge(z: torch.Tensor, eps: float = 1e-4, target: float = 1.0) -> torch.Tensor:
    """mean_d relu(target - sqrt(Var(z_d) + eps))  (VICReg, Bardes et al. 2022)."""
    return F.relu(target - torch.sqrt(z.var(dim=0) + eps)).mean()


def participation_ratio(r: torch.Tensor) -> torch.Tensor:
    """PR(R) = (tr R)^2 / tr(R^2) = (sum lambda)^2 / sum lambda^2, in [1, D]."""
    return torch.trace(r) ** 2 / (r * r).sum()


def diversity_lower_bound(penalty: float, dim: int, lambda_min: float) -> float:
    """The diversity proposition (see ToroidalCovarianceLoss): for a correlation matrix R
    (unit diagonal) and weights with min_{i != j} W_ij >= lambda_min,
    PR(R) >= D^2 / (D + P/lambda_min) with P = sum_{i != j} W_ij R_ij^2."""
    return dim * dim / (dim + penalty / lambda_min)


class JEPALoss(nn.Module):
    """Base class: ``set_progress(step, total)`` (integer training steps, called before each
    step) lets a schedule change weights; the default has none."""

    def set_progress(self, step: int, total: int) -> None:
        pass


# --------------------------------------------------------------------------- VICReg
class VICRegLoss(JEPALoss):
    """Official VICReg (Bardes, Ponce, LeCun 2022):

        L = a * mean||z_a - z_b||^2 / D
          + b * [v(z_a) + v(z_b)] / 2,          v(z) = mean_d relu(1 - sqrt(Var z_d + 1e-4))
          + c * [cov(z_a) + cov(z_b)],          cov(z) = sum_{i != j} C_ij^2 / D

    with a = b = 25, c = 1.  Variance and covariance use the global batch under DDP.
    Subclasses change the covariance penalty (``penalty_weights``), its weight
    (``covariance_weight``) and its name in the output (``penalty``).
    """
    penalty = "covariance"

    def __init__(self, inv_weight: float = 25.0, var_weight: float = 25.0, cov_weight: float = 1.0, eps: float = 1e-4):
        super().__init__()
        self.inv_weight, self.var_weight, self.cov_weight, self.eps = inv_weight, var_weight, cov_weight, eps

    @classmethod
    def check_config(cls, kw: dict, key: str, dim: int | None = None) -> None:
        """Ranges of the constructor's keywords (config.validate, before anything is built)."""
        for name in ("inv_weight", "var_weight", "cov_weight"):
            if name in kw:
                need_float(f"{key}.{name}", kw[name], 0.0)
        if "eps" in kw:
            need_float(f"{key}.eps", kw["eps"], 0.0, lo_open=True)

    def penalty_weights(self, dim: int, device) -> torch.Tensor | None:
        return None  # isotropic: every off-diagonal pair weighs 1

    def covariance_weight(self) -> float:
        return self.cov_weight

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> dict[str, torch.Tensor]:
        z_a, z_b = _check_pair(z_a, z_b)
        inv = F.mse_loss(z_a, z_b)
        g_a, g_b = gather_batch(z_a), gather_batch(z_b)
        var = (variance_hinge(g_a, self.eps) + variance_hinge(g_b, self.eps)) / 2
        w = self.penalty_weights(g_a.shape[1], g_a.device)
        cov = weighted_offdiag_penalty(covariance_matrix(g_a), w) + weighted_offdiag_penalty(covariance_matrix(g_b), w)
        loss = self.inv_weight * inv + self.var_weight * var + self.covariance_weight() * cov
        return {"loss": loss, "invariance": inv, "variance": var, self.penalty: cov}


# --------------------------------------------------------------------------- toroidal
class ToroidalCovarianceLoss(VICRegLoss):
    """VICReg with its isotropic covariance penalty replaced by one derived from the
    N x N torus Laplacian (the paper's regulariser):

        cov_T(z) = sum_{i != j} W_ij C_ij^2 / D,
        W_ij = max(mu(s_i - s_j), lambda_1),   mu(dx, dy) = (2 - 2cos 2pi dx/N) + (2 - 2cos 2pi dy/N)

    Dimension i sits at torus site s_i (``geometry.dimension_sites``); mu is the Laplacian
    eigenvalue of the Fourier mode with frequency (dx, dy), equivalently the squared
    distance of the two sites in the grid's lambda_1-eigenspace embedding.  Neighbouring
    dimensions may covary (weight lambda_1 = 2 - 2cos(2pi/N)); antipodal ones pay most (8).
    With ``normalize=True`` W is divided by its mean off-diagonal value w_bar, so the total
    covariance budget equals VICReg's; ``weights="uniform"`` gives VICReg exactly.

    Proposition (diversity bound; the true form of the original README's claim).
    Let R be the correlation matrix of the D embedding dimensions and P(R) = sum_{i != j}
    W_ij R_ij^2 with the unnormalised W above.  Since W_ij >= lambda_1 for all i != j,
        (i)   lambda_1 ||R - I||_F^2 <= P(R),
        (ii)  PR(R) = (tr R)^2 / tr R^2 = D^2 / (D + ||R - I||_F^2) >= D^2 / (D + P(R)/lambda_1),
        (iii) every eigenvalue of R lies in [1 - sqrt(P/lambda_1), 1 + sqrt(P/lambda_1)].
    The constant is tight (one correlated neighbour pair gives equality in (i)).  So the
    spectral gap bounds diversity only *through the value of the penalty*: it is the
    smallest weight, and the bound weakens as N grows (lambda_1 ~ 4 pi^2 / N^2).  The
    unconditional claim "the spectral gap provides a lower bound on diversity" is false:
    a collapsed R (all ones) is admissible, it merely has a large P.
    With the variance hinge met (std ~ 1) C ~ R; the loss penalises C, as VICReg does.
    ``torus_weight`` multiplies cov_T (in VICReg's place of c); the output names it
    "torus_covariance".
    """
    penalty = "torus_covariance"

    def __init__(self, grid_size: int = 12, inv_weight: float = 25.0, var_weight: float = 25.0,
                 torus_weight: float = 1.0, normalize: bool = True, weights: str = "laplacian", eps: float = 1e-4):
        if weights not in ("laplacian", "uniform"):
            raise ValueError(f"weights must be 'laplacian' or 'uniform', got {weights!r}")
        JEPALoss.__init__(self)  # VICReg's fields, but torus_weight instead of its cov_weight
        self.inv_weight, self.var_weight, self.torus_weight, self.eps = inv_weight, var_weight, torus_weight, eps
        self.grid_size, self.normalize, self.weights = int(grid_size), normalize, weights
        spectral_gap(self.grid_size)  # raises unless grid_size >= 3
        # Derived from (D, N), so not saved in checkpoints; built on first use for this D.
        self.register_buffer("_w", torch.zeros(0, 0), persistent=False)

    @classmethod
    def check_config(cls, kw: dict, key: str, dim: int | None = None) -> None:
        if "grid_size" in kw:
            need_int(f"{key}.grid_size", kw["grid_size"], 3, why=" (the N x N torus is not a simple graph below 3)")
        for name in ("inv_weight", "var_weight", "torus_weight"):
            if name in kw:
                need_float(f"{key}.{name}", kw[name], 0.0)
        if "eps" in kw:
            need_float(f"{key}.eps", kw["eps"], 0.0, lo_open=True)
        if "normalize" in kw:
            need_bool(f"{key}.normalize", kw["normalize"])
        if "weights" in kw:
            need_choice(f"{key}.weights", kw["weights"], ("laplacian", "uniform"))

    def penalty_weights(self, dim: int, device) -> torch.Tensor | None:
        if self.weights == "uniform":
            return None
        if self._w.shape[0] != dim:
            self._w = toroidal_weights(dim, self.grid_size, normalize=self.normalize).to(device)
        return self._w.to(device)

    def covariance_weight(self) -> float:
        return self.torus_weight


# --------------------------------------------------------------------------- SIGReg
def _trapezoid_weights(t: torch.Tensor) -> torch.Tensor:
    h = t[1:] - t[:-1]
    w = torch.zeros_like(t)
    w[:-1] += h / 2
    w[1:] += h / 2
    return w


class _EcfSums(torch.autograd.Function):
    """(x (N, M), t (K,)) -> (C, S), C_mk = sum_n cos(t_k x_nm), S_mk = sum_n sin(t_k x_nm), each (M, K).

    The fused core of ``epps_pulley``: the forward keeps cos and sin (N, M, K) for the
    backward, which is the analytic gradient
        dL/dx_nm = sum_k t_k (cos(t_k x_nm) dL/dS_mk - sin(t_k x_nm) dL/dC_mk),
    two batched matrix products over the knots.  Plain autograd instead keeps t x, computes
    sin and cos again in the backward and builds several more (N, M, K) temporaries.  Memory:
    this keeps two (N, M, K) tensors for the backward where autograd keeps one, but its
    backward allocates none (autograd's allocates at least two).  Device- and dtype-agnostic
    (only torch ops).  Not twice differentiable (``once_differentiable`` raises on a
    double backward instead of returning a wrong one)."""

    @staticmethod
    def forward(ctx, x, t):
        xt = x.unsqueeze(-1) * t              # (N, M, K)
        sin = torch.sin(xt)
        cos = xt.cos_()                       # in place: one (N, M, K) allocation fewer
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(cos, sin, t)
        return cos.sum(0), sin.sum(0)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_c, grad_s):
        cos, sin, t = ctx.saved_tensors
        # (M, N, K) @ (M, K, 1) -> (M, N, 1): the sum over the knots as a batched product
        # on a permuted view (no copy of the (N, M, K) tensors).
        grad = torch.bmm(cos.permute(1, 0, 2), (grad_s * t).unsqueeze(-1))
        grad -= torch.bmm(sin.permute(1, 0, 2), (grad_c * t).unsqueeze(-1))
        return grad.squeeze(-1).T, None


def epps_pulley(x: torch.Tensor, knots: int = 17, t_max: float = 3.0, reduce=None,
                fused: bool = True) -> torch.Tensor:
    """Epps-Pulley statistic of each column of x (N, M) against N(0, 1) -> (M,).

        EP = N * int_R |phi_N(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt,   phi_N(t) = mean_n exp(i t x_n)

    (Epps & Pulley 1983; as used by SIGReg in LeJEPA, Balestriero & LeCun 2025).
    Grid: ``knots`` equispaced knots on [0, t_max] (default 17 on [0, 3], as the LeJEPA
    library), trapezoid rule, doubled because the integrand is even in t.  The tail
    beyond |t| = 3 carries weight exp(-4.5) and is dropped.
    ``reduce`` sums the per-rank sums of cos/sin and the counts (``all_reduce_sum``): the
    ECF means must be global *before* squaring, and N is the global batch.

    ``fused=True`` (the default) computes the sums of cos/sin with ``_EcfSums`` (analytic
    gradient, cos/sin kept from the forward) and leaves out the knot t = 0; ``fused=False``
    is the plain autograd formula over all knots (``_epps_pulley_reference``, kept for tests
    and for the benchmark's fused/plain ratio).  The (M, K) part after the sums, ``reduce``
    included, is the same autograd code in both, so ``reduce`` (an all-reduce across ranks,
    with its all-reduce of the gradient in the backward) runs in the fused path too: there is
    no case that needs the plain formula.
    """
    if x.ndim != 2:
        raise ValueError(f"epps_pulley expects (N, M), got {tuple(x.shape)}")
    if not fused:
        return _epps_pulley_reference(x, knots, t_max, reduce)
    t = torch.linspace(0.0, t_max, knots, device=x.device, dtype=x.dtype)
    quad = 2.0 * _trapezoid_weights(t) * torch.exp(-t * t / 2)  # weight exp(-t^2/2), both half-lines
    # The knot t = 0 adds exactly 0 (and a zero gradient): cos(0 x) = 1 and sin(0 x) = 0 for
    # every sample, so phi_N(0) = n / n = 1 = exp(-0^2/2), and |phi_N(0) - 1|^2 = 0.  In floating
    # point too: 0 * x = 0 for finite x, n ones sum to n exactly (below 2^24 samples in fp32;
    # beyond, the plain formula's rounded sum makes its term a small error, not the exact 0),
    # n / n = 1, also after ``reduce`` (its n is the sum of the same per-rank counts).  The
    # knot's quadrature weight h/2 multiplies that 0, so leaving it out changes nothing.
    t, quad = t[1:], quad[1:]
    cos_sum, sin_sum = _EcfSums.apply(x, t)  # (M, K - 1)
    n = torch.tensor(float(x.shape[0]), device=x.device, dtype=x.dtype)
    if reduce is not None:
        cos_sum, sin_sum, n = reduce(cos_sum), reduce(sin_sum), reduce(n)
    target = torch.exp(-t * t / 2)
    err = (cos_sum / n - target) ** 2 + (sin_sum / n) ** 2  # |phi_N - phi|^2, (M, K - 1)
    return n * (err * quad).sum(-1)


def _epps_pulley_reference(x: torch.Tensor, knots: int = 17, t_max: float = 3.0, reduce=None) -> torch.Tensor:
    """The plain autograd formula of ``epps_pulley`` (all knots, t = 0 included): the
    reference the fused path is tested against, and the benchmark's "plain" SIGReg."""
    if x.ndim != 2:
        raise ValueError(f"epps_pulley expects (N, M), got {tuple(x.shape)}")
    t = torch.linspace(0.0, t_max, knots, device=x.device, dtype=x.dtype)
    xt = x.unsqueeze(-1) * t  # (N, M, K)
    cos_sum, sin_sum = torch.cos(xt).sum(0), torch.sin(xt).sum(0)  # (M, K)
    n = torch.tensor(float(x.shape[0]), device=x.device, dtype=x.dtype)
    if reduce is not None:
        cos_sum, sin_sum, n = reduce(cos_sum), reduce(sin_sum), reduce(n)
    target = torch.exp(-t * t / 2)
    err = (cos_sum / n - target) ** 2 + (sin_sum / n) ** 2  # |phi_N - phi|^2, (M, K)
    quad = 2.0 * _trapezoid_weights(t) * target  # weight exp(-t^2/2), both half-lines
    return n * (err * quad).sum(-1)


class SIGRegLoss(JEPALoss):
    """LeJEPA's loss: L = (1 - lam) * inv + lam * SIGReg  (Balestriero & LeCun 2025).

    inv = mean over views of ||z_v - mean_v z_v||^2 (elementwise mean; for 2 views it is
    mean (z_a - z_b)^2 / 4).  SIGReg(z) = mean over M unit directions a_m of EP(z a_m),
    averaged over the two views.  Directions are redrawn every training step from a
    generator seeded by (seed, step), so every rank draws the same ones; the step is a
    buffer and travels with the checkpoint.  ``fixed_slices=True`` keeps step 0's draw.
    The statistic uses the fused ``epps_pulley``; ``fused = False`` on an instance (not a
    config key) switches it to the plain autograd formula, for tests and benchmarks.
    """

    fused = True

    def __init__(self, num_slices: int = 256, lam: float = 0.05, knots: int = 17, t_max: float = 3.0,
                 fixed_slices: bool = False, seed: int = 0):
        super().__init__()
        if num_slices < 1 or not 0.0 <= lam <= 1.0:
            raise ValueError(f"need num_slices >= 1 and 0 <= lam <= 1, got {num_slices}, {lam}")
        self.num_slices, self.lam, self.knots, self.t_max = num_slices, lam, knots, t_max
        self.fixed_slices, self.seed = fixed_slices, seed
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    @classmethod
    def check_config(cls, kw: dict, key: str, dim: int | None = None) -> None:
        if "num_slices" in kw:
            need_int(f"{key}.num_slices", kw["num_slices"], 1)
        if "lam" in kw:
            need_float(f"{key}.lam", kw["lam"], 0.0, 1.0, why=" (the weight of SIGReg against the invariance)")
        if "knots" in kw:
            need_int(f"{key}.knots", kw["knots"], 2, why=" (the trapezoid rule needs two)")
        if "t_max" in kw:
            need_float(f"{key}.t_max", kw["t_max"], 0.0, lo_open=True)
        if "fixed_slices" in kw:
            need_bool(f"{key}.fixed_slices", kw["fixed_slices"])
        if "seed" in kw:
            need_int(f"{key}.seed", kw["seed"], 0, 2**31 - 1)

    def directions(self, dim: int, device, dtype) -> torch.Tensor:
        """(D, M) unit columns, identical on every rank for a given step."""
        step = 0 if self.fixed_slices else int(self.step)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        a = torch.randn(dim, self.num_slices, generator=g)
        return (a / a.norm(dim=0, keepdim=True)).to(device=device, dtype=dtype)

    def sigreg(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return epps_pulley(z @ a, self.knots, self.t_max, reduce=all_reduce_sum, fused=self.fused).mean()

    def forward(self, z_a, z_b):
        z_a, z_b = _check_pair(z_a, z_b)
        a = self.directions(z_a.shape[1], z_a.device, z_a.dtype)
        if self.training:
            self.step += 1
        center = (z_a + z_b) / 2
        inv = ((z_a - center).pow(2).mean() + (z_b - center).pow(2).mean()) / 2
        sig = (self.sigreg(z_a, a) + self.sigreg(z_b, a)) / 2
        return {"loss": (1 - self.lam) * inv + self.lam * sig, "invariance": inv, "sigreg": sig}


class HybridVICRegSIGRegLoss(JEPALoss):
    """w_v * VICReg + w_s * SIGReg.  The weights are buffers (checkpointed); with
    ``schedule="linear"`` ``set_progress(step, total)`` moves them from (1, 0) at step 0 to
    (0, 1) at the last step, t = step / total (VICReg first, then SIGReg, the transition the SIGReg report describes)."""

    def __init__(self, vicreg_weight: float = 1.0, sigreg_weight: float = 1.0, schedule: str = "constant",
                 vicreg: dict | None = None, sigreg: dict | None = None):
        super().__init__()
        if schedule not in ("constant", "linear"):
            raise ValueError(f"schedule must be 'constant' or 'linear', got {schedule!r}")
        self.schedule = schedule
        self.vicreg = VICRegLoss(**(vicreg or {}))
        self.sigreg = SIGRegLoss(**(sigreg or {}))
        self.register_buffer("weights", torch.tensor([vicreg_weight, sigreg_weight], dtype=torch.float32))

    @classmethod
    def check_config(cls, kw: dict, key: str, dim: int | None = None) -> None:
        for name in ("vicreg_weight", "sigreg_weight"):
            if name in kw:
                need_float(f"{key}.{name}", kw[name], 0.0)
        if "schedule" in kw:
            need_choice(f"{key}.schedule", kw["schedule"], ("constant", "linear"))
        for name, part in (("vicreg", VICRegLoss), ("sigreg", SIGRegLoss)):
            if kw.get(name) is not None:
                part.check_config(need_mapping(f"{key}.{name}", kw[name], loss_parameters(name)), f"{key}.{name}", dim)

    def set_weights(self, vicreg_weight: float, sigreg_weight: float) -> None:
        self.weights.copy_(torch.tensor([vicreg_weight, sigreg_weight]))

    def set_progress(self, step: int, total: int) -> None:
        if self.schedule == "linear":
            t = min(max(step / total, 0.0), 1.0)
            self.set_weights(1.0 - t, t)

    def forward(self, z_a, z_b):
        v, s = self.vicreg(z_a, z_b), self.sigreg(z_a, z_b)
        out = {"loss": self.weights[0] * v["loss"] + self.weights[1] * s["loss"]}
        out.update({f"vicreg_{k}": x for k, x in v.items()})
        out.update({f"sigreg_{k}": x for k, x in s.items()})
        return out


# --------------------------------------------------------------------------- torus head
def circular_correlation(t1: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
    """Jammalamadaka-SenGupta circular correlation of two angle samples (N,), in [-1, 1]."""
    s1 = torch.sin(t1 - torch.atan2(torch.sin(t1).mean(), torch.cos(t1).mean()))
    s2 = torch.sin(t2 - torch.atan2(torch.sin(t2).mean(), torch.cos(t2).mean()))
    return (s1 * s2).sum() / torch.sqrt((s1 * s1).sum() * (s2 * s2).sum() + 1e-12)


def torus_uniformity(angles: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Wang & Isola (2020) uniformity on the flat torus: log mean_{i != j} exp(-t ||u_i - u_j||^2),
    u = (cos a1, sin a1, cos a2, sin a2).  For uniform angles its expectation factorises:
    2 log(exp(-2t) I_0(2t)), the minimum over distributions (the kernel is positive definite
    and translation invariant)."""
    u = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)  # (N, 4)
    d2 = torch.cdist(u, u).pow(2)
    n = u.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=u.device)
    return torch.logsumexp(-t * d2[off], dim=0) - math.log(n * (n - 1))


class TorusHeadLoss(JEPALoss):
    """Loss of a head that maps embeddings to two angles on S^1 x S^1 (the original "V2"):

        L = a * mean_k (1 - cos(t_a,k - t_b,k))                 (the two views agree)
          + b * [U(t_a) + U(t_b)] / 2                            (uniform on the torus)
          + c * [rho(t_a,1, t_a,2)^2 + rho(t_b,1, t_b,2)^2] / 2  (the two angles independent)

    U is ``torus_uniformity``, rho the circular correlation.  Inputs are angles (B, 2)."""

    def __init__(self, inv_weight: float = 1.0, uniformity_weight: float = 1.0, decorrelation_weight: float = 1.0,
                 temperature: float = 2.0):
        super().__init__()
        self.inv_weight, self.uniformity_weight = inv_weight, uniformity_weight
        self.decorrelation_weight, self.temperature = decorrelation_weight, temperature

    @classmethod
    def check_config(cls, kw: dict, key: str, dim: int | None = None) -> None:
        for name in ("inv_weight", "uniformity_weight", "decorrelation_weight"):
            if name in kw:
                need_float(f"{key}.{name}", kw[name], 0.0)
        if "temperature" in kw:
            need_float(f"{key}.temperature", kw["temperature"], 0.0, lo_open=True)
        if dim is not None and dim != 2:
            raise ConfigError(f"config key '{key}': loss 'torus_head' scores two angles per image, so the embedding "
                              f"must have 2 dimensions (model.embed_dim 2), got {dim}; for a torus head beside the "
                              "main loss set model.torus_head instead")

    def forward(self, z_a, z_b):
        t_a, t_b = _check_pair(z_a, z_b)
        if t_a.shape[1] != 2:
            raise ValueError(f"TorusHeadLoss expects angles of shape (B, 2), got {tuple(t_a.shape)}")
        t_a, t_b = gather_batch(t_a), gather_batch(t_b)
        inv = (1 - torch.cos(t_a - t_b)).mean()
        unif = (torus_uniformity(t_a, self.temperature) + torus_uniformity(t_b, self.temperature)) / 2
        dec = (circular_correlation(t_a[:, 0], t_a[:, 1]) ** 2 + circular_correlation(t_b[:, 0], t_b[:, 1]) ** 2) / 2
        loss = self.inv_weight * inv + self.uniformity_weight * unif + self.decorrelation_weight * dec
        return {"loss": loss, "invariance": inv, "uniformity": unif, "decorrelation": dec}


# --------------------------------------------------------------------------- factory
LOSSES: dict[str, type[JEPALoss]] = {
    "vicreg": VICRegLoss,
    "sigreg": SIGRegLoss,
    "hybrid": HybridVICRegSIGRegLoss,
    "toroidal": ToroidalCovarianceLoss,
    "torus_head": TorusHeadLoss,
}


def loss_parameters(kind: str) -> list[str]:
    """Keyword arguments the loss ``kind`` accepts (its constructor's parameters)."""
    return [p for p in inspect.signature(LOSSES[kind].__init__).parameters if p != "self"]


def validate_loss(config, key: str = "objective.loss", dim: int | None = None) -> None:
    """Check a loss config ``{"type": name, **kwargs}`` before it is built: the type, the key
    names, then every value's type and range (each loss's ``check_config``; ``dim`` is the
    embedding's width, for the losses that constrain it).  Raises ConfigError naming the key."""
    if not isinstance(config, dict):
        raise ConfigError(f"config key '{key}' must be a mapping {{type: ..., ...}}, got {config!r}")
    kind = config.get("type")
    if kind not in LOSSES:
        raise ConfigError(f"config key '{key}': unknown loss type {kind!r}; valid types: {', '.join(sorted(LOSSES))}")
    valid = loss_parameters(kind)
    unknown = sorted(str(k) for k in set(config) - set(valid) - {"type"})
    if unknown:
        raise ConfigError(f"config key '{key}': unknown key(s) {unknown} for loss {kind!r}; valid keys: {', '.join(valid)}")
    LOSSES[kind].check_config({k: v for k, v in config.items() if k != "type"}, key, dim)


def build_loss(config: dict) -> JEPALoss:
    """Build a loss from ``{"type": name, **kwargs}``; unknown names or keys raise a
    ValueError that lists the valid ones."""
    config = dict(config)
    kind = config.pop("type", None)
    if kind not in LOSSES:
        raise ValueError(f"unknown loss type {kind!r}; valid types: {', '.join(sorted(LOSSES))}")
    valid = loss_parameters(kind)
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} for loss {kind!r}; valid keys: {', '.join(valid)}")
    return LOSSES[kind](**config)
