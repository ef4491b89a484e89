"""The run layout, in one place: where a run's files live and how they are read.

    runs/<profile>/<dataset>/<name>/seed<k>/
        config.yaml      the resolved config (jepa_torus.config), grouped by section
        provenance.json  git commit, package versions, device, seed, start time
        metrics.jsonl    one JSON line per logged step and per finished epoch
        last.pt, prev.pt checkpoints (jepa_torus.files), not committed
        features.npz     the test features the topology metrics analysed
        final.json       the evaluation; its presence means "finished"

Training (train.py), the plan (plan.py), the report (report.py) and the notebooks all go
through these functions; nothing else spells the layout out.  A finished run is
identified by what its final.json says (dataset, config name, seed), not by its path.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from .files import read_jsonl

SOURCE = Path(__file__).resolve().parent.parent   # the folder that holds the package


def _is_checkout(folder: Path) -> bool:
    """A source checkout (pyproject.toml and configs/ beside the package), not site-packages."""
    return (folder / "pyproject.toml").is_file() and (folder / "configs" / "profiles.yaml").is_file()


# The repository (runs/, reports/, paper/ live here).  Installed without its sources
# (pip install ., not -e), the package lives in site-packages: its outputs then go under the
# working directory at import time, never into site-packages.
REPO = SOURCE if _is_checkout(SOURCE) else Path.cwd().resolve()
RUNS = REPO / "runs"

CONFIG, PROVENANCE, METRICS, FINAL, FEATURES = "config.yaml", "provenance.json", "metrics.jsonl", "final.json", "features.npz"
CHECKPOINT = "last.pt"


def run_id(dataset: str, name: str, seed: int) -> str:
    """"torus_world/toroidal_N12/seed0": the name of a run inside its profile."""
    return f"{dataset}/{name}/seed{seed}"


def run_dir(profile: str, dataset: str, name: str, seed: int) -> Path:
    """The default folder of a run: runs/<profile>/<dataset>/<name>/seed<k>."""
    return RUNS / profile / run_id(dataset, name, seed)


def read_final(folder) -> dict | None:
    """final.json of a run folder, or None while the run is not finished."""
    path = Path(folder) / FINAL
    return json.loads(path.read_text()) if path.exists() else None


def read_metrics(folder) -> list[dict]:
    """The lines of metrics.jsonl (steps and epoch ends; a line cut by a kill is skipped)."""
    path = Path(folder) / METRICS
    return read_jsonl(path) if path.exists() else []


def read_config(folder) -> dict:
    """config.yaml of a run folder as a nested mapping (jepa_torus.config.Config.to_dict)."""
    return yaml.safe_load((Path(folder) / CONFIG).read_text())


def read_features(folder) -> dict | None:
    """features.npz (arrays by name), or None when the run saved none."""
    path = Path(folder) / FEATURES
    if not path.exists():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def finished(profile: str) -> list[dict]:
    """Every finished run of a profile: its final.json plus "name" (the config name it was run
    under, final.json's "config") and "run_dir"."""
    out = []
    for path in sorted((RUNS / profile).glob("*/*/seed*/" + FINAL)):
        rec = json.loads(path.read_text())
        rec["name"] = rec["config"]
        rec["run_dir"] = str(path.parent)
        out.append(rec)
    return out
