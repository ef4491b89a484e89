"""What the hard world's embeddings carry besides the angles.

    python -m jepa_torus.nuisance_probe --profile cpu --out runs/cpu/nuisance_probe.json

For every finished nuisance_torus run of a profile: the embedding z of its test images
(features.npz, the points the instrument read) against the nuisance of those images
(``nuisance_torus.nuisance_factors``: polarity, polarity x contrast, the background's band
coefficients, the image mean), each scored by ``linear_decoding`` (out-of-fold ridge R^2, the
read-out of ``metrics.circular_decoding`` for other targets).  A method that learned the views' invariance reads ~0 on all of them; the supervised
reference, which was never asked to be invariant, need not.  ``make paper`` runs it after the
runs; ``jepa_torus.report`` quotes it where the paper discusses the JEPA rows.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import runs
from .files import atomic_write_text

DATASET = "nuisance_torus"
FACTORS = ("polarity", "polarity_contrast", "background", "image_mean")


def linear_decoding(z, targets, n_splits: int = 5, seed: int = 0) -> float:
    """How linearly readable per-point targets (n,) or (n, m) are from embeddings z (n, d): the
    out-of-fold R^2 of a ridge regression (RidgeCV on standardised z, seeded K-fold), per target
    column, clipped at 0, averaged over the columns."""
    import numpy as np
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(z, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or len(y) != len(x) or len(x) < 2 * n_splits:
        raise ValueError(f"z must be (n, d) and targets (n,) or (n, m) with n >= {2 * n_splits}; got {x.shape}, {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("z or targets contain NaN or inf")
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    pred = cross_val_predict(model, x, y, cv=KFold(n_splits, shuffle=True, random_state=seed))
    return float(np.clip(r2_score(y, pred, multioutput="raw_values"), 0.0, 1.0).mean())


def probe(profile: str) -> dict:
    """{"rows": [{"name", "seed", <factor>: R^2, ...}]} over the profile's finished runs."""
    from .data import load_dataset
    from .nuisance_torus import nuisance_factors

    rows, factors = [], {}
    for rec in runs.finished(profile):
        if rec.get("dataset") != DATASET:
            continue
        feats = runs.read_features(rec["run_dir"])
        if feats is None or "index" not in feats:
            continue
        # the test images depend on the run's nuisance setting (data.nuisance): one split per setting
        nuisance = runs.read_config(rec["run_dir"]).get("data", {}).get("nuisance") or {}
        key = json.dumps(nuisance, sort_keys=True)
        if key not in factors:
            split = load_dataset(DATASET, "test", nuisance=nuisance)
            factors[key] = nuisance_factors(split.images.numpy(), split.clean.numpy())
        idx, z = feats["index"], feats["features"]
        rows.append({"name": rec["name"], "seed": rec["seed"],
                     **{f: round(linear_decoding(z, factors[key][f][idx]), 4) for f in FACTORS}})
    return {"dataset": DATASET, "factors": list(FACTORS), "rows": sorted(rows, key=lambda r: (r["name"], r["seed"]))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jepa_torus.nuisance_probe", description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="cpu")
    p.add_argument("--out", type=Path, help="JSON file to write (default: print only)")
    a = p.parse_args(argv)
    doc = probe(a.profile)
    for r in doc["rows"]:
        print(f"{r['name']:32s} seed {r['seed']}  " + "  ".join(f"{f} {r[f]:.2f}" for f in FACTORS))
    if a.out is not None:
        atomic_write_text(a.out, json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
