"""Tests of jepa_torus.data.  Claims checked:

* Fashion-MNIST: the Debian files load as 60000 / 10000 images (N, 1, 28, 28) uint8 with
  labels 0..9, pass md5 verification, and match the registry's mean/std; a missing folder,
  a truncated gzip and a wrong checksum each raise a DataError naming the file; downloads
  are md5-checked (served from a file:// URL, nothing leaves the machine).
* CIFAR-10/100: tiny files in the real pickle layout (bytes keys) load with the right
  channel order and labels; the archive path checks md5 and refuses unsafe members;
  pickles that would run code are refused.
* torus_world: seeded; angles in [0, 2 pi); image = texture shifted by the angles (a full
  period is the identity, 2 pi / S is a one-pixel roll); the embedding is flat
  (|I(a + d) - I(a)| does not depend on a); labels are the angle bins.
* Augment: shapes, dtypes, finite values; same seed -> same views, other seed -> other
  views; scale (1, 1) without flip or jitter is the identity up to normalisation; flip
  flips; crop zooms; hue shift equals colorsys; the input is never modified.
"""
import colorsys
import gzip
import io
import math
import os
import pickle
import tarfile
from dataclasses import replace

import numpy as np
import pytest
import torch

from jepa_torus import augment as A
from jepa_torus import data as D
from jepa_torus import torus_world as TW

