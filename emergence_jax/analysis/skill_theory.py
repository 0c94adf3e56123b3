"""The random skill-graph model of Arora & Goyal ("A Theory for Emergence of Complex Skills in
Language Models", arXiv 2307.15936): closed-form competence bounds, their scaling with the excess
loss, a Monte Carlo skill graph (JAX) that checks them, and predictions for k′-tuples of skills
from measured single-skill competence.

The model. A bipartite graph joins skills S to text pieces T; each piece uses k skills drawn i.i.d.
(uniformly) from S. The model fails on a set Y ⊆ T of pieces of measure θ (proportional to the
excess cross-entropy). The competence on a skill is the share of its pieces answered correctly; a
failed piece counts against every skill it uses.

Main bound (counting over failure sets and skill sets, per text piece; nats):

    gap(θ, α, β) = H(θ) + (|S|/|T|)·H(α) − k·θ·KL(βα ‖ α)

with H the binary entropy and KL the Bernoulli divergence. For β > 1 and αβ ≤ 1, gap < 0 implies
that, with high probability over the graph, for *every* failure set of measure θ at least a
1 − α share of skills have competence ≥ 1 − βθ. (|S|/|T| = k/d, d the mean degree of a skill;
0 is the large-corpus limit.) The paper's worked numbers are reproduced by ``min_beta`` and
``competent_fraction`` (see the tests): for k = 8, θ = 0.1 the smallest feasible β is 1.833 /
3.067 / 4.502 / 6.756 for α = 0.5 / 0.2 / 0.1 / 0.05.

k′-tuples. k′ pieces taken together form a "super piece" that fails when any of its pieces fails,
so its failure measure is at most k′θ; the same bound with θ → k′θ gives the competence on
k′-tuples of skills, including tuples never seen together in training. Halving the excess loss
(about 10× scale under the Chinchilla law) therefore gives 2k′-tuples the competence k′-tuples had
("slingshot generalization").

Predictions from measured competence (``predict_tuple_competence``): with single-skill competence
c₁ the failure measure is θ = 1 − c₁; the theory guarantees competence ≥ 1 − k′θ on k′-tuples (the
union bound behind θ → k′θ), and when failures fall on pieces independently (a random failure set)
the typical competence is (1 − θ)^k′.
"""

from __future__ import annotations

import math

import numpy as np

from emergence_jax.core.errors import DataError

__all__ = ["CHINCHILLA", "binary_entropy", "bernoulli_kl", "bound_gap", "min_beta",
           "guaranteed_competence", "competent_fraction", "chinchilla_excess_loss",
           "theta_at_scale", "tuple_emergence_curves", "predict_tuple_competence",
           "random_skill_graph", "failure_set", "skill_competence", "tuple_competence",
           "competent_share", "simulate_competence"]

# Hoffmann et al. (arXiv 2203.15556): L(N, D) = E + A / N^a + B / D^b
CHINCHILLA = {"E": 1.69, "A": 406.4, "a": 0.34, "B": 410.7, "b": 0.28}


def binary_entropy(p):
    """H(p) in nats (0 at p = 0 and 1)."""
    p = np.asarray(p, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -p * np.log(p) - (1 - p) * np.log1p(-p)
    return np.where((p <= 0) | (p >= 1), 0.0, h)


def bernoulli_kl(p, q):
    """KL(Bernoulli(p) ‖ Bernoulli(q)) in nats, for q in (0, 1)."""
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / q), 0.0)
        b = np.where(p < 1, (1 - p) * np.log((1 - p) / (1 - q)), 0.0)
    return a + b


def _check(theta: float, k: float, skill_ratio: float) -> None:
    if not 0 < theta < 1:
        raise DataError(f"theta (failure measure) must be in (0, 1), got {theta}")
    if k <= 0:
        raise DataError(f"k (skills per text piece) must be positive, got {k}")
    if skill_ratio < 0:
        raise DataError(f"skill_ratio (|S|/|T|) must be >= 0, got {skill_ratio}")


def bound_gap(theta: float, alpha: float, beta: float, k: float, skill_ratio: float = 0.0):
    """H(θ) + (|S|/|T|)·H(α) − kθ·KL(βα ‖ α): the bound holds where this is negative."""
    return (binary_entropy(theta) + skill_ratio * binary_entropy(alpha)
            - k * theta * bernoulli_kl(beta * np.asarray(alpha), alpha))


