"""``FittedDistribution``: the fitted outcome distribution as a function of scale, and what can be
asked of it (made by ``emergence_jax.analysis.fitting.fit_distribution``).

    fit.p_success(1e7)            # Interval(mean, lower, upper, level)
    fit.breakthrough_scale(0.5)   # raw scale where P(success) crosses 0.5
    fit.save("fits/count")        # posterior.npz + fit.json (emergence_jax.io.fit_store)
    same = load_fit("fits/count") # identical answers; never unpickles or executes stored content

Every query takes scales in RAW units (the transform x = log(scale) − x̄ is applied inside) and
returns posterior means with equal-tailed credible intervals, 90% by default (``level=``).
For the mixture, ``p_success`` is the success-component weight π(x); for the unimodal model it is
P(y > threshold) under the fitted distribution (``fit.settings.threshold``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from emergence_jax.analysis.data import SeedData
from emergence_jax.analysis.inference import Diagnostics
from emergence_jax.analysis.mixture import PRIORS, ModelSpec
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.config import AnalysisConfig, to_dict, validate_settings
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
    "rising" (β > 0), "falling" (β < 0) or "none"; ``p_rising`` the posterior share of β > 0;
    ``p_within_observed`` the share of draws crossing inside the observed scale range."""
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


def _beta_params(mu, kappa):
    """Beta (a, b) from mean and concentration, with a trailing axis for a y grid."""
    mu = np.clip(mu, 1e-6, 1 - 1e-6)
    return (mu * kappa)[..., None], ((1 - mu) * kappa)[..., None]


def _squeeze(v, scalar: bool):
    v = np.asarray(v)
    return float(v) if scalar and v.ndim == 0 else v


