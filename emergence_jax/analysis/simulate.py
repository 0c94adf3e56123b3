"""Synthetic seed populations drawn from the generative models (for calibration and examples).

``simulate_population`` draws from the failure/success mixture of ``emergence_jax.analysis.mixture``
(or its unimodal alternative) and returns the ``SeedData`` the fitter takes. Presets:

    emergent  β > 0, δ > 0: P(success) and the success mean both rise with scale
    inverse   β < 0, δ > 0: P(success) falls with scale while successful runs keep improving
    unimodal  one Beta whose mean moves smoothly with scale (no success/failure split)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from emergence_jax.core.errors import DataError
from emergence_jax.analysis.data import SeedData

__all__ = ["SimParams", "PRESETS", "simulate_population", "preset", "simulate_emergence_times"]


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


def simulate_emergence_times(sizes, seeds_per_size: int = 50, beta0: float = 10.0,
                             beta1: float = -0.8, sigma: float = 0.5, budget: float = 3e4,
                             seed: int = 0):
    """Log-normal accelerated-failure-time draws: log T = β0 + β1·(log N − mean log N) + σ·ε,
    right-censored at ``budget``. Returns (size [M], time [M], event [M] bool)."""
    rng = np.random.default_rng(seed)
    sizes = np.asarray(sizes, np.float64)
    n = np.repeat(sizes, seeds_per_size)
    lx = np.log(n) - np.log(sizes).mean()
    t = np.exp(beta0 + beta1 * lx + sigma * rng.standard_normal(n.size))
    event = t <= budget
    return n, np.minimum(t, budget), event
