"""Posterior inference (NUTS or SVI), convergence diagnostics and PSIS-LOO / WAIC.

NUTS runs 4 chains by default: ``chain_method='parallel'`` when there are at least as many local
devices as chains, otherwise ``'vectorized'`` (all chains in one program). SVI (a mean-field normal
guide in the unconstrained space, the guide of NumPyro's ``AutoNormal``) is the fast option for very large
populations; it is an approximation (intervals tend to be too narrow). Both work on one flat
potential per model (``_potential``), compiled once per model and data shapes, and only their
tracing is serialised, so samplers of independent parts of a model can run in threads.

Diagnostics (``Diagnostics.ok`` is False and ``Diagnostics.failed`` lists which failed):
    NUTS: max split r-hat ≤ 1.05, min bulk ESS ≥ 100, divergent transitions ≤ 1% of draws.
    SVI:  the ELBO has settled (mean loss over the last 10% of steps within max(2 nats, 0.5%) of the
          preceding 10%) and is finite.

LOO uses Pareto-smoothed importance sampling (Vehtari, Gelman & Gabry 2017), implemented here so it
works on weighted unique rows: identical observations have identical leave-one-out terms, so the
total is a multiplicity-weighted sum. Pareto k̂ > 0.7 marks an unreliable term.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from typing import Any, Callable

import numpy as np

__all__ = ["Background", "Cancelled", "side_by_side", "Diagnostics", "run_nuts", "run_nuts_with_remedies", "run_svi", "float64", "psis_loo",
           "waic", "compare_loo", "chain_method", "combine_diagnostics", "diagnostics_for", "psis_smooth", "RHAT_MAX",
           "ESS_MIN", "DIVERGENT_MAX", "REMEDIES"]

RHAT_MAX = 1.05
ESS_MIN = 100.0
DIVERGENT_MAX = 0.01


@dataclasses.dataclass
class Diagnostics:
    method: str
    ok: bool
    failed: list[str]
    rhat_max: float | None = None
    ess_bulk_min: float | None = None
    divergences: int | None = None
    divergent_fraction: float | None = None
    num_chains: int | None = None
    num_samples: int | None = None
    num_warmup: int | None = None
    elbo_final: float | None = None
    worst_parameter: str | None = None
    seconds: float | None = None
    remedies: list[str] = dataclasses.field(default_factory=list)  # automatic re-runs, in order

    @property
    def message(self) -> str:
        tried = f" (after {len(self.remedies)} automatic re-run(s): {'; '.join(self.remedies)})" \
            if self.remedies else ""
        if self.ok:
            return f"{self.method}: diagnostics passed{tried}"
        return f"{self.method}: diagnostics FAILED: " + "; ".join(self.failed) + tried + \
            ("; " + ADVICE if self.method == "nuts" else "")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Diagnostics":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})

    def __str__(self) -> str:
        parts = [self.message]
        if self.method == "nuts":
            parts.append(f"  chains {self.num_chains}, warmup {self.num_warmup}, samples "
                         f"{self.num_samples}; max r-hat {self.rhat_max:.3f} (≤ {RHAT_MAX}), min "
                         f"bulk ESS {self.ess_bulk_min:.0f} (≥ {ESS_MIN:.0f}), divergences "
                         f"{self.divergences} ({100 * self.divergent_fraction:.2f}%, ≤ "
                         f"{100 * DIVERGENT_MAX:.0f}%)")
        elif self.elbo_final is not None:
            parts.append(f"  final ELBO loss {self.elbo_final:.2f}; no r-hat/ESS for SVI")
        return "\n".join(parts)


def chain_method(num_chains: int) -> str:
    import jax
    return "parallel" if jax.local_device_count() >= num_chains > 1 else "vectorized"


def _nuts_diagnostics(grouped: dict, diverging: np.ndarray, chains: int, warmup: int,
                      samples: int) -> Diagnostics:
    """Diagnostics of draws grouped by chain ({site: [chains, samples, ...]}) and the divergence
    flags [chains, samples]."""
    return _diagnose(grouped, int(np.asarray(diverging).sum()), max(1, np.asarray(diverging).size),
                     chains, warmup, samples)


def diagnostics_for(diag: Diagnostics, draws: dict, sites) -> Diagnostics:
    """``diag`` recomputed on some sites of the flat draws {site: [chains·samples, ...]} of the
    run it describes (e.g. the curve form a fit keeps); divergences stay those of the run."""
    if diag.method != "nuts":
        return diag
    c, n = diag.num_chains, diag.num_samples
    grouped = {k: np.asarray(draws[k]).reshape((c, n) + np.shape(draws[k])[1:]) for k in sites
               if k in draws}
    out = _diagnose(grouped, diag.divergences, c * n, c, diag.num_warmup, n)
    out.seconds, out.remedies = diag.seconds, list(diag.remedies)
    return out


def _diagnose(grouped: dict, n_div: int, n_draws: int, chains: int, warmup: int,
              samples: int) -> Diagnostics:
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
    rhat_max, ess_min, worst = 1.0, float("inf"), None
    for name, v in grouped.items():
        v = np.asarray(v, np.float64)
        if v.ndim < 2 or v.shape[1] < 4:
            continue
        flat = v.reshape(v.shape[0], v.shape[1], -1)
        sd = flat.std(axis=(0, 1))
        keep = np.isfinite(sd) & (sd > 1e-9)
        if not keep.any():
            continue
        flat = flat[..., keep]
        if chains > 1:
            r = np.asarray(split_gelman_rubin(flat))
            r = r[np.isfinite(r)]
            if r.size and r.max() > rhat_max:
                rhat_max, worst = float(r.max()), name
        e = np.asarray(effective_sample_size(flat))
        e = e[np.isfinite(e)]
        if e.size and e.min() < ess_min:
            ess_min = float(e.min())
            if worst is None:
                worst = name
    frac = n_div / n_draws
    failed = []
    if rhat_max > RHAT_MAX:
        failed.append(f"r-hat {rhat_max:.3f} > {RHAT_MAX} (worst: {worst}); run longer or more "
                      "chains")
    if ess_min < ESS_MIN:
        failed.append(f"bulk ESS {ess_min:.0f} < {ESS_MIN:.0f}; increase --samples")
    if frac > DIVERGENT_MAX:
        failed.append(f"{n_div} divergent transitions ({100 * frac:.1f}% > "
                      f"{100 * DIVERGENT_MAX:.0f}%); posterior geometry is hard, results are "
                      "unreliable")
    return Diagnostics(method="nuts", ok=not failed, failed=failed, rhat_max=rhat_max,
                       ess_bulk_min=ess_min if math.isfinite(ess_min) else None,
                       divergences=n_div, divergent_fraction=frac, num_chains=chains,
                       num_samples=samples, num_warmup=warmup, worst_parameter=worst)


def float64():
    """Context in which the fits trace and run their programs in float64.

    The likelihood is a multiplicity-weighted sum over unique rows, and each BetaBinomial term is a
    difference of log-gamma values of a few hundred; in float32 their rounding error (up to ~4e-4
    per ``gammaln``) is multiplied by the row's multiplicity, so with thousands of seeds the
    potential energy carries a non-smooth error of order one nat. NUTS then cannot reach its
    target acceptance except with tiny steps (step sizes differing by 30x between chains, trees
    at maximum depth), and the time grows with the number of seeds. In float64 that error is
    ~1e-9. Only the fits switch precision; the rest of the package keeps float32."""
    import jax
    return jax.enable_x64(True)


def _as_float64(args: tuple) -> tuple:
    import jax.numpy as jnp
    out = []
    for a in args:
        a = jnp.asarray(a)
        out.append(a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a)
    return tuple(out)


_RUNNERS: dict = {}
# NumPyro's effect handlers live on one process-wide stack, so models are traced by one thread at
# a time (a hurdle fit runs its two samplers in parallel threads, ``fitting._hurdle_posterior``);
# compilation and the samplers' runs are not serialised.
_TRACING = threading.RLock()
_CACHE_LOCK = threading.Lock()


def _compile(jitted: Callable, *example):
    """``jitted`` traced (holding ``_TRACING``) and compiled for the shapes of ``example``."""
    with _TRACING:
        lowered = jitted.lower(*example)
    return lowered.compile()


DENSE_MAX = 60   # dense mass matrix up to this many unconstrained parameters, diagonal beyond
REGULARIZE_ABOVE = 20   # shrink the adapted mass matrix only for models with more parameters


def _potential(model: Callable, args: tuple, cache_key: Any) -> dict:
    """The model's potential energy over a flat unconstrained vector, shared by NUTS and SVI
    (cached like ``_runner``): ``pe_gen`` / ``post_gen`` (NumPyro's potential and postprocess
    functions of the data), ``unravel`` (flat -> sites), ``size``, ``inv`` (the sites'
    transforms), ``z`` (unconstrained zeros shaped like each site) and ``value_and_grad(flat,
    args)`` (compiled: the potential and its gradient, for the MAP / Laplace start)."""
    import jax
    from jax.flatten_util import ravel_pytree
    from numpyro.infer.util import get_potential_fn

    key = ("potential", cache_key, _signature(args))
    if (hit := _cached(key)) is not None:
        return hit
    with _TRACING:
        inv_transforms, replay, z_proto = _trace_model(model, args, jax.random.PRNGKey(0))
        pe_gen, post_gen = get_potential_fn(model, inv_transforms, replay_model=replay,
                                            dynamic_args=True, model_args=args)
    flat0, unravel = ravel_pytree(z_proto)

    @jax.jit
    def value_and_grad(flat, args):
        return jax.value_and_grad(lambda v: pe_gen(*args)(unravel(v)))(flat)
    out = dict(pe_gen=pe_gen, post_gen=post_gen, unravel=unravel, size=int(flat0.size),
               inv=inv_transforms, z=z_proto,
               value_and_grad=_CompiledOnFirstCall(value_and_grad))
    _remember(key, out)
    return out


class _CompiledOnFirstCall:
    """A jitted function compiled (tracing under ``_TRACING``) at its first call: for programs
    that a run may not need (the Laplace start's potential gradient)."""

    def __init__(self, jitted: Callable):
        self._jitted, self._compiled = jitted, None

    def __call__(self, *args):
        if self._compiled is None:
            self._compiled = _compile(self._jitted, *args)
        return self._compiled(*args)


# The caller's thread-local JAX settings that a sampler in another thread must see too (JAX's
# context managers act on the thread that enters them).
_CARRIED_SETTINGS = {"jax_default_device": "default_device", "jax_disable_jit": "disable_jit",
                     "jax_debug_nans": "debug_nans",
                     "jax_default_matmul_precision": "default_matmul_precision"}
_CANCEL = threading.local()


class Cancelled(Exception):
    """A sampler running in the background stopped because the fit it belonged to failed or was
    interrupted."""


def _check_cancelled() -> None:
    """Raises ``Cancelled`` in a background sampler whose fit has given up (between chunks)."""
    event = getattr(_CANCEL, "event", None)
    if event is not None and event.is_set():
        raise Cancelled("the fit this sampler belonged to stopped")


class Background:
    """``fn()`` running in a daemon thread, with the caller's JAX settings
    (``_CARRIED_SETTINGS``); ``result()`` waits for it and re-raises its error, ``cancel()``
    stops its samplers at their next chunk. A daemon thread, so that an interrupted process
    exits without waiting for it."""

    def __init__(self, fn: Callable[[], Any]):
        import contextlib

        import jax
        settings = {getattr(jax, ctx): getattr(jax.config, name)
                    for name, ctx in _CARRIED_SETTINGS.items()}
        self._box: dict = {}
        self._stop = threading.Event()

        def target():
            _CANCEL.event = self._stop
            try:
                with contextlib.ExitStack() as stack:
                    for context, value in settings.items():
                        stack.enter_context(context(value))
                    self._box["value"] = fn()
            except BaseException as e:      # re-raised in the caller's thread
                self._box["error"] = e
        self._thread = threading.Thread(target=target, daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._stop.set()

    def result(self):
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["value"]


def side_by_side(*jobs: Callable[[], Any]) -> list:
    """The ``jobs`` run at once, the first in the calling thread and the others in ``Background``
    threads; returns their results in order. When one fails or the wait is interrupted, the
    others stop at their next chunk and the error is raised. For independent samplers: every
    random key comes from the caller's seeds, so the results do not depend on the threads'
    timing."""
    others = [Background(job) for job in jobs[1:]]
    try:
        return [jobs[0]()] + [job.result() for job in others]
    except BaseException:
        for job in others:
            job.cancel()
        raise


def _signature(args: tuple) -> tuple:
    """The shapes and dtypes of a model's arguments (what its compiled programs depend on)."""
    return tuple((tuple(np.shape(a)), str(getattr(a, "dtype", None) or np.asarray(a).dtype))
                 for a in args)


def _cached(key) -> Any:
    return _RUNNERS.get(key) if key[1] is not None else None


def _remember(key, value) -> None:
    """Keeps ``value`` under ``key`` (unless the model has no cache key), dropping the oldest
    entries beyond 64; under a lock, as fits may run samplers in two threads."""
    if key[1] is None:
        return
    with _CACHE_LOCK:
        while len(_RUNNERS) >= 64:
            _RUNNERS.pop(next(iter(_RUNNERS)))
        _RUNNERS[key] = value


def _runner(model: Callable, args: tuple, cache_key: Any, chains: int, warmup: int, chunk: int,
            target_accept: float, max_tree_depth: int, method: str, dense_mass: bool | None):
    """Compiled pieces, cached so fits of other data with the same model and shapes reuse them
    (compilation dominates fits of modest size): those of ``_potential``, and

    * ``init(keys, z, inverse_mass_matrix, args)``: NUTS states, vectorised over chains;
    * ``advance(state, args) -> (state, (z, diverging))``: ``chunk`` transitions.
    """
    import jax
    from numpyro.infer.hmc import hmc

    key = ("nuts", cache_key, chains, warmup, chunk, target_accept, max_tree_depth, method,
           dense_mass, _signature(args))
    if (hit := _cached(key)) is not None:
        return hit
    pot = _potential(model, args, cache_key)
    size, post_gen = pot["size"], pot["post_gen"]
    dense = size <= DENSE_MAX if dense_mass is None else bool(dense_mass)
    # NumPyro shrinks the estimated covariance towards 1e-3·I (weight 5/(n + 5)); with thousands of
    # seeds posterior variances are ~1e-5, so the shrinkage would inflate them several-fold and
    # cost 2-3x more leapfrog steps. Small models get the plain sample covariance (well
    # determined from the ≥ 25 draws of a window); large ones keep the regularisation.
    regularize = size > REGULARIZE_ABOVE
    init_kernel, sample_kernel = hmc(potential_fn_gen=pot["pe_gen"], algo="NUTS")

    def init_one(rng, z, imm, args):
        return init_kernel(z, warmup, inverse_mass_matrix=imm, dense_mass=dense,
                           regularize_mass_matrix=regularize,
                           target_accept_prob=target_accept, max_tree_depth=max_tree_depth,
                           model_args=args, rng_key=rng)

    def advance_one(state, args):
        def body(st, _):
            st = sample_kernel(st, model_args=args)
            return st, (post_gen(*args)(st.z), st.diverging)
        return jax.lax.scan(body, state, None, length=chunk)

    # one device per chain (pmap) or all chains in one program (vmap); compiled ahead of the
    # first call either way, so that only the tracing holds ``_TRACING``
    if method == "parallel":
        over_chains = {"init": jax.pmap(init_one, in_axes=(0, 0, None, None)),
                       "advance": jax.pmap(advance_one, in_axes=(0, None))}
    else:
        over_chains = {"init": jax.jit(jax.vmap(init_one, in_axes=(0, 0, None, None))),
                       "advance": jax.jit(jax.vmap(advance_one, in_axes=(0, None)))}
    keys = jax.random.split(jax.random.PRNGKey(0), chains)
    zs = jax.tree_util.tree_map(lambda v: np.zeros((chains,) + np.shape(v), v.dtype), pot["z"])
    imm = np.zeros((size, size) if dense else (size,), np.float64)
    init = _compile(over_chains["init"], keys, zs, imm, args)
    advance = _compile(over_chains["advance"], init.out_info, args)
    out = dict(pot, init=init, advance=advance, dense=dense)
    _remember(key, out)
    return out


def _trace_model(model: Callable, args: tuple, rng) -> tuple:
    """The model's latent sites: (inverse transforms, replay flag, unconstrained zeros shaped like
    each site). The model runs under ``jax.eval_shape`` (abstractly: nothing is compiled or
    executed), a cheap stand-in for ``numpyro.infer.util.initialize_model``, whose eager run and
    validity search compile dozens of small programs. Falls back to an eager run when a site's
    transform depends on the data."""
    import jax
    from numpyro.handlers import seed, substitute
    from numpyro.infer import init_to_median
    from numpyro.infer.util import _get_model_transforms, transform_fn

    box: dict = {}

    def latent(args):
        sub = substitute(seed(model, rng), substitute_fn=init_to_median)
        inv, replay, _, tr = _get_model_transforms(sub, args, {})
        box["inv"], box["replay"] = inv, replay
        constrained = {k: v["value"] for k, v in tr.items()
                       if v["type"] == "sample" and not v["is_observed"]
                       and not v["fn"].support.is_discrete}
        return transform_fn(inv, constrained, invert=True)
    try:
        shapes = jax.eval_shape(latent, args)
        z = {k: np.zeros(v.shape, v.dtype) for k, v in shapes.items()}
        for t in box["inv"].values():    # no leaked tracers (transforms are pytrees: call each)
            t(np.zeros(1))
    except Exception:
        z = {k: np.zeros(np.shape(v), np.asarray(v).dtype) for k, v in latent(args).items()}
    return box["inv"], box["replay"], z


def _start_point(r: dict, init_values: dict | None) -> np.ndarray:
    """Flat unconstrained starting point: ``init_values`` (constrained) mapped through the sites'
    transforms, 0 for the other sites (the mode search starts from here)."""
    from jax.flatten_util import ravel_pytree
    z = {k: np.array(v) for k, v in r["z"].items()}
    for k, v in (init_values or {}).items():
        if k in r["inv"] and k in z:
            u = np.asarray(r["inv"][k].inv(np.asarray(v, np.float64)), np.float64)
            if np.all(np.isfinite(u)):
                z[k] = np.broadcast_to(u, z[k].shape).astype(z[k].dtype)
    return np.asarray(ravel_pytree(z)[0], np.float64)


def _laplace(value_and_grad: Callable, args: tuple, flat0: np.ndarray, max_iter: int = 200
             ) -> tuple[np.ndarray, np.ndarray] | None:
    """Posterior mode in the unconstrained space (BFGS from ``flat0``) and the covariance of the
    Laplace approximation there (inverse of a central-difference Hessian of the potential).
    Returns None when no finite mode with a positive-definite Hessian is found."""
    import warnings

    from scipy.optimize import minimize

    def fun(v):
        val, grad = value_and_grad(np.asarray(v, np.float64), args)
        val, grad = float(val), np.asarray(grad, np.float64)
        if not (math.isfinite(val) and np.all(np.isfinite(grad))):
            return 1e30, np.zeros_like(grad)
        return val, grad

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = minimize(fun, np.asarray(flat0, np.float64), jac=True, method="BFGS",
                       options={"maxiter": max_iter, "gtol": 1e-3})
    mode = np.asarray(res.x, np.float64)
    if not (np.all(np.isfinite(mode)) and fun(mode)[0] < 1e30):
        return None
    D = mode.size
    hinv = np.asarray(getattr(res, "hess_inv", np.eye(D)), np.float64)
    sd = np.sqrt(np.clip(np.diag(hinv), 1e-8, 1e2)) if hinv.shape == (D, D) else np.ones(D)
    H = np.empty((D, D))
    for i in range(D):
        h = 0.1 * sd[i]
        e = np.zeros(D)
        e[i] = h
        H[:, i] = (fun(mode + e)[1] - fun(mode - e)[1]) / (2 * h)
    H = 0.5 * (H + H.T)
    if not np.all(np.isfinite(H)):
        return None
    evals, evecs = np.linalg.eigh(H)
    if evals.min() <= 0:
        return None
    cov = (evecs / evals) @ evecs.T
    return mode, 0.5 * (cov + cov.T)


def run_nuts(model: Callable, args: tuple, *, cache_key: Any = None, chains: int = 4,
             warmup: int = 500, samples: int = 500, seed: int = 0, progress: bool = True,
             init_values: dict | None = None, target_accept: float = 0.85,
             max_tree_depth: int = 8, laplace_init: bool = True,
             dense_mass: bool | None = None) -> tuple[dict, Diagnostics]:
    """NUTS (NumPyro's kernel) for ``chains`` chains; returns (draws {site: [chains*samples, ...]}
    including deterministic sites, diagnostics).

    Start: from ``init_values`` (constrained space, e.g. a data-driven guess) or the prior median,
    the posterior mode is found (BFGS in the unconstrained space) and the chains start from
    independent draws of the Laplace approximation there, with its covariance as the initial
    (dense) inverse mass matrix; warmup then adapts step size and mass matrix as usual. Without a
    usable mode (``laplace_init=False``, or a non-finite / non-positive-definite Hessian) the chains
    start from the guess jittered in the unconstrained space with a unit mass matrix. The mass
    matrix is dense up to ``DENSE_MAX`` parameters unless ``dense_mass`` says otherwise. ``cache_key`` (hashable, identifying the model)
    lets later fits reuse the compiled sampler. The model is evaluated in float64 (see
    ``float64``)."""
    with float64():
        return _run_nuts(model, _as_float64(args), cache_key, chains, warmup, samples, seed,
                         progress, init_values, target_accept, max_tree_depth, laplace_init,
                         dense_mass)


def _run_nuts(model, args, cache_key, chains, warmup, samples, seed, progress, init_values,
              target_accept, max_tree_depth, laplace_init, dense_mass):
    import time

    import jax

    t0 = time.perf_counter()
    method = chain_method(chains)
    total = warmup + samples
    chunk = math.gcd(warmup, samples) if warmup else samples
    while chunk > 100 and chunk % 2 == 0:
        chunk //= 2
    r = _runner(model, args, cache_key, chains, warmup, chunk, target_accept, max_tree_depth,
                method, dense_mass)
    rng = jax.random.PRNGKey(seed)
    _, rng_jit, rng_run = jax.random.split(rng, 3)
    flat0 = _start_point(r, init_values)
    D = flat0.size
    lap = _laplace(r["value_and_grad"], args, flat0) if laplace_init else None
    noise = np.asarray(jax.random.normal(rng_jit, (chains, D)), np.float64)
    if lap is not None:
        mode, cov = lap
        starts = mode[None] + noise @ np.linalg.cholesky(cov + 1e-10 * np.eye(D)).T
        imm = cov if r["dense"] else np.diag(cov)
    else:
        starts = flat0[None] + 0.3 * noise
        imm = np.eye(D) if r["dense"] else np.ones(D)
    zs = [r["unravel"](np.asarray(s, np.float64)) for s in starts]
    z = jax.tree_util.tree_map(lambda *v: np.stack([np.asarray(x) for x in v]), *zs)
    state = r["init"](jax.random.split(rng_run, chains), z, np.asarray(imm, np.float64), args)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc=f"NUTS {chains} chains ({method})", unit="it", leave=False)
    kept, div = [], []
    done = 0
    while done < total:
        _check_cancelled()
        state, (zs, d) = r["advance"](state, args)
        if done >= warmup:
            kept.append(jax.device_get(zs))
            div.append(np.asarray(d))
        done += chunk
        if bar is not None:
            bar.update(chunk)
            bar.set_postfix_str("warmup" if done <= warmup else "sampling")
    if bar is not None:
        bar.close()
    grouped = {k: np.concatenate([np.asarray(c[k]) for c in kept], axis=1) for k in kept[0]}
    diverging = np.concatenate(div, axis=1)
    diag = _nuts_diagnostics(grouped, diverging, chains, warmup, samples)
    diag.seconds = time.perf_counter() - t0
    flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in grouped.items()}
    return flat, diag


