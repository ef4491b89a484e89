"""The paper's experiment plan: which runs each profile makes, and how one is executed.

    python -m jepa_torus.plan list --profile cpu        # the runs, one per line
    python -m jepa_torus.plan makefile --profile cpu    # make rules (runs/<profile>/plan.mk)
    python -m jepa_torus.plan run --profile cpu --run torus_world/toroidal_N12/seed0
    python -m jepa_torus.plan notebook NAME --profile cpu   # analyze | ablate | figures

A run executes notebooks/train.ipynb with papermill (so every run has a report a person
can read) and renders it as HTML; the notebook calls ``jepa_torus.train``, which resumes an
interrupted run and skips a finished one.  Stage timings go to reports/<profile>/timings.jsonl.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import runs
from .config import PROFILE_NAMES
from .files import atomic_write_text, read_jsonl

# The main comparison (paper Table 1): every regulariser and predictor, same encoder.
MAIN = ["baseline_vicreg", "baseline_sigreg", "hybrid", "toroidal_N8", "toroidal_N12", "toroidal_N16",
        "toroidal_head_N12", "hamjepa"]
TORUS_WEIGHTS = [0.01, 0.1, 10.0]   # the toroidal weight sweep; 1.0 is toroidal_N12 itself
DATASET_KEYS = {"fashion_mnist": "fmnist", "torus_world": "torus", "cifar10": "cifar10", "cifar100": "cifar100"}

# profile -> data set -> which groups run there, with which seeds.
# The CPU profile spends its budget on few, longer Fashion-MNIST runs and on three seeds of
# the cheap torus_world runs, where the ablations live (README, "CPU profile").
PROFILES = {
    "smoke": {"fashion_mnist": {"seeds": [0], "groups": ["main", "baseline"]},
              "torus_world": {"seeds": [0, 1], "groups": ["main", "torus_weight", "predictor", "baseline"]}},
    "cpu": {"fashion_mnist": {"seeds": [0], "groups": ["main", "baseline"]},
            "torus_world": {"seeds": [0, 1, 2], "groups": ["main", "torus_weight", "predictor", "baseline"]}},
    "gpu": {"cifar10": {"seeds": [0, 1, 2], "groups": ["main", "torus_weight", "predictor", "baseline"]},
            "fashion_mnist": {"seeds": [0, 1, 2], "groups": ["main", "baseline"]},
            "torus_world": {"seeds": [0, 1, 2], "groups": ["main", "torus_weight", "predictor", "baseline"]}},
}
NOTEBOOKS = ("analyze", "ablate", "figures")


@dataclass(frozen=True)
class Run:
    config: str                  # configs/<config>.yaml
    dataset: str
    seed: int
    group: str = "main"          # main | torus_weight | predictor | baseline
    overrides: tuple = field(default=())  # (("objective.loss.torus_weight", 0.1), ...)
    label: str = ""              # name suffix for the overrides

    @property
    def name(self) -> str:
        return self.config + (f"_{self.label}" if self.label else "")

    @property
    def id(self) -> str:
        return runs.run_id(self.dataset, self.name, self.seed)

    def dir(self, profile: str) -> Path:
        return runs.run_dir(profile, self.dataset, self.name, self.seed)

    def override_dict(self) -> dict:
        return {"data.dataset": self.dataset, "run.seed": self.seed, "run.name": self.name, **dict(self.overrides)}


def torus_weight_run(weight: float) -> str:
    """The name of the torus-weight sweep's run at ``weight`` (toroidal_N12 is weight 1)."""
    return "toroidal_N12" if weight == 1.0 else f"toroidal_N12_torus_weight{weight:g}"


def runs_for(profile: str) -> list[Run]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    out = []
    for dataset, spec in PROFILES[profile].items():
        for seed in spec["seeds"]:
            groups = spec["groups"]
            if "main" in groups:
                out += [Run(c, dataset, seed) for c in MAIN]
            if "torus_weight" in groups:
                out += [Run("toroidal_N12", dataset, seed, "torus_weight", (("objective.loss.torus_weight", w),),
                            f"torus_weight{w:g}") for w in TORUS_WEIGHTS]
            if "predictor" in groups:
                out.append(Run("hamjepa_mlp", dataset, seed, "predictor"))
            if "baseline" in groups:  # the untrained encoder (same architecture, 0 epochs) and raw pixels
                out.append(Run("baseline_vicreg", dataset, seed, "baseline", (("optim.epochs", 0),), "random_init"))
                if seed == spec["seeds"][0]:  # deterministic: one seed is enough
                    out.append(Run("raw_pixels", dataset, seed, "baseline"))
    return out


def find_run(profile: str, run_id: str) -> Run:
    for r in runs_for(profile):
        if r.id == run_id:
            return r
    raise ValueError(f"no run {run_id!r} in profile {profile!r}; `python -m jepa_torus.plan list --profile {profile}`")


