"""Batched two-view augmentation on the device, airbench style: ``AugmentConfig`` (one
view's recipe), one recipe per data set (``RECIPES``), ``Augment`` (the whole-batch
implementation) and ``augment_for(dataset)``."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from .data import dataset_info, normalize, to_float

__all__ = ["AugmentConfig", "CIFAR_AUGMENT", "FMNIST_AUGMENT", "TORUS_AUGMENT", "NO_AUGMENT", "RECIPES", "Augment", "augment_for"]

@dataclass(frozen=True)
class AugmentConfig:
    """One view's recipe.  Defaults: solo-learn's CIFAR recipe, also used by EB-JEPA
    (RandomResizedCrop 0.2-1, ColorJitter 0.4/0.4/0.2/0.1 with p=0.8, grayscale 0.2,
    no blur, solarize 0.1, horizontal flip 0.5)."""
    crop_scale: tuple[float, float] = (0.2, 1.0)        # area fraction kept, uniform
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)    # aspect w/h, log-uniform
    flip_p: float = 0.5
    jitter_p: float = 0.8                               # one coin for all four jitters
    brightness: float = 0.4                             # factor ~ U[1-b, 1+b]
    contrast: float = 0.4                               # blend with the mean gray level
    saturation: float = 0.2                             # blend with the gray image (RGB)
    hue: float = 0.1                                    # shift ~ U[-h, h] turns (RGB)
    grayscale_p: float = 0.2                            # RGB only
    solarize_p: float = 0.1                             # x >= 0.5 -> 1 - x
    noise_std: float = 0.0                              # additive N(0, s^2), [0, 1] units


CIFAR_AUGMENT = AugmentConfig()
# Fashion-MNIST: one channel, so no saturation, hue or grayscale (they are no-ops or
# undefined).  Crop area 0.3-1 instead of 0.2-1: a 28x28 garment has fewer pixels and
# only one channel of cues, and a 20% crop (~12x12 px) often keeps no class evidence.
# Flips are label-preserving for clothes, so they stay; brightness/contrast 0.4 as CIFAR.
FMNIST_AUGMENT = replace(CIFAR_AUGMENT, crop_scale=(0.3, 1.0), saturation=0.0, hue=0.0, grayscale_p=0.0)
# torus_world: the label IS the position of the pattern.  A crop of a periodic image is a
# translation (plus zoom), i.e. a change of (a1, a2), and a flip maps the torus to a
# different one, so views built from them would teach invariance to exactly the factor
# to be decoded.  Only photometric changes keep the angles: brightness/contrast + noise.
TORUS_AUGMENT = AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, saturation=0.0,
                              hue=0.0, grayscale_p=0.0, solarize_p=0.0, noise_std=0.05)
# nuisance_torus: its two views are two nuisance draws made by the data set
# (nuisance_torus.PairedViews); nothing is applied on top, so its recipe is the identity.
NO_AUGMENT = AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0, brightness=0.0,
                           contrast=0.0, saturation=0.0, hue=0.0, grayscale_p=0.0, solarize_p=0.0, noise_std=0.0)
# the recommended recipe of each registered data set
RECIPES = {"fashion_mnist": FMNIST_AUGMENT, "cifar10": CIFAR_AUGMENT, "cifar100": CIFAR_AUGMENT,
           "torus_world": TORUS_AUGMENT, "nuisance_torus": NO_AUGMENT}


# Hand-written on purpose: every op is a few whole-batch tensor ops, all randomness comes
# from one explicit torch.Generator, and nothing new is installed.  (kornia 0.9.0 would
# install without touching torch -- checked with pip --dry-run -- but it would be one
# more dependency for about 150 lines.)
# Differences from the torchvision pipeline the recipes come from, by design:
#  * one pass over the batch; colour ops work in place on a float copy;
#  * crop boxes are real-valued and resampled bilinearly by grid_sample (crops are never
#    larger than the output, so there is no downsampling and no antialiasing to miss);
#  * the jitters run in a fixed order (brightness, contrast, saturation, hue), not a
#    random order per image;
#  * crop boxes that do not fit are redrawn up to 10 times, then the whole image is used,
#    as torchvision does, but vectorised.

_GRAY = (0.299, 0.587, 0.114)   # ITU-R 601 luma, as PIL and torchvision use


def _gray(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma; one channel passes through."""
    if x.shape[1] == 1:
        return x
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return torch.add(r * _GRAY[0], g, alpha=_GRAY[1]).add_(b, alpha=_GRAY[2])  # 5x faster than einsum on CPU


