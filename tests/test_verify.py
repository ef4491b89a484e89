"""verify.py: the key-by-key comparison of a retrain with a committed run (on synthetic
results), and `python -m jepa_torus.verify` retraining a tiny run identically."""
import copy
import json
from pathlib import Path


from jepa_torus import verify as V
from jepa_torus.config import resolve

REPO = Path(__file__).resolve().parent.parent

FINAL = {"config": "baseline_vicreg", "dataset": "fashion_mnist", "seed": 0, "n_test": 10000,
         "linear_probe": 0.8839, "knn_accuracy": 0.8557, "effective_rank": 114.39, "torus_score": 0.0,
         "betti": [1, 0, 0], "topology": {"modal": [1, 0, 0], "thresholds": [6.357, 2.878, 2.397], "seconds": 11.06},
         "label_free_angles": {"valid_chart": True, "correlation": [0.91, 0.87]},
         "seconds": {"linear_probe": 11.865}, "train_seconds_logged": 592.1, "reanalysed": "geometry re-run"}
LOG = [{"epoch": 0, "step": 24, "global_step": 25, "lr": 0.00085, "images_per_s": 355.3, "loss": 17.2578,
        "invariance": 0.0705},
       {"epoch": 0, "global_step": 25, "epoch_end": True, "seconds": 139.6, "mean_loss": 17.9, "monitor_knn": 0.61}]


def _statuses(rows) -> dict:
    return {r.key: r.status for r in rows if r.status != "identical"}


def test_identical_results_compare_identical_and_timing_is_not_compared():
    other = copy.deepcopy(FINAL)
    other["seconds"]["linear_probe"] = 3.0                   # timing and provenance differ on any rerun
    other["topology"]["seconds"] = 1.0
    other["train_seconds_logged"] = 10.0
    del other["reanalysed"]
    rows = V.compare_values(FINAL, other)
    assert V.outcome(rows) == "identical" and _statuses(rows) == {}
    assert {"linear_probe", "betti[2]", "topology.thresholds[1]", "label_free_angles.valid_chart"} <= {r.key for r in rows}
    assert not any("seconds" in r.key or r.key == "reanalysed" for r in rows)
    log = copy.deepcopy(LOG)
    log[0]["images_per_s"], log[1]["seconds"] = 999.0, 1.0
    assert V.outcome(V.compare_logs(LOG, log)) == "identical"


def test_small_differences_are_within_their_tolerances():
    other = copy.deepcopy(FINAL)
    other["linear_probe"] += 0.004                            # 0.4 points < 0.5
    other["effective_rank"] *= 1.005                          # 0.5 % < 1 %
    other["torus_score"] = 0.0005                             # near zero: absolute 1e-3
    other["topology"]["thresholds"][0] *= 0.995
    rows = V.compare_values(FINAL, other)
    assert _statuses(rows) == {"linear_probe": "within", "effective_rank": "within", "torus_score": "within",
                               "topology.thresholds[0]": "within"}
    assert V.outcome(rows) == "within tolerance"
    log = copy.deepcopy(LOG)
    log[0]["loss"] = 17.2585                                  # the cross-build difference seen on a retrain
    log[1]["monitor_knn"] = 0.614
    rows = V.compare_logs(LOG, log)
    assert _statuses(rows) == {"metrics.jsonl step 25: loss": "within", "metrics.jsonl epoch 0 end: monitor_knn": "within"}
    text = V.table(rows)
    assert "17.2578" in text and "17.2585" in text and "+0.0007" in text and "(0.001 of loss)" in text
    # a loss part is held to 0.1 % of the line's total loss (17.26 -> 0.0173), not of itself
    log = copy.deepcopy(LOG)
    log[0]["invariance"] += 0.01
    assert _statuses(V.compare_logs(LOG, log)) == {"metrics.jsonl step 25: invariance": "within"}
    log[0]["invariance"] += 0.01
    assert _statuses(V.compare_logs(LOG, log)) == {"metrics.jsonl step 25: invariance": "outside"}
    log = copy.deepcopy(LOG)
    log[0]["lr"] *= 1 + 1e-12                                 # the schedule is not a loss: float64 rounding only
    assert _statuses(V.compare_logs(LOG, log)) == {"metrics.jsonl step 25: lr": "within"}
    log[0]["lr"] *= 1.0001
    assert _statuses(V.compare_logs(LOG, log)) == {"metrics.jsonl step 25: lr": "outside"}


