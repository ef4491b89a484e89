"""A bank of point clouds with known topology: what the topology instrument is validated on.

Every generator has the signature ``name(n=1000, seed=0, dim=<default>, noise=0.0, **shape)``
and returns an (n, dim) float64 array.  Conventions shared by all of them:

* ``seed`` is anything ``np.random.default_rng`` takes (an int or a tuple of ints).  The
  same seed gives the same array; points are drawn first, then the embedding, then the
  noise, so the same seed gives the same underlying points whatever ``dim`` and ``noise``.
* The shape is built in its native dimension d0 (its ``Shape.native_dim``); ``dim > d0``
  embeds it by a random isometry R^d0 -> R^dim (orthonormal columns Q from the QR of a
  Gaussian (dim, d0) matrix, Haar-distributed; x -> Q x), which preserves all pairwise
  distances exactly; ``dim < d0`` is a ValueError.
* ``noise`` is relative to the shape's scale: each ambient coordinate gets independent
  N(0, (noise * scale)^2), where ``scale`` (``Shape.scale``, stated per generator) is the
  radius (length / 2 pi) of the shape's smallest essential loop, or its unit length when
  it has none (sphere radius, half side of the square, leading std of a blob).  In R^dim
  the noise vector's norm is about noise * scale * sqrt(dim).
* Sampling is uniform with respect to the shape's own length / area / volume measure
  (flat maps: uniform angles; curved ones: rejection sampling on the area element), so
  that sparse regions cannot fake holes.  The exceptions say so (blobs are Gaussian; the
  union shapes put a fixed fraction of points on each part).

``BANK`` maps a name to a ``Shape``: the generator, the expected Betti numbers (b0, b1, b2)
over a field of characteristic != 2 (the Klein bottle's H2 is GF(2)-only), a one-line
description, the default and native dimensions, the noise scale, and ``positive`` (the
expected signature is the 2-torus's (1, 2, 1)).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = [
    "Shape", "BANK",
    "clifford_torus", "anisotropic_torus", "fourier_torus", "fourier_torus_map", "mlp_torus",
    "mlp_torus_map", "ring_torus", "ring_torus_map", "torus_world_pixels", "circle", "two_circles",
    "linked_circles", "figure_eight", "torus_skeleton", "sphere", "klein_bottle", "klein_bottle_map",
    "cylinder", "solid_torus", "square", "gaussian_blob", "anisotropic_blob", "torus_plus_circle",
    "genus2_surface", "three_torus",
]

TWO_PI = 2.0 * math.pi


# ----------------------------------------------------------------------------- shared pieces

def _check(n: int, noise: float) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")


def _finish(x: np.ndarray, rng: np.random.Generator, dim: int, noise: float, scale: float) -> np.ndarray:
    """Embed the (n, d0) native points isometrically into R^dim, then add N(0, (noise*scale)^2)."""
    d0 = x.shape[1]
    if int(dim) != dim or dim < d0:
        raise ValueError(f"this shape lives in R^{d0}; dim must be an integer >= {d0}, got {dim!r}")
    if dim > d0:
        q, r = np.linalg.qr(rng.standard_normal((int(dim), d0)))
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)            # Haar: fix QR's sign ambiguity
        x = x @ q.T
    x = np.ascontiguousarray(x, dtype=np.float64)
    if noise:
        x = x + (noise * scale) * rng.standard_normal(x.shape)
    return x


def _angles(rng: np.random.Generator, n: int, k: int = 2) -> np.ndarray:
    return rng.uniform(0.0, TWO_PI, size=(n, k))


def _rejection(rng: np.random.Generator, n: int, k: int, weight: Callable[[np.ndarray], np.ndarray],
               wmax: float, rate: float) -> np.ndarray:
    """n parameter vectors with density proportional to weight on [0, 2 pi)^k: propose uniform
    angles, accept with probability weight / wmax (needs weight <= wmax; rate = expected
    acceptance, only sizes the batches)."""
    out, got = [], 0
    while got < n:
        m = int(math.ceil(1.2 * (n - got) / rate)) + 16
        p = _angles(rng, m, k)
        keep = p[rng.uniform(0.0, wmax, m) < weight(p)]
        out.append(keep)
        got += len(keep)
    return np.concatenate(out)[:n]


def _circle(t: np.ndarray, radius: float = 1.0) -> np.ndarray:
    return radius * np.column_stack([np.cos(t), np.sin(t)])


# ----------------------------------------------------------------------------- positives: tori

def clifford_torus(n: int = 1000, seed=0, dim: int = 4, noise: float = 0.0) -> np.ndarray:
    """Flat (Clifford) torus (cos a, sin a, cos b, sin b), a, b ~ U[0, 2 pi) (uniform by area:
    the metric da^2 + db^2 is flat).  Native R^4; scale 1 (both circles have radius 1)."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    a = _angles(rng, n)
    return _finish(np.column_stack([_circle(a[:, 0]), _circle(a[:, 1])]), rng, dim, noise, 1.0)


