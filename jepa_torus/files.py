"""Result files that survive a kill, a full disk and a flipped bit.

Every writer here goes to a temporary name in the same folder, fsyncs and renames, so a
reader sees the old file or the new one, never half of one; a failed write (ENOSPC, EIO,
a read-only or unwritable folder, a folder that cannot be created) leaves the old file as it
was and raises ``OutputError`` naming the file and the reason: the one error type of every
writer (train, eval, report, plan all write through here; ``ensure_dir`` and
``open_append`` are the guarded ``mkdir`` and append).

Checkpoints carry a checksum: ``MAGIC + sha256(payload) + payload`` with payload the
``torch.save`` bytes.  ``load_checkpoint`` verifies it (a truncated or bit-flipped file is
a ``CheckpointError`` naming the file); ``load_latest`` falls back from last.pt to prev.pt
with a warning.  Files written before the checksum existed (plain torch zips) still load.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import stat
import warnings
from pathlib import Path

MAGIC = b"JEPA-TORUS-CKPT\x01"  # 16 bytes, then 32 bytes of sha256, then torch.save's bytes
_DIGEST = 32


class OutputError(OSError):
    """A result could not be written (disk full, read-only, ...); earlier files are intact."""


class CheckpointError(RuntimeError):
    """A checkpoint is truncated, corrupted or not ours."""


# --------------------------------------------------------------------------- atomic writes
def _kept(path: Path) -> str:
    """What a failed write left behind, for its error message."""
    return f"the earlier {path.name} is unchanged" if path.exists() else "nothing was written"


def _advice(e: OSError) -> str:
    """What to do about a failed write, by its cause."""
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "free some space or choose another output folder"
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the folder is read-only or not writable: choose another output folder or make it writable"
    return "choose another output folder"


def _unlink_quiet(path: Path) -> None:
    """Remove a temporary file if we can; on a read-only folder unlink itself fails (EROFS),
    and that must not replace the error being reported."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def ensure_dir(folder) -> Path:
    """``mkdir -p`` whose failure (read-only parent, a file in the way) is an OutputError."""
    folder = Path(folder)
    if folder.is_dir():
        return folder
    if folder.exists() or folder.is_symlink():
        raise OutputError(errno.ENOTDIR, f"could not create folder {folder}: a file of that name is in the way; "
                                         "nothing was written (choose another output folder)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(e.errno, f"could not create folder {folder} ({e.strerror or e}); nothing was written "
                                   f"({_advice(e)})") from None
    return folder


def check_writable(path) -> None:
    """Before long work whose result goes to ``path``: an OutputError now if it could not be
    written (a folder in its place, a file in the way of its folder, a read-only or
    unwritable folder).  Writes nothing."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(errno.EISDIR, f"could not write {path}: it is a folder (give a file name)")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the folder that would be created in
    if not folder.is_dir():
        raise OutputError(errno.ENOTDIR, f"could not write {path}: {folder} is a file, not a folder "
                                         "(choose another output path)")
    if not os.access(folder, os.W_OK | os.X_OK):
        try:
            read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        except OSError:
            read_only = False
        code = errno.EROFS if read_only else errno.EACCES
        raise OutputError(code, f"could not write {path} ({os.strerror(code)}: {folder}); nothing was written "
                                f"({_advice(OSError(code, ''))})")


def _write_tmp(path: Path, payload: bytes) -> Path:
    """payload -> a hidden temporary file beside path (fsynced); returns its name."""
    ensure_dir(path.parent)
    if path.is_dir():
        raise OutputError(errno.EISDIR, f"could not write {path}: it is a folder; nothing was written "
                                        "(choose another file name)")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        _unlink_quiet(tmp)
        raise OutputError(e.errno, f"could not write {path} ({e.strerror or e}); {_kept(path)}"
                                   f" ({_advice(e)})") from None
    except BaseException:
        _unlink_quiet(tmp)
        raise
    return tmp


def _rename(tmp: Path, path: Path) -> None:
    try:
        os.replace(tmp, path)
    except OSError as e:
        _unlink_quiet(tmp)
        raise OutputError(e.errno, f"could not write {path} (rename failed: {e.strerror or e}); {_kept(path)}"
                                   f" ({_advice(e)})") from None


def atomic_write_bytes(path, payload: bytes) -> None:
    """Write to a temporary name in the same folder, fsync, rename: a reader sees the old
    file or the new one, never half of one."""
    path = Path(path)
    _rename(_write_tmp(path, payload), path)


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def open_append(path):
    """Open an append-only log; a folder that refuses it is an OutputError."""
    path = Path(path)
    ensure_dir(path.parent)
    try:
        return open(path, "a")
    except OSError as e:
        raise OutputError(e.errno, f"could not open {path} for appending ({e.strerror or e}); {_kept(path)}"
                                   f" ({_advice(e)})") from None


def append_line(f, path, line: str) -> None:
    """One line to an append-only log (a line cut by a kill is dropped by its readers)."""
    try:
        f.write(line + "\n")
        f.flush()
    except OSError as e:
        raise OutputError(e.errno, f"could not append to {path} ({e.strerror or e}); "
                                   "lines written before are kept") from None


def read_jsonl(path) -> list[dict]:
    """The complete lines of a JSON-lines log; a last line cut by a kill is skipped."""
    out = []
    for line in Path(path).read_bytes().decode("utf-8", errors="replace").splitlines():  # a flipped bit: a bad line
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def remove_stale_tmp(folder) -> None:
    """Temporary files left by a killed writer (SIGKILL runs no cleanup)."""
    for p in Path(folder).glob(".*.tmp*"):
        _unlink_quiet(p)


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path, state: dict) -> None:
    """Checksummed torch.save; the previous checkpoint is kept as prev.pt.

    Order: new file complete on disk, then last.pt -> prev.pt, then new -> last.pt.  A kill
    between the two renames leaves prev.pt (loaded by ``load_latest``); a failed write
    leaves both old files untouched."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    path = Path(path)
    tmp = _write_tmp(path, MAGIC + hashlib.sha256(payload).digest() + payload)
    if path.exists():
        _rename_keep(path, path.with_name("prev.pt"), tmp)
    _rename(tmp, path)


