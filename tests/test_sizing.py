"""Memory estimates: close to XLA's own analysis of the compiled chunk, and refusals of what
cannot fit that come in seconds, before anything is allocated, with the numbers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emergence_jax.core import sizing
from emergence_jax.core.config import ConfigError, load_experiment

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.mark.parametrize("experiment, overrides", [
    ("count", ["model.depth=1", "task.eval_examples=64", "train.steps=100",
               "train.eval_every=50"]),
    pytest.param("count", [], marks=pytest.mark.slow),
    pytest.param("induction", [], marks=pytest.mark.slow),
    pytest.param("addition", [], marks=pytest.mark.slow),
])
def test_estimate_is_close_to_xla_memory_analysis(experiment, overrides):
    """Within a factor of 3 either way of the compiled chunk's arguments + outputs + temporaries
    (measured: 0.45x .. 2x over the repository's experiments on CPU)."""
    from emergence_jax.core.population import Population
    cfg = load_experiment(EXPERIMENTS / f"{experiment}.py",
                          overrides + ["population.num_seeds=4"])
    pop = Population(cfg)
    est = sizing.estimate_memory(cfg, pop.padded_seeds // pop.mesh.devices.size)
    analysis = pop._chunk.lower(pop.state_shape(), pop._eval_sets).compile().memory_analysis()
    if analysis is None:
        pytest.skip("this backend gives no memory analysis")
    xla = (analysis.temp_size_in_bytes + analysis.argument_size_in_bytes
           + analysis.output_size_in_bytes - analysis.alias_size_in_bytes)
    assert xla / 3 < est.per_device < 3 * xla, (est, xla)


def test_estimate_parts():
    cfg = load_experiment(EXPERIMENTS / "count.py", ["population.num_seeds=8"])
    est = sizing.estimate_memory(cfg, seeds_per_device=2)
    from emergence_jax.core.population import Population
    params = Population(cfg).sizes()["params"]
    assert est.params == 4 * params                      # float32 parameters
    assert 3 * est.params <= est.state < 3 * est.params + 1000   # + AdamW's two moments + scalars
    assert est.group == 2 and est.per_device == 2 * est.state + 2 * est.working + est.eval_sets
    grouped = sizing.estimate_memory(load_experiment(EXPERIMENTS / "count.py",
                                                     ["population.seed_group=1"]), 8)
    assert grouped.group == 1 and grouped.per_device < sizing.estimate_memory(cfg, 8).per_device
    assert sizing.seeds_that_fit(est, est.eval_sets + 5 * (est.state + est.working)) == 5
    assert sizing.format_bytes(12_345_678) == "12.3 MB"


def test_refusal_names_the_numbers(monkeypatch):
    cfg = load_experiment(EXPERIMENTS / "count.py", ["population.num_seeds=64"])
    est = sizing.estimate_memory(cfg, 64)
    # Pretend the host (which CPU devices share) has room for about 10 seeds per device.
    monkeypatch.setattr(sizing, "available_host_memory",
                        lambda: 4 * (est.eval_sets + 10 * (est.state + est.working)))
    with pytest.raises(ConfigError, match=r"the population needs about .* more than the .* of "
                                          r"the host's available memory .*parameters 111.2 kB.*"
                                          r"16 seed\(s\) per device, computed 16 at a time\); at "
                                          r"most about 10 seed\(s\) per device fit"):
        sizing.check_memory(cfg)
    fits = load_experiment(EXPERIMENTS / "count.py", ["population.num_seeds=64",
                                                      "population.seed_group=4"])
    assert sizing.check_memory(fits).group == 4      # computing 4 at a time fits


def test_impossible_sizes_fail_in_seconds():
    start = time.perf_counter()
    for overrides in (["model.width=1000000"], ["population.num_seeds=1000000000"],
                      ["model.depth=100000", "model.width=4096", "model.heads=32"]):
        with pytest.raises(ConfigError, match="the population needs about"):
            sizing.check_memory(load_experiment(EXPERIMENTS / "count.py", overrides))
    assert time.perf_counter() - start < 60


def test_out_of_memory_becomes_a_named_error():
    cfg = load_experiment(EXPERIMENTS / "count.py")
    oom = RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 98 GiB.")
    error = sizing.out_of_memory_error(cfg, oom, "training a chunk")
    assert isinstance(error, ConfigError)
    assert str(error).startswith("the device ran out of memory while training a chunk "
                                 "(estimated ") and "RESOURCE_EXHAUSTED" in str(error)
    assert sizing.out_of_memory_error(cfg, RuntimeError("INTERNAL: other"), "x") is None