def anisotropic_torus(n: int = 1000, seed=0, dim: int = 4, noise: float = 0.0,
                      ratio: float = 2.0) -> np.ndarray:
    """Flat torus with radii 1 : ratio, (cos a, sin a, ratio cos b, ratio sin b), a, b uniform
    (metric da^2 + ratio^2 db^2 is flat, so uniform by area).  Native R^4; scale 1."""
    _check(n, noise)
    if not ratio >= 1.0:
        raise ValueError(f"ratio must be >= 1 (the first radius is the smaller), got {ratio!r}")
    rng = np.random.default_rng(seed)
    a = _angles(rng, n)
    return _finish(np.column_stack([_circle(a[:, 0]), _circle(a[:, 1], ratio)]), rng, dim, noise, 1.0)


# Frequencies of the Fourier torus: the fundamentals first, then harmonics and mixtures;
# amplitude 1 / (k^2 + l^2), normalised so the shortest coordinate loop has radius 1.
FOURIER_MODES = ((1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2),
                 (2, 1), (1, 2), (2, -1), (1, -2), (3, 0), (0, 3))


def _fourier_amplitudes() -> np.ndarray:
    kl = np.array(FOURIER_MODES, dtype=float)
    c = 1.0 / (kl ** 2).sum(1)
    loop = min(np.sqrt((c ** 2 * kl[:, 0] ** 2).sum()), np.sqrt((c ** 2 * kl[:, 1] ** 2).sum()))
    return c / loop


def fourier_torus_map(angles: np.ndarray) -> np.ndarray:
    """(N, 2) angles (a, b) -> (N, 24): the pairs (c_kl cos(k a + l b), c_kl sin(k a + l b)) over
    FOURIER_MODES, c_kl proportional to 1 / (k^2 + l^2).  The metric sum c_kl^2 (k da + l db)^2
    does not depend on (a, b) (flat); modes (1,0) and (0,1) make it injective; the a- and
    b-loops have radius sqrt(sum c^2 k^2) = sqrt(sum c^2 l^2) = 1."""
    ang = np.asarray(angles, dtype=float).reshape(-1, 2)
    kl = np.array(FOURIER_MODES, dtype=float)
    phase = ang @ kl.T                                           # (N, modes)
    c = _fourier_amplitudes()
    return np.stack([c * np.cos(phase), c * np.sin(phase)], axis=2).reshape(len(ang), -1)


