import numpy as np
import pytest

from emergence_jax.analysis.loss import (binned_means, fit_loss_threshold, group_thresholds,
                                         loss_curve, loss_points, threshold_curve)
from emergence_jax.core.errors import DataError


def test_threshold_curve_shape():
    L = np.array([3.0, 2.5, 2.2, 2.0, 1.8])
    p = threshold_curve(L, r=0.25, eta=2.2, kappa=2.0, gamma=1.0)
    np.testing.assert_allclose(p[:3], 0.25)
    assert np.all(np.diff(p[2:]) > 0)


@pytest.mark.slow
def test_threshold_model_preferred_on_threshold_data():
    rng = np.random.default_rng(0)
    L = np.linspace(1.6, 3.2, 40)
    p = threshold_curve(L, r=0.25, eta=2.3, kappa=3.0, gamma=1.0)
    k = rng.binomial(400, p)
    res = fit_loss_threshold(L, k, 400, chance=0.25)
    s = res["threshold"]["summary"]["eta"]
    assert s["lower"] < 2.3 < s["upper"]
    assert res["threshold_preferred"]


def _groups(shift: float, seed: int):
    """Three groups of 40 points on the same loss grid; group g's threshold is 2.0 + shift·g."""
    rng = np.random.default_rng(seed)
    L = np.tile(np.linspace(1.5, 3.0, 40), 3)
    g = np.repeat([0, 1, 2], 40)
    return L, rng.binomial(100, threshold_curve(L, 0.1, 2.0 + shift * g, 3.0, 1.0)), g


def test_offsets_find_a_real_shift_and_none_where_the_threshold_is_shared():
    """Both data sets have the same shapes: the second fit re-uses the compiled samplers."""
    L, k, g = _groups(0.3, seed=0)
    res = fit_loss_threshold(L, k, 100, group=g, chains=2, warmup=300, samples=300)
    assert res["groups"] == [0, 1, 2] and res["size_matters"]
    assert res["size_verdict"] == "size matters: per-size thresholds preferred"
    s = res["offsets"]["summary"]
    for group, truth in ((1, 0.3), (2, 0.6)):     # within the loss grid's spacing (0.04)
        assert abs(s[f"delta[{group}]"]["mean"] - truth) < 0.05
    assert abs(group_thresholds(res)["2"]["mean"] - 2.6) < 0.05
    assert res["size_delta_elpd"] > 4 * res["size_se_delta"]

    L, k, g = _groups(0.0, seed=1)
    res = fit_loss_threshold(L, k, 100, group=g, chains=2, warmup=300, samples=300)
    assert not res["size_matters"]
    assert res["size_verdict"] == "no evidence that size matters once loss is equal"
    for group in (1, 2):
        d = res["offsets"]["summary"][f"delta[{group}]"]
        assert d["lower"] < 0 < d["upper"] and d["upper"] - d["lower"] < 0.1
    assert res["threshold_preferred"]        # a threshold, not a logistic, made these data
    band = loss_curve(res, "threshold", [2.5, 1.6])
    truth = threshold_curve([2.5, 1.6], 0.1, 2.0, 3.0, 1.0)
    assert np.all(band["lower"] - 0.03 < truth) and np.all(truth < band["upper"] + 0.03)


class CurveRun:
    """Two scale points x 3 seeds x 4 evaluations of test/loss and test/exact_match (shares of
    20 examples; seed 2 of point 1 diverged)."""

    def __init__(self, token_level: bool = False):
        self.metric_names = ["test/exact_match", "test/loss"]
        self.eval_steps = [10, 20, 30, 40]
        self.seeds = [0, 1, 2]
        self.scale_points = [{"params": 1e3}, {"params": 4e3}]
        self.scale_variable = "params"
        self.eval_examples = 20
        loss = np.linspace(3.0, 1.5, 4)[None, None] + np.array([0.0, -0.3])[:, None, None] \
            + 0.01 * np.arange(3)[None, :, None]
        em = np.clip(np.round((2.5 - loss) * 20) / 20, 0, 1) + (0.013 if token_level else 0)
        self.metrics = np.stack([np.clip(em, 0, 1), loss], axis=-1)
        self.diverged = np.array([[False] * 3, [False, False, True]])
        self.completed = np.array([True, True])


def test_loss_points_counts_and_thinning():
    run = CurveRun()
    pts = loss_points(run, "test/exact_match", "test/loss")
    assert len(pts) == pts.total == 5 * 4 and not pts.thinned and pts.exact_counts
    assert pts.n == 20 and np.array_equal(pts.k, np.rint(pts.value * 20))
    assert sorted(set(pts.point.tolist())) == [0, 1] and (pts.point == 1).sum() == 8
    assert set(pts.step.tolist()) == {10, 20, 30, 40}
    few = loss_points(run, "test/exact_match", "test/loss", max_points=7)
    assert len(few) == 7 and few.total == 20 and few.thinned
    again = loss_points(run, "test/exact_match", "test/loss", max_points=7)
    assert np.array_equal(few.loss, again.loss)                     # deterministic
    pseudo = loss_points(CurveRun(token_level=True), "test/exact_match", "test/loss")
    assert not pseudo.exact_counts and not np.array_equal(pseudo.k, np.rint(pseudo.k))
    with pytest.raises(DataError, match="values outside"):
        loss_points(run, "test/loss", "test/exact_match")
    with pytest.raises(DataError, match="'test/nope' is not in the run"):
        loss_points(run, "test/exact_match", "test/nope")


def test_binned_means():
    L = np.linspace(1, 2, 100)
    b = binned_means(L, 2 * L, bins=4)
    assert b["count"].tolist() == [25, 25, 25, 25]
    np.testing.assert_allclose(b["value"], 2 * b["loss"])
    assert binned_means(np.ones(5), np.arange(5.0))["count"].tolist() == [5]
