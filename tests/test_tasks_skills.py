"""skills task: generator against a plain-Python reference, held-out tuples, oracle/chance
metrics, config errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from emergence_jax.core.config import (ConfigError, ExperimentConfig, SkillsConfig,
                                       apply_overrides)
from emergence_jax.core.tasks import make_task


def reference_skill(name, x, V):
    x = list(x)
    if name == "reverse":
        return x[::-1]
    if name == "increment":
        return [(v + 1) % V for v in x]
    if name == "swap_pairs":
        out = list(x)
        for i in range(0, len(x) - 1, 2):
            out[i], out[i + 1] = x[i + 1], x[i]
        return out
    if name == "sort":
        return sorted(x)
    if name == "shift":
        return x[1:] + x[:1]
    if name == "complement":
        return [V - 1 - v for v in x]
    raise ValueError(name)


def decode(task, inputs, targets, mask):
    """Checks one example in plain Python; returns its tuple of skill names."""
    c = task.config
    V, n = c.num_symbols, c.string_len
    seq = [int(v) for v in inputs] + [int(targets[-1])]
    assert [int(v) for v in inputs[1:]] == [int(v) for v in targets[:-1]]
    assert seq[0] == task.bos
    sep = seq.index(task.sep)
    names = tuple(c.skills[t - task.first_skill] for t in seq[1:sep])
    assert len(set(names)) == len(names) >= 1
    x = seq[sep + 1:sep + 1 + n]
    assert seq[sep + 1 + n] == task.eq
    y = seq[sep + 2 + n:sep + 2 + 2 * n]
    assert seq[sep + 2 + 2 * n] == task.eos
    assert all(v == task.pad for v in seq[sep + 3 + 2 * n:])
    assert all(0 <= v < V for v in x)
    expected = x
    for name in names:
        expected = reference_skill(name, expected, V)
    assert y == expected
    answer = range(sep + 2 + n, sep + 3 + 2 * n)  # y and EOS
    assert list(np.asarray(mask).astype(bool)) == [t + 1 in answer for t in range(len(inputs))]
    return names


def test_skills_compose_nontrivially():
    x = [3, 0, 7, 1, 5, 2]
    assert reference_skill("sort", reference_skill("increment", x, 8), 8) != \
        reference_skill("increment", reference_skill("sort", x, 8), 8)
    assert reference_skill("shift", reference_skill("reverse", x, 8), 8) != \
        reference_skill("reverse", reference_skill("shift", x, 8), 8)


def test_generator_matches_reference_and_holds_tuples_out():
    cfg = SkillsConfig(skills=("reverse", "increment", "swap_pairs", "sort", "shift",
                               "complement"), string_len=5, train_k=(1, 2), eval_k=(1, 2, 3))
    task = make_task(cfg)
    held = {k: {tuple(cfg.skills[i] for i in t) for t in task.split[k][1]} for k in (1, 2, 3)}
    assert not held[1] and len(held[2]) == round(0.25 * 30) and len(held[3]) == round(0.25 * 120)
    batch = jax.jit(task.train_batch, static_argnums=1)(jax.random.PRNGKey(0), 1500)
    seen = [decode(task, *ex) for ex in zip(*map(np.asarray, (batch.inputs, batch.targets,
                                                              batch.loss_mask)))]
    sizes = [len(t) for t in seen]
    assert set(sizes) == {1, 2} and 0.4 < sizes.count(1) / len(sizes) < 0.6
    assert not set(seen) & held[2]          # held-out tuples never appear in training
    assert len(set(t for t in seen if len(t) == 2)) == 30 - len(held[2])  # all others do
    eval_sets = task.eval_sets(jax.random.PRNGKey(1))
    assert list(eval_sets) == ["k1", "k2", "heldout_k2", "k3", "heldout_k3"]
    for name, b in eval_sets.items():
        k = int(name[-1])
        for ex in zip(*map(np.asarray, (b.inputs, b.targets, b.loss_mask))):
            names = decode(task, *ex)
            assert len(names) == k
            assert (names in held[k]) == name.startswith("heldout")


def test_heldout_split_is_deterministic_per_seed():
    a = make_task(SkillsConfig(split_seed=1)).split[2][1]
    b = make_task(SkillsConfig(split_seed=1)).split[2][1]
    c = make_task(SkillsConfig(split_seed=2)).split[2][1]
    assert a == b and a != c


def test_skill_competence_matches_reference():
    task = make_task(SkillsConfig(eval_examples=64))
    batch = task.eval_sets(jax.random.PRNGKey(0))["k2"]
    # Predictions right on half of the examples, wrong (one answer token off) on the rest.
    logits = np.asarray(task.oracle_logits(batch)).copy()
    x, y, m = map(np.asarray, (batch.inputs, batch.targets, batch.loss_mask))
    solved = np.arange(64) % 2 == 0
    for b in np.flatnonzero(~solved):
        t = int(np.flatnonzero(m[b])[0])
        logits[b, t] = np.roll(logits[b, t], 1)
    got = task.metrics("k2", jnp.asarray(logits), batch)
    tuples = [decode(task, *ex) for ex in zip(x, y, m)]
    np.testing.assert_allclose(got["exact_match"], 0.5)
    for skill in task.config.skills:
        uses = np.array([skill in t for t in tuples])
        np.testing.assert_allclose(got[f"skill_{skill}"], solved[uses].mean(), rtol=1e-6)


def test_oracle_is_perfect_and_uniform_is_chance():
    task = make_task(SkillsConfig(eval_examples=64))
    for name, batch in task.eval_sets(jax.random.PRNGKey(0)).items():
        oracle = task.metrics(name, task.oracle_logits(batch), batch)
        assert oracle["exact_match"] == 1.0 and oracle["token_accuracy"] == 1.0
        assert all(oracle[f"skill_{s}"] == 1.0 for s in task.config.skills)
    batch = task.eval_sets(jax.random.PRNGKey(0))["heldout_k2"]
    uniform = task.metrics("heldout_k2", jnp.zeros(batch.inputs.shape + (task.vocab_size,)), batch)
    np.testing.assert_allclose(uniform["loss"], math.log(task.vocab_size), rtol=1e-5)
    np.testing.assert_allclose(uniform["p_answer"], 1 / task.vocab_size, rtol=1e-5)
    mask = np.asarray(batch.loss_mask).astype(bool)
    np.testing.assert_allclose(uniform["token_accuracy"],
                               np.mean(np.asarray(batch.targets)[mask] == 0), rtol=1e-6)
    assert uniform["exact_match"] == 0.0  # EOS is never token 0


@pytest.mark.parametrize("override, field", [
    ("task.skills=('reverse', 'fly')", "task.skills"),
    ("task.train_k=(1, 6)", "task.train_k"),
    ("task.eval_k=()", "task.eval_k"),
    ("task.heldout_fraction=1.5", "task.heldout_fraction"),
    ("task.num_symbols=1", "task.num_symbols"),
])
def test_config_rejects_bad_values(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        apply_overrides(ExperimentConfig(task=SkillsConfig()), [override])

