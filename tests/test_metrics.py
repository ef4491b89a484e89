"""Metrics on data with known answers.

Claims checked here:
* Betti numbers (significant, null-calibrated): noisy circle (1, 1, 0), two separated
  circles (2, 2, 0), noisy 2-sphere (1, 0, 1), flat torus in R^4 (1, 2, 1), the same torus
  rotated into R^64 with noise (1, 2, 1), Gaussian blob (1, 0, 0); a Klein bottle in R^4
  has a long H2 bar over GF(2) but none over GF(47), hence the default coeff=47.
* Our maxmin landmarks are ripser's greedy permutation; H0 of the landmark Rips complex
  equals single-linkage merge heights (the identity the component count relies on); b0
  counts components, not points, and ignores isolated outliers.
* Intrinsic dimension ~2 on a torus in R^50, ~5 on a 5-d Gaussian (MLE and TwoNN).
* Effective rank ~d for isotropic data, ~1 for rank-1 data.
* Linear probe and kNN ~1 on separable data, ~chance on random labels.
* the topology instrument (intrinsic metric by default): exact diagrams whatever ripser's
  threshold cut, a disconnected kNN graph read as components, duplicates dropped; the graded
  torus score orders a clean torus > a noisy torus > a torus with a spurious loop > a sphere
  or a blob; resamples report their signatures and the (1, 2, 1) fraction.
* spectral_gap_ratio ~1 on a torus sample, far from 1 on a circle, a blob, two circles.
* circular_decoding ~1 for a noisy linear image of the angles, ~0 for noise.
* Every function rejects malformed input with a ValueError saying what is wrong.

Everything is seeded; the file runs in well under 90 s on 2 cores.
"""
import json
import os

import numpy as np
import pytest
import torch

from jepa_torus import metrics as M
from jepa_torus.metrics import clifford_torus


# ----------------------------------------------------------------------------- known manifolds

def circle(n, seed, noise=0.05):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack([np.cos(a), np.sin(a)]) + noise * rng.standard_normal((n, 2))


