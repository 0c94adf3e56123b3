"""Model-free companions of the mixture fit (the statistics of Zhao et al., "Distributional Scaling
Laws for Emergent Capabilities", arXiv 2502.17356).

Per scale (``per_scale_stats``): P(success) = share of seeds that succeed (``SuccessCriterion``:
metric > threshold, by default ``AnalysisConfig.threshold``),
mean, E[metric | success], mode, each with a 95% percentile-bootstrap interval (1,000 resamples,
seeded); Hartigan's dip statistic and its p-value. The mode is the centre of the fullest bin of a
20-bin histogram on [0, 1] (robust with exact 0s/1s and coarse accuracies; ties -> lowest bin).

Hartigan's dip (``dip_statistic``) follows the Hartigan & Hartigan (1985) algorithm (AS 217): greatest
convex minorant / least concave majorant cycling over the modal interval, O(n) after sorting. The
p-value (``dip_test``) is the share of uniform samples of the same size with a dip at least as large:
by direct simulation when ``n_sim`` is given, otherwise from a table of simulated null quantiles of
√n·dip (computed once per process for n in a grid and interpolated in n and in the statistic).

Between adjacent scales: Wasserstein-2 distance of the seed distributions (``wasserstein2``): equal n
sqrt(mean((sort x − sort y)²)); unequal n exactly through the two empirical quantile functions.

Per seed curve over the scale grid (``curve_stats``): I(y) = sign(argmax y − argmin y)·(max y − min y),
breakthroughness = I / sqrt(median((Δy)²)), linearity = I / sqrt(mean((Δy)²)); a flat curve gives
0, and a curve whose median squared step is 0 but I ≠ 0 gives ±inf breakthroughness. The bounded
companion step_share = max |Δy| / (max y − min y) is the share of the curve's range covered by its
largest single step (1: one jump; 1/(T − 1) for a straight line of T points; 0 when flat).
``abruptness`` applies them to curves of a metric that may fall as it improves (a loss), and to
curves over training steps as well as over scale.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.errors import DataError

__all__ = ["dip_statistic", "dip_test", "wasserstein2", "bootstrap_ci", "per_scale_stats",
           "curve_stats", "abruptness", "histogram_mode"]


# ------------------------------------------------------------------------------------------ dip


def dip_statistic(x) -> float:
    """Hartigan's dip of a 1-D sample (0 <= dip <= 0.25; the minimum for n points is 1/(2n))."""
    x = np.sort(np.asarray(x, np.float64).reshape(-1))
    n = x.size
    if n == 0:
        raise DataError("dip of an empty sample")
    if n < 2 or x[0] == x[-1]:
        return 1.0 / (2 * n)
    # 1-based indexing, as in the published algorithm.
    X = np.concatenate([[0.0], x])
    mn = np.zeros(n + 1, np.int64)
    mj = np.zeros(n + 1, np.int64)
    # indices for the convex minorant
    mn[1] = 1
    for j in range(2, n + 1):
        mn[j] = j - 1
        while True:
            mnj = mn[j]
            mnmnj = mn[mnj]
            if mnj == 1 or (X[j] - X[mnj]) * (mnj - mnmnj) < (X[mnj] - X[mnmnj]) * (j - mnj):
                break
            mn[j] = mnmnj
    # indices for the concave majorant
    mj[n] = n
    for k in range(n - 1, 0, -1):
        mj[k] = k + 1
        while True:
            mjk = mj[k]
            mjmjk = mj[mjk]
            if mjk == n or (X[k] - X[mjk]) * (mjk - mjmjk) < (X[mjk] - X[mjmjk]) * (k - mjk):
                break
            mj[k] = mjmjk
    low, high = 1, n
    dip = 1.0
    gcm = np.zeros(n + 2, np.int64)
    lcm = np.zeros(n + 2, np.int64)
    while True:
        gcm[1] = high
        i = 1
        while gcm[i] > low:
            gcm[i + 1] = mn[gcm[i]]
            i += 1
        ig = l_gcm = i
        ix = ig - 1
        lcm[1] = low
        i = 1
        while lcm[i] < high:
            lcm[i + 1] = mj[lcm[i]]
            i += 1
        ih = l_lcm = i
        iv = 2
        d = 0.0
        if l_gcm != 2 or l_lcm != 2:
            while True:
                gcmix = gcm[ix]
                lcmiv = lcm[iv]
                if gcmix > lcmiv:
                    gcmi1 = gcm[ix + 1]
                    dx = (lcmiv - gcmi1 + 1) - (X[lcmiv] - X[gcmi1]) * (gcmix - gcmi1) / (
                        X[gcmix] - X[gcmi1])
                    iv += 1
                    if dx >= d:
                        d = dx
                        ig = ix + 1
                        ih = iv - 1
                else:
                    lcmiv1 = lcm[iv - 1]
                    dx = (X[gcmix] - X[lcmiv1]) * (lcmiv - lcmiv1) / (X[lcmiv] - X[lcmiv1]) - (
                        gcmix - lcmiv1 - 1)
                    ix -= 1
                    if dx >= d:
                        d = dx
                        ig = ix + 1
                        ih = iv
                if ix < 1:
                    ix = 1
                if iv > l_lcm:
                    iv = l_lcm
                if gcm[ix] == lcm[iv]:
                    break
        else:
            d = 1.0
        if d < dip:
            break
        # dip of the convex minorant on [gcm[l_gcm], gcm[ig]]
        dip_l = 0.0
        for j in range(ig, l_gcm):
            max_t = 1.0
            jb, je = gcm[j + 1], gcm[j]
            if je - jb > 1 and X[je] != X[jb]:
                C = (je - jb) / (X[je] - X[jb])
                jj = np.arange(jb, je + 1)
                t = (jj - jb + 1) - (X[jj] - X[jb]) * C
                max_t = max(max_t, float(t.max()))
            dip_l = max(dip_l, max_t)
        # dip of the concave majorant on [lcm[ih], lcm[l_lcm]]
        dip_u = 0.0
        for k in range(ih, l_lcm):
            max_t = 1.0
            kb, ke = lcm[k], lcm[k + 1]
            if ke - kb > 1 and X[ke] != X[kb]:
                C = (ke - kb) / (X[ke] - X[kb])
                kk = np.arange(kb, ke + 1)
                t = (X[kk] - X[kb]) * C - (kk - kb - 1)
                max_t = max(max_t, float(t.max()))
            dip_u = max(dip_u, max_t)
        dip = max(dip, dip_l, dip_u)
        if low == gcm[ig] and high == lcm[ih]:
            break
        low, high = gcm[ig], lcm[ih]
    return float(dip / (2 * n))


