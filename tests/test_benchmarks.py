"""The population throughput benchmark runs end to end with tiny settings and writes the result
file the docs describe: the machine, every contender's rate and the ratio rows."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_population_throughput_tiny(tmp_path):
    pytest.importorskip("torch")
    bench = _load("population_throughput")
    out = tmp_path / "throughput.json"
    bench.main(["--seeds", "2", "--widths", "16", "--steps", "2", "--repeats", "1",
                "--sequential-seeds", "1", "--dtype", "fp32", "--depth", "1", "--batch-size", "4",
                "--peak-tflops", "1", "--out", str(out)])
    result = json.loads(out.read_text())
    machine = result["machine"]
    for key in ("platform", "cpu_count", "jax", "torch"):
        assert machine[key], key
    assert result["settings"]["widths"] == [16] and result["settings"]["device"] == "cpu"
    (row,) = result["rows"]
    assert (row["dtype"], row["width"], row["seeds"]) == ("fp32", 16, 2)
    for name in bench.CONTENDERS:
        rate = row[f"{name}_seed_steps_per_s"]
        assert math.isfinite(rate) and rate > 0, name
    assert row["jax_population_vs_torch_func"] == pytest.approx(
        row["jax_population_seed_steps_per_s"] / row["torch_func_seed_steps_per_s"])
    assert row["jax_population_vs_torch_loop"] == pytest.approx(
        row["jax_population_seed_steps_per_s"] / row["torch_loop_seed_steps_per_s"])
    assert row["jax_bytes_per_seed"] > 0 and row["jax_flops_per_s"] > 0
    assert row["jax_mfu"] == pytest.approx(row["jax_flops_per_s"] / 1e12)


def test_torch_peer_matches_the_jax_model_size():
    """The PyTorch transformer has the JAX model's parameter count (same layers, same biases)."""
    pytest.importorskip("torch")
    bench = _load("population_throughput")
    import argparse

    from emergence_jax.core.population import Population
    args = argparse.Namespace(depth=2, heads=4, steps=2, batch_size=4, seed_group=0)
    pop = Population(bench.make_config(1, 32, "fp32", args))
    model = bench.torch_model(pop.task.vocab_size, pop.task.seq_len, 32, 2, 4)
    assert sum(p.numel() for p in model.parameters()) == pop.sizes()["params"]
