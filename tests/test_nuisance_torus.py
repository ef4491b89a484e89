"""nuisance_torus: the views share only the angles (issue 13's data set, before its wiring)."""
import math

import numpy as np
import pytest
import torch

from jepa_torus import metrics
from jepa_torus import nuisance_torus as nt
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


# --------------------------------------------------------------------------- as a data set
from dataclasses import asdict  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from jepa_torus import data  # noqa: E402
from jepa_torus.config import ConfigError, resolve  # noqa: E402
from jepa_torus.files import load_checkpoint  # noqa: E402
from jepa_torus.nuisance_torus import PairedViews, nuisance_from  # noqa: E402
from jepa_torus.objective import AngleRegression  # noqa: E402
from resume_check import killed_and_resumed  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def test_splits_have_torus_worlds_angles_a_fixed_nuisance_draw_and_the_clean_images():
    for split in ("train", "test"):
        tw, nt = data.load_dataset("torus_world", split), data.load_dataset("nuisance_torus", split)
        assert torch.equal(tw.angles, nt.angles) and torch.equal(tw.labels, nt.labels)
        assert torch.allclose(nt.clean, torus_images(nt.angles), atol=0) and nt.images.dtype == torch.float32
        assert not torch.allclose(nt.images, nt.clean, atol=0.1)
        assert torch.equal(data.load_dataset("nuisance_torus", split).images, nt.images)   # fixed per split
    # the clean setting gives torus_world's images (up to its uint8 rounding)
    clean = data.load_dataset("nuisance_torus", "test", nuisance=asdict(CLEAN))
    tw = data.load_dataset("torus_world", "test")
    assert float((clean.images - tw.images.float() / 255).abs().max()) <= 0.5 / 255 + 1e-6


def test_the_normalisation_constants_are_the_pixel_statistics_of_hard_views():
    info = data.dataset_info("nuisance_torus")
    x = data.load_dataset("nuisance_torus", "train").images
    assert abs(float(x.mean()) - info.mean[0]) < 0.005 and abs(float(x.std()) - info.std[0]) < 0.005


def test_paired_views_share_the_angles_replay_exactly_and_are_normalised():
    split = data.load_dataset("nuisance_torus", "test")
    info = split.info
    views = PairedViews(split.angles, {}, info.mean, info.std)
    idx = torch.arange(64)
    v1, v2 = views.two_views(idx, gen(3))
    w1, w2 = views.two_views(idx, gen(3))
    assert torch.equal(v1, w1) and torch.equal(v2, w2) and not torch.allclose(v1, v2)
    # undo the normalisation: each view is HARD's rendering of its angles with the same stream
    raw = render_views(torch.cat([split.angles[idx]] * 2), HARD, gen(3))
    assert torch.allclose(torch.cat([v1, v2]) * info.std[0] + info.mean[0], raw, atol=1e-5)


def test_nuisance_settings_are_checked_before_anything_runs():
    ok = resolve(REPO / "configs/baseline_vicreg.yaml", "smoke", {"dataset": "nuisance_torus",
                                                                   "nuisance": {"polarity": False}})
    assert nuisance_from(ok.data.nuisance) == Nuisance(polarity=False)
    for over, match in [({"dataset": "fashion_mnist", "nuisance": {"noise": 0.1}}, "only data set nuisance_torus"),
                        ({"dataset": "nuisance_torus", "augment": {"flip_p": 0.0}}, "draws its two views itself"),
                        ({"dataset": "nuisance_torus", "nuisance": {"contrast": [1.5, 0.5]}}, "low <= high"),
                        ({"dataset": "nuisance_torus", "nuisance": {"occluders": 20}}, "occluders"),
                        ({"dataset": "nuisance_torus", "nuisance": {"polarty": True}}, "polarity")]:
        with pytest.raises(ConfigError, match=match):
            resolve(REPO / "configs/baseline_vicreg.yaml", "smoke", over)
    with pytest.raises(ConfigError, match="has none"):
        resolve(REPO / "configs/supervised_angles.yaml", "smoke", {"dataset": "fashion_mnist"})


