"""The shared start of every notebook (train, analyze, ablate, figures).

    from jepa_torus.notebook import setup; setup()

The notebooks name files relative to the repository root (runs/, figures/, configs/), the
folder papermill runs them in; opened from notebooks/ in Jupyter, or from a fresh clone in
Colab, they would look elsewhere.  The clone-and-install line before this call is in each
notebook's first cell (tagged "bootstrap"), since it must run before the package exists.

Under papermill, ``setup()`` also checks the parameters papermill injects (its cell starting
``# Parameters``, run right after the cell tagged "parameters") against the names that cell
assigns: a misspelt ``-p confg ...`` fails the notebook instead of training the defaults.
"""
from __future__ import annotations

import ast
import difflib
import os
import sys
from pathlib import Path

from .runs import REPO


def in_colab() -> bool:
    """True in a Google Colab kernel (which imports google.colab at start)."""
    return "google.colab" in sys.modules


def colab_defaults() -> dict:
    """Config overrides a Colab session needs: its disk has no data set, so missing files are
    downloaded (checksummed; data.download is operational, so a run resumes either way)."""
    return {"download": True} if in_colab() else {}


COLAB_HINT = ("[jepa_torus] Colab: data downloads are on; runs/ is lost with the runtime: mount Drive "
              "(from google.colab import drive; drive.mount('/content/drive')) and set output_dir to a folder there")


def setup() -> Path:
    """Work in the repository root and show figures inline; returns the root.  Always changes
    directory (a restarted Colab runtime finds the package importable but starts in /content)."""
    if Path.cwd().resolve() != REPO:
        os.chdir(REPO)
    if in_colab():
        print(COLAB_HINT)
    try:
        from IPython import get_ipython
    except ImportError:   # plain Python: nothing to configure
        return REPO
    shell = get_ipython()
    if shell is not None:   # None outside IPython (e.g. a script importing this module)
        check_parameters(shell)
        shell.run_line_magic("matplotlib", "inline")
    return REPO


INJECTED = "# Parameters"   # the first line of the cell papermill injects (papermill.translators)


class UnknownParameter(NameError):
    """papermill was given a parameter that the notebook's parameters cell does not assign."""


def assigned_names(source: str) -> set[str]:
    """The names a cell assigns at top level (``x = ...``, ``x: int = ...``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def unknown_parameters(parameters_cell: str, injected_cell: str) -> str | None:
    """None when every injected name is assigned by the parameters cell, else the message."""
    known = assigned_names(parameters_cell)
    unknown = sorted(assigned_names(injected_cell) - known)
    if not unknown:
        return None
    hints = [f"{u!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, known, 1)) else repr(u)
             for u in unknown]
    return (f"unknown notebook parameter(s) {', '.join(hints)}; this notebook's parameters are "
            f"{', '.join(sorted(known)) or '(none)'}")


class _ParameterCheck:
    """An IPython input transformer: it remembers the last cell run; when papermill's injected
    cell comes, a name the previous (parameters) cell does not assign turns that cell into
    ``raise UnknownParameter(...)``, so the notebook stops there."""

    def __init__(self):
        self.previous = ""

    def __call__(self, lines: list[str]) -> list[str]:
        source = "".join(lines)
        if source.lstrip().startswith(INJECTED):
            message = unknown_parameters(self.previous, source)
            if message is not None:
                return ["from jepa_torus.notebook import UnknownParameter\n",
                        f"raise UnknownParameter({message!r})\n"]
        elif source.strip():
            self.previous = source
        return lines


def check_parameters(shell) -> None:
    """Install the check of papermill's injected parameters in this IPython shell (once)."""
    post = shell.input_transformers_post
    if not any(isinstance(t, _ParameterCheck) for t in post):
        post.append(_ParameterCheck())
