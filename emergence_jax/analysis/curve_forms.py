"""P(success) as a function of scale: the curve forms of the hurdle model (``analysis.curve``).

Every form is a function of z = (log(scale) − c) / r, where c is the midpoint and r the half-width
of the observed range of log scales, so the observed scales span z ∈ [−1, 1] whatever their
units; a single observed scale has z ≡ 0 and only the ``constant`` form. In order of complexity:

    logistic    logit π = a + b·z                         one smooth transition, extrapolates
    quadratic   logit π = a + b·z + c·z²                  non-monotone: U-shaped or inverted-U
    asymptotes  π = lo·(1 − C) + hi·C, C = σ(steep·(z − mid))
                                                          a transition between a floor and a
                                                          ceiling (lo at small scales, hi at large
                                                          ones: seeds that never / always succeed);
                                                          falls when hi < lo; steep or gradual
    monotone    π = lo·(1 − C) + hi·C, C piecewise linear in z through K knots evenly spaced on
                [−1, 1] rising by increments ~ Dirichlet(1, …, 1)
                                                          any monotone shape (a monotone linear
                                                          spline in log scale); constant beyond
                                                          the observed range

Priors (z units): a ~ Normal(0, 2); b, c ~ Normal(0, 5); lo, hi ~ Beta(1, 1);
steep ~ LogNormal(log 5, 1); mid ~ Normal(0, 1); increments ~ Dirichlet(1, …, 1).

Each form's posterior given the success counts per scale is sampled on its own (the hurdle's
posterior factorises): ``log_density`` is the log posterior of any form in unconstrained
coordinates θ (padded to a common length, the padding standard normal), so one compiled sampler
serves every form. The functions evaluate with NumPy (draws along the first axis) or jax.numpy
(inside the sampler): pass the array module as ``xp``.
"""

from __future__ import annotations

import math

import numpy as np

from emergence_jax.core.config.sections import FIT_CURVES

__all__ = ["FORMS", "CONSTANT", "PRIORS", "forms_for", "param_names", "dims", "unpack",
           "log_density", "log_probs", "probability", "knots", "init_theta", "MONOTONE_KNOTS"]

FORMS = tuple(c for c in FIT_CURVES if c != "auto")   # simplest first (``analysis.curve``)
CONSTANT = "constant"
MONOTONE_KNOTS = 6          # knots of the monotone form (fewer when fewer scales are observed)
_MIN_SCALES = {"logistic": 2, "quadratic": 3, "asymptotes": 3, "monotone": 3}
_LOG5 = math.log(5.0)

PRIORS = {
    "a (logit P(success) at the middle of the observed log-scale range)": "Normal(0, 2)",
    "b, c (logit slope and curvature per half observed log-scale range)": "Normal(0, 5)",
    "lo, hi (asymptotes / monotone end values)": "Beta(1, 1)",
    "steep (asymptotes: logistic steepness per half range)": "LogNormal(log 5, 1)",
    "mid (asymptotes: transition location, z units)": "Normal(0, 1)",
    "monotone increments between knots": "Dirichlet(1, ..., 1)",
}


def forms_for(curve: str, n_scales: int) -> tuple[str, ...]:
    """The forms a fit of ``curve`` ('auto' or one of ``FORMS``) samples for data with
    ``n_scales`` distinct scales: 'auto' takes every form the number of scales supports."""
    if n_scales <= 1:
        return (CONSTANT,)
    if curve == "auto":
        return tuple(f for f in FORMS if n_scales >= _MIN_SCALES[f])
    if n_scales < _MIN_SCALES[curve]:
        from emergence_jax.core.errors import DataError
        raise DataError(f"analysis.curve: {curve!r} needs at least {_MIN_SCALES[curve]} distinct "
                        f"scales; the data have {n_scales} (use 'logistic' or 'auto')")
    return (curve,)


def knots(n_scales: int) -> int:
    """Knots of the monotone form for data with ``n_scales`` distinct scales."""
    return int(min(max(n_scales, 2), MONOTONE_KNOTS))


def param_names(form: str, n_knots: int = MONOTONE_KNOTS) -> tuple[str, ...]:
    """Names of a form's parameters (canonical: ``form_name``)."""
    names = {"constant": ("a",), "logistic": ("a", "b"), "quadratic": ("a", "b", "c"),
             "asymptotes": ("lo", "hi", "steep", "mid"),
             "monotone": ("lo", "hi") + tuple(f"step{j}" for j in range(n_knots - 1))}[form]
    return tuple(f"{form}_{n}" for n in names)


def dims(form: str, n_knots: int = MONOTONE_KNOTS) -> int:
    """Unconstrained coordinates of a form."""
    return {"constant": 1, "logistic": 2, "quadratic": 3, "asymptotes": 4,
            "monotone": 2 + max(n_knots - 2, 0)}[form]


def _sigmoid_and_logjac(u, xp):
    """σ(u) and log σ'(u) = log σ(u) + log(1 − σ(u)) (Beta(1, 1) in logit coordinates)."""
    return 0.5 * (1 + xp.tanh(0.5 * u)), -xp.logaddexp(0.0, -u) - xp.logaddexp(0.0, u)


def _normal(v, mu, sd, xp):
    return -0.5 * ((v - mu) / sd) ** 2 - math.log(sd) - 0.5 * math.log(2 * math.pi)


