"""The paper's experiment plan: which runs each profile makes, and how one is executed.

    python -m jepa_torus.plan list --profile cpu        # the runs, one per line
    python -m jepa_torus.plan makefile --profile cpu    # make rules (runs/<profile>/plan.mk)
    python -m jepa_torus.plan run --profile cpu --run torus_world/toroidal_N12/seed0
    python -m jepa_torus.plan notebook NAME --profile cpu   # analyze | ablate | figures
    python -m jepa_torus.plan weights --profile cpu     # weights.pt of the finished central runs
    python -m jepa_torus.plan estimate --profile gpu    # runs, images, device-hours (jepa_torus.estimate)

    python -m jepa_torus.plan exec -m jepa_torus.report --profile cpu   # any module or script,
    python -m jepa_torus.plan exec tests/bench_losses.py --out x.json  # as make runs them

A run calls ``jepa_torus.train`` as notebooks/train.ipynb does (same config, same folder); the
training resumes an interrupted run and skips a finished one.  Its report (the notebook executed
on the finished run, as HTML) is rendered on demand: `make run-reports`.  Stage timings go to
reports/<profile>/timings.jsonl.
Every command here (and ``exec``, which make uses for the other Python steps) ends on
Ctrl-C with one line saying what was kept and how to resume, and on an unwritable output
with one ``error:`` line naming the path and the reason (files.OutputError); no traceback.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import runpy
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import runs
from .config import PROFILE_NAMES
from .files import OutputError, append_line, ensure_dir, open_append, read_jsonl

# The methods, in the paper's order.  CENTRAL: the paired comparison of the first question
# (3 seeds wherever a profile can afford them); MAIN: every regulariser and predictor.
CENTRAL = ["baseline_vicreg", "baseline_sigreg", "toroidal_N12"]
MAIN = CENTRAL + ["hybrid", "toroidal_N8", "toroidal_N16", "toroidal_head_N12", "hamjepa"]
JEPA = ["jepa_ema_vicreg", "jepa_ema_toroidal_N12"]   # the original's setup: EMA target, MLP predictor, one way
METHODS = MAIN + JEPA   # every self-supervised method: the rows of the results tables
REFERENCE_ROWS = ["supervised_angles", "baseline_vicreg_random_init", "raw_pixels"]   # below them
TORUS_WEIGHTS = [0.01, 0.1, 10.0]   # the toroidal weight sweep; 1.0 is toroidal_N12 itself
DATASET_KEYS = {"fashion_mnist": "fmnist", "torus_world": "torus", "nuisance_torus": "nuisance",
                "nuisance_torus_clean": "clean",
                "cifar10": "cifar10", "cifar100": "cifar100"}
GRID = ["toroidal_N8", "toroidal_N16"]              # the grid-size ablation (N=12 is central)
PREDICTOR = ["hamjepa", "hamjepa_mlp"]               # Hamiltonian vs the parameter-matched MLP predictor
# groups: central | main (the rest of MAIN: hybrid, torus head) | grid | predictor | jepa |
# supervised (nuisance_torus's upper reference, configs/supervised_angles.yaml) | torus_weight |
# baseline (raw pixels, the untrained encoder)
ALL_GROUPS = ["central", "main", "grid", "predictor", "jepa", "supervised", "torus_weight", "baseline"]

# profile -> data set -> [(groups, seeds), ...].  Runs of one profile with the same seed are
# paired (same initialisation and batches), which report's paired intervals use.
# The CPU profile (README, "CPU profile"): 3 paired seeds of the central comparison on
# Fashion-MNIST, of the central, JEPA and reference rows of the hard world's Q2 tables, and of
# the baselines; the hard world's ablations (lambda_T, N, predictor) at one seed; torus_world
# (a torus in pixel space) keeps only the instrument's rows (raw pixels, the untrained encoder).
# Cut for time (README, "Profiles and budget"): the hybrid and the torus head everywhere, and the
# grid and predictor rows on Fashion-MNIST (the gpu profile runs them).
PROFILES = {
    "smoke": {"fashion_mnist": [(["central", "main", "grid", "predictor", "jepa", "baseline"], [0])],
              "torus_world": [(["baseline"], [0, 1])],
              "nuisance_torus": [(["central", "jepa", "supervised", "baseline"], [0, 1]),
                                 (["main", "grid", "torus_weight", "predictor"], [0])]},
    "cpu": {"fashion_mnist": [(["central", "baseline"], [0, 1, 2]), (["jepa"], [0])],
            "nuisance_torus": [(["central", "jepa", "supervised", "baseline"], [0, 1, 2]),
                               (["grid", "torus_weight", "predictor"], [0])],
            "torus_world": [(["baseline"], [0, 1, 2])]},
    "gpu": {"cifar10": [([g for g in ALL_GROUPS if g != "supervised"], [0, 1, 2])],
            "fashion_mnist": [(["central", "main", "grid", "predictor", "jepa", "baseline"], [0, 1, 2])],
            "nuisance_torus": [(ALL_GROUPS, [0, 1, 2])],
            "torus_world": [(["baseline"], [0, 1, 2])]},
}
NOTEBOOKS = ("analyze", "ablate", "figures")


@dataclass(frozen=True)
class Run:
    config: str                  # configs/<config>.yaml
    dataset: str
    seed: int
    group: str = "central"       # one of ALL_GROUPS
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
    for dataset, specs in PROFILES[profile].items():
        first_seed = min(seed for _, seeds in specs for seed in seeds)
        for seed in sorted({seed for _, seeds in specs for seed in seeds}):
            groups = [g for gs, seeds in specs if seed in seeds for g in gs]
            out += [Run(c, dataset, seed, "central") for c in CENTRAL if "central" in groups]
            out += [Run(c, dataset, seed, "main") for c in MAIN if c not in CENTRAL + GRID + PREDICTOR
                    and "main" in groups]
            out += [Run(c, dataset, seed, "grid") for c in GRID if "grid" in groups]
            out += [Run(c, dataset, seed, "jepa") for c in JEPA if "jepa" in groups]
            if "supervised" in groups:
                out.append(Run("supervised_angles", dataset, seed, "supervised"))
            if "torus_weight" in groups:
                out += [Run("toroidal_N12", dataset, seed, "torus_weight", (("objective.loss.torus_weight", w),),
                            f"torus_weight{w:g}") for w in TORUS_WEIGHTS]
            out += [Run(c, dataset, seed, "predictor") for c in PREDICTOR if "predictor" in groups]
            if "baseline" in groups:  # the untrained encoder (same architecture, 0 epochs) and raw pixels
                out.append(Run("baseline_vicreg", dataset, seed, "baseline", (("optim.epochs", 0),), "random_init"))
                if seed == first_seed:  # deterministic: one seed is enough
                    out.append(Run("raw_pixels", dataset, seed, "baseline"))
    return out


class UnknownRun(ValueError):
    """A run id (or profile) the plan does not have."""


def find_run(profile: str, run_id: str) -> Run:
    for r in runs_for(profile):
        if r.id == run_id:
            return r
    raise UnknownRun(f"no run {run_id!r} in profile {profile!r}; `python -m jepa_torus.plan list --profile {profile}`")


def by_priority(profile: str) -> list[Run]:
    """The profile's runs in the order make starts them, so that an interrupted profile has the
    most important ones: (0) the first data set's central comparison and baselines (the paired
    Q1 runs), (1) every other central, JEPA, supervised and baseline run, (2) the ablations."""
    first = next(iter(PROFILES[profile]))

    def tier(r: Run) -> int:
        if r.dataset == first and r.group in ("central", "baseline"):
            return 0
        return 1 if r.group in ("central", "jepa", "supervised", "baseline") else 2

    return sorted(runs_for(profile), key=tier)   # stable: the plan's order within a tier


def makefile(profile: str) -> str:
    """Make rules: one target per run (its final.json), plus RUNS_<profile> listing them all,
    in the order of ``by_priority``."""
    runs = by_priority(profile)
    lines = [f"# generated by `python -m jepa_torus.plan makefile --profile {profile}`; do not edit",
             f"RUNS_{profile} := " + " ".join(f"runs/{profile}/{r.id}/final.json" for r in runs),
             "# written atomically: make must never delete one on Ctrl-C (a finished run is kept)",
             f".PRECIOUS: $(RUNS_{profile})", ""]
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
    with open_append(path) as f:
        append_line(f, path, json.dumps({"stage": stage, "seconds": round(seconds, 1),
                                         "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}))


def execute_notebook(name: str, report: Path, parameters: dict, profile: str, stage: str) -> None:
    """papermill notebooks/<name>.ipynb -> report (.ipynb), then an HTML rendering beside it."""
    import papermill as pm

    ensure_dir(report.parent)
    t0 = time.time()
    partial = report.with_name(report.stem + ".partial.ipynb")
    try:
        with _kernel_log() as log:
            pm.execute_notebook(str(runs.REPO / "notebooks" / f"{name}.ipynb"), str(partial), parameters=parameters,
                                cwd=str(runs.REPO), progress_bar=False, kernel_name="python3")
    except pm.PapermillExecutionError as e:
        # The executed notebook with the error in it stays at `partial` for reading.
        raise SystemExit(f"error: notebook {name} failed ({e.ename}: {e.evalue}); the executed notebook is {partial}")
    except OSError as e:
        if Path(getattr(e, "filename", None) or "") != partial:
            sys.stderr.write(log.read())  # what the kernel said before it failed
            raise
        raise OutputError(e.errno, f"could not write {partial} ({e.strerror or e}); nothing was written "
                                   "(the reports folder must be writable)") from None
    except Exception:
        sys.stderr.write(log.read())  # a kernel that died: what it said
        raise
    try:
        partial.replace(report)
    except OSError as e:
        raise OutputError(e.errno, f"could not write {report} (rename failed: {e.strerror or e})") from None
    from .site import export_html

    export_html(report)  # the make target, written last: no bootstrap cell, no TeX that needs a CDN
    _record_time(profile, stage, time.time() - t0)


class _kernel_log:
    """While a notebook runs, file descriptor 2 (inherited by the kernel papermill starts)
    goes to a temporary file: the kernel's own chatter (a TCP warning at start; on Ctrl-C,
    a traceback when papermill closes its sockets under a running cell) stays off the
    terminal.  ``read()`` gives it back for a kernel that failed."""

    def __enter__(self):
        self.file = tempfile.TemporaryFile(mode="w+", prefix="jepa-torus-kernel")
        sys.stderr.flush()
        self.saved = os.dup(2)
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        return False

    def read(self) -> str:
        self.file.seek(0)
        return self.file.read()[-4000:]


def run_one(profile: str, run_id: str) -> None:
    """Train and evaluate one run of the plan (what make calls), as notebooks/train.ipynb would:
    the same config resolution, the same folder.  No notebook: a kernel start and an HTML
    rendering cost 15-20 s a run, a quarter of a hard-world run, so the per-run reports are
    rendered on demand (``run_report``, `make run-reports`).  Its seconds go to timings.jsonl."""
    from .config import resolve
    from .gpus import claim_gpu
    from .train import train

    from .config import ConfigError
    from .data import DataError
    from .files import CheckpointError
    from .train import TrainingDiverged

    r = find_run(profile, run_id)
    t0 = time.time()
    try:
        with claim_gpu(what=r.id):  # make -j<GPUs>: one GPU per run (jepa_torus/gpus.py); no-op on a CPU
            cfg = resolve(runs.REPO / "configs" / f"{r.config}.yaml", profile, r.override_dict())
            train(cfg, r.dir(profile))
    except (ConfigError, DataError, CheckpointError, TrainingDiverged) as e:  # one line, as train's CLI
        raise SystemExit(f"error: run {r.id}: {e}") from None
    except KeyboardInterrupt as e:  # train's Interrupted says what was kept
        if str(e):
            print(e, file=sys.stderr)
        raise
    _record_time(profile, f"run:{r.id}", time.time() - t0)


def export_weights(profile: str) -> list[Path]:
    """weights.pt of every finished central run that has a checkpoint and no weights.pt yet."""
    written = []
    for r in runs_for(profile):
        folder = r.dir(profile)
        if r.group == "central" and (folder / runs.FINAL).exists() and (folder / runs.CHECKPOINT).exists() \
                and not (folder / runs.WEIGHTS).exists():
            written.append(runs.export_weights(folder))
            print(f"wrote {written[-1].relative_to(runs.REPO)}")
    return written


def run_report(profile: str, run_id: str) -> None:
    """The run's report: notebooks/train.ipynb executed on it (a finished run is not retrained,
    so this takes seconds) and rendered as HTML under reports/<profile>/runs/."""
    r = find_run(profile, run_id)
    report = runs.REPO / "reports" / profile / "runs" / (r.id.replace("/", "__") + ".ipynb")
    params = {"config": f"configs/{r.config}.yaml", "profile": profile,
              "overrides": json.dumps(r.override_dict()), "output_dir": str(r.dir(profile).relative_to(runs.REPO))}
    execute_notebook("train", report, params, profile, f"report:{r.id}")


def run_notebook(name: str, profile: str) -> None:
    if name not in NOTEBOOKS:
        raise SystemExit(f"error: unknown notebook {name!r}; valid: {', '.join(NOTEBOOKS)}")
    execute_notebook(name, runs.REPO / "reports" / profile / f"{name}.ipynb", {"profile": profile}, profile, name)


def write_index(profile: str) -> Path:
    """reports/<profile>/index.html: the main results and the reports that exist (jepa_torus.site)."""
    from .site import write_index

    return write_index(profile)


INTERRUPTED = ("interrupted: every finished run (its final.json), table and report is kept, and an unfinished run "
               "keeps its last checkpoint; run the same make command again to resume")


WRITE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def run_target(target: list[str]) -> int:
    """``exec``: run ``-m module args`` or ``script.py args`` as python would, but end
    Ctrl-C with one line (what was kept, how to resume) and an unwritable output with one
    ``error:`` line, not a traceback.  make runs the report and the benchmark through it."""
    if not target or (target[0] == "-m" and len(target) < 2):
        print("error: exec needs '-m module [args]' or 'script.py [args]'", file=sys.stderr)
        return 2
    module = target[1] if target[0] == "-m" else None
    argv = target[1:] if module else target
    saved, saved_path = sys.argv, list(sys.path)
    sys.argv = [module or argv[0], *argv[1:]]
    try:
        if module:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, str(Path(argv[0]).resolve().parent))  # as `python script.py` does
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:  # the target's own exit: its code, or its message and 1
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    except OSError as e:  # a write the target did not guard: still one line with the path and the reason
        if isinstance(e, OutputError) or e.errno not in WRITE_ERRNOS:
            raise
        print(f"error: could not write {e.filename or 'an output'} ({e.strerror or e}); files written before are kept",
              file=sys.stderr)
        return 2
    finally:
        sys.argv, sys.path[:] = saved, saved_path
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["exec"]:
            return run_target(argv[1:])
        if argv[:1] == ["estimate"]:  # runs, images and device-hours before starting (jepa_torus/estimate.py)
            from .estimate import main as estimate

            return estimate(argv[1:])
        return _main(argv)
    except OutputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except UnknownRun as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.errno not in WRITE_ERRNOS | {errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR}:
            raise
        print(f"error: {e.strerror or e}: {e.filename}" if e.filename else f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130


def _main(argv) -> int:
    p = argparse.ArgumentParser(prog="python -m jepa_torus.plan", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["list", "makefile", "run", "notebook", "index", "exec", "estimate", "weights"])
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
    elif a.command == "weights":
        export_weights(a.profile)
    elif a.command == "estimate":  # reached with options before the command; its own options: `estimate --help`
        from .estimate import main as estimate

        return estimate(["--profile", a.profile])
    else:
        print(write_index(a.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
