"""Statistics of seed populations across scales: distributional scaling fits (NumPyro mixtures),
non-parametric companions, time-to-emergence and loss-threshold models, and simulation."""

from emergence_jax.stats.data import SeedData, stack
from emergence_jax.stats.emergence import emergence_steps, fit_aft, kaplan_meier
from emergence_jax.stats.fitted import (Breakthrough, FittedDistribution, Interval,
                                        fit_distribution, load_fit)
from emergence_jax.stats.inference import Diagnostics
from emergence_jax.stats.loss import fit_loss_threshold, threshold_curve
from emergence_jax.stats.nonparametric import (bootstrap_ci, curve_stats, dip_statistic, dip_test,
                                               per_scale_stats, wasserstein2)
from emergence_jax.stats.simulate import (PRESETS, SimParams, preset, simulate_emergence_times,
                                          simulate_population)

fit = fit_distribution

__all__ = ["SeedData", "stack", "FittedDistribution", "Interval", "Breakthrough", "Diagnostics",
           "fit", "fit_distribution", "load_fit", "SimParams", "PRESETS", "preset",
           "simulate_population", "simulate_emergence_times", "dip_statistic", "dip_test",
           "wasserstein2", "bootstrap_ci", "per_scale_stats", "curve_stats", "emergence_steps",
           "kaplan_meier", "fit_aft", "fit_loss_threshold", "threshold_curve"]
