"""induction task: generator against a plain-Python reference, oracle/chance metrics, config
errors, and a tiny training run of the experiment config."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emergence_jax.core.config import (ConfigError, ExperimentConfig, InductionConfig,
                                       apply_overrides)
from emergence_jax.core.tasks import make_task


def decode(task, inputs, targets, mask):
    """Checks one example in plain Python; returns (n, m)."""
    c = task.config
    seq = [int(v) for v in inputs] + [int(targets[-1])]
    assert [int(v) for v in inputs[1:]] == [int(v) for v in targets[:-1]]
    assert seq[0] == task.bos
    body = seq[1:]
    length = body.index(task.pad) if task.pad in body else len(body)
    assert all(v == task.pad for v in body[length:])
    if task.distinct:  # n is where the first token comes back
        n = body.index(body[0], 1)
        assert len(set(body[:n])) == n
    else:
        n = int(np.argmax(mask)) - 1  # the mask starts at target index n+1
    m = length - n
    x = body[:n]
    assert c.min_prefix_len <= n <= c.prefix_len
    assert all(0 <= v < task.alphabet for v in x)
    if c.variant == "repeat":
        assert m == n
    else:
        assert c.min_repeat <= m <= n
    assert body[n:n + m] == x[:m]
    expected_mask = [n + 1 <= t <= n + m - 1 for t in range(len(inputs))]
    assert list(np.asarray(mask).astype(bool)) == expected_mask
    return n, m


@pytest.mark.parametrize("variant", ["repeat", "partial", "digits"])
def test_generator_matches_reference(variant):
    task = make_task(InductionConfig(variant=variant, prefix_len=8, min_prefix_len=3,
                                     num_tokens=12))
    batch = task.train_batch(jax.random.PRNGKey(0), 400)
    ns, ms = [], []
    for x, y, mk in zip(*map(np.asarray, (batch.inputs, batch.targets, batch.loss_mask))):
        n, m = decode(task, x, y, mk)
        ns.append(n)
        ms.append(m)
    assert set(ns) == set(range(3, 9))
    if variant != "repeat":
        assert set(ms) == set(range(2, 9))
    for name, b in task.eval_sets(jax.random.PRNGKey(1)).items():
        for x, y, mk in zip(*map(np.asarray, (b.inputs, b.targets, b.loss_mask))):
            n, m = decode(task, x, y, mk)
            if name == "probe":
                assert n == m == task.config.prefix_len
    assert task.vocab_size == (10 if variant == "digits" else 12) + 2


def test_deterministic_per_key():
    task = make_task(InductionConfig(variant="partial"))
    a = task.train_batch(jax.random.PRNGKey(3), 32)
    b = task.train_batch(jax.random.PRNGKey(3), 32)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, task.train_batch(jax.random.PRNGKey(4), 32).inputs)


def test_metric_positions_match_reference():
    task = make_task(InductionConfig(variant="partial", eval_examples=64))
    batch = task.eval_sets(jax.random.PRNGKey(0))["test"]
    logits = jax.random.normal(jax.random.PRNGKey(5), batch.inputs.shape + (task.vocab_size,))
    got = task.metrics("test", logits, batch)
    logp = np.asarray(jax.nn.log_softmax(logits))
    x, y, mk = map(np.asarray, (batch.inputs, batch.targets, batch.loss_mask))
    late, early, final_ok, rep = [], [], [], []
    for b in range(x.shape[0]):
        n, m = decode(task, x[b], y[b], mk[b])
        nll = -logp[b, np.arange(y.shape[1]), y[b]]
        late.append(nll[n + m - 1])
        early.append(nll[m - 1])
        assert y[b, n + m - 1] == y[b, m - 1]  # the same token, late and early
        final_ok.append(np.argmax(logp[b, n + m - 1]) == y[b, n + m - 1])
        rep.extend(nll[n + 1:n + m])
    np.testing.assert_allclose(got["icl_score"], np.mean(late) - np.mean(early), rtol=1e-5)
    np.testing.assert_allclose(got["final_p_target"], np.mean(np.exp(-np.array(late))), rtol=1e-5)
    np.testing.assert_allclose(got["final_accuracy"], np.mean(final_ok), rtol=1e-6)
    np.testing.assert_allclose(got["repeat_loss"], np.mean(rep), rtol=1e-5)


def test_oracle_is_perfect_and_uniform_is_chance():
    task = make_task(InductionConfig(variant="partial", num_tokens=16))
    batch = task.eval_sets(jax.random.PRNGKey(0))["test"]
    oracle = task.metrics("test", task.oracle_logits(batch), batch)
    assert oracle["repeat_loss"] < 1e-6 and oracle["final_p_target"] > 0.999
    assert oracle["repeat_accuracy"] == 1.0 and oracle["final_accuracy"] == 1.0
    np.testing.assert_allclose(oracle["icl_score"], -math.log(16), rtol=1e-4)
    zeros = jnp.zeros(batch.inputs.shape + (task.vocab_size,))
    uniform = task.metrics("test", zeros, batch)
    np.testing.assert_allclose(uniform["repeat_loss"], math.log(task.vocab_size), rtol=1e-6)
    np.testing.assert_allclose(uniform["final_p_target"], 1 / task.vocab_size, rtol=1e-6)
    np.testing.assert_allclose(uniform["icl_score"], 0.0, atol=1e-6)
    # argmax of equal logits is token 0: right only where the final target is 0.
    positions = np.arange(batch.inputs.shape[1])
    final = np.max(np.where(np.asarray(batch.loss_mask) > 0, positions, 0), axis=1)
    expected = np.mean(np.asarray(batch.targets)[np.arange(len(final)), final] == 0)
    np.testing.assert_allclose(uniform["final_accuracy"], expected)


def test_probe_metrics_present():
    task = make_task(InductionConfig(probe_examples=8))
    probe = task.eval_sets(jax.random.PRNGKey(0))["probe"]
    n = probe.inputs.shape[1]
    attn = jnp.full((8, 2, n, n), 0.0) + jnp.tril(jnp.ones((n, n))) / jnp.arange(1, n + 1)[:, None]
    out = task.metrics("probe", jnp.zeros((8, n, task.vocab_size)), probe, (attn, attn))
    assert {"induction_L1H1", "induction_max", "previous_token_max", "duplicate_token_max",
            "entropy_min", "repeat_loss"} <= set(out)


@pytest.mark.parametrize("override, field", [
    ("task.variant='copy'", "task.variant"),
    ("task.min_prefix_len=9", "task.min_prefix_len"),
    ("task.min_repeat=1", "task.min_repeat"),
    ("task.prefix_len=20", "task.prefix_len"),  # distinct tokens: at most num_tokens
])
def test_config_rejects_bad_values(override, field):
    cfg = ExperimentConfig(task=InductionConfig())
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        apply_overrides(cfg, [override])

