"""The fused Epps-Pulley statistic (losses._EcfSums, the default of ``epps_pulley`` and
SIGRegLoss) against computations that do not share its code:

* gradcheck in float64 (finite differences) of the statistic, with and without ``reduce``;
* a NumPy float64 evaluation of the quadrature statistic and of its gradient written out by
  hand (no autograd), and the plain autograd formula ``_epps_pulley_reference``;
* fp32 agreement with the plain formula at a realistic size (N = M = 256), for the statistic
  and for the SIGRegLoss total and its gradient w.r.t. the embeddings;
* (the simulated two-rank all-reduce, on the fused default path, is tests/test_losses.py's);
* the knot t = 0 (left out by the fused path) contributes exactly 0 to the plain formula.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jepa_torus.losses import SIGRegLoss, _epps_pulley_reference, epps_pulley

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def ep_numpy(x: np.ndarray, knots: int = 17, t_max: float = 3.0):
    """The quadrature statistic of every column of x (N, M) and its gradient dsum(w * EP)/dx
    for weights w (M,) = 1, in float64 NumPy, all knots (t = 0 included), written out:
        EP_m = n sum_k q_k [(C_mk/n - g_k)^2 + (S_mk/n)^2],  q = 2 trapezoid(t) g,  g = exp(-t^2/2)
        dEP_m/dx_nm = sum_k 2 q_k t_k [-(C_mk/n - g_k) sin(t_k x_nm) + (S_mk/n) cos(t_k x_nm)]."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    t = np.linspace(0.0, t_max, knots)
    h = np.diff(t)
    trap = np.zeros(knots)
    trap[:-1] += h / 2
    trap[1:] += h / 2
    g = np.exp(-t * t / 2)
    q = 2 * trap * g
    xt = x[:, :, None] * t  # (N, M, K)
    c, s = np.cos(xt), np.sin(xt)
    dc, ds = c.sum(0) / n - g, s.sum(0) / n  # (M, K)
    stat = n * ((dc**2 + ds**2) * q).sum(-1)
    grad = (2 * q * t * (-dc[None] * s + ds[None] * c)).sum(-1)
    return stat, grad


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(12, 3, generator=g, dtype=torch.float64) * 1.5 + 0.3).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: epps_pulley(x, knots=7, t_max=3.0), (x,))
    # with a reduce in the middle (a "rank" adding fixed sums of another batch of 10)
    y = torch.randn(10, 3, generator=g, dtype=torch.float64)
    sums = []
    epps_pulley(y, knots=7, reduce=lambda s: sums.append(s.detach()) or s)
    assert torch.autograd.gradcheck(
        lambda x: epps_pulley(x, knots=7, reduce=(lambda it: lambda s: s + next(it))(iter(sums))), (x,))


def test_matches_numpy_statistic_and_gradient():
    g = torch.Generator().manual_seed(1)
    x = torch.cat([torch.randn(200, 3, generator=g, dtype=torch.float64),
                   torch.rand(200, 3, generator=g, dtype=torch.float64) * 3 - 1.5], dim=1).requires_grad_()
    stat, grad = ep_numpy(x.detach().numpy())
    fused = epps_pulley(x)
    (g_fused,) = torch.autograd.grad(fused.sum(), x)
    np.testing.assert_allclose(fused.detach().numpy(), stat, rtol=1e-12)
    np.testing.assert_allclose(g_fused.numpy(), grad, rtol=1e-10, atol=1e-13)
    for knots, t_max in [(2, 1.0), (5, 2.0), (33, 4.0)]:
        stat, grad = ep_numpy(x.detach().numpy(), knots, t_max)
        fused = epps_pulley(x, knots, t_max)
        (g_fused,) = torch.autograd.grad(fused.sum(), x)
        np.testing.assert_allclose(fused.detach().numpy(), stat, rtol=1e-12)
        np.testing.assert_allclose(g_fused.numpy(), grad, rtol=1e-10, atol=1e-13)


def test_two_knots_is_the_t_max_term_alone():
    """knots=2: the fused path keeps only t = t_max, weight 2 * (t_max / 2) * exp(-t_max^2/2)."""
    x = torch.tensor([[-1.0], [0.25], [2.0]], dtype=torch.float64)
    tm = 1.7
    phi = torch.exp(1j * tm * x[:, 0].to(torch.complex128)).mean()
    g = math.exp(-tm * tm / 2)
    expected = 3 * tm * g * abs(phi.item() - g) ** 2
    assert epps_pulley(x, knots=2, t_max=tm).item() == pytest.approx(expected, rel=1e-13)


