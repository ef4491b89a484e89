"""Data sets, airbench style: one uint8 tensor (N, C, H, W) plus int64 labels, moved once
to the training device; an epoch is a ``randperm``.  No DataLoader, no per-image Python,
no PIL.  Augmentation is ``jepa_torus.augment``; the synthetic torus is
``jepa_torus.torus_world``.

Sections
  1. errors, checksums, downloads
  2. Fashion-MNIST (IDX files; Debian's ``dataset-fashion-mnist`` or Zalando's servers)
  3. CIFAR-10 / CIFAR-100 (the python-pickle batches from Krizhevsky's page)
  4. registry: ``load_dataset``, ``DatasetInfo`` (classes, shape, mean/std)
  5. on-device batching and scaling: ``epoch_batches``, ``to_float``, ``normalize``

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
import io
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

from .nuisance_torus import nuisance_torus
from .torus_world import torus_world

__all__ = [
    "DataError", "DataMissingError", "DataCorruptError", "fetch",
    "parse_idx", "fashion_mnist", "cifar10", "cifar100",
    "DatasetInfo", "DATASETS", "SPLIT_SIZES", "dataset_info", "split_size", "Split", "load_dataset", "load_split",
    "verify_split",
    "epoch_batches", "to_float", "normalize",
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
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.md5(usedforsecurity=False)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)  # a read-only data folder: the error below
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except OSError as err:  # URLError, timeouts and disk errors are all OSErrors
        _unlink_quiet(part)
        raise DataMissingError(f"could not download {url} to {dest}: {err}") from None
    if digest.hexdigest() != md5:
        _unlink_quiet(part)
        raise DataCorruptError(
            f"checksum mismatch for {url}: md5 {digest.hexdigest()}, expected {md5}; "
            "the download was discarded (retry, or fetch the file by hand)")
    try:
        os.replace(part, dest)
    except OSError as err:
        _unlink_quiet(part)
        raise DataMissingError(f"could not download {url} to {dest}: {err}") from None
    return dest


def _unlink_quiet(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # a read-only folder: the error being reported matters more
        pass


def _read(path: Path) -> bytes:
    """A data file's bytes; an unreadable one is a DataMissingError naming it."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataMissingError(f"{path}: cannot be read ({err.strerror or err})") from None


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
    blob = _read(path)
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
    blob = _read(path)
    try:
        batch = _ArrayUnpickler(io.BytesIO(blob), encoding="bytes").load()  # py2 pickles: keys are bytes
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
    spec = CIFAR_ARCHIVES[name]
    files = spec.train if split == "train" else spec.test
    folder = _cifar_folder(name, split, root, download)
    parts = [_read_cifar_batch(_stat_key(folder / f), spec.label_key) for f in files]
    images = torch.from_numpy(np.concatenate([p[0] for p in parts]))  # (N, 3, 32, 32) uint8
    labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))  # (N,) int64
    return images, labels


def _cifar_folder(name: str, split: str, root, download: bool) -> Path:
    """The folder holding the split's batch files (downloaded and extracted if asked)."""
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
        if not archive.is_file() or _md5(_read(archive)) != spec.md5:
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
    return folder


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
# 4. Registry
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    channels: int
    size: int                       # images are size x size
    mean: tuple[float, ...]         # per channel, of the training pixels in [0, 1]
    std: tuple[float, ...]


