"""Bad input (issue 16): every one is a clear error before anything is written.

Each case asserts the exit code, that stderr holds no Python traceback, that the message
names the key or the path (and the allowed range), and that no earlier file changed (sha256
of every file before and after).  The first group is the issue's table, row by row; then
one case per class of bad config value (type, range, non-finite, inconsistent pair) for
every section; then checkpoints of another config, data verified before training,
unwritable outputs (simulated, and a real read-only mount where the machine allows one),
``eval``'s own inputs, ``make -n`` and Ctrl-C.
"""
import builtins
import errno
import re
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from jepa_torus import config as C
from jepa_torus import eval as E
from jepa_torus import files, plan, runs
from jepa_torus import train as T

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
# a tiny VICReg run on torus_world: seconds on one thread
BASE = ["--config", "configs/baseline_vicreg.yaml", "--profile", "smoke", "--dataset", "torus_world",
        "--train_subset", "256", "--batch_size", "32", "--epochs", "1", "--threads", "1", "--eval.analysis", "false",
        "--eval.probe_train", "256", "--eval.probe_test", "128"]


def sha256s(root) -> dict:
    """relative path -> sha256 of every file under root (a folder's whole state)."""
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def cli(main, argv, capsys) -> tuple[int, str, str]:
    """Run a CLI main in-process: (exit code, stdout, stderr); no traceback on either."""
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's usage errors
        rc = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out, err
    return rc, out, err


