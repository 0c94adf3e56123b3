"""Synthetic seed populations (for calibration, tests and examples).

``simulate_population`` draws from the failure/success mixture of ``emergence_jax.analysis.mixture``
(or its unimodal alternative) and returns the ``SeedData`` the fitter takes. Presets:

    emergent  β > 0, δ > 0: P(success) and the success mean both rise with scale
    inverse   β < 0, δ > 0: P(success) falls with scale while successful runs keep improving
    unimodal  one Beta whose mean moves smoothly with scale (no success/failure split)

``simulate_outside`` draws from generators that none of the fitted models contains
(``GENERATORS``): P(success) curves with plateaus, floors, steps, slopes and falls, within-side
distributions that are not Beta (two bumps plus point masses at 0 and 1), values on a 1/n grid,
few seeds per scale. Each seed's side of the threshold is drawn first with the known
probability P(success), and its value is drawn inside that side, so the true P(success) of
every scale is known exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from emergence_jax.core.errors import DataError
from emergence_jax.analysis.data import SeedData

__all__ = ["SimParams", "PRESETS", "simulate_population", "preset", "simulate_emergence_times",
           "Generator", "GENERATORS", "simulate_outside"]


@dataclasses.dataclass(frozen=True)
class SimParams:
    """Parameters of a simulated population: the scale grid, seeds per scale, evaluation examples
    (None for continuous values) and the generative mixture's coefficients."""
    scales: tuple = (1e5, 3e5, 1e6, 3e6, 1e7, 3e7)
    seeds_per_scale: int = 200
    alpha: float = 0.0
    beta: float = 1.0
    gamma: float = 1.0
    delta: float = 0.5
    fail_mean: float = 0.03
    kappa_fail: float = 30.0
    kappa_success: float = 20.0
    n_eval: int | None = 200
    p_zero_fail: float = 0.0      # continuous only: exact-0 mass of the failure component
    p_one_success: float = 0.0    # continuous only: exact-1 mass of the success component
    kind: str = "mixture"         # "mixture" | "unimodal"
    kappa: float = 15.0           # unimodal concentration


PRESETS = {
    "emergent": SimParams(alpha=-0.5, beta=1.2, gamma=0.8, delta=0.4),
    "inverse": SimParams(alpha=0.3, beta=-1.0, gamma=0.5, delta=0.6),
    "unimodal": SimParams(kind="unimodal", gamma=-0.5, delta=0.5, kappa=15.0),
}


def preset(name: str, **overrides) -> SimParams:
    """A named parameter set (``PRESETS``: emergent, inverse, unimodal) with ``overrides``."""
    if name not in PRESETS:
        raise DataError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def simulate_population(params: SimParams | str = "emergent", seed: int = 0, *,
                        return_truth: bool = False, **overrides):
    """Draws seeds_per_scale seeds at each scale. Returns SeedData (and, with ``return_truth``, the
    per-seed true component labels: 1 = success, 0 = failure; all 1 for the unimodal kind)."""
    p = preset(params, **overrides) if isinstance(params, str) else dataclasses.replace(
        params, **overrides)
    rng = np.random.default_rng(seed)
    scales = np.asarray(p.scales, np.float64)
    if np.any(scales <= 0):
        raise DataError("scales must be positive")
    s = np.repeat(scales, p.seeds_per_scale)
    logs = np.log(scales)
    x = np.log(s) - logs.mean()
    if scales.size == 1:
        x = np.zeros_like(x)
    N = s.size
    mu_s = _sigmoid(p.gamma + p.delta * x)
    if p.kind == "unimodal":
        z = np.ones(N, np.int64)
        mu, kap = mu_s, np.full(N, p.kappa)
    else:
        pi = _sigmoid(p.alpha + p.beta * x)
        z = (rng.random(N) < pi).astype(np.int64)
        mu = np.where(z == 1, mu_s, p.fail_mean)
        kap = np.where(z == 1, p.kappa_success, p.kappa_fail)
    mu = np.clip(mu, 1e-6, 1 - 1e-6)
    q = rng.beta(mu * kap, (1 - mu) * kap)
    if p.n_eval is not None:
        value = rng.binomial(p.n_eval, q) / p.n_eval
        n_eval = np.full(N, p.n_eval)
    else:
        u = rng.random(N)
        value = q.copy()
        if p.kind == "mixture":
            value = np.where((z == 0) & (u < p.p_zero_fail), 0.0, value)
            value = np.where((z == 1) & (u < p.p_one_success), 1.0, value)
        n_eval = None
    seeds = np.tile(np.arange(p.seeds_per_scale), scales.size)
    data = SeedData.from_arrays(s, value, seeds, n_eval=n_eval, metric="simulated")
    return (data, z) if return_truth else data


