"""The objective module: schedules through set_progress, state kept apart from the model; the
one-way EMA prediction of the original (prediction: one_way) by hand, its gradients, its resume."""
import json
from dataclasses import asdict

import pytest
import torch

from jepa_torus import models as M
from jepa_torus.config import ConfigError, resolve
from jepa_torus.objective import Objective

TINY = {"dataset": "torus_world", "train_subset": 256, "batch_size": 32}


def build(config, **over):
    cfg = resolve(f"configs/{config}.yaml", "smoke", {**TINY, **over})
    torch.manual_seed(0)
    model = M.build_model(asdict(cfg.model))
    return cfg, model


def test_potential_warmup_ramps_with_integer_steps():
    # hamjepa.yaml: potential_scale 0.02 reached after potential_warmup_epochs = 1 epoch
    cfg, model = build("hamjepa")
    objective = Objective(cfg.objective, model, steps_per_epoch=10)
    for step, expected in ((0, 0.0), (5, 0.01), (10, 0.02), (37, 0.02)):
        objective.set_progress(step, total=40)
        assert model.predictor.potential_scale.item() == pytest.approx(expected)
    assert "potential_scale" not in str(objective.state_dict().keys())  # the model's buffer stays the model's


def test_no_warmup_leaves_the_potential_alone():
    cfg, model = build("hamjepa", **{"objective.potential_warmup_epochs": 0.0})
    Objective(cfg.objective, model, steps_per_epoch=10).set_progress(0, total=40)
    assert model.predictor.potential_scale.item() == pytest.approx(0.02)


def test_hybrid_weights_follow_the_step_and_travel_in_the_state():
    cfg, model = build("hybrid")
    objective = Objective(cfg.objective, model, steps_per_epoch=10)
    objective.set_progress(10, total=40)
    state = objective.state_dict()
    assert torch.allclose(state["loss.weights"], torch.tensor([0.75, 0.25]))
    assert not any(k.startswith(("encoder", "projector", "predictor")) for k in state)


def test_parts_name_every_term():
    cfg, model = build("toroidal_head_N12")
    objective = Objective(cfg.objective, model, steps_per_epoch=1)
    x = torch.rand(16, 1, 32, 32)
    parts = objective(model, None, x, x.flip(-1))
    assert {"loss", "invariance", "variance", "torus_covariance", "head_uniformity"} <= set(parts)
    manual = parts["invariance"] * 25 + parts["variance"] * 25 + parts["torus_covariance"] + \
        parts["head_invariance"] + parts["head_uniformity"] + parts["head_decorrelation"]
    assert torch.allclose(parts["loss"], manual)


# ------------------------------------------------- prediction: one_way (the original's JEPA)
def one_way_setup(config, **over):
    """Model (float64, train mode) and an EMA target that has drifted from it, on fixed images."""
    cfg, model = build(config, **over)
    model.double().train()
    target = M.ema_copy(model)
    with torch.no_grad():
        for p in target.parameters():
            p.add_(0.05 * torch.randn_like(p))
    g = torch.Generator().manual_seed(1)
    x1, x2 = (torch.rand(16, 1, 32, 32, generator=g, dtype=torch.float64) for _ in range(2))
    return cfg, model, target, x1, x2


@pytest.mark.parametrize("config", ["jepa_ema_vicreg", "jepa_ema_toroidal_N12"])
def test_one_way_is_the_hand_computed_loss(config):
    # by hand: 25 mse(g(z1), t2) + 25 mean relu(1 - std(z1)) + c * sum_{i != j} W_ij C_ij(z1)^2 / D,
    # the regulariser on the online z1 of view 1 only (W = 1 for VICReg), values and gradients
    from jepa_torus.geometry import toroidal_weights
    cfg, model, target, x1, x2 = one_way_setup(config)
    objective = Objective(cfg.objective, model, steps_per_epoch=1)
    parts = objective(model, target, x1, x2)
    z1 = model(x1)["z"]
    with torch.no_grad():
        t2 = target(x2)["z"]
    inv = (model.predict(z1) - t2).pow(2).mean()
    var = torch.relu(1 - torch.sqrt(z1.var(dim=0) + 1e-4)).mean()
    c, d = torch.cov(z1.T), z1.shape[1]
    w = toroidal_weights(d, 12, normalize=True).double() if config.endswith("N12") else 1 - torch.eye(d).double()
    cov = (w * c.pow(2)).sum() / d
    expected = 25 * inv + 25 * var + 1.0 * cov
    name = "torus_covariance" if config.endswith("N12") else "covariance"
    assert set(parts) == {"loss", "invariance", "variance", name}
    for got, want in ((parts["loss"], expected), (parts["invariance"], inv), (parts["variance"], var), (parts[name], cov)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=0)
    params = [p for p in model.parameters() if p.requires_grad]
    for a, b in zip(torch.autograd.grad(parts["loss"], params, allow_unused=True),
                    torch.autograd.grad(expected, params, allow_unused=True)):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_one_way_sends_no_gradient_into_the_target():
    cfg, model, target, x1, x2 = one_way_setup("jepa_ema_vicreg")
    for p in target.parameters():   # stricter than ema_copy (frozen): only forward's no_grad may stop it
        p.requires_grad_(True)
    parts = Objective(cfg.objective, model, steps_per_epoch=1)(model, target, x1, x2)
    parts["loss"].backward()
    assert all(p.grad is None for p in target.parameters())
    for part in (model.encoder, model.projector, model.predictor):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_one_way_needs_the_target():
    cfg, model, _, x1, x2 = one_way_setup("jepa_ema_vicreg")
    with pytest.raises(ValueError, match="EMA target"):
        Objective(cfg.objective, model, steps_per_epoch=1)(model, None, x1, x2)


