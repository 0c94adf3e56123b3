"""analysis.emergence_fit: the censored log-normal AFT model of emergence steps — interval
coverage on simulated, censored data; data outside the model's family (gamma-distributed jump
times read off noisy learning curves); queries, persistence and dispatch."""

import json

import numpy as np
import pytest
from scipy import stats

from emergence_jax.analysis import (EmergenceTimeFit, EmergenceTimes, SeedData, fit_distribution,
                                    load_fit)
from emergence_jax.analysis.emergence import emergence_steps
from emergence_jax.analysis.simulate import simulate_emergence_times
from emergence_jax.core.errors import DataError, StoreError

FAST = dict(model="emergence-time", chains=2, warmup=300, samples=300, progress=False)
SCALES = (1.0, 2.0, 3.0, 4.0)
TRUTH = dict(beta0=np.log(300.0), beta1=0.8, sigma=0.35, sigma_slope=0.25)


def _true_cdf(t, scale):
    x = np.log(scale) - np.log(SCALES).mean()
    sigma = TRUTH["sigma"] * np.exp(TRUTH["sigma_slope"] * x)
    return stats.norm.cdf((np.log(t) - TRUTH["beta0"] - TRUTH["beta1"] * x) / sigma)


@pytest.fixture(scope="module")
def one_fit():
    times = simulate_emergence_times(SCALES, seeds_per_scale=25, budget=700, eval_every=25,
                                     seed=0, **TRUTH)
    return times, fit_distribution(times, **FAST)


def test_coverage_of_p_emerged_with_censoring():
    """90% intervals of P(emerged by t at s) and of the slope β₁ cover the truth at about their
    nominal rate over simulated populations that are interval-censored by a 25-step evaluation
    grid and right-censored at the budget."""
    hits, slope_hits, censored = [], [], []
    steps, scales = np.array([150.0, 300.0, 600.0]), np.array([1.0, 2.5, 4.0])
    tt, ss = np.meshgrid(steps, scales)
    for rep in range(8):
        times = simulate_emergence_times(SCALES, seeds_per_scale=25, budget=700, eval_every=25,
                                         seed=100 + rep, **TRUTH)
        censored.append((~times.event).mean())
        fit = fit_distribution(times, compare=False, seed=rep, **FAST)
        assert fit.diagnostics_ok
        p = fit.p_emerged(tt, ss)
        truth = _true_cdf(tt, ss)
        hits.extend(((p.lower <= truth) & (truth <= p.upper)).ravel().tolist())
        b = fit.step_exponent()
        slope_hits.append(b.lower <= TRUTH["beta1"] <= b.upper)
    assert 0.05 < np.mean(censored) < 0.4          # a real share of censored seeds
    assert np.mean(hits) >= 0.75, np.mean(hits)
    assert sum(slope_hits) >= 6


def test_outside_family_gamma_jumps_on_noisy_curves():
    """Seeds whose metric jumps (logistic, 10 steps wide, plus noise) at a gamma-distributed
    step whose scale grows with the covariate; emergence steps are read off the curves with
    ``emergence_steps``. The log-normal fit recovers P(emerged by t) within 0.12 and its
    posterior predictive check does not reject the data."""
    rng = np.random.default_rng(7)
    steps = np.arange(20, 1001, 20, dtype=float)
    scale_col, time, lower, event = [], [], [], []
    gamma_scale = {s: 60.0 * s for s in SCALES}     # mean 4 * 60 * s steps
    for s in SCALES:
        jump = rng.gamma(4.0, gamma_scale[s], size=30)
        curve = 1 / (1 + np.exp(-(steps[None, :] - jump[:, None]) / 10.0))
        curve = np.clip(curve + rng.normal(0, 0.03, curve.shape), 0, 1)
        t, e = emergence_steps(curve, steps, 0.5)
        scale_col += [s] * 30
        time += t.tolist()
        event += e.tolist()
        lower += np.where(e, t - 20, t).tolist()
    times = EmergenceTimes.from_arrays(scale_col, time, event, lower=lower,
                                       budget=np.full(len(time), 1000.0))
    assert 0.05 < (~times.event).mean() < 0.5
    fit = fit_distribution(times, compare=False, **FAST)
    assert fit.diagnostics_ok
    for s in SCALES:
        for t in (200.0, 500.0, 900.0):
            truth = stats.gamma.cdf(t, 4.0, scale=gamma_scale[s])
            assert abs(fit.p_emerged(t, s).mean - truth) < 0.12, (s, t)
    p_values = [r["p_value"] for r in fit.predictive_check()]
    assert min(p_values) > 0.01
    assert fit.step_exponent().lower > 0.5          # true exponent 1: steps ∝ scale