def _first_root(f, lo: float, hi: float, grid: int = 400) -> float:
    """Smallest x in (lo, hi] with f(x) < 0, where f(lo) > 0 (NaN when there is none): a grid
    scan for the first sign change, then Brent's method on that bracket."""
    from scipy.optimize import brentq
    xs = np.linspace(lo, hi, grid + 1)
    fs = np.array([f(x) for x in xs])
    neg = np.flatnonzero(fs < 0)
    if not neg.size:
        return math.nan
    i = int(neg[0])
    if i == 0:
        return float(lo)
    return float(brentq(f, xs[i - 1], xs[i], xtol=1e-12, rtol=1e-12))


def min_beta(theta: float, alpha: float, k: float, skill_ratio: float = 0.0) -> float:
    """The smallest β (1 < β ≤ 1/α) for which the bound holds: at least a 1 − α share of skills
    then have competence ≥ 1 − βθ. NaN when no β works (e.g. k = 8, θ = 0.01, α = 0.5)."""
    _check(theta, k, skill_ratio)
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), got {alpha}")
    return _first_root(lambda b: float(bound_gap(theta, alpha, b, k, skill_ratio)), 1.0,
                       1.0 / alpha)


def guaranteed_competence(theta: float, alpha: float, k: float,
                          skill_ratio: float = 0.0) -> float:
    """1 − β*θ with β* = ``min_beta``: the competence at least a 1 − α share of skills reach
    (NaN when the bound gives nothing)."""
    return 1.0 - min_beta(theta, alpha, k, skill_ratio) * theta


def competent_fraction(theta: float, competence: float, k: float, tuple_size: int = 1,
                       skill_ratio: float = 0.0) -> float:
    """The share of k′-tuples of skills (k′ = ``tuple_size``; 1 = single skills) the bound
    guarantees to have at least ``competence``: 1 − α* for the smallest α* with
    gap(k′θ, α*, β) < 0, β = (1 − competence)/(k′θ). 0 when nothing is guaranteed."""
    if tuple_size < 1:
        raise DataError(f"tuple_size must be >= 1, got {tuple_size}")
    if not 0 <= competence < 1:
        raise DataError(f"competence must be in [0, 1), got {competence}")
    th = tuple_size * theta
    if th >= 1:
        return 0.0
    _check(th, k, skill_ratio)
    beta = (1.0 - competence) / th
    if beta <= 1:
        return 0.0
    alpha = _first_root(lambda a: float(bound_gap(th, a, beta, k, skill_ratio)), 1e-12,
                        1.0 / beta)
    return 0.0 if math.isnan(alpha) else 1.0 - alpha


def chinchilla_excess_loss(params, tokens=None, tokens_per_param: float = 20.0):
    """L(N, D) − E under the Chinchilla fit; D defaults to ``tokens_per_param``·N
    (compute-optimal training)."""
    n = np.asarray(params, np.float64)
    d = tokens_per_param * n if tokens is None else np.asarray(tokens, np.float64)
    c = CHINCHILLA
    return c["A"] / n ** c["a"] + c["B"] / d ** c["b"]


def theta_at_scale(params, theta_ref: float, params_ref: float, **kwargs):
    """The failure measure at ``params``, proportional to the excess loss and equal to
    ``theta_ref`` at ``params_ref`` (the paper's θ ∝ excess cross-entropy)."""
    return theta_ref * chinchilla_excess_loss(params, **kwargs) / chinchilla_excess_loss(
        params_ref, **kwargs)


def tuple_emergence_curves(params, competence: float, k: float, tuple_sizes=(1, 2, 4), *,
                           theta_ref: float = 0.1, params_ref: float = 1e9,
                           skill_ratio: float = 0.0) -> np.ndarray:
    """[len(tuple_sizes), len(params)]: the guaranteed share of k′-tuples with at least
    ``competence`` as scale grows, θ following the Chinchilla excess loss."""
    thetas = np.atleast_1d(theta_at_scale(params, theta_ref, params_ref))
    return np.array([[competent_fraction(float(t), competence, k, kp, skill_ratio)
                      if t * kp < 1 else 0.0 for t in thetas] for kp in tuple_sizes])


def predict_tuple_competence(single_competence, tuple_size: int) -> dict[str, np.ndarray]:
    """Competence on k′-tuples predicted from measured single-skill competence c₁ (θ = 1 − c₁):
    ``guaranteed`` = max(0, 1 − k′θ), the theory's lower bound (failure measure ≤ k′θ);
    ``independent`` = c₁^k′, the random-failure-set case."""
    c = np.clip(np.asarray(single_competence, np.float64), 0.0, 1.0)
    return {"guaranteed": np.clip(1.0 - tuple_size * (1.0 - c), 0.0, 1.0),
            "independent": c ** tuple_size}


# ------------------------------------------------------------------------------- Monte Carlo


def random_skill_graph(key, num_skills: int, num_pieces: int, k: int):
    """int32 [num_pieces, k]: the skills each text piece uses (i.i.d. uniform)."""
    import jax
    return jax.random.randint(key, (num_pieces, k), 0, num_skills)


