"""Claims about jepa_torus.models, each checked against an independent expectation.

* Encoders map 1x28x28 and 3x32x32 images to (B, out_dim); ResNet-18 (CIFAR stem, width 64,
  no fc) has 11,168,832 parameters, the standard count.
* The leapfrog predictor with s = 0 is the exact leapfrog map of the harmonic oscillator
  V = quad |q|^2, a closed-form 2x2 matrix per coordinate with determinant 1 (symplectic).
* With a random MLP potential it is time-reversible (running -dt from the output returns the
  input), conserves energy to O(dt^2), and trains the potential through dV/dq.
* The torus head returns angles in [0, 2 pi) consistent with its unit-vector embedding.
* ema_update is m t + (1 - m) o; ema_momentum goes from base to 1 along a cosine.
* matched_mlp_hidden matches parameter counts; bad configs fail with the valid options.
"""
import math

import pytest
import torch

from jepa_torus.objective import hamiltonian_floor_loss
from jepa_torus.models import (
    DEFAULTS, ConvNet, HamiltonianPredictor, MLPPredictor, Projector, TorusProjectionHead, build_encoder,
    build_model, count_params, ema_copy, ema_momentum, ema_update, matched_mlp_hidden,
    mlp_param_count, resnet18, torus_embed,
)

SHAPES = [(1, 28, 28), (3, 32, 32)]


# ---------------------------------------------------------------- encoders


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,kw,out", [
    ("convnet", {}, 256),
    ("convnet", {"widths": (32, 64, 128), "blocks": 2}, 128),
    ("convnet", {"widths": (64, 128, 256, 512), "blocks": 1}, 512),
    ("resnet18", {"width": 16}, 128),
])
def test_encoder_shapes(name, kw, out, shape):
    enc = build_encoder(name, shape[0], **kw)
    h = enc(torch.randn(3, *shape))
    assert enc.out_dim == out and h.shape == (3, out) and torch.isfinite(h).all()


@pytest.mark.parametrize("shape", SHAPES)
def test_resnet18_width64_shape(shape):
    enc = resnet18(shape[0], 64).eval()
    with torch.no_grad():
        assert enc(torch.randn(2, *shape)).shape == (2, 512)


def test_resnet18_param_count():
    # kuangliu/pytorch-cifar ResNet18: 11,173,962 with its 512x10 fc; without it 11,168,832
    assert count_params(resnet18(3, 64)) == 11_168_832
    # the stem is the CIFAR one: 3x3 stride 1, so a 32x32 input keeps its resolution
    stem_conv = resnet18(3, 64).stem[0]
    assert stem_conv.kernel_size == (3, 3) and stem_conv.stride == (1, 1)


def test_channels_last_same_output():
    torch.manual_seed(0)
    enc = ConvNet(1).eval()
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        a = enc(x)
        b = enc.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_projector_and_mlp():
    z = Projector(64, (32, 32), 16)(torch.randn(5, 64))
    assert z.shape == (5, 16)
    assert MLPPredictor(16, 8, depth=3, residual=True)(z).shape == (5, 16)


# ---------------------------------------------------------------- Hamiltonian predictor


def _ham(dim=8, s=0.5, **kw):
    torch.manual_seed(0)
    return HamiltonianPredictor(dim, hidden=16, depth=2, potential_scale=s, **kw).double()


def test_leapfrog_harmonic_closed_form():
    # V = quad |q|^2  =>  dV/dq = w^2 q with w^2 = 2 quad; one leapfrog step of size h is
    # (q, p) -> M (q, p) with M = [[1 - h^2 w^2/2, h], [-h w^2 (1 - h^2 w^2/4), 1 - h^2 w^2/2]].
    quad, h, steps = 0.3, 0.1, 3
    ham = _ham(s=0.0, quad=quad, dt=h, steps=steps)
    z = torch.randn(6, 8, dtype=torch.float64)
    w2 = 2 * quad
    M = torch.tensor([[1 - h * h * w2 / 2, h], [-h * w2 * (1 - h * h * w2 / 4), 1 - h * h * w2 / 2]],
                     dtype=torch.float64)
    assert abs(torch.linalg.det(M).item() - 1) < 1e-12  # area-preserving
    q, p = z.chunk(2, 1)
    for _ in range(steps):
        qp = torch.stack([q, p], -1) @ M.T  # (B, d, 2)
        q, p = qp.unbind(-1)
    torch.testing.assert_close(ham(z), torch.cat([q, p], 1), rtol=1e-12, atol=1e-12)


