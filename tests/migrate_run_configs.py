"""One-off migration (issue 11, 2026-12-02) of committed run folders to the regrouped config.

    python tests/migrate_run_configs.py [--root runs] [--dry-run]

* config.yaml: the flat mapping of jepa_torus <= 0.1 (lr, epochs, loss, ... at top level)
  becomes the sectioned one of jepa_torus.config (data / model / objective / optim / eval /
  run); values are unchanged.
* The torus-weight sweep's runs are named after the quantity: toroidal_N12_lam0.1 ->
  toroidal_N12_torus_weight0.1 (folder, config.yaml's run.name, final.json's "config", and the
  stage names in reports/<profile>/timings.jsonl).
Idempotent: a folder already migrated is left alone.  Checkpoints (not committed) keep their
flat config inside: training resumes from them (it reads config.yaml), but
``python -m jepa_torus.eval --checkpoint`` needs a checkpoint written after the change.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import yaml

SECTIONS = {
    "data": {"dataset": "dataset", "data_root": "root", "download": "download", "train_subset": "train_subset",
             "augment": "augment"},
    "objective": {"loss": "loss", "torus_head_weight": "torus_head_weight", "floor_weight": "floor_weight",
                  "potential_warmup_epochs": "potential_warmup_epochs", "ema_momentum": "ema_momentum"},
    "optim": {k: k for k in ("epochs", "batch_size", "lr", "weight_decay", "warmup_epochs", "min_lr_ratio")},
    "run": {k: k for k in ("name", "profile", "seed", "device", "threads", "checkpoint_minutes", "log_every", "progress")},
}
OLD_LABEL = re.compile(r"_lam([0-9.e+-]+)$")


def new_name(name: str) -> str:
    return OLD_LABEL.sub(r"_torus_weight\1", name)


def regroup(flat: dict) -> dict:
    """A flat config (<= 0.1) as the sectioned one; every key is placed exactly once."""
    out = {"model": flat["model"], "eval": flat["eval"]}
    for section, keys in SECTIONS.items():
        out[section] = {new: flat[old] for old, new in keys.items() if old in flat}
    placed = {"model", "eval"} | {k for keys in SECTIONS.values() for k in keys}
    left = sorted(set(flat) - placed)
    if left:
        raise SystemExit(f"unexpected keys {left} in a flat config: migrate by hand")
    out["run"]["name"] = new_name(out["run"]["name"])
    return out


def migrate(root: Path, dry: bool) -> None:
    for cfg_path in sorted(root.glob("*/*/*/seed*/config.yaml")):
        doc = yaml.safe_load(cfg_path.read_text())
        if "optim" not in doc:
            print("config.yaml regrouped:", cfg_path)
            if not dry:
                cfg_path.write_text(yaml.safe_dump(regroup(doc), sort_keys=True))
        final = cfg_path.parent / "final.json"
        if final.exists():
            rec = json.loads(final.read_text())
            if rec["config"] != new_name(rec["config"]):
                print("final.json renamed:", final)
                rec["config"] = new_name(rec["config"])
                if not dry:
                    final.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    for folder in sorted(root.glob("*/*/*")):
        if folder.is_dir() and new_name(folder.name) != folder.name:
            print("folder renamed:", folder, "->", new_name(folder.name))
            if not dry:
                folder.rename(folder.with_name(new_name(folder.name)))
    for timings in sorted(root.parent.glob("reports/*/timings.jsonl")):
        text = timings.read_text()
        renamed = re.sub(r"(toroidal_N12)_lam([0-9.e+-]+)/", r"\1_torus_weight\2/", text)
        if renamed != text:
            print("stage names renamed:", timings)
            if not dry:
                timings.write_text(renamed)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="runs", type=Path)
    p.add_argument("--dry-run", action="store_true")
    a = p.parse_args()
    migrate(a.root, a.dry_run)
