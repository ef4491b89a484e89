"""The shared start of every notebook (train, analyze, ablate, figures).

    from jepa_torus.notebook import setup; setup()

The notebooks name files relative to the repository root (runs/, figures/, configs/), the
folder papermill runs them in; opened from notebooks/ in Jupyter, or from a fresh clone in
Colab, they would look elsewhere.  The clone-and-install line before this call is in each
notebook's first cell (tagged "bootstrap"), since it must run before the package exists.
"""
from __future__ import annotations

import os
from pathlib import Path

from .runs import REPO


def setup() -> Path:
    """Work in the repository root and show figures inline; returns the root."""
    if Path.cwd().resolve() != REPO:
        os.chdir(REPO)
    try:
        from IPython import get_ipython
    except ImportError:   # plain Python: nothing to configure
        return REPO
    shell = get_ipython()
    if shell is not None:   # None outside IPython (e.g. a script importing this module)
        shell.run_line_magic("matplotlib", "inline")
    return REPO
