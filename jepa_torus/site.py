"""The reports of a profile as pages that open offline: reports/<profile>/index.html.

    python -m jepa_torus.site index --profile cpu   # the index (make reports)
    python -m jepa_torus.site runs --profile cpu    # per-run reports, rendered on demand (make run-reports)

The index holds the paper's main numbers (mean ± sd over seeds, from the finished runs) and
links only to files that exist beside it in the repository: the summary reports (analyze,
ablate, figures: committed) and the paper.  The per-run reports (one executed train notebook
per run, ~0.5 MB each) are git-ignored; ``make run-reports`` renders the missing ones from
the finished runs (seconds each: a finished run is not retrained) with their own index,
reports/<profile>/runs/index.html.

Every report is HTML that reads without a network: numbers are plain text (``±``, never TeX
that needs MathJax from a CDN) and the bootstrap cell (clone/install, for Colab) is hidden.
"""
from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

from . import runs
from .files import atomic_write_text

# the paper's main tables, as plain text: data set -> metric keys of report.METRICS
MAIN_COLUMNS = {"fashion_mnist": ["linear", "knn", "erank", "betti", "tscore"],
                "nuisance_torus": ["circ", "betti", "tscore", "linear", "knn"],
                "torus_world": ["linear", "knn", "betti", "tfrac", "tscore", "circ"],
                "cifar10": ["linear", "knn", "erank", "betti", "tscore"],
                "cifar100": ["linear", "knn", "erank", "betti", "tscore"]}
BASELINES = ["raw_pixels", "baseline_vicreg_random_init"]
# the tables' order: the first question's data sets, the hard world (Q2), then the instrument's control
ORDER = ["fashion_mnist", "cifar10", "cifar100", "nuisance_torus", "torus_world"]


def table_rows(dataset: str) -> list[str]:
    """The rows of a data set's table, in the paper's order (those without a finished run are
    left out): every method and the baselines; on nuisance_torus the methods and the reference
    rows (supervised upper reference, untrained encoder, raw pixels); on torus_world only the
    instrument's positive control (raw pixels, the untrained encoder)."""
    from .plan import METHODS, REFERENCE_ROWS

    if dataset == "nuisance_torus":
        return METHODS + REFERENCE_ROWS
    if dataset == "torus_world":
        return list(BASELINES)
    return METHODS + BASELINES


HEADERS = {"linear": "Linear probe (%)", "knn": "kNN@20 (%)", "erank": "Eff. rank", "betti": "Betti (modal, seeds)",
           "sgr": "SGR", "id": "Intrinsic dim.", "tscore": "Torus score", "tfrac": "(1,2,1) fraction",
           "circ": "Circ. decoding R²", "angles": "Label-free angles |ρ|"}