class FittedDistribution:
    """A fitted distribution of seed outcomes as a function of scale (see the module docstring)."""

    def __init__(self, *, spec: ModelSpec, params: dict[str, np.ndarray], xbar: float,
                 groups: list[str], data: SeedData, seed_prob: np.ndarray | None,
                 diagnostics: Diagnostics, comparison: dict | None, settings: AnalysisConfig,
                 meta: dict, sites: dict[str, np.ndarray] | None = None):
        self.spec = spec
        self.params = params
        self.xbar = float(xbar)
        self.groups = list(groups)
        self.data = data
        self._seed_prob = seed_prob
        self.diagnostics = diagnostics
        self.comparison = comparison
        self.settings = settings
        self.meta = meta
        self.sites = sites or {}
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
        if isinstance(group, int):
            return group
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

    def _p(self, name: str, g: int) -> np.ndarray:
        return self.params[name][:, g]

    def _summ(self, draws: np.ndarray, scalar: bool, level: float | None) -> Interval:
        level = DEFAULT_LEVEL if level is None else float(level)
        lo, hi = _quantiles(draws, level)
        return Interval(_squeeze(draws.mean(0), scalar), _squeeze(lo, scalar),
                        _squeeze(hi, scalar), level)

    def _mu_success(self, x, g):
        return _sigmoid(self._p("gamma", g)[:, None] + self._p("delta", g)[:, None] * x.reshape(-1))

    def _components(self, x: np.ndarray, g: int) -> list[tuple]:
        """Per-draw mixture over components for flat x: list of (weight [S,M], mu [S,M], kappa [S,1],
        p_zero [S,1], p_one [S,1])."""
        xf = x.reshape(-1)
        S = self.num_draws
        zeros = np.zeros((S, 1))
        zoib = self.spec.likelihood == "zoib"
        mu_s = self._mu_success(xf, g)
        if self.spec.kind == "unimodal":
            p0 = self._p("p_zero", g)[:, None] if zoib else zeros
            p1 = self._p("p_one", g)[:, None] if zoib else zeros
            return [(np.ones_like(mu_s), mu_s, self._p("kappa", g)[:, None], p0, p1)]
        pi = _sigmoid(self._p("alpha", g)[:, None] + self._p("beta", g)[:, None] * xf)
        mu_f = np.broadcast_to(_sigmoid(self._p("logit_mu_fail", g))[:, None], mu_s.shape)
        p0 = self._p("p_zero_fail", g)[:, None] if zoib else zeros
        p1 = self._p("p_one_success", g)[:, None] if zoib else zeros
        return [(1 - pi, mu_f, self._p("kappa_fail", g)[:, None], p0, zeros),
                (pi, mu_s, self._p("kappa_success", g)[:, None], zeros, p1)]

    def _cdf_grid(self, g: int) -> np.ndarray:
        if self.spec.likelihood == "betabinomial":
            n = self.n_eval[g]
            return np.arange(n + 1) / n
        return np.linspace(0.0, 1.0, 1001)

    def _per_draw_cdf(self, x: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray]:
        """CDF of the predictive distribution per draw on a y grid: returns (grid [K], cdf [S,M,K])."""
        from scipy import stats
        grid = self._cdf_grid(g)
        total = 0.0
        for w, mu, kap, p0, p1 in self._components(x, g):
            a, b = _beta_params(mu, kap)
            if self.spec.likelihood == "betabinomial":
                n = self.n_eval[g]
                cdf = stats.betabinom.cdf(np.arange(n + 1), n, a, b)
            else:
                cont = stats.beta.cdf(np.clip(grid, 0, 1), a, b)
                p0e, p1e = p0[..., None], p1[..., None]
                cdf = p0e + (1 - p0e - p1e) * cont + p1e * (grid >= 1.0)
            total = total + w[..., None] * cdf
        return grid, np.clip(total, 0.0, 1.0)

    # ------------------------------------------------------------------ queries
    def p_success(self, scale, group=None, level: float | None = None) -> Interval:
        """P(a seed at this raw scale succeeds): π(x) for the mixture; P(y > threshold) for the
        unimodal model."""
        g = self._g(group)
        x, scalar = self._x(scale)
        if self.spec.kind == "mixture":
            d = _sigmoid(self._p("alpha", g)[:, None] + self._p("beta", g)[:, None] * x.reshape(-1))
        else:
            d = self.p_above(scale, self.threshold, group=group, _draws=True)
        return self._summ(d.reshape((-1,) + x.shape), scalar, level)

    def p_above(self, scale, threshold: float, group=None, level: float | None = None,
                _draws: bool = False):
        """P(y > threshold) at a raw scale under the fitted distribution (any model)."""
        g = self._g(group)
        x, scalar = self._x(scale)
        grid, cdf = self._per_draw_cdf(x, g)
        idx = np.searchsorted(grid, threshold, side="right") - 1
        d = 1.0 - (cdf[..., idx] if idx >= 0 else np.zeros(cdf.shape[:-1]))
        if _draws:
            return d
        return self._summ(d.reshape((-1,) + x.shape), scalar, level)

    def success_mean(self, scale, group=None, level: float | None = None) -> Interval:
        """Expected metric of a seed in the success component (mixture models only)."""
        self._need_mixture("success_mean")
        g = self._g(group)
        x, scalar = self._x(scale)
        mu = self._mu_success(x.reshape(-1), g)
        if self.spec.likelihood == "zoib":
            p1 = self._p("p_one_success", g)[:, None]
            mu = p1 + (1 - p1) * mu
        return self._summ(mu.reshape((-1,) + x.shape), scalar, level)

    def failure_mean(self, scale=None, group=None, level: float | None = None) -> Interval:
        """Expected metric of a seed in the failure component (constant across scale)."""
        self._need_mixture("failure_mean")
        g = self._g(group)
        x, scalar = self._x(1.0 if scale is None else scale)
        mu = _sigmoid(self._p("logit_mu_fail", g))
        if self.spec.likelihood == "zoib":
            mu = (1 - self._p("p_zero_fail", g)) * mu
        d = np.broadcast_to(mu.reshape((-1,) + (1,) * x.ndim), (mu.size,) + x.shape)
        return self._summ(d, scalar, level)

    def mean(self, scale, group=None, level: float | None = None) -> Interval:
        """Expected metric over all seeds at a raw scale."""
        g = self._g(group)
        x, scalar = self._x(scale)
        total = 0.0
        for w, mu, kap, p0, p1 in self._components(x, g):
            total = total + w * (p1 + (1 - p0 - p1) * mu)
        return self._summ(total.reshape((-1,) + x.shape), scalar, level)

    def _need_mixture(self, what: str):
        if self.spec.kind != "mixture":
            raise DataError(f"{what} needs a mixture fit; this is a {self.model} fit")

    def sample(self, scale, n: int, seed: int = 0, group=None) -> np.ndarray:
        """n draws from the posterior predictive at each raw scale: shape [n] or [*scale.shape, n]."""
        g = self._g(group)
        x, scalar = self._x(scale)
        xf = x.reshape(-1)
        rng = np.random.default_rng(seed)
        S = self.num_draws
        out = np.empty((xf.size, n))
        comps = self._components(xf, g)
        for m in range(xf.size):
            d = rng.integers(0, S, size=n)
            weights = np.stack([c[0][d, m] for c in comps], axis=1)
            u = rng.random(n)
            comp = (u[:, None] > np.cumsum(weights, axis=1)).sum(axis=1).clip(0, len(comps) - 1)
            y = np.empty(n)
            for ci, (w, mu, kap, p0, p1) in enumerate(comps):
                sel = comp == ci
                if not sel.any():
                    continue
                dd = d[sel]
                mu_ = np.clip(mu[dd, m], 1e-6, 1 - 1e-6)
                k_ = kap[dd, 0]
                p = rng.beta(mu_ * k_, (1 - mu_) * k_)
                if self.spec.likelihood == "betabinomial":
                    nn = self.n_eval[g]
                    y[sel] = rng.binomial(nn, p) / nn
                else:
                    v = rng.random(sel.sum())
                    a0, a1 = p0[dd, 0], p1[dd, 0]
                    y[sel] = np.where(v < a0, 0.0, np.where(v < a0 + a1, 1.0, p))
            out[m] = y
        return out[0] if scalar else out.reshape(x.shape + (n,))

    def quantiles(self, scale, qs=(0.1, 0.5, 0.9), group=None, level: float | None = None
                  ) -> Interval:
        """Quantiles of the predictive seed distribution at a raw scale: per posterior draw, then
        summarised (mean and credible interval). Shape [*scale.shape, len(qs)]."""
        g = self._g(group)
        x, scalar = self._x(scale)
        qs = np.atleast_1d(np.asarray(qs, np.float64))
        if np.any((qs < 0) | (qs > 1)):
            raise DataError("quantile levels must be in [0, 1]")
        grid, cdf = self._per_draw_cdf(x, g)
        # smallest grid value with CDF >= q, per draw
        idx = (cdf[..., None, :] < qs[:, None] - 1e-12).sum(-1).clip(0, grid.size - 1)
        d = grid[idx]  # [S, M, Q]
        d = d.reshape((-1,) + x.shape + (qs.size,))
        level = DEFAULT_LEVEL if level is None else level
        lo, hi = _quantiles(d, level)
        return Interval(d.mean(0), lo, hi, level)

    def density(self, scale, y_grid, group=None) -> np.ndarray:
        """Posterior-mean predictive density at ``y_grid`` (shape [*scale.shape, len(y_grid)]).
        Count fits return n·pmf at the nearest count (so it integrates to ~1 over [0, 1]); zero/one-
        inflated fits return the density of the continuous part (point masses excluded)."""
        from scipy import stats
        g = self._g(group)
        x, scalar = self._x(scale)
        y = np.asarray(y_grid, np.float64).reshape(-1)
        total = 0.0
        for w, mu, kap, p0, p1 in self._components(x, g):
            a, b = _beta_params(mu, kap)
            if self.spec.likelihood == "betabinomial":
                n = self.n_eval[g]
                dens = n * stats.betabinom.pmf(np.round(np.clip(y, 0, 1) * n), n, a, b)
            else:
                dens = (1 - p0 - p1)[..., None] * stats.beta.pdf(np.clip(y, 1e-9, 1 - 1e-9), a, b)
            total = total + w[..., None] * dens
        out = np.asarray(total).mean(0)
        return out[0] if scalar else out.reshape(x.shape + (y.size,))

    def breakthrough_scale(self, p: float = 0.5, group=None, level: float | None = None
                           ) -> Breakthrough:
        """Raw scale where P(success) = p (mixture fits). Solves α + β·x = logit p per draw."""
        self._need_mixture("breakthrough_scale")
        if not 0 < p < 1:
            raise DataError(f"p must be in (0, 1), got {p}")
        level = DEFAULT_LEVEL if level is None else float(level)
        g = self._g(group)
        a, b = self._p("alpha", g), self._p("beta", g)
        target = math.log(p / (1 - p))
        if self.spec.single_scale:
            return Breakthrough(p, math.nan, math.nan, math.nan, level, "none", math.nan, 0.0,
                                "single-scale fit: P(success) does not depend on scale, no "
                                "breakthrough scale", np.full(a.shape, np.nan))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            xc = np.where(np.abs(b) > 1e-8, (target - a) / b, np.where(a < target, np.inf, -np.inf))
            log_s = xc + self.xbar
            raw = np.exp(np.clip(log_s, -700, 700))
            raw = np.where(np.isposinf(log_s), np.inf, np.where(np.isneginf(log_s), 0.0, raw))
        lo_q = (1 - level) / 2
        med, lo, hi = (float(np.quantile(log_s, q, method="nearest")) for q in (0.5, lo_q, 1 - lo_q))
        med, lo, hi = (math.exp(v) if math.isfinite(v) and abs(v) < 700 else (
            math.inf if v > 0 else 0.0) for v in (med, lo, hi))
        p_rising = float((b > 0).mean())
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
            msg += f"; the slope's sign is uncertain (P(β > 0) = {p_rising:.2f})"
        if direction == "falling" and cur < p:
            msg = (f"P(success) falls with scale and is already below {p:g} at the smallest observed "
                   f"scale: it crosses {p:g} (downwards) at {med:.3g} "
                   f"({100 * level:.0f}% interval {lo:.3g} to {hi:.3g}), never upwards")
        return Breakthrough(p=p, median=med, lower=lo, upper=hi, level=level, direction=direction,
                            p_rising=p_rising, p_within_observed=within, message=msg, draws=raw)

    def seed_success_probability(self) -> np.ndarray:
        """Per fitted seed (in data order): posterior probability of the success component."""
        self._need_mixture("seed_success_probability")
        return np.asarray(self._seed_prob).copy()

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
            head = (f"{'scale':>10} {'n':>6} {'P(succ) emp':>11} {'P(success) posterior':>24} "
                    f"{'success mean':>24} {'dip p':>6}")
            lines.append(head)
            for s in data.scales:
                v = data.value[data.scale == s]
                ps = self.p_success(s, group=gq, level=level)
                if self.spec.kind == "mixture":
                    sm = self.success_mean(s, group=gq, level=level)
                    sm_txt = f"{sm.mean:.3f} [{sm.lower:.3f}, {sm.upper:.3f}]"
                else:
                    sm_txt = "-"
                dp = dip_test(v)["p_value"] if v.size >= 4 else float("nan")
                lines.append(f"{s:>10.3g} {v.size:>6d} {np.mean(self.criterion.succeeded(v)):>11.3f} "
                             f"{f'{ps.mean:.3f} [{ps.lower:.3f}, {ps.upper:.3f}]':>24} "
                             f"{sm_txt:>24} {dp:>6.3f}")
        if self.spec.kind == "mixture" and not self.spec.single_scale:
            for j, gname in enumerate(self.groups):
                b = self.params["beta"][:, j]
                d = self.params["delta"][:, j]
                blo, bhi = _quantiles(b, level)
                dlo, dhi = _quantiles(d, level)
                lines.append(f"slopes ({gname}): beta (P(success) logit per log-scale) "
                             f"{b.mean():.3f} [{blo:.3f}, {bhi:.3f}]; delta (success-mean logit) "
                             f"{d.mean():.3f} [{dlo:.3f}, {dhi:.3f}]")
        lines.append(str(self.diagnostics))
        if self.comparison:
            lines.append(self.comparison["verdict"])
        return "\n".join(lines)

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
            "model": self.model, "spec": self.spec.to_json(), "priors": PRIORS,
            "settings": to_dict(self.settings),
            "scale_transform": {"x": "log(scale) - xbar", "xbar": self.xbar,
                                "scale_variable": self.data.scale_variable,
                                "single_scale": self.spec.single_scale},
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
            spec = ModelSpec(**meta["spec"])
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
                meta=meta.get("meta", {}), sites=sites)
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
    """Loads a saved fit directory (or its fit.json). Verifies both checksums; arrays are read with
    ``allow_pickle=False`` and nothing stored is executed. Problems raise ``StoreError``."""
    description, arrays = read_fit_files(path)
    return FittedDistribution.from_record(description, arrays, where=str(path))
