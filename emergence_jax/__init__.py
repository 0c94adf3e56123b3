"""emergence_jax: populations of small transformers across seeds and scales, and fits of how the
distribution of their outcomes changes with scale.

Public entry points (imported lazily, so ``import emergence_jax`` is cheap):
    ExperimentConfig, load_experiment, apply_overrides   configs
    Population                                           population training
    load_run                                             read a run store
    load_fit                                             read a fitted distribution
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "ExperimentConfig": "emergence_jax.config",
    "load_experiment": "emergence_jax.config",
    "apply_overrides": "emergence_jax.config",
    "Population": "emergence_jax.population",
    "load_run": "emergence_jax.store",
    "load_fit": "emergence_jax.stats",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emergence_jax' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
