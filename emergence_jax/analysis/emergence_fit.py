"""The emergence-time fits (``analysis.model = 'emergence-time'`` or ``'emergence-time-cure'``): a
censored log-normal accelerated-failure-time (AFT) model of the step at which seeds acquire a
capability, against scale, and what can be asked of it (``EmergenceTimeFit``).

    times = emergence_times(run, criterion)                  # analysis.emergence
    fit = fit_distribution(times, model="emergence-time")     # or fit_emergence_time(times)
    fit.p_emerged(2000, scale=1e6)      # P(a seed at this scale has emerged by step 2000), Interval
    fit.median_step(1e6), fit.mean_step(1e6), fit.sd_step(1e6)
    fit.save("fits/times"); load_fit("fits/times")           # emergence_jax.io.fit_store

Model, for seed i at raw scale s_i, x_i = log s_i − x̄ (x̄ = mean log of the distinct scales):

    log T_i = β₀ + β₁·x_i + σ(x_i)·ε_i,   ε_i ~ Normal(0, 1),   log σ(x) = η₀ + η₁·x

so T ∝ s^β₁ (β₁ < 0: larger scales emerge earlier) and the spread of log T may change with scale
(η₁). ``emergence-time-cure`` adds a share of seeds that never emerge at any step (a mixture cure
model): P(T ≤ t) = π(x)·Φ((log t − μ(x))/σ(x)) with logit π(x) = α₀ + α₁·x, the right model when
some seeds settle into another solution for good (e.g. copy without an induction head).
Likelihood: a seed seen to emerge at evaluation step t, and not yet at the evaluation before
(t₋, 0 for the first), contributes P(t₋ < T ≤ t) (interval-censored by the evaluation grid); a seed
that never emerged within its budget c contributes P(T > c) (right-censored, never dropped). Rows
with equal (scale, t₋, t, event) share one term weighted by their count.

Priors: β₀ ~ Normal(m, 3) with m = log of the median observed emergence step (of the budget when no
seed emerged); β₁ ~ Normal(0, 2); η₀ ~ Normal(log 0.5, 1); η₁ ~ Normal(0, 1); α₀ ~ Normal(1, 2);
α₁ ~ Normal(0, 2). A single scale drops β₁, η₁ and α₁. With ``compare`` the other variant (with or
without the never-emerging share) is fitted too and PSIS-LOO says whether the data need it.

Every query takes RAW scales and steps, broadcasts them against each other and returns posterior
means with equal-tailed credible intervals (90% by default; ``level=``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time as _time
from pathlib import Path

import numpy as np

from emergence_jax.analysis.emergence import EmergenceTimes, kaplan_meier
from emergence_jax.analysis.fitted import DEFAULT_LEVEL, Interval
from emergence_jax.analysis.inference import Diagnostics
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.config import (EMERGENCE_TIME_MODELS, AnalysisConfig, to_dict,
                                       validate_settings)
from emergence_jax.core.errors import DataError, StoreError
from emergence_jax.io.fit_store import write_fit_files
from emergence_jax.io.location import Location

__all__ = ["PRIORS", "EmergenceTimeFit", "fit_emergence_time"]

EMERGENCE_TIME, EMERGENCE_TIME_CURE = EMERGENCE_TIME_MODELS
PARAMS = ("beta0", "beta1", "log_sigma0", "log_sigma1", "alpha0", "alpha1")
PRIORS = {"beta0": "Normal(log median observed emergence step, 3)", "beta1": "Normal(0, 2)",
          "log_sigma0": "Normal(log 0.5, 1)", "log_sigma1": "Normal(0, 1)",
          "alpha0": "Normal(1, 2) (emergence-time-cure)",
          "alpha1": "Normal(0, 2) (emergence-time-cure)"}
_ALWAYS = 40.0        # logit of the eventual share of the model without a never-emerging share
_LOG_SIGMA_PRIOR = (math.log(0.5), 1.0)
_NO_LOWER = -40.0     # standardised lower end of an interval that starts at step 0


@dataclasses.dataclass(frozen=True)
class _Spec:
    """Which parameters are free (hashable: the compiled sampler is cached per spec)."""
    single_scale: bool
    cure: bool

    @property
    def name(self) -> str:
        return EMERGENCE_TIME_CURE if self.cure else EMERGENCE_TIME

    def alternative(self) -> "_Spec":
        return _Spec(self.single_scale, not self.cure)


def _rows(times: EmergenceTimes, xbar: float, single_scale: bool) -> dict[str, np.ndarray]:
    """Unique (x, lower, time, event) rows with their multiplicities, as float64 arrays, padded
    with weight-0 copies of the first row to a power of two (at least 16): fits of other data with
    a similar number of rows reuse the compiled sampler."""
    x = np.zeros(len(times)) if single_scale else np.log(times.scale) - xbar
    table = np.stack([x, times.lower, times.time, times.event.astype(np.float64)], axis=1)
    unique, counts = np.unique(table, axis=0, return_counts=True)
    size = max(16, 1 << int(math.ceil(math.log2(len(unique)))))
    pad = size - len(unique)
    unique = np.concatenate([unique, np.repeat(unique[:1], pad, axis=0)])
    counts = np.concatenate([counts, np.zeros(pad, counts.dtype)])
    has_lower = unique[:, 1] > 0
    return {"x": unique[:, 0], "log_lower": np.log(np.where(has_lower, unique[:, 1], 1.0)),
            "has_lower": has_lower.astype(np.float64), "log_time": np.log(unique[:, 2]),
            "event": unique[:, 3], "weight": counts.astype(np.float64)}


def _row_loglik(mu, log_sigma, logit_pi, rows):
    """Log-likelihood of each row (jnp; broadcasts over leading parameter axes); ``logit_pi`` is
    the logit of the share of seeds that ever emerge."""
    import jax.numpy as jnp
    from jax.nn import log_sigmoid
    from jax.scipy.special import log_ndtr

    sigma = jnp.exp(log_sigma)
    hi = (rows["log_time"] - mu) / sigma
    lo = jnp.where(rows["has_lower"] > 0, (rows["log_lower"] - mu) / sigma, _NO_LOWER)
    # log(Φ(hi) − Φ(lo)), computed in the tail where it is accurate
    upper_tail = lo > 0
    a = jnp.where(upper_tail, log_ndtr(-lo), log_ndtr(hi))
    b = jnp.where(upper_tail, log_ndtr(-hi), log_ndtr(lo))
    d = jnp.minimum(b - a, -1e-12)
    interval = a + jnp.where(d > -0.693, jnp.log(-jnp.expm1(d)), jnp.log1p(-jnp.exp(d)))
    log_pi, log_never = log_sigmoid(logit_pi), log_sigmoid(-logit_pi)
    censored = jnp.logaddexp(log_never, log_pi + log_ndtr(-hi))
    return jnp.where(rows["event"] > 0, log_pi + interval, censored)


def _make_model(spec: _Spec):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def model(x, log_lower, has_lower, log_time, event, weight, center):
        b0 = numpyro.sample("beta0", dist.Normal(center, 3.0))
        s0 = numpyro.sample("log_sigma0", dist.Normal(*_LOG_SIGMA_PRIOR))
        b1 = 0.0 if spec.single_scale else numpyro.sample("beta1", dist.Normal(0.0, 2.0))
        s1 = 0.0 if spec.single_scale else numpyro.sample("log_sigma1", dist.Normal(0.0, 1.0))
        logit_pi = _ALWAYS
        if spec.cure:
            a0 = numpyro.sample("alpha0", dist.Normal(1.0, 2.0))
            a1 = 0.0 if spec.single_scale else numpyro.sample("alpha1", dist.Normal(0.0, 2.0))
            logit_pi = a0 + a1 * x
        rows = {"log_lower": log_lower, "has_lower": has_lower, "log_time": log_time,
                "event": event}
        ll = _row_loglik(b0 + b1 * x, s0 + s1 * x, logit_pi, rows)
        numpyro.factor("loglik", jnp.sum(weight * ll))

    return model


def _posterior(times: EmergenceTimes, spec: _Spec, xbar: float, s: AnalysisConfig,
               progress: bool):
    """(params {name: [draws]}, diagnostics, pointwise log-likelihood [draws, unique rows],
    row multiplicities)."""
    import jax
    import jax.numpy as jnp

    from emergence_jax.analysis import inference

    rows = _rows(times, xbar, spec.single_scale)
    observed = times.time[times.event]
    center = float(np.log(np.median(observed) if observed.size else times.time.max()))
    names = ("x", "log_lower", "has_lower", "log_time", "event", "weight")
    args = tuple(rows[k] for k in names) + (np.float64(center),)
    init = {"beta0": center, "beta1": 0.0, "log_sigma0": _LOG_SIGMA_PRIOR[0], "log_sigma1": 0.0,
            "alpha0": 1.0, "alpha1": 0.0}
    model = _make_model(spec)
    if s.method == "nuts":
        draws, diag = inference.run_nuts(model, args, cache_key=("emergence-time", spec),
                                         chains=s.chains, warmup=s.warmup, samples=s.samples,
                                         seed=s.seed, progress=progress, init_values=init)
    else:
        draws, diag = inference.run_svi(model, args, steps=s.svi_steps,
                                        samples=s.chains * s.samples, seed=s.seed,
                                        progress=progress, init_values=init,
                                        cache_key=("emergence-time", spec))
    n = np.asarray(draws["beta0"]).shape[0]
    params = {k: np.asarray(draws[k], np.float64).reshape(n) if k in draws else np.zeros(n)
              for k in PARAMS}
    if not spec.cure:
        params["alpha0"] = np.full(n, _ALWAYS)
    with inference.float64():
        p = {k: jnp.asarray(v)[:, None] for k, v in params.items()}
        r = {k: jnp.asarray(rows[k]) for k in ("log_lower", "has_lower", "log_time", "event")}
        x = jnp.asarray(rows["x"])
        ll = jax.jit(lambda p, r, x: _row_loglik(p["beta0"] + p["beta1"] * x,
                                                 p["log_sigma0"] + p["log_sigma1"] * x,
                                                 p["alpha0"] + p["alpha1"] * x, r))(p, r, x)
    return params, diag, np.asarray(ll, np.float64), rows["weight"]


def _compare(fits: dict) -> dict:
    """PSIS-LOO of the model with a never-emerging share against the one without (same rows);
    ``fits`` maps each model's name to (pointwise log-likelihood, row weights, diagnostics)."""
    from emergence_jax.analysis.inference import compare_loo, psis_loo, waic
    res = {name: (psis_loo(ll, w), waic(ll, w), diag) for name, (ll, w, diag) in fits.items()}
    delta, se = compare_loo(res[EMERGENCE_TIME_CURE][0], res[EMERGENCE_TIME][0])
    supported = bool(delta > max(4.0, 2.0 * se))
    if supported:
        verdict = (f"a share of seeds never emerges: the model with a never-emerging share beats "
                   f"the plain log-normal by {delta:.1f} ± {se:.1f} elpd (PSIS-LOO)")
    else:
        verdict = (f"no evidence for a share of seeds that never emerge: with − without = "
                   f"{delta:.1f} ± {se:.1f} elpd (PSIS-LOO); late emergers explain the censored "
                   "seeds as well")
    return {"criterion": "psis-loo", "delta_elpd": delta, "se_delta": se,
            "never_emerging_supported": supported, "verdict": verdict,
            "rule": "a never-emerging share when elpd(cure) - elpd(plain) > max(4, 2 * se)",
            "models": {name: {"elpd_loo": r[0]["elpd"], "se": r[0]["se"],
                              "pareto_k_max": r[0]["pareto_k_max"],
                              "elpd_waic": r[1]["elpd"], "p_waic": r[1]["p_waic"],
                              "diagnostics_ok": r[2].ok} for name, r in res.items()}}


