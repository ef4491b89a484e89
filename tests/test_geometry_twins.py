"""Numerical twins of the Lean theorems in lean/JepaTorus (see lean/README.md, "Theorem index").

Each test transcribes a Lean statement and checks it on the project's Python code
(`jepa_torus.geometry`), so the formal objects and the ones the experiments use are the same:
the Lean `adjacency`/`laplacian`/`fourierCos`/`torusWeight`/`toroidalWeights` definitions are
re-implemented here literally (arithmetic mod N, neighbours counted with multiplicity) and
compared with `torus_adjacency`, `torus_laplacian`, `fourier_mode`, `laplacian_symbol`,
`toroidal_weights`. Part (iii) of the diversity proposition, which is not formalised, is checked
here only.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from jepa_torus import geometry as g

GRIDS = range(3, 17)  # N = 3..16 for matrix statements
GAP_GRIDS = range(3, 65)  # N = 3..64 for scalar statements


# ---------------------------------------------------------------- Lean definitions, in Python
def site(n: int, x: int, y: int) -> int:
    return (x % n) * n + (y % n)  # geometry's indexing: (x, y) -> x*N + y


def lean_adjacency(n: int) -> np.ndarray:
    """`JepaTorus.adjacency`: A p q = [q = p+e1] + [q = p-e1] + [q = p+e2] + [q = p-e2]."""
    a = np.zeros((n * n, n * n))
    for x in range(n):
        for y in range(n):
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a[site(n, x, y), site(n, x + dx, y + dy)] += 1.0
    return a


def lean_laplacian(n: int) -> np.ndarray:
    """`JepaTorus.laplacian`: L p q = [p = q]*4 - A p q."""
    return 4.0 * np.eye(n * n) - lean_adjacency(n)


def cycle_symbol(n: int, k) -> np.ndarray:
    """`JepaTorus.cycleSymbol N k = 2 - 2cos(2 pi k / N)`."""
    return 2.0 - 2.0 * np.cos(2.0 * np.pi * np.asarray(k, dtype=float) / n)


def lean_gap(n: int) -> float:
    """`JepaTorus.gap N = 2 - 2cos(2 pi / N)`."""
    return 2.0 - 2.0 * math.cos(2.0 * math.pi / n)


def lean_fourier(n: int, j: int, k: int, fn=np.cos) -> np.ndarray:
    """`JepaTorus.fourierCos/fourierSin N j k p = f(2 pi (j p1 + k p2) / N)`, p1, p2 in 0..N-1."""
    xy = g.torus_coordinates(n)
    phase = j * xy[:, 0] + k * xy[:, 1]  # natural number, as in Lean's `phase`
    return fn(2.0 * np.pi * phase / n)


def lean_torus_weight(n: int) -> np.ndarray:
    """`JepaTorus.torusWeight N s t = cycleSymbol N ((s1 - t1) mod N) + cycleSymbol N ((s2 - t2) mod N)`."""
    xy = g.torus_coordinates(n)
    d = (xy[:, None, :] - xy[None, :, :]) % n  # Fin N subtraction
    return cycle_symbol(n, d[..., 0]) + cycle_symbol(n, d[..., 1])


def lean_toroidal_weights(dim: int, n: int) -> np.ndarray:
    """`JepaTorus.toroidalWeights N site`: max(torusWeight, gap) off the diagonal, 0 on it."""
    sites = g.dimension_sites(dim, n)
    w = np.maximum(lean_torus_weight(n)[np.ix_(sites, sites)], lean_gap(n))
    np.fill_diagonal(w, 0.0)
    return w


def penalty(w: np.ndarray, r: np.ndarray) -> float:
    """`JepaTorus.penalty W R = sum_{i != j} W_ij R_ij^2`."""
    off = ~np.eye(len(r), dtype=bool)
    return float((w * r**2)[off].sum())


def frob_sq(a: np.ndarray) -> float:
    return float((a**2).sum())


def participation_ratio(r: np.ndarray) -> float:
    """`JepaTorus.participationRatio R = (tr R)^2 / tr(R R)`."""
    return float(np.trace(r) ** 2 / np.trace(r @ r))


# ---------------------------------------------------------------- TorusGraph
@pytest.mark.parametrize("n", GRIDS)
def test_lean_adjacency_and_laplacian_are_the_projects(n):
    """laplacian_eq (L = 4*1 - A) and the Lean definitions = geometry's matrices for N >= 3."""
    a = lean_adjacency(n)
    assert set(np.unique(a)) <= {0.0, 1.0}  # N >= 3: four distinct neighbours, simple graph
    np.testing.assert_array_equal(a, g.torus_adjacency(n))
    np.testing.assert_array_equal(lean_laplacian(n), g.torus_laplacian(n))


