"""nuisance_torus: the views share only the angles (issue 13's data set, before its wiring)."""
import math

import pytest
import torch

from jepa_torus import metrics
from jepa_torus.nuisance_torus import CLEAN, HARD, Nuisance, render_views, texture_mean
from jepa_torus.torus_world import torus_images


def angles(n, seed):
    return torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 * math.pi


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_clean_setting_gives_torus_world_images_and_depends_on_the_angles_alone():
    a = angles(64, 0)
    clean = render_views(a, CLEAN, gen(1))
    assert torch.allclose(clean, torus_images(a), atol=1e-6)
    assert torch.equal(render_views(a, CLEAN, gen(2)), clean)          # no randomness left
    assert abs(float(torus_images(a).mean((1, 2, 3)).std())) < 1e-5    # every image has mean mu ...
    assert abs(float(torus_images(a).mean()) - texture_mean()) < 1e-5  # ... which texture_mean gives


def test_two_views_differ_but_replay_from_the_same_generator_state():
    a = angles(32, 3)
    g = gen(4)
    v1, v2 = render_views(a, HARD, g), render_views(a, HARD, g)
    assert not torch.allclose(v1, v2)
    g = gen(4)
    assert torch.equal(render_views(a, HARD, g), v1) and torch.equal(render_views(a, HARD, g), v2)


@pytest.mark.slow
def test_polarity_and_background_leave_nothing_linearly_readable():
    a = angles(1500, 5)
    x = render_views(a, HARD, gen(6)).flatten(1).numpy()
    r2 = metrics.circular_decoding(x, a.numpy())
    assert r2 < 0.1, r2
    # without the polarity the same nuisance leaves the angles readable: the test can fail
    x_no = render_views(a, Nuisance(polarity=False), gen(6)).flatten(1).numpy()
    assert metrics.circular_decoding(x_no, a.numpy()) > 0.3


def test_the_expected_view_does_not_depend_on_the_angles():
    mu = texture_mean()
    for seed in (7, 8):
        a = angles(1, seed).repeat(4000, 1)
        mean_view = render_views(a, Nuisance(occluders=0), gen(seed)).mean(0)
        assert float((mean_view - mu).abs().mean()) < 0.02   # E[x | a] = mu for every a
