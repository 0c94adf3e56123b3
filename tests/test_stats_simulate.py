import numpy as np

from emergence_jax.analysis.simulate import preset, simulate_population


def test_presets_behave():
    inv, z = simulate_population("inverse", seed=0, seeds_per_scale=2000, return_truth=True)
    small, large = inv.scales[0], inv.scales[-1]
    assert z[inv.scale == small].mean() > z[inv.scale == large].mean() + 0.3
    succ_small = inv.value[(inv.scale == small) & (z == 1)].mean()
    succ_large = inv.value[(inv.scale == large) & (z == 1)].mean()
    assert succ_large > succ_small
    em, z = simulate_population("emergent", seed=0, seeds_per_scale=2000, return_truth=True)
    assert z[em.scale == em.scales[-1]].mean() > z[em.scale == em.scales[0]].mean() + 0.3
    assert preset("unimodal").kind == "unimodal"


def test_counts_and_continuous():
    d = simulate_population("emergent", seed=1, n_eval=40)
    assert np.allclose(d.value * 40, np.round(d.value * 40))
    c = simulate_population("emergent", seed=1, n_eval=None, p_zero_fail=0.5)
    assert c.n_eval is None and (c.value == 0).mean() > 0.1