@pytest.mark.parametrize("n", GRIDS)
def test_laplacian_symmetric_rows_sum_zero_degree_four(n):
    """laplacian_isSymm, laplacian_apply_symm, adjacency_apply_symm, laplacian_row_sum,
    laplacian_mulVec_const, adjacency_row_sum."""
    lap, a = g.torus_laplacian(n), g.torus_adjacency(n)
    np.testing.assert_array_equal(lap, lap.T)
    np.testing.assert_array_equal(a, a.T)
    np.testing.assert_allclose(lap.sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(lap @ np.full(n * n, 2.5), 0.0, atol=1e-12)
    np.testing.assert_array_equal(a.sum(axis=1), 4.0)


@pytest.mark.parametrize("n", [1, 2, *GRIDS])
def test_laplacian_action_and_quadratic_form(n):
    """laplacian_mulVec, adjacency_mulVec, laplacian_quadratic_form, laplacian_quadratic_nonneg.
    N = 1, 2 use the Lean definition itself (multigraph), for which the statements still hold."""
    rng = np.random.default_rng(n)
    lap = lean_laplacian(n) if n < 3 else g.torus_laplacian(n)
    for _ in range(3):
        v = rng.normal(size=n * n)
        lv = lap @ v
        for x in range(n):
            for y in range(n):
                p = site(n, x, y)
                nb = v[site(n, x + 1, y)] + v[site(n, x - 1, y)] + v[site(n, x, y + 1)] + v[site(n, x, y - 1)]
                assert lv[p] == pytest.approx(4 * v[p] - nb, abs=1e-12)
        edges = sum(
            (v[site(n, x, y)] - v[site(n, x + 1, y)]) ** 2 + (v[site(n, x, y)] - v[site(n, x, y + 1)]) ** 2
            for x in range(n)
            for y in range(n)
        )
        assert v @ lv == pytest.approx(edges, rel=1e-12, abs=1e-12)
        assert v @ lv >= 0.0
    if n >= 3:
        assert np.linalg.eigvalsh(lap).min() >= -1e-10


# ---------------------------------------------------------------- Fourier
@pytest.mark.parametrize("n", GRIDS)
def test_fourier_modes_are_eigenvectors(n):
    """laplacian_mulVec_fourierCos / fourierSin / laplacian_mulVec_mode, all (j, k), and
    eigenvalue_one_zero; the closed-form spectrum is the multiset of mu(j, k)."""
    lap = g.torus_laplacian(n)
    jj, kk = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    jj, kk = jj.ravel(), kk.ravel()
    mu = cycle_symbol(n, jj) + cycle_symbol(n, kk)
    for fn, kind in ((np.cos, "cos"), (np.sin, "sin")):
        modes = np.stack([lean_fourier(n, j, k, fn) for j, k in zip(jj, kk)], axis=1)
        project = np.stack([g.fourier_mode(n, j, k, kind) for j, k in zip(jj, kk)], axis=1)
        np.testing.assert_allclose(modes, project, atol=1e-12)
        np.testing.assert_allclose(lap @ modes, modes * mu[None, :], atol=1e-9)
    # a frequency beyond N - 1 is the same mode (periodicity, `periodic_congr`)
    np.testing.assert_allclose(lap @ lean_fourier(n, n + 1, 2 * n + 3), (cycle_symbol(n, 1) + cycle_symbol(n, 3)) * lean_fourier(n, n + 1, 2 * n + 3), atol=1e-9)
    np.testing.assert_allclose(np.sort(mu), g.torus_spectrum(n), atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(lap), g.torus_spectrum(n), atol=1e-9)
    assert cycle_symbol(n, 1) + cycle_symbol(n, 0) == pytest.approx(lean_gap(n))


# ---------------------------------------------------------------- Spectrum
def test_gap_positive_strictly_decreasing_and_values():
    """gap_pos, gap_strictAnti, gap_strictAntiOn, gap_sixteen_lt_twelve_lt_eight, gap_eight,
    gap_twelve, gap_sixteen and the *_bounds theorems."""
    gaps = [g.spectral_gap(n) for n in GAP_GRIDS]
    assert all(x > 0 for x in gaps)
    assert all(a > b for a, b in zip(gaps, gaps[1:]))
    for n, x in zip(GAP_GRIDS, gaps):
        assert x == pytest.approx(lean_gap(n), abs=1e-15)
    assert g.spectral_gap(8) > g.spectral_gap(12) > g.spectral_gap(16)
    assert (round(g.spectral_gap(8), 3), round(g.spectral_gap(12), 3), round(g.spectral_gap(16), 3)) == (0.586, 0.268, 0.152)
    assert g.spectral_gap(8) == pytest.approx(2 - math.sqrt(2), abs=1e-14)
    assert g.spectral_gap(12) == pytest.approx(2 - math.sqrt(3), abs=1e-14)
    assert g.spectral_gap(16) == pytest.approx(2 - math.sqrt(2 + math.sqrt(2)), abs=1e-14)
    assert 0.5855 < g.spectral_gap(8) < 0.5865
    assert 0.2675 < g.spectral_gap(12) < 0.2685
    assert 0.1515 < g.spectral_gap(16) < 0.1525
    for n in GRIDS:  # the gap is the smallest non-zero Laplacian eigenvalue
        ev = np.linalg.eigvalsh(g.torus_laplacian(n))
        assert ev[1] == pytest.approx(g.spectral_gap(n), abs=1e-9)


@pytest.mark.parametrize("n", GAP_GRIDS)
def test_key_lemma_and_eigenvalues_above_gap(n):
    """cos_two_pi_mul_div_le, gap_le_cycleSymbol, cycleSymbol_nonneg, cycleSymbol_zero,
    cycleSymbol_one, gap_le_eigenvalue."""
    k = np.arange(1, n)
    assert np.all(np.cos(2 * np.pi * k / n) <= math.cos(2 * math.pi / n) + 1e-12)
    lam = lean_gap(n)
    sym = cycle_symbol(n, np.arange(n))
    assert np.all(sym >= -1e-15)
    assert sym[0] == pytest.approx(0.0, abs=1e-15) and sym[1] == pytest.approx(lam)
    assert np.all(sym[1:] >= lam - 1e-12)
    mu = sym[:, None] + sym[None, :]
    mu[0, 0] = np.inf  # (j, k) = (0, 0) excluded
    assert mu.min() == pytest.approx(lam)


@pytest.mark.parametrize("n", GRIDS)
def test_torus_weight_is_the_laplacian_symbol(n):
    """torusWeight (Lean: displacement mod N) = geometry.laplacian_symbol (shortest displacement),
    and gap_le_torusWeight: >= lambda_1 for distinct sites."""
    w = lean_torus_weight(n)
    np.testing.assert_allclose(w, g.laplacian_symbol(n), atol=1e-12)
    off = ~np.eye(n * n, dtype=bool)
    assert w[off].min() == pytest.approx(g.spectral_gap(n))
    assert np.all(w[off] >= g.spectral_gap(n) - 1e-12)
    np.testing.assert_allclose(np.diag(w), 0.0, atol=1e-15)


# ---------------------------------------------------------------- Euler
@pytest.mark.parametrize("n", GRIDS)
def test_cell_counts(n):
    """card_vertices, card_edges, card_faces, euler_characteristic(_eq_betti), adjacency_total."""
    v, e, f = g.torus_cell_counts(n)
    assert (v, e, f) == (n * n, 2 * n * n, n * n)
    assert v - e + f == 0 == 1 - 2 + 1
    assert g.torus_adjacency(n).sum() == 2 * e
    assert lean_adjacency(n).sum() == 2 * (2 * n * n)  # Lean's edge set: (site, direction in Fin 2)


# ---------------------------------------------------------------- Diversity
def _random_unit_diag_symmetric(rng, d):
    a = rng.uniform(-1.0, 1.0, size=(d, d))
    r = (a + a.T) / 2.0
    np.fill_diagonal(r, 1.0)
    return r


def _gaussian_correlation(rng, d, samples):
    x = rng.normal(size=(samples, d)) @ rng.normal(size=(d, d)) * 0.3 + rng.normal(size=(samples, d))
    return np.corrcoef(x, rowvar=False)


CASES = [(n, d) for n in (3, 8, 12) for d in (n * n, 2 * n * n + 3, n * n - 5)]


@pytest.mark.parametrize("n,d", CASES)
def test_diversity_bound(n, d):
    """toroidalWeights_ge_gap, frobSq_le_penalty (i), participationRatio_eq and
    participationRatio_ge (ii), toroidal_diversity; part (iii) numerically."""
    w = g.toroidal_weights(d, n, normalize=False).double().numpy()
    lam1 = g.spectral_gap(n)
    # the Lean definition of the floored weights is the project's (float32 storage)
    np.testing.assert_allclose(w, lean_toroidal_weights(d, n), rtol=1e-6, atol=1e-7)
    off = ~np.eye(d, dtype=bool)
    np.testing.assert_array_equal(np.diag(w), 0.0)
    np.testing.assert_array_equal(w, w.T)
    lam = w[off].min()  # hypothesis W_ij >= lam holds exactly for the stored weights
    assert lam == pytest.approx(lam1, rel=1e-6)
    rng = np.random.default_rng(1000 * n + d)
    mats = [_random_unit_diag_symmetric(rng, d) for _ in range(3)]
    mats += [_gaussian_correlation(rng, d, s) for s in (max(8, d // 4), 4 * d)]
    for r in mats:
        np.testing.assert_allclose(np.diag(r), 1.0, atol=1e-12)
        p = penalty(w, r)
        f = frob_sq(r - np.eye(d))
        # (i)
        assert lam * f <= p * (1 + 1e-12)
        assert lam1 * f <= p * (1 + 1e-6)
        # (ii): identity, then the bound
        assert participation_ratio(r) == pytest.approx(d * d / (d + f), rel=1e-10)
        assert participation_ratio(r) >= d * d / (d + p / lam) * (1 - 1e-12)
        assert participation_ratio(r) >= d * d / (d + p / lam1) * (1 - 1e-6)
        # (iii) (numerical only): every eigenvalue within sqrt(P / lambda_1) of 1
        ev = np.linalg.eigvalsh(r)
        assert np.abs(ev - 1.0).max() <= math.sqrt(p / lam) * (1 + 1e-9)
        assert np.abs(ev - 1.0).max() <= math.sqrt(f) * (1 + 1e-9)


@pytest.mark.parametrize("n,d", CASES)
def test_diversity_bound_is_tight(n, d):
    """Equality in (i) and (ii) for R = I + c(E_ij + E_ji) with W_ij = lambda_1 (a neighbour pair)."""
    w = g.toroidal_weights(d, n, normalize=False).double().numpy()
    off = ~np.eye(d, dtype=bool)
    lam = w[off].min()
    i, j = np.argwhere((w == lam) & off)[0]
    for c in (0.1, -0.5, 0.9):
        r = np.eye(d)
        r[i, j] = r[j, i] = c
        p, f = penalty(w, r), frob_sq(r - np.eye(d))
        assert lam * f == pytest.approx(p, rel=1e-12)
        assert participation_ratio(r) == pytest.approx(d * d / (d + p / lam), rel=1e-12)