DATASETS = {
    # Fashion-MNIST mean/std: measured on the 60k training images (tests re-measure them).
    "fashion_mnist": DatasetInfo("fashion_mnist", 10, 1, 28, (0.2860,), (0.3530,)),
    # CIFAR: per-channel pixel mean/std of the training sets as widely tabulated (e.g.
    # kuangliu/pytorch-cifar issue 19), not re-measured: no CIFAR copy on the build machine.
    # (The often-copied CIFAR-10 std 0.2023/0.1994/0.2010 is not the pixel std.)
    "cifar10": DatasetInfo("cifar10", 10, 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": DatasetInfo("cifar100", 100, 3, 32, (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
    # torus_world (size 32, max_freq 3, texture_seed 0): mean/std over all shifts, from
    # the texture on a fine grid (tests re-measure them on the training split).
    "torus_world": DatasetInfo("torus_world", 16, 1, 32, (0.4268,), (0.1986,)),
    # nuisance_torus (the same texture and bins; views drawn with nuisance_torus.HARD): pixel
    # mean/std of 20k views (tests re-measure them); other nuisance settings keep these constants.
    "nuisance_torus": DatasetInfo("nuisance_torus", 16, 1, 32, (0.4387,), (0.4401,)),
}
# Data sets whose training pairs are drawn by the data set (two nuisance draws of the same
# angles: nuisance_torus.PairedViews), not by image augmentation.
PAIRED_VIEWS = ("nuisance_torus",)

TORUS_SPLITS = {"train": (10_000, 0), "test": (2_000, 1)}   # (n, seed); texture shared
# Images per split: the ranges config.validate checks sizes against (batch, subsets, probes).
SPLIT_SIZES = {"fashion_mnist": {"train": 60_000, "test": 10_000}, "cifar10": {"train": 50_000, "test": 10_000},
               "cifar100": {"train": 50_000, "test": 10_000},
               "torus_world": {split: n for split, (n, _) in TORUS_SPLITS.items()},
               "nuisance_torus": {split: n for split, (n, _) in TORUS_SPLITS.items()}}
# md5 of the extracted CIFAR batch files, as torchvision's datasets/cifar.py lists them: a
# run checks them before training (``verify_split``); the loaders alone only parse.
CIFAR_BATCH_MD5 = {
    "cifar10": {"data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
                "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e"},
    "cifar100": {"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc"},
}


def split_size(name: str, split: str) -> int:
    """Images in a split of a registered data set (its default size)."""
    dataset_info(name)
    _check_split(split)
    return SPLIT_SIZES[name][split]


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
    angles: torch.Tensor | None = field(default=None)   # (N, 2) ground truth, torus_world and nuisance_torus
    clean: torch.Tensor | None = field(default=None)    # nuisance_torus: the same angles without nuisance

    def __len__(self) -> int:
        return len(self.labels)


def load_dataset(name: str, split: str = "train", root=None, **kw) -> Split:
    """Load a split of ``fashion_mnist``, ``cifar10``, ``cifar100``, ``torus_world`` or
    ``nuisance_torus``.

    ``kw`` goes to the loader (``download=True``; for torus_world ``n``, ``seed``,
    ``texture_seed``, ...; its default splits are 10k images at seed 0 and 2k at seed 1;
    nuisance_torus has the same angles and takes ``nuisance``, a mapping of
    nuisance_torus.Nuisance fields)."""
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
    if name == "nuisance_torus":
        n, seed = TORUS_SPLITS[split]
        images, angles, labels, clean = nuisance_torus(**{"n": n, "seed": seed, **kw})
        return Split(images, labels, info, angles, clean)
    loader = {"fashion_mnist": fashion_mnist, "cifar10": cifar10, "cifar100": cifar100}[name]
    images, labels = loader(split, root=root, **kw)
    return Split(images, labels, info)


def load_split(cfg, split: str, subset: bool = False) -> Split:
    """The ``split`` of a run's data set (``cfg``: config.DataConfig).  ``subset``: only the
    fixed ``train_subset`` images (the same for every run and seed) that training uses; the
    probes draw their bank from the whole training split."""
    kw = {"torus_world": {}, "nuisance_torus": {"nuisance": cfg.nuisance}}.get(cfg.dataset, {"download": cfg.download})
    out = load_dataset(cfg.dataset, split, root=cfg.root, **kw)
    return _subset(out, cfg.train_subset) if subset and cfg.train_subset else out


def _subset(out: Split, n: int) -> Split:
    """The fixed ``n`` images (seed 12345) of ``train_subset``."""
    keep = torch.randperm(len(out), generator=torch.Generator().manual_seed(12345))[:n]
    return Split(out.images[keep], out.labels[keep], out.info, None if out.angles is None else out.angles[keep],
                 None if out.clean is None else out.clean[keep])


@functools.lru_cache(maxsize=16)
def _file_md5(key: tuple[str, int, int]) -> str:
    return _md5(_read(Path(key[0])))


def verify_split(cfg, split: str, subset: bool = False) -> Split:
    """``load_split``, verified completely before a run writes anything: every file parsed
    and checksummed (Fashion-MNIST by its loader; CIFAR batch files against
    ``CIFAR_BATCH_MD5``), and the number of images the data set has."""
    out = load_split(cfg, split)
    if cfg.dataset in CIFAR_BATCH_MD5:
        spec = CIFAR_ARCHIVES[cfg.dataset]
        folder = _cifar_folder(cfg.dataset, split, cfg.root, False)
        for name in spec.train if split == "train" else spec.test:
            got, want = _file_md5(_stat_key(folder / name)), CIFAR_BATCH_MD5[cfg.dataset][name]
            if got != want:
                raise DataCorruptError(f"{folder / name}: checksum mismatch (md5 {got}, expected {want}); the file is "
                                       f"damaged: extract {spec.url} again")
    want = SPLIT_SIZES[cfg.dataset][split]
    if len(out) != want:
        raise DataCorruptError(f"{cfg.dataset} {split}: {len(out)} images, expected {want}")
    return _subset(out, cfg.train_subset) if subset and cfg.train_subset else out


# ---------------------------------------------------------------------------------------
# 5. On-device batching
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


def normalize(images: torch.Tensor, mean, std, inplace: bool = False) -> torch.Tensor:
    """(x - mean) / std per channel, on the [0, 1] scale (``to_float``): the network's input
    scale, shared by the augmentation (``inplace`` on its own float copy: on CPU a fresh
    batch-sized buffer costs more than the arithmetic) and the evaluation images."""
    x = to_float(images)
    mean = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return x.sub_(mean).div_(std) if inplace else (x - mean) / std
