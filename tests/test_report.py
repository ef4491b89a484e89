"""report.py: the verdicts the prose prints, checked against hand-computed Welch intervals,
the generated macros that carry them, and `python -m jepa_torus.report` on a fake profile."""
import json
import math
import subprocess
import sys
import textwrap

import pytest
import yaml

from jepa_torus import report, runs
from jepa_torus.report import Stat, ahead_of_all, compare, recovers_torus


def _config(epochs=2, batch_size=64, lr=0.002, widths=(32, 64), **data) -> dict:
    """The fields of a run's config.yaml (jepa_torus.config sections) the report reads."""
    return {"data": {"train_subset": 0, **data},
            "model": {"encoder": "convnet", "encoder_kwargs": {"widths": list(widths)}},
            "optim": {"epochs": epochs, "batch_size": batch_size, "lr": lr}}


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
    assert recovers_torus(summary, "torus_world", report.METHODS) == ["toroidal_N12"]
    assert report.listing([]) == "none"


def test_macros_carry_verdicts_and_signed_differences(tmp_path):
    cfg = _config()
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
    assert recovers_torus(summary, "torus_world", report.METHODS) == ["toroidal_N12"]


def test_best_is_a_tie_when_the_runner_up_prints_the_same():
    assert report.best_name([(0.858, "hybrid"), (0.8579, "hamjepa"), (0.85, "baseline_vicreg")], "linear").startswith("no single")
    assert report.best_name([(0.8584, "hybrid"), (0.8576, "hamjepa")], "linear").startswith("no single")  # both 85.8
    assert report.best_name([(0.87, "hybrid"), (0.858, "hamjepa")], "linear") == report.DISPLAY["hybrid"]


def test_stage_minutes_counts_each_stage_once_at_its_longest(tmp_path, monkeypatch):
    (tmp_path / "reports" / "cpu").mkdir(parents=True)
    lines = ['{"stage": "run:a", "seconds": 600}', '{"stage": "run:b", "seconds": 300}',
             '{"stage": "run:a", "seconds": 20}']          # a re-render after a fresh clone
    (tmp_path / "reports" / "cpu" / "timings.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(runs, "REPO", tmp_path)          # timings.jsonl is read by plan.stage_seconds
    assert report.stage_minutes("cpu") == 15.0


def test_signed_differences():
    assert report.signed(1.234, 1) == "$+$1.2" and report.signed(-0.26, 1) == "$-$0.3"
    assert report.signed(-0.04, 1) == "0.0"          # no sign on a difference that prints as zero


def test_profile_description_names_the_crop_area_actually_used(tmp_path):
    cfg = _config(epochs=4, batch_size=256, lr=0.008, widths=(32, 64, 128, 256), augment={"crop_scale": [0.8, 1.0]})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    rec = {"name": "baseline_vicreg", "dataset": "fashion_mnist", "seed": 0, "run_dir": str(tmp_path)}
    assert report.profile_description("cpu", [rec]) == ("\\texttt{cpu} profile (fashion-mnist: ConvNet 32-64-128-256, "
                                                        "4 epochs, batch 256, peak lr 0.008, crop area 0.8--1)")
    del cfg["data"]["augment"]                                # the data set's own recipe: area 0.3-1
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert "crop area 0.3--1)" in report.profile_description("cpu", [rec])


def test_lookup_command_and_entry_spell_the_latex_the_paper_expands():
    assert report.lookup_entry("R", ("torus", "toroidal_N12", "linear"), "97.1 $\\pm$ 0.3") == (
        "\\expandafter\\def\\csname R@torus@toroidal_N12@linear\\endcsname{97.1 $\\pm$ 0.3}")
    assert report.lookup_entry("Recovers", ("fmnist",), "none") == "\\expandafter\\def\\csname T@fmnist\\endcsname{none}"
    assert report.lookup_command("Cmp") == (
        "\\newcommand{\\Cmp}[4]{\\ifcsname C@#1@#2@#3@#4\\endcsname\\csname C@#1@#2@#3@#4\\endcsname"
        "\\else\\textbf{??}\\PackageWarning{jepa-torus}{no comparison #1/#2/#3/#4}\\fi}")
    assert report.lookup_command("Recovers") == (
        "\\newcommand{\\Recovers}[1]{\\ifcsname T@#1\\endcsname\\csname T@#1\\endcsname\\else\\textbf{??}\\fi}")
    with pytest.raises(ValueError):   # an entry with the wrong number of keys could never be looked up
        report.lookup_entry("R", ("torus", "linear"), "1.0")



def test_lookup_macros_expand_in_latex(tmp_path):
    """lookup_command and lookup_entry through pdflatex: a defined key expands to its value, a missing
    one to ?? with a warning naming it (`make test` installs TeX Live)."""
    body = [report.lookup_command("R"), report.lookup_entry("R", ("torus", "toroidal_N12", "linear"), "97.1"),
            "\\typeout{VALUE=\\R{torus}{toroidal_N12}{linear}}", "\\begin{document}\\R{torus}{hybrid}{knn}\\end{document}"]
    (tmp_path / "t.tex").write_text("\\documentclass{article}\n" + "\n".join(body) + "\n")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                   capture_output=True, check=True)
    log = (tmp_path / "t.log").read_text()
    assert "VALUE=97.1" in log
    assert "Package jepa-torus Warning: no result torus/hybrid/knn" in log