def test_symmetric_averages_both_directions_as_before():
    # the default: view 1 predicts view 2's target and vice versa, the loss's full output averaged
    cfg, model, target, x1, x2 = one_way_setup("jepa_ema_vicreg", **{"objective.prediction": "symmetric"})
    objective = Objective(cfg.objective, model, steps_per_epoch=1)
    parts = objective(model, target, x1, x2)
    z1, z2 = model(x1)["z"], model(x2)["z"]
    with torch.no_grad():
        t1, t2 = target(x1)["z"], target(x2)["z"]
    a, b = objective.loss(model.predict(z1), t2), objective.loss(model.predict(z2), t1)
    assert parts.keys() == a.keys()
    assert all(torch.equal(parts[k], (a[k] + b[k]) / 2) for k in a)


@pytest.mark.parametrize("over, message", [
    ({"objective.ema_momentum": 0.0}, r"'objective\.prediction' is 'one_way'.*'objective\.ema_momentum' is 0"),
    ({"model.predictor": "none", "model.predictor_kwargs": {}}, r"'objective\.prediction'.*'model\.predictor' is 'none'"),
    ({"objective.loss": {"type": "sigreg"}}, r"'objective\.prediction'.*'objective\.loss' types 'vicreg', 'toroidal'.*'sigreg'"),
    ({"model.torus_head": True}, r"'objective\.prediction'.*'model\.torus_head'"),
    ({"objective.floor_weight": 1.0}, r"'objective\.prediction'.*'objective\.floor_weight' \(1\)"),
    ({"objective.prediction": "both"}, r"'objective\.prediction' must be one of 'symmetric', 'one_way', got 'both'"),
])
def test_one_way_config_errors_name_the_keys(over, message):
    with pytest.raises(ConfigError, match=message):
        resolve("configs/jepa_ema_vicreg.yaml", "smoke", {**TINY, **over})


class Killed(BaseException):
    """Stands for SIGKILL right after a checkpoint (in process, as in test_faults.py)."""


def test_one_way_run_resumes_exactly_with_its_ema_target(tmp_path, monkeypatch):
    # 2 epochs of 8 steps, a checkpoint after every step; killed after the 5th (mid epoch 0), resumed:
    # the same weights, EMA target, optimiser, log and probes as the uninterrupted run
    from jepa_torus import train as T
    from jepa_torus.files import load_checkpoint

    def cfg():
        return resolve("configs/jepa_ema_vicreg.yaml", "smoke", {
            **TINY, "train_subset": 256, "epochs": 2, "threads": 1, "log_every": 1, "checkpoint_minutes": 0.0,
            "eval": {"probe_train": 256, "probe_test": 128, "analysis": False}})

    ref, run = tmp_path / "ref", tmp_path / "run"
    T.train(cfg(), ref)
    real, saves = T.save_checkpoint, [0]

    def save(path, state):
        real(path, state)
        saves[0] += 1
        if saves[0] == 5:
            raise Killed

    monkeypatch.setattr(T, "save_checkpoint", save)
    with pytest.raises(Killed):
        T.train(cfg(), run)
    monkeypatch.setattr(T, "save_checkpoint", real)
    assert not (run / "final.json").exists()
    T.train(cfg(), run)

    untimed = ("images_per_s", "seconds", "train_seconds_logged")
    lines = [[{k: v for k, v in json.loads(x).items() if k not in untimed} for x in (d / "metrics.jsonl").read_text().splitlines()]
             for d in (ref, run)]
    assert lines[0] == lines[1] and "invariance" in lines[0][0]
    sa, sb = load_checkpoint(ref / "last.pt"), load_checkpoint(run / "last.pt")
    assert sa["target"].keys() == sa["model"].keys()     # the EMA copy of the whole network travels
    assert any(not torch.equal(sa["target"][k], sa["model"][k]) for k in sa["model"])   # and lags the online one
    for part in ("model", "target", "objective"):
        assert sa[part].keys() == sb[part].keys()
        assert all(torch.equal(sa[part][k], sb[part][k]) for k in sa[part]), part
    assert all(torch.equal(x, y) for s, t in zip(sa["optimizer"]["state"].values(), sb["optimizer"]["state"].values())
               for x, y in zip(s.values(), t.values()))
    fa, fb = (json.loads((d / "final.json").read_text()) for d in (ref, run))
    assert fa["linear_probe"] == fb["linear_probe"] and fa["knn_accuracy"] == fb["knn_accuracy"]