def two_circles(n, seed):
    x = circle(n, seed)
    x[: n // 2, 0] += 3.0  # unit circles centred at (+-3, 0): a gap of 4 between them
    x[n // 2:, 0] -= 3.0
    return x


def sphere(n, seed, noise=0.05):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    return x / np.linalg.norm(x, axis=1, keepdims=True) + noise * rng.standard_normal((n, 3))


def blob(n, seed):
    return np.random.default_rng(seed).standard_normal((n, 4))


def klein_bottle(n, seed, big=2.0, small=1.0):
    """The standard embedding of the Klein bottle in R^4 (a tube whose end is glued flipped)."""
    u, v = np.random.default_rng(seed).uniform(0, 2 * np.pi, (2, n))
    ring = big + small * np.cos(v)
    return np.column_stack([ring * np.cos(u), ring * np.sin(u),
                            small * np.sin(v) * np.cos(u / 2), small * np.sin(v) * np.sin(u / 2)])


# name: (points, expected Betti numbers)
MANIFOLDS = {
    "circle": (lambda: circle(800, 0), (1, 1, 0)),
    "two_circles": (lambda: two_circles(800, 1), (2, 2, 0)),
    "sphere": (lambda: sphere(800, 2), (1, 0, 1)),
    "torus_R4": (lambda: clifford_torus(800, seed=3, noise=0.03), (1, 2, 1)),
    "torus_R64": (lambda: clifford_torus(800, seed=4, dim=64, noise=0.05), (1, 2, 1)),
    "blob": (lambda: blob(800, 5), (1, 0, 0)),
}


@pytest.fixture(scope="module")
def pers():
    """Persistence of each known manifold with the defaults, computed once per module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = M.persistence(MANIFOLDS[name][0]())
        return cache[name]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MANIFOLDS))
def test_betti_numbers_of_known_manifolds(pers, name):
    res = pers(name)
    assert res.betti == MANIFOLDS[name][1], (res.betti, res.thresholds, [res.lifetimes(k)[:3] for k in range(3)])


@pytest.mark.slow
def test_klein_bottle_has_no_void_over_gf47():
    # Over GF(2) the Klein bottle has a torus-like H2 class; over GF(47) (the default) it has
    # none, so it can never score as a torus.  (Its second H1 class over GF(2) and its H2 bar
    # are both near the significance threshold, so only the robust contrast is asserted.)
    x = klein_bottle(800, 28)
    res = M.persistence(x)
    assert res.betti[2] == 0 and M.torus_margin(res) < 1.0
    gf2 = M.persistence(x, coeff=2, thresholds=res.thresholds)
    assert gf2.lifetimes(2)[0] > 3 * res.lifetimes(2)[0]


def test_betti_numbers_is_the_persistence_counts():
    x = circle(300, 6)
    kw = dict(n_landmarks=60, n_null=2, seed=1)
    assert M.betti_numbers(x, **kw) == M.persistence(x, **kw).betti == (1, 1, 0)
    assert M.betti_numbers(x, maxdim=1, **kw) == (1, 1)


def test_persistence_is_deterministic_and_reports_what_it_did():
    x = sphere(300, 7)
    a, b = (M.persistence(x, n_landmarks=60, n_null=2, seed=3) for _ in range(2))
    assert a.betti == b.betti
    assert np.array_equal(a.thresholds, b.thresholds) and np.array_equal(a.landmarks, b.landmarks)
    assert all(np.array_equal(p, q) for p, q in zip(a.diagrams, b.diagrams))
    assert len(a.diagrams) == 3 and a.null_longest.shape == (2, 3) and len(a.landmarks) == 60
    assert a.params["n_landmarks"] == 60 and a.cover_radius > 0


def test_maxmin_landmarks_are_ripsers_greedy_permutation():
    from ripser import ripser

    x = clifford_torus(500, seed=30, dim=8, noise=0.05)
    idx, radius = M.maxmin_landmarks(x, 50)
    ref = ripser(x, maxdim=0, n_perm=50)
    assert np.array_equal(idx, ref["idx_perm"])
    assert radius == pytest.approx(ref["r_cover"], rel=1e-6)


def test_h0_deaths_are_single_linkage_merge_heights():
    # The component count reads H0 off a single-linkage dendrogram: check that is ripser's H0.
    from ripser import ripser

    x = two_circles(300, 8)
    for metric in M.METRICS:
        dist = M.distance_matrix(x, metric)
        landmarks, _ = M._maxmin_in(dist, 80)
        h0 = ripser(dist[np.ix_(landmarks, landmarks)], maxdim=0, distance_matrix=True)["dgms"][0]
        finite = np.sort(h0[np.isfinite(h0[:, 1]), 1])[::-1]
        np.testing.assert_allclose(M._h0_merges(dist, landmarks, 0.0), finite, rtol=1e-5)


def test_b0_counts_components_not_points(pers):
    res = pers("two_circles")
    assert len(res.diagrams[0]) == len(res.landmarks) == 200  # one H0 bar per landmark ...
    assert res.betti[0] == 2                                  # ... but two components


def test_isolated_outliers_are_not_components():
    x = np.vstack([circle(400, 9), [[40.0, 40.0], [-40.0, 35.0]]])  # two far-away single points
    assert M.betti_numbers(x, maxdim=1, n_landmarks=80, n_null=2)[0] == 1


def test_pca_option_and_shuffle_null_run():
    x = clifford_torus(400, seed=10, dim=16, noise=0.02)
    assert M.persistence(x, pca_dim=4, n_landmarks=80, n_null=1).params["dim"] == 4
    shuffled = M.persistence(x, maxdim=1, null="shuffle", n_landmarks=120)  # an option, not the default:
    assert shuffled.params["null"] == "shuffle" and len(shuffled.betti) == 2  # its verdicts are weaker


def torus_with_a_loop(n, seed, radius=0.6, share=0.15):
    """The Clifford torus in R^5 with a circle glued on at one point (b = (1, 3, 1)): the circle
    lies in the plane of the torus's outward normal at (1, 0, 1, 0) and the fifth axis."""
    rng = np.random.default_rng(seed)
    m = int(share * n)
    torus = np.column_stack([clifford_torus(n - m, seed=seed), np.zeros(n - m)])
    t = rng.uniform(0, 2 * np.pi, m)
    normal = np.array([1.0, 0, 1.0, 0, 0]) / np.sqrt(2)
    loop = np.array([1.0, 0, 1.0, 0, 0]) + radius * (np.outer(1 - np.cos(t), normal) + np.outer(np.sin(t), np.eye(5)[4]))
    return np.vstack([torus, loop])


@pytest.mark.slow
def test_graded_torus_score_orders_clean_noisy_spurious_and_not_a_torus():
    kw = dict(n_resamples=3, n_landmarks=120, n_null=2)
    clean = M.topology(clifford_torus(800, seed=41), **kw)
    noisy = M.topology(clifford_torus(800, seed=41, noise=0.12), **kw)
    spurious = M.topology(torus_with_a_loop(800, 42, radius=1.0, share=0.2), **kw)
    others = [M.topology(sphere(800, 43), **kw), M.topology(blob(800, 44), **kw)]
    assert clean.modal == (1, 2, 1) and clean.torus_fraction == 1.0
    assert spurious.modal == (1, 3, 1)
    assert clean.score > noisy.score > spurious.score > max(o.score for o in others), \
        [clean.score, noisy.score, spurious.score, [o.score for o in others]]
    assert all(0.0 <= t.score <= 1.0 for t in (clean, noisy, spurious, *others))


def test_torus_margin_is_above_one_exactly_for_the_torus_signature(pers):
    for name in ("torus_R4", "sphere", "circle", "blob"):
        res = pers(name)
        assert (M.torus_margin(res) > 1.0) == (res.betti == (1, 2, 1)), name
    assert M.torus_score([1.0]) == 0.5 and M.torus_score([2.0, 4.0]) == 1.0 and M.torus_score([0.25]) == 0.0


def test_threshold_cut_never_changes_the_diagrams():
    # ripser runs below a cut and falls back to the full filtration when a bar survives it:
    # the diagrams equal the uncut ones, whether the fallback ran (circle) or not (torus).
    from jepa_torus import shapes

    clouds = [(circle(300, 45), "intrinsic"), (clifford_torus(400, seed=46), "intrinsic"),
              (shapes.BANK["sphere"].sample(400, seed=1), "intrinsic"),
              (shapes.BANK["gaussian_blob"].sample(300, seed=2), "euclidean")]   # every distance above the cut
    for x, metric in clouds:
        dist = M.distance_matrix(x, metric)
        lm, _ = M._maxmin_in(dist, 80)
        exact, _ = M._rips(dist[np.ix_(lm, lm)], 2, 47, 1.0)
        for cut in (0.3, 0.6):
            cheap, _ = M._rips(dist[np.ix_(lm, lm)], 2, 47, cut)
            for a, b in zip(exact, cheap):
                np.testing.assert_allclose(np.sort(a, axis=0), np.sort(b, axis=0))
    assert M._rips(M.distance_matrix(circle(200, 47))[:60, :60], 1, 47, 0.3)[1]  # the fallback did run


def test_disconnected_graph_duplicates_and_small_clouds_follow_the_stated_rules():
    far = two_circles(400, 48) * np.array([1.0, 1.0]) + np.r_[[[0, 0]] * 200, [[50.0, 0]] * 200]
    dist = M.distance_matrix(far, "intrinsic")  # no 15-NN edge spans the gap of 46
    assert np.isfinite(dist).all() and dist.max() > 2 * dist[:200, :200].max() * 0.99
    assert M.betti_numbers(far, maxdim=1, n_landmarks=60, n_null=1) == (2, 2)
    doubled = np.vstack([circle(150, 49)] * 4)                         # every point four times
    assert M.persistence(doubled, maxdim=1, n_landmarks=60, n_null=1).params["n_points"] == 150
    small = M.persistence(circle(40, 50), maxdim=1, n_landmarks=200, n_null=1)
    assert small.params["n_landmarks"] == 40 and small.betti == (1, 1)
    with pytest.raises(ValueError, match="distinct point"):
        M.persistence(np.ones((50, 3)))


def test_topology_resamples_report_their_signatures():
    x = circle(300, 51)
    t = M.topology(x, maxdim=1, n_resamples=3, n_landmarks=60, n_null=1)
    assert t.signatures == [(1, 1)] * 3 and t.modal == (1, 1) and t.torus_fraction == 0.0
    assert t.params["resample_size"] == 240 and len(t.thresholds) == 2
    d = t.as_dict()
    assert d["modal"] == [1, 1] and d["signatures"] == [[1, 1]] * 3


# ----------------------------------------------------------------------------- dimension, rank

def test_intrinsic_dimension():
    torus50 = clifford_torus(1000, seed=11, dim=50)
    gauss5 = np.random.default_rng(12).standard_normal((1000, 5)) @ np.random.default_rng(13).standard_normal((5, 30))
    assert abs(M.intrinsic_dimension(torus50) - 2) < 0.3
    assert abs(M.intrinsic_dimension(torus50, method="twonn") - 2) < 0.4
    assert abs(M.intrinsic_dimension(gauss5) - 5) < 0.5
    assert abs(M.intrinsic_dimension(gauss5, method="twonn") - 5) < 0.7


def test_effective_rank():
    rng = np.random.default_rng(14)
    iso = rng.standard_normal((4000, 32))
    assert 0.95 * 32 < M.effective_rank(iso) <= 32
    rank1 = np.outer(rng.standard_normal(500), rng.standard_normal(32))
    assert M.effective_rank(rank1) == pytest.approx(1.0, abs=1e-3)
    # RankMe does not centre: a large common mean is one dominant direction.
    shifted = iso + 100.0
    assert M.effective_rank(shifted) < 2 and M.effective_rank(shifted, center=True) > 0.95 * 32


# ----------------------------------------------------------------------------- probes

def _classes(n, seed, separable=True, n_classes=4, dim=16):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    means = 6.0 * rng.standard_normal((n_classes, dim))
    x = (means[y] if separable else 0.0) + rng.standard_normal((n, dim))
    return x, (y if separable else rng.permutation(y))


@pytest.mark.parametrize("probe", [M.linear_probe, M.knn_accuracy])
def test_probes_separable_and_random(probe):
    x, y = _classes(1000, 15)
    assert probe(x[:600], y[:600], x[600:], y[600:]) > 0.97
    x, y = _classes(1000, 16, separable=False)
    assert abs(probe(x[:600], y[:600], x[600:], y[600:]) - 0.25) < 0.08


def test_knn_counts_unseen_test_labels_as_errors():
    x, y = _classes(400, 17)
    assert M.knn_accuracy(x[:300], y[:300], x[300:], np.full(100, 99)) == 0.0


# ----------------------------------------------------------------------------- graph, decoding

def test_spectral_gap_ratio():
    assert 0.85 < M.spectral_gap_ratio(clifford_torus(800, seed=18)) < 1.15
    assert 0.85 < M.spectral_gap_ratio(clifford_torus(800, seed=19, dim=16, noise=0.02)) < 1.15
    assert M.spectral_gap_ratio(circle(800, 20)) < 0.2
    assert M.spectral_gap_ratio(blob(800, 21)) > 2.0
    assert M.spectral_gap_ratio(two_circles(800, 22)) == pytest.approx(0.0, abs=1e-6)


def test_circular_decoding():
    rng = np.random.default_rng(23)
    a = rng.uniform(0, 2 * np.pi, (800, 2))
    feats = np.column_stack([np.cos(a[:, 0]), np.sin(a[:, 0]), np.cos(a[:, 1]), np.sin(a[:, 1])])
    z = feats @ rng.standard_normal((4, 32)) + 0.05 * rng.standard_normal((800, 32))
    assert M.circular_decoding(z, a) > 0.95
    assert M.circular_decoding(rng.standard_normal((800, 32)), a) < 0.05
    assert M.circular_decoding(z, a[:, 0]) > 0.95  # a single angle as a 1-D array


# ----------------------------------------------------------------------------- driver

def test_extract_features_eval_mode_no_grad_and_restores_mode():
    torch.manual_seed(0)
    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.5))
    enc.train()
    images = torch.randn(50, 3, 2, 2)
    feats = M.extract_features(enc, images, batch_size=16)
    assert enc.training and feats.shape == (50, 8) and feats.dtype == np.float32
    enc.eval()
    with torch.no_grad():
        np.testing.assert_allclose(feats, enc(images).numpy(), rtol=1e-5, atol=1e-6)


