"""stats.py: the paired difference and its verdict, against hand-computed intervals and
scipy.stats.ttest_rel."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from jepa_torus.stats import paired_difference, t_quantile, verdict

# t quantiles in closed form, independent of scipy: with 2 degrees of freedom
# t_p = (2p - 1) / sqrt(2 p (1 - p)); with 1 (Cauchy) t_p = tan(pi (p - 1/2))
T_975_2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)    # 4.30265272974946: n = 3 pairs
T_975_1 = math.tan(math.pi * 0.475)               # 12.7062047361747: n = 2 pairs


def test_t_quantiles_are_the_tabulated_ones():
    assert t_quantile(3) == pytest.approx(T_975_2, abs=1e-9) and t_quantile(3) == pytest.approx(4.302653, abs=1e-6)
    assert t_quantile(2) == pytest.approx(T_975_1, abs=1e-9) and t_quantile(2) == pytest.approx(12.706205, abs=1e-6)
    with pytest.raises(ValueError):
        t_quantile(1)


def test_hand_computed_interval_that_contains_zero():
    # d = (2, 3, 1): mean 2, sd 1, half width t_{0.975,2} / sqrt(3) = 2.4841...
    d = paired_difference({0: 3.0, 1: 5.0, 2: 4.0}, {0: 1.0, 1: 2.0, 2: 3.0})
    half = T_975_2 / math.sqrt(3)
    assert (d.n, d.seeds) == (3, (0, 1, 2))
    assert d.mean == pytest.approx(2.0) and d.sd == pytest.approx(1.0)
    assert (d.lo, d.hi) == (pytest.approx(2.0 - half), pytest.approx(2.0 + half))
    assert d.lo == pytest.approx(-0.48414, abs=1e-5)
    assert verdict(d) == "level with"


def test_hand_computed_interval_above_and_below():
    # d = (2.2, 1.8, 2.0): mean 2, sd 0.2, half width 4.3027 * 0.2 / sqrt(3) = 0.49683
    a, b = {0: 2.2, 1: 1.8, 2: 2.0}, {0: 0.0, 1: 0.0, 2: 0.0}
    d = paired_difference(a, b)
    assert (d.lo, d.hi) == (pytest.approx(2.0 - 0.496828, abs=1e-6), pytest.approx(2.0 + 0.496828, abs=1e-6))
    assert verdict(d) == "above"
    assert verdict(paired_difference(b, a)) == "below"


def test_pairing_uses_only_shared_seeds():
    d = paired_difference({0: 1.0, 1: 2.0, 5: 9.0}, {1: 1.0, 0: 0.5, 7: -3.0})
    assert d.seeds == (0, 1) and d.n == 2
    assert d.mean == pytest.approx(0.75)
    assert d.sd == pytest.approx(math.sqrt(0.125))         # d = (0.5, 1.0)
    assert d.hi - d.mean == pytest.approx(T_975_1 * math.sqrt(0.125) / math.sqrt(2))
    with pytest.raises(ValueError, match="no seed in common"):
        paired_difference({0: 1.0}, {1: 1.0})


def test_one_pair_has_no_interval_and_says_so():
    d = paired_difference({3: 0.9}, {3: 0.8, 4: 0.7})
    assert d.n == 1 and not d.has_interval and math.isnan(d.lo) and math.isnan(d.sd)
    assert verdict(d) == "nominally above"
    assert verdict(paired_difference({0: 0.7}, {0: 0.8})) == "nominally below"
    assert verdict(paired_difference({0: 0.8}, {0: 0.8})) == "nominally level with"


def test_identical_differences_have_a_zero_width_interval():
    d = paired_difference({0: 1.0, 1: 2.0}, {0: 0.5, 1: 1.5})
    assert d.sd == 0.0 and d.lo == d.hi == 0.5
    assert verdict(d) == "above"
    assert verdict(d, resolution=0.5) == "level with"       # within the printed digit


def test_interval_excludes_zero_exactly_when_ttest_rel_rejects():
    rng = np.random.default_rng(0)
    seen = {True: 0, False: 0}
    for trial in range(400):
        n = int(rng.integers(2, 8))
        b = rng.normal(size=n)
        a = b + rng.normal(loc=rng.uniform(-1.5, 1.5), scale=rng.uniform(0.1, 1.0), size=n)
        d = paired_difference(dict(enumerate(a)), dict(enumerate(b)))
        p = sps.ttest_rel(a, b).pvalue
        excludes = d.lo > 0 or d.hi < 0
        assert excludes == (p < 0.05), (trial, n, d, p)
        assert verdict(d) == ("level with" if not excludes else "above" if d.mean > 0 else "below")
        seen[excludes] += 1
    assert min(seen.values()) > 50       # both outcomes were exercised


# --------------------------------------------------------------------------- report.py's use of them
from jepa_torus import report  # noqa: E402
from jepa_torus.report import Stat, compare  # noqa: E402

LINEAR = {"baseline_vicreg": {0: 0.800, 1: 0.810, 2: 0.790}, "baseline_sigreg": {0: 0.820, 1: 0.825, 2: 0.800},
          "hybrid": {0: 0.850, 1: 0.860, 2: 0.845}, "toroidal_N12": {0: 0.790},
          "hamjepa": {5: 0.9, 6: 0.91}}   # no seed shared with the references: left out


def _records(table=LINEAR, dataset="fashion_mnist") -> list[dict]:
    """final.json-like records as runs.finished gives them (report reads these fields)."""
    return [{"dataset": dataset, "name": name, "config": name, "seed": seed, "linear_probe": acc,
             "knn_accuracy": acc - 0.01, "betti": [1, 0, 0], "run_dir": f"/nowhere/{name}/seed{seed}"}
            for name, by_seed in table.items() for seed, acc in by_seed.items()]


def test_summarize_keeps_the_seed_of_each_value():
    stat = report.summarize(_records())[("fashion_mnist", "baseline_sigreg")]["linear"]
    assert stat.by_seed() == {0: 0.820, 1: 0.825, 2: 0.800}
    assert Stat([0.1, 0.2]).by_seed() is None                     # built without seeds: no pairing
    assert Stat([0.1, 0.2], [0, 0]).by_seed() is None              # a seed twice: no pairing


def test_compare_pairs_shared_seeds_and_falls_back_to_welch():
    # seed effects dominate: unpaired the spread hides the difference, paired it is clear
    # d = (0.1, 0.1, 0.15): mean 0.1167, sd 0.0289, interval [0.045, 0.188] > 0
    a, b = [1.0, 2.0, 3.0], [0.9, 1.9, 2.85]
    assert compare(Stat(a, [0, 1, 2]), Stat(b, [0, 1, 2])) == "above"
    assert compare(Stat(b, [0, 1, 2]), Stat(a, [0, 1, 2])) == "below"
    assert compare(Stat(a), Stat(b)) == "level with"                         # no seeds: Welch
    assert compare(Stat(a, [0, 1, 2]), Stat(b, [2, 3, 4])) == "level with"   # one shared seed: Welch
    assert report.paired(Stat(a, [0, 1, 2]), Stat(b, [2, 3, 4])) is None
    # a paired interval that contains 0 although Welch's 2 SE would separate the means
    a, b = [1.0, 1.1, 1.2], [0.2, 1.0, 0.1]     # d = (0.8, 0.1, 1.1): interval [-0.63, 1.97]
    assert compare(Stat(a), Stat(b)) == "above"
    assert compare(Stat(a, [0, 1, 2]), Stat(b, [0, 1, 2])) == "level with"
    # the printed-digit resolution still applies to paired runs
    one, other = Stat([1.0, 1.0, 1.0], [0, 1, 2]), Stat([0.9999, 0.9999, 0.9999], [0, 1, 2])
    assert compare(one, other) == "above" and compare(one, other, resolution=report.resolution("circ")) == "level with"


def test_paired_table_rows_and_count():
    summary = report.summarize(_records())
    rows, count = report.paired_table(summary, "fashion_mnist", "linear")      # names: every MAIN configuration
    assert count == len(rows) == 5
    assert sorted((r.name, r.reference) for r in rows) == sorted([
        ("baseline_sigreg", "baseline_vicreg"), ("hybrid", "baseline_vicreg"), ("toroidal_N12", "baseline_vicreg"),
        ("hybrid", "baseline_sigreg"), ("toroidal_N12", "baseline_sigreg")])
    rows, count = report.paired_table(summary, "fashion_mnist", "linear",
                                      names=["baseline_vicreg", "baseline_sigreg", "hybrid", "toroidal_N12", "hamjepa"])
    assert count == len(rows) == 5
    assert [(r.name, r.reference, r.diff.n, r.verdict) for r in rows] == [
        ("baseline_sigreg", "baseline_vicreg", 3, "above"), ("hybrid", "baseline_vicreg", 3, "above"),
        ("toroidal_N12", "baseline_vicreg", 1, "nominally below"),
        ("hybrid", "baseline_sigreg", 3, "above"), ("toroidal_N12", "baseline_sigreg", 1, "nominally below")]
    hybrid = rows[1].diff           # d = (0.05, 0.05, 0.055): mean 0.051667, sd 0.0028868
    half = T_975_2 * (0.005 / math.sqrt(3)) / math.sqrt(3)
    assert hybrid.mean == pytest.approx(0.0516667, abs=1e-7)
    assert (hybrid.lo, hybrid.hi) == (pytest.approx(hybrid.mean - half), pytest.approx(hybrid.mean + half))
    with pytest.raises(ValueError):
        report.paired_table({}, "fashion_mnist", "betti")
    assert report.paired_table({}, "fashion_mnist", "linear") == ([], 0)


def test_paired_differences_tex_is_a_booktabs_table_in_points():
    summary = report.summarize(_records())
    rows, _ = report.paired_table(summary, "fashion_mnist", "linear")
    text = report.paired_differences_tex(rows, "linear")
    lines = text.splitlines()
    assert lines[:4] == ["\\begin{tabular}{llcccl}", "\\toprule",
                         "Method & Reference & $n$ & $\\Delta$ (points) & 95\\,\\% interval & Verdict \\\\", "\\midrule"]
    # hybrid - VICReg: mean 5.17, half width 4.3027 * 0.28868 / sqrt(3) = 0.717 points
    assert "Hybrid VICReg$\\to$SIGReg & VICReg & 3 & $+$5.2 & $[4.4, 5.9]$ & above \\\\" in lines
    # SIGReg - VICReg: d = (2, 1.5, 1) points: mean 1.5, sd 0.5, half width 1.242
    assert "SIGReg & VICReg & 3 & $+$1.5 & $[0.3, 2.7]$ & above \\\\" in lines
    assert "Toroidal $N{=}12$ & VICReg & 1 & $-$1.0 & -- & nominally below \\\\" in lines
    assert lines[-2:] == ["\\bottomrule", "\\end{tabular}"]
    # the reverse comparison: negative intervals with a minus sign
    rows, count = report.paired_table(summary, "fashion_mnist", "linear", refs=("hybrid",), names=["baseline_vicreg"])
    assert count == 1
    assert "VICReg & Hybrid VICReg$\\to$SIGReg & 3 & $-$5.2 & $[-5.9, -4.4]$ & below \\\\" in \
        report.paired_differences_tex(rows, "linear").splitlines()
    # an end that rounds to zero keeps its sign, so the printed interval agrees with the verdict
    from jepa_torus.stats import PairedDifference
    row = report.PairedRow("hybrid", "baseline_vicreg", PairedDifference(-0.003, 0.001, 3, -0.006, -0.0004, (0, 1, 2)),
                           "below")
    assert "$-$0.3 & $[-0.6, -0.0]$ & below" in report.paired_differences_tex([row], "linear")


def test_macros_use_the_paired_verdict(tmp_path):
    # Welch would call these level (large seed effects); paired by seed they are apart
    table = {"baseline_vicreg": {0: 0.60, 1: 0.70, 2: 0.80}, "toroidal_N12": {0: 0.62, 1: 0.725, 2: 0.815}}
    records = _records(table, "torus_world")
    summary = report.summarize(records)
    text = "\n".join(report.comparison_macros(summary))
    assert "\\csname C@torus@toroidal_N12@baseline_vicreg@linear\\endcsname{above}" in text
    unpaired = {k: {m: Stat(list(v.values)) if isinstance(v, Stat) else v for m, v in row.items()}
                for k, row in summary.items()}
    assert "\\csname C@torus@toroidal_N12@baseline_vicreg@linear\\endcsname{level with}" in \
        "\n".join(report.comparison_macros(unpaired))
