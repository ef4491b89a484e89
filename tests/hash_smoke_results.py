"""One-off check for the redesign (issue 11): fingerprints of every smoke-profile result.

    python tests/hash_smoke_results.py [--root runs/smoke] > before.txt
    ... refactor, make clean-all PROFILE=smoke && make paper PROFILE=smoke ...
    python tests/hash_smoke_results.py > after.txt && diff before.txt after.txt

Per run: sha256 of final.json without its timing fields, of metrics.jsonl without the
wall-clock fields (loss parts and lr per logged step stay), and of features.npz's arrays.
Not a permanent test: later issues add fields and move numbers on purpose.
``--rename-lam`` reads runs made before the torus-weight runs were renamed (``_lam0.1`` ->
``_torus_weight0.1``, in the folder and in final.json's "config"), so the two lists line up.
"""
import argparse
import hashlib
import json
import re
from pathlib import Path

import numpy as np

TIMING = {"seconds", "train_seconds_logged", "images_per_s"}


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _renamed(name: str) -> str:
    return re.sub(r"_lam([0-9.e+-]+)", r"_torus_weight\1", name)


def fingerprint(run: Path, rename: bool = False) -> str:
    rec = _strip(json.loads((run / "final.json").read_text()))
    if rename:
        rec["config"] = _renamed(rec["config"])
    final = _sha(json.dumps(rec, sort_keys=True))
    log = run / "metrics.jsonl"
    lines = [json.dumps(_strip(json.loads(x)), sort_keys=True) for x in log.read_text().splitlines() if x.strip()] \
        if log.exists() else []
    feats = run / "features.npz"
    arrays = ""
    if feats.exists():
        with np.load(feats) as z:
            arrays = _sha("".join(hashlib.sha256(z[k].tobytes()).hexdigest() for k in sorted(z.files)))
    return f"final={final} log={_sha(chr(10).join(lines))} features={arrays}"


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="runs/smoke")
    p.add_argument("--rename-lam", action="store_true")
    a = p.parse_args()
    root = Path(a.root)
    lines = []
    for final in root.rglob("final.json"):
        name = str(final.parent.relative_to(root))
        lines.append(f"{_renamed(name) if a.rename_lam else name} {fingerprint(final.parent, a.rename_lam)}")
    print("\n".join(sorted(lines)))