_TABLE_N = (4, 6, 8, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500)
_TABLE_SIMS = 1000


@functools.lru_cache(maxsize=None)
def _null_sqrt_n_dip(n: int, sims: int = _TABLE_SIMS, seed: int = 12345) -> np.ndarray:
    """Sorted simulated √n·dip of uniform samples of size n (the null of the dip test)."""
    rng = np.random.default_rng(seed + n)
    return np.sort([math.sqrt(n) * dip_statistic(rng.random(n)) for _ in range(sims)])


def _table_pvalue(dip: float, n: int) -> float:
    stat = math.sqrt(n) * dip
    grid = np.array(_TABLE_N)
    if n <= grid[0]:
        lo = hi = int(grid[0])
    elif n >= grid[-1]:
        lo = hi = int(grid[-1])  # √n·dip has converged to its limit law
    else:
        hi = int(grid[np.searchsorted(grid, n)])
        lo = int(grid[np.searchsorted(grid, n) - 1])

    def pv(m):
        null = _null_sqrt_n_dip(m)
        return (np.sum(null >= stat) + 1) / (null.size + 1)
    if lo == hi:
        return float(pv(lo))
    t = (1 / math.sqrt(lo) - 1 / math.sqrt(n)) / (1 / math.sqrt(lo) - 1 / math.sqrt(hi))
    return float((1 - t) * pv(lo) + t * pv(hi))


def dip_test(x, n_sim: int | None = None, seed: int = 0) -> dict:
    """Dip statistic and p-value for unimodality (small p: evidence of more than one mode)."""
    x = np.asarray(x, np.float64).reshape(-1)
    if x.size < 4:
        raise DataError("the dip test needs at least 4 values")
    d = dip_statistic(x)
    if n_sim is None:
        p = _table_pvalue(d, x.size)
    else:
        rng = np.random.default_rng(seed)
        null = np.array([dip_statistic(rng.random(x.size)) for _ in range(n_sim)])
        p = float((np.sum(null >= d) + 1) / (n_sim + 1))
    return {"dip": d, "p_value": p, "n": int(x.size)}


MIN_DIP_VALUES = 4   # the dip test needs at least this many values


def dip_p_value(x) -> float:
    """The dip test's p-value for unimodality of ``x``, NaN with fewer than ``MIN_DIP_VALUES``
    values (the per-scale tables' convention)."""
    x = np.asarray(x, np.float64).reshape(-1)
    return dip_test(x)["p_value"] if x.size >= MIN_DIP_VALUES else math.nan


# ------------------------------------------------------------------------------- Wasserstein-2


def wasserstein2(x, y) -> float:
    """W2 between two empirical distributions (exact, via their quantile functions)."""
    x = np.sort(np.asarray(x, np.float64).reshape(-1))
    y = np.sort(np.asarray(y, np.float64).reshape(-1))
    if x.size == 0 or y.size == 0:
        raise DataError("Wasserstein distance of an empty sample")
    if x.size == y.size:
        return float(np.sqrt(np.mean((x - y) ** 2)))
    # Both quantile functions are step functions on (0, 1]; integrate over the merged breakpoints.
    u = np.union1d(np.arange(1, x.size + 1) / x.size, np.arange(1, y.size + 1) / y.size)
    left = np.concatenate([[0.0], u[:-1]])
    mid = (left + u) / 2
    qx = x[np.minimum((mid * x.size).astype(np.int64), x.size - 1)]
    qy = y[np.minimum((mid * y.size).astype(np.int64), y.size - 1)]
    return float(np.sqrt(np.sum((u - left) * (qx - qy) ** 2)))