def _mean_gray(x: torch.Tensor) -> torch.Tensor:
    """Mean luma per image, (B, 1, 1, 1), from the channel means (no gray image built)."""
    m = x.mean((2, 3))                                              # (B, C)
    if x.shape[1] == 3:
        m = m @ torch.tensor(_GRAY, dtype=x.dtype, device=x.device)[:, None]
    return m.view(-1, 1, 1, 1)


def _hue_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate hue by ``shift`` turns per image (torchvision's adjust_hue, batched).

    HSV keeps v = max(r, g, b) and chroma d = v - min(r, g, b) = v s; the hue in sextants
    is h6 = (g - b)/d if v = r, (b - r)/d + 2 if v = g, (r - g)/d + 4 if v = b.  Back to
    RGB: channel_n = v - d clamp(min(k, 4 - k), 0, 1), k = (n + h6 + 6 shift) mod 6,
    n = 5, 3, 1 for R, G, B.  Gray pixels (d = 0) are left as they are."""
    r, g, b = x.unbind(1)                                           # each (B, H, W)
    v = x.amax(1)
    d = v - x.amin(1)
    dd = d.clamp_min(1e-8)
    h6 = torch.where(v == r, g - b, torch.where(v == g, b - r + 2 * dd, r - g + 4 * dd)).div_(dd)
    h6.add_(6 * shift.view(-1, 1, 1))
    n = torch.tensor([5.0, 3.0, 1.0], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    k = (n + h6.unsqueeze(1)).remainder_(6)                         # (B, 3, H, W)
    k = torch.minimum(k, 4 - k).clamp_(0, 1).mul_(d.unsqueeze(1))
    return k.neg_().add_(v.unsqueeze(1))


def _uniform(lo: float, hi: float, b: int, g: torch.Generator, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(b, generator=g, device=device)


class Augment:
    """Batched random views: (B, C, H, W) uint8 or float in [0, 1] -> float32 (B, C, H, W),
    normalised by the data set mean/std.  Same generator state -> same views.
    The generator must live on the batch's device.  The input is never modified."""

    def __init__(self, config: AugmentConfig, mean, std):
        self.config = config
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def __repr__(self) -> str:
        return f"Augment({self.config}, mean={self.mean}, std={self.std})"

    def two_views(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independent views of each image, drawn in one pass over the doubled batch."""
        v = self(torch.cat([x, x]), generator)                      # (2B, C, H, W)
        return v[: len(x)], v[len(x):]

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        cfg, g = self.config, generator
        bsz, ch = x.shape[:2]
        if ch != len(self.mean):
            raise ValueError(f"batch has {ch} channels, mean/std have {len(self.mean)}")
        if ch != 3 and (cfg.saturation or cfg.hue or cfg.grayscale_p):
            raise ValueError("saturation, hue and grayscale need RGB input; set them to 0 for "
                             f"{ch}-channel images (see FMNIST_AUGMENT)")
        y = to_float(x)
        y = self._crop_flip(y, g) if self._moves_pixels(y) else (y.clone() if y is x else y)
        # From here on y is ours: in-place ops save an allocation each (on CPU a fresh
        # 6 MB buffer costs more than the arithmetic done in it).
        if cfg.jitter_p > 0:
            y = self._jitter(y, g)
        if cfg.grayscale_p > 0:
            on = (torch.rand(bsz, generator=g, device=y.device) < cfg.grayscale_p).view(-1, 1, 1, 1)
            y = torch.where(on, _gray(y), y)                        # gray broadcasts over RGB
        if cfg.solarize_p > 0:
            on = (torch.rand(bsz, generator=g, device=y.device) < cfg.solarize_p).view(-1, 1, 1, 1)
            y = torch.where(on & (y >= 0.5), 1.0 - y, y)
        if cfg.noise_std > 0:
            y.add_(torch.randn(y.shape, generator=g, device=y.device, dtype=y.dtype), alpha=cfg.noise_std)
        return normalize(y, self.mean, self.std, inplace=True)

    def _moves_pixels(self, x: torch.Tensor) -> bool:
        cfg = self.config
        whole = cfg.crop_scale == (1.0, 1.0) and cfg.crop_ratio == (1.0, 1.0) and x.shape[-1] == x.shape[-2]
        return not whole or cfg.flip_p > 0

    def _crop_flip(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """RandomResizedCrop to the input size plus horizontal flip, as one affine resampling.

        Box (fractions of the image): area s ~ U(scale), ratio r log-uniform; w = sqrt(s r H/W),
        h = sqrt(s W/(r H)); 10 draws per image, the first that fits is used, else the whole
        image (torchvision's rule); top-left corner uniform over the positions where it fits."""
        cfg = self.config
        bsz, _, hgt, wid = x.shape
        dev, tries = x.device, 10
        area = _uniform(*cfg.crop_scale, bsz * tries, g, dev).view(bsz, tries)
        logr = _uniform(math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), bsz * tries, g, dev)
        ratio = logr.exp().view(bsz, tries)
        fw = (area * ratio * hgt / wid).sqrt()                      # (B, tries) width fraction
        fh = (area / ratio * wid / hgt).sqrt()
        fits = (fw <= 1) & (fh <= 1)
        first = fits.float().argmax(1, keepdim=True)                # first box that fits
        one = torch.ones(bsz, device=dev)
        fw = torch.where(fits.any(1), fw.gather(1, first).squeeze(1), one)
        fh = torch.where(fits.any(1), fh.gather(1, first).squeeze(1), one)
        x0 = torch.rand(bsz, generator=g, device=dev) * (1 - fw)    # left edge, fraction
        y0 = torch.rand(bsz, generator=g, device=dev) * (1 - fh)
        flip = torch.rand(bsz, generator=g, device=dev) < cfg.flip_p
        # Output pixel centre u in (-1, 1) (align_corners=False: -1 and 1 are the image
        # edges) reads input coordinate centre + half-size * u; a flip negates the x scale.
        # The map is axis-aligned, so the grid is an outer sum (what affine_grid would
        # build with a batched matmul, at twice the cost here).
        u = torch.linspace(-1 + 1 / wid, 1 - 1 / wid, wid, device=dev)   # (W,) output centres
        v = torch.linspace(-1 + 1 / hgt, 1 - 1 / hgt, hgt, device=dev)   # (H,)
        gx = (2 * x0 + fw - 1)[:, None] + torch.where(flip, -fw, fw)[:, None] * u   # (B, W)
        gy = (2 * y0 + fh - 1)[:, None] + fh[:, None] * v                           # (B, H)
        grid = torch.stack([gx[:, None, :].expand(-1, hgt, -1), gy[:, :, None].expand(-1, -1, wid)], -1)
        return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="border",
                             align_corners=False)                   # (B, C, H, W)

    def _jitter(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """ColorJitter applied with probability jitter_p (one coin per image), in place.
        Images that lose the toss get identity factors: the batch stays branch-free."""
        cfg = self.config
        bsz, dev = x.shape[0], x.device
        on = torch.rand(bsz, generator=g, device=dev) < cfg.jitter_p

        def factor(strength: float) -> torch.Tensor:                # U[max(0, 1-s), 1+s] or 1
            f = _uniform(max(0.0, 1 - strength), 1 + strength, bsz, g, dev)
            return torch.where(on, f, torch.ones_like(f)).view(-1, 1, 1, 1)

        if cfg.brightness:                                          # x <- b x
            x.mul_(factor(cfg.brightness)).clamp_(0, 1)
        if cfg.contrast:                                            # x <- c x + (1 - c) mean(gray)
            c = factor(cfg.contrast)
            x.mul_(c).add_((1 - c) * _mean_gray(x)).clamp_(0, 1)
        if cfg.saturation:                                          # x <- s x + (1 - s) gray
            s = factor(cfg.saturation)
            gray = _gray(x)
            x.mul_(s).addcmul_(gray, 1 - s).clamp_(0, 1)
        if cfg.hue:
            shift = _uniform(-cfg.hue, cfg.hue, bsz, g, dev)
            x = _hue_shift(x, torch.where(on, shift, torch.zeros_like(shift))).clamp_(0, 1)
        return x


def augment_for(name: str, config: AugmentConfig | None = None, **overrides) -> Augment:
    """The recommended augmentation of a registered data set (or ``config`` with its
    mean/std), with single fields replaced by ``overrides`` (e.g. crop_scale=(0.5, 1))."""
    info = dataset_info(name)
    config = config or RECIPES[name]
    fields = AugmentConfig.__dataclass_fields__
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"unknown augmentation field(s) {', '.join(unknown)}; valid: {', '.join(fields)}")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return Augment(replace(config, **overrides), info.mean, info.std)
