"""report.py: the verdicts the prose prints, checked against hand-computed Welch intervals,
and the generated macros that carry them."""
import math

import yaml

from jepa_torus import plan, report
from jepa_torus.report import Stat, ahead_of_all, compare, recovers_torus


def test_compare_separates_when_difference_exceeds_two_standard_errors():
    a, b = Stat([1.0, 1.1, 0.9]), Stat([0.0, 0.1, -0.1])
    se = math.sqrt(0.01 / 3 + 0.01 / 3)          # sd = 0.1 on both sides
    assert 1.0 > 2 * se
    assert compare(a, b) == "above" and compare(b, a) == "below"


def test_compare_calls_overlapping_seeds_level():
    a, b = Stat([1.0, 2.0, 3.0]), Stat([1.5, 2.5, 3.5])   # diff 0.5, SE = sqrt(2/3) = 0.82
    assert compare(a, b) == "level with"


def test_compare_with_one_seed_says_it_cannot_test():
    assert compare(Stat([0.9]), Stat([0.8, 0.82])) == "nominally above"
    assert compare(Stat([0.7]), Stat([0.8])) == "nominally below"


def test_ahead_and_recovery_lists():
    summary = {
        ("torus_world", "baseline_vicreg"): {"linear": Stat([0.50, 0.51, 0.49]), "betti": [(1, 0, 0)] * 3},
        ("torus_world", "baseline_sigreg"): {"linear": Stat([0.60, 0.61, 0.59]), "betti": [(1, 2, 1), (1, 0, 0), (1, 0, 0)]},
        ("torus_world", "toroidal_N12"): {"linear": Stat([0.70, 0.71, 0.69]), "betti": [(1, 2, 1), (1, 2, 1), (1, 1, 0)]},
        ("torus_world", "toroidal_N8"): {"linear": Stat([0.55, 0.75, 0.65])},   # mean 0.65, too noisy
    }
    refs = ["baseline_vicreg", "baseline_sigreg"]
    assert ahead_of_all(summary, "torus_world", ["toroidal_N12", "toroidal_N8"], refs, "linear") == ["toroidal_N12"]
    assert recovers_torus(summary, "torus_world", report.MAIN) == ["toroidal_N12"]
    assert report.listing([]) == "none"


def test_macros_carry_verdicts_and_signed_differences(tmp_path):
    cfg = {"model": {"encoder": "convnet", "encoder_kwargs": {"widths": [32, 64]}}, "train_subset": 0,
           "epochs": 2, "batch_size": 64, "lr": 0.002}
    records = []
    for name, accs in (("baseline_vicreg", [0.80, 0.81]), ("toroidal_N12", [0.70, 0.71])):
        for seed, acc in enumerate(accs):
            run = tmp_path / name / f"seed{seed}"
            run.mkdir(parents=True)
            (run / "config.yaml").write_text(yaml.safe_dump(cfg))
            records.append({"name": name, "dataset": "torus_world", "seed": seed, "run_dir": str(run),
                            "linear_probe": acc, "betti": [1, 2, 1]})
    text = report.macros("smoke", records, report.summarize(records))
    assert "\\csname C@torus@toroidal_N12@baseline_vicreg@linear\\endcsname{below}" in text
    assert "\\csname D@torus@toroidal_N12@baseline_vicreg@linear\\endcsname{$-$10.0}" in text
    assert "\\csname T@torus\\endcsname{VICReg, Toroidal $N{=}12$}" in text
    assert "\\csname A@torus@linear\\endcsname{none}" in text
    # torus_world's views have no crops, so the description names none
    assert "{\\texttt{smoke} profile (torus-world: ConvNet 32-64, 2 epochs, batch 64, peak lr 0.002)}" in text