def test_the_supervised_reference_regresses_cos_and_sin_of_both_angles():
    torch.manual_seed(0)
    loss = AngleRegression(5)
    h1, h2, a = torch.randn(8, 5), torch.randn(8, 5), torch.rand(8, 2) * 6
    w, b = loss.head.weight.detach(), loss.head.bias.detach()
    target = torch.stack([a[:, 0].cos(), a[:, 0].sin(), a[:, 1].cos(), a[:, 1].sin()], 1)
    want = 0.5 * (((h1 @ w.T + b - target) ** 2).mean() + ((h2 @ w.T + b - target) ** 2).mean())
    assert torch.allclose(loss(h1, h2, a)["loss"], want)


def _fingerprint(run):
    state = load_checkpoint(Path(run) / "last.pt")
    final = json.loads((Path(run) / "final.json").read_text())
    return state, final


@pytest.mark.parametrize("config", ["supervised_angles"])  # PairedViews, the angles and the head
def test_a_killed_nuisance_run_resumes_to_the_uninterrupted_numbers(config, tmp_path):
    args = ["--config", f"configs/{config}.yaml", "--profile", "smoke", "--dataset", "nuisance_torus",
            "--train_subset", "640", "--batch-size=32", "--epochs", "2", "--threads", "1", "--log_every", "5",
            "--run.checkpoint_minutes=0.0", "--eval.analysis", "false", "--eval.probe_train", "256",
            "--eval.probe_test", "128", "--run.monitor_images", "0"]
    cmd = [sys.executable, "-m", "jepa_torus.train", *args]
    ref, run, resumed = killed_and_resumed(cmd, tmp_path)
    assert "resuming" in resumed
    (sa, fa), (sb, fb) = _fingerprint(ref), _fingerprint(run)
    assert all(torch.equal(sa["model"][k], sb["model"][k]) for k in sa["model"])
    assert all(torch.equal(sa["objective"][k], sb["objective"][k]) for k in sa["objective"])  # the supervised head
    assert fa["linear_probe"] == fb["linear_probe"] and fa["clean"]["linear_probe"] == fb["clean"]["linear_probe"]
    if config == "supervised_angles":  # the regression's loss is what was logged
        assert "mean_mse" in (run / "metrics.jsonl").read_text()


def test_nuisance_factors_read_what_was_drawn():
    """polarity x contrast is exactly s * c when nothing else is drawn (closed form: x - mu =
    s c (T(a) - mu)); the background coefficients are zero on clean images (T(a) has frequencies
    <= 3) and carry the drawn texture otherwise."""
    angles = torch.rand(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 * math.pi
    clean = nt.render_views(angles, nt.CLEAN, torch.Generator().manual_seed(1)).numpy()
    only_gain = nt.Nuisance(polarity=True, contrast=(0.5, 1.5), background=0.0, occluders=0, noise=0.0)
    views = nt.render_views(angles, only_gain, torch.Generator().manual_seed(2)).numpy()
    g = torch.Generator().manual_seed(2)   # the same draws render_views made, in its order
    gain = 0.5 + torch.rand(64, generator=g)
    gain = (gain * (2 * torch.randint(0, 2, (64,), generator=g) - 1)).numpy()
    f = nt.nuisance_factors(views, clean)
    np.testing.assert_allclose(f["polarity_contrast"], gain, atol=1e-5)
    assert (f["polarity"] == np.sign(gain)).all()
    assert np.abs(nt.nuisance_factors(clean, clean)["background"]).max() < 1e-3
    textured = nt.render_views(angles, nt.Nuisance(polarity=False, contrast=(1, 1), background=0.8, occluders=0, noise=0.0),
                               torch.Generator().manual_seed(3)).numpy()
    assert np.abs(nt.nuisance_factors(textured, clean)["background"]).mean() > 0.1


def test_linear_decoding_reads_linear_targets_and_not_independent_ones():
    linear_decoding = metrics.linear_decoding
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 20))
    assert linear_decoding(z, z[:, :3] @ rng.normal(size=(3, 2))) > 0.99
    assert linear_decoding(z, rng.normal(size=400)) < 0.05
    with pytest.raises(ValueError, match="NaN"):
        linear_decoding(np.full((400, 3), np.nan), rng.normal(size=400))
