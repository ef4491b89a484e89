"""The report index and the HTML reports read offline: every local link resolves, no TeX."""
from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from jepa_torus import report, site
from jepa_torus.runs import REPO


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def local_links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return [u for u in parser.links if not urlparse(u).scheme and not u.startswith(("#", "//"))]


def committed(pattern: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", pattern], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [REPO / p for p in out.split()]


COMMITTED_INDEXES = committed("reports/*/index.html")
INDEXES = COMMITTED_INDEXES or \
    [p for p in sorted((REPO / "reports").glob("*/index.html"))]


@pytest.mark.parametrize("index", INDEXES, ids=lambda p: p.parent.name)
def test_every_local_link_of_the_index_exists(index):
    links = local_links(index)
    assert links, "an index with no link"
    for link in links:
        target = (index.parent / unquote(urlparse(link).path)).resolve()
        assert target.exists(), f"{index.relative_to(REPO)} links {link}, which does not exist"
        if index not in COMMITTED_INDEXES:   # made here (smoke, or a profile being remade): not on a clone
            continue
        # a committed index links committed files only: a clone has no git-ignored report
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", str(target)], cwd=REPO, capture_output=True)
        assert tracked.returncode == 0, f"{link} is not committed (dead on a clone)"


def test_the_index_has_the_main_results():
    index = REPO / "reports" / "cpu" / "index.html"
    if not index.exists():   # the profile is being remade from scratch
        pytest.skip("reports/cpu/index.html not made yet (make reports)")
    text = index.read_text(encoding="utf-8")
    assert "Main results" in text and "<table>" in text and "Linear probe (%)" in text
    assert " ± " in text and "VICReg" in text and "Raw pixels" in text
    assert "make run-reports PROFILE=cpu" in text


def test_no_tex_in_committed_html():
    pages = committed("*.html")
    if not pages:   # every profile's reports removed to be remade
        pytest.skip("no committed HTML report yet (make reports)")
    for page in pages:
        assert "$\\pm$" not in page.read_text(encoding="utf-8"), page.relative_to(REPO)


def test_cells_are_tex_for_the_paper_and_plain_for_html():
    row = {"linear": report.Stat([0.97, 0.975, 0.972])}
    assert report.cell(row, "linear") == "97.2 $\\pm$ 0.3"
    assert report.cell(row, "linear", pm="±") == "97.2 ± 0.3"
    assert site.plain("97.3 $\\pm$ 0.0") == "97.3 ± 0.0"


def test_index_links_only_what_exists(tmp_path):
    (tmp_path / "figures.html").write_text("<p>figures</p>")
    page = site.write_index("cpu", root=tmp_path, records=[])
    links = local_links(page)
    assert "figures.html" in links and "analyze.html" not in links
    assert not any("runs/" in u for u in links)   # per-run reports are not committed: named, not linked
    assert "No finished runs yet" in page.read_text()


def test_export_hides_the_bootstrap_cell_and_tex(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbconvert")
    nb = nbformat.v4.new_notebook()
    boot = nbformat.v4.new_code_cell("from jepa_torus.notebook import setup; setup()", metadata={"tags": ["bootstrap"]})
    table = nbformat.v4.new_code_cell("df", outputs=[nbformat.v4.new_output(
        "execute_result", data={"text/html": "<table><td>97.3 $\\pm$ 0.0</td></table>", "text/plain": "97.3 $\\pm$ 0.0"},
        execution_count=1)])
    nb.cells = [boot, table]
    path = tmp_path / "r.ipynb"
    nbformat.write(nb, path)
    text = site.export_html(path).read_text(encoding="utf-8")
    assert "jepa_torus.notebook" not in text and "$\\pm$" not in text and "97.3 ± 0.0" in text


def _rec(dataset, name, seed, **metrics):
    return {"dataset": dataset, "name": name, "seed": seed, "run_dir": "", **metrics}


def test_results_tables_follow_the_plan():
    """Fashion-MNIST: methods and baselines; nuisance_torus: methods, then the reference rows
    (supervised, untrained encoder, raw pixels) with circ first; torus_world: only the control
    rows, whatever else lies on disk; a missing run is a missing row, never an error."""
    recs = [_rec("fashion_mnist", "jepa_ema_vicreg", 0, linear_probe=0.8, knn_accuracy=0.7),
            _rec("fashion_mnist", "raw_pixels", 0, linear_probe=0.7, knn_accuracy=0.6),
            _rec("torus_world", "raw_pixels", 0, circular_decoding=0.99, betti=[1, 2, 1], torus_score=1.0),
            _rec("torus_world", "toroidal_N12", 0, circular_decoding=0.9),   # a stale run of an older plan
            *[_rec("nuisance_torus", n, s, circular_decoding=0.5 + 0.1 * s, betti=[1, 2, 1], torus_score=0.5,
                   linear_probe=0.3, knn_accuracy=0.2, clean={"circular_decoding": 0.9})
              for n in ("toroidal_N12", "supervised_angles", "raw_pixels") for s in (0, 1)]]
    text = site.results_tables("cpu", recs)
    fm, nuis, tw = (text.split("<h3>")[i] for i in (1, 2, 3))
    assert fm.startswith("Fashion-MNIST") and "JEPA: EMA + MLP pred., VICReg" in fm and "Raw pixels" in fm
    assert nuis.startswith("nuisance_torus (the hard world")
    assert nuis.index("Toroidal N=12") < nuis.index("Supervised (angles)") < nuis.index("Raw pixels")
    head = nuis[nuis.index("<thead>"):nuis.index("</thead>")]
    assert head.index("Circ. decoding R²") < head.index("Betti") < head.index("Torus score") < head.index("Linear probe")
    assert "0.55 ± 0.07" in nuis and "(1,2,1) 2/2" in nuis
    assert tw.startswith("torus_world") and "Raw pixels" in tw and "Toroidal" not in tw
    smoke = site.results_tables("smoke", recs)   # its plan lists torus_world first: the tables keep their order
    assert smoke.index("<h3>Fashion-MNIST") < smoke.index("<h3>nuisance_torus") < smoke.index("<h3>torus_world")
