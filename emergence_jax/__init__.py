"""emergence_jax: populations of small transformers across seeds and scales, and fits of how the
distribution of their outcomes changes with scale.

The package has four layers; each imports only the ones before it (checked by import-linter):

    core       configs, the transformer, population training, tasks, probes, device meshes
    io         locations, the run store, checkpoints, fit storage, seed tables
    analysis   outcomes of a run, the success criterion, statistics and fits
    app        sweeps, the sweep → fit → report study, reports, the command line

Public entry points (imported lazily, so ``import emergence_jax`` is cheap):
    ExperimentConfig, load_experiment, apply_overrides   configs
    Population                                           population training
    load_run                                             read a run store
    SeedData, fit, load_fit, SuccessCriterion            statistics
    run_sweep, run_study, write_report                   the jobs behind the command line
    enable_compilation_cache                             compiled programs kept on disk
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "ExperimentConfig": "emergence_jax.core.config",
    "load_experiment": "emergence_jax.core.config",
    "apply_overrides": "emergence_jax.core.config",
    "Population": "emergence_jax.core.population",
    "load_run": "emergence_jax.io.run_store",
    "SeedData": "emergence_jax.analysis",
    "SuccessCriterion": "emergence_jax.analysis",
    "fit": "emergence_jax.analysis",
    "load_fit": "emergence_jax.analysis",
    "run_sweep": "emergence_jax.app.sweep",
    "run_study": "emergence_jax.app.study",
    "write_report": "emergence_jax.app.report",
    "enable_compilation_cache": "emergence_jax.core.compilation_cache",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emergence_jax' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
