import numpy as np
import pytest

from emergence_jax.analysis.loss import fit_loss_threshold, threshold_curve


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
