"""Every experiment file in experiments/ loads, validates, and trains a tiny version of its base
scale point; its task's success metric (the default metric of fits) is among the recorded ones."""

from pathlib import Path

import numpy as np
import pytest

from emergence_jax.core.config import ConfigError, get_field, load_experiment
from emergence_jax.core.population import Population

EXPERIMENTS = sorted(p for p in (Path(__file__).resolve().parents[1] / "experiments").glob("*.py")
                     if not p.stem.endswith("_notebook"))
TINY = ["model.depth=1", "model.width=16", "model.heads=2", "train.steps=2", "train.eval_every=2",
        "train.batch_size=4", "population.num_seeds=1", "task.eval_examples=8", "sweep.axes={}",
        "sweep.scale_variable=params"]


def test_every_experiment_is_covered():
    assert {p.stem for p in EXPERIMENTS} >= {"quickstart", "count", "addition", "induction", "ioi",
                                              "linear_map", "skills"}


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_trains_a_tiny_version(path):
    cfg = load_experiment(path)
    assert path.read_text().lstrip().startswith('"""'), "docstring says how to run it"
    overrides = list(TINY)
    try:
        get_field(cfg, "task.probe_examples")
        overrides.append("task.probe_examples=4")
    except ConfigError:
        pass
    pop = Population(load_experiment(path, overrides))
    _, metrics = pop.train()
    metric = cfg.analysis.metric or pop.task.success_metric
    assert metric in metrics
    assert not cfg.analysis.loss_metric or cfg.analysis.loss_metric in metrics
    assert all(np.isfinite(v).all() for v in metrics.values())
