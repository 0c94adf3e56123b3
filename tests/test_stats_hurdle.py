"""The hurdle model: P(success) is the share of seeds on the success side; hard outcome data
(exact 0s and 1s, 1/n grids, ties, one scale, two seeds per scale) end with diagnostics passing
or a clear refusal; the curve forms are compared; predictive checks catch misspecified fits."""
import numpy as np
import pytest

from _stats_common import FAST
from emergence_jax.analysis import SeedData, fit_distribution, load_fit
from emergence_jax.analysis.simulate import simulate_outside
from emergence_jax.core.errors import ConfigError, DataError

SCALES6 = np.logspace(5, 7, 6)


def _hard_case(name: str) -> SeedData:
    rng = np.random.default_rng(7)
    s = np.repeat(SCALES6, 6)
    if name == "all zeros":
        return SeedData.from_arrays(s, np.zeros(s.size))
    if name == "all ones, counts":
        return SeedData.from_arrays(s, np.ones(s.size), n_eval=20)
    if name == "1/n grid, continuous":      # accuracy over 10 examples given without n_eval
        return SeedData.from_arrays(s, rng.integers(0, 11, s.size) / 10)
    if name == "1/n grid, counts":
        k = np.where(rng.random(s.size) < np.repeat(np.linspace(0.1, 0.9, 6), 6),
                     rng.integers(6, 11, s.size), rng.integers(0, 3, s.size))
        return SeedData.from_arrays(s, k / 10, n_eval=10)
    if name == "one scale":
        return SeedData.from_arrays(np.full(30, 1e6), np.r_[np.zeros(12), 0.3 * rng.random(8),
                                                            0.8 + 0.2 * rng.random(10)])
    if name == "two seeds per scale":
        return SeedData.from_arrays(np.repeat(SCALES6, 2),
                                    [0, 0.1, 0, 1, 0.2, 0.9, 1, 0, 0.9, 1, 1, 1])
    if name == "every seed of a scale at one value":
        return SeedData.from_arrays(s, np.r_[np.full(6, 0.25), np.zeros(6), 0.4 * rng.random(6),
                                             rng.random(12), np.full(6, 1.0)])
    raise KeyError(name)


HARD = ["all zeros", "1/n grid, counts", "two seeds per scale", "one scale"]
HARD_SLOW = ["all ones, counts", "1/n grid, continuous", "every seed of a scale at one value"]


def _check_hard(name):
    data = _hard_case(name)
    fit = fit_distribution(data, threshold=0.5, compare=False, **FAST)
    assert fit.diagnostics.ok, fit.diagnostics.message
    emp = np.array([np.mean(data.value[data.scale == s] > 0.5) for s in data.scales])
    chk = fit.check()
    assert chk.success_ok, chk.message
    ps = fit.p_success(data.scales)
    assert np.all((ps.lower <= emp + 0.35) & (emp - 0.35 <= ps.upper))
    if name.startswith("all"):
        assert np.all(np.abs(ps.mean - emp) < 0.1)


