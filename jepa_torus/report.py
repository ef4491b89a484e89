"""From run folders to the paper: summarise the finished runs over seeds and write LaTeX
tables and macros.  Every number in the paper passes through here.

    python -m jepa_torus.report --profile cpu    # paper/generated/cpu/{table_*,macros}.tex

    records = runs.finished("cpu")           # one dict per finished run (jepa_torus.runs)
    summary = summarize(records)             # (dataset, name) -> metric -> Stat
    write_generated("cpu", records)          # what the command above does

Table bodies are complete ``tabular`` environments (captions stay in main.tex); macros are
``\\newcommand``s plus lookups such as ``\\R{dataset}{config}{metric}`` so the prose never
types a number (the CSV_Wrangling pattern, one generated file of macros).  No notebook and
no kernel: `make tables` runs the command above; the notebooks only plot.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from . import runs
from .augment import augment_for
from .files import OutputError, atomic_write_bytes, atomic_write_text, ensure_dir
from .geometry import spectral_gap
from .plan import CENTRAL, DATASET_KEYS, JEPA, METHODS, PROFILES, REFERENCE_ROWS, TORUS_WEIGHTS, stage_seconds, \
    torus_weight_run
from .runs import REPO
from .stats import PairedDifference, paired_difference
from .stats import verdict as paired_verdict

GENERATED = REPO / "paper" / "generated"   # <profile>/*.tex, \input by paper/main.tex

DISPLAY = {
    "baseline_vicreg": "VICReg", "baseline_sigreg": "SIGReg", "hybrid": "Hybrid VICReg$\\to$SIGReg",
    "toroidal_N8": "Toroidal $N{=}8$", "toroidal_N12": "Toroidal $N{=}12$", "toroidal_N16": "Toroidal $N{=}16$",
    "toroidal_head_N12": "Toroidal $N{=}12$ + torus head", "hamjepa": "Hamiltonian predictor",
    "hamjepa_mlp": "MLP predictor (matched)", "baseline_vicreg_random_init": "Random-init encoder",
    "raw_pixels": "Raw pixels", "jepa_ema_vicreg": "JEPA: EMA + MLP pred., VICReg",
    "jepa_ema_toroidal_N12": "JEPA: EMA + MLP pred., toroidal $N{=}12$",
    "supervised_angles": "Supervised (angles)",
}
HARD = "nuisance_torus"                 # the hard world: Q2 and the ablations
CLEAN = "nuisance_torus_clean"          # the same runs scored on the same angles rendered clean


def plain_label(name: str) -> str:
    """DISPLAY without TeX, for plot titles: "Hybrid VICReg→SIGReg", "Toroidal N=12"."""
    return DISPLAY.get(name, name).replace("$", "").replace("{=}", "=").replace("\\to", "→")


# macro metric name -> (final.json key, scale, decimals, column header)
METRICS = {
    "linear": ("linear_probe", 100, 1, "Linear (\\%)"),
    "knn": ("knn_accuracy", 100, 1, "$k$NN@20 (\\%)"),
    "erank": ("effective_rank", 1, 1, "Eff.\\ rank"),
    "betti": ("betti", None, None, "Betti"),
    "sgr": ("spectral_gap_ratio", 1, 2, "SGR"),
    "id": ("intrinsic_dimension_mle", 1, 1, "ID"),
    "tscore": ("torus_score", 1, 2, "Torus score"),
    "tfrac": ("torus_fraction", 1, 1, "$(1,2,1)$ frac."),
    "circ": ("circular_decoding", 1, 2, "Circ.\\ $R^2$"),
    "angles": ("label_free_angle", 1, 2, "Angles $|\\rho|$"),
}
CONTROL = ("torus_world", "raw_pixels")   # the instrument's positive control: a torus by construction


def _derived(rec: dict) -> dict:
    """Fields the tables read that final.json nests: the label-free angles' weaker correlation."""
    angles = rec.get("label_free_angles")
    return {**rec, "label_free_angle": angles["min_correlation"]} if isinstance(angles, dict) else rec


def with_clean(records: list[dict]) -> list[dict]:
    """The records plus, for each nuisance_torus run, its scores on the clean renderings
    (final.json's "clean") as a record of data set CLEAN: every table and macro then reads them
    like any data set."""
    out = list(records)
    for rec in records:
        if rec.get("dataset") == HARD and isinstance(rec.get("clean"), dict):
            out.append({**rec["clean"], "dataset": CLEAN, "name": rec["name"], "seed": rec.get("seed"),
                        "run_dir": rec.get("run_dir")})
    return out


@dataclass
class Stat:
    values: list
    seeds: list | None = None   # seeds[i] gave values[i] (summarize fills it); None: not known, no pairing

    def by_seed(self) -> dict | None:
        """seed -> value, or None when the seeds are not known one per value (then no pairing)."""
        if self.seeds is None or len(self.seeds) != len(self.values) or None in self.seeds \
                or len(set(self.seeds)) != len(self.seeds):
            return None
        return dict(zip(self.seeds, self.values))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.values) if self.n > 1 else float("nan")

    def fmt(self, scale: float, decimals: int, pm: str = "$\\pm$") -> str:
        """"97.3 $\\pm$ 0.4" (mean and sd over seeds) for LaTeX; pm="±" for HTML and notebooks."""
        m = f"{self.mean * scale:.{decimals}f}"
        return m if self.n < 2 else f"{m} {pm} {self.sd * scale:.{decimals}f}"


def summarize(records: list[dict]) -> dict:
    """(dataset, name) -> {metric key -> Stat over seeds, "betti" -> list of tuples}."""
    table: dict = {}
    for rec in map(_derived, with_clean(records)):
        row = table.setdefault((rec["dataset"], rec["name"]), {})
        for key, (field, *_rest) in METRICS.items():
            if field in rec and rec[field] is not None:
                if key == "betti":
                    row.setdefault(key, []).append(tuple(rec[field]))
                else:
                    stat = row.setdefault(key, Stat([], []))
                    stat.values.append(float(rec[field]))
                    stat.seeds.append(rec.get("seed"))
    return table


def betti_mode(tuples: list) -> tuple | None:
    """The signature more seeds gave than any other, or None on a tie."""
    counts = sorted(((tuples.count(t), t) for t in set(tuples)), reverse=True)
    return counts[0][1] if len(counts) == 1 or counts[0][0] > counts[1][0] else None


