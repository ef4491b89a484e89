"""The gpu profile's code path, exercised on the CPU on every run of the suite.

* ResNet-18 (CIFAR stem, width 64, projector 2048-2048-256, NHWC) with the gpu profile's
  config resolved (batch, epochs and probe sizes overridden) on CIFAR-10 files the test
  writes (synthetic images in the real pickle format): two steps, a checkpoint after each,
  and a run stopped after its first step that resumes to the same weights and probes.
* bf16 autocast: the networks run in bf16, the losses, the predictor and the torus head's
  angles in fp32; a whole run trains with it (forced on the CPU here; on CUDA it is the default).
* bf16 and torch.compile stay off on the CPU; the gpu profile turns compile on for CUDA.
* The estimate (``plan estimate``), ``make paper PROFILE=gpu``'s confirmation and -j<GPUs>,
  and the per-GPU locks of ``make -j``.
"""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import cifar_format
from jepa_torus import data as D
from jepa_torus import estimate as E
from jepa_torus import models as M
from jepa_torus import train as T
from jepa_torus.config import resolve
from jepa_torus.files import load_checkpoint
from jepa_torus.objective import Objective

REPO = Path(__file__).resolve().parent.parent
N_TRAIN, N_TEST, SUBSET, BATCH = 60, 20, 16, 8   # 16 // 8 = 2 steps per epoch; the probes see all 60 + 20


def gpu_config(config: str, root, **over):
    overrides = {"dataset": "cifar10", "data_root": str(root), "train_subset": SUBSET, "batch_size": BATCH,
                 "epochs": 1, "threads": 1,
                 "progress": False, "checkpoint_minutes": 0.0,
                 "eval": {"probe_train": 0, "probe_test": 0, "knn_k": 3, "analysis": False}, **over}
    return resolve(REPO / "configs" / f"{config}.yaml", "gpu", overrides)


@pytest.fixture
def cifar(tmp_path, monkeypatch):
    md5 = cifar_format.write_cifar10(tmp_path / "data", N_TRAIN, N_TEST)
    monkeypatch.setitem(D.SPLIT_SIZES, "cifar10", {"train": N_TRAIN, "test": N_TEST})
    monkeypatch.setitem(D.CIFAR_BATCH_MD5, "cifar10", md5)
    return tmp_path / "data"


def test_the_gpu_profile_resolves_to_resnet18_with_the_cuda_choices(cifar):
    cfg = gpu_config("toroidal_N12", cifar)
    m = cfg.model
    assert (m.encoder, m.encoder_kwargs, m.projector, m.embed_dim, m.channels_last, m.in_channels) == \
        ("resnet18", {"width": 64}, [2048, 2048], 256, True, 3)
    assert cfg.run.amp == "bf16" and cfg.run.compile is True and cfg.optim.warmup_epochs == 10
    # on the CPU neither acts: fp32 and the bare module, as every CPU run computes
    cpu = torch.device("cpu")
    assert T.amp_dtype(cfg, cpu) is None
    net = torch.nn.Linear(2, 2)
    assert T.compiled(net, cfg, cpu) is net
    plain = resolve(REPO / "configs" / "toroidal_N12.yaml", "cpu", {})
    assert plain.run.compile is False and T.amp_dtype(plain, cpu) is None


