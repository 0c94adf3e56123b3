"""Layer 3 of 4 — statistics of seed populations across scales. May use ``core`` and ``io``.

    data           SeedData: per-seed results (arrays, CSV, run stores) — every fit's input
    outcomes       run store -> per-seed outcomes and learning curves (the only code that decides
                   which points, evaluations and seeds count)
    success        SuccessCriterion: metric, threshold, direction
    fitting        fit_distribution(data, settings) -> FittedDistribution
    fitted         FittedDistribution (queries, save / load_fit)
    mixture        the NumPyro failure/success mixture and its unimodal alternative
    inference      NUTS / SVI drivers, diagnostics, PSIS-LOO and WAIC
    nonparametric  dip test, bootstrap, Wasserstein, per-scale and per-curve statistics
    emergence      emergence steps (EmergenceTimes) from learning curves, Kaplan-Meier
    emergence_fit  the emergence-time fit: censored log-normal AFT (EmergenceTimeFit)
    skill_theory   Arora & Goyal's random skill graph: closed-form bound and Monte Carlo
    loss           performance against pre-training loss: threshold vs logistic, per-size
                   threshold offsets (does size matter once loss is equal?)
    simulate       populations drawn from the generative model
"""

from emergence_jax.analysis.data import SeedData, stack
from emergence_jax.analysis.emergence import (EmergenceTimes, emergence_steps, emergence_times,
                                               kaplan_meier)
from emergence_jax.analysis.emergence_fit import EmergenceTimeFit, fit_emergence_time
from emergence_jax.analysis.fitted import Breakthrough, FittedDistribution, Interval, load_fit
from emergence_jax.analysis.fitting import fit_distribution, resolve_settings
from emergence_jax.analysis.inference import Diagnostics
from emergence_jax.analysis.loss import fit_loss_threshold, loss_points, threshold_curve
from emergence_jax.analysis.nonparametric import (abruptness, bootstrap_ci, curve_stats,
                                                  dip_statistic, dip_test, per_scale_stats,
                                                  wasserstein2)
from emergence_jax.analysis.outcomes import curves, point_outcomes, seed_data
from emergence_jax.analysis.simulate import (PRESETS, SimParams, preset,
                                             simulate_emergence_times, simulate_population)
from emergence_jax.analysis.success import SuccessCriterion

fit = fit_distribution

__all__ = ["Breakthrough", "Diagnostics", "EmergenceTimeFit", "EmergenceTimes",
           "FittedDistribution", "Interval", "PRESETS", "SeedData",
           "SimParams", "SuccessCriterion", "abruptness", "bootstrap_ci", "curve_stats", "curves",
           "dip_statistic", "dip_test", "emergence_steps", "emergence_times", "fit",
           "fit_distribution", "fit_emergence_time",
           "fit_loss_threshold", "kaplan_meier", "load_fit", "loss_points", "per_scale_stats",
           "point_outcomes", "preset", "resolve_settings", "seed_data", "simulate_emergence_times",
           "simulate_population", "stack", "threshold_curve", "wasserstein2"]
