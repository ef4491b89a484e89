"""Watching a run: the epoch-end kNN/RankMe probe on training images, a line per epoch,
"evaluating ..." messages, every loss part and a run ETA in the bar, optional TensorBoard.
Monitoring writes log lines only: a run with it and one without give the same numbers."""
from __future__ import annotations

import importlib.util
import json

import pytest

from jepa_torus import runs
from jepa_torus.config import ConfigError, resolve
from jepa_torus.train import train

TIMING = {"images_per_s", "seconds", "train_seconds_logged"}


def _smoke(**over):
    return resolve("toroidal_N12", "smoke", {"dataset": "torus_world", "epochs": 2, **over})


def _strip(x):
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in TIMING}
    return x


@pytest.mark.slow
def test_monitoring_logs_probes_and_changes_no_number(tmp_path, capsys):
    a = train(_smoke(), tmp_path / "a")
    out = capsys.readouterr().out
    b = train(_smoke(monitor_images=0), tmp_path / "b")
    assert _strip(a) == _strip(b)
    log_a, log_b = runs.read_metrics(tmp_path / "a"), runs.read_metrics(tmp_path / "b")
    steps = [[_strip(r) for r in log if not r.get("epoch_end")] for log in (log_a, log_b)]
    assert steps[0] == steps[1]
    ends = [r for r in log_a if r.get("epoch_end")]
    assert len(ends) == 2 and all(0 <= r["monitor_knn"] <= 1 and r["monitor_rankme"] >= 1 for r in ends)
    assert not any("monitor_knn" in r for r in log_b)
    assert {k for k in ends[0] if k.startswith("mean_")} >= {"mean_loss", "mean_invariance", "mean_variance",
                                                              "mean_torus_covariance"}
    # a line per finished epoch, then the evaluation announced and timed
    assert "epoch 1/2:" in out and "epoch 2/2:" in out and "torus_covariance" in out and "kNN" in out
    assert "evaluating" in out and "evaluated in" in out


def test_probe_on_the_training_set_only(tmp_path):
    from jepa_torus.data import verify_split
    from jepa_torus.train import Monitor
    cfg = _smoke(monitor_images=64)
    split = verify_split(cfg.data, "train", subset=True)
    m = Monitor(cfg, split, split.images)
    assert len(m.images) == 64 and m.queries == 16
    # its subset is fixed by the seed, from the training images the run trains on
    again = Monitor(cfg, split, split.images)
    assert (m.images == again.images).all()
    assert m.due(0, 2) and m.due(1, 2)
    every3 = Monitor(_smoke(monitor_images=64, monitor_every=3, epochs=7), split, split.images)
    assert [e for e in range(7) if every3.due(e, 7)] == [2, 5, 6]


def test_monitor_keys_are_checked():
    with pytest.raises(ConfigError, match="monitor_images"):
        _smoke(monitor_images=3)
    with pytest.raises(ConfigError, match="monitor_every"):
        _smoke(monitor_every=0)


@pytest.mark.slow
def test_the_bar_shows_every_loss_part_and_the_run_eta(tmp_path, capsys, monkeypatch):
    from jepa_torus import train as T
    monkeypatch.setattr(T, "attached", lambda: True)   # a terminal
    train(_smoke(progress=True, log_every=1, monitor_images=0), tmp_path / "r")
    err = capsys.readouterr().err
    assert "torus_covariance" in err and "run ETA" in err
    monkeypatch.setattr(T, "attached", lambda: False)  # output to a file: no bar, the epoch lines stay
    train(_smoke(progress=True, log_every=1, monitor_images=0), tmp_path / "s")
    out, err = capsys.readouterr()
    assert "run ETA" not in err and "epoch 2/2:" in out


def test_attached_means_a_terminal_or_a_kernel(monkeypatch):
    import sys
    from jepa_torus.train import attached
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not attached()
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    assert attached()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed")
def test_tensorboard_without_the_package_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="pip install tensorboard"):
        train(_smoke(tensorboard=True), tmp_path / "r")
    assert not (tmp_path / "r").exists()   # refused before the first write


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_tensorboard_writes_an_event_file(tmp_path):
    train(_smoke(tensorboard=True), tmp_path / "r")
    events = list((tmp_path / "r" / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    assert json.loads((tmp_path / "r" / "final.json").read_text())["config"] == "toroidal_N12"
