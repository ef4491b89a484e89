"""The training loop: every config trains, runs resume exactly, bad input fails clearly."""
import json
import sys
from pathlib import Path

import pytest
import torch

from jepa_torus import train as T
from jepa_torus.config import ConfigError, resolve
from jepa_torus.data import DataError
from jepa_torus.files import load_checkpoint
from resume_check import killed_and_resumed

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted(p.stem for p in (REPO / "configs").glob("*.yaml") if p.stem != "profiles")
TINY = {"dataset": "torus_world", "train_subset": 256, "batch_size": 32, "epochs": 1, "threads": 1,
        "eval": {"probe_train": 256, "probe_test": 128, "topology_points": 100, "landmarks": 50, "analysis": False}}


def tiny(config, **over):
    merged = {**TINY, **over}
    return resolve(REPO / "configs" / f"{config}.yaml", "smoke", merged)


@pytest.mark.parametrize("config", CONFIGS)
def test_every_config_trains_on_torus_world(config, tmp_path):
    result = T.train(tiny(config), tmp_path)
    assert 0.0 <= result["linear_probe"] <= 1.0 and 0.0 <= result["knn_accuracy"] <= 1.0
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["epoch_end"] and all(torch.isfinite(torch.tensor(v)) for k, v in lines[-1].items()
                                          if k.startswith("mean_"))
    for f in ("config.yaml", "provenance.json", "last.pt", "final.json"):
        assert (tmp_path / f).exists(), f
    prov = json.loads((tmp_path / "provenance.json").read_text())
    assert prov["seed"] == 0 and prov["versions"]["torch"].startswith("2.13")


def test_finished_run_is_not_redone(tmp_path):
    cfg = tiny("baseline_vicreg")
    T.train(cfg, tmp_path)
    stamp = (tmp_path / "last.pt").stat().st_mtime_ns
    T.train(cfg, tmp_path)
    assert (tmp_path / "last.pt").stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match=r"different config.*run.seed"):
        T.train(tiny("baseline_vicreg", seed=5), tmp_path)


def _weights(run):
    return load_checkpoint(Path(run) / "last.pt")["model"]


def test_same_seed_same_numbers(tmp_path):
    a, b = T.train(tiny("toroidal_N8"), tmp_path / "a"), T.train(tiny("toroidal_N8"), tmp_path / "b")
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a["linear_probe"] == b["linear_probe"]


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    args = ["--config", "configs/baseline_sigreg.yaml", "--profile", "smoke", "--dataset", "torus_world",
            "--train_subset", "1280", "--batch-size=32", "--epochs", "2", "--threads", "1", "--log_every", "5",
            "--run.checkpoint_minutes=0.0", "--eval.analysis", "false", "--eval.probe_train", "256",
            "--eval.probe_test", "128"]
    cmd = [sys.executable, "-m", "jepa_torus.train", *args]
    ref, run, resumed = killed_and_resumed(cmd, tmp_path)
    assert "resuming" in resumed
    wa, wb = _weights(ref), _weights(run)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    fa, fb = (json.loads((d / "final.json").read_text()) for d in (ref, run))
    assert fa["linear_probe"] == fb["linear_probe"] and fa["knn_accuracy"] == fb["knn_accuracy"]


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    assert T.main(["--config", "configs/baseline_vicreg.yaml", "--epochs", "ten"]) == 2
    assert "'optim.epochs' expects int" in capsys.readouterr().err
    rc = T.main(["--config", "configs/baseline_vicreg.yaml", "--data_root", str(tmp_path), "--output-dir", str(tmp_path / "r"),
                 "--profile", "smoke"])
    # Fashion-MNIST is looked up in data_root first, then the system folder; an empty root
    # with the system copy present still trains, so only check the error path when absent.
    if rc == 2:
        assert "fashion" in capsys.readouterr().err.lower()


def test_missing_data_is_a_clear_error(tmp_path, monkeypatch):
    from jepa_torus import data as D

    monkeypatch.setattr(D, "DEBIAN_FMNIST", tmp_path / "absent")
    monkeypatch.setenv("JEPA_TORUS_DATA", str(tmp_path / "absent2"))
    D.fashion_mnist.cache_clear() if hasattr(D.fashion_mnist, "cache_clear") else None
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        T.train(resolve(None, "smoke", {"data_root": str(tmp_path)}), tmp_path / "run")


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    cfg = tiny("baseline_vicreg")
    T.train(cfg, tmp_path)
    (tmp_path / "final.json").unlink()
    data = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "last.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match=r"last.pt is damaged.*Delete it"):
        T.train(cfg, tmp_path)


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = tiny("baseline_vicreg", epochs=2)
    calls = {"n": 0}
    original = T.Objective.forward

    def poisoned(self, *a):
        calls["n"] += 1
        out = original(self, *a)
        if calls["n"] > 10:  # epoch 0 has 8 steps: fail in epoch 1
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(T.Objective, "forward", poisoned)
    with pytest.raises(T.TrainingDiverged, match="diverged.*last good checkpoint"):
        T.train(cfg, tmp_path)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (tmp_path / "final.json").exists()


def test_probes_use_the_configured_number_of_blas_threads(tmp_path, monkeypatch):
    # Beside another run, BLAS threads beyond cfg.run.threads only spin: the probe has to obey it.
    from threadpoolctl import threadpool_info

    from jepa_torus import metrics
    seen = []
    real = metrics.linear_probe

    def spy(*args, **kw):
        seen.append({p["num_threads"] for p in threadpool_info()})
        return real(*args, **kw)

    monkeypatch.setattr(metrics, "linear_probe", spy)
    T.train(tiny("baseline_vicreg", train_subset=64, eval={**TINY["eval"], "probe_train": 64, "probe_test": 32}),
            tmp_path / "run")
    assert seen == [{1}]