def makefile(profile: str) -> str:
    """Make rules: one target per run (its final.json), plus RUNS_<profile> listing them all."""
    runs = runs_for(profile)
    lines = [f"# generated by `python -m jepa_torus.plan makefile --profile {profile}`; do not edit",
             f"RUNS_{profile} := " + " ".join(f"runs/{profile}/{r.id}/final.json" for r in runs), ""]
    for r in runs:
        lines += [f"runs/{profile}/{r.id}/final.json: configs/{r.config}.yaml | $(STAMP)",
                  f"\t$(PY) -m jepa_torus.plan run --profile {profile} --run {r.id}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- execution
def stage_seconds(profile: str) -> dict:
    """stage -> seconds from reports/<profile>/timings.jsonl, each stage at its longest
    record: on a fresh clone a finished run's notebook only re-renders its report in
    seconds, which must not replace the time its training took."""
    path = runs.REPO / "reports" / profile / "timings.jsonl"
    longest: dict = {}
    for rec in (read_jsonl(path) if path.exists() else []):
        longest[rec["stage"]] = max(rec["seconds"], longest.get(rec["stage"], 0.0))
    return longest


def _record_time(profile: str, stage: str, seconds: float) -> None:
    """One line appended in one write; readers skip a line cut by a kill (files.read_jsonl)."""
    path = runs.REPO / "reports" / profile / "timings.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps({"stage": stage, "seconds": round(seconds, 1), "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")


def execute_notebook(name: str, report: Path, parameters: dict, profile: str, stage: str) -> None:
    """papermill notebooks/<name>.ipynb -> report (.ipynb), then an HTML rendering beside it."""
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    report.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    partial = report.with_name(report.stem + ".partial.ipynb")
    try:
        pm.execute_notebook(str(runs.REPO / "notebooks" / f"{name}.ipynb"), str(partial), parameters=parameters,
                            cwd=str(runs.REPO), progress_bar=False, kernel_name="python3")
    except pm.PapermillExecutionError as e:
        # The executed notebook with the error in it stays at `partial` for reading.
        raise SystemExit(f"error: notebook {name} failed ({e.ename}: {e.evalue}); the executed notebook is {partial}")
    partial.replace(report)
    # the bootstrap cell (clone/install, chdir) is for Colab users, not for readers of a report
    hide = Config({"TagRemovePreprocessor": {"enabled": True, "remove_cell_tags": ["bootstrap"]}})
    html, _ = HTMLExporter(config=hide).from_notebook_node(nbformat.read(report, as_version=4))
    atomic_write_text(report.with_suffix(".html"), html)  # the make target: written last, atomically
    _record_time(profile, stage, time.time() - t0)


def run_one(profile: str, run_id: str) -> None:
    r = find_run(profile, run_id)
    report = runs.REPO / "reports" / profile / "runs" / (r.id.replace("/", "__") + ".ipynb")
    params = {"config": f"configs/{r.config}.yaml", "profile": profile,
              "overrides": json.dumps(r.override_dict()), "output_dir": str(r.dir(profile).relative_to(runs.REPO))}
    execute_notebook("train", report, params, profile, f"run:{r.id}")


def run_notebook(name: str, profile: str) -> None:
    if name not in NOTEBOOKS:
        raise SystemExit(f"error: unknown notebook {name!r}; valid: {', '.join(NOTEBOOKS)}")
    execute_notebook(name, runs.REPO / "reports" / profile / f"{name}.ipynb", {"profile": profile}, profile, name)


def write_index(profile: str) -> Path:
    """reports/<profile>/index.html linking every HTML report."""
    root = runs.REPO / "reports" / profile
    items = sorted(p.relative_to(root) for p in root.rglob("*.html") if p.name != "index.html")
    timings = stage_seconds(profile)
    rows = []
    for p in items:
        stage = p.stem if p.parent == Path(".") else "run:" + p.stem.replace("__", "/")
        sec = timings.get(stage)
        rows.append(f'<li><a href="{p}">{p.stem.replace("__", " / ")}</a>'
                    + (f" <small>({sec / 60:.1f} min)</small>" if sec else "") + "</li>")
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>jepa-torus reports ({profile})</title></head>"
            f"<body><h1>jepa-torus: executed notebooks, profile <code>{profile}</code></h1>"
            f"<p>Paper: <a href='../../paper/main.pdf'>paper/main.pdf</a></p><ul>{''.join(rows)}</ul></body></html>")
    atomic_write_text(root / "index.html", html)
    return root / "index.html"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jepa_torus.plan", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["list", "makefile", "run", "notebook", "index"])
    p.add_argument("name", nargs="?", help="notebook name for `notebook`")
    p.add_argument("--profile", default="cpu", choices=PROFILE_NAMES)
    p.add_argument("--run", help="run id (dataset/name/seedK) for `run`")
    a = p.parse_args(argv)
    if a.command == "list":
        for r in runs_for(a.profile):
            done = (r.dir(a.profile) / "final.json").exists()
            print(f"{'done ' if done else 'todo '} {r.group:9s} {r.id}")
    elif a.command == "makefile":
        print(makefile(a.profile))
    elif a.command == "run":
        if not a.run:
            p.error("run needs --run dataset/name/seedK")
        run_one(a.profile, a.run)
    elif a.command == "notebook":
        run_notebook(a.name, a.profile)
    else:
        print(write_index(a.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
