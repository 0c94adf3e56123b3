import jax
import jax.numpy as jnp
import numpy as np

from emergence_jax.core.tasks import make_task
from emergence_jax.core.tasks.base import sequence_metrics
from emergence_jax.core.config import CountConfig


def decode_reference(task, inputs, targets, mask):
    """Plain-Python check of one example: returns (a, b) after asserting the format."""
    seq = list(inputs) + [targets[-1]]
    assert list(inputs[1:]) == list(targets[:-1])  # targets are inputs shifted by one
    assert seq[0] == task.sos and seq[3] == task.sep
    a, b = seq[1], seq[2]
    assert 0 <= a <= b < task.config.max_number
    span = b - a + 1
    expected = [task.sos, a, b, task.sep] + list(range(a, b + 1)) + [task.eos]
    expected += [task.pad] * (len(seq) - len(expected))
    assert seq == expected
    expected_mask = [3 <= t <= 3 + span for t in range(len(inputs))]
    assert list(mask.astype(bool)) == expected_mask
    return a, b


def test_generator_matches_reference_on_many_draws():
    task = make_task(CountConfig(max_number=20, train_max_span=5, eval_max_span=9))
    batch = task.train_batch(jax.random.PRNGKey(0), 500)
    spans = []
    for x, y, m in zip(*map(np.asarray, (batch.inputs, batch.targets, batch.loss_mask))):
        a, b = decode_reference(task, x, y, m)
        spans.append(b - a + 1)
    assert set(spans) == set(range(1, 6))
    eval_sets = task.eval_sets(jax.random.PRNGKey(1))
    ood_spans = []
    for x, y, m in zip(*map(np.asarray, (eval_sets["ood"].inputs, eval_sets["ood"].targets,
                                          eval_sets["ood"].loss_mask))):
        a, b = decode_reference(task, x, y, m)
        ood_spans.append(b - a + 1)
    assert set(ood_spans) == set(range(6, 10))


def test_generation_is_deterministic_per_key():
    task = make_task(CountConfig())
    a = task.train_batch(jax.random.PRNGKey(3), 64)
    b = task.train_batch(jax.random.PRNGKey(3), 64)
    c = task.train_batch(jax.random.PRNGKey(4), 64)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, c.inputs)


def test_oracle_is_perfect_and_uniform_is_chance():
    task = make_task(CountConfig())
    batch = task.eval_sets(jax.random.PRNGKey(0))["ood"]
    oracle = sequence_metrics(task.oracle_logits(batch), batch)
    assert oracle["exact_match"] == 1.0 and oracle["token_accuracy"] == 1.0
    assert oracle["loss"] < 1e-6 and oracle["p_answer"] > 0.999
    uniform = sequence_metrics(jnp.zeros(batch.inputs.shape + (task.vocab_size,)), batch)
    np.testing.assert_allclose(uniform["loss"], np.log(task.vocab_size), rtol=1e-6)
    np.testing.assert_allclose(uniform["p_answer"], 1 / task.vocab_size, rtol=1e-6)
    # argmax of equal logits is token 0: right only where the target is the number 0.
    mask = np.asarray(batch.loss_mask).astype(bool)
    expected = np.mean(np.asarray(batch.targets)[mask] == 0)
    np.testing.assert_allclose(uniform["token_accuracy"], expected, rtol=1e-6)
