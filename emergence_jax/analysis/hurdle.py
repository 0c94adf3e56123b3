"""The hurdle model: P(success) is, by construction, the probability that a seed's metric lands
on the success side of the threshold.

For seed i at raw scale s, with z = (log s − c) / r (c, r: midpoint and half-width of the observed
range of log scales, so the observed scales span z ∈ [−1, 1]):

    side_i ~ Bernoulli(π(z))            success side of the threshold t (observed for every seed)
    y_i | side ~ the side's distribution on its own interval:
        failure / success side          [0, t] and (t, 1] for direction 'above' (success: y > t);
                                        [t, 1] and [0, t) for 'below' (success: y < t)
        within a side                   u = the position of y in the side's interval, rescaled to
                                        [0, 1]; u ~ Beta(μ_side(z), κ_side(z)) with
                                        logit μ_side(z) = γ_side + δ_side·z + η_side·z²
                                        (moves with scale, and may level off or turn back:
                                        η only with 3 or more scales)
                                        log κ_side(z) = log κ_side + ζ_side·z (a side may
                                        sharpen or spread out with scale)
        point mass                      continuous values: at the side's outer end (0 or 1)
                                        with probability p_side, when the data have values
                                        there
        counts (n known)                the side's counts k0..k0 + m (e.g. 0..⌊t·n⌋ and
                                        ⌊t·n⌋ + 1..n): k − k0 ~ BetaBinomial(m, a, b), with
                                        a = μκ, b = (1 − μ)κ; every count in 0..n has
                                        probability, exact 0s and 1s included, so counts need no
                                        point masses (a BetaBinomial with a or b below 1 piles
                                        seeds up at the ends)

π(z) is one of the curve forms of ``emergence_jax.analysis.curve_forms`` (logistic, quadratic,
asymptotes, monotone). The side of each seed is observed, so π is identified by the success
counts alone: a success mode sliding down to absorb half-formed seeds — the failure of a latent
mixture — cannot happen. The posterior factorises into π's parameters and the within-side
parameters, so they are sampled separately: every curve form by one small compiled sampler
(``make_curve_model``, run once per form, each with its own adaptation and diagnostics), the
within-side parameters by another (``make_model``). With ``curve='auto'`` PSIS-LOO on the sides
picks the form (``select_curve``).

Priors (z units): γ ~ Normal(0, 2); δ ~ Normal(0, 2); κ ~ LogNormal(log 10, 1.5) (at most 10⁴);
η ~ Normal(0, 1); ζ ~ Normal(0, 1); p ~ Beta(1, 1); the curve forms' priors are in
``emergence_jax.analysis.curve_forms``.

Data enter as weighted unique rows (identical seeds share one likelihood term): the sides as
success / failure counts per scale, the values as unique (scale, side, value[, n]) rows. The
within-side sampler reads counts as those rows, and continuous values as the Beta's sufficient
statistics per (scale, side) group (Σ log u, Σ log(1 − u), seeds inside, seeds at the outer end:
``value_total``), so its cost grows with the scales, not with the distinct values; the pointwise
log-likelihood for LOO and the checks still come from the rows.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from emergence_jax.analysis import curve_forms as curves
from emergence_jax.analysis.data import SeedData
from emergence_jax.analysis.mixture import ModelSpec, bin_interior, bucket, value_bins
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.errors import DataError

__all__ = ["HurdleData", "PRIORS", "SIDES", "prepare", "make_model", "make_curve_model",
           "model_arguments", "value_loglik", "value_total", "side_loglik", "pointwise", "canonical_params", "curve_params",
           "curve_init", "init_values", "select_curve", "side_supports", "within_sites",
           "outer_is_high", "KAPPA_MAX"]

SIDES = ("failure", "success")
KAPPA_MAX = 1e4
PRIORS = {
    "gamma (logit of the mean position within a side)": "Normal(0, 2)",
    "delta (its change per half observed log-scale range)": "Normal(0, 2)",
    "kappa (Beta concentration within a side, at the middle of the observed scales)":
        "LogNormal(log 10, 1.5), at most 1e4",
    "eta (curvature of the mean position's logit in z)": "Normal(0, 1)",
    "zeta (change of log kappa per half observed log-scale range)": "Normal(0, 1)",
    "mass (point mass at a side's outer end, 0 or 1)": "Beta(1, 1)",
    **{f"P(success) curve: {k}": v for k, v in curves.PRIORS.items()},
}


@dataclasses.dataclass
class HurdleData:
    """The data as weighted rows (padded to bucket sizes so similar fits share one program)."""
    cz: np.ndarray        # float64 [C]  z of each distinct scale
    csucc: np.ndarray     # float64 [C]  seeds on the success side
    cfail: np.ndarray     # float64 [C]  seeds on the failure side
    gz: np.ndarray        # float64 [G]  z of each (scale, side, count range) group of rows
    gside: np.ndarray     # int32 [G]    the group's side (1 success, 0 failure)
    gm: np.ndarray        # float64 [G]  the group's count range (counts)
    rgrp: np.ndarray      # int32 [U]    value row -> group
    rcell: np.ndarray     # int32 [U]    value row -> scale
    rside: np.ndarray     # int32 [U]    1 success side, 0 failure side
    ru: np.ndarray        # float64 [U]  position within the side's interval (continuous)
    rk: np.ndarray        # float64 [U]  count offset within the side (counts)
    rm: np.ndarray        # float64 [U]  the side's count range (counts)
    rlogc: np.ndarray     # float64 [U]  log binomial coefficient C(m, k')
    rend: np.ndarray      # float64 [U]  1 at the side's outer end (0 or 1), else 0
    rw: np.ndarray        # float64 [U]  multiplicity (0 for padding)
    # continuous values: the Beta's sufficient statistics per group (seeds off the outer end)
    glogu: np.ndarray     # float64 [G]  Σ log u
    glog1mu: np.ndarray   # float64 [G]  Σ log(1 − u)
    gn: np.ndarray        # float64 [G]  seeds inside the side
    gend: np.ndarray      # float64 [G]  seeds at the side's outer end
    inverse: np.ndarray   # int64 [N]    seed -> value row
    succeeded: np.ndarray  # bool [N]    each seed's side
    likelihood: str       # 'betabinomial' (counts) or 'zoib' (continuous values)
    center: float         # c: midpoint of the observed log scales
    unit: float           # r: half-width (1 for a single scale)
    n_cells: int
    n_unique: int

    def rows(self) -> dict:
        """The groups and value rows, as ``value_loglik`` reads them."""
        return {"gz": self.gz, "gside": self.gside, "gm": self.gm, "rgrp": self.rgrp,
                "rside": self.rside, "ru": self.ru, "rk": self.rk, "rm": self.rm,
                "rlogc": self.rlogc, "rend": self.rend, "rw": self.rw}

    def arrays(self) -> dict:
        """The within-side model's inputs (``make_model``), in its argument order
        (``model_arguments``): the value rows for counts; for continuous values only the groups'
        sufficient statistics, so the sampler's cost does not grow with the distinct values."""
        return {name: getattr(self, name) for name in model_arguments(self.likelihood)}

    def curve_arrays(self) -> tuple:
        """The curve model's data (``make_curve_model``, after the form index)."""
        return self.cz, self.csucc, self.cfail


