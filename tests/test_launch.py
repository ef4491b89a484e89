"""The Slurm launcher (jepa_torus.launch) through submitit's LocalExecutor: the same array job,
run as local processes.  Two runs of the plan as one array; one of them was interrupted
before and resumes from its checkpoint to the weights of an uninterrupted run; finished runs
are not submitted again."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from jepa_torus import launch, plan
from jepa_torus import train as T
from jepa_torus.config import resolve
from jepa_torus.files import load_checkpoint

REPO = Path(__file__).resolve().parent.parent
TINY = {"train_subset": 256, "batch_size": 32, "epochs": 1, "threads": 1, "progress": False, "checkpoint_minutes": 0.0,
        "eval": {"probe_train": 256, "probe_test": 128, "knn_k": 5, "analysis": False}}
RUNS = ["nuisance_torus/baseline_vicreg/seed0", "nuisance_torus/toroidal_N12/seed1"]


def _cfg(run_id):
    r = plan.find_run("smoke", run_id)
    return resolve(REPO / "configs" / f"{r.config}.yaml", "smoke", {**r.override_dict(), **TINY})


@pytest.mark.slow
def test_array_job_on_the_local_executor_trains_resumes_and_skips_finished_runs(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    cut = root / "smoke" / RUNS[1]
    # RUNS[1] was interrupted after its third step (a checkpoint after every step)
    real, calls = T.Run._train_step, []

    def stop(self, *a):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, *a)

    monkeypatch.setattr(T.Run, "_train_step", stop)
    with pytest.raises(T.Interrupted):
        T.train(_cfg(RUNS[1]), cut)
    monkeypatch.setattr(T.Run, "_train_step", real)
    assert (cut / "last.pt").exists() and not (cut / "final.json").exists()

    todo = launch.select("smoke", only=RUNS, output_root=root)
    assert [r.id for r in todo] == RUNS
    ex = launch.executor("smoke", cluster="local", folder=tmp_path / "submitit", timeout_min=10, cpus_per_task=1,
                         mem_gb=1, gpus_per_run=0)
    jobs = launch.submit("smoke", ex, todo, direct=True, overrides=TINY, output_root=str(root))
    assert len(jobs) == 2
    results = [job.result() for job in jobs]                      # waits; a task's error is raised here
    for run_id, result in zip(RUNS, results):
        final = json.loads((root / "smoke" / run_id / "final.json").read_text())
        assert final["linear_probe"] == result["linear_probe"] and 0 <= final["knn_accuracy"] <= 1
    assert "resuming" in jobs[1].stdout() and "resuming" not in jobs[0].stdout()
    assert "as job" in jobs[0].stdout()

    # the resumed run ends where an uninterrupted one does
    T.train(_cfg(RUNS[1]), tmp_path / "ref")
    a, b = (load_checkpoint(d / "last.pt")["model"] for d in (tmp_path / "ref", cut))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # running the launcher again submits nothing: every selected run is finished
    assert launch.select("smoke", only=RUNS, output_root=root) == []


def test_the_default_task_is_what_make_runs(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(plan, "run_one", lambda profile, run_id: seen.append((profile, run_id)))
    monkeypatch.chdir(tmp_path)                  # the task moves to the checkout; undone after the test
    launch.RunTask()("smoke", RUNS[0])           # returns the run's final.json, if this checkout has it
    assert seen == [("smoke", RUNS[0])]


def test_select_takes_make_patterns_and_skips_finished_runs(tmp_path):
    every = plan.runs_for("gpu")
    assert [r.id for r in launch.select("gpu", ["cifar10/%/seed0"], str(tmp_path))] == \
        [r.id for r in every if r.id.startswith("cifar10/") and r.id.endswith("/seed0")]
    done = tmp_path / "gpu" / "cifar10" / "hybrid" / "seed0"
    done.mkdir(parents=True)
    (done / "final.json").write_text("{}")
    assert "cifar10/hybrid/seed0" not in [r.id for r in launch.select("gpu", ["cifar10/%"], str(tmp_path))]


def test_the_command_says_when_there_is_no_slurm(capsys):
    if shutil.which("sbatch"):
        pytest.skip("Slurm is installed here: the command would submit")
    assert launch.main(["--profile", "gpu", "--only", "nuisance_torus/hamjepa/seed0"]) == 2
    assert "no Slurm here" in capsys.readouterr().err
    assert launch.main(["--profile", "gpu", "--only", "cifar10/%/seed1", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "15 run(s) of profile gpu" in out and "cifar10/hamjepa_mlp/seed1" in out
