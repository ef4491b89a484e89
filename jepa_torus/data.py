"""Data sets and batched two-view augmentation, airbench style.

A data set is one uint8 tensor (N, C, H, W) plus int64 labels, moved once to the
training device; augmentation works on whole batches there; an epoch is a ``randperm``.
No DataLoader, no per-image Python, no PIL.

Sections
  1. errors, checksums, downloads
  2. Fashion-MNIST (IDX files; Debian's ``dataset-fashion-mnist`` or Zalando's servers)
  3. CIFAR-10 / CIFAR-100 (the python-pickle batches from Krizhevsky's page)
  4. torus_world: synthetic images whose manifold is exactly a flat 2-torus
  5. augmentation recipes: ``AugmentConfig`` and one recipe per data set
  6. registry: ``load_dataset``, ``DatasetInfo`` (classes, shape, mean/std, recipe)
  7. on-device batching: ``epoch_batches``, ``to_float``
  8. batched two-view augmentation: ``Augment``

Checksum findings (2026-11, Debian package 0.0~git20200523.55506a9-1): the four .gz files
in /usr/share/datasets/fashion-mnist do NOT match the md5s Zalando publishes for its .gz
files: Debian re-gzipped them (the gzip headers carry the 2020-06-05 upload time).  Their
decompressed contents DO match the md5s of the decompressed IDX files (``FMNIST_MD5_RAW``),
so the pixels and labels are Zalando's.  A file passes if either md5 matches.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import pickle
import struct
import tarfile
import urllib.request
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "DataError", "DataMissingError", "DataCorruptError", "fetch",
    "parse_idx", "fashion_mnist", "cifar10", "cifar100",
    "torus_images", "torus_world", "torus_labels",
    "DatasetInfo", "DATASETS", "dataset_info", "Split", "load_dataset",
    "epoch_batches", "to_float",
    "AugmentConfig", "CIFAR_AUGMENT", "FMNIST_AUGMENT", "TORUS_AUGMENT", "Augment", "augment_for",
]

SPLITS = ("train", "test")


# ---------------------------------------------------------------------------------------
# 1. Errors, checksums, downloads
# ---------------------------------------------------------------------------------------

class DataError(Exception):
    """Base class: a data file is missing, corrupt or fails its checksum."""


class DataMissingError(DataError, FileNotFoundError):
    """No copy of a data file was found (and none was downloaded)."""


class DataCorruptError(DataError, ValueError):
    """A data file exists but is truncated, malformed or has the wrong checksum."""


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _cache_dir() -> Path:
    """Where downloads go when no root is given: $JEPA_TORUS_DATA, else ~/.cache/jepa_torus."""
    env = os.environ.get("JEPA_TORUS_DATA")
    return Path(env) if env else Path.home() / ".cache" / "jepa_torus"


def fetch(url: str, dest: Path, md5: str) -> Path:
    """Fetch ``url`` to ``dest`` through a ``.part`` file, kept only if its md5 matches.

    urllib handles http(s):// and file:// (the tests use the latter)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except OSError as err:  # URLError, timeouts and disk errors are all OSErrors
        part.unlink(missing_ok=True)
        raise DataMissingError(f"could not download {url} to {dest}: {err}") from err
    if digest.hexdigest() != md5:
        part.unlink(missing_ok=True)
        raise DataCorruptError(
            f"checksum mismatch for {url}: md5 {digest.hexdigest()}, expected {md5}; "
            "the download was discarded (retry, or fetch the file by hand)")
    os.replace(part, dest)
    return dest


def _stat_key(path: Path) -> tuple[str, int, int]:
    """Cache key for a file: a replaced or rewritten file is read again."""
    st = path.stat()
    return str(path.resolve()), st.st_mtime_ns, st.st_size


# ---------------------------------------------------------------------------------------
# 2. Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), 60k train + 10k test, 28x28 grayscale
# ---------------------------------------------------------------------------------------

FMNIST_URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
FMNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# md5 of the .gz files, as published in the README of zalandoresearch/fashion-mnist.
FMNIST_MD5_GZ = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
# md5 of the decompressed IDX files.  Not in Zalando's README; listed next to the .gz
# md5s by several independent loaders, and equal to what Debian's re-gzipped files
# decompress to.  Lets a re-compressed (or uncompressed) copy pass verification.
FMNIST_MD5_RAW = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")
_FMNIST_HOWTO = (
    "Get Fashion-MNIST with `sudo apt-get install dataset-fashion-mnist` (files go to "
    f"{DEBIAN_FMNIST}), or put the four *-ubyte.gz files from "
    "https://github.com/zalandoresearch/fashion-mnist in a folder and set JEPA_TORUS_DATA "
    "to it (or pass root=), or call with download=True.")


