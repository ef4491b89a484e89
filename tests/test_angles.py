"""Label-free torus angles (jepa_torus.angles) against answers known independently.

Claims checked here:
* recover_angles on a noisy flat torus rotated into R^8 (angles drawn by the test) gives
  two angles that match the true ones with |rho| > 0.95 and form a chart (|det| = 1);
  DREiMac's own lattice-reduction matrix is unimodular; the same seed gives the same output.
* On a torus embedded through the circles t1 and t1 + t2, the recovered chart is those two
  circles (matrix rows +-(1, 0), +-(1, 1), |det| = 1), not the labels.
* angle_agreement finds a known integer recombination (t1 + t2, -t2) + shift with |rho| = 1
  and its matrix, det -1; (t1, t1) is not a chart (det 0); for r = t + N(0, s^2) with
  uniform t the score is the population value exp(-s^2 / 2); for non-uniform (von Mises)
  angles an exact shift still scores 1; independent angles score near 0.
* plot_angles draws two panels labelled with the matched combinations, 3.3 x 1.7 in, no
  font under 7 pt.
* DREiMac is declared for Python < 3.12 only (its releases say so): without it the tests
  that run it are skipped, the rest still run.
* Malformed input (NaN, fewer points than landmarks, not a prime, wrong shapes) and data
  without two persistent H1 classes (a circle) raise ValueError.

Runs in about 10 s on 2 cores (numba compiles DREiMac's kernels on the first call).
"""
import importlib.util

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from jepa_torus.angles import angle_agreement, plot_angles, recover_angles  # noqa: E402

TWO_PI = 2 * np.pi
# dreimac is a dependency only on Python < 3.12 (its releases say so); elsewhere these skip.
needs_dreimac = pytest.mark.skipif(importlib.util.find_spec("dreimac") is None,
                                   reason="dreimac not installed (declared for Python < 3.12 only)")


def torus_with_angles(n, seed, dim=8, noise=0.05):
    """(cos a, sin a, cos b, sin b) rotated into R^dim plus noise, and the angles (a, b)."""
    rng = np.random.default_rng(seed)
    ang = rng.uniform(0, TWO_PI, size=(n, 2))
    x = np.column_stack([np.cos(ang[:, 0]), np.sin(ang[:, 0]), np.cos(ang[:, 1]), np.sin(ang[:, 1]),
                         np.zeros((n, dim - 4))])
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    return x @ q.T + noise * rng.standard_normal((n, dim)), ang


@pytest.fixture(scope="module")
def torus_run():
    x, ang = torus_with_angles(400, seed=1)
    rec, info = recover_angles(x, n_landmarks=100, seed=0, return_info=True)
    return x, ang, rec, info


# ----------------------------------------------------------------------------- recover_angles

@needs_dreimac
def test_recovers_the_torus_angles_as_a_chart(torus_run):
    _, ang, rec, _ = torus_run
    assert rec.shape == (400, 2)
    assert np.all((rec >= 0) & (rec < TWO_PI))
    agree = angle_agreement(rec, ang)
    assert agree["min_correlation"] > 0.95, agree
    assert abs(agree["det"]) == 1 and agree["valid_chart"], agree


@needs_dreimac
def test_info_lattice_reduction_is_unimodular(torus_run):
    _, _, _, info = torus_run
    b = info["change_basis"]
    assert b.shape == (2, 2) and np.issubdtype(b.dtype, np.integer)
    assert abs(round(np.linalg.det(b))) == 1 and abs(info["det"]) == 1
    births, deaths = info["classes"][:, 0], info["classes"][:, 1]
    assert 2 * births.max() < deaths.min()  # both classes persistent in DREiMac's sense
    assert len(info["landmarks"]) == 100 and info["n_uncovered"] == 0


@needs_dreimac
def test_same_seed_same_angles(torus_run):
    x, _, rec, _ = torus_run
    np.testing.assert_array_equal(recover_angles(x, n_landmarks=100, seed=0), rec)


@needs_dreimac
def test_recovered_chart_is_the_embedded_circles_of_a_sheared_torus():
    # the embedding's two circles are t1 and t1 + t2, so the (orthogonal) chart the data
    # offer is a unimodular recombination of the labels, not the labels themselves
    rng = np.random.default_rng(3)
    t = rng.uniform(0, TWO_PI, size=(400, 2))
    u = t[:, 0] + t[:, 1]
    x = np.column_stack([np.cos(t[:, 0]), np.sin(t[:, 0]), np.cos(u), np.sin(u), np.zeros((400, 4))])
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    x = x @ q.T + 0.05 * rng.standard_normal(x.shape)
    agree = angle_agreement(recover_angles(x, n_landmarks=100, seed=0), t)
    assert agree["min_correlation"] > 0.95 and abs(agree["det"]) == 1, agree
    up_to_sign = sorted(tuple(int(v) for v in np.sign(row[np.flatnonzero(row)[0]]) * row)
                        for row in np.array(agree["matrix"]))
    assert up_to_sign == [(1, 0), (1, 1)], agree