ADVICE = ("what to try: more --warmup and --samples; a simpler model (--curve logistic, "
          "--model hurdle); --likelihood betabinomial with --n-eval when the metric is a share of "
          "n examples; or --method svi for a quick approximation")

# Automatic re-runs when NUTS fails its diagnostics, in order: (what changes, settings).
REMEDIES = (
    ("re-initialised with another seed, twice the warmup, target acceptance 0.95",
     dict(seed_offset=1, warmup_factor=2, target_accept=0.95, max_tree_depth=10)),
    ("started from jittered guesses without the Laplace approximation, the other mass-matrix "
     "form, four times the warmup, target acceptance 0.99",
     dict(seed_offset=2, warmup_factor=4, target_accept=0.99, max_tree_depth=10,
          laplace_init=False, flip_dense=True)),
)


def run_nuts_with_remedies(model: Callable, args: tuple, *, warmup: int = 500, seed: int = 0,
                           remedies: bool = True, dense_mass: bool | None = None,
                           laplace_init: bool = True, **kwargs) -> tuple[dict, Diagnostics]:
    """``run_nuts``, re-run with the ``REMEDIES`` in turn while the diagnostics fail. Returns
    the first passing run, else the last one; ``diag.remedies`` lists the re-runs made, and a
    failure's message says what to try."""
    tried: list[str] = []
    draws, diag = None, None
    plan = [("", {})] + (list(REMEDIES) if remedies else [])
    for what, change in plan:
        dense = dense_mass
        if change.get("flip_dense"):
            dense = False if dense_mass in (None, True) else True
        draws, diag = run_nuts(model, args, warmup=warmup * change.get("warmup_factor", 1),
                               seed=seed + 7919 * change.get("seed_offset", 0),
                               dense_mass=dense,
                               laplace_init=laplace_init and change.get("laplace_init", True),
                               **{**kwargs, **{k: v for k, v in change.items()
                                               if k in ("target_accept", "max_tree_depth")}})
        if what:
            tried.append(f"{what}: {'passed' if diag.ok else 'failed'}")
        diag.remedies = list(tried)
        if diag.ok:
            break
    return draws, diag


