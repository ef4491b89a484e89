"""The Colab path, offline: one repository URL everywhere, and the notebooks' first cell in
the situations it meets (importable but in the wrong folder, Colab present, nothing installed,
Jupyter opened in notebooks/), with git and pip replaced by a recorder."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import yaml

from jepa_torus import notebook
from jepa_torus.runs import REPO

NOTEBOOKS = ["train", "analyze", "ablate", "figures"]


def repository_url() -> str:
    return re.search(r'^Repository = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)


def bootstrap_source() -> str:
    nb = nbformat.read(REPO / "notebooks" / "train.ipynb", as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code").source


def test_one_repository_url():
    url = repository_url()
    badge = re.compile(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/main/notebooks/(\w+)\.ipynb")
    owner_repo = url.removeprefix("https://github.com/")
    texts = {"README.md": (REPO / "README.md").read_text()}
    texts.update({f"{n}.ipynb": (REPO / "notebooks" / f"{n}.ipynb").read_text() for n in NOTEBOOKS})
    for name, text in texts.items():
        found = badge.findall(text)
        assert found, f"{name}: no Colab badge"
        assert {r for r, _ in found} == {owner_repo}, name
        for _, nb in found:
            assert (REPO / "notebooks" / f"{nb}.ipynb").exists()
        github = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", text)) - {"https://github.com/Paraxiom/jepa-torus"}
        assert github <= {url, url + ".git"}, (name, github)
    assert f'"JEPA_TORUS_REPO", "{url}"' in bootstrap_source()
    assert yaml.safe_load((REPO / "CITATION.cff").read_text())["repository-code"] == url


def test_torch_is_a_range_in_pyproject_and_pinned_for_make():
    deps = re.search(r"dependencies = \[(.*?)\]", (REPO / "pyproject.toml").read_text(), re.S).group(1)
    torch = re.search(r'"torch([^"]*)"', deps).group(1)
    assert torch.startswith(">=") and "==" not in torch
    import torch as installed
    from packaging.specifiers import SpecifierSet
    assert installed.__version__.split("+")[0] in SpecifierSet(torch)   # the tested version is in the range
    pins = [line for line in (REPO / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert pins == ["torch==2.13.0"]
    make = (REPO / "Makefile").read_text()
    assert "-c constraints.txt -e '.[test,paper]'" in make and "$(STAMP): pyproject.toml constraints.txt" in make


class Recorder:
    """subprocess.run for the cell: records the command; `git clone` makes the folder."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, cmd, **kwargs):
        self.calls.append(list(cmd))
        if cmd[:2] == ["git", "clone"]:
            Path(cmd[-1], "jepa_torus").mkdir(parents=True)
            Path(cmd[-1], "jepa_torus", "__init__.py").write_text("")
        return subprocess.CompletedProcess(cmd, 0)


@pytest.fixture
def cell(monkeypatch):
    """Run the bootstrap cell here: git and pip recorded, sys.path and cwd restored."""
    rec = Recorder()
    monkeypatch.setattr(subprocess, "run", rec)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)

    def run(installed: bool = True):
        if not installed:
            real = importlib.util.find_spec
            monkeypatch.setattr(importlib.util, "find_spec",
                                lambda name, *a: None if name == "jepa_torus" else real(name, *a))
        exec(compile(bootstrap_source(), "bootstrap", "exec"), {"__name__": "__main__"})
        return rec.calls
    return run


def test_importable_in_the_wrong_folder_changes_to_the_repository(cell, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)   # a restarted Colab runtime: the package importable, cwd /content
    assert cell() == []           # nothing cloned or installed
    assert Path.cwd() == REPO
    assert "Colab" not in capsys.readouterr().out
    assert notebook.colab_defaults() == {}


def test_colab_present_turns_downloads_on_and_hints_at_drive(cell, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    cell()
    assert Path.cwd() == REPO
    out = capsys.readouterr().out
    assert "downloads are on" in out and "drive.mount" in out and "output_dir" in out
    assert notebook.in_colab() and notebook.colab_defaults() == {"download": True}
    from jepa_torus.config import resolve
    assert resolve("toroidal_N12", "smoke", notebook.colab_defaults()).data.download is True


def test_fresh_colab_clones_the_one_url_and_installs_without_pinning_torch(cell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JEPA_TORUS_REPO", raising=False)
    calls = cell(installed=False)
    assert calls[0] == ["git", "clone", "-q", "--depth", "1", repository_url(), "jepa-torus"]
    assert calls[1][1:] == ["-m", "pip", "install", "-q", "-e", "jepa-torus"]   # no torch==, no -c: Colab's torch stays
    assert str(tmp_path / "jepa-torus") in sys.path
    assert Path.cwd() == REPO


def test_a_fork_and_a_second_run_of_the_cell(cell, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JEPA_TORUS_REPO", "https://example.org/fork.git")
    calls = cell(installed=False)
    assert calls[0][-2] == "https://example.org/fork.git"
    os.chdir(tmp_path)                   # the same cell again, before a restart: the clone is reused
    calls = cell(installed=False)
    assert [c[0] for c in calls].count("git") == 1


def test_jupyter_opened_in_notebooks_installs_the_checkout_it_is_in(cell, monkeypatch):
    monkeypatch.chdir(REPO / "notebooks")
    calls = cell(installed=False)
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", "-e", ".."]]   # no clone inside notebooks/
    assert Path.cwd() == REPO