def fourier_torus(n: int = 1000, seed=0, dim: int = 64, noise: float = 0.0) -> np.ndarray:
    """Multi-frequency flat torus (like the pixels of a shifted smooth texture): fourier_torus_map
    of uniform angles (uniform by area, the metric is flat).  Native R^24; scale 1."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    return _finish(fourier_torus_map(_angles(rng, n)), rng, dim, noise, 1.0)


MLP_WIDTH = 64      # hidden and output width of the random tanh MLP (output R^64)


@functools.lru_cache(maxsize=8)
def _mlp_params(map_seed: int) -> tuple:
    """Weights of y = tanh(W2 tanh(W1 x + b1) + b2), W1 (64, 4) ~ N(0, 1), W2 (64, 64) ~
    N(0, 1.5^2 / 64), biases ~ N(0, 0.5^2); plus the output scale s (shortest coordinate loop
    radius, so that y / s has scale 1) and wmax (1.05 x the largest area element on a
    128 x 128 grid, the rejection bound), both measured on that grid."""
    rng = np.random.default_rng((7919, map_seed))
    w1 = rng.standard_normal((MLP_WIDTH, 4))
    b1 = 0.5 * rng.standard_normal(MLP_WIDTH)
    w2 = 1.5 * rng.standard_normal((MLP_WIDTH, MLP_WIDTH)) / math.sqrt(MLP_WIDTH)
    b2 = 0.5 * rng.standard_normal(MLP_WIDTH)
    m = 128
    t = np.arange(m) * (TWO_PI / m)
    grid = np.column_stack([np.repeat(t, m), np.tile(t, m)])    # row i*m + j = (t_i, t_j)
    _, ja, jb = _mlp_raw(grid, (w1, b1, w2, b2))
    na, nb = np.linalg.norm(ja, axis=1), np.linalg.norm(jb, axis=1)
    # a-loop at fixed b: radius = (1 / 2 pi) * integral |df/da| da = mean over the a grid
    # (a spectrally accurate rule for a smooth periodic integrand).
    s = min(na.reshape(m, m).mean(0).min(), nb.reshape(m, m).mean(1).min())
    area = np.sqrt(np.maximum(na ** 2 * nb ** 2 - (ja * jb).sum(1) ** 2, 0.0))
    return (w1, b1, w2, b2), float(s), float(1.05 * area.max())


def _mlp_raw(angles: np.ndarray, weights: tuple, jacobian: bool = True):
    """Unscaled MLP image of the Clifford torus and (jacobian=True) its two tangent vectors
    d/da, d/db by forward-mode differentiation."""
    w1, b1, w2, b2 = weights
    a, b = angles[:, 0], angles[:, 1]
    x = np.column_stack([np.cos(a), np.sin(a), np.cos(b), np.sin(b)])
    h = np.tanh(x @ w1.T + b1)
    y = np.tanh(h @ w2.T + b2)
    if not jacobian:
        return y
    dh, dy = 1.0 - h ** 2, 1.0 - y ** 2
    ja = dy * ((dh * (np.column_stack([-np.sin(a), np.cos(a)]) @ w1[:, :2].T)) @ w2.T)
    jb = dy * ((dh * (np.column_stack([-np.sin(b), np.cos(b)]) @ w1[:, 2:].T)) @ w2.T)
    return y, ja, jb


def mlp_torus_map(angles: np.ndarray, map_seed: int = 0, jacobian: bool = False):
    """(N, 2) angles -> (N, 64): f(a, b) = tanh(W2 tanh(W1 (cos a, sin a, cos b, sin b) + b1)
    + b2) / s (see _mlp_params).  It is an embedding: tanh acts coordinatewise and is strictly
    increasing, and W1 (64x4), W2 (64x64) have full column rank (almost surely), so every layer
    is injective and so is their composition; the Jacobian chain has rank 2 likewise.  Its
    distortion (map_seed 0, checked in tests/test_shapes.py): local stretch (singular values
    of the Jacobian) 0.51 .. 2.03, area element max / min 6.4, and |f(p) - f(q)| >= 0.43 x
    the flat distance between p and q on [0, 2 pi)^2 (pairs 2 apart stay >= 1.15 apart), so
    the image is far from self-intersecting.  ``jacobian=True`` also returns the (N, 64)
    tangent vectors df/da and df/db."""
    weights, s, _ = _mlp_params(int(map_seed))
    y, ja, jb = _mlp_raw(np.asarray(angles, dtype=float).reshape(-1, 2), weights)
    return (y / s, ja / s, jb / s) if jacobian else y / s


def mlp_torus(n: int = 1000, seed=0, dim: int = 64, noise: float = 0.0, map_seed: int = 0) -> np.ndarray:
    """The Clifford torus through a fixed random 2-layer tanh MLP R^4 -> R^64 (mlp_torus_map;
    ``map_seed`` fixes the map, ``seed`` the sample), curved, sampled uniformly by its area
    element |f_a ^ f_b| by rejection.  Native R^64; scale 1 (normalised so that the shortest
    coordinate loop has radius 1)."""
    _check(n, noise)
    weights, s, wmax = _mlp_params(int(map_seed))
    w32 = tuple(w.astype(np.float32) for w in weights)    # the acceptance test needs no more

    def area(p):
        _, ja, jb = _mlp_raw(p.astype(np.float32), w32)
        na2, nb2 = (ja ** 2).sum(1), (jb ** 2).sum(1)
        return np.sqrt(np.maximum(na2 * nb2 - (ja * jb).sum(1) ** 2, 0.0))

    rng = np.random.default_rng(seed)
    ang = _rejection(rng, n, 2, area, wmax, rate=0.4)
    return _finish(_mlp_raw(ang, weights, jacobian=False) / s, rng, dim, noise, 1.0)


def ring_torus_map(angles: np.ndarray, R: float = 2.0, r: float = 1.0) -> np.ndarray:
    """(N, 2) angles (u, v) -> ((R + r cos v) cos u, (R + r cos v) sin u, r sin v); v is the
    minor (tube) angle; the area element is r (R + r cos v) du dv."""
    ang = np.asarray(angles, dtype=float).reshape(-1, 2)
    u, v = ang[:, 0], ang[:, 1]
    rho = R + r * np.cos(v)
    return np.column_stack([rho * np.cos(u), rho * np.sin(u), r * np.sin(v)])


def ring_torus(n: int = 1000, seed=0, dim: int = 3, noise: float = 0.0,
               R: float = 2.0, r: float = 1.0) -> np.ndarray:
    """Doughnut torus in R^3 (ring_torus_map), uniform by area: u uniform, v accepted with
    probability (R + r cos v) / (R + r), so v has density (R + r cos v) / (2 pi R).  R = r is
    the horn torus (the inner equator pinched to a point: S^2 v S^1, Betti (1, 1, 1)).
    Native R^3; scale r (the meridian radius; the inner hole has radius R - r)."""
    _check(n, noise)
    if not (r > 0 and R >= r):
        raise ValueError(f"need R >= r > 0 (R < r self-intersects), got R={R!r}, r={r!r}")
    rng = np.random.default_rng(seed)
    ang = _rejection(rng, n, 2, lambda p: R + r * np.cos(p[:, 1]), R + r, rate=R / (R + r))
    return _finish(ring_torus_map(ang, R, r), rng, dim, noise, r)


@functools.lru_cache(maxsize=4)
def _torus_world_scale(texture_seed: int, size: int = 32) -> float:
    """Radius (length / 2 pi) of the shorter coordinate loop of torus_world in [0, 1] pixel
    units (the image torus is flat, so every a1-loop has the same length, and every a2-loop):
    polygon length of 2048 images around each loop."""
    import torch
    from jepa_torus.torus_world import torus_images
    m = 2048
    t = torch.arange(m, dtype=torch.float64) * (TWO_PI / m)
    z = torch.zeros_like(t)
    radii = []
    for ang in (torch.stack([t, z], 1), torch.stack([z, t], 1)):
        img = torus_images(ang, size=size, texture_seed=texture_seed, dtype=torch.float64)
        img = img.reshape(m, -1).numpy()
        radii.append(np.linalg.norm(np.roll(img, -1, axis=0) - img, axis=1).sum() / TWO_PI)
    return float(min(radii))


TORUS_WORLD_SCALE = 7.5059   # _torus_world_scale(0), checked by tests/test_shapes.py


def torus_world_pixels(n: int = 1000, seed=0, dim: int = 1024, noise: float = 0.0,
                       texture_seed: int = 0) -> np.ndarray:
    """Raw torus_world pixels: images (n, 1, 32, 32) uint8 of jepa_torus.torus_world.torus_world
    (n, seed=seed) flattened to (n, 1024) and divided by 255 (a flat torus in pixel space, angles
    uniform, so uniform by area).  An int seed gives exactly torus_world's images; a tuple seed
    is turned into an int by default_rng(seed).  Native R^1024; scale = the shorter loop radius
    in pixel units (TORUS_WORLD_SCALE ~ 7.51 for texture_seed 0)."""
    _check(n, noise)
    from jepa_torus.torus_world import torus_world
    rng = np.random.default_rng(seed)
    int_seed = int(seed) if isinstance(seed, (int, np.integer)) else int(rng.integers(2 ** 31))
    images = torus_world(int(n), seed=int_seed, texture_seed=texture_seed)[0]
    x = images.reshape(int(n), -1).numpy().astype(np.float64) / 255.0
    scale = TORUS_WORLD_SCALE if texture_seed == 0 else _torus_world_scale(int(texture_seed))
    return _finish(x, rng, dim, noise, scale)


# ----------------------------------------------------------------------------- negatives

def circle(n: int = 1000, seed=0, dim: int = 2, noise: float = 0.0) -> np.ndarray:
    """Unit circle (cos t, sin t), t uniform.  Betti (1, 1, 0).  Native R^2; scale 1."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    return _finish(_circle(_angles(rng, n, 1)[:, 0]), rng, dim, noise, 1.0)