def combine_diagnostics(parts: dict[str, Diagnostics]) -> Diagnostics:
    """One ``Diagnostics`` for a fit made of independent samplers (named ``parts``): it passes
    when every part passes; r-hat is the worst, ESS the smallest, divergences the total."""
    items = list(parts.items())
    first = items[0][1]
    failed = [f"{name}: {f}" for name, d in items for f in d.failed]
    remedies = [f"{name}: {r}" for name, d in items for r in d.remedies]
    out = Diagnostics(method=first.method, ok=all(d.ok for _, d in items), failed=failed,
                      num_chains=first.num_chains, num_samples=first.num_samples,
                      num_warmup=first.num_warmup, remedies=remedies,
                      seconds=sum(d.seconds or 0.0 for _, d in items))
    if first.method == "nuts":
        worst = max(items, key=lambda it: it[1].rhat_max or 0.0)
        out.rhat_max = worst[1].rhat_max
        out.worst_parameter = f"{worst[0]}: {worst[1].worst_parameter}"
        ess = [d.ess_bulk_min for _, d in items if d.ess_bulk_min is not None]
        out.ess_bulk_min = min(ess) if ess else None
        out.divergences = sum(d.divergences or 0 for _, d in items)
        out.divergent_fraction = max(d.divergent_fraction or 0.0 for _, d in items)
    else:
        out.elbo_final = sum(d.elbo_final or 0.0 for _, d in items)
    return out