def _fake_run(profile, dataset, name, seed, linear, cfg):
    folder = runs.run_dir(profile, dataset, name, seed)
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    final = {"dataset": dataset, "config": name, "seed": seed, "profile": profile, "linear_probe": linear}
    (folder / "final.json").write_text(json.dumps(final))


def test_report_command_writes_tables_and_macros_without_a_kernel(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "RUNS", tmp_path / "runs")      # the fake profile lives here, not in runs/
    for name, accs in (("baseline_vicreg", [0.80, 0.81]), ("toroidal_N12", [0.70, 0.72])):
        for seed, acc in enumerate(accs):
            _fake_run("smoke", "nuisance_torus", name, seed, acc, _config(epochs=3))
    out = tmp_path / "generated"
    # As `python -m jepa_torus.report`, in a fresh interpreter reading the fake runs folder;
    # then no module of a notebook kernel may have been imported.
    code = textwrap.dedent(f"""
        import runpy, sys
        from pathlib import Path
        from jepa_torus import runs
        runs.RUNS = Path({str(runs.RUNS)!r})
        sys.argv = ["report", "--profile", "smoke", "--out", {str(out)!r}]
        try:
            runpy.run_module("jepa_torus.report", run_name="__main__")
        except SystemExit as e:
            assert not e.code, e.code
        print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"papermill", "nbclient", "jupyter_client", "ipykernel"}}))
        """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [str(out), "[]"]
    text = (out / "macros.tex").read_text()
    assert "\\newcommand{\\NumSeedsNuisance}{2}" in text and "\\newcommand{\\EpochsNuisance}{3}" in text
    assert "\\newcommand{\\EpochsFmnist}{--}" in text                    # no fashion_mnist run
    # mean 80.5, sd of (0.80, 0.81) = 0.00707 -> 0.7 points; 71.0 +- 1.4 the same way
    assert "\\csname R@nuisance@baseline_vicreg@linear\\endcsname{80.5 $\\pm$ 0.7}" in text
    assert "\\csname R@nuisance@toroidal_N12@linear\\endcsname{71.0 $\\pm$ 1.4}" in text
    assert "\\csname D@nuisance@toroidal_N12@baseline_vicreg@linear\\endcsname{$-$9.5}" in text
    assert "VICReg & -- & -- & -- & -- & -- & -- & 80.5 $\\pm$ 0.7 &" in (out / "table_main_nuisance.tex").read_text()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.tex" for n in ("macros", "metrics_protocol", "table_ablation_grid", "table_ablation_torus_weight",
                              "table_ablation_predictor", "table_baselines", "table_main_fmnist", "table_main_nuisance",
                              "table_clean_nuisance", "table_control_torus", "table_paired_fmnist_linear",
                              "table_paired_fmnist_knn", "table_paired_nuisance_circ", "table_original",
                              "table_topology_validation")])


def test_torus_weight_table_puts_the_main_run_at_weight_one():
    weights = [0.1, 10.0, 1.0, 0.01]     # plan.TORUS_WEIGHTS and the main run's weight 1
    names = ["toroidal_N12_torus_weight0.1", "toroidal_N12_torus_weight10", "toroidal_N12", "toroidal_N12_torus_weight0.01"]
    summary = {("nuisance_torus", n): {"circ": Stat([w / 100])} for w, n in zip(weights, names)}
    rows = [line.split(" & ")[:2] for line in report.torus_weight_table(summary).splitlines() if " & " in line][1:]
    assert rows == [["0.01", "0.00"], ["0.1", "0.00"], ["1", "0.01"], ["10", "0.10"]]


def _control(fraction: float, signatures) -> dict:
    return {"dataset": "torus_world", "name": "raw_pixels", "seed": 0, "betti": list(signatures[0]),
            "topology": {"torus_fraction": fraction, "modal": list(signatures[0]), "signatures": [list(t) for t in signatures]},
            "topology_euclidean": {"torus_fraction": 0.0, "modal": [1, 9, 1], "signatures": [[1, 9, 1]] * 5}}


