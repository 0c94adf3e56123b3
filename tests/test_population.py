"""Population training: seeds are independent of their population and of the device count,
training learns the count task, and a diverging seed is contained."""

import jax
import numpy as np
import pytest

from emergence_jax.core.config import ExperimentConfig, apply_overrides
from emergence_jax.core.distributed import seed_mesh
from emergence_jax.core.population import Population

TINY = ["model.depth=1", "model.width=16", "model.heads=2", "train.steps=40",
        "train.eval_every=10", "train.evals_per_chunk=2", "train.batch_size=8",
        "task.max_number=12", "task.train_max_span=4", "task.eval_max_span=6",
        "task.eval_examples=32", "optimizer.warmup_steps=5"]


def tiny(*overrides):
    return apply_overrides(ExperimentConfig(), TINY + list(overrides))


def params_of(state, index):
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[index], state.params)


def assert_trees_close(a, b, **tol):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(x, y, **tol)


@pytest.fixture(scope="module")
def population_of_eight():
    pop = Population(tiny("population.num_seeds=8"))
    state, metrics = pop.train()
    return pop, state, metrics


def test_seed_in_population_equals_seed_alone(population_of_eight):
    pop8, state8, metrics8 = population_of_eight
    alone = Population(tiny("population.num_seeds=1", "population.first_seed=3"),
                       mesh=seed_mesh(jax.devices()[:1]))
    state1, metrics1 = alone.train()
    assert_trees_close(params_of(state8, 3), params_of(state1, 0), rtol=2e-4, atol=2e-5)
    for name in pop8.metric_names:
        np.testing.assert_allclose(metrics8[name][3], metrics1[name][0], rtol=2e-4, atol=2e-5)


def test_same_results_on_one_and_four_devices():
    assert len(jax.devices()) == 4, "tests/conftest.py forces 4 CPU devices"
    cfg = tiny("population.num_seeds=6")  # 6 seeds: not divisible by 4 devices
    pop1 = Population(cfg, mesh=seed_mesh(jax.devices()[:1]))
    pop4 = Population(cfg, mesh=seed_mesh(jax.devices()))
    assert pop4.padded_seeds == 8 and pop1.padded_seeds == 6
    state1, metrics1 = pop1.train()
    state4, metrics4 = pop4.train()
    assert len(state4.step.sharding.device_set) == 4
    for name in pop1.metric_names:
        assert metrics4[name].shape == (6, 4)
        np.testing.assert_allclose(metrics1[name], metrics4[name], rtol=2e-4, atol=2e-5)
    assert_trees_close(params_of(state1, slice(0, 6)), params_of(state4, slice(0, 6)),
                       rtol=2e-4, atol=2e-5)


def test_one_compiled_program_for_all_chunks(population_of_eight):
    pop, state, metrics = population_of_eight
    assert pop.num_chunks == 2
    assert pop._chunk._cache_size() == 1  # noqa: SLF001
    assert np.all(np.asarray(state.step) == 40)
    assert metrics["id/loss"].shape == (8, 4)


def test_diverging_seed_is_flagged_and_others_are_untouched(population_of_eight):
    pop8, _, clean_metrics = population_of_eight
    pop = Population(tiny("population.num_seeds=8"))
    state = pop.init()
    poisoned = jax.tree_util.tree_map(lambda x: x.at[2].set(np.nan), state.params)
    state, metrics = pop.train(state.replace(params=poisoned))
    status = pop.seed_status(state)
    assert status["diverged"].tolist() == [i == 2 for i in range(8)]
    assert status["diverged_at"][2] == 0 and np.all(np.delete(status["diverged_at"], 2) == -1)
    assert np.all(np.isnan(metrics["id/loss"][2]))
    others = np.arange(8) != 2
    for name in pop8.metric_names:
        np.testing.assert_allclose(metrics[name][others], clean_metrics[name][others],
                                   rtol=1e-5, atol=1e-6)