def fit_emergence_time(times: EmergenceTimes, settings: AnalysisConfig | None = None, *,
                       progress: bool = True, warn: bool = True) -> "EmergenceTimeFit":
    """Fits the censored log-normal AFT model (``settings.model``: ``emergence-time``, or
    ``emergence-time-cure`` with a share of seeds that never emerge) to ``times`` with
    ``settings`` (an ``AnalysisConfig``; its ``method``, ``chains``, ``warmup``, ``samples``,
    ``svi_steps``, ``seed`` and ``compare`` are used). ``fit_distribution`` calls this for
    those models."""
    import warnings

    from emergence_jax.analysis.fitting import fit_metadata

    if not isinstance(times, EmergenceTimes):
        raise DataError("the emergence-time model fits EmergenceTimes (analysis.emergence."
                        "emergence_times(run, criterion)), not final outcomes")
    s = validate_settings(settings if settings is not None else AnalysisConfig())
    if s.model not in EMERGENCE_TIME_MODELS:
        s = dataclasses.replace(s, model=EMERGENCE_TIME)
    s = dataclasses.replace(s, metric=times.metric)
    single = times.scales.size == 1
    xbar = float(np.log(times.scales).mean())
    t0 = _time.perf_counter()
    main = _Spec(single_scale=single, cure=s.model == EMERGENCE_TIME_CURE)
    params, diag, ll, w = _posterior(times, main, xbar, s, progress)
    comparison = None
    if s.compare:
        alt = main.alternative()
        _, alt_diag, alt_ll, _ = _posterior(times, alt, xbar, s, progress)
        comparison = _compare({main.name: (ll, w, diag), alt.name: (alt_ll, w, alt_diag)})
    if warn and not diag.ok:
        warnings.warn(diag.message, RuntimeWarning, stacklevel=2)
    meta = fit_metadata(_time.perf_counter() - t0)
    return EmergenceTimeFit(params=params, xbar=xbar, single_scale=single, cure=main.cure,
                            data=times, diagnostics=diag, comparison=comparison, settings=s,
                            meta=meta)