def two_circles(n: int = 1000, seed=0, dim: int = 2, noise: float = 0.0, gap: float = 1.0) -> np.ndarray:
    """Two unit circles centred at (-(1 + gap/2), 0) and (1 + gap/2, 0): their closest points
    are ``gap`` apart; n // 2 points on the first, the rest on the second, each uniform.
    Betti (2, 2, 0).  Native R^2; scale 1."""
    if not gap > 0:
        raise ValueError(f"gap must be > 0, got {gap!r}")
    return _circle_pair(n, seed, dim, noise, gap)


def _circle_pair(n: int, seed, dim: int, noise: float, gap: float) -> np.ndarray:
    """Unit circles centred at (-(1 + gap/2), 0) and (1 + gap/2, 0), n // 2 points on the first
    (gap 0: tangent at the origin, the figure eight)."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    x = _circle(_angles(rng, n, 1)[:, 0])
    x[: n // 2, 0] -= 1.0 + gap / 2
    x[n // 2:, 0] += 1.0 + gap / 2
    return _finish(x, rng, dim, noise, 1.0)


def linked_circles(n: int = 1000, seed=0, dim: int = 3, noise: float = 0.0) -> np.ndarray:
    """Hopf link: unit circles (cos s, sin s, 0) and (1 + cos t, 0, sin t), each through the
    other's centre; every point of each is at distance exactly 1 from the other circle.
    n // 2 points on the first, the rest on the second.  Betti (2, 2, 0).  Native R^3; scale 1."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    t = _angles(rng, n, 1)[:, 0]
    k = n // 2
    x = np.zeros((n, 3))
    x[:k, :2] = _circle(t[:k])
    x[k:, 0], x[k:, 2] = 1.0 + np.cos(t[k:]), np.sin(t[k:])
    return _finish(x, rng, dim, noise, 1.0)