def simulate_emergence_times(scales, seeds_per_scale: int = 50, beta0: float = 10.0,
                             beta1: float = -0.8, sigma: float = 0.5, sigma_slope: float = 0.0,
                             budget: float = 3e4, eval_every: float | None = None,
                             eventual_logit: tuple[float, float] | None = None, seed: int = 0):
    """Emergence steps from the log-normal accelerated-failure-time model: log T = β0 + β1·x +
    σ(x)·ε with x = log scale − mean log scale and log σ(x) = log σ + ``sigma_slope``·x; with
    ``eventual_logit`` = (α₀, α₁) only a share sigmoid(α₀ + α₁·x) of the seeds ever emerges (the
    others never do). Seeds past ``budget`` are right-censored there; with ``eval_every`` the steps are seen on that
    evaluation grid (a seed emerging at T is recorded at the first evaluation ≥ T, with the one
    before as its lower end). Returns ``EmergenceTimes``."""
    from emergence_jax.analysis.emergence import EmergenceTimes
    rng = np.random.default_rng(seed)
    scales = np.asarray(scales, np.float64)
    n = np.repeat(scales, seeds_per_scale)
    x = np.log(n) - np.log(scales).mean()
    t = np.exp(beta0 + beta1 * x + sigma * np.exp(sigma_slope * x) * rng.standard_normal(n.size))
    if eventual_logit is not None:
        share = 1 / (1 + np.exp(-(eventual_logit[0] + eventual_logit[1] * x)))
        t = np.where(rng.random(n.size) < share, t, np.inf)
    event = t <= budget
    if eval_every:
        time = np.minimum(np.ceil(t / eval_every) * eval_every, budget)
        lower = np.where(event, time - eval_every, budget)
    else:
        time = np.minimum(t, budget)
        lower = np.where(event, 0.0, budget)
    return EmergenceTimes.from_arrays(n, time, event, lower=lower,
                                      seed=np.tile(np.arange(seeds_per_scale), scales.size),
                                      budget=np.full(n.size, float(budget)),
                                      metric="simulated", scale_variable="scale")


# ------------------------------------------------------------------ outside the models' families


@dataclasses.dataclass(frozen=True)
class Generator:
    """A population outside the fitted models' families. ``curve`` gives the true P(success) at
    z ∈ [−1, 1] (the observed log-scale range); values lie on the success side of ``threshold``
    with that probability, within a side as two bumps plus point masses at 0 and 1 (a share
    ``ends`` of the seeds; ``drift``: the bumps move with scale). ``n_eval``: counts out of n; ``grid``: continuous values rounded
    to a 1/grid grid (no n_eval)."""
    name: str
    description: str
    curve: Callable[[np.ndarray], np.ndarray]
    scales: int
    seeds: int
    n_eval: int | None = None
    grid: int | None = None
    drift: float = 0.0
    ends: float = 0.3             # share of seeds exactly at 0 (failures) or 1 (successes)
    threshold: float = 0.5


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-z))


