"""Failure/success mixture across scales (NumPyro), its unimodal alternative and a hierarchical variant.

For seed i of group g at raw scale s, with x = log(s) − x̄ (x̄ = mean log scale of the data):

    logit π_g(x)   = α_g + β_g·x                 P(seed is in the success component)
    logit μ_s,g(x) = γ_g + δ_g·x                 success-component mean (moves with scale)
    logit μ_f,g    = γ_g − Δ_g,  Δ_g > 0          failure-component mean (ordering: μ_f < μ_s at x̄)
                   or logit(chance) + 0.25·ε_g    when a chance level is given (pinned near chance)
    y_i | success ~ D(μ_s,g(x), κ_s,g),   y_i | failure ~ D(μ_f,g, κ_f,g)

D is a Beta with mean μ and concentration κ (a = μκ, b = (1 − μ)κ), observed as:

* counts (``n_eval`` known): k = round(y·n) ~ BetaBinomial(n, a, b). Exact 0s and 1s are ordinary
  counts. Rows with the same (group, scale, n, k) share one likelihood term weighted by multiplicity,
  so 10,000 seeds cost about as much as a few hundred.
* continuous (``n_eval`` unknown): a zero/one-inflated Beta. The failure component puts mass p₀ on an
  exact 0 and the success component mass p₁ on an exact 1; the rest of each follows the Beta. An exact
  0 is thus evidence of failure and an exact 1 of success (a seed at exactly 0 never comes from the
  success component). The unimodal model has both masses.

The discrete assignment z_i is marginalised: log p(y) = logsumexp(log(1−π) + log f, log π + log s).

Unimodal alternative: one component D(μ(x), κ) with logit μ = γ + δ·x.
Hierarchical variant: groups (tasks / metrics) fitted together; α, β, γ, δ are partially pooled,
θ_g = μ_θ + τ_θ·z_g (non-centred), μ_θ ~ Normal(0, prior scale), τ_θ ~ HalfNormal(1).
Single scale: x ≡ 0 and the slopes β, δ are dropped (a plain two-component mixture).

Priors (x is in natural-log units of scale):
    α, γ ~ Normal(0, 2.5);  β, δ ~ Normal(0, 2);  Δ ~ LogNormal(1, 0.75);
    κ_s, κ_f, κ ~ LogNormal(log 20, 1.5);  p₀, p₁ ~ Beta(1, 1);  unimodal (p₀, p₁, 1−p₀−p₁) ~ Dirichlet(1, 1, 1).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from emergence_jax.core.errors import DataError
from emergence_jax.analysis.data import SeedData

__all__ = ["ModelSpec", "Prepared", "PRIORS", "prepare", "make_model", "row_loglik",
           "canonical_params", "init_values", "MODELS", "bucket", "pointwise"]

MODELS = ("mixture", "unimodal", "hierarchical", "hierarchical-unimodal")

PRIORS = {
    "alpha": "Normal(0, 2.5)", "beta": "Normal(0, 2)", "gamma": "Normal(0, 2.5)",
    "delta": "Normal(0, 2)", "gap (gamma - logit mu_fail)": "LogNormal(1, 0.75)",
    "logit mu_fail with chance": "Normal(logit(chance), 0.25)",
    "kappa": "LogNormal(log 20, 1.5)", "p_zero_fail, p_one_success": "Beta(1, 1)",
    "unimodal (p_zero, p_one, p_continuous)": "Dirichlet(1, 1, 1)",
    "hierarchical: theta_g = mu + tau * z_g": "mu ~ prior above, tau ~ HalfNormal(1), z ~ Normal(0, 1)",
}
_SCALE = {"alpha": 2.5, "beta": 2.0, "gamma": 2.5, "delta": 2.0}
_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything static about a model (hashable; part of the compiled program's identity)."""
    kind: str                 # "mixture" | "unimodal" | "hurdle" (emergence_jax.analysis.hurdle)
    hierarchical: bool
    n_groups: int
    single_scale: bool
    likelihood: str           # "betabinomial" | "zoib"
    chance: float | None = None
    # hurdle only: the P(success) curve forms sampled, knots of the monotone form, the success
    # criterion, and per side (failure, success) whether it has a point mass at its outer end
    # and whether it is a single point
    curves: tuple = ()
    knots: int = 0
    threshold: float | None = None
    direction: str = "above"
    masses: tuple = (False, False)
    points: tuple = (False, False)
    # continuous values inside (0, 1) moved to the midpoints of this many equal bins (0: exact
    # values); see ``value_bins``
    bins: int = 0
    # hurdle only: the within-side mean position has a z² term (3 or more distinct scales)
    curved_within: bool = False

    @property
    def name(self) -> str:
        return ("hierarchical-" if self.hierarchical else "") + self.kind if not (
            self.hierarchical and self.kind == "mixture") else "hierarchical"

    def alternative(self) -> "ModelSpec":
        """The model a fit is compared with: the unimodal one (for the mixture and the hurdle),
        the mixture (for the unimodal one)."""
        kind = "mixture" if self.kind == "unimodal" else "unimodal"
        return ModelSpec(kind=kind, hierarchical=self.hierarchical, n_groups=self.n_groups,
                         single_scale=self.single_scale, likelihood=self.likelihood,
                         chance=self.chance if kind == "mixture" else None, bins=self.bins)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "ModelSpec":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()
                      if k in fields})


