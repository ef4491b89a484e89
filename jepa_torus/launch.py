"""The plan's runs on a Slurm cluster, through submitit: one array job, one GPU per run.

    python -m jepa_torus.launch --profile gpu --partition gpu [--only 'cifar10/%/seed0' ...]
        [--timeout-min 1440] [--cpus-per-task 8] [--mem-gb 64] [--array-parallelism 32]
        [--slurm account=abc --slurm qos=normal] [--setup 'module load cuda/12.4'] [--direct] [--wait]

Every run of ``plan.runs_for(profile)`` without a final.json (those matching ``--only``, make's
``%`` patterns as in ``make runs ONLY=...``) becomes one task of one Slurm array job
(``executor.map_array``); each task does what make does for the run,
``python -m jepa_torus.plan run --profile P --run ID`` (the run's notebook, which trains or
resumes, evaluates and writes the run folder and its HTML report), in this checkout: the
results land in the same runs/<profile>/... folders as make's, so the repository must be on a
file system the compute nodes share, and ``make paper PROFILE=gpu`` afterwards builds the
tables and the PDF from them without redoing a run.  ``--direct`` trains through
``jepa_torus.train`` without the notebook (no Jupyter kernel on the nodes; no HTML report).

Interrupted runs resume through the checkpoint logic of train.py, in two ways:
  * a task that reaches its time limit or is preempted is requeued by submitit with the same
    arguments (``RunTask`` is ``submitit.helpers.Checkpointable``); the run restarts from its
    last.pt, losing at most ``run.checkpoint_minutes`` of training;
  * running this command again submits the runs that still have no final.json: a failed or
    cancelled run resumes from its checkpoint, a finished one is not submitted.
No scheduler of our own: Slurm queues the tasks, ``--array-parallelism`` caps how many run at
once.  Logs and submitit's pickles: runs/<profile>/submitit/.  ``--cluster local`` runs the
same array on this machine with submitit's LocalExecutor (what the tests do).
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import sys
from pathlib import Path

import submitit

from . import plan, runs
from .config import CONFIGS, PROFILE_NAMES, resolve


class RunTask(submitit.helpers.Checkpointable):
    """One run of the plan as a submitit job.  On a time-out or a preemption submitit calls
    ``checkpoint`` (inherited: the same call again) and requeues it; the run resumes from its
    own checkpoint, since train.py checkpoints every run.checkpoint_minutes and at each epoch."""

    def __call__(self, profile: str, run_id: str, direct: bool = False, overrides: dict | None = None,
                 output_root: str | None = None) -> dict | None:
        os.chdir(runs.REPO)  # the notebook and the configs are read relative to the checkout
        r = plan.find_run(profile, run_id)
        try:
            env = submitit.JobEnvironment()
            where = f"job {env.job_id} on {env.hostname}"
        except RuntimeError:  # called outside a submitit job (a test, a person at a prompt)
            where = "outside a submitit job"
        print(f"[jepa_torus] {run_id} ({profile}) as {where}, "
              f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')!r}", flush=True)
        if not direct:
            plan.run_one(profile, run_id)
            return runs.read_final(r.dir(profile))
        from .train import train

        cfg = resolve(CONFIGS / f"{r.config}.yaml", profile, {**r.override_dict(), **(overrides or {})})
        out = Path(output_root) / profile / r.id if output_root else r.dir(profile)
        return train(cfg, out)


def select(profile: str, only=None, output_root: str | None = None) -> list[plan.Run]:
    """The plan's runs without a final.json, restricted to the ``only`` patterns (``%`` = any)."""
    chosen = []
    for r in plan.runs_for(profile):
        if only and not any(fnmatch.fnmatchcase(r.id, pat.replace("%", "*")) for pat in only):
            continue
        folder = Path(output_root) / profile / r.id if output_root else r.dir(profile)
        if not (folder / runs.FINAL).exists():
            chosen.append(r)
    return chosen


