"""The whole chain on the smoke profile: `make paper PROFILE=smoke` trains every run of the
plan, writes tables and macros (`python -m jepa_torus.report`), executes the notebooks (the
figures), renders the HTML reports and builds the PDF.  Then: everything main.tex names
exists, every macro resolved, and main.tex types no result by hand.  (About 6-10 minutes on
2 cores: the longest test here.)  Also the notebooks' shared first cell, in a kernel."""
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from jepa_torus import plan, report, runs

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


def test_every_run_of_the_plan_finished_and_the_summary_reports_exist(smoke_paper):
    runs = plan.runs_for("smoke")
    assert len(runs) > 20
    for run in runs:
        assert (run.dir("smoke") / "final.json").exists(), run.id
    # the per-run reports are rendered on demand (`make run-reports`), not by make paper
    assert not list((REPO / "reports" / "smoke" / "runs").glob("*.html"))
    timed = plan.stage_seconds("smoke")
    assert all(f"run:{run.id}" in timed for run in runs)   # every run's seconds were recorded
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


def test_tables_are_what_the_report_writes_from_the_finished_runs(smoke_paper, tmp_path):
    """make wrote the tables with jepa_torus.report, from every finished run, and the same runs
    give the same bytes in another process (no order that depends on hashing)."""
    again = report.write_generated("smoke", runs.finished("smoke"), out=tmp_path)
    made = REPO / "paper" / "generated" / "smoke"
    assert sorted(p.name for p in made.glob("*.tex")) == sorted(p.name for p in again.glob("*.tex"))
    for p in again.glob("*.tex"):
        assert (made / p.name).read_bytes() == p.read_bytes(), p.name


def test_reports_leave_out_the_bootstrap_cell(smoke_paper):
    """The clone-and-install cell is for Colab; the HTML reports show the analysis only."""
    pages = [REPO / "reports" / "smoke" / f"{n}.html" for n in plan.NOTEBOOKS]
    pages += sorted((REPO / "reports" / "smoke" / "runs").glob("*.html"))[:3]
    for page in pages:
        assert "jepa_torus.notebook" not in page.read_text(), page.name


NOTEBOOKS = ["train", "analyze", "ablate", "figures"]


def _first_code_cell(name: str):
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    return nb, next(c for c in nb.cells if c.cell_type == "code")


def test_every_notebook_starts_with_the_same_bootstrap_cell():
    cells = [_first_code_cell(n)[1] for n in NOTEBOOKS]
    assert all(c.metadata.get("tags") == ["bootstrap"] for c in cells)
    assert len({c.source for c in cells}) == 1
    assert cells[0].source.splitlines()[-1].startswith("from jepa_torus.notebook import setup; setup()")


def test_bootstrap_cell_in_a_kernel_started_elsewhere_works_in_the_repository(tmp_path):
    """Run the cell in a real kernel whose folder is not the repository (Jupyter opened in
    notebooks/, say): afterwards relative paths such as runs/ are the repository's."""
    nb, cell = _first_code_cell("analyze")
    probe = nbformat.v4.new_code_cell("import os, matplotlib; print(os.getcwd()); print(matplotlib.get_backend())")
    test = nbformat.v4.new_notebook(cells=[cell, probe], metadata=nb.metadata)
    NotebookClient(test, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    cwd, backend = test.cells[1].outputs[0]["text"].split()
    assert Path(cwd) == runs.REPO and "inline" in backend


def test_notebooks_only_plot_and_spell_no_run_folder():
    """Tables come from jepa_torus.report alone; run folders are found through jepa_torus.runs."""
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "write_generated" not in code and 'Path("runs")' not in code, name