DATASET_NAMES = {"fashion_mnist": "Fashion-MNIST",
                 "nuisance_torus": "nuisance_torus (the hard world: views share only the two angles)",
                 "torus_world": "torus_world (the instrument's control: pixels are a 2-torus by construction)",
                 "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
# what a reader of a table must know that its header does not say
NOTES = {"nuisance_torus": "Measured on the test images with one fixed nuisance draw: probes on the representation h, "
                           "geometry (circular decoding R², Betti numbers, torus score) on the embedding z. "
                           "Below the methods: the supervised upper reference, the untrained encoder and raw pixels.",
         "torus_world": "Only the instrument's positive control: a torus in pixel space should read (1,2,1)."}
PM = "±"
STYLE = ("body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .7em;text-align:right;"
         "border-bottom:1px solid #ddd}th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #444}"
         "code{background:#f4f4f4;padding:0 .2em}small{color:#666}")


def reports_dir(profile: str) -> Path:
    return runs.REPO / "reports" / profile


def plain(text: str) -> str:
    """TeX that reached a notebook's output, as text: the ``$\\pm$`` of the paper's tables."""
    return text.replace("$\\pm$", PM)


def export_html(report: Path) -> Path:
    """report (an executed .ipynb) -> report.html beside it: the bootstrap cell removed and
    every output's ``$\\pm$`` as ``±`` (a table must read without MathJax)."""
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = nbformat.read(report, as_version=4)
    for c in nb.cells:
        for out in c.get("outputs", []):
            if "text" in out:
                out["text"] = plain(out["text"])
            for kind, value in out.get("data", {}).items():
                if kind.startswith("text/") and isinstance(value, str):
                    out["data"][kind] = plain(value)
    # the bootstrap cell (clone/install, chdir) is for Colab users, not for readers of a report
    hide = Config({"TagRemovePreprocessor": {"enabled": True, "remove_cell_tags": ["bootstrap"]}})
    body, _ = HTMLExporter(config=hide).from_notebook_node(nb)
    path = report.with_suffix(".html")
    atomic_write_text(path, body)  # the make target: written last, atomically
    return path


def results_tables(profile: str, records: list[dict] | None = None) -> str:
    """The main tables of the paper as HTML, from the finished runs of a profile."""
    from .plan import PROFILES
    from .report import cell, plain_label, summarize

    records = runs.finished(profile) if records is None else records
    summary = summarize(records)
    seeds: dict = {}
    for rec in records:
        seeds.setdefault((rec["dataset"], rec["name"]), set()).add(rec.get("seed"))
    parts = []
    for dataset in sorted(PROFILES.get(profile, {}), key=lambda d: ORDER.index(d) if d in ORDER else len(ORDER)):
        names = [n for n in table_rows(dataset) if (dataset, n) in summary]
        if not names:
            continue
        cols = MAIN_COLUMNS.get(dataset, MAIN_COLUMNS["fashion_mnist"])
        head = "<th>Method</th><th>Seeds</th>" + "".join(f"<th>{html.escape(HEADERS[c])}</th>" for c in cols)
        rows = "".join(
            f"<tr><td>{html.escape(plain_label(n))}</td><td>{len(seeds.get((dataset, n), ()))}</td>"
            + "".join(f"<td>{html.escape(cell(summary[(dataset, n)], c, pm=PM))}</td>" for c in cols) + "</tr>"
            for n in names)
        note = f"<p><small>{html.escape(NOTES[dataset])}</small></p>" if dataset in NOTES else ""
        parts.append(f"<h3>{html.escape(DATASET_NAMES.get(dataset, dataset))}</h3>{note}"
                     f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    if not parts:
        return "<p>No finished runs yet: <code>make runs PROFILE=" + html.escape(profile) + "</code>.</p>"
    return "".join(parts) + "<p><small>Mean " + PM + " sd over seeds; every number of the paper comes from " \
        "<code>python -m jepa_torus.report</code> (<code>make tables</code>).</small></p>"


def write_index(profile: str, root: Path | None = None, records: list[dict] | None = None) -> Path:
    """reports/<profile>/index.html: the main results, links to the reports and the paper that exist."""
    from .plan import NOTEBOOKS, stage_seconds

    root = reports_dir(profile) if root is None else Path(root)
    timings = stage_seconds(profile)
    links = []
    for name in NOTEBOOKS:
        if (root / f"{name}.html").is_file():
            sec = timings.get(name)
            links.append(f'<li><a href="{name}.html">{name}</a>'
                         + (f" <small>(executed in {sec / 60:.1f} min)</small>" if sec else "") + "</li>")
    paper = runs.REPO / "paper" / "main.pdf"
    if paper.is_file():
        try:
            rel = Path("..") / ".." / paper.relative_to(runs.REPO)
            if (root / rel).resolve() == paper.resolve():
                links.append(f'<li><a href="{rel.as_posix()}">the paper (paper/main.pdf)</a></li>')
        except ValueError:
            pass
    finished = len(runs.finished(profile)) if records is None else len(records)
    p = html.escape(profile)
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>jepa-torus reports ({p})</title>"
           f"<style>{STYLE}</style></head><body>"
           f"<h1>jepa-torus: results and reports, profile <code>{p}</code></h1>"
           f"<h2>Main results</h2>{results_tables(profile, records)}"
           f"<h2>Reports</h2><ul>{''.join(links) or '<li>none yet: <code>make reports PROFILE=' + p + '</code></li>'}</ul>"
           f"<p>Per-run reports ({finished} finished runs; the executed training notebook of each, not committed): "
           f"<code>make run-reports PROFILE={p}</code> renders them from the finished runs, with their index in "
           f"<code>reports/{p}/runs/index.html</code>.</p></body></html>\n")
    atomic_write_text(root / "index.html", doc)
    return root / "index.html"


def run_reports(profile: str) -> Path:
    """Render the missing per-run reports of every finished run, then reports/<profile>/runs/index.html."""
    from .plan import run_report, runs_for

    root = reports_dir(profile) / "runs"
    done = [r for r in runs_for(profile) if (r.dir(profile) / runs.FINAL).exists()]
    for i, r in enumerate(done, 1):
        page = root / (r.id.replace("/", "__") + ".html")
        if not page.exists():
            print(f"[{i}/{len(done)}] rendering the report of {r.id}", flush=True)
            run_report(profile, r.id)
    rows = []
    for r in done:
        page = root / (r.id.replace("/", "__") + ".html")
        if page.exists():
            final = runs.read_final(r.dir(profile)) or {}
            nums = ", ".join(f"{k.replace('_', ' ')} {100 * final[k]:.1f} %" for k in ("linear_probe", "knn_accuracy")
                             if isinstance(final.get(k), (int, float)))
            rows.append(f'<li><a href="{page.name}">{html.escape(r.id)}</a> <small>{html.escape(nums)}</small></li>')
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>jepa-torus per-run reports ({profile})</title>"
           f"<style>{STYLE}</style></head><body><h1>Per-run reports, profile <code>{html.escape(profile)}</code></h1>"
           f"<p><a href='../index.html'>back to the index</a></p><ul>{''.join(rows)}</ul></body></html>\n")
    atomic_write_text(root / "index.html", doc)
    return root / "index.html"


def main(argv=None) -> int:
    from .config import PROFILE_NAMES
    from .files import OutputError

    p = argparse.ArgumentParser(prog="python -m jepa_torus.site", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["index", "runs"])
    p.add_argument("--profile", default="cpu", choices=PROFILE_NAMES)
    a = p.parse_args(argv)
    try:
        print(write_index(a.profile) if a.command == "index" else run_reports(a.profile))
    except OutputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every report already written is complete; run the same command again", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