def failure_set(key, pieces, theta: float, num_skills: int, kind: str = "random",
                target_share: float = 0.1):
    """bool [T]: the failed pieces, round(θ·T) of them. ``random``: uniform. ``adversarial``:
    a random set Z of round(target_share·|S|) skills is picked and the pieces using the most
    skills of Z fail first (ties broken at random), which concentrates the failures on Z."""
    import jax
    import jax.numpy as jnp
    T = pieces.shape[0]
    m = int(round(theta * T))
    k_z, k_tie = jax.random.split(key)
    tie = jax.random.uniform(k_tie, (T,))
    if kind == "random":
        score = tie
    elif kind == "adversarial":
        z = jax.random.permutation(k_z, num_skills)[:max(1, int(round(target_share * num_skills)))]
        in_z = jnp.zeros(num_skills, bool).at[z].set(True)
        score = in_z[pieces].sum(axis=1) + tie
    else:
        raise DataError(f"kind: got {kind!r}; allowed: 'random', 'adversarial'")
    order = jnp.argsort(-score)
    return jnp.zeros(T, bool).at[order[:m]].set(True)


def skill_competence(pieces, failed, num_skills: int):
    """float [S]: per skill, the share of its (piece, slot) incidences on pieces that did not
    fail (NaN for a skill no piece uses)."""
    import jax
    import jax.numpy as jnp
    flat = pieces.reshape(-1)
    ok = jnp.repeat(~failed, pieces.shape[1]).astype(jnp.float32)
    total = jax.ops.segment_sum(jnp.ones_like(ok), flat, num_segments=num_skills)
    good = jax.ops.segment_sum(ok, flat, num_segments=num_skills)
    return jnp.where(total > 0, good / jnp.maximum(total, 1.0), jnp.nan)


def tuple_competence(key, pieces, failed, num_skills: int, tuple_size: int):
    """float [|S|^k′]: competence on ordered k′-tuples of skills. The pieces are grouped at
    random into super pieces of k′ pieces, which fail when any member fails; a super piece is
    adjacent to every tuple (s₁, …, s_k′) with s_j a skill of its j-th piece."""
    import itertools

    import jax
    import jax.numpy as jnp
    if num_skills ** tuple_size > 4_000_000:
        raise DataError(f"{num_skills}^{tuple_size} tuples are too many to tabulate; use fewer "
                        "skills or a smaller tuple_size")
    T, k = pieces.shape
    groups = T // tuple_size
    order = jax.random.permutation(key, T)[:groups * tuple_size].reshape(groups, tuple_size)
    members = pieces[order]                              # [G, k′, k]
    super_ok = ~jnp.any(failed[order], axis=1)           # [G]
    choices = np.array(list(itertools.product(range(k), repeat=tuple_size)))  # [k^k′, k′]
    picked = members[:, np.arange(tuple_size)[None, :], choices]               # [G, k^k′, k′]
    weights = num_skills ** np.arange(tuple_size)
    index = (picked * weights).sum(-1).reshape(-1)
    ok = jnp.repeat(super_ok, choices.shape[0]).astype(jnp.float32)
    n = num_skills ** tuple_size
    total = jax.ops.segment_sum(jnp.ones_like(ok), index, num_segments=n)
    good = jax.ops.segment_sum(ok, index, num_segments=n)
    return jnp.where(total > 0, good / jnp.maximum(total, 1.0), jnp.nan)


def competent_share(competence, level: float) -> float:
    """The share of skills (or tuples) with competence ≥ ``level``, among those with pieces."""
    c = np.asarray(competence, np.float64)
    c = c[np.isfinite(c)]
    return float((c >= level - 1e-12).mean()) if c.size else math.nan


def simulate_competence(seed: int, *, num_skills: int, num_pieces: int, k: int, theta: float,
                        tuple_size: int = 1, kind: str = "random",
                        target_share: float = 0.1) -> np.ndarray:
    """One draw of the Monte Carlo skill graph: competence per skill (``tuple_size`` = 1) or per
    ordered k′-tuple, under a ``random`` or ``adversarial`` failure set of measure θ."""
    import jax
    k_graph, k_fail, k_group = jax.random.split(jax.random.PRNGKey(seed), 3)
    pieces = random_skill_graph(k_graph, num_skills, num_pieces, k)
    failed = failure_set(k_fail, pieces, theta, num_skills, kind, target_share)
    if tuple_size == 1:
        return np.asarray(skill_competence(pieces, failed, num_skills))
    return np.asarray(tuple_competence(k_group, pieces, failed, num_skills, tuple_size))
