"""Performance against pre-training loss (Du et al., "Understanding Emergent Abilities of Language
Models from the Loss Perspective", arXiv 2403.15796).

Points are (seed, checkpoint) pairs: the pre-training loss L and k of n evaluation examples right
(``loss_points`` reads them from a run store through ``analysis.outcomes.curves``).

Threshold model ("threshold"):  p(L) = r + (1 − r)·(1 − exp(−κ·relu(η − L)^γ))
    r: chance level (fixed when given, else Beta(1, 3)); η ~ Uniform(min L, max L);
    κ ~ LogNormal(0, 1.5); γ ~ LogNormal(0, 0.5).
Smooth alternative ("smooth", a logistic in L):  p(L) = r + (1 − r)·sigmoid(a + b·(L − mean L)),
    a, b ~ Normal(0, 2.5).
Per-size offsets ("offsets", with ``group``, e.g. the scale point of each point): the threshold
    model with one threshold per group, η_g = η + δ_g, and η, r, κ, γ as there; the offsets are
    centred, δ_g = δ′_g − mean(δ′) with δ′_g ~ Normal(0, s), s = 0.1·(max L − min L)
    (``OFFSET_SCALE``), so η is the groups' mean threshold. Reported are each η_g and the offsets
    against the reference group (the smallest label, e.g. the first scale point), δ_g − δ_ref
    (< 0: group g needs a lower loss to take off). Why free, centred offsets with a fixed scale:
    a small model may never reach its threshold, and then its η_g is bounded only from above, by
    a wall where its points would rise above chance. With δ_ref fixed at 0, η itself would be
    that unbounded η_ref and every δ_g would move with it; uncentred, η and a common shift of all
    δ_g form a ridge bounded only by the prior, along which NUTS crawls; a flat η_g ending in a
    steep wall makes NUTS diverge, and the Normal keeps such an η_g near the others (the
    divergences that remain are what ``TARGET_ACCEPT`` and the re-runs are for). A learned scale
    (a hierarchy) would open a funnel exactly when sizes share a threshold, and a sweep has too
    few sizes to learn it.

Likelihood: k ~ BetaBinomial(n, p·φ, (1 − p)·φ), mean n·p and variance n·p(1 − p)·(1 + (n − 1)/(φ
+ 1)), with φ ~ LogNormal(log 50, 1.5); ``overdispersed=False`` gives the Binomial. Why: at equal
loss, seeds differ by more than the sampling noise of n examples, and with thousands of points a
Binomial would turn that spread into decisive-looking elpd differences between any two curves. The
prior keeps φ below ~10⁴, where the Binomial is reached for any n of interest; without it binomial
data would drive φ towards infinity, where the log-gamma differences lose all precision.

Sampling: NUTS, the models side by side in threads (``inference.side_by_side``), each with
``inference.run_nuts_with_remedies`` (re-run with more warmup and smaller steps
while the diagnostics fail), ``TARGET_ACCEPT`` per model.

Comparison by PSIS-LOO (``inference.psis_loo``, ``compare_loo``): a model is preferred when its
elpd exceeds the other's by more than max(4, 2·SE) (``clearly_better``). The threshold model
against the logistic: is there a threshold? The per-size offsets against the shared threshold:
does size matter once loss is equal? Points of one seed are correlated along its training, which
leave-one-point-out does not see: the comparison is of curves through the points, not a test of
independent replicates, hence the margin.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from emergence_jax.core.errors import DataError

__all__ = ["MAX_POINTS", "MODELS", "OFFSET_SCALE", "LossPoints", "binned_means", "clearly_better",
           "fit_loss_threshold", "group_thresholds", "loss_curve", "loss_points",
           "threshold_curve"]

# Sampling cost grows with the points, and more add little to three curves: the per-size offsets
# on 2,000 points (6 sizes, 4 chains × 1,000 iterations) took 5.5 min on a busy 2-core machine.
MAX_POINTS = 2000
OFFSET_SCALE = 0.1     # prior sd of the per-size offsets δ_g, as a share of the loss range
# NUTS' target acceptance: a size that never reaches its threshold leaves its η_g against a steep
# wall, which longer steps hit (divergences); the re-runs of ``inference.REMEDIES`` follow when
# the diagnostics still fail.
TARGET_ACCEPT = {"threshold": 0.85, "smooth": 0.85, "offsets": 0.95}
MODELS = ("threshold", "smooth", "offsets")
LABELS = {"threshold": "threshold", "smooth": "logistic", "offsets": "per-size offsets"}


# relu(d)^γ has an infinite slope at d = 0 for γ < 1, and the posterior of a threshold that its
# points barely reach sits on that cusp: NUTS chains diverge or stick there. (d + ε)^γ − ε^γ is
# the same curve to within ε^γ (invisible in p for ε = 1e-4 nats) with a finite slope.
_EPS = 1e-4


def _threshold(xp, loss, r, eta, kappa, gamma):
    d = xp.maximum(eta - loss, 0.0)
    dg = xp.power(d + _EPS, gamma) - xp.power(_EPS, gamma)
    return r + (1 - r) * (1 - xp.exp(-kappa * dg))


def threshold_curve(loss, r: float, eta: float, kappa: float, gamma: float) -> np.ndarray:
    """The threshold model's performance at pre-training ``loss``:
    r + (1 − r)(1 − exp(−κ·relu(η − L)^γ)), the power taken as (d + ε)^γ − ε^γ (``_EPS``)."""
    return _threshold(np, np.asarray(loss, np.float64), r, eta, kappa, gamma)


def _probability(xp, model: str, d: dict, loss, group, centre: float):
    """p(L) of ``model`` at parameters ``d`` (one draw, or draws broadcast against ``loss``); the
    one definition the sampler, the leave-one-out terms and the plotted curves share."""
    r = d["r"]
    if model == "smooth":
        return r + (1 - r) / (1 + xp.exp(-(d["a"] + d["b"] * (loss - centre))))
    eta = d["eta"] + xp.take(d["delta"], group, axis=-1) if model == "offsets" else d["eta"]
    return _threshold(xp, loss, r, eta, d["kappa"], d["gamma"])


def _log_choose(n, k) -> np.ndarray:
    """log C(n, k), a constant of the data (computed once, outside the sampler)."""
    from scipy.special import gammaln
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def _loglik(xp, p, k, n, logc, phi):
    """Pointwise log P(k of n | p): BetaBinomial with concentration ``phi``, Binomial when ``phi``
    is None. ``xp``: numpy (leave-one-out terms) or jax.numpy (the sampler)."""
    p = xp.clip(p, 1e-6, 1 - 1e-6)
    if phi is None:
        return logc + k * xp.log(p) + (n - k) * xp.log1p(-p)
    if xp is np:
        from scipy.special import gammaln
    else:
        from jax.scipy.special import gammaln
    phi = phi + 0 * p
    a, b = p * phi, (1 - p) * phi
    # one log-gamma call on the stacked arguments: a small compiled program (as in the hurdle)
    lg = gammaln(xp.stack([k + a, n - k + b, phi, n + phi, a, b]))
    return logc + lg[0] + lg[1] + lg[2] - lg[3] - lg[4] - lg[5]


@dataclasses.dataclass(frozen=True)
class _Spec:
    """What a model needs beyond the points: the loss range (η's prior), the logistic's centre,
    the number of groups, a fixed chance level (or None) and the likelihood."""
    lo: float
    hi: float
    centre: float
    groups: int
    chance: float | None
    overdispersed: bool

    def args(self) -> tuple:
        """The numbers a model takes as arguments, not as constants: fits of other data with the
        same shapes then re-use the compiled sampler (``run_nuts``' ``cache_key``)."""
        return (self.lo, self.hi, self.centre, 0.0 if self.chance is None else self.chance)

    def cache_key(self, name: str) -> tuple:
        return ("loss", name, self.groups, self.chance is None, self.overdispersed)


def _model(name: str, spec: _Spec):
    """The NumPyro model ``name``; its structure depends only on ``spec.cache_key(name)``."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def model(L, k, n, logc, group, lo, hi, centre, chance):
        d = {"r": chance if spec.chance is not None else numpyro.sample("r", dist.Beta(1.0, 3.0))}
        if name == "smooth":
            d["a"] = numpyro.sample("a", dist.Normal(0.0, 2.5))
            d["b"] = numpyro.sample("b", dist.Normal(0.0, 2.5))
        else:
            # η ~ Uniform(lo, hi) through a unit draw: a support that moved with the data would
            # tie the compiled sampler to one data set's losses.
            d["eta"] = numpyro.deterministic(
                "eta", lo + (hi - lo) * numpyro.sample("eta_unit", dist.Uniform(0.0, 1.0)))
            d["kappa"] = numpyro.sample("kappa", dist.LogNormal(0.0, 1.5))
            d["gamma"] = numpyro.sample("gamma", dist.LogNormal(0.0, 0.5))
            if name == "offsets":
                # centred (Σ δ_g = 0, η the groups' mean threshold): free δ_g would trade with η
                # along a ridge that only their prior bounds, and NUTS crawls along it
                raw = numpyro.sample("delta_raw", dist.Normal(0.0, OFFSET_SCALE * (hi - lo))
                                     .expand([spec.groups]).to_event(1))
                d["delta"] = numpyro.deterministic("delta", raw - jnp.mean(raw))
        phi = (numpyro.sample("phi", dist.LogNormal(math.log(50.0), 1.5))
               if spec.overdispersed else None)
        p = _probability(jnp, name, d, L, group, centre)
        numpyro.factor("loglik", jnp.sum(_loglik(jnp, p, k, n, logc, phi)))
    return model


def _draw_params(draws: dict, chance: float | None) -> dict:
    """Draws [D] (or [D, G]: one per group) shaped to broadcast against points [N]: scalars
    become [D, 1]; a fixed chance level is filled in."""
    D = next(iter(draws.values())).shape[0]
    d = {k: (v[:, None] if v.ndim == 1 else v) for k, v in draws.items()}
    if "r" not in d:
        d["r"] = np.full((D, 1), chance)
    return d


def _pointwise_loglik(name: str, spec: _Spec, draws: dict, L, k, n, logc, group,
                      block: int = 500) -> np.ndarray:
    """[draws, points] log-likelihoods for PSIS-LOO, a block of draws at a time."""
    d = _draw_params(draws, spec.chance)
    out = []
    for s in range(0, d["r"].shape[0], block):
        part = {kk: v[s:s + block] for kk, v in d.items()}
        p = _probability(np, name, part, L[None], group, spec.centre)
        out.append(_loglik(np, p, k, n, logc, part.get("phi")))
    return np.concatenate(out, axis=0)


def _summary(draws: dict, level: float, groups: list) -> dict:
    """Mean and central ``level`` interval of each parameter; for the offsets, each group's
    threshold ``eta[g]`` = η + δ_g and its offset from the reference group ``delta[g]`` = δ_g −
    δ_ref (non-reference groups)."""
    a = (1 - level) / 2

    def interval(v):
        return {"mean": float(v.mean()), "lower": float(np.quantile(v, a)),
                "upper": float(np.quantile(v, 1 - a))}
    out = {name: interval(v) for name, v in draws.items() if name != "delta"}
    if "delta" in draws:
        delta = draws["delta"]
        out.update({f"eta[{g}]": interval(draws["eta"] + delta[:, j])
                    for j, g in enumerate(groups)})
        out.update({f"delta[{g}]": interval(delta[:, j] - delta[:, 0])
                    for j, g in enumerate(groups) if j})
    return out


def clearly_better(delta_elpd: float, se: float) -> bool:
    """The rule of every comparison here: elpd higher by more than max(4, 2·SE)."""
    return bool(delta_elpd > max(4.0, 2.0 * se))


def fit_loss_threshold(loss, k, n, *, group=None, chance: float | None = None,
                       overdispersed: bool = True, chains: int = 2, warmup: int = 300,
                       samples: int = 300, seed: int = 0, progress: bool = False,
                       level: float = 0.9) -> dict:
    """Fits the threshold and the smooth logistic model to (loss, k correct of n) points and
    compares them by PSIS-LOO; with ``group`` (a label per point, ≥ 2 distinct, e.g. its scale
    point) also the per-size offsets model against the shared threshold.

    Returns {model: {"draws", "diagnostics", "loo", "summary" (mean and ``level`` interval per
    parameter; for the offsets ``eta[g]`` = η + δ_g per group and ``delta[g]`` = δ_g − δ_ref per
    non-reference group)}} for "threshold", "smooth" (and "offsets"),
    with "delta_elpd", "se_delta" (threshold − logistic), "threshold_preferred",
    "threshold_verdict", "centre" (mean loss, the logistic's centre), "chance" and, with groups,
    "groups" (sorted labels; the first is the reference), "size_delta_elpd", "size_se_delta"
    (offsets − shared threshold), "size_matters" and "size_verdict"."""
    from emergence_jax.analysis.inference import (compare_loo, psis_loo, run_nuts_with_remedies,
                                                  side_by_side)

    L = np.asarray(loss, np.float64).reshape(-1)
    k = np.asarray(k, np.float64).reshape(-1)
    n = np.broadcast_to(np.asarray(n, np.float64), L.shape).copy()
    if k.shape != L.shape:
        raise DataError(f"need one count per loss value (got {k.size} counts, {L.size} losses)")
    if L.size < 3 or not np.all(np.isfinite(L)) or float(L.min()) == float(L.max()):
        raise DataError("need at least 3 points with finite losses that are not all equal")
    if np.any(k < 0) or np.any(k > n) or np.any(n < 1):
        raise DataError("need 0 <= k <= n and n >= 1")
    if group is None:
        labels, index = [], np.zeros(L.size, np.int32)
    else:
        g = np.asarray(group).reshape(-1)
        if g.shape != L.shape:
            raise DataError(f"need one group per point (got {g.size} groups, {L.size} points)")
        labels, index = np.unique(g, return_inverse=True)
        labels = labels.tolist()
        if len(labels) < 2:
            raise DataError("the per-size offsets need points of at least two groups")
    spec = _Spec(lo=float(L.min()), hi=float(L.max()), centre=float(L.mean()),
                 groups=max(len(labels), 1), chance=chance, overdispersed=overdispersed)
    args = (L, k, n, _log_choose(n, k), index.astype(np.int32))
    inits = {"threshold": {"eta_unit": 0.5, "kappa": 1.0, "gamma": 1.0},
             "smooth": {"a": 0.0, "b": -1.0}}
    inits["offsets"] = {**inits["threshold"], "delta_raw": np.zeros(spec.groups)}
    out: dict = {"centre": spec.centre, "chance": chance}

    def fit(name: str) -> dict:
        draws, diag = run_nuts_with_remedies(
            _model(name, spec), args + spec.args(), cache_key=spec.cache_key(name),
            chains=chains, warmup=warmup, samples=samples, seed=seed, progress=progress,
            init_values=inits[name], target_accept=TARGET_ACCEPT[name])
        d = {kk: np.asarray(v, np.float64) for kk, v in draws.items()   # the deterministic
             if kk not in ("eta_unit", "delta_raw")}                     # η, δ stand for them
        return {"draws": d, "diagnostics": diag,
                "loo": psis_loo(_pointwise_loglik(name, spec, d, *args)),
                "summary": _summary(d, level, labels)}
    names = MODELS if labels else MODELS[:2]      # the models are independent
    out.update(zip(names, side_by_side(*(lambda name=name: fit(name) for name in names))))
    delta, se = compare_loo(out["threshold"]["loo"], out["smooth"]["loo"])
    out.update(delta_elpd=delta, se_delta=se, threshold_preferred=clearly_better(delta, se))
    out["threshold_verdict"] = (
        "threshold preferred" if out["threshold_preferred"] else
        "logistic preferred" if clearly_better(-delta, se) else
        "no clear preference between threshold and logistic")
    if labels:
        delta, se = compare_loo(out["offsets"]["loo"], out["threshold"]["loo"])
        matters = clearly_better(delta, se)
        out.update(groups=labels, size_delta_elpd=delta, size_se_delta=se, size_matters=matters,
                   size_verdict="size matters: per-size thresholds preferred" if matters else
                   "no evidence that size matters once loss is equal")
    return out


def loss_curve(result: dict, model: str, loss, group=None, level: float = 0.9) -> dict:
    """A fitted model's p(L) along ``loss``: posterior "mean", "lower" and "upper" (central
    ``level`` interval). For "offsets", ``group`` is a label of ``result["groups"]``."""
    if model not in result:
        raise DataError(f"the fit has no {model!r} model (fitted: "
                        f"{', '.join(m for m in MODELS if m in result)})")
    L = np.asarray(loss, np.float64).reshape(-1)
    index = 0
    if model == "offsets":
        if group not in result["groups"]:
            raise DataError(f"group {group!r} is not one of the fit's groups {result['groups']}")
        index = result["groups"].index(group)
    d = _draw_params(result[model]["draws"], result["chance"])
    p = _probability(np, model, d, L[None], np.full(L.size, index), result["centre"])
    a = (1 - level) / 2
    return {"mean": p.mean(0), "lower": np.quantile(p, a, axis=0),
            "upper": np.quantile(p, 1 - a, axis=0)}


def group_thresholds(result: dict) -> dict:
    """The per-size offsets model's threshold η_g = η + δ_g of each group: {label: {"mean",
    "lower", "upper"}}; empty without groups."""
    if "offsets" not in result:
        return {}
    summary = result["offsets"]["summary"]
    return {str(g): summary[f"eta[{g}]"] for g in result["groups"]}


def binned_means(loss, value, bins: int = 12) -> dict:
    """``value`` averaged in ``bins`` bins of equal counts along ``loss``: per bin the mean "loss",
    the mean "value" and the "count" (fewer bins when there are fewer distinct losses)."""
    L = np.asarray(loss, np.float64).reshape(-1)
    v = np.asarray(value, np.float64).reshape(-1)
    edges = np.unique(np.quantile(L, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, L, side="right") - 1, 0, max(edges.size - 2, 0))
    used = np.unique(which)
    return {"loss": np.array([L[which == b].mean() for b in used]),
            "value": np.array([v[which == b].mean() for b in used]),
            "count": np.array([int((which == b).sum()) for b in used])}


# ------------------------------------------------------------------------------- from a run


@dataclasses.dataclass(frozen=True)
class LossPoints:
    """(seed, checkpoint) pairs of a run: the pre-training loss and the downstream metric."""
    metric: str
    loss_metric: str
    loss: np.ndarray         # float64 [N]
    value: np.ndarray        # float64 [N], the metric
    k: np.ndarray            # float64 [N], examples right: value·n (rounded when exact_counts)
    n: int                   # evaluation examples behind each value
    point: np.ndarray        # int64 [N], scale point
    seed: np.ndarray         # int64 [N]
    step: np.ndarray         # int64 [N]
    total: int               # points before thinning
    exact_counts: bool       # value·n is a whole number at every point

    def __len__(self) -> int:
        return int(self.loss.size)

    @property
    def thinned(self) -> bool:
        return len(self) < self.total


def loss_points(run, metric: str, loss_metric: str, *, max_points: int = MAX_POINTS
                ) -> LossPoints:
    """Every kept seed's (``loss_metric``, ``metric``) at each evaluation of every counted scale
    point (``analysis.outcomes.curves`` decides which count), thinned to ``max_points`` by a
    fixed-seed random subset (a stride could pick the same checkpoint of every seed).

    ``metric`` must be a share in [0, 1]; k = metric × n with n the run's evaluation examples
    (``run.eval_examples``, as for the fits' BetaBinomial counts), rounded when that is a whole
    number everywhere (exact match: a share of examples). A share of something else (token
    accuracy: of answer tokens) keeps k = metric × n as a pseudo-count of n, ``exact_counts``
    False."""
    from emergence_jax.analysis.outcomes import curves
    parts = []
    for lc, mc in zip(curves(run, loss_metric), curves(run, metric)):
        kept = lc.kept & mc.kept
        shape = lc.values[kept].shape
        parts.append((lc.values[kept].ravel(), mc.values[kept].ravel(),
                      np.full(shape, lc.point).ravel(),
                      np.broadcast_to(lc.seeds[kept][:, None], shape).ravel(),
                      np.broadcast_to(lc.steps[None], shape).ravel()))
    if not parts or not sum(p[0].size for p in parts):
        raise DataError(f"no kept seed has finite {metric} and {loss_metric} curves")
    loss, value, point, seed, step = (np.concatenate(c) for c in zip(*parts))
    if value.min() < 0 or value.max() > 1:
        raise DataError(f"metric {metric!r} has values outside [0, 1] (min {value.min():g}, max "
                        f"{value.max():g}); the loss-axis fit models a share of evaluation "
                        "examples such as exact match")
    n = int(getattr(run, "eval_examples", 0) or 0)
    if n < 1:
        raise DataError("the run does not record its number of evaluation examples "
                        "(eval_examples); the loss-axis fit needs it")
    counts = value * n
    exact = bool(np.all(np.abs(counts - np.rint(counts)) < 1e-3))
    total = int(loss.size)
    keep = np.arange(total)
    if total > max_points:
        keep = np.sort(np.random.default_rng(0).choice(total, max_points, replace=False))
    return LossPoints(metric=metric, loss_metric=loss_metric, loss=loss[keep].astype(np.float64),
                      value=value[keep], k=(np.rint(counts) if exact else counts)[keep], n=n,
                      point=point[keep].astype(np.int64), seed=seed[keep].astype(np.int64),
                      step=step[keep].astype(np.int64), total=total, exact_counts=exact)