def _summ(draws: np.ndarray, shape: tuple, level: float | None) -> Interval:
    level = DEFAULT_LEVEL if level is None else float(level)
    d = draws.reshape((-1,) + shape)
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2], axis=0)
    scalar = shape == ()
    conv = (lambda v: float(v)) if scalar else (lambda v: np.asarray(v))
    return Interval(conv(d.mean(0)), conv(lo), conv(hi), level)


class EmergenceTimeFit:
    """A fitted distribution of emergence steps as a function of scale (see the module
    docstring)."""

    def __init__(self, *, params: dict[str, np.ndarray], xbar: float, single_scale: bool,
                 cure: bool, data: EmergenceTimes, diagnostics: Diagnostics,
                 comparison: dict | None, settings: AnalysisConfig, meta: dict):
        self.params = params
        self.xbar = float(xbar)
        self.single_scale = bool(single_scale)
        self.cure = bool(cure)
        self.data = data
        self.diagnostics = diagnostics
        self.comparison = comparison
        self.settings = settings
        self.meta = meta

    # ------------------------------------------------------------------ helpers
    @property
    def model(self) -> str:
        return EMERGENCE_TIME_CURE if self.cure else EMERGENCE_TIME

    @property
    def criterion(self) -> SuccessCriterion:
        """What "emerged" means for this fit: the success criterion on the fitted metric."""
        return SuccessCriterion(self.data.metric, float(self.settings.threshold),
                                self.settings.direction)

    @property
    def threshold(self) -> float:
        return float(self.settings.threshold)

    @property
    def num_draws(self) -> int:
        return int(self.params["beta0"].shape[0])

    @property
    def diagnostics_ok(self) -> bool:
        return bool(self.diagnostics.ok)

    def _linear(self, scale) -> tuple[dict[str, np.ndarray], tuple]:
        """Per draw: μ, log σ and the eventual share π at each raw scale, each shaped
        [draws, *scale.shape]."""
        s = np.asarray(scale, np.float64)
        if np.any(~np.isfinite(s)) or np.any(s <= 0):
            raise DataError("scales must be positive finite numbers (raw units)")
        x = np.zeros_like(s) if self.single_scale else np.log(s) - self.xbar
        p = {k: v.reshape((-1,) + (1,) * x.ndim) for k, v in self.params.items()}
        logit = p["alpha0"] + p["alpha1"] * x
        return {"mu": p["beta0"] + p["beta1"] * x,
                "log_sigma": p["log_sigma0"] + p["log_sigma1"] * x,
                "pi": 0.5 * (1 + np.tanh(0.5 * logit))}, s.shape

    def _mu_log_sigma(self, scale) -> tuple[np.ndarray, np.ndarray, tuple]:
        lin, shape = self._linear(scale)
        return lin["mu"], lin["log_sigma"], shape

    # ------------------------------------------------------------------ queries
    def p_emerged(self, step, scale, level: float | None = None) -> Interval:
        """P(a seed at this raw scale has emerged by this step): π·Φ((log t − μ)/σ) (π = 1
        without a never-emerging share). Steps and scales broadcast against each other."""
        from scipy.special import ndtr
        t = np.asarray(step, np.float64)
        if np.any(~np.isfinite(t)) or np.any(t <= 0):
            raise DataError("steps must be positive finite numbers")
        shape = np.broadcast_shapes(t.shape, np.shape(scale))
        lin, _ = self._linear(np.broadcast_to(np.asarray(scale, np.float64), shape))
        z = (np.log(np.broadcast_to(t, shape)) - lin["mu"]) / np.exp(lin["log_sigma"])
        return _summ(lin["pi"] * ndtr(z), shape, level)

    def p_eventually(self, scale, level: float | None = None) -> Interval:
        """π: the share of seeds at this scale that emerge at some step (1 for the model
        without a never-emerging share)."""
        lin, shape = self._linear(scale)
        return _summ(lin["pi"], shape, level)

    def survival(self, step, scale, level: float | None = None) -> Interval:
        """P(a seed at this raw scale has not emerged by this step) = 1 − ``p_emerged``."""
        p = self.p_emerged(step, scale, level)
        return Interval(1 - p.mean, 1 - p.upper, 1 - p.lower, p.level)

    def quantile_step(self, q: float, scale, level: float | None = None) -> Interval:
        """The step by which a share ``q`` of the seeds at this scale that emerge at all have
        emerged (of all seeds, without a never-emerging share). ``median_step``, ``mean_step``
        and ``sd_step`` are conditional on emerging too."""
        from scipy.special import ndtri
        if not 0 < q < 1:
            raise DataError(f"q must be in (0, 1), got {q}")
        mu, log_sigma, shape = self._mu_log_sigma(scale)
        return _summ(np.exp(mu + np.exp(log_sigma) * ndtri(q)), shape, level)

    def median_step(self, scale, level: float | None = None) -> Interval:
        """The step by which half the seeds at this scale have emerged (exp μ)."""
        return self.quantile_step(0.5, scale, level)

    def mean_step(self, scale, level: float | None = None) -> Interval:
        """Expected emergence step at this scale, exp(μ + σ²/2) (extrapolates past the
        training budget)."""
        mu, log_sigma, shape = self._mu_log_sigma(scale)
        return _summ(np.exp(mu + 0.5 * np.exp(2 * log_sigma)), shape, level)

    def sd_step(self, scale, level: float | None = None) -> Interval:
        """Standard deviation of the emergence step across seeds at this scale."""
        mu, log_sigma, shape = self._mu_log_sigma(scale)
        v = np.exp(2 * log_sigma)
        return _summ(np.sqrt(np.expm1(v)) * np.exp(mu + 0.5 * v), shape, level)

    def sigma(self, scale, level: float | None = None) -> Interval:
        """σ(x): the spread of log emergence steps across seeds at this scale."""
        _, log_sigma, shape = self._mu_log_sigma(scale)
        return _summ(np.exp(log_sigma), shape, level)

    def step_exponent(self, level: float | None = None) -> Interval:
        """β₁: emergence steps scale as scale^β₁ (negative: larger scales emerge earlier)."""
        return _summ(self.params["beta1"], (), level)

    def sample(self, scale, n: int, seed: int = 0) -> np.ndarray:
        """n posterior-predictive emergence steps at each raw scale (continuous, uncensored;
        ``inf`` for a seed that never emerges): shape [n] or [*scale.shape, n]."""
        rng = np.random.default_rng(seed)
        lin, shape = self._linear(scale)
        d = rng.integers(0, self.num_draws, size=n)
        z = rng.standard_normal(((n,) + shape))
        out = np.exp(lin["mu"][d] + np.exp(lin["log_sigma"][d]) * z)
        out = np.where(rng.random((n,) + shape) < lin["pi"][d], out, np.inf)
        return np.moveaxis(out, 0, -1)

    # ------------------------------------------------------------------ checks
    def predictive_check(self, level: float = 0.9, seed: int = 0) -> list[dict]:
        """Posterior predictive check per scale, at its evaluation steps nearest to ¼, ½, ¾ and
        all of its budget: the observed number of seeds that had emerged by that step against its
        predictive distribution (posterior draws of F(t), then Binomial(n, F(t))). An
        evaluation step is an exact boundary of the interval-censored data, so the observed count
        is exact there. ``p_value`` is two-sided (mid-p)."""
        from scipy.special import ndtr
        rng = np.random.default_rng(seed)
        out = []
        for scale in self.data.scales:
            d = self.data.at(scale)
            budget = float(d.budget.max())
            grid = np.unique(np.concatenate([d.time, d.lower[d.lower > 0], d.budget]))
            steps = sorted({float(grid[np.argmin(np.abs(grid - f * budget))])
                            for f in (0.25, 0.5, 0.75, 1.0)})
            lin, _ = self._linear(scale)
            for t in steps:
                observed = int((d.event & (d.time <= t)).sum())
                p = lin["pi"] * ndtr((math.log(t) - lin["mu"]) / np.exp(lin["log_sigma"]))
                counts = rng.binomial(len(d), np.clip(p, 0, 1))
                lo, hi = np.quantile(counts, [(1 - level) / 2, (1 + level) / 2])
                below = float((counts < observed).mean() + 0.5 * (counts == observed).mean())
                out.append({"scale": float(scale), "step": t, "n": len(d), "observed": observed,
                            "predicted": float(counts.mean()), "lower": float(lo),
                            "upper": float(hi), "p_value": float(2 * min(below, 1 - below))})
        return out

    # ------------------------------------------------------------------ summary
    def scale_rows(self, level: float | None = None) -> list[dict]:
        """Per fitted scale: seeds, emerged, the Kaplan–Meier median, the empirical and fitted
        P(emerged by the budget), the fitted median emergence step and the steps by which 10% and
        90% of the emerging seeds have emerged. (Quantiles, not the mean and sd: exp(μ + σ²/2)
        is dominated by a few draws of large σ when few seeds emerge, so its posterior mean is
        not a usable summary.)"""
        rows = []
        for scale in self.data.scales:
            d = self.data.at(scale)
            budget = float(d.budget.max())
            p = self.p_emerged(budget, scale, level)
            med = self.median_step(scale, level)
            q10, q90 = (self.quantile_step(q, scale, level) for q in (0.1, 0.9))
            ever = self.p_eventually(scale, level)
            rows.append({"scale": float(scale), "seeds": len(d), "emerged": int(d.event.sum()),
                         "budget": budget, "km_median": kaplan_meier(d.time, d.event)["median"],
                         "p_emerged_empirical": float(d.event.mean()),
                         "p_emerged": p.mean, "p_emerged_lower": p.lower,
                         "p_emerged_upper": p.upper, "p_eventually": ever.mean,
                         "p_eventually_lower": ever.lower, "p_eventually_upper": ever.upper,
                         "median_step": med.mean,
                         "median_step_lower": med.lower, "median_step_upper": med.upper,
                         "step_q10": q10.mean, "step_q90": q90.mean})
        return rows

    def summary(self, level: float | None = None) -> str:
        level = DEFAULT_LEVEL if level is None else level
        d = self.data
        kind = "with a never-emerging share" if self.cure else "every seed emerges eventually"
        lines = [f"{self.model} fit of {d.criterion or d.metric} ({d.scale_variable}); "
                 f"censored log-normal AFT, {kind}; {len(d)} seeds, {int(d.event.sum())} "
                 f"emerged; {100 * level:.0f}% intervals",
                 f"{'scale':>10} {'n':>5} {'emerged':>7} {'budget':>8} {'KM median':>9} "
                 f"{'P(emerged by budget) fit':>28} {'median step (fit)':>26}"]
        for r in self.scale_rows(level):
            p = f"{r['p_emerged']:.3f} [{r['p_emerged_lower']:.3f}, {r['p_emerged_upper']:.3f}]"
            m = (f"{r['median_step']:.4g} [{r['median_step_lower']:.4g}, "
                 f"{r['median_step_upper']:.4g}]")
            lines.append(f"{r['scale']:>10.4g} {r['seeds']:>5d} {r['emerged']:>7d} "
                         f"{r['budget']:>8.4g} {r['km_median']:>9.4g} {p:>28} {m:>26}")
        if not self.single_scale:
            b = self.step_exponent(level)
            s1 = _summ(self.params["log_sigma1"], (), level)
            lines.append(f"emergence step ∝ scale^β₁ with β₁ = {b} (negative: larger scales "
                         f"emerge earlier); log σ slope η₁ = {s1}")
        if self.cure:
            lines.append("share that ever emerges (π) per scale: " + ", ".join(
                f"{r['scale']:.4g}: {r['p_eventually']:.2f} [{r['p_eventually_lower']:.2f}, "
                f"{r['p_eventually_upper']:.2f}]" for r in self.scale_rows(level)))
        lines.append(str(self.diagnostics))
        if self.comparison:
            lines.append(self.comparison["verdict"])
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"EmergenceTimeFit(model={self.model!r}, metric={self.data.metric!r}, "
                f"seeds={len(self.data)}, "
                f"draws={self.num_draws}, diagnostics_ok={self.diagnostics.ok})")

    # ------------------------------------------------------------------ persistence
    def to_record(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(description, arrays) for ``emergence_jax.io.fit_store``."""
        d = self.data
        description = {
            "model": self.model, "priors": PRIORS, "settings": to_dict(self.settings),
            "scale_transform": {"x": "log(scale) - xbar", "xbar": self.xbar,
                                "scale_variable": d.scale_variable,
                                "single_scale": self.single_scale},
            "never_emerging_share": self.cure,
            "metric": d.metric, "criterion": d.criterion, "threshold": self.threshold,
            "data_summary": d.summary(), "data_sha256": d.digest(), "notes": list(d.notes),
            "diagnostics": self.diagnostics.to_json(), "comparison": self.comparison,
            "meta": self.meta,
        }
        arrays = {f"param__{k}": np.asarray(v, np.float64) for k, v in self.params.items()}
        arrays.update({"data__scale": d.scale, "data__time": d.time, "data__lower": d.lower,
                       "data__event": d.event, "data__seed": d.seed, "data__budget": d.budget})
        return description, arrays

    def save(self, path: str | os.PathLike, overwrite: bool = True) -> Path | Location:
        """Writes ``path/posterior.npz`` and ``path/fit.json`` (each atomically)."""
        loc = write_fit_files(path, *self.to_record(), overwrite=overwrite)
        return loc.local if loc.is_local else loc

    @classmethod
    def from_record(cls, description: dict, arrays: dict[str, np.ndarray],
                    where: str = "fit") -> "EmergenceTimeFit":
        """Rebuilds a fit from ``to_record`` output (``StoreError`` when it is inconsistent)."""
        try:
            params = {k: np.asarray(arrays[f"param__{k}"]) for k in PARAMS}
            shapes = {v.shape for v in params.values()}
            if len(shapes) != 1 or len(next(iter(shapes))) != 1:
                raise ValueError("posterior parameter arrays have inconsistent shapes")
            if any(v.dtype.kind != "f" for v in params.values()):
                raise ValueError("posterior parameters are not floating point")
            ds = description["data_summary"]
            data = EmergenceTimes.from_arrays(
                arrays["data__scale"], arrays["data__time"], arrays["data__event"],
                lower=arrays["data__lower"], seed=arrays["data__seed"],
                budget=arrays["data__budget"],
                metric=description["metric"], criterion=description.get("criterion", ""),
                scale_variable=ds["scale_variable"], excluded=ds.get("excluded", 0),
                notes=tuple(description.get("notes", ())))
            transform = description["scale_transform"]
            return cls(params=params, xbar=float(transform["xbar"]),
                       single_scale=bool(transform["single_scale"]),
                       cure=bool(description["never_emerging_share"]), data=data,
                       diagnostics=Diagnostics.from_json(description["diagnostics"]),
                       comparison=description.get("comparison"),
                       settings=validate_settings(description["settings"]),
                       meta=description.get("meta", {}))
        except (KeyError, TypeError, ValueError, DataError) as e:
            raise StoreError(f"{where}: saved emergence-time fit is incomplete or inconsistent "
                             f"({e})") from None