DEBIAN = D.DEBIAN_FMNIST
has_debian = pytest.mark.skipif(
    not (DEBIAN / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST not installed in {DEBIAN} (apt-get install dataset-fashion-mnist)")


def _idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


# ----------------------------------------------------------------------- Fashion-MNIST

@has_debian
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_fashion_mnist_debian_files(split, n):
    images, labels = D.fashion_mnist(split, root=DEBIAN)
    assert images.shape == (n, 1, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert torch.equal(labels.bincount(), torch.full((10,), n // 10))   # balanced, 0..9
    if split == "train":
        x = images.float() / 255
        info = D.dataset_info("fashion_mnist")
        assert x.mean().item() == pytest.approx(info.mean[0], abs=1e-4)
        assert x.std().item() == pytest.approx(info.std[0], abs=1e-4)


@has_debian
def test_fashion_mnist_checksums_of_debian_files():
    """Debian re-gzipped the files: the .gz md5s differ from Zalando's, the contents match."""
    for name in D.FMNIST_MD5_RAW:
        blob = (DEBIAN / f"{name}.gz").read_bytes()
        assert D._md5(gzip.decompress(blob)) == D.FMNIST_MD5_RAW[name]


@has_debian
def test_fashion_mnist_default_search_and_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("JEPA_TORUS_DATA", raising=False)
    a, _ = D.fashion_mnist("test")
    a[0] = 0                                                  # callers get their own copy
    b, _ = D.fashion_mnist("test")
    assert b[0].any()
    (tmp_path / "fashion-mnist").mkdir()
    for f in DEBIAN.iterdir():
        (tmp_path / "fashion-mnist" / f.name).symlink_to(f)
    monkeypatch.setenv("JEPA_TORUS_DATA", str(tmp_path))
    c, _ = D.fashion_mnist("test")
    assert torch.equal(b, c)


def test_fashion_mnist_missing_folder(tmp_path):
    with pytest.raises(D.DataMissingError) as err:
        D.fashion_mnist("train", root=tmp_path / "nowhere")
    msg = str(err.value)
    assert "train-images-idx3-ubyte" in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "JEPA_TORUS_DATA" in msg and "download=True" in msg
    assert isinstance(err.value, FileNotFoundError)


def test_fashion_mnist_truncated_gzip(tmp_path):
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(_idx(np.zeros((10, 28, 28), np.uint8)))[:40])
    with pytest.raises(D.DataCorruptError, match="t10k-images-idx3-ubyte.gz"):
        D.fashion_mnist("test", root=tmp_path)


def test_fashion_mnist_wrong_checksum(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(np.ones((10, 28, 28), np.uint8))))
    with pytest.raises(D.DataCorruptError, match="checksum mismatch") as err:
        D.fashion_mnist("test", root=tmp_path)
    assert isinstance(err.value, ValueError) and "t10k-images-idx3-ubyte.gz" in str(err.value)


def test_parse_idx_checks_magic_and_length():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(D.parse_idx(_idx(a)), a)
    with pytest.raises(D.DataCorruptError, match="not an IDX file"):
        D.parse_idx(b"\x1f\x8b\x08\x00" + _idx(a)[4:])
    with pytest.raises(D.DataCorruptError, match="data type"):
        D.parse_idx(b"\x00\x00\x0d\x03" + _idx(a)[4:])
    with pytest.raises(D.DataCorruptError, match="truncated"):
        D.parse_idx(_idx(a)[:-1])


def test_fashion_mnist_download_checks_md5(tmp_path, monkeypatch):
    """Download from a file:// 'server' holding a tiny valid copy; wrong md5 -> refused."""
    server = tmp_path / "server"
    server.mkdir()
    blobs = {"t10k-images-idx3-ubyte": gzip.compress(_idx(np.full((5, 28, 28), 7, np.uint8))),
             "t10k-labels-idx1-ubyte": gzip.compress(_idx(np.arange(5, dtype=np.uint8)))}
    for name, blob in blobs.items():
        (server / f"{name}.gz").write_bytes(blob)
        monkeypatch.setitem(D.FMNIST_MD5_GZ, name, D._md5(blob))
    monkeypatch.setattr(D, "FMNIST_URLS", (server.as_uri() + "/",))
    images, labels = D.fashion_mnist("test", root=tmp_path / "cache", download=True)
    assert images.shape == (5, 1, 28, 28) and (images == 7).all() and labels.tolist() == [0, 1, 2, 3, 4]

    monkeypatch.setitem(D.FMNIST_MD5_GZ, "t10k-images-idx3-ubyte", "0" * 32)
    with pytest.raises(D.DataMissingError, match="checksum mismatch"):
        D.fashion_mnist("test", root=tmp_path / "cache2", download=True)
    assert not any((tmp_path / "cache2").iterdir())            # nothing half-written left


# ----------------------------------------------------------------------- CIFAR

def _cifar_batch(n: int, label_key: bytes, offset: int) -> dict:
    """A batch in the real layout: bytes keys, (n, 3072) uint8 rows of R, G, B planes."""
    data = np.zeros((n, 3, 32, 32), np.uint8)
    data[:, 0], data[:, 1], data[:, 2] = 10, 20, 30
    data[:, :, 0, 1] = np.arange(offset, offset + n)[:, None]      # row 0, column 1 marks the image
    batch = {b"batch_label": b"fake", label_key: [(offset + i) % 10 for i in range(n)],
             b"data": data.reshape(n, 3072), b"filenames": [b"x.png"] * n}
    if label_key == b"fine_labels":
        batch[b"coarse_labels"] = [0] * n
    return batch


def _write_cifar(base, name: str, n_per_file: int = 2):
    spec = D.CIFAR_ARCHIVES[name]
    folder = base / spec.folder
    folder.mkdir(parents=True)
    for i, f in enumerate(spec.train + spec.test):
        with open(folder / f, "wb") as fh:
            pickle.dump(_cifar_batch(n_per_file, spec.label_key, 100 + i * n_per_file), fh, protocol=2)
    return folder


@pytest.mark.parametrize("name, loader, n_train", [("cifar10", D.cifar10, 10), ("cifar100", D.cifar100, 2)])
def test_cifar_local_layout(tmp_path, name, loader, n_train):
    folder = _write_cifar(tmp_path, name)
    images, labels = loader("train", root=tmp_path)
    assert images.shape == (n_train, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.tolist() == [(100 + i) % 10 for i in range(n_train)]
    assert (images[:, 0, 5, 5] == 10).all() and (images[:, 2, 5, 5] == 30).all()   # channel order
    assert images[:, 0, 0, 1].tolist() == list(range(100, 100 + n_train))          # row order
    test_images, _ = loader("test", root=folder)                  # root may be the folder itself
    assert test_images.shape == (2, 3, 32, 32)


def test_cifar_missing_and_bad_files(tmp_path):
    with pytest.raises(D.DataMissingError, match="download=True"):
        D.cifar10("test", root=tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(D.DataCorruptError, match="test_batch"):
        D.cifar10("test", root=tmp_path)

    class Evil:                                                   # unpickling would run a command
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(D.DataCorruptError, match="refusing"):
        D.cifar10("test", root=tmp_path)


def _tarball(src, members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for arcname in members:
            tar.add(src / arcname if (src / arcname).exists() else src, arcname=arcname)
    return buf.getvalue()


def test_cifar_download_verifies_and_extracts(tmp_path, monkeypatch):
    src = tmp_path / "src"
    _write_cifar(src, "cifar10", n_per_file=1)
    blob = _tarball(src, ["cifar-10-batches-py"])
    served = tmp_path / "cifar-10-python.tar.gz"
    served.write_bytes(blob)
    spec = D.CIFAR_ARCHIVES["cifar10"]

    monkeypatch.setitem(D.CIFAR_ARCHIVES, "cifar10", replace(spec, url=served.as_uri(), md5="0" * 32))
    with pytest.raises(D.DataCorruptError, match="checksum mismatch"):
        D.cifar10("train", root=tmp_path / "a", download=True)
    assert not list((tmp_path / "a").iterdir())

    monkeypatch.setitem(D.CIFAR_ARCHIVES, "cifar10", replace(spec, url=served.as_uri(), md5=D._md5(blob)))
    images, labels = D.cifar10("train", root=tmp_path / "b", download=True)
    assert images.shape == (5, 3, 32, 32) and len(labels) == 5


def test_cifar_archive_with_path_escape_is_refused(tmp_path, monkeypatch):
    (tmp_path / "evil.txt").write_text("x")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(tmp_path / "evil.txt", arcname="../evil.txt")
    served = tmp_path / "bad.tar.gz"
    served.write_bytes(buf.getvalue())
    spec = replace(D.CIFAR_ARCHIVES["cifar10"], url=served.as_uri(), md5=D._md5(buf.getvalue()))
    monkeypatch.setitem(D.CIFAR_ARCHIVES, "cifar10", spec)
    (tmp_path / "root").mkdir()
    with pytest.raises(D.DataCorruptError, match="unsafe"):
        D.cifar10("test", root=tmp_path / "root", download=True)


# ----------------------------------------------------------------------- torus_world

def test_torus_world_seeded_and_in_range():
    x1, a1, y1 = TW.torus_world(500, seed=3)
    x2, a2, y2 = TW.torus_world(500, seed=3)
    x3, a3, _ = TW.torus_world(500, seed=4)
    assert torch.equal(x1, x2) and torch.equal(a1, a2) and torch.equal(y1, y2)
    assert not torch.equal(a1, a3) and not torch.equal(x1, x3)
    assert x1.shape == (500, 1, 32, 32) and x1.dtype == torch.uint8
    assert ((a1 >= 0) & (a1 < 2 * math.pi)).all()
    bins = (a1 / (2 * math.pi / 4)).long()
    assert torch.equal(y1, bins[:, 0] * 4 + bins[:, 1]) and y1.max() < 16


def test_torus_images_are_shifts_of_one_texture():
    a = torch.rand(6, 2, dtype=torch.float64) * 2 * math.pi
    img = TW.torus_images(a)                                               # (6, 1, 32, 32) float
    assert torch.allclose(TW.torus_images(a + 2 * math.pi), img, atol=1e-5)  # a full period
    assert torch.equal(TW.torus_images(a.clone()), img)                      # same angles, same image
    step = 2 * math.pi / 32
    assert torch.allclose(TW.torus_images(a + torch.tensor([step, 0.0])), img.roll(1, dims=3), atol=1e-5)
    assert torch.allclose(TW.torus_images(a + torch.tensor([0.0, step])), img.roll(1, dims=2), atol=1e-5)
    assert not torch.allclose(TW.torus_images(a + torch.tensor([step / 2, 0.0])), img, atol=1e-2)
    assert img.min() >= 0 and img.max() <= 1
    u8 = TW.torus_images(a, dtype=torch.uint8)
    assert (u8.float() - img * 255).abs().max() <= 0.5 + 1e-3


def test_torus_embedding_is_flat_and_smooth():
    """|I(a + d) - I(a)| depends on d only (Parseval: the texture is band-limited), and
    shrinks linearly with |d| (a smooth embedding)."""
    a = torch.rand(200, 2, dtype=torch.float64) * 2 * math.pi
    base = TW.torus_images(a).double()
    for d in ([0.3, 0.0], [0.0, 0.3], [1.0, 2.0], [0.01, 0.01]):
        dist = (TW.torus_images(a + torch.tensor(d)).double() - base).flatten(1).norm(dim=1)
        assert dist.std() / dist.mean() < 1e-3
    small = (TW.torus_images(a + 1e-3).double() - base).flatten(1).norm(dim=1).mean()
    smaller = (TW.torus_images(a + 5e-4).double() - base).flatten(1).norm(dim=1).mean()
    assert small / smaller == pytest.approx(2.0, rel=0.05)


def test_torus_world_registry_stats_and_speed():
    import time
    t0 = time.perf_counter()
    split = D.load_dataset("torus_world", "train")
    assert time.perf_counter() - t0 < 5.0
    assert len(split) == 10_000 and split.angles.shape == (10_000, 2) and split.info.num_classes == 16
    x = split.images.float() / 255
    assert x.mean().item() == pytest.approx(split.info.mean[0], abs=2e-3)
    assert x.std().item() == pytest.approx(split.info.std[0], abs=2e-3)
    test = D.load_dataset("torus_world", "test", n=100)
    assert len(test) == 100 and not torch.equal(test.angles, split.angles[:100])
    assert D.load_dataset("torus_world", "test", n=10, n_bins=3).info.num_classes == 9


# ----------------------------------------------------------------------- registry, batching

def test_registry():
    with pytest.raises(ValueError, match="cifar10, cifar100, fashion_mnist, nuisance_torus, torus_world"):
        D.load_dataset("mnist")
    with pytest.raises(ValueError, match="split"):
        D.load_dataset("torus_world", "val")
    info = D.dataset_info("cifar100")
    assert (info.num_classes, info.channels, info.size, len(info.mean)) == (100, 3, 32, 3)


def test_epoch_batches_and_to_float():
    g = torch.Generator().manual_seed(0)
    batches = list(D.epoch_batches(10, 3, g))
    assert [len(b) for b in batches] == [3, 3, 3]
    assert len(set(torch.cat(batches).tolist())) == 9
    full = torch.cat(list(D.epoch_batches(10, 3, g, drop_last=False)))
    assert sorted(full.tolist()) == list(range(10))
    again = list(D.epoch_batches(10, 3, torch.Generator().manual_seed(0)))
    assert all(torch.equal(p, q) for p, q in zip(batches, again))
    x = torch.tensor([0, 255], dtype=torch.uint8)
    assert D.to_float(x).tolist() == [0.0, 1.0]


# ----------------------------------------------------------------------- augmentation

@pytest.mark.parametrize("name, shape", [("fashion_mnist", (1, 28, 28)), ("cifar10", (3, 32, 32)),
                                         ("torus_world", (1, 32, 32))])
def test_augment_shapes_and_determinism(name, shape):
    x = torch.randint(0, 256, (16, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    aug = A.augment_for(name)
    v1, v2 = aug.two_views(x, torch.Generator().manual_seed(0))
    w1, w2 = aug.two_views(x, torch.Generator().manual_seed(0))
    u1, _ = aug.two_views(x, torch.Generator().manual_seed(1))
    assert v1.shape == (16, *shape) and v1.dtype == torch.float32 and torch.isfinite(v1).all()
    assert torch.equal(v1, w1) and torch.equal(v2, w2)
    assert not torch.equal(v1, u1) and not torch.equal(v1, v2)
    assert torch.allclose(aug(x.float() / 255, torch.Generator().manual_seed(5)),
                          aug(x, torch.Generator().manual_seed(5)), atol=1e-5)


def test_augment_identity_flip_and_zoom():
    x = torch.rand(8, 3, 32, 32)
    keep = x.clone()
    info = D.dataset_info("cifar10")
    mean, std = torch.tensor(info.mean).view(1, 3, 1, 1), torch.tensor(info.std).view(1, 3, 1, 1)
    plain = A.AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0,
                            grayscale_p=0.0, solarize_p=0.0)
    g = torch.Generator().manual_seed(0)
    assert torch.allclose(A.Augment(plain, info.mean, info.std)(x, g), (x - mean) / std, atol=1e-6)
    # the resampling path itself (taken whenever flips are possible) is exact at scale 1
    assert torch.allclose(A.Augment(plain, info.mean, info.std)._crop_flip(x, g), x, atol=1e-5)
    flip = A.Augment(replace(plain, flip_p=1.0), info.mean, info.std)
    assert torch.allclose(flip._crop_flip(x, g), x.flip(-1), atol=1e-5)
    # a quarter-area square crop is a 2x zoom: a horizontal ramp keeps half its range
    ramp = torch.linspace(0, 1, 32).expand(4, 1, 32, 32).contiguous()
    zoom = A.Augment(replace(plain, crop_scale=(0.25, 0.25)), (0.0,), (1.0,))._crop_flip(ramp, g)
    span = zoom[..., -1] - zoom[..., 0]                           # 31 output steps of half a pixel
    assert torch.allclose(span, torch.full_like(span, 0.5), atol=0.01)
    assert torch.equal(x, keep)                                   # input untouched


def test_augment_colour_ops():
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64)
    for shift in (0.0, 0.1, -0.07, 0.5):
        y = A._hue_shift(x, torch.full((4,), shift, dtype=torch.float64))
        pix = x.permute(0, 2, 3, 1).reshape(-1, 3).tolist()
        ref = [colorsys.hsv_to_rgb((h + shift) % 1, s, v) for h, s, v in (colorsys.rgb_to_hsv(*p) for p in pix)]
        assert torch.allclose(y.permute(0, 2, 3, 1).reshape(-1, 3), torch.tensor(ref, dtype=x.dtype), atol=1e-9)
    g = torch.Generator().manual_seed(0)
    off = A.AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0,
                          grayscale_p=0.0, solarize_p=0.0)
    gray = A.Augment(replace(off, grayscale_p=1.0), (0, 0, 0), (1, 1, 1))(x.float(), g)
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])
    xf = x.float()
    sol = A.Augment(replace(off, solarize_p=1.0), (0, 0, 0), (1, 1, 1))(xf, g)
    assert torch.equal(sol, torch.where(xf >= 0.5, 1 - xf, xf))
    bright = A.Augment(replace(off, jitter_p=1.0, contrast=0.0, saturation=0.0, hue=0.0),
                       (0, 0, 0), (1, 1, 1))(x.float() * 0.5, g)
    ratio = bright / (x.float() * 0.5)                             # one factor per image in [0.6, 1.4]
    assert torch.allclose(ratio, ratio[:, :1, :1, :1].expand_as(ratio), atol=1e-5)
    assert ((ratio >= 0.6 - 1e-6) & (ratio <= 1.4 + 1e-6)).all()


def test_augment_rejects_colour_ops_on_grayscale():
    with pytest.raises(ValueError, match="RGB"):
        A.Augment(A.CIFAR_AUGMENT, (0.5,), (0.5,))(torch.rand(2, 1, 28, 28), torch.Generator())


def test_augment_overrides_replace_single_fields():
    aug = A.augment_for("fashion_mnist", crop_scale=[1.0, 1.0], crop_ratio=[1.0, 1.0], flip_p=0.0, jitter_p=0.0,
                        solarize_p=0.0)
    assert aug.config.crop_scale == (1.0, 1.0) and aug.config.brightness == A.FMNIST_AUGMENT.brightness
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(aug(x, torch.Generator().manual_seed(0)), (x - 0.2860) / 0.3530, atol=1e-5)
    with pytest.raises(ValueError, match=r"crop_sclae.*valid: crop_scale"):
        A.augment_for("fashion_mnist", crop_sclae=(0.5, 1.0))