GENERATORS = {g.name: g for g in (
    Generator("plateau", "rises quickly, then plateaus at 0.8 (a share of seeds never succeeds); "
              "40 checkpoints x 20 seeds, counts out of 100",
              lambda z: 0.8 * _logistic(6 * (z + 0.4)), scales=40, seeds=20, n_eval=100),
    Generator("floor", "a floor of 0.3 (seeds that always succeed) rising to 1; 12 x 50, "
              "continuous", lambda z: 0.3 + 0.7 * _logistic(4 * (z - 0.2)), scales=12, seeds=50),
    Generator("steep", "a step between two adjacent scales, 0.03 -> 0.97; 12 x 50, counts out "
              "of 50", lambda z: 0.03 + 0.94 * _logistic(60 * (z - 0.1)), scales=12, seeds=50,
              n_eval=50),
    Generator("gradual", "a slow linear rise 0.15 -> 0.65 across the observed range; 12 x 50, "
              "counts out of 200", lambda z: 0.4 + 0.25 * z, scales=12, seeds=50, n_eval=200),
    Generator("grid", "values on a 1/20 grid without n_eval, most exactly 0 or 1; 26 x 10",
              lambda z: _logistic(3.5 * z), scales=26, seeds=10, grid=20, ends=0.7),
    Generator("drift", "the success and failure modes drift with scale; 10 x 60, continuous",
              lambda z: _logistic(2.5 * z + 0.3), scales=10, seeds=60, drift=1.0),
    Generator("inverse", "inverse scaling: P(success) falls 0.9 -> 0.2; 12 x 50, counts out of "
              "100", lambda z: 0.9 - 0.7 * _logistic(3 * (z - 0.2)), scales=12, seeds=50,
              n_eval=100),
    Generator("few_seeds", "3 seeds per scale at 60 scales; counts out of 20",
              lambda z: _logistic(3 * z), scales=60, seeds=3, n_eval=20),
    Generator("u_shape", "non-monotone: falls then recovers, 0.7 -> 0.25 -> 0.75; 15 x 40, "
              "continuous", lambda z: 0.25 + 0.5 * z ** 2, scales=15, seeds=40),
)}


def _bumps(rng, n: int, centres: np.ndarray, widths: tuple, weights: tuple) -> np.ndarray:
    """n draws in (0, 1) from a mixture of two normals truncated to (0, 1) (per-draw centres)."""
    out = np.empty(n)
    first = rng.random(n) < weights[0]
    for sel, c, w in ((first, centres[:, 0], widths[0]), (~first, centres[:, 1], widths[1])):
        idx = np.flatnonzero(sel)
        while idx.size:
            v = c[idx] + w * rng.standard_normal(idx.size)
            ok = (v > 0) & (v < 1)
            out[idx[ok]] = v[ok]
            idx = idx[~ok]
    return out


def simulate_outside(name: str | Generator, seed: int = 0, **overrides):
    """A population from a generator outside the models' families: returns (SeedData, true
    P(success) at each distinct scale, ascending). ``overrides`` replace the generator's
    fields (e.g. ``seeds=``)."""
    from emergence_jax.analysis.hurdle import count_supports
    from emergence_jax.analysis.success import SuccessCriterion
    g = GENERATORS[name] if isinstance(name, str) else name
    g = dataclasses.replace(g, **overrides)
    rng = np.random.default_rng(seed)
    scales = np.logspace(5, 8, g.scales)
    z = np.linspace(-1.0, 1.0, g.scales)
    truth = np.clip(g.curve(z), 0.0, 1.0)
    zs = np.repeat(z, g.seeds)
    N = zs.size
    success = rng.random(N) < np.repeat(truth, g.seeds)
    t = g.threshold
    # position within the side, as two bumps; exact 0 (failure) and 1 (success) point masses
    shift = g.drift * 0.25 * zs
    u_s = _bumps(rng, N, np.stack([0.85 + 0.5 * shift, 0.35 + shift], 1), (0.07, 0.15),
                 (0.6, 0.4))
    u_f = _bumps(rng, N, np.stack([0.1 + 0.5 * shift, 0.6 + shift], 1), (0.06, 0.2), (0.7, 0.3))
    value = np.where(success, t + (1 - t) * u_s, t * u_f)
    at_end = rng.random(N) < g.ends
    value = np.where(at_end, np.where(success, 1.0, 0.0), value)
    criterion = SuccessCriterion("simulated", t)
    n_eval = None
    if g.n_eval is not None or g.grid is not None:
        n = g.n_eval or g.grid
        sup = count_supports(n, criterion)
        k = np.round(value * n)
        lo = np.where(success, sup["success"][0], sup["failure"][0])
        hi = lo + np.where(success, sup["success"][1], sup["failure"][1])
        value = np.clip(k, lo, hi) / n          # rounding never moves a seed across the threshold
        n_eval = g.n_eval
    data = SeedData.from_arrays(np.repeat(scales, g.seeds), value,
                                np.tile(np.arange(g.seeds), g.scales), n_eval=n_eval,
                                metric="simulated")
    return data, truth
