"""nuisance_torus: a ground-truth world where the torus must be learned.

torus_world's pixels are a torus already, so every encoder passes it.  Here each *view* of a
sample is drawn independently around the sample's two angles a in T^2:

    x = mu + s * c * (T(a) - mu) + b * B + occluders + eps

T(a) is torus_world's shifted texture (``torus_world.torus_images``) and mu its constant mean
over pixels (the texture has no zero-frequency mode, so mu does not depend on a); s = +-1 a
random polarity, c ~ U[contrast] a random contrast, B a fresh random texture in the frequency
band 4-7 scaled to T's pixel standard deviation, b its amplitude, up to ``occluders`` grey
rectangles that replace what they cover, eps ~ N(0, noise^2) per pixel.  Two views of one
sample share only a: with the polarity on, E[x | a] does not depend on a, so nothing about
the angles is linearly readable from pixels (tests/test_nuisance_torus.py measures circular
R^2 < 0.1), while a polarity-invariant (quadratic) feature still carries them.  ``CLEAN``
(no polarity, contrast 1, no background, occluder or noise) gives torus_world's images exactly.

Every random draw comes from the torch.Generator passed in (seeded by seed, epoch and step in
training), so views replay exactly on resume.

As a data set (``data.load_dataset("nuisance_torus", split, nuisance=...)``, config key
``data.nuisance`` holding fields of ``Nuisance`` over ``HARD``):
* training pairs are two independent nuisance draws of the same angles (``PairedViews``):
  the views come from the data set, and no image augmentation is applied on top (the
  nuisance *is* the view distribution; a crop or flip would also move the angles);
* a split's ``images`` are one fixed nuisance draw per image (the probes' bank, the test
  images of the paper's tables), its ``clean`` the same angles rendered without nuisance
  (torus_world's images: the encoder's view of the pure angle signal);
* labels are the 4 x 4 angle bins of torus_world, angles the ground truth.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, replace

import torch

from .torus_world import _texture, torus_images, torus_labels

__all__ = ["Nuisance", "CLEAN", "HARD", "texture_mean", "texture_std", "render_views", "nuisance_from",
           "nuisance_torus", "nuisance_factors", "PairedViews"]


@dataclass(frozen=True)
class Nuisance:
    """What varies between two views of the same angles."""
    polarity: bool = True                       # s = +-1 per view (E[x | a] constant)
    contrast: tuple[float, float] = (0.5, 1.5)  # c ~ U[lo, hi]
    background: float = 0.8                     # amplitude b of the band 4-7 texture B (in units of T's std)
    occluders: int = 2                          # grey rectangles per view, side 6-14 px at size 32
    noise: float = 0.35                         # per-pixel N(0, noise^2), pixel units ([0, 1] scale)


HARD = Nuisance()   # the prototype's recipe (issue 13): raw-pixel circular R^2 0.00
CLEAN = Nuisance(polarity=False, contrast=(1.0, 1.0), background=0.0, occluders=0, noise=0.0)


def texture_mean(size: int = 32, max_freq: int = 3, texture_seed: int = 0) -> float:
    """mu: the mean pixel value of every torus_world image, the same for every a (the
    texture's zero-frequency coefficient is 0, so only the affine offset survives)."""
    _, lo, scale = _texture(size, max_freq, texture_seed)
    return 0.05 - lo * scale


@functools.lru_cache(maxsize=8)
def texture_std(size: int = 32, texture_seed: int = 0) -> float:
    """The pixel standard deviation of T over all shifts (a 32 x 32 grid of angles; a constant
    of the texture, so the background's scale does not depend on the batch)."""
    g = torch.linspace(0, 2 * math.pi, 33, dtype=torch.float64)[:-1]
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    return float(torus_images(grid, size=size, texture_seed=texture_seed).std())


def _band_texture(n: int, size: int, generator: torch.Generator, band=(4, 7)) -> torch.Tensor:
    """n fresh real textures (n, size, size) with random Fourier coefficients on the modes
    band[0] <= max(|kx|, |ky|) <= band[1], each scaled to unit pixel standard deviation."""
    k = torch.fft.fftfreq(size, d=1.0 / size, device=generator.device)
    kmax = torch.maximum(k.abs()[:, None], k.abs()[None, :])
    mask = ((kmax >= band[0]) & (kmax <= band[1])).to(torch.float32)
    re = torch.randn(n, size, size, generator=generator, device=generator.device)
    im = torch.randn(n, size, size, generator=generator, device=generator.device)
    img = torch.fft.ifft2(torch.complex(re, im) * mask).real   # real part: a real band-limited texture
    img = img - img.mean((1, 2), keepdim=True)
    return img / img.std((1, 2), keepdim=True).clamp_min(1e-12)


def _occlude(x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Up to ``count`` grey rectangles per image (grey ~ U[0, 1], sides U[size/5, size/2.3])."""
    n, _, size, _ = x.shape
    dev = x.device
    rows = torch.arange(size, device=dev)
    for _ in range(count):
        h = torch.randint(size // 5, int(size / 2.3) + 1, (n,), generator=generator, device=dev)
        w = torch.randint(size // 5, int(size / 2.3) + 1, (n,), generator=generator, device=dev)
        top = (torch.rand(n, generator=generator, device=dev) * (size - h + 1)).long()
        left = (torch.rand(n, generator=generator, device=dev) * (size - w + 1)).long()
        grey = torch.rand(n, generator=generator, device=dev)
        inside = ((rows[None, :, None] >= top[:, None, None]) & (rows[None, :, None] < (top + h)[:, None, None])
                  & (rows[None, None, :] >= left[:, None, None]) & (rows[None, None, :] < (left + w)[:, None, None]))
        x = torch.where(inside[:, None], grey[:, None, None, None], x)
    return x


def render_views(angles: torch.Tensor, nuisance: Nuisance, generator: torch.Generator, size: int = 32,
                 texture_seed: int = 0) -> torch.Tensor:
    """One view per row of ``angles`` (n, 2): (n, 1, size, size) float32, drawn with ``generator``.
    Call it twice (the generator moves on) for the two views of a batch."""
    base = torus_images(angles.cpu(), size=size, texture_seed=texture_seed).to(generator.device)  # (n, 1, S, S)
    n, dev = base.shape[0], generator.device
    mu = texture_mean(size, texture_seed=texture_seed)
    lo, hi = nuisance.contrast
    gain = lo + (hi - lo) * torch.rand(n, generator=generator, device=dev)
    if nuisance.polarity:
        gain = gain * (2 * torch.randint(0, 2, (n,), generator=generator, device=dev) - 1)
    x = mu + gain.view(-1, 1, 1, 1) * (base - mu)
    if nuisance.background > 0:
        x = x + nuisance.background * texture_std(size, texture_seed) * _band_texture(n, size, generator)[:, None]
    if nuisance.occluders > 0:
        x = _occlude(x, nuisance.occluders, generator)
    if nuisance.noise > 0:
        x = x + nuisance.noise * torch.randn(x.shape, generator=generator, device=dev)
    return x.float()



def nuisance_from(values: dict | Nuisance | None) -> Nuisance:
    """``HARD`` with the fields in ``values`` replaced (config key data.nuisance; lists -> tuples)."""
    if isinstance(values, Nuisance):
        return values
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in (values or {}).items()}
    unknown = sorted(set(values) - set(asdict(HARD)))
    if unknown:
        raise ValueError(f"unknown nuisance field(s) {', '.join(unknown)}; valid: {', '.join(asdict(HARD))}")
    return replace(HARD, **values)


def nuisance_torus(n: int, seed: int = 0, nuisance: dict | Nuisance | None = None, size: int = 32,
                   texture_seed: int = 0, n_bins: int = 4):
    """n angle pairs (uniform, drawn with ``seed`` exactly as torus_world draws them) and their
    images: one fixed nuisance draw each (generator seed 1_000_003 + seed, fixed per split)
    and the clean rendering.  Returns (images float32 (n, 1, S, S), angles float64 (n, 2),
    labels int64 (n,), clean float32 (n, 1, S, S))."""
    g = torch.Generator().manual_seed(seed)
    angles = torch.rand(n, 2, generator=g, dtype=torch.float64) * (2 * math.pi)
    views = render_views(angles, nuisance_from(nuisance), torch.Generator().manual_seed(1_000_003 + seed), size,
                         texture_seed)
    clean = torus_images(angles, size=size, texture_seed=texture_seed)
    return views, angles, torus_labels(angles, n_bins), clean


def nuisance_factors(images, clean, band=(4, 7)) -> dict:
    """What a view carries besides its angles, read from the view x and its clean rendering T(a)
    (numpy arrays (n, ...) of one size): the per-image targets of the nuisance probe.

    * ``polarity_contrast``: <x - mu, T(a) - mu> / ||T(a) - mu||^2, which is s * c exactly when
      nothing else is drawn (mu the clean images' mean pixel; background, occluders and noise add
      a zero-mean error);
    * ``polarity``: its sign, s;
    * ``image_mean``: the view's mean pixel (the occluders' grey moves it; T(a) does not);
    * ``background``: the real and imaginary parts of the view's 2-D Fourier coefficients in the
      frequency band of B (max(|kx|, |ky|) in ``band``, one of each conjugate pair), where T(a),
      whose frequencies are at most 3, has none."""
    import numpy as np

    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    c = np.asarray(clean, dtype=np.float64).reshape(len(clean), -1)
    mu = c.mean()            # every clean image has the texture's mean pixel
    t = c - mu
    sc = ((x - mu) * t).sum(1) / (t * t).sum(1)
    size = int(round(math.sqrt(x.shape[1])))
    f = np.fft.fft2(x.reshape(-1, size, size))
    k = np.fft.fftfreq(size, 1 / size)
    kk = np.maximum(np.abs(k)[:, None], np.abs(k)[None, :])
    half = (k[:, None] > 0) | ((k[:, None] == 0) & (k[None, :] > 0))   # one of each conjugate pair
    mask = (kk >= band[0]) & (kk <= band[1]) & half
    return {"polarity_contrast": sc, "polarity": np.sign(sc), "image_mean": x.mean(1),
            "background": np.concatenate([f[:, mask].real, f[:, mask].imag], axis=1)}


class PairedViews:
    """The training pairs of nuisance_torus: for a batch of indices into ``angles``, two
    independent nuisance draws of the same angles, normalised like every network input
    (``data.normalize`` with the data set's mean/std).  The drop-in for
    ``augment.Augment.two_views`` in the training loop; same generator state -> same views."""

    def __init__(self, angles: torch.Tensor, nuisance: dict | Nuisance | None, mean, std, size: int = 32):
        self.angles, self.nuisance, self.size = angles.cpu(), nuisance_from(nuisance), size
        self.mean, self.std = tuple(mean), tuple(std)

    def __repr__(self) -> str:
        return f"PairedViews({len(self.angles)} angle pairs, {self.nuisance})"

    def two_views(self, index: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        from .data import normalize

        a = self.angles[index.cpu()]
        v = render_views(torch.cat([a, a]), self.nuisance, generator, self.size)   # (2B, 1, S, S): one pass
        v = normalize(v, self.mean, self.std, inplace=True)
        return v[: len(a)], v[len(a):]
