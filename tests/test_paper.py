"""The whole chain on the smoke profile: `make paper PROFILE=smoke` trains every run of the
plan, executes the notebooks, writes tables, macros and figures, renders the HTML reports and
builds the PDF.  Then: everything main.tex names exists, every macro resolved, and main.tex
types no result by hand.  (About 6-10 minutes on 2 cores: the longest test here.)"""
import re
import subprocess
from pathlib import Path

import pytest

from jepa_torus import plan

REPO = Path(__file__).resolve().parent.parent
TEX = (REPO / "paper" / "main.tex").read_text()


def _body(tex: str) -> str:
    """main.tex without comments (a % not preceded by a backslash starts one)."""
    return "\n".join(re.sub(r"(?<!\\)%.*", "", line) for line in tex.splitlines())


@pytest.fixture(scope="module")
def smoke_paper():
    # `make test` installs TeX Live first (Makefile: texdeps), so a missing latexmk is a failure here
    subprocess.run(["make", "--no-print-directory", "clean-all", "PROFILE=smoke"], cwd=REPO, check=True,
                   capture_output=True)
    r = subprocess.run(["make", "--no-print-directory", "paper", "PROFILE=smoke", "JOBS=2"], cwd=REPO,
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    return r


def test_every_run_of_the_plan_finished_with_a_report(smoke_paper):
    runs = plan.runs_for("smoke")
    assert len(runs) > 20
    for run in runs:
        assert (run.dir("smoke") / "final.json").exists(), run.id
    html = list((REPO / "reports" / "smoke" / "runs").glob("*.html"))
    assert len(html) == len(runs)
    index = (REPO / "reports" / "smoke" / "index.html").read_text()
    for name in ("analyze", "ablate", "figures"):
        assert f"{name}.html" in index and (REPO / "reports" / "smoke" / f"{name}.html").stat().st_size > 10_000


def test_everything_main_tex_names_exists(smoke_paper):
    body = _body(TEX)
    tables = re.findall(r"\\gentable\{([^}]+)\}", body)
    figures = re.findall(r"\\genfig(?:\[[^\]]*\])?\{([^}]+)\}", body)
    inputs = [x.replace("\\profile", "smoke") for x in re.findall(r"\\input\{([^}#]+)\}", body)]
    assert len(tables) >= 7 and len(figures) >= 6
    for t in tables:
        assert (REPO / "paper" / "generated" / "smoke" / f"{t}.tex").exists(), t
    for f in figures:
        assert (REPO / "figures" / "smoke" / f"{f}.pdf").exists(), f
    for i in inputs:
        assert (REPO / "paper" / f"{i}.tex").exists(), i


def test_pdf_built_and_every_macro_resolved(smoke_paper):
    pdf = REPO / "paper" / "main-smoke.pdf"
    assert pdf.stat().st_size > 50_000
    log = (REPO / "paper" / "main-smoke.log").read_text(errors="replace")
    assert "Package jepa-torus Warning" not in log, re.findall(r"Package jepa-torus Warning: [^\n]*", log)
    assert "Citation" not in log or "undefined" not in log


def test_main_tex_types_no_result_by_hand(smoke_paper):
    """No decimal number or percentage in the prose, and no value of a generated macro
    anywhere in main.tex (constants of the method, such as lambda_1 = 2 - 2 cos(2 pi / N),
    come from macros too)."""
    body = _body(TEX)
    prose = body[body.index("\\begin{document}"):]
    prose = re.sub(r"\[[\d.]+\]|[\d.]+\\(line|text)(width|height)|[\d.]+(pt|ex|em)\b", "", prose)  # layout
    prose = re.sub(r"\\begin\{(equation|align)\*?\}.*?\\end\{\1\*?\}", "", prose, flags=re.S)
    prose = re.sub(r"\$[^$]*\$", "", prose)
    prose = re.sub(r"\\(R|Cmp|Diff|Best|Ahead|Recovers)(\{[^}]*\})+", "", prose)  # lookups name runs
    assert re.findall(r"\d+\.\d+", prose) == []
    assert re.findall(r"\d\s*\\%", prose) == []
    # every result value (the \\R lookups) with three or more digits must not appear as a literal
    macros = (REPO / "paper" / "generated" / "smoke" / "macros.tex").read_text()
    results = " ".join(re.findall(r"\\csname R@[^\n]*", macros))
    values = {v for v in re.findall(r"\d+\.\d+", results) if len(v.replace(".", "").lstrip("0")) >= 3}
    assert len(values) > 20
    text = re.sub(r"\\(R|Cmp|Diff|Best|Ahead|Recovers)(\{[^}]*\})+", "", body)
    assert [v for v in values if re.search(rf"(?<![\d.]){re.escape(v)}(?!\d)", text)] == []