def parse_idx(buf: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode an IDX file (LeCun's MNIST format) into a read-only uint8 array.

    Layout: magic = 0x00 0x00 <type> <ndim>; ndim big-endian uint32 sizes; the data in C
    order.  (Fashion-)MNIST uses type 0x08 (unsigned byte): magic 0x803 for images
    (N, 28, 28) and 0x801 for labels (N,).
    """
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0:
        raise DataCorruptError(f"{source}: not an IDX file (magic bytes {buf[:4].hex() or 'missing'})")
    if buf[2] != 0x08:
        raise DataCorruptError(f"{source}: IDX data type 0x{buf[2]:02x}, expected 0x08 (uint8)")
    ndim = buf[3]
    start = 4 + 4 * ndim
    if len(buf) < start:
        raise DataCorruptError(f"{source}: IDX header truncated ({len(buf)} bytes)")
    shape = struct.unpack(f">{ndim}I", buf[4:start])
    expected = start + math.prod(shape)
    if len(buf) != expected:
        raise DataCorruptError(
            f"{source}: {len(buf)} bytes, but an IDX array of shape {shape} has {expected} "
            "(file truncated or padded)")
    return np.frombuffer(buf, dtype=np.uint8, offset=start).reshape(shape)


def _fmnist_dirs(root) -> list[Path]:
    """Search order.  An explicit root is searched alone: falling back to another copy
    would hide a typo in the path."""
    if root is not None:
        return [Path(root), Path(root) / "fashion-mnist"]
    env = os.environ.get("JEPA_TORUS_DATA")
    dirs = [Path(env), Path(env) / "fashion-mnist"] if env else []
    return dirs + [DEBIAN_FMNIST, _cache_dir() / "fashion-mnist"]


def _find_idx(name: str, dirs: list[Path]) -> Path | None:
    for d in dirs:
        for path in (d / f"{name}.gz", d / name):
            if path.is_file():
                return path
    return None


@functools.lru_cache(maxsize=8)
def _read_fmnist_file(key: tuple[str, int, int], name: str) -> np.ndarray:
    """Read, verify (either md5) and parse one file; cached per (path, mtime, size)."""
    path = Path(key[0])
    blob = path.read_bytes()
    gz_ok = path.suffix == ".gz" and _md5(blob) == FMNIST_MD5_GZ[name]
    try:
        payload = gzip.decompress(blob) if path.suffix == ".gz" else blob
    except (OSError, EOFError, zlib.error) as err:
        raise DataCorruptError(f"{path}: not a valid gzip file ({err}). {_FMNIST_HOWTO}") from err
    if not gz_ok and _md5(payload) != FMNIST_MD5_RAW[name]:
        raise DataCorruptError(
            f"{path}: checksum mismatch (md5 {_md5(blob)}; decompressed md5 {_md5(payload)}; "
            f"expected {FMNIST_MD5_GZ[name]} or {FMNIST_MD5_RAW[name]}). {_FMNIST_HOWTO}")
    return parse_idx(payload, source=str(path))


def fashion_mnist(split: str = "train", root=None, download: bool = False):
    """Fashion-MNIST as (images uint8 (N, 1, 28, 28), labels int64 (N,)), N = 60000 / 10000.

    Looks in ``root`` only if given; else in $JEPA_TORUS_DATA (and its ``fashion-mnist/``),
    /usr/share/datasets/fashion-mnist, ~/.cache/jepa_torus/fashion-mnist.  With
    ``download=True`` a missing file is fetched from Zalando's S3 bucket (GitHub as the
    fallback) into root / $JEPA_TORUS_DATA / ~/.cache/jepa_torus and md5-checked.
    Every file is md5-checked and its IDX header validated; parsed arrays are cached
    in-process, so a second call costs one copy.
    """
    _check_split(split)
    dirs = _fmnist_dirs(root)
    arrays = []
    for name in FMNIST_FILES[split]:
        path = _find_idx(name, dirs)
        if path is None and download:
            path = _download_fmnist(name, Path(root) if root is not None else _cache_dir() / "fashion-mnist")
        if path is None:
            raise DataMissingError(
                f"Fashion-MNIST file {name}.gz not found in {[str(d) for d in dirs]}. {_FMNIST_HOWTO}")
        arrays.append(_read_fmnist_file(_stat_key(path), name))
    images, labels = arrays
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(labels) != len(images):
        raise DataCorruptError(f"Fashion-MNIST {split}: images {images.shape} and labels {labels.shape} do not fit")
    return (torch.from_numpy(images.copy()).unsqueeze(1),  # (N, 28, 28) -> (N, 1, 28, 28)
            torch.from_numpy(labels.astype(np.int64)))


def _download_fmnist(name: str, dest_dir: Path) -> Path:
    errors = []
    for base in FMNIST_URLS:
        try:
            return fetch(base + name + ".gz", dest_dir / f"{name}.gz", FMNIST_MD5_GZ[name])
        except DataError as err:
            errors.append(str(err))
    raise DataMissingError(f"could not download {name}.gz: " + " | ".join(errors) + f". {_FMNIST_HOWTO}")


# ---------------------------------------------------------------------------------------
# 3. CIFAR-10 / CIFAR-100 (Krizhevsky 2009), python pickle batches, 32x32 RGB
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CifarArchive:
    url: str
    md5: str              # of the .tar.gz, as published on https://www.cs.toronto.edu/~kriz/cifar.html
    folder: str           # the folder inside the archive
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_key: bytes      # CIFAR-100: the 100 fine labels, not the 20 coarse ones


CIFAR_ARCHIVES = {
    "cifar10": CifarArchive(
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
        "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), b"labels"),
    "cifar100": CifarArchive(
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85",
        "cifar-100-python", ("train",), ("test",), b"fine_labels"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and lists, nothing else: a pickle can run
    arbitrary code, and a data folder is not a place to trust code from."""

    _ALLOWED = {
        ("_codecs", "encode"), ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        if module.startswith("numpy.core") and hasattr(np, "_core"):  # numpy >= 2 renamed it
            module = "numpy._core" + module[len("numpy.core"):]
        return super().find_class(module, name)


@functools.lru_cache(maxsize=16)
def _read_cifar_batch(key: tuple[str, int, int], label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    path = Path(key[0])
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()  # py2 pickles: keys are bytes
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[label_key], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataCorruptError(f"{path}: not a CIFAR python batch ({type(err).__name__}: {err})") from err
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DataCorruptError(f"{path}: data {data.shape} / labels {labels.shape}, expected (N, 3072) / (N,)")
    # Each row is 1024 red, 1024 green, 1024 blue values, each a 32x32 image in row order.
    return data.reshape(-1, 3, 32, 32), labels


def _safe_extract(archive: Path, dest: Path) -> None:
    """Extract a tar.gz, refusing links, devices, absolute paths and '..' escapes."""
    dest = dest.resolve()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                target = (dest / member.name).resolve()
                if not (member.isfile() or member.isdir()) or not target.is_relative_to(dest):
                    raise DataCorruptError(f"{archive}: refusing unsafe archive member {member.name!r}")
            # The 'data' filter (Python >= 3.11.4) re-checks the same things.
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, **extra)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DataCorruptError(f"{archive}: cannot extract ({err})") from err


def _cifar(name: str, split: str, root, download: bool):
    _check_split(split)
    spec = CIFAR_ARCHIVES[name]
    files = spec.train if split == "train" else spec.test
    if root is not None:  # an explicit root is searched alone (see _fmnist_dirs)
        candidates = [Path(root) / spec.folder, Path(root)]
    else:
        candidates = [_cache_dir() / spec.folder]
    folder = next((c for c in candidates if all((c / f).is_file() for f in files)), None)
    if folder is None and download:
        base = Path(root) if root is not None else _cache_dir()
        archive = base / spec.url.rsplit("/", 1)[-1]
        if not archive.is_file() or _md5(archive.read_bytes()) != spec.md5:
            fetch(spec.url, archive, spec.md5)
        _safe_extract(archive, base)
        folder = base / spec.folder
        if not all((folder / f).is_file() for f in files):
            raise DataCorruptError(f"{archive}: extracted, but {spec.folder}/{files} is incomplete")
    if folder is None:
        raise DataMissingError(
            f"{name}: {spec.folder}/{{{','.join(files)}}} not found in {[str(c) for c in candidates]}. "
            f"Pass root= pointing at the folder holding {spec.folder}/, set JEPA_TORUS_DATA, or call "
            f"with download=True to fetch {spec.url} (md5 {spec.md5}).")
    parts = [_read_cifar_batch(_stat_key(folder / f), spec.label_key) for f in files]
    images = torch.from_numpy(np.concatenate([p[0] for p in parts]))  # (N, 3, 32, 32) uint8
    labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))  # (N,) int64
    return images, labels


