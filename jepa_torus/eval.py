"""Evaluate an encoder: features of un-augmented images, probes and geometry.

    python -m jepa_torus.eval --checkpoint runs/x/last.pt --linear-probe --analysis [--out eval.json]

``evaluate_run`` is what every training run ends with (train.py writes its result as
final.json); the command line evaluates any checkpoint, which carries its resolved config,
so nothing else is needed.  The result is written atomically as JSON (default: eval.json
beside the checkpoint) and printed.  The test set is scored once, on the final encoder: no
epoch or model is selected on it.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from threadpoolctl import threadpool_limits

from . import metrics
from . import models as M
from .config import Config, ConfigError, validate
from .data import load_split, normalize
from .files import atomic_write_bytes, atomic_write_json, load_checkpoint


def pick_device(name: str) -> torch.device:
    """"auto" -> cuda when available, else cpu; a CUDA device asked for without CUDA is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but CUDA is not available here; use --device cpu")
    return device


class Representation(nn.Module):
    """images (uint8 or [0, 1]) -> the model's representation ``key`` ("h") or embedding ("z"),
    normalised as in training but not augmented: what ``metrics.extract_features`` reads."""

    def __init__(self, model: M.JEPA, info, key: str = "h"):
        super().__init__()
        self.model, self.mean, self.std, self.key = model, info.mean, info.std, key
        self.train(model.training)  # extract_features restores this mode afterwards

    def forward(self, images):
        return self.model(normalize(images, self.mean, self.std))[self.key]


def extract_features(model: M.JEPA, images: torch.Tensor, info, key: str = "h") -> np.ndarray:
    """(N, F) float32 features of ``images`` (on the model's device), in eval mode."""
    return metrics.extract_features(Representation(model, info, key), images, batch_size=512, device=images.device)


def evaluate_run(model: M.JEPA, cfg: Config, device, out_dir: Path | None = None) -> dict:
    """Probes and geometry of the final encoder.  With ``out_dir`` the topology subsample of
    test features is saved as features.npz for the analysis notebook."""
    ev = cfg.eval
    train_split, test_split = load_split(cfg.data, "train"), load_split(cfg.data, "test")
    g = torch.Generator().manual_seed(0)  # the same probe subsets for every run
    tr = torch.randperm(len(train_split), generator=g)[: ev.probe_train or None]
    te = torch.randperm(len(test_split), generator=g)[: ev.probe_test or None]
    info = train_split.info
    def features(images, key="h"):
        if ev.features == "pixels":  # the baseline every SSL number must beat
            return normalize(images, info.mean, info.std).flatten(1).numpy()
        return extract_features(model, images.to(device), info, key)

    # The probes read the representation h (what a downstream task would use); the geometry
    # (topology, torus score, dimensions, circular decoding, label-free angles) reads the
    # embedding z, the one the regularisers shape: on the hard world (nuisance_torus) a
    # trained VICReg's z decodes the angles of training images with R^2 0.89, its h with 0.57 (README).
    f_tr, f_te = features(train_split.images[tr]), features(test_split.images[te])
    g_te = f_te if ev.features == "pixels" else features(test_split.images[te], "z")
    y_tr, y_te = train_split.labels[tr].numpy(), test_split.labels[te].numpy()
    angles = None if test_split.angles is None else test_split.angles[te].numpy()
    # cfg.run.threads holds for numpy/scipy/sklearn's BLAS as well as for torch: left at its
    # default, OpenBLAS spun up one thread per core beside the other run of `make -j2` and a
    # probe of 5 s took 70-380 s (measured in the 2026-12-01 CPU-profile runs).
    # the geometry's points: these test rows, saved as features.npz (the analysis notebook
    # and a later re-analysis read exactly the points the instrument saw)
    keep = np.random.default_rng(0).permutation(len(f_te))[: ev.topology_points]
    with threadpool_limits(limits=cfg.run.threads or None):
        res = _probe_and_analyse(ev, f_tr, y_tr, f_te, y_te, angles, keep, g_te)
    clean = {}
    if test_split.clean is not None:
        # nuisance_torus: the same metrics on the same angles rendered clean (probe bank clean too),
        # under "clean"; the paper's tables use the nuisance test images above (the views'
        # distribution; on clean images raw pixels are a torus by construction)
        c_tr, c_te = features(train_split.clean[tr]), features(test_split.clean[te])
        c_geo = c_te if ev.features == "pixels" else features(test_split.clean[te], "z")
        with threadpool_limits(limits=cfg.run.threads or None):
            res["clean"] = _probe_and_analyse(ev, c_tr, y_tr, c_te, y_te, angles, keep, c_geo)
        clean = {"clean_features": c_geo[keep]}
    if out_dir is not None:
        buf = io.BytesIO()  # atomic like every result: the analysis notebook never reads half a file
        np.savez_compressed(buf, features=g_te[keep], labels=y_te[keep], index=te[keep].numpy(),
                            **({} if angles is None else {"angles": angles[keep]}), **clean)
        atomic_write_bytes(Path(out_dir) / "features.npz", buf.getvalue())
    res.update({"config": cfg.run.name, "profile": cfg.run.profile, "dataset": cfg.data.dataset, "seed": cfg.run.seed})
    return res


