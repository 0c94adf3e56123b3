import math

import numpy as np
import pytest

from emergence_jax.analysis import nonparametric as npm
from emergence_jax.analysis.data import SeedData


def test_w2_equal_n_formula_and_unequal_n():
    rng = np.random.default_rng(0)
    x, y = rng.random(50), rng.random(50) + 0.3
    assert npm.wasserstein2(x, y) == pytest.approx(np.sqrt(np.mean((np.sort(x) - np.sort(y)) ** 2)))
    # a point mass at a vs at b: W2 = |a - b| whatever the sample sizes
    assert npm.wasserstein2(np.full(3, 0.2), np.full(7, 0.7)) == pytest.approx(0.5)
    # unequal n equals equal-n after replicating each sample to a common size
    a, b = rng.random(4), rng.random(6)
    assert npm.wasserstein2(a, b) == pytest.approx(npm.wasserstein2(np.repeat(a, 3), np.repeat(b, 2)))


def test_curve_stats_hand_built():
    emergent = [0.0, 0.0, 0.0, 0.9]      # one jump
    linear = [0.0, 0.3, 0.6, 0.9]
    falling = [0.9, 0.6, 0.3, 0.0]
    flat = [0.4, 0.4, 0.4, 0.4]
    s = npm.curve_stats(np.array([emergent, linear, falling, flat]))
    np.testing.assert_allclose(s["I"], [0.9, 0.9, -0.9, 0.0])
    assert math.isinf(s["breakthroughness"][0]) and s["breakthroughness"][0] > 0
    assert s["breakthroughness"][1] == pytest.approx(0.9 / 0.3)
    assert s["linearity"][1] == pytest.approx(0.9 / 0.3)
    assert s["linearity"][0] == pytest.approx(0.9 / math.sqrt(0.81 / 3))
    assert s["linearity"][2] == pytest.approx(-3.0)
    assert s["breakthroughness"][3] == 0.0
    two_jumps = npm.curve_stats([0.0, 0.1, 0.1, 0.5, 0.5])
    assert two_jumps["breakthroughness"][0] == pytest.approx(0.5 / math.sqrt(np.median(
        np.diff([0.0, 0.1, 0.1, 0.5, 0.5]) ** 2)))


def test_step_share_and_abruptness_of_falling_curves():
    s = npm.curve_stats(np.array([[0.0, 0.0, 0.0, 0.9], [0.0, 0.3, 0.6, 0.9],
                                  [0.4, 0.4, 0.4, 0.4]]))
    np.testing.assert_allclose(s["step_share"], [1.0, 1 / 3, 0.0])
    # a loss that drops in one step is as abrupt as an accuracy that jumps, with the sign of an
    # improvement; oriented the other way it would count as a fall
    loss = np.array([[2.0, 2.0, 2.0, 1.1], [2.0, 1.7, 1.4, 1.1]])
    a = npm.abruptness(loss, falling=True)
    np.testing.assert_allclose(a["I"], [0.9, 0.9])
    assert math.isinf(a["breakthroughness"][0]) and a["breakthroughness"][0] > 0
    assert a["breakthroughness"][1] == pytest.approx(3.0)
    np.testing.assert_allclose(a["step_share"], [1.0, 1 / 3])
    assert np.all(npm.abruptness(loss)["I"] < 0)
    one = npm.abruptness([0.1, 0.2, 0.7, 0.8])            # one curve, as a row
    assert one["step_share"].shape == (1,) and one["step_share"][0] == pytest.approx(0.5 / 0.7)


def test_dip_known_values():
    rng = np.random.default_rng(1)
    assert npm.dip_statistic(np.r_[np.zeros(50), np.ones(50)]) == pytest.approx(0.25)
    assert npm.dip_statistic(rng.random(2000)) < 0.02
    bimodal = np.r_[rng.normal(0, 0.05, 150), rng.normal(1, 0.05, 150)]
    assert npm.dip_statistic(bimodal) > 0.15
    # affine invariance, minimum 1/(2n)
    x = rng.normal(size=100)
    assert npm.dip_statistic(3 * x + 7) == pytest.approx(npm.dip_statistic(x))
    assert npm.dip_statistic(np.linspace(0, 1, 40)) == pytest.approx(1 / 80)


def test_dip_test_pvalues():
    rng = np.random.default_rng(2)
    assert npm.dip_test(rng.random(200))["p_value"] > 0.05
    assert npm.dip_test(rng.normal(size=150))["p_value"] > 0.05
    bimodal = np.r_[rng.normal(0, 0.1, 100), rng.normal(1, 0.1, 100)]
    assert npm.dip_test(bimodal)["p_value"] < 0.01
    assert npm.dip_test(bimodal, n_sim=200)["p_value"] < 0.01


def test_bootstrap_interval_contains_truth():
    rng = np.random.default_rng(3)
    hits = 0
    for rep in range(40):
        x = rng.random(100) < 0.3
        est, lo, hi = npm.bootstrap_ci(x.astype(float), lambda a: a.mean(-1), seed=rep)
        hits += lo <= 0.3 <= hi
    assert hits >= 33          # nominal 95% of 40 = 38


def test_per_scale_stats():
    d = SeedData.from_arrays(np.repeat([1e6, 1e7], 100),
                             np.r_[np.zeros(80), np.full(20, 0.8), np.zeros(30), np.full(70, 0.9)])
    rows = npm.per_scale_stats(d, n_boot=200)
    assert rows[0]["p_success"]["estimate"] == pytest.approx(0.2)
    assert rows[1]["success_mean"]["estimate"] == pytest.approx(0.9)
    assert rows[0]["mode"]["estimate"] == pytest.approx(0.025)
    assert rows[1]["mode"]["estimate"] == pytest.approx(0.925)
    assert rows[1]["w2_from_previous"] > 0
    assert rows[1]["dip_p_value"] < 0.01