def figure_eight(n: int = 1000, seed=0, dim: int = 2, noise: float = 0.0) -> np.ndarray:
    """Wedge of two circles in the plane: unit circles centred at (-1, 0) and (1, 0), tangent at
    the origin; n // 2 points on the first, the rest on the second.  b1 = 2 like a torus, but
    Betti (1, 2, 0).  Native R^2; scale 1."""
    return _circle_pair(n, seed, dim, noise, gap=0.0)


def torus_skeleton(n: int = 1000, seed=0, dim: int = 4, noise: float = 0.0) -> np.ndarray:
    """The Clifford torus's two generating circles, (cos a, sin a, 1, 0) and (1, 0, cos b, sin b),
    meeting orthogonally at (1, 0, 1, 0): the torus's 1-skeleton, a wedge of two circles.
    n // 2 points on the first, the rest on the second.  Betti (1, 2, 0).  Native R^4; scale 1."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    t = _angles(rng, n, 1)[:, 0]
    k = n // 2
    x = np.zeros((n, 4))
    x[:k, :2], x[:k, 2] = _circle(t[:k]), 1.0
    x[k:, 2:], x[k:, 0] = _circle(t[k:]), 1.0
    return _finish(x, rng, dim, noise, 1.0)


def sphere(n: int = 1000, seed=0, dim: int = 3, noise: float = 0.0) -> np.ndarray:
    """Unit 2-sphere, uniform by area: g / |g| for g ~ N(0, I_3).  Betti (1, 0, 1).  Native R^3;
    scale 1 (the radius)."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, 3))
    return _finish(g / np.linalg.norm(g, axis=1, keepdims=True), rng, dim, noise, 1.0)


def klein_bottle_map(angles: np.ndarray, R: float = 2.0, r: float = 1.0) -> np.ndarray:
    """(N, 2) angles (u, v) -> ((R + r cos v) cos u, (R + r cos v) sin u, r sin v cos(u/2),
    r sin v sin(u/2)): a tube whose end is glued flipped.  f(u, v + 2 pi) = f(u, v) and
    f(u + 2 pi, v) = f(u, -v) (the Klein identification); injective on [0, 2 pi)^2 when R > r.
    Metric: |f_u|^2 = (R + r cos v)^2 + r^2 sin^2 v / 4, |f_v|^2 = r^2, f_u . f_v = 0."""
    ang = np.asarray(angles, dtype=float).reshape(-1, 2)
    u, v = ang[:, 0], ang[:, 1]
    rho = R + r * np.cos(v)
    return np.column_stack([rho * np.cos(u), rho * np.sin(u),
                            r * np.sin(v) * np.cos(u / 2), r * np.sin(v) * np.sin(u / 2)])


