"""The objective module: schedules through set_progress, state kept apart from the model."""
from dataclasses import asdict

import pytest
import torch

from jepa_torus import models as M
from jepa_torus.config import resolve
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
