"""What the hard world's embeddings carry besides the angles.

    python -m jepa_torus.nuisance_probe --profile cpu --out runs/cpu/nuisance_probe.json

For every finished nuisance_torus run of a profile: the embedding z of its test images
(features.npz, the points the instrument read) against the nuisance of those images
(``nuisance_torus.nuisance_factors``: polarity, polarity x contrast, the background's band
coefficients, the image mean), each scored by ``metrics.linear_decoding`` (out-of-fold ridge
R^2, the read-out of ``metrics.circular_decoding`` for other targets).  A method that learned the views' invariance reads ~0 on all of them; the supervised
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


def probe(profile: str) -> dict:
    """{"rows": [{"name", "seed", <factor>: R^2, ...}]} over the profile's finished runs."""
    from .data import load_dataset
    from .metrics import linear_decoding
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