def klein_bottle(n: int = 1000, seed=0, dim: int = 4, noise: float = 0.0,
                 R: float = 2.0, r: float = 1.0) -> np.ndarray:
    """Klein bottle in R^4 (klein_bottle_map), uniform by area: the area element
    r sqrt((R + r cos v)^2 + r^2 sin^2 v / 4) depends on v only and is at most r (R + r)
    (for R > 3r/4), so v is accepted with probability sqrt(...) / (R + r).  Betti over GF(p),
    p odd: (1, 1, 0) (over GF(2) it would be (1, 2, 1)).  Native R^4; scale min(r, R - r)."""
    _check(n, noise)
    if not (r > 0 and R > r):
        raise ValueError(f"need R > r > 0, got R={R!r}, r={r!r}")
    rng = np.random.default_rng(seed)

    def w(p):
        v = p[:, 1]
        return np.sqrt((R + r * np.cos(v)) ** 2 + (r * np.sin(v)) ** 2 / 4)

    ang = _rejection(rng, n, 2, w, R + r, rate=R / (R + r))
    return _finish(klein_bottle_map(ang, R, r), rng, dim, noise, min(r, R - r))


def cylinder(n: int = 1000, seed=0, dim: int = 3, noise: float = 0.0, height: float = 2.0) -> np.ndarray:
    """Open cylinder (cos t, sin t, h), t ~ U[0, 2 pi), h ~ U[-height/2, height/2] (uniform by
    area).  Betti (1, 1, 0).  Native R^3; scale 1 (the radius)."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    t = _angles(rng, n, 1)[:, 0]
    h = rng.uniform(-height / 2, height / 2, n)
    return _finish(np.column_stack([_circle(t), h]), rng, dim, noise, 1.0)


def solid_torus(n: int = 1000, seed=0, dim: int = 3, noise: float = 0.0,
                R: float = 2.0, r: float = 1.0) -> np.ndarray:
    """Filled doughnut {((R + s cos v) cos u, (R + s cos v) sin u, s sin v): s <= r}, uniform by
    volume: (s cos v, s sin v) uniform in the disc of radius r (s = r sqrt(U)), u uniform,
    accepted with probability (R + s cos v) / (R + r) (volume element (R + s cos v) s ds dv du).
    Betti (1, 1, 0).  Native R^3; scale R - r (the radius of the hole)."""
    _check(n, noise)
    if not (r > 0 and R > r):
        raise ValueError(f"need R > r > 0, got R={R!r}, r={r!r}")
    rng = np.random.default_rng(seed)
    out, got = [], 0
    while got < n:
        m = int(math.ceil(1.2 * (n - got) * (R + r) / R)) + 16
        s, v, u = r * np.sqrt(rng.uniform(0, 1, m)), rng.uniform(0, TWO_PI, m), rng.uniform(0, TWO_PI, m)
        rho = R + s * np.cos(v)
        keep = rng.uniform(0, R + r, m) < rho
        out.append(np.column_stack([rho * np.cos(u), rho * np.sin(u), s * np.sin(v)])[keep])
        got += int(keep.sum())
    return _finish(np.concatenate(out)[:n], rng, dim, noise, R - r)


def square(n: int = 1000, seed=0, dim: int = 2, noise: float = 0.0) -> np.ndarray:
    """Flat sheet: uniform on the square [-1, 1]^2.  Betti (1, 0, 0).  Native R^2; scale 1."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    return _finish(rng.uniform(-1.0, 1.0, (n, 2)), rng, dim, noise, 1.0)


def gaussian_blob(n: int = 1000, seed=0, dim: int = 64, noise: float = 0.0) -> np.ndarray:
    """Isotropic Gaussian N(0, I_dim) (its native dimension is dim itself: no embedding).
    Betti (1, 0, 0).  Scale 1 (the std)."""
    _check(n, noise)
    if int(dim) != dim or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    rng = np.random.default_rng(seed)
    return _finish(rng.standard_normal((n, int(dim))), rng, dim, noise, 1.0)


def anisotropic_blob(n: int = 1000, seed=0, dim: int = 64, noise: float = 0.0) -> np.ndarray:
    """Gaussian with axis stds 1, 1/2, 1/4, ..., 2^-(dim-1) along the coordinate axes (native
    dimension dim itself).  Betti (1, 0, 0).  Scale 1 (the leading std)."""
    _check(n, noise)
    if int(dim) != dim or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    rng = np.random.default_rng(seed)
    std = 0.5 ** np.arange(int(dim))
    return _finish(rng.standard_normal((n, int(dim))) * std, rng, dim, noise, 1.0)


