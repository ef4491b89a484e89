"""Torus geometry against independent references: numpy eigvalsh, BFS shortest paths,
the Clifford-torus embedding."""
import math

import numpy as np
import pytest
from scipy.sparse.csgraph import shortest_path

from jepa_torus import geometry as G


@pytest.mark.parametrize("n", range(3, 13))
def test_closed_form_spectrum_matches_eigvalsh(n):
    lap = G.torus_laplacian(n)
    assert lap.shape == (n * n, n * n)
    np.testing.assert_allclose(np.linalg.eigvalsh(lap), G.torus_spectrum(n), atol=1e-10)
    assert G.spectral_gap(n) == pytest.approx(np.linalg.eigvalsh(lap)[1], abs=1e-10)


def test_gap_values_from_the_brief():
    assert [round(G.spectral_gap(n), 3) for n in (8, 12, 16)] == [0.586, 0.268, 0.152]


def test_site_indexing_and_graph_distance():
    n = 6
    assert G.dimension_sites(n * n, n).tolist() == list(range(n * n))  # dim d at (d // N, d % N)
    xy = G.torus_coordinates(n)
    assert tuple(xy[13]) == (13 // n, 13 % n)
    bfs = shortest_path(G.torus_adjacency(n), unweighted=True)
    np.testing.assert_array_equal(G.toroidal_distance(n), bfs)


@pytest.mark.parametrize("n", [5, 8, 12])
def test_laplacian_symbol_is_clifford_distance(n):
    xy = G.torus_coordinates(n) * 2 * math.pi / n
    phi = np.concatenate([np.cos(xy), np.sin(xy)], axis=1)  # lambda_1-eigenspace embedding
    d2 = ((phi[:, None] - phi[None]) ** 2).sum(-1)
    np.testing.assert_allclose(G.laplacian_symbol(n), d2, atol=1e-12)
    w = G.laplacian_symbol(n)
    assert w[0, 1] == pytest.approx(G.spectral_gap(n))  # neighbours weigh lambda_1
    off = w[~np.eye(n * n, dtype=bool)]
    assert off.min() == pytest.approx(G.spectral_gap(n))


def test_dimension_sites_spread_evenly():
    for d, n in [(512, 12), (64, 8), (100, 12), (1000, 16)]:
        sites = G.dimension_sites(d, n)
        assert np.all(np.diff(sites) >= 0) and sites[0] == 0 and sites[-1] < n * n
        counts = np.bincount(sites, minlength=n * n)
        if d >= n * n:
            assert counts.min() >= d // (n * n) and counts.max() <= -(-d // (n * n))
        else:
            assert counts.max() == 1


def test_cell_counts_and_bad_n():
    assert G.torus_cell_counts(7) == (49, 98, 49)
    for bad in (2, 0, 3.5, True):
        with pytest.raises(ValueError, match=">= 3"):
            G.torus_laplacian(bad)
