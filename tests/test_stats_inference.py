import numpy as np
import pytest

from emergence_jax.analysis import inference


def test_diagnostics_flag_failures():
    rng = np.random.default_rng(0)
    good = {"a": rng.normal(size=(4, 300))}
    ok = inference._nuts_diagnostics(good, np.zeros((4, 300), bool), 4, 300, 300)
    assert ok.ok and not ok.failed
    # chains stuck in different places: r-hat fails
    stuck = {"a": rng.normal(size=(4, 300)) + np.array([0, 0, 3, 3])[:, None]}
    bad = inference._nuts_diagnostics(stuck, np.zeros((4, 300), bool), 4, 300, 300)
    assert not bad.ok and any("r-hat" in f for f in bad.failed)
    assert "r-hat" in bad.message
    # strongly autocorrelated draws: ESS fails
    walk = {"a": np.cumsum(rng.normal(size=(4, 300)), axis=1) * 0.01 + rng.normal(size=(4, 1)) * 0}
    slow = inference._nuts_diagnostics(walk, np.zeros((4, 300), bool), 4, 300, 300)
    assert not slow.ok and any("ESS" in f for f in slow.failed)
    # divergences above 1%
    div = np.zeros((4, 300), bool)
    div[0, :20] = True
    d = inference._nuts_diagnostics(good, div, 4, 300, 300)
    assert not d.ok and d.divergences == 20 and any("divergent" in f for f in d.failed)


def test_psis_loo_matches_arviz_and_weights():
    rng = np.random.default_rng(1)
    ll = rng.normal(-1.0, 0.3, size=(2000, 30)) - rng.gamma(1.0, 0.5, size=(1, 30))
    ours = inference.psis_loo(ll)
    az = pytest.importorskip("arviz")
    idata = az.from_dict(log_likelihood={"y": ll.reshape(1, 2000, 30)},
                         posterior={"m": rng.normal(size=(1, 2000))})
    ref = az.loo(idata, pointwise=True)
    assert ours["elpd"] == pytest.approx(float(ref.elpd_loo), rel=1e-3)
    assert ours["se"] == pytest.approx(float(ref.se), rel=1e-2)
    # a row repeated 3 times == the row weighted 3
    rep = np.concatenate([ll, ll[:, :1], ll[:, :1]], axis=1)
    w = np.ones(30)
    w[0] = 3
    assert inference.psis_loo(ll, w)["elpd"] == pytest.approx(inference.psis_loo(rep)["elpd"])
    wa = inference.waic(ll)
    assert wa["elpd"] == pytest.approx(float(az.waic(idata).elpd_waic), rel=1e-3)


def test_chain_method_cpu():
    import jax
    expected = "parallel" if jax.local_device_count() >= 4 else "vectorized"
    assert inference.chain_method(4) == expected


def test_diagnostics_for_a_subset_and_combined():
    rng = np.random.default_rng(2)
    draws = {"good": rng.normal(size=(4 * 300,)),
             "stuck": (rng.normal(size=(4, 300)) + np.array([0, 0, 3, 3])[:, None]).reshape(-1)}
    whole = inference._nuts_diagnostics({k: v.reshape(4, 300) for k, v in draws.items()},
                                        np.zeros((4, 300), bool), 4, 300, 300)
    assert not whole.ok and whole.worst_parameter == "stuck"
    part = inference.diagnostics_for(whole, draws, ["good"])
    assert part.ok and part.rhat_max < 1.05
    both = inference.combine_diagnostics({"a": part, "b": whole})
    assert not both.ok and both.rhat_max == whole.rhat_max
    assert both.failed and all(f.startswith("b: ") for f in both.failed)
    assert both.worst_parameter == "b: stuck"
    assert both.ess_bulk_min == min(part.ess_bulk_min, whole.ess_bulk_min)


def _normal_model(y):
    import numpyro
    import numpyro.distributions as dist
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    numpyro.sample("y", dist.Normal(mu, 1.0), obs=y)


def test_remedies_rerun_and_then_say_what_to_try(monkeypatch):
    y = np.random.default_rng(0).normal(1.0, 1.0, size=20)
    ok_draws, ok = inference.run_nuts_with_remedies(_normal_model, (y,), chains=2, warmup=300,
                                                    samples=600, progress=False)
    assert ok.ok and ok.remedies == [] and ok_draws["mu"].shape == (1200,)
    # 2 chains x 10 draws can never reach a bulk ESS of 100: every re-run fails
    monkeypatch.setattr(inference, "REMEDIES", inference.REMEDIES[:1])
    _, bad = inference.run_nuts_with_remedies(_normal_model, (y,), chains=2, warmup=20,
                                              samples=10, progress=False)
    assert not bad.ok and len(bad.remedies) == 1 and bad.remedies[0].endswith(": failed")
    assert bad.num_warmup == 40                       # the re-run doubled the warmup
    assert "after 1 automatic re-run" in bad.message and "what to try" in bad.message


