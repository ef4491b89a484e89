"""jepa_torus: toroidal geometry in joint-embedding predictive architectures.

    import jepa_torus as jt
    loss = jt.ToroidalCovarianceLoss(grid_size=12)            # jepa_torus.losses
    cfg = jt.resolve("toroidal_N12", profile="smoke")         # a shipped config, by name
    from jepa_torus.train import train; train(cfg, output_dir="runs/mine")
    jt.knn_accuracy(train_z, train_y, test_z, test_y)         # jepa_torus.metrics
    model, cfg = jt.load_run("runs/cpu/fashion_mnist/baseline_vicreg/seed0")   # a committed paper run

The public losses, metrics, models and the config entry points are re-exported
here; they are imported on first use (PEP 562), so ``import jepa_torus`` stays cheap (the
metrics pull in ripser, scikit-learn and scikit-dimension).
"""
from __future__ import annotations

import importlib

__version__ = "0.2.0"   # pyproject.toml [project] version (tests/test_library.py checks they agree)

_FROM = {
    "losses": ("JEPALoss", "VICRegLoss", "SIGRegLoss", "HybridVICRegSIGRegLoss", "ToroidalCovarianceLoss",
               "TorusHeadLoss", "epps_pulley", "build_loss", "LOSSES"),
    "metrics": ("linear_probe", "knn_accuracy", "effective_rank", "persistence", "Persistence", "betti_numbers",
                "topology", "Topology", "torus_score", "torus_margin", "intrinsic_dimension", "spectral_gap_ratio",
                "circular_decoding", "clifford_torus", "extract_features", "evaluate"),
    "models": ("JEPA", "build_model", "build_encoder", "HamiltonianPredictor", "TorusProjectionHead"),
    "objective": ("Objective",),
    "config": ("Config", "ConfigError", "resolve"),
    "runs": ("load_run",),
}   # not train(): the name is its module's (jepa_torus.train), which an import of it would rebind
_WHERE = {name: module for module, names in _FROM.items() for name in names}
__all__ = ["__version__", *_WHERE]


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'jepa_torus' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value   # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
