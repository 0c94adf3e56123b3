"""linear_map task: generator against a plain-Python reference, the ground-truth attention
pattern, oracle/chance metrics, config errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emergence_jax.core.config import (ConfigError, ExperimentConfig, LinearMapConfig,
                                       apply_overrides)
from emergence_jax.core.tasks import make_task
from emergence_jax.core.tasks.linear_map import BOS


def decode(task, inputs, targets, mask):
    S = task.config.num_bits
    seq = [int(v) for v in inputs] + [int(targets[-1])]
    assert [int(v) for v in inputs[1:]] == [int(v) for v in targets[:-1]]
    assert seq[0] == BOS and len(seq) == 2 * S + 1
    x0, x1 = seq[1:S + 1], seq[S + 1:]
    assert set(x0) <= {0, 1}
    for i in range(S):  # x1[i] = sum_j A[i, j] x0[j] mod 2
        assert x1[i] == sum(int(task.matrix[i, j]) * x0[j] for j in range(S)) % 2
    assert list(np.asarray(mask).astype(bool)) == [t >= S for t in range(2 * S)]
    return x0


def test_matrix_is_fixed_sparse_and_seeded():
    a = make_task(LinearMapConfig(num_bits=10, ones_per_row=3, map_seed=5)).matrix
    b = make_task(LinearMapConfig(num_bits=10, ones_per_row=3, map_seed=5)).matrix
    c = make_task(LinearMapConfig(num_bits=10, ones_per_row=3, map_seed=6)).matrix
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(a)) == {0, 1} and (a.sum(axis=1) == 3).all()


def test_generator_matches_reference():
    task = make_task(LinearMapConfig(num_bits=6, ones_per_row=3))
    batch = task.train_batch(jax.random.PRNGKey(0), 500)
    x0s = [decode(task, *ex) for ex in zip(*map(np.asarray, (batch.inputs, batch.targets,
                                                              batch.loss_mask)))]
    assert abs(np.mean(x0s) - 0.5) < 0.03
    assert len({tuple(x) for x in x0s}) > 50  # many distinct inputs
    for b in task.eval_sets(jax.random.PRNGKey(1)).values():
        for ex in zip(*map(np.asarray, (b.inputs, b.targets, b.loss_mask))):
            decode(task, *ex)


def test_ground_truth_probe():
    task = make_task(LinearMapConfig(num_bits=5, ones_per_row=2, probe_examples=4))
    S, s = 5, 2
    probe = task.eval_sets(jax.random.PRNGKey(0))["probe"]
    n = 2 * S
    # A head that reads exactly the bits x1[i] depends on: row S+i spread over positions 1+j.
    perfect = np.zeros((n, n))
    perfect[:S, 0] = 1.0
    for i in range(S):
        for j in range(S):
            if task.matrix[i, j]:
                perfect[S + i, 1 + j] = 1.0 / s
    uniform = np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]
    attn = jnp.asarray(np.stack([perfect, uniform])[None].repeat(4, axis=0), jnp.float32)
    out = task.metrics("probe", jnp.zeros((4, n, 3)), probe, (attn,))
    np.testing.assert_allclose(out["ground_truth_L0H0"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(out["ground_truth_L0H1"],
                               np.mean([s / (S + i + 1) for i in range(S)]), rtol=1e-6)
    assert out["ground_truth_max"] == out["ground_truth_L0H0"]
    assert {"previous_token_max", "entropy_min", "loss"} <= set(out)


def test_oracle_is_perfect_and_uniform_is_chance():
    task = make_task(LinearMapConfig(num_bits=8, ones_per_row=4))
    batch = task.eval_sets(jax.random.PRNGKey(0))["test"]
    oracle = task.metrics("test", task.oracle_logits(batch), batch)
    assert oracle["bit_accuracy"] == 1.0 and oracle["exact_match"] == 1.0
    assert all(oracle[f"loss_pos{i}"] < 1e-6 for i in range(8)) and oracle["loss"] < 1e-6
    uniform = task.metrics("test", jnp.zeros(batch.inputs.shape + (3,)), batch)
    for key in ["loss"] + [f"loss_pos{i}" for i in range(8)]:
        np.testing.assert_allclose(uniform[key], math.log(3), rtol=1e-6)
    np.testing.assert_allclose(uniform["p_answer"], 1 / 3, rtol=1e-6)
    x1 = np.asarray(batch.targets)[:, 8:]
    np.testing.assert_allclose(uniform["bit_accuracy"], np.mean(x1 == 0), rtol=1e-6)  # argmax 0
    np.testing.assert_allclose(uniform["exact_match"], np.mean((x1 == 0).all(axis=1)))
    assert abs(uniform["bit_accuracy"] - 0.5) < 0.05


@pytest.mark.parametrize("override, field", [
    ("task.ones_per_row=9", "task.ones_per_row"),
    ("task.num_bits=0", "task.num_bits"),
    ("task.map_seed=-1", "task.map_seed"),
])
def test_config_rejects_bad_values(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        apply_overrides(ExperimentConfig(task=LinearMapConfig()), [override])