@dataclasses.dataclass
class Prepared:
    """The data as unique weighted rows (padded to a bucket size so similar fits share one program).
    Floating columns are float64: the fits run in float64 (``inference.float64``)."""
    x: np.ndarray        # float64 [U]  centred log scale
    g: np.ndarray        # int32 [U]
    y: np.ndarray        # float64 [U]  value (continuous likelihood)
    k: np.ndarray        # float64 [U]  count (betabinomial)
    n: np.ndarray        # float64 [U]
    w: np.ndarray        # float64 [U]  multiplicity (0 for padding)
    logc: np.ndarray     # float64 [U]  log binomial coefficient
    cell: np.ndarray     # int32 [U]    row -> cell (unique (scale, group, n))
    cx: np.ndarray       # float64 [C]  cell's centred log scale
    cg: np.ndarray       # int32 [C]    cell's group
    cn: np.ndarray       # float64 [C]  cell's n
    inverse: np.ndarray  # int64 [N]    row of the original data -> unique row
    xbar: float
    n_unique: int

    def arrays(self) -> dict:
        return {"x": self.x, "g": self.g, "y": self.y, "k": self.k, "n": self.n, "w": self.w,
                "logc": self.logc, "cell": self.cell, "cx": self.cx, "cg": self.cg, "cn": self.cn}


def bucket(u: int, b: int = 64) -> int:
    while b < u:
        b *= 2
    return b


# Continuous outcomes do not collapse into few unique rows as counts do, so a fit's cost and
# memory would grow with the population. Above AUTO_BIN_SEEDS seeds their values are binned: a
# fine histogram likelihood whose rows number at most scales x sides x bins, whatever the
# population. The midpoint rule moves a value by at most 1 / (2 bins) on its side's [0, 1] scale
# (tests/test_stats_binning.py bounds the effect on the posterior against the exact fit).
AUTO_BIN_SEEDS = 20_000
AUTO_BINS = 512


def value_bins(setting: int | None, seeds: int, likelihood: str) -> int:
    """The number of bins continuous values are binned to (0: exact values). ``setting``:
    ``analysis.value_bins`` (None: AUTO_BINS above AUTO_BIN_SEEDS seeds, else exact). Counts
    (BetaBinomial) are never binned: they collapse by themselves."""
    if likelihood == "betabinomial":
        return 0
    if setting is None:
        return AUTO_BINS if seeds > AUTO_BIN_SEEDS else 0
    return int(setting)


