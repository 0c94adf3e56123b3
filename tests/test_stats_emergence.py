import numpy as np

from emergence_jax.analysis.emergence import emergence_steps, fit_aft, kaplan_meier
from emergence_jax.analysis.simulate import simulate_emergence_times


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


def test_kaplan_meier_by_hand():
    km = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
    np.testing.assert_array_equal(km["time"], [1, 2, 3])
    np.testing.assert_allclose(km["survival"], [0.8, 0.8 * 3 / 4, 0.8 * 3 / 4 * 1 / 2])
    assert km["median"] == 3
    assert np.all(km["lower"] <= km["survival"]) and np.all(km["survival"] <= km["upper"])


def test_aft_recovers_slope_with_censoring():
    n, t, e = simulate_emergence_times([1e6, 4e6, 1.6e7, 6.4e7], seeds_per_size=40, beta0=9.5,
                                       beta1=-0.7, sigma=0.5, budget=2.2e4, seed=3)
    assert 0.1 < (~e).mean() < 0.6               # a real share of censored seeds
    res = fit_aft(n, t, e, seed=0)
    s = res["summary"]
    assert s["beta1"]["lower"] < -0.7 < s["beta1"]["upper"]
    assert s["beta1"]["upper"] < 0
    assert s["sigma"]["lower"] < 0.5 < s["sigma"]["upper"]
    assert res["diagnostics"].ok