def executor(profile: str, cluster: str | None = None, folder=None, partition: str | None = None,
             timeout_min: int = 1440, cpus_per_task: int = 8, mem_gb: int = 64, gpus_per_run: int = 1,
             array_parallelism: int = 32, slurm: dict | None = None, setup=()) -> submitit.AutoExecutor:
    """A submitit AutoExecutor for one GPU per task (Slurm when ``sbatch`` is there, else
    ``cluster`` must be "local" or "debug")."""
    ex = submitit.AutoExecutor(folder=Path(folder or runs.RUNS / profile / "submitit") / "%j", cluster=cluster)
    params = dict(name=f"jepa-torus-{profile}", timeout_min=timeout_min, nodes=1, tasks_per_node=1,
                  cpus_per_task=cpus_per_task, gpus_per_node=gpus_per_run, mem_gb=mem_gb,
                  slurm_array_parallelism=array_parallelism)
    if partition:
        params["slurm_partition"] = partition
    if setup:
        params["slurm_setup"] = list(setup)
    params.update({f"slurm_{k}": v for k, v in (slurm or {}).items()})
    ex.update_parameters(**params)
    return ex


def submit(profile: str, ex: submitit.AutoExecutor, todo: list[plan.Run], direct: bool = False,
           overrides: dict | None = None, output_root: str | None = None) -> list:
    """One array job over ``todo``; returns submitit's jobs (in the order of ``todo``)."""
    if not todo:
        return []
    n = len(todo)
    return ex.map_array(RunTask(), [profile] * n, [r.id for r in todo], [direct] * n, [overrides] * n,
                        [output_root] * n)


def _pairs(items) -> dict:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --slurm takes KEY=VALUE (a parameter of submitit's SlurmExecutor), got {item!r}")
        out[key.replace("-", "_")] = value
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jepa_torus.launch", description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="gpu", choices=PROFILE_NAMES)
    p.add_argument("--only", nargs="+", help="run ids or make patterns (%% = any), e.g. cifar10/%%/seed0")
    p.add_argument("--cluster", choices=["slurm", "local", "debug"], help="default: slurm when sbatch is on PATH")
    p.add_argument("--partition")
    p.add_argument("--timeout-min", type=int, default=1440, help="per task; a task past it is requeued and resumes")
    p.add_argument("--cpus-per-task", type=int, default=8)
    p.add_argument("--mem-gb", type=int, default=64)
    p.add_argument("--array-parallelism", type=int, default=32, help="tasks of the array running at once")
    p.add_argument("--slurm", action="append", metavar="KEY=VALUE",
                   help="any SlurmExecutor parameter: account=..., qos=..., constraint=..., exclude=...")
    p.add_argument("--setup", action="append", default=[], help="a shell line run before each task (module load ...)")
    p.add_argument("--folder", help="submitit's logs and pickles (default runs/<profile>/submitit)")
    p.add_argument("--direct", action="store_true", help="train through jepa_torus.train, without the notebook")
    p.add_argument("--wait", action="store_true", help="wait for the tasks and print what each ended with")
    p.add_argument("--dry-run", action="store_true", help="list the runs that would be submitted")
    a = p.parse_args(argv)
    todo = select(a.profile, a.only)
    print(f"{len(todo)} run(s) of profile {a.profile} without final.json"
          + (f" matching {' '.join(a.only)}" if a.only else ""))
    if a.dry_run or not todo:
        for r in todo:
            print(f"  {r.id}")
        return 0
    cluster = a.cluster or ("slurm" if submitit.AutoExecutor.which() == "slurm" else None)
    if cluster is None:
        print("error: no Slurm here (sbatch is not on PATH); run the plan with make (make -j<GPUs> runs PROFILE="
              f"{a.profile}), or pass --cluster local to run this array on this machine", file=sys.stderr)
        return 2
    ex = executor(a.profile, cluster, a.folder, a.partition, a.timeout_min, a.cpus_per_task, a.mem_gb,
                  array_parallelism=a.array_parallelism, slurm=_pairs(a.slurm), setup=a.setup)
    jobs = submit(a.profile, ex, todo, direct=a.direct)
    folder = Path(a.folder or runs.RUNS / a.profile / "submitit")
    print(f"submitted {len(jobs)} task(s) as array job {jobs[0].job_id.split('_')[0]}; logs in {folder}/<job id>/")
    print(f"progress: python -m jepa_torus.plan list --profile {a.profile}   (squeue -u $USER on Slurm)")
    if not a.wait:
        return 0
    failed = 0
    for r, job in zip(todo, jobs):
        try:
            result = job.result()
            print(f"done    {r.id}: " + (", ".join(f"{k}={result[k]:.4f}" for k in ("linear_probe", "knn_accuracy")
                                                    if k in (result or {})) or "finished"))
        except Exception as e:  # submitit re-raises the task's error: name it, go on with the others
            failed += 1
            print(f"failed  {r.id}: {str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__} "
                  f"(log: {job.paths.stderr})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