def cifar10(split: str = "train", root=None, download: bool = False):
    """CIFAR-10 as (images uint8 (N, 3, 32, 32), labels int64 (N,)), N = 50000 / 10000.

    Reads ``cifar-10-batches-py/{data_batch_1..5, test_batch}`` under ``root`` (or root
    itself), else under $JEPA_TORUS_DATA or ~/.cache/jepa_torus.  ``download=True`` fetches
    the official tar.gz, checks its md5 and extracts it (no links, no path escapes)."""
    return _cifar("cifar10", split, root, download)


def cifar100(split: str = "train", root=None, download: bool = False):
    """CIFAR-100 with its 100 fine labels; layout ``cifar-100-python/{train, test}``.
    Same search and download rules as ``cifar10``."""
    return _cifar("cifar100", split, root, download)


# ---------------------------------------------------------------------------------------
# 4. torus_world: a data set whose image manifold is a flat 2-torus
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# 5. Augmentation recipes (the implementation is section 8)
# ---------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------
# 6. Registry
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    channels: int
    size: int                       # images are size x size
    mean: tuple[float, ...]         # per channel, of the training pixels in [0, 1]
    std: tuple[float, ...]
    augment: AugmentConfig          # recommended two-view recipe


DATASETS = {
    # Fashion-MNIST mean/std: measured on the 60k training images (tests re-measure them).
    "fashion_mnist": DatasetInfo("fashion_mnist", 10, 1, 28, (0.2860,), (0.3530,), FMNIST_AUGMENT),
    # CIFAR: per-channel pixel mean/std of the training sets as widely tabulated (e.g.
    # kuangliu/pytorch-cifar issue 19), not re-measured: no CIFAR copy on the build machine.
    # (The often-copied CIFAR-10 std 0.2023/0.1994/0.2010 is not the pixel std.)
    "cifar10": DatasetInfo("cifar10", 10, 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), CIFAR_AUGMENT),
    "cifar100": DatasetInfo("cifar100", 100, 3, 32, (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761),
                            CIFAR_AUGMENT),
    # torus_world (size 32, max_freq 3, texture_seed 0): mean/std over all shifts, from
    # the texture on a fine grid (tests re-measure them on the training split).
    "torus_world": DatasetInfo("torus_world", 16, 1, 32, (0.4268,), (0.1986,), TORUS_AUGMENT),
}

