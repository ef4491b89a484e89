"""The run layout, in one place: where a run's files live and how they are read.

    runs/<profile>/<dataset>/<name>/seed<k>/
        config.yaml      the resolved config (jepa_torus.config), grouped by section
        provenance.json  git commit, package versions, device, seed, start time
        metrics.jsonl    one JSON line per logged step and per finished epoch
        last.pt, prev.pt checkpoints (jepa_torus.files), not committed
        features.npz     the test features the topology metrics analysed
        final.json       the evaluation; its presence means "finished"
        weights.pt       the final model's weights alone (the central runs; committed, 1-3 MB)

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
WEIGHTS = "weights.pt"


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


def export_weights(folder) -> Path:
    """Write <folder>/weights.pt: the finished run's model state_dict alone (float32), from its
    checkpoint (checksum verified), for ``load_run``.  A few MB instead of the checkpoint's
    optimiser state; torch.save of tensors only, so it loads with weights_only=True."""
    import io

    import torch

    from .files import atomic_write_bytes, load_checkpoint

    folder = Path(folder)
    if read_final(folder) is None:
        raise ValueError(f"{folder} is not a finished run (no {FINAL}): nothing to export")
    state = load_checkpoint(folder / CHECKPOINT)["model"]
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in state.items()}, buf)
    atomic_write_bytes(folder / WEIGHTS, buf.getvalue())
    return folder / WEIGHTS


def load_run(folder):
    """(model, config) of a finished run: the network built from its config.yaml with the
    weights of weights.pt (or of its checkpoint), in eval mode, on the CPU.

        model, cfg = jepa_torus.load_run("runs/cpu/fashion_mnist/baseline_vicreg/seed0")
        out = model(x)   # x: (B, C, H, W) normalised as jepa_torus.data.normalize does; out["h"], out["z"]
    """
    from dataclasses import asdict

    import torch

    from . import models
    from .config import Config
    from .files import load_checkpoint

    folder = Path(folder)
    cfg = Config.from_dict(read_config(folder))
    model = models.build_model(asdict(cfg.model))
    if (folder / WEIGHTS).exists():
        state = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
    else:
        state = load_checkpoint(folder / CHECKPOINT)["model"]
    model.load_state_dict(state)
    return model.eval(), cfg
