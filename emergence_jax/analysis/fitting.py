"""Fitting: per-seed data + fit settings -> a ``FittedDistribution``.

    fit = fit_distribution(SeedData.from_csv("seeds.csv"))          # the default settings
    fit = fit_distribution(data, settings)                          # an AnalysisConfig
    fit = fit_distribution(data, method="svi", compare=False)       # settings with overrides

The settings are ``emergence_jax.core.config.AnalysisConfig``, the one definition of what a fit
can be asked to do: the experiment's ``analysis`` section, the flags of ``emergence-jax fit``
(generated from its fields) and the record a saved fit keeps (``fit.settings``).

``settings.model`` picks the model: ``hurdle`` (the default: P(success) is the probability of the
success side of the threshold, with a curve form picked by PSIS-LOO, ``emergence_jax.analysis.
hurdle``), or the latent ``mixture``, ``unimodal`` and hierarchical models
(``emergence_jax.analysis.mixture``). NUTS fits whose diagnostics fail are re-run with the
automatic remedies of ``emergence_jax.analysis.inference.REMEDIES`` before the fit reports a
failure. With ``compare`` the alternative model (the unimodal one; the mixture for a unimodal
fit) is fitted too, and PSIS-LOO decides whether bimodality is supported (``fit.comparison``).
Every fit is checked against its data (``fit.check()``, summarised in ``fit.meta["check"]``).
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import time
from typing import Any, Callable

import numpy as np

from emergence_jax.analysis.data import SeedData
from emergence_jax.analysis.fitted import FittedDistribution
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.config import (EMERGENCE_TIME_MODELS, AnalysisConfig, to_dict,
                                       validate_settings)
from emergence_jax.core.errors import ConfigError, DataError

__all__ = ["MODEL_REVISION", "REPORT_SETTINGS", "compare_models", "fit_data", "fit_distribution",
           "fit_metadata", "is_current", "resolve_settings", "same_fit_settings",
           "settings_for_run"]

# Settings that only the report reads: a fit made with other values of them is the same fit.
REPORT_SETTINGS = ("loss_metric",)


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


def same_fit_settings(a: AnalysisConfig, b: AnalysisConfig) -> bool:
    """True when fits made with ``a`` and ``b`` are the same fit (``REPORT_SETTINGS`` aside)."""
    report_only = {name: getattr(b, name) for name in REPORT_SETTINGS}
    return dataclasses.replace(a, **report_only) == b


def fit_data(run, settings: AnalysisConfig, *, verbose: bool = True):
    """What a fit of ``settings`` (filled in by ``settings_for_run``) reads from a run store: the
    final outcomes (``SeedData``), or for ``model='emergence-time'`` the per-seed emergence steps
    (``EmergenceTimes``) from the learning curves (the emergence-time models)."""
    from emergence_jax.analysis.outcomes import seed_data
    if settings.model in EMERGENCE_TIME_MODELS:
        from emergence_jax.analysis.emergence import emergence_times
        criterion = SuccessCriterion(settings.metric, settings.threshold, settings.direction)
        return emergence_times(run, criterion, settings.scale_variable, verbose=verbose)
    return seed_data(run, settings.metric, settings.scale_variable, verbose=verbose)


# Raised whenever a model's likelihood or priors change, so that a fit saved by an earlier
# revision is fitted again instead of re-used (``is_current``). 2: the hurdle's within-side
# curvature (η) and concentration slope (ζ).
MODEL_REVISION = 2


def fit_metadata(seconds: float) -> dict:
    """The ``meta`` record of a fit: library versions, model revision, fitting time, creation
    date."""
    return {"versions": _versions(), "model_revision": MODEL_REVISION, "seconds": seconds,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def is_current(fit) -> bool:
    """Whether a (loaded) fit was made by the models of this version (``MODEL_REVISION``)."""
    return fit.meta.get("model_revision", 1) == MODEL_REVISION


def _versions() -> dict:
    import jax
    import numpyro
    import scipy
    return {"python": sys.version.split()[0], "numpy": np.__version__, "jax": jax.__version__,
            "numpyro": numpyro.__version__, "scipy": scipy.__version__,
            "platform": platform.platform()}


@dataclasses.dataclass
class _Posterior:
    """One model fitted to the data: its parameters, diagnostics and pointwise log-likelihood
    on unique rows (``weights`` = multiplicities, ``inverse`` = seed -> row)."""
    spec: Any
    params: dict
    sites: dict
    diagnostics: Any
    loglik: np.ndarray | Callable[[], np.ndarray]   # [draws, rows], or how to compute it
    weights: np.ndarray
    inverse: np.ndarray
    seed_prob: np.ndarray | None
    xbar: float
    unit: float = 1.0
    curve: dict | None = None


def _posterior(data: SeedData, model: str, settings: AnalysisConfig, progress: bool
               ) -> _Posterior:
    from emergence_jax.analysis.inference import float64
    with float64():
        if model == "hurdle":
            return _hurdle_posterior(data, settings, progress)
        return _mixture_posterior(data, model, settings, progress)


def _sample(model_fn, args, cache_key, init, s: AnalysisConfig, progress: bool,
            hierarchical: bool = False, remedies: bool = True):
    """NUTS (re-run with the automatic remedies while its diagnostics fail, unless
    ``remedies`` is False) or SVI."""
    from emergence_jax.analysis import inference
    if s.method == "nuts":
        return inference.run_nuts_with_remedies(
            model_fn, args, cache_key=cache_key, chains=s.chains, warmup=s.warmup,
            samples=s.samples, seed=s.seed, progress=progress, init_values=init,
            laplace_init=not hierarchical, dense_mass=False if hierarchical else None,
            remedies=remedies)
    return inference.run_svi(model_fn, args, steps=s.svi_steps, samples=s.chains * s.samples,
                             seed=s.seed, progress=progress, init_values=init,
                             cache_key=cache_key, laplace_init=not hierarchical)


def _mixture_posterior(data: SeedData, model: str, s: AnalysisConfig, progress: bool
                       ) -> _Posterior:
    from emergence_jax.analysis import inference, mixture
    likelihood = None if s.likelihood == "auto" else s.likelihood
    spec, prep = mixture.prepare(data, model, chance=s.chance, likelihood=likelihood,
                                 bins=s.value_bins)
    args = inference._as_float64(tuple(prep.arrays().values()))
    draws, diag = _sample(mixture.make_model(spec), args, spec,
                          mixture.init_values(data, spec, s.threshold), s, progress,
                          hierarchical=spec.hierarchical)
    params = mixture.canonical_params(draws, spec)
    ll, resp = mixture.pointwise(params, spec, prep)
    seed_prob = None if resp is None else resp.mean(0)[prep.inverse]
    sites = {k: np.asarray(v) for k, v in draws.items() if k not in params}
    return _Posterior(spec=spec, params=params, sites=sites, diagnostics=diag, loglik=ll,
                      weights=prep.w[:prep.n_unique], inverse=prep.inverse, seed_prob=seed_prob,
                      xbar=prep.xbar)


def _hurdle_posterior(data: SeedData, s: AnalysisConfig, progress: bool) -> _Posterior:
    from emergence_jax.analysis import hurdle, inference
    likelihood = None if s.likelihood == "auto" else s.likelihood
    spec, prep = hurdle.prepare(data, s.threshold, s.direction, likelihood=likelihood,
                                curve=s.curve, bins=s.value_bins)

    def sample_within():
        with inference.float64():      # x64 is per thread
            args = inference._as_float64(tuple(prep.arrays().values()))
            return _sample(hurdle.make_model(spec), args, spec, hurdle.init_values(spec, prep),
                           s, progress)
    # The posterior factorises (module docstring of ``hurdle``), so the within-side sampler
    # compiles and runs in a second thread while the curve forms are sampled here: XLA
    # compilation and execution release the GIL, and compilation is most of a fit of modest
    # size.
    t0 = time.perf_counter()
    (params, curve, diag_curve), (draws, within) = inference.side_by_side(
        lambda: _sample_curve_forms(spec, prep, s, progress), sample_within)
    params.update(hurdle.canonical_params(draws, spec))
    diag = inference.combine_diagnostics({f"P(success) curve ({curve['chosen']})": diag_curve,
                                          "within the sides": within})
    diag.seconds = time.perf_counter() - t0     # the two ran side by side
    chosen = curve["chosen"]
    return _Posterior(spec=spec, params=params, sites={}, diagnostics=diag,
                      # draws x rows: computed only when a model comparison asks for it
                      loglik=lambda: hurdle.pointwise(params, chosen, spec, prep),
                      weights=prep.rw[:prep.n_unique], inverse=prep.inverse,
                      seed_prob=prep.succeeded.astype(np.float64), xbar=prep.center,
                      unit=prep.unit, curve=curve)


def _sample_curve_forms(spec, prep, s: AnalysisConfig, progress: bool):
    """Every curve form of ``spec`` sampled (one compiled sampler, each form its own run with its
    own adaptation and diagnostics; the automatic remedies are spent only on the form that
    PSIS-LOO picks): (the chosen form's parameters, the ``curve`` record of the fit, the chosen
    form's diagnostics)."""
    from emergence_jax.analysis import hurdle, inference
    curve_model = hurdle.make_curve_model(spec)
    params, loo, diags = {}, {}, {}

    def sample_form(form: str, remedies: bool):
        args = inference._as_float64((np.int32(spec.curves.index(form)),)
                                     + prep.curve_arrays())
        draws, diags[form] = _sample(curve_model, args, ("hurdle-curves", spec.curves,
                                                         spec.knots),
                                     hurdle.curve_init(form, spec, prep), s, progress,
                                     remedies=remedies)
        params.update(hurdle.curve_params(draws["theta"], form, spec))
        ll, w, _, _ = hurdle.side_loglik(params, form, spec, prep)
        loo[form] = inference.psis_loo(ll, w)
    for form in spec.curves:
        sample_form(form, remedies=False)
    chosen, _ = hurdle.select_curve(loo)
    if not diags[chosen].ok and s.method == "nuts":
        sample_form(chosen, remedies=True)
    chosen, table = hurdle.select_curve(loo, {f: d.ok for f, d in diags.items()})
    for form, d in diags.items():
        table[form]["diagnostics"] = d.message
    curve = {"chosen": chosen, "sampled": list(spec.curves), "requested": s.curve,
             "criterion": "psis-loo on the success/failure sides",
             "rule": "the simplest form whose elpd is within max(1, SE of the difference) of "
                     "the best", "forms": table}
    return params, curve, diags[chosen]


def _aligned(a: _Posterior, b: _Posterior) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two fits' pointwise log-likelihoods on common rows (unique pairs of their rows, each
    weighted by the seeds it holds)."""
    pairs, count = np.unique(np.stack([a.inverse, b.inverse], 1), axis=0, return_counts=True)
    return _loglik(a)[:, pairs[:, 0]], _loglik(b)[:, pairs[:, 1]], count.astype(np.float64)


def _loglik(post: _Posterior) -> np.ndarray:
    return post.loglik() if callable(post.loglik) else post.loglik


def compare_models(fits: dict, weights: np.ndarray) -> dict:
    """PSIS-LOO comparison of a model with two outcome modes (mixture or hurdle) and the
    unimodal one, on the same rows. ``fits`` maps each model's name to (kind, pointwise
    log-likelihood [draws, rows], diagnostics)."""
    from emergence_jax.analysis.inference import compare_loo, psis_loo, waic
    res = {name: (kind, psis_loo(ll, weights), waic(ll, weights), diag)
           for name, (kind, ll, diag) in fits.items()}
    two = next(name for name, r in res.items() if r[0] != "unimodal")
    uni = next(name for name, r in res.items() if r[0] == "unimodal")
    delta, se = compare_loo(res[two][1], res[uni][1])
    supported = bool(delta > max(4.0, 2.0 * se))
    what = ("the hurdle model (separate success and failure sides of the threshold)"
            if res[two][0] == "hurdle" else "the mixture")
    if supported:
        verdict = (f"bimodality supported: {what} beats the unimodal model by "
                   f"{delta:.1f} ± {se:.1f} elpd (PSIS-LOO)")
    elif delta < -max(4.0, 2.0 * se) or delta < 4.0:
        verdict = (f"bimodality not supported: {two} − unimodal = {delta:.1f} ± {se:.1f} elpd "
                   "(PSIS-LOO); a single distribution moving with scale explains the data as "
                   "well")
    else:
        verdict = (f"bimodality inconclusive: {two} − unimodal = {delta:.1f} ± {se:.1f} elpd "
                   "(PSIS-LOO), within two standard errors")
    return {
        "criterion": "psis-loo", "delta_elpd": delta, "se_delta": se,
        "bimodal_supported": supported, "verdict": verdict,
        "rule": f"bimodal when elpd({two}) - elpd(unimodal) > max(4, 2 * se)",
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
    (``fit_distribution(data, method="svi")``). ``model="emergence-time"`` (or
    ``"emergence-time-cure"``) fits per-seed emergence steps (``EmergenceTimes``) instead and
    returns an ``EmergenceTimeFit``
    (``emergence_jax.analysis.emergence_fit``)."""
    import warnings

    s = resolve_settings(settings, **overrides)
    if s.model in EMERGENCE_TIME_MODELS:
        from emergence_jax.analysis.emergence_fit import fit_emergence_time
        return fit_emergence_time(data, dataclasses.replace(
            s, scale_variable=_scale_variable(data)), progress=progress, warn=warn)
    if not isinstance(data, SeedData):
        raise DataError("fit_distribution expects a SeedData (see SeedData.from_arrays/from_csv)")
    if s.direction != "above" and s.model != "hurdle":
        raise ConfigError(f"analysis.direction: the {s.model} model treats high values as "
                          "success; allowed for it: 'above' (fit 1 - metric for a metric where "
                          "lower is better), or use model='hurdle', which takes either direction")
    s = dataclasses.replace(s, metric=data.metric, scale_variable=_scale_variable(data))
    t0 = time.perf_counter()
    post = _posterior(data, s.model, s, progress)
    comparison = None
    if s.compare:
        alt = _posterior(data, post.spec.alternative().name, s, progress)
        a, b, w = _aligned(post, alt)
        comparison = compare_models({post.spec.name: (post.spec.kind, a, post.diagnostics),
                                     alt.spec.name: (alt.spec.kind, b, alt.diagnostics)}, w)
    meta = fit_metadata(time.perf_counter() - t0)
    fit = FittedDistribution(spec=post.spec, params=post.params, xbar=post.xbar,
                             groups=data.groups, data=data, seed_prob=post.seed_prob,
                             diagnostics=post.diagnostics, comparison=comparison, settings=s,
                             meta=meta, sites=post.sites, unit=post.unit, curve=post.curve)
    fit.meta["check"] = fit.check().to_json(brief=True)
    if warn:
        for message in fit.warnings():
            warnings.warn(message, RuntimeWarning, stacklevel=2)
    return fit


def _scale_variable(data) -> str:
    """The settings' scale_variable for data whose scale is a run's derived size or swept field
    ('' otherwise, e.g. a CSV's scale column)."""
    from emergence_jax.core.config import SCALE_VARIABLES
    v = data.scale_variable
    return v if v in SCALE_VARIABLES or "." in v else ""