def test_margin_over_raw_pixels_uses_the_best_main_run():
    summary = {("fashion_mnist", "raw_pixels"): {"linear": Stat([0.841]), "knn": Stat([0.845])},
               ("fashion_mnist", "baseline_vicreg"): {"linear": Stat([0.856]), "knn": Stat([0.822])},
               ("fashion_mnist", "hybrid"): {"linear": Stat([0.880]), "knn": Stat([0.880])}}
    text = "\n".join(report.margin_macros(summary))
    assert "\\newcommand{\\MarginLinear}{$+$3.9}" in text and "\\newcommand{\\MarginKnn}{$+$3.5}" in text
    assert "\\newcommand{\\MarginVerdict}{clears}" in text
    assert "\\newcommand{\\MarginCount}{1 of 2}" in text          # VICReg's kNN is below raw pixels
    summary[("fashion_mnist", "hybrid")]["knn"] = Stat([0.85])
    assert "{falls short of}" in "\n".join(report.margin_macros(summary))


def test_differences_below_the_printed_digit_are_level_even_with_zero_spread():
    a, b = Stat([1.0, 1.0, 1.0]), Stat([0.9999, 0.9999, 0.9999])
    assert compare(a, b) == "above"                      # sd 0: any difference is "significant"
    assert compare(a, b, resolution=report.resolution("circ")) == "level with"
    assert report.resolution("linear") == 0.0005          # 0.05 points, printed as percent with 1 decimal


def test_betti_ties_are_mixed_and_recovery_needs_a_majority():
    assert report.fmt_betti([(1, 2, 1), (1, 2, 0), (1, 0, 0)]) == "mixed"
    assert report.fmt_betti([(1, 2, 0), (1, 2, 0), (1, 0, 0)]) == "(1,2,0) 2/3"
    summary = {("torus_world", "toroidal_N8"): {"betti": [(1, 2, 1), (1, 2, 0), (1, 0, 0)]},
               ("torus_world", "toroidal_N12"): {"betti": [(1, 2, 1), (1, 2, 1), (1, 0, 0)]}}
    assert recovers_torus(summary, "torus_world", report.MAIN) == ["toroidal_N12"]


def test_best_is_a_tie_when_the_runner_up_prints_the_same():
    assert report.best_name([(0.858, "hybrid"), (0.8579, "hamjepa"), (0.85, "baseline_vicreg")], "linear").startswith("no single")
    assert report.best_name([(0.8584, "hybrid"), (0.8576, "hamjepa")], "linear").startswith("no single")  # both 85.8
    assert report.best_name([(0.87, "hybrid"), (0.858, "hamjepa")], "linear") == report.DISPLAY["hybrid"]


def test_stage_minutes_counts_each_stage_once_at_its_longest(tmp_path, monkeypatch):
    (tmp_path / "reports" / "cpu").mkdir(parents=True)
    lines = ['{"stage": "run:a", "seconds": 600}', '{"stage": "run:b", "seconds": 300}',
             '{"stage": "run:a", "seconds": 20}']          # a re-render after a fresh clone
    (tmp_path / "reports" / "cpu" / "timings.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(plan, "REPO", tmp_path)          # timings.jsonl is read by plan.stage_seconds
    assert report.stage_minutes("cpu") == 15.0


def test_signed_differences():
    assert report.signed(1.234, 1) == "$+$1.2" and report.signed(-0.26, 1) == "$-$0.3"
    assert report.signed(-0.04, 1) == "0.0"          # no sign on a difference that prints as zero


def test_profile_description_names_the_crop_area_actually_used(tmp_path):
    cfg = {"model": {"encoder": "convnet", "encoder_kwargs": {"widths": [32, 64, 128, 256]}}, "train_subset": 0,
           "epochs": 4, "batch_size": 256, "lr": 0.008, "augment": {"crop_scale": [0.8, 1.0]}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    rec = {"name": "baseline_vicreg", "dataset": "fashion_mnist", "seed": 0, "run_dir": str(tmp_path)}
    assert report.profile_description("cpu", [rec]) == ("\\texttt{cpu} profile (fashion-mnist: ConvNet 32-64-128-256, "
                                                        "4 epochs, batch 256, peak lr 0.008, crop area 0.8--1)")
    del cfg["augment"]                                        # the data set's own recipe: area 0.3-1
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert "crop area 0.3--1)" in report.profile_description("cpu", [rec])