def bin_interior(values: np.ndarray, bins: int) -> np.ndarray:
    """Values strictly inside (0, 1) moved to the midpoint of their bin (of ``bins`` equal bins);
    exact 0s and 1s, which the point masses model, stay where they are."""
    if not bins:
        return values
    inner = (values > 0.0) & (values < 1.0)
    mid = (np.minimum(np.floor(values * bins), bins - 1) + 0.5) / bins
    return np.where(inner, mid, values)


def prepare(data: SeedData, model: str = "mixture", chance: float | None = None,
            likelihood: str | None = None, bins: int | None = None
            ) -> tuple[ModelSpec, Prepared]:
    """Checks the data against the latent-mixture (or unimodal) model and builds its rows;
    ``bins``: ``analysis.value_bins`` (see ``value_bins``)."""
    if model not in MODELS:
        raise DataError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    hierarchical = model.startswith("hierarchical")
    kind = "unimodal" if model.endswith("unimodal") else "mixture"
    groups = data.groups
    if not hierarchical and len(groups) > 1:
        raise DataError(f"the data has {len(groups)} groups ({', '.join(groups)}); fit them together "
                        "with model='hierarchical' or select one with SeedData.only_group")
    if likelihood is None:
        likelihood = "betabinomial" if data.n_eval is not None else "zoib"
    if likelihood == "betabinomial" and data.n_eval is None:
        raise DataError("the BetaBinomial likelihood needs n_eval (evaluation examples per seed)")
    if chance is not None and not (0.0 <= chance < 1.0):
        raise DataError(f"chance must be in [0, 1), got {chance!r}")
    logx = np.log(data.scale)
    xbar = float(logx.mean())
    single = np.unique(data.scale).size == 1
    x = np.zeros_like(logx) if single else logx - xbar
    g = data.group_index()
    if likelihood == "betabinomial":
        n = data.n_eval.astype(np.float64)
        k = np.round(data.value * n)
        y = k / n
    else:
        n = np.ones_like(data.value)
        k = np.zeros_like(data.value)
        y = data.value
    bins = value_bins(bins, len(data), likelihood)
    y = bin_interior(y, bins)
    keys = np.stack([x, g.astype(np.float64), y, k, n], axis=1)
    uniq, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    u = uniq.shape[0]
    size = bucket(u)
    pad = size - u

    def col(j, fill, dtype):
        return np.concatenate([uniq[:, j], np.full(pad, fill)]).astype(dtype)

    xs, gs, ys, ks, ns = col(0, 0.0, np.float64), col(1, 0, np.int32), col(2, 0.5, np.float64), \
        col(3, 0.0, np.float64), col(4, 1.0, np.float64)
    from scipy.special import gammaln
    logc = gammaln(ns + 1.0) - gammaln(ks + 1.0) - gammaln(ns - ks + 1.0)
    w = np.concatenate([counts, np.zeros(pad)]).astype(np.float64)
    # cells: the terms that do not depend on the count (log-gamma of a, b, κ and n + κ) are
    # computed once per (scale, group, n) and gathered, not once per row
    cells, cell = np.unique(uniq[:, [0, 1, 4]], axis=0, return_inverse=True)
    cpad = bucket(cells.shape[0], 16) - cells.shape[0]

    def ccol(j, fill, dtype):
        return np.concatenate([cells[:, j], np.full(cpad, fill)]).astype(dtype)
    cell = np.concatenate([np.asarray(cell).reshape(-1), np.zeros(pad)]).astype(np.int32)
    spec = ModelSpec(kind=kind, hierarchical=hierarchical, n_groups=len(groups), single_scale=single,
                     likelihood=likelihood, chance=None if chance is None else float(chance),
                     bins=bins)
    return spec, Prepared(x=xs, g=gs, y=ys, k=ks, n=ns, w=w, logc=logc, cell=cell,
                          cx=ccol(0, 0.0, np.float64), cg=ccol(1, 0, np.int32),
                          cn=ccol(2, 1.0, np.float64),
                          inverse=np.asarray(inverse).reshape(-1).astype(np.int64), xbar=xbar,
                          n_unique=u)