def test_vectorized_chains_match_parallel_chains(monkeypatch):
    """The vectorized chains (one program, compiled ahead of its first call) and the parallel
    ones (one device per chain) draw the same numbers from the same seed."""
    import jax
    if jax.local_device_count() < 2:
        pytest.skip("needs 2 devices for parallel chains")
    y = np.random.default_rng(3).normal(0.5, 1.0, size=15)
    out = {}
    for method in ("vectorized", "parallel"):
        monkeypatch.setattr(inference, "chain_method", lambda chains, m=method: m)
        draws, diag = inference.run_nuts(_normal_model, (y,), chains=2, warmup=100, samples=100,
                                         progress=False, cache_key=("normal", method))
        assert diag.num_chains == 2 and draws["mu"].shape == (200,)
        out[method] = draws["mu"]
    np.testing.assert_allclose(out["vectorized"], out["parallel"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("laplace_init", [True, False])
def test_svi_recovers_a_gaussian_posterior(laplace_init):
    """Mean-field normal SVI is exact for a normal mean with a normal prior; from the Laplace
    start or from the guess with small scales, it ends at the analytic posterior."""
    y = np.random.default_rng(4).normal(1.3, 1.0, size=20)
    precision = y.size + 1 / 25.0
    mean, sd = y.sum() / precision, precision ** -0.5
    draws, diag = inference.run_svi(_normal_model, (y,), steps=1500, samples=4000, progress=False,
                                    init_values={"mu": 0.0}, laplace_init=laplace_init,
                                    cache_key=("normal-svi",))
    assert diag.ok and diag.method == "svi", diag.message
    assert draws["mu"].shape == (4000,)
    assert abs(draws["mu"].mean() - mean) < 0.03
    assert abs(draws["mu"].std() - sd) < 0.03


def test_svi_reuses_its_compiled_program_for_new_data_of_the_same_shape():
    y = np.random.default_rng(5).normal(size=12)
    with inference.float64():
        args = inference._as_float64((y,))
        first = inference._vi_runner(_normal_model, args, ("normal-reuse",), 0.02, 100, 50)
        again = inference._vi_runner(_normal_model, inference._as_float64((y + 1,)),
                                     ("normal-reuse",), 0.02, 100, 50)
        other = inference._vi_runner(_normal_model, inference._as_float64((y[:6],)),
                                     ("normal-reuse",), 0.02, 100, 50)
    assert again is first and other is not first


def test_background_sees_the_callers_jax_settings_and_its_errors():
    import jax
    names = ("jax_debug_nans", "jax_default_matmul_precision", "jax_disable_jit")
    with jax.debug_nans(True), jax.default_matmul_precision("highest"), jax.disable_jit():
        inside = inference.Background(lambda: {n: getattr(jax.config, n) for n in names})
        assert inside.result() == {"jax_debug_nans": True,
                                   "jax_default_matmul_precision": "highest",
                                   "jax_disable_jit": True}
    assert inference.Background(lambda: jax.config.jax_debug_nans).result() is False

    def boom():
        raise ValueError("inside the thread")
    with pytest.raises(ValueError, match="inside the thread"):
        inference.Background(boom).result()


def test_side_by_side_returns_in_order_and_stops_the_others_when_one_fails(monkeypatch):
    """Results come back in the jobs' order; when any job fails (the caller's or a background
    one), the jobs still running stop at their next check instead of running on."""
    import threading
    import time
    assert inference.side_by_side(lambda: 1, lambda: 2, lambda: 3) == [1, 2, 3]
    started, running = [], threading.Event()

    class Recorded(inference.Background):
        def __init__(self, fn):
            super().__init__(fn)
            started.append(self)
    monkeypatch.setattr(inference, "Background", Recorded)

    def runs_until_cancelled():
        running.set()
        for _ in range(3000):
            inference._check_cancelled()
            time.sleep(0.01)
        return "ran to the end"

    def fails():
        running.wait(10)
        raise RuntimeError("job failed")
    for jobs in ((fails, runs_until_cancelled), (lambda: 1, fails, runs_until_cancelled)):
        started.clear()
        running.clear()
        with pytest.raises(RuntimeError, match="job failed"):
            inference.side_by_side(*jobs)
        with pytest.raises(inference.Cancelled):
            started[-1].result()