@pytest.mark.parametrize("name", HARD)
def test_hard_outcomes_fit_with_passing_diagnostics(name):
    _check_hard(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", HARD_SLOW)
def test_hard_outcomes_fit_with_passing_diagnostics_more(name):
    _check_hard(name)


def test_refusals_are_clear():
    data = _hard_case("all zeros")
    with pytest.raises(DataError, match="threshold: 1 with direction 'above' leaves no value"):
        fit_distribution(data, threshold=1.0, **FAST)
    with pytest.raises(DataError, match="'quadratic' needs at least 3 distinct scales"):
        fit_distribution(data.select(data.scale <= SCALES6[1]), curve="quadratic", **FAST)
    with pytest.raises(ConfigError, match="analysis.direction.*model='hurdle'"):
        fit_distribution(data, model="mixture", direction="below", **FAST)
    with pytest.raises(ConfigError, match="analysis.curve: got 'spline'"):
        fit_distribution(data, curve="spline", **FAST)


@pytest.fixture(scope="module")
def plateau():
    """Success fractions that rise and plateau at 0.55 (outside the logistic family)."""
    rng = np.random.default_rng(3)
    z = np.linspace(-1, 1, 30)
    truth = 0.03 + 0.52 / (1 + np.exp(-12 * (z + 0.5)))
    s = np.repeat(np.logspace(5, 8, 30), 30)
    ok = rng.random(s.size) < np.repeat(truth, 30)
    k = np.where(ok, rng.integers(30, 41, s.size), rng.integers(0, 8, s.size))
    return SeedData.from_arrays(s, k / 40, n_eval=40), truth


def test_auto_curve_tracks_a_plateau_and_the_check_catches_a_logistic(plateau):
    data, truth = plateau
    auto = fit_distribution(data, threshold=0.5, compare=False, **FAST)
    assert auto.diagnostics.ok, auto.diagnostics.message
    assert auto.curve_form in ("asymptotes", "monotone")
    forms = auto.curve["forms"]
    assert set(forms) == {"logistic", "quadratic", "asymptotes", "monotone"}
    assert forms["logistic"]["delta_vs_chosen"] < -10        # PSIS-LOO rejects the logistic
    assert np.max(np.abs(auto.p_success(data.scales).mean - truth)) < 0.08
    assert auto.check().ok, auto.check().message
    assert "P(success) curves compared by PSIS-LOO" in auto.summary()

    logistic = fit_distribution(data, threshold=0.5, compare=False, curve="logistic", **FAST)
    chk = logistic.check()
    assert not chk.success_ok and not chk.ok
    assert len(chk.outside) >= 5
    assert "predictive check FAILED" in chk.message
    assert any("predictive check FAILED" in w for w in logistic.warnings())


def test_check_catches_a_latent_mixture_that_disagrees_with_its_threshold():
    """Half-formed seeds just below the threshold: the mixture's success component slides down
    to take them, so its P(success) overstates the share of seeds past the threshold; the
    hurdle's P(success) is that share by construction."""
    rng = np.random.default_rng(11)
    s = np.repeat(SCALES6, 40)
    share = np.repeat([0.05, 0.1, 0.2, 0.3, 0.4, 0.5], 40)
    half = np.repeat([0.5, 0.45, 0.4, 0.35, 0.3, 0.2], 40)
    u = rng.random(s.size)
    y = np.where(u < share, 0.93 + 0.05 * rng.random(s.size),
                 np.where(u < share + half, 0.36 + 0.1 * rng.random(s.size),
                          0.1 + 0.08 * rng.random(s.size)))
    data = SeedData.from_arrays(s, y)
    mixture = fit_distribution(data, model="mixture", threshold=0.5, compare=False, **FAST)
    chk = mixture.check()
    assert not chk.ok, chk.message
    hurdle = fit_distribution(data, threshold=0.5, compare=False, **FAST)
    assert hurdle.check().success_ok, hurdle.check().message
    # against the generator's share past the threshold (the empirical fractions of 40 seeds
    # scatter around it by up to ~2 binomial standard errors, 0.15)
    truth = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert np.max(np.abs(hurdle.p_success(SCALES6).mean - truth)) < 0.1


def test_direction_below_mirrors_above():
    data, truth = simulate_outside("floor", seed=2, scales=8, seeds=40)
    up = fit_distribution(data, threshold=0.5, compare=False, curve="asymptotes", **FAST)
    flipped = SeedData.from_arrays(data.scale, 1 - data.value)
    down = fit_distribution(flipped, threshold=0.5, direction="below", compare=False,
                            curve="asymptotes", **FAST)
    assert down.criterion.direction == "below"
    np.testing.assert_allclose(down.p_success(data.scales).mean, up.p_success(data.scales).mean,
                               atol=0.03)
    np.testing.assert_allclose(down.success_mean(data.scales).mean,
                               1 - up.success_mean(data.scales).mean, atol=0.03)
    y = down.sample(data.scales[3], 4000, seed=0)
    assert abs((y < 0.5).mean() - down.p_success(data.scales[3]).mean) < 0.03


def test_queries_save_load_and_arviz(tmp_path):
    data, truth = simulate_outside("inverse", seed=1, scales=8, seeds=40)
    fit = fit_distribution(data, threshold=0.5, compare=True, **FAST)
    assert fit.model == "hurdle" and fit.comparison["bimodal_supported"]
    assert "hurdle model" in fit.comparison["verdict"]
    sc = data.scales
    ps = fit.p_success(sc)
    np.testing.assert_allclose(ps.mean, fit.p_above(sc, 0.5).mean, atol=1e-9)
    bt = fit.breakthrough_scale(0.5)
    assert bt.direction == "falling"
    np.testing.assert_array_equal(fit.seed_success_probability(), data.value > 0.5)
    sm, fm = fit.success_mean(sc).mean, fit.failure_mean(sc).mean
    assert np.all(sm > 0.5) and np.all(fm <= 0.5)
    np.testing.assert_allclose(fit.mean(sc).mean, ps.mean * sm + (1 - ps.mean) * fm, atol=0.02)
    q = fit.quantiles(sc[0], [0.1, 0.5, 0.9])
    assert np.all(np.diff(q.mean) >= 0)

    again = load_fit(fit.save(tmp_path / "fit"))
    assert again.curve_form == fit.curve_form and again.unit == fit.unit
    np.testing.assert_array_equal(again.p_success(sc).mean, ps.mean)
    np.testing.assert_array_equal(again.sample(sc[2], 50, seed=3), fit.sample(sc[2], 50, seed=3))
    assert again.check().to_json() == fit.check().to_json()

    az = pytest.importorskip("arviz")
    idata = fit.to_arviz()
    assert idata.log_likelihood["y"].shape == (FAST["chains"], FAST["samples"], len(data))
    assert idata.posterior_predictive["y"].shape == (FAST["chains"], FAST["samples"], len(data))
    np.testing.assert_array_equal(idata.observed_data["y"].values, data.value)
    loo = az.loo(idata)
    # ArviZ's PSIS-LOO on per-seed terms equals ours on the weighted unique rows
    from emergence_jax.analysis.inference import psis_loo
    ours = psis_loo(fit.pointwise_loglik())
    assert float(loo.elpd_loo) == pytest.approx(ours["elpd"], rel=1e-3)
    assert set(idata.posterior.data_vars) >= {"failure_gamma", "success_kappa",
                                              f"{fit.curve_form}_lo" if fit.curve_form in (
                                                  "asymptotes", "monotone")
                                              else f"{fit.curve_form}_a"}


def test_within_side_sampler_in_its_thread_draws_what_it_draws_alone(monkeypatch):
    """The within-side sampler runs in a second thread beside the curve forms (vectorized
    chains: compiled ahead, only the tracing serialised); its draws and the fit are those of
    the same samplers run one after the other."""
    from emergence_jax.analysis import inference

    class Synchronous:
        def __init__(self, fn):
            self.value = fn()

        def result(self):
            return self.value
    monkeypatch.setattr(inference, "chain_method", lambda chains: "vectorized")
    data, _ = simulate_outside("floor", seed=4, scales=6, seeds=20)
    threaded = fit_distribution(data, threshold=0.5, compare=False, **FAST)
    monkeypatch.setattr(inference, "Background", Synchronous)
    alone = fit_distribution(data, threshold=0.5, compare=False, **FAST)
    assert threaded.curve_form == alone.curve_form
    assert set(threaded.params) == set(alone.params)
    for name in threaded.params:
        np.testing.assert_array_equal(threaded.params[name], alone.params[name], err_msg=name)


@pytest.mark.parametrize("bins", [None, 64])
def test_sufficient_statistics_give_the_summed_row_likelihood(bins):
    """Continuous values: the within-side sampler's likelihood from the groups' sufficient
    statistics equals the multiplicity-weighted sum of the rows' log-likelihoods, with point
    masses at 0 and 1 and at any parameter values."""
    from emergence_jax.analysis import hurdle
    rng = np.random.default_rng(11)
    scales = np.repeat(np.logspace(5, 7, 5), 40)
    value = rng.beta(2, 3, scales.size)
    value[rng.random(scales.size) < 0.15] = 0.0
    value[rng.random(scales.size) < 0.1] = 1.0
    data = SeedData.from_arrays(scales, np.round(value, 3))       # ties as well
    spec, prep = hurdle.prepare(data, 0.5, "above", bins=bins)
    assert spec.likelihood == "zoib" and any(spec.masses)
    rows = prep.rows()
    for draw in range(3):
        w = {name: rng.normal(0, 0.7, size=(4,)) for name in hurdle.within_sites(spec)}
        for side in hurdle.SIDES:
            if f"{side}_log_kappa" in w:
                w[f"{side}_kappa"] = np.exp(w.pop(f"{side}_log_kappa") + 2)
            if f"{side}_mass" in w:
                w[f"{side}_mass"] = 1 / (1 + np.exp(-w[f"{side}_mass"]))
        by_rows = (rows["rw"] * hurdle.value_loglik(w, rows, spec)).sum(-1)
        by_groups = hurdle.value_total(w, prep.arrays(), spec)
        np.testing.assert_allclose(by_groups, by_rows, rtol=1e-9)


@pytest.mark.parametrize("n_eval", [50, None])
def test_svi_agrees_with_nuts_on_a_large_population(n_eval):
    """SVI (its guide in the Laplace approximation's units) lands where NUTS does, with
    intervals nearly as wide, on 6 scales x 2,000 seeds (counts and continuous values)."""
    from _stats_common import small
    data = small(seeds=2000, n_eval=n_eval, **({} if n_eval else {"p_zero_fail": 0.3}))
    fits = {m: fit_distribution(data, method=m, curve="logistic", compare=False, warn=False,
                                **FAST) for m in ("nuts", "svi")}
    assert all(f.diagnostics.ok for f in fits.values())
    p = {m: f.p_success(data.scales) for m, f in fits.items()}
    width = p["nuts"].upper - p["nuts"].lower
    assert np.max(np.abs(p["svi"].mean - p["nuts"].mean) / width) < 0.15
    assert 0.8 < np.mean((p["svi"].upper - p["svi"].lower) / width) < 1.15
    mean = {m: f.success_mean(data.scales).mean for m, f in fits.items()}
    np.testing.assert_allclose(mean["svi"], mean["nuts"], atol=0.005)


def test_a_failing_fit_stops_its_background_sampler(monkeypatch):
    """When the curve forms fail, the within-side sampler running beside them stops at its next
    chunk instead of running on."""
    from emergence_jax.analysis import fitting, inference
    started = []

    class Recorded(inference.Background):
        def __init__(self, fn):
            super().__init__(fn)
            started.append(self)

    def fail(*args, **kwargs):
        raise RuntimeError("curve forms failed")
    monkeypatch.setattr(inference, "Background", Recorded)
    monkeypatch.setattr(fitting, "_sample_curve_forms", fail)
    data, _ = simulate_outside("floor", seed=6, scales=6, seeds=20)
    with pytest.raises(RuntimeError, match="curve forms failed"):
        fit_distribution(data, threshold=0.5, compare=False, **FAST)
    with pytest.raises(inference.Cancelled):
        started[0].result()
