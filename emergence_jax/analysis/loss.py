"""Performance against pre-training loss (Du et al., "Emergence from the loss perspective").

Threshold model:  p(L) = r + (1 − r)·(1 − exp(−κ·relu(η − L)^γ)),  y ~ Binomial(n, p)
    r: chance level (fixed when given, else Beta(1, 3)); η ~ Uniform(min L, max L);
    κ ~ LogNormal(0, 1.5); γ ~ LogNormal(0, 0.5).
Smooth alternative:  p(L) = r + (1 − r)·sigmoid(a + b·(L − mean L)),  a, b ~ Normal(0, 2.5).
Both are fitted with NUTS and compared by PSIS-LOO (``fit_loss_threshold``).
"""

from __future__ import annotations

import numpy as np

from emergence_jax.core.errors import DataError

__all__ = ["threshold_curve", "fit_loss_threshold"]


def threshold_curve(loss, r: float, eta: float, kappa: float, gamma: float) -> np.ndarray:
    """The threshold model's performance at pre-training ``loss``:
    r + (1 − r)(1 − exp(−κ·relu(η − L)^γ))."""
    d = np.maximum(eta - np.asarray(loss, np.float64), 0.0)
    return r + (1 - r) * (1 - np.exp(-kappa * d ** gamma))


def fit_loss_threshold(loss, k, n, *, chance: float | None = None, chains: int = 2,
                       warmup: int = 300, samples: int = 300, seed: int = 0,
                       progress: bool = False, level: float = 0.9) -> dict:
    """Fits the threshold and the smooth logistic model to (loss, k correct of n) points."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from jax.scipy.special import gammaln

    from emergence_jax.analysis.inference import compare_loo, psis_loo, run_nuts

    L = np.asarray(loss, np.float64)
    k = np.asarray(k, np.float64)
    n = np.broadcast_to(np.asarray(n, np.float64), L.shape).copy()
    if np.any(k < 0) or np.any(k > n) or np.any(n < 1):
        raise DataError("need 0 <= k <= n and n >= 1")
    lo, hi, lbar = float(L.min()), float(L.max()), float(L.mean())
    logc = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)

    def chance_site():
        if chance is not None:
            return jnp.asarray(chance)
        return numpyro.sample("r", dist.Beta(1.0, 3.0))

    def binom_ll(p, k, n, logc):
        p = jnp.clip(p, 1e-6, 1 - 1e-6)
        return logc + k * jnp.log(p) + (n - k) * jnp.log1p(-p)

    def threshold_p(r, eta, kappa, gam, L):
        d = jnp.maximum(eta - L, 0.0)
        dg = jnp.where(d > 0, jnp.power(jnp.where(d > 0, d, 1.0), gam), 0.0)
        return r + (1 - r) * (1 - jnp.exp(-kappa * dg))

    def threshold_model(L, k, n, logc):
        r = chance_site()
        eta = numpyro.sample("eta", dist.Uniform(lo, hi))
        kappa = numpyro.sample("kappa", dist.LogNormal(0.0, 1.5))
        gam = numpyro.sample("gamma", dist.LogNormal(0.0, 0.5))
        numpyro.factor("loglik", jnp.sum(binom_ll(threshold_p(r, eta, kappa, gam, L), k, n, logc)))

    def smooth_model(L, k, n, logc):
        r = chance_site()
        a = numpyro.sample("a", dist.Normal(0.0, 2.5))
        b = numpyro.sample("b", dist.Normal(0.0, 2.5))
        p = r + (1 - r) * jnp.asarray(1.0) / (1 + jnp.exp(-(a + b * (L - lbar))))
        numpyro.factor("loglik", jnp.sum(binom_ll(p, k, n, logc)))

    args = tuple(jnp.asarray(v, jnp.float32) for v in (L, k, n, logc))
    out = {}
    for name, model, init in (
            ("threshold", threshold_model, {"eta": (lo + hi) / 2, "kappa": 1.0, "gamma": 1.0}),
            ("smooth", smooth_model, {"a": 0.0, "b": -1.0})):
        draws, diag = run_nuts(model, args, chains=chains, warmup=warmup, samples=samples,
                               seed=seed, progress=progress, init_values=init)
        d = {kk: np.asarray(v, np.float64) for kk, v in draws.items()}
        r = d.get("r", np.full(next(iter(d.values())).shape, chance if chance is not None else 0.))
        if name == "threshold":
            dd = np.maximum(d["eta"][:, None] - L[None], 0.0)
            p = r[:, None] + (1 - r[:, None]) * (1 - np.exp(-d["kappa"][:, None] *
                                                            dd ** d["gamma"][:, None]))
        else:
            p = r[:, None] + (1 - r[:, None]) / (1 + np.exp(-(d["a"][:, None] + d["b"][:, None] *
                                                             (L[None] - lbar))))
        p = np.clip(p, 1e-6, 1 - 1e-6)
        ll = logc[None] + k[None] * np.log(p) + (n - k)[None] * np.log1p(-p)
        a = (1 - level) / 2
        out[name] = {"draws": d, "diagnostics": diag, "loo": psis_loo(ll),
                     "summary": {kk: {"mean": float(v.mean()), "lower": float(np.quantile(v, a)),
                                      "upper": float(np.quantile(v, 1 - a))}
                                 for kk, v in d.items()}}
    delta, se = compare_loo(out["threshold"]["loo"], out["smooth"]["loo"])
    out["delta_elpd"] = delta
    out["se_delta"] = se
    out["threshold_preferred"] = bool(delta > max(4.0, 2 * se))
    return out
