"""The typed config: one name per quantity, merging, checking, and the committed runs' configs."""
import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from jepa_torus import config as C
from jepa_torus import plan, runs
from jepa_torus import train as T

REPO = Path(__file__).resolve().parent.parent


def test_cli_aliases_from_the_original_readme():
    args, over = T.parse_args(["--config", "configs/toroidal_N12.yaml", "--lambda-torus", "0.1", "--grid-size", "16",
                               "--seed", "123", "--output-dir", "runs/x"])
    cfg = C.resolve(args.config, "cpu", over)
    assert cfg.objective.loss == {"type": "toroidal", "grid_size": 16, "torus_weight": 0.1}
    assert cfg.run.seed == 123 and args.output_dir == "runs/x"


def test_one_name_for_the_torus_weight_from_flag_to_run_label():
    # --torus-weight, --lambda-torus and the dotted key all reach the loss's own torus_weight
    for flag in (["--torus-weight", "0.1"], ["--lambda-torus=0.1"], ["--objective.loss.torus_weight", "0.1"]):
        args, over = T.parse_args(["--config", "configs/toroidal_N12.yaml", *flag])
        cfg = C.resolve(args.config, "cpu", over)
        from jepa_torus.losses import build_loss
        assert build_loss(cfg.objective.loss).torus_weight == 0.1
    names = [r.name for r in plan.runs_for("cpu") if r.group == "torus_weight"]
    assert names and all("torus_weight" in n for n in names) and not any("lam" in n for n in names)
    assert plan.torus_weight_run(0.1) in names and plan.torus_weight_run(1.0) == "toroidal_N12"


def test_key_equals_value_and_key_space_value_are_the_same():
    _, a = T.parse_args(["--epochs=2", "--loss.num_slices=512", "--model.embed_dim", "128"])
    _, b = T.parse_args(["--epochs", "2", "--loss.num_slices", "512", "--model.embed_dim=128"])
    assert a == b == {"epochs": 2, "loss.num_slices": 512, "model.embed_dim": 128}


def test_section_may_be_dropped_only_for_a_field_of_one_section():
    assert C.full_key("lr") == "optim.lr" and C.full_key("loss.grid_size") == "objective.loss.grid_size"
    assert C.full_key("augment.crop_scale") == "data.augment.crop_scale" and C.full_key("batch-size") == "optim.batch_size"
    assert C.full_key("eval.knn_k") == "eval.knn_k"
    with pytest.raises(C.ConfigError, match=r"unknown config key 'batchsize'.*optim.batch_size"):
        C.full_key("batchsize")


def test_config_errors_name_the_key():
    with pytest.raises(C.ConfigError, match=r"unknown config key 'epoch'.*optim.epochs"):
        C.resolve(None, "cpu", {"epoch": 3})
    with pytest.raises(C.ConfigError, match=r"'optim.epochs' expects int, got 'ten'"):
        C.resolve(None, "cpu", {"epochs": "ten"})
    with pytest.raises(C.ConfigError, match=r"unknown config key 'eval.knn'.*eval.knn_k"):
        C.resolve(None, "cpu", {"eval.knn": 5})
    with pytest.raises(C.ConfigError, match="does not exist"):
        C.resolve("configs/nope.yaml", "cpu", {})
    with pytest.raises(C.ConfigError, match="valid profiles"):
        C.resolve(None, "huge", {})
    with pytest.raises(C.ConfigError, match=r"'objective.loss'.*gird_size.*valid keys"):
        C.resolve("configs/toroidal_N12.yaml", "smoke", {"loss": {"type": "toroidal", "gird_size": 12}})
    with pytest.raises(C.ConfigError, match=r"'data.dataset'.*valid names"):
        C.resolve(None, "cpu", {"dataset": "mnist"})


def test_augment_key_overrides_the_recipe_and_is_checked():
    cfg = C.resolve("configs/baseline_vicreg.yaml", "cpu", {"augment.crop_scale": [0.5, 1.0]})
    assert cfg.data.augment == {"crop_scale": [0.5, 1.0]}
    with pytest.raises(C.ConfigError, match=r"'data.augment'.*flip_prob"):
        C.resolve("configs/baseline_vicreg.yaml", "cpu", {"augment.flip_prob": 0.0})


def test_layers_merge_in_order_and_mappings_are_replaced_not_merged():
    # profiles.yaml cpu/all sets encoder widths and blocks; cpu/fashion_mnist replaces the whole
    # mapping (blocks back to the encoder's default), as the committed runs were trained.
    cfg = C.resolve("configs/baseline_vicreg.yaml", "cpu", {})
    assert cfg.model.encoder_kwargs == {"widths": [32, 64, 128, 256]} and cfg.optim.lr == 0.008
    torus = C.resolve("configs/baseline_vicreg.yaml", "cpu", {"dataset": "torus_world"})
    assert torus.model.encoder_kwargs == {"widths": [32, 64, 128], "blocks": 1} and torus.optim.lr == 2e-3
    # the loss section merges key by key unless the type changes
    cfg = C.resolve("configs/toroidal_N12.yaml", "cpu", {"loss.grid_size": 8})
    assert cfg.objective.loss == {"type": "toroidal", "grid_size": 8, "torus_weight": 1.0}
    assert C.resolve("configs/toroidal_N12.yaml", "cpu", {"loss": {"type": "vicreg"}}).objective.loss == {"type": "vicreg"}
    # an int where a float is expected is taken as that float (the on-disk config stays stable)
    assert C.resolve(None, "cpu", {"lr": 1}).optim.lr == 1.0 and isinstance(C.resolve(None, "cpu", {"lr": 1}).optim.lr, float)