def unpack(form: str, theta, n_knots: int, xp=np):
    """Unconstrained θ [..., ≥ dims] -> (parameters {canonical name: [...]}, log prior density
    of θ including the transforms' Jacobians)."""
    t = [theta[..., i] for i in range(dims(form, n_knots))]
    if form in ("constant", "logistic", "quadratic"):
        p = {f"{form}_a": t[0]}
        lp = _normal(t[0], 0.0, 2.0, xp)
        for name, v in zip("bc", t[1:]):
            p[f"{form}_{name}"] = v
            lp = lp + _normal(v, 0.0, 5.0, xp)
        return p, lp
    lo, jl = _sigmoid_and_logjac(t[0], xp)
    hi, jh = _sigmoid_and_logjac(t[1], xp)
    p = {f"{form}_lo": lo, f"{form}_hi": hi}
    lp = jl + jh
    if form == "asymptotes":
        p[f"{form}_steep"] = xp.exp(t[2])
        p[f"{form}_mid"] = t[3]
        return p, lp + _normal(t[2], _LOG5, 1.0, xp) + _normal(t[3], 0.0, 1.0, xp)
    # Dirichlet(1, …, 1) increments by stick breaking: z_i = σ(y_i − log(K − 2 − i)); the
    # density is constant, so the log prior is log Γ(K − 1) + log|Jacobian|
    rest = 1.0 + 0.0 * t[0]
    steps = []
    n_steps = n_knots - 1
    for i in range(n_steps - 1):
        zi, jz = _sigmoid_and_logjac(t[2 + i] - math.log(n_steps - 1 - i), xp)
        steps.append(rest * zi)
        lp = lp + xp.log(rest) + jz
        rest = rest * (1 - zi)
    steps.append(rest)
    p.update({f"{form}_step{j}": s for j, s in enumerate(steps)})
    return p, lp + math.lgamma(n_steps)


def _col(v, xp):
    """A parameter with a trailing axis, so draws [S] broadcast against scales [M]."""
    return xp.asarray(v)[..., None]


def _knot_weight(p: dict, z, n_knots: int, xp):
    """C(z) of the monotone form: linear interpolation of the cumulative increments between
    knots evenly spaced on [−1, 1] (constant beyond them)."""
    pos = (xp.clip(z, -1.0, 1.0) + 1.0) * (n_knots - 1) / 2.0      # in knot intervals
    out = 0.0
    for j in range(n_knots - 1):        # ramps, not data-dependent gathers: a small program
        out = out + xp.clip(pos - j, 0.0, 1.0) * _col(p[f"monotone_step{j}"], xp)
    return out


def _between(p: dict, form: str, z, n_knots: int, xp):
    """(C, lo, hi) of the forms that move between two end values."""
    lo, hi = _col(p[f"{form}_lo"], xp), _col(p[f"{form}_hi"], xp)
    if form == "asymptotes":
        t = _col(p[f"{form}_steep"], xp) * (z - _col(p[f"{form}_mid"], xp))
        c = 0.5 * (1 + xp.tanh(0.5 * t))
    else:
        c = _knot_weight(p, z, n_knots, xp)
    return c, lo, hi


def log_probs(form: str, p: dict, z, n_knots: int = MONOTONE_KNOTS, xp=np):
    """(log π(z), log(1 − π(z))), computed without cancellation; parameters with leading draw
    axes broadcast against z's trailing axis."""
    if form in ("constant", "logistic", "quadratic"):
        eta = _col(p[f"{form}_a"], xp) + 0 * z
        if form != "constant":
            eta = eta + _col(p[f"{form}_b"], xp) * z
        if form == "quadratic":
            eta = eta + _col(p[f"{form}_c"], xp) * z * z
        return -xp.logaddexp(0.0, -eta), -xp.logaddexp(0.0, eta)
    c, lo, hi = _between(p, form, z, n_knots, xp)
    tiny = 1e-300
    pi = lo * (1 - c) + hi * c
    q = (1 - lo) * (1 - c) + (1 - hi) * c
    return xp.log(xp.maximum(pi, tiny)), xp.log(xp.maximum(q, tiny))


def probability(form: str, p: dict, z, n_knots: int = MONOTONE_KNOTS, xp=np):
    """π(z) of one form (NumPy by default)."""
    return xp.exp(log_probs(form, p, z, n_knots, xp)[0])


def log_density(forms: tuple[str, ...], form_index, theta, cz, csucc, cfail, n_knots: int):
    """Log posterior density (up to a constant) of ``forms[form_index]`` at unconstrained θ
    given the success / failure counts per scale (JAX; θ padded with standard-normal
    coordinates up to the longest form)."""
    import jax
    import jax.numpy as jnp
    D = theta.shape[-1]

    def branch(form):
        def f(theta):
            p, lp = unpack(form, theta, n_knots, jnp)
            lpi, lq = log_probs(form, p, cz, n_knots, jnp)
            pad = theta[dims(form, n_knots):]
            return lp + jnp.sum(csucc * lpi + cfail * lq) - 0.5 * jnp.sum(pad * pad)
        return f
    if len(forms) == 1:
        return branch(forms[0])(theta)
    assert D >= max(dims(f, n_knots) for f in forms)
    return jax.lax.switch(form_index, [branch(f) for f in forms], theta)


def init_theta(form: str, left: float, right: float, overall: float, n_knots: int,
               D: int) -> np.ndarray:
    """A starting point in θ from the success fractions at the small-scale and large-scale
    halves (``left``, ``right``) and overall (each clipped into (0, 1))."""
    def logit(v):
        return math.log(v / (1 - v))
    th = np.zeros(D)
    if form in ("constant", "logistic", "quadratic"):
        th[0] = logit(overall)
        if form != "constant":
            th[1] = logit(right) - logit(left)
    else:
        th[0], th[1] = logit(left), logit(right)
        if form == "asymptotes":
            th[2] = _LOG5
    return th