def side_supports(threshold: float, direction: str) -> dict[str, tuple[float, float]]:
    """Each side's interval of values (failure, success)."""
    t = float(threshold)
    if direction == "above":
        return {"failure": (0.0, t), "success": (t, 1.0)}
    return {"failure": (t, 1.0), "success": (0.0, t)}


def count_supports(n: int, criterion: SuccessCriterion) -> dict[str, tuple[int, int]]:
    """Each side's counts (k0, m): the side holds k0..k0 + m of 0..n (m = −1: no count)."""
    ok = criterion.succeeded(np.arange(n + 1) / n)
    lower = ~ok if criterion.direction == "above" else ok     # the side holding k = 0
    k_lo = int(lower.sum()) - 1
    low, high = (0, k_lo), (k_lo + 1, n - k_lo - 1)
    return ({"failure": low, "success": high} if criterion.direction == "above"
            else {"failure": high, "success": low})


def outer_is_high(side: str, direction: str) -> bool:
    """Whether a side's outer end (the one at 0 or 1) is its upper end."""
    return (side == "success") == (direction == "above")


def prepare(data: SeedData, threshold: float, direction: str = "above",
            likelihood: str | None = None, curve: str = "auto", bins: int | None = None
            ) -> tuple[ModelSpec, HurdleData]:
    """Checks the data against the hurdle model and builds its rows; ``bins``:
    ``analysis.value_bins`` (continuous positions within a side binned, see
    ``mixture.value_bins``)."""
    if data.group is not None and len(data.groups) > 1:
        raise DataError(f"the data has {len(data.groups)} groups ({', '.join(data.groups)}); the "
                        "hurdle model fits one: select it with SeedData.only_group, or fit them "
                        "together with model='hierarchical' (the latent mixture)")
    criterion = SuccessCriterion(data.metric, float(threshold), direction)
    support = side_supports(threshold, direction)
    lo, hi = support["success"]
    if hi <= lo and (threshold in (0.0, 1.0)):
        raise DataError(f"analysis.threshold: {threshold:g} with direction {direction!r} leaves "
                        "no value in [0, 1] that can succeed; allowed: a threshold inside (0, 1), "
                        "or 0 with 'above' / 1 with 'below'")
    if likelihood is None:
        likelihood = "betabinomial" if data.n_eval is not None else "zoib"
    if likelihood == "betabinomial" and data.n_eval is None:
        raise DataError("the BetaBinomial likelihood needs n_eval (evaluation examples per seed)")
    logs = np.log(data.scale)
    lmin, lmax = float(logs.min()), float(logs.max())
    center = 0.5 * (lmin + lmax)
    unit = 0.5 * (lmax - lmin) if lmax > lmin else 1.0
    scales = np.unique(data.scale)
    single = scales.size == 1
    forms = curves.forms_for(curve, scales.size)
    succeeded = criterion.succeeded(data.value)
    side = succeeded.astype(np.int64)
    cell = np.searchsorted(scales, data.scale)
    cz = (np.log(scales) - center) / unit if not single else np.zeros(1)

    y = data.value.astype(np.float64)
    counts = likelihood == "betabinomial"
    if counts:
        n = data.n_eval.astype(np.int64)
        k = np.round(y * n)
        k0 = np.empty(len(data))
        m = np.empty(len(data))
        for nn in np.unique(n):
            sup = count_supports(int(nn), criterion)
            sel = n == nn
            for name, j in (("failure", 0), ("success", 1)):
                rows = sel & (side == j)
                k0[rows], m[rows] = sup[name]
        if np.any(m < 0):
            raise DataError("a seed lies on a side of the threshold that holds no count of its "
                            "n_eval; check the threshold and n_eval")
        kk = np.clip(k - k0, 0, m)             # a raw value just across the threshold stays on its side
        u = np.full(len(data), 0.5)
        end = np.zeros(len(data), bool)        # counts: no point masses (see the docstring)
    else:
        n = np.ones(len(data), np.int64)
        kk, m = np.zeros(len(data)), np.zeros(len(data))
        bounds = np.array([support["failure"], support["success"]])
        width = bounds[side, 1] - bounds[side, 0]
        outer_high = np.array([outer_is_high(s, direction) for s in SIDES])[side]
        end = np.where(outer_high, y >= 1.0, y <= 0.0) & (width > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(width > 0, (y - bounds[side, 0]) / np.where(width > 0, width, 1.0), 0.5)
        u = np.where(end, 0.5, np.clip(u, _U_EPS, 1 - _U_EPS))
    bins = value_bins(bins, len(data), likelihood)
    u = np.where(end, u, bin_interior(u, bins))       # counts: bins is 0, u unused
    points = tuple(_side_is_point(s, support, counts, data, criterion) for s in SIDES)
    masses = tuple(bool(end[side == j].any()) and not points[j] and not counts
                   for j in range(2))

    keys = np.stack([cell.astype(np.float64), side.astype(np.float64), u, kk, m,
                     n.astype(np.float64), end.astype(np.float64)], axis=1)
    uniq, inverse, mult = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    U = uniq.shape[0]
    pad = bucket(U) - U
    C = scales.size
    cpad = bucket(C, 16) - C

    def col(j, fill, dtype=np.float64):
        return np.concatenate([uniq[:, j], np.full(pad, fill)]).astype(dtype)
    from scipy.special import gammaln
    rk, rm = col(3, 0.0), col(4, 1.0)
    rlogc = gammaln(rm + 1.0) - gammaln(rk + 1.0) - gammaln(rm - rk + 1.0)
    # groups: the terms that do not depend on a row's value (log-gamma of a, b, κ and m + κ) are
    # computed once per (scale, side, count range) and gathered, and every log-gamma of the
    # model is one ``gammaln`` call on a concatenated vector (a small compiled program)
    groups, grp = np.unique(uniq[:, [0, 1, 4]], axis=0, return_inverse=True)
    gpad = bucket(groups.shape[0], 16) - groups.shape[0]

    def gcol(j, fill, dtype=np.float64):
        return np.concatenate([groups[:, j], np.full(gpad, fill)]).astype(dtype)
    gcell = gcol(0, 0, np.int64)
    inside = (1.0 - uniq[:, 6]) * mult           # seeds of each row off the outer end
    with np.errstate(divide="ignore"):
        log_u, log_1mu = np.log(uniq[:, 2]), np.log1p(-uniq[:, 2])

    def gsum(weights):
        return np.concatenate([np.bincount(np.asarray(grp).reshape(-1), weights=weights,
                                           minlength=groups.shape[0]), np.zeros(gpad)])
    cz_all = np.concatenate([cz, np.zeros(cpad)])
    csucc = np.bincount(cell, weights=succeeded.astype(float), minlength=C)
    ctot = np.bincount(cell, minlength=C).astype(float)
    spec = ModelSpec(kind="hurdle", hierarchical=False, n_groups=1, single_scale=single,
                     likelihood=likelihood, curves=forms, knots=curves.knots(scales.size),
                     threshold=float(threshold), direction=direction, masses=masses,
                     points=points, bins=bins, curved_within=scales.size >= 3)
    prep = HurdleData(
        cz=cz_all, gz=cz_all[gcell], gside=gcol(1, 0, np.int32), gm=gcol(2, 1.0),
        rgrp=np.concatenate([np.asarray(grp).reshape(-1), np.zeros(pad)]).astype(np.int32),
        csucc=np.concatenate([csucc, np.zeros(cpad)]),
        cfail=np.concatenate([ctot - csucc, np.zeros(cpad)]),
        rcell=col(0, 0, np.int32), rside=col(1, 0, np.int32), ru=col(2, 0.5), rk=rk, rm=rm,
        rlogc=rlogc, rend=col(6, 0.0), rw=np.concatenate([mult, np.zeros(pad)]).astype(float),
        glogu=gsum(np.where(inside > 0, inside * log_u, 0.0)),
        glog1mu=gsum(np.where(inside > 0, inside * log_1mu, 0.0)),
        gn=gsum(inside), gend=gsum(uniq[:, 6] * mult),
        inverse=np.asarray(inverse).reshape(-1).astype(np.int64), succeeded=succeeded,
        likelihood=likelihood, center=center, unit=unit, n_cells=C, n_unique=U)
    return spec, prep


_U_EPS = 1e-6


def _side_is_point(side: str, support: dict, counts: bool, data: SeedData,
                   criterion: SuccessCriterion) -> bool:
    """A side that holds a single value (e.g. the failure side [0, 0] of threshold 0) has no
    within-side parameters."""
    lo, hi = support[side]
    if not counts:
        return hi <= lo
    return all(count_supports(int(nn), criterion)[side][1] <= 0 for nn in np.unique(data.n_eval))


# ---------------------------------------------------------------------------------- model


def within_sites(spec: ModelSpec) -> tuple[str, ...]:
    """Names of the within-side parameters of a hurdle spec."""
    out = []
    for j, s in enumerate(SIDES):
        if spec.points[j]:
            continue
        out += [f"{s}_gamma", f"{s}_log_kappa"]
        if not spec.single_scale:
            out += [f"{s}_delta", f"{s}_zeta"]
        if spec.curved_within:
            out.append(f"{s}_eta")
        if spec.masses[j]:
            out.append(f"{s}_mass")
    return tuple(out)


def make_model(spec: ModelSpec):
    """``model(*HurdleData.arrays().values())``: the within-side distributions of the values."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from jax.scipy.special import gammaln
    names = model_arguments(spec.likelihood)

    def model(*arrays):
        if len(arrays) != len(names):
            raise TypeError(f"the within-side model takes {', '.join(names)}; got "
                            f"{len(arrays)} arrays")
        d = dict(zip(names, arrays))
        w: dict[str, Any] = {}
        for j, s in enumerate(SIDES):
            if spec.points[j]:
                continue
            w[f"{s}_gamma"] = numpyro.sample(f"{s}_gamma", dist.Normal(0.0, 2.0))
            if not spec.single_scale:
                w[f"{s}_delta"] = numpyro.sample(f"{s}_delta", dist.Normal(0.0, 2.0))
            # log κ ~ Normal(log 10, 1.5) truncated at log KAPPA_MAX: exact ties of a continuous
            # metric (every seed of a scale at one value) would otherwise pull κ to infinity
            w[f"{s}_kappa"] = jnp.exp(numpyro.sample(
                f"{s}_log_kappa", dist.TruncatedNormal(math.log(10.0), 1.5,
                                                       high=math.log(KAPPA_MAX))))
            if not spec.single_scale:
                w[f"{s}_zeta"] = numpyro.sample(f"{s}_zeta", dist.Normal(0.0, 1.0))
            if spec.curved_within:
                w[f"{s}_eta"] = numpyro.sample(f"{s}_eta", dist.Normal(0.0, 1.0))
            if spec.masses[j]:
                w[f"{s}_mass"] = numpyro.sample(f"{s}_mass", dist.Beta(1.0, 1.0))
        if spec.likelihood == "betabinomial":
            total = jnp.sum(d["rw"] * value_loglik(w, d, spec, jnp, gammaln))
        else:
            total = value_total(w, d, spec, jnp, gammaln)
        numpyro.factor("values", total)

    return model


def curve_dims(spec: ModelSpec) -> int:
    """Length of the curve sampler's θ: the longest of the forms sampled."""
    return max(curves.dims(f, spec.knots) for f in spec.curves)


def make_curve_model(spec: ModelSpec):
    """``model(form_index, cz, csucc, cfail)``: the posterior of one curve form
    (``spec.curves[form_index]``) given the success counts per scale, in unconstrained
    coordinates θ; one compiled sampler serves every form (``curve_forms.log_density``)."""
    import numpyro
    import numpyro.distributions as dist
    from numpyro.distributions import constraints
    D = curve_dims(spec)

    def model(form_index, cz, csucc, cfail):
        theta = numpyro.sample("theta", dist.ImproperUniform(constraints.real_vector, (), (D,)))
        numpyro.factor("curve", curves.log_density(spec.curves, form_index, theta, cz, csucc,
                                                   cfail, spec.knots))

    return model


def curve_params(theta: np.ndarray, form: str, spec: ModelSpec) -> dict[str, np.ndarray]:
    """A form's parameters {canonical name: float64 [S, 1]} from draws of θ [S, D]."""
    p, _ = curves.unpack(form, np.asarray(theta, np.float64), spec.knots, np)
    return {k: np.asarray(v, np.float64).reshape(-1, 1) for k, v in p.items()}


def curve_init(form: str, spec: ModelSpec, prep: "HurdleData") -> dict:
    """A data-driven starting point of the curve sampler for ``form``."""
    C = prep.n_cells
    tot = prep.csucc[:C] + prep.cfail[:C]
    frac = (prep.csucc[:C] + 0.5) / (tot + 1.0)
    z = prep.cz[:C]

    def clip(v):
        return float(np.clip(v, 0.02, 0.98))
    overall = clip(prep.csucc[:C].sum() / max(tot.sum(), 1))
    left, right = clip(frac[z <= np.median(z)].mean()), clip(frac[z >= np.median(z)].mean())
    return {"theta": curves.init_theta(form, left, right, overall, spec.knots, curve_dims(spec))}


def value_loglik(w: dict, d: dict, spec: ModelSpec, xp=np, gammaln=None):
    """Log-likelihood of each value row given its side (the within-side part); ``d`` holds the
    arrays of ``HurdleData.rows()``. Parameters with leading draw axes broadcast against the
    groups' and rows' trailing axis."""
    if gammaln is None:
        from scipy.special import gammaln
    gside, rgrp = d["gside"], d["rgrp"]
    z = d["gz"]
    a, b, kappa, mass = _group_shapes(w, d, xp)
    mass = mass[..., rgrp]
    G = z.shape[-1]
    end = d["rend"] > 0
    if spec.likelihood == "betabinomial":
        k, m = d["rk"], d["rm"]
        lg = gammaln(xp.concatenate([kappa, a, b, d["gm"] + kappa, k + a[..., rgrp],
                                     m - k + b[..., rgrp]], -1))
        const = lg[..., :G] - lg[..., G:2 * G] - lg[..., 2 * G:3 * G] - lg[..., 3 * G:4 * G]
        U = k.shape[-1]
        ll = (d["rlogc"] + lg[..., 4 * G:4 * G + U] + lg[..., 4 * G + U:] + const[..., rgrp])
    else:
        u = d["ru"]
        width = xp.asarray([max(_width(spec, s), 1e-300) for s in SIDES])[gside]
        lg = gammaln(xp.concatenate([kappa, a, b], -1))
        const = lg[..., :G] - lg[..., G:2 * G] - lg[..., 2 * G:] - xp.log(width)
        inner = ((a[..., rgrp] - 1) * xp.log(u) + (b[..., rgrp] - 1) * xp.log1p(-u)
                 + const[..., rgrp])
        ll = xp.where(end, xp.log(xp.where(end, mass, 1.0)), xp.log1p(-mass) + inner)
    point = xp.asarray(np.array(spec.points))[d["rside"]]
    return xp.where(point, 0.0, ll)


def _group_shapes(w: dict, d: dict, xp):
    """Each group's Beta (a, b, κ) and point mass at the outer end, from its side's
    parameters at its z."""
    z, gside = d["gz"], d["gside"]

    def per_group(name, default):
        vals = [xp.asarray(w.get(f"{s}_{name}", default))[..., None] + 0 * z for s in SIDES]
        return xp.where(gside == 1, vals[1], vals[0])
    mu, kappa = side_shape(*(per_group(n, v) for n, v in SHAPE_DEFAULTS.items()), z, xp)
    mu = xp.clip(mu, 1e-9, 1 - 1e-9)
    return mu * kappa, (1 - mu) * kappa, kappa, per_group("mass", 0.0)


def value_total(w: dict, d: dict, spec: ModelSpec, xp=np, gammaln=None):
    """The summed within-side log-likelihood of continuous values from the groups' sufficient
    statistics (``HurdleData.arrays()`` of continuous values): equal to Σ rows multiplicity x
    ``value_loglik``, at a cost that grows with the groups, not with the distinct values."""
    if gammaln is None:
        from scipy.special import gammaln
    a, b, kappa, mass = _group_shapes(w, d, xp)
    G = d["gz"].shape[-1]
    width = xp.asarray([max(_width(spec, s), 1e-300) for s in SIDES])[d["gside"]]
    lg = gammaln(xp.concatenate([kappa, a, b], -1))
    const = lg[..., :G] - lg[..., G:2 * G] - lg[..., 2 * G:] - xp.log(width)
    gn, gend = d["gn"], d["gend"]
    inside = (a - 1) * d["glogu"] + (b - 1) * d["glog1mu"] + gn * const
    total = (xp.where(gn > 0, gn * xp.log1p(-mass) + inside, 0.0)
             + xp.where(gend > 0, gend * xp.log(xp.where(gend > 0, mass, 1.0)), 0.0))
    point = xp.asarray(np.array(spec.points))[d["gside"]]
    return xp.sum(xp.where(point, 0.0, total), -1)


def model_arguments(likelihood: str) -> tuple[str, ...]:
    """The within-side model's arguments, in order (``HurdleData`` fields): the value rows for
    counts, the groups' sufficient statistics for continuous values."""
    if likelihood == "betabinomial":
        return ("gz", "gside", "gm", "rgrp", "rside", "ru", "rk", "rm", "rlogc", "rend", "rw")
    return ("gz", "gside", "glogu", "glog1mu", "gn", "gend")


# A side's shape parameters, with the value each takes where a model has no such parameter (a
# single scale has no δ or ζ; fewer than 3 scales no η; fits saved before η and ζ existed).
SHAPE_DEFAULTS = {"gamma": 0.0, "delta": 0.0, "eta": 0.0, "kappa": 1.0, "zeta": 0.0}


def side_shape(gamma, delta, eta, kappa, zeta, z, xp=np):
    """A side's Beta at z: mean position μ (logit μ = γ + δz + ηz²) and concentration κ·e^{ζz}
    (at most KAPPA_MAX); the one definition the likelihood and the predictive share."""
    mu = 0.5 * (1 + xp.tanh(0.5 * (gamma + delta * z + eta * z * z)))
    return mu, xp.minimum(kappa * xp.exp(zeta * z), KAPPA_MAX)


def _width(spec: ModelSpec, side: str) -> float:
    lo, hi = side_supports(spec.threshold, spec.direction)[side]
    return max(hi - lo, 0.0)


def side_loglik(params: dict[str, np.ndarray], form: str, spec: ModelSpec, prep: HurdleData):
    """Per posterior draw, log P(side) of each (scale, side) row with seeds: returns (loglik
    [S, R], weights [R], row scale index [R], row side [R])."""
    C = prep.n_cells
    cz = prep.cz[:C]
    p = {k: v[:, 0] for k, v in params.items() if k.startswith(form + "_")}
    lp, lq = curves.log_probs(form, p, cz, spec.knots, np)
    rows, w, cells, sides = [], [], [], []
    for c in range(C):
        for j, (ll, count) in enumerate(((lq, prep.cfail[c]), (lp, prep.csucc[c]))):
            if count > 0:
                rows.append(ll[:, c])
                w.append(count)
                cells.append(c)
                sides.append(j)
    return np.stack(rows, 1), np.asarray(w), np.asarray(cells), np.asarray(sides)


def pointwise(params: dict[str, np.ndarray], form: str, spec: ModelSpec, prep: HurdleData,
              chunk: int = 500) -> np.ndarray:
    """Log-likelihood of each unique value row [S, U] under ``form``: log P(its side) + the
    within-side term, computed ``chunk`` draws at a time."""
    U, C = prep.n_unique, prep.n_cells
    d = {k: np.asarray(v)[:U] if k.startswith("r") else np.asarray(v)
         for k, v in prep.rows().items()}
    cell, side = prep.rcell[:U], prep.rside[:U]
    S = next(iter(params.values())).shape[0]
    out = np.empty((S, U))
    for s in range(0, S, chunk):
        p = {k: v[s:s + chunk, 0] for k, v in params.items()}
        lp, lq = curves.log_probs(form, p, prep.cz[:C], spec.knots, np)
        out[s:s + chunk] = np.where(side == 1, lp[:, cell], lq[:, cell]) + value_loglik(p, d, spec)
    return out


# ------------------------------------------------------------------------ draws -> params


def canonical_params(samples: dict, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Within-side posterior draws as {name: float64 [S, 1]} (δ = 0 at a single scale)."""
    S = np.asarray(next(iter(samples.values()))).shape[0]
    out = {}
    for j, s in enumerate(SIDES):
        if spec.points[j]:
            continue
        for name in ("gamma", "delta", "eta", "kappa", "zeta", "mass"):
            key = f"{s}_{name}"
            if key in samples:
                out[key] = np.asarray(samples[key], np.float64).reshape(S, 1)
            elif name == "kappa":
                out[key] = np.exp(np.asarray(samples[f"{s}_log_kappa"], np.float64)).reshape(S, 1)
            elif name in ("delta", "eta", "zeta"):
                out[key] = np.zeros((S, 1))
    return out


def init_values(spec: ModelSpec, prep: HurdleData) -> dict:
    """A data-driven starting point of the within-side sampler."""
    vals: dict[str, Any] = {}
    U = prep.n_unique
    for j, s in enumerate(SIDES):
        if spec.points[j]:
            continue
        sel = (prep.rside[:U] == j) & (prep.rend[:U] == 0)
        w = prep.rw[:U][sel]
        if spec.likelihood == "betabinomial":
            pos = prep.rk[:U][sel] / np.maximum(prep.rm[:U][sel], 1)
        else:
            pos = prep.ru[:U][sel]
        mean = float(np.clip((w * pos).sum() / w.sum(), 0.05, 0.95)) if w.sum() > 0 else 0.5
        vals[f"{s}_gamma"] = math.log(mean / (1 - mean))
        if not spec.single_scale:
            vals[f"{s}_delta"] = 0.0
            vals[f"{s}_zeta"] = 0.0
        if spec.curved_within:
            vals[f"{s}_eta"] = 0.0
        vals[f"{s}_log_kappa"] = math.log(10.0)
        if spec.masses[j]:
            on = prep.rside[:U] == j
            ends = (prep.rw[:U] * (on & (prep.rend[:U] > 0))).sum()
            vals[f"{s}_mass"] = float(np.clip(ends / max((prep.rw[:U] * on).sum(), 1), 0.05,
                                              0.95))
    return vals


# ------------------------------------------------------------------------- curve selection


def select_curve(loo: dict[str, dict], usable: dict[str, bool] | None = None) -> tuple[str, dict]:
    """Picks a curve form from the forms' PSIS-LOO on the sides (``loo[form]`` from
    ``inference.psis_loo``, all on the same rows): the simplest form whose elpd is within
    max(1, SE of the difference) of the best. Forms whose diagnostics failed (``usable``; the
    fit re-runs the picked form with the automatic remedies first) are passed over unless none
    is usable. Returns (form, table)."""
    from emergence_jax.analysis.inference import compare_loo
    order = [f for f in (curves.CONSTANT,) + curves.FORMS if f in loo]
    ok = [f for f in order if usable is None or usable.get(f, True)] or order
    best = max(ok, key=lambda f: loo[f]["elpd"])
    chosen = best
    for f in ok:
        if f == best:
            break
        d, se = compare_loo(loo[best], loo[f])
        if d <= max(1.0, se):
            chosen = f
            break
    table = {}
    for f in order:
        d, se = compare_loo(loo[f], loo[chosen]) if f != chosen else (0.0, 0.0)
        table[f] = {"elpd_loo": loo[f]["elpd"], "se": loo[f]["se"], "delta_vs_chosen": d,
                    "se_delta": se, "pareto_k_max": loo[f]["pareto_k_max"],
                    "diagnostics_ok": True if usable is None else bool(usable.get(f, True))}
    return chosen, table