def test_to_dict_round_trips_and_from_dict_checks():
    cfg = C.resolve("configs/hamjepa.yaml", "smoke", {})
    assert C.Config.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict()))) == cfg
    bad = cfg.to_dict()
    bad["optim"]["lr"] = "fast"
    with pytest.raises(C.ConfigError, match=r"'optim.lr' expects float"):
        C.Config.from_dict(bad)


def test_every_field_has_a_commented_default():
    # nanoGPT's habit: each default says what it is; the source line of every field has a comment
    # unless the field's name says it all (a short list).
    source = (REPO / "jepa_torus" / "config.py").read_text().splitlines()
    obvious = {"epochs", "weight_decay", "knn_k", "seed", "data", "model", "objective", "optim", "eval", "run"}
    for section in [C.Config, C.DataConfig, C.ModelConfig, C.ObjectiveConfig, C.OptimConfig, C.EvalConfig, C.RunConfig]:
        for f in dataclasses.fields(section):
            line = next(x for x in source if x.strip().startswith(f"{f.name}:"))
            assert "#" in line or f.name in obvious, f"{section.__name__}.{f.name} has no comment"


def test_profile_names_are_listed_once_and_agree():
    profiles = yaml.safe_load(C.PROFILES_FILE.read_text())
    assert tuple(profiles) == C.PROFILE_NAMES == tuple(plan.PROFILES)


def test_committed_runs_match_their_resolved_config():
    # train() refuses a folder whose config.yaml differs (operational keys aside); every
    # committed cpu run must therefore read as its plan entry resolves today, or `make paper`
    # on a clone would stop with errors instead of reusing the results.  Keys added after a
    # run was made (run.amp, run.compile) are absent from its file: they must be at their
    # defaults in the resolved config, which is what config.changed_keys accepts.
    checked = 0
    default = C.flat(C.Config().to_dict())
    for r in plan.runs_for("cpu"):
        if not (r.dir("cpu") / runs.CONFIG).exists():
            continue
        cfg = C.resolve(f"configs/{r.config}.yaml", "cpu", r.override_dict())
        committed, resolved = C.flat(runs.read_config(r.dir("cpu"))), C.flat(cfg.to_dict())
        added = {k for k in resolved if k not in committed}
        assert all(resolved[k] == default[k] for k in added), (r.id, added)
        assert committed == {k: v for k, v in resolved.items() if k not in added}, r.id
        assert not C.changed_keys(runs.read_config(r.dir("cpu")), cfg.to_dict()), r.id
        assert runs.read_final(r.dir("cpu"))["config"] == r.name
        checked += 1
    if checked == 0:  # a profile made from scratch, before its first run landed
        pytest.skip("no committed run of the cpu profile yet")


@pytest.mark.slow
def test_make_dry_run_on_a_clone_plans_exactly_the_unfinished_runs(tmp_path):
    # A fresh clone has every committed final.json newer than the configs it depends on (git
    # writes files in path order: configs/ before runs/), so make must plan no finished run,
    # and every run of the plan that has no final.json (a profile still being made).
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)], check=True)
    # uncommitted changes too (a run of the test before a commit): copied with their times
    status = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    for line in status.splitlines():
        path = line[3:].split(" -> ")[-1]
        src, dst = REPO / path, clone / path
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        elif src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        elif dst.is_dir():
            shutil.rmtree(dst)
        else:
            dst.unlink(missing_ok=True)
    # make -n reads the plan printed afresh by the venv's python and installs nothing, even with
    # the shared venv's stamp older than the fresh pyproject.toml (tests/test_bad_input.py)
    stamp = REPO / ".venv" / ".installed"
    before = stamp.stat().st_mtime_ns if stamp.exists() else None
    env = {**os.environ, "MAKEFLAGS": ""}
    out = subprocess.run(["make", "-n", "runs", "PROFILE=cpu", f"VENV={REPO / '.venv'}"], cwd=clone,
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "not listed" not in out.stdout, out.stdout
    planned = set(re.findall(r"jepa_torus\.plan run --profile cpu --run (\S+)", out.stdout))
    todo = {r.id for r in plan.runs_for("cpu") if not (clone / "runs" / "cpu" / r.id / runs.FINAL).exists()}
    assert planned == todo
    assert (stamp.stat().st_mtime_ns if stamp.exists() else None) == before
    assert not (clone / "runs" / "cpu" / "plan.mk").exists()  # the dry run generated nothing


def test_loss_keys_keep_their_type_and_floats_may_be_written_without_a_dot():
    with pytest.raises(C.ConfigError, match=r"'grid_size' of the loss expects int, got 12.5"):
        C.resolve("configs/toroidal_N12.yaml", "cpu", {"loss.grid_size": 12.5})
    assert C.resolve("configs/toroidal_N12.yaml", "cpu", {"torus_weight": 1}).objective.loss["torus_weight"] == 1.0
    _, over = T.parse_args(["--lr=4e-3"])  # YAML 1.1 reads 4e-3 as a string
    assert C.resolve(None, "cpu", over).optim.lr == 0.004


def test_a_flat_config_of_the_old_layout_is_named_not_misread():
    old = {"dataset": "torus_world", "epochs": 2, "loss": {"type": "vicreg"}, "model": {}, "eval": {}}
    with pytest.raises(C.ConfigError, match=r"not sections.*flat layout.*migrate_run_configs"):
        C.Config.from_dict(old)