def _probe_and_analyse(ev, f_tr, y_tr, f_te, y_te, angles, keep, g_te) -> dict:
    if ev.analysis:
        # the raw-pixel baseline is also the instrument's control: Euclidean metric beside it
        return metrics.evaluate(f_tr, y_tr, f_te, y_te, test_angles=angles, topology_index=keep, knn_k=ev.knn_k,
                                topology_kwargs={"n_landmarks": ev.landmarks}, euclidean_control=ev.features == "pixels",
                                geometry_feats=g_te)
    return {"linear_probe": metrics.linear_probe(f_tr, y_tr, f_te, y_te),
            "knn_accuracy": metrics.knn_accuracy(f_tr, y_tr, f_te, y_te, k=ev.knn_k),
            "effective_rank": metrics.effective_rank(f_te)}


def reanalyse(run_dir, landmarks: int | None = None) -> dict:
    """Re-run the geometry (``metrics.geometry``: topology with resamples, torus score,
    intrinsic dimension, spectral gap ratio, label-free angles) on the points a finished
    run saved (features.npz), and update those fields of its final.json; probes and
    circular decoding are kept.  For runs evaluated by an earlier instrument: no retraining."""
    from . import runs

    run_dir = Path(run_dir)
    final, saved = runs.read_final(run_dir), runs.read_features(run_dir)
    if final is None or saved is None:
        raise ValueError(f"{run_dir} has no final.json or no features.npz: nothing to re-analyse")
    cfg = runs.read_config(run_dir)
    lm = landmarks or cfg["eval"]["landmarks"]
    geo = metrics.geometry(saved["features"], saved.get("angles"), topology_kwargs={"n_landmarks": lm},
                           euclidean_control=cfg["eval"]["features"] == "pixels")
    old = {k: v for k, v in final.get("seconds", {}).items() if k not in ("persistence", "torus_score")}  # the old instrument's
    seconds = {**old, **geo.pop("seconds")}
    final = {k: v for k, v in final.items() if k not in ("topology_euclidean", "label_free_angles")}
    final.update(geo, seconds=seconds, reanalysed="geometry re-run on features.npz by jepa_torus.eval.reanalyse")
    atomic_write_json(run_dir / runs.FINAL, final)
    return final


def evaluate_checkpoint(path, analysis: bool = True, device: str = "auto") -> dict:
    """Evaluate a checkpoint under the config it records.  A missing file, a folder, a
    damaged or foreign file is a CheckpointError naming the path; the config is validated
    (with ``analysis`` as asked) before anything is computed."""
    from .files import CheckpointError

    path = Path(path)
    dev = pick_device(device)
    try:
        state = load_checkpoint(path, dev)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist (a run's checkpoint is runs/<profile>/<dataset>/"
                              "<name>/seed<k>/last.pt)") from None
    try:
        cfg = Config.from_dict(state["config"])
        cfg.eval.analysis = analysis
        cfg = validate(cfg)
    except ConfigError as e:
        raise ConfigError(f"checkpoint {path}: {e}") from None
    model = M.build_model(asdict(cfg.model)).to(dev)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        why = (str(e).strip().splitlines() or [""])[0][:300]
        raise CheckpointError(f"checkpoint {path}: its weights do not fit the model its config describes "
                              f"({type(e).__name__}: {why})") from None
    result = evaluate_run(model, cfg, dev)
    result["checkpoint"] = str(path)
    result["epoch"] = state.get("epoch")
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jepa_torus.eval", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--linear-probe", action="store_true", help="linear probe and kNN@k (always computed)")
    p.add_argument("--analysis", action="store_true", help="also topology, intrinsic dimension, spectra")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", help="JSON file to write (default: eval.json beside the checkpoint)")
    args = p.parse_args(argv)
    from .config import DEVICE
    from .data import DataError
    from .files import CheckpointError, OutputError, check_writable, checkpoint_file

    out = Path(args.out or Path(args.checkpoint).with_name("eval.json"))
    try:
        if not DEVICE.match(args.device):
            raise ConfigError(f"--device must be auto, cpu, cuda, cuda:<index> or mps, got {args.device!r}")
        index = torch.device(args.device).index if args.device.startswith("cuda:") else None
        if index is not None and index >= torch.cuda.device_count():
            raise ConfigError(f"--device {args.device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
        checkpoint_file(args.checkpoint)  # a folder or a device: named before the output is looked at
        check_writable(out)  # before minutes of evaluation, not after
        result = evaluate_checkpoint(args.checkpoint, analysis=args.analysis, device=args.device)
    except (CheckpointError, ConfigError, DataError, OutputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the system refuses (name too long, a loop of links...): still one line
        print(f"error: {e.strerror or e}: {e.filename}" if e.filename else f"error: {e}", file=sys.stderr)
        return 2
    except (MemoryError, torch.OutOfMemoryError) as e:
        print(f"error: out of memory evaluating {args.checkpoint} on {args.device} ({type(e).__name__}); try "
              "--device cpu, or a machine with more memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    # printed before the write: a failed write loses nothing
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, (dict, list))}, indent=1))
    try:
        atomic_write_json(out, result)
    except OutputError as e:
        print(json.dumps(result, indent=1, sort_keys=True))  # the full result, since it could not be saved
        print(f"error: {e}; the results are printed above (the full JSON last)", file=sys.stderr)
        return 2
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