def torus_plus_circle(n: int = 1000, seed=0, dim: int = 4, noise: float = 0.0,
                      circle_fraction: float = 0.1) -> np.ndarray:
    """Clifford torus (cos a, sin a, cos b, sin b) plus a separate circle of radius 1/2,
    (3, 0, cos(t)/2, sin(t)/2) (at distance >= sqrt(4.25) ~ 2.06 from the torus); the circle
    gets round(circle_fraction * n) points (at least 1), the torus the rest, each uniform.
    Betti (2, 3, 1).  Native R^4; scale 1/2 (the small circle's radius)."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    k = min(max(int(round(circle_fraction * n)), 1), n)
    a = _angles(rng, n)
    x = np.column_stack([_circle(a[:, 0]), _circle(a[:, 1])])
    x[n - k:, :2] = (3.0, 0.0)
    x[n - k:, 2:] = _circle(a[n - k:, 1], 0.5)
    return _finish(x, rng, dim, noise, 0.5)


GENUS2_R, GENUS2_r, GENUS2_OFFSET = 1.5, 0.5, 1.8


def genus2_surface(n: int = 1000, seed=0, dim: int = 3, noise: float = 0.0) -> np.ndarray:
    """Double torus: the boundary of the union of two solid ring tori (R = 1.5, r = 0.5, axis z)
    centred at (-1.8, 0, 0) and (1.8, 0, 0).  Their core circles pass within 0.6 < 2r of each
    other, so the solids overlap in one lens around the origin and the union is a genus-2
    handlebody.  Uniform by area: points uniform on the two torus surfaces (each chosen with
    probability 1/2; equal areas), kept when outside the other solid (distance to its core
    circle > r).  Betti (1, 4, 1).  Native R^3; scale 1/2 (the tube radius)."""
    _check(n, noise)
    R, r, c = GENUS2_R, GENUS2_r, GENUS2_OFFSET
    rng = np.random.default_rng(seed)
    out, got = [], 0
    while got < n:
        m = int(math.ceil(1.3 * (n - got))) + 16
        ang = _rejection(rng, m, 2, lambda p: R + r * np.cos(p[:, 1]), R + r, rate=R / (R + r))
        side = np.where(rng.uniform(0, 1, m) < 0.5, -1.0, 1.0)
        x = ring_torus_map(ang, R, r)
        x[:, 0] += side * c
        other = np.hypot(np.hypot(x[:, 0] + side * c, x[:, 1]) - R, x[:, 2])  # to the other core
        out.append(x[other > r])
        got += len(out[-1])
    return _finish(np.concatenate(out)[:n], rng, dim, noise, r)


def three_torus(n: int = 1000, seed=0, dim: int = 6, noise: float = 0.0) -> np.ndarray:
    """Flat 3-torus (cos a, sin a, cos b, sin b, cos c, sin c), angles uniform.  Betti (1, 3, 3)
    (and b3 = 1).  Native R^6; scale 1."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    a = _angles(rng, n, 3)
    return _finish(np.column_stack([_circle(a[:, i]) for i in range(3)]), rng, dim, noise, 1.0)


# ----------------------------------------------------------------------------- registry

TORUS_SIGNATURE = (1, 2, 1)


@dataclass(frozen=True)
class Shape:
    """One bank entry.  ``generator(n, seed=..., dim=..., noise=...)`` returns (n, dim) points;
    ``expected`` = (b0, b1, b2) over a field of characteristic != 2; ``dim`` = the generator's
    default ambient dimension, ``native_dim`` = the smallest it accepts; ``scale`` = the unit
    of ``noise``; ``positive`` = (expected == (1, 2, 1))."""
    generator: Callable[..., np.ndarray]
    expected: tuple[int, int, int]
    description: str
    dim: int
    native_dim: int
    scale: float
    positive: bool = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "positive", tuple(self.expected) == TORUS_SIGNATURE)

    def sample(self, n: int = 1000, seed=0, **kwargs) -> np.ndarray:
        return self.generator(n, seed=seed, **kwargs)


_p = functools.partial