def _macro_text(lines: list[str], name: str) -> str:
    line = next(x for x in lines if x.startswith(f"\\newcommand{{\\{name}}}"))
    return line[len(f"\\newcommand{{\\{name}}}{{"):-1]


def test_q2_verdict_is_written_only_when_the_control_reads_a_torus():
    runs_ = [{"dataset": "nuisance_torus", "name": "toroidal_N12", "seed": s, "betti": [1, 2, 1], "circular_decoding": 1.0,
              "intrinsic_dimension_mle": 2.2} for s in range(3)]
    runs_ += [{"dataset": "nuisance_torus", "name": "baseline_sigreg", "seed": s, "betti": [1, 1, 0], "circular_decoding": 0.99,
               "intrinsic_dimension_mle": 2.3} for s in range(3)]
    good = runs_ + [_control(1.0, [(1, 2, 1)] * 5)]
    lines = report.q2_macros(good, report.summarize(good))
    assert "(1,2,1)$ in 5 of 5 resamples under the intrinsic metric" in _macro_text(lines, "ControlReading")
    assert "(1,9,1)$ in 5 of 5 resamples under the Euclidean" in _macro_text(lines, "ControlReading")
    verdict = _macro_text(lines, "QtwoVerdict")
    assert "passes its control" in verdict and "Toroidal $N{=}12$" in verdict and "SIGReg" not in verdict
    # decoding and dimension say torus for SIGReg, its Betti numbers do not: the paper says so
    # decoding says torus for SIGReg (R^2 0.99), its Betti numbers do not: the paper says so, and its
    # dimension (2.3) says the set is not thicker than a 2-torus
    disagree = _macro_text(lines, "QtwoDisagree")
    assert "SIGReg" in disagree and "Toroidal" not in disagree and "(2.3) is near two" in disagree
    thick = [dict(r, intrinsic_dimension_mle=4.5) if r["name"] == "baseline_sigreg" else r for r in good]
    assert "(4.5) is above three" in _macro_text(report.q2_macros(thick, report.summarize(thick)), "QtwoDisagree")
    assert "disagree" in _macro_text(lines, "QtwoAbstract")
    agree = [r for r in good if r["name"] != "baseline_sigreg"]
    assert _macro_text(report.q2_macros(agree, report.summarize(agree)), "QtwoAbstract") == ""
    bad = runs_ + [_control(0.8, [(1, 2, 1)] * 4 + [(1, 3, 1)])]
    failed = _macro_text(report.q2_macros(bad, report.summarize(bad)), "QtwoVerdict")
    assert "failed its control" in failed and "Toroidal" not in failed


def test_best_score_note_flags_a_best_torus_score_that_does_not_carry_the_angles():
    summary = {("nuisance_torus", "baseline_vicreg_random_init"): {"circ": Stat([0.13])},
               ("nuisance_torus", "baseline_vicreg"): {"circ": Stat([0.86]), "tscore": Stat([0.07])},
               ("nuisance_torus", "jepa_ema_toroidal_N12"): {"circ": Stat([0.0]), "tscore": Stat([0.3])}}
    assert "0.00, is below the untrained encoder" in report.best_score_note(summary)
    summary[("nuisance_torus", "baseline_vicreg")]["tscore"] = Stat([0.5])   # the best score now decodes
    assert report.best_score_note(summary) == ""


