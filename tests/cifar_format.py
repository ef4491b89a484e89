"""Synthetic CIFAR-10 in the real file format, for the gpu profile's code path without the data
set (a helper of tests/test_gpu_path.py and tests/bench_throughput.py, not a test).

    md5 = write_cifar10(root, n_train=20, n_test=10)   # root/cifar-10-batches-py/{data_batch_1..5, test_batch}
    restore = accept(md5, n_train=20, n_test=10)       # data.SPLIT_SIZES and CIFAR_BATCH_MD5 take these files

The files are python-2 pickles with bytes keys and (n, 3072) uint8 rows of R, G and B planes,
as Krizhevsky's; the images are a class colour plus noise, so the probes have something to
find.  ``accept`` is needed because a run checks the real files' md5s and sizes before it
trains (``data.verify_split``).
"""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np

from jepa_torus import data as D


def _batch(rng: np.random.Generator, colour: np.ndarray, n: int, offset: int) -> dict:
    labels = [(offset + i) % 10 for i in range(n)]
    images = colour[labels] + rng.normal(0, 25, size=(n, 3, 32, 32))
    images = np.clip(images, 0, 255).astype(np.uint8)
    return {b"batch_label": b"synthetic", b"labels": labels, b"data": images.reshape(n, 3072),
            b"filenames": [f"synthetic_{offset + i}.png".encode() for i in range(n)]}


def write_cifar10(root, n_train: int, n_test: int, seed: int = 0) -> dict:
    """Write the six batch files (n_train split over the five training batches); returns
    {file name: md5}."""
    spec = D.CIFAR_ARCHIVES["cifar10"]
    folder = Path(root) / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    colour = rng.integers(40, 216, size=(10, 3, 1, 1))                      # one colour per class, every file
    sizes = [n_train // 5 + (i < n_train % 5) for i in range(5)] + [n_test]
    md5, offset = {}, 0
    for name, n in zip(spec.train + spec.test, sizes):
        blob = pickle.dumps(_batch(rng, colour, n, offset), protocol=2)
        (folder / name).write_bytes(blob)
        md5[name] = hashlib.md5(blob, usedforsecurity=False).hexdigest()
        offset += n
    return md5


def accept(md5: dict, n_train: int, n_test: int):
    """Make this process's checks take the synthetic files; returns a function that undoes it."""
    saved = dict(D.SPLIT_SIZES["cifar10"]), dict(D.CIFAR_BATCH_MD5["cifar10"])
    D.SPLIT_SIZES["cifar10"] = {"train": n_train, "test": n_test}
    D.CIFAR_BATCH_MD5["cifar10"] = dict(md5)

    def restore():
        D.SPLIT_SIZES["cifar10"], D.CIFAR_BATCH_MD5["cifar10"] = saved
    return restore
