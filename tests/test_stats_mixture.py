"""The latent mixture (model='mixture'): bimodality verdicts, inverse scaling, calibration of
intervals."""
import numpy as np
import pytest

from _stats_common import FAST, SCALES, small
from emergence_jax.analysis import fit_distribution
from emergence_jax.analysis.simulate import SimParams, simulate_population


def test_bimodal_supported_and_unimodal_not():
    bi = fit_distribution(small("emergent", seed=11), model="mixture", compare=True, **FAST)
    assert bi.comparison["bimodal_supported"], bi.comparison["verdict"]
    uni = fit_distribution(small("unimodal", seed=12), model="mixture", compare=True, **FAST)
    assert not uni.comparison["bimodal_supported"], uni.comparison["verdict"]
    assert "not supported" in uni.comparison["verdict"]


def test_inverse_scaling_recovered():
    fit = fit_distribution(small("inverse", seed=5, seeds=80), model="mixture", compare=False,
                           **FAST)
    beta, delta = fit.params["beta"][:, 0], fit.params["delta"][:, 0]
    assert np.quantile(beta, 0.95) < 0, beta.mean()
    assert np.quantile(delta, 0.05) > 0, delta.mean()
    bt = fit.breakthrough_scale(0.5)
    assert bt.direction == "falling"
    ps = fit.p_success([1e5, 1e7]).mean
    sm = fit.success_mean([1e5, 1e7]).mean
    assert ps[1] < ps[0] and sm[1] > sm[0]


def test_calibration_coverage():
    """Truths drawn at random; 90% intervals must cover alpha, beta, delta at about 90%."""
    rng = np.random.default_rng(2024)
    hits, total = 0, 0
    for rep in range(10):
        truth = dict(alpha=rng.uniform(-1, 1), beta=rng.uniform(-1.5, 1.5),
                     gamma=rng.uniform(0.0, 1.5), delta=rng.uniform(-0.5, 0.8))
        p = SimParams(scales=SCALES, seeds_per_scale=60, n_eval=50, **truth)
        fit = fit_distribution(simulate_population(p, seed=100 + rep), model="mixture",
                               compare=False, seed=rep, **FAST)
        for name in ("alpha", "beta", "delta"):
            lo, hi = np.quantile(fit.params[name][:, 0], [0.05, 0.95])
            hits += lo <= truth[name] <= hi
            total += 1
    assert hits / total >= 0.7, (hits, total)


def test_single_scale_plain_mixture():
    data = simulate_population("emergent", seed=4, scales=(1e6,), seeds_per_scale=300, n_eval=50)
    fit = fit_distribution(data, model="mixture", compare=False, **FAST)
    assert np.all(fit.params["beta"] == 0) and np.all(fit.params["delta"] == 0)
    a = fit.p_success([1e3, 1e9]).mean
    assert a[0] == a[1]
    assert "single-scale" in fit.breakthrough_scale(0.5).message


@pytest.mark.slow
def test_hierarchical_two_groups():
    from emergence_jax.analysis.data import stack
    a = small("emergent", seed=1, seeds=80)
    b = small("emergent", seed=2, seeds=80, beta=0.6)
    import dataclasses
    data = stack([dataclasses.replace(a, metric="a"), dataclasses.replace(b, metric="b")])
    fit = fit_distribution(data, model="hierarchical", compare=True, **FAST)
    assert fit.groups == ["a", "b"]
    assert fit.diagnostics.ok, fit.diagnostics.message
    bet = fit.params["beta"].mean(0)
    assert bet[0] > bet[1] > 0
    assert fit.p_success(1e6, group="a").mean > 0


@pytest.mark.slow
def test_zero_one_inflated_continuous():
    data = simulate_population("emergent", seed=7, scales=SCALES, seeds_per_scale=80, n_eval=None,
                               p_zero_fail=0.5, p_one_success=0.1)
    assert (data.value == 0).any() and (data.value == 1).any()
    fit = fit_distribution(data, model="mixture", compare=True, **FAST)
    assert fit.spec.likelihood == "zoib"
    lo, hi = np.quantile(fit.params["p_zero_fail"][:, 0], [0.05, 0.95])
    assert lo < 0.5 < hi
    assert fit.comparison["bimodal_supported"]