BANK: dict[str, Shape] = {
    # positives: 2-tori
    "clifford_torus": Shape(clifford_torus, (1, 2, 1), "flat Clifford torus (cos a, sin a, cos b, sin b) in R^4", 4, 4, 1.0),
    "anisotropic_torus_1to2": Shape(_p(anisotropic_torus, ratio=2.0), (1, 2, 1),
                                    "flat torus with circle radii 1 : 2 in R^4", 4, 4, 1.0),
    "anisotropic_torus_1to4": Shape(_p(anisotropic_torus, ratio=4.0), (1, 2, 1),
                                    "flat torus with circle radii 1 : 4 in R^4", 4, 4, 1.0),
    "fourier_torus": Shape(fourier_torus, (1, 2, 1),
                           "flat torus through 12 Fourier modes (k, l), amplitude ~1/(k^2+l^2), R^24 rotated into R^64",
                           64, 24, 1.0),
    "mlp_torus": Shape(mlp_torus, (1, 2, 1),
                       "Clifford torus through a random 2-layer tanh MLP into R^64, uniform by area", 64, 64, 1.0),
    "ring_torus": Shape(ring_torus, (1, 2, 1), "doughnut torus in R^3, R = 2, r = 1, uniform by area", 3, 3, 1.0),
    "thin_ring_torus": Shape(_p(ring_torus, R=3.0, r=0.5), (1, 2, 1),
                             "thin doughnut torus in R^3, R = 3, r = 0.5, uniform by area", 3, 3, 0.5),
    "torus_world_pixels": Shape(torus_world_pixels, (1, 2, 1),
                                "torus_world images, 32x32 raw pixels in [0, 1] (flat torus in R^1024)",
                                1024, 1024, TORUS_WORLD_SCALE),
    # negatives
    "circle": Shape(circle, (1, 1, 0), "unit circle in R^2", 2, 2, 1.0),
    "two_circles": Shape(two_circles, (2, 2, 0), "two unit circles one radius apart in R^2", 2, 2, 1.0),
    "two_circles_near": Shape(_p(two_circles, gap=0.25), (2, 2, 0),
                              "two unit circles a quarter radius apart in R^2", 2, 2, 1.0),
    "linked_circles": Shape(linked_circles, (2, 2, 0),
                            "Hopf-linked unit circles in R^3, each at distance 1 from the other", 3, 3, 1.0),
    "figure_eight": Shape(figure_eight, (1, 2, 0), "wedge of two tangent unit circles in R^2 (b1 = 2)", 2, 2, 1.0),
    "torus_skeleton": Shape(torus_skeleton, (1, 2, 0),
                            "the Clifford torus's two generating circles, a wedge in R^4 (b1 = 2, no H2)", 4, 4, 1.0),
    "sphere": Shape(sphere, (1, 0, 1), "unit 2-sphere in R^3", 3, 3, 1.0),
    "klein_bottle": Shape(klein_bottle, (1, 1, 0),
                          "Klein bottle in R^4 (R = 2, r = 1), uniform by area; (1, 2, 1) over GF(2) only", 4, 4, 1.0),
    "cylinder": Shape(cylinder, (1, 1, 0), "open unit cylinder of height 2 in R^3", 3, 3, 1.0),
    "solid_torus": Shape(solid_torus, (1, 1, 0), "filled doughnut R = 2, r = 1 in R^3, uniform by volume", 3, 3, 1.0),
    "horn_torus": Shape(_p(ring_torus, R=1.0, r=1.0), (1, 1, 1),
                        "horn torus R = r = 1 in R^3 (torus with its inner equator pinched: S^2 v S^1)", 3, 3, 1.0),
    "square": Shape(square, (1, 0, 0), "flat sheet [-1, 1]^2", 2, 2, 1.0),
    "gaussian_blob": Shape(gaussian_blob, (1, 0, 0), "isotropic Gaussian in R^64", 64, 64, 1.0),
    "anisotropic_blob": Shape(anisotropic_blob, (1, 0, 0),
                              "Gaussian in R^64 with axis stds 1, 1/2, 1/4, ...", 64, 64, 1.0),
    "torus_plus_circle": Shape(torus_plus_circle, (2, 3, 1),
                               "Clifford torus plus a separate circle of radius 1/2 in R^4", 4, 4, 0.5),
    "genus2_surface": Shape(genus2_surface, (1, 4, 1),
                            "double torus: boundary of two overlapping solid tori in R^3, uniform by area", 3, 3, 0.5),
    "three_torus": Shape(three_torus, (1, 3, 3), "flat 3-torus in R^6 (b3 = 1)", 6, 6, 1.0),
}
