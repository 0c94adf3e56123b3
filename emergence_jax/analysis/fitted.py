"""``FittedDistribution``: the fitted outcome distribution as a function of scale, and what can be
asked of it (made by ``emergence_jax.analysis.fitting.fit_distribution``).

    fit.p_success(1e7)            # Interval(mean, lower, upper, level)
    fit.breakthrough_scale(0.5)   # raw scale where P(success) crosses 0.5
    fit.save("fits/count")        # posterior.npz + fit.json (emergence_jax.io.fit_store)
    same = load_fit("fits/count") # identical answers; never unpickles or executes stored content

    fit.check()                   # posterior predictive checks against the fitted data
    fit.to_arviz()                # an ArviZ InferenceData (posterior, log likelihood, ...)

Every query takes scales in RAW units (the transform x = log(scale) − x̄ is applied inside) and
returns posterior means with equal-tailed credible intervals, 90% by default (``level=``).
What ``p_success`` means depends on the model: for the hurdle model (the default) it is the
probability that a seed's metric lands on the success side of the threshold, by construction;
for the latent mixture it is the success-component weight π(x) (which can differ from the share
of seeds past the threshold — ``check()`` shows by how much); for the unimodal model it is the
probability of the success side under the fitted distribution.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from emergence_jax.analysis import curve_forms, hurdle
from emergence_jax.analysis.data import SeedData
from emergence_jax.analysis.inference import Diagnostics
from emergence_jax.analysis.mixture import PRIORS, ModelSpec
from emergence_jax.analysis.predictive import Component, Predictive
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.config import (EMERGENCE_TIME_MODELS, AnalysisConfig, to_dict,
                                       validate_settings)
from emergence_jax.core.errors import DataError, StoreError
from emergence_jax.io.fit_store import read_fit_files, write_fit_files
from emergence_jax.io.location import Location

__all__ = ["Interval", "Breakthrough", "FittedDistribution", "load_fit"]

DEFAULT_LEVEL = 0.9


@dataclasses.dataclass(frozen=True)
class Interval:
    """Posterior mean and equal-tailed credible interval (arrays shaped like the query)."""
    mean: Any
    lower: Any
    upper: Any
    level: float

    def to_dict(self) -> dict:
        def conv(v):
            return v.tolist() if isinstance(v, np.ndarray) else v
        return {"mean": conv(self.mean), "lower": conv(self.lower), "upper": conv(self.upper),
                "level": self.level}

    def __str__(self) -> str:
        if np.ndim(self.mean) == 0:
            return f"{float(self.mean):.3g} [{float(self.lower):.3g}, {float(self.upper):.3g}]"
        return repr(self)


@dataclasses.dataclass(frozen=True)
class Breakthrough:
    """Raw scale where P(success) crosses p. ``median``/``lower``/``upper`` summarise the posterior of
    the crossing scale (inf / 0 when most draws never cross in that direction). ``direction`` is
    "rising", "falling" or "none"; ``p_rising`` the posterior share of draws whose P(success)
    rises with scale (β > 0 for a logistic curve); ``p_within_observed`` the share of draws
    crossing inside the observed scale range."""
    p: float
    median: float
    lower: float
    upper: float
    level: float
    direction: str
    p_rising: float
    p_within_observed: float
    message: str
    draws: np.ndarray = dataclasses.field(repr=False, default=None)

    def __str__(self) -> str:
        return self.message


def _quantiles(draws: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    lo = (1 - level) / 2
    q = np.quantile(draws, [lo, 1 - lo], axis=axis)
    return q[0], q[1]


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def _squeeze(v, scalar: bool):
    v = np.asarray(v)
    return float(v) if scalar and v.ndim == 0 else v


class FittedDistribution:
    """A fitted distribution of seed outcomes as a function of scale (see the module docstring)."""

    def __init__(self, *, spec: ModelSpec, params: dict[str, np.ndarray], xbar: float,
                 groups: list[str], data: SeedData, seed_prob: np.ndarray | None,
                 diagnostics: Diagnostics, comparison: dict | None, settings: AnalysisConfig,
                 meta: dict, sites: dict[str, np.ndarray] | None = None, unit: float = 1.0,
                 curve: dict | None = None):
        self.spec = spec
        self.params = params
        self.xbar = float(xbar)
        self.unit = float(unit)
        self.curve = curve
        self.groups = list(groups)
        self.data = data
        self._seed_prob = seed_prob
        self.diagnostics = diagnostics
        self.comparison = comparison
        self.settings = settings
        self.meta = meta
        self.sites = sites or {}
        self._checks: dict = {}
        self.n_eval = None
        if spec.likelihood == "betabinomial":
            gi = data.group_index()
            self.n_eval = [int(np.bincount(data.n_eval[gi == j]).argmax()) for j in
                           range(len(self.groups))]

    # ------------------------------------------------------------------ helpers
    @property
    def model(self) -> str:
        return self.spec.name

    @property
    def curve_form(self) -> str | None:
        """The P(success) curve form of a hurdle fit (None for the other models)."""
        return self.curve["chosen"] if self.curve else None

    @property
    def threshold(self) -> float:
        return float(self.settings.threshold)

    @property
    def criterion(self) -> SuccessCriterion:
        """What success means for this fit (the fitted metric and the threshold)."""
        return SuccessCriterion(self.data.metric, self.threshold, self.settings.direction)

    @property
    def num_draws(self) -> int:
        return int(next(iter(self.params.values())).shape[0])

    def _g(self, group) -> int:
        if group is None:
            if len(self.groups) > 1:
                raise DataError(f"this fit has groups {self.groups}; pass group=")
            return 0
        if isinstance(group, (int, np.integer)):
            return int(group)
        if group not in self.groups:
            raise DataError(f"unknown group {group!r}; groups are {self.groups}")
        return self.groups.index(group)

    def _x(self, scale) -> tuple[np.ndarray, bool]:
        s = np.asarray(scale, np.float64)
        if np.any(~np.isfinite(s)) or np.any(s <= 0):
            raise DataError("scales must be positive finite numbers (raw units, e.g. parameters)")
        x = np.log(s) - self.xbar
        if self.spec.single_scale:
            x = np.zeros_like(x)
        return x, s.ndim == 0

    def _p(self, name: str, g: int, draws=None) -> np.ndarray:
        v = self.params[name][:, g]
        return v if draws is None else v[draws]

    def _p_or(self, name: str, default: float, g: int, draws=None) -> np.ndarray:
        """A parameter, or ``default`` for every draw where the fit has none (e.g. fits saved
        before it existed)."""
        if name in self.params:
            return self._p(name, g, draws)
        return np.full(self.num_draws if draws is None else len(draws), default)

    def _summ(self, draws: np.ndarray, scalar: bool, level: float | None) -> Interval:
        level = DEFAULT_LEVEL if level is None else float(level)
        lo, hi = _quantiles(draws, level)
        return Interval(_squeeze(draws.mean(0), scalar), _squeeze(lo, scalar),
                        _squeeze(hi, scalar), level)

    def _curve_params(self, g: int, draws=None) -> dict:
        form = self.curve_form
        return {k: self._p(k, g, draws) for k in self.params if k.startswith(form + "_")}

    def _pi(self, xf: np.ndarray, g: int, draws=None) -> np.ndarray:
        """P(success) per draw at flat x [S, M] (mixture: the component weight)."""
        if self.spec.kind == "hurdle":
            return curve_forms.probability(self.curve_form, self._curve_params(g, draws),
                                           xf / self.unit, self.spec.knots)
        return _sigmoid(self._p("alpha", g, draws)[:, None]
                        + self._p("beta", g, draws)[:, None] * xf)

    def predictive(self, scale, group=None, draws=None) -> Predictive:
        """The predictive distribution of one seed's metric at raw ``scale`` (flattened), per
        posterior draw (``draws``: indices of a subset): an
        ``emergence_jax.analysis.predictive.Predictive``."""
        g = self._g(group)
        x, _ = self._x(scale)
        xf = x.reshape(-1)
        S = self.num_draws if draws is None else len(draws)
        zeros = np.zeros((S, 1))
        n = self.n_eval[g] if self.spec.likelihood == "betabinomial" else None
        zoib = self.spec.likelihood == "zoib"

        def col(name):
            return self._p(name, g, draws)[:, None]
        if self.spec.kind == "hurdle":
            return Predictive(self._hurdle_components(xf, g, draws, n), n)
        m = n or 0
        mu_s = _sigmoid(col("gamma") + col("delta") * xf)
        if self.spec.kind == "unimodal":
            return Predictive([Component(np.ones_like(mu_s), mu_s, col("kappa"),
                                         col("p_zero") if zoib else zeros,
                                         col("p_one") if zoib else zeros, m=m)], n)
        pi = self._pi(xf, g, draws)
        mu_f = np.broadcast_to(_sigmoid(col("logit_mu_fail")), mu_s.shape)
        return Predictive([
            Component(1 - pi, mu_f, col("kappa_fail"), col("p_zero_fail") if zoib else zeros,
                      zeros, m=m),
            Component(pi, mu_s, col("kappa_success"), zeros,
                      col("p_one_success") if zoib else zeros, m=m)], n)

    def _hurdle_components(self, xf, g, draws, n) -> list[Component]:
        spec = self.spec
        z = xf / self.unit
        pi = self._pi(xf, g, draws)
        S = pi.shape[0]
        zeros = np.zeros((S, 1))
        supports = hurdle.side_supports(spec.threshold, spec.direction)
        counts = hurdle.count_supports(n, self.criterion) if n is not None else None
        out = []
        for j, side in enumerate(hurdle.SIDES):
            weight = pi if side == "success" else 1 - pi
            low, high = supports[side]
            k0, m = counts[side] if counts is not None else (0, 0)
            if spec.points[j] or (counts is not None and m <= 0):
                out.append(Component(weight, np.full_like(pi, 0.5), np.ones((S, 1)), zeros, zeros,
                                     low=low, high=low if spec.points[j] else high, k0=k0,
                                     m=max(m, 0)))
                continue
            mu, kappa = hurdle.side_shape(
                *(self._p_or(f"{side}_{n}", d, g, draws)[:, None]
                  for n, d in hurdle.SHAPE_DEFAULTS.items()), z)
            mass = (self._p(f"{side}_mass", g, draws)[:, None] if spec.masses[j] else zeros)
            outer_high = hurdle.outer_is_high(side, spec.direction)
            out.append(Component(weight, mu, kappa,
                                 zeros if outer_high else mass, mass if outer_high else zeros,
                                 low=low, high=high, k0=k0, m=m))
        return out

    def _success_draws(self, pred: Predictive, scale, g: int, draws=None) -> np.ndarray:
        """Per draw, the probability that a seed at raw ``scale`` (flattened) lands on the
        success side [S, M] (by construction P(success) for the hurdle model); ``pred`` is
        ``self.predictive(scale, g, draws)``."""
        if self.spec.kind == "hurdle":
            return self._pi(self._x(scale)[0].reshape(-1), g, draws)
        if self.criterion.direction == "above":
            return 1.0 - pred.cdf(self.threshold)[..., 0]
        return pred.cdf(self.threshold, left=True)[..., 0]

    # ------------------------------------------------------------------ queries
    def p_success(self, scale, group=None, level: float | None = None) -> Interval:
        """P(a seed at this raw scale succeeds): the probability of the success side of the
        threshold (hurdle and unimodal models); the success-component weight π(x) (mixture)."""
        g = self._g(group)
        x, scalar = self._x(scale)
        if self.spec.kind == "unimodal":
            d = self._success_draws(self.predictive(scale, g), scale, g)
        else:
            d = self._pi(x.reshape(-1), g)
        return self._summ(d.reshape((-1,) + x.shape), scalar, level)

    def p_above(self, scale, threshold: float, group=None, level: float | None = None):
        """P(y > threshold) at a raw scale under the fitted distribution (any model)."""
        x, scalar = self._x(scale)
        d = 1.0 - self.predictive(scale, group).cdf(threshold)[..., 0]
        return self._summ(d.reshape((-1,) + x.shape), scalar, level)

    def _side_mean(self, side: str, scale, group, level) -> Interval:
        self._need_two_sides(f"{side}_mean")
        x, scalar = self._x(scale)
        pred = self.predictive(scale, group)
        d = pred.component_mean(pred.components[hurdle.SIDES.index(side)])
        return self._summ(d.reshape((-1,) + x.shape), scalar, level)

    def success_mean(self, scale, group=None, level: float | None = None) -> Interval:
        """Expected metric of a successful seed: the success component's mean (mixture), the
        mean of the success side (hurdle)."""
        return self._side_mean("success", scale, group, level)

    def failure_mean(self, scale=None, group=None, level: float | None = None) -> Interval:
        """Expected metric of a failed seed (the mixture's is constant across scale; the hurdle's
        failure side moves with scale — default: the middle of the observed range)."""
        return self._side_mean("failure", math.exp(self.xbar) if scale is None else scale,
                               group, level)

    def mean(self, scale, group=None, level: float | None = None) -> Interval:
        """Expected metric over all seeds at a raw scale."""
        x, scalar = self._x(scale)
        d = self.predictive(scale, group).mean()
        return self._summ(d.reshape((-1,) + x.shape), scalar, level)

    def _need_two_sides(self, what: str):
        if self.spec.kind == "unimodal":
            raise DataError(f"{what} needs a model with success and failure components "
                            f"(hurdle or mixture); this is a {self.model} fit")

    def sample(self, scale, n: int, seed: int = 0, group=None) -> np.ndarray:
        """n draws from the posterior predictive at each raw scale: shape [n] or [*scale.shape, n]."""
        x, scalar = self._x(scale)
        rng = np.random.default_rng(seed)
        pred = self.predictive(scale, group)
        out = np.stack([pred.sample(rng.integers(0, self.num_draws, size=n), m, rng)
                        for m in range(x.size)])
        return out[0] if scalar else out.reshape(x.shape + (n,))

    def quantiles(self, scale, qs=(0.1, 0.5, 0.9), group=None, level: float | None = None
                  ) -> Interval:
        """Quantiles of the predictive seed distribution at a raw scale: per posterior draw, then
        summarised (mean and credible interval). Shape [*scale.shape, len(qs)]."""
        x, scalar = self._x(scale)
        qs = np.atleast_1d(np.asarray(qs, np.float64))
        if np.any((qs < 0) | (qs > 1)):
            raise DataError("quantile levels must be in [0, 1]")
        pred = self.predictive(scale, group)
        grid = pred.grid()
        cdf = pred.cdf(grid)
        # smallest grid value with CDF >= q, per draw
        idx = (cdf[..., None, :] < qs[:, None] - 1e-12).sum(-1).clip(0, grid.size - 1)
        d = grid[idx].reshape((-1,) + x.shape + (qs.size,))   # [S, *shape, Q]
        level = DEFAULT_LEVEL if level is None else level
        lo, hi = _quantiles(d, level)
        return Interval(d.mean(0), lo, hi, level)

    def density(self, scale, y_grid, group=None) -> np.ndarray:
        """Posterior-mean predictive density at ``y_grid`` (shape [*scale.shape, len(y_grid)]).
        Count fits return n·pmf at the nearest count (so it integrates to ~1 over [0, 1]); zero/one-
        inflated fits return the density of the continuous part (point masses excluded)."""
        x, scalar = self._x(scale)
        y = np.asarray(y_grid, np.float64).reshape(-1)
        out = self.predictive(scale, group).density(y).mean(0)
        return out[0] if scalar else out.reshape(x.shape + (y.size,))

    def breakthrough_scale(self, p: float = 0.5, group=None, level: float | None = None
                           ) -> Breakthrough:
        """Raw scale where P(success) = p. A logistic curve is solved per draw (α + β·x =
        logit p); other curve forms are searched on a grid reaching one and a half observed
        ranges beyond the observed scales on each side."""
        if not 0 < p < 1:
            raise DataError(f"p must be in (0, 1), got {p}")
        self._need_two_sides("breakthrough_scale")
        level = DEFAULT_LEVEL if level is None else float(level)
        g = self._g(group)
        if self.spec.single_scale:
            return Breakthrough(p, math.nan, math.nan, math.nan, level, "none", math.nan, 0.0,
                                "single-scale fit: P(success) does not depend on scale, no "
                                "breakthrough scale", np.full(self.num_draws, np.nan))
        log_s, p_rising = self._crossings(p, g)
        with np.errstate(over="ignore"):
            raw = np.exp(np.clip(log_s, -700, 700))
        raw = np.where(np.isposinf(log_s), np.inf, np.where(np.isneginf(log_s), 0.0, raw))
        lo_q = (1 - level) / 2
        med, lo, hi = (float(np.quantile(log_s, q, method="nearest")) for q in (0.5, lo_q, 1 - lo_q))
        med, lo, hi = (math.exp(v) if math.isfinite(v) and abs(v) < 700 else (
            math.inf if v > 0 else 0.0) for v in (med, lo, hi))
        direction = "rising" if p_rising >= 0.5 else "falling"
        obs = self.data.scales
        within = float(((raw >= obs.min()) & (raw <= obs.max())).mean())
        cur = self.p_success(obs.min(), group=group).mean
        if direction == "rising":
            kind = "P(success) rises with scale"
        else:
            kind = "P(success) falls with scale (inverse scaling)"
        msg = (f"{kind}; P(success) = {p:g} at scale {med:.3g} "
               f"({100 * level:.0f}% interval {lo:.3g} to {hi:.3g}); "
               f"{100 * within:.0f}% of posterior draws cross within the observed range "
               f"{obs.min():.3g} to {obs.max():.3g}")
        if 0.05 < p_rising < 0.95:
            msg += f"; the direction is uncertain (P(rising) = {p_rising:.2f})"
        if direction == "falling" and cur < p:
            msg = (f"P(success) falls with scale and is already below {p:g} at the smallest observed "
                   f"scale: it crosses {p:g} (downwards) at {med:.3g} "
                   f"({100 * level:.0f}% interval {lo:.3g} to {hi:.3g}), never upwards")
        return Breakthrough(p=p, median=med, lower=lo, upper=hi, level=level, direction=direction,
                            p_rising=p_rising, p_within_observed=within, message=msg, draws=raw)

    def _crossings(self, p: float, g: int) -> tuple[np.ndarray, float]:
        """Per draw, the log scale where P(success) crosses p in the curve's direction (±inf:
        beyond / before the examined range), and the share of draws whose curve rises."""
        target = math.log(p / (1 - p))
        if self.spec.kind == "mixture" or self.curve_form == "logistic":
            if self.spec.kind == "mixture":
                a, b = self._p("alpha", g), self._p("beta", g)
            else:
                a, b = self._p("logistic_a", g), self._p("logistic_b", g) / self.unit
            with np.errstate(divide="ignore", invalid="ignore"):
                xc = np.where(np.abs(b) > 1e-8, (target - a) / b,
                              np.where(a < target, np.inf, -np.inf))
            return xc + self.xbar, float((b > 0).mean())
        z = np.linspace(-4.0, 4.0, 801)
        P = curve_forms.probability(self.curve_form, self._curve_params(g), z, self.spec.knots)
        rising = P[:, 600] > P[:, 200]                       # z = 1 vs z = −1
        above = np.where(rising[:, None], P >= p, P <= p)
        first = np.argmax(above, axis=1)
        hit = above.any(axis=1)
        xc = np.where(hit, z[first] * self.unit, np.inf)
        xc = np.where(hit & (first == 0), -np.inf, xc)
        return xc + self.xbar, float(rising.mean())

    def seed_success_probability(self) -> np.ndarray:
        """Per fitted seed (in data order): posterior probability of the success component
        (mixture); the seed's observed side, 1 or 0 (hurdle)."""
        self._need_two_sides("seed_success_probability")
        return np.asarray(self._seed_prob).copy()

    # ------------------------------------------------------------------ checks
    def check(self, level: float = DEFAULT_LEVEL, group=None):
        """Posterior predictive checks against the fitted data
        (``emergence_jax.analysis.checks.PredictiveCheck``): per scale, the observed success
        fraction against its predictive interval for that many seeds, and the metric's
        quantiles against theirs."""
        from emergence_jax.analysis.checks import predictive_check
        key = (float(level), group)
        if key not in self._checks:
            self._checks[key] = predictive_check(self, level=level, group=group)
        return self._checks[key]

    def warnings(self) -> list[str]:
        """What a user must not miss: failed diagnostics and failed predictive checks."""
        out = [] if self.diagnostics.ok else [self.diagnostics.message]
        for gname in self.groups:
            chk = self.check(group=gname if len(self.groups) > 1 else None)
            if not chk.ok:
                out.append(chk.message if len(self.groups) == 1 else f"{gname}: {chk.message}")
        return out

    def to_arviz(self, seed: int = 0):
        """The fit as an ArviZ ``InferenceData`` (needs ``arviz``): posterior (chains × draws of
        every parameter), log likelihood and posterior predictive of each seed's metric, and the
        observed data, so ArviZ's plots, ``loo`` and ``summary`` work on it. Memory: two arrays of
        draws × seeds."""
        try:
            import arviz as az
        except ImportError:
            raise DataError("to_arviz needs the arviz package (pip install arviz)") from None
        chains = self.diagnostics.num_chains if self.diagnostics.method == "nuts" else 1
        S = self.num_draws
        chains = chains if chains and S % chains == 0 else 1

        def shaped(v):
            v = np.asarray(v)
            return v.reshape((chains, S // chains) + v.shape[1:])
        posterior = {k: shaped(v[:, 0] if v.shape[1] == 1 else v) for k, v in self.params.items()}
        loglik = self.pointwise_loglik()
        rng = np.random.default_rng(seed)
        data = self.data
        yrep = np.empty((S, len(data)))
        for gi, gname in enumerate(self.groups):
            d_sel = np.ones(len(data), bool) if data.group is None else data.group == gname
            for scale in np.unique(data.scale[d_sel]):
                idx = np.flatnonzero(d_sel & (data.scale == scale))
                pred = self.predictive(scale, gi)
                draws = np.repeat(np.arange(S), idx.size)
                yrep[:, idx] = pred.sample(draws, 0, rng).reshape(S, idx.size)
        coords = {"seed": np.arange(len(data))}
        dims = {"y": ["seed"]}
        return az.from_dict(posterior=posterior, log_likelihood={"y": shaped(loglik)},
                            posterior_predictive={"y": shaped(yrep)},
                            observed_data={"y": data.value}, coords=coords, dims=dims)

    def pointwise_loglik(self) -> np.ndarray:
        """Log-likelihood of each fitted seed per posterior draw [draws, seeds]."""
        from emergence_jax.analysis import mixture
        s = self.settings
        likelihood = self.spec.likelihood
        if self.spec.kind == "hurdle":
            spec, prep = hurdle.prepare(self.data, s.threshold, s.direction, likelihood,
                                        s.curve, bins=self.spec.bins)
            ll = hurdle.pointwise(self.params, self.curve_form, spec, prep)
        else:
            spec, prep = mixture.prepare(self.data, self.model, chance=self.spec.chance,
                                         likelihood=likelihood, bins=self.spec.bins)
            ll, _ = mixture.pointwise(self.params, spec, prep)
        return ll[:, prep.inverse]

    # ------------------------------------------------------------------ summary
    def summary(self, level: float | None = None, group=None) -> str:
        from emergence_jax.analysis.nonparametric import dip_test
        level = DEFAULT_LEVEL if level is None else level
        lines = []
        groups = self.groups if group is None else [group]
        for gname in groups:
            data = self.data if len(self.groups) == 1 else self.data.only_group(gname)
            gq = None if len(self.groups) == 1 else gname
            lines.append(f"{self.model} fit of {gname} ({data.scale_variable}); "
                         f"{self.spec.likelihood} likelihood; {len(data)} seeds; "
                         f"{100 * level:.0f}% intervals")
            if self.spec.kind == "hurdle":
                lines.append(f"P(success) = P({self.criterion}) by construction; curve: "
                             f"{self._curve_text()}")
            chk = {c.scale: c for c in self.check(level, group=gq).scales}
            head = (f"{'scale':>10} {'n':>6} {'P(succ) emp':>11} {'P(success) posterior':>24} "
                    f"{'predictive (n seeds)':>21} {'success mean':>24} {'dip p':>6}")
            lines.append(head)
            for s in data.scales:
                v = data.value[data.scale == s]
                ps = self.p_success(s, group=gq, level=level)
                if self.spec.kind != "unimodal":
                    sm = self.success_mean(s, group=gq, level=level)
                    sm_txt = f"{sm.mean:.3f} [{sm.lower:.3f}, {sm.upper:.3f}]"
                else:
                    sm_txt = "-"
                c = chk[float(s)]
                pr = f"[{c.lower:.3f}, {c.upper:.3f}]" + ("" if c.inside else "!")
                dp = dip_test(v)["p_value"] if v.size >= 4 else float("nan")
                lines.append(f"{s:>10.3g} {v.size:>6d} {np.mean(self.criterion.succeeded(v)):>11.3f} "
                             f"{f'{ps.mean:.3f} [{ps.lower:.3f}, {ps.upper:.3f}]':>24} "
                             f"{pr:>21} {sm_txt:>24} {dp:>6.3f}")
            lines.append(self.check(level, group=gq).message)
        if self.spec.kind == "mixture" and not self.spec.single_scale:
            for j, gname in enumerate(self.groups):
                b = self.params["beta"][:, j]
                d = self.params["delta"][:, j]
                blo, bhi = _quantiles(b, level)
                dlo, dhi = _quantiles(d, level)
                lines.append(f"slopes ({gname}): beta (P(success) logit per log-scale) "
                             f"{b.mean():.3f} [{blo:.3f}, {bhi:.3f}]; delta (success-mean logit) "
                             f"{d.mean():.3f} [{dlo:.3f}, {dhi:.3f}]")
        if self.curve and len(self.curve["forms"]) > 1:
            lines.append("P(success) curves compared by PSIS-LOO on the sides (elpd; difference "
                         "to the chosen form ± SE): " + "; ".join(
                             f"{f} {r['elpd_loo']:.1f}" + (" (chosen)" if f == self.curve_form
                                                           else f" ({r['delta_vs_chosen']:+.1f} "
                                                           f"± {r['se_delta']:.1f})")
                             for f, r in self.curve["forms"].items()))
        lines.append(str(self.diagnostics))
        if self.comparison:
            lines.append(self.comparison["verdict"])
        return "\n".join(lines)

    def _curve_text(self) -> str:
        c = self.curve
        if c["requested"] == "auto" and len(c["forms"]) > 1:
            return f"{c['chosen']} (picked by PSIS-LOO among {', '.join(c['forms'])})"
        return c["chosen"]

    def __repr__(self) -> str:
        return (f"FittedDistribution(model={self.model!r}, likelihood={self.spec.likelihood!r}, "
                f"groups={self.groups}, draws={self.num_draws}, "
                f"diagnostics_ok={self.diagnostics.ok})")

    @property
    def diagnostics_ok(self) -> bool:
        return bool(self.diagnostics.ok)

    # ------------------------------------------------------------------ persistence
    def to_record(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(description, arrays): everything needed to rebuild this fit, as JSON-ready values and
        NumPy arrays (the storage format is ``emergence_jax.io.fit_store``)."""
        description = {
            "model": self.model, "spec": self.spec.to_json(),
            "priors": hurdle.PRIORS if self.spec.kind == "hurdle" else PRIORS,
            "settings": to_dict(self.settings),
            "scale_transform": {"x": "log(scale) - xbar", "xbar": self.xbar,
                                "z": "x / unit (hurdle curves)", "unit": self.unit,
                                "scale_variable": self.data.scale_variable,
                                "single_scale": self.spec.single_scale},
            "curve": self.curve,
            "groups": self.groups, "metric": self.data.metric, "threshold": self.threshold,
            "data_summary": self.data.summary(), "data_sha256": self.data.digest(),
            "notes": list(self.data.notes), "diagnostics": self.diagnostics.to_json(),
            "comparison": self.comparison, "meta": self.meta,
        }
        arrays = {f"param__{k}": np.asarray(v, np.float64) for k, v in self.params.items()}
        arrays.update({f"site__{k}": np.asarray(v) for k, v in self.sites.items()})
        d = self.data
        arrays["data__scale"] = d.scale
        arrays["data__value"] = d.value
        arrays["data__seed"] = d.seed
        if d.n_eval is not None:
            arrays["data__n_eval"] = d.n_eval
        if d.group is not None:
            arrays["data__group"] = np.asarray(d.group, dtype=str)
        if self._seed_prob is not None:
            arrays["seed_success_probability"] = np.asarray(self._seed_prob, np.float64)
        return description, arrays

    def save(self, path: str | os.PathLike, overwrite: bool = True) -> Path | Location:
        """Writes ``path/posterior.npz`` and ``path/fit.json`` (each atomically; other files in
        ``path`` are left alone). Returns the fit's location (a ``Path`` when local)."""
        loc = write_fit_files(path, *self.to_record(), overwrite=overwrite)
        return loc.local if loc.is_local else loc

    @classmethod
    def from_record(cls, description: dict, arrays: dict[str, np.ndarray],
                    where: str = "fit") -> "FittedDistribution":
        """Rebuilds a fit from ``to_record`` output (``StoreError`` when it is inconsistent)."""
        meta = description
        try:
            spec = ModelSpec.from_json(meta["spec"])
            params = {k[len("param__"):]: v for k, v in arrays.items() if k.startswith("param__")}
            sites = {k[len("site__"):]: v for k, v in arrays.items() if k.startswith("site__")}
            G = len(meta["groups"])
            shapes = {v.shape for v in params.values()}
            if not params or len(shapes) != 1 or next(iter(shapes))[1:] != (G,):
                raise ValueError("posterior parameter arrays have inconsistent shapes")
            for v in params.values():
                if v.dtype.kind != "f":
                    raise ValueError("posterior parameters are not floating point")
            ds = meta["data_summary"]
            data = SeedData(scale=arrays["data__scale"], value=arrays["data__value"],
                            seed=arrays["data__seed"], n_eval=arrays.get("data__n_eval"),
                            group=arrays.get("data__group"), metric=meta["metric"],
                            scale_variable=ds["scale_variable"], excluded=ds.get("excluded", 0),
                            notes=tuple(meta.get("notes", ())))
            return cls(
                spec=spec, params=params, xbar=float(meta["scale_transform"]["xbar"]),
                groups=list(meta["groups"]), data=data,
                seed_prob=arrays.get("seed_success_probability"),
                diagnostics=Diagnostics.from_json(meta["diagnostics"]),
                comparison=meta.get("comparison"), settings=_stored_settings(meta),
                meta=meta.get("meta", {}), sites=sites,
                unit=float(meta["scale_transform"].get("unit", 1.0)), curve=meta.get("curve"))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise StoreError(f"{where}: saved fit is incomplete or inconsistent ({e})") from None


def _stored_settings(meta: dict) -> AnalysisConfig:
    """The settings a fit was made with. Fits saved before settings were recorded kept them in
    ``meta``; they are rebuilt from there."""
    if "settings" in meta:
        return validate_settings(meta["settings"])
    old = meta.get("meta", {})
    known = {k: old[k] for k in ("method", "chains", "warmup", "samples", "seed", "chance")
             if old.get(k) is not None}
    if old.get("svi_steps") is not None:
        known["svi_steps"] = old["svi_steps"]
    return validate_settings(dict(known, model=meta["model"], metric=meta["metric"],
                                  threshold=meta["threshold"]))


def load_fit(path: str | os.PathLike) -> FittedDistribution:
    """Loads a saved fit directory (or its fit.json): a ``FittedDistribution``, or an
    ``EmergenceTimeFit`` for an emergence-time fit. Verifies both checksums; arrays are read with
    ``allow_pickle=False`` and nothing stored is executed. Problems raise ``StoreError``."""
    description, arrays = read_fit_files(path)
    if description.get("model") in EMERGENCE_TIME_MODELS:
        from emergence_jax.analysis.emergence_fit import EmergenceTimeFit
        return EmergenceTimeFit.from_record(description, arrays, where=str(path))
    return FittedDistribution.from_record(description, arrays, where=str(path))
