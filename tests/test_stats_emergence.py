"""analysis.emergence: emergence steps from learning curves, EmergenceTimes, Kaplan–Meier."""

import numpy as np
import pytest

from emergence_jax.analysis.emergence import (EmergenceTimes, emergence_steps, emergence_times,
                                              kaplan_meier)
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.errors import DataError


def test_emergence_step_crosses_and_stays():
    steps = [100, 200, 300, 400, 500]
    curves = np.array([[0.0, 0.5, 0.1, 0.6, 0.9],    # crosses at 200, dips, stays from 400
                       [0.0, 0.0, 0.0, 0.0, 0.1],    # never: censored
                       [0.6, 0.7, 0.8, 0.9, 0.9],    # from the start
                       [0.0, 0.0, 0.0, 0.0, 0.7]])   # at the last eval
    t, e = emergence_steps(curves, steps, 0.5)
    np.testing.assert_array_equal(t, [400, 500, 100, 500])
    np.testing.assert_array_equal(e, [True, False, True, True])
    t2, _ = emergence_steps(curves, steps, 0.5, budget=1000)
    assert t2[1] == 1000
    # A lower-is-better metric: emerged when the loss stays below the threshold.
    t3, e3 = emergence_steps(1 - curves, steps, SuccessCriterion("loss", 0.45, "below"))
    np.testing.assert_array_equal(t3, t)
    np.testing.assert_array_equal(e3, e)


def test_kaplan_meier_by_hand():
    km = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
    np.testing.assert_array_equal(km["time"], [1, 2, 3])
    np.testing.assert_allclose(km["survival"], [0.8, 0.8 * 3 / 4, 0.8 * 3 / 4 * 1 / 2])
    assert km["median"] == 3
    assert np.all(km["lower"] <= km["survival"]) and np.all(km["survival"] <= km["upper"])


class CurveRun:
    """Two scale points (the second trains longer), one diverged seed, a swept coordinate."""

    def __init__(self):
        self.metric_names = ["test/acc"]
        self.eval_steps = [10, 20, 30, 40]
        self.num_evals = [3, 4]
        self.seeds = [0, 1, 2]
        self.scale_points = [{"task.ones_per_row": 1, "params": 5e3},
                             {"task.ones_per_row": 3, "params": 5e3}]
        self.scale_variable = "params"
        m = np.full((2, 3, 4, 1), np.nan)
        m[0, :, :3, 0] = [[0.1, 0.9, 0.9], [0.1, 0.2, 0.3], [0.9, 0.9, 0.9]]
        m[1, :, :, 0] = [[0.1, 0.1, 0.1, 0.8], [0.1, 0.9, 0.1, 0.9], [0.5, 0.5, 0.5, 0.5]]
        self.metrics = m
        self.diverged = np.array([[False] * 3, [False, False, True]])
        self.completed = np.array([True, True])


def test_emergence_times_from_run_interval_ends_and_budget():
    t = emergence_times(CurveRun(), SuccessCriterion("test/acc", 0.5), "task.ones_per_row")
    assert t.excluded == 1 and len(t) == 5
    np.testing.assert_array_equal(t.scale, [1, 1, 1, 3, 3])
    np.testing.assert_array_equal(t.time, [20, 30, 10, 40, 40])
    np.testing.assert_array_equal(t.lower, [10, 30, 0, 30, 30])   # (lower, time]; 0 before eval 1
    np.testing.assert_array_equal(t.event, [True, False, True, True, True])
    np.testing.assert_array_equal(t.budget, [30, 30, 30, 40, 40])
    assert t.criterion == "test/acc > 0.5" and t.scale_variable == "task.ones_per_row"
    assert t.digest() == emergence_times(CurveRun(), SuccessCriterion("test/acc", 0.5),
                                         "task.ones_per_row").digest()
    assert t.digest() != emergence_times(CurveRun(), SuccessCriterion("test/acc", 0.4),
                                         "task.ones_per_row").digest()
    with pytest.raises(DataError, match="scale variable 'model.width' not found"):
        emergence_times(CurveRun(), SuccessCriterion("test/acc", 0.5), "model.width")


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale=[1, -1], time=[5, 5], event=[1, 1]), r"scale\[1\] = -1.0"),
    (dict(scale=[1, 1], time=[5, 0], event=[1, 1]), r"time\[1\]"),
    (dict(scale=[1, 1], time=[5, 5], event=[1, 1], lower=[0, 5]), r"lower\[1\].*below time"),
    (dict(scale=[1, 1], time=[5, 5], event=[1, 2]), "event must be true/false"),
    (dict(scale=[1, 1], time=[5, 4], event=[0, 1], budget=[6, 6]), r"budget\[0\]"),
    (dict(scale=[1], time=[5, 5], event=[1, 1]), "scale has 1 entries, time has 2"),
])
def test_emergence_times_rejects_bad_input(kwargs, message):
    with pytest.raises(DataError, match=message):
        EmergenceTimes.from_arrays(**kwargs)