def test_larger_differences_and_changed_structure_are_outside():
    other = copy.deepcopy(FINAL)
    other["knn_accuracy"] -= 0.006                            # 0.6 points
    other["betti"][1] = 1                                     # integers must be identical
    other["label_free_angles"]["valid_chart"] = False
    other["effective_rank"] *= 1.02
    del other["topology"]["thresholds"][2]
    other["new_metric"] = 1.0
    rows = V.compare_values(FINAL, other)
    assert _statuses(rows) == {"knn_accuracy": "outside", "betti[1]": "outside", "label_free_angles.valid_chart": "outside",
                               "effective_rank": "outside", "topology.thresholds[2]": "missing", "new_metric": "new"}
    assert V.outcome(rows) == "outside tolerance"
    # a value only the retrain has (the code writes it since the run was committed) is shown, not a failure
    rows = V.compare_values(FINAL, {**FINAL, "new_metric": 1.0})
    assert _statuses(rows) == {"new_metric": "new"} and V.outcome(rows) == "identical"
    assert "1 new in the retrain (not compared)" in V.table(rows)
    log = copy.deepcopy(LOG)
    log[0]["loss"] *= 1.002                                   # 0.2 % > 0.1 %
    assert _statuses(V.compare_logs(LOG, log)) == {"metrics.jsonl step 25: loss": "outside"}
    assert V.outcome(V.compare_logs(LOG, LOG[:1])) == "outside tolerance"     # a line missing


def test_cli_refuses_missing_runs_and_writing_into_runs(tmp_path, capsys):
    assert V.main(["--profile", "smoke", "--run", "torus_world/none/seed0", "--runs-dir", str(tmp_path)]) == 2
    assert "holds no finished run" in capsys.readouterr().err
    run = tmp_path / "smoke" / "torus_world" / "x" / "seed0"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("{}")
    (run / "final.json").write_text("{}")
    assert V.main(["--profile", "smoke", "--run", "torus_world/x/seed0", "--runs-dir", str(tmp_path),
                   "--keep", str(tmp_path / "smoke" / "again")]) == 2
    assert "never writes into runs/" in capsys.readouterr().err


TINY = {"dataset": "torus_world", "train_subset": 256, "batch_size": 32, "epochs": 1, "threads": 1, "log_every": 2,
        "eval": {"probe_train": 256, "probe_test": 128, "topology_points": 100, "landmarks": 50, "analysis": False}}


def test_retraining_a_tiny_run_gives_identical_results(tmp_path, capsys):
    from jepa_torus.train import train

    committed = tmp_path / "runs" / "smoke" / "torus_world" / "baseline_vicreg" / "seed0"
    train(resolve(REPO / "configs" / "baseline_vicreg.yaml", "smoke", TINY), committed)
    kept = tmp_path / "kept"
    rc = V.main(["--profile", "smoke", "--run", "torus_world/baseline_vicreg/seed0", "--runs-dir",
                 str(tmp_path / "runs"), "--keep", str(kept), "--exact", "--record", str(tmp_path / "rec.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "result: identical" in out and "same kind" in out
    rec = json.loads((tmp_path / "rec.json").read_text())   # what the paper's reproducibility note reads
    final = json.loads((committed / "final.json").read_text())
    assert rec["result"] == "identical" and rec["machine"] == {} and rec["counts"]["outside"] == 0
    assert rec["values"]["linear_probe"] == [final["linear_probe"]] * 2
    assert rec["values"].get("betti") == ([final["betti"]] * 2 if "betti" in final else None)   # this tiny run has no topology
    rows = V.compare_runs(committed, kept)
    assert V.outcome(rows) == "identical"
    keys = {r.key for r in rows}
    assert {"linear_probe", "knn_accuracy", "metrics.jsonl step 8: loss", "metrics.jsonl epoch 0 end: mean_loss"} <= keys
    assert json.loads((kept / "final.json").read_text())["linear_probe"] == \
        json.loads((committed / "final.json").read_text())["linear_probe"]
    # a changed committed value is found and fails the check
    final = json.loads((committed / "final.json").read_text())
    final["linear_probe"] += 0.01
    (committed / "final.json").write_text(json.dumps(final))
    rows = V.compare_runs(committed, kept)
    assert V.outcome(rows) == "outside tolerance" and _statuses(rows) == {"linear_probe": "outside"}
