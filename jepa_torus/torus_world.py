"""torus_world: synthetic images whose manifold is exactly a flat 2-torus (the topology
instrument's positive control; ``data.load_dataset("torus_world", split)`` serves it)."""
from __future__ import annotations

import functools
import math

import torch

__all__ = ["torus_images", "torus_labels", "torus_world"]

#
# Construction.  A fixed random smooth periodic texture on an S x S grid,
#     T(x, y) = sum_k c_k exp(2 pi i (k_x x + k_y y) / S),   1 <= max(|k_x|, |k_y|) <= K,
# with c_{-k} = conj(c_k) (so T is real), |c_k| ~ 1 / (1 + |k|^2) (smooth), and the two
# fundamental modes (1,0), (0,1) given full weight.  The image for angles (a1, a2) is the
# texture translated cyclically by a1/(2 pi) * S pixels along x (width) and a2/(2 pi) * S
# along y (height), done exactly, sub-pixel included, by a Fourier phase shift:
#     I_a(x, y) = sum_k c_k exp(-i (k_x a1 + k_y a2)) exp(2 pi i (k_x x + k_y y) / S).
# Because 2K < S every mode is below Nyquist, so I_a is the exact sampling of the shifted
# continuous texture (no aliasing), and a -> I_a is 2 pi-periodic in each angle.
#
# Why the image set is a torus.  a -> I_a is continuous on T^2 = (R / 2 pi Z)^2.  It is
# injective: I_a = I_b forces equal Fourier coefficients, and mode (1,0) then gives
# exp(-i a1) = exp(-i b1), mode (0,1) gives exp(-i a2) = exp(-i b2).  Its derivatives
# d/da1 and d/da2 are linearly independent (the first is non-zero on mode (1,0) where
# the second vanishes, and vice versa), so it is an immersion; a compact injective
# immersion is an embedding.  The pulled-back metric <dI, dI> = const * sum_k |c_k|^2
# (k . da)^2 does not depend on a: the torus is flat (a generalised Clifford torus).
# The affine rescaling to [0.05, 0.95] keeps all of this; uint8 rounding moves each
# pixel by at most 0.5/255.

def _texture_spectrum(size: int, max_freq: int, texture_seed: int) -> torch.Tensor:
    """Hermitian (S, S) complex128 spectrum of the texture (FFT index order, y then x)."""
    if not 1 <= max_freq < size / 2:
        raise ValueError(f"need 1 <= max_freq < size/2 (below Nyquist), got max_freq={max_freq}, size={size}")
    g = torch.Generator().manual_seed(texture_seed)
    k = torch.fft.fftfreq(size, d=1.0 / size).to(torch.float64)   # signed integer frequencies
    ky, kx = k[:, None], k[None, :]                                  # (S, 1), (1, S)
    band = (torch.maximum(kx.abs(), ky.abs()) <= max_freq) & ((kx != 0) | (ky != 0))
    amp = band / (1.0 + kx**2 + ky**2)
    z = torch.complex(torch.randn(size, size, generator=g, dtype=torch.float64),
                      torch.randn(size, size, generator=g, dtype=torch.float64))
    c = amp * z
    neg = (-torch.arange(size)) % size
    c = 0.5 * (c + c[neg][:, neg].conj())                           # c_{-k} = conj(c_k)
    rms = c[band].abs().pow(2).mean().sqrt()
    for iy, ix in ((0, 1), (1, 0)):                                  # fundamentals: full weight
        phase = c[iy, ix] / c[iy, ix].abs().clamp_min(1e-12)
        c[iy, ix] = 2 * rms * phase
        c[-iy % size, -ix % size] = (2 * rms * phase).conj()
    return c


@functools.lru_cache(maxsize=8)
def _texture(size: int, max_freq: int, texture_seed: int) -> tuple[torch.Tensor, float, float]:
    """Spectrum plus the affine map (offset, scale) taking the texture into [0.05, 0.95];
    min and max are taken on an 8x finer grid, i.e. over (nearly) all shifts."""
    c = _texture_spectrum(size, max_freq, texture_seed)
    fine = 8 * size
    big = torch.zeros(fine, fine, dtype=c.dtype)
    k = torch.fft.fftfreq(size, d=1.0 / size).long() % fine        # same frequencies, fine grid
    big[k[:, None], k[None, :]] = c
    t = torch.fft.ifft2(big).real * (fine / size) ** 2              # ifft2 divides by the grid size
    lo, hi = t.min().item(), t.max().item()
    return c, lo, 0.9 / (hi - lo)


def torus_images(angles: torch.Tensor, size: int = 32, max_freq: int = 3, texture_seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The torus_world image for each angle pair: (N, 2) angles -> (N, 1, S, S).

    Float dtypes give values in [0, 1] (float32 precision); torch.uint8 gives
    round(255 * value)."""
    c, lo, scale = _texture(size, max_freq, texture_seed)
    # Only the (2K+1)^2 band-limited modes are non-zero, so synthesise them directly:
    # I = E^T (c * py px^T) E, two small matmuls per image, with the ifft2 scaling 1/S^2
    # and the map to [0.05, 0.95] folded into c.  Phases in float64 (exact near 2 pi),
    # synthesis in complex64: errors ~1e-7, far below the uint8 step 1/255.
    k = torch.arange(-max_freq, max_freq + 1, dtype=torch.float64)           # (m,)
    idx = k.long() % size
    c = c[idx][:, idx] * (scale / size**2)                                   # (m, m): [ky, kx]
    e = torch.exp(2j * math.pi * k[:, None] * torch.arange(size) / size).to(torch.complex64)  # (m, S)
    a = torch.as_tensor(angles, dtype=torch.float64).reshape(-1, 2)
    px = torch.exp(-1j * k[None, :] * a[:, 0:1])                              # (N, m): x shift
    py = torch.exp(-1j * k[None, :] * a[:, 1:2])                              # (N, m): y shift
    spec = (c * py[:, :, None] * px[:, None, :]).to(torch.complex64)          # (N, m, m)
    img = (e.T @ (spec @ e)).real + (0.05 - lo * scale)                       # (N, S, S) float32
    img = img.clamp_(0.0, 1.0).unsqueeze(1)                                   # (N, 1, S, S)
    if dtype == torch.uint8:
        return img.mul_(255).round_().to(torch.uint8)
    return img.to(dtype)


def torus_labels(angles: torch.Tensor, n_bins: int = 4) -> torch.Tensor:
    """Class = cell of an n_bins x n_bins grid of angle bins: bin(a1) * n_bins + bin(a2)."""
    b = (torch.as_tensor(angles) % (2 * math.pi) * (n_bins / (2 * math.pi))).long().clamp(0, n_bins - 1)
    return b[:, 0] * n_bins + b[:, 1]


def torus_world(n: int, size: int = 32, seed: int = 0, texture_seed: int = 0, n_bins: int = 4,
                max_freq: int = 3, dtype: torch.dtype = torch.uint8):
    """n images of one texture at uniform random angles.

    Returns (images (n, 1, size, size) of ``dtype``, angles float64 (n, 2) in [0, 2 pi)
    with column 0 = shift along x and column 1 = shift along y, labels int64 (n,) in
    [0, n_bins^2)).  ``seed`` draws the angles, ``texture_seed`` the texture: keep the
    texture and change the seed between splits.  10k images take well under a second."""
    g = torch.Generator().manual_seed(seed)
    angles = torch.rand(n, 2, generator=g, dtype=torch.float64) * (2 * math.pi)
    return (torus_images(angles, size, max_freq, texture_seed, dtype), angles,
            torus_labels(angles, n_bins))