# ---------------------------------------------------------------------------------- model


def _coef(name: str, spec: ModelSpec):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    G = spec.n_groups
    if spec.hierarchical:
        mu = numpyro.sample(f"{name}_mu", dist.Normal(0.0, _SCALE[name]))
        tau = numpyro.sample(f"{name}_tau", dist.HalfNormal(1.0))
        z = numpyro.sample(f"{name}_z", dist.Normal(0.0, 1.0).expand([G]).to_event(1))
        return numpyro.deterministic(name, mu + tau * z)
    return numpyro.sample(name, dist.Normal(0.0, _SCALE[name]).expand([G]).to_event(1)) \
        if G > 1 else jnp.reshape(numpyro.sample(name, dist.Normal(0.0, _SCALE[name])), (1,))


def make_model(spec: ModelSpec):
    """Returns ``model(x, g, y, k, n, w, logc, cell, cx, cg, cn)`` (a NumPyro model; the data
    enters as the arrays of ``Prepared.arrays()``)."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    G = spec.n_groups

    def positive(name, d):
        return numpyro.sample(name, d.expand([G]).to_event(1))

    def model(x, g, y, k, n, w, logc, cell, cx, cg, cn):
        p: dict[str, Any] = {}
        zeros = jnp.zeros(G)
        if spec.kind == "mixture":
            p["alpha"] = _coef("alpha", spec)
            p["beta"] = zeros if spec.single_scale else _coef("beta", spec)
        p["gamma"] = _coef("gamma", spec)
        p["delta"] = zeros if spec.single_scale else _coef("delta", spec)
        kap = dist.LogNormal(math.log(20.0), 1.5)
        if spec.kind == "mixture":
            if spec.chance is not None:
                c = min(max(spec.chance, 1e-3), 1 - 1e-3)
                eps = numpyro.sample("fail_offset", dist.Normal(0.0, 1.0).expand([G]).to_event(1))
                p["logit_mu_fail"] = numpyro.deterministic(
                    "logit_mu_fail", math.log(c / (1 - c)) + 0.25 * eps)
            else:
                gap = positive("gap", dist.LogNormal(1.0, 0.75))
                p["logit_mu_fail"] = numpyro.deterministic("logit_mu_fail", p["gamma"] - gap)
            p["kappa_fail"] = positive("kappa_fail", kap)
            p["kappa_success"] = positive("kappa_success", kap)
            if spec.likelihood == "zoib":
                p["p_zero_fail"] = positive("p_zero_fail", dist.Beta(1.0, 1.0))
                p["p_one_success"] = positive("p_one_success", dist.Beta(1.0, 1.0))
        else:
            p["kappa"] = positive("kappa", kap)
            if spec.likelihood == "zoib":
                simplex = numpyro.sample("inflation", dist.Dirichlet(jnp.ones(3)).expand([G])
                                         .to_event(1))
                p["p_zero"], p["p_one"] = simplex[:, 0], simplex[:, 1]
        ll = row_loglik(p, dict(x=x, g=g, y=y, k=k, n=n, logc=logc, cell=cell, cx=cx, cg=cg,
                                cn=cn), spec)
        numpyro.factor("loglik", jnp.sum(w * ll))

    return model


def _beta_parts(mu, kappa):
    import jax.numpy as jnp
    mu = jnp.clip(mu, _EPS, 1 - _EPS)
    return mu * kappa, (1 - mu) * kappa


def row_loglik(p: dict, d: dict, spec: ModelSpec, return_parts: bool = False):
    """Pointwise log-likelihood of each (unique) row; with ``return_parts`` also the two component
    terms (log(1−π)+log f, log π+log s) for the mixture.

    Terms that do not depend on the row's count (μ, a, b, log Γ(a), log Γ(b), log Γ(κ),
    log Γ(n + κ)) are computed per cell (unique scale, group, n; ``d["cell"]`` maps rows to cells)
    and gathered; per row only log Γ(k + a) and log Γ(n − k + b) remain. All log-gamma terms are
    evaluated in two ``gammaln`` calls on concatenated vectors, which keeps the compiled NUTS
    program small (compile time dominates fits of modest size)."""
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import gammaln
    cell, cx, cg = d["cell"], d["cx"], d["cg"]
    C = cx.shape[0]
    U = cell.shape[0]
    mixture = spec.kind == "mixture"
    bb = spec.likelihood == "betabinomial"
    mu_s = jax.nn.sigmoid(p["gamma"][cg] + p["delta"][cg] * cx)
    kap_s = p["kappa" if not mixture else "kappa_success"][cg]
    comps = [_beta_parts(mu_s, kap_s) + (kap_s,)]
    if mixture:
        kap_f = p["kappa_fail"][cg]
        mu_f = jax.nn.sigmoid(p["logit_mu_fail"][cg])
        comps.append(_beta_parts(mu_f, kap_f) + (kap_f,))
    # per cell: log B-normaliser  log Γ(κ) − log Γ(a) − log Γ(b)  (− log Γ(n + κ) for counts)
    cpieces = []
    for a, b, kap in comps:
        cpieces += [a, b, kap] + ([d["cn"] + kap] if bb else [])
    nc = 4 if bb else 3
    clg = gammaln(jnp.concatenate(cpieces)).reshape(len(cpieces), C)
    logps = []
    if bb:
        k, n = d["k"], d["n"]
        rpieces = []
        for a, b, _ in comps:
            rpieces += [k + a[cell], n - k + b[cell]]
        rlg = gammaln(jnp.concatenate(rpieces)).reshape(len(rpieces), U)
        for c in range(len(comps)):
            t = clg[nc * c:nc * c + nc]
            const = t[2] - t[0] - t[1] - t[3]
            logps.append(d["logc"] + rlg[2 * c] + rlg[2 * c + 1] + const[cell])
    else:
        y = jnp.clip(d["y"], _EPS, 1 - _EPS)
        ly, l1y = jnp.log(y), jnp.log1p(-y)
        for c, (a, b, _) in enumerate(comps):
            t = clg[nc * c:nc * c + nc]
            const = t[2] - t[0] - t[1]
            logps.append((a[cell] - 1) * ly + (b[cell] - 1) * l1y + const[cell])
    g = d["g"]
    x = d["x"]
    zoib = not bb
    if zoib:
        y0 = d["y"] <= 0.0
        y1 = d["y"] >= 1.0
    if not mixture:
        lp = logps[0]
        if zoib:
            p0, p1 = p["p_zero"][g], p["p_one"][g]
            lp = jnp.where(y0, jnp.log(p0), jnp.where(y1, jnp.log(p1), jnp.log1p(-p0 - p1) + lp))
        return lp
    ls, lf = logps
    eta = p["alpha"][g] + p["beta"][g] * x
    if zoib:
        p0, p1 = p["p_zero_fail"][g], p["p_one_success"][g]
        lf = jnp.where(y0, jnp.log(p0), jnp.where(y1, -jnp.inf, jnp.log1p(-p0) + lf))
        ls = jnp.where(y1, jnp.log(p1), jnp.where(y0, -jnp.inf, jnp.log1p(-p1) + ls))
    a = jax.nn.log_sigmoid(-eta) + lf
    b = jax.nn.log_sigmoid(eta) + ls
    total = jnp.logaddexp(a, b)
    if return_parts:
        return total, a, b
    return total


_POINTWISE: dict = {}   # compiled pointwise log-likelihood per model spec


def pointwise(params: dict[str, np.ndarray], spec: ModelSpec, prep: Prepared
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Log-likelihood of each unique row per draw [S, U] and, for the mixture, each row's
    posterior probability of the success component [S, U] (None otherwise). Runs in float64."""
    import jax
    import jax.numpy as jnp

    from emergence_jax.analysis.inference import float64
    parts = spec.kind == "mixture"
    with float64():
        if spec not in _POINTWISE:
            _POINTWISE[spec] = jax.jit(lambda pj, d: jax.vmap(
                lambda p: row_loglik(p, d, spec, return_parts=parts))(pj))
        pj = {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}
        d = {k: jnp.asarray(v) for k, v in prep.arrays().items()}
        out = _POINTWISE[spec](pj, d)
        U = prep.n_unique
        if not parts:
            return np.asarray(out, np.float64)[:, :U], None
        total, _, b = (np.asarray(v, np.float64)[:, :U] for v in out)
        return total, np.exp(b - total)


