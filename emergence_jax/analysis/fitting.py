"""Fitting: per-seed data + fit settings -> a ``FittedDistribution``.

    fit = fit_distribution(SeedData.from_csv("seeds.csv"))          # the default settings
    fit = fit_distribution(data, settings)                          # an AnalysisConfig
    fit = fit_distribution(data, method="svi", compare=False)       # settings with overrides

The settings are ``emergence_jax.core.config.AnalysisConfig``, the one definition of what a fit
can be asked to do: the experiment's ``analysis`` section, the flags of ``emergence-jax fit``
(generated from its fields) and the record a saved fit keeps (``fit.settings``).

With ``compare`` the alternative model (unimodal ↔ mixture) is fitted too, and PSIS-LOO decides
whether bimodality is supported (``fit.comparison``).
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import time

import numpy as np

from emergence_jax.analysis.data import SeedData
from emergence_jax.analysis.fitted import FittedDistribution
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.config import AnalysisConfig, to_dict, validate_settings
from emergence_jax.core.errors import ConfigError, DataError

__all__ = ["compare_models", "fit_distribution", "resolve_settings", "settings_for_run"]

_POINTWISE: dict = {}   # compiled pointwise log-likelihood per model spec


def resolve_settings(settings: AnalysisConfig | None = None, **overrides) -> AnalysisConfig:
    """``settings`` (default: ``AnalysisConfig()``) with ``overrides`` applied, validated; a bad
    value raises ``ConfigError`` naming the ``analysis.*`` field."""
    settings = settings if settings is not None else AnalysisConfig()
    if "likelihood" in overrides and overrides["likelihood"] is None:
        overrides["likelihood"] = "auto"
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(AnalysisConfig)})
    if unknown:
        raise ConfigError(f"analysis.{unknown[0]}: unknown fit setting; allowed: "
                          f"{', '.join(f.name for f in dataclasses.fields(AnalysisConfig))}")
    return validate_settings(dataclasses.replace(settings, **overrides))


def settings_for_run(run, settings: AnalysisConfig | None = None) -> AnalysisConfig:
    """Fit settings for a run store: ``settings`` (default: the analysis section stored with the
    run) with the metric (empty: the task's success metric) and the scale variable (empty: the
    run's ``sweep.scale_variable``) filled in."""
    if settings is None:
        settings = validate_settings(run.config.get("analysis", {}) or {})
    criterion = SuccessCriterion.from_config({"task": run.config.get("task", {}),
                                              "analysis": to_dict(settings)})
    return dataclasses.replace(settings, metric=criterion.metric,
                               scale_variable=settings.scale_variable or run.scale_variable)


def _versions() -> dict:
    import jax
    import numpyro
    import scipy
    return {"python": sys.version.split()[0], "numpy": np.__version__, "jax": jax.__version__,
            "numpyro": numpyro.__version__, "scipy": scipy.__version__,
            "platform": platform.platform()}


def _posterior(data: SeedData, model: str, settings: AnalysisConfig, progress: bool):
    from emergence_jax.analysis.inference import float64
    with float64():
        return _posterior64(data, model, settings, progress)


def _posterior64(data: SeedData, model: str, s: AnalysisConfig, progress: bool):
    import jax
    import jax.numpy as jnp

    from emergence_jax.analysis import inference, mixture
    likelihood = None if s.likelihood == "auto" else s.likelihood
    spec, prep = mixture.prepare(data, model, chance=s.chance, likelihood=likelihood)
    model_fn = mixture.make_model(spec)
    args = inference._as_float64(tuple(prep.arrays().values()))
    init = mixture.init_values(data, spec, s.threshold)
    if s.method == "nuts":
        draws, diag = inference.run_nuts(model_fn, args, cache_key=spec, chains=s.chains,
                                         warmup=s.warmup, samples=s.samples, seed=s.seed,
                                         progress=progress, init_values=init,
                                         laplace_init=not spec.hierarchical,
                                         dense_mass=None if not spec.hierarchical else False)
    else:
        draws, diag = inference.run_svi(model_fn, args, steps=s.svi_steps,
                                        samples=s.chains * s.samples, seed=s.seed,
                                        progress=progress, init_values=init)
    params = mixture.canonical_params(draws, spec)
    d = dict(zip(prep.arrays(), args))
    pj = {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}

    parts = spec.kind == "mixture"
    if spec not in _POINTWISE:
        _POINTWISE[spec] = jax.jit(lambda pj, d: jax.vmap(
            lambda p: mixture.row_loglik(p, d, spec, return_parts=parts))(pj))
    if parts:
        total, a, b = _POINTWISE[spec](pj, d)
    else:
        total = _POINTWISE[spec](pj, d)
    ll = np.asarray(total, np.float64)[:, :prep.n_unique]
    seed_prob = None
    if spec.kind == "mixture":
        resp = np.exp(np.asarray(b, np.float64) - np.asarray(total, np.float64))
        seed_prob = resp.mean(0)[:prep.n_unique][prep.inverse]
    return spec, prep, params, draws, diag, ll, seed_prob


def compare_models(fits: dict, weights: np.ndarray) -> dict:
    """PSIS-LOO comparison of a mixture and a unimodal fit of the same rows. ``fits`` maps each
    model's name to (kind, pointwise log-likelihood [draws, rows], diagnostics)."""
    from emergence_jax.analysis.inference import compare_loo, psis_loo, waic
    res = {name: (kind, psis_loo(ll, weights), waic(ll, weights), diag)
           for name, (kind, ll, diag) in fits.items()}
    mix = next(name for name, r in res.items() if r[0] == "mixture")
    uni = next(name for name, r in res.items() if r[0] == "unimodal")
    delta, se = compare_loo(res[mix][1], res[uni][1])
    supported = bool(delta > max(4.0, 2.0 * se))
    if supported:
        verdict = (f"bimodality supported: the mixture beats the unimodal model by "
                   f"{delta:.1f} ± {se:.1f} elpd (PSIS-LOO)")
    elif delta < -max(4.0, 2.0 * se) or delta < 4.0:
        verdict = (f"bimodality not supported: mixture − unimodal = {delta:.1f} ± {se:.1f} elpd "
                   "(PSIS-LOO); a single distribution moving with scale explains the data as "
                   "well")
    else:
        verdict = (f"bimodality inconclusive: mixture − unimodal = {delta:.1f} ± {se:.1f} elpd "
                   "(PSIS-LOO), within two standard errors")
    return {
        "criterion": "psis-loo", "delta_elpd": delta, "se_delta": se,
        "bimodal_supported": supported, "verdict": verdict,
        "rule": "bimodal when elpd(mixture) - elpd(unimodal) > max(4, 2 * se)",
        "models": {name: {"elpd_loo": r[1]["elpd"], "se": r[1]["se"],
                          "pareto_k_max": r[1]["pareto_k_max"],
                          "pareto_k_bad": r[1]["pareto_k_bad"], "elpd_waic": r[2]["elpd"],
                          "p_waic": r[2]["p_waic"], "diagnostics_ok": r[3].ok}
                   for name, r in res.items()},
    }


def fit_distribution(data: SeedData, settings: AnalysisConfig | None = None, *,
                     progress: bool = True, warn: bool = True, **overrides) -> FittedDistribution:
    """Fits ``settings.model`` ("mixture", "unimodal", "hierarchical", "hierarchical-unimodal")
    to per-seed data with NUTS (default) or SVI; keyword ``overrides`` replace single settings
    (``fit_distribution(data, method="svi")``)."""
    import warnings

    if not isinstance(data, SeedData):
        raise DataError("fit_distribution expects a SeedData (see SeedData.from_arrays/from_csv)")
    s = resolve_settings(settings, **overrides)
    if s.direction != "above":
        raise ConfigError("analysis.direction: the fitted models treat high values as success; "
                          "allowed for fits: 'above' (fit 1 - metric for a metric where lower "
                          "is better)")
    s = dataclasses.replace(s, metric=data.metric, scale_variable=_scale_variable(data))
    t0 = time.perf_counter()
    spec, prep, params, draws, diag, ll, seed_prob = _posterior(data, s.model, s, progress)
    comparison = None
    if s.compare:
        alt = spec.alternative()
        _, _, _, _, alt_diag, alt_ll, _ = _posterior(data, alt.name, s, progress)
        comparison = compare_models({spec.name: (spec.kind, ll, diag),
                                     alt.name: (alt.kind, alt_ll, alt_diag)},
                                    prep.w[:prep.n_unique])
    if warn and not diag.ok:
        warnings.warn(diag.message, RuntimeWarning, stacklevel=2)
    meta = {"versions": _versions(), "seconds": time.perf_counter() - t0,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    sites = {k: np.asarray(v) for k, v in draws.items() if k not in params}
    return FittedDistribution(spec=spec, params=params, xbar=prep.xbar, groups=data.groups,
                              data=data, seed_prob=seed_prob, diagnostics=diag,
                              comparison=comparison, settings=s, meta=meta, sites=sites)


def _scale_variable(data: SeedData) -> str:
    """The settings' scale_variable for data whose scale is a run's derived size ('' otherwise)."""
    from emergence_jax.core.config import SCALE_VARIABLES
    return data.scale_variable if data.scale_variable in SCALE_VARIABLES else ""
