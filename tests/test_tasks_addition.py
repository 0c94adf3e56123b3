"""addition task: generator against a plain-Python reference, oracle/chance metrics, config
errors, and a tiny training run of the experiment config."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emergence_jax.core.config import (ConfigError, ExperimentConfig, AdditionConfig,
                                       apply_overrides)
from emergence_jax.core.tasks import make_task
from emergence_jax.core.tasks.addition import BOS, EOS, EQ, FIRST_HINT, PAD, PLUS


def read_number(seq, i, end_token, offset=None):
    """Reads hint/digit pairs from seq[i] up to end_token; returns (digits, hint offset, next i)."""
    digits, hints = [], []
    while seq[i] != end_token:
        hints.append(seq[i] - FIRST_HINT)
        digits.append(seq[i + 1])
        assert 0 <= digits[-1] <= 9
        i += 2
    assert hints == list(range(hints[0], hints[0] + len(hints)))  # consecutive hints
    assert offset is None or hints[0] == offset
    return digits, hints[0], i + 1


def decode(task, inputs, targets, mask):
    """Checks one example in plain Python; returns (len a, len b, offset)."""
    seq = [int(v) for v in inputs] + [int(targets[-1])]
    assert [int(v) for v in inputs[1:]] == [int(v) for v in targets[:-1]]
    assert seq[0] == BOS
    a, offset, i = read_number(seq, 1, PLUS)
    b, _, i = read_number(seq, i, EQ, offset)
    answer_start = i
    c, _, i = read_number(seq, i, EOS, offset)
    assert all(v == PAD for v in seq[i:])
    value = lambda d: int("".join(str(x) for x in reversed(d)))  # noqa: E731
    for d in (a, b):
        assert len(d) == 1 or d[-1] != 0  # no leading zeros
    assert value(c) == value(a) + value(b)
    assert str(value(c))[::-1] == "".join(map(str, c))  # the exact sum, reversed
    assert offset + max(len(a), len(b)) + 1 <= task.config.num_hints
    # Answer tokens (hints, digits, EOS) sit at sequence positions answer_start .. i-1.
    expected_mask = [answer_start <= t + 1 <= i - 1 for t in range(len(inputs))]
    assert list(np.asarray(mask).astype(bool)) == expected_mask
    return len(a), len(b), offset


def test_generator_matches_reference():
    cfg = AdditionConfig(min_digits=1, train_max_digits=3, eval_max_digits=5, num_hints=7)
    task = make_task(cfg)
    batch = jax.jit(task.train_batch, static_argnums=1)(jax.random.PRNGKey(0), 600)
    lengths, offsets = set(), set()
    for x, y, m in zip(*map(np.asarray, (batch.inputs, batch.targets, batch.loss_mask))):
        la, lb, o = decode(task, x, y, m)
        lengths.add((la, lb))
        offsets.add(o)
    assert lengths == {(i, j) for i in range(1, 4) for j in range(1, 4)}
    assert offsets == set(range(0, 6))  # random starts reach every hint
    eval_sets = task.eval_sets(jax.random.PRNGKey(1))
    assert list(eval_sets) == [f"len_{n}" for n in range(1, 6)] + ["ood"]
    ood = eval_sets["ood"]
    ood_lengths = {decode(task, *ex)[:2] for ex in zip(*map(np.asarray, (
        ood.inputs, ood.targets, ood.loss_mask)))}
    assert ood_lengths == {(4, 4), (5, 5)}
    for n in range(1, 6):
        b = eval_sets[f"len_{n}"]
        for x, y, m in zip(*map(np.asarray, (b.inputs, b.targets, b.loss_mask))):
            assert decode(task, x, y, m)[:2] == (n, n)


def test_zero_offset_and_determinism():
    task = make_task(AdditionConfig(hint_offset="zero"))
    batch = task.train_batch(jax.random.PRNGKey(2), 100)
    for x, y, m in zip(*map(np.asarray, (batch.inputs, batch.targets, batch.loss_mask))):
        assert decode(task, x, y, m)[2] == 0
    again = task.train_batch(jax.random.PRNGKey(2), 100)
    np.testing.assert_array_equal(batch.inputs, again.inputs)


def test_oracle_is_perfect_and_uniform_is_chance():
    task = make_task(AdditionConfig(eval_examples=64))
    batch = task.eval_sets(jax.random.PRNGKey(0))["len_7"]
    oracle = task.metrics("len_7", task.oracle_logits(batch), batch)
    assert oracle["exact_match"] == 1.0 and oracle["token_accuracy"] == 1.0
    assert oracle["digit_accuracy"] == 1.0 and oracle["answer_nll"] < 1e-4
    zeros = jnp.zeros(batch.inputs.shape + (task.vocab_size,))
    uniform = task.metrics("len_7", zeros, batch)
    mask = np.asarray(batch.loss_mask).astype(bool)
    targets = np.asarray(batch.targets)
    np.testing.assert_allclose(uniform["loss"], math.log(task.vocab_size), rtol=1e-5)
    np.testing.assert_allclose(uniform["p_answer"], 1 / task.vocab_size, rtol=1e-5)
    np.testing.assert_allclose(uniform["answer_nll"],
                               mask.sum(1).mean() * math.log(task.vocab_size), rtol=1e-5)
    # argmax of equal logits is token 0 (the digit 0).
    np.testing.assert_allclose(uniform["token_accuracy"], np.mean(targets[mask] == 0), rtol=1e-6)
    digits = mask & (targets < 10)
    np.testing.assert_allclose(uniform["digit_accuracy"], np.mean(targets[digits] == 0), rtol=1e-6)
    assert uniform["exact_match"] == 0.0


@pytest.mark.parametrize("override, field", [
    ("task.train_max_digits=9", "task.train_max_digits"),
    ("task.train_max_digits=8", "task.train_max_digits"),  # no longer evaluation length
    ("task.num_hints=5", "task.num_hints"),
    ("task.hint_offset='last'", "task.hint_offset"),
    ("task.min_digits=0", "task.min_digits"),
])
def test_config_rejects_bad_values(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        apply_overrides(ExperimentConfig(task=AdditionConfig()), [override])

