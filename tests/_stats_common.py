"""Shared small settings for the statistics tests (one compiled sampler per model is reused)."""
import numpy as np

FAST = dict(chains=2, warmup=200, samples=200, progress=False)
SCALES = tuple(np.logspace(5, 7.5, 6))


def small(preset_name="emergent", seed=0, seeds=60, n_eval=50, **kw):
    from emergence_jax.analysis.simulate import simulate_population
    return simulate_population(preset_name, seed=seed, seeds_per_scale=seeds, scales=SCALES,
                               n_eval=n_eval, **kw)