def test_evaluate_writes_json_atomically(tmp_path):
    rng = np.random.default_rng(24)
    x, y = _classes(500, 25, dim=8)
    angles = rng.uniform(0, 2 * np.pi, (200, 2))
    out = tmp_path / "run" / "metrics.json"
    res = M.evaluate(x[:300], y[:300], x[300:], y[300:], test_angles=angles, out_path=str(out),
                     n_topology=150, topology_kwargs=dict(n_landmarks=50, n_null=1, n_resamples=2),
                     label_free_angles=False)
    on_disk = json.loads(out.read_text())
    assert on_disk == json.loads(json.dumps(res))
    assert os.listdir(out.parent) == ["metrics.json"]  # no temporary file left behind
    for key in ("linear_probe", "knn_accuracy", "torus_score", "circular_decoding"):
        assert 0.0 <= res[key] <= 1.0
    assert res["n_topology"] == 150 and len(res["betti"]) == 3 and res["effective_rank"] >= 1
    assert len(res["topology"]["signatures"]) == 2 and 0.0 <= res["torus_fraction"] <= 1.0


# ----------------------------------------------------------------------------- bad input

GOOD = np.random.default_rng(26).standard_normal((60, 5))
LAB = np.arange(60) % 3
NAN = GOOD.copy()
NAN[3, 2] = np.nan

