"""Faults: every one either heals (the run ends exactly as an uninterrupted one) or stops
with an error that names the file or key, and no earlier result changes by a byte.

1. SIGKILL mid-epoch, twice, then restart: same weights, optimiser, EMA target, loss
   buffers, metrics.jsonl and final.json as a run never interrupted (exactly).
2. ``make`` (the paper pipeline, PROFILE=smoke, two runs via ONLY) killed with SIGKILL
   mid-run and started again: same tables as an uninterrupted pipeline.
3. A truncated or bit-flipped last.pt: the run resumes from prev.pt with a warning and
   still ends exactly as the uninterrupted run; both damaged: CheckpointError naming both.
4. A config with a wrong type or an unknown key, a damaged run config.yaml.
5. A data folder with a corrupted file.
6. NaN: in the embeddings, or in the weights after a step with a finite loss.
7. A full disk (open / os.replace raising ENOSPC) at a checkpoint and at final.json.
"""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from jepa_torus import files
from jepa_torus import train as T
from jepa_torus.config import ConfigError, resolve
from jepa_torus.files import load_checkpoint

REPO = Path(__file__).resolve().parent.parent
TIMING = ("images_per_s", "seconds", "train_seconds_logged")
# hybrid with EMA: every piece of state a resume must restore (optimiser, EMA target, the
# SIGReg step buffer, the VICReg->SIGReg schedule) changes the numbers if it is lost.
ARGS = ["--config", "configs/hybrid.yaml", "--profile", "smoke", "--dataset", "torus_world", "--train_subset", "256",
        "--batch_size", "32", "--epochs", "2", "--threads", "1", "--ema_momentum", "0.99", "--log_every", "1",
        "--checkpoint_minutes", "0.0", "--eval.analysis", "false", "--eval.probe_train", "256", "--eval.probe_test", "128"]


def config(**over):
    args, overrides = T.parse_args(ARGS)
    return resolve(args.config, args.profile, {**overrides, **over})


