"""analysis.outcomes: the one path from a run to per-seed outcomes (which points, evaluations and
seeds count)."""

import numpy as np
import pytest

from emergence_jax.analysis.emergence import emergence_times
from emergence_jax.analysis.outcomes import seed_data
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.errors import DataError


class FakeRun:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.metric_names = ["id/loss", "ood/exact_match"]
        self.eval_steps = [100, 200, 300]
        self.seeds = [10, 11, 12, 13]
        self.scale_points = [{"width": w, "params": 1e5 * w, "non_embedding_params": 9e4 * w,
                              "tokens": 1e7, "flops": 6e12 * w} for w in (1, 2, 4)]
        self.scale_variable = "params"
        self.eval_examples = 50
        m = rng.integers(0, 51, size=(3, 4, 3, 2)) / 50.0
        m[1, 2, 2, 1] = np.nan          # a NaN metric (diverged without the flag)
        self.metrics = m
        self.diverged = np.zeros((3, 4), bool)
        self.diverged[0, 0] = True
        self.completed = np.array([True, True, False])
        self.config = {}


def test_seed_data_final_step_completed_points_and_divergence(capsys):
    run = FakeRun()
    d = seed_data(run, "ood/exact_match")
    assert d.excluded == 2
    assert len(d) == 8 - 2                     # two completed points x 4 seeds, minus 2 excluded
    np.testing.assert_array_equal(d.scales, [1e5, 2e5])
    assert "excluded 2" in capsys.readouterr().out
    expected = run.metrics[0, 1:, 2, 1]
    np.testing.assert_allclose(d.value[d.scale == 1e5], expected)
    np.testing.assert_array_equal(d.n_eval, 50)
    d2 = seed_data(run, "ood/exact_match", "flops", eval_step=100, verbose=False)
    np.testing.assert_array_equal(d2.scales, [6e12, 1.2e13])
    with pytest.raises(DataError, match="not in this run"):
        seed_data(run, "nope")


def test_seed_data_points_with_different_numbers_of_evals():
    """A sweep over train.steps: point 0 has 2 evals, point 1 has 3 (entries past a point's end are
    NaN). Every seed of the shorter point is kept, read at its own last eval."""
    run = FakeRun()
    run.num_evals = [2, 3, 3]
    run.metrics[0, :, 2, :] = np.nan
    run.metrics[1, 2, 2, 1] = 0.4
    d = seed_data(run, "ood/exact_match", verbose=False)
    assert d.excluded == 1                     # only the flagged diverged seed
    assert len(d) == 8 - 1
    np.testing.assert_allclose(d.value[d.scale == 1e5], run.metrics[0, 1:, 1, 1])
    np.testing.assert_allclose(d.value[d.scale == 2e5], run.metrics[1, :, 2, 1])
    d100 = seed_data(run, "ood/exact_match", eval_step=200, verbose=False)
    np.testing.assert_allclose(d100.value[d100.scale == 1e5], run.metrics[0, 1:, 1, 1])
    with pytest.raises(DataError, match="scale point 0"):
        seed_data(run, "ood/exact_match", eval_step=300, verbose=False)
    t = emergence_times(run, SuccessCriterion("ood/exact_match", 0.5))
    size, time, event = t.scale, t.time, t.event
    assert (size == 1e5).sum() == 3 and (size == 2e5).sum() == 4
    assert t.excluded == 1
    assert time[size == 1e5].max() <= 200      # censored at the point's own last eval
    assert np.all(time[(size == 1e5) & ~event] == 200)
    np.testing.assert_array_equal(t.budget[size == 1e5], 200)
    np.testing.assert_array_equal(t.budget[size == 2e5], 300)