BAD_CALLS = [
    ("points must be a 2-D", M.persistence, (GOOD[:, 0],), {}),
    ("NaN or inf", M.persistence, (NAN,), {}),
    ("at least 4 points", M.persistence, (GOOD[:3],), {}),
    ("maxdim", M.persistence, (GOOD,), {"maxdim": 5}),
    ("null must be", M.persistence, (GOOD,), {"null": "uniform"}),
    ("metric must be", M.persistence, (GOOD,), {"metric": "cosine"}),
    ("0 < cut <= 1", M.persistence, (GOOD,), {"cut": 0.0}),
    ("n_resamples >= 1", M.topology, (GOOD,), {"n_resamples": 0}),
    ("NaN or inf", M.topology, (NAN,), {}),
    ("NaN or inf", M.betti_numbers, (np.full((10, 2), np.inf),), {}),
    ("numeric", M.effective_rank, (np.array([["a", "b"], ["c", "d"]]),), {}),
    ("all zeros", M.effective_rank, (np.zeros((5, 3)),), {}),
    ("method must be", M.intrinsic_dimension, (GOOD,), {"method": "pca"}),
    ("at least 22 points", M.intrinsic_dimension, (GOOD[:10],), {}),
    ("k must be", M.spectral_gap_ratio, (GOOD,), {"k": 60}),
    ("NaN or inf", M.spectral_gap_ratio, (NAN,), {}),
    ("angles must be", M.circular_decoding, (GOOD, np.zeros(59)), {}),
    ("angles contain NaN", M.circular_decoding, (GOOD, np.full(60, np.nan)), {}),
    ("train_y has 59 entries", M.linear_probe, (GOOD, LAB[:59], GOOD, LAB), {}),
    ("test_y must be 1-D", M.linear_probe, (GOOD, LAB, GOOD, LAB[:, None]), {}),
    ("differ in width", M.linear_probe, (GOOD, LAB, GOOD[:, :4], LAB), {}),
    ("single class", M.linear_probe, (GOOD, np.zeros(60), GOOD, LAB), {}),
    ("NaN or inf", M.knn_accuracy, (NAN, LAB, GOOD, LAB), {}),
    ("train_y must be 1-D", M.knn_accuracy, (GOOD, np.c_[LAB, LAB], GOOD, LAB), {}),
    ("k must be", M.knn_accuracy, (GOOD, LAB, GOOD, LAB), {"k": 0}),
    ("test_labels has 10 entries", M.evaluate, (GOOD, LAB, GOOD, LAB[:10]), {}),
    ("n must be in", M.maxmin_landmarks, (GOOD, 61), {}),
    (r"Clifford torus lives in R\^4", M.clifford_torus, (10,), {"dim": 3}),
]


@pytest.mark.parametrize("match, fn, args, kwargs", BAD_CALLS, ids=[f"{c[1].__name__}-{c[0]}" for c in BAD_CALLS])
def test_bad_input_raises_value_error(match, fn, args, kwargs):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)


def test_torus_margin_rejects_maxdim_1():
    res = M.persistence(circle(200, 27), maxdim=1, n_landmarks=40, n_null=1)
    with pytest.raises(ValueError, match="maxdim=2"):
        M.torus_margin(res)