CANONICAL = {
    "mixture": ("alpha", "beta", "gamma", "delta", "logit_mu_fail", "kappa_fail", "kappa_success"),
    "unimodal": ("gamma", "delta", "kappa"),
}
ZOIB = {"mixture": ("p_zero_fail", "p_one_success"), "unimodal": ("p_zero", "p_one")}


def canonical_params(samples: dict, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Posterior draws as {name: float64 [S, G]} under canonical names (slopes 0 at a single scale)."""
    first = next(iter(samples.values()))
    S = np.asarray(first).shape[0]
    G = spec.n_groups
    out = {}
    names = CANONICAL[spec.kind] + (ZOIB[spec.kind] if spec.likelihood == "zoib" else ())
    for name in names:
        if name in samples:
            v = np.asarray(samples[name], np.float64).reshape(S, -1)
        elif name in ("beta", "delta") and spec.single_scale:
            v = np.zeros((S, G))
        elif name in ("p_zero", "p_one"):
            v = np.asarray(samples["inflation"], np.float64).reshape(S, G, 3)[..., 0 if name ==
                                                                               "p_zero" else 1]
        else:
            raise KeyError(name)
        out[name] = np.broadcast_to(v, (S, G)).copy()
    return out


def init_values(data: SeedData, spec: ModelSpec, threshold: float) -> dict:
    """A data-driven starting point (empirical success share and component means)."""
    def logit(p):
        return math.log(p / (1 - p))
    gi = data.group_index()
    G = spec.n_groups
    alpha, gamma, gap = np.zeros(G), np.zeros(G), np.full(G, 2.0)
    for j in range(G):
        v = data.value[gi == j]
        succ = v > threshold
        alpha[j] = logit(min(max(succ.mean(), 0.05), 0.95))
        ms = v[succ].mean() if succ.any() else max(threshold * 2, 0.5)
        mf = v[~succ].mean() if (~succ).any() else threshold / 2
        if spec.kind == "unimodal":
            gamma[j] = logit(min(max(v.mean(), 0.02), 0.98))
        else:
            gamma[j] = logit(min(max(ms, 0.05), 0.98))
            gap[j] = max(gamma[j] - logit(min(max(mf, 0.01), 0.9)), 0.5)
    vals: dict[str, Any] = {}

    def put(name, arr):
        if spec.hierarchical:
            vals[f"{name}_mu"] = float(arr.mean())
            vals[f"{name}_tau"] = 0.5
            vals[f"{name}_z"] = (arr - arr.mean()) / 0.5
        else:
            vals[name] = arr if G > 1 else float(arr[0])
    if spec.kind == "mixture":
        put("alpha", alpha)
        if not spec.single_scale:
            put("beta", np.zeros(G))
        if spec.chance is None:
            vals["gap"] = gap
        vals["kappa_fail"] = np.full(G, 20.0)
        vals["kappa_success"] = np.full(G, 20.0)
    else:
        vals["kappa"] = np.full(G, 10.0)
    put("gamma", gamma)
    if not spec.single_scale:
        put("delta", np.zeros(G))
    return vals
