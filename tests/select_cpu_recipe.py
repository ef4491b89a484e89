"""Score candidate Fashion-MNIST recipes on a validation split of the TRAINING set.

How the cpu profile's Fashion-MNIST recipe (configs/profiles.yaml) was chosen, without the
test set: the probe bank is the runs' own 10k training images (the same seeded permutation
as jepa_torus.eval.evaluate_run), the validation images are the next 10k training images.

    # one candidate (the 2026-12-01 ones: crop areas 0.3 / 0.5 / 0.8 / 1, lr 2e-3 / 4e-3 / 8e-3,
    # jitter 0.4 / 0.2, 3 or 4 epochs, two or three runs side by side, one thread each)
    .venv/bin/python -m jepa_torus.train --config configs/baseline_vicreg.yaml --profile cpu \\
        --output-dir /tmp/explore/c08lr8 --augment.crop_scale "[0.8, 1.0]" --lr 0.008 --epochs 3 \\
        --eval.analysis false
    # then
    OMP_NUM_THREADS=1 .venv/bin/python tests/select_cpu_recipe.py /tmp/explore/*/ --raw-pixels

prints one JSON line per run: validation linear-probe and kNN@20 accuracy.
"""
import argparse
import json
from pathlib import Path

import torch

from jepa_torus import metrics
from jepa_torus import models as M
from jepa_torus.config import resolve
from jepa_torus.data import load_split, normalize
from jepa_torus.eval import extract_features
from jepa_torus.files import load_checkpoint


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", help="run folders holding last.pt")
    p.add_argument("--raw-pixels", action="store_true", help="also score the raw-pixel baseline")
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = resolve("configs/raw_pixels.yaml", "cpu", {})
    train = load_split(cfg.data, "train")
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))  # as evaluate_run
    n = cfg.eval.probe_train
    bank, val = perm[:n], perm[n:2 * n]
    y_bank, y_val = train.labels[bank].numpy(), train.labels[val].numpy()

    def score(name, f_bank, f_val):
        print(json.dumps({"run": name, "val_linear": metrics.linear_probe(f_bank, y_bank, f_val, y_val),
                          "val_knn": metrics.knn_accuracy(f_bank, y_bank, f_val, y_val)}), flush=True)

    if args.raw_pixels:
        pixels = lambda i: normalize(train.images[i], train.info.mean, train.info.std).flatten(1).numpy()  # noqa: E731
        score("raw_pixels", pixels(bank), pixels(val))
    for run in args.runs:
        state = load_checkpoint(Path(run) / "last.pt")
        model = M.build_model(state["config"]["model"])
        model.load_state_dict(state["model"])
        feats = lambda i: extract_features(model, train.images[i], train.info)  # noqa: E731
        score(Path(run).name, feats(bank), feats(val))


if __name__ == "__main__":
    main()