def args_for(config="baseline_vicreg", extra=(), out=None) -> list:
    argv = [*BASE, *extra]
    argv[1] = f"configs/{config}.yaml"
    return argv + (["--output-dir", str(out)] if out is not None else [])


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A finished run: the earlier result that no bad command may change."""
    out = tmp_path_factory.mktemp("earlier") / "run"
    assert T.main(args_for(out=out)) == 0
    return out


@pytest.fixture(scope="module")
def other_run(tmp_path_factory):
    """A finished run of another config (toroidal N=16, seed 123), for its checkpoint."""
    out = tmp_path_factory.mktemp("other") / "run"
    assert T.main(args_for("toroidal_N16", ["--seed", "123"], out)) == 0
    return out


# --------------------------------------------------------------------------- the table
TABLE = [  # (row, config, extra args, what the message must say)
    ("batch-size 0", "baseline_vicreg", ["--batch-size", "0"], r"'optim\.batch_size' must be an integer >= 2"),
    ("batch-size -64", "baseline_vicreg", ["--batch-size", "-64"], r"'optim\.batch_size' must be an integer >= 2"),
    ("lr -0.01", "baseline_vicreg", ["--lr", "-0.01"], r"'optim\.lr' must be a finite number > 0"),
    ("lr 0", "baseline_vicreg", ["--lr", "0"], r"'optim\.lr' must be a finite number > 0"),
    ("batch-size 1 VICReg", "baseline_vicreg", ["--batch-size", "1"], r"'optim\.batch_size' must be an integer >= 2"),
    ("batch-size 1 SIGReg", "baseline_sigreg", ["--batch-size", "1"], r"'optim\.batch_size' must be an integer >= 2"),
    ("model.embed_dim 0", "baseline_vicreg", ["--model.embed_dim", "0"], r"'model\.embed_dim' must be an integer >= 1"),
    ("HamJEPA odd embed_dim", "hamjepa", ["--model.embed_dim", "63"], r"'model\.embed_dim' is 63.*even width"),
    ("lambda-torus .nan", "toroidal_N12", ["--lambda-torus", ".nan"], r"'objective\.loss\.torus_weight' is nan.*finite"),
]


@pytest.mark.parametrize("row, config, extra, message", TABLE, ids=[t[0] for t in TABLE])
def test_table_row_is_refused_before_anything_is_written(row, config, extra, message, tmp_path, earlier, capsys):
    before = sha256s(earlier)
    for out in (tmp_path / "new", earlier):  # a new folder is not created; a finished run is not touched
        rc, _, err = cli(T.main, args_for(config, extra, out), capsys)
        assert rc == 2 and err.startswith("error: config key") and len(err.splitlines()) == 1, err
        assert re.search(message, err), err
    assert "exceeds" not in err  # the old, wrong reason for a negative batch
    assert not (tmp_path / "new").exists()
    assert sha256s(earlier) == before


def test_table_row_batch_size_0_from_the_real_command_line(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([PY, "-m", "jepa_torus.train", *args_for(extra=["--batch-size", "0"], out=out)], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == ("error: config key 'optim.batch_size' must be an integer >= 2 (the losses and "
                                "BatchNorm use batch statistics), got 0")
    assert not out.exists()


def test_table_row_rerun_after_a_failed_validation_runs_in_the_same_folder(tmp_path, capsys):
    out = tmp_path / "run"
    rc, _, err = cli(T.main, args_for(extra=["--batch-size", "512"], out=out), capsys)  # more than 256 images
    assert rc == 2 and "'optim.batch_size' is 512, more than the 256 training images" in err
    assert not out.exists()  # nothing written, config.yaml included
    rc, out_text, err = cli(T.main, args_for(out=out), capsys)  # the corrected command, same folder
    assert rc == 0 and (out / "final.json").exists(), err
    # a folder an older version left with only a config.yaml (no checkpoint) takes the new config
    stale = tmp_path / "stale"
    stale.mkdir()
    shutil.copy(out / "config.yaml", stale / "config.yaml")
    rc, out_text, err = cli(T.main, args_for(extra=["--lr", "0.004", "--epochs", "0"], out=stale), capsys)
    assert rc == 0 and "held no trained run" in out_text and "optim.lr 0.002 -> 0.004" in out_text, err


def test_table_row_checkpoint_of_another_config_is_refused_naming_both(tmp_path, earlier, other_run, capsys):
    run = tmp_path / "vicreg"
    shutil.copytree(earlier, run)
    (run / "final.json").unlink()
    shutil.copy(other_run / "last.pt", run / "last.pt")  # N=16, seed 123 in a VICReg seed-0 folder
    (run / "prev.pt").unlink(missing_ok=True)
    before = sha256s(run)
    rc, _, err = cli(T.main, args_for(out=run), capsys)
    assert rc == 2 and len(err.splitlines()) == 1
    assert f"checkpoint {run / 'last.pt'} was trained under another config (run 'toroidal_N16' seed 123)" in err
    assert "this command's (run 'baseline_vicreg' seed 0)" in err and "run.seed 123 -> 0" in err
    assert "config hash" in err and "--output-dir" in err and "from scratch" in err
    assert sha256s(run) == before and not (run / "final.json").exists()


def test_table_row_damaged_test_labels_are_found_before_training(tmp_path, capsys, monkeypatch):
    src = Path("/usr/share/datasets/fashion-mnist")
    if not (src / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("needs the Fashion-MNIST files (dataset-fashion-mnist)")
    data = tmp_path / "fmnist"
    shutil.copytree(src, data)
    labels = data / "t10k-labels-idx1-ubyte.gz"
    blob = bytearray(labels.read_bytes())
    blob[len(blob) // 2] ^= 0x01  # one bit
    labels.write_bytes(bytes(blob))
    out = tmp_path / "run"
    seen = []
    monkeypatch.setattr(T.Run, "fit", lambda self: seen.append("trained"))
    rc, _, err = cli(T.main, ["--config", "configs/baseline_vicreg.yaml", "--profile", "smoke", "--data_root", str(data),
                              "--output-dir", str(out)], capsys)
    assert rc == 2 and str(labels) in err and ("checksum mismatch" in err or "not a valid gzip" in err), err
    assert not seen and not out.exists()


def test_table_row_read_only_output_folder_simulated(tmp_path, earlier, capsys, monkeypatch):
    empty, partial, parent = tmp_path / "empty", tmp_path / "partial", tmp_path / "parent"
    empty.mkdir()
    parent.mkdir()
    shutil.copytree(earlier, partial)
    (partial / "final.json").unlink()  # resumes at the end: only the evaluation left
    before = sha256s(tmp_path)
    read_only(monkeypatch, tmp_path)
    for out, what in ((empty, "config.yaml"), (partial, "config.yaml"), (parent / "new" / "run", "new/run")):
        rc, _, err = cli(T.main, args_for(out=out), capsys)
        assert rc == 2 and len(err.splitlines()) == 1, err
        assert "Read-only file system" in err and what in err and "output folder" in err, err
    monkeypatch.undo()
    assert sha256s(tmp_path) == before and not (parent / "new").exists()


def _ro_mount_works() -> bool:
    if shutil.which("unshare") is None or not sys.platform.startswith("linux"):
        return False
    r = subprocess.run(["unshare", "-rm", "sh", "-c", "mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp"],
                       capture_output=True, timeout=30)
    return r.returncode == 0


@pytest.mark.skipif(not _ro_mount_works(), reason="needs unshare with user and mount namespaces")
def test_table_row_read_only_output_folder_real_mount(tmp_path, earlier):
    """The same three folders on a real read-only bind mount (EROFS from the kernel)."""
    ro = tmp_path / "ro"
    (ro / "empty").mkdir(parents=True)
    (ro / "parent").mkdir()
    shutil.copytree(earlier, ro / "partial")
    (ro / "partial" / "final.json").unlink()
    before = sha256s(ro)
    for out, what in ((ro / "empty", "config.yaml"), (ro / "partial", "config.yaml"), (ro / "parent" / "new", "new")):
        cmd = " ".join([PY, "-m", "jepa_torus.train", *args_for(out=out)])
        r = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && "
                            f"exec {cmd}"], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert "Read-only file system" in r.stderr and str(out) in r.stderr and what in r.stderr, r.stderr
    assert sha256s(ro) == before


def test_table_row_eval_beside_a_read_only_checkpoint(tmp_path, earlier, capsys, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(earlier, run)
    before = sha256s(run)
    computed = []
    real = E.evaluate_checkpoint
    monkeypatch.setattr(E, "evaluate_checkpoint", lambda *a, **k: computed.append(1) or real(*a, **k))
    read_only(monkeypatch, run)
    rc, _, err = cli(E.main, ["--checkpoint", str(run / "last.pt")], capsys)
    assert rc == 2 and not computed  # refused before minutes of evaluation
    assert str(run / "eval.json") in err and "nothing was written" in err and "read-only" in err, err
    monkeypatch.undo()
    assert sha256s(run) == before


def test_eval_prints_its_results_before_it_writes_them(tmp_path, earlier, capsys, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(earlier, run)
    before = sha256s(run)
    real_open = builtins.open

    def full(path, mode="r", *a, **kw):  # the disk fills up during the evaluation
        if "w" in mode and "eval.json" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr(files, "open", full, raising=False)
    rc, out, err = cli(E.main, ["--checkpoint", str(run / "last.pt")], capsys)
    assert rc == 2 and "could not write" in err and "eval.json" in err and "printed above" in err
    assert '"linear_probe"' in out and '"knn_accuracy"' in out  # nothing computed is lost
    assert sha256s(run) == before


def test_table_row_eval_checkpoint_is_a_folder(tmp_path, earlier, capsys):
    rc, _, err = cli(E.main, ["--checkpoint", str(earlier)], capsys)
    assert rc == 2 and err.strip() == f"error: {earlier} is a folder, not a checkpoint file; pass the checkpoint in it " \
                                      f"({earlier / 'last.pt'})"


def test_table_row_eval_on_a_random_file_never_suggests_weights_only(tmp_path, capsys):
    for name, blob in (("random.pt", os.urandom(5000)), ("pickle.pt", pickle.dumps({"model": 1})),
                       ("zip.pt", b"PK\x03\x04" + os.urandom(200))):
        path = tmp_path / name
        path.write_bytes(blob)
        before = sha256s(tmp_path)
        rc, _, err = cli(E.main, ["--checkpoint", str(path)], capsys)
        assert rc == 2 and str(path) in err and "weights_only" not in err and "weights only" not in err.lower(), err
        assert len(err.splitlines()) == 1 and sha256s(tmp_path) == before


def test_eval_other_bad_inputs(tmp_path, earlier, capsys):
    cases = [(["--checkpoint", str(tmp_path / "missing.pt")], f"checkpoint {tmp_path / 'missing.pt'} does not exist"),
             (["--checkpoint", "/dev/null"], "/dev/null is not a regular file"),
             (["--checkpoint", str(earlier / "last.pt"), "--out", str(tmp_path)], f"could not write {tmp_path}: it is a folder"),
             (["--checkpoint", str(earlier / "last.pt"), "--device", "gpu"], "--device must be auto, cpu"),
             (["--checkpoint", str(tmp_path / ("a" * 300) / "last.pt")], "File name too long"),
             (["--checkpoint", str(earlier / "last.pt"), "--out", str(earlier / "final.json" / "x.json")],
              f"{earlier / 'final.json'} is a file, not a folder")]
    before = sha256s(earlier)
    for argv, message in cases:
        rc, _, err = cli(E.main, argv, capsys)
        assert rc == 2 and message in err and len(err.splitlines()) == 1, err
    assert sha256s(earlier) == before


# --------------------------------------------------------------------------- every class of bad value
# (id, config, extra args, what the message must say): type, range, non-finite, inconsistent pair,
# unknown key, for every section.  Run against the earlier run's folder: it must not change.
CASES = [
    # data
    ("data.dataset name", None, ["--dataset", "mnist"], r"'data\.dataset'.*valid names"),
    ("data.root empty", None, ["--data_root", "''"], r"'data\.root' is empty"),
    ("data.download type", None, ["--download", "3"], r"'data\.download' expects bool, got 3"),
    ("data.train_subset range", None, ["--train_subset", "-5"], r"'data\.train_subset' must be an integer >= 0"),
    ("data.train_subset one image", None, ["--train_subset", "1"], r"'data\.train_subset' is 1: a batch needs at least 2"),
    ("data.train_subset > data set", None, ["--train_subset", "20000"], r"'data\.train_subset'.*<= 10000.*10000 training"),
    ("augment.crop_scale pair", None, ["--augment.crop_scale", "[0.9, 0.2]"], r"'data\.augment\.crop_scale'.*low <= high"),
    ("augment.crop_scale range", None, ["--augment.crop_scale", "[0.2, 1.5]"], r"'data\.augment\.crop_scale'.*<= 1"),
    ("augment.crop_scale type", None, ["--augment.crop_scale", "0.5"], r"'data\.augment\.crop_scale' must be a pair"),
    ("augment.flip_p range", None, ["--augment.flip_p", "2"], r"'data\.augment\.flip_p'.*<= 1 \(a probability\)"),
    ("augment.noise_std inf", None, ["--augment.noise_std", ".inf"], r"'data\.augment\.noise_std' is inf.*finite"),
    ("augment.hue on gray images", None, ["--dataset", "fashion_mnist", "--augment.hue", "0.1"],
     r"data\.augment\.hue need RGB images.*set them to 0"),
    ("augment unknown key", None, ["--augment.flip_prob", "0.1"], r"'data\.augment'.*flip_prob.*'flip_p'"),
    # model
    ("model.encoder name", None, ["--model.encoder", "vgg"], r"'model\.encoder' must be one of 'convnet', 'resnet18'"),
    ("encoder widths empty", None, ["--model.encoder_kwargs", "{widths: []}"], r"'model\.encoder_kwargs\.widths'.*non-empty"),
    ("encoder widths range", None, ["--model.encoder_kwargs", "{widths: [8, 0]}"],
     r"'model\.encoder_kwargs\.widths\[1\]' must be an integer >= 1, got 0"),
    ("encoder blocks pair", None, ["--model.encoder_kwargs", "{widths: [8, 16], blocks: [1]}"],
     r"'model\.encoder_kwargs\.blocks'.*one entry per stage"),
    ("encoder stages vs image", None, ["--dataset", "fashion_mnist", "--model.encoder_kwargs", "{widths: [4, 4, 4, 4, 4, 4]}"],
     r"'model\.encoder_kwargs\.widths' has 6 stages.*at most 5"),
    ("encoder unknown kwarg", None, ["--model.encoder_kwargs", "{width: 8}"], r"'model\.encoder_kwargs'.*width.*valid keys: widths"),
    ("model.in_channels", None, ["--dataset", "fashion_mnist", "--model.in_channels", "3"],
     r"'model\.in_channels' is 3.*1 channel.*remove the key"),
    ("model.projector range", None, ["--model.projector", "[0]"], r"'model\.projector\[0\]' must be an integer >= 1"),
    ("model.projector type", None, ["--model.projector", "big"], r"'model\.projector' expects list or null"),
    ("projector null with embed_dim", None, ["--model.projector", "null"],
     r"'model\.projector' is null.*'model\.embed_dim' is 64"),
    ("model.predictor name", None, ["--model.predictor", "rnn"], r"'model\.predictor' must be one of"),
    ("predictor kwargs range", None, ["--model.predictor", "mlp", "--model.predictor_kwargs", "{hidden: 0}"],
     r"'model\.predictor_kwargs\.hidden' must be an integer >= 1"),
    ("predictor none with kwargs", None, ["--model.predictor_kwargs", "{hidden: 4}"], r"'model\.predictor_kwargs'.*hidden"),
    ("hamiltonian dt", "hamjepa", ["--model.predictor_kwargs", "{dt: -0.1}"],
     r"'model\.predictor_kwargs\.dt' must be a finite number > 0"),
    ("mlp_matched odd width", "hamjepa_mlp", ["--model.embed_dim", "31"], r"'model\.embed_dim' is 31.*even"),
    ("torus_head hidden", None, ["--model.torus_head", "{hidden: 0}"], r"'model\.torus_head\.hidden' must be an integer >= 1"),
    ("torus_head type", None, ["--model.torus_head", "5"], r"'model\.torus_head' expects bool or dict"),
    ("channels_last type", None, ["--model.channels_last", "maybe"], r"'model\.channels_last' expects bool"),
    # objective
    ("loss type", None, ["--loss", "{type: barlow}"], r"'objective\.loss'.*unknown loss type 'barlow'.*valid types"),
    ("loss unknown key", "toroidal_N12", ["--loss.gird_size", "12"], r"'objective\.loss'.*gird_size.*valid keys"),
    ("grid_size range", "toroidal_N12", ["--grid-size", "2"], r"'objective\.loss\.grid_size' must be an integer >= 3"),
    ("grid_size type", "toroidal_N12", ["--grid-size", "12.5"], r"'grid_size' of the loss expects int, got 12.5"),
    ("torus_weight range", "toroidal_N12", ["--torus-weight", "-1"],
     r"'objective\.loss\.torus_weight' must be a finite number >= 0"),
    ("toroidal weights name", "toroidal_N12", ["--loss.weights", "gaussian"], r"'objective\.loss\.weights' must be one of"),
    ("vicreg weight inf", None, ["--loss.inv_weight", ".inf"], r"'objective\.loss\.inv_weight' is inf"),
    ("vicreg eps range", None, ["--loss.eps", "0"], r"'objective\.loss\.eps' must be a finite number > 0"),
    ("vicreg weight type", None, ["--loss.cov_weight", "lots"], r"'cov_weight' of the loss expects float"),
    ("sigreg num_slices", "baseline_sigreg", ["--loss.num_slices", "0"], r"'objective\.loss\.num_slices' must be an integer >= 1"),
    ("sigreg lam", "baseline_sigreg", ["--loss.lam", "1.5"], r"'objective\.loss\.lam'.*<= 1"),
    ("sigreg knots", "baseline_sigreg", ["--loss.knots", "1"], r"'objective\.loss\.knots' must be an integer >= 2"),
    ("sigreg t_max", "baseline_sigreg", ["--loss.t_max", "0"], r"'objective\.loss\.t_max' must be a finite number > 0"),
    ("sigreg t_max string", "baseline_sigreg", ["--loss.t_max", "3e0"], r"'objective\.loss\.t_max'.*string '3e0'.*3\.0e0"),
    ("hybrid schedule", "hybrid", ["--loss.schedule", "cosine"], r"'objective\.loss\.schedule' must be one of"),
    ("hybrid nested range", "hybrid", ["--loss.sigreg", "{lam: 2}"], r"'objective\.loss\.sigreg\.lam'"),
    ("hybrid nested key", "hybrid", ["--loss.vicreg", "{bogus: 1}"], r"'objective\.loss\.vicreg'.*bogus"),
    ("torus_head loss on a wide embedding", None, ["--loss", "{type: torus_head}"],
     r"loss 'torus_head'.*2 dimensions.*got 64"),
    ("torus_head_weight range", None, ["--torus_head_weight", "-1"], r"'objective\.torus_head_weight' must be a finite number >= 0"),
    ("floor_weight range", None, ["--floor_weight", "-0.5"], r"'objective\.floor_weight' must be a finite number >= 0"),
    ("floors on an odd embedding", None, ["--floor_weight", "1", "--model.embed_dim", "63"],
     r"'objective\.floor_weight'.*even width, got 63"),
    ("warm-up without a potential", None, ["--potential_warmup_epochs", "1"],
     r"'objective\.potential_warmup_epochs'.*'hamiltonian'"),
    ("ema_momentum 1", None, ["--ema_momentum", "1"], r"'objective\.ema_momentum' must be a finite number >= 0 and < 1"),
    ("ema_momentum negative", None, ["--ema_momentum", "-0.1"], r"'objective\.ema_momentum'"),
    # optim
    ("epochs range", None, ["--epochs", "-1"], r"'optim\.epochs' must be an integer >= 0"),
    ("epochs type", None, ["--epochs", "ten"], r"'optim\.epochs' expects int, got 'ten'"),
    ("batch vs training set", None, ["--batch-size", "512"], r"'optim\.batch_size' is 512, more than the 256 training"),
    ("batch type", None, ["--batch-size", "2.5"], r"'optim\.batch_size' expects int"),
    ("lr nan", None, ["--lr", ".nan"], r"'optim\.lr' is nan"),
    ("lr inf", None, ["--lr", ".inf"], r"'optim\.lr' is inf"),
    ("lr type", None, ["--lr", "fast"], r"'optim\.lr' expects float, got 'fast'"),
    ("weight_decay range", None, ["--weight_decay", "-1"], r"'optim\.weight_decay' must be a finite number >= 0"),
    ("warmup_epochs range", None, ["--warmup_epochs", "-1"], r"'optim\.warmup_epochs' must be a finite number >= 0"),
    ("min_lr_ratio range", None, ["--min_lr_ratio", "1.5"], r"'optim\.min_lr_ratio'.*<= 1"),
    # eval
    ("probe_train range", None, ["--eval.probe_train", "-1"], r"'eval\.probe_train' must be an integer >= 0"),
    ("probe_train > data set", None, ["--eval.probe_train", "20000"], r"'eval\.probe_train'.*<= 10000"),
    ("probe_train too few", None, ["--eval.probe_train", "5"], r"'eval\.probe_train' is 5.*at least 32"),
    ("probe_test range", None, ["--eval.probe_test", "-1"], r"'eval\.probe_test' must be an integer >= 0"),
    ("knn_k range", None, ["--eval.knn_k", "0"], r"'eval\.knn_k' must be an integer >= 1"),
    ("knn_k vs bank", None, ["--eval.knn_k", "300"], r"'eval\.knn_k'.*<= 256.*kNN bank"),
    ("topology_points range", None, ["--eval.topology_points", "0"], r"'eval\.topology_points' must be an integer >= 1"),
    ("landmarks range", None, ["--eval.landmarks", "2"], r"'eval\.landmarks' must be an integer >= 4"),
    ("landmarks vs points", None, ["--eval.analysis", "true", "--eval.landmarks", "150"],
     r"'eval\.landmarks' is 150, more than the 128 points"),
    ("topology too few points", None, ["--eval.analysis", "true", "--eval.topology_points", "10"], r"at least 22 points"),
    ("features name", None, ["--eval.features", "raw"], r"'eval\.features' must be one of 'encoder', 'pixels'"),
    ("analysis type", None, ["--eval.analysis", "maybe"], r"'eval\.analysis' expects bool"),
    # run
    ("run.name path", None, ["--run.name", "a/b"], r"'run\.name' must be a folder name"),
    ("run.name dots", None, ["--run.name", ".."], r"'run\.name' must be a folder name"),
    ("seed range", None, ["--seed", "-1"], r"'run\.seed' must be an integer >= 0 and <= 2147483647"),
    ("seed too large", None, ["--seed", str(2**40)], r"'run\.seed'"),
    ("device name", None, ["--device", "gpu"], r"'run\.device' must be auto, cpu, cuda"),
    ("threads range", None, ["--threads", "-1"], r"'run\.threads' must be an integer >= 0"),
    ("checkpoint_minutes range", None, ["--checkpoint_minutes", "-1"], r"'run\.checkpoint_minutes' must be a finite number >= 0"),
    ("checkpoint_minutes nan", None, ["--checkpoint_minutes", ".nan"], r"'run\.checkpoint_minutes' is nan"),
    ("log_every range", None, ["--log_every", "0"], r"'run\.log_every' must be an integer >= 1"),
    ("progress type", None, ["--progress", "sometimes"], r"'run\.progress' expects bool"),
    # keys
    ("unknown key", None, ["--batchsize", "64"], r"unknown config key 'batchsize'.*optim\.batch_size"),
    ("unknown field", None, ["--optim.learning_rate", "0.1"], r"unknown config key 'optim\.learning_rate'"),
]


@pytest.mark.parametrize("case, config, extra, message", CASES, ids=[c[0] for c in CASES])
def test_every_class_of_bad_value_is_named_and_writes_nothing(case, config, extra, message, earlier, capsys):
    before = sha256s(earlier)
    rc, _, err = cli(T.main, args_for(config or "baseline_vicreg", extra, earlier), capsys)
    assert rc == 2 and err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert re.search(message, err), err
    assert sha256s(earlier) == before


def test_command_line_and_file_errors(tmp_path, earlier, capsys):
    (tmp_path / "latin1.yaml").write_bytes("optim: {lr: 0.1}  # caf\xe9\n".encode("latin-1"))
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "a_file").write_text("x")
    cases = [
        (["--config", str(tmp_path)], f"config file {tmp_path} is a folder"),
        (["--config", str(tmp_path / "nope.yaml")], "does not exist"),
        (["--config", str(tmp_path / "latin1.yaml")], "is not UTF-8 text"),
        (["--config", str(tmp_path / "list.yaml")], "must hold a mapping"),
        ([*BASE, "--lr", "[1"], "--lr: the value '[1' is not valid YAML"),
        ([*BASE, "--lr"], "--lr needs a value"),
        ([*BASE, "--profile", "huge"], "invalid choice: 'huge'"),
        ([*BASE, "--output-dir", str(tmp_path / "a_file")], f"--output-dir {tmp_path / 'a_file'} is a file, not a folder"),
        ([*BASE, "--output-dir", str(tmp_path / "a_file" / "run")], f"{tmp_path / 'a_file'}"),
    ]
    if not torch.cuda.is_available():
        cases.append(([*BASE, "--device", "cuda", "--output-dir", str(tmp_path / "cuda")], "CUDA is not available"))
    long = tmp_path / ("a" * 300)  # a name the file system refuses
    cases.append(([*BASE, "--output-dir", str(long)], f"error: File name too long: {long}"))
    before, mine = sha256s(earlier), sha256s(tmp_path)
    for argv, message in cases:
        rc, _, err = cli(T.main, argv, capsys)
        assert rc == 2 and message in err, (argv, err)
    assert sha256s(earlier) == before and sha256s(tmp_path) == mine


def test_malformed_config_files_are_named(tmp_path, earlier, capsys):
    files_ = {"profiles_int.yaml": ("profiles: 5\n", r"'profiles' must map profile names"),
              "profile_int.yaml": ("profiles: {smoke: 5}\n", r"\[profiles\]\[smoke\]: a config layer must be a mapping"),
              "profile_name.yaml": ("profiles: {huge: {optim: {lr: 0.1}}}\n", r"unknown profile\(s\) \['huge'\]"),
              "section_list.yaml": ("data: [1, 2]\n", r"config section 'data' must be a mapping, got \[1, 2\]"),
              "flat.yaml": ("lr: 0.1\n", r"unknown config section 'lr' \(lr is a field of 'optim'"),
              "bad.yaml": ("optim: {lr: [0.1\n", r"bad.yaml is not valid YAML")}
    before = sha256s(earlier)
    for name, (text, message) in files_.items():
        (tmp_path / name).write_text(text)
        rc, _, err = cli(T.main, ["--config", str(tmp_path / name), "--profile", "smoke", "--output-dir", str(earlier)],
                         capsys)
        assert rc == 2 and str(tmp_path / name) in err and re.search(message, err), err
    for argv, message in ((["--data", "5"], r"config section 'data' must be a mapping"),
                          (["--dataset", "[1]"], r"'data\.dataset' expects str")):
        rc, _, err = cli(T.main, [*BASE, *argv, "--output-dir", str(earlier)], capsys)
        assert rc == 2 and re.search(message, err), err
    assert sha256s(earlier) == before


def test_plan_run_of_an_unknown_run_is_one_line(capsys):
    rc, _, err = cli(plan.main, ["run", "--profile", "smoke", "--run", "torus_world/nope/seed0"], capsys)
    assert rc == 2 and err.strip().startswith("error: no run 'torus_world/nope/seed0' in profile 'smoke'")


def test_every_planned_run_of_every_profile_passes_validation():
    # validation must refuse nothing the paper runs (no number of any run changes)
    n = 0
    for profile in C.PROFILE_NAMES:
        for r in plan.runs_for(profile):
            C.resolve(REPO / "configs" / f"{r.config}.yaml", profile, r.override_dict())
            n += 1
    assert n > 150


# --------------------------------------------------------------------------- checkpoints
def test_checkpoints_record_the_hash_of_their_config(earlier):
    state = files.load_checkpoint(earlier / "last.pt")
    assert state["config_hash"] == C.config_hash(state["config"])
    cfg = C.Config.from_dict(state["config"])
    assert C.config_hash(C.Config.from_dict({**state["config"], "run": {**state["config"]["run"], "threads": 2}})
                         .to_dict()) == state["config_hash"]  # operational keys do not count
    cfg.optim.lr *= 2
    assert C.config_hash(cfg.to_dict()) != state["config_hash"]


def _resave(path: Path, **changes) -> None:
    state = files.load_checkpoint(path)
    state.pop("config_hash")  # a checkpoint of an older version
    state.update(changes)
    (path.parent / "prev.pt").unlink(missing_ok=True)
    files.save_checkpoint(path, state)
    (path.parent / "prev.pt").unlink(missing_ok=True)


def test_an_older_checkpoint_without_a_hash_is_compared_key_by_key(tmp_path, earlier, other_run, capsys):
    same, other, legacy = tmp_path / "same", tmp_path / "other", tmp_path / "legacy"
    for run in (same, other, legacy):
        shutil.copytree(earlier, run)
        (run / "final.json").unlink()
    _resave(same / "last.pt")
    _resave(other / "last.pt", config=files.load_checkpoint(other_run / "last.pt")["config"])
    flat = {"dataset": "torus_world", "seed": 7, "loss": {"type": "vicreg"}, "epochs": 1}  # jepa-torus <= 0.1
    _resave(legacy / "last.pt", config=flat)
    rc, out, err = cli(T.main, args_for(out=same), capsys)
    assert rc == 0 and "resuming" in out, err  # same config: resumes, only the evaluation is left
    for run, message in ((other, "run.seed 123 -> 0"), (legacy, "run.seed 7 -> 0")):
        before = sha256s(run)
        rc, _, err = cli(T.main, args_for(out=run), capsys)
        assert rc == 2 and message in err and "compared key by key" in err, err
        assert sha256s(run) == before


def test_a_damaged_last_checkpoint_with_a_foreign_prev_is_refused_before_any_rename(tmp_path, earlier, other_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(earlier, run)
    (run / "final.json").unlink()
    shutil.copy(other_run / "last.pt", run / "prev.pt")
    (run / "last.pt").write_bytes((run / "last.pt").read_bytes()[:500])  # damaged: falls back to prev.pt
    before = sha256s(run)
    rc, _, err = cli(T.main, args_for(out=run), capsys)
    assert rc == 2 and f"checkpoint {run / 'prev.pt'} was trained under another config" in err, err
    assert sha256s(run) == before and not (run / "last.pt.damaged").exists()


def test_operational_keys_may_change_on_resume(tmp_path, earlier, capsys):
    run = tmp_path / "run"
    shutil.copytree(earlier, run)
    (run / "final.json").unlink()
    rc, out, err = cli(T.main, args_for(extra=["--log_every", "3", "--threads", "2"], out=run), capsys)
    assert rc == 0 and "resuming" in out, err


def test_a_checkpoint_that_does_not_fit_the_model_is_refused_before_any_write(tmp_path, earlier, capsys):
    run = tmp_path / "run"
    shutil.copytree(earlier, run)
    (run / "final.json").unlink()
    state = files.load_checkpoint(run / "last.pt")
    state["model"] = {k: v[:1] if v.ndim else v for k, v in state["model"].items()}  # right config, wrong weights
    (run / "prev.pt").unlink(missing_ok=True)
    files.save_checkpoint(run / "last.pt", state)
    (run / "prev.pt").unlink()
    before = sha256s(run)
    rc, _, err = cli(T.main, args_for(out=run), capsys)
    assert rc == 2 and f"checkpoint {run / 'last.pt'} does not fit this run (RuntimeError" in err, err
    assert "train from scratch" in err and len(err.splitlines()) == 1
    rc, _, err = cli(E.main, ["--checkpoint", str(run / "last.pt")], capsys)
    assert rc == 2 and "its weights do not fit the model" in err and len(err.splitlines()) == 1, err
    assert sha256s(run) == before


def test_a_damaged_final_json_is_named(tmp_path, earlier, capsys):
    run = tmp_path / "run"
    shutil.copytree(earlier, run)
    (run / "final.json").write_bytes(b'{"linear_probe": 0.5, \xff')
    before = sha256s(run)
    rc, _, err = cli(T.main, args_for(out=run), capsys)
    assert rc == 2 and f"{run / 'final.json'} is damaged" in err and "delete it" in err, err
    assert sha256s(run) == before


def test_a_damaged_log_line_does_not_stop_a_resume(tmp_path, earlier, capsys):
    run = tmp_path / "run"
    shutil.copytree(earlier, run)
    (run / "final.json").unlink()
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"global_step": 1, "loss": \xff\xfe}\n')  # invalid UTF-8 (a flipped bit, a bad disk)
    rc, out, err = cli(T.main, args_for(out=run), capsys)
    assert rc == 0 and "resuming" in out, err


def test_out_of_memory_is_a_clear_error_before_anything_is_written(tmp_path, monkeypatch, capsys):
    def huge(cfg):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 400.00 GiB")

    monkeypatch.setattr(T.M, "build_model", huge)
    out = tmp_path / "run"
    rc, _, err = cli(T.main, args_for(extra=["--model.embed_dim", "100000000"], out=out), capsys)
    assert rc == 2 and "out of memory" in err and "Nothing was written" in err and "model.embed_dim" in err, err
    assert not out.exists()


def test_a_cuda_device_that_is_not_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(C.ConfigError, match=r"'run\.device' is cuda:3, but this machine has 1 CUDA device"):
        T._check_device(torch.device("cuda:3"))


# --------------------------------------------------------------------------- data
def test_unreadable_or_unwritable_data_files_are_named(tmp_path, monkeypatch):
    from jepa_torus import data as D

    with pytest.raises(D.DataMissingError, match=r"cannot be read"):
        D._read(tmp_path)  # a folder where a file should be
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc")
    read_only(monkeypatch, tmp_path / "ro")
    with pytest.raises(D.DataMissingError, match=r"could not download .* to .*ro/sub/x.bin.*Read-only"):
        D.fetch(src.as_uri(), tmp_path / "ro" / "sub" / "x.bin", D._md5(b"abc"))


def _fake_cifar(root: Path) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        batch = {b"data": np.full((4, 3072), i, dtype=np.uint8), b"labels": [0, 1, 2, 3]}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
    return folder


def test_cifar_files_are_checksummed_before_training(tmp_path, capsys):
    folder = _fake_cifar(tmp_path / "data")  # parses as CIFAR, but is not CIFAR
    out = tmp_path / "run"
    rc, _, err = cli(T.main, ["--config", "configs/baseline_vicreg.yaml", "--profile", "smoke", "--dataset", "cifar10",
                              "--data_root", str(tmp_path / "data"), "--output-dir", str(out)], capsys)
    assert rc == 2 and f"{folder / 'data_batch_1'}: checksum mismatch" in err and "extract" in err, err
    assert not out.exists()


def test_missing_cifar_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    rc, _, err = cli(T.main, ["--config", "configs/baseline_vicreg.yaml", "--profile", "smoke", "--dataset", "cifar100",
                              "--data_root", str(tmp_path), "--output-dir", str(out)], capsys)
    assert rc == 2 and "cifar-100-python" in err and "download=True" in err, err
    assert not out.exists()


# --------------------------------------------------------------------------- unwritable outputs
def read_only(monkeypatch, root) -> None:
    """Every write under ``root`` fails as on a read-only file system (EROFS), unlink and
    mkdir included: the in-process stand-in for a read-only mount."""
    root = Path(root).resolve()

    def inside(p) -> bool:
        try:
            return Path(p).resolve().is_relative_to(root)
        except (TypeError, ValueError, OSError):
            return False

    def erofs(p):
        return OSError(errno.EROFS, os.strerror(errno.EROFS), str(p))

    real_open, real_replace, real_access = builtins.open, os.replace, os.access
    real_mkdir, real_unlink = Path.mkdir, Path.unlink

    def fake_open(path, mode="r", *a, **kw):
        if any(c in mode for c in "wax+") and inside(path):
            raise erofs(path)
        return real_open(path, mode, *a, **kw)

    def replace(src, dst):
        if inside(src) or inside(dst):
            raise erofs(dst)
        return real_replace(src, dst)

    def mkdir(self, *a, **kw):
        if inside(self):
            raise erofs(self)
        return real_mkdir(self, *a, **kw)

    def unlink(self, missing_ok=False):
        if inside(self):
            raise erofs(self)  # even for a file that is not there: EROFS comes first
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(files, "open", fake_open, raising=False)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr(Path, "unlink", unlink)
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if inside(p) and mode & os.W_OK else real_access(p, mode))


def test_every_writer_raises_one_error_with_path_and_reason(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "old.json").write_text("{}")
    before = sha256s(ro)
    read_only(monkeypatch, ro)
    writers = [(lambda: files.atomic_write_json(ro / "old.json", {"a": 1}), "old.json", "the earlier old.json is unchanged"),
               (lambda: files.atomic_write_text(ro / "new.txt", "x"), "new.txt", "nothing was written"),
               (lambda: files.atomic_write_bytes(ro / "sub" / "new.bin", b"x"), "sub", "could not create folder"),
               (lambda: files.ensure_dir(ro / "a" / "b"), "a/b", "could not create folder"),
               (lambda: files.open_append(ro / "log.jsonl"), "log.jsonl", "for appending"),
               (lambda: files.save_checkpoint(ro / "last.pt", {"model": {}, "config": {}}), "last.pt", "nothing was written"),
               (lambda: files.check_writable(ro / "eval.json"), "eval.json", "nothing was written")]
    for write, name, kept in writers:
        with pytest.raises(files.OutputError) as e:
            write()
        assert e.value.errno in (errno.EROFS, errno.EACCES) and name in str(e.value) and kept in str(e.value), str(e.value)
        assert "read-only or not writable" in str(e.value)
    monkeypatch.undo()
    assert sha256s(ro) == before and sorted(p.name for p in ro.iterdir()) == ["old.json"]  # no temporary file either


def test_plan_writers_fail_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runs, "REPO", tmp_path)
    reports = tmp_path / "reports" / "smoke"
    reports.mkdir(parents=True)
    (reports / "a.html").write_text("<p>a</p>")
    before = sha256s(tmp_path)
    read_only(monkeypatch, tmp_path)
    rc, _, err = cli(plan.main, ["index", "--profile", "smoke"], capsys)
    assert rc == 2 and err.startswith("error: [Errno 30] could not write") and "index.html" in err, err
    with pytest.raises(files.OutputError, match=r"timings.jsonl.*Read-only"):
        plan._record_time("smoke", "x", 1.0)
    monkeypatch.undo()
    assert sha256s(tmp_path) == before


def test_plan_exec_turns_write_errors_and_ctrl_c_into_one_line(tmp_path, capsys):
    """make runs the report and the benchmark through `plan exec`: an unguarded write error
    (report.py's own mkdir, say), an OutputError or Ctrl-C is one line, never a traceback."""
    scripts = {"perm.py": "import errno, os\n"  # what an unguarded mkdir on a read-only mount raises
                          "raise OSError(errno.EROFS, os.strerror(errno.EROFS), 'paper/generated/smoke')\n",
               "full.py": "from jepa_torus.files import OutputError\nraise OutputError(28, 'could not write x.json')\n",
               "exit.py": "import sys\nprint(sys.argv[1:])\nsys.exit(3)\n"}
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    rc, _, err = cli(plan.main, ["exec", str(tmp_path / "perm.py")], capsys)
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("error: could not write paper/generated/smoke (Read-only file system)"), err
    rc, _, err = cli(plan.main, ["exec", str(tmp_path / "full.py")], capsys)
    assert rc == 2 and err.strip() == "error: [Errno 28] could not write x.json"
    rc, out, _ = cli(plan.main, ["exec", str(tmp_path / "exit.py"), "a", "--b"], capsys)
    assert rc == 3 and out.strip() == "['a', '--b']"
    (tmp_path / "slow.py").write_text("import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([PY, "-m", "jepa_torus.plan", "exec", str(tmp_path / "slow.py")], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip() == plan.INTERRUPTED


def test_real_read_only_files_for_a_user_who_is_not_root(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes through permissions (the read-only mount test covers this machine)")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(files.OutputError, match=r"Permission denied.*not writable"):
            files.atomic_write_text(ro / "x.txt", "x")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


# --------------------------------------------------------------------------- divergence and Ctrl-C
def test_divergence_before_the_first_checkpoint_does_not_claim_one(tmp_path, monkeypatch):
    original = T.Objective.forward

    def nan(self, *a):
        out = original(self, *a)
        out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(T.Objective, "forward", nan)
    cfg = C.resolve(REPO / "configs/baseline_vicreg.yaml", "smoke", {**T.parse_args(BASE)[1], "checkpoint_minutes": 60})
    with pytest.raises(T.TrainingDiverged) as e:
        T.train(cfg, tmp_path / "run")
    assert "No checkpoint was written yet" in str(e.value) and "last good checkpoint" not in str(e.value)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_ctrl_c_in_training_says_what_was_kept_and_the_rerun_resumes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    argv = args_for(extra=["--epochs", "2", "--checkpoint_minutes", "0.0"], out=out)
    real, n = T.Run._train_step, {"steps": 0}

    def step(self, *a):
        n["steps"] += 1
        if n["steps"] == 11:  # epoch 1, after the checkpoint of step 10
            raise KeyboardInterrupt
        return real(self, *a)

    monkeypatch.setattr(T.Run, "_train_step", step)
    rc, _, err = cli(T.main, argv, capsys)
    assert rc == 130 and len(err.splitlines()) == 1, err
    assert err.startswith(f"interrupted: The last good checkpoint ({out / 'last.pt'}, epoch 1 step 2) is kept") \
        and "run the same command again to resume" in err, err
    monkeypatch.undo()
    rc, text, err = cli(T.main, argv, capsys)
    assert rc == 0 and "resuming" in text and (out / "final.json").exists(), err


def test_sigint_to_the_training_command_ends_without_a_traceback(tmp_path):
    out = tmp_path / "run"
    cmd = [PY, "-m", "jepa_torus.train", *args_for(extra=["--epochs", "3", "--log_every", "1"], out=out)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / "metrics.jsonl").exists() and (out / "metrics.jsonl").read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().startswith("interrupted: ") and "run the same command again" in err, err


# --------------------------------------------------------------------------- make
def repo_copy(dst: Path) -> Path:
    shutil.copytree(REPO, dst, ignore=shutil.ignore_patterns(
        ".git", ".venv", "runs", "reports", "figures", "generated", "lean", "__pycache__", "*.egg-info", ".pytest_cache"))
    return dst


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_table_row_make_dry_run_installs_nothing_and_trains_nothing(tmp_path):
    copy = repo_copy(tmp_path / "copy")
    before = sha256s(copy)
    env = {**os.environ, "MAKEFLAGS": ""}
    # no venv yet: make -n prints the install, runs nothing, and says it cannot list the runs
    r = subprocess.run(["make", "-n", "paper", "PROFILE=smoke", f"VENV={tmp_path / 'venv'}"], cwd=copy,
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "pip install" in r.stdout and "not installed yet" in r.stdout
    assert not (tmp_path / "venv").exists() and sha256s(copy) == before and not (copy / "runs").exists()
    # with a venv: the runs are listed (printed), still nothing is run or written
    stamp = tmp_path / "stamp"
    stamp.touch()
    r = subprocess.run(["make", "-n", "paper", "PROFILE=smoke", f"PY={PY}", f"STAMP={stamp}"], cwd=copy,
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "jepa_torus.plan run --profile smoke --run nuisance_torus/baseline_vicreg/seed0" in r.stdout
    assert "pip install" not in r.stdout and sha256s(copy) == before and not (copy / "runs").exists()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_table_row_ctrl_c_during_make_paper(tmp_path):
    pytest.importorskip("papermill")
    copy = repo_copy(tmp_path / "copy")
    (tmp_path / "stamp").touch()
    cmd = ["make", "--no-print-directory", "runs", "PROFILE=smoke", "ONLY=nuisance_torus/baseline_vicreg/seed0",
           f"PY={PY}", f"STAMP={tmp_path / 'stamp'}"]
    env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1", "MAKEFLAGS": ""}
    run = copy / "runs/smoke/nuisance_torus/baseline_vicreg/seed0"
    proc = subprocess.Popen(cmd, cwd=copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not (run / "config.yaml").exists():
        time.sleep(0.05)
    time.sleep(0.2)  # the notebook's training cell has started
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group
    out, _ = proc.communicate(timeout=300)
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out
    assert "interrupted: " in out and "run the same make command again to resume" in out, out
    again = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and (run / "final.json").exists(), again.stdout[-2000:] + again.stderr[-2000:]
    json.loads((run / "final.json").read_text())