def test_queries_are_consistent(one_fit):
    times, fit = one_fit
    p = fit.p_emerged([100.0, 300.0, 900.0], 2.0)
    assert np.all(np.diff(p.mean) > 0) and np.all((p.lower <= p.mean) & (p.mean <= p.upper))
    s = fit.survival([100.0, 300.0], 2.0)
    np.testing.assert_allclose(s.mean, 1 - fit.p_emerged([100.0, 300.0], 2.0).mean)
    med = fit.median_step(2.0)
    assert fit.p_emerged(med.mean, 2.0).mean == pytest.approx(0.5, abs=0.05)
    assert fit.quantile_step(0.9, 2.0).mean > med.mean
    # Broadcasting: steps [3] x scales [2, 1] -> [2, 3].
    assert fit.p_emerged(np.array([100.0, 200.0, 300.0]), np.array([[1.0], [4.0]])).mean.shape \
        == (2, 3)
    assert np.all(np.diff(fit.mean_step([1.0, 2.0, 4.0]).mean) > 0)   # β₁ > 0 here
    draws = fit.sample(2.0, 4000, seed=1)
    assert abs(np.median(draws) - med.mean) / med.mean < 0.1
    rows = fit.scale_rows()
    assert [r["seeds"] for r in rows] == [25] * 4
    assert all(r["step_q10"] < r["median_step"] < r["step_q90"] for r in rows)
    assert [r["emerged"] for r in rows] == [int(times.at(s).event.sum()) for s in SCALES]
    assert "β₁" in fit.summary() and fit.comparison is not None
    assert not fit.comparison["never_emerging_supported"]    # every simulated seed emerges
    np.testing.assert_allclose(fit.p_eventually([1.0, 4.0]).mean, 1.0)
    with pytest.raises(DataError):
        fit.p_emerged(100.0, -1.0)
    with pytest.raises(DataError):
        fit.quantile_step(1.5, 2.0)


def test_save_load_identical_and_tamper(one_fit, tmp_path):
    _, fit = one_fit
    fit.save(tmp_path / "f")
    again = load_fit(tmp_path / "f")
    assert isinstance(again, EmergenceTimeFit)
    assert again.settings == fit.settings and again.data.digest() == fit.data.digest()
    np.testing.assert_array_equal(again.p_emerged([150.0, 400.0], 3.0).mean,
                                  fit.p_emerged([150.0, 400.0], 3.0).mean)
    meta = json.loads((tmp_path / "f" / "fit.json").read_text())
    assert meta["model"] == "emergence-time" and meta["settings"]["model"] == "emergence-time"
    meta["threshold"] = 0.9
    (tmp_path / "f" / "fit.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="checksum"):
        load_fit(tmp_path / "f")


def test_never_emerging_share():
    """A share sigmoid(0.5 + 1.5·x) of seeds ever emerges: the cure model recovers that share
    within its intervals and PSIS-LOO prefers it to the plain log-normal, which has to explain
    the never-emerging seeds as very late ones."""
    times = simulate_emergence_times(SCALES, seeds_per_scale=40, budget=1500, eval_every=25,
                                     seed=11, eventual_logit=(0.5, 1.5), **TRUTH)
    fit = fit_distribution(times, **dict(FAST, model="emergence-time-cure"))
    assert fit.diagnostics_ok and fit.model == "emergence-time-cure"
    x = np.log(np.array(SCALES)) - np.log(SCALES).mean()
    truth = 1 / (1 + np.exp(-(0.5 + 1.5 * x)))
    share = fit.p_eventually(np.array(SCALES))
    assert np.mean((share.lower <= truth) & (truth <= share.upper)) >= 0.75
    assert np.all(np.diff(share.mean) > 0)
    assert fit.comparison["never_emerging_supported"], fit.comparison["verdict"]
    # P(emerged by t) levels off at the eventual share instead of rising to 1.
    late = fit.p_emerged(1e6, 1.0)
    assert late.mean == pytest.approx(fit.p_eventually(1.0).mean, abs=0.02)
    assert np.isinf(fit.sample(1.0, 2000, seed=0)).mean() == pytest.approx(1 - truth[0], abs=0.15)


def test_single_scale_and_wrong_inputs():
    times = simulate_emergence_times([2.0], seeds_per_scale=30, budget=700, eval_every=25,
                                     seed=3, **TRUTH)
    fit = fit_distribution(times, compare=False, **FAST)
    assert fit.single_scale and np.all(fit.params["beta1"] == 0)
    assert fit.p_emerged(300.0, 1.0).mean == fit.p_emerged(300.0, 100.0).mean
    data = SeedData.from_arrays([1.0, 2.0], [0.1, 0.9])
    with pytest.raises(DataError, match="EmergenceTimes"):
        fit_distribution(data, model="emergence-time", progress=False)
    with pytest.raises(DataError, match="SeedData"):
        fit_distribution(times, model="mixture", progress=False)
