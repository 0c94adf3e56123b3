"""Reverse-order addition with index hints (Zhou et al. 2024): train on operands of up to 5 digits,
test exact match on every length up to 8.

Run:
    emergence-jax train experiments/addition.py --metrics len_5/exact_match ood/exact_match
    emergence-jax train experiments/addition.py --set population.num_seeds=32 --set model.depth=4

What to expect: the metrics to watch are ``len_{n}/exact_match`` for the trained lengths
(n ≤ 5) and for the longer ones (n = 6 … 8). Zhao et al. (arXiv 2502.17356) report that length generalization in
this format is fragile across initialization and data-order seeds: with enough training, some
seeds reach high exact match on the longer lengths and others stay near 0, a bimodal split
(success = exact match > 0.2). The default here is CPU-sized and short; it has not been tuned to
show that split — raise ``train.steps``, ``model.depth`` and ``population.num_seeds`` (on an
accelerator) to study it.
"""

from emergence_jax.core.config import (AdditionConfig, ExperimentConfig, ModelConfig,
                                       OptimizerConfig, PopulationConfig, TrainConfig)


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="addition",
        model=ModelConfig(depth=3, width=64, heads=4, pos_encoding="rope"),
        task=AdditionConfig(min_digits=1, train_max_digits=5, eval_max_digits=8, num_hints=12,
                            eval_examples=128),
        optimizer=OptimizerConfig(learning_rate=1e-3, warmup_steps=100),
        train=TrainConfig(steps=1500, batch_size=64, eval_every=150, evals_per_chunk=5),
        population=PopulationConfig(num_seeds=4),
    )