def snapshot(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def log_lines(run):
    return [{k: v for k, v in json.loads(x).items() if k not in TIMING} for x in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def untimed(x):
    """x without its wall-clock entries, at any depth (metrics.evaluate nests "seconds")."""
    if isinstance(x, dict):
        return {k: untimed(v) for k, v in x.items() if k not in TIMING}
    return [untimed(v) for v in x] if isinstance(x, list) else x


def final(run):
    return untimed(json.loads((Path(run) / "final.json").read_text()))


def assert_same_run(a, b):
    """Same final.json (timings aside), same log, same checkpoint state, exactly."""
    assert final(a) == final(b)
    assert log_lines(a) == log_lines(b)
    sa, sb = load_checkpoint(Path(a) / "last.pt"), load_checkpoint(Path(b) / "last.pt")
    for part in ("model", "target", "objective"):
        assert sa[part].keys() == sb[part].keys()
        assert all(torch.equal(sa[part][k], sb[part][k]) for k in sa[part]), part
    assert repr(sa["optimizer"]) == repr(sb["optimizer"])  # every moment tensor, printed in full precision
    assert all(torch.equal(x, y) for s, t in zip(sa["optimizer"]["state"].values(), sb["optimizer"]["state"].values())
               for x, y in zip(s.values(), t.values()))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run; also the 'earlier result' that no fault may touch."""
    out = tmp_path_factory.mktemp("reference")
    T.train(config(), out)
    return out, snapshot(out)


def assert_untouched(reference):
    out, before = reference
    assert snapshot(out) == before


class Killed(BaseException):
    """Stands for SIGKILL right after a checkpoint (in-process, so the test stays fast)."""


def run_until(cfg, out, saves, monkeypatch):
    real, n = files.save_checkpoint, {"saves": 0}

    def save(path, state):
        real(path, state)
        n["saves"] += 1
        if n["saves"] == saves:
            raise Killed

    monkeypatch.setattr(T, "save_checkpoint", save)
    with pytest.raises(Killed):
        T.train(cfg, out)
    monkeypatch.setattr(T, "save_checkpoint", real)


# --------------------------------------------------------------------------- 1. SIGKILL
@pytest.mark.slow
def test_sigkill_twice_mid_epoch_then_restart_equals_uninterrupted(tmp_path, reference):
    cmd = [sys.executable, "-m", "jepa_torus.train", *ARGS, "--output-dir", str(tmp_path)]
    for kill_at in (5, 8 + 3):  # logged steps: mid epoch 0, then mid epoch 1
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        log = tmp_path / "metrics.jsonl"
        while time.time() < deadline and proc.poll() is None:
            if log.exists() and log.read_text().count('"step"') >= kill_at:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # whatever it was doing: a step, a checkpoint write, a log line
        proc.wait()
        assert not (tmp_path / "final.json").exists(), "the run finished before it could be killed"
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout
    assert_same_run(reference[0], tmp_path)
    assert not list(tmp_path.glob(".*.tmp*"))  # a killed writer's temporary file is cleaned up
    assert_untouched(reference)


# --------------------------------------------------------------------------- 2. make
ONLY = "nuisance_torus/baseline_vicreg/seed0 torus_world/baseline_vicreg_random_init/seed0"


def pipeline_copy(dst: Path) -> list:
    """The repository without results, and the make command that runs its pipeline."""
    shutil.copytree(REPO, dst, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "reports", "figures", "generated", "lean", "__pycache__", "*.egg-info", ".pytest_cache"))
    (dst / "stamp").touch()  # the venv exists: no pip install
    return ["make", "--no-print-directory", "paper/generated/smoke/macros.tex", "reports/smoke/figures.html",
            "PROFILE=smoke", f"ONLY={ONLY}",
            f"PY={sys.executable}", f"STAMP={dst / 'stamp'}", "BENCH_ARGS_smoke=--dims 64 --repeats 1"]


def wait_for_orphans(folder: Path, timeout: float = 20.0) -> None:
    """The notebook kernel runs in its own session, so killpg misses it; it exits by itself
    within a second of its parent (ipykernel's parent poller).  Wait for that; a real
    restart after a crash has the same gap."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        alive = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(folder):
                    alive.append(int(pid))
            except OSError:
                continue
        if not alive:
            return
        time.sleep(0.2)
    for pid in alive:  # our own descendants, by pid
        os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None or not Path("/proc").is_dir(), reason="needs make and /proc")
def test_make_killed_midway_then_restarted_gives_the_same_tables(tmp_path):
    pytest.importorskip("papermill")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    a, b = tmp_path / "a", tmp_path / "b"
    cmd_a, cmd_b = pipeline_copy(a), pipeline_copy(b)
    ok = subprocess.run(cmd_a, cwd=a, env={**env, "PYTHONPATH": str(a)}, capture_output=True, text=True, timeout=900)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]

    proc = subprocess.Popen(cmd_b, cwd=b, env={**env, "PYTHONPATH": str(b)}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = b / "runs/smoke/torus_world/baseline_vicreg_random_init/seed0"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and not (second / "config.yaml").exists():
        time.sleep(0.02)  # the first run is finished, the second has started: kill everything
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for_orphans(b)
    assert not (b / "reports/smoke/figures.html").exists(), "the pipeline finished before it could be killed"
    again = subprocess.run(cmd_b, cwd=b, env={**env, "PYTHONPATH": str(b)}, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "run:nuisance_torus/baseline_vicreg/seed0" not in again.stdout  # the finished run is not redone

    gen_a, gen_b = a / "paper/generated/smoke", b / "paper/generated/smoke"
    names = sorted(p.name for p in gen_a.glob("*.tex"))
    assert names == sorted(p.name for p in gen_b.glob("*.tex")) and "table_main_nuisance.tex" in names
    for name in names:
        ta, tb = ((g / name).read_text().splitlines() for g in (gen_a, gen_b))
        if name == "macros.tex":  # measured times (wall clock, loss benchmark) differ, by design
            timed = ("StageMinutes", "CostVICReg", "CostSIGReg", "CostToroidal")
            ta, tb = ([x for x in t if not any(f"\\{m}}}" in x for m in timed)] for t in (ta, tb))
            assert len(ta) > 20
        assert ta == tb, name
    for run in ONLY.split():
        assert final(a / "runs/smoke" / run) == final(b / "runs/smoke" / run)
    assert not list((b / "runs").rglob(".*.tmp*"))


# --------------------------------------------------------------------------- 3. checkpoints
@pytest.mark.parametrize("damage", ["truncate", "flip_byte"])
def test_damaged_last_checkpoint_falls_back_to_prev_and_ends_the_same(damage, tmp_path, reference, monkeypatch):
    run_until(config(), tmp_path, saves=11, monkeypatch=monkeypatch)  # mid epoch 1
    last = tmp_path / "last.pt"
    blob = bytearray(last.read_bytes())
    if damage == "truncate":
        del blob[len(blob) // 2:]
    else:
        blob[len(blob) // 2] ^= 0x10  # one bit: torch's own zip reader does not notice this
    last.write_bytes(bytes(blob))
    with pytest.warns(RuntimeWarning, match=r"last.pt is damaged \(sha256 mismatch.*renamed last.pt.damaged.*prev.pt"):
        T.train(config(), tmp_path)
    assert (tmp_path / "last.pt.damaged").read_bytes() == bytes(blob)  # kept for inspection
    assert_same_run(reference[0], tmp_path)  # one step replayed, deterministically
    assert_untouched(reference)


def test_both_checkpoints_damaged_is_a_clear_error_and_changes_nothing(tmp_path, reference, monkeypatch, capsys):
    run_until(config(), tmp_path, saves=5, monkeypatch=monkeypatch)
    for name in ("last.pt", "prev.pt"):
        p = tmp_path / name
        p.write_bytes(p.read_bytes()[:1000])
    before = snapshot(tmp_path)
    with pytest.raises(files.CheckpointError, match=r"last.pt is damaged.*prev.pt is damaged.*Delete both"):
        T.train(config(), tmp_path)
    assert snapshot(tmp_path) == before
    assert T.main([*ARGS, "--output-dir", str(tmp_path)]) == 2  # the command line: a message, no traceback
    err = capsys.readouterr().err
    assert err.startswith("error: checkpoint") and str(tmp_path / "prev.pt") in err
    assert snapshot(tmp_path) == before
    assert_untouched(reference)


def test_old_checkpoints_without_checksum_still_load(tmp_path, reference):
    state = load_checkpoint(reference[0] / "last.pt")
    torch.save(state, tmp_path / "old.pt")  # the format before checksums: a plain torch zip
    assert load_checkpoint(tmp_path / "old.pt")["global_step"] == state["global_step"]


# --------------------------------------------------------------------------- 4. configs
def test_bad_configs_name_the_file_and_key_and_write_nothing(tmp_path, reference, capsys):
    bad_type, unknown = tmp_path / "bad_type.yaml", tmp_path / "unknown.yaml"
    bad_type.write_text("objective: {loss: {type: vicreg}}\noptim: {epochs: ten}\n")
    unknown.write_text("objective: {loss: {type: vicreg}}\nmodel: {embed_dimension: 64}\n")
    flat = tmp_path / "flat.yaml"
    flat.write_text("epochs: 3\n")  # the layout before sections: the error names the section
    with pytest.raises(ConfigError, match=r"bad_type.yaml: config key 'optim.epochs' expects int, got 'ten'"):
        resolve(bad_type, "smoke", {})
    with pytest.raises(ConfigError, match=r"unknown.yaml: unknown config key 'model.embed_dimension'.*embed_dim"):
        resolve(unknown, "smoke", {})
    with pytest.raises(ConfigError, match=r"flat.yaml: unknown config section 'epochs'.*optim: \{epochs: ...\}"):
        resolve(flat, "smoke", {})
    with pytest.raises(ConfigError, match=r"the command line: config key 'optim.lr' expects float, got 'fast'"):
        resolve(None, "smoke", {"lr": "fast"})
    out = tmp_path / "run"
    assert T.main(["--config", str(bad_type), "--output-dir", str(out)]) == 2
    assert "'optim.epochs' expects int" in capsys.readouterr().err and not out.exists()
    # a run folder whose config.yaml was damaged by hand
    damaged = tmp_path / "damaged"
    shutil.copytree(reference[0], damaged)
    (damaged / "config.yaml").write_text("epochs: [unclosed\n")
    (damaged / "final.json").unlink()
    before = snapshot(damaged)
    with pytest.raises(ConfigError, match=r"damaged/config.yaml is damaged"):
        T.train(config(), damaged)
    assert snapshot(damaged) == before
    assert_untouched(reference)


# --------------------------------------------------------------------------- 5. data
def test_corrupted_data_file_is_a_clear_error(tmp_path, reference, capsys):
    data = tmp_path / "fmnist"
    data.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (data / f"{name}.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip " * 10)
    out = tmp_path / "run"
    rc = T.main(["--config", "configs/baseline_vicreg.yaml", "--profile", "smoke", "--data_root", str(data),
                 "--output-dir", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert str(data / "train-images-idx3-ubyte.gz") in err and "not a valid gzip file" in err
    assert not (out / "last.pt").exists() and not (out / "final.json").exists()
    assert_untouched(reference)


# --------------------------------------------------------------------------- 6. NaN
def test_nan_embeddings_stop_the_run_naming_the_step(tmp_path, reference, monkeypatch):
    calls = {"n": 0}
    original = T.Objective.forward

    def poisoned(self, model, *a):
        calls["n"] += 1
        if calls["n"] == 11:  # epoch 1, step 2
            with torch.no_grad():
                next(T.dist.unwrap(model).parameters()).fill_(float("nan"))
        return original(self, model, *a)

    monkeypatch.setattr(T.Objective, "forward", poisoned)
    with pytest.raises(T.TrainingDiverged, match=r"NaN or inf embeddings.*epoch 1 step 2 \(global step 10\).*last good checkpoint"):
        T.train(config(), tmp_path)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["global_step"] == 10 and all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (tmp_path / "final.json").exists()
    assert_untouched(reference)


def test_non_finite_weights_are_never_checkpointed(tmp_path, reference, monkeypatch):
    real_step, n, good = torch.optim.AdamW.step, {"steps": 0}, {}

    def step(self, *a, **kw):
        out = real_step(self, *a, **kw)
        n["steps"] += 1
        if n["steps"] == 6:  # the loss of this step was finite; the step leaves inf weights
            good["last.pt"] = (tmp_path / "last.pt").read_bytes()
            self.param_groups[0]["params"][0].data.fill_(float("inf"))
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    with pytest.raises(T.TrainingDiverged, match=r"weights \['encoder.*not finite after global step 6.*last good checkpoint"):
        T.train(config(), tmp_path)
    assert (tmp_path / "last.pt").read_bytes() == good["last.pt"]
    assert load_checkpoint(tmp_path / "last.pt")["global_step"] == 5
    assert_untouched(reference)


# --------------------------------------------------------------------------- 7. full disk
def full_disk(monkeypatch, when):
    """open() for writing in jepa_torus.files raises ENOSPC while when() is true."""
    real_open = open

    def fake_open(path, mode="r", *a, **kw):
        if when() and any(c in mode for c in "wax"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr(files, "open", fake_open, raising=False)


def test_full_disk_at_a_checkpoint_keeps_the_old_ones_and_the_run_resumes(tmp_path, reference, monkeypatch, capsys):
    run_until(config(), tmp_path, saves=6, monkeypatch=monkeypatch)
    before = snapshot(tmp_path)
    full_disk(monkeypatch, lambda: True)
    with pytest.raises(files.OutputError, match=r"No space left on device") as e:
        T.train(config(), tmp_path)
    # the first write of a resumed run: config.yaml (its operational keys may change)
    assert str(tmp_path / "config.yaml") in str(e.value) and "the earlier config.yaml is unchanged" in str(e.value)
    assert T.main([*ARGS, "--output-dir", str(tmp_path)]) == 2
    assert "error: [Errno 28] could not write" in capsys.readouterr().err
    assert snapshot(tmp_path) == before  # byte for byte, no temporary file left behind

    # disk full in the middle of the run, at a checkpoint: last.pt and prev.pt stay as they were
    saves = {"n": 0}
    real_save = files.save_checkpoint

    def counting(path, state):
        saves["n"] += 1
        real_save(path, state)

    monkeypatch.setattr(T, "save_checkpoint", counting)
    full_disk(monkeypatch, lambda: saves["n"] >= 3)
    with pytest.raises(files.OutputError, match=r"could not write .*last.pt \(No space left on device\); the earlier last.pt is unchanged"):
        T.train(config(), tmp_path)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["global_step"] == 6 + 2 and load_checkpoint(tmp_path / "prev.pt")["global_step"] == 6 + 1
    assert not list(tmp_path.glob(".*.tmp*"))

    monkeypatch.setattr(T, "save_checkpoint", real_save)
    full_disk(monkeypatch, lambda: False)  # space freed: the run resumes and ends as if nothing happened
    T.train(config(), tmp_path)
    assert_same_run(reference[0], tmp_path)
    assert_untouched(reference)


def test_full_disk_at_final_json_and_at_rename(tmp_path, reference, monkeypatch):
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(dst).name == "final.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(files.OutputError, match=r"could not write .*final.json \(rename failed: No space left on device\)"):
        T.train(config(), tmp_path)
    assert not (tmp_path / "final.json").exists() and not list(tmp_path.glob(".*.tmp*"))
    monkeypatch.setattr(os, "replace", real_replace)
    T.train(config(), tmp_path)  # resumes at the end of training: only the evaluation is redone
    assert_same_run(reference[0], tmp_path)
    assert_untouched(reference)
