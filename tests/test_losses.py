"""Losses against independent references.

Claims checked here:
* VICRegLoss equals a direct NumPy transcription of the official formula.
* ToroidalCovarianceLoss with uniform weights *is* VICReg; with Laplacian weights an
  antipodal correlated pair costs more than an adjacent one.
* epps_pulley's quadrature equals the closed-form Epps-Pulley integral, its mean under
  H0 equals sqrt(2 pi)(1 - 1/sqrt 3), and it separates Gaussian from non-Gaussian samples.
* SIGReg of a batch split over two simulated ranks (sums reduced before squaring) equals
  SIGReg of the whole batch, while the per-rank average (the known bug) does not.
* TorusHeadLoss's uniformity reaches its closed-form minimum on uniform angles.
"""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, special

from jepa_torus.geometry import dimension_sites, laplacian_symbol
from jepa_torus.losses import (
    LOSSES,
    _epps_pulley_reference,
    HybridVICRegSIGRegLoss,
    SIGRegLoss,
    ToroidalCovarianceLoss,
    TorusHeadLoss,
    VICRegLoss,
    build_loss,
    epps_pulley,
)

torch.manual_seed(0)


def vicreg_numpy(a, b):
    """Official VICReg written out with explicit loops over pairs (independent of the code)."""
    n, d = a.shape
    inv = ((a - b) ** 2).mean()

    def var(z):
        return np.mean(np.maximum(0.0, 1.0 - np.sqrt(z.var(axis=0, ddof=1) + 1e-4)))

    def cov(z):
        c = np.cov(z, rowvar=False)
        return sum(c[i, j] ** 2 for i in range(d) for j in range(d) if i != j) / d

    return 25 * inv + 25 * (var(a) + var(b)) / 2 + cov(a) + cov(b)


def test_vicreg_matches_direct_formula():
    a, b = torch.randn(64, 12, dtype=torch.float64), torch.randn(64, 12, dtype=torch.float64) * 0.5
    out = VICRegLoss()(a, b)
    assert out["loss"].item() == pytest.approx(vicreg_numpy(a.numpy(), b.numpy()), rel=1e-10)
    assert set(out) == {"loss", "invariance", "variance", "covariance"}


def test_toroidal_with_uniform_weights_is_vicreg():
    a, b = torch.randn(32, 20), torch.randn(32, 20)
    t = ToroidalCovarianceLoss(grid_size=4, weights="uniform")(a, b)
    v = VICRegLoss()(a, b)
    assert torch.allclose(t["loss"], v["loss"]) and torch.allclose(t["torus_covariance"], v["covariance"])


def _pair_correlated(n, d, i, j, rho=0.9, seed=0):
    """Samples whose sample covariance is exactly I except C_ij = C_ji = rho."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(z - z.mean(0))
    z = q * math.sqrt(n - 1)  # orthonormal centred columns: sample covariance = I
    z[:, j] = rho * z[:, i] + math.sqrt(1 - rho**2) * z[:, j]
    return z


@pytest.mark.parametrize("n", [8, 12, 16])
def test_toroidal_penalises_antipodal_more_than_adjacent(n):
    d = n * n
    loss = ToroidalCovarianceLoss(grid_size=n)
    # site (0,0) is dim 0; (0,1) is dim 1 (adjacent); (n/2, n/2) is the antipode.
    antipode = (n // 2) * n + n // 2
    adj = loss(*([_pair_correlated(1024, d, 0, 1)] * 2))["torus_covariance"]
    far = loss(*([_pair_correlated(1024, d, 0, antipode)] * 2))["torus_covariance"]
    # Exactly 2 views x 2 (i,j),(j,i) x W_ij rho^2 / D, so the ratio is 8 / lambda_1.
    assert far > 2 * adj > 0
    assert (far / adj).item() == pytest.approx(8 / (2 - 2 * math.cos(2 * math.pi / n)), rel=1e-6)


def test_no_pair_escapes_when_dims_exceed_sites():
    # The original d mod N^2 placement left pairs sharing a site unpenalised.
    for d, n in [(512, 12), (300, 8), (100, 12)]:
        w = ToroidalCovarianceLoss(grid_size=n, normalize=False).penalty_weights(d, "cpu")
        off = w[~torch.eye(d, dtype=torch.bool)]
        assert off.min().item() == pytest.approx(2 - 2 * math.cos(2 * math.pi / n), rel=1e-6)
        sites = dimension_sites(d, n)
        assert torch.allclose(w[0, 1:4], torch.as_tensor(np.maximum(laplacian_symbol(n)[sites[0], sites[1:4]],
                                                                   2 - 2 * math.cos(2 * math.pi / n)), dtype=torch.float32))


def test_normalised_weights_have_vicreg_budget():
    w = ToroidalCovarianceLoss(grid_size=12).penalty_weights(256, "cpu")
    assert w.sum().item() / (256 * 255) == pytest.approx(1.0, rel=1e-5)


# ----------------------------------------------------------------- Epps-Pulley
def ep_closed_form(x):
    """N * int_R |phi_N - phi|^2 e^{-t^2/2} dt in closed form (Gaussian integrals)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    dd = x[:, None] - x[None, :]
    return n * (math.sqrt(2 * math.pi) * np.exp(-dd**2 / 2).mean()
                - 2 * math.sqrt(math.pi) * np.exp(-x**2 / 4).mean() + math.sqrt(2 * math.pi / 3))


