"""Geometry of the N x N discrete torus (the Tonnetz grid) and its Laplacian.

The torus graph T_N is the Cartesian product C_N x C_N of two N-cycles: site (x, y),
x, y in Z_N, is joined to (x +- 1, y) and (x, y +- 1).  Site (x, y) has index x*N + y.

Everything the regularisers and the paper need is here as pure functions:

* ``torus_laplacian(n)``      L = D - A = 4I - A, shape (N^2, N^2).
* ``torus_spectrum(n)``       closed form mu_jk = (2 - 2cos(2 pi j/N)) + (2 - 2cos(2 pi k/N)).
* ``spectral_gap(n)``         lambda_1 = 2 - 2cos(2 pi / N), the smallest non-zero mu_jk.
* ``laplacian_symbol``        mu evaluated at a displacement (dx, dy); the weight of the
                              toroidal covariance penalty (see ``toroidal_weights``).
* ``dimension_sites(d, n)``   where each of D embedding dimensions sits on the grid.

For N >= 3 the graph is simple and 4-regular; N = 1, 2 are rejected.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "torus_adjacency",
    "torus_laplacian",
    "torus_spectrum",
    "spectral_gap",
    "fourier_mode",
    "torus_coordinates",
    "toroidal_displacement",
    "toroidal_distance",
    "laplacian_symbol",
    "dimension_sites",
    "toroidal_weights",
    "torus_cell_counts",
]


def _check_n(n: int) -> int:
    if isinstance(n, bool) or int(n) != n or n < 3:
        raise ValueError(f"grid size N must be an integer >= 3 (the N x N torus is not a simple graph below 3), got {n!r}")
    return int(n)


def torus_coordinates(n: int) -> np.ndarray:
    """(N^2, 2) integer array: row i = (x, y) with i = x*N + y."""
    n = _check_n(n)
    idx = np.arange(n * n)
    return np.stack([idx // n, idx % n], axis=1)


def torus_adjacency(n: int) -> np.ndarray:
    """Adjacency matrix A of C_N x C_N, shape (N^2, N^2), entries in {0, 1}."""
    n = _check_n(n)
    a = np.zeros((n * n, n * n))
    for x in range(n):
        for y in range(n):
            i = x * n + y
            for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a[i, ((x + dx) % n) * n + (y + dy) % n] = 1.0
    return a


def torus_laplacian(n: int) -> np.ndarray:
    """Graph Laplacian L = D - A = 4I - A of the N x N torus, shape (N^2, N^2).

    x^T L x = sum over edges {i, j} of (x_i - x_j)^2, so L is symmetric PSD with rows
    summing to 0.
    """
    a = torus_adjacency(n)
    return np.diag(a.sum(axis=1)) - a


def _cycle_symbol(k, n: int):
    """2 - 2cos(2 pi k / N): the eigenvalue of the N-cycle Laplacian for Fourier mode k."""
    return 2.0 - 2.0 * np.cos(2.0 * np.pi * np.asarray(k, dtype=float) / n)


def torus_spectrum(n: int) -> np.ndarray:
    """All N^2 Laplacian eigenvalues in ascending order, from the closed form
    mu_jk = (2 - 2cos(2 pi j/N)) + (2 - 2cos(2 pi k/N)), j, k in 0..N-1
    (the Laplacian of a Cartesian product is the Kronecker sum of the factors')."""
    n = _check_n(n)
    c = _cycle_symbol(np.arange(n), n)
    return np.sort((c[:, None] + c[None, :]).ravel())


def spectral_gap(n: int) -> float:
    """lambda_1(N) = 2 - 2cos(2 pi / N): 0.586, 0.268, 0.152 for N = 8, 12, 16."""
    n = _check_n(n)
    return float(2.0 - 2.0 * math.cos(2.0 * math.pi / n))


def fourier_mode(n: int, j: int, k: int, kind: str = "cos") -> np.ndarray:
    """The vector v(x, y) = cos(2 pi (j x + k y)/N) (or sin), an eigenvector of L with
    eigenvalue mu_jk (the sine is zero for a few (j, k), e.g. (0, 0))."""
    n = _check_n(n)
    xy = torus_coordinates(n)
    phase = 2.0 * np.pi * (j * xy[:, 0] + k * xy[:, 1]) / n
    if kind == "cos":
        return np.cos(phase)
    if kind == "sin":
        return np.sin(phase)
    raise ValueError(f"kind must be 'cos' or 'sin', got {kind!r}")


def toroidal_displacement(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dy), each (N^2, N^2): the shortest signed-free displacement between sites,
    dx_ij = min(|x_i - x_j|, N - |x_i - x_j|), likewise dy."""
    xy = torus_coordinates(n)
    d = np.abs(xy[:, None, :] - xy[None, :, :])
    d = np.minimum(d, n - d)
    return d[..., 0], d[..., 1]


def toroidal_distance(n: int, metric: str = "manhattan") -> np.ndarray:
    """Shortest-path (graph, 'manhattan') or flat-torus 'euclidean' distance between
    sites, shape (N^2, N^2).  The graph distance equals BFS distance on the grid."""
    dx, dy = toroidal_displacement(n)
    if metric == "manhattan":
        return (dx + dy).astype(float)
    if metric == "euclidean":
        return np.sqrt(dx**2 + dy**2)
    raise ValueError(f"metric must be 'manhattan' or 'euclidean', got {metric!r}")


def laplacian_symbol(n: int) -> np.ndarray:
    """W_ij = mu(dx_ij, dy_ij) = (2 - 2cos(2 pi dx/N)) + (2 - 2cos(2 pi dy/N)), (N^2, N^2).

    Two equivalent readings, both tested:
    * the Laplacian eigenvalue of the Fourier mode whose frequency is the displacement;
    * the squared Euclidean distance between the sites in the spectral embedding of the
      grid by the lambda_1-eigenspace, phi(x, y) = (cos, sin)(2 pi x/N) x (cos, sin)(2 pi y/N),
      i.e. the flat (Clifford) torus in R^4.
    W = 0 on the diagonal, W = lambda_1 between grid neighbours, W >= lambda_1 for every
    pair of distinct sites, and W grows with |dx| and |dy| up to N/2 (max 8 at the antipode).
    """
    dx, dy = toroidal_displacement(n)
    return _cycle_symbol(dx, n) + _cycle_symbol(dy, n)


def dimension_sites(dim: int, n: int) -> np.ndarray:
    """Site index of each of `dim` embedding dimensions on the N x N grid.

    site(d) = floor(d * N^2 / D).  For D = N^2 this is the identity (dimension d at
    (d // N, d % N)); for D > N^2 consecutive dimensions share a site in blocks of
    floor or ceil(D / N^2); for D < N^2 the dimensions are spread evenly over the grid.
    Unlike the original ``d mod N^2`` the blocks are contiguous, and ``toroidal_weights``
    never gives a pair of distinct dimensions weight 0, so no pair escapes the penalty.
    """
    n = _check_n(n)
    if dim < 1:
        raise ValueError(f"embedding dimension must be >= 1, got {dim}")
    return (np.arange(dim) * (n * n)) // dim


def toroidal_weights(dim: int, n: int, normalize: bool = True) -> torch.Tensor:
    """Penalty weights W (D, D) of the toroidal covariance loss.

    W_ij = max(mu(site_i - site_j), lambda_1) for i != j and W_ii = 0, with mu the
    Laplacian symbol above.  Dimensions that share a site (only when D > N^2) get the
    neighbour weight lambda_1, so min_{i != j} W_ij = lambda_1 exactly: the spectral gap is
    the smallest penalty any pair of distinct dimensions receives.

    normalize=True divides W by its mean off-diagonal entry, so that the total covariance
    budget equals VICReg's (W = 1 off the diagonal) and only the geometry differs.
    """
    sites = dimension_sites(dim, n)
    w = laplacian_symbol(n)[np.ix_(sites, sites)]
    w = np.maximum(w, spectral_gap(n))
    np.fill_diagonal(w, 0.0)
    if normalize and dim > 1:
        w = w / (w.sum() / (dim * (dim - 1)))
    return torch.as_tensor(w, dtype=torch.float32)


def torus_cell_counts(n: int) -> tuple[int, int, int]:
    """(V, E, F) of the N x N torus quadrangulation built from the adjacency matrix:
    V = N^2 sites, E = edges of the graph, F = N^2 unit squares. V - E + F = 0 = chi(T^2)."""
    a = torus_adjacency(n)
    v = a.shape[0]
    e = int(a.sum()) // 2
    xy = torus_coordinates(n)
    # A face is a 4-cycle (x,y)->(x+1,y)->(x+1,y+1)->(x,y+1); count those present in A.
    idx = lambda x, y: (x % n) * n + (y % n)  # noqa: E731
    f = sum(
        a[idx(x, y), idx(x + 1, y)] * a[idx(x + 1, y), idx(x + 1, y + 1)]
        * a[idx(x + 1, y + 1), idx(x, y + 1)] * a[idx(x, y + 1), idx(x, y)]
        for x, y in xy
    )
    return v, e, int(f)
