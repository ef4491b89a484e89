"""The package as a library: installed without its sources, imported, driven by papermill.

A non-editable install (``pip install --no-deps --target DIR .``, on this venv's dependencies)
must train a shipped config with the smoke profile from any working directory, writing only
under that directory; ``jepa_torus`` re-exports the public API and has a ``__version__``; a
parameter papermill injects that the notebook does not declare is an error.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import jepa_torus
from jepa_torus import config as C
from jepa_torus import notebook
from jepa_torus.runs import REPO


def test_version_matches_pyproject():
    version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    assert jepa_torus.__version__ == version


def test_license_and_citation_agree_with_pyproject():
    text = (REPO / "pyproject.toml").read_text()
    assert 'license = { text = "MIT" }' in text
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    assert cff["version"] == jepa_torus.__version__ and cff["title"] and cff["authors"]


def test_reexports_resolve_lazily():
    code = ("import sys, jepa_torus as jt; assert 'jepa_torus.metrics' not in sys.modules; "
            "names = [n for n in jt.__all__ if n != '__version__']; [getattr(jt, n) for n in names]; "
            "from jepa_torus import VICRegLoss, knn_accuracy, resolve; from jepa_torus import train; "
            "assert callable(train.train)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    with pytest.raises(AttributeError):
        jepa_torus.no_such_name


def test_config_by_name_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for given in ("toroidal_N12", "toroidal_N12.yaml", "configs/toroidal_N12.yaml"):
        assert C.config_file(given) == C.CONFIGS / "toroidal_N12.yaml"
        assert C.resolve(given, "smoke").run.name == "toroidal_N12"
    with pytest.raises(C.ConfigError, match="does not exist"):
        C.resolve("configs/no_such_config.yaml", "smoke")
    (tmp_path / "mine.yaml").write_text("optim: {lr: 0.5}\n")   # a file of the working directory wins
    assert C.resolve("mine.yaml", "smoke").optim.lr == 0.5


def test_missing_profiles_file_is_loud(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "PROFILES_FILE", tmp_path / "profiles.yaml")
    with pytest.raises(C.ConfigError, match="profiles file .* is missing"):
        C.resolve(None, "smoke")


def _install(tmp_path: Path) -> Path:
    """pip install --no-deps --target: the package as a wheel would lay it out (no sources)."""
    src = tmp_path / "src"   # a copy, so that the build's own build/ folder stays out of the repository
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "configs", src / "configs")
    shutil.copytree(REPO / "jepa_torus", src / "jepa_torus", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(src)], check=True)
    assert (target / "jepa_torus" / "configs" / "profiles.yaml").is_file(), "configs/ not shipped"
    return target


@pytest.mark.slow
def test_non_editable_install_trains_smoke_from_another_directory(tmp_path):
    target = _install(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    shipped = target / "jepa_torus" / "configs" / "toroidal_N12.yaml"
    where = subprocess.run([sys.executable, "-c", "import jepa_torus, jepa_torus.config as c; "
                            "print(jepa_torus.__file__); print(c.CONFIGS)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert where == [str(target / "jepa_torus" / "__init__.py"), str(target / "jepa_torus" / "configs")]
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "jepa_torus.train", "--config", str(shipped), "--profile", "smoke",
                        "--output-dir", str(out), "--dataset=torus_world"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["run"]["profile"] == "smoke" and cfg["run"]["name"] == "toroidal_N12"
    assert (cfg["data"]["train_subset"], cfg["optim"]["epochs"], cfg["optim"]["batch_size"]) == (512, 1, 64)
    assert json.loads((out / "final.json").read_text())["config"] == "toroidal_N12"
    # without --output-dir the run lands under the working directory, never in site-packages
    r = subprocess.run([sys.executable, "-m", "jepa_torus.train", "--config", "toroidal_N12", "--profile", "smoke",
                        "--dataset", "torus_world", "--epochs=1"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert (work / "runs" / "smoke" / "torus_world" / "toroidal_N12" / "seed0" / "final.json").is_file()
    assert not (target / "runs").exists()


# --------------------------------------------------------------------------- papermill parameters
def test_injected_names_are_checked_against_the_parameters_cell():
    params = 'config = "configs/toroidal_N12.yaml"\nprofile = "cpu"\nn: int = 2\n'
    assert notebook.unknown_parameters(params, '# Parameters\nprofile = "smoke"\nn = 3\n') is None
    message = notebook.unknown_parameters(params, '# Parameters\nconfg = "x"\n')
    assert "'confg' (did you mean 'config'?)" in message


def test_the_check_stops_an_ipython_shell():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    try:
        notebook.check_parameters(shell)
        notebook.check_parameters(shell)   # installed once
        assert sum(isinstance(t, notebook._ParameterCheck) for t in shell.input_transformers_post) == 1
        shell.run_cell('config = "a"\nprofile = "cpu"\n')
        assert shell.run_cell('# Parameters\nprofile = "smoke"\n').success
        shell.run_cell('config = "a"\nprofile = "cpu"\n')
        r = shell.run_cell('# Parameters\nconfg = "b"\n')
        assert isinstance(r.error_in_exec, notebook.UnknownParameter)
        assert "confg" not in shell.user_ns
    finally:
        shell.input_transformers_post[:] = [t for t in shell.input_transformers_post
                                            if not isinstance(t, notebook._ParameterCheck)]
        InteractiveShell.clear_instance()


@pytest.mark.slow
def test_papermill_with_a_misspelt_parameter_fails(tmp_path):
    pm = pytest.importorskip("papermill")
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
                                            "language_info": {"name": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("from jepa_torus.notebook import setup; setup()"),
                nbformat.v4.new_code_cell('profile = "cpu"', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print(profile)")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    pm.execute_notebook(str(path), str(tmp_path / "ok.ipynb"), parameters={"profile": "smoke"}, progress_bar=False,
                        kernel_name="python3", cwd=str(tmp_path))
    with pytest.raises(pm.PapermillExecutionError, match="UnknownParameter"):
        pm.execute_notebook(str(path), str(tmp_path / "bad.ipynb"), parameters={"profle": "smoke"},
                            progress_bar=False, kernel_name="python3", cwd=str(tmp_path))


def test_a_finished_run_exports_its_weights_and_loads_in_one_line(tmp_path):
    import torch

    import jepa_torus as jt
    from jepa_torus import runs
    from jepa_torus.files import load_checkpoint
    from jepa_torus.train import train

    cfg = jt.resolve(REPO / "configs" / "toroidal_N12.yaml", "smoke",
                     {"dataset": "torus_world", "train_subset": 128, "batch_size": 32, "epochs": 1, "threads": 1,
                      "eval": {"probe_train": 64, "probe_test": 64, "knn_k": 5, "analysis": False}})
    run = tmp_path / "run"
    train(cfg, run)
    path = runs.export_weights(run)
    assert path.stat().st_size < (run / "last.pt").stat().st_size / 2   # no optimiser state
    model, loaded = jt.load_run(run)
    assert loaded.to_dict() == cfg.to_dict() and not model.training
    want = load_checkpoint(run / "last.pt")["model"]
    assert all(torch.equal(model.state_dict()[k], want[k]) for k in want)
    with pytest.raises(ValueError, match="not a finished run"):
        runs.export_weights(tmp_path)
