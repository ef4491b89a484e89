"""One GPU per job when make runs the plan's runs side by side: ``make -j<number of GPUs>``.

    with claim_gpu() as gpu:      # "3", or None when there is nothing to choose
        ...                       # CUDA_VISIBLE_DEVICES is that GPU alone for this block

``plan run`` (the command of every run's make rule) takes a GPU this way before it starts
the run's notebook, whose kernel inherits CUDA_VISIBLE_DEVICES, so the run sees one device
and trains on it as cuda:0.  A GPU is taken with an exclusive ``flock`` on a file
``gpu<id>.lock`` in one folder per machine ($JEPA_TORUS_GPU_LOCK_DIR, else
<tmp>/jepa-torus-gpu-locks): the kernel drops the lock when the job ends, however it ends
(SIGKILL included), so nothing is left to clean up; a job that finds every GPU taken waits
for one.  That is all the scheduling there is: make decides how many jobs run (-j), the
lock decides which GPU each one gets.

Nothing is locked when at most one GPU is visible (a CPU machine; a Slurm task, which is
given its own GPU; one GPU that the jobs share) or when JEPA_TORUS_GPU_LOCK=0.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import sys
import tempfile
import time
from pathlib import Path


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES names them (ids or UUIDs);
    without it, 0 .. device_count - 1."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def lock_dir() -> Path:
    return Path(os.environ.get("JEPA_TORUS_GPU_LOCK_DIR") or Path(tempfile.gettempdir()) / "jepa-torus-gpu-locks")


def _try_lock(folder: Path, gpu: str) -> int | None:
    """An open descriptor holding the GPU's lock, or None when another job holds it."""
    path = folder / f"gpu{re.sub(r'[^A-Za-z0-9_.-]', '_', gpu)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a person looking
    return fd


@contextlib.contextmanager
def claim_gpu(poll_s: float = 10.0, what: str = "this run"):
    """Hold one free GPU for the block (see the module docstring); yields its id or None."""
    gpus = visible_gpus()
    if len(gpus) <= 1 or os.environ.get("JEPA_TORUS_GPU_LOCK", "1") == "0":
        yield None
        return
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # shared by every user of the machine, as /tmp is
        os.chmod(folder, 0o1777)
    told = False
    while True:
        for gpu in gpus:
            fd = _try_lock(folder, gpu)
            if fd is None:
                continue
            saved = os.environ.get("CUDA_VISIBLE_DEVICES")
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu
            try:
                yield gpu
            finally:
                if saved is None:
                    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                else:
                    os.environ["CUDA_VISIBLE_DEVICES"] = saved
                os.close(fd)  # releases the lock
            return
        if not told:
            print(f"[jepa_torus] every GPU ({', '.join(gpus)}) is held by another job (locks in {folder}); "
                  f"{what} waits for one", file=sys.stderr, flush=True)
            told = True
        time.sleep(poll_s)