def test_epps_pulley_quadrature_matches_closed_form():
    g = torch.Generator().manual_seed(1)
    x = torch.cat([torch.randn(300, 2, generator=g, dtype=torch.float64),
                   torch.rand(300, 2, generator=g, dtype=torch.float64) * 3 - 1.5], dim=1)
    fine = epps_pulley(x, knots=241, t_max=8.0)
    ref = torch.tensor([ep_closed_form(x[:, m]) for m in range(4)], dtype=torch.float64)
    assert torch.allclose(fine, ref, rtol=1e-6, atol=1e-8)
    default = epps_pulley(x)  # 17 knots on [0, 3]: close, but the truncation shows
    assert torch.allclose(default, ref, rtol=0.05, atol=0.05)


def test_epps_pulley_null_mean_and_power():
    g = torch.Generator().manual_seed(2)
    n = 2000
    gauss = epps_pulley(torch.randn(n, 200, generator=g, dtype=torch.float64))
    # Under H0, E[EP] = int (1 - e^{-t^2}) e^{-t^2/2} dt over the grid's [-3, 3].
    h0 = integrate.quad(lambda t: (1 - math.exp(-t * t)) * math.exp(-t * t / 2), -3, 3)[0]
    assert gauss.mean().item() == pytest.approx(h0, rel=0.1)
    alternatives = {
        "uniform": (torch.rand(n, 8, generator=g) * 2 - 1) * math.sqrt(3),
        "bimodal": torch.sign(torch.randn(n, 8, generator=g)) + 0.3 * torch.randn(n, 8, generator=g),
        "shifted": torch.randn(n, 8, generator=g) + 1.0,
        "collapsed": torch.zeros(n, 8),
    }
    for name, x in alternatives.items():
        assert epps_pulley(x).min().item() > 3 * gauss.max().item(), name


def test_sigreg_two_simulated_ranks_equal_whole_batch():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(128, 5, generator=g, dtype=torch.float64).requires_grad_()
    x1, x2 = x[:64], x[64:]
    whole = epps_pulley(x)
    captured = []
    epps_pulley(x2, reduce=lambda s: captured.append(s) or s)  # "rank 1" sends its sums
    it = iter(captured)
    rank0 = epps_pulley(x1, reduce=lambda s: s + next(it))  # "rank 0" reduces them
    assert torch.allclose(rank0, whole, rtol=1e-12)
    (gw,) = torch.autograd.grad(whole.sum(), x)
    (gr,) = torch.autograd.grad(rank0.sum(), x)
    assert torch.allclose(gw, gr, rtol=1e-10)
    assert len(captured) == 3  # cos sums, sin sums, n: the reduce ran in the (default) fused path
    assert torch.allclose(whole, _epps_pulley_reference(x), rtol=1e-12)   # the plain formula's whole batch
    # The per-rank statistic (the bug) is a different number.
    per_rank = (epps_pulley(x1) + epps_pulley(x2)) / 2
    assert not torch.allclose(per_rank, whole, rtol=1e-3)