@needs_dreimac
def test_circle_has_no_torus_chart():
    rng = np.random.default_rng(0)
    t = rng.uniform(0, TWO_PI, 300)
    x = np.column_stack([np.cos(t), np.sin(t), np.zeros((300, 6))]) + 0.05 * rng.standard_normal((300, 8))
    with pytest.raises(ValueError, match="persistent H1"):
        recover_angles(x, n_landmarks=60)


@pytest.mark.parametrize("kwargs, match", [
    (dict(points=np.full((50, 4), np.nan)), "NaN"),
    (dict(points=np.zeros((50, 4)), n_landmarks=100), "fewer points"),
    (dict(points=np.zeros(50)), "shape"),
    (dict(points=np.zeros((50, 4)), n_landmarks=10, prime=4), "prime"),
    (dict(points=np.zeros((50, 4)), n_landmarks=10, prime=2), "prime"),
    (dict(points=np.zeros((50, 4)), n_landmarks=2), "n_landmarks"),
])
def test_recover_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        recover_angles(**kwargs)


# ----------------------------------------------------------------------------- angle_agreement

def uniform_angles(n, seed):
    return np.random.default_rng(seed).uniform(0, TWO_PI, size=(n, 2))


def test_agreement_finds_a_known_recombination():
    t = uniform_angles(2000, 0)
    rec = np.mod(np.column_stack([t[:, 0] + t[:, 1] + 1.0, -t[:, 1] + 4.0]), TWO_PI)
    agree = angle_agreement(rec, t)
    assert agree["matrix"] == [[1, 1], [0, -1]]
    assert agree["det"] == -1 and agree["valid_chart"]
    np.testing.assert_allclose(agree["correlation"], [1.0, 1.0], atol=1e-9)
    assert agree["min_correlation"] == pytest.approx(1.0, abs=1e-9)


def test_agreement_the_same_circle_twice_is_not_a_chart():
    t = uniform_angles(2000, 1)
    agree = angle_agreement(np.column_stack([t[:, 0], t[:, 0]]), t)
    assert agree["matrix"] == [[1, 0], [1, 0]]
    assert agree["det"] == 0 and not agree["valid_chart"]
    assert agree["min_correlation"] == pytest.approx(1.0, abs=1e-9)


def test_agreement_matches_the_population_value_under_noise():
    # r = t + eps, t uniform, eps ~ N(0, s^2): rho = E[sin u sin(u + eps)] / E[sin^2 u] = E cos eps
    s, n = 0.4, 20000
    rng = np.random.default_rng(2)
    t = uniform_angles(n, 3)
    rec = np.mod(np.column_stack([t[:, 0] - t[:, 1], t[:, 1]]) + s * rng.standard_normal((n, 2)), TWO_PI)
    agree = angle_agreement(rec, t)
    assert agree["matrix"] == [[1, -1], [0, 1]] and agree["det"] == 1
    np.testing.assert_allclose(agree["correlation"], np.exp(-s ** 2 / 2), atol=0.02)


def test_agreement_non_uniform_angles_and_orientation():
    rng = np.random.default_rng(4)
    t = np.column_stack([rng.vonmises(0.5, 4.0, 1000), rng.vonmises(-1.0, 2.0, 1000)])
    rec = np.column_stack([2.0 - t[:, 1], t[:, 0] + 0.3])
    agree = angle_agreement(rec, t)
    assert agree["matrix"] == [[0, -1], [1, 0]] and agree["det"] == 1
    assert agree["min_correlation"] == pytest.approx(1.0, abs=1e-9)


def test_agreement_independent_angles_score_near_zero():
    agree = angle_agreement(uniform_angles(4000, 5), uniform_angles(4000, 6))
    assert max(agree["correlation"]) < 0.1


def test_agreement_rejects_bad_input():
    t = uniform_angles(10, 0)
    with pytest.raises(ValueError, match="rows"):
        angle_agreement(t, uniform_angles(11, 0))
    with pytest.raises(ValueError, match="shape"):
        angle_agreement(t[:, :1], t)
    with pytest.raises(ValueError, match="NaN"):
        angle_agreement(np.where(t > 3, np.nan, t), t)
    with pytest.raises(ValueError, match="max_coef"):
        angle_agreement(t, t, max_coef=0)


# ----------------------------------------------------------------------------- plot_angles

def test_plot_is_a_labelled_single_column_figure():
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    ang = uniform_angles(300, 7)
    rec = np.mod(np.column_stack([ang[:, 0] - ang[:, 1], -ang[:, 0]]) + 0.1, TWO_PI)
    fig = plot_angles(rec, ang)
    try:
        w, h = fig.get_size_inches()
        assert (w, h) == pytest.approx((3.3, 1.7))
        assert len(fig.axes) == 2
        assert [ax.get_xlabel() for ax in fig.axes] == [r"true $\theta_1-\theta_2$ + shift",
                                                       r"true $-\theta_1$ + shift"]
        assert all(ax.get_ylabel().startswith("recovered") for ax in fig.axes)
        fig.canvas.draw()
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
        assert sizes and min(sizes) >= 7
    finally:
        plt.close(fig)