def test_jepa_sentence_reads_the_training_logs_when_the_rows_fall_below_the_untrained_encoder(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "RUNS", tmp_path)
    for seed, (inv, var) in enumerate([((0.2, 0.6), (0.4, 0.02)), ((0.1, 0.8), (0.5, 0.04))]):
        folder = tmp_path / "cpu" / "nuisance_torus" / "jepa_ema_vicreg" / f"seed{seed}"
        folder.mkdir(parents=True)
        lines = [{"epoch": 0, "step": 0, "invariance": inv[0], "variance": var[0]}, {"epoch": 0, "monitor_circular_r2": 0.1},
                 {"epoch": 1, "step": 0, "invariance": inv[1], "variance": var[1]}]
        (folder / runs.METRICS).write_text("".join(json.dumps(x) + "\n" for x in lines))
    summary = {("nuisance_torus", "baseline_vicreg_random_init"): {"circ": Stat([0.13])},
               ("nuisance_torus", "jepa_ema_vicreg"): {"circ": Stat([0.0, 0.01])},
               ("nuisance_torus_clean", "jepa_ema_vicreg"): {"circ": Stat([0.97, 0.99])}}
    text = _macro_text(report.jepa_macros("cpu", summary), "JepaHardWorld")
    # means over the two seeds of the first and last logged values
    assert "below the untrained encoder" in text and "$R^2\\ge0.98$" in text
    assert "falls from 0.45 to 0.03" in text and "rises from 0.15 to 0.70" in text
    assert "not measured" in text   # no nuisance probe yet
    probe = {"factors": ["polarity", "polarity_contrast", "background", "image_mean"],
             "rows": [{"name": "jepa_ema_vicreg", "seed": s, "polarity": 0.01 * s, "polarity_contrast": 0.0,
                       "background": 0.01, "image_mean": 0.2} for s in range(2)]
             + [{"name": "raw_pixels", "seed": 0, "polarity": 0.0, "polarity_contrast": 0.0, "background": 0.91, "image_mean": 1.0}]}
    (tmp_path / "cpu" / "nuisance_probe.json").write_text(json.dumps(probe))
    text = _macro_text(report.jepa_macros("cpu", summary), "JepaHardWorld")
    assert "of the polarity 0.01," in text and "raw pixels read the background at 0.91" in text and "not identified" in text
    summary[("nuisance_torus", "jepa_ema_vicreg")] = {"circ": Stat([0.5])}
    assert _macro_text(report.jepa_macros("cpu", summary), "JepaHardWorld") == "They lie above the untrained encoder."


def test_verify_sentence_comes_from_the_make_verify_record(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "RUNS", tmp_path)
    assert "has been retrained" in _macro_text(report.verify_macros("cpu", {}), "VerifySentence")
    (tmp_path / "cpu" / "verify").mkdir(parents=True)
    rec = {"profile": "cpu", "run": "fashion_mnist/baseline_vicreg/seed0", "result": "outside tolerance",
           "counts": {"identical": 200, "within": 100, "outside": 100, "missing": 0, "new": 2},
           "values": {"linear_probe": [0.8822, 0.8725], "knn_accuracy": [0.8568, 0.8548], "betti": [[1, 77, 13], [1, 83, 26]],
                      "last_logged_loss": [8.2, 8.15]}, "machine": {"platform": ["a", "b"]}}
    (tmp_path / "cpu" / "verify" / "fashion_mnist__baseline_vicreg__seed0.json").write_text(json.dumps(rec))
    summary = {("fashion_mnist", "baseline_vicreg"): {"linear": Stat([0.880, 0.883, 0.886])}}
    text = _macro_text(report.verify_macros("cpu", summary), "VerifySentence")
    assert "elsewhere (differing in platform)" in text
    assert "87.2\\,\\% against 88.2\\,\\% committed ($-1.0$ points; its seed-to-seed sd is 0.3)" in text
    assert "$(1,83,26)$ against $(1,77,13)$" in text and "200 of 400 values identical" in text
    rec.update(result="identical", machine={})
    (tmp_path / "cpu" / "verify" / "fashion_mnist__baseline_vicreg__seed0.json").write_text(json.dumps(rec))
    assert "on the same machine kind" in _macro_text(report.verify_macros("cpu", summary), "VerifySentence")


def test_validation_table_and_macros_come_from_the_benchmark_file(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "RUNS", tmp_path)
    (tmp_path / "cpu").mkdir()
    rows = [{"shape": "clifford_torus", "expected": [1, 2, 1],
             "intrinsic": {"modal": [1, 2, 1], "right": 1.0, "score": 0.7},
             "euclidean": {"modal": [1, 2, 1], "right": 0.8, "score": 0.6}},
            {"shape": "anisotropic_torus_1to4", "expected": [1, 2, 1],
             "intrinsic": {"modal": [1, 1, 0], "right": 0.0, "score": 0.0},
             "euclidean": {"modal": [1, 1, 0], "right": 0.0, "score": 0.0}}]
    (tmp_path / "cpu" / "bench_topology.json").write_text(json.dumps({"rows": rows, "cost": [{"seconds": 6.2}]}))
    table = report.validation_table("cpu")
    assert "clifford torus & (1,2,1) & (1,2,1) 1.0 & 0.70 & (1,2,1) 0.8 & 0.60" in table
    lines = report.validation_macros("cpu")
    assert _macro_text(lines, "ValidationRightIntrinsic") == "1 of 2"
    assert "anisotropic torus 1to4 (reads $(1,1,0)$)" == _macro_text(lines, "ValidationMisses")
    assert _macro_text(lines, "TopologySeconds") == "6"


def test_report_command_on_an_unwritable_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = subprocess.run([sys.executable, "-m", "jepa_torus.report", "--profile", "smoke", "--out", str(blocker / "gen")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr and str(blocker) in done.stderr