def run_svi(model: Callable, args: tuple, *, steps: int = 3000, samples: int = 2000, seed: int = 0,
            progress: bool = True, init_values: dict | None = None,
            learning_rate: float = 0.02, cache_key: Any = None,
            laplace_init: bool = True) -> tuple[dict, Diagnostics]:
    """SVI with a mean-field normal guide in the unconstrained space (what NumPyro's
    ``AutoNormal`` is), on the same flat potential as NUTS; returns (draws from the guide incl.
    deterministic sites, diagnostics).

    The guide starts at the posterior mode with the Laplace approximation's standard deviations
    (``_laplace``; without a usable mode, or with ``laplace_init=False``: at ``init_values``
    with scales 0.05) and is parametrised in those units (``_vi_runner``); ``steps`` Adam steps
    (gradients clipped at ±10, one draw per step) maximise the ELBO. The steps run in compiled
    chunks and, with ``cache_key``, later fits of other data of the same shapes reuse the
    compiled program. Runs in float64 (see ``float64``)."""
    with float64():
        return _run_svi(model, _as_float64(args), steps, samples, seed, progress, init_values,
                        learning_rate, cache_key, laplace_init)


SVI_CHUNK = 250     # at most this many SVI steps per compiled call (the bar moves between calls)


def _vi_runner(model: Callable, args: tuple, cache_key: Any, learning_rate: float,
               samples: int, chunk: int) -> dict:
    """Compiled SVI pieces (cached like ``_runner``). The guide N(loc, scale²) per unconstrained
    coordinate is parametrised relative to a ``center`` and ``unit`` (the Laplace mode and
    standard deviations when there is one): loc = center + unit·l, scale = unit·softplus(r).
    Adam's steps are then a fixed fraction of the posterior's width, whatever the population
    size — with thousands of seeds a fixed step of 0.02 in the raw coordinates would be several
    posterior standard deviations, and the guide would jitter across the posterior.

    * ``advance(guide, opt_state, keys, active, center, unit, args) -> (guide, opt_state,
      losses)``: ``chunk`` steps (a step whose ``active`` is False leaves the guide as is);
    * ``draw(guide, key, center, unit, args)``: ``samples`` draws of every site, deterministic
      ones included."""
    import jax
    import jax.numpy as jnp
    import optax

    key = ("svi", cache_key, learning_rate, samples, chunk, _signature(args))
    if (hit := _cached(key)) is not None:
        return hit
    pot = _potential(model, args, cache_key)
    pe_gen, post_gen, unravel, D = pot["pe_gen"], pot["post_gen"], pot["unravel"], pot["size"]
    optimizer = optax.chain(optax.clip(10.0), optax.adam(learning_rate))

    def loss(guide, eps, center, unit, args):
        loc, raw_scale = guide
        scale = unit * jax.nn.softplus(raw_scale)
        log_q = jnp.sum(-jnp.log(scale) - 0.5 * eps ** 2) - 0.5 * D * math.log(2 * math.pi)
        return pe_gen(*args)(unravel(center + unit * loc + scale * eps)) + log_q   # −ELBO

    def advance(guide, opt_state, keys, active, center, unit, args):
        def body(carry, step):
            guide, opt_state = carry
            key, on = step
            value, grad = jax.value_and_grad(loss)(guide, jax.random.normal(key, (D,)), center,
                                                   unit, args)
            updates, new_state = optimizer.update(grad, opt_state, guide)
            new_guide = optax.apply_updates(guide, updates)
            keep = jax.tree_util.tree_map(lambda new, old: jnp.where(on, new, old),
                                          (new_guide, new_state), (guide, opt_state))
            return keep, value
        (guide, opt_state), losses = jax.lax.scan(body, (guide, opt_state), (keys, active))
        return guide, opt_state, losses

    def draw(guide, key, center, unit, args):
        loc, raw_scale = guide
        z = (center + unit * loc
             + unit * jax.nn.softplus(raw_scale) * jax.random.normal(key, (samples, D)))
        return jax.vmap(lambda v: post_gen(*args)(unravel(v)))(z)

    vec = np.zeros(D)
    guide = (vec, vec)
    opt_state = jax.eval_shape(optimizer.init, guide)
    keys = jax.random.split(jax.random.PRNGKey(0), chunk)
    out = dict(pot, init=optimizer.init,
               advance=_compile(jax.jit(advance), guide, opt_state, keys,
                                np.ones(chunk, bool), vec, vec, args),
               draw=_compile(jax.jit(draw), guide, keys[0], vec, vec, args))
    _remember(key, out)
    return out