def test_huge_learning_rate_diverges_without_crashing():
    pop = Population(tiny("population.num_seeds=2", "optimizer.learning_rate=1e30",
                          "optimizer.grad_clip=0", "optimizer.warmup_steps=0"))
    state, metrics = pop.train()
    status = pop.seed_status(state)
    assert status["diverged"].all()
    assert np.all(status["diverged_at"] >= 0)
    assert np.all(np.isnan(metrics["id/loss"][:, -1]))
    # The frozen parameters are the last finite ones.
    assert all(np.all(np.isfinite(x)) for x in jax.tree_util.tree_leaves(state.params))


def test_vary_controls_which_keys_differ():
    same_init = Population(tiny("population.num_seeds=2", "population.vary=data")).init()
    leaves = jax.tree_util.tree_leaves(same_init.params)
    assert all(np.array_equal(x[0], x[1]) for x in leaves)
    assert not np.array_equal(same_init.data_key[0], same_init.data_key[1])
    same_data = Population(tiny("population.num_seeds=2", "population.vary=init")).init()
    assert np.array_equal(same_data.data_key[0], same_data.data_key[1])
    assert not all(np.array_equal(x[0], x[1]) for x in jax.tree_util.tree_leaves(same_data.params))


def test_training_learns_the_count_task():
    cfg = apply_overrides(ExperimentConfig(), [
        "model.depth=2", "model.width=32", "model.heads=4", "train.steps=300",
        "train.eval_every=50", "train.evals_per_chunk=3", "train.batch_size=32",
        "task.max_number=16", "task.train_max_span=6", "task.eval_max_span=8",
        "task.eval_examples=64", "optimizer.learning_rate=3e-3", "population.num_seeds=4"])
    pop = Population(cfg)
    state, metrics = pop.train()
    loss = metrics["id/loss"]
    assert np.all(loss[:, -1] < 0.25 * loss[:, 0])
    assert np.all(metrics["train/loss"][:, -1] < metrics["train/loss"][:, 0])
    assert np.mean(metrics["id/exact_match"][:, -1]) > 0.9
    assert not pop.seed_status(state)["diverged"].any()


def test_sizes_are_consistent():
    pop = Population(tiny("population.num_seeds=1"))
    sizes = pop.sizes()
    assert 0 < sizes["non_embedding_params"] < sizes["params"]
    assert sizes["tokens"] == 40 * 8 * pop.task.seq_len
    assert sizes["flops"] > 6 * sizes["non_embedding_params"] * sizes["tokens"]


def test_finite_dataset_draws_from_a_fixed_pool_per_seed():
    def distinct_examples(cfg, seed_index):
        pop = Population(cfg, mesh=seed_mesh(jax.devices()[:1]))
        data_key = np.asarray(pop.init().data_key)[seed_index]
        batches = [pop.fns.train_batch(data_key, step).inputs for step in range(20)]
        return {tuple(row) for row in np.asarray(np.concatenate(batches))}, pop

    finite = tiny("population.num_seeds=2", "train.dataset_size=5")
    pool0, pop = distinct_examples(finite, 0)
    pool1, _ = distinct_examples(finite, 1)
    # At most 5 distinct examples (two pool entries may coincide: the task has ~40 examples).
    assert 3 <= len(pool0) <= 5 and 3 <= len(pool1) <= 5
    assert pool0 != pool1  # each seed has its own dataset
    fresh, _ = distinct_examples(tiny("population.num_seeds=2"), 0)
    assert len(fresh) > 20
    _, metrics = pop.train()
    # Memorising 5 examples drives the training loss far below the held-out loss.
    assert np.all(metrics["train/loss"][:, -1] < metrics["id/loss"][:, -1])


def test_seed_groups_give_the_same_results(population_of_eight):
    pop8, state8, metrics8 = population_of_eight
    grouped = Population(tiny("population.num_seeds=8", "population.seed_group=1"))
    state, metrics = grouped.train()
    for name in pop8.metric_names:
        np.testing.assert_allclose(metrics[name], metrics8[name], rtol=2e-4, atol=2e-5)
    assert_trees_close(state.params, state8.params, rtol=2e-4, atol=2e-5)
