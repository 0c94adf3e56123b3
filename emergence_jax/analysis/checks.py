"""Posterior predictive checks: does a fitted distribution reproduce the data it was fitted to?

At every observed scale with n seeds, ``predictive_check(fit)`` compares

* the **success fraction**: the observed share of seeds on the success side of the threshold
  against its posterior predictive distribution for a population of n seeds — per posterior draw,
  Binomial(n, P(success side)), mixed over draws, so binomial noise is included. Reported: the
  central interval at ``level`` (90% by default) and a two-sided predictive p-value
  2·min(P(K ≤ k_obs), P(K ≥ k_obs)); and, over all scales together, the posterior predictive
  p-value of the Freeman–Tukey discrepancy Σ (√k + √(k + 1) − √(4nπ + 1))² (Gelman, Meng & Stern
  1996), which catches a curve that misses many scales by a little;
* the **distribution of the metric**: the observed 10/25/50/75/90% quantiles (order statistics
  ⌈q·n⌉ of the n seeds) against the predictive distribution of the same order statistic of n
  seeds (exact: P(Q ≤ v) = E_draws[I_{F(v)}(j, n − j + 1)], I the regularised incomplete Beta),
  with intervals and two-sided p-values; and each seed's randomised PIT value
  F(y⁻) + V·(F(y) − F(y⁻)) under the predictive CDF F, which is uniform when the model fits
  (summarised by a Kolmogorov–Smirnov p-value; reported, not used in the verdict, as in-sample
  PIT values are less dispersed than uniform even for a correct model).

Cost stays bounded however large the population: at most MAX_DRAWS posterior draws (fewer with
many seeds per scale), the PIT of at most PIT_SEEDS seeds per scale and about PIT_SEEDS_TOTAL in
all, but at least PIT_SEEDS_MIN per scale (``pit_seeds_per_scale``), the success count's predictive CDF on at most COUNT_GRID counts
(k_obs − 1 and k_obs always among them, so the p-values are exact and an interval end moves by at
most one grid step), and one evaluation of the predictive CDF per scale.

Verdict: a misfit is flagged when the smallest p-value of a family is below 0.05 divided by
the family's size (Bonferroni: scales for the success fractions, scales × quantile levels for the
quantiles), or when the discrepancy's p-value is below 0.05. Posterior predictive p-values are
conservative (the data were used to fit), so a flagged misfit is a real disagreement between
the fit and its data.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["ScaleCheck", "PredictiveCheck", "predictive_check", "pit_seeds_per_scale",
           "QUANTILE_LEVELS", "ALPHA"]

QUANTILE_LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)
ALPHA = 0.05
MAX_DRAWS = 500        # posterior draws the check uses (evenly thinned)
MIN_DRAWS = 100
PIT_SEEDS = 1000       # seeds per scale whose PIT is computed (a random subset above this)
PIT_SEEDS_TOTAL = 20_000   # ... and fewer per scale (down to PIT_SEEDS_MIN) past this in all
PIT_SEEDS_MIN = 100
COUNT_GRID = 256       # the success count's predictive CDF on at most this many counts (+ k_obs)
DRAW_SEED_BUDGET = 2_000_000
_GRID = 201            # continuous metrics: predictive CDF resolved on this many points (+ data)
_GRID_ALL_VALUES = 2000  # up to this many seeds per scale the grid holds every observed value


@dataclasses.dataclass
class ScaleCheck:
    """The checks at one observed scale."""
    scale: float
    seeds: int
    successes: int
    observed: float                 # observed success fraction
    predicted: float                # posterior mean P(success side)
    lower: float                    # predictive interval of the success fraction of `seeds` seeds
    upper: float
    p_value: float
    quantile_levels: list
    observed_quantiles: list
    quantile_lower: list
    quantile_upper: list
    quantile_p: list

    @property
    def inside(self) -> bool:
        return self.lower <= self.observed <= self.upper


@dataclasses.dataclass
class PredictiveCheck:
    """Result of ``predictive_check`` (``fit.check()``): per-scale checks, PIT values (per seed,
    in data order; NaN for seeds outside the random subset that a larger scale uses:
    ``pit_seeds_per_scale``) and the verdict (``ok``, ``message``)."""
    level: float
    scales: list[ScaleCheck]
    pit: np.ndarray
    pit_ks_p: float
    discrepancy_p: float            # posterior predictive p of the success counts' discrepancy
    success_ok: bool
    quantiles_ok: bool
    criterion: str

    @property
    def ok(self) -> bool:
        return self.success_ok and self.quantiles_ok

    @property
    def outside(self) -> list[ScaleCheck]:
        """Scales whose observed success fraction is outside its predictive interval."""
        return [c for c in self.scales if not c.inside]

    @property
    def message(self) -> str:
        pct = f"{100 * self.level:.0f}%"
        M = len(self.scales)
        out = self.outside
        head = f"{M - len(out)} of {M} scales have their success fraction ({self.criterion}) " \
               f"inside its {pct} predictive interval"
        if self.ok:
            return (f"predictive check passed: {head} (discrepancy over all scales p = "
                    f"{self.discrepancy_p:.2g}); the metric's quantiles agree (smallest p = "
                    f"{self._min_quantile_p():.3g})")
        parts = []
        if not self.success_ok:
            worst = min(self.scales, key=lambda c: c.p_value)
            parts.append(f"{head}; worst at scale {worst.scale:.3g}: observed "
                         f"{worst.observed:.3f} ({worst.successes}/{worst.seeds}), predicted "
                         f"[{worst.lower:.3f}, {worst.upper:.3f}], p = {worst.p_value:.2g}; over "
                         f"all scales the success counts' discrepancy has p = "
                         f"{self.discrepancy_p:.2g}")
        if not self.quantiles_ok:
            c, i = self._worst_quantile()
            parts.append(f"the metric's {100 * c.quantile_levels[i]:.0f}% quantile at scale "
                         f"{c.scale:.3g} is {c.observed_quantiles[i]:.3g}, predicted "
                         f"[{c.quantile_lower[i]:.3g}, {c.quantile_upper[i]:.3g}], p = "
                         f"{c.quantile_p[i]:.2g}")
        return ("predictive check FAILED (the fit disagrees with its data): " + "; ".join(parts)
                + "; try the hurdle model with curve='auto' (model='hurdle'), or look at the "
                "report's predictive-check panel")

    def _min_quantile_p(self) -> float:
        return min((min(c.quantile_p) for c in self.scales if c.quantile_p), default=1.0)

    def _worst_quantile(self) -> tuple[ScaleCheck, int]:
        c = min(self.scales, key=lambda c: min(c.quantile_p) if c.quantile_p else 1.0)
        return c, int(np.argmin(c.quantile_p))

    def __str__(self) -> str:
        pct = f"{100 * self.level:.0f}%"
        lines = [self.message,
                 f"{'scale':>10} {'seeds':>6} {'observed':>9} {f'predictive {pct}':>20} "
                 f"{'p':>7} {'median':>7} {f'median {pct}':>17}"]
        for c in self.scales:
            j = c.quantile_levels.index(0.5) if 0.5 in c.quantile_levels else None
            med = (f"{c.observed_quantiles[j]:>7.3f} "
                   f"{f'[{c.quantile_lower[j]:.3f}, {c.quantile_upper[j]:.3f}]':>17}"
                   if j is not None else "")
            flag = "" if c.inside else "  <- outside"
            lines.append(f"{c.scale:>10.3g} {c.seeds:>6d} {c.observed:>9.3f} "
                         f"{f'[{c.lower:.3f}, {c.upper:.3f}]':>20} {c.p_value:>7.3f} {med}{flag}")
        lines.append(f"PIT uniformity (KS, in-sample): p = {self.pit_ks_p:.3g}")
        return "\n".join(lines)

    def to_json(self, brief: bool = False) -> dict:
        out = {"ok": self.ok, "success_ok": self.success_ok, "quantiles_ok": self.quantiles_ok,
               "level": self.level, "message": self.message, "criterion": self.criterion,
               "pit_ks_p": self.pit_ks_p, "discrepancy_p": self.discrepancy_p,
               "rule": f"misfit when a family's smallest predictive p-value < {ALPHA} / its size "
                       f"(Bonferroni), or the success counts' discrepancy p < {ALPHA}"}
        keys = ("scale", "seeds", "successes", "observed", "predicted", "lower", "upper",
                "p_value") + (() if brief else ("quantile_levels", "observed_quantiles",
                                                "quantile_lower", "quantile_upper", "quantile_p"))
        out["scales"] = [{k: getattr(c, k) for k in keys} | {"inside": c.inside}
                         for c in self.scales]
        return out


def pit_seeds_per_scale(n_scales: int) -> int:
    """Seeds per scale whose PIT the check computes (a random subset of larger scales):
    PIT_SEEDS, fewer when the scales together would pass PIT_SEEDS_TOTAL (not below
    PIT_SEEDS_MIN), so the check's cost stays bounded with many scales."""
    return max(PIT_SEEDS_MIN, min(PIT_SEEDS, PIT_SEEDS_TOTAL // max(n_scales, 1)))


def _thin(S: int, seeds: int = 0) -> np.ndarray:
    """Evenly thinned draws: MAX_DRAWS, fewer (down to MIN_DRAWS) when a scale holds so many
    seeds that draws x seeds would pass DRAW_SEED_BUDGET — such posteriors are narrow, and the
    check's cost stays bounded however large the population."""
    keep = max(MIN_DRAWS, min(MAX_DRAWS, DRAW_SEED_BUDGET // max(seeds, 1)))
    return np.unique(np.linspace(0, S - 1, min(S, keep)).round().astype(int))


def _interval_from_cdf(values: np.ndarray, cdf: np.ndarray, level: float) -> tuple[float, float]:
    """Central interval of a discrete distribution given by its CDF at sorted ``values``."""
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    lo = values[min(np.searchsorted(cdf, lo_q - 1e-12), values.size - 1)]
    hi = values[min(np.searchsorted(cdf, hi_q - 1e-12), values.size - 1)]
    return float(lo), float(hi)


def _freeman_tukey(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Σ over scales of squared Freeman–Tukey deviates, taken on the rarer outcome's side so
    they stay near N(0, 1) when P(success) is close to 0 or 1. k, p: [..., M]."""
    flip = p > 0.5
    k = np.where(flip, n - k, k)
    p = np.where(flip, 1 - p, p)
    return ((np.sqrt(k) + np.sqrt(k + 1) - np.sqrt(4 * n * p + 1)) ** 2).sum(-1)


def _discrepancy_p(pi: np.ndarray, k: np.ndarray, n: np.ndarray, rng) -> float:
    """Posterior predictive p-value P(D(k_rep, π) ≥ D(k_obs, π)) over draws π [S, M]."""
    k_rep = rng.binomial(n[None, :], pi)
    return float(np.mean(_freeman_tukey(k_rep, n, pi) >= _freeman_tukey(k[None, :], n, pi)))


def predictive_check(fit, level: float = 0.9, seed: int = 0, group=None) -> PredictiveCheck:
    """Posterior predictive checks of ``fit`` (a ``FittedDistribution``) against its own data,
    at every observed scale (see the module docstring)."""
    from scipy import stats
    from scipy.special import betainc

    g = fit._g(group)
    data = fit.data if len(fit.groups) == 1 else fit.data.only_group(fit.groups[g])
    criterion = fit.criterion
    keep = _thin(fit.num_draws, int(np.unique(data.scale, return_counts=True)[1].max()))
    pit_seeds = pit_seeds_per_scale(len(data.scales))
    rng = np.random.default_rng(seed)
    rows, pits = [], np.full(len(data), np.nan)
    scales = data.scales
    draws_pi, ks_obs, ns = [], [], []
    for scale in scales:
        sel = data.scale == scale
        y = np.sort(data.value[sel])
        n = y.size
        k_obs = int(criterion.succeeded(y).sum())
        pred = fit.predictive(scale, group=g, draws=keep)
        p_succ = fit._success_draws(pred, float(scale), g, keep)[:, 0]
        draws_pi.append(p_succ)
        ks_obs.append(k_obs)
        ns.append(n)
        # the counts every draw can reach (all of 0..n for small n; a window for large n)
        k_lo = int(stats.binom.ppf(1e-12, n, p_succ.min()))
        k_hi = int(stats.binom.ppf(1 - 1e-12, n, p_succ.max()))
        ks = np.arange(max(min(k_lo, k_obs) - 1, 0), min(max(k_hi, k_obs) + 1, n) + 1)
        if ks.size > COUNT_GRID:    # a wide window (thousands of seeds): every few counts
            ks = np.unique(np.concatenate([ks[::-(-ks.size // COUNT_GRID)], ks[[0, -1]],
                                           [max(k_obs - 1, 0), k_obs]]))
        cdf_k = stats.binom.cdf(ks[None, :], n, p_succ[:, None]).mean(0)
        lo, hi = _interval_from_cdf(ks / n, cdf_k, level)
        # ks holds k_obs − 1 (when ≥ 0) and k_obs: the tails come from the same table
        p_le = cdf_k[np.searchsorted(ks, k_obs)]
        p_ge = 1.0 - (cdf_k[np.searchsorted(ks, k_obs - 1)] if k_obs > 0 else 0.0)
        p_val = float(min(1.0, 2 * min(p_le, p_ge)))

        # order statistics of the metric: the j-th smallest of n, j = ⌈q·n⌉ (at least 1)
        q_index = [max(1, int(math.ceil(q * n))) - 1 for q in QUANTILE_LEVELS]
        grid = pred.grid()
        if fit.spec.likelihood != "betabinomial" and grid.size > _GRID:
            # above _GRID_ALL_VALUES seeds the grid takes the observed order statistics, not
            # every value, so the cost stays draws x (_GRID + a few) however large the scale
            observed = y if n <= _GRID_ALL_VALUES else y[q_index]
            grid = np.unique(np.concatenate([np.linspace(0, 1, _GRID), observed,
                                             [c.low for c in pred.components],
                                             [c.high for c in pred.components]]))
        # the predictive CDF on the grid and at the sorted values the check needs: the
        # quantiles' order statistics and the PIT's seeds (all of them up to pit_seeds, else a
        # random subset), in one evaluation
        pit_index = (np.arange(n) if n <= pit_seeds
                     else np.sort(rng.choice(n, pit_seeds, replace=False)))
        at = np.unique(np.concatenate([pit_index, q_index,
                                       np.searchsorted(y, y[q_index])]).astype(int))
        right, left = pred.cdfs(np.concatenate([grid, y[at]]))
        F_grid = right[:, 0, :grid.size]                      # [S, K]
        F_at, F_at_left = right[:, 0, grid.size:], left[:, 0, grid.size:]   # [S, len(at)]

        def col(F, i):
            return F[:, np.searchsorted(at, i)]
        q_obs, q_lo, q_hi, q_p = [], [], [], []
        for j in (k + 1 for k in q_index):
            v = y[j - 1]
            P_grid = betainc(j, n - j + 1, F_grid).mean(0)
            a, b = _interval_from_cdf(grid, P_grid, level)
            i = int(np.searchsorted(y, v))            # first index of value v in the sorted data
            p_le = betainc(j, n - j + 1, col(F_at, j - 1)).mean()
            p_ge = 1.0 - betainc(j, n - j + 1, col(F_at_left, i)).mean()
            q_obs.append(float(v))
            q_lo.append(a)
            q_hi.append(b)
            q_p.append(float(min(1.0, 2 * min(p_le, p_ge))))

        # randomised PIT of each seed under the draw-averaged predictive CDF
        Fm, Fl = col(F_at, pit_index).mean(0), col(F_at_left, pit_index).mean(0)
        order = np.argsort(data.value[sel], kind="stable")
        pit = np.full(n, np.nan)
        pit[order[pit_index]] = Fl + rng.random(pit_index.size) * (Fm - Fl)
        pits[np.flatnonzero(sel)] = pit
        rows.append(ScaleCheck(scale=float(scale), seeds=n, successes=k_obs, observed=k_obs / n,
                               predicted=float(p_succ.mean()), lower=lo, upper=hi,
                               p_value=p_val, quantile_levels=list(QUANTILE_LEVELS),
                               observed_quantiles=q_obs, quantile_lower=q_lo,
                               quantile_upper=q_hi, quantile_p=q_p))
    M = len(rows)
    disc_p = _discrepancy_p(np.stack(draws_pi, 1), np.array(ks_obs), np.array(ns), rng)
    success_ok = min(r.p_value for r in rows) >= ALPHA / M and disc_p >= ALPHA
    quantiles_ok = min(min(r.quantile_p) for r in rows) >= ALPHA / (M * len(QUANTILE_LEVELS))
    finite = pits[np.isfinite(pits)]
    ks_p = float(stats.kstest(finite, "uniform").pvalue) if finite.size > 1 else 1.0
    return PredictiveCheck(level=level, scales=rows, pit=pits, pit_ks_p=ks_p,
                           discrepancy_p=disc_p,
                           success_ok=bool(success_ok), quantiles_ok=bool(quantiles_ok),
                           criterion=str(criterion))
