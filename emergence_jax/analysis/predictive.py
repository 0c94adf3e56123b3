"""The posterior predictive distribution of one seed's metric, per posterior draw.

Every fitted model is a mixture of *components*, each a Beta (continuous values) or BetaBinomial
(counts out of n) on its own support, with optional point masses at the support's two ends:

    latent mixture   failure and success components on [0, 1] (point masses at 0 and 1 for
                     zero/one-inflated fits)
    unimodal         one component on [0, 1]
    hurdle           the failure and success sides of the threshold, e.g. [0, t] and (t, 1]
                     (counts: 0..k and k + 1..n), each with a point mass at its outer end (0 or 1)
                     when the data have values there

``Predictive`` answers CDF, density, mean and sampling questions for all of them, with posterior
draws along the first axis and scales along the second. It is pure NumPy/SciPy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Component", "Predictive"]

_EPS = 1e-6
_CHUNK = 20_000_000   # entries of a [draws, scales, counts] table computed at once


@dataclasses.dataclass
class Component:
    """One mixture component, per posterior draw (rows) and scale (columns).

    The value is ``low`` with probability ``mass_low``, ``high`` with probability ``mass_high``,
    else ``low + (high − low)·u`` with u ~ Beta(mean ``mu``, concentration ``kappa``). Counts:
    k = ``k0`` + k' with k' ∈ 0..``m`` (mass_low at k' = 0, mass_high at k' = m, else
    BetaBinomial(m, ·)); the value is k / n. A support of one point (high == low, m == 0) is that
    point."""
    weight: np.ndarray        # [S, M]
    mu: np.ndarray            # [S, M]
    kappa: np.ndarray         # [S, 1] or [S, M]
    mass_low: np.ndarray      # [S, 1]
    mass_high: np.ndarray     # [S, 1]
    low: float = 0.0
    high: float = 1.0
    k0: int = 0
    m: int = 0

    @property
    def rest(self) -> np.ndarray:
        return 1.0 - self.mass_low - self.mass_high

    def ab(self) -> tuple[np.ndarray, np.ndarray]:
        mu = np.clip(self.mu, _EPS, 1 - _EPS)
        return mu * self.kappa, (1 - mu) * self.kappa


def _bb_log_pmf(k, m: int, a, b):
    from scipy.special import gammaln
    return (gammaln(m + 1.0) - gammaln(k + 1.0) - gammaln(m - k + 1.0) + gammaln(k + a)
            + gammaln(m - k + b) - gammaln(m + a + b) + gammaln(a + b) - gammaln(a) - gammaln(b))


class Predictive:
    """The predictive distribution at M scales under S posterior draws: ``components`` (whose
    weights sum to one) and ``n`` (evaluation examples for count fits, None for continuous)."""

    def __init__(self, components: list[Component], n: int | None):
        self.components = components
        self.n = n

    @property
    def shape(self) -> tuple[int, int]:
        return self.components[0].weight.shape

    # ------------------------------------------------------------------ CDF
    def _count(self, y) -> np.ndarray:
        return np.floor(np.asarray(y, np.float64) * self.n + 1e-9)

    def _component_cdfs(self, c: Component, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(Y ≤ y) and P(Y < y) of one component; y [P] -> two [S, M, P]. The costly part
        (the regularised incomplete beta function, or the BetaBinomial's cumulative table) is
        computed once for both."""
        S, M = c.weight.shape
        if self.n is not None:
            k_right = self._count(y) - c.k0
            # P(k' < k(y)): one count lower when y sits on a grid point
            k_left = np.where(np.isclose(np.asarray(y) * self.n, np.round(np.asarray(y) * self.n)),
                              np.round(np.asarray(y) * self.n) - c.k0 - 1, k_right)
            if c.m == 0:
                return tuple(np.broadcast_to((k >= 0).astype(float), (S, M, k.size)).copy()
                             for k in (k_right, k_left))
            table = self._inner_table(c, cumulative=True)   # [S, M, m + 1]

            def at(k):
                cont = np.where(k < 0, 0.0, table[..., np.clip(k, 0, c.m).astype(int)])
                return (c.mass_low[..., None] * (k >= 0) + c.rest[..., None] * cont
                        + c.mass_high[..., None] * (k >= c.m))
            return at(k_right), at(k_left)
        y = np.asarray(y, np.float64)
        if c.high <= c.low:
            return tuple(np.broadcast_to(v.astype(float), (S, M, y.size)).copy()
                         for v in (y >= c.low, y > c.low))
        from scipy.special import betainc
        a, b = c.ab()
        u = np.clip((y - c.low) / (c.high - c.low), 0.0, 1.0)
        cont = c.rest[..., None] * betainc(a[..., None], b[..., None], u)

        def with_masses(at_or_past, past_high):
            return (c.mass_low[..., None] * at_or_past + cont
                    + c.mass_high[..., None] * past_high)
        return with_masses(y >= c.low, y >= c.high), with_masses(y > c.low, y > c.high)

    def _inner_table(self, c: Component, cumulative: bool) -> np.ndarray:
        """The BetaBinomial part's pmf (or CDF) over k' = 0..m per draw and scale
        [S, M, m + 1], built in chunks of draws."""
        a, b = c.ab()
        a = np.broadcast_to(a, c.weight.shape)
        b = np.broadcast_to(b, c.weight.shape)
        ks = np.arange(c.m + 1, dtype=np.float64)
        S, M = a.shape
        out = np.empty((S, M, c.m + 1))
        step = max(1, _CHUNK // max(1, M * (c.m + 1)))
        for s in range(0, S, step):
            pmf = np.exp(_bb_log_pmf(ks, c.m, a[s:s + step, :, None], b[s:s + step, :, None]))
            out[s:s + step] = np.minimum(np.cumsum(pmf, -1), 1.0) if cumulative else pmf
        return out

    def cdf(self, y, left: bool = False) -> np.ndarray:
        """P(Y ≤ y) (``left``: P(Y < y)) per draw and scale at values ``y`` [P]: [S, M, P]."""
        return self.cdfs(y)[1 if left else 0]

    def cdfs(self, y) -> tuple[np.ndarray, np.ndarray]:
        """(P(Y ≤ y), P(Y < y)) per draw and scale at values ``y`` [P]: two [S, M, P], for the
        cost of one."""
        y = np.atleast_1d(np.asarray(y, np.float64))
        right, left = 0.0, 0.0
        for c in self.components:
            r, l = self._component_cdfs(c, y)
            right = right + c.weight[..., None] * r
            left = left + c.weight[..., None] * l
        return np.clip(right, 0.0, 1.0), np.clip(left, 0.0, 1.0)

    def grid(self) -> np.ndarray:
        """Values on which quantiles are resolved: every count k / n, or 1001 points on [0, 1]."""
        if self.n is not None:
            return np.arange(self.n + 1) / self.n
        pts = [np.linspace(0.0, 1.0, 1001)] + [np.array([c.low, c.high]) for c in self.components]
        return np.unique(np.concatenate(pts))

    # ------------------------------------------------------------------ moments, density
    def component_mean(self, c: Component) -> np.ndarray:
        """E[Y | component] per draw and scale."""
        if self.n is not None:
            return (c.k0 + c.m * (c.mass_high + c.rest * c.mu)) / self.n
        inner = c.mass_high + c.rest * c.mu
        return c.low + (c.high - c.low) * inner

    def mean(self) -> np.ndarray:
        return sum(c.weight * self.component_mean(c) for c in self.components)

    def density(self, y) -> np.ndarray:
        """Count fits: n·P(k = round(y·n)) (integrates to ~1 over [0, 1]); continuous fits: the
        density of the continuous parts (point masses excluded). [S, M, P]."""
        y = np.atleast_1d(np.asarray(y, np.float64))
        total = 0.0
        for c in self.components:
            if self.n is not None:
                k = np.round(np.clip(y, 0, 1) * self.n) - c.k0
                inside = (k >= 0) & (k <= c.m)
                kk = np.clip(k, 0, c.m)
                if c.m == 0:
                    pmf = np.broadcast_to(inside.astype(float), c.weight.shape + (y.size,))
                else:
                    table = self._inner_table(c, cumulative=False)
                    pmf = c.rest[..., None] * table[..., kk.astype(int)]
                    pmf = pmf + c.mass_low[..., None] * (kk == 0) + c.mass_high[..., None] * (
                        kk == c.m)
                    pmf = np.where(inside, pmf, 0.0)
                dens = self.n * pmf
            elif c.high <= c.low:
                dens = np.zeros(c.weight.shape + (y.size,))
            else:
                from scipy import stats
                a, b = c.ab()
                u = (y - c.low) / (c.high - c.low)
                inside = (u > 0) & (u < 1)
                dens = c.rest[..., None] * stats.beta.pdf(np.clip(u, 1e-9, 1 - 1e-9),
                                                          a[..., None], b[..., None])
                dens = np.where(inside, dens / (c.high - c.low), 0.0)
            total = total + c.weight[..., None] * dens
        return np.asarray(total)

    # ------------------------------------------------------------------ sampling
    def sample(self, draws: np.ndarray, scale_index: int, rng: np.random.Generator) -> np.ndarray:
        """One predictive value per entry of ``draws`` (posterior draw indices) at one scale."""
        n = draws.size
        weights = np.stack([c.weight[draws, scale_index] for c in self.components], axis=1)
        pick = (rng.random(n)[:, None] > np.cumsum(weights, axis=1)).sum(axis=1)
        pick = pick.clip(0, len(self.components) - 1)
        out = np.empty(n)
        for ci, c in enumerate(self.components):
            sel = pick == ci
            if not sel.any():
                continue
            d = draws[sel]
            col = 0 if c.kappa.shape[1] == 1 else scale_index
            mu = np.clip(c.mu[d, scale_index], _EPS, 1 - _EPS)
            kap = c.kappa[d, col]
            p = rng.beta(mu * kap, (1 - mu) * kap)
            lo_m, hi_m = c.mass_low[d, 0], c.mass_high[d, 0]
            v = rng.random(sel.sum())
            if self.n is not None:
                inner = rng.binomial(c.m, p) if c.m > 0 else np.zeros(sel.sum())
                k = np.where(v < lo_m, 0, np.where(v < lo_m + hi_m, c.m, inner))
                out[sel] = (c.k0 + k) / self.n
            elif c.high <= c.low:
                out[sel] = c.low
            else:
                inner = c.low + (c.high - c.low) * p
                out[sel] = np.where(v < lo_m, c.low, np.where(v < lo_m + hi_m, c.high, inner))
        return out