@pytest.mark.slow
def test_gpu_path_trains_two_steps_checkpoints_and_resumes_exactly(cifar, tmp_path, monkeypatch, capsys):
    cfg = gpu_config("toroidal_N12", cifar)
    ref = T.train(cfg, tmp_path / "ref")
    log = [json.loads(line) for line in (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()]
    assert log[-1]["epoch_end"] and log[-1]["global_step"] == 2
    state = load_checkpoint(tmp_path / "ref" / "last.pt")
    assert (state["epoch"], state["global_step"]) == (1, 2)
    assert state["model"]["encoder.stem.0.weight"].shape == (64, 3, 3, 3)      # the CIFAR stem: 3x3, stride 1
    assert state["config"]["model"]["encoder"] == "resnet18"

    # stopped after its first step (checkpointed then: checkpoint_minutes 0), then resumed
    real, calls = T.Run._train_step, []

    def stop_at_second(self, *a):
        calls.append(self.global_step)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *a)

    monkeypatch.setattr(T.Run, "_train_step", stop_at_second)
    with pytest.raises(T.Interrupted, match="epoch 0 step 1"):
        T.train(cfg, tmp_path / "cut")
    assert not (tmp_path / "cut" / "final.json").exists()
    monkeypatch.setattr(T.Run, "_train_step", real)
    capsys.readouterr()
    again = T.train(cfg, tmp_path / "cut")
    assert "resuming" in capsys.readouterr().out
    a, b = (load_checkpoint(tmp_path / d / "last.pt")["model"] for d in ("ref", "cut"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (again["linear_probe"], again["knn_accuracy"]) == (ref["linear_probe"], ref["knn_accuracy"])


def _small(config: str, **model):
    cfg = resolve(REPO / "configs" / f"{config}.yaml", "smoke", {"dataset": "torus_world"})
    over = {"encoder_kwargs": {"widths": [8, 16], "blocks": 1}, "projector": [32], "embed_dim": 32, **model}
    return dataclasses.replace(cfg.model, **over), cfg.objective


@pytest.mark.parametrize("config", ["toroidal_head_N12", "hamjepa", "baseline_sigreg"])
def test_bf16_autocast_runs_the_networks_in_bf16_and_the_losses_in_fp32(config):
    model_cfg, objective_cfg = _small(config)
    torch.manual_seed(0)
    model = M.build_model(dataclasses.asdict(model_cfg))
    objective = Objective(objective_cfg, model, steps_per_epoch=10)
    v1, v2 = torch.randn(2, 16, 1, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(v1)
        assert out["z"].dtype == torch.bfloat16                            # the networks: bf16
        if "angles" in out:
            assert out["angles"].dtype == torch.float32                      # angles: fp32
        parts = objective(model, None, v1, v2)
        if model_cfg.predictor == "hamiltonian":                             # the leapfrog: fp32
            assert model.predict(out["z"]).dtype == torch.float32
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in parts.values()), parts
    parts["loss"].backward()
    assert all(p.grad is None or (p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all())
               for p in model.parameters())
    # without autocast nothing is cast: the fp32 path every CPU run takes
    fp32 = objective(model, None, v1, v2)
    assert all(v.dtype == torch.float32 for v in fp32.values())


def test_a_run_trains_under_bf16_autocast(tmp_path, monkeypatch):
    # On CUDA a run takes bf16 by default; the same step is forced here on the CPU.
    monkeypatch.setattr(T, "amp_dtype", lambda cfg, device: torch.bfloat16)
    cfg = resolve(REPO / "configs" / "toroidal_head_N12.yaml", "smoke",
                  {"dataset": "torus_world", "train_subset": 64, "batch_size": 32, "epochs": 1, "threads": 1,
                   "eval": {"probe_train": 64, "probe_test": 64, "knn_k": 5, "analysis": False}})
    result = T.train(cfg, tmp_path)
    assert 0 <= result["linear_probe"] <= 1
    state = load_checkpoint(tmp_path / "last.pt")
    assert all(v.dtype == torch.float32 for v in state["model"].values() if v.is_floating_point())


# --------------------------------------------------------------------------- the estimate
def test_estimate_of_the_gpu_profile_counts_every_run_and_image():
    est = E.estimate("gpu", gpus=(1, 8), measure_here=False)
    by = {d["dataset"]: d for d in est["datasets"]}
    # plan.PROFILES["gpu"]: per seed 15 CIFAR-10 runs (every group but the supervised reference), 12
    # Fashion-MNIST, 16 nuisance_torus, 1 torus_world (its untrained encoder); raw pixels once each
    assert est["runs"] == 136 and {k: by[k]["runs"] for k in by} == {"cifar10": 46, "fashion_mnist": 37,
                                                                       "nuisance_torus": 49, "torus_world": 4}
    assert {k: by[k]["epochs"] for k in by} == {"cifar10": [400], "fashion_mnist": [200], "nuisance_torus": [100],
                                                "torus_world": []}
    # drop_last: 195 batches of 256 per CIFAR-10 epoch; 42 runs of CIFAR-10 train (4 baselines do not)
    assert by["cifar10"]["images_per_epoch"] == 195 * 256 and by["cifar10"]["training_runs"] == 42
    assert by["cifar10"]["train_images"] == 42 * 400 * 195 * 256
    assert by["cifar10"]["rate"]["source"] == "assumed" and "RTX A6000" in by["cifar10"]["rate"]["assumption"]
    # smaller images, proportionally faster; 8 GPUs: at least an eighth, at least the longest run
    assert by["fashion_mnist"]["rate"]["images_per_s"] == pytest.approx(E.ASSUMED["images_per_s"] * 1024 / 784)
    one, eight = est["wall_hours"]["1"], est["wall_hours"]["8"]
    assert one == pytest.approx(est["device_hours"]) and max(one / 8, est["longest_run_hours"]) <= eight < one / 7
    text = E.format_estimate(est)
    assert "136 runs" in text and "assumed" in text and "on 8 GPUs" in text


def test_makespan_is_longest_first():
    assert E.makespan([4, 3, 3, 2], 2) == 6 and E.makespan([5, 4, 3, 3, 3], 2) == 10 and E.makespan([1, 1, 1], 8) == 1 and E.makespan([], 4) == 0


def test_estimate_asks_for_confirmation_above_the_threshold(capsys):
    assert E.main(["--profile", "gpu", "--no-measure", "--confirm-above", "1"]) == 3
    err = capsys.readouterr().err
    assert "CONFIRM=1" in err and "more than the 1 h" in err
    assert E.main(["--profile", "gpu", "--no-measure", "--confirm-above", "1", "--confirmed"]) == 0
    assert E.main(["--profile", "gpu", "--no-measure", "--confirm-above", "1e9"]) == 0
    out = subprocess.run([sys.executable, "-m", "jepa_torus.plan", "estimate", "--profile", "gpu", "--no-measure",
                          "--json"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and json.loads(out.stdout)["runs"] == 136


def test_the_training_step_is_measured_here():
    cfg = resolve(REPO / "configs" / "baseline_vicreg.yaml", "smoke", {"dataset": "torus_world"})
    got = E.measure(cfg, "cpu", steps=2, warmup=1, batch=16)
    assert got["images_per_s"] > 0 and got["amp"] == "fp32" and not got["compiled"] and got["batch"] == 16


def test_make_paper_gpu_prints_the_estimate_first_and_uses_one_job_per_gpu():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1,2"}
    out = subprocess.run(["make", "-n", "paper", "PROFILE=gpu"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300).stdout
    lines = out.splitlines()
    estimate = next(i for i, line in enumerate(lines) if "jepa_torus.plan estimate --profile gpu" in line)
    runs = next(i for i, line in enumerate(lines) if line.rstrip().endswith("-j3 runs"))
    bench = next(i for i, line in enumerate(lines) if "--no-print-directory bench" in line)
    assert runs < bench and "-j" not in lines[bench]   # the loss benchmark alone, after the runs
    assert estimate < runs and "--gpus 1 3 --confirm-above 8" in lines[estimate] and "--confirmed" not in lines[estimate]
    confirmed = subprocess.run(["make", "-n", "paper", "PROFILE=gpu", "CONFIRM=1"], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=300).stdout
    assert "--confirm-above 8 --confirmed" in confirmed
    cpu = subprocess.run(["make", "-n", "paper", "PROFILE=cpu"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300).stdout
    assert "jepa_torus.plan estimate" not in cpu and any(x.rstrip().endswith("-j2 runs") for x in cpu.splitlines())


# --------------------------------------------------------------------------- one GPU per job
HOLD = """
import sys, time
from jepa_torus.gpus import claim_gpu
with claim_gpu(poll_s=0.1) as gpu:
    print(gpu, flush=True)
    time.sleep(float(sys.argv[1]))
"""


def test_each_job_takes_a_free_gpu_and_waits_when_all_are_taken(tmp_path, monkeypatch):
    from jepa_torus.gpus import claim_gpu

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1", "JEPA_TORUS_GPU_LOCK_DIR": str(tmp_path)}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("JEPA_TORUS_GPU_LOCK_DIR", str(tmp_path))

    def job(seconds):
        return subprocess.Popen([sys.executable, "-c", HOLD, str(seconds)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    with claim_gpu() as mine:
        assert mine == "0" and os.environ["CUDA_VISIBLE_DEVICES"] == "0"     # this block sees its GPU alone
        other = job(30)
        assert other.stdout.readline().strip() == "1"                        # the next job: the other GPU
        waiting = job(0)
        time.sleep(1.0)
        assert waiting.poll() is None                                        # both taken: it waits
        other.send_signal(signal.SIGKILL)                                    # a killed job frees its GPU
        other.wait()
        assert waiting.stdout.readline().strip() == "1"
        assert "waits for one" in waiting.communicate(timeout=60)[1]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"                       # restored after the block


def test_no_lock_with_one_gpu_or_none(monkeypatch, tmp_path):
    from jepa_torus.gpus import claim_gpu

    monkeypatch.setenv("JEPA_TORUS_GPU_LOCK_DIR", str(tmp_path / "locks"))
    for visible in ("", "0"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        with claim_gpu() as gpu:
            assert gpu is None and os.environ["CUDA_VISIBLE_DEVICES"] == visible
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("JEPA_TORUS_GPU_LOCK", "0")
    with claim_gpu() as gpu:
        assert gpu is None
    assert not (tmp_path / "locks").exists()