def _softplus_inverse(x: np.ndarray) -> np.ndarray:
    return x + np.log(-np.expm1(-x))


def _run_svi(model, args, steps, samples, seed, progress, init_values, learning_rate, cache_key,
             laplace_init):
    import time

    import jax

    t0 = time.perf_counter()
    n_chunks = -(-steps // SVI_CHUNK)
    chunk = -(-steps // n_chunks)           # n_chunks equal calls, at most n_chunks − 1 idle steps
    r = _vi_runner(model, args, cache_key, learning_rate, samples, chunk)
    flat0 = _start_point(r, init_values)
    lap = _laplace(r["value_and_grad"], args, flat0) if laplace_init else None
    if lap is not None:     # start at the Laplace approximation, in its own units
        center = np.asarray(lap[0], np.float64)
        unit = np.sqrt(np.clip(np.diag(lap[1]), 1e-12, 1e2))
        scale0 = 1.0
    else:
        center, unit, scale0 = np.asarray(flat0, np.float64), np.ones(flat0.size), 0.05
    guide = (np.zeros(flat0.size), np.full(flat0.size, _softplus_inverse(scale0)))
    opt_state = r["init"](guide)
    rng_run, rng_draw = jax.random.split(jax.random.PRNGKey(seed))
    keys = jax.random.split(rng_run, n_chunks * chunk).reshape(n_chunks, chunk, -1)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="SVI", unit="step", leave=False)
    losses = []
    for i in range(n_chunks):
        _check_cancelled()
        active = np.arange(i * chunk, (i + 1) * chunk) < steps
        guide, opt_state, chunk_losses = r["advance"](guide, opt_state, keys[i], active, center,
                                                      unit, args)
        losses.append(np.asarray(chunk_losses, np.float64)[active])
        if bar is not None:
            bar.update(int(active.sum()))
    if bar is not None:
        bar.close()
    losses = np.concatenate(losses)
    draws = {k: np.asarray(v) for k, v in r["draw"](guide, rng_draw, center, unit, args).items()
             if k != "loglik"}
    w = max(1, steps // 10)
    last, prev = losses[-w:].mean(), losses[-2 * w:-w].mean()
    failed = []
    if not np.isfinite(losses[-w:]).all():
        failed.append("non-finite ELBO")
    elif abs(prev - last) > max(2.0, 0.005 * abs(last)):
        failed.append(f"ELBO still moving ({prev:.1f} -> {last:.1f} over the last 10% of steps); "
                      "increase the number of SVI steps")
    diag = Diagnostics(method="svi", ok=not failed, failed=failed, elbo_final=float(last),
                       num_samples=samples, seconds=time.perf_counter() - t0)
    return draws, diag


# ------------------------------------------------------------------------------ PSIS-LOO, WAIC


def _gpd_fit(x: np.ndarray) -> tuple[float, float]:
    """Generalized Pareto fit (Zhang & Stephens 2009, with the weakly informative prior on k used
    by PSIS) to exceedances ``x`` (ascending, > 0). Returns (k, sigma)."""
    n = x.size
    prior_bs, prior_k = 3.0, 10.0
    m = 30 + int(math.sqrt(n))
    bs = 1.0 - np.sqrt(m / (np.arange(1, m + 1) - 0.5))
    bs = bs / (prior_bs * x[int(n / 4 + 0.5) - 1]) + 1.0 / x[-1]
    ks = np.log1p(-bs[:, None] * x[None, :]).mean(axis=1)
    L = n * (np.log(-bs / ks) - ks - 1.0)
    with np.errstate(over="ignore"):
        wts = 1.0 / np.exp(L[None, :] - L[:, None]).sum(axis=1)
    b = float((bs * wts).sum())
    k = float(np.log1p(-b * x).mean())
    sigma = -k / b
    k = (n * k + prior_k * 0.5) / (n + prior_k)
    return k, sigma


def _gpd_quantile(p: np.ndarray, k: float, sigma: float) -> np.ndarray:
    if abs(k) < 1e-12:
        return -sigma * np.log1p(-p)
    return sigma * np.expm1(-k * np.log1p(-p)) / k


def psis_smooth(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed log importance weights (normalised) and k̂ for one vector of log ratios."""
    lw = np.asarray(log_ratios, np.float64).copy()
    S = lw.size
    lw -= lw.max()
    tail = int(math.ceil(min(0.2 * S, 3.0 * math.sqrt(S))))
    k = float("inf")
    if tail >= 5:
        order = np.argsort(lw)
        cutoff_idx = S - tail - 1
        cutoff = lw[order[cutoff_idx]]
        tail_idx = order[cutoff_idx + 1:]
        tail_vals = lw[tail_idx]
        exp_cut = math.exp(cutoff)
        x = np.exp(tail_vals) - exp_cut
        if np.all(x > 0) and x.size >= 5:
            k, sigma = _gpd_fit(np.sort(x))
            if math.isfinite(k):
                p = (np.arange(1, tail + 1) - 0.5) / tail
                smoothed = np.log(_gpd_quantile(p, k, sigma) + exp_cut)
                lw[tail_idx] = np.minimum(smoothed, 0.0)
        else:
            k = 0.0
    lw -= np.logaddexp.reduce(lw)
    return lw, k


def _weighted_rows(loglik: np.ndarray, weights: np.ndarray | None):
    """float64 log-likelihoods [draws, rows] and row multiplicities, rows of weight 0 dropped."""
    ll = np.asarray(loglik, np.float64)
    w = np.ones(ll.shape[1]) if weights is None else np.asarray(weights, np.float64)
    keep = w > 0
    return ll[:, keep], w[keep]


def psis_loo(loglik: np.ndarray, weights: np.ndarray | None = None) -> dict:
    """PSIS-LOO from pointwise log-likelihoods [draws, rows]; ``weights`` = row multiplicities."""
    ll, w = _weighted_rows(loglik, weights)
    elpd_i = np.empty(ll.shape[1])
    khat = np.empty(ll.shape[1])
    for i in range(ll.shape[1]):
        lw, k = psis_smooth(-ll[:, i])
        elpd_i[i] = np.logaddexp.reduce(lw + ll[:, i])
        khat[i] = k
    return _summarise_pointwise(elpd_i, w, extra={"pareto_k_max": float(khat.max()),
                                                   "pareto_k_bad": int(w[khat > 0.7].sum()),
                                                   "pointwise_khat": khat})


def waic(loglik: np.ndarray, weights: np.ndarray | None = None) -> dict:
    ll, w = _weighted_rows(loglik, weights)
    lppd = np.logaddexp.reduce(ll, axis=0) - math.log(ll.shape[0])
    p = ll.var(axis=0, ddof=1)
    out = _summarise_pointwise(lppd - p, w)
    out["p_waic"] = float((w * p).sum())
    return out


def _summarise_pointwise(elpd_i: np.ndarray, w: np.ndarray, extra: dict | None = None) -> dict:
    N = w.sum()
    total = float((w * elpd_i).sum())
    mean = total / N
    var = float((w * (elpd_i - mean) ** 2).sum() / N)
    out = {"elpd": total, "se": math.sqrt(N * var), "n": float(N), "pointwise": elpd_i,
           "weights": w}
    if extra:
        out.update(extra)
    return out


def compare_loo(a: dict, b: dict) -> tuple[float, float]:
    """elpd(a) − elpd(b) and its standard error from the paired pointwise differences (both LOO
    results computed on the same rows)."""
    d = a["pointwise"] - b["pointwise"]
    w = a["weights"]
    N = w.sum()
    mean = (w * d).sum() / N
    var = (w * (d - mean) ** 2).sum() / N
    return float((w * d).sum()), float(math.sqrt(N * var))
