"""Multi-process (data-parallel) training: one process per device, launched by torchrun.

    torchrun --nproc_per_node=K -m jepa_torus.train --config configs/x.yaml [flags as usual]

The K processes compute exactly what one process computes on the same global batch:
  * batch: every rank draws the same seeded permutation and augmentation of the global
    batch of B images and keeps rows [r B/K, (r+1) B/K) (``local_rows``);
  * batch statistics are global: the losses gather / all-reduce with gradients
    (``gather_batch``, ``all_reduce_sum`` below, used by losses.py), BatchNorm uses global-batch moments
    (SyncBatchNorm on CUDA, ``GlobalBatchNorm`` on CPU);
  * gradients: each rank's loss L_r has mean_r L_r = L (local terms are means over equal
    slices, global terms are the same on every rank); DDP averages the gradients, and the
    collectives' backward sums over ranks, so every rank steps with dL/dtheta;
  * the EMA target, the LR schedule and SIGReg's directions follow the (shared) step;
  * only rank 0 writes files.
Backend: NCCL on CUDA, gloo on CPU.  Without torchrun (WORLD_SIZE unset) all of this is
the identity and nothing is initialised.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.nn as nn


# --------------------------------------------------------------------------- collectives
def world_size() -> int:
    """Processes in the torch.distributed group (1 without one)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _GatherRows(torch.autograd.Function):
    """all_gather along dim 0 (equal row counts); backward: the gathered gradient summed
    over ranks (every rank's loss uses every rank's rows), this rank's rows of it.
    (torch.distributed.nn.functional.all_gather and all_reduce do the same but are
    deprecated in torch 2.13, and on gloo the former emulates reduce-scatter with K scatters.)"""

    @staticmethod
    def forward(ctx, z):
        d = torch.distributed
        parts = [torch.empty_like(z) for _ in range(d.get_world_size())]
        d.all_gather(parts, z.contiguous())
        ctx.rows = slice(d.get_rank() * z.shape[0], (d.get_rank() + 1) * z.shape[0])
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        torch.distributed.all_reduce(grad)
        return grad[ctx.rows]


def gather_batch(z: torch.Tensor) -> torch.Tensor:
    """Concatenate the per-rank batches (N_local, D) -> (N_global, D), keeping gradients.

    With DDP's gradient averaging this gives exactly the single-process gradient of a
    statistic of the concatenated batch (the backward sums the K ranks' gradients, DDP
    divides by K)."""
    if world_size() == 1:
        return z
    return _GatherRows.apply(z)


class _SumRanks(torch.autograd.Function):
    """all_reduce(sum); backward: all_reduce(sum) of the gradient (every rank's loss
    depends on the sum)."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone(memory_format=torch.contiguous_format)
        torch.distributed.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone(memory_format=torch.contiguous_format)
        torch.distributed.all_reduce(grad)
        return grad


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over ranks with gradients (identity in one process)."""
    if world_size() == 1:
        return x
    return _SumRanks.apply(x)


# --------------------------------------------------------------------------- process group
def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def launched() -> bool:
    """Started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device_name: str) -> torch.device:
    """Join the process group torchrun set up; returns this rank's device."""
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() if device_name == "auto" else torch.device(device_name).type == "cuda"
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo", device_id=device if cuda else None)
    return device


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_rows(batch_size: int) -> slice:
    """This rank's rows of a global batch (B must be a multiple of the world size)."""
    k, r = world_size(), rank()
    if batch_size % k:
        raise ValueError(f"batch_size {batch_size} is not a multiple of the {k} processes")
    n = batch_size // k
    return slice(r * n, (r + 1) * n)


@torch.no_grad()
def mean_over_ranks(parts: dict) -> dict:
    """{name: scalar tensor} -> {name: float}, averaged over ranks (one all-reduce).  For
    the losses this is the single-process value (see the module docstring)."""
    x = torch.stack([v.detach().float() for v in parts.values()])  # one host sync for all parts
    if world_size() == 1:
        return dict(zip(parts, x.tolist()))
    dist.all_reduce(x)
    return dict(zip(parts, (x / world_size()).tolist()))


# --------------------------------------------------------------------------- BatchNorm
class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training-mode moments are those of the global batch:

        mean = sum_r S1_r / n,  var = sum_r S2_r / n,  S1 = sum x,  S2 = sum (x - mean)^2

    over the N*H*W positions of all ranks (two all-reduces with autograd, so gradients flow
    through the global moments as in one process; centring before the second sum keeps it
    as accurate as torch's own kernel).  Running statistics use the unbiased var n/(n-1),
    as nn.BatchNorm does.  Why not nn.SyncBatchNorm: it only runs on CUDA tensors, so the
    gloo (CPU) runs need this.  Eval mode and one process: plain BatchNorm."""

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (N, C, ...), got {x.dim()}-D")

    def forward(self, x):
        if not self.training or world_size() == 1:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.full((1,), float(x.numel() // x.shape[1]), device=x.device, dtype=x.dtype)
        s1 = all_reduce_sum(torch.cat([x.sum(dims), count]))          # (C + 1,)
        n = s1[-1].detach()
        mean = s1[:-1] / n                                              # (C,)
        xc = x - mean.view(shape)
        var = all_reduce_sum((xc * xc).sum(dims)) / n                   # (C,) biased
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), m)
                self.running_var.lerp_(var.detach() * n / (n - 1), m)
        y = xc * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def global_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of module -> one with global-batch statistics (same parameters,
    buffers and state-dict keys, so checkpoints load in one process)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        if module.track_running_stats:
            new.running_mean, new.running_var = module.running_mean, module.running_var
            new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        return new
    for name, child in module.named_children():
        module.add_module(name, global_batchnorm(child, device))
    return module


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DDP around model (identity in one process).  Keep the returned object alive until
    backward: its reducer is what averages the gradients."""
    if world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)