def test_t0_knot_contributes_exactly_zero_to_the_plain_formula():
    g = torch.Generator().manual_seed(2)
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(1000, 8, generator=g, dtype=dtype) * 4
        c0 = torch.cos(x * 0.0).sum(0) / x.shape[0]
        s0 = torch.sin(x * 0.0).sum(0) / x.shape[0]
        assert torch.equal((c0 - 1.0) ** 2 + s0**2, torch.zeros(8, dtype=dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_equals_plain_realistic_size(device, dtype):
    g = torch.Generator().manual_seed(3)
    n, m = 256, 256
    # a mix of near-Gaussian and clearly non-Gaussian columns, as during training
    x = torch.randn(n, m, generator=g, dtype=torch.float64) * torch.linspace(0.2, 2.5, m, dtype=torch.float64)
    x[:, ::3] = torch.rand(n, m, generator=g, dtype=torch.float64)[:, ::3] * 3 - 1
    x = x.to(device=device, dtype=dtype).requires_grad_()
    w = torch.rand(m, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)  # a generic upstream gradient
    fused, plain = epps_pulley(x), _epps_pulley_reference(x)
    assert fused.dtype == dtype and fused.device.type == device
    (g_fused,) = torch.autograd.grad((fused * w).sum(), x)
    (g_plain,) = torch.autograd.grad((plain * w).sum(), x)
    rel = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(fused, plain, rtol=rel, atol=0)
    assert ((g_fused - g_plain).norm() / g_plain.norm()).item() < rel
    torch.testing.assert_close(g_fused, g_plain, rtol=10 * rel, atol=rel * g_plain.abs().max().item())
    if dtype == torch.float32:  # and as close to the float64 truth as the plain formula is
        stat64, grad64 = ep_numpy(x.detach().cpu().numpy())
        grad64 = grad64 * w.double().cpu().numpy()
        err_f = np.linalg.norm(g_fused.double().cpu().numpy() - grad64) / np.linalg.norm(grad64)
        err_p = np.linalg.norm(g_plain.double().cpu().numpy() - grad64) / np.linalg.norm(grad64)
        assert err_f < max(2 * err_p, 1e-6)
        np.testing.assert_allclose(fused.double().detach().cpu().numpy(), stat64, rtol=2e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sigreg_loss_fused_equals_plain(device, dtype):
    g = torch.Generator().manual_seed(4)
    z_a = (torch.randn(256, 64, generator=g) * 1.3 + 0.1).to(device=device, dtype=dtype).requires_grad_()
    z_b = (z_a.detach() + 0.3 * torch.randn(256, 64, generator=g).to(device=device, dtype=dtype)).requires_grad_()
    fused, plain = SIGRegLoss(num_slices=256, fixed_slices=True), SIGRegLoss(num_slices=256, fixed_slices=True)
    plain.fused = False
    assert fused.fused is True and SIGRegLoss.fused is True  # fused by default
    out_f, out_p = fused(z_a, z_b), plain(z_a, z_b)
    grads_f = torch.autograd.grad(out_f["loss"], (z_a, z_b))
    grads_p = torch.autograd.grad(out_p["loss"], (z_a, z_b))
    rel = 1e-6 if dtype == torch.float32 else 1e-12
    for key in ("loss", "sigreg", "invariance"):
        torch.testing.assert_close(out_f[key], out_p[key], rtol=rel, atol=0)
    for gf, gp in zip(grads_f, grads_p):
        assert ((gf - gp).norm() / gp.norm()).item() < rel
    # (B, T, D) tokens take the same path
    out_t = fused(z_a.detach().reshape(16, 16, 64), z_b.detach().reshape(16, 16, 64))
    torch.testing.assert_close(out_t["loss"], out_p["loss"].detach(), rtol=rel, atol=0)


def test_no_grad_and_double_backward():
    x = torch.randn(64, 4)
    with torch.no_grad():
        torch.testing.assert_close(epps_pulley(x), _epps_pulley_reference(x), rtol=1e-6, atol=0)
    x = x.double().requires_grad_()
    (gx,) = torch.autograd.grad(epps_pulley(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        gx.sum().backward()