def test_leapfrog_time_reversible():
    ham = _ham(s=1.0, dt=0.2, steps=5)
    z = torch.randn(10, 8, dtype=torch.float64)
    back = ham(ham(z), dt=-0.2)
    torch.testing.assert_close(back, z, rtol=1e-10, atol=1e-10)
    assert (ham(z) - z).abs().max() > 1e-2  # the flow itself is not the identity


def test_leapfrog_jacobian_symplectic():
    # J^T Omega J = Omega for the map of one sample, with a non-trivial potential
    ham = _ham(dim=4, s=1.0, dt=0.3, steps=2)
    z = torch.randn(1, 4, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda v: ham(v.unsqueeze(0)).squeeze(0), z.squeeze(0))
    I, O = torch.eye(2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
    omega = torch.cat([torch.cat([O, I], 1), torch.cat([-I, O], 1)], 0)
    torch.testing.assert_close(J.T @ omega @ J, omega, rtol=1e-10, atol=1e-10)


def test_leapfrog_energy_conservation():
    # over a fixed time T the energy error of leapfrog is O(dt^2)
    z = torch.randn(32, 8, dtype=torch.float64)
    errs = []
    for dt, steps in [(0.1, 10), (0.05, 20)]:
        ham = _ham(s=1.0, dt=dt, steps=steps)
        q0, p0 = z.chunk(2, 1)
        q1, p1 = ham(z).chunk(2, 1)
        with torch.no_grad():
            errs.append((ham.hamiltonian(q1, p1) - ham.hamiltonian(q0, p0)).abs().max().item())
    assert errs[0] < 1e-2 and errs[1] < errs[0] / 3  # halving dt cuts the error ~4x


def test_potential_receives_gradients():
    ham = HamiltonianPredictor(8, hidden=16)
    z = torch.randn(5, 8, requires_grad=True)
    target = torch.randn(5, 8)
    (ham(z) - target).pow(2).mean().backward()
    grads = [p.grad for p in ham.parameters()]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    assert z.grad is not None and z.grad.abs().sum() > 0
    # a detached target-branch input still trains the potential
    ham.zero_grad()
    (ham(z.detach()) - target).pow(2).mean().backward()
    assert all(p.grad.abs().sum() > 0 for p in ham.parameters())


def test_leapfrog_no_grad_and_schedule():
    ham = HamiltonianPredictor(8, hidden=16)
    z = torch.randn(5, 8)
    with torch.no_grad():
        out = ham(z)
    assert out.shape == (5, 8) and not out.requires_grad
    ham.set_potential_scale(0.0)
    assert ham.potential_scale.item() == 0.0 and "potential_scale" in ham.state_dict()
    with pytest.raises(ValueError, match="even"):
        HamiltonianPredictor(7)


def test_floor_loss():
    torch.manual_seed(0)
    q, p = torch.randn(4096, 16), torch.randn(4096, 16)
    parts = hamiltonian_floor_loss(q, p)
    assert set(parts) == {"loss", "energy", "std", "mean"}
    assert parts["loss"] < 0.01  # a standard Gaussian sits on the floors
    collapsed = hamiltonian_floor_loss(torch.zeros(64, 16), torch.zeros(64, 16))
    # energy 1 + 1, every std at sqrt(1e-4) = 0.01 below the 0.2 floor
    torch.testing.assert_close(collapsed["energy"], torch.tensor(2.0))
    torch.testing.assert_close(collapsed["std"], torch.tensor(0.19))
    shifted = hamiltonian_floor_loss(q + 1, p)
    assert abs(shifted["mean"].item() - 0.5) < 0.05  # half the dims shifted by 1


# ---------------------------------------------------------------- matched MLP ablation


@pytest.mark.parametrize("dim", [128, 256, 512])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_matched_param_counts(dim, depth):
    target = count_params(HamiltonianPredictor(dim, hidden=256, depth=depth))
    hidden = matched_mlp_hidden(dim, target, depth)
    mlp = MLPPredictor(dim, depth=depth, param_count=target)
    assert mlp.hidden == hidden and count_params(mlp) == mlp_param_count(dim, hidden, depth)
    assert abs(count_params(mlp) - target) / target < 0.05


def test_build_mlp_matched():
    cfg = {"predictor_kwargs": {"hidden": 256, "depth": 2}}
    ham = build_model({**cfg, "predictor": "hamiltonian"}).predictor
    mlp = build_model({**cfg, "predictor": "mlp_matched"}).predictor
    assert isinstance(mlp, MLPPredictor) and mlp.residual
    assert abs(count_params(mlp) - count_params(ham)) / count_params(ham) < 0.05


# ---------------------------------------------------------------- torus head


def test_torus_head_angles():
    torch.manual_seed(0)
    head = TorusProjectionHead(32, hidden=16)
    h = torch.randn(512, 32)
    a = head(h)
    assert a.shape == (512, 2) and (a >= 0).all() and (a < 2 * math.pi).all()
    torch.testing.assert_close(torus_embed(a), head.embed(h), rtol=1e-5, atol=1e-5)
    # both angles span the circle (no squashing toward the seam as with 2 pi sigmoid)
    assert (a.max(0).values - a.min(0).values > 5).all()


def test_torus_head_seam():
    # a vector just below the positive x axis has atan2 = -tiny; it must map into [0, 2 pi)
    head = TorusProjectionHead(4, hidden=4)
    with torch.no_grad():
        head.net[-1].weight.zero_()
        head.net[-1].bias.copy_(torch.tensor([1.0, -1e-9, 1.0, 1e-9]))
    a = head(torch.randn(3, 4))
    assert (a >= 0).all() and (a < 2 * math.pi).all()


def test_torus_embed():
    a = torch.tensor([[0.0, math.pi / 2]])
    torch.testing.assert_close(torus_embed(a), torch.tensor([[1.0, 0.0, 0.0, 1.0]]), atol=1e-7, rtol=0)


# ---------------------------------------------------------------- EMA


def test_ema_update_formula():
    torch.manual_seed(0)
    online = build_model({"encoder_kwargs": {"widths": (8, 16)}, "projector": [16], "embed_dim": 8})
    target = ema_copy(online)
    assert all(not p.requires_grad for p in target.parameters())
    with torch.no_grad():
        for p in online.parameters():
            p.add_(torch.randn_like(p))
    online(torch.randn(4, 1, 28, 28))  # moves the BN running statistics
    before = [p.clone() for p in target.parameters()]
    m = 0.9
    ema_update(target, online, m)
    for t, b, o in zip(target.parameters(), before, online.parameters()):
        torch.testing.assert_close(t, m * b + (1 - m) * o)
    for tb, ob in zip(target.buffers(), online.buffers()):
        assert torch.equal(tb, ob)


def test_ema_momentum_schedule():
    assert ema_momentum(0, 100) == pytest.approx(0.996)
    assert ema_momentum(50, 100) == pytest.approx(0.998)
    assert ema_momentum(100, 100) == pytest.approx(1.0)
    assert ema_momentum(200, 100) == pytest.approx(1.0)
    ms = [ema_momentum(s, 100, base=0.99) for s in range(101)]
    assert all(a <= b for a, b in zip(ms, ms[1:]))


# ---------------------------------------------------------------- build_model contract


def test_build_model_default_and_forward():
    model = build_model({})
    out = model(torch.randn(4, 1, 28, 28))
    assert set(out) == {"h", "z"} and out["h"].shape == (4, 256) and out["z"].shape == (4, DEFAULTS["embed_dim"])
    assert torch.equal(model.predict(out["z"]), out["z"])  # predictor "none" is the identity


@pytest.mark.parametrize("predictor", ["mlp", "hamiltonian", "mlp_matched"])
def test_build_model_variants(predictor):
    cfg = {"encoder": "resnet18", "encoder_kwargs": {"width": 8}, "in_channels": 3, "projector": [32],
           "embed_dim": 16, "predictor": predictor, "torus_head": {"hidden": 16}, "channels_last": True}
    model = build_model(cfg)
    out = model(torch.randn(4, 3, 32, 32))
    assert out["z"].shape == (4, 16) and out["angles"].shape == (4, 2)
    assert model.predict(out["z"]).shape == (4, 16)


def test_build_model_headless():
    model = build_model({"projector": None, "embed_dim": None, "predictor": "hamiltonian"})
    out = model(torch.randn(2, 1, 28, 28))
    assert torch.equal(out["h"], out["z"])


@pytest.mark.parametrize("cfg,match", [
    ({"encodr": "convnet"}, "valid keys are"),
    ({"encoder": "vit"}, "valid encoders are"),
    ({"encoder_kwargs": {"depth": 3}}, "valid kwargs are"),
    ({"predictor": "transformer"}, "valid predictors are"),
    ({"predictor": "hamiltonian", "predictor_kwargs": {"width": 3}}, "valid kwargs are"),
    ({"predictor": "hamiltonian", "embed_dim": 7}, "even"),
    ({"projector": None, "embed_dim": 64}, "projector None"),
    ({"predictor_kwargs": {"hidden": 8}}, "takes no predictor_kwargs"),
])
def test_build_model_errors(cfg, match):
    with pytest.raises(ValueError, match=match):
        build_model(cfg)