def test_sigreg_directions_follow_the_step():
    loss = SIGRegLoss(num_slices=16, seed=7)
    a0 = loss.directions(10, "cpu", torch.float32)
    assert torch.allclose(a0.norm(dim=0), torch.ones(16))
    z = torch.randn(32, 10)
    loss.train()
    loss(z, z)
    assert int(loss.step) == 1 and not torch.allclose(loss.directions(10, "cpu", torch.float32), a0)
    loss.eval()
    loss(z, z)
    assert int(loss.step) == 1  # evaluation does not advance the draw
    other = SIGRegLoss(num_slices=16, seed=7)
    other.load_state_dict(loss.state_dict())  # the step travels with a checkpoint
    assert torch.equal(other.directions(10, "cpu", torch.float32), loss.directions(10, "cpu", torch.float32))
    fixed = SIGRegLoss(num_slices=16, seed=7, fixed_slices=True)
    fixed(z, z)
    assert torch.equal(fixed.directions(10, "cpu", torch.float32), a0)


def test_sigreg_prefers_gaussian_embeddings():
    loss = SIGRegLoss(num_slices=64).eval()
    gauss = torch.randn(512, 32)
    collapsed = torch.randn(512, 1).repeat(1, 32)
    assert loss(gauss, gauss)["sigreg"] < 0.2 * loss(collapsed, collapsed)["sigreg"]


# ----------------------------------------------------------------- hybrid, head
def test_hybrid_endpoints_and_schedule():
    a, b = torch.randn(64, 16), torch.randn(64, 16)
    h = HybridVICRegSIGRegLoss(schedule="linear", sigreg={"num_slices": 32}).eval()
    h.set_progress(0, 8)  # integer steps of a run of 8
    assert torch.allclose(h(a, b)["loss"], VICRegLoss()(a, b)["loss"])
    h.set_progress(8, 8)
    s = SIGRegLoss(num_slices=32).eval()
    assert torch.allclose(h(a, b)["loss"], s(a, b)["loss"])
    h.set_progress(2, 8)
    assert torch.allclose(h.weights, torch.tensor([0.75, 0.25]))


def test_torus_head_uniformity_minimum_and_decorrelation():
    g = torch.Generator().manual_seed(4)
    uniform = torch.rand(3000, 2, generator=g, dtype=torch.float64) * 2 * math.pi
    loss = TorusHeadLoss()
    out = loss(uniform, uniform)
    assert out["invariance"].item() == pytest.approx(0.0, abs=1e-12)
    assert out["uniformity"].item() == pytest.approx(2 * math.log(special.i0e(4.0)), abs=0.02)
    clumped = 0.1 * torch.randn(3000, 2, generator=g, dtype=torch.float64)
    assert loss(clumped, clumped)["uniformity"] > out["uniformity"] + 1.0
    assert out["decorrelation"].item() < 0.01
    tied = torch.stack([uniform[:, 0], uniform[:, 0]], dim=1)
    assert loss(tied, tied)["decorrelation"].item() == pytest.approx(1.0, abs=1e-9)


# ----------------------------------------------------------------- contract
ALL = {
    "vicreg": {},
    "sigreg": {"num_slices": 32},
    "hybrid": {"sigreg": {"num_slices": 32}},
    "toroidal": {"grid_size": 4},
    "torus_head": {},
}


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_contract_gradients_tokens_and_errors(kind):
    assert set(ALL) == set(LOSSES)
    loss = build_loss({"type": kind, **ALL[kind]}).eval()
    d = 2 if kind == "torus_head" else 16
    za = torch.randn(8, 3, d, requires_grad=True)
    zb = torch.randn(8, 3, d)
    out = loss(za, zb)
    assert "loss" in out and all(v.ndim == 0 for v in out.values())
    out["loss"].backward()
    assert torch.isfinite(za.grad).all() and za.grad.abs().sum() > 0
    flat = loss(za.detach().reshape(24, d), zb.reshape(24, d))
    assert torch.allclose(flat["loss"], out["loss"].detach())
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.randn(8, d), torch.randn(9, d))
    with pytest.raises(ValueError, match="shape"):
        loss(torch.randn(8), torch.randn(8))
    # values are not checked (that would sync with the device on every call): NaN propagates
    # to the total, where the training loop's one check per step sees it
    bad = torch.randn(8, d)
    bad[0, 0] = float("nan")
    assert torch.isnan(loss(bad, bad)["loss"])


def test_build_loss_errors_list_valid_options():
    with pytest.raises(ValueError, match="valid types: hybrid, sigreg, toroidal, torus_head, vicreg"):
        build_loss({"type": "barlow"})
    with pytest.raises(ValueError, match="grid_size"):
        build_loss({"type": "toroidal", "grid": 12})
    with pytest.raises(ValueError, match=">= 3"):
        build_loss({"type": "toroidal", "grid_size": 2})