def _rename_keep(src: Path, dst: Path, tmp: Path) -> None:
    try:
        os.replace(src, dst)
    except OSError as e:
        _unlink_quiet(tmp)
        raise OutputError(e.errno, f"could not move {src} to {dst} ({e.strerror or e}); both are unchanged"
                                   f" ({_advice(e)})") from None


def _reason(e: Exception) -> str:
    """A loader's complaint, short, without torch's advice to retry with weights_only=False
    (that would run the file's code: never for a file that failed its checks)."""
    first = (str(e).strip().splitlines() or [""])[0]
    if not first or "weights_only" in first.lower() or "weights only" in first.lower() or len(first) > 200:
        return type(e).__name__
    return f"{type(e).__name__}: {first}"


def checkpoint_file(path) -> Path:
    """``path`` if it can be a checkpoint: a folder or a device, pipe or socket is a
    CheckpointError naming it (reading a pipe would block); a missing file is left to the
    reader (FileNotFoundError)."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file; pass the checkpoint in it "
                              f"({path / 'last.pt'})")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        raise CheckpointError(f"{path} is not a regular file (a device, a pipe or a socket); pass a checkpoint file")
    return path


def load_checkpoint(path, map_location="cpu") -> dict:
    """Verify the checksum, then torch.load with weights_only=True (no code execution).
    A missing file is a FileNotFoundError; a folder, a device or an unreadable file, a
    damaged or foreign one, a CheckpointError naming the path."""
    import torch

    path = checkpoint_file(path)
    try:
        blob = path.read_bytes()  # FileNotFoundError passes through
    except FileNotFoundError:
        raise
    except OSError as e:
        raise CheckpointError(f"checkpoint {path} cannot be read ({e.strerror or e})") from None
    if blob.startswith(MAGIC):
        digest, payload = blob[len(MAGIC):len(MAGIC) + _DIGEST], blob[len(MAGIC) + _DIGEST:]
        if len(digest) < _DIGEST or hashlib.sha256(payload).digest() != digest:
            raise CheckpointError(f"checkpoint {path} is damaged (sha256 mismatch: truncated or corrupted, "
                                  f"{len(blob)} bytes)")
    else:
        payload = blob  # written before checksums: torch's zip checks are all we have
    try:
        with warnings.catch_warnings():  # torch's notes on foreign pickles would only add noise to the error
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, bad pickle, wrong magic, a foreign object...
        raise CheckpointError(f"checkpoint {path} is damaged or not a jepa_torus checkpoint "
                              f"({_reason(e)})") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise CheckpointError(f"checkpoint {path} is not a jepa_torus checkpoint (no 'model'/'config' entries)")
    return state


def load_latest(path, map_location="cpu", rename_damaged: bool = True, check=None) -> dict | None:
    """The checkpoint to resume from: ``path`` (last.pt), else prev.pt beside it with a
    warning (a damaged last.pt is renamed *.damaged, so the next save keeps prev.pt; only
    one process may rename); None when neither exists; CheckpointError when every
    candidate is damaged.  ``check(state, path)`` is called on the chosen checkpoint before
    anything is renamed (it raises for a checkpoint of another config)."""
    path = Path(path)
    prev = path.with_name("prev.pt")
    errors = []
    for p in (path, prev):
        try:
            state = load_checkpoint(p, map_location)
        except FileNotFoundError:
            continue  # never written, or renamed by rank 0 while we looked
        except CheckpointError as e:
            errors.append(str(e))
            continue
        if check is not None:
            check(state, p)
        if p == prev:
            why = errors[0] if errors else f"{path} is missing (killed between two renames)"
            if errors and rename_damaged and path.exists():
                damaged = path.with_name(path.name + ".damaged")
                try:
                    os.replace(path, damaged)
                except OSError as e:
                    raise OutputError(e.errno, f"could not rename the damaged {path} to {damaged.name} "
                                               f"({e.strerror or e}); nothing was changed ({_advice(e)})") from None
                why += f"; it was renamed {path.name}.damaged"
            warnings.warn(f"{why}. Resuming from the previous checkpoint {prev} instead.", RuntimeWarning, stacklevel=2)
        return state
    if not errors:
        return None
    which = "it" if len(errors) == 1 else f"both ({path.name}, {prev.name})"
    raise CheckpointError("; ".join(errors) + f". No intact checkpoint is left in {path.parent}. Delete {which} "
                          "to restart the run from scratch (config.yaml is kept; metrics.jsonl is rewritten).")
