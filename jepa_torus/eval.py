"""Evaluate a checkpoint: linear probe and kNN, and with --analysis the geometry
(effective rank, Betti numbers, intrinsic dimension, spectral gap ratio, torus score).

    python -m jepa_torus.eval --checkpoint runs/x/last.pt --linear-probe --analysis [--out eval.json]

The checkpoint carries its resolved config, so nothing else is needed.  The result is
written atomically as JSON (default: eval.json beside the checkpoint) and printed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import models as M
from .train import atomic_write_json, evaluate_run, load_checkpoint, pick_device


def evaluate_checkpoint(path, analysis: bool = True, device: str = "auto") -> dict:
    dev = pick_device(device)
    state = load_checkpoint(path, dev)
    cfg = state["config"]
    model = M.build_model(cfg["model"]).to(dev)
    model.load_state_dict(state["model"])
    cfg = {**cfg, "eval": {**cfg["eval"], "analysis": analysis}}
    result = evaluate_run(model, cfg, dev)
    result["checkpoint"] = str(path)
    result["epoch"] = state["epoch"]
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jepa_torus.eval", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--linear-probe", action="store_true", help="linear probe and kNN@k (always computed)")
    p.add_argument("--analysis", action="store_true", help="also topology, intrinsic dimension, spectra")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", help="JSON file to write (default: eval.json beside the checkpoint)")
    args = p.parse_args(argv)
    try:
        result = evaluate_checkpoint(args.checkpoint, analysis=args.analysis, device=args.device)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out or Path(args.checkpoint).with_name("eval.json"))
    atomic_write_json(out, result)
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, (dict, list))}, indent=1))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
