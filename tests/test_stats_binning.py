"""Binned continuous outcomes (a fine histogram likelihood): rows bounded by scales x sides x bins
whatever the population, exact 0s and 1s kept, and fits within posterior noise of the exact fit."""
import numpy as np
import pytest

from _stats_common import FAST
from emergence_jax.analysis import fit_distribution, hurdle, mixture
from emergence_jax.analysis.mixture import AUTO_BIN_SEEDS, AUTO_BINS, bin_interior, value_bins
from emergence_jax.analysis.simulate import simulate_outside
from emergence_jax.core.errors import ConfigError


def test_bin_interior_keeps_the_ends_and_moves_values_by_at_most_half_a_bin():
    rng = np.random.default_rng(0)
    v = np.r_[0.0, 1.0, rng.random(10_000), 1e-12, 1 - 1e-12]
    b = bin_interior(v, 64)
    assert b[0] == 0.0 and b[1] == 1.0
    inner = (v > 0) & (v < 1)
    assert np.all((b[inner] > 0) & (b[inner] < 1))
    assert np.max(np.abs(b - v)) <= 0.5 / 64 + 1e-15
    assert np.unique(b[inner]).size <= 64
    assert np.array_equal(bin_interior(v, 0), v)


def test_value_bins_auto_rule():
    assert value_bins(None, AUTO_BIN_SEEDS, "zoib") == 0
    assert value_bins(None, AUTO_BIN_SEEDS + 1, "zoib") == AUTO_BINS
    assert value_bins(None, 10 ** 6, "betabinomial") == 0      # counts collapse by themselves
    assert value_bins(0, 10 ** 6, "zoib") == 0
    assert value_bins(100, 10, "zoib") == 100


@pytest.mark.parametrize("model", ["hurdle", "mixture"])
def test_rows_do_not_grow_with_the_population(model):
    data, _ = simulate_outside("drift", seed=0, seeds=4_000)       # 10 scales x 4,000 seeds
    assert len(data) > AUTO_BIN_SEEDS
    if model == "hurdle":
        spec, prep = hurdle.prepare(data, 0.5)
    else:
        spec, prep = mixture.prepare(data, "mixture")
    assert spec.bins == AUTO_BINS
    # at most one row per (scale, side, bin) plus the exact 0s and 1s
    assert prep.n_unique <= len(data.scales) * (2 * AUTO_BINS + 2)
    assert prep.n_unique < len(data) / 3
    w = prep.rw if model == "hurdle" else prep.w
    assert w.sum() == len(data)                                    # every seed is counted once
    exact_spec, exact = (hurdle.prepare(data, 0.5, bins=0) if model == "hurdle"
                         else mixture.prepare(data, "mixture", bins=0))
    assert exact_spec.bins == 0 and exact.n_unique > 0.6 * len(data)     # 30% sit at exactly 0 or 1


@pytest.mark.slow      # two fits of 600 seeds: ~1 min on a free 2-core machine
def test_binned_fit_is_within_posterior_noise_of_the_exact_fit():
    data, _ = simulate_outside("drift", seed=1, seeds=100, scales=6)   # 6 scales x 100 seeds
    exact = fit_distribution(data, threshold=0.5, compare=False, curve="logistic",
                             value_bins=0, **FAST)
    binned = fit_distribution(data, threshold=0.5, compare=False, curve="logistic",
                              value_bins=128, **FAST)
    assert exact.spec.bins == 0 and binned.spec.bins == 128
    assert exact.diagnostics.ok and binned.diagnostics.ok
    for name in [f"{side}_{p}" for side in ("failure", "success")
                 for p in ("gamma", "delta", "kappa")]:
        e, b = np.asarray(exact.params[name]), np.asarray(binned.params[name])
        sd = e.std(0)
        assert np.all(np.abs(e.mean(0) - b.mean(0)) < 0.5 * sd + 1e-9), name
    scales = data.scales
    for q in (0.1, 0.5, 0.9):
        qe = exact.quantiles(scales, (q,)).mean
        qb = binned.quantiles(scales, (q,)).mean
        assert np.max(np.abs(qe - qb)) < 0.03, q


def test_value_bins_is_validated():
    data, _ = simulate_outside("drift", seed=0, seeds=5)
    with pytest.raises(ConfigError, match="value_bins"):
        fit_distribution(data, value_bins=-1, **FAST)


@pytest.mark.slow      # 25,000 seeds: ~20 s on a free 2-core machine
def test_a_large_population_fits_and_checks_in_bounded_work():
    from emergence_jax.analysis.checks import PIT_SEEDS, pit_seeds_per_scale
    data, truth = simulate_outside("drift", seed=3, seeds=2_500)     # 10 scales x 2,500 seeds
    fit = fit_distribution(data, threshold=0.5, compare=False, curve="logistic", method="svi",
                           svi_steps=500, chains=2, samples=100, progress=False, warn=False)
    assert fit.spec.bins == AUTO_BINS
    assert np.max(np.abs(fit.p_success(data.scales).mean - truth)) < 0.06
    chk = fit.check()
    # the PIT of a random PIT_SEEDS seeds per scale; every scale's verdict is computed
    assert pit_seeds_per_scale(len(data.scales)) == PIT_SEEDS
    assert np.isfinite(chk.pit).sum() == len(data.scales) * PIT_SEEDS
    assert 0.0 <= chk.pit_ks_p <= 1.0
    for row in chk.scales:
        assert row.seeds == 2_500 and 0.0 <= row.lower <= row.upper <= 1.0
        assert np.isfinite(row.p_value) and all(np.isfinite(row.quantile_p))


def test_the_checks_bounded_work_matches_the_full_computation(monkeypatch):
    """With thousands of seeds per scale the check reads the success count's predictive CDF every
    few counts, and with many scales takes the PIT of fewer seeds per scale: the p-values are
    those of the full computation and the interval ends move by at most one grid step."""
    from emergence_jax.analysis import checks
    data, _ = simulate_outside("drift", seed=5, seeds=3_000)          # 10 scales x 3,000 seeds
    fit = fit_distribution(data, threshold=0.5, compare=False, curve="logistic", method="svi",
                           svi_steps=300, chains=2, samples=100, progress=False, warn=False)
    coarse = checks.predictive_check(fit)
    monkeypatch.setattr(checks, "COUNT_GRID", 10 ** 9)
    full = checks.predictive_check(fit)
    for a, b in zip(coarse.scales, full.scales):
        assert a.p_value == pytest.approx(b.p_value, rel=1e-9)
        step = 8 / a.seeds        # the window's counts (here < 2,000) in at most 256 steps
        assert abs(a.lower - b.lower) <= step and abs(a.upper - b.upper) <= step
    assert checks.pit_seeds_per_scale(10) == checks.PIT_SEEDS
    assert checks.pit_seeds_per_scale(100) == checks.PIT_SEEDS_TOTAL // 100
    assert checks.pit_seeds_per_scale(10 ** 4) == checks.PIT_SEEDS_MIN
