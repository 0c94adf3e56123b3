"""The predictive distribution per draw: CDF, density, mean and sampling agree with each other."""
import numpy as np
import pytest

from emergence_jax.analysis.predictive import Component, Predictive


def _components(counts: bool):
    rng = np.random.default_rng(0)
    S, M = 3, 2
    n = 20 if counts else None

    def comp(low, high, k0, m, mass_low, mass_high, w):
        return Component(weight=np.full((S, M), w), mu=rng.uniform(0.2, 0.8, (S, M)),
                         kappa=rng.uniform(1, 30, (S, 1)), mass_low=np.full((S, 1), mass_low),
                         mass_high=np.full((S, 1), mass_high), low=low, high=high, k0=k0, m=m)
    # a hurdle-like split at 0.5: [0, 0.5] (mass at 0) and (0.5, 1] (mass at 1)
    return Predictive([comp(0.0, 0.5, 0, 10, 0.3, 0.0, 0.4),
                       comp(0.5, 1.0, 11, 9, 0.0, 0.2, 0.6)], n), n


@pytest.mark.parametrize("counts", [False, True])
def test_cdf_mean_and_samples_agree(counts):
    pred, n = _components(counts)
    rng = np.random.default_rng(1)
    draws = np.repeat(np.arange(3), 20000)
    y = pred.sample(draws, 1, rng).reshape(3, 20000)
    assert y.min() >= 0 and y.max() <= 1
    if counts:
        assert np.allclose(y * n, np.round(y * n))
    grid = np.array([0.0, 0.2, 0.5, 0.55, 0.8, 1.0])
    cdf = pred.cdf(grid)[:, 1, :]
    emp = (y[:, :, None] <= grid).mean(1)
    np.testing.assert_allclose(cdf, emp, atol=0.015)
    left = pred.cdf(grid, left=True)[:, 1, :]
    np.testing.assert_allclose(left, (y[:, :, None] < grid).mean(1), atol=0.015)
    np.testing.assert_allclose(pred.mean()[:, 1], y.mean(1), atol=0.01)
    # the threshold splits the sides exactly: P(y <= 0.5) is the first component's weight
    np.testing.assert_allclose(pred.cdf(0.5)[..., 0], 0.4)
    if counts:      # n * pmf sums to n over the grid
        dens = pred.density(np.arange(n + 1) / n)
        np.testing.assert_allclose(dens.sum(-1) / n, 1.0, atol=1e-9)


def test_single_point_support():
    S, M = 2, 1
    c = Component(np.ones((S, M)), np.full((S, M), 0.5), np.ones((S, 1)), np.zeros((S, 1)),
                  np.zeros((S, 1)), low=0.0, high=0.0)
    pred = Predictive([c], None)
    assert np.all(pred.sample(np.zeros(5, int), 0, np.random.default_rng(0)) == 0.0)
    np.testing.assert_allclose(pred.cdf([-0.1, 0.0, 0.3])[0, 0], [0, 1, 1])
    np.testing.assert_allclose(pred.mean(), 0.0)
