"""The README's `python -m jepa_torus...` commands run as written (smoke sizes forced through
the environment), so the documentation cannot drift from the command line.  `make` blocks
and torchrun are out of scope (make is exercised by the smoke paper in test_paper.py)."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """Every line of a ```bash block of README.md that runs `python -m jepa_torus.<module>`,
    with its backslash continuations joined."""
    text = (REPO / "README.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if re.match(r"(\.venv/bin/)?python3? -m jepa_torus\.", line):
                out.append(line)
    return out


def test_the_readme_has_commands_to_check():
    modules = {shlex.split(c)[2] for c in readme_commands()}
    assert {"jepa_torus.train", "jepa_torus.eval"} <= modules


@pytest.mark.slow
def test_readme_commands_run_as_written(tmp_path):
    (tmp_path / "configs").symlink_to(REPO / "configs")  # relative paths as in a checkout
    env = {**os.environ, "PROFILE": "smoke"}            # the smoke profile's sizes, not the cpu ones
    for command in readme_commands():
        argv = shlex.split(command)
        argv[0] = sys.executable
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
    assert (tmp_path / "runs" / "x" / "final.json").exists()
