"""Count (length generalization): train on spans of up to 8 numbers, test on spans of 9–12.

Run:
    emergence-jax train experiments/count.py                       # 16 seeds, one scale point
    emergence-jax train experiments/count.py --set population.num_seeds=64 --set model.width=64

What to expect (CPU, a couple of minutes): every seed reaches in-distribution exact match near 1.0
within a few hundred steps, while out-of-distribution exact match (``ood/exact_match``) differs
from seed to seed — the spread across seeds that the rest of emergence_jax studies.
"""

from emergence_jax.core.config import (CountConfig, ExperimentConfig, ModelConfig,
                                       OptimizerConfig, PopulationConfig, TrainConfig)


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="count",
        model=ModelConfig(depth=2, width=32, heads=4, pos_encoding="rope"),
        task=CountConfig(max_number=32, train_max_span=8, eval_max_span=12),
        optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=50),
        train=TrainConfig(steps=600, batch_size=32, eval_every=100, evals_per_chunk=3),
        population=PopulationConfig(num_seeds=16),
    )