# ----------------------------------------------------------------------------------- bootstrap


def bootstrap_ci(x, stat, n_boot: int = 1000, level: float = 0.95, seed: int = 0
                 ) -> tuple[float, float, float]:
    """Percentile bootstrap: (estimate, lower, upper). ``stat`` maps [B, n] -> [B] (vectorised);
    NaN replicates (e.g. no successes in a resample) are ignored."""
    x = np.asarray(x, np.float64).reshape(-1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    reps = np.asarray(stat(x[idx]), np.float64)
    est = float(np.asarray(stat(x[None, :])).reshape(-1)[0])
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return est, math.nan, math.nan
    a = (1 - level) / 2
    lo, hi = np.quantile(reps, [a, 1 - a])
    return est, float(lo), float(hi)


def histogram_mode(x, bins: int = 20) -> np.ndarray:
    """Mode(s) along the last axis: centre of the fullest of ``bins`` equal bins on [0, 1]."""
    x = np.asarray(x, np.float64)
    b = np.minimum((np.clip(x, 0, 1) * bins).astype(np.int64), bins - 1)
    counts = np.zeros(x.shape[:-1] + (bins,))
    np.put_along_axis(counts, b, 0, axis=-1)
    flat_b = b.reshape(-1, x.shape[-1])
    flat_c = counts.reshape(-1, bins)
    for r in range(flat_b.shape[0]):
        flat_c[r] = np.bincount(flat_b[r], minlength=bins)
    return (flat_c.argmax(-1).reshape(x.shape[:-1]) + 0.5) / bins


def _success_mean(criterion):
    def f(v):
        s = criterion.succeeded(v)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(s.sum(-1) > 0, (v * s).sum(-1) / s.sum(-1), np.nan)
    return f


def per_scale_stats(data, criterion=None, n_boot: int = 1000, level: float = 0.95,
                    seed: int = 0, dip: bool = True) -> list[dict]:
    """Per scale of a (single-group) SeedData: n, P(success), mean, E[metric | success], mode (each
    with a bootstrap interval), dip and dip p-value, and W2 to the previous scale. ``criterion``:
    a ``SuccessCriterion`` or a threshold (default: ``AnalysisConfig.threshold``)."""
    if not isinstance(criterion, SuccessCriterion):
        criterion = SuccessCriterion(data.metric) if criterion is None else \
            SuccessCriterion(data.metric, float(criterion))
    rows = []
    prev = None
    for j, s in enumerate(data.scales):
        v = data.value[data.scale == s]
        row = {"scale": float(s), "n": int(v.size)}
        for name, fn in (("p_success", lambda a: criterion.succeeded(a).mean(-1)),
                         ("mean", lambda a: a.mean(-1)),
                         ("success_mean", _success_mean(criterion)),
                         ("mode", histogram_mode)):
            est, lo, hi = bootstrap_ci(v, fn, n_boot=n_boot, level=level, seed=seed + j)
            row[name] = {"estimate": est, "lower": lo, "upper": hi, "level": level}
        if dip and v.size >= MIN_DIP_VALUES:
            row.update({"dip": dip_statistic(v), "dip_p_value": dip_p_value(v)})
        else:
            row.update({"dip": math.nan, "dip_p_value": math.nan})
        row["w2_from_previous"] = math.nan if prev is None else wasserstein2(prev, v)
        prev = v
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------ curve statistics


def curve_stats(values) -> dict[str, np.ndarray]:
    """Per seed curve (rows = seeds, columns = scales in ascending order): I, breakthroughness,
    linearity, step_share."""
    y = np.asarray(values, np.float64)
    if y.ndim == 1:
        y = y[None]
    if y.shape[1] < 2:
        raise DataError("curve statistics need at least two scales")
    span = y.max(1) - y.min(1)
    I = np.sign(np.argmax(y, 1) - np.argmin(y, 1)) * span
    dy = np.diff(y, axis=1)
    dy2 = dy ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        br = np.where(I == 0, 0.0, I / np.sqrt(np.median(dy2, axis=1)))
        lin = np.where(I == 0, 0.0, I / np.sqrt(np.mean(dy2, axis=1)))
        share = np.where(span == 0, 0.0, np.abs(dy).max(1) / span)
    return {"I": I, "breakthroughness": br, "linearity": lin, "step_share": share}


def abruptness(curves, *, falling: bool = False) -> dict[str, np.ndarray]:
    """``curve_stats`` of curves [..., T] — each seed's metric over its evaluation steps, or a
    per-scale mean over ascending scales — oriented so that improvement counts as positive: a
    ``falling`` metric (a loss) is negated first, so a loss that drops abruptly has a large
    positive breakthroughness like an accuracy that jumps."""
    y = np.asarray(curves, np.float64)
    return curve_stats(-y if falling else y)