def fmt_betti(tuples: list) -> str:
    """The most common signature with how many seeds gave it, "(1,2,1) 2/3"; "mixed" on a tie."""
    best = betti_mode(tuples)
    if best is None:
        return "mixed"
    s = "(" + ",".join(map(str, best)) + ")"
    return s if len(tuples) == 1 else f"{s} {tuples.count(best)}/{len(tuples)}"


def cell(row: dict, metric: str, pm: str = "$\\pm$") -> str:
    """A table cell: TeX by default; pm="±" gives plain text (reports read offline, no MathJax)."""
    if metric not in row:
        return "--"
    if metric == "betti":
        return fmt_betti(row["betti"])
    _, scale, dec, _ = METRICS[metric]
    return row[metric].fmt(scale, dec, pm)


def tabular(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "c" * (len(header) - 1)
    lines = [f"\\begin{{tabular}}{{{align}}}", "\\toprule", " & ".join(header) + " \\\\", "\\midrule"]
    lines += [" & ".join(r) + " \\\\" for r in rows]
    lines += ["\\bottomrule", "\\end{tabular}", ""]
    return "\n".join(lines)


def metric_table(summary: dict, dataset: str, names: list[str], metrics: list[str], first: str = "Method",
                 labels: dict | None = None) -> str:
    rows = []
    for name in names:
        row = summary.get((dataset, name))
        if row is None:
            continue
        rows.append([(labels or DISPLAY).get(name, name)] + [cell(row, m) for m in metrics])
    return tabular([first] + [METRICS[m][3] for m in metrics], rows)


def original_table() -> str:
    """The original repository's published numbers (theirs, transcribed; not our runs)."""
    path = REPO / "paper" / "data" / "original_results.csv"
    with open(path) as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    header = ["Config (theirs)", "Linear (\\%)", "Eff.\\ rank", "raw $\\lambda_1$", "Torus score", "Betti", "ID"]
    body = [[r["config"].replace("_", "\\_"), r["linear_acc"], r["eff_rank"], r["raw_lambda1"], r["torus_score"],
             r["betti"], r["intrinsic_dim"]] for r in rows]
    return tabular(header, body)


REFERENCES = ["baseline_vicreg", "baseline_sigreg", "toroidal_N12", "hamjepa_mlp", "raw_pixels",
              "baseline_vicreg_random_init"]   # the right-hand sides of \Cmp and \Diff
MEANINGFUL_MARGIN = 3.0   # points over raw pixels that make regulariser differences meaningful (issue 5)
Z_SEPARATE = 2.0   # a difference counts when it exceeds twice its standard error (about 95 %)


MIN_PAIRS = 2   # shared seeds from which compare() pairs the runs instead of using Welch's rule


def paired(a: Stat, b: Stat) -> PairedDifference | None:
    """The paired difference a - b over the seeds both have (jepa_torus.stats), or None when
    either side does not know its seeds or they share fewer than MIN_PAIRS."""
    sa, sb = a.by_seed(), b.by_seed()
    if sa is None or sb is None or len(set(sa) & set(sb)) < MIN_PAIRS:
        return None
    return paired_difference(sa, sb)


def compare(a: Stat, b: Stat, z: float = Z_SEPARATE, resolution: float = 0.0) -> str:
    """The verdict on a - b that the prose prints instead of an adjective.

    Paired when both sides share at least MIN_PAIRS seeds (runs with the same seed share the
    encoder's initialisation and every seed-driven batch): d_s = a_s - b_s over the shared
    seeds, "above" / "below" when the whole 95 % t interval mean(d) -/+ t_{0.975,n-1} sd(d)/sqrt(n)
    is > 0 / < 0, else "level with" (jepa_torus.stats.verdict).
    Otherwise (seeds unknown or not shared), with at least two seeds on each side: "above" /
    "below" when |mean(a) - mean(b)| > z * SE, Welch's SE = sqrt(sd_a^2/n_a + sd_b^2/n_b), else
    "level with".  With one seed there is no spread to judge against, and the verdict says so:
    "nominally above" / "nominally below".
    A difference within ``resolution`` (half a unit of the printed last digit) is "level
    with" whatever the spread: seeds that all print 1.00 have sd 0, not a real difference.
    """
    pair = paired(a, b)
    if pair is not None:
        return paired_verdict(pair, resolution)
    diff = a.mean - b.mean
    side = "above" if diff > 0 else "below"
    if abs(diff) <= resolution:
        return "nominally level with" if a.n < 2 or b.n < 2 else "level with"
    if a.n < 2 or b.n < 2:
        return f"nominally {side}"
    se = math.sqrt(a.sd ** 2 / a.n + b.sd ** 2 / b.n)
    return side if abs(diff) > z * se else "level with"


def resolution(metric: str) -> float:
    """Half a unit of the last printed digit of a metric, in its raw (unscaled) units."""
    _, scale, dec, _ = METRICS[metric]
    return 0.5 * 10 ** -dec / scale


def ahead_of_all(summary: dict, dataset: str, names: list[str], refs: list[str], metric: str) -> list[str]:
    """Configurations whose metric is "above" every reference by ``compare``."""
    rows = {n: summary.get((dataset, n), {}) for n in names + refs}
    if any(metric not in rows[r] for r in refs):
        return []
    return [n for n in names if metric in rows[n] and all(
        compare(rows[n][metric], rows[r][metric], resolution=resolution(metric)) == "above" for r in refs)]


def recovers_torus(summary: dict, dataset: str, names: list[str]) -> list[str]:
    """Configurations whose modal signature over resamples is (1, 2, 1) in more than half of
    their seeds."""
    out = []
    for n in names:
        tuples = summary.get((dataset, n), {}).get("betti")
        if tuples and 2 * tuples.count((1, 2, 1)) > len(tuples):
            out.append(n)
    return out


def best_name(cands: list[tuple[float, str]], metric: str) -> str:
    """The configuration with the largest mean, or a tie notice when the runner-up prints the same."""
    ranked = sorted(cands, reverse=True)
    _, scale, dec, _ = METRICS[metric]
    printed = [f"{mean * scale:.{dec}f}" for mean, _ in ranked[:2]]
    if len(ranked) > 1 and printed[0] == printed[1]:
        return "no single configuration (a tie at the printed precision)"
    return DISPLAY.get(ranked[0][1], ranked[0][1])


def signed(x: float, decimals: int) -> str:
    """A difference as the prose prints it: "$+$1.2", "$-$0.3", "0.0"."""
    text = f"{abs(x):.{decimals}f}"
    return text if float(text) == 0 else ("$+$" if x > 0 else "$-$") + text


def listing(names: list[str]) -> str:
    return ", ".join(DISPLAY.get(n, n) for n in names) if names else "none"


# --------------------------------------------------------------------------- paired differences
PAIRED_REFERENCES = ("baseline_vicreg", "baseline_sigreg")   # paired_table's default references


@dataclass(frozen=True)
class PairedRow:
    """One comparison of paired_table: ``name`` - ``reference`` over their shared seeds."""
    name: str
    reference: str
    diff: PairedDifference
    verdict: str


def paired_table(summary: dict, dataset: str, metric: str, refs=PAIRED_REFERENCES,
                 names: list[str] | None = None) -> tuple[list[PairedRow], int]:
    """The paired differences (jepa_torus.stats.paired_difference, 95 % t interval over the
    shared seeds) of each configuration of ``names`` (default METHODS) against each reference on
    ``dataset``, and how many comparisons that is (the rows' number: a reader judging 95 %
    intervals needs it, as about 1 in 20 excludes 0 by chance).  A pair is compared once
    (reference order first: SIGReg against VICReg is not repeated as VICReg against SIGReg);
    configurations without this metric or without a seed shared with the reference are left
    out; one shared seed gives a row without an interval ("nominally ...")."""
    if metric not in NUMERIC:
        raise ValueError(f"metric {metric!r} has no mean to difference; one of {NUMERIC}")
    rows, done = [], set()
    for ref in refs:
        other = summary.get((dataset, ref), {}).get(metric)
        theirs = other.by_seed() if other is not None else None
        if not theirs:
            continue
        for name in METHODS if names is None else names:
            stat = summary.get((dataset, name), {}).get(metric)
            ours = stat.by_seed() if stat is not None else None
            if name == ref or frozenset((name, ref)) in done or not ours or not set(ours) & set(theirs):
                continue
            done.add(frozenset((name, ref)))
            diff = paired_difference(ours, theirs)
            rows.append(PairedRow(name, ref, diff, paired_verdict(diff, resolution(metric))))
    return rows, len(rows)


def paired_differences_tex(rows: list[PairedRow], metric: str) -> str:
    """A booktabs ``tabular`` of paired_table's rows: method, reference, pairs, mean difference
    and its 95 % interval as [lo, hi], and the verdict.  Accuracies in percentage points with 1
    decimal; other metrics in their own units at the decimals METRICS gives them."""
    _, scale, dec, _ = METRICS[metric]
    unit = " (points)" if scale == 100 else ""
    dec = 1 if scale == 100 else dec

    def num(x: float) -> str:   # an end that rounds to zero keeps its sign: [-0.6, -0.0] lies below 0
        return f"{x * scale:.{dec}f}"

    body = [[DISPLAY.get(r.name, r.name), DISPLAY.get(r.reference, r.reference), str(r.diff.n),
             signed(r.diff.mean * scale, dec),
             f"$[{num(r.diff.lo)}, {num(r.diff.hi)}]$" if r.diff.has_interval else "--", r.verdict]
            for r in rows]
    return tabular(["Method", "Reference", "$n$", f"$\\Delta${unit}", "95\\,\\% interval", "Verdict"], body, "llcccl")


# --------------------------------------------------------------------------- macros
NUMERIC = [m for m in METRICS if m != "betti"]   # the metrics with a mean (Betti numbers have a mode)


def _macro(name: str, value) -> str:
    return f"\\newcommand{{\\{name}}}{{{value}}}"


# A lookup macro \Command{key 1}...{key n} expands to the entry defined for those keys, or to
# a bold ?? when there is none (a missing run shows in the PDF instead of failing the build).
# command -> (prefix of its entries' control sequences, number of keys, what a LaTeX warning
# calls a missing entry, or None for no warning)
LOOKUPS = {
    "R": ("R", 3, "result"),            # \R{dataset}{config}{metric}: the table cell
    "Best": ("B", 2, "best"),           # \Best{dataset}{metric}: the main configuration with the largest mean
    "Cmp": ("C", 4, "comparison"),      # \Cmp{dataset}{config}{reference}{metric}: compare()'s verdict
    "Diff": ("D", 4, "difference"),     # \Diff{...same keys}: the signed difference, as printed
    "Ahead": ("A", 2, None),            # \Ahead{dataset}{metric}: configurations above both baselines
    "Recovers": ("T", 1, None),         # \Recovers{dataset}: configurations with Betti (1,2,1)
}


def lookup_command(command: str) -> str:
    """The \\newcommand defining lookup ``command`` (LOOKUPS)."""
    prefix, n, missing = LOOKUPS[command]
    args = [f"#{i}" for i in range(1, n + 1)]
    cs = "@".join([prefix] + args)
    warning = f"\\PackageWarning{{jepa-torus}}{{no {missing} {'/'.join(args)}}}" if missing else ""
    return (f"\\newcommand{{\\{command}}}[{n}]{{\\ifcsname {cs}\\endcsname\\csname {cs}\\endcsname"
            f"\\else\\textbf{{??}}{warning}\\fi}}")


def lookup_entry(command: str, keys: tuple, value) -> str:
    """The line that makes ``\\command{keys[0]}...`` expand to ``value``."""
    prefix, n, _ = LOOKUPS[command]
    if len(keys) != n:   # such an entry could never be looked up
        raise ValueError(f"\\{command} takes {n} keys, got {keys!r}")
    return f"\\expandafter\\def\\csname {'@'.join((prefix, *keys))}\\endcsname{{{value}}}"


def _run_config(records: list[dict], dataset: str) -> dict | None:
    """config.yaml of the first method's run on ``dataset`` (the recipe all its runs share), else of
    any of its runs (torus_world keeps only its baselines)."""
    ours = [r for r in records if r["dataset"] == dataset]
    for rec in sorted(ours, key=lambda r: r["name"] not in METHODS):
        return runs.read_config(rec["run_dir"])
    return None


def profile_description(profile: str, records: list[dict]) -> str:
    """The recipe of each data set's main runs, as the setup section prints it."""
    parts = []
    for dataset in PROFILES[profile]:
        cfg = _run_config(records, dataset)
        if cfg is None:
            continue
        enc = cfg["model"]["encoder"]
        kw = cfg["model"]["encoder_kwargs"]
        arch = f"ConvNet {'-'.join(map(str, kw.get('widths', [])))}" if enc == "convnet" else f"ResNet-18 (width {kw.get('width', 64)})"
        subset = cfg["data"]["train_subset"]
        sub = f" on {subset} images" if subset else ""
        lo, hi = augment_for(dataset, **cfg["data"].get("augment", {})).config.crop_scale
        crops = f", crop area {lo:g}--{hi:g}" if (lo, hi) != (1.0, 1.0) else ""
        optim = cfg["optim"]
        parts.append(f"{dataset.replace('_', '-')}: {arch}, {optim['epochs']} epochs{sub}, batch {optim['batch_size']}, "
                     f"peak lr {optim['lr']:g}{crops}")
    return f"\\texttt{{{profile}}} profile (" + "; ".join(parts) + ")"


def stage_minutes(profile: str) -> float:
    """Sum of the stages' seconds (``plan.stage_seconds``: each stage once, at its longest).
    Job-minutes, not wall time: `make paper` runs JOBS stages side by side."""
    seconds = stage_seconds(profile)
    return sum(seconds.values()) / 60 if seconds else float("nan")


def profile_macros(profile: str, records: list[dict]) -> list[str]:
    """\\ProfileName, \\ProfileDescription, \\NumSeeds<D> and \\Epochs<D> of the main runs, and
    the spectral gaps \\GapEight, \\GapTwelve, \\GapSixteen of the grids."""
    out = [_macro("ProfileName", profile), _macro("ProfileDescription", profile_description(profile, records))]
    for dataset, key in (("fashion_mnist", "Fmnist"), (HARD, "Nuisance"), ("torus_world", "Torus")):
        seeds = {r["seed"] for r in records if r["dataset"] == dataset
                 and r["name"] in (CENTRAL if dataset != "torus_world" else ["baseline_vicreg_random_init"])}
        cfg = _run_config(records, dataset)
        out.append(_macro(f"NumSeeds{key}", len(seeds)))
        out.append(_macro(f"Epochs{key}", cfg["optim"]["epochs"] if cfg else "--"))
    for n, word in ((8, "Eight"), (12, "Twelve"), (16, "Sixteen")):
        out.append(_macro(f"Gap{word}", f"{spectral_gap(n):.3f}"))
    return out


def baseline_macros(summary: dict, dataset: str = "fashion_mnist") -> list[str]:
    """\\RawLinear, \\RawKnn, \\RandomLinear, \\RandomKnn: the probes on raw pixels and on the
    untrained encoder."""
    out = []
    for name, key in (("raw_pixels", "Raw"), ("baseline_vicreg_random_init", "Random")):
        row = summary.get((dataset, name), {})
        out += [_macro(f"{key}Linear", cell(row, "linear")), _macro(f"{key}Knn", cell(row, "knn"))]
    return out


def stage_macros(profile: str) -> list[str]:
    """\\StageMinutes: the job-minutes the profile's stages took."""
    return [_macro("StageMinutes", f"{stage_minutes(profile):.0f}")]


def result_macros(summary: dict) -> list[str]:
    """The entries of \\R: every table cell, by data set, configuration and metric."""
    return [lookup_entry("R", (DATASET_KEYS.get(dataset, dataset), name, metric), cell(row, metric))
            for (dataset, name), row in sorted(summary.items()) for metric in METRICS if metric in row]


def comparison_macros(summary: dict) -> list[str]:
    """The entries of \\Cmp (compare()'s verdict) and \\Diff (the signed difference as printed)
    of every configuration against every REFERENCES run of its data set, per numeric metric."""
    out = []
    for (dataset, name), row in sorted(summary.items()):
        dkey = DATASET_KEYS.get(dataset, dataset)
        for ref in REFERENCES:
            other = summary.get((dataset, ref))
            if other is None or ref == name:
                continue
            for metric in NUMERIC:
                if metric in row and metric in other:
                    _, scale, dec, _ = METRICS[metric]
                    diff = (row[metric].mean - other[metric].mean) * scale
                    keys = (dkey, name, ref, metric)
                    out.append(lookup_entry("Cmp", keys, compare(row[metric], other[metric], resolution=resolution(metric))))
                    out.append(lookup_entry("Diff", keys, signed(diff, dec)))
    return out


def ahead_macros(summary: dict, dataset: str) -> list[str]:
    """The entries of \\Ahead: per numeric metric, the main configurations above both baselines."""
    baselines = ["baseline_vicreg", "baseline_sigreg"]
    names = [n for n in METHODS if n not in baselines]
    dkey = DATASET_KEYS.get(dataset, dataset)
    return [lookup_entry("Ahead", (dkey, metric), listing(ahead_of_all(summary, dataset, names, baselines, metric)))
            for metric in NUMERIC]


def recovers_macros(summary: dict, dataset: str) -> list[str]:
    """The entry of \\Recovers: the main configurations that recover the torus's Betti numbers."""
    return [lookup_entry("Recovers", (DATASET_KEYS.get(dataset, dataset),), listing(recovers_torus(summary, dataset, METHODS)))]


def best_macros(summary: dict, dataset: str) -> list[str]:
    """The entries of \\Best: per metric, the main configuration with the largest mean."""
    out = []
    for metric in ("linear", "knn", "erank", "tscore", "circ", "angles"):
        cands = [(row[metric].mean, name) for (d, name), row in summary.items()
                 if d == dataset and name in METHODS and metric in row and not math.isnan(row[metric].mean)]
        if cands:
            out.append(lookup_entry("Best", (DATASET_KEYS.get(dataset, dataset), metric), best_name(cands, metric)))
    return out


def margin_macros(summary: dict, dataset: str = "fashion_mnist") -> list[str]:
    """How far the best self-supervised run is above raw pixels (points), per probe, and whether
    both clear MEANINGFUL_MARGIN: \\MarginLinear, \\MarginKnn, \\MarginVerdict, \\MarginThreshold; and
    \\MarginCount, how many main configurations clear it on both probes ("2 of 8")."""
    raw = summary.get((dataset, "raw_pixels"), {})

    def margin(name: str, metric: str) -> float:   # points above raw pixels
        return (summary[(dataset, name)][metric].mean - raw[metric].mean) * 100

    out, clears = [_macro("MarginThreshold", f"{MEANINGFUL_MARGIN:g}")], True
    for metric, key in (("linear", "Linear"), ("knn", "Knn")):
        best = [margin(n, metric) for n in METHODS if metric in summary.get((dataset, n), {})] if metric in raw else []
        if not best:
            out.append(_macro(f"Margin{key}", "--"))
            clears = False
            continue
        clears &= max(best) >= MEANINGFUL_MARGIN
        out.append(_macro(f"Margin{key}", signed(max(best), 1)))
    out.append(_macro("MarginVerdict", "clears" if clears else "falls short of"))
    # The best run per probe can hide the rest: how many configurations clear both probes.
    present = [n for n in METHODS if {"linear", "knn"} <= set(summary.get((dataset, n), {}))]
    both = [n for n in present if {"linear", "knn"} <= set(raw)
            and min(margin(n, "linear"), margin(n, "knn")) >= MEANINGFUL_MARGIN]
    out.append(_macro("MarginCount", f"{len(both)} of {len(present)}"))
    out.append(_macro("MarginConsequence", "differences between regularisers beyond the seed spread are meaningful"
                      if clears else "differences between regularisers there are not evidence either way"))
    return out


def control_reads_torus(records: list[dict]) -> bool | None:
    """Whether the instrument passes its control: every resample of raw torus_world pixels
    reads (1, 2, 1) (None when the profile has no control run)."""
    ctrl = [r for r in records if (r["dataset"], r["name"]) == CONTROL and "topology" in r]
    return None if not ctrl else all(r["topology"]["torus_fraction"] == 1.0 for r in ctrl)


def _signature(rec: dict, key: str = "topology") -> str:
    top = rec[key]
    modal = tuple(top["modal"])
    agree = sum(tuple(s) == modal for s in top["signatures"])
    return f"$({','.join(map(str, modal))})$ in {agree} of {len(top['signatures'])} resamples"


def disagreements(summary: dict, dataset: str = HARD) -> list[str]:
    """Configurations where decoding says torus (circular R^2 >= 0.8: both angles are linearly
    readable from z) but the Betti numbers, in most seeds, do not."""
    out = []
    for name in METHODS + REFERENCE_ROWS:
        row = summary.get((dataset, name), {})
        if {"circ", "betti"} <= set(row) and row["circ"].mean >= 0.8:
            if 2 * row["betti"].count((1, 2, 1)) <= len(row["betti"]):
                out.append(name)
    return out


def disagreement_sentence(summary: dict, dataset: str = HARD) -> str:
    """\\QtwoDisagree's text: the disagreeing configurations, with their intrinsic dimensions,
    which say whether the embedding is thicker than a 2-torus (the way both readings can hold)."""
    odd = disagreements(summary, dataset)
    if not odd:
        return "Where decoding reads both angles ($R^2\\ge0.8$), the Betti numbers read a torus too."
    ids = [summary[(dataset, n)]["id"].mean for n in odd if "id" in summary[(dataset, n)]]
    text = ("The two kinds of evidence disagree, and the table shows both: decoding reads both angles "
            f"($R^2\\ge0.8$) for {listing(odd)}, while their Betti numbers, in most seeds, read no torus.")
    if ids:
        text += (f" Their intrinsic dimension ({min(ids):.1f}" + (f"--{max(ids):.1f}" if max(ids) - min(ids) >= 0.05 else "")
                 + (") is above three: the angles are there as linear directions of a set with more dimensions "
                    "than a 2-torus, and the instrument, which reads the whole set, finds no loops in it." if min(ids) > 3.0 else
                    ") is near two, so the Betti numbers, not the embedding's thickness, are what disagrees."))
    return text


def q2_macros(records: list[dict], summary: dict) -> list[str]:
    """The Q2 prose, generated: \\ControlReading (the instrument on raw torus_world pixels, both
    metrics), \\QtwoVerdict (a verdict on the embeddings only when the control reads a torus in
    every resample; otherwise the sentence says the instrument failed its control) and
    \\QtwoDisagree (where decoding says torus and the Betti numbers do not)."""
    ctrl = next((r for r in records if (r["dataset"], r["name"]) == CONTROL and "topology" in r), None)
    if ctrl is None:
        return [_macro("ControlReading", "not measured in this profile"),
                _macro("QtwoVerdict", "Without the instrument's control run, no verdict about the embeddings is drawn."),
                _macro("QtwoDisagree", ""), _macro("QtwoAbstract", ""), _macro("BestScoreNote", "")]
    reading = f"{_signature(ctrl)} under the intrinsic metric"
    if "topology_euclidean" in ctrl:
        reading += f" and {_signature(ctrl, 'topology_euclidean')} under the Euclidean one"
    found = recovers_torus(summary, HARD, METHODS)
    if control_reads_torus(records):
        verdict = (f"The instrument passes its control, so its readings of the embeddings count: on the hard world the "
                   f"methods whose modal signature is $(1,2,1)$ in most seeds are {listing(found)}"
                   + (f", {len(found)} of {len([n for n in METHODS if (HARD, n) in summary])}." if found else "."))
    else:
        verdict = ("The instrument failed its control (raw \\tw{} pixels, a torus by construction, did not read "
                   "$(1,2,1)$ in every resample), so no conclusion about the embeddings' topology is drawn from it.")
    disagree = disagreement_sentence(summary)
    abstract = (" Where the embeddings decode both angles ($R^2\\ge0.8$), the Betti numbers still read no torus: the two "
                "kinds of evidence disagree, and we report both." if disagreements(summary) else "")
    return [_macro("ControlReading", reading), _macro("QtwoVerdict", verdict), _macro("QtwoDisagree", disagree),
            _macro("QtwoAbstract", abstract), _macro("BestScoreNote", best_score_note(summary))]


def best_score_note(summary: dict, dataset: str = HARD) -> str:
    """\\BestScoreNote: when the method with the best torus score decodes the angles worse than the
    untrained encoder, a clause that says so (a torus-like shape that is not the angles' torus)."""
    cands = [(row["tscore"].mean, name) for (d, name), row in summary.items()
             if d == dataset and name in METHODS and {"tscore", "circ"} <= set(row) and not math.isnan(row["tscore"].mean)]
    rand = summary.get((dataset, "baseline_vicreg_random_init"), {}).get("circ")
    if not cands or rand is None:
        return ""
    name = max(cands)[1]
    circ = summary[(dataset, name)]["circ"].mean
    return (f" (whose circular decoding, {circ:.2f}, is below the untrained encoder's: a shape the score grades "
            "as partly toroidal that does not carry the angles)" if circ < rand.mean else "")


def loss_term_trends(profile: str, dataset: str, name: str, terms: tuple) -> dict:
    """term -> (first, last) logged value of that loss part, each the mean over the seeds'
    metrics.jsonl (a term no run logged is left out)."""
    pairs: dict = {}
    for folder in sorted((runs.RUNS / profile / dataset / name).glob("seed*")):
        log = runs.read_metrics(folder)
        for term in terms:
            steps = [r[term] for r in log if term in r]
            if steps:
                pairs.setdefault(term, []).append((steps[0], steps[-1]))
    return {t: (statistics.fmean(p[0] for p in v), statistics.fmean(p[1] for p in v)) for t, v in pairs.items()}


def nuisance_probe_means(profile: str) -> dict:
    """(name, factor) -> mean over seeds of runs/<profile>/nuisance_probe.json (jepa_torus.nuisance_probe),
    {} before it has run."""
    path = runs.RUNS / profile / "nuisance_probe.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    cells: dict = {}
    for row in doc["rows"]:
        for f in doc["factors"]:
            cells.setdefault((row["name"], f), []).append(row[f])
    return {k: statistics.fmean(v) for k, v in cells.items()}


def nuisance_probe_sentence(profile: str) -> str:
    """What the JEPA rows' embeddings carry of the drawn nuisance (the VICReg row, mean over seeds),
    with the probe's positive references: raw pixels for the background, the supervised reference
    for the polarity."""
    m = nuisance_probe_means(profile)
    name = JEPA[0]
    if (name, "polarity") not in m:
        return (" The online embeddings spread along something the target's view does not share; what it is, "
                "we have not measured.")
    refs = []
    if ("raw_pixels", "background") in m:
        refs.append(f"raw pixels read the background at {m[('raw_pixels', 'background')]:.2f}")
    if ("supervised_angles", "polarity") in m:
        refs.append(f"the supervised reference the polarity at {m[('supervised_angles', 'polarity')]:.2f}")
    return (" Nor does the VICReg row's embedding carry the nuisance we drew, in a linear read-out: out-of-fold "
            "$R^2$ of the polarity "
            f"{m[(name, 'polarity')]:.2f}, of polarity times contrast {m[(name, 'polarity_contrast')]:.2f}, of the "
            f"background's band-4--7 Fourier coefficients {m[(name, 'background')]:.2f} and of the image mean "
            f"{m[(name, 'image_mean')]:.2f}" + (f" ({'; '.join(refs)})" if refs else "")
            + ", so what the online embeddings spread along is not identified.")


def jepa_macros(profile: str, summary: dict) -> list[str]:
    """\\JepaHardWorld: where the JEPA rows (EMA target, MLP predictor, one way) stand on the hard
    world against the untrained encoder and, when they fall below it, what their training logs
    show (the variance hinge and the invariance term, first and last logged, mean over seeds)."""
    rand = summary.get((HARD, "baseline_vicreg_random_init"), {}).get("circ")
    rows = [(n, summary[(HARD, n)]["circ"].mean) for n in JEPA if "circ" in summary.get((HARD, n), {})]
    if not rows or rand is None:
        return [_macro("JepaHardWorld", ""), _macro("JepaAbstract", "")]
    below = all(circ < rand.mean for _, circ in rows)
    if below:
        clean = [summary[(CLEAN, n)]["circ"].mean for n, _ in rows if "circ" in summary.get((CLEAN, n), {})]
        text = "Both lie below the untrained encoder on the nuisance images"
        text += (f", yet on the clean renderings of the same angles they decode at $R^2\\ge{min(clean):.2f}$: the "
                 "encoder keeps the angles but has not learned to ignore the nuisance." if clean else ".")
        trends = loss_term_trends(profile, HARD, JEPA[0], ("invariance", "variance"))
        if len(trends) == 2:
            inv, var = trends["invariance"], trends["variance"]
            text += (f" This is not a collapse of the spread: in the VICReg row the variance hinge falls from "
                     f"{var[0]:.2f} to {var[1]:.2f} (every dimension keeps unit spread) while the prediction error "
                     f"rises from {inv[0]:.2f} to {inv[1]:.2f} over training.")
        text += nuisance_probe_sentence(profile)
    else:
        text = "They lie above the untrained encoder."
    abstract = (" The original's JEPA setup (EMA target, one-way prediction) falls below the untrained encoder "
                "there." if below else "")
    return [_macro("JepaHardWorld", text), _macro("JepaAbstract", abstract)]


def verify_macros(profile: str, summary: dict) -> list[str]:
    """\\VerifySentence: what `make verify` found (runs/<profile>/verify/*.json, jepa_torus.verify
    --record): a committed run retrained, its main values against the committed ones and, for the
    linear probe, the configuration's seed-to-seed sd beside the difference."""
    records = [json.loads(p.read_text()) for p in sorted((runs.RUNS / profile / "verify").glob("*.json"))]
    if not records:
        return [_macro("VerifySentence", "No committed run of this profile has been retrained by "
                                         "\\texttt{make verify} yet.")]
    out = []
    for rec in records:
        v, run = rec["values"], rec["run"].replace("_", "\\_")
        where = ("on the same machine kind" if not rec["machine"] else
                 "elsewhere (differing in " + ", ".join(sorted(rec["machine"])) + ")")
        if rec["result"] == "identical":
            out.append(f"Retrained by \\texttt{{make verify}} {where}, \\texttt{{{run}}} gave identical results.")
            continue
        parts = []
        if "linear_probe" in v:
            c, r = (100 * x for x in v["linear_probe"])
            dataset, name, _ = rec["run"].split("/")
            sd = summary.get((dataset, name), {}).get("linear")
            spread = f"; its seed-to-seed sd is {100 * sd.sd:.1f}" if sd is not None and len(sd.values) > 1 else ""
            parts.append(f"linear-probe accuracy {r:.1f}\\,\\% against {c:.1f}\\,\\% committed (${r - c:+.1f}$ points{spread})")
        if "knn_accuracy" in v:
            c, r = (100 * x for x in v["knn_accuracy"])
            parts.append(f"$k$NN accuracy {r:.1f}\\,\\% against {c:.1f}\\,\\%")
        if "betti" in v:
            parts.append("Betti numbers $({})$ against $({})$".format(*(",".join(map(str, b)) for b in v["betti"][::-1])))
        if "last_logged_loss" in v:
            c, r = v["last_logged_loss"]
            parts.append(f"a last logged loss {r:.3f} against {c:.3f}")
        out.append(f"Retrained by \\texttt{{make verify}} {where}, \\texttt{{{run}}} gave " + ", ".join(parts)
                   + f" ({rec['counts']['identical']} of {sum(rec['counts'].values()) - rec['counts']['new']} values identical). "
                   "Rounding that differs from the first steps grows through training: across machine builds a "
                   "retrain is another draw of the run, not a copy of it.")
    return [_macro("VerifySentence", " ".join(out))]


def validation_bench(profile: str) -> dict:
    """runs/<profile>/bench_topology.json (tests/bench_topology.py), or {} before it has run."""
    path = runs.RUNS / profile / "bench_topology.json"
    return json.loads(path.read_text()) if path.exists() else {}


def validation_rows(profile: str) -> list[dict]:
    return validation_bench(profile).get("rows", [])


def validation_macros(profile: str) -> list[str]:
    """\\ValidationRight{intrinsic|euclidean}: how many shapes of the bank the instrument reads
    right (modal signature); \\ValidationMisses: the intrinsic metric's misses, named;
    \\TopologySeconds: the default instrument's seconds on 1000 points in R^256."""
    bench = validation_bench(profile)
    rows = bench.get("rows", [])
    if not rows:
        return [_macro("ValidationRightIntrinsic", "--"), _macro("ValidationRightEuclidean", "--"),
                _macro("ValidationMisses", "(the validation benchmark has not run in this profile)"),
                _macro("TopologySeconds", "--")]
    right = {m: sum(r[m]["modal"] == r["expected"] for r in rows) for m in ("intrinsic", "euclidean")}
    misses = [f"{r['shape'].replace('_', ' ')} (reads $({','.join(map(str, r['intrinsic']['modal']))})$)"
              for r in rows if r["intrinsic"]["modal"] != r["expected"]]
    cost = bench["cost"][0]
    return [_macro("ValidationRightIntrinsic", f"{right['intrinsic']} of {len(rows)}"),
            _macro("ValidationRightEuclidean", f"{right['euclidean']} of {len(rows)}"),
            _macro("ValidationMisses", ", ".join(misses) if misses else "none"),
            _macro("TopologySeconds", f"{cost['seconds']:.0f}")]


def validation_table(profile: str) -> str:
    """The instrument on the known-shape bank: expected, found (modal) with the fraction of
    resamples that give the expected signature, per metric, and the torus score."""
    rows = validation_rows(profile)

    def sig(v) -> str:
        return "(" + ",".join(map(str, v[:3])) + ")"

    body = [[r["shape"].replace("_", " "), sig(r["expected"]),
             f"{sig(r['intrinsic']['modal'])} {r['intrinsic']['right']:.1f}", f"{r['intrinsic']['score']:.2f}",
             f"{sig(r['euclidean']['modal'])} {r['euclidean']['right']:.1f}", f"{r['euclidean']['score']:.2f}"]
            for r in rows]
    if not body:
        return "(the validation benchmark has not run in this profile)\n"
    return tabular(["Shape", "Expected", "Intrinsic", "TS", "Euclidean", "TS"], body, "llcccc")


def schedule_macros() -> list[str]:
    """\\ScheduleEpochs: the hard world's training length chosen by tests/select_nuisance_schedule.py
    (paper/data/nuisance_schedule.json), with \\ScheduleRule its rule and \\ScheduleCurve the
    mean over the self-supervised methods at the chosen and the last epoch trained."""
    path = REPO / "paper" / "data" / "nuisance_schedule.json"
    if not path.exists():
        return [_macro(k, "--") for k in ("ScheduleEpochs", "ScheduleTrained", "ScheduleChosenRtwo", "ScheduleLastRtwo")]
    doc = json.loads(path.read_text())
    mean = doc["ssl_mean"]
    return [_macro("ScheduleEpochs", doc["chosen_epochs"]), _macro("ScheduleTrained", doc["epochs_trained"]),
            _macro("ScheduleChosenRtwo", f"{mean[doc['chosen_epochs'] - 1]:.2f}"),
            _macro("ScheduleLastRtwo", f"{mean[-1]:.2f}")]


def cost_macros(profile: str) -> list[str]:
    """Loss cost at the largest benchmarked D (runs/<profile>/bench_losses.json), in ms:
    \\CostDim, \\CostVICReg, \\CostSIGReg (M=1024), \\CostToroidal."""
    path = runs.RUNS / profile / "bench_losses.json"
    if not path.exists():
        return [_macro(k, "--") for k in ("CostDim", "CostVICReg", "CostSIGReg", "CostToroidal")]
    row = max(json.loads(path.read_text())["rows"], key=lambda r: r["dim"])
    return [_macro("CostDim", row["dim"]), _macro("CostVICReg", f"{row['VICReg']:.1f}"),
            _macro("CostSIGReg", f"{row['SIGReg M=1024']:.1f}"), _macro("CostToroidal", f"{row['Toroidal N=12']:.1f}")]


def macros(profile: str, records: list[dict], summary: dict) -> str:
    """macros.tex: every family above, each lookup's \\newcommand before its entries.  Data sets
    in sorted order, so the same runs always give the same bytes."""
    datasets = sorted({d for d, _ in summary})
    lines = ["% generated by jepa_torus.report; do not edit"]
    lines += profile_macros(profile, records) + baseline_macros(summary) + stage_macros(profile)
    lines += margin_macros(summary) + cost_macros(profile) + q2_macros(records, summary) + validation_macros(profile)
    lines += paired_macros(summary) + schedule_macros() + jepa_macros(profile, summary) + verify_macros(profile, summary)
    lines += [lookup_command("R"), lookup_command("Best")] + result_macros(summary)
    lines += [lookup_command(c) for c in ("Cmp", "Diff", "Ahead", "Recovers")] + comparison_macros(summary)
    for dataset in datasets:
        lines += ahead_macros(summary, dataset) + recovers_macros(summary, dataset)
    for dataset in datasets:
        lines += best_macros(summary, dataset)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- tables
def metrics_protocol(records: list[dict]) -> str:
    params = next((r["persistence"]["params"] for r in records if "persistence" in r), None)
    if params is None:
        return "(no run with topology metrics in this profile)\n"
    items = ", ".join(f"\\texttt{{{k.replace('_', '-')}}}$={v}$" for k, v in sorted(params.items()))
    n_top = next(r["n_topology"] for r in records if "n_topology" in r)
    return (f"Persistent homology used {n_top} test points per run and these parameters: {items}.\n")


def torus_weight_table(summary: dict) -> str:
    """The torus-weight sweep on the hard world; weight 1 is the main toroidal_N12 run."""
    names = {w: torus_weight_run(w) for w in sorted(TORUS_WEIGHTS + [1.0])}
    return metric_table(summary, HARD, list(names.values()), ABLATION, first="$\\lambda_T$",
                        labels={n: f"{w:g}" for w, n in names.items()})


ABLATION = ["circ", "betti", "tscore", "linear", "knn"]   # the ablation tables' columns (hard world)
Q2 = ["circ", "betti", "tfrac", "tscore", "angles", "id"]  # the hard world's Q2 columns


def paired_macros(summary: dict) -> list[str]:
    """\\PairedComparisons: how many paired comparisons the paper's difference tables make."""
    count = sum(paired_table(summary, d, m)[1] for d, m in PAIRED_TABLES.values())
    return [_macro("PairedComparisons", count)]


# table name -> (data set, metric) of the paired-difference tables (against VICReg and SIGReg)
PAIRED_TABLES = {"table_paired_fmnist_linear": ("fashion_mnist", "linear"),
                 "table_paired_fmnist_knn": ("fashion_mnist", "knn"),
                 "table_paired_nuisance_circ": (HARD, "circ")}


def tables(records: list[dict], summary: dict, profile: str) -> dict[str, str]:
    """name -> text of every table file (paper/generated/<profile>/<name>.tex) but macros.tex."""
    full = ["linear", "knn", "erank", "betti", "sgr", "id", "tscore"]
    torus = ["linear", "knn", "betti", "tfrac", "tscore", "id", "circ", "angles"]
    grid = {"baseline_vicreg": "VICReg ($W{=}1$)",
            **{f"toroidal_N{n}": f"$N{{=}}{n}$, $\\lambda_1={spectral_gap(n):.3f}$" for n in (8, 12, 16)}}
    paired = {}
    for name, (dataset, metric) in PAIRED_TABLES.items():
        rows, _ = paired_table(summary, dataset, metric, names=METHODS)
        paired[name] = paired_differences_tex(rows, metric) if rows else "(no paired runs in this profile)\n"
    return {
        "table_main_fmnist": metric_table(summary, "fashion_mnist", METHODS, full),
        "table_main_nuisance": metric_table(summary, HARD, METHODS + REFERENCE_ROWS, Q2 + ["linear", "knn"]),
        "table_clean_nuisance": metric_table(summary, CLEAN, METHODS + REFERENCE_ROWS, Q2),
        "table_control_torus": metric_table(summary, "torus_world", ["raw_pixels", "baseline_vicreg_random_init"], torus,
                                            first="\\tw{}"),
        **paired,
        "table_topology_validation": validation_table(profile),
        "table_ablation_torus_weight": torus_weight_table(summary),
        "table_ablation_grid": metric_table(summary, HARD, list(grid), ABLATION, first="Grid", labels=grid),
        "table_ablation_predictor": metric_table(summary, HARD, ["hamjepa", "hamjepa_mlp"], ABLATION, first="Predictor"),
        "table_baselines": metric_table(summary, "fashion_mnist", ["raw_pixels", "baseline_vicreg_random_init"] + METHODS,
                                        ["linear", "knn"], first="fashion-mnist"),
        "table_original": original_table(),
        "metrics_protocol": metrics_protocol(records),
    }


def write_generated(profile: str, records: list[dict] | None = None, out: Path | None = None) -> Path:
    """Write <out>/*.tex (default paper/generated/<profile>) from the finished runs of a profile.
    macros.tex is written last: it is the make target, so a kill before it leaves no target
    that make would take as up to date over stale tables."""
    records = runs.finished(profile) if records is None else records
    summary = summarize(records)
    out = GENERATED / profile if out is None else Path(out)
    ensure_dir(out)
    files = {**tables(records, summary, profile), "macros": macros(profile, records, summary)}
    for name, text in files.items():
        atomic_write_text(out / f"{name}.tex", text)
    return out


def savefig(fig, path) -> None:
    """fig.savefig(path, bbox_inches="tight"), atomically: a killed notebook never leaves
    half a figure for LaTeX.  PDFs carry no creation date, so unchanged results give
    byte-identical files (and no spurious diffs in the committed figures)."""
    buf = io.BytesIO()
    fmt = Path(path).suffix.lstrip(".")
    fig.savefig(buf, format=fmt, bbox_inches="tight", metadata={"CreationDate": None} if fmt == "pdf" else None)
    atomic_write_bytes(path, buf.getvalue())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jepa_torus.report",
                                description="Write the tables and macros of the paper from the finished runs of a profile.")
    p.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    p.add_argument("--out", type=Path, help="folder to write (default paper/generated/<profile>)")
    a = p.parse_args(argv)
    try:
        print(write_generated(a.profile, out=a.out))
    except OutputError as e:   # a read-only or full output: one line, the earlier tables kept
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every table already written is complete (atomic writes); run the command again",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
