import numpy as np
import pytest

from emergence_jax.analysis import inference


def test_diagnostics_flag_failures():
    rng = np.random.default_rng(0)
    good = {"a": rng.normal(size=(4, 300))}
    ok = inference._nuts_diagnostics(good, np.zeros((4, 300), bool), 4, 300, 300)
    assert ok.ok and not ok.failed
    # chains stuck in different places: r-hat fails
    stuck = {"a": rng.normal(size=(4, 300)) + np.array([0, 0, 3, 3])[:, None]}
    bad = inference._nuts_diagnostics(stuck, np.zeros((4, 300), bool), 4, 300, 300)
    assert not bad.ok and any("r-hat" in f for f in bad.failed)
    assert "r-hat" in bad.message
    # strongly autocorrelated draws: ESS fails
    walk = {"a": np.cumsum(rng.normal(size=(4, 300)), axis=1) * 0.01 + rng.normal(size=(4, 1)) * 0}
    slow = inference._nuts_diagnostics(walk, np.zeros((4, 300), bool), 4, 300, 300)
    assert not slow.ok and any("ESS" in f for f in slow.failed)
    # divergences above 1%
    div = np.zeros((4, 300), bool)
    div[0, :20] = True
    d = inference._nuts_diagnostics(good, div, 4, 300, 300)
    assert not d.ok and d.divergences == 20 and any("divergent" in f for f in d.failed)


def test_psis_loo_matches_arviz_and_weights():
    rng = np.random.default_rng(1)
    ll = rng.normal(-1.0, 0.3, size=(2000, 30)) - rng.gamma(1.0, 0.5, size=(1, 30))
    ours = inference.psis_loo(ll)
    az = pytest.importorskip("arviz")
    idata = az.from_dict(log_likelihood={"y": ll.reshape(1, 2000, 30)},
                         posterior={"m": rng.normal(size=(1, 2000))})
    ref = az.loo(idata, pointwise=True)
    assert ours["elpd"] == pytest.approx(float(ref.elpd_loo), rel=1e-3)
    assert ours["se"] == pytest.approx(float(ref.se), rel=1e-2)
    # a row repeated 3 times == the row weighted 3
    rep = np.concatenate([ll, ll[:, :1], ll[:, :1]], axis=1)
    w = np.ones(30)
    w[0] = 3
    assert inference.psis_loo(ll, w)["elpd"] == pytest.approx(inference.psis_loo(rep)["elpd"])
    wa = inference.waic(ll)
    assert wa["elpd"] == pytest.approx(float(az.waic(idata).elpd_waic), rel=1e-3)


def test_chain_method_cpu():
    import jax
    expected = "parallel" if jax.local_device_count() >= 4 else "vectorized"
    assert inference.chain_method(4) == expected
