"""ioi task: generator against a plain-Python reference, oracle/chance metrics, config errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emergence_jax.core.config import (ConfigError, ExperimentConfig, IOIConfig,
                                       apply_overrides)
from emergence_jax.core.tasks import make_task
from emergence_jax.core.tasks.ioi import TEMPLATES


def vocabulary(task):
    """token id -> (kind, word) from the task's layout, written out independently."""
    c = task.config
    words = {v: ("word", w) for w, v in task.word.items()}
    table = {}
    for t in range(task.vocab_size):
        if t < c.num_names:
            table[t] = ("name", t)
        elif t < c.num_names + c.num_places:
            table[t] = ("place", t)
        elif t < c.num_names + c.num_places + c.num_objects:
            table[t] = ("object", t)
        elif t in words:
            table[t] = words[t]
        elif t == task.bos:
            table[t] = ("bos", None)
        else:
            table[t] = ("pad", None)
    return table


def decode(task, inputs, targets, mask):
    """Checks one example in plain Python; returns (order, template index)."""
    table = vocabulary(task)
    seq = [int(v) for v in inputs] + [int(targets[-1])]
    assert [int(v) for v in inputs[1:]] == [int(v) for v in targets[:-1]]
    assert table[seq[0]][0] == "bos"
    body = [table[t] for t in seq[1:]]
    length = next((i for i, (kind, _) in enumerate(body) if kind == "pad"), len(body))
    assert all(kind == "pad" for kind, _ in body[length:])
    body = body[:length]
    matches = []
    for index, template in enumerate(TEMPLATES[: task.config.num_templates]):
        slots = template.split()
        if len(slots) != len(body):
            continue
        bound = {}
        ok = True
        for slot, (kind, value) in zip(slots, body):
            if slot in ("N1", "N2", "S", "IO"):
                ok &= kind == "name"
                bound.setdefault(slot, value)
                ok &= bound[slot] == value
            elif slot in ("PLACE", "OBJECT"):
                ok &= kind == slot.lower()
            else:
                ok &= (kind, value) == ("word", slot)
        if ok:
            matches.append((index, bound))
    assert len(matches) == 1
    index, bound = matches[0]
    assert bound["N1"] != bound["N2"]
    assert bound["S"] in (bound["N1"], bound["N2"])
    io = bound["N2"] if bound["S"] == bound["N1"] else bound["N1"]
    assert bound["IO"] == io and seq[length] == io  # the final token is the IO
    expected_mask = [t == length - 1 for t in range(len(inputs))]
    assert list(np.asarray(mask).astype(bool)) == expected_mask
    order = "baba" if bound["S"] == bound["N1"] else "abba"
    return order, index


def test_generator_matches_reference():
    task = make_task(IOIConfig())
    batch = jax.jit(task.train_batch, static_argnums=1)(jax.random.PRNGKey(0), 400)
    seen = [decode(task, *ex) for ex in zip(*map(np.asarray, (batch.inputs, batch.targets,
                                                               batch.loss_mask)))]
    orders = [o for o, _ in seen]
    assert 0.4 < orders.count("baba") / len(orders) < 0.6
    assert {i for _, i in seen} == set(range(len(TEMPLATES)))
    eval_sets = task.eval_sets(jax.random.PRNGKey(1))
    assert set(eval_sets) == {"baba", "abba", "probe"}
    for name in ("baba", "abba"):
        b = eval_sets[name]
        for ex in zip(*map(np.asarray, (b.inputs, b.targets, b.loss_mask))):
            assert decode(task, *ex)[0] == name


def test_train_order_and_templates_restrict_the_distribution():
    task = make_task(IOIConfig(train_order="abba", num_templates=1))
    batch = task.train_batch(jax.random.PRNGKey(2), 100)
    for ex in zip(*map(np.asarray, (batch.inputs, batch.targets, batch.loss_mask))):
        assert decode(task, *ex) == ("abba", 0)


def test_metrics_match_reference():
    task = make_task(IOIConfig(eval_examples=32))
    batch = task.eval_sets(jax.random.PRNGKey(0))["baba"]
    logits = jax.random.normal(jax.random.PRNGKey(3), batch.inputs.shape + (task.vocab_size,))
    n = batch.inputs.shape[1]
    attn = jax.nn.softmax(jax.random.normal(jax.random.PRNGKey(4), (32, 2, n, n)), axis=-1)
    got = task.metrics("baba", logits, batch, (attn, attn * 0.5))
    x, y, m = map(np.asarray, (batch.inputs, batch.targets, batch.loss_mask))
    lg, a = np.asarray(logits), np.asarray(attn)
    diffs, hits, io_att = [], [], []
    for b in range(32):
        decode(task, x[b], y[b], m[b])
        final = int(np.flatnonzero(m[b])[0])
        io = y[b, final]
        s = x[b, 2]  # BABA: the subject is the first name
        diffs.append(lg[b, final, io] - lg[b, final, s])
        hits.append(np.argmax(lg[b, final]) == io)
        io_att.append(a[b, :, final, 4])  # BABA: IO is the second name, at position 4
    np.testing.assert_allclose(got["logit_diff"], np.mean(diffs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["io_over_s"], np.mean(np.array(diffs) > 0))
    np.testing.assert_allclose(got["accuracy"], np.mean(hits))
    np.testing.assert_allclose(got["io_attention_max"], np.max(np.mean(io_att, axis=0)),
                               rtol=1e-5)


def test_oracle_is_perfect_and_uniform_is_chance():
    task = make_task(IOIConfig(eval_examples=64))
    for name in ("baba", "abba"):
        batch = task.eval_sets(jax.random.PRNGKey(0))[name]
        oracle = task.metrics(name, task.oracle_logits(batch), batch)
        assert oracle["accuracy"] == 1.0 and oracle["io_over_s"] == 1.0
        assert oracle["logit_diff"] == 30.0 and oracle["loss"] < 1e-6
        uniform = task.metrics(name, jnp.zeros(batch.inputs.shape + (task.vocab_size,)), batch)
        np.testing.assert_allclose(uniform["loss"], math.log(task.vocab_size), rtol=1e-5)
        np.testing.assert_allclose(uniform["p_io"], 1 / task.vocab_size, rtol=1e-5)
        assert uniform["logit_diff"] == 0.0 and uniform["io_over_s"] == 0.5
        # argmax of equal logits is token 0, the first name.
        io = np.asarray(batch.targets)[np.asarray(batch.loss_mask) > 0]
        np.testing.assert_allclose(uniform["accuracy"], np.mean(io == 0))
        # Random logits: IO beats S half the time, and the argmax is IO about 1/vocab of the time.
        noise = jax.random.normal(jax.random.PRNGKey(7), (4096,) + batch.inputs.shape[1:]
                                  + (task.vocab_size,))
        big = jax.tree_util.tree_map(lambda v: jnp.tile(v, (64,) + (1,) * (v.ndim - 1)), batch)
        rand = task.metrics(name, noise, big)
        assert abs(rand["io_over_s"] - 0.5) < 0.03
        assert abs(rand["accuracy"] - 1 / task.vocab_size) < 0.01


@pytest.mark.parametrize("override, field", [
    ("task.num_names=1", "task.num_names"),
    ("task.num_templates=4", "task.num_templates"),
    ("task.train_order='aabb'", "task.train_order"),
])
def test_config_rejects_bad_values(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        apply_overrides(ExperimentConfig(task=IOIConfig()), [override])

