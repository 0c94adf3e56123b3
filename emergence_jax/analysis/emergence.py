"""Time to emergence: per-seed emergence steps from learning curves, Kaplan–Meier per scale and a
censored log-normal accelerated-failure-time (AFT) model (NumPyro).

Emergence step of a seed: the first evaluation step at which it succeeds (its metric is past the
success threshold, ``SuccessCriterion``) and keeps succeeding at every later evaluation. Seeds that
never do are right-censored at the training budget (default: the last evaluation step).

AFT model:  log T_i = β₀ + β₁·(log N_i − mean log N) + σ·ε_i,  ε ~ Normal(0, 1)
    observed:  log-normal density of T_i;  censored at c:  log P(T > c) = log Φ(−(log c − μ_i)/σ)
    priors:    β₀ ~ Normal(mean log observed time, 5), β₁ ~ Normal(0, 2), σ ~ HalfNormal(2)
β₁ < 0 means larger models emerge earlier.
"""

from __future__ import annotations

import math

import numpy as np

from emergence_jax.analysis.outcomes import curves, scale_of
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.config import AnalysisConfig
from emergence_jax.core.errors import DataError

__all__ = ["emergence_steps", "kaplan_meier", "fit_aft", "emergence_from_run"]


def emergence_steps(curves, steps, criterion: SuccessCriterion | float,
                    budget: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """curves [..., T] metric per eval step; ``criterion`` a ``SuccessCriterion`` or a threshold
    (success = metric > threshold). Returns (time [...], event [...] bool)."""
    if not isinstance(criterion, SuccessCriterion):
        criterion = SuccessCriterion("value", float(criterion))
    y = np.asarray(curves, np.float64)
    steps = np.asarray(steps, np.float64)
    if y.shape[-1] != steps.size:
        raise DataError(f"curves have {y.shape[-1]} eval steps but {steps.size} steps were given")
    budget = float(steps[-1]) if budget is None else float(budget)
    above = criterion.succeeded(y)
    # stays above from t on  <=>  reverse cumulative AND
    stays = np.flip(np.cumprod(np.flip(above, -1), axis=-1), -1).astype(bool)
    event = stays.any(-1)
    first = np.argmax(stays, axis=-1)
    time = np.where(event, steps[first], budget)
    return time, event


def kaplan_meier(time, event, level: float = 0.95) -> dict:
    """Kaplan–Meier survival curve ("not yet emerged") with Greenwood log-log intervals."""
    t = np.asarray(time, np.float64)
    e = np.asarray(event, bool)
    times = np.unique(t[e])
    surv, var_sum, s = [], 0.0, 1.0
    lo, hi = [], []
    z = _norm_ppf(0.5 + level / 2)
    for u in times:
        at_risk = np.sum(t >= u)
        d = np.sum((t == u) & e)
        s *= 1 - d / at_risk
        if at_risk > d:
            var_sum += d / (at_risk * (at_risk - d))
        surv.append(s)
        if 0 < s < 1:
            se = math.sqrt(var_sum) / abs(math.log(s))
            lo.append(s ** math.exp(z * se))
            hi.append(s ** math.exp(-z * se))
        else:
            lo.append(s)
            hi.append(s)
    surv = np.array(surv)
    below = np.flatnonzero(surv <= 0.5)
    median = float(times[below[0]]) if below.size else math.inf
    return {"time": times, "survival": surv, "lower": np.array(lo), "upper": np.array(hi),
            "median": median, "n": int(t.size), "events": int(e.sum())}


def _norm_ppf(p: float) -> float:
    from scipy.stats import norm
    return float(norm.ppf(p))


def fit_aft(size, time, event, *, chains: int = 2, warmup: int = 300, samples: int = 300,
            seed: int = 0, progress: bool = False, level: float = 0.9) -> dict:
    """Censored log-normal AFT fit (NUTS). Returns posterior draws and summaries of β₀, β₁, σ."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from jax.scipy.special import log_ndtr

    from emergence_jax.analysis.inference import run_nuts

    n = np.asarray(size, np.float64)
    t = np.asarray(time, np.float64)
    e = np.asarray(event, bool)
    if np.any(n <= 0) or np.any(t <= 0):
        raise DataError("sizes and times must be positive")
    lx = np.log(n) - np.log(n).mean()
    logt = np.log(t)
    center = float(logt.mean())

    def model(lx, logt, e):
        b0 = numpyro.sample("beta0", dist.Normal(center, 5.0))
        b1 = numpyro.sample("beta1", dist.Normal(0.0, 2.0))
        sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
        mu = b0 + b1 * lx
        zz = (logt - mu) / sigma
        ll_obs = -0.5 * zz ** 2 - jnp.log(sigma) - 0.5 * math.log(2 * math.pi) - logt
        ll_cens = log_ndtr(-zz)
        numpyro.factor("loglik", jnp.sum(jnp.where(e, ll_obs, ll_cens)))

    args = (jnp.asarray(lx, jnp.float32), jnp.asarray(logt, jnp.float32), jnp.asarray(e))
    draws, diag = run_nuts(model, args, chains=chains, warmup=warmup, samples=samples, seed=seed,
                           progress=progress,
                           init_values={"beta0": center, "beta1": 0.0, "sigma": 1.0})
    a = (1 - level) / 2
    summ = {k: {"mean": float(np.mean(v)), "lower": float(np.quantile(v, a)),
                "upper": float(np.quantile(v, 1 - a))} for k, v in draws.items()}
    return {"draws": {k: np.asarray(v) for k, v in draws.items()}, "summary": summ,
            "diagnostics": diag, "mean_log_size": float(np.log(n).mean()), "level": level}


def emergence_from_run(run, criterion: SuccessCriterion | str, threshold: float | None = None,
                       scale_variable: str | None = None):
    """Per-seed (size, time, event) from a run store's learning curves (``outcomes.curves``:
    completed points, kept seeds). Each point uses its own evaluations; a seed that has not
    emerged is censored at its point's last eval step. ``criterion`` is a ``SuccessCriterion``, or
    a metric name with ``threshold``."""
    if not isinstance(criterion, SuccessCriterion):
        criterion = SuccessCriterion(criterion, AnalysisConfig.threshold if threshold is None
                                     else float(threshold))
    sizes, times, events = [], [], []
    for c in curves(run, criterion.metric):
        t, e = emergence_steps(c.values[c.kept], c.steps, criterion)
        sizes.extend([scale_of(run, c.point, scale_variable)] * int(c.kept.sum()))
        times.extend(t.tolist())
        events.extend(e.tolist())
    return np.array(sizes), np.array(times), np.array(events, bool)