TORUS_SPLITS = {"train": (10_000, 0), "test": (2_000, 1)}   # (n, seed); texture shared


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


@dataclass
class Split:
    """One split of a data set, ready to move to the device once."""
    images: torch.Tensor                 # (N, C, H, W) uint8 (float for torus_world if asked)
    labels: torch.Tensor                 # (N,) int64
    info: DatasetInfo
    angles: torch.Tensor | None = field(default=None)   # (N, 2) ground truth, torus_world only

    def to(self, device) -> "Split":
        angles = None if self.angles is None else self.angles.to(device)
        return Split(self.images.to(device), self.labels.to(device), self.info, angles)

    def __len__(self) -> int:
        return len(self.labels)


def load_dataset(name: str, split: str = "train", root=None, **kw) -> Split:
    """Load a split of ``fashion_mnist``, ``cifar10``, ``cifar100`` or ``torus_world``.

    ``kw`` goes to the loader (``download=True``; for torus_world ``n``, ``seed``,
    ``texture_seed``, ...; its default splits are 10k images at seed 0 and 2k at seed 1)."""
    info = dataset_info(name)
    _check_split(split)
    if name == "torus_world":
        n, seed = TORUS_SPLITS[split]
        kw = {"n": n, "seed": seed, **kw}
        n_bins = kw.get("n_bins", 4)
        images, angles, labels = torus_world(**kw)
        if n_bins != 4 or images.shape[-1] != info.size:
            info = replace(info, num_classes=n_bins**2, size=images.shape[-1])
        return Split(images, labels, info, angles)
    loader = {"fashion_mnist": fashion_mnist, "cifar10": cifar10, "cifar100": cifar100}[name]
    images, labels = loader(split, root=root, **kw)
    return Split(images, labels, info)


# ---------------------------------------------------------------------------------------
# 7. On-device batching
# ---------------------------------------------------------------------------------------

def epoch_batches(n: int, batch_size: int, generator: torch.Generator,
                  drop_last: bool = True) -> Iterator[torch.Tensor]:
    """Index batches of one epoch: a randperm on the generator's device, cut in slices.
    drop_last keeps every step the same size (BatchNorm, loss scales, timing)."""
    perm = torch.randperm(n, generator=generator, device=generator.device)
    stop = n - n % batch_size if drop_last else n
    for i in range(0, stop, batch_size):
        yield perm[i:i + batch_size]


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 in [0, 255] -> float32 in [0, 1]; float input is returned as float32."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


# ---------------------------------------------------------------------------------------
# 8. Batched two-view augmentation
# ---------------------------------------------------------------------------------------
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
        mean = torch.tensor(self.mean, dtype=y.dtype, device=y.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=y.dtype, device=y.device).view(1, -1, 1, 1)
        return y.sub_(mean).div_(std)

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
    config = config or info.augment
    fields = AugmentConfig.__dataclass_fields__
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"unknown augmentation field(s) {', '.join(unknown)}; valid: {', '.join(fields)}")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return Augment(replace(config, **overrides), info.mean, info.std)
